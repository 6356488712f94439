//! OpenMessaging Benchmark (OMB) files: its workload and driver files run
//! as mqbench scenarios, its result files read beside mqbench's, and
//! mqbench results written in its result format. docs/omb.md is the
//! user's reference; every mapping decision is written there and in the
//! module that makes it.
//!
//! | module        | job |
//! |---------------|-----|
//! | `source`      | an OMB YAML file as keys with their lines, lenient about numbers written as strings; notes that name file, line and key |
//! | `properties`  | the Java-properties text of Kafka driver files (`producerConfig: \|` ...) |
//! | `workload`    | a workload file, checked, with OMB's defaults |
//! | `driver`      | a driver file (Kafka, RabbitMQ, Redis, Artemis) as one mqbench broker entry |
//! | `import`      | workloads x brokers as an editable scenario file with comments, validated by `scenario` |
//! | `commands`    | `mqbench import omb`, `export omb`, and `run` of a workload file |
//! | `result`      | OMB's result JSON: read into mqbench's results model ("measured by OMB"), and written from it |
//!
//! Where it sits: above `scenario`, `measure` and `results` (it produces
//! scenario text and results values), below `report` (which reads OMB
//! result files through `result`) and `cli`. It never names an adapter
//! module: what an adapter accepts is asked through
//! `scenario::AdapterRules`, as validation does.

pub mod commands;
pub mod driver;
pub mod import;
pub mod properties;
pub mod result;
pub mod source;
pub mod workload;

pub use import::{import, Imported};
pub use source::Note;

/// The latency caveat every reading of an OMB result carries (`report`,
/// `compare`, and the note in exported files).
pub const LATENCY_CAVEAT: &str = "measured by OpenMessaging Benchmark: its latencies run from the actual send, in milliseconds (end to end: whole milliseconds from the send's millisecond clock, 0 ms samples dropped), mqbench's from the intended send in microseconds, so the two are not the same measurement (OMB's exclude the time a producer fell behind its schedule, which OMB reports apart as publish delay)";
