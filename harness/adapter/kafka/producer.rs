//! The producer: librdkafka's `ThreadedProducer`, whose polling thread runs
//! the delivery callback, so publish latency ends at the delivery report.
//!
//! Stamps: the runner reads a batch's send time just before `send`, and
//! stamps an acknowledgement when its future resolves; the future is a
//! oneshot completed in the delivery callback (librdkafka's polling
//! thread) for the last message of the run, and the runner polls it while
//! `send` waits out `QueueFull`, so that wait does not delay the stamp.
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
//!
//! Bodies are handed to librdkafka without a copy ([`NativeTopic`]): the
//! rdkafka crate's `send` always asks librdkafka to copy the payload (a
//! malloc, a 1 KB memcpy and a free per message, about a sixth of the
//! harness's CPU at 1 KB), where librdkafka can reference the caller's
//! buffer until the delivery report, as `rdkafka_performance` does.

use super::error::{describe, LastError};
use super::Stats;
use crate::adapter::{Ack, OutMessage, Producer};
use async_trait::async_trait;
use rdkafka::bindings as rdsys;
use rdkafka::client::ClientContext;
use rdkafka::error::KafkaError;
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{Producer as _, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, IntoOpaque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// Consecutive keyless messages sent to one partition (and covered by one
/// ack).
pub const RUN: u64 = 32;

/// librdkafka's `RD_KAFKA_PARTITION_UA` (a C macro, absent from the
/// bindings): let the configured partitioner place the message by its key.
const PARTITION_UNASSIGNED: i32 = -1;

/// The delivery state of one run of messages, and their bodies.
pub struct Run {
    remaining: AtomicUsize,
    first_error: Mutex<Option<String>>,
    done: Mutex<Option<oneshot::Sender<Result<(), String>>>>,
    /// The run's bodies, which librdkafka references without a copy: every
    /// message handed over holds an `Arc` of the run (its delivery opaque),
    /// so they stay alive until the last delivery report has been served.
    _bodies: Vec<bytes::Bytes>,
}

impl Run {
    fn new(messages: &[OutMessage]) -> (Arc<Run>, oneshot::Receiver<Result<(), String>>) {
        let (tx, rx) = oneshot::channel();
        let run = Run {
            remaining: AtomicUsize::new(messages.len()),
            first_error: Mutex::new(None),
            done: Mutex::new(Some(tx)),
            _bodies: messages.iter().map(|m| m.payload.clone()).collect(),
        };
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

/// An application handle on the point's topic (`rd_kafka_topic_t`), so
/// that messages are produced with `rd_kafka_produce`: no topic-name string
/// and lookup per message, and no payload copy.
struct NativeTopic(*mut rdsys::rd_kafka_topic_t);

// SAFETY: librdkafka's topic handles are thread-safe; the handle is only
// used for `rd_kafka_produce` and destroyed once, in `Drop`.
unsafe impl Send for NativeTopic {}
unsafe impl Sync for NativeTopic {}

impl Drop for NativeTopic {
    fn drop(&mut self) {
        // SAFETY: made by `rd_kafka_topic_new` and destroyed only here,
        // before the client that owns it (see `Native`).
        unsafe { rdsys::rd_kafka_topic_destroy(self.0) }
    }
}

/// The topic handle and its client; fields drop in this order, so the
/// topic handle goes before the client.
struct Native {
    topic: NativeTopic,
    producer: ThreadedProducer<DeliveryContext>,
}

pub struct KafkaProducer {
    /// `None` once closed; dropped on a plain thread because dropping
    /// flushes and joins librdkafka's threads.
    native: Option<Arc<Native>>,
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
        let name = std::ffi::CString::new(topic).map_err(|_| anyhow::anyhow!("topic name `{topic}` has a NUL byte"))?;
        // SAFETY: a live client and a NUL-terminated name; NULL takes the
        // client's default topic configuration (acks, compression, ...),
        // as the crate's own `send` does.
        let handle =
            unsafe { rdsys::rd_kafka_topic_new(producer.client().native_ptr(), name.as_ptr(), std::ptr::null_mut()) };
        if handle.is_null() {
            // SAFETY: reads librdkafka's thread-local last error.
            let code: RDKafkaErrorCode = unsafe { rdsys::rd_kafka_last_error() }.into();
            anyhow::bail!("creating a handle for Kafka topic `{topic}`: {code}");
        }
        Ok(KafkaProducer {
            native: Some(Arc::new(Native { topic: NativeTopic(handle), producer })),
            partitions: partitions.max(1) as u64,
            keys,
            stats,
        })
    }

    fn partition_of(&self, seq: u64) -> i32 {
        ((seq / RUN) % self.partitions) as i32
    }

    /// Hands one message to librdkafka, waiting out `QueueFull`. The body
    /// is referenced, not copied: `run` holds it until its delivery report.
    async fn enqueue(&self, m: &OutMessage, key: Option<&[u8]>, run: &Arc<Run>) {
        loop {
            match self.produce_once(m, key, run) {
                Ok(()) => return,
                Err(RDKafkaErrorCode::QueueFull) => {
                    self.stats.queue_full.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err(code) => {
                    self.stats.send_errors.fetch_add(1, Ordering::Relaxed);
                    run.settle(Err(describe(&KafkaError::MessageProduction(code))));
                    return;
                }
            }
        }
    }

    /// One `rd_kafka_produce` call: the message is librdkafka's (and one
    /// `Arc` of `run` its delivery opaque), or refused with its error code.
    fn produce_once(&self, m: &OutMessage, key: Option<&[u8]>, run: &Arc<Run>) -> Result<(), RDKafkaErrorCode> {
        let native = self.native.as_ref().expect("send after close");
        let partition = match key {
            Some(_) => PARTITION_UNASSIGNED,
            None => self.partition_of(m.seq),
        };
        let (key_ptr, key_len) = key.map_or((std::ptr::null(), 0), |k| (k.as_ptr().cast(), k.len()));
        let opaque = run.clone().into_ptr();
        // SAFETY: the topic handle is live; msgflags 0 makes librdkafka
        // reference the payload (never write or free it), and `run`, whose
        // `Arc` is the message's delivery opaque, keeps it alive until the
        // delivery callback takes that `Arc` back. The key is copied.
        let rc = unsafe {
            rdsys::rd_kafka_produce(
                native.topic.0,
                partition,
                0,
                m.payload.as_ptr() as *mut std::ffi::c_void,
                m.payload.len(),
                key_ptr,
                key_len,
                opaque,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        // SAFETY: the last error of this thread's call above.
        let code: RDKafkaErrorCode = unsafe { rdsys::rd_kafka_last_error() }.into();
        // SAFETY: librdkafka refused the message, so the opaque was not
        // taken and is ours to reclaim, once.
        drop(unsafe { Arc::<Run>::from_ptr(opaque) });
        Err(code)
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
                let (run, rx) = Run::new(std::slice::from_ref(m));
                self.enqueue(m, Some(&key), &run).await;
                acks.push(pending(1, rx));
            }
            return Ok(());
        }
        let mut i = 0;
        while i < batch.len() {
            let part = self.partition_of(batch[i].seq);
            let len = batch[i..].iter().take_while(|m| self.partition_of(m.seq) == part).count();
            let (run, rx) = Run::new(&batch[i..i + len]);
            for m in &batch[i..i + len] {
                self.enqueue(m, None, &run).await;
            }
            acks.push(pending(len, rx));
            i += len;
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        let Some(p) = self.native.clone() else { return Ok(()) };
        tokio::task::spawn_blocking(move || p.producer.flush(Duration::from_secs(10)))
            .await?
            .map_err(|e| anyhow::anyhow!("flushing the Kafka producer: {}", describe(&e)))
    }

    async fn close(mut self: Box<Self>) -> anyhow::Result<()> {
        if let Some(p) = self.native.take() {
            tokio::task::spawn_blocking(move || drop(p)).await?;
        }
        Ok(())
    }
}

impl Drop for KafkaProducer {
    fn drop(&mut self) {
        if let Some(p) = self.native.take() {
            std::thread::spawn(move || drop(p));
        }
    }
}
