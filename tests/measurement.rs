//! Numbers that hold at the edges, against the loopback adapter's injected
//! faults: a stall at the end of the window counts as one in its middle,
//! what is outstanding at the deadline is a lower bound and not a gap, the
//! drain waits for every acknowledged message (not for a count), and the
//! consume rate is the rate at which consumers read.

mod common;

use mqbench::results::{PointResult, ResultsFile, Status};

async fn run_yaml(text: &str) -> ResultsFile {
    common::run_scenario("measurement.yaml", text).await
}

fn only_point(r: &ResultsFile) -> &PointResult {
    assert_eq!(r.points.len(), 1);
    let p = &r.points[0];
    assert_eq!(p.status, Status::Ok, "{:?}", p.error);
    p
}

/// 10,000 msg/s with 5 in flight over a 4 s window; the loopback broker
/// stalls 300 ms every `every` (its clock starts a few ms before the window).
async fn stalled(every: &str) -> PointResult {
    let r = run_yaml(&format!(
        "workload:\n  payload: 100B\n  rate: 10000msgps\n  in_flight: 5\n  warmup: 0s\n  duration: 4s\n  drain: 2s\n\
         brokers:\n  - name: loopback\n    options:\n      stall_every: {every}\n      stall_for: 300ms\n"
    ))
    .await;
    only_point(&r).clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_in_the_last_moments_of_the_window_shows_as_one_in_its_middle() {
    // Mid-window: a stall at 1.9-2.2 s (the next one is in the drain).
    // At the end: 3.8-4.1 s, running past the close of the window.
    let mid = stalled("2200ms").await;
    let end = stalled("4100ms").await;
    for p in [&mid, &end] {
        assert_eq!(p.counts.sent, 40_000, "{}: {:?}", p.id, p.warnings);
        assert_eq!((p.counts.unsent, p.counts.lost), (0, 0), "{:?}", p.warnings);
        assert_eq!(p.latency_us.publish.count, 40_000);
        assert_eq!(p.lower_bounds.publish, 0, "the stall ended before the deadline");
    }
    for (what, a, b) in [
        ("publish", mid.latency_us.publish.p99, end.latency_us.publish.p99),
        ("end-to-end", mid.latency_us.end_to_end.p99, end.latency_us.end_to_end.p99),
    ] {
        // A 300 ms stall over 7.5% (mid) and 5% (end) of the messages.
        assert!(a >= 150_000 && b >= 150_000, "{what} p99: {a} µs mid-window, {b} µs at the end");
        let ratio = a.max(b) as f64 / a.min(b) as f64;
        assert!(ratio < 1.5, "{what} p99: {a} µs mid-window, {b} µs at the end");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_outstanding_at_the_deadline_are_lower_bounds_not_gaps() {
    // 2000 msg/s, 2 s window, 1 s drain; the broker stalls from 1.8 s to
    // 3.5 s, past the deadline at 3 s: what fell due from 1.8 s on is never
    // acknowledged (5 in flight) or never sent.
    let r = run_yaml(
        "workload:\n  payload: 100B\n  rate: 2000msgps\n  in_flight: 5\n  warmup: 0s\n  duration: 2s\n  drain: 1s\n\
         brokers:\n  - name: loopback\n    options:\n      stall_every: 3500ms\n      stall_for: 1700ms\n",
    )
    .await;
    let p = only_point(&r);
    let c = &p.counts;
    let lb = &p.lower_bounds;
    assert_eq!(c.sent + c.unsent, 4000, "{c:?}");
    // At least the last 200 ms of the window (400 messages); more by the
    // few ms of setup between the broker's clock and the schedule's.
    assert!((350..=1000).contains(&(c.unsent + c.failed)), "{c:?}");
    assert_eq!(c.failed, 5, "the window of 5 waits out the deadline: {c:?}");
    // Each is a publish sample: its time outstanding until the deadline.
    assert_eq!(lb.publish, c.unsent + c.failed, "{lb:?} {c:?}");
    assert_eq!(p.latency_us.publish.count, c.acked + lb.publish);
    // Messages never sent reach no consumer; neither do the stalled ones.
    assert!(lb.end_to_end >= c.unsent && lb.end_to_end <= lb.publish, "{lb:?} {c:?}");
    assert_eq!(p.latency_us.end_to_end.count, c.received + lb.end_to_end);
    // Over 8% of the messages are at least 1 s late: the p99 says so.
    assert!(p.latency_us.publish.p99 >= 1_000_000, "{:?}", p.latency_us.publish);
    assert!(p.latency_us.end_to_end.p99 >= 1_000_000, "{:?}", p.latency_us.end_to_end);
    assert!(p.warnings.iter().any(|w| w.contains("lower bounds")), "{:?}", p.warnings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_waits_for_every_acknowledged_message_despite_redeliveries() {
    // Two consumers share the subscription; 5% of messages also reach the
    // other consumer, and 2% are acknowledged at once but delivered 1 s
    // late. Counting receipts, the redelivered copies make up for the late
    // ones and the drain would stop before they arrive.
    let r = run_yaml(
        "workload:\n  payload: 100B\n  rate: 2000msgps\n  consumers: 2\n  warmup: 0s\n  duration: 2s\n  drain: 4s\n\
         brokers:\n  - name: loopback\n    options:\n      redeliver: 0.05\n      late: 0.02\n      late_by: 1s\n",
    )
    .await;
    let p = only_point(&r);
    let c = &p.counts;
    let injected = |k: &str| p.adapter_stats[k].as_u64().unwrap();
    assert_eq!(c.sent, 4000);
    assert_eq!(c.acked, 4000);
    assert_eq!(c.lost, 0, "late messages counted lost: {c:?} {:?}", p.adapter_stats);
    assert_eq!(c.received, 4000);
    assert_eq!(c.duplicated, injected("injected_redelivered"));
    // First copies are end-to-end samples, the others redeliveries.
    assert_eq!(p.latency_us.end_to_end.count, c.received);
    assert_eq!(p.latency_us.redelivered.count, c.duplicated);
    // The late ones, and only they, are the end-to-end tail at 1 s.
    let e2e = mqbench::measure::LatencyHistogram::decode(&p.histograms.end_to_end).unwrap();
    let slow = e2e.0.count_between(900_000, u64::MAX);
    assert!(injected("injected_late") > 0);
    assert_eq!(slow, injected("injected_late"), "{:?}", p.latency_us.end_to_end);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_throughput_is_the_read_rate_and_a_delay_is_a_backlog() {
    // Every message delivered 500 ms after it was acknowledged: consumers
    // keep up (they read 2000 msg/s), with 1000 messages always on the way.
    let r = run_yaml(
        "workload:\n  payload: 100B\n  rate: 2000msgps\n  warmup: 1s\n  duration: 3s\n  drain: 2s\n\
         brokers:\n  - name: loopback\n    options:\n      late: 1\n      late_by: 500ms\n",
    )
    .await;
    let p = only_point(&r);
    let t = &p.throughput;
    assert_eq!(p.counts.lost, 0);
    assert!((t.consume_msgs_per_s - t.publish_msgs_per_s).abs() / t.publish_msgs_per_s < 0.02, "{t:?}");
    let backlog: Vec<u64> = p.series.iter().filter(|s| s.phase == "measure").map(|s| s.backlog).collect();
    assert_eq!(backlog.len(), 3, "{:?}", p.series);
    assert!(backlog.iter().all(|b| (800..=1200).contains(b)), "backlog {backlog:?}");
    assert_eq!(p.series.last().unwrap().backlog, 0, "{:?}", p.series);
}
