//! The producer: librdkafka's `ThreadedProducer`, whose polling thread runs
//! the delivery callback, so publish latency ends at the delivery report.
//!
//! Messages go out in runs: without keys, consecutive sequence numbers go
//! to one partition in runs of [`RUN`] and the runs go round-robin over the
//! partitions (a deterministic form of librdkafka's sticky partitioner;
//! each producer's messages stay in order within a partition). One
//! [`Ack`] covers one run and resolves when the last delivery report of the
//! run is in, with the first error if any message of the run failed. With
//! `keys: true` librdkafka's partitioner places each message and every
//! message gets its own ack.
//!
//! `send` never sleeps for long: when librdkafka's queue is full
//! (`QueueFull`), it counts the event and retries after a millisecond while
//! the polling thread drains delivery reports. (`FutureProducer::send`
//! would sleep 100 ms instead and stall the open-loop schedule.)

use super::error::{describe, LastError};
use super::Stats;
use crate::adapter::{Ack, OutMessage, Producer};
use async_trait::async_trait;
use rdkafka::client::ClientContext;
use rdkafka::error::KafkaError;
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer as _, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// Consecutive keyless messages sent to one partition (and covered by one
/// ack).
pub const RUN: u64 = 32;

/// The delivery state of one run of messages.
pub struct Run {
    remaining: AtomicUsize,
    first_error: Mutex<Option<String>>,
    done: Mutex<Option<oneshot::Sender<Result<(), String>>>>,
}

impl Run {
    fn new(n: usize) -> (Arc<Run>, oneshot::Receiver<Result<(), String>>) {
        let (tx, rx) = oneshot::channel();
        let run = Run { remaining: AtomicUsize::new(n), first_error: Mutex::new(None), done: Mutex::new(Some(tx)) };
        (Arc::new(run), rx)
    }

    /// One message of the run is settled.
    fn settle(&self, result: Result<(), String>) {
        if let Err(e) = result {
            self.first_error.lock().unwrap().get_or_insert(e);
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let outcome = match self.first_error.lock().unwrap().take() {
                Some(e) => Err(e),
                None => Ok(()),
            };
            if let Some(tx) = self.done.lock().unwrap().take() {
                let _ = tx.send(outcome);
            }
        }
    }
}

/// Receives delivery reports on librdkafka's polling thread.
pub struct DeliveryContext {
    last_error: LastError,
    stats: Arc<Stats>,
}

impl ClientContext for DeliveryContext {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!("librdkafka producer: {error}: {reason}");
        self.last_error.set(reason.to_string());
    }
}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = Arc<Run>;

    fn delivery(&self, result: &DeliveryResult<'_>, run: Arc<Run>) {
        match result {
            Ok(_) => run.settle(Ok(())),
            Err((e, _)) => {
                self.stats.delivery_errors.fetch_add(1, Ordering::Relaxed);
                run.settle(Err(describe(e)))
            }
        }
    }
}

pub struct KafkaProducer {
    /// `None` once closed; dropped on a plain thread because dropping
    /// flushes and joins librdkafka's threads.
    producer: Option<Arc<ThreadedProducer<DeliveryContext>>>,
    topic: String,
    partitions: u64,
    keys: bool,
    stats: Arc<Stats>,
}

impl KafkaProducer {
    pub fn new(
        config: &ClientConfig,
        topic: &str,
        partitions: u32,
        keys: bool,
        stats: Arc<Stats>,
    ) -> anyhow::Result<Self> {
        let context = DeliveryContext { last_error: LastError::default(), stats: stats.clone() };
        let producer: ThreadedProducer<DeliveryContext> = config
            .create_with_context(context)
            .map_err(|e| anyhow::anyhow!("creating the Kafka producer: {}", describe(&e)))?;
        Ok(KafkaProducer {
            producer: Some(Arc::new(producer)),
            topic: topic.to_string(),
            partitions: partitions.max(1) as u64,
            keys,
            stats,
        })
    }

    fn partition_of(&self, seq: u64) -> i32 {
        ((seq / RUN) % self.partitions) as i32
    }

    /// Hands one message to librdkafka, waiting out `QueueFull`.
    async fn enqueue(&self, m: &OutMessage, key: Option<&[u8]>, run: &Arc<Run>) {
        let producer = self.producer.as_ref().expect("send after close");
        let mut record: BaseRecord<'_, [u8], [u8], Arc<Run>> =
            BaseRecord::with_opaque_to(&self.topic, run.clone()).payload(&m.payload[..]);
        match key {
            Some(k) => record = record.key(k),
            None => record = record.partition(self.partition_of(m.seq)),
        }
        loop {
            match producer.send(record) {
                Ok(()) => return,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    self.stats.queue_full.fetch_add(1, Ordering::Relaxed);
                    record = back;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err((e, _)) => {
                    self.stats.send_errors.fetch_add(1, Ordering::Relaxed);
                    run.settle(Err(describe(&e)));
                    return;
                }
            }
        }
    }
}

fn pending(n: usize, rx: oneshot::Receiver<Result<(), String>>) -> Ack {
    Ack::pending(n, async move { rx.await.unwrap_or_else(|_| Err("delivery report never came".into())) })
}

#[async_trait]
impl Producer for KafkaProducer {
    async fn send(&mut self, batch: &[OutMessage], acks: &mut Vec<Ack>) -> anyhow::Result<()> {
        if self.keys {
            for m in batch {
                let key = m.seq.to_be_bytes();
                let (run, rx) = Run::new(1);
                self.enqueue(m, Some(&key), &run).await;
                acks.push(pending(1, rx));
            }
            return Ok(());
        }
        let mut i = 0;
        while i < batch.len() {
            let part = self.partition_of(batch[i].seq);
            let len = batch[i..].iter().take_while(|m| self.partition_of(m.seq) == part).count();
            let (run, rx) = Run::new(len);
            for m in &batch[i..i + len] {
                self.enqueue(m, None, &run).await;
            }
            acks.push(pending(len, rx));
            i += len;
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        let Some(p) = self.producer.clone() else { return Ok(()) };
        tokio::task::spawn_blocking(move || p.flush(Duration::from_secs(10)))
            .await?
            .map_err(|e| anyhow::anyhow!("flushing the Kafka producer: {}", describe(&e)))
    }

    async fn close(mut self: Box<Self>) -> anyhow::Result<()> {
        if let Some(p) = self.producer.take() {
            tokio::task::spawn_blocking(move || drop(p)).await?;
        }
        Ok(())
    }
}

impl Drop for KafkaProducer {
    fn drop(&mut self) {
        if let Some(p) = self.producer.take() {
            std::thread::spawn(move || drop(p));
        }
    }
}
