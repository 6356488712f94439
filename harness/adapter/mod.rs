//! The adapter seam: what the runner needs from a broker client, and
//! nothing about pacing or statistics.
//!
//! A [`Driver`] is stateless and knows one client library. For each point
//! the runner connects a [`Session`], which prepares the topic or queue,
//! hands out [`Producer`]s and [`Consumer`]s, and cleans up afterwards.
//! Adapter-specific knobs arrive as the point's `options` map, which the
//! adapter parses itself (and checks up front in [`Driver::check_options`],
//! so a typo fails at validation, not twenty minutes into a sweep).
//!
//! Adding a broker: a module under `adapter/`, a cargo feature, one line in
//! [`driver`] and one in [`ADAPTER_NAMES`]; see docs/design.md "Add a broker".

use crate::scenario::security::Security;
use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;

#[cfg(feature = "amqp1")]
pub mod amqp1;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "loopback")]
pub mod loopback;
#[cfg(feature = "rabbitmq")]
pub mod rabbitmq;
#[cfg(feature = "redis")]
pub mod redis;
pub mod redis_info;

/// Every broker kind a scenario may name (`adapter:` or `name:`). The AMQP
/// 1.0 kinds share one driver and differ in provisioning and addresses.
pub const ADAPTER_NAMES: &[&str] = &["loopback", "redis", "kafka", "rabbitmq", "artemis", "activemq", "rabbitmq-amqp1"];

/// One message handed to a producer. `seq` lets adapters spread messages
/// over partitions deterministically (and keep a producer's order per
/// partition).
#[derive(Clone, Debug)]
pub struct OutMessage {
    pub producer: u32,
    pub seq: u64,
    pub payload: Bytes,
}

/// One message taken from the broker.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub payload: Bytes,
    /// Partition, stream or queue index it came from (0 when the broker has
    /// no such notion). Order is checked per producer and partition.
    pub partition: u32,
}

/// A per-message (or per-batch) failure reported by the broker or client;
/// counted, not fatal.
pub type SendError = String;

/// The broker's acceptance of the next `messages` messages of a batch.
pub struct Ack {
    pub messages: usize,
    pub state: AckState,
}

