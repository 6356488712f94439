//! The consumer task: takes deliveries, checks each body, and records
//! end-to-end latency from the message's due time.
//!
//! Only the first copy of a message in a subscription (at whichever of its
//! consumers it arrives first) is an end-to-end sample; every further copy
//! of a measured message, at the same consumer or another one of the
//! subscription, goes to the `redelivered` histogram instead, so that
//! redeliveries neither inflate the end-to-end tail nor go unseen.

use super::clock::{micros_between, Clock};
use super::live::Live;
use crate::adapter::{Consumer, Delivery};
use crate::measure::payload::DecodeError;
use crate::measure::payload::Plausible;
use crate::measure::{BodyPool, ConsumerLedger, Delivered, Header, LatencyHistogram, LatencyRecorder, Series};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How often a consumer hands its recent latencies to the progress display.
const LIVE_EVERY: Duration = Duration::from_millis(100);
/// One message in this many feeds the live display's p99.
const LIVE_SAMPLE: u64 = 8;

#[derive(Clone)]
pub struct ConsumerPlan {
    pub subscription: u32,
    /// The producers of this consumer's topic: ids `first_producer ..
    /// first_producer + producers` (other ids are `foreign`).
    pub first_producer: u32,
    /// Where this consumer's topic and subscription keep what they
    /// received in `live.seen` ([`Live::slot`]).
    pub slot: usize,
    /// Subscriptions per topic.
    pub subscriptions: u32,
    pub producers: u32,
    pub clock: Clock,
    /// Start of the per-second series (see `ProducerPlan`).
    pub series_origin: Instant,
    pub window_start: Instant,
    pub window_end: Instant,
    /// What a body's header must agree with (see [`Plausible`]).
    pub plausible: Plausible,
    pub pool: BodyPool,
    /// Compare every body byte with what was sent.
    pub verify: bool,
    pub live: Arc<Live>,
}

#[derive(Default)]
pub struct ConsumerReport {
    pub ledger: ConsumerLedger,
    /// First copies of measured messages in the subscription.
    pub end_to_end: LatencyHistogram,
    /// Further copies of measured messages in the subscription.
    pub redelivered: LatencyHistogram,
    pub series: Series,
    /// Messages (first copies in the subscription, whatever their due time)
    /// received while the window was open: the consume rate.
    pub received_while_open: u64,
    /// Every message received (first copies in the subscription), measured
    /// or not.
    pub received_total: u64,
    /// When the first and the last of them arrived.
    pub first_received_at: Option<Instant>,
    pub last_received_at: Option<Instant>,
    pub fatal: Option<String>,
}

/// Receives until `stop` is cancelled (or the consumer fails).
pub async fn run(mut consumer: Box<dyn Consumer>, plan: ConsumerPlan, stop: CancellationToken) -> ConsumerReport {
    let mut report =
        ConsumerReport { ledger: ConsumerLedger::new(plan.subscription, plan.producers), ..Default::default() };
    let (ws, we) = (plan.clock.unix_us(plan.window_start), plan.clock.unix_us(plan.window_end));
    // The report's histograms, filled at the end (see `LatencyRecorder`).
    let (mut end_to_end, mut redelivered) = (LatencyRecorder::default(), LatencyRecorder::default());
    let mut recent = LatencyHistogram::new();
    let mut last_live = Instant::now();
    let mut buf: Vec<Delivery> = Vec::with_capacity(4096);
    let mut seen_count = 0u64;
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            r = consumer.recv(&mut buf) => {
                if let Err(e) = r {
                    report.fatal = Some(format!("consumer of subscription {}: {e:#}", plan.subscription));
                    break;
                }
            }
        }
        let now = Instant::now();
        let now_us = plan.clock.unix_us(now);
        let in_window = now >= plan.window_start && now < plan.window_end;
        let bucket = report.series.at(micros_between(plan.series_origin, now) as usize / 1_000_000);
        // First copies at this consumer: whether they are the first in the
        // subscription is settled under its lock, once per batch.
        let mut firsts: Vec<Header> = Vec::with_capacity(buf.len());
        for d in buf.drain(..) {
            let h = match plan.pool.decode(&d.payload, now_us, plan.verify) {
                Ok(mut h) if h.producer.wrapping_sub(plan.first_producer) < plan.producers => {
                    // The ledger counts the topic's producers from 0.
                    h.producer -= plan.first_producer;
                    h
                }
                Ok(_) | Err(DecodeError::WrongLength) => {
                    report.ledger.foreign += 1;
                    continue;
                }
                Err(DecodeError::Corrupt) => {
                    report.ledger.corrupt += 1;
                    continue;
                }
            };
            if !plan.plausible.check(&h, now_us) {
                report.ledger.corrupt += 1;
                continue;
            }
            let measured = h.due_us >= ws && h.due_us < we;
            if report.ledger.record(h.producer, h.seq, d.partition, measured) == Delivered::Duplicate {
                if measured {
                    redelivered.record(now_us.saturating_sub(h.due_us));
                }
                continue;
            }
            firsts.push(h);
        }
        let mut fresh = 0u64;
        if !firsts.is_empty() {
            let mut seen = plan.live.seen[plan.slot].lock().unwrap();
            for h in firsts {
                let measured = h.due_us >= ws && h.due_us < we;
                let latency = now_us.saturating_sub(h.due_us);
                if !seen[h.producer as usize].insert(h.seq) {
                    // Another consumer of the subscription had it first.
                    if measured {
                        redelivered.record(latency);
                    }
                    continue;
                }
                fresh += 1;
                if measured {
                    end_to_end.record(latency);
                }
                bucket.end_to_end.record(latency);
                // The live display's p99 needs a sample, not every message.
                seen_count += 1;
                if seen_count.is_multiple_of(LIVE_SAMPLE) {
                    recent.record(latency);
                }
            }
        }
        if in_window {
            report.received_while_open += fresh;
        }
        bucket.received += fresh;
        if fresh > 0 {
            report.received_total += fresh;
            report.first_received_at.get_or_insert(now);
            report.last_received_at = Some(now);
        }
        plan.live.received.fetch_add(fresh, Ordering::Relaxed);
        if now.duration_since(last_live) >= LIVE_EVERY {
            plan.live.recent.lock().unwrap().add(&recent);
            recent.0.reset();
            last_live = now;
        }
    }
    let _ = consumer.close().await;
    report.end_to_end = end_to_end.finish();
    report.redelivered = redelivered.finish();
    report
}
