//! The Kafka adapter, on librdkafka (the `rdkafka` crate, which vendors and
//! builds librdkafka 2.12.1; never the system's older librdkafka).
//!
//! - `prepare` creates the point's topic through the admin API (partitions
//!   and `replication_factor`) and waits until every partition has a
//!   leader; `cleanup` deletes it and the point's consumer groups (tansu
//!   keeps deleted-topic-free memory only if topics are deleted).
//! - Producers: [`producer`]; publish latency ends at the delivery report.
//! - Consumers: one consumer group per subscription, named after it;
//!   members share the partitions ([`consumer`]).
//! - Options: [`config`].
//! - `broker_software`: provisioning's hint for local brokers (tansu,
//!   Apache Kafka); for a live cluster, the `inter.broker.protocol.version`
//!   its first broker describes, when it does.

pub mod admin;
pub mod config;
pub mod consumer;
pub mod error;
mod fetch;
pub mod producer;
pub mod security;

use crate::adapter::{ConnectContext, Consumer, Driver, Producer, Session, Topology};
use admin::Admin;
use async_trait::async_trait;
use config::Options;
use consumer::{GroupState, KafkaConsumer};
use producer::KafkaProducer;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub struct KafkaDriver;

/// Adapter counters, reported in `adapter_stats`.
#[derive(Default)]
pub struct Stats {
    /// Times librdkafka's local queue was full when a message was handed to
    /// it (each retried after 1 ms).
    pub queue_full: AtomicU64,
    /// Messages librdkafka refused outright.
    pub send_errors: AtomicU64,
    /// Delivery reports with an error.
    pub delivery_errors: AtomicU64,
    /// Messages consumers read from the consumer queue rather than their
    /// own (a partition not forwarded; see `fetch`): 0 when every
    /// assignment was forwarded before its fetching started.
    pub unforwarded: AtomicU64,
    /// From librdkafka's consumer statistics, when the scenario turns them
    /// on (`statistics.interval.ms` in `consumer_properties`): see
    /// [`consumer::FetchStats`].
    pub fetch: Mutex<Option<consumer::FetchStats>>,
    /// Per consumer group, each member's partitions once the group settled.
    pub assignments: Mutex<BTreeMap<String, Vec<Vec<i32>>>>,
}

/// librdkafka's version string (`2.12.1`).
pub fn librdkafka_version() -> String {
    rdkafka::util::get_rdkafka_version().1
}

#[async_trait]
impl Driver for KafkaDriver {
    fn check_options(&self, options: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        Options::parse(options).map(|_| ())
    }

    /// Each point creates its topic with this many partitions; every one
    /// needs a leader before the point starts, and every consumer keeps an
    /// order counter per producer and partition.
    fn partitions(&self) -> super::PartitionLimit {
        super::PartitionLimit {
            max: 10_000,
            meaning:
                "each point creates a topic with that many partitions, and waits for a leader of each, before it starts",
        }
    }

    /// A topic keeps what was produced, and each subscription's group
    /// starts from the earliest offset.
    fn check_backlog(&self, _options: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        Ok(())
    }

    fn check_security(&self, s: &crate::scenario::security::Security) -> Result<(), String> {
        security::check(s)
    }

    async fn connect(&self, ctx: &ConnectContext<'_>) -> anyhow::Result<Box<dyn Session>> {
        let mut options = Options::parse(ctx.options).map_err(anyhow::Error::msg)?;
        if let Some(s) = ctx.security {
            options.security = security::props(s, ctx.password);
        }
        let bootstrap = ctx.endpoint.trim().to_string();
        if bootstrap.is_empty() {
            anyhow::bail!("the Kafka endpoint is empty: give bootstrap servers such as `host1:9092,host2:9092`");
        }
        let tansu = ctx.software_hint.is_some_and(|h| h.starts_with("tansu"));
        let (admin, info) = Admin::connect(&options.common_config(&bootstrap), &bootstrap).await?;
        let software = match ctx.software_hint {
            Some(h) => h.to_string(),
            None => {
                let version = match info.brokers.first() {
                    Some(id) => admin.protocol_version(*id).await,
                    None => None,
                };
                match version {
                    Some(v) => format!(
                        "kafka (inter.broker.protocol.version {v}; live cluster of {} brokers)",
                        info.brokers.len()
                    ),
                    None => format!("kafka (version unknown: live cluster of {} brokers)", info.brokers.len()),
                }
            }
        };
        Ok(Box::new(KafkaSession {
            options,
            bootstrap,
            tansu,
            software,
            admin,
            stats: Arc::new(Stats::default()),
            groups: Mutex::new(HashMap::new()),
        }))
    }

