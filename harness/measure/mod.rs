//! Measurement: payload header, histograms, per-second series and delivery
//! accounting. Pure: no clocks and no I/O live here (they are in `run/`),
//! so every rule is unit-tested in place.

pub mod accounting;
pub mod histogram;
pub mod payload;
pub mod seqset;
pub mod series;

pub use accounting::{account, Accounting, ConsumerLedger, Counts, Delivered, ProducerLedger};
pub use histogram::{LatencyHistogram, LatencyRecorder, LatencySummary};
pub use payload::{BodyPool, Header};
pub use seqset::SeqSet;
pub use series::{Series, SeriesPoint};
