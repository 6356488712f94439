//! `cargo bench --bench loopback`: the harness's own ceiling and its hot
//! paths. The end-to-end bench runs real loopback points (producer, pacing
//! window, consumer, accounting) and reports time per delivered message;
//! the others isolate what every message costs.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mqbench::adapter::Rules;
use mqbench::measure::{BodyPool, ConsumerLedger, Header, LatencyHistogram};
use mqbench::results::Status;
use mqbench::run::{run_loaded, RunOptions};
use mqbench::scenario::{parse, Overrides};
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// One loopback point of `secs` seconds; returns (delivered messages, window).
fn loopback_point(rt: &tokio::runtime::Runtime, payload: &str, secs: u32) -> (u64, Duration) {
    let text = format!(
        "workload:\n  payload: {payload}\n  rate: max\n  warmup: 200ms\n  duration: {secs}s\n  drain: 2s\nbrokers:\n  - name: loopback\n"
    );
    let scenario = parse(Path::new("bench.yaml"), &text, &Overrides::default(), &Rules).expect("bench scenario");
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = RunOptions { out: Some(dir.path().to_path_buf()), ..Default::default() };
    let outcome = rt.block_on(run_loaded(scenario, opts, CancellationToken::new())).expect("loopback run");
    let p = &outcome.results.points[0];
    assert!(p.status == Status::Ok, "point {} failed: {}", p.id, p.error.as_deref().unwrap_or("(no error recorded)"));
    assert_eq!(p.counts.lost, 0);
    assert_eq!(p.counts.corrupt, 0);
    let delivered = (p.throughput.consume_msgs_per_s * p.params.duration_s) as u64;
    assert!(delivered > 0, "point {}: nothing delivered in the window", p.id);
    (delivered, Duration::from_secs(secs as u64))
}

fn end_to_end(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut g = c.benchmark_group("loopback_end_to_end");
    g.sample_size(10).measurement_time(Duration::from_secs(20)).warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(1));
    for payload in ["10B", "1KB"] {
        g.bench_function(format!("max_rate/{payload}"), |b| {
            b.iter_custom(|iters| {
                // Time per delivered message, scaled to `iters` messages.
                let (delivered, window) = loopback_point(&rt, payload, 1);
                window.mul_f64(iters as f64 / delivered as f64)
            })
        });
    }
    g.finish();
}

fn hot_paths(c: &mut Criterion) {
    let pool = BodyPool::new(100);
    let mut g = c.benchmark_group("per_message");
    g.throughput(Throughput::Elements(1));
    let mut seq = 0u64;
    g.bench_function("encode_100B", |b| {
        b.iter(|| {
            seq += 1;
            pool.encode(Header { producer: 1, seq, due_us: 1_700_000_000_000_000 + seq })
        })
    });
    let body = pool.encode(Header { producer: 1, seq: 7, due_us: 1_700_000_000_000_000 });
    g.bench_function("decode_verify_100B", |b| b.iter(|| pool.decode(&body, 1_700_000_000_000_100, true)));
    g.bench_function("ledger_record", |b| {
        b.iter_batched(
            || ConsumerLedger::new(0, 1),
            |mut l| {
                for s in 0..1000u64 {
                    l.record(0, s, 0, true);
                }
                l
            },
            BatchSize::SmallInput,
        )
    });
    let mut h = LatencyHistogram::new();
    let mut v = 0u64;
    g.bench_function("histogram_record", |b| {
        b.iter(|| {
            v = (v + 7919) % 1_000_000;
            h.record(v)
        })
    });
    g.finish();
}

criterion_group!(benches, hot_paths, end_to_end);
criterion_main!(benches);
