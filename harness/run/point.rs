//! Runs one point: connect, prepare, consumers ready, producers on
//! schedule through warm-up and the window, bounded drain, then accounting.
//! A failure anywhere gives a failed point with the error recorded.

use super::clock::Clock;
use super::consumer::{self, ConsumerPlan, ConsumerReport};
use super::live::Live;
use super::pacer::Schedule;
use super::producer::{self, ProducerPlan, ProducerReport};
use super::topics::TopicPlan;
use super::usage::Usage;
use crate::adapter::{self, ConnectContext, Session};
use crate::measure::payload::Plausible;
use crate::measure::{BodyPool, LatencyHistogram, Series};
use crate::results::{Histograms, Latencies, LowerBounds, PointResult, Resources, Status, Throughput};
use crate::scenario::Point;
use crate::system::resources::{sample_self, sample_tree};
use anyhow::{anyhow, Context};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Longest wait for connect, prepare, cleanup and consumer readiness.
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the progress callback is called (and the drain checks whether
/// everything has arrived).
const PROGRESS_EVERY: Duration = Duration::from_millis(250);
/// Least time after the window closes that a producer behind schedule may
/// still send messages due in it; it may take up to half the drain, leaving
/// the other half for them to be acknowledged and delivered.
const SEND_GRACE: Duration = Duration::from_millis(50);

/// A live view of a running point, for the progress display.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    pub phase: &'static str,
    pub elapsed: Duration,
    pub total: Duration,
    pub sent_per_s: f64,
    pub received_per_s: f64,
    pub e2e_p99_us: u64,
}

/// Where the broker of a point is.
pub struct PointTarget<'a> {
    pub endpoint: &'a str,
    /// The point's TLS and SASL, with a local broker's CA filled in.
    pub security: Option<crate::scenario::security::Security>,
    pub software_hint: Option<&'a str>,
    /// Processes whose CPU and memory are the broker's (local brokers).
    pub broker_pids: Vec<u32>,
    /// The control group whose CPU and memory are the broker's (brokers in
    /// containers); used instead of `broker_pids` when set.
    pub broker_cgroup: Option<crate::system::cgroup::ContainerCgroup>,
    /// Unique topic or queue name for this point (with `topics: N`, the
    /// stem of its N names).
    pub topic: String,
    /// Run only this worker's producers and consumers (`--shard i/N`).
    pub shard: Option<crate::results::Shard>,
    /// Leave the topic and its messages on the broker after the point.
    pub keep_topic: bool,
    /// Wait for every shard before starting the schedule (`--barrier`).
    pub barrier: Option<super::shard::StartBarrier>,
}

async fn within<T>(what: &str, fut: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    match tokio::time::timeout(SETUP_TIMEOUT, fut).await {
        Ok(r) => r.with_context(|| what.to_string()),
        Err(_) => Err(anyhow!("{what}: no answer within {}s", SETUP_TIMEOUT.as_secs())),
    }
}

/// A point result with everything empty, for points that did not run.
pub fn failed_result(point: &Point, error: String, software: String) -> PointResult {
    PointResult {
        id: point.id.clone(),
        repeat: point.repeat,
        broker: point.broker.name.clone(),
        adapter: point.broker.adapter.clone(),
        provision: point.broker.provision,
        broker_software: software,
        client: adapter::driver(&point.broker.adapter).map(|d| d.client()).unwrap_or_default(),
        params: point.params.clone(),
        status: Status::Failed,
        error: Some(crate::system::secrets::scrub(&error)),
        started_at: crate::results::env::now_rfc3339(),
        counts: Default::default(),
        by_producer: vec![],
        by_subscription: vec![],
        by_topic: vec![],
        out_of_order_by_partition: Default::default(),
        throughput: Throughput::default(),
        latency_us: Latencies::default(),
        histograms: Histograms::default(),
        lower_bounds: Default::default(),
        series: vec![],
        warnings: vec![],
        errors: Default::default(),
        resources: Resources::default(),
        adapter_stats: serde_json::Value::Null,
        window: None,
        probe: None,
        capacity: None,
    }
}

