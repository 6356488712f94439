//! Results: the schema-versioned model, JSON and CSV writers, environment.

pub mod csv;
pub mod env;
pub mod merge;
pub mod model;
pub mod scrub;
pub mod writer;

pub use model::*;
pub use scrub::scrub_results;
pub use writer::{read_results, write_atomic, ResultsWriter};
