//! The `kafka` adapter's options and how they become librdkafka settings.
//!
//! | option                | default | librdkafka property / meaning |
//! |-----------------------|---------|-------------------------------|
//! | `acks`                | `all`   | `acks`: `0`, `1` or `all` |
//! | `linger_ms`           | 5       | `linger.ms` |
//! | `batch_size`          | 1000000 | `batch.size` (bytes; `64KB` or a number) |
//! | `compression`         | `none`  | `compression.type`: `none`, `gzip`, `snappy`, `lz4`, `zstd` |
//! | `idempotence`         | false   | `enable.idempotence` (needs `acks: all`) |
//! | `keys`                | false   | true: each message is keyed by its 8-byte sequence number and librdkafka's partitioner picks the partition; false: no key, the adapter spreads messages round-robin |
//! | `replication_factor`  | 1       | replication factor of the point's topic |
//! | `topic_config`        | none    | topic-level configs of the point's topic (`min.insync.replicas: 2`, `retention.ms`, ...) |
//! | `fetch_wait_max_ms`   | 500, 1 on tansu | `fetch.wait.max.ms` of the consumers (see below) |
//! | `properties`          | none    | any librdkafka property, for producers and consumers |
//! | `producer_properties` | none    | any librdkafka property, producers only |
//! | `consumer_properties` | none    | any librdkafka property, consumers only |
//! | `local_broker`        | `apache-kafka` | what `provision: local` starts: `apache-kafka` or `tansu` |
//! | `local_nodes`         | 1       | nodes of the local Apache Kafka cluster (1 to 5 KRaft nodes, each broker and controller) |
//!
//! Defaults are librdkafka's own except `fetch_wait_max_ms` on tansu:
//! tansu answers every Fetch only after `fetch.wait.max.ms`, even when data
//! is waiting, so librdkafka's 500 ms default caps a consumer at about two
//! fetches a second. The values the adapter chose are recorded in each
//! point's params (`Session::effective_options`).

use crate::scenario::units::Size;
use rdkafka::ClientConfig;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// librdkafka's default `fetch.wait.max.ms`.
pub const FETCH_WAIT_DEFAULT_MS: u64 = 500;
/// The default on tansu, whose Fetch always waits this long.
pub const FETCH_WAIT_TANSU_MS: u64 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acks {
    None,
    Leader,
    All,
}

impl Acks {
    pub fn as_str(self) -> &'static str {
        match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        }
    }
}

impl<'de> Deserialize<'de> for Acks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        match v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()).as_str() {
            "0" => Ok(Acks::None),
            "1" => Ok(Acks::Leader),
            "all" | "-1" => Ok(Acks::All),
            other => Err(serde::de::Error::custom(format!("`acks` is 0, 1 or all, not {other}"))),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// Which broker `provision: local` starts for the `kafka` adapter:
/// Apache Kafka unless the scenario names tansu (read by provisioning; kept
/// here so that a misspelt value is refused at `validate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
pub enum LocalBroker {
    #[default]
    #[serde(rename = "apache-kafka")]
    ApacheKafka,
    #[serde(rename = "tansu")]
    Tansu,
}

/// A librdkafka property value: scenario files may write numbers and
/// booleans bare.
#[derive(Clone, Debug)]
pub struct PropValue(pub String);

impl<'de> Deserialize<'de> for PropValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Ok(PropValue(s)),
            v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => Ok(PropValue(v.to_string())),
            v => {
                Err(serde::de::Error::custom(format!("a librdkafka property is a string, number or boolean, not {v}")))
            }
        }
    }
}

fn size_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None => Ok(None),
        Some(serde_json::Value::Number(n)) => {
            n.as_u64().map(Some).ok_or_else(|| serde::de::Error::custom(format!("`batch_size` is a size, not {n}")))
        }
        Some(serde_json::Value::String(s)) => Size::parse(&s).map(|s| Some(s.0)).map_err(serde::de::Error::custom),
        Some(v) => Err(serde::de::Error::custom(format!("`batch_size` is a size, not {v}"))),
    }
}

