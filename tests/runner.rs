//! The runner against the loopback adapter: pacing, coordinated-omission
//! correction, exact accounting under injected faults, and the results file
//! of a real `mqbench run`.

mod common;

use mqbench::results::{PointResult, ResultsFile, Status};
use std::path::Path;

async fn run_yaml(text: &str) -> ResultsFile {
    common::run_scenario("test.yaml", text).await
}

/// Messages due in the window that the producers did not send in time
/// (`counts.unsent`; a warning names them too).
fn unsent(p: &PointResult) -> u64 {
    let warned = p.warnings.iter().any(|w| w.contains("messages due in the window were never sent"));
    assert_eq!(warned, p.counts.unsent > 0, "{}: {:?} {:?}", p.id, p.counts, p.warnings);
    p.counts.unsent
}

/// Fails unless the messages due in the window, sent or counted as unsent,
/// are `rate` x `window_s`: the schedule's promise. Due times are recorded
/// in whole microseconds, so a message due within a microsecond of either
/// edge may fall on the other side.
fn assert_all_due_accounted_for(p: &PointResult, rate: f64, window_s: f64) {
    let due = rate * window_s;
    let got = (p.counts.sent + unsent(p)) as f64;
    let edge = (rate * 2e-6).ceil() + 1.0;
    assert!((got - due).abs() <= edge, "{}: {got} messages due in the window, not {due}: {:?}", p.id, p.warnings);
}

/// Warnings about the schedule, which a loaded machine may cause.
fn is_schedule_warning(w: &str) -> bool {
    w.starts_with("behind schedule") || w.contains("were never sent") || w.starts_with("schedule delay grew")
}

fn only_point(r: &ResultsFile) -> &PointResult {
    assert_eq!(r.points.len(), 1);
    let p = &r.points[0];
    assert_eq!(p.status, Status::Ok, "{:?}", p.error);
    p
}

/// The schedule: exactly the messages due in the window (rate x window) are
/// measured, spread over the window rather than sent in a burst. Bounds
/// here hold on a loaded 2-core machine; how closely the pacer keeps the
/// rate on a quiet one is a figure for `cargo bench --bench loopback`, not
/// a test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_rate_sends_every_due_message_spread_over_the_window() {
    let r = run_yaml(
        "workload:\n  payload: 100B\n  rate: [20000msgps]\n  producers: 2\n  warmup: 500ms\n  duration: 3s\n  drain: 2s\nbrokers:\n  - name: loopback\n",
    )
    .await;
    let p = only_point(&r);
    let target = 20_000.0;
    // 20,000 msg/s over a 3 s window, 10,000 msg/s per producer: every one
    // was either sent or counted as unsent, and everything sent arrived.
    assert_all_due_accounted_for(p, 20_000.0, 3.0);
    assert_eq!(p.by_producer.iter().map(|b| b.counts.sent).sum::<u64>(), p.counts.sent);
    assert!(p.by_producer.iter().all(|b| b.counts.sent <= 30_000), "{:?}", p.by_producer);
    assert_eq!(p.counts.acked, p.counts.sent);
    assert_eq!(p.counts.received, p.counts.sent);
    assert_eq!(p.latency_us.end_to_end.count, p.counts.received);
    // Sends inside the window, by the run's own clock: near the target (a
    // burst or a wrong per-producer rate is far off; a loaded machine's
    // lateness of up to 300 ms is not).
    let achieved = p.throughput.send_msgs_per_s;
    assert!((achieved - target).abs() / target < 0.10, "achieved {achieved} msg/s for a target of {target}");
    // Spread: no second of the window carries much more than its share.
    let measured: Vec<u64> = p.series.iter().filter(|s| s.phase == "measure").map(|s| s.sent).collect();
    assert_eq!(measured.len(), 3, "{:?}", p.series);
    assert!(measured.iter().all(|n| (*n as f64) < 1.25 * target), "sends per second: {measured:?}");
    assert!(p.series.iter().any(|s| s.phase == "warmup"));
    // Nothing but the schedule may be warned about, and the behind-schedule
    // warning fires exactly when the send rate is more than 1 % short.
    assert!(p.warnings.iter().all(|w| is_schedule_warning(w)), "{:?}", p.warnings);
    let behind = p.warnings.iter().any(|w| w.starts_with("behind schedule"));
    assert_eq!(behind, achieved < 0.99 * target, "{achieved} msg/s, {:?}", p.warnings);
}

