//! The results format (schema-versioned). `results/schema.json` is its JSON
//! Schema; tests validate every results.json they produce against it.
//! Reports, compare and merge read only this.

use crate::measure::accounting::{Counts, ProducerCounts, SubscriptionCounts};
use crate::measure::{LatencySummary, SeriesPoint};
use crate::scenario::{Params, Provision};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bump on any change that breaks readers; additions of optional fields do
/// not.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ResultsFile {
    pub schema_version: u32,
    pub run: RunInfo,
    /// The scenario file as it was run.
    #[serde(default)]
    pub scenario_source: String,
    pub points: Vec<PointResult>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunInfo {
    /// `<scenario>-<timestamp>`, also the default directory name.
    pub id: String,
    /// Scenario name.
    pub scenario: String,
    #[serde(default)]
    pub scenario_file: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// Set when the run ends; absent while it is in progress (or if it
    /// crashed: the points so far are still there).
    pub finished_at: Option<String>,
    pub mqbench_version: String,
    /// `git describe --always --dirty` of the source, or `unknown`.
    pub git_revision: String,
    pub host: HostInfo,
    /// Client libraries by adapter (`kafka`: `rdkafka 0.39 / librdkafka 2.12.1`).
    #[serde(default)]
    pub clients: BTreeMap<String, String>,
    /// The command line, secrets never included (they live in the environment).
    #[serde(default)]
    pub command: Vec<String>,
    /// `i/N` when this run is one shard of several load generators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HostInfo {
    pub os: String,
    #[serde(default)]
    pub kernel: String,
    #[serde(default)]
    pub hostname: String,
    pub cpus: u32,
    pub memory_bytes: u64,
    #[serde(default)]
    pub cpu_model: String,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Failed,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PointResult {
    pub id: String,
    #[serde(default)]
    pub repeat: u32,
    /// Broker label from the scenario.
    pub broker: String,
    /// Broker kind (adapter).
    pub adapter: String,
    pub provision: Provision,
    /// Broker software and version as measured (`redis 7.0.15`).
    pub broker_software: String,
    /// Client library of the adapter.
    #[serde(default)]
    pub client: String,
    pub params: Params,
    pub status: Status,
    pub error: Option<String>,
    #[serde(default)]
    pub started_at: String,
    pub counts: Counts,
    #[serde(default)]
    pub by_producer: Vec<ProducerCounts>,
    /// Subscription s of every topic, added up.
    #[serde(default)]
    pub by_subscription: Vec<SubscriptionCounts>,
    /// Each topic of a point with `topics` above 1 (empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_topic: Vec<TopicResult>,
    #[serde(default)]
    pub out_of_order_by_partition: BTreeMap<u32, u64>,
    pub throughput: Throughput,
    pub latency_us: Latencies,
    pub histograms: Histograms,
    /// Samples of `publish` and `end_to_end` that are lower bounds.
    #[serde(default)]
    pub lower_bounds: LowerBounds,
    pub series: Vec<SeriesPoint>,
    pub warnings: Vec<String>,
    /// Send and acknowledgement errors, counted by message.
    #[serde(default)]
    pub errors: BTreeMap<String, u64>,
    /// CPU and memory over the measurement window.
    #[serde(default)]
    pub resources: Resources,
    /// Adapter counters (loopback's injected faults, Kafka's QueueFull).
    #[serde(default)]
    pub adapter_stats: serde_json::Value,
    /// The measurement window by the wall clock of the host that ran the
    /// point: what `merge` checks shards' overlap with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<MeasuredWindow>,
    /// A probe of a searched rate: which search it belongs to and how it
    /// was judged (absent on other points).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<Probe>,
    /// What a searched rate found (on its confirmation run, which has the
    /// search's id; absent on other points).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
}

/// Why a probed rate was not sustained.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Criterion {
    /// The producers could not keep the send schedule.
    Schedule,
    /// The consumers fell behind: the backlog grew over the window.
    Backlog,
    /// Messages were lost or failed.
    Loss,
    /// The latency target was missed.
    Latency,
    /// Nothing failed up to the search's upper bound (`max`).
    Max,
}

