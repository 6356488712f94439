//! The RabbitMQ adapter: AMQP 0.9.1 through lapin.
//!
//! Each point gets an exchange named after its topic, and each subscription
//! one queue bound to it; the consumers of a subscription share its queue.
//! Producers publish to the exchange with the topic as routing key.
//!
//! | option         | default             | meaning |
//! |----------------|---------------------|---------|
//! | `queue_type`   | `classic`           | `classic`, `quorum` or `stream` (`x-queue-type`; streams are consumed over 0.9.1 from offset `next`) |
//! | `durable`      | `true`              | durable exchange and queues (quorum and stream queues always are) |
//! | `confirms`     | `true`              | publisher confirms: publish latency runs to the broker's `basic.ack`; without, to the socket write |
//! | `persistent`   | `true`              | delivery mode 2 (persistent) or 1 (transient) |
//! | `prefetch`     | `1000`              | consumer QoS: unacknowledged deliveries per consumer (0 = unlimited) |
//! | `ack`          | `manual`            | `manual` (one `basic.ack multiple` per batch) or `auto` (`no_ack`) |
//! | `exchange`     | `direct`            | `direct` (bound by topic name) or `fanout` |
//! | `connections`  | `per_client`        | a connection per producer and consumer, or `shared`: channels on one |
//! | `password_env` | `RABBITMQ_PASSWORD` | environment variable with the password, when the endpoint has none |
//!
//! The endpoint is `amqp://user[:password]@host:port/vhost` (`%2f` is the
//! default vhost `/`), or `amqps://` for TLS; the broker's `security:`
//! block (TLS files, SASL PLAIN) is mapped in `security.rs`. The number of unconfirmed
//! publishes per producer is bounded by the runner's `in_flight` window.

mod connect;
mod consumer;
pub mod endpoint;
mod options;
mod producer;
pub mod security;
pub mod server_info;

use super::{ConnectContext, Consumer, Driver, Producer, Session, Topology};
use async_trait::async_trait;
use endpoint::Endpoint;
use lapin::options::{
    BasicConsumeOptions, BasicQosOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection};
use options::{AckMode, Connections, ExchangeKind, Options, QueueType};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The lapin version in Cargo.lock (checked by a test below, since Cargo
/// gives no version variable for dependencies).
const LAPIN_VERSION: &str = "3.7.2";
/// Longest wait for the Connection.Start probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct RabbitDriver;

#[async_trait]
impl Driver for RabbitDriver {
    fn check_options(&self, options: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        Options::parse(options).map(|_| ())
    }

    fn partitions(&self) -> super::PartitionLimit {
        super::PartitionLimit {
            max: 1,
            meaning: "RabbitMQ has no partitions (each subscription is one queue): set `partitions: 1` for this broker",
        }
    }

    /// TLS and SASL PLAIN (see `security.rs`).
    fn check_security(&self, s: &crate::scenario::security::Security) -> Result<(), String> {
        security::check(s)
    }

    /// Queues are declared and bound before publishing, so they hold the
    /// backlog; stream queues are consumed from `next`, which would skip it.
    fn check_backlog(&self, options: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        match Options::parse(options)?.queue_type {
            options::QueueType::Stream => {
                Err("`queue_type: stream` consumers start at offset `next` and would skip the backlog".into())
            }
            _ => Ok(()),
        }
    }

    async fn connect(&self, ctx: &ConnectContext<'_>) -> anyhow::Result<Box<dyn Session>> {
        let options = Options::parse(ctx.options).map_err(anyhow::Error::msg)?;
        let mut endpoint = Endpoint::parse(ctx.endpoint, &options.password_env)?;
        if let Some(s) = ctx.security {
            endpoint = security::apply(endpoint, s, ctx.password)?;
        }
        let info = server_info::probe(&endpoint, PROBE_TIMEOUT).await?;
        let connection = connect::open(&endpoint, "mqbench-session").await?;
        Ok(Box::new(RabbitSession {
            endpoint,
            options,
            software: info.software(),
            connection,
            stats: Arc::new(Stats::default()),
        }))
    }

    fn client(&self) -> String {
        format!("lapin {LAPIN_VERSION}")
    }
}

/// Adapter counters, reported as `adapter_stats`.
#[derive(Default)]
pub struct Stats {
    published: AtomicU64,
    nacked: AtomicU64,
    returned: AtomicU64,
    delivered: AtomicU64,
    redelivered: AtomicU64,
    ack_frames: AtomicU64,
    connections: AtomicU64,
}

struct RabbitSession {
    endpoint: Endpoint,
    options: Options,
    software: String,
    /// Declarations, cleanup, and every channel when `connections: shared`.
    connection: Connection,
    stats: Arc<Stats>,
}

impl RabbitSession {
    /// A fresh channel, on a new connection unless connections are shared.
    async fn channel(&self, name: &str) -> anyhow::Result<(Option<Connection>, Channel)> {
        match self.options.connections {
            Connections::Shared => Ok((None, self.connection.create_channel().await?)),
            Connections::PerClient => {
                let c = connect::open(&self.endpoint, name).await?;
                self.stats.connections.fetch_add(1, Ordering::Relaxed);
                let ch = c.create_channel().await?;
                Ok((Some(c), ch))
            }
        }
    }

    fn routing_key<'a>(&self, t: &'a Topology) -> &'a str {
        match self.options.exchange {
            ExchangeKind::Direct => &t.topic,
            ExchangeKind::Fanout => "",
        }
    }
}