/// A broker that stops acknowledging in the middle of the window (a
/// loopback stall from 2 s after connecting, for 8 s): producers with 5
/// messages in flight cannot keep a 2,000 msg/s schedule, and the point
/// says so. What was due and not sent is counted, never dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_broker_puts_the_producers_behind_schedule_and_the_point_says_so() {
    let r = run_yaml(
        "workload:\n  payload: 100B\n  rate: 2000msgps\n  in_flight: 5\n  warmup: 1s\n  duration: 2s\n  drain: 1s\nbrokers:\n  - name: loopback\n    options:\n      stall_every: 10s\n      stall_for: 8s\n",
    )
    .await;
    let p = only_point(&r);
    assert!(p.warnings.iter().any(|w| w.starts_with("behind schedule")), "{:?}", p.warnings);
    let never = unsent(p);
    assert!(never > 0, "{:?}", p.warnings);
    // 2,000 msg/s over 2 s: sent or unsent, every due message is accounted for.
    assert_all_due_accounted_for(p, 2_000.0, 2.0);
    // The stall began in the warm-up or the window's first second: at most
    // one second of the schedule was sent, and nothing sent during the
    // stall was acknowledged within the point.
    assert!(p.counts.sent <= 2_000 + 5, "{:?}", p.counts);
    assert!(p.throughput.send_msgs_per_s < 0.99 * 2000.0);
}

/// A rate far beyond what the loopback carries (20 M msg/s of 1 KB bodies;
/// its ceiling is about 3 M msg/s in a release build): the point is behind
/// schedule, says by how much, and counts what it never sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_the_loopback_cannot_carry_is_behind_schedule_and_counts_what_it_never_sent() {
    let r = run_yaml(
        "workload:\n  payload: 1KB\n  rate: 20000000msgps\n  warmup: 0s\n  duration: 1s\n  drain: 1s\nbrokers:\n  - name: loopback\n",
    )
    .await;
    let p = only_point(&r);
    let behind = p.warnings.iter().find(|w| w.starts_with("behind schedule")).expect("a behind-schedule warning");
    assert!(behind.contains(&format!("sent {:.0} msg/s", p.throughput.send_msgs_per_s)), "{behind}");
    assert!(p.throughput.send_msgs_per_s < 0.5 * 20e6, "{:?}", p.throughput);
    assert_all_due_accounted_for(p, 20e6, 1.0);
}

/// A broker that stops acknowledging late in the window and recovers just
/// before it closes: messages of the last tenth of the window go out
/// hundreds of milliseconds late while the first went out on time, and the
/// point says the schedule delay grew. (Stall from 3.9 s to 4.42 s after
/// connecting: 3.4 s to 3.92 s into the 4 s window, less the setup time.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_late_in_the_window_gives_a_growing_schedule_delay_warning() {
    let r = run_yaml(
        "workload:\n  payload: 100B\n  rate: 1000msgps\n  in_flight: 5\n  warmup: 500ms\n  duration: 4s\n  drain: 1s\nbrokers:\n  - name: loopback\n    options:\n      stall_every: 4420ms\n      stall_for: 520ms\n",
    )
    .await;
    let p = only_point(&r);
    let grew = p.warnings.iter().find(|w| w.starts_with("schedule delay grew"));
    assert!(grew.is_some(), "{:?} (schedule delay {:?})", p.warnings, p.latency_us.schedule_delay);
    // Everything due was sent (within the window, after the stall) and arrived.
    assert_eq!(p.counts.sent, 4_000, "{:?}", p.warnings);
    assert_eq!(p.counts.received, 4_000);
    assert!(p.latency_us.schedule_delay.max >= 100_000, "{:?}", p.latency_us.schedule_delay);
}

/// The schedule of a producer puts exactly rate x window messages in any
/// window, at any rate (checked here against `run::pacer`'s public API: a
/// whole-nanosecond interval would make 1.5 M msg/s run 0.1 % fast and end
/// early).
#[test]
fn a_schedule_puts_rate_times_window_messages_in_the_window() {
    use mqbench::run::pacer::Schedule;
    use std::time::{Duration, Instant};
    let t0 = Instant::now();
    for (rate, warmup, window) in [(1.5e6, 0.5, 2.0), (20_000.0, 0.5, 3.0), (3.0e6, 1.0, 5.0), (7.0, 0.0, 10.0)] {
        let s = Schedule::new(t0, rate, Duration::from_secs_f64(warmup + window));
        let (start, end) = (t0 + Duration::from_secs_f64(warmup), t0 + Duration::from_secs_f64(warmup + window));
        let in_window = (0..s.total).filter(|k| (start..end).contains(&s.due(*k))).count() as f64;
        let want = rate * window;
        assert!((in_window - want).abs() <= 1.0, "{rate} msg/s over {window} s: {in_window} messages due, not {want}");
        let last = s.due(s.total - 1);
        assert!(end - last <= Duration::from_secs_f64(1.0 / rate) + Duration::from_nanos(1), "{rate} msg/s ends early");
    }
}