/// The adapter's options for one point.
#[derive(Clone, Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Options {
    pub acks: Option<Acks>,
    pub linger_ms: Option<u64>,
    #[serde(default, deserialize_with = "size_opt")]
    pub batch_size: Option<u64>,
    pub compression: Option<Compression>,
    pub idempotence: Option<bool>,
    #[serde(default)]
    pub keys: bool,
    #[serde(default = "one")]
    pub replication_factor: u32,
    pub fetch_wait_max_ms: Option<u64>,
    #[serde(default)]
    pub properties: BTreeMap<String, PropValue>,
    #[serde(default)]
    pub producer_properties: BTreeMap<String, PropValue>,
    #[serde(default)]
    pub consumer_properties: BTreeMap<String, PropValue>,
    #[serde(default)]
    pub topic_config: BTreeMap<String, PropValue>,
    #[serde(default)]
    pub local_broker: LocalBroker,
    #[serde(default = "one")]
    pub local_nodes: u32,
    /// The point's `security:` as librdkafka settings (set at connect,
    /// not an option).
    #[serde(skip)]
    pub security: super::security::SecurityProps,
}

fn one() -> u32 {
    1
}

impl Options {
    pub fn parse(options: &serde_json::Map<String, serde_json::Value>) -> Result<Options, String> {
        let o: Options = crate::adapter::parse_options(options)?;
        o.check()?;
        Ok(o)
    }

    fn check(&self) -> Result<(), String> {
        if self.idempotence == Some(true) && matches!(self.acks, Some(Acks::None) | Some(Acks::Leader)) {
            return Err(format!(
                "`idempotence: true` needs `acks: all` (librdkafka refuses acks={})",
                self.acks.unwrap().as_str()
            ));
        }
        if self.replication_factor == 0 {
            return Err("`replication_factor` must be at least 1".into());
        }
        if !(1..=5).contains(&self.local_nodes) {
            return Err(format!("`local_nodes` is 1 to 5 (each node is a JVM on this host), not {}", self.local_nodes));
        }
        if self.local_nodes > 1 && self.local_broker == LocalBroker::Tansu {
            return Err("`local_nodes` above 1 needs `local_broker: apache-kafka`: tansu runs one node".into());
        }
        for (k, _) in self.properties.iter().chain(&self.producer_properties).chain(&self.consumer_properties) {
            if super::security::is_secret_property(k) {
                return Err(format!(
                    "`{k}` in `properties` is refused: a secret in a scenario is stored with the results; use the broker's `security:` block with `password_env`"
                ));
            }
        }
        if self.batch_size == Some(0) {
            return Err("`batch_size` must be at least 1 byte".into());
        }
        // Property names and values are checked by librdkafka itself, with
        // no connection made.
        for (what, config) in [
            ("producer", self.producer_config("127.0.0.1:9092", false)),
            ("consumer", self.consumer_config("127.0.0.1:9092", "g", false)),
        ] {
            config
                .create_native_config()
                .map_err(|e| format!("`properties` ({what}): {}", super::error::describe(&e)))?;
        }
        Ok(())
    }

    /// `fetch.wait.max.ms` for this point: the scenario's, else a default
    /// that depends on the broker.
    pub fn fetch_wait_ms(&self, tansu: bool) -> u64 {
        self.fetch_wait_max_ms.unwrap_or(if tansu { FETCH_WAIT_TANSU_MS } else { FETCH_WAIT_DEFAULT_MS })
    }

