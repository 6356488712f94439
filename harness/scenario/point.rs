//! A resolved point: one combination of every knob, for one broker.
//! Nothing after sweep expansion sees raw YAML.

use super::model::Provision;
use super::units::Rate;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The smallest body that can carry the compact tracking header; see
/// `measure::payload` for the layout.
pub const MIN_PAYLOAD_BYTES: u64 = 10;

/// The largest body the harness serves (100 MB): a point's body pool is
/// four times the payload (see `measure::payload`), and bodies in flight
/// are held until acknowledged. Brokers have lower limits of their own
/// (Kafka's default `message.max.bytes` is about 1 MB); those fail the
/// point with the broker's error.
pub const MAX_PAYLOAD_BYTES: u64 = 100_000_000;

/// The most body bytes a point may hold awaiting acknowledgement,
/// producers x `in_flight` x payload (4 GB): beyond it an unthrottled point
/// could exhaust the memory of a test machine, and a process that cannot
/// allocate aborts rather than recording a failed point.
pub const MAX_IN_FLIGHT_BYTES: u64 = 4_000_000_000;

/// Which broker a point runs against and how it is reached.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BrokerTarget {
    /// Label from the scenario (unique within it).
    pub name: String,
    /// Adapter that drives it.
    pub adapter: String,
    pub provision: Provision,
    /// Address for `live` brokers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Image for `container` brokers, when the scenario names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// A producer rate as results record it: `"max"` or the fixed rate.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum RateParam {
    Max(MaxTag),
    Fixed { bytes_per_s: f64, msgs_per_s: f64 },
}

/// Serializes as the string `"max"`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub enum MaxTag {
    #[serde(rename = "max")]
    Max,
}

impl RateParam {
    pub fn from_rate(rate: Rate, payload_bytes: u64) -> RateParam {
        match (rate.bytes_per_sec(payload_bytes), rate.msgs_per_sec(payload_bytes)) {
            (Some(b), Some(m)) => RateParam::Fixed { bytes_per_s: b, msgs_per_s: m },
            _ => RateParam::Max(MaxTag::Max),
        }
    }

    /// Total messages per second over all producers, `None` when unthrottled.
    pub fn msgs_per_s(&self) -> Option<f64> {
        match self {
            RateParam::Max(_) => None,
            RateParam::Fixed { msgs_per_s, .. } => Some(*msgs_per_s),
        }
    }

    pub fn is_max(&self) -> bool {
        matches!(self, RateParam::Max(_))
    }
}

/// Every knob of one point, as recorded in results.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Params {
    pub payload_bytes: u64,
    pub rate: RateParam,
    /// The rate as written in the scenario (`3MBps`, `max`).
    pub rate_label: String,
    /// Topics, each with `producers` producers and `subscriptions`
    /// subscriptions of `consumers` consumers; `rate` is the total over
    /// all of them. Absent in results when 1.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub topics: u32,
    /// Producers per topic.
    pub producers: u32,
    /// Subscriptions per topic.
    pub subscriptions: u32,
    /// Consumers per subscription.
    pub consumers: u32,
    pub partitions: u32,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub drain_s: f64,
    pub in_flight: u32,
    /// Consumers attach only after the producers are done and drain the
    /// stored backlog (scenario `backlog: true`); absent in results when
    /// false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub backlog: bool,
    /// TLS and SASL of the point (`security:`), absent when plaintext;
    /// never the secret, only the variable that holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<super::security::Security>,
    /// Adapter knobs, one value each, as the adapter will parse them.
    pub options: serde_json::Map<String, serde_json::Value>,
    /// A searched rate (`rate: {search: ...}`): the point's probes and its
    /// confirmation run find and measure the highest sustained rate (see
    /// `run::search`); absent for a fixed rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<super::search::SearchParam>,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

impl Params {
    /// Producers of the point over every topic.
    pub fn all_producers(&self) -> u32 {
        self.topics.saturating_mul(self.producers)
    }

    pub fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup_s)
    }
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration_s)
    }
    pub fn drain(&self) -> Duration {
        Duration::from_secs_f64(self.drain_s)
    }
}

/// One point of a sweep.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Point {
    /// Stable id, e.g. `redis/payload=1000/rate=3MBps`; knobs beyond payload
    /// and rate appear only when the scenario sweeps them.
    pub id: String,
    /// 0-based repeat number (scenarios with `repeats: N`).
    pub repeat: u32,
    pub broker: BrokerTarget,
    pub params: Params,
}
