//! `mqbench merge` of loopback shards: two workers (`--shard 0/2`, `1/2`)
//! each running one of two producers, started together through a barrier
//! directory, merged, equal one run with both producers on counts; the
//! merged histograms hold exactly the shards' samples; every bad shard set
//! is refused (an incomplete set, shards that did not measure at the same
//! time among them); `mqbench merge` writes a file that matches the schema.
//! Each shard is judged against its own share of the rate.

mod common;

use mqbench::measure::LatencyHistogram;
use mqbench::results::merge::{merge, MergeError};
use mqbench::results::{ResultsFile, Shard, Status};
use mqbench::run::RunOptions;
use std::path::Path;
use std::time::Duration;

// A fixed rate makes counts exact: 4,000 msg/s over a 2 s window is 8,000
// messages however the producers are split.
const SCENARIO: &str = "name: shards\nworkload:\n  payload: 100B\n  rate: 4000msgps\n  producers: 2\n  warmup: 500ms\n  duration: 2s\n  drain: 2s\nbrokers:\n  - name: loopback\n";

async fn run(shard: Option<Shard>) -> ResultsFile {
    common::run_scenario_with("shards.yaml", SCENARIO, RunOptions { shard, ..Default::default() }).await
}

/// Shard `index` of `count` of `scenario`, meeting the others at `barrier`.
async fn run_shard(scenario: &str, index: u32, count: u32, barrier: &Path) -> ResultsFile {
    let opts =
        RunOptions { shard: Some(Shard { index, count }), barrier: Some(barrier.to_path_buf()), ..Default::default() };
    common::run_scenario_with("shards.yaml", scenario, opts).await
}

fn total(text: &str) -> u64 {
    LatencyHistogram::decode(text).unwrap().count()
}

/// The histograms encoded in `parts`, added up.
fn sum_of(parts: &[&str]) -> LatencyHistogram {
    let mut sum = LatencyHistogram::new();
    for p in parts {
        sum.add(&LatencyHistogram::decode(p).unwrap());
    }
    sum
}

