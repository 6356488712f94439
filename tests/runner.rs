//! The runner against the loopback adapter: pacing, coordinated-omission
//! correction, exact accounting under injected faults, and the results file
//! of a real `mqbench run`.

mod common;

use mqbench::results::{PointResult, ResultsFile, Status};
use std::path::Path;

async fn run_yaml(text: &str) -> ResultsFile {
    common::run_scenario("test.yaml", text).await
}

fn only_point(r: &ResultsFile) -> &PointResult {
    assert_eq!(r.points.len(), 1);
    let p = &r.points[0];
    assert_eq!(p.status, Status::Ok, "{:?}", p.error);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_rate_is_kept_within_one_percent() {
    let r = run_yaml(
        "workload:\n  payload: 100B\n  rate: [20000msgps]\n  producers: 2\n  warmup: 500ms\n  duration: 3s\n  drain: 2s\nbrokers:\n  - name: loopback\n",
    )
    .await;
    let p = only_point(&r);
    let target = 20_000.0;
    // Sends inside the window, by the run's own clock.
    let achieved = p.throughput.send_msgs_per_s;
    assert!((achieved - target).abs() / target < 0.01, "achieved {achieved} msg/s for a target of {target}");
    // Every message due in the window was sent, acknowledged and received.
    assert_eq!(p.counts.sent, 60_000);
    assert_eq!(p.counts.acked, p.counts.sent);
    assert_eq!(p.counts.received, p.counts.sent);
    assert_eq!(p.latency_us.end_to_end.count, p.counts.received);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    // The per-second series covers warm-up, the window and the drain.
    let measured: u64 = p.series.iter().filter(|s| s.phase == "measure").map(|s| s.sent).sum();
    assert!((measured as f64 - 60_000.0).abs() / 60_000.0 < 0.01, "series says {measured} sent in the window");
    assert!(p.series.iter().any(|s| s.phase == "warmup"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_shows_in_latency_from_the_due_time_but_not_in_service_time() {
    // 10,000 msg/s; the broker stalls 200 ms in every second; at most 5
    // messages in flight. A closed-loop tool would see only the 5 that were
    // in flight during each stall.
    let r = run_yaml(
        "workload:\n  payload: 100B\n  rate: 10000msgps\n  in_flight: 5\n  warmup: 0s\n  duration: 4s\n  drain: 2s\nbrokers:\n  - name: loopback\n    options:\n      stall_every: 1s\n      stall_for: 200ms\n",
    )
    .await;
    let p = only_point(&r);
    let stall_us = 200_000;
    let publish = &p.latency_us.publish;
    let e2e = &p.latency_us.end_to_end;
    let service = &p.latency_us.service;
    assert!(publish.p99 >= stall_us / 2, "publish p99 {} µs hides a {stall_us} µs stall", publish.p99);
    assert!(e2e.p99 >= stall_us / 2, "end-to-end p99 {} µs hides a {stall_us} µs stall", e2e.p99);
    assert!(service.p99 < stall_us / 10, "service p99 {} µs should not see the stall", service.p99);
    assert!(service.max >= stall_us / 2, "the few in-flight sends do wait out the stall");
    assert_eq!(p.counts.lost, 0);
    assert_eq!(p.counts.received, p.counts.sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounting_matches_injected_faults_exactly() {
    let r = run_yaml(
        "workload:\n  payload: 64B\n  rate: 20000msgps\n  producers: 2\n  partitions: 3\n  warmup: 0s\n  duration: 2s\n  drain: 2s\nbrokers:\n  - name: loopback\n    options:\n      drop: 0.01\n      duplicate: 0.005\n      reorder: 0.002\n",
    )
    .await;
    let p = only_point(&r);
    let stats = &p.adapter_stats;
    let injected = |k: &str| stats[k].as_u64().unwrap();
    let sent = p.counts.sent;
    assert_eq!(sent, 40_000);
    assert_eq!(p.counts.acked, sent);
    assert_eq!(p.counts.lost, injected("injected_dropped"));
    assert_eq!(p.counts.duplicated, injected("injected_duplicated"));
    assert_eq!(p.counts.out_of_order, injected("injected_reordered"));
    assert_eq!(p.counts.received, sent - p.counts.lost);
    // The fractions themselves: exact per producer, up to one message of rounding.
    let near = |got: u64, want: f64| (got as f64 - want).abs() <= 2.0;
    assert!(near(injected("injected_dropped"), 0.01 * sent as f64), "{stats}");
    assert!(near(injected("injected_duplicated"), 0.005 * sent as f64), "{stats}");
    assert!(near(injected("injected_reordered"), 0.002 * sent as f64), "{stats}");
    assert_eq!(p.by_producer.len(), 2);
    assert_eq!(p.by_producer.iter().map(|b| b.counts.lost).sum::<u64>(), p.counts.lost);
    let by_partition: u64 = p.out_of_order_by_partition.values().sum();
    assert_eq!(by_partition, p.counts.out_of_order);
    assert!(p.warnings.iter().any(|w| w.contains("lost")), "{:?}", p.warnings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_delivers_every_message_to_every_subscription() {
    let r = run_yaml(
        "workload:\n  payload: 10B\n  rate: 5000msgps\n  subscriptions: 3\n  consumers: 2\n  warmup: 200ms\n  duration: 1s\n  drain: 1s\nbrokers:\n  - name: loopback\n",
    )
    .await;
    let p = only_point(&r);
    assert_eq!(p.counts.sent, 5000);
    assert_eq!(p.counts.received, 3 * 5000);
    assert_eq!(p.counts.duplicated, 0);
    assert_eq!(p.by_subscription.len(), 3);
    assert!(p.by_subscription.iter().all(|s| s.received == 5000 && s.lost == 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_produce_only_point_counts_sends_and_acks_and_nothing_as_lost() {
    let r = run_yaml(
        "workload:\n  payload: 100B\n  rate: 5000msgps\n  subscriptions: 0\n  warmup: 200ms\n  duration: 2s\n  drain: 1s\nbrokers:\n  - name: loopback\n",
    )
    .await;
    let p = only_point(&r);
    assert_eq!(p.counts.sent, 10_000);
    assert_eq!(p.counts.acked, 10_000);
    assert_eq!((p.counts.received, p.counts.lost, p.counts.duplicated), (0, 0, 0));
    assert_eq!(p.latency_us.end_to_end.count, 0);
    assert_eq!(p.throughput.consume_msgs_per_s, 0.0);
    assert!(p.by_subscription.is_empty(), "{:?}", p.by_subscription);
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert!(p.warnings[0].contains("produce-only"), "{:?}", p.warnings);
}

#[test]
fn mqbench_run_quick_writes_complete_results() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mqbench"))
        .current_dir(root)
        .args(["run", "scenarios/loopback.yaml", "--quick", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    common::assert_matches_schema(&dir.path().join("results.json"));
    let results = mqbench::results::read_results(&dir.path().join("results.json")).unwrap();
    assert_eq!(results.points.len(), 9);
    assert!(results.run.finished_at.is_some());
    for p in &results.points {
        assert_eq!(p.status, Status::Ok, "{}: {:?}", p.id, p.error);
        assert!(p.broker_software.starts_with("mqbench loopback"));
        // Every acknowledged message is either received or lost (a debug
        // build may not drain 1.5 M msg/s in time: that is reported, not hidden).
        let behind = p.warnings.iter().any(|w| w.contains("behind schedule"));
        assert!(p.counts.received > 0 || behind, "{}: nothing received and no warning", p.id);
        assert_eq!(p.counts.received + p.counts.lost, p.counts.acked, "{}", p.id);
        if p.params.rate_label == "1MBps" {
            assert_eq!(p.counts.lost, 0, "{}", p.id);
        }
        for h in [&p.histograms.publish, &p.histograms.service, &p.histograms.end_to_end] {
            mqbench::measure::LatencyHistogram::decode(h).unwrap();
        }
        let e2e = mqbench::measure::LatencyHistogram::decode(&p.histograms.end_to_end).unwrap();
        assert_eq!(e2e.count(), p.latency_us.end_to_end.count);
        assert!(p.resources.harness.is_some());
    }
    let csv = std::fs::read_to_string(dir.path().join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 10, "header and one row per point");
    assert!(stderr.contains("[9/9] loopback/payload=100000/rate=max"), "{stderr}");
}

#[test]
fn a_bad_scenario_exits_non_zero_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "workload:\n  payload: 10XB\nbrokers:\n  - name: loopback\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mqbench")).arg("validate").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.yaml:2:") && stderr.contains("unknown size unit"), "{stderr}");
}
