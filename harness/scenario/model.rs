//! The scenario file as written: serde types, nothing resolved yet.
//!
//! Every workload knob accepts one value or a list; a list is a sweep
//! dimension and the runner expands the cartesian product of all lists
//! (see `expand.rs`). Adapter knobs live under each broker's `options` and
//! may be lists too.

use super::search::RateSpec;
use super::units::{Size, Span};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One value or a list of values (a sweep dimension).
///
/// Deserialized by hand rather than `#[serde(untagged)]` so that an error
/// inside a value (`10XB`) keeps its own message and its line and column.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, IntoDeserializer};
        struct V<T>(std::marker::PhantomData<T>);
        fn one<'de, T: Deserialize<'de>, E: de::Error>(r: Result<T, de::value::Error>) -> Result<OneOrMany<T>, E> {
            r.map(OneOrMany::One).map_err(|e| E::custom(e.to_string()))
        }
        impl<'de, T: Deserialize<'de>> de::Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a value or a list of values")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element()? {
                    out.push(v);
                }
                if out.is_empty() {
                    return Err(de::Error::custom("an empty list sweeps nothing: give at least one value"));
                }
                Ok(OneOrMany::Many(out))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(OneOrMany::One)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                one(T::deserialize(v.into_deserializer()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                one(T::deserialize(v.into_deserializer()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                one(T::deserialize(v.into_deserializer()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                one(T::deserialize(v.into_deserializer()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                one(T::deserialize(v.into_deserializer()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                one(T::deserialize(v.into_deserializer()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                one(T::deserialize(().into_deserializer()))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<T: Clone> OneOrMany<T> {
    pub fn values(&self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// The whole file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Used in the results directory name; defaults to the file's stem.
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Defaults for every broker of the file.
    #[serde(default)]
    pub workload: WorkloadSpec,
    pub brokers: Vec<BrokerSpec>,
}

/// Workload knobs. Each may be a list; unset knobs take the defaults in
/// `WorkloadSpec::builtin`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Exact body size on the wire (default `1KB`).
    pub payload: Option<OneOrMany<Size>>,
    /// Total producer rate over all producers of all topics (default
    /// `1MBps`), or a search for the highest sustained one (`search.rs`).
    pub rate: Option<OneOrMany<RateSpec>>,
    /// Topics (default 1): each has its own `producers`, `subscriptions`
    /// and `consumers`; `rate` stays the total over every topic.
    pub topics: Option<OneOrMany<u32>>,
    /// Producers per topic (default 1).
    pub producers: Option<OneOrMany<u32>>,
    /// Subscriptions: each receives every message (default 1).
    pub subscriptions: Option<OneOrMany<u32>>,
    /// Consumers per subscription, sharing its messages (default 1).
    pub consumers: Option<OneOrMany<u32>>,
    /// Partitions (Kafka partitions, Redis streams per topic; default 1).
    pub partitions: Option<OneOrMany<u32>>,
    /// Discarded warm-up before the window (default `2s`).
    pub warmup: Option<OneOrMany<Span>>,
    /// Measurement window (default `10s`).
    pub duration: Option<OneOrMany<Span>>,
    /// Longest wait for consumers after producers stop (default `5s`).
    pub drain: Option<OneOrMany<Span>>,
    /// Most messages a producer keeps unacknowledged (default 1000).
    pub in_flight: Option<OneOrMany<u32>>,
    /// Runs of each point, for noise-aware comparison (default 1).
    pub repeats: Option<u32>,
    /// Consume a backlog (default `false`): producers run their whole
    /// schedule first, then the consumers attach and drain what is stored;
    /// the consume rate is then a catch-up read rate (see `run::point`).
    pub backlog: Option<bool>,
}

/// Where a broker comes from.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Provision {
    /// In this process (the loopback adapter).
    Embedded,
    /// A child process started by mqbench from an installed binary.
    Local,
    /// A container started by mqbench (needs a Docker engine).
    Container,
    /// An existing broker or cluster at `endpoint`.
    Live,
}

impl Provision {
    pub fn as_str(&self) -> &'static str {
        match self {
            Provision::Embedded => "embedded",
            Provision::Local => "local",
            Provision::Container => "container",
            Provision::Live => "live",
        }
    }
}

/// One broker of the file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerSpec {
    /// The label used in point ids and reports; unique in the file.
    pub name: String,
    /// Which adapter drives it; defaults to `name`.
    pub adapter: Option<String>,
    /// Where the broker comes from; defaults to `embedded` for loopback and
    /// `local` for every other adapter.
    pub provision: Option<Provision>,
    /// Address for `provision: live` (adapter-specific form, e.g.
    /// `redis://host:6379`, `host1:9092,host2:9092`, `amqp://host:5672/%2f`).
    pub endpoint: Option<String>,
    /// Image for `provision: container` (default: the adapter's image that
    /// docker/images.sh builds, e.g. `mqbench/redis:latest`).
    pub image: Option<String>,
    /// Workload overrides for this broker alone.
    #[serde(default)]
    pub workload: WorkloadSpec,
    /// TLS and SASL (see `security.rs`); a list is a sweep dimension.
    #[serde(default)]
    pub security: Option<OneOrMany<super::security::SecuritySpec>>,
    /// Adapter knobs, parsed by the adapter; any value may be a list.
    #[serde(default)]
    pub options: BTreeMap<String, OneOrMany<serde_yaml::Value>>,
}
