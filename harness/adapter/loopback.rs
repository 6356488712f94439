//! The loopback adapter: an in-process "broker" made of bounded channels.
//!
//! It measures the harness's own ceiling (no network, no broker) and injects
//! faults on demand so the runner's accounting and latency correction can be
//! tested exactly:
//!
//! | option        | default | meaning                                                  |
//! |---------------|---------|----------------------------------------------------------|
//! | `drop`        | 0       | fraction of messages acknowledged but never delivered    |
//! | `duplicate`   | 0       | fraction delivered twice                                  |
//! | `reorder`     | 0       | fraction delivered after the producer's next message     |
//! | `redeliver`   | 0       | fraction delivered again, to the next consumer of each subscription (a redelivery to another consumer) |
//! | `late`        | 0       | fraction acknowledged at once but delivered `late_by` later |
//! | `late_by`     | none    | how late (e.g. `500ms`); needed with `late`               |
//! | `stall_every` | none    | period of broker stalls (e.g. `1s`)                       |
//! | `stall_for`   | none    | length of each stall (e.g. `200ms`): sends are not acknowledged, nor delivered, until it ends |
//! | `queue`       | 64 MiB of payload, at most 65,536 | messages buffered per consumer before senders wait (backpressure); with `service_rate`, also the most messages waiting for service |
//! | `cost`        | none    | CPU time spent on each message taken (e.g. `20us`), busy, before the batch is acknowledged: a known slowdown, for testing a regression gate |
//! | `service_rate` | none   | the most messages per second the "broker" serves (`2000msgps`, or bytes per second such as `2MBps`); the rest queue (see `loopback/service.rs`) |
//! | `service_time` | `fixed` | `fixed` (each message takes `1 / service_rate`) or `exponential` (that mean, drawn per message) |
//!
//! Faults are deterministic: a fraction `f` selects exactly
//! `floor((n + 1) f) - floor(n f)` messages at each sequence number `n` of
//! each producer, at most one fault per message (drop, then duplicate, then
//! redeliver, then late, then reorder), and the adapter tallies what it
//! injected in `adapter_stats`.
//! A reordered message takes the partition of the message it is swapped
//! with, so each reorder is exactly one out-of-order delivery.
//!
//! Each topic of a point (`topics: N`) has its own queues. `busiest_ms` in
//! `adapter_stats` is the most messages the "broker" took in one
//! millisecond over all topics: the size of the bursts producers offer.
//!
//! Stamps: a batch is acknowledged as `send` returns (its messages are in
//! the consumers' queues by then), or, during a stall, when the stall ends.

mod service;

use super::{Ack, ConnectContext, Consumer, Delivery, Driver, OutMessage, Producer, Session, Topology};
use crate::scenario::units::{Rate, Span};
use async_trait::async_trait;
use serde::Deserialize;
use service::{ServerGuard, ServiceQueue, ServiceTime};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

pub struct LoopbackDriver;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    drop: f64,
    #[serde(default)]
    duplicate: f64,
    #[serde(default)]
    reorder: f64,
    #[serde(default)]
    redeliver: f64,
    #[serde(default)]
    late: f64,
    #[serde(default, with = "span_opt")]
    late_by: Option<Duration>,
    #[serde(default, with = "span_opt")]
    stall_every: Option<Duration>,
    #[serde(default, with = "span_opt")]
    stall_for: Option<Duration>,
    #[serde(default)]
    queue: Option<usize>,
    #[serde(default, with = "span_opt")]
    cost: Option<Duration>,
    #[serde(default)]
    service_rate: Option<Rate>,
    #[serde(default)]
    service_time: Option<ServiceTime>,
}

/// Messages a consumer's queue holds by default: bounded by bytes as well,
/// so that 100 KB bodies cannot fill the machine's memory.
fn default_queue(payload_bytes: u64) -> usize {
    ((64u64 << 20) / payload_bytes.max(1)).clamp(1024, 65_536) as usize
}