/// Runs `point`; never panics on broker trouble, always returns a result.
pub async fn run_point(
    point: &Point,
    target: &PointTarget<'_>,
    cancel: &CancellationToken,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> PointResult {
    let driver = match adapter::driver(&point.broker.adapter) {
        Ok(d) => d,
        Err(e) => return failed_result(point, e, "not measured".into()),
    };
    let password = match point.params.security.as_ref().map(|s| s.password()).transpose() {
        Ok(p) => p.flatten(),
        Err(e) => return failed_result(point, e, target.software_hint.unwrap_or("unknown").into()),
    };
    let ctx = ConnectContext {
        endpoint: target.endpoint,
        kind: &point.broker.adapter,
        options: &point.params.options,
        software_hint: target.software_hint,
        security: target.security.as_ref(),
        password: password.as_deref(),
    };
    let session = match within("connecting to the broker", driver.connect(&ctx)).await {
        Ok(s) => s,
        Err(e) => return failed_result(point, format!("{e:#}"), target.software_hint.unwrap_or("unknown").into()),
    };
    let topologies = super::topics::topologies(&point.params, &target.topic, target.shard);
    let started_at = crate::results::env::now_rfc3339();
    let outcome = measure(point, session.as_ref(), &topologies, target, cancel, progress).await;
    let cleanup = if target.keep_topic {
        Ok(())
    } else {
        super::topics::each(&topologies, "cleaning up", |t| session.cleanup(t)).await
    };
    let mut result = match outcome {
        Ok(r) => r,
        Err(e) => failed_result(point, format!("{e:#}"), session.broker_software()),
    };
    result.started_at = started_at;
    result.client = driver.client();
    for (k, v) in session.effective_options() {
        result.params.options.entry(k).or_insert(v);
    }
    result.adapter_stats = session.stats();
    if let Err(e) = cleanup {
        result.warnings.push(format!("cleanup failed: {e:#}"));
    }
    if target.keep_topic {
        let names: Vec<&str> = topologies.iter().map(|t| t.topology.topic.as_str()).collect();
        result.warnings.push(format!("kept `{}` and its messages on the broker (--keep-topics)", names.join("`, `")));
    }
    result
}

async fn measure(
    point: &Point,
    session: &dyn Session,
    topologies: &[TopicPlan],
    target: &PointTarget<'_>,
    cancel: &CancellationToken,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> anyhow::Result<PointResult> {
    let p = &point.params;
    super::topics::each(topologies, "preparing", |t| session.prepare(t)).await?;
    let pool = BodyPool::new(p.payload_bytes as usize);
    let live = Arc::new(Live::new(p.topics, p.subscriptions, p.producers));
    let clock = Clock::new();

    // A backlog point attaches its consumers once the producers are done.
    let consumers = if p.backlog { Vec::new() } else { attach_consumers(p, session, topologies, target).await? };
    // Global producer ids (over every topic and shard): the id is what the
    // payload header carries.
    let producers = super::topics::producers(session, topologies).await?;

    // Everything is connected: the schedule starts now, or when every
    // shard is ready.
    let t0 = match &target.barrier {
        None => Instant::now() + Duration::from_millis(5),
        Some(b) => tokio::select! {
            start = b.wait(&point.id, point.repeat) => start?,
            _ = cancel.cancelled() => anyhow::bail!("interrupted ({}) while waiting for the other shards", crate::system::stop_signal::describe()),
        },
    };
    let window_start = t0 + p.warmup();
    let window_end = window_start + p.duration();
    let deadline = window_end + p.drain();
    let lead_s = p.warmup_s.ceil();
    let series_origin = window_start.checked_sub(Duration::from_secs_f64(lead_s)).unwrap_or(t0);
    let stop = CancellationToken::new();
    // Consumers stop when this point ends however it ends: an early `?`
    // or a panic below must not leave them reading in the background.
    let _stop_on_exit = stop.clone().drop_guard();
    let per_producer = p.rate.msgs_per_s().map(|r| r / p.all_producers() as f64);
    let consumer_plan = ConsumerPlan {
        subscription: 0,
        first_producer: 0,
        slot: 0,
        subscriptions: p.subscriptions,
        producers: p.producers,
        clock,
        series_origin,
        window_start,
        window_end,
        plausible: Plausible {
            t0_us: clock.unix_us(t0),
            interval_ns: per_producer.map(|r| Schedule::new(t0, r, Duration::ZERO).interval_ns),
        },
        pool: pool.clone(),
        verify: true,
        live: live.clone(),
    };
    let mut consumer_tasks = spawn_consumers(consumers, &consumer_plan, &stop);
    // Backlog points: when the consumers attached and started draining.
    let mut drain_started: Option<Instant> = None;
    let mut deadline = deadline;
    let producer_topics: Vec<u32> = producers.iter().map(|(i, _)| i / p.producers).collect();
    let send_until = window_end + SEND_GRACE.max(p.drain() / 2);
    let producer_tasks: Vec<_> = producers
        .into_iter()
        .map(|(i, prod)| {
            let plan = ProducerPlan {
                index: i,
                clock,
                // Phases spread over one interval: an even offered rate.
                t0: t0 + per_producer.map_or(Duration::ZERO, |r| super::pacer::phase(i, p.all_producers(), r)),
                series_origin,
                window_start,
                window_end,
                send_until,
                deadline,
                msgs_per_s: per_producer,
                in_flight: p.in_flight as usize,
                pool: pool.clone(),
                live: live.clone(),
            };
            tokio::spawn(producer::run(prod, plan))
        })
        .collect();

    // Watch: progress, resources during the window, and Ctrl-C.
    let total = deadline.duration_since(t0);
    let (mut harness_use, mut broker_use) = (Usage::default(), Usage::default());
    let (mut last_sent, mut last_received, mut last_tick) = (0u64, 0u64, Instant::now());
    let mut acked: Option<Vec<crate::measure::ProducerLedger>> = None;
    let mut producer_reports: Vec<ProducerReport> = Vec::new();
    let mut producer_tasks = Some(producer_tasks);
    let mut interrupted = false;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => { interrupted = true; }
            _ = tokio::time::sleep(PROGRESS_EVERY) => {}
        }
        let now = Instant::now();
        if interrupted {
            break;
        }
        let (sent, received) = (live.sent.load(Ordering::Relaxed), live.received.load(Ordering::Relaxed));
        if now >= window_start && now <= window_end + PROGRESS_EVERY {
            // Messages handled: received where consumers run in the window,
            // sent otherwise (produce-only and backlog points).
            let handled = if p.subscriptions > 0 && !p.backlog { received } else { sent };
            harness_use.add(sample_self(), handled);
            if let Some(sample) = target.broker_cgroup.as_ref().and_then(|c| c.sample()) {
                broker_use.add(sample, handled);
            } else if !target.broker_pids.is_empty() {
                broker_use.add(sample_tree(&target.broker_pids), handled);
            }
        }
        let dt = now.duration_since(last_tick).as_secs_f64().max(1e-3);
        progress(&Progress {
            phase: if now < window_start {
                "warm-up"
            } else if now < window_end {
                "measure"
            } else {
                "drain"
            },
            elapsed: now.saturating_duration_since(t0),
            total,
            sent_per_s: (sent - last_sent) as f64 / dt,
            received_per_s: (received - last_received) as f64 / dt,
            e2e_p99_us: live.take_recent().quantile(0.99),
        });
        (last_sent, last_received, last_tick) = (sent, received, now);
        if producer_tasks.as_ref().is_some_and(|t| t.iter().all(|h| h.is_finished())) {
            for h in producer_tasks.take().unwrap() {
                producer_reports.push(h.await.map_err(|e| anyhow!("producer task failed: {e}"))?);
            }
            acked = Some(producer_reports.iter().map(|r| r.ledger.clone()).collect());
            if p.backlog {
                let consumers = attach_consumers(p, session, topologies, target).await?;
                let now = Instant::now();
                drain_started = Some(now);
                deadline = now + p.drain();
                consumer_tasks = spawn_consumers(consumers, &consumer_plan, &stop);
            }
        }
        if let Some(ledgers) = &acked {
            if now >= deadline || live.all_received(ledgers, p.producers) {
                break;
            }
        }
    }
    if interrupted {
        for h in producer_tasks.into_iter().flatten() {
            h.abort();
        }
    }
    stop.cancel();
    let mut consumer_reports: Vec<(u32, ConsumerReport)> = Vec::new();
    for (topic, h) in consumer_tasks {
        consumer_reports.push((topic, h.await.map_err(|e| anyhow!("consumer task failed: {e}"))?));
    }
    if interrupted {
        anyhow::bail!("interrupted ({}) while the point was running", crate::system::stop_signal::describe());
    }
    let drained =
        drain_started.map(|start| drain_rate(start, &consumer_reports.iter().map(|(_, c)| c).collect::<Vec<_>>()));
    let producer_reports = producer_topics.into_iter().zip(producer_reports).collect();
    let mut result = assemble(point, session, target, producer_reports, consumer_reports, lead_s);
    result.window = Some(crate::results::MeasuredWindow {
        start_unix_us: clock.unix_us(window_start),
        end_unix_us: clock.unix_us(window_end),
    });
    if let Some((msgs_per_s, secs, lead)) = drained {
        result.throughput.consume_msgs_per_s = msgs_per_s;
        result.throughput.consume_bytes_per_s = msgs_per_s * p.payload_bytes as f64;
        result.warnings.push(format!(
            "backlog point: consumers attached after the producers were done and drained the backlog in {secs:.2} s from the first message (which came {:.0} ms after they were ready); consume throughput is that catch-up read rate, and end-to-end latency includes the wait",
            lead * 1000.0
        ));
    }
    result.resources = Resources { harness: harness_use.finish(), broker: broker_use.finish() };
    Ok(result)
}