/// Fails unless `a` and `b` hold the same samples: same count and the same
/// value at every 0.1 % of the distribution (and at its ends).
fn assert_same_distribution(what: &str, a: &LatencyHistogram, b: &LatencyHistogram) {
    assert_eq!(a.count(), b.count(), "{what}: counts");
    for i in 0..=1000 {
        let q = i as f64 / 1000.0;
        assert_eq!(a.quantile(q), b.quantile(q), "{what}: the value at quantile {q}");
    }
    assert_eq!(a.summary(), b.summary(), "{what}: summaries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_merge_to_one_run_with_both_producers() {
    let whole = run(None).await;
    let barrier = tempfile::tempdir().unwrap();
    let (s0, s1) = tokio::join!(run_shard(SCENARIO, 0, 2, barrier.path()), run_shard(SCENARIO, 1, 2, barrier.path()));
    assert_eq!(s0.run.shard, Some(Shard { index: 0, count: 2 }));
    // Each worker ran only its producer, under its global id.
    assert_eq!(s0.points[0].by_producer.iter().map(|p| p.producer).collect::<Vec<_>>(), vec![0]);
    assert_eq!(s1.points[0].by_producer.iter().map(|p| p.producer).collect::<Vec<_>>(), vec![1]);

    let merged = merge(&[s0.clone(), s1.clone()], vec!["test".into()]).unwrap();
    let (m, w) = (&merged.points[0], &whole.points[0]);
    assert_eq!(m.status, Status::Ok, "{:?}", m.error);
    assert_eq!(w.status, Status::Ok, "{:?}", w.error);
    assert_eq!(m.counts, w.counts, "counts of the merged shards and of one run");
    assert_eq!(m.counts.sent, 8_000);
    assert_eq!(m.counts.received, 8_000);
    assert_eq!(m.by_producer.len(), 2);
    assert_eq!(m.by_producer, w.by_producer);
    for (a, b) in [
        (&m.histograms.end_to_end, &w.histograms.end_to_end),
        (&m.histograms.publish, &w.histograms.publish),
        (&m.histograms.service, &w.histograms.service),
    ] {
        assert_eq!(total(a), total(b));
    }
    assert_eq!(total(&m.histograms.end_to_end), 8_000);
    assert_eq!(m.latency_us.end_to_end.count, 8_000);
    // Contents, not only totals: the merged histograms are the shards'
    // samples added, and the summaries are computed from them.
    let (p0, p1) = (&s0.points[0], &s1.points[0]);
    for (what, merged, a, b) in [
        ("end_to_end", &m.histograms.end_to_end, &p0.histograms.end_to_end, &p1.histograms.end_to_end),
        ("publish", &m.histograms.publish, &p0.histograms.publish, &p1.histograms.publish),
        ("service", &m.histograms.service, &p0.histograms.service, &p1.histograms.service),
    ] {
        assert_same_distribution(what, &LatencyHistogram::decode(merged).unwrap(), &sum_of(&[a, b]));
    }
    assert_eq!(m.latency_us.end_to_end, sum_of(&[&p0.histograms.end_to_end, &p1.histograms.end_to_end]).summary());
    // Schedule delay is not stored as a histogram: the larger of the shards'.
    assert_eq!(m.latency_us.schedule_delay.p99, p0.latency_us.schedule_delay.p99.max(p1.latency_us.schedule_delay.p99));
    // Throughput adds: each shard carried half the load.
    let sum = s0.points[0].throughput.consume_msgs_per_s + s1.points[0].throughput.consume_msgs_per_s;
    assert_eq!(m.throughput.consume_msgs_per_s, sum);
    assert!((m.throughput.publish_msgs_per_s - 4_000.0).abs() < 1e-9);
    // The merged file is a results file like any other.
    assert_eq!(merged.run.shard, None);
    let back: ResultsFile = serde_json::from_str(&serde_json::to_string(&merged).unwrap()).unwrap();
    assert_eq!(back, merged);

    // The command end to end: what it writes is what `merge` returns, and
    // a results file by the schema.
    let dir = tempfile::tempdir().unwrap();
    let (f0, f1) = (dir.path().join("s0.json"), dir.path().join("s1.json"));
    std::fs::write(&f0, serde_json::to_vec(&s0).unwrap()).unwrap();
    std::fs::write(&f1, serde_json::to_vec(&s1).unwrap()).unwrap();
    let out = dir.path().join("merged/results.json");
    let code = mqbench::cli::main(vec![
        "mqbench".into(),
        "merge".into(),
        f0.clone().into(),
        f1.clone().into(),
        "--out".into(),
        out.clone().into(),
    ]);
    assert_eq!(code, 0);
    common::assert_matches_schema(&out);
    let written = mqbench::results::read_results(&out).unwrap();
    assert_eq!(written.points, merged.points);
    assert_eq!(written.run.command[1], "merge");
    // A refused merge exits 1 and writes nothing.
    let refused = dir.path().join("refused.json");
    let code = mqbench::cli::main(vec![
        "mqbench".into(),
        "merge".into(),
        f0.clone().into(),
        f0.clone().into(),
        "--out".into(),
        refused.clone().into(),
    ]);
    assert_eq!(code, 1);
    assert!(!refused.exists());

    // Refusals: the same shard twice (overlapping producer ids), another scenario.
    let e = merge(&[s0.clone(), s0.clone()], vec![]).unwrap_err();
    assert!(matches!(e, MergeError::SameShard { .. }), "{e}");
    // A shard of the set missing: 0/3 and 1/3 without 2/3.
    let of_three = |r: &ResultsFile| {
        let mut r = r.clone();
        r.run.shard = r.run.shard.map(|s| Shard { count: 3, ..s });
        r
    };
    let e = merge(&[of_three(&s0), of_three(&s1)], vec![]).unwrap_err();
    assert_eq!(e, MergeError::MissingShards { count: 3, missing: vec![2], present: vec![0, 1] });
    assert!(e.to_string().contains("shard(s) 2/3 of 3 missing"), "{e}");
    // Shards of runs with different worker counts.
    let e = merge(&[s0.clone(), of_three(&s1)], vec![]).unwrap_err();
    assert!(matches!(e, MergeError::DifferentCount { ca: 2, cb: 3, .. }), "{e}");
    // A point missing from one shard, either way round.
    let mut short = s1.clone();
    short.points.clear();
    let e = merge(&[s0.clone(), short.clone()], vec![]).unwrap_err();
    assert!(matches!(e, MergeError::MissingPoint { a: 0, b: 1, .. }), "{e}");
    let e = merge(&[short, s0.clone()], vec![]).unwrap_err();
    assert!(matches!(e, MergeError::MissingPoint { a: 1, b: 0, .. }), "{e}");
    // Different parameters for the same point id.
    let mut other_params = s1.clone();
    other_params.points[0].params.payload_bytes = 200;
    let e = merge(&[s0.clone(), other_params], vec![]).unwrap_err();
    assert!(matches!(e, MergeError::DifferentParams { .. }), "{e}");
    // The same scenario name from a different file.
    let mut other_text = s1.clone();
    other_text.scenario_source.push_str("# edited\n");
    let e = merge(&[s0.clone(), other_text], vec![]).unwrap_err();
    assert!(matches!(e, MergeError::DifferentScenarioText { .. }), "{e}");
    // A run that is not a shard.
    let e = merge(&[s0.clone(), whole.clone()], vec![]).unwrap_err();
    assert_eq!(e, MergeError::NotAShard(1));
    let mut other = s1.clone();
    other.run.scenario = "other".into();
    let e = merge(&[s0.clone(), other], vec![]).unwrap_err();
    assert!(e.to_string().contains("only shards of one scenario merge"), "{e}");
    assert_eq!(merge(std::slice::from_ref(&s0), vec![]).unwrap_err(), MergeError::TooFew(1));

    // Windows that did not overlap are refused; a partial overlap above the
    // threshold is merged with a warning that states it.
    let shifted = |by_s: f64| {
        let mut s = s1.clone();
        let w = s.points[0].window.as_mut().expect("a shard records its window");
        w.start_unix_us += (by_s * 1e6) as u64;
        w.end_unix_us += (by_s * 1e6) as u64;
        s
    };
    let e = merge(&[s0.clone(), shifted(2.5)], vec![]).unwrap_err();
    assert!(matches!(e, MergeError::TooLittleOverlap { .. }), "{e}");
    assert!(e.to_string().contains("for 0.00 s of the 2.00 s window"), "{e}");
    let e = merge(&[s0.clone(), shifted(0.5)], vec![]).unwrap_err();
    assert!(e.to_string().contains("(75%, below the 90% required)"), "{e}");
    let partial = mqbench::results::merge::merge_with(&[s0.clone(), shifted(0.5)], vec![], 0.5).unwrap();
    assert!(partial.points[0].warnings.iter().any(|w| w.contains("1.50 s of the 2.00 s window (75.0%)")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_meet_at_the_barrier_even_when_one_starts_late() {
    let barrier = tempfile::tempdir().unwrap();
    let late = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        run_shard(SCENARIO, 1, 2, barrier.path()).await
    };
    let (s0, s1) = tokio::join!(run_shard(SCENARIO, 0, 2, barrier.path()), late);
    let (w0, w1) = (s0.points[0].window.unwrap(), s1.points[0].window.unwrap());
    let apart_us = w0.start_unix_us.abs_diff(w1.start_unix_us);
    assert!(apart_us < 20_000, "the shards' windows started {apart_us} µs apart");
    let merged = merge(&[s0, s1], vec![]).unwrap();
    let m = &merged.points[0];
    let common = m.window.unwrap();
    assert!(common.end_unix_us - common.start_unix_us > 1_980_000, "{common:?}");
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_shard_is_judged_by_its_share_and_an_incomplete_set_is_refused() {
    let scenario = SCENARIO.replace("rate: 4000msgps\n  producers: 2", "rate: 6000msgps\n  producers: 3");
    let barrier = tempfile::tempdir().unwrap();
    let (s0, s1, s2) = tokio::join!(
        run_shard(&scenario, 0, 3, barrier.path()),
        run_shard(&scenario, 1, 3, barrier.path()),
        run_shard(&scenario, 2, 3, barrier.path())
    );
    for s in [&s0, &s1, &s2] {
        let p = &s.points[0];
        assert_eq!(p.status, Status::Ok, "{:?}", p.error);
        assert_eq!(p.counts.sent, 4_000, "each shard sends its third of 6,000 msg/s for 2 s");
        assert!(p.warnings.is_empty(), "shard {:?}: {:?}", s.run.shard, p.warnings);
    }
    let merged = merge(&[s0.clone(), s1.clone(), s2], vec![]).unwrap();
    assert!(merged.points[0].warnings.is_empty(), "{:?}", merged.points[0].warnings);
    assert_eq!(merged.points[0].counts.sent, 12_000);
    let e = merge(&[s0, s1], vec![]).unwrap_err();
    assert_eq!(e, MergeError::MissingShards { count: 3, missing: vec![2], present: vec![0, 1] });
    assert!(
        e.to_string().starts_with("shard(s) 2/3 of 3 missing: a merge needs every shard 0..2 (got 0/3, 1/3)"),
        "{e}"
    );
}

#[test]
fn too_many_workers_for_the_producers_is_refused_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.yaml");
    std::fs::write(&file, SCENARIO).unwrap();
    let out = dir.path().join("out");
    let code = mqbench::cli::main(vec![
        "mqbench".into(),
        "run".into(),
        file.into(),
        "--shard".into(),
        "0/3".into(),
        "--out".into(),
        out.clone().into(),
    ]);
    assert_eq!(code, 1);
    assert!(!out.join("results.json").exists());
}
