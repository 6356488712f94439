//! Consumers: one consumer group per subscription, each member polled on
//! its own thread (librdkafka's calls block), deliveries handed to the
//! runner in batches over a bounded channel (backpressure, bounded memory).
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
use super::Stats;
use crate::adapter::{Consumer, Delivery};
use async_trait::async_trait;
use bytes::BytesMut;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::ClientConfig;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Most deliveries handed over at once.
const MAX_BATCH: usize = 2048;
/// Batches buffered per consumer before its thread waits.
const CHANNEL_BATCHES: usize = 8;
/// How long a blocking poll waits (bounds how fast a stop is noticed).
const POLL: Duration = Duration::from_millis(100);
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

/// Reports this member's assignment after every rebalance.
pub struct GroupContext {
    group: Arc<GroupState>,
    member: u32,
    last_error: LastError,
}

impl ClientContext for GroupContext {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!("librdkafka consumer: {error}: {reason}");
        self.last_error.set(reason.to_string());
    }
}

impl ConsumerContext for GroupContext {
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Error(e) = rebalance {
            self.last_error.set(format!("rebalance: {}", describe(e)));
            return;
        }
        // The whole current assignment, whichever protocol (eager lists it
        // all, cooperative only the change).
        let assigned = consumer
            .assignment()
            .map(|tpl| tpl.elements().iter().filter(|e| e.topic() == self.group.topic).map(|e| e.partition()).collect())
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
        let context = GroupContext { group: group.clone(), member, last_error: last_error.clone() };
        let consumer: BaseConsumer<GroupContext> = config
            .create_with_context(context)
            .map_err(|e| anyhow::anyhow!("creating the Kafka consumer: {}", describe(&e)))?;
        consumer.subscribe(&[topic]).map_err(|e| anyhow::anyhow!("subscribing to `{topic}`: {}", describe(&e)))?;
        let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("kafka-consumer-{member}"))
            .spawn(move || poll_loop(consumer, tx, s))?;
        Ok(KafkaConsumer { name: name.to_string(), stats, rx, group, last_error, stop, thread: Some(thread) })
    }
}

/// The bodies of one batch, copied into one buffer (a message cannot
/// outlive its poll) and handed on as slices of it: one allocation per
/// batch rather than one per message.
#[derive(Default)]
struct BatchBuffer {
    /// (offset in `bodies`, length, partition) per message.
    spans: Vec<(usize, usize, u32)>,
    bodies: BytesMut,
}

impl BatchBuffer {
    fn push(&mut self, m: &rdkafka::message::BorrowedMessage<'_>) {
        let payload = m.payload().unwrap_or(&[]);
        if self.bodies.capacity() - self.bodies.len() < payload.len() {
            self.bodies.reserve(payload.len() * 256);
        }
        self.spans.push((self.bodies.len(), payload.len(), m.partition() as u32));
        self.bodies.extend_from_slice(payload);
    }

    fn take(&mut self) -> Vec<Delivery> {
        let frozen = self.bodies.split().freeze();
        self.spans
            .drain(..)
            .map(|(at, len, partition)| Delivery { payload: frozen.slice(at..at + len), partition })
            .collect()
    }
}

/// Polls until stopped or the receiver is gone. Errors librdkafka reports
/// per poll (a broker connection dropping and coming back) are transient
/// and only noted; a fatal client error ends the consumer.
fn poll_loop(
    consumer: BaseConsumer<GroupContext>,
    tx: mpsc::Sender<Result<Vec<Delivery>, String>>,
    stop: Arc<AtomicBool>,
) {
    let mut buf = BatchBuffer::default();
    while !stop.load(Ordering::Relaxed) {
        match consumer.poll(POLL) {
            None => continue,
            Some(Err(e)) => {
                if let Some(fatal) = consumer.client().fatal_error() {
                    let _ = tx.blocking_send(Err(format!("fatal Kafka consumer error: {} ({:?})", fatal.1, fatal.0)));
                    return;
                }
                consumer.context().last_error.set(describe(&e));
                continue;
            }
            Some(Ok(m)) => buf.push(&m),
        }
        for _ in 1..MAX_BATCH {
            match consumer.poll(Duration::ZERO) {
                Some(Ok(m)) => buf.push(&m),
                Some(Err(e)) => consumer.context().last_error.set(describe(&e)),
                None => break,
            }
        }
        let batch = buf.take();
        if tx.blocking_send(Ok(batch)).is_err() {
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