/// Creates every consumer of the point (this shard's share, on every
/// topic) and waits until all are ready (subscribed, partitions assigned).
async fn attach_consumers(
    p: &crate::scenario::Params,
    session: &dyn Session,
    topologies: &[TopicPlan],
    target: &PointTarget<'_>,
) -> anyhow::Result<Vec<super::topics::TopicConsumer>> {
    let mine = super::shard::consumers(target.shard, p.consumers);
    let mut consumers = super::topics::consumers(session, topologies, p.subscriptions, &mine).await?;
    let ready = futures::future::try_join_all(consumers.iter_mut().map(|c| c.consumer.ready()));
    within("waiting for every consumer to be ready (subscribed, partitions assigned)", ready).await?;
    Ok(consumers)
}

/// Spawns the consumer tasks, each with its topic's producer ids.
fn spawn_consumers(
    consumers: Vec<super::topics::TopicConsumer>,
    plan: &ConsumerPlan,
    stop: &CancellationToken,
) -> Vec<(u32, tokio::task::JoinHandle<ConsumerReport>)> {
    consumers
        .into_iter()
        .map(|c| {
            let plan = ConsumerPlan {
                subscription: c.subscription,
                first_producer: c.topic * plan.producers,
                slot: Live::slot(c.topic, c.subscription, plan.subscriptions),
                ..plan.clone()
            };
            (c.topic, tokio::spawn(consumer::run(c.consumer, plan, stop.clone())))
        })
        .collect()
}

