//! Consumers: one consumer group per subscription, each member polled on
//! its own thread (librdkafka's calls block), deliveries handed to the
//! runner in batches over a bounded channel (backpressure, bounded memory).
//! Messages are taken in batches from a queue of the member's own, and
//! their bodies are handed on without a copy ([`super::fetch`]).
//!
//! Readiness: a group takes seconds to settle, and the first member to
//! join takes every partition until the others arrive. [`GroupState`]
//! follows each member's assignment through the rebalance callbacks, and
//! `ready()` returns once every member has been through a rebalance, the
//! members' assignments are disjoint and cover every partition, and as
//! many members hold partitions as can (all of them when there are enough
//! partitions). Under the eager protocol a member gives up its partitions
//! before the group's next generation forms, so this state is only reached
//! in a generation that includes every member.

use super::error::{describe, LastError};
use super::fetch::{self, ForwardSlot, Member, MemberQueue};
use super::Stats;
use crate::adapter::{Consumer, Delivery};
use async_trait::async_trait;
use bytes::Bytes;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{ClientConfig, TopicPartitionList};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Most deliveries handed over at once.
const MAX_BATCH: usize = 2048;
/// Batches buffered per consumer before its thread waits.
const CHANNEL_BATCHES: usize = 8;
/// How long the member's queue is waited on when empty: bounds how fast a
/// stop, a rebalance or an error on the consumer queue is served.
const WAIT: Duration = Duration::from_millis(20);
/// How often every assigned partition is forwarded again (see
/// [`super::fetch`]).
const REFORWARD: Duration = Duration::from_secs(1);
/// Longest wait for a group to settle; under the runner's own setup
/// timeout so that the error can say who held which partitions.
const READY_TIMEOUT: Duration = Duration::from_secs(45);

/// The assignments of one consumer group's members, as they report them.
pub struct GroupState {
    topic: String,
    partitions: u32,
    /// Per member: `None` until its first rebalance, then its partitions.
    members: Mutex<Vec<Option<BTreeSet<i32>>>>,
}

impl GroupState {
    pub fn new(topic: &str, partitions: u32, members: u32) -> Arc<GroupState> {
        Arc::new(GroupState { topic: topic.to_string(), partitions, members: Mutex::new(vec![None; members as usize]) })
    }

    fn set(&self, member: u32, partitions: BTreeSet<i32>) {
        self.members.lock().unwrap()[member as usize] = Some(partitions);
    }

    /// Whether the group has settled (see the module comment).
    pub fn settled(&self) -> bool {
        let members = self.members.lock().unwrap();
        Self::settled_with(&members, self.partitions)
    }

    fn settled_with(members: &[Option<BTreeSet<i32>>], partitions: u32) -> bool {
        if members.iter().any(|m| m.is_none()) {
            return false;
        }
        let sets: Vec<&BTreeSet<i32>> = members.iter().flatten().collect();
        let total: usize = sets.iter().map(|s| s.len()).sum();
        let union: BTreeSet<i32> = sets.iter().flat_map(|s| s.iter().copied()).collect();
        let holding = sets.iter().filter(|s| !s.is_empty()).count();
        total == partitions as usize
            && union == (0..partitions as i32).collect()
            && holding == members.len().min(partitions as usize)
    }

    /// Each member's partitions (empty before its first rebalance).
    pub fn snapshot(&self) -> Vec<Vec<i32>> {
        let members = self.members.lock().unwrap();
        members.iter().map(|m| m.iter().flatten().copied().collect()).collect()
    }

