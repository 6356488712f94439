//! mqbench: a message-queue benchmarking harness.
//!
//! Data flows one way: scenario -> points -> (provision, adapter) -> run ->
//! measure -> results -> report. An adapter knows its client library and
//! nothing about pacing or statistics; the runner knows pacing and nothing
//! about any broker. `system` (process sampling, signals) lies below all of
//! them; `cli` above. `omb` (OpenMessaging Benchmark files) sits above
//! scenario and results and below report. The scenario model names adapters without knowing
//! them: the commands pass it `adapter::Rules`. `tests/layers.rs` fails
//! when an import runs against this order. `main.rs` only parses arguments
//! and calls [`cli::main`], so tests drive the same code in-process.

pub mod adapter;
pub mod cli;
pub mod measure;
pub mod omb;
pub mod provision;
pub mod report;
pub mod results;
pub mod run;
pub mod scenario;
pub mod system;
