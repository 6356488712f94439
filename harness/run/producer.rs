//! The producer task: sends on schedule (or as fast as the window allows),
//! keeps a bounded window of unacknowledged messages, and records publish
//! latency from the due time and service time from the actual send.
//!
//! Where the stamps are taken (the same for every adapter; each adapter's
//! producer says what its acknowledgement future waits for):
//! - a batch's send time is read once its bodies are built, right before
//!   it is handed to the adapter's `send`;
//! - an acknowledgement is stamped when its future resolves, and the task
//!   polls outstanding acknowledgements while `send` itself is waiting
//!   (a full client queue, a socket that does not take more), so an
//!   acknowledgement that arrives then is not stamped late.
//!
//! The end of the window: a message due in the window is sent even when
//! the producer is behind when the window closes (a stall in its last
//! second is then measured as a stall mid-window is), for up to
//! `send_until`; what is still unsent then, or still unacknowledged at the
//! deadline, gets its time outstanding until the deadline as a publish
//! sample, counted in `lower_bounds`: the true latency is at least that.

use super::clock::Clock;
use super::live::Live;
use super::pacer::{Pacer, Schedule};
use crate::adapter::{Ack, AckState, OutMessage, Producer, SendError};
use crate::measure::{BodyPool, Header, LatencyHistogram, LatencyRecorder, ProducerLedger, Series};
use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most messages handed to the adapter at once.
const MAX_BATCH: usize = 256;

/// What a producer needs to know about the point.
#[derive(Clone)]
pub struct ProducerPlan {
    pub index: u32,
    pub clock: Clock,
    /// Start of warm-up.
    pub t0: Instant,
    /// Start of the per-second series (a whole number of seconds before
    /// the window opens).
    pub series_origin: Instant,
    pub window_start: Instant,
    pub window_end: Instant,
    /// A paced producer behind schedule sends messages due in the window
    /// until then; what is left is counted `unsent`.
    pub send_until: Instant,
    /// Acks not in by then count as failed.
    pub deadline: Instant,
    /// `None` when unthrottled.
    pub msgs_per_s: Option<f64>,
    pub in_flight: usize,
    pub pool: BodyPool,
    pub live: Arc<Live>,
}

/// Everything one producer measured.
#[derive(Default)]
pub struct ProducerReport {
    pub ledger: ProducerLedger,
    pub publish: LatencyHistogram,
    pub service: LatencyHistogram,
    pub schedule_delay: LatencyHistogram,
    pub series: Series,
    pub errors: BTreeMap<String, u64>,
    /// Measured messages actually sent inside the window.
    pub sent_in_window: u64,
    /// Publish samples (in `publish`) that are lower bounds: measured
    /// messages unsent, or unacknowledged at the deadline, recorded with
    /// their time outstanding until it.
    pub lower_bounds: u64,
    /// The unsent ones' lower bounds alone: none of them can reach a
    /// consumer, so each subscription's end-to-end latency gets them too.
    pub unsent_lower_bounds: LatencyHistogram,
    /// Measured messages unacknowledged at the deadline, with their lower
    /// bound (µs): those no subscription received get it as end-to-end
    /// samples too.
    pub unacknowledged: Vec<(u64, u64)>,
    /// Largest lateness (µs) in the first and last tenth of the window.
    pub lag_start_us: u64,
    pub lag_end_us: u64,
    /// Set when the producer stopped on an error.
    pub fatal: Option<String>,
    pub acked_total: u64,
}

/// One unacknowledged message; times in µs of the run's clock, so that
/// an acknowledgement costs integer subtractions only.
struct InFlight {
    due_us: u64,
    sent_us: u64,
    measured: bool,
    done: bool,
}

/// First sequence number, messages covered, outcome, and when it came.
type AckResult = (u64, usize, Result<(), SendError>, Instant);