    /// Who holds what, for the error when a group never settles.
    pub fn describe(&self) -> String {
        let members = self.members.lock().unwrap();
        members
            .iter()
            .enumerate()
            .map(|(i, m)| match m {
                None => format!("member {i}: not joined"),
                Some(s) => format!("member {i}: partitions {s:?}"),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Who limits a consumer, from librdkafka's statistics (all members of the
/// point together): messages waiting in librdkafka for the application
/// (the most seen: near 0 means the consumer kept up and the broker's
/// fetch answers set the pace) and the brokers' mean request round trip
/// (the Fetch requests' time at the broker and on the wire, mostly).
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct FetchStats {
    pub reports: u64,
    pub max_queued_msgs: i64,
    pub max_queued_bytes: i64,
    /// The last report's mean, over the brokers that answered fetches.
    pub broker_rtt_avg_us: i64,
}

impl FetchStats {
    /// Folds one statistics report (librdkafka's JSON) in.
    fn add(&mut self, report: &serde_json::Value) {
        self.reports += 1;
        let partitions = report["topics"].as_object().into_iter().flat_map(|t| t.values());
        let partitions = partitions.flat_map(|t| t["partitions"].as_object().into_iter().flat_map(|p| p.values()));
        for p in partitions {
            self.max_queued_msgs = self.max_queued_msgs.max(p["fetchq_cnt"].as_i64().unwrap_or(0));
            self.max_queued_bytes = self.max_queued_bytes.max(p["fetchq_size"].as_i64().unwrap_or(0));
        }
        let rtts: Vec<i64> = report["brokers"]
            .as_object()
            .into_iter()
            .flat_map(|b| b.values())
            .filter(|b| b["nodeid"].as_i64().unwrap_or(-1) >= 0)
            .filter_map(|b| b["rtt"]["avg"].as_i64())
            .filter(|&avg| avg > 0)
            .collect();
        if !rtts.is_empty() {
            self.broker_rtt_avg_us = rtts.iter().sum::<i64>() / rtts.len() as i64;
        }
    }
}

/// Forwards each assignment to the member's queue, reports the member's
/// assignment after every rebalance, and folds librdkafka's statistics into
/// the point's (when the scenario turns them on).
pub struct GroupContext {
    group: Arc<GroupState>,
    member: u32,
    last_error: LastError,
    forward: Arc<ForwardSlot>,
    stats: Arc<Stats>,
}

impl ClientContext for GroupContext {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!("librdkafka consumer: {error}: {reason}");
        self.last_error.set(reason.to_string());
    }

    fn stats_raw(&self, report: &[u8]) {
        match serde_json::from_slice::<serde_json::Value>(report) {
            Ok(v) => self.stats.fetch.lock().unwrap().get_or_insert_with(FetchStats::default).add(&v),
            Err(e) => tracing::debug!("unreadable librdkafka statistics: {e}"),
        }
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        // Before `rd_kafka_assign` starts fetching (see `super::fetch`).
        if let Rebalance::Assign(tpl) = rebalance {
            self.forward.forward(consumer, partitions_of(tpl, &self.group.topic));
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Error(e) = rebalance {
            self.last_error.set(format!("rebalance: {}", describe(e)));
            return;
        }
        // The whole current assignment, whichever protocol (eager lists it
        // all, cooperative only the change).
        let assigned = consumer
            .assignment()
            .map(|tpl| partitions_of(&tpl, &self.group.topic).into_iter().collect())
            .unwrap_or_default();
        self.group.set(self.member, assigned);
    }
}

pub struct KafkaConsumer {
    /// The consumer group (the subscription's name).
    name: String,
    stats: Arc<Stats>,
    rx: mpsc::Receiver<Result<Vec<Delivery>, String>>,
    group: Arc<GroupState>,
    last_error: LastError,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl KafkaConsumer {
    pub fn new(
        config: &ClientConfig,
        topic: &str,
        name: &str,
        group: Arc<GroupState>,
        member: u32,
        stats: Arc<Stats>,
    ) -> anyhow::Result<Self> {
        let last_error = LastError::default();
        let forward = Arc::new(ForwardSlot::default());
        let context = GroupContext {
            group: group.clone(),
            member,
            last_error: last_error.clone(),
            forward: forward.clone(),
            stats: stats.clone(),
        };
        let consumer: BaseConsumer<GroupContext> = config
            .create_with_context(context)
            .map_err(|e| anyhow::anyhow!("creating the Kafka consumer: {}", describe(&e)))?;
        let queue = MemberQueue::new(&consumer, topic, forward)?;
        consumer.subscribe(&[topic]).map_err(|e| anyhow::anyhow!("subscribing to `{topic}`: {}", describe(&e)))?;
        let client = Arc::new(Member { queue, consumer });
        let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (stop.clone(), stats.clone());
        let thread = std::thread::Builder::new()
            .name(format!("kafka-consumer-{member}"))
            .spawn(move || poll_loop(client, tx, s, st))?;
        Ok(KafkaConsumer { name: name.to_string(), stats, rx, group, last_error, stop, thread: Some(thread) })
    }
}

/// The partitions of `topic` in `tpl`.
fn partitions_of(tpl: &TopicPartitionList, topic: &str) -> Vec<i32> {
    tpl.elements_for_topic(topic).iter().map(|e| e.partition()).collect()
}

/// The consumer thread: takes batches from the member's queue and serves
/// the consumer queue (rebalances, errors) between them, until stopped or
/// the receiver is gone. Errors librdkafka reports per poll or per
/// partition (a broker connection dropping and coming back) are transient
/// and only noted; a fatal client error ends the consumer.
fn poll_loop(
    member: Arc<Member<GroupContext>>,
    tx: mpsc::Sender<Result<Vec<Delivery>, String>>,
    stop: Arc<AtomicBool>,
    stats: Arc<Stats>,
) {
    let consumer = &member.consumer;
    let context = consumer.context();
    let mut raw = Vec::with_capacity(MAX_BATCH);
    let mut last_forward = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        fetch::take(&member, WAIT, MAX_BATCH, &mut raw, &mut batch, |e| context.last_error.set(e));
        // The consumer queue: events, and the messages of any partition
        // not forwarded (yet).
        loop {
            match consumer.poll(Duration::ZERO) {
                None => break,
                Some(Ok(m)) => {
                    stats.unforwarded.fetch_add(1, Ordering::Relaxed);
                    batch.push(Delivery {
                        payload: Bytes::copy_from_slice(m.payload().unwrap_or(&[])),
                        partition: m.partition() as u32,
                    })
                }
                Some(Err(e)) => {
                    if let Some(fatal) = consumer.client().fatal_error() {
                        let _ =
                            tx.blocking_send(Err(format!("fatal Kafka consumer error: {} ({:?})", fatal.1, fatal.0)));
                        return;
                    }
                    context.last_error.set(describe(&e));
                }
            }
        }
        if last_forward.elapsed() >= REFORWARD {
            if let Ok(tpl) = consumer.assignment() {
                context.forward.forward(consumer, partitions_of(&tpl, &context.group.topic));
            }
            last_forward = Instant::now();
        }
        if !batch.is_empty() && tx.blocking_send(Ok(batch)).is_err() {
            return;
        }
    }
}

#[async_trait]
impl Consumer for KafkaConsumer {
    async fn ready(&mut self) -> anyhow::Result<()> {
        let start = std::time::Instant::now();
        while !self.group.settled() {
            if start.elapsed() > READY_TIMEOUT {
                anyhow::bail!(
                    "the consumer group did not settle within {}s: {} (last librdkafka error: {})",
                    READY_TIMEOUT.as_secs(),
                    self.group.describe(),
                    self.last_error.get().unwrap_or_else(|| "none".into())
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.stats.assignments.lock().unwrap().insert(self.name.clone(), self.group.snapshot());
        Ok(())
    }

    async fn recv(&mut self, out: &mut Vec<Delivery>) -> anyhow::Result<()> {
        match self.rx.recv().await {
            Some(Ok(batch)) => {
                out.extend(batch);
                Ok(())
            }
            Some(Err(e)) => Err(anyhow::anyhow!(e)),
            None => Err(anyhow::anyhow!(
                "the Kafka consumer thread stopped (last librdkafka error: {})",
                self.last_error.get().unwrap_or_else(|| "none".into())
            )),
        }
    }

    async fn close(mut self: Box<Self>) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        self.rx.close();
        // Batches not taken hold the client (their messages must go before
        // it); drop them now, so that the client is closed on its own
        // thread below rather than on whichever drops the last of them.
        while self.rx.try_recv().is_ok() {}
        if let Some(t) = self.thread.take() {
            // Leaving the group can take a moment; do not block the runtime.
            tokio::task::spawn_blocking(move || t.join()).await?.ok();
        }
        Ok(())
    }
}

impl Drop for KafkaConsumer {
    fn drop(&mut self) {
        // The thread notices within one poll and drops the consumer itself.
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(p: &[i32]) -> Option<BTreeSet<i32>> {
        Some(p.iter().copied().collect())
    }

    #[test]
    fn fetch_statistics_keep_the_fullest_queue_and_the_last_round_trip() {
        let report = |q: i64, rtt: i64| {
            serde_json::json!({
                "brokers": {
                    "bootstrap": {"nodeid": -1, "rtt": {"avg": 99_999}},
                    "b1": {"nodeid": 1, "rtt": {"avg": rtt}}
                },
                "topics": {"t": {"partitions": {
                    "0": {"fetchq_cnt": q, "fetchq_size": q * 1000},
                    "-1": {"fetchq_cnt": 0, "fetchq_size": 0}
                }}}
            })
        };
        let mut s = FetchStats::default();
        s.add(&report(5, 12_000));
        s.add(&report(2, 11_000));
        assert_eq!((s.reports, s.max_queued_msgs, s.max_queued_bytes), (2, 5, 5000));
        // The bootstrap connection (no node id) is not a fetching broker.
        assert_eq!(s.broker_rtt_avg_us, 11_000);
    }

    #[test]
    fn a_group_settles_only_when_every_member_holds_its_share() {
        // The first member alone holds everything: not settled.
        assert!(!GroupState::settled_with(&[set(&[0, 1, 2]), None], 3));
        // Mid-rebalance: one revoked, the other not yet assigned.
        assert!(!GroupState::settled_with(&[set(&[]), None], 3));
        // A stale assignment overlapping the new one.
        assert!(!GroupState::settled_with(&[set(&[0, 1, 2]), set(&[2])], 3));
        assert!(GroupState::settled_with(&[set(&[0, 1]), set(&[2])], 3));
        // More members than partitions: the extra one holds nothing.
        assert!(GroupState::settled_with(&[set(&[0]), set(&[])], 1));
        assert!(!GroupState::settled_with(&[set(&[]), set(&[])], 1));
        assert!(!GroupState::settled_with(&[set(&[0]), set(&[]), set(&[])], 2));
    }
}
