//! The producer task: sends on schedule (or as fast as the window allows),
//! keeps a bounded window of unacknowledged messages, and records publish
//! latency from the due time and service time from the actual send.

use super::clock::Clock;
use super::live::Live;
use super::pacer::{Pacer, Schedule};
use crate::adapter::{Ack, AckState, OutMessage, Producer, SendError};
use crate::measure::{BodyPool, Header, LatencyHistogram, ProducerLedger, Series};
use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most messages handed to the adapter at once.
const MAX_BATCH: usize = 256;
/// How long after the window closes a paced producer may still send
/// messages that fell due inside it.
const SEND_GRACE: Duration = Duration::from_millis(50);

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
    /// Measured messages due in the window but never sent (behind schedule).
    pub unsent: u64,
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

type AckResult = (u64, usize, Result<(), SendError>);

struct State {
    plan: ProducerPlan,
    report: ProducerReport,
    /// Metadata of unacknowledged messages, from `base` on.
    window: VecDeque<InFlight>,
    base: u64,
    in_flight: usize,
    window_start_us: u64,
    window_end_us: u64,
    /// Unthrottled: the due time is the send time, so service time equals
    /// publish latency and the schedule delay is zero; both are filled in
    /// once at the end instead of per message.
    unpaced: bool,
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
                        self.report.publish.record(publish);
                        if !self.unpaced {
                            self.report.service.record(at_us.saturating_sub(sent_us));
                        }
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

    /// Everything still unacknowledged fails with `why`.
    fn fail_outstanding(&mut self, why: &str) {
        let first = self.base;
        let n = self.window.len();
        let outstanding: Vec<u64> =
            (first..first + n as u64).filter(|s| !self.window[(s - first) as usize].done).collect();
        let now = Instant::now();
        for seq in outstanding {
            if seq >= self.base {
                self.on_ack(seq, 1, Err(why.to_string()), now);
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
    let seq_limit = plan.pool.seq_limit();
    let mut st = State {
        report: ProducerReport { ledger: ProducerLedger::new(plan.index), ..Default::default() },
        window: VecDeque::with_capacity(plan.in_flight),
        base: 0,
        in_flight: 0,
        window_start_us,
        window_end_us,
        unpaced: schedule.is_none(),
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
        while let Some(Some((first, n, r))) = pending.next().now_or_never() {
            st.on_ack(first, n, r, Instant::now());
        }
        let now = Instant::now();
        if sending {
            let window_over = now >= st.plan.window_end;
            let due_now = match (&schedule, &pacer) {
                (Some(s), Some(p)) => {
                    // Messages due before the window closed are still sent
                    // for a short grace (the pacer may release the last of
                    // them a moment late); after that, what is still due is
                    // counted as unsent, never quietly dropped.
                    let grace_over = now >= st.plan.window_end + SEND_GRACE;
                    if seq >= s.total || grace_over {
                        sending = false;
                        st.report.unsent = (seq..s.total)
                            .filter(|k| {
                                let due_us = st.plan.clock.unix_us(s.due(*k));
                                due_us >= window_start_us && due_us < window_end_us
                            })
                            .count() as u64;
                    }
                    if window_over {
                        s.total.saturating_sub(seq)
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
            if seq >= seq_limit {
                sending = false;
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
                let mut headers = Vec::with_capacity(n);
                let sent = Instant::now();
                let sent_us = st.plan.clock.unix_us(sent);
                let sent_in_window = sent >= st.plan.window_start && sent < st.plan.window_end;
                let sec = st.second(sent);
                for i in 0..n as u64 {
                    let k = seq + i;
                    let due_us = match &schedule {
                        Some(s) => st.plan.clock.unix_us(s.due(k)),
                        None => sent_us,
                    };
                    let measured = due_us >= st.window_start_us && due_us < st.window_end_us;
                    st.report.ledger.note_sent(k, measured);
                    if measured {
                        if sent_in_window {
                            st.report.sent_in_window += 1;
                        }
                        if !st.unpaced {
                            let lag = sent_us.saturating_sub(due_us);
                            st.report.schedule_delay.record(lag);
                            if due_us < early_end {
                                st.report.lag_start_us = st.report.lag_start_us.max(lag);
                            } else if due_us >= late_start {
                                st.report.lag_end_us = st.report.lag_end_us.max(lag);
                            }
                        }
                    }
                    st.window.push_back(InFlight { due_us, sent_us, measured, done: false });
                    let header = Header { producer: st.plan.index, seq: k, due_us };
                    st.plan.pool.encode_into(header, &mut bodies);
                    headers.push(header);
                }
                let bodies = bodies.freeze();
                for (i, h) in headers.iter().enumerate() {
                    let payload = bodies.slice(i * len..(i + 1) * len);
                    batch.push(OutMessage { producer: h.producer, seq: h.seq, payload });
                }
                st.report.series.at(sec).sent += n as u64;
                st.in_flight += n;
                acks.clear();
                if let Err(e) = producer.send(&batch, &mut acks).await {
                    st.report.fatal = Some(format!("producer {}: {e:#}", st.plan.index));
                    let first = seq;
                    seq += n as u64;
                    st.on_ack(first, n, Err(format!("{e:#}")), Instant::now());
                    sending = false;
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
                        AckState::Pending(fut) => pending.push(Box::pin(fut.map(move |r| (first, m, r)))),
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
            st.plan.window_end + SEND_GRACE
        };
        let window_full = st.in_flight >= st.plan.in_flight;
        tokio::select! {
            biased;
            Some((first, n, r)) = pending.next(), if !pending.is_empty() => {
                st.on_ack(first, n, r, Instant::now());
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
    if st.unpaced {
        st.report.service = st.report.publish.clone();
        let sent = st.report.ledger.sent();
        if sent > 0 {
            st.report.schedule_delay.0.record_n(0, sent).expect("auto-resizing histogram");
        }
    }
    st.report
}