struct State {
    plan: ProducerPlan,
    report: ProducerReport,
    /// Metadata of unacknowledged messages, from `base` on.
    window: VecDeque<InFlight>,
    base: u64,
    in_flight: usize,
    window_start_us: u64,
    window_end_us: u64,
    /// Unthrottled: a message is due when its batch is begun, so there is
    /// no schedule to fall behind; the schedule delay (zero) is filled in
    /// once at the end instead of per message.
    unpaced: bool,
    /// The report's publish, service and schedule-delay samples until the
    /// end (see [`LatencyRecorder`] for why not straight into histograms).
    publish: LatencyRecorder,
    service: LatencyRecorder,
    schedule_delay: LatencyRecorder,
}

impl State {
    fn second(&self, at: Instant) -> usize {
        at.saturating_duration_since(self.plan.series_origin).as_secs() as usize
    }

    fn on_ack(&mut self, first: u64, n: usize, result: Result<(), SendError>, at: Instant) {
        let sec = self.second(at);
        let at_us = self.plan.clock.unix_us(at);
        for seq in first..first + n as u64 {
            let i = (seq - self.base) as usize;
            let m = &mut self.window[i];
            m.done = true;
            let (due_us, sent_us, measured) = (m.due_us, m.sent_us, m.measured);
            match &result {
                Ok(()) => {
                    self.report.ledger.acked.insert(seq);
                    self.report.acked_total += 1;
                    let publish = at_us.saturating_sub(due_us);
                    if measured {
                        self.publish.record(publish);
                        self.service.record(at_us.saturating_sub(sent_us));
                    }
                    let b = self.report.series.at(sec);
                    b.acked += 1;
                    b.publish.record(publish);
                }
                Err(e) => {
                    if measured {
                        self.report.ledger.failed += 1;
                    }
                    *self.report.errors.entry(e.clone()).or_default() += 1;
                }
            }
        }
        if result.is_ok() {
            self.plan.live.acked.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
        self.in_flight -= n;
        while self.window.front().is_some_and(|m| m.done) {
            self.window.pop_front();
            self.base += 1;
        }
    }

    /// Everything still unacknowledged fails with `why`; measured messages
    /// get their time outstanding until the deadline as a lower bound.
    fn fail_outstanding(&mut self, why: &str) {
        let first = self.base;
        let n = self.window.len();
        let outstanding: Vec<u64> =
            (first..first + n as u64).filter(|s| !self.window[(s - first) as usize].done).collect();
        let deadline_us = self.plan.clock.unix_us(self.plan.deadline);
        for &seq in &outstanding {
            let m = &self.window[(seq - first) as usize];
            if m.measured {
                let bound = deadline_us.saturating_sub(m.due_us);
                self.publish.record(bound);
                self.report.lower_bounds += 1;
                self.report.unacknowledged.push((seq, bound));
            }
        }
        let now = Instant::now();
        for seq in outstanding {
            if seq >= self.base {
                self.on_ack(seq, 1, Err(why.to_string()), now);
            }
        }
    }
}

impl State {
    /// Sending has stopped at `seq`: counts the measured messages of the
    /// schedule never sent, and records a lower bound for each that fell
    /// due before `give_up` (the deadline, or the moment an error stopped
    /// the producer): its time outstanding until then.
    fn stop_sending(&mut self, schedule: Option<&Schedule>, seq: u64, give_up: Instant) {
        let Some(s) = schedule else { return };
        let give_up_us = self.plan.clock.unix_us(give_up);
        for k in seq..s.total {
            let due_us = self.plan.clock.unix_us(s.due(k));
            if due_us < self.window_start_us || due_us >= self.window_end_us {
                continue;
            }
            self.report.ledger.unsent += 1;
            if due_us < give_up_us {
                let bound = give_up_us - due_us;
                self.publish.record(bound);
                self.report.unsent_lower_bounds.record(bound);
                self.report.lower_bounds += 1;
            }
        }
    }
}

/// Runs one producer to the end of the window and until its acks are in
/// (or the deadline passes).
pub async fn run(mut producer: Box<dyn Producer>, plan: ProducerPlan) -> ProducerReport {
    let window_start_us = plan.clock.unix_us(plan.window_start);
    let window_end_us = plan.clock.unix_us(plan.window_end);
    let send_for = plan.window_end.saturating_duration_since(plan.t0);
    let schedule = plan.msgs_per_s.map(|r| Schedule::new(plan.t0, r, send_for));
    let pacer = schedule.map(Pacer::start);
    if schedule.is_none() {
        // Unthrottled, nothing is due before the schedule's start either
        // (a message stamped earlier would fail the consumers' header
        // check): wait for it, as the pacer does for paced producers.
        tokio::time::sleep_until(plan.t0.into()).await;
    }
    let seq_limit = plan.pool.seq_limit();
    let mut st = State {
        report: ProducerReport { ledger: ProducerLedger::new(plan.index), ..Default::default() },
        window: VecDeque::with_capacity(plan.in_flight),
        base: 0,
        in_flight: 0,
        window_start_us,
        window_end_us,
        unpaced: schedule.is_none(),
        publish: LatencyRecorder::default(),
        service: LatencyRecorder::default(),
        schedule_delay: LatencyRecorder::default(),
        plan,
    };
    let tenth = st.plan.window_end.saturating_duration_since(st.plan.window_start) / 10;
    let early_end = st.plan.clock.unix_us(st.plan.window_start + tenth);
    let late_start = st.plan.clock.unix_us(st.plan.window_end - tenth);
    let mut pending: FuturesUnordered<futures::future::BoxFuture<'static, AckResult>> = FuturesUnordered::new();
    let mut batch: Vec<OutMessage> = Vec::with_capacity(MAX_BATCH);
    let mut acks: Vec<Ack> = Vec::new();
    let mut seq: u64 = 0;
    let mut sending = true;

    loop {
        // Take in acknowledgements that are already there.
        while let Some(Some((first, n, r, at))) = pending.next().now_or_never() {
            st.on_ack(first, n, r, at);
        }
        let now = Instant::now();
        if sending {
            let window_over = now >= st.plan.window_end;
            let due_now = match (&schedule, &pacer) {
                (Some(s), Some(p)) => {
                    // Messages due before the window closed are still sent
                    // after it when the producer is behind (a stall in the
                    // window's last second delays them as one mid-window
                    // does), until `send_until`; after that, what is still
                    // due is counted as unsent, never quietly dropped.
                    if seq >= s.total || now >= st.plan.send_until {
                        sending = false;
                        st.stop_sending(Some(s), seq, st.plan.deadline);
                    }
                    // Never before its due time: after the window the
                    // schedule's last messages may still be due a moment
                    // later (and the pacer's thread is done with them).
                    if window_over {
                        s.due_by(now).saturating_sub(seq)
                    } else {
                        p.released().saturating_sub(seq)
                    }
                }
                _ => {
                    if window_over {
                        sending = false;
                    }
                    u64::MAX
                }
            };
            if sending && seq >= seq_limit {
                sending = false;
                st.stop_sending(schedule.as_ref(), seq, Instant::now());
                st.report.fatal = Some(format!(
                    "sequence numbers exhausted at {seq} (payloads under 20 B carry 32-bit sequence numbers)"
                ));
            }
            let room = st.plan.in_flight.saturating_sub(st.in_flight);
            let n = (due_now.min(room as u64) as usize).min(MAX_BATCH);
            if sending && n > 0 {
                batch.clear();
                let len = st.plan.pool.payload_len();
                let mut bodies = bytes::BytesMut::with_capacity(n * len);
                let dues: Vec<u64> = (seq..seq + n as u64)
                    .map(|k| match &schedule {
                        Some(s) => st.plan.clock.unix_us(s.due(k)),
                        None => 0,
                    })
                    .collect();
                // Unthrottled, a message is due when its batch is begun: the
                // body must carry its due time, so that is read before the
                // bodies are built, and the send time after.
                let built_us = st.plan.clock.unix_us(Instant::now());
                let dues: Vec<u64> = if st.unpaced { vec![built_us; n] } else { dues };
                for (i, &due_us) in dues.iter().enumerate() {
                    let header = Header { producer: st.plan.index, seq: seq + i as u64, due_us };
                    st.plan.pool.encode_into(header, &mut bodies);
                }
                let bodies = bodies.freeze();
                for i in 0..n {
                    let payload = bodies.slice(i * len..(i + 1) * len);
                    batch.push(OutMessage { producer: st.plan.index, seq: seq + i as u64, payload });
                }
                // The send time: bodies built, the batch about to be handed over.
                let sent = Instant::now();
                let sent_us = st.plan.clock.unix_us(sent);
                let sent_in_window = sent >= st.plan.window_start && sent < st.plan.window_end;
                let sec = st.second(sent);
                for (i, due_us) in dues.into_iter().enumerate() {
                    let k = seq + i as u64;
                    let measured = due_us >= st.window_start_us && due_us < st.window_end_us;
                    st.report.ledger.note_sent(k, measured);
                    if measured {
                        if sent_in_window {
                            st.report.sent_in_window += 1;
                        }
                        if !st.unpaced {
                            let lag = sent_us.saturating_sub(due_us);
                            st.schedule_delay.record(lag);
                            if due_us < early_end {
                                st.report.lag_start_us = st.report.lag_start_us.max(lag);
                            } else if due_us >= late_start {
                                st.report.lag_end_us = st.report.lag_end_us.max(lag);
                            }
                        }
                    }
                    st.window.push_back(InFlight { due_us, sent_us, measured, done: false });
                }
                st.report.series.at(sec).sent += n as u64;
                st.in_flight += n;
                acks.clear();
                // Acknowledgements of earlier batches are taken in (and
                // stamped) while the adapter takes this one.
                let sent_result = {
                    let mut send = producer.send(&batch, &mut acks);
                    loop {
                        tokio::select! {
                            biased;
                            r = &mut send => break r,
                            Some((first, n, r, at)) = pending.next(), if !pending.is_empty() => {
                                st.on_ack(first, n, r, at);
                            }
                        }
                    }
                };
                if let Err(e) = sent_result {
                    st.report.fatal = Some(format!("producer {}: {e:#}", st.plan.index));
                    let first = seq;
                    seq += n as u64;
                    let now = Instant::now();
                    st.on_ack(first, n, Err(format!("{e:#}")), now);
                    sending = false;
                    st.stop_sending(schedule.as_ref(), seq, now);
                    continue;
                }
                st.plan.live.sent.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                let covered: usize = acks.iter().map(|a| a.messages).sum();
                debug_assert_eq!(covered, n, "adapter acks must cover the batch");
                let mut first = seq;
                for ack in acks.drain(..) {
                    let m = ack.messages;
                    match ack.state {
                        AckState::Done(r) => st.on_ack(first, m, r, Instant::now()),
                        AckState::Pending(fut) => {
                            pending.push(Box::pin(fut.map(move |r| (first, m, r, Instant::now()))))
                        }
                    }
                    first += m as u64;
                }
                if covered < n {
                    st.on_ack(first, n - covered, Err("adapter gave no acknowledgement".into()), Instant::now());
                }
                seq += n as u64;
                continue;
            }
        }
        if !sending && st.in_flight == 0 {
            break;
        }
        // Wait for whatever comes first: an ack, newly due messages, the end
        // of the window, or the deadline for outstanding acks.
        let wake_at = if !sending {
            st.plan.deadline
        } else if now < st.plan.window_end {
            st.plan.window_end
        } else {
            st.plan.send_until
        };
        let window_full = st.in_flight >= st.plan.in_flight;
        tokio::select! {
            biased;
            Some((first, n, r, at)) = pending.next(), if !pending.is_empty() => {
                st.on_ack(first, n, r, at);
            }
            _ = async { pacer.as_ref().unwrap().notify.notified().await }, if sending && pacer.is_some() && !window_full => {}
            _ = tokio::time::sleep_until(wake_at.into()) => {
                if !sending {
                    st.fail_outstanding("no acknowledgement before the drain deadline");
                    break;
                }
            }
        }
    }
    if let Some(p) = &pacer {
        p.stop();
    }
    let flush = tokio::time::timeout(
        st.plan.deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(100)),
        producer.flush(),
    )
    .await;
    if let Ok(Err(e)) = flush {
        *st.report.errors.entry(format!("flush: {e:#}")).or_default() += 1;
    }
    let _ = producer.close().await;
    st.report.publish = std::mem::take(&mut st.publish).finish();
    st.report.service = std::mem::take(&mut st.service).finish();
    st.report.schedule_delay = std::mem::take(&mut st.schedule_delay).finish();
    if st.unpaced {
        let sent = st.report.ledger.sent();
        if sent > 0 {
            st.report.schedule_delay.0.record_n(0, sent).expect("auto-resizing histogram");
        }
    }
    st.report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::Ack;
    use async_trait::async_trait;