pub enum AckState {
    /// Already known (pre-settled, fire-and-forget, in-process).
    Done(Result<(), SendError>),
    /// Resolves when the broker answers (confirm, delivery report, reply).
    Pending(BoxFuture<'static, Result<(), SendError>>),
}

impl Ack {
    pub fn done(messages: usize) -> Ack {
        Ack { messages, state: AckState::Done(Ok(())) }
    }
    pub fn failed(messages: usize, error: impl Into<String>) -> Ack {
        Ack { messages, state: AckState::Done(Err(error.into())) }
    }
    pub fn pending(
        messages: usize,
        fut: impl std::future::Future<Output = Result<(), SendError>> + Send + 'static,
    ) -> Ack {
        Ack { messages, state: AckState::Pending(Box::pin(fut)) }
    }
}

/// Names of what one point uses on the broker.
#[derive(Clone, Debug)]
pub struct Topology {
    /// Fresh for every point (and repeat), so points never see each
    /// other's messages.
    pub topic: String,
    pub partitions: u32,
    /// One name per subscription; each receives every message.
    pub subscriptions: Vec<String>,
    pub producers: u32,
    /// Consumers per subscription, sharing its messages.
    pub consumers: u32,
    pub payload_bytes: u64,
    /// Most unacknowledged messages per producer.
    pub in_flight: u32,
}

#[async_trait]
pub trait Producer: Send {
    /// Hands a batch to the client, in order, and pushes acks that cover
    /// exactly `batch.len()` messages, in order. Returns once the client has
    /// taken the messages (not once the broker has accepted them). An `Err`
    /// means the producer cannot go on (connection lost).
    async fn send(&mut self, batch: &[OutMessage], acks: &mut Vec<Ack>) -> anyhow::Result<()>;
    /// Pushes out anything the client still buffers.
    async fn flush(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
    async fn close(self: Box<Self>) -> anyhow::Result<()> {
        Ok(())
    }
}

#[async_trait]
pub trait Consumer: Send {
    /// Returns once this consumer will see messages sent from now on
    /// (subscription active, partitions assigned).
    async fn ready(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
    /// Waits for at least one delivery and appends what is available to
    /// `out`, acknowledging it to the broker as configured. An `Err` means
    /// the consumer cannot go on.
    async fn recv(&mut self, out: &mut Vec<Delivery>) -> anyhow::Result<()>;
    async fn close(self: Box<Self>) -> anyhow::Result<()> {
        Ok(())
    }
}

#[async_trait]
pub trait Session: Send + Sync {
    /// Broker software and version as the broker reports it.
    fn broker_software(&self) -> String;
    /// Creates the topic, queues or streams of a point.
    async fn prepare(&self, topology: &Topology) -> anyhow::Result<()>;
    async fn producer(&self, topology: &Topology, index: u32) -> anyhow::Result<Box<dyn Producer>>;
    async fn consumer(&self, topology: &Topology, subscription: u32, index: u32) -> anyhow::Result<Box<dyn Consumer>>;
    /// Deletes what `prepare` made.
    async fn cleanup(&self, topology: &Topology) -> anyhow::Result<()>;
    /// Options the adapter applied beyond the scenario's (defaults that
    /// matter for the numbers), merged into the point's recorded params.
    fn effective_options(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::new()
    }
    /// Adapter counters for the results (`adapter_stats`).
    fn stats(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}

/// The bound on a point's `partitions` for one adapter, and what a
/// partition is there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionLimit {
    pub max: u32,
    /// What one partition is, for the error (`streams per topic ...`).
    pub meaning: &'static str,
}

/// Where and what to connect to for one point.
pub struct ConnectContext<'a> {
    /// Address from provisioning or the scenario (adapter-specific form).
    pub endpoint: &'a str,
    /// The broker kind (`kafka`, `artemis`, ...).
    pub kind: &'a str,
    pub options: &'a serde_json::Map<String, serde_json::Value>,
    /// Broker software as provisioning knows it (e.g. `tansu 0.6.0`), for
    /// brokers whose protocol does not tell.
    pub software_hint: Option<&'a str>,
    /// TLS and SASL of the point (a local broker's CA already filled in
    /// as `ca_file`), `None` for plaintext.
    pub security: Option<&'a Security>,
    /// The SASL password, read from the environment just before
    /// connecting; never stored.
    pub password: Option<&'a str>,
}

#[async_trait]
pub trait Driver: Send + Sync {
    /// Checks one point's options; the message names the option in
    /// backquotes (`mode`) so the error can point at its line.
    fn check_options(&self, options: &serde_json::Map<String, serde_json::Value>) -> Result<(), String>;
    /// Whether messages published before a subscription's consumers attach
    /// wait for them (what `backlog: true` needs), with these options; the
    /// error says why not.
    fn check_backlog(&self, _options: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        Err("this adapter does not keep messages for consumers that attach after publishing".into())
    }
    /// What `partitions` means for this adapter and how many a point may
    /// ask for (checked by `validate`, with the meaning in the error).
    fn partitions(&self) -> PartitionLimit;
    /// Whether this adapter connects with `security` (TLS, SASL); the
    /// error says why not. Adapters without TLS or SASL refuse all of it.
    fn check_security(&self, security: &Security) -> Result<(), String> {
        Err(format!("this adapter does not support TLS or SASL yet (profile `{}`)", security.label()))
    }
    async fn connect(&self, ctx: &ConnectContext<'_>) -> anyhow::Result<Box<dyn Session>>;
    /// Client library and version, for results (e.g. `librdkafka 2.12.1`).
    fn client(&self) -> String;
}

/// The driver for a broker kind, or why this binary has none.
pub fn driver(kind: &str) -> Result<&'static dyn Driver, String> {
    match kind {
        #[cfg(feature = "loopback")]
        "loopback" => Ok(&loopback::LoopbackDriver),
        #[cfg(feature = "rabbitmq")]
        "rabbitmq" => Ok(&rabbitmq::RabbitDriver),
        #[cfg(feature = "kafka")]
        "kafka" => Ok(&kafka::KafkaDriver),
        #[cfg(feature = "redis")]
        "redis" => Ok(&redis::RedisDriver),
        #[cfg(feature = "amqp1")]
        "artemis" | "activemq" | "rabbitmq-amqp1" => Ok(&amqp1::Amqp1Driver),
        k if ADAPTER_NAMES.contains(&k) => Err(format!(
            "the `{k}` adapter is not available in this build (not implemented yet, or its cargo feature is off)"
        )),
        k => Err(format!("unknown adapter `{k}`: expected one of {}", ADAPTER_NAMES.join(", "))),
    }
}

/// Validation hook for scenario loading: options of adapters this build
/// lacks cannot be checked, and their points fail with that reason at run
/// time.
pub fn check_options(kind: &str, options: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
    check_with(kind, |d| d.check_options(options))
}

/// Validation hook for `backlog: true` (see [`Driver::check_backlog`]);
/// adapters this build lacks fail at run time instead.
pub fn check_backlog(kind: &str, options: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
    check_with(kind, |d| d.check_backlog(options))
}

/// Validation hook for `partitions` (see [`Driver::partitions`]); adapters
/// this build lacks fail at run time instead.
pub fn check_partitions(kind: &str, partitions: u32) -> Result<(), String> {
    check_with(kind, |d| {
        let limit = d.partitions();
        if partitions <= limit.max {
            return Ok(());
        }
        Err(format!("`partitions: {partitions}` is more than the `{kind}` adapter's {}: {}", limit.max, limit.meaning))
    })
}

/// This build's adapters as scenario validation asks them (the scenario
/// model does not know the adapters; the commands that load a scenario
/// pass this).
pub struct Rules;

impl crate::scenario::AdapterRules for Rules {
    fn names(&self) -> &[&'static str] {
        ADAPTER_NAMES
    }
    fn check_options(&self, adapter: &str, options: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        check_options(adapter, options)
    }
    fn check_backlog(&self, adapter: &str, options: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        check_backlog(adapter, options)
    }
    fn check_partitions(&self, adapter: &str, partitions: u32) -> Result<(), String> {
        check_partitions(adapter, partitions)
    }
    /// The adapter's own answer, then the password: `validate` says when
    /// its variable is missing (and reads nothing else of it).
    fn check_security(&self, adapter: &str, security: &Security) -> Result<(), String> {
        check_with(adapter, |d| d.check_security(security))?;
        security.password().map(|_| ())
    }
}

/// Runs a validation check of `kind`'s driver; passes when this build has
/// no such driver (its points fail with that reason at run time).
fn check_with(kind: &str, check: impl FnOnce(&dyn Driver) -> Result<(), String>) -> Result<(), String> {
    driver(kind).map_or(Ok(()), check)
}

/// Parses an adapter's options struct, with a message that names the
/// offending option (serde's `unknown field \`x\`` already does).
pub fn parse_options<T: serde::de::DeserializeOwned>(
    options: &serde_json::Map<String, serde_json::Value>,
) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::Object(options.clone())).map_err(|e| e.to_string())
}

/// `endpoint` (a `scheme://user:password@host...` URL) with the password
/// replaced by `***`, for error messages; unchanged when it has none.
pub fn redact_endpoint(endpoint: &str) -> String {
    match (endpoint.find("://"), endpoint.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => match endpoint[scheme + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &endpoint[..scheme + 3], &endpoint[at..]),
            None => endpoint.to_string(),
        },
        _ => endpoint.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_endpoint;

    #[test]
    fn endpoints_lose_their_password_only() {
        assert_eq!(redact_endpoint("amqp://u:p@h:1/%2f"), "amqp://u:***@h:1/%2f");
        assert_eq!(redact_endpoint("rediss://:secret@h:6379"), "rediss://:***@h:6379");
        assert_eq!(redact_endpoint("redis://u@h:6379"), "redis://u@h:6379");
        assert_eq!(redact_endpoint("redis://h:6379"), "redis://h:6379");
    }
}