#[async_trait]
impl Session for RabbitSession {
    fn broker_software(&self) -> String {
        self.software.clone()
    }

    async fn prepare(&self, t: &Topology) -> anyhow::Result<()> {
        if t.partitions > 1 {
            anyhow::bail!("rabbitmq has no partitions: set `partitions: 1` for this broker (got {})", t.partitions);
        }
        if t.subscriptions.is_empty() && self.options.confirms {
            // With no queue bound, every mandatory publish comes back.
            anyhow::bail!("rabbitmq with `subscriptions: 0` has no queue to route to: use `confirms: false` for a produce-only point");
        }
        let o = &self.options;
        let ch = self.connection.create_channel().await?;
        let kind = match o.exchange {
            ExchangeKind::Direct => lapin::ExchangeKind::Direct,
            ExchangeKind::Fanout => lapin::ExchangeKind::Fanout,
        };
        let durable = ExchangeDeclareOptions { durable: o.durable, ..Default::default() };
        ch.exchange_declare(&t.topic, kind, durable, FieldTable::default())
            .await
            .map_err(|e| anyhow::anyhow!("declaring exchange `{}`: {e}", t.topic))?;
        let mut args = FieldTable::default();
        args.insert("x-queue-type".into(), AMQPValue::LongString(o.queue_type.as_str().into()));
        for q in &t.subscriptions {
            let qo = QueueDeclareOptions { durable: o.durable, ..Default::default() };
            ch.queue_declare(q, qo, args.clone())
                .await
                .map_err(|e| anyhow::anyhow!("declaring {} queue `{q}`: {e}", o.queue_type.as_str()))?;
            ch.queue_bind(q, &t.topic, self.routing_key(t), QueueBindOptions::default(), FieldTable::default())
                .await
                .map_err(|e| anyhow::anyhow!("binding queue `{q}` to exchange `{}`: {e}", t.topic))?;
        }
        let _ = ch.close(200, "prepared").await;
        Ok(())
    }

    async fn producer(&self, t: &Topology, index: u32) -> anyhow::Result<Box<dyn Producer>> {
        let (conn, ch) = self.channel(&format!("mqbench-producer-{index}")).await?;
        let p = producer::RabbitProducer::new(
            conn,
            ch,
            t.topic.clone(),
            self.routing_key(t).to_string(),
            self.options.confirms,
            self.options.persistent,
            self.stats.clone(),
        )
        .await?;
        Ok(Box::new(p))
    }

    async fn consumer(&self, t: &Topology, subscription: u32, index: u32) -> anyhow::Result<Box<dyn Consumer>> {
        let o = &self.options;
        let queue = t
            .subscriptions
            .get(subscription as usize)
            .ok_or_else(|| anyhow::anyhow!("no subscription {subscription}"))?;
        let (conn, ch) = self.channel(&format!("mqbench-consumer-{subscription}-{index}")).await?;
        let manual = o.ack == AckMode::Manual;
        if manual && o.prefetch > 0 {
            ch.basic_qos(o.prefetch, BasicQosOptions::default()).await?;
        }
        let mut args = FieldTable::default();
        if o.queue_type == QueueType::Stream {
            args.insert("x-stream-offset".into(), AMQPValue::LongString("next".into()));
        }
        let tag = format!("mqbench-{subscription}-{index}");
        let opts = BasicConsumeOptions { no_ack: !manual, ..Default::default() };
        let consumer = ch
            .basic_consume(queue, &tag, opts, args)
            .await
            .map_err(|e| anyhow::anyhow!("consuming from queue `{queue}`: {e}"))?;
        Ok(Box::new(consumer::RabbitConsumer::new(conn, ch, consumer, manual, self.stats.clone())))
    }

    async fn cleanup(&self, t: &Topology) -> anyhow::Result<()> {
        let ch = self.connection.create_channel().await?;
        for q in &t.subscriptions {
            ch.queue_delete(q, QueueDeleteOptions::default())
                .await
                .map_err(|e| anyhow::anyhow!("deleting queue `{q}`: {e}"))?;
        }
        ch.exchange_delete(&t.topic, ExchangeDeleteOptions::default())
            .await
            .map_err(|e| anyhow::anyhow!("deleting exchange `{}`: {e}", t.topic))?;
        let _ = ch.close(200, "cleaned up").await;
        Ok(())
    }

    fn effective_options(&self) -> serde_json::Map<String, serde_json::Value> {
        self.options.effective()
    }

    fn stats(&self) -> serde_json::Value {
        let s = &self.stats;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        serde_json::json!({
            "published": n(&s.published),
            "nacked": n(&s.nacked),
            "returned": n(&s.returned),
            "delivered": n(&s.delivered),
            "redelivered": n(&s.redelivered),
            "ack_frames": n(&s.ack_frames),
            "client_connections": n(&s.connections),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_version_matches_the_lock_file() {
        let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
        let needle = "name = \"lapin\"\nversion = \"";
        let at = lock.find(needle).expect("lapin in Cargo.lock") + needle.len();
        let locked = &lock[at..at + lock[at..].find('"').unwrap()];
        assert_eq!(locked, LAPIN_VERSION, "update LAPIN_VERSION in adapter/rabbitmq/mod.rs");
    }
}