impl Criterion {
    pub fn as_str(&self) -> &'static str {
        match self {
            Criterion::Schedule => "schedule",
            Criterion::Backlog => "backlog",
            Criterion::Loss => "loss",
            Criterion::Latency => "latency",
            Criterion::Max => "max",
        }
    }
}

/// One probe of a search, as judged.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Probe {
    /// The id of the searched point.
    pub search: String,
    /// 0-based, in the order run; probe 0 is unthrottled (it finds the
    /// bracket's top and is not judged).
    pub index: u32,
    /// Whether the rate was sustained (always false for the unthrottled
    /// probe and for a failed one).
    pub sustained: bool,
    /// What failed, in the order schedule, backlog, loss, latency.
    #[serde(default)]
    pub failed: Vec<Criterion>,
}

/// The highest sustained rate a search found.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Capacity {
    pub msgs_per_s: f64,
    pub bytes_per_s: f64,
    /// What stopped the rate going higher: the first failed criterion of
    /// the lowest probe that was not sustained, or `max` when every probe
    /// up to the upper bound was sustained.
    pub limited_by: Criterion,
    /// The lowest probed rate that was not sustained (the bracket's top).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_sustained_msgs_per_s: Option<f64>,
    /// Probes run, the unthrottled one included.
    pub probes: u32,
    /// Whether this full-length run at the rate found was sustained too.
    pub confirmed: bool,
}

/// One topic's share of a point.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TopicResult {
    /// 0-based topic index (the name ends in `-t<topic>`).
    pub topic: u32,
    #[serde(flatten)]
    pub counts: Counts,
    pub publish: LatencySummary,
    pub end_to_end: LatencySummary,
}

/// A window in µs since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct MeasuredWindow {
    pub start_unix_us: u64,
    pub end_unix_us: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Throughput {
    /// Measured messages acknowledged, per second of the window.
    pub publish_msgs_per_s: f64,
    pub publish_bytes_per_s: f64,
    /// Messages actually sent inside the window, per second, by the run's
    /// own clock: the achieved send rate, to compare with the target.
    #[serde(default)]
    pub send_msgs_per_s: f64,
    /// Messages received while the window was open (first copies in each
    /// subscription, all subscriptions, whatever their due time), per
    /// second of the window: the rate at which the consumers read. A
    /// backlog point's figure is its catch-up rate instead (see README).
    pub consume_msgs_per_s: f64,
    pub consume_bytes_per_s: f64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Latencies {
    /// Due time to the broker's acknowledgement.
    pub publish: LatencySummary,
    /// Actual send to the acknowledgement (what closed-loop tools report).
    pub service: LatencySummary,
    /// Due time to receipt by a consumer.
    pub end_to_end: LatencySummary,
    /// Actual send minus due time: how far the producers fell behind.
    #[serde(default)]
    pub schedule_delay: LatencySummary,
    /// Due time to receipt of every further copy of a measured message in
    /// a subscription (a redelivery, at the same consumer or another one):
    /// `end_to_end` has first copies only.
    #[serde(default)]
    pub redelivered: LatencySummary,
}

/// How many samples of a histogram are lower bounds: messages due in the
/// window that were never sent, or not acknowledged (publish) or neither
/// acknowledged nor received (end-to-end, per subscription) by the
/// deadline, recorded with their time outstanding until the deadline, so a
/// stall at the end of the window shows as one in its middle does.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LowerBounds {
    pub publish: u64,
    pub end_to_end: u64,
}

/// Base64 of the HdrHistogram V2 deflate encoding of each.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Histograms {
    pub publish: String,
    pub service: String,
    pub end_to_end: String,
    #[serde(default)]
    pub redelivered: String,
}

/// CPU seconds and peak resident memory of the harness and of each broker
/// process tree it started, over the measurement window.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Resources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness: Option<ProcessUsage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker: Option<ProcessUsage>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ProcessUsage {
    pub cpu_s: f64,
    pub peak_rss_bytes: u64,
    /// CPU seconds per million messages handled while the CPU was sampled
    /// (the window): received, or sent for produce-only and backlog points.
    #[serde(default)]
    pub cpu_s_per_million_msgs: f64,
}
