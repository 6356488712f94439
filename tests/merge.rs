//! `mqbench merge` of loopback shards: two workers (`--shard 0/2`, `1/2`)
//! each running one of two producers, merged, equal one run with both
//! producers on counts and histogram totals; bad shard sets are refused.

mod common;

use mqbench::measure::LatencyHistogram;
use mqbench::results::merge::{merge, MergeError};
use mqbench::results::{ResultsFile, Shard, Status};
use mqbench::run::RunOptions;

// A fixed rate makes counts exact: 4,000 msg/s over a 2 s window is 8,000
// messages however the producers are split.
const SCENARIO: &str = "name: shards\nworkload:\n  payload: 100B\n  rate: 4000msgps\n  producers: 2\n  warmup: 500ms\n  duration: 2s\n  drain: 2s\nbrokers:\n  - name: loopback\n";

async fn run(shard: Option<Shard>) -> ResultsFile {
    common::run_scenario_with("shards.yaml", SCENARIO, RunOptions { shard, ..Default::default() }).await
}

fn total(text: &str) -> u64 {
    LatencyHistogram::decode(text).unwrap().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_merge_to_one_run_with_both_producers() {
    let whole = run(None).await;
    let s0 = run(Some(Shard { index: 0, count: 2 })).await;
    let s1 = run(Some(Shard { index: 1, count: 2 })).await;
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
    // Throughput adds: each shard carried half the load.
    let sum = s0.points[0].throughput.consume_msgs_per_s + s1.points[0].throughput.consume_msgs_per_s;
    assert_eq!(m.throughput.consume_msgs_per_s, sum);
    assert!((m.throughput.publish_msgs_per_s - 4_000.0).abs() < 1e-9);
    // The merged file is a results file like any other.
    assert_eq!(merged.run.shard, None);
    let back: ResultsFile = serde_json::from_str(&serde_json::to_string(&merged).unwrap()).unwrap();
    assert_eq!(back, merged);

    // Refusals: the same shard twice (overlapping producer ids), another scenario.
    let e = merge(&[s0.clone(), s0.clone()], vec![]).unwrap_err();
    assert!(matches!(e, MergeError::SameShard { .. }), "{e}");
    let mut unsharded = s0.clone();
    unsharded.run.shard = None;
    let e = merge(&[unsharded, whole.clone()], vec![]).unwrap_err();
    assert!(matches!(e, MergeError::OverlappingProducers { producer: 0, .. }), "{e}");
    assert!(e.to_string().contains("producer 0 appears in shards 0 and 1"), "{e}");
    let mut other = s1.clone();
    other.run.scenario = "other".into();
    let e = merge(&[s0.clone(), other], vec![]).unwrap_err();
    assert!(e.to_string().contains("only shards of one scenario merge"), "{e}");
    assert_eq!(merge(&[s0], vec![]).unwrap_err(), MergeError::TooFew(1));
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