    /// A producer whose `send` fails after `ok_batches` batches, takes
    /// `send_takes` from the second batch on, and acknowledges each batch
    /// `ack_after` after it was taken.
    struct Fake {
        ok_batches: usize,
        batches: usize,
        send_takes: Duration,
        ack_after: Duration,
    }

    #[async_trait]
    impl Producer for Fake {
        async fn send(&mut self, batch: &[OutMessage], acks: &mut Vec<Ack>) -> anyhow::Result<()> {
            if self.batches >= self.ok_batches {
                anyhow::bail!("connection lost");
            }
            self.batches += 1;
            if self.batches > 1 && !self.send_takes.is_zero() {
                tokio::time::sleep(self.send_takes).await;
            }
            if self.ack_after.is_zero() {
                acks.push(Ack::done(batch.len()));
            } else {
                let at = tokio::time::Instant::now() + self.ack_after;
                acks.push(Ack::pending(batch.len(), async move {
                    tokio::time::sleep_until(at).await;
                    Ok(())
                }));
            }
            Ok(())
        }
    }

    fn plan(msgs_per_s: Option<f64>, window: Duration, payload: usize, in_flight: usize) -> ProducerPlan {
        let t0 = Instant::now();
        ProducerPlan {
            index: 0,
            clock: Clock::new(),
            t0,
            series_origin: t0,
            window_start: t0,
            window_end: t0 + window,
            send_until: t0 + window + Duration::from_millis(50),
            deadline: t0 + window + Duration::from_millis(500),
            msgs_per_s,
            in_flight,
            pool: BodyPool::new(payload),
            live: Arc::new(Live::new(1, 1, 1)),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn messages_never_sent_after_a_fatal_error_are_unsent() {
        // 1000 msg/s for 1 s; the connection is lost at the 100th message.
        let fake = Fake { ok_batches: 99, batches: 0, send_takes: Duration::ZERO, ack_after: Duration::ZERO };
        let r = run(Box::new(fake), plan(Some(1000.0), Duration::from_secs(1), 100, 1)).await;
        assert!(r.fatal.as_deref().is_some_and(|e| e.contains("connection lost")), "{:?}", r.fatal);
        let l = &r.ledger;
        // 99 acknowledged, the 100th failed, the other 900 were never sent.
        assert_eq!((l.sent(), l.acked.count_in(0, 1000), l.failed), (100, 99, 1));
        assert_eq!(l.unsent, 900);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_acknowledgement_is_stamped_when_it_arrives_not_when_the_next_send_returns() {
        // 50 msg/s: message 0 is acknowledged 40 ms after its send, while
        // the send of message 1 (due at 20 ms) takes 200 ms.
        let fake = Fake {
            ok_batches: usize::MAX,
            batches: 0,
            send_takes: Duration::from_millis(200),
            ack_after: Duration::from_millis(40),
        };
        let r = run(Box::new(fake), plan(Some(50.0), Duration::from_millis(30), 100, 10)).await;
        assert_eq!(r.ledger.sent(), 2);
        let first = r.publish.0.min();
        assert!(first < 100_000, "message 0's publish latency {first} µs includes the next send's 200 ms");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn service_time_starts_once_the_bodies_are_built() {
        // Unthrottled 100 KB bodies acknowledged at once: building a batch
        // of 256 takes milliseconds, the acknowledgement none.
        let fake = Fake { ok_batches: usize::MAX, batches: 0, send_takes: Duration::ZERO, ack_after: Duration::ZERO };
        let r = run(Box::new(fake), plan(None, Duration::from_millis(300), 100_000, 256)).await;
        let (service, publish) = (r.service.quantile(0.5), r.publish.quantile(0.5));
        assert!(publish > 0 && service * 5 < publish, "service p50 {service} µs, publish p50 {publish} µs");
    }
}
