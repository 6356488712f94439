//! The `options:` of a `rabbitmq` broker: parsed and checked once, before
//! anything connects, so a typo or an impossible combination (a transient
//! quorum queue) fails at validation with the option's name.

use serde::Deserialize;

/// Queue implementation (`x-queue-type`).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    Classic,
    Quorum,
    Stream,
}

impl QueueType {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueType::Classic => "classic",
            QueueType::Quorum => "quorum",
            QueueType::Stream => "stream",
        }
    }
}

/// The exchange every subscription queue is bound to.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ExchangeKind {
    /// Bound with the topic name as routing key.
    Direct,
    /// Bound with no key; routes by binding alone.
    Fanout,
}

impl ExchangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeKind::Direct => "direct",
            ExchangeKind::Fanout => "fanout",
        }
    }
}

/// How consumers acknowledge deliveries.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AckMode {
    /// `basic.ack` with `multiple` after each batch taken from the channel.
    Manual,
    /// `no_ack` consume: the broker forgets a message once it is written.
    Auto,
}

/// How producers and consumers share AMQP connections.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Connections {
    /// One connection per producer and per consumer, as RabbitMQ PerfTest
    /// does: the broker gives each its own reader and writer processes.
    PerClient,
    /// Every channel on the session's one connection.
    Shared,
}

/// Every knob, with its default (see the module table in `mod.rs`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    #[serde(default = "default_queue_type")]
    pub queue_type: QueueType,
    #[serde(default = "yes")]
    pub durable: bool,
    #[serde(default = "yes")]
    pub confirms: bool,
    #[serde(default = "yes")]
    pub persistent: bool,
    #[serde(default = "default_prefetch")]
    pub prefetch: u16,
    #[serde(default = "default_ack")]
    pub ack: AckMode,
    #[serde(default = "default_exchange")]
    pub exchange: ExchangeKind,
    #[serde(default = "default_connections")]
    pub connections: Connections,
    /// Environment variable holding the password of a live broker.
    #[serde(default = "default_password_env")]
    pub password_env: String,
}

fn default_queue_type() -> QueueType {
    QueueType::Classic
}
fn yes() -> bool {
    true
}
fn default_prefetch() -> u16 {
    1000
}
fn default_ack() -> AckMode {
    AckMode::Manual
}
fn default_exchange() -> ExchangeKind {
    ExchangeKind::Direct
}
fn default_connections() -> Connections {
    Connections::PerClient
}
fn default_password_env() -> String {
    "RABBITMQ_PASSWORD".into()
}

impl Options {
    pub fn parse(map: &serde_json::Map<String, serde_json::Value>) -> Result<Options, String> {
        let o: Options = crate::adapter::parse_options(map)?;
        o.check()?;
        Ok(o)
    }

    fn check(&self) -> Result<(), String> {
        let t = self.queue_type.as_str();
        if self.queue_type != QueueType::Classic && !self.durable {
            return Err(format!(
                "`durable: false` is not possible with `queue_type: {t}` (such queues are always durable)"
            ));
        }
        if self.queue_type == QueueType::Stream && self.ack == AckMode::Auto {
            return Err(
                "`ack: auto` is not possible with `queue_type: stream` (stream consumers must acknowledge)".into()
            );
        }
        if self.queue_type == QueueType::Stream && self.prefetch == 0 {
            return Err("`prefetch: 0` (unlimited) is not possible with `queue_type: stream`".into());
        }
        if self.password_env.is_empty() {
            return Err("`password_env` names an environment variable: it cannot be empty".into());
        }
        Ok(())
    }

    /// Every value used, defaults included, for the point's recorded params.
    pub fn effective(&self) -> serde_json::Map<String, serde_json::Value> {
        let v = serde_json::json!({
            "queue_type": self.queue_type.as_str(),
            "durable": self.durable,
            "confirms": self.confirms,
            "persistent": self.persistent,
            "prefetch": self.prefetch,
            "ack": match self.ack { AckMode::Manual => "manual", AckMode::Auto => "auto" },
            "exchange": self.exchange.as_str(),
            "connections": match self.connections { Connections::PerClient => "per_client", Connections::Shared => "shared" },
        });
        v.as_object().cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: serde_json::Value) -> Result<Options, String> {
        Options::parse(v.as_object().unwrap())
    }

    #[test]
    fn defaults_and_names() {
        let o = opts(serde_json::json!({})).unwrap();
        assert_eq!(o.queue_type, QueueType::Classic);
        assert!(o.confirms && o.durable && o.persistent);
        assert_eq!(o.ack, AckMode::Manual);
        assert_eq!(o.effective()["prefetch"], 1000);
        let o = opts(serde_json::json!({"queue_type": "quorum", "ack": "auto", "connections": "shared"})).unwrap();
        assert_eq!(o.queue_type, QueueType::Quorum);
        assert_eq!(o.connections, Connections::Shared);
    }

    #[test]
    fn bad_options_name_themselves() {
        assert!(opts(serde_json::json!({"queue_typ": "classic"})).unwrap_err().contains("`queue_typ`"));
        assert!(opts(serde_json::json!({"queue_type": "lazy"})).unwrap_err().contains("lazy"));
        let e = opts(serde_json::json!({"queue_type": "quorum", "durable": false})).unwrap_err();
        assert!(e.contains("`durable: false`"), "{e}");
        let e = opts(serde_json::json!({"queue_type": "stream", "ack": "auto"})).unwrap_err();
        assert!(e.contains("`ack: auto`"), "{e}");
        assert!(opts(serde_json::json!({"prefetch": 70000})).is_err());
    }
}
