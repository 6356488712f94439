//! Address conventions: which AMQP 1.0 address a point's senders and
//! receivers use on each broker kind.
//!
//! One subscription is a shared queue (competing consumers). Several
//! subscriptions (fan-out) need a publish-subscribe address whose
//! subscriptions can each be shared by several consumers, and each broker
//! spells that differently:
//!
//! | kind             | one subscription       | fan-out: senders                   | fan-out: receivers of subscription S |
//! |------------------|------------------------|------------------------------------|--------------------------------------|
//! | `rabbitmq-amqp1` | `/queue/T`             | `/exchange/amq.topic/T`            | `/exchange/amq.topic/T` (one private queue per link, so one consumer per subscription) |
//! | `activemq`       | `queue://T`            | `topic://VirtualTopic.T`           | `queue://Consumer.S.VirtualTopic.T` (ActiveMQ virtual topics) |
//! | `artemis`        | `T` (capability queue) | `T` (capability topic)             | `T::S` (fully qualified queue name, capability topic) |
//!
//! RabbitMQ: `/queue/T` declares a classic, non-durable queue on attach;
//! `/amq/queue/T` names an existing queue (declare quorum or durable queues
//! first). A send to a missing `/amq/queue/T` is accepted and dropped by
//! RabbitMQ 3.10, and the runner counts those messages as lost. RabbitMQ's
//! `/exchange/X/K` source declares a private queue per receiver link, so
//! several consumers cannot share one fan-out subscription there: such a
//! point fails with that reason rather than quietly duplicating messages.
//!
//! The `address` and `receive_address` options replace the convention
//! (with `{topic}` and `{subscription}` substituted), e.g. for a peer with
//! its own naming or to address an existing queue.

use super::config::Options;

/// The broker families the adapter knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    RabbitMq,
    ActiveMq,
    Artemis,
}

impl Kind {
    pub fn from_name(kind: &str) -> Result<Kind, String> {
        match kind {
            "rabbitmq-amqp1" => Ok(Kind::RabbitMq),
            "activemq" => Ok(Kind::ActiveMq),
            "artemis" => Ok(Kind::Artemis),
            other => Err(format!("the AMQP 1.0 adapter does not drive `{other}`")),
        }
    }
}

/// One link's address and the capability to ask for (Artemis decides the
/// routing type of auto-created addresses from `queue` or `topic`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub address: String,
    pub capability: Option<&'static str>,
}

fn plain(address: String) -> Address {
    Address { address, capability: None }
}

fn fill(template: &str, topic: &str, subscription: &str) -> String {
    template.replace("{topic}", topic).replace("{subscription}", subscription)
}

/// What the senders of a point use.
pub fn sender(kind: Kind, options: &Options, topic: &str, fan_out: bool) -> Address {
    if let Some(t) = &options.address {
        return plain(fill(t, topic, ""));
    }
    match (kind, fan_out) {
        (Kind::RabbitMq, false) => plain(format!("/queue/{topic}")),
        (Kind::RabbitMq, true) => plain(format!("/exchange/amq.topic/{topic}")),
        (Kind::ActiveMq, false) => plain(format!("queue://{topic}")),
        (Kind::ActiveMq, true) => plain(format!("topic://VirtualTopic.{topic}")),
        (Kind::Artemis, false) => Address { address: topic.to_string(), capability: Some("queue") },
        (Kind::Artemis, true) => Address { address: topic.to_string(), capability: Some("topic") },
    }
}

/// What the receivers of subscription `subscription` use; `consumers` is
/// the number of receivers sharing it.
pub fn receiver(
    kind: Kind,
    options: &Options,
    topic: &str,
    subscription: &str,
    fan_out: bool,
    consumers: u32,
) -> Result<Address, String> {
    if let Some(t) = options.receive_address.as_ref().or(options.address.as_ref()) {
        return Ok(plain(fill(t, topic, subscription)));
    }
    Ok(match (kind, fan_out) {
        (Kind::RabbitMq, false) => plain(format!("/queue/{topic}")),
        (Kind::RabbitMq, true) if consumers > 1 => {
            return Err(format!(
                "RabbitMQ's AMQP 1.0 plugin gives each receiver of `/exchange/amq.topic/{topic}` its own queue, so \
                 {consumers} consumers cannot share one of several subscriptions: use 1 consumer per subscription, \
                 or declare and bind the subscription queues first and set `receive_address: /amq/queue/...`"
            ))
        }
        (Kind::RabbitMq, true) => plain(format!("/exchange/amq.topic/{topic}")),
        (Kind::ActiveMq, false) => plain(format!("queue://{topic}")),
        (Kind::ActiveMq, true) => plain(format!("queue://Consumer.{subscription}.VirtualTopic.{topic}")),
        (Kind::Artemis, false) => Address { address: topic.to_string(), capability: Some("queue") },
        (Kind::Artemis, true) => Address { address: format!("{topic}::{subscription}"), capability: Some("topic") },
    })
}

/// The convention as recorded in results (templates, not names).
pub fn describe(kind: Kind, options: &Options, fan_out: bool) -> String {
    let s = sender(kind, options, "{topic}", fan_out).address;
    match receiver(kind, options, "{topic}", "{subscription}", fan_out, 1) {
        Ok(r) if r.address != s => format!("{s} -> {}", r.address),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(address: Option<&str>, receive: Option<&str>) -> Options {
        let mut m = serde_json::Map::new();
        if let Some(a) = address {
            m.insert("address".into(), a.into());
        }
        if let Some(r) = receive {
            m.insert("receive_address".into(), r.into());
        }
        crate::adapter::parse_options(&m).unwrap()
    }

    #[test]
    fn conventions_per_kind() {
        let o = opts(None, None);
        assert_eq!(sender(Kind::RabbitMq, &o, "t", false).address, "/queue/t");
        assert_eq!(sender(Kind::ActiveMq, &o, "t", true).address, "topic://VirtualTopic.t");
        assert_eq!(
            receiver(Kind::ActiveMq, &o, "t", "s1", true, 3).unwrap().address,
            "queue://Consumer.s1.VirtualTopic.t"
        );
        assert_eq!(receiver(Kind::Artemis, &o, "t", "s1", true, 2).unwrap().address, "t::s1");
        assert!(receiver(Kind::RabbitMq, &o, "t", "s", true, 2).unwrap_err().contains("2 consumers"));
        assert_eq!(receiver(Kind::RabbitMq, &o, "t", "s", true, 1).unwrap().address, "/exchange/amq.topic/t");
    }

    #[test]
    fn templates_override_the_convention() {
        let o = opts(Some("/amq/queue/missing-{topic}"), Some("/queue/{topic}"));
        assert_eq!(sender(Kind::RabbitMq, &o, "t", false).address, "/amq/queue/missing-t");
        assert_eq!(receiver(Kind::RabbitMq, &o, "t", "s", false, 4).unwrap().address, "/queue/t");
        assert_eq!(describe(Kind::RabbitMq, &o, false), "/amq/queue/missing-{topic} -> /queue/{topic}");
    }
}