/// Unthrottled, a producer keeps at most `in_flight` messages
/// unacknowledged: against a broker that stops acknowledging (a stall from
/// 1 s after connecting, for 9 s, covering the whole window) it sends at
/// most that many more, however fast it could go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unthrottled_producers_keep_at_most_in_flight_messages_unacknowledged() {
    let r = run_yaml(
        "workload:\n  payload: 100B\n  rate: max\n  producers: 2\n  in_flight: 7\n  warmup: 1s\n  duration: 2s\n  drain: 500ms\nbrokers:\n  - name: loopback\n    options:\n      stall_every: 10s\n      stall_for: 9s\n",
    )
    .await;
    let p = only_point(&r);
    // Before the stall the producers ran unthrottled (thousands of messages
    // in the warm-up second) ...
    let warmup: u64 = p.series.iter().filter(|s| s.phase == "warmup").map(|s| s.sent).sum();
    assert!(warmup > 1000, "{:?}", p.series);
    // ... and in the window, with no acknowledgement coming, at most
    // `in_flight` per producer went out.
    let in_window: u64 = p.series.iter().filter(|s| s.phase == "measure").map(|s| s.sent).sum();
    assert!(in_window <= 2 * 7, "{in_window} sent in the window: {:?}", p.series);
    assert!(p.counts.sent <= 2 * 7, "{:?}", p.counts);
    assert_eq!(p.counts.acked, 0, "{:?}", p.counts);
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
    // A fifth of the messages fall due during a stall and wait for it to
    // end: their publish and end-to-end latency, from the due time, shows it.
    assert!(publish.p99 >= stall_us / 2, "publish p99 {} µs hides a {stall_us} µs stall", publish.p99);
    assert!(e2e.p99 >= stall_us / 2, "end-to-end p99 {} µs hides a {stall_us} µs stall", e2e.p99);
    // Service time (from the actual send) sees it only for the at most 5
    // messages in flight when each of the 4 stalls began: 20 of 40,000, under
    // 0.1 %. (A bound that holds on a loaded machine; measuring service time
    // from the due time would put 20 % of the samples above it.)
    let service_hist = mqbench::measure::LatencyHistogram::decode(&p.histograms.service).unwrap();
    let q999 = service_hist.quantile(0.999);
    assert!(q999 < stall_us / 2, "service p99.9 {q999} µs should not see the stall");
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
    // Against the adapter's tally, not against `lost` (which is defined as
    // acknowledged minus received): every message not dropped arrived, and
    // the consumers' histogram (apart from the bitsets) has one sample per
    // message received, none for a duplicate.
    assert_eq!(p.counts.received, sent - injected("injected_dropped"));
    assert_eq!(p.latency_us.end_to_end.count, p.counts.received);
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
        assert_eq!(p.params.duration_s, 2.0, "--quick caps the window at 2 s");
        // Against what the scenario must produce: a fixed rate over the
        // 2 s window puts exactly rate x 2 s messages due, each either sent
        // or counted as unsent (a debug build may not keep 1.5 M msg/s: that
        // is reported, not hidden).
        if let Some(rate) = p.params.rate.msgs_per_s() {
            assert_all_due_accounted_for(p, rate, 2.0);
        } else {
            assert!(p.counts.sent > 0, "{}: unthrottled and nothing sent", p.id);
        }
        // 1 MB/s is light for every size: all of it arrives, exactly once.
        if p.params.rate_label == "1MBps" {
            let due = 2_000_000 / p.params.payload_bytes;
            assert_eq!((p.counts.sent, p.counts.acked, p.counts.received), (due, due, due), "{}", p.id);
        }
        assert!(p.counts.received <= p.counts.acked && p.counts.acked <= p.counts.sent, "{}: {:?}", p.id, p.counts);
        let behind = p.warnings.iter().any(|w| w.contains("behind schedule"));
        assert!(p.counts.received > 0 || behind, "{}: nothing received and no warning", p.id);
        // The per-subscription ledger agrees with the totals.
        assert_eq!(p.by_subscription[0].received, p.counts.received, "{}", p.id);
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

