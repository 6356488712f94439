//! The AMQP 1.0 adapter (fe2o3-amqp): one driver for Apache ActiveMQ
//! Artemis (`artemis`), ActiveMQ Classic (`activemq`) and RabbitMQ's AMQP 1.0
//! plugin (`rabbitmq-amqp1`). The kinds differ only in provisioning and in
//! address conventions (`address.rs`).
//!
//! Every producer and every consumer has its own connection and session
//! with one link, so they run in parallel as separate clients would. The
//! session's first short connection reads the broker's product and version
//! from its Open frame (`sniff.rs`) and checks the credentials before any
//! point starts.
//!
//! TLS and SASL from the broker's `security:` block: `tls.rs`.
//!
//! Options (scenario `options:`; see `config.rs`): `settle` (`unsettled` |
//! `settled`), `credit`, `durable`, `address`, `receive_address`.

pub mod address;
pub mod config;
pub mod link;
pub mod receiver;
pub mod sender;
pub mod sniff;
pub mod tls;

use super::{ConnectContext, Consumer, Driver, Producer, Session, Topology};
use address::{Address, Kind};
use anyhow::anyhow;
use async_trait::async_trait;
use config::{Endpoint, Options, Settle};
use fe2o3_amqp::link::CreditMode;
use fe2o3_amqp::types::definitions::SenderSettleMode;
use fe2o3_amqp::types::messaging::{Source, Target};
use fe2o3_amqp::types::primitives::{Array, Symbol};
use fe2o3_amqp::{Receiver, Sender};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

pub struct Amqp1Driver;

/// Outcomes other than `accepted`, counted for `adapter_stats`.
#[derive(Default)]
pub struct Stats {
    pub rejected: AtomicU64,
    pub released: AtomicU64,
    pub modified: AtomicU64,
}

#[async_trait]
impl Driver for Amqp1Driver {
    fn check_options(&self, options: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        super::parse_options::<Options>(options)?.check()
    }

    /// TLS and SASL PLAIN or ANONYMOUS (see `tls.rs`).
    fn check_security(&self, s: &crate::scenario::security::Security) -> Result<(), String> {
        tls::check(s)
    }

    fn partitions(&self) -> super::PartitionLimit {
        super::PartitionLimit {
            max: 1,
            meaning: "AMQP 1.0 addresses have no partitions (each point sends to one address): set `partitions: 1` for this broker",
        }
    }

    async fn connect(&self, ctx: &ConnectContext<'_>) -> anyhow::Result<Box<dyn Session>> {
        let options: Options = super::parse_options(ctx.options).map_err(anyhow::Error::msg)?;
        options.check().map_err(anyhow::Error::msg)?;
        let kind = Kind::from_name(ctx.kind).map_err(anyhow::Error::msg)?;
        let mut endpoint = Endpoint::parse(ctx.endpoint, |k| std::env::var(k).ok()).map_err(anyhow::Error::msg)?;
        if let Some(s) = ctx.security {
            if s.tls.enabled() && endpoint.tls.is_none() {
                endpoint.tls = Some(tls::TlsSettings::default());
            }
            endpoint = tls::apply(endpoint, s, ctx.password)?;
        }
        // A first short connection: credentials are checked before any
        // point starts, and the broker's Open names its software (read
        // after TLS, from the AMQP bytes).
        let socket = link::socket(&endpoint).await?;
        let (probe, seen) = match &endpoint.tls {
            Some(t) => {
                let (recording, seen) = sniff::Recording::new(tls::wrap(socket, &endpoint, t).await?);
                (link::open(&endpoint, kind, &container_id("probe"), recording).await?, seen)
            }
            None => {
                let (recording, seen) = sniff::Recording::new(socket);
                (link::open(&endpoint, kind, &container_id("probe"), recording).await?, seen)
            }
        };
        let open = sniff::find_open(&seen.lock().unwrap());
        probe.close().await;
        let software = match (open.as_ref(), ctx.software_hint) {
            (None, Some(hint)) => hint.to_string(),
            _ => sniff::software(open.as_ref()),
        };
        Ok(Box::new(Amqp1Session {
            endpoint,
            kind,
            options,
            software,
            stats: Arc::new(Stats::default()),
            fan_out: AtomicBool::new(false),
        }))
    }

    fn client(&self) -> String {
        // Cargo sets no version variable for dependencies; keep in step with
        // Cargo.toml.
        "fe2o3-amqp 0.18".to_string()
    }
}