/// A backlog point's consume rate: every message received (warm-up ones
/// too: they are part of the backlog) over the time from the first receipt
/// to the last, as `rdkafka_performance -C` times its rate (the first
/// receipt's messages count, as the tool counts its first message); from
/// the consumers' start instead when everything came in one receipt.
/// Returns the rate, that time and the time from the start to the first
/// receipt, in seconds.
fn drain_rate(start: Instant, consumers: &[&ConsumerReport]) -> (f64, f64, f64) {
    let received: u64 = consumers.iter().map(|c| c.received_total).sum();
    let first = consumers.iter().filter_map(|c| c.first_received_at).min().unwrap_or(start);
    let last = consumers.iter().filter_map(|c| c.last_received_at).max().unwrap_or(start);
    let from = if last > first { first } else { start };
    let secs = last.saturating_duration_since(from).as_secs_f64();
    let lead = first.saturating_duration_since(start).as_secs_f64();
    (if secs > 0.0 { received as f64 / secs } else { 0.0 }, secs, lead)
}

/// Turns task reports into a point result (counts, latency, warnings).
/// Reports are tagged with their topic index.
fn assemble(
    point: &Point,
    session: &dyn Session,
    target: &PointTarget<'_>,
    producers: Vec<(u32, ProducerReport)>,
    consumers: Vec<(u32, ConsumerReport)>,
    series_lead_s: f64,
) -> PointResult {
    let p = &point.params;
    let (accounting, by_topic) = super::topics::account_topics(p, &producers, &consumers);
    let producers: Vec<ProducerReport> = producers.into_iter().map(|(_, r)| r).collect();
    let consumer_ledgers: Vec<_> = consumers.iter().map(|(t, r)| (*t, r.ledger.clone())).collect();
    let consumers: Vec<ConsumerReport> = consumers.into_iter().map(|(_, r)| r).collect();
    let (mut publish, mut service, mut delay, mut e2e, mut redelivered) = (
        LatencyHistogram::new(),
        LatencyHistogram::new(),
        LatencyHistogram::new(),
        LatencyHistogram::new(),
        LatencyHistogram::new(),
    );
    let mut lower_bounds = LowerBounds::default();
    let mut series = Series::default();
    let mut errors = std::collections::BTreeMap::new();
    let mut fatal = None;
    for r in &producers {
        publish.add(&r.publish);
        service.add(&r.service);
        delay.add(&r.schedule_delay);
        series.add(&r.series);
        for (k, v) in &r.errors {
            *errors.entry(k.clone()).or_insert(0) += v;
        }
        fatal = fatal.or(r.fatal.clone());
        lower_bounds.publish += r.lower_bounds;
        // A message that never reached the broker reaches no subscription:
        // each gets its time outstanding as an end-to-end lower bound too.
        for s in 0..p.subscriptions {
            e2e.add(&r.unsent_lower_bounds);
            lower_bounds.end_to_end += r.unsent_lower_bounds.count();
            for &(seq, bound) in &r.unacknowledged {
                let (topic, local) = (r.ledger.producer / p.producers, (r.ledger.producer % p.producers) as usize);
                let received = consumer_ledgers
                    .iter()
                    .filter(|(t, c)| *t == topic && c.subscription == s)
                    .any(|(_, c)| c.received.get(local).is_some_and(|set| set.contains(seq)));
                if !received {
                    e2e.record(bound);
                    lower_bounds.end_to_end += 1;
                }
            }
        }
    }
    let mut received_while_open = 0;
    for r in &consumers {
        e2e.add(&r.end_to_end);
        redelivered.add(&r.redelivered);
        series.add(&r.series);
        received_while_open += r.received_while_open;
        fatal = fatal.or(r.fatal.clone());
    }
    let secs = p.duration_s;
    let bytes = p.payload_bytes as f64;
    let c = &accounting.counts;
    let sent_in_window: u64 = producers.iter().map(|r| r.sent_in_window).sum();
    let throughput = Throughput {
        send_msgs_per_s: sent_in_window as f64 / secs,
        publish_msgs_per_s: c.acked as f64 / secs,
        publish_bytes_per_s: c.acked as f64 * bytes / secs,
        consume_msgs_per_s: received_while_open as f64 / secs,
        consume_bytes_per_s: received_while_open as f64 * bytes / secs,
    };
    let mut warnings = Vec::new();
    if let Some(rate) = p.rate.msgs_per_s() {
        // A shard is judged against its own share of the producers.
        let mine = super::shard::producers(target.shard, p.all_producers()).len() as f64;
        let share = rate * mine / p.all_producers().max(1) as f64;
        let achieved = throughput.send_msgs_per_s;
        if achieved < 0.99 * share {
            let of = match target.shard {
                Some(s) => format!("this shard's share ({}/{}) of the target, {share:.0} msg/s", s.index, s.count),
                None => format!("the target {share:.0} msg/s"),
            };
            warnings.push(format!(
                "behind schedule: producers sent {achieved:.0} msg/s in the window, {:.1}% under {of}",
                100.0 * (1.0 - achieved / share)
            ));
        }
        if c.unsent > 0 {
            warnings.push(format!(
                "{} messages due in the window were never sent (producers behind schedule, or stopped)",
                c.unsent
            ));
        }
        let start = producers.iter().map(|r| r.lag_start_us).max().unwrap_or(0);
        let end = producers.iter().map(|r| r.lag_end_us).max().unwrap_or(0);
        if end > 50_000 && end > 2 * start {
            warnings.push(format!(
                "schedule delay grew from {:.1} ms to {:.1} ms over the window: the producers could not keep the rate",
                start as f64 / 1e3,
                end as f64 / 1e3
            ));
        }
    }
    for (name, n) in [
        ("lost", c.lost),
        ("duplicated", c.duplicated),
        ("out of order", c.out_of_order),
        ("failed", c.failed),
        ("corrupt", c.corrupt),
        ("foreign (not this point's)", c.foreign),
    ] {
        if n > 0 {
            warnings.push(format!("{n} messages {name}"));
        }
    }
    if lower_bounds.publish + lower_bounds.end_to_end > 0 {
        warnings.push(format!(
            "{} publish and {} end-to-end samples are lower bounds (messages still unsent or unacknowledged at the deadline, counted with their time outstanding until it)",
            lower_bounds.publish, lower_bounds.end_to_end
        ));
    }
    if point.params.subscriptions == 0 {
        warnings.push("produce-only point (subscriptions: 0): nothing is consumed, no end-to-end latency".into());
    } else if c.acked > 0 && c.received == 0 {
        warnings.push("nothing was received".into());
    }
    PointResult {
        id: point.id.clone(),
        repeat: point.repeat,
        broker: point.broker.name.clone(),
        adapter: point.broker.adapter.clone(),
        provision: point.broker.provision,
        broker_software: session.broker_software(),
        client: String::new(),
        params: p.clone(),
        status: if fatal.is_some() { Status::Failed } else { Status::Ok },
        error: fatal,
        started_at: String::new(),
        counts: accounting.counts.clone(),
        by_producer: accounting.by_producer,
        by_subscription: accounting.by_subscription,
        by_topic,
        out_of_order_by_partition: accounting.out_of_order_by_partition,
        throughput,
        latency_us: Latencies {
            publish: publish.summary(),
            service: service.summary(),
            end_to_end: e2e.summary(),
            schedule_delay: delay.summary(),
            redelivered: redelivered.summary(),
        },
        histograms: Histograms {
            publish: publish.encode(),
            service: service.encode(),
            end_to_end: e2e.encode(),
            redelivered: redelivered.encode(),
        },
        lower_bounds,
        series: series.points(series_lead_s, p.duration_s, p.subscriptions),
        warnings,
        errors,
        resources: Resources::default(),
        adapter_stats: serde_json::Value::Null,
        window: None,
        probe: None,
        capacity: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipts(start: Instant, first_ms: u64, last_ms: u64, received: u64) -> ConsumerReport {
        ConsumerReport {
            received_total: received,
            first_received_at: Some(start + Duration::from_millis(first_ms)),
            last_received_at: Some(start + Duration::from_millis(last_ms)),
            ..Default::default()
        }
    }

    #[test]
    fn a_drain_is_timed_from_the_first_receipt_of_any_consumer_to_the_last() {
        let start = Instant::now();
        let consumers = [receipts(start, 100, 900, 600), receipts(start, 300, 1100, 400)];
        let (rate, secs, lead) = drain_rate(start, &consumers.iter().collect::<Vec<_>>());
        assert!((secs - 1.0).abs() < 1e-9 && (lead - 0.1).abs() < 1e-9, "{secs} {lead}");
        assert!((rate - 1000.0).abs() < 1e-6, "{rate}");
    }

    #[test]
    fn a_drain_in_one_receipt_is_timed_from_the_consumers_start() {
        let start = Instant::now();
        let (rate, secs, _) = drain_rate(start, &[&receipts(start, 50, 50, 100)]);
        assert!((secs - 0.05).abs() < 1e-9, "{secs}");
        assert!((rate - 2000.0).abs() < 1e-6, "{rate}");
        // Nothing received: no rate, not a division by zero.
        assert_eq!(drain_rate(start, &[&ConsumerReport::default()]).0, 0.0);
    }
}