    /// Settings every client of the point shares.
    pub fn common_config(&self, bootstrap: &str) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", bootstrap);
        c.set("client.id", "mqbench");
        // Warnings reach the client context's log (a failed TLS handshake
        // or SASL authentication is only logged by librdkafka).
        c.set_log_level(rdkafka::config::RDKafkaLogLevel::Warning);
        for (k, v) in &self.security.0 {
            c.set(*k, v);
        }
        for (k, v) in &self.properties {
            c.set(k, &v.0);
        }
        c
    }

    pub fn producer_config(&self, bootstrap: &str, _tansu: bool) -> ClientConfig {
        let mut c = self.common_config(bootstrap);
        if let Some(a) = self.acks {
            c.set("acks", a.as_str());
        }
        if let Some(l) = self.linger_ms {
            c.set("linger.ms", l.to_string());
        }
        if let Some(b) = self.batch_size {
            c.set("batch.size", b.to_string());
        }
        if let Some(z) = self.compression {
            c.set("compression.type", z.as_str());
        }
        if let Some(i) = self.idempotence {
            c.set("enable.idempotence", i.to_string());
        }
        for (k, v) in &self.producer_properties {
            c.set(k, &v.0);
        }
        c
    }

    pub fn consumer_config(&self, bootstrap: &str, group: &str, tansu: bool) -> ClientConfig {
        let mut c = self.common_config(bootstrap);
        c.set("group.id", group);
        // Each point's topic is new: read it from its first message, so a
        // message produced while the consumer positions itself is not missed.
        c.set("auto.offset.reset", "earliest");
        // Members notice a rebalance at their next heartbeat; a short
        // interval lets a group settle in about a second instead of three.
        c.set("heartbeat.interval.ms", "500");
        c.set("fetch.wait.max.ms", self.fetch_wait_ms(tansu).to_string());
        for (k, v) in &self.consumer_properties {
            c.set(k, &v.0);
        }
        c
    }

    /// The settings the adapter applied that the scenario did not name.
    pub fn effective(&self, tansu: bool) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::json;
        let mut m = serde_json::Map::new();
        let acks = match self.acks.unwrap_or(Acks::All) {
            Acks::All => json!("all"),
            a => json!(a.as_str().parse::<u64>().unwrap_or(0)),
        };
        m.insert("acks".into(), acks);
        m.insert("linger_ms".into(), json!(self.linger_ms.unwrap_or(5)));
        m.insert("batch_size".into(), json!(self.batch_size.unwrap_or(1_000_000)));
        m.insert("compression".into(), json!(self.compression.unwrap_or(Compression::None).as_str()));
        m.insert("idempotence".into(), json!(self.idempotence.unwrap_or(false)));
        m.insert("fetch_wait_max_ms".into(), json!(self.fetch_wait_ms(tansu)));
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: serde_json::Value) -> Result<Options, String> {
        Options::parse(v.as_object().unwrap())
    }

    #[test]
    fn options_parse_and_fail_clearly() {
        let o = opts(serde_json::json!({"acks": 0, "compression": "zstd", "batch_size": "64KB"})).unwrap();
        assert_eq!(o.acks, Some(Acks::None));
        assert_eq!(o.batch_size, Some(64_000));
        assert_eq!(opts(serde_json::json!({"acks": "all"})).unwrap().acks, Some(Acks::All));
        assert!(opts(serde_json::json!({"acks": 2})).unwrap_err().contains("`acks`"));
        assert!(opts(serde_json::json!({"compresion": "gzip"})).unwrap_err().contains("`compresion`"));
        assert!(opts(serde_json::json!({"compression": "brotli"})).is_err());
        assert!(opts(serde_json::json!({"acks": 1, "idempotence": true})).unwrap_err().contains("idempotence"));
        let bad = opts(serde_json::json!({"properties": {"no.such.property": "1"}})).unwrap_err();
        assert!(bad.contains("no.such.property"), "{bad}");
        let ok = opts(serde_json::json!({"properties": {"socket.nagle.disable": true, "message.max.bytes": 2000000}}));
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn tansu_gets_a_short_fetch_wait() {
        let o = Options::default();
        assert_eq!(o.fetch_wait_ms(true), FETCH_WAIT_TANSU_MS);
        assert_eq!(o.fetch_wait_ms(false), FETCH_WAIT_DEFAULT_MS);
        let c = o.consumer_config("h:1", "g", true);
        assert_eq!(c.get("fetch.wait.max.ms"), Some("1"));
        let o = opts(serde_json::json!({"fetch_wait_max_ms": 20})).unwrap();
        assert_eq!(o.effective(true)["fetch_wait_max_ms"], 20);
    }
}
