//! An OMB workload file (`workloads/*.yaml`): one point, its keys read with
//! OMB's defaults (Java's zero for a missing number, except
//! `warmupDurationMinutes` 1 and `backlogDrainRatio` 1.0, and `NO_KEY`).

use super::source::{Refused, Source};
use std::path::Path;

/// Every key OMB's workload file has.
pub const KEYS: &[&str] = &[
    "name",
    "topics",
    "partitionsPerTopic",
    "keyDistributor",
    "messageSize",
    "useRandomizedPayloads",
    "randomBytesRatio",
    "randomizedPayloadPoolSize",
    "payloadFile",
    "subscriptionsPerTopic",
    "producersPerTopic",
    "consumerPerSubscription",
    "producerRate",
    "consumerBacklogSizeGB",
    "backlogDrainRatio",
    "testDurationMinutes",
    "warmupDurationMinutes",
];

/// How OMB keys messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyDistributor {
    /// No key.
    NoKey,
    /// Cycles through 10,000 random keys.
    KeyRoundRobin,
    /// One of the same 10,000 keys, picked by the nanosecond clock.
    RandomNano,
}

impl KeyDistributor {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyDistributor::NoKey => "NO_KEY",
            KeyDistributor::KeyRoundRobin => "KEY_ROUND_ROBIN",
            KeyDistributor::RandomNano => "RANDOM_NANO",
        }
    }
}

/// A workload file as OMB reads it.
pub struct Workload {
    pub source: Source,
    pub name: String,
    pub topics: u64,
    pub partitions_per_topic: u64,
    pub key_distributor: KeyDistributor,
    pub message_size: u64,
    pub use_randomized_payloads: bool,
    pub random_bytes_ratio: f64,
    pub randomized_payload_pool_size: u64,
    pub payload_file: Option<String>,
    pub subscriptions_per_topic: u64,
    pub producers_per_topic: u64,
    pub consumer_per_subscription: u64,
    /// Total msg/s over every producer; 0 asks OMB to find the maximum.
    pub producer_rate: u64,
    /// GiB (2^30 bytes), over every subscription.
    pub consumer_backlog_size_gb: u64,
    pub backlog_drain_ratio: f64,
    pub test_duration_minutes: f64,
    pub warmup_duration_minutes: f64,
}

/// Whether `text` looks like an OMB workload rather than an mqbench
/// scenario: a mapping with OMB's keys and no `brokers:`.
pub fn looks_like_workload(text: &str) -> bool {
    let Ok(serde_yaml::Value::Mapping(m)) = serde_yaml::from_str::<serde_yaml::Value>(text) else {
        return false;
    };
    let has = |k: &str| m.contains_key(serde_yaml::Value::String(k.into()));
    !has("brokers") && KEYS.iter().filter(|k| **k != "name" && **k != "topics").any(|k| has(k))
}

impl Workload {
    pub fn read(file: &Path) -> Result<Workload, Refused> {
        Workload::from_source(Source::read(file)?)
    }

    pub fn parse(file: &Path, text: &str) -> Result<Workload, Refused> {
        Workload::from_source(Source::parse(file, text)?)
    }

    /// Reads every key; type errors are collected in `source.errors` and
    /// returned together.
    pub fn from_source(mut s: Source) -> Result<Workload, Refused> {
        s.warn_unknown(KEYS, "workload");
        let stem = s.file.file_stem().map(|x| x.to_string_lossy().into_owned()).unwrap_or_else(|| "omb".into());
        let name = s.string("name").unwrap_or(stem);
        let key_distributor = match s.string("keyDistributor").as_deref().map(str::trim) {
            None | Some("NO_KEY") => KeyDistributor::NoKey,
            Some("KEY_ROUND_ROBIN") => KeyDistributor::KeyRoundRobin,
            Some("RANDOM_NANO") => KeyDistributor::RandomNano,
            Some(other) => {
                s.error("keyDistributor", format!("`{other}` is not one of NO_KEY, KEY_ROUND_ROBIN, RANDOM_NANO"));
                KeyDistributor::NoKey
            }
        };
        let w = Workload {
            name,
            topics: s.int("topics").unwrap_or(0),
            partitions_per_topic: s.int("partitionsPerTopic").unwrap_or(0),
            key_distributor,
            message_size: s.int("messageSize").unwrap_or(0),
            use_randomized_payloads: s.boolean("useRandomizedPayloads").unwrap_or(false),
            random_bytes_ratio: s.float("randomBytesRatio").unwrap_or(0.0),
            randomized_payload_pool_size: s.int("randomizedPayloadPoolSize").unwrap_or(0),
            payload_file: s.string("payloadFile"),
            subscriptions_per_topic: s.int("subscriptionsPerTopic").unwrap_or(0),
            producers_per_topic: s.int("producersPerTopic").unwrap_or(0),
            consumer_per_subscription: s.int("consumerPerSubscription").unwrap_or(0),
            producer_rate: s.int("producerRate").unwrap_or(0),
            consumer_backlog_size_gb: s.int("consumerBacklogSizeGB").unwrap_or(0),
            backlog_drain_ratio: s.float("backlogDrainRatio").unwrap_or(1.0),
            test_duration_minutes: s.float("testDurationMinutes").unwrap_or(0.0),
            warmup_duration_minutes: s.float("warmupDurationMinutes").unwrap_or(1.0),
            source: s,
        };
        Ok(w)
    }
}