    fn client(&self) -> String {
        format!("librdkafka {} (rdkafka crate 0.39)", librdkafka_version())
    }
}

struct KafkaSession {
    options: Options,
    bootstrap: String,
    /// The broker is tansu: consumers get a short `fetch.wait.max.ms`.
    tansu: bool,
    software: String,
    admin: Admin,
    stats: Arc<Stats>,
    /// Per subscription (group name, unique over the topics of a point),
    /// the state of its consumer group.
    groups: Mutex<HashMap<String, Arc<GroupState>>>,
}

#[async_trait]
impl Session for KafkaSession {
    fn broker_software(&self) -> String {
        self.software.clone()
    }

    async fn prepare(&self, t: &Topology) -> anyhow::Result<()> {
        let config: Vec<(&str, &str)> =
            self.options.topic_config.iter().map(|(k, v)| (k.as_str(), v.0.as_str())).collect();
        self.admin.create_topic(&t.topic, t.partitions.max(1), self.options.replication_factor, &config).await
    }

    async fn producer(&self, t: &Topology, _index: u32) -> anyhow::Result<Box<dyn Producer>> {
        let config = self.options.producer_config(&self.bootstrap, self.tansu);
        let p = KafkaProducer::new(&config, &t.topic, t.partitions.max(1), self.options.keys, self.stats.clone())?;
        Ok(Box::new(p))
    }

    async fn consumer(&self, t: &Topology, subscription: u32, index: u32) -> anyhow::Result<Box<dyn Consumer>> {
        let name = t
            .subscriptions
            .get(subscription as usize)
            .ok_or_else(|| anyhow::anyhow!("no subscription {subscription}"))?;
        let group = self
            .groups
            .lock()
            .unwrap()
            .entry(name.clone())
            .or_insert_with(|| GroupState::new(&t.topic, t.partitions.max(1), t.consumers.max(1)))
            .clone();
        let config = self.options.consumer_config(&self.bootstrap, name, self.tansu);
        Ok(Box::new(KafkaConsumer::new(&config, &t.topic, name, group, index, self.stats.clone())?))
    }

    async fn cleanup(&self, t: &Topology) -> anyhow::Result<()> {
        let deleted = self.admin.delete_topic(&t.topic).await;
        // Groups are small; brokers that cannot delete them lose nothing.
        let names: Vec<&str> = t.subscriptions.iter().map(String::as_str).collect();
        if let Err(e) = self.admin.delete_groups(&names).await {
            tracing::debug!("{e:#}");
        }
        self.groups.lock().unwrap().retain(|name, _| !t.subscriptions.contains(name));
        deleted
    }

    fn effective_options(&self) -> serde_json::Map<String, serde_json::Value> {
        self.options.effective(self.tansu)
    }

    fn stats(&self) -> serde_json::Value {
        serde_json::json!({
            "queue_full": self.stats.queue_full.load(Ordering::Relaxed),
            "send_errors": self.stats.send_errors.load(Ordering::Relaxed),
            "delivery_errors": self.stats.delivery_errors.load(Ordering::Relaxed),
            "unforwarded": self.stats.unforwarded.load(Ordering::Relaxed),
            "consumer_fetch": *self.stats.fetch.lock().unwrap(),
            "group_assignments": self.stats.assignments.lock().unwrap().clone(),
        })
    }
}