/// A container id unique to this process and link.
fn container_id(role: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("mqbench-{}-{role}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

fn capabilities(a: &Address) -> Option<Array<Symbol>> {
    a.capability.map(|c| Array::from(vec![Symbol::from(c)]))
}

struct Amqp1Session {
    endpoint: Endpoint,
    kind: Kind,
    options: Options,
    software: String,
    stats: Arc<Stats>,
    /// Whether the last prepared point had several subscriptions (for the
    /// address recorded in results).
    fan_out: AtomicBool,
}

impl Amqp1Session {
    /// RabbitMQ answers a closing detach with a non-closing one, so links
    /// there end with a plain detach.
    fn detach_only(&self) -> bool {
        self.kind == Kind::RabbitMq
    }
}

#[async_trait]
impl Session for Amqp1Session {
    fn broker_software(&self) -> String {
        self.software.clone()
    }

    /// Nothing to create: every convention's address is created on attach
    /// (RabbitMQ `/queue/`, ActiveMQ and Artemis auto-creation). A receiver
    /// of a fan-out that RabbitMQ cannot share fails here, before any link.
    async fn prepare(&self, t: &Topology) -> anyhow::Result<()> {
        let fan_out = t.subscriptions.len() > 1;
        self.fan_out.store(fan_out, Ordering::Relaxed);
        for s in &t.subscriptions {
            address::receiver(self.kind, &self.options, &t.topic, s, fan_out, t.consumers)
                .map_err(anyhow::Error::msg)?;
        }
        Ok(())
    }

    async fn producer(&self, t: &Topology, index: u32) -> anyhow::Result<Box<dyn Producer>> {
        let fan_out = t.subscriptions.len() > 1;
        let a = address::sender(self.kind, &self.options, &t.topic, fan_out);
        let mut conn = link::connect(&self.endpoint, self.kind, &container_id(&format!("p{index}"))).await?;
        let mut target = Target::builder().address(a.address.clone());
        if let Some(c) = capabilities(&a) {
            target = target.capabilities(c);
        }
        let mode = match self.options.settle {
            Settle::Settled => SenderSettleMode::Settled,
            Settle::Unsettled => SenderSettleMode::Unsettled,
        };
        let attach = Sender::builder()
            .name(format!("{}-p{index}", t.topic))
            .target(target.build())
            .sender_settle_mode(mode)
            .attach(&mut conn.session);
        let sender = match tokio::time::timeout(link::OPEN_TIMEOUT, attach).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                conn.close().await;
                return Err(anyhow!("attaching a sender to `{}`: {e}", a.address));
            }
            Err(_) => {
                conn.close().await;
                return Err(anyhow!("attaching a sender to `{}`: no answer", a.address));
            }
        };
        Ok(Box::new(sender::AmqpProducer {
            conn: Some(conn),
            sender: Some(sender),
            settle: self.options.settle,
            durable: self.options.durable,
            detach: self.detach_only(),
            stats: self.stats.clone(),
        }))
    }

    async fn consumer(&self, t: &Topology, subscription: u32, index: u32) -> anyhow::Result<Box<dyn Consumer>> {
        let fan_out = t.subscriptions.len() > 1;
        let sub =
            t.subscriptions.get(subscription as usize).ok_or_else(|| anyhow!("no subscription {subscription}"))?;
        let a = address::receiver(self.kind, &self.options, &t.topic, sub, fan_out, t.consumers)
            .map_err(anyhow::Error::msg)?;
        let mut conn =
            link::connect(&self.endpoint, self.kind, &container_id(&format!("c{subscription}-{index}"))).await?;
        let mut source = Source::builder().address(a.address.clone());
        if let Some(c) = capabilities(&a) {
            source = source.capabilities(c);
        }
        let attach = Receiver::builder()
            .name(format!("{sub}-c{index}"))
            .source(source.build())
            .credit_mode(CreditMode::Auto(self.options.credit))
            .auto_accept(false)
            .attach(&mut conn.session);
        let receiver = match tokio::time::timeout(link::OPEN_TIMEOUT, attach).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                conn.close().await;
                return Err(anyhow!("attaching a receiver to `{}`: {e}", a.address));
            }
            Err(_) => {
                conn.close().await;
                return Err(anyhow!("attaching a receiver to `{}`: no answer", a.address));
            }
        };
        Ok(Box::new(receiver::AmqpConsumer { conn: Some(conn), receiver: Some(receiver), detach: self.detach_only() }))
    }

    /// AMQP 1.0 has no portable way to delete a queue: RabbitMQ's `/queue/`
    /// queues (empty once drained) stay until the broker stops, which for
    /// local brokers is the end of the run.
    async fn cleanup(&self, _t: &Topology) -> anyhow::Result<()> {
        Ok(())
    }

    fn effective_options(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("settle".into(), self.options.settle.as_str().into());
        m.insert("credit".into(), self.options.credit.into());
        m.insert("durable".into(), self.options.durable.into());
        m.insert(
            "address".into(),
            address::describe(self.kind, &self.options, self.fan_out.load(Ordering::Relaxed)).into(),
        );
        m
    }

    fn stats(&self) -> serde_json::Value {
        serde_json::json!({
            "rejected": self.stats.rejected.load(Ordering::Relaxed),
            "released": self.stats.released.load(Ordering::Relaxed),
            "modified": self.stats.modified.load(Ordering::Relaxed),
        })
    }
}