mod span_opt {
    use super::*;
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<Span>::deserialize(d)?.map(|s| s.0))
    }
}

impl Options {
    fn check(&self) -> Result<(), String> {
        for (name, f) in [
            ("drop", self.drop),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
            ("redeliver", self.redeliver),
            ("late", self.late),
        ] {
            if !(0.0..=1.0).contains(&f) {
                return Err(format!("`{name}` is a fraction between 0 and 1, not {f}"));
            }
        }
        if (self.late > 0.0) != self.late_by.is_some() {
            return Err("`late` and `late_by` go together: give both or neither".into());
        }
        match (self.stall_every, self.stall_for) {
            (Some(every), Some(length)) if length >= every => {
                Err(format!("`stall_for` ({length:?}) must be shorter than `stall_every` ({every:?})"))
            }
            (Some(_), None) | (None, Some(_)) => {
                Err("`stall_every` and `stall_for` go together: give both or neither".into())
            }
            _ if self.queue == Some(0) => Err("`queue` must be at least 1".into()),
            _ if self.cost.is_some_and(|c| c > Duration::from_millis(10)) => {
                Err("`cost` is CPU time per message: at most 10ms (it busy-waits a worker thread)".into())
            }
            _ if self.service_rate == Some(Rate::Max) => {
                Err("`service_rate` is a rate such as `2000msgps` or `2MBps`: `max` is no limit (leave it out)".into())
            }
            _ if self.service_time.is_some() && self.service_rate.is_none() => {
                Err("`service_time` shapes `service_rate`: give `service_rate` too".into())
            }
            _ if self.service_rate.is_some() && (self.stall_every.is_some() || self.late > 0.0) => Err(
                "`service_rate` does not combine with `stall_every` or `late` (stalled and late messages would bypass its queue)".into(),
            ),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl Driver for LoopbackDriver {
    fn check_options(&self, options: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        super::parse_options::<Options>(options)?.check()
    }

    /// The loopback has no partitions of its own: a delivery's partition
    /// is a label, `seq % partitions`, so that order is checked per
    /// partition as it would be on a partitioned broker. Each consumer keeps
    /// one counter per producer and partition.
    fn partitions(&self) -> super::PartitionLimit {
        super::PartitionLimit {
            max: 1024,
            meaning: "the loopback has no partitions; it labels each delivery `seq % partitions` so that order is checked per partition, and beyond 1024 labels nothing changes but the memory for the order check",
        }
    }

    async fn connect(&self, ctx: &ConnectContext<'_>) -> anyhow::Result<Box<dyn Session>> {
        let options: Options = super::parse_options(ctx.options).map_err(anyhow::Error::msg)?;
        options.check().map_err(anyhow::Error::msg)?;
        Ok(Box::new(LoopbackSession {
            options,
            wiring: Mutex::new(Default::default()),
            tallies: Arc::new(Tallies::default()),
            started: Instant::now(),
            server: Mutex::new(None),
        }))
    }

    fn client(&self) -> String {
        format!("mqbench loopback {}", env!("CARGO_PKG_VERSION"))
    }
}

/// What the adapter injected.
#[derive(Default)]
struct Tallies {
    dropped: AtomicU64,
    duplicated: AtomicU64,
    reordered: AtomicU64,
    redelivered: AtomicU64,
    late: AtomicU64,
    stalled_batches: AtomicU64,
    arrivals: Mutex<Arrivals>,
}

/// Messages taken per millisecond since the session started: the current
/// millisecond's count and the largest so far.
#[derive(Default)]
struct Arrivals {
    ms: u64,
    count: u64,
    busiest: u64,
}

impl Arrivals {
    fn note(&mut self, ms: u64, n: u64) {
        if ms > self.ms {
            (self.ms, self.count) = (ms, 0);
        }
        self.count += n;
        self.busiest = self.busiest.max(self.count);
    }
}

/// A batch after fault injection: what goes to the batch's consumer now,
/// copies for the next consumer of each subscription, and what is
/// delivered late.
#[derive(Default)]
struct Faulted {
    now: Batch,
    again: Batch,
    late: Batch,
}

type Batch = Vec<Delivery>;

/// The sending end of one consumer's queue: batches travel on an unbounded
/// channel and the bound is in messages, held by a semaphore whose permits
/// the consumer returns as it takes them.
#[derive(Clone)]
struct QueueTx {
    tx: mpsc::UnboundedSender<Batch>,
    room: Arc<Semaphore>,
    capacity: usize,
}

impl QueueTx {
    async fn send(&self, batch: Batch) -> anyhow::Result<()> {
        let n = batch.len().min(self.capacity) as u32;
        self.room.acquire_many(n).await.map_err(|_| anyhow::anyhow!("loopback: consumer gone"))?.forget();
        self.tx.send(batch).map_err(|_| anyhow::anyhow!("loopback: consumer gone"))
    }
}

struct Wiring {
    /// Per subscription, per consumer.
    senders: Vec<Vec<QueueTx>>,
    receivers: Vec<Vec<Option<LoopbackConsumer>>>,
}

struct LoopbackSession {
    options: Options,
    /// Per topic.
    wiring: Mutex<std::collections::HashMap<String, Wiring>>,
    tallies: Arc<Tallies>,
    started: Instant,
    /// The service queue (with `service_rate`), shared by every topic,
    /// started by the first `prepare` (which knows the payload size).
    server: Mutex<Option<(ServiceQueue, ServerGuard)>>,
}

impl LoopbackSession {
    fn start_server(&self, payload_bytes: u64) {
        let Some(msgs_per_s) = self.options.service_rate.and_then(|r| r.msgs_per_sec(payload_bytes)) else {
            return;
        };
        let mut server = self.server.lock().unwrap();
        if server.is_none() {
            let capacity = self.options.queue.unwrap_or_else(|| default_queue(payload_bytes));
            let time = self.options.service_time.unwrap_or(ServiceTime::Fixed);
            *server = Some(ServiceQueue::start(msgs_per_s, time, capacity));
        }
    }
}

/// Burns `d` of CPU on the calling thread.
fn spin_for(d: Duration) {
    let until = std::time::Instant::now() + d;
    while std::time::Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// Exactly `fraction` of sequence numbers, spread evenly; `salt` keeps the
/// faults from landing on the same messages.
fn selected(seq: u64, fraction: f64, salt: u64) -> bool {
    if fraction <= 0.0 {
        return false;
    }
    let ppm = (fraction * 1e6).round() as u128;
    let n = (seq + salt) as u128;
    ((n + 1) * ppm) / 1_000_000 > (n * ppm) / 1_000_000
}

#[async_trait]
impl Session for LoopbackSession {
    fn broker_software(&self) -> String {
        format!("mqbench loopback {}", env!("CARGO_PKG_VERSION"))
    }

    async fn prepare(&self, t: &Topology) -> anyhow::Result<()> {
        self.start_server(t.payload_bytes);
        let mut senders = Vec::new();
        let mut receivers = Vec::new();
        for _ in &t.subscriptions {
            let (mut s, mut r) = (Vec::new(), Vec::new());
            let capacity = self.options.queue.unwrap_or_else(|| default_queue(t.payload_bytes));
            for _ in 0..t.consumers {
                let (tx, rx) = mpsc::unbounded_channel();
                let room = Arc::new(Semaphore::new(capacity));
                s.push(QueueTx { tx, room: room.clone(), capacity });
                r.push(Some(LoopbackConsumer { rx, room, capacity }));
            }
            senders.push(s);
            receivers.push(r);
        }
        self.wiring.lock().unwrap().insert(t.topic.clone(), Wiring { senders, receivers });
        Ok(())
    }

    async fn producer(&self, t: &Topology, _index: u32) -> anyhow::Result<Box<dyn Producer>> {
        let guard = self.wiring.lock().unwrap();
        let wiring = guard.get(&t.topic).ok_or_else(|| anyhow::anyhow!("loopback: prepare was not called"))?;
        Ok(Box::new(LoopbackProducer {
            shared: Arc::new(ProducerShared {
                senders: wiring.senders.clone(),
                stalled: tokio::sync::Mutex::new(Vec::new()),
            }),
            options: self.options.clone(),
            tallies: self.tallies.clone(),
            partitions: t.partitions.max(1) as u64,
            next_consumer: AtomicUsize::new(0),
            held: None,
            started: self.started,
            server: self.server.lock().unwrap().as_ref().map(|(q, _)| q.clone()),
        }))
    }

    async fn consumer(&self, t: &Topology, subscription: u32, index: u32) -> anyhow::Result<Box<dyn Consumer>> {
        let mut guard = self.wiring.lock().unwrap();
        let wiring = guard.get_mut(&t.topic).ok_or_else(|| anyhow::anyhow!("loopback: prepare was not called"))?;
        let consumer = wiring.receivers[subscription as usize][index as usize]
            .take()
            .ok_or_else(|| anyhow::anyhow!("loopback: consumer {subscription}/{index} taken twice"))?;
        Ok(Box::new(consumer))
    }

    async fn cleanup(&self, t: &Topology) -> anyhow::Result<()> {
        self.wiring.lock().unwrap().remove(&t.topic);
        Ok(())
    }

    fn stats(&self) -> serde_json::Value {
        serde_json::json!({
            "injected_dropped": self.tallies.dropped.load(Ordering::Relaxed),
            "injected_duplicated": self.tallies.duplicated.load(Ordering::Relaxed),
            "injected_reordered": self.tallies.reordered.load(Ordering::Relaxed),
            "injected_redelivered": self.tallies.redelivered.load(Ordering::Relaxed),
            "injected_late": self.tallies.late.load(Ordering::Relaxed),
            "stalled_batches": self.tallies.stalled_batches.load(Ordering::Relaxed),
            "busiest_ms": self.tallies.arrivals.lock().unwrap().busiest,
        })
    }
}

struct ProducerShared {
    senders: Vec<Vec<QueueTx>>,
    /// Batches taken during a stall, delivered in order when it ends.
    stalled: tokio::sync::Mutex<Vec<(usize, Batch)>>,
}

impl ProducerShared {
    async fn deliver(&self, consumer: usize, batch: Batch) -> anyhow::Result<()> {
        // Every subscription gets every message; the last one takes the
        // batch itself, the others a copy (payloads are shared, not copied).
        let mut batch = Some(batch);
        let last = self.senders.len().saturating_sub(1);
        for (i, sub) in self.senders.iter().enumerate() {
            let target = &sub[consumer % sub.len()];
            let copy = if i == last { batch.take().unwrap_or_default() } else { batch.clone().unwrap_or_default() };
            target.send(copy).await?;
        }
        Ok(())
    }

    async fn flush_stalled(&self) -> anyhow::Result<()> {
        let mut stalled = self.stalled.lock().await;
        for (consumer, batch) in stalled.drain(..) {
            self.deliver(consumer, batch).await?;
        }
        Ok(())
    }
}

struct LoopbackProducer {
    shared: Arc<ProducerShared>,
    options: Options,
    tallies: Arc<Tallies>,
    partitions: u64,
    next_consumer: AtomicUsize,
    /// A message held back to be delivered after the next one.
    held: Option<Delivery>,
    started: Instant,
    /// With `service_rate`: deliveries wait for service here.
    server: Option<ServiceQueue>,
}

impl LoopbackProducer {
    /// When the broker is stalled, the instant the stall ends.
    fn stall_end(&self, now: Instant) -> Option<Instant> {
        let (every, length) = (self.options.stall_every?, self.options.stall_for?);
        let elapsed = now.duration_since(self.started);
        let phase = Duration::from_nanos((elapsed.as_nanos() % every.as_nanos()) as u64);
        (phase >= every - length).then(|| now + (every - phase))
    }

    fn apply_faults(&mut self, batch: &[OutMessage]) -> Faulted {
        let o = &self.options;
        let mut f = Faulted { now: Vec::with_capacity(batch.len() + 1), ..Default::default() };
        let out = &mut f.now;
        for m in batch {
            let d = Delivery { payload: m.payload.clone(), partition: (m.seq % self.partitions) as u32 };
            if selected(m.seq, o.drop, 0) {
                self.tallies.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let partition = d.partition;
            if selected(m.seq, o.duplicate, 1_000_003) {
                self.tallies.duplicated.fetch_add(1, Ordering::Relaxed);
                out.push(d.clone());
                out.push(d);
            } else if selected(m.seq, o.redeliver, 3_000_017) {
                self.tallies.redelivered.fetch_add(1, Ordering::Relaxed);
                out.push(d.clone());
                f.again.push(d);
            } else if selected(m.seq, o.late, 4_000_037) {
                self.tallies.late.fetch_add(1, Ordering::Relaxed);
                f.late.push(d);
            } else if self.held.is_none() && selected(m.seq, o.reorder, 2_000_029) {
                self.tallies.reordered.fetch_add(1, Ordering::Relaxed);
                self.held = Some(d);
                continue;
            } else {
                out.push(d);
            }
            if let Some(mut h) = self.held.take() {
                h.partition = partition;
                out.push(h);
            }
        }
        f
    }
}

#[async_trait]
impl Producer for LoopbackProducer {
    async fn send(&mut self, batch: &[OutMessage], acks: &mut Vec<Ack>) -> anyhow::Result<()> {
        if let Some(cost) = self.options.cost {
            // Busy, not asleep: a broker or harness that needs more CPU per
            // message, which is what a regression looks like (tokio's timers
            // could not sleep for microseconds anyway).
            spin_for(cost * batch.len() as u32);
        }
        let ms = Instant::now().duration_since(self.started).as_millis() as u64;
        self.tallies.arrivals.lock().unwrap().note(ms, batch.len() as u64);
        let Faulted { now: deliveries, again, late } = self.apply_faults(batch);
        let consumer = self.next_consumer.fetch_add(1, Ordering::Relaxed);
        if !late.is_empty() {
            let (shared, by) = (self.shared.clone(), self.options.late_by.unwrap_or_default());
            tokio::spawn(async move {
                tokio::time::sleep(by).await;
                // The consumer is gone only when the point is over.
                let _ = shared.deliver(consumer, late).await;
            });
        }
        if let Some(end) = self.stall_end(Instant::now()) {
            self.tallies.stalled_batches.fetch_add(1, Ordering::Relaxed);
            let mut stalled = self.shared.stalled.lock().await;
            stalled.push((consumer, deliveries));
            if !again.is_empty() {
                stalled.push((consumer + 1, again));
            }
            drop(stalled);
            let shared = self.shared.clone();
            acks.push(Ack::pending(batch.len(), async move {
                tokio::time::sleep_until(end).await;
                shared.flush_stalled().await.map_err(|e| e.to_string())
            }));
            return Ok(());
        }
        self.shared.flush_stalled().await?;
        if let Some(server) = &self.server {
            // Both go through the one server; `again` after the batch, as
            // without a limit.
            if !deliveries.is_empty() {
                server.admit(&self.shared, consumer, deliveries).await?;
            }
            if !again.is_empty() {
                server.admit(&self.shared, consumer + 1, again).await?;
            }
            acks.push(Ack::done(batch.len()));
            return Ok(());
        }
        if !deliveries.is_empty() {
            self.shared.deliver(consumer, deliveries).await?;
        }
        if !again.is_empty() {
            self.shared.deliver(consumer + 1, again).await?;
        }
        acks.push(Ack::done(batch.len()));
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        if let Some(h) = self.held.take() {
            let consumer = self.next_consumer.fetch_add(1, Ordering::Relaxed);
            match &self.server {
                Some(server) => server.admit(&self.shared, consumer, vec![h]).await?,
                None => self.shared.deliver(consumer, vec![h]).await?,
            }
        }
        self.shared.flush_stalled().await
    }
}

struct LoopbackConsumer {
    rx: mpsc::UnboundedReceiver<Batch>,
    room: Arc<Semaphore>,
    capacity: usize,
}

impl LoopbackConsumer {
    fn take(&self, out: &mut Vec<Delivery>, batch: Batch) {
        self.room.add_permits(batch.len().min(self.capacity));
        out.extend(batch);
    }
}

#[async_trait]
impl Consumer for LoopbackConsumer {
    async fn recv(&mut self, out: &mut Vec<Delivery>) -> anyhow::Result<()> {
        match self.rx.recv().await {
            Some(batch) => {
                self.take(out, batch);
                while let Ok(more) = self.rx.try_recv() {
                    self.take(out, more);
                    if out.len() >= 4096 {
                        break;
                    }
                }
                Ok(())
            }
            // Every producer is gone: nothing more will come.
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_is_exact_and_disjoint() {
        let n = 100_000u64;
        let drops: Vec<u64> = (0..n).filter(|s| selected(*s, 0.01, 0)).collect();
        let dups: Vec<u64> = (0..n).filter(|s| selected(*s, 0.01, 1_000_003)).collect();
        assert_eq!(drops.len(), 1000);
        assert_eq!(dups.len(), 1000);
        assert!(drops.iter().all(|d| !dups.contains(d)));
        assert_eq!((0..n).filter(|s| selected(*s, 0.0, 0)).count(), 0);
        assert_eq!((0..n).filter(|s| selected(*s, 1.0, 0)).count() as u64, n);
    }

    #[test]
    fn options_are_checked() {
        let opts = |v: serde_json::Value| v.as_object().unwrap().clone();
        let d = LoopbackDriver;
        assert!(d.check_options(&opts(serde_json::json!({"drop": 0.1}))).is_ok());
        assert!(d.check_options(&opts(serde_json::json!({"drop": 1.5}))).unwrap_err().contains("`drop`"));
        assert!(d.check_options(&opts(serde_json::json!({"dorp": 0.1}))).unwrap_err().contains("`dorp`"));
        assert!(d.check_options(&opts(serde_json::json!({"stall_every": "1s"}))).is_err());
        assert!(d.check_options(&opts(serde_json::json!({"stall_every": "1s", "stall_for": "2s"}))).is_err());
        assert!(d.check_options(&opts(serde_json::json!({"late": 0.1}))).unwrap_err().contains("`late_by`"));
        assert!(d.check_options(&opts(serde_json::json!({"late": 0.1, "late_by": "1s"}))).is_ok());
        assert!(d.check_options(&opts(serde_json::json!({"redeliver": 2}))).unwrap_err().contains("`redeliver`"));
        assert!(d.check_options(&opts(serde_json::json!({"service_rate": "2000msgps"}))).is_ok());
        let exp = serde_json::json!({"service_rate": "2MBps", "service_time": "exponential"});
        assert!(d.check_options(&opts(exp)).is_ok());
        assert!(d.check_options(&opts(serde_json::json!({"service_rate": "max"}))).unwrap_err().contains("`max`"));
        assert!(d.check_options(&opts(serde_json::json!({"service_rate": 2000}))).unwrap_err().contains("no unit"));
        let shape = serde_json::json!({"service_time": "exponential"});
        assert!(d.check_options(&opts(shape)).unwrap_err().contains("give `service_rate`"));
        assert!(d.check_options(&opts(serde_json::json!({"cost": "20us"}))).is_ok());
        assert!(d.check_options(&opts(serde_json::json!({"cost": "1s"}))).unwrap_err().contains("`cost`"));
    }

    #[test]
    fn cost_is_spent_per_message() {
        // A lower bound only: the spin never ends early, however loaded the host.
        let start = std::time::Instant::now();
        spin_for(Duration::from_micros(50) * 40);
        assert!(start.elapsed() >= Duration::from_millis(2));
    }
}