/// Whatever happens inside a point, the point is recorded and the sweep
/// goes on: a point that makes the harness panic (here a 5-byte body,
/// which validation refuses and the body pool asserts against, forced past
/// validation) is a failed point with the panic's message, and the next
/// point runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_inside_a_point_is_a_recorded_failed_point_and_the_sweep_goes_on() {
    use mqbench::run::{run_loaded, RunOptions};
    let text = "workload:\n  payload: [100B, 200B]\n  rate: 2000msgps\n  warmup: 0s\n  duration: 1s\n  drain: 1s\nbrokers:\n  - name: loopback\n";
    let mut scenario = mqbench::scenario::parse(
        Path::new("panic.yaml"),
        text,
        &mqbench::scenario::Overrides::default(),
        &mqbench::adapter::Rules,
    )
    .unwrap();
    scenario.points[0].params.payload_bytes = 5;
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions { out: Some(dir.path().to_path_buf()), ..Default::default() };
    let outcome = run_loaded(scenario, opts, tokio_util::sync::CancellationToken::new()).await.unwrap();
    // (Not checked against the schema: it rightly refuses the forced
    // 5-byte payload in the recorded parameters.)
    let file = dir.path().join("results.json");
    let on_disk = mqbench::results::read_results(&file).unwrap();
    assert_eq!(on_disk, outcome.results);
    assert_eq!(on_disk.points.len(), 2);
    let (broken, next) = (&on_disk.points[0], &on_disk.points[1]);
    assert_eq!(broken.status, Status::Failed);
    let error = broken.error.as_deref().unwrap_or_default();
    assert!(error.contains("panicked") && error.contains("10-byte minimum"), "{error}");
    assert_eq!(next.status, Status::Ok, "{:?}", next.error);
    assert_eq!(next.counts.received, 2000);
}

const TWO_BROKERS: &str = "workload:\n  payload: [100B, 200B]\n  rate: 2000msgps\n  warmup: 3s\n  duration: 10s\n  drain: 5s\nbrokers:\n  - name: a\n    adapter: loopback\n  - name: b\n    adapter: loopback\n";

#[test]
fn validate_list_prints_every_point_id() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("two.yaml");
    std::fs::write(&file, TWO_BROKERS).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mqbench"))
        .arg("validate")
        .arg(&file)
        .arg("--list")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], format!("{}: ok, 4 points over 2 brokers (a, b)", file.display()));
    assert_eq!(
        &lines[1..],
        [
            "  a/payload=100/rate=2000msgps",
            "  a/payload=200/rate=2000msgps",
            "  b/payload=100/rate=2000msgps",
            "  b/payload=200/rate=2000msgps"
        ]
    );
    // Without --list: the summary line only.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mqbench")).arg("validate").arg(&file).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}

/// `--broker`, `--set` (a workload knob and an adapter option) and
/// `--quick` from the command line, as `mqbench run` parses them, and
/// `--threads` as the number of the runtime's worker threads.
#[test]
fn run_options_from_the_command_line_shape_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("two.yaml");
    std::fs::write(&file, TWO_BROKERS).unwrap();
    let out_dir = dir.path().join("out");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mqbench"))
        .arg("run")
        .arg(&file)
        .args(["--broker", "b", "--set", "payload=300B", "--set", "options.drop=0.5", "--quick", "--threads", "1"])
        .arg("--no-progress")
        .arg("--out")
        .arg(&out_dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // While it runs: one tokio worker thread, not one per CPU.
    std::thread::sleep(std::time::Duration::from_millis(700));
    let workers = std::fs::read_dir(format!("/proc/{}/task", child.id()))
        .unwrap()
        .flatten()
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "tokio-rt-worker"))
        .count();
    let status = child.wait().unwrap();
    assert!(status.success());
    assert_eq!(workers, 1, "--threads 1 ran {workers} tokio worker threads");
    let r = mqbench::results::read_results(&out_dir.join("results.json")).unwrap();
    // --broker b: only b's points; --set payload: one size instead of two.
    assert_eq!(r.points.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["b/payload=300/rate=2000msgps"]);
    let p = only_point(&r);
    assert_eq!(p.params.payload_bytes, 300);
    assert_eq!(p.params.options["drop"], serde_json::json!(0.5));
    // --quick's caps: warm-up 0.5 s, window 2 s, drain 2 s (the file says 3 s, 10 s, 5 s).
    assert_eq!((p.params.warmup_s, p.params.duration_s, p.params.drain_s), (0.5, 2.0, 2.0));
    assert_all_due_accounted_for(p, 2000.0, 2.0);
    // options.drop=0.5 reached the adapter: it dropped every other message
    // of the 2.5 s it ran (warm-up included), and half the measured ones are lost.
    assert_eq!(p.adapter_stats["injected_dropped"], 2500, "{}", p.adapter_stats);
    assert_eq!(p.counts.lost, p.counts.acked / 2, "{:?}", p.counts);
    assert_eq!(r.run.command[1..4], ["run".to_string(), file.display().to_string(), "--broker".to_string()]);
    // --threads is bounded: 0 is a usage error.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mqbench"))
        .arg("run")
        .arg(&file)
        .args(["--threads", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}
