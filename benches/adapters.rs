//! `cargo bench --bench adapters`: one small fixed workload per adapter,
//! against a broker this bench starts itself through local provisioning
//! (the loopback needs none). A broker that is not installed fails the
//! bench with provisioning's own error, which names the install command;
//! nothing is skipped.
//!
//! The workload: 1 KB bodies, unthrottled, one producer and one consumer,
//! 0.5 s of warm-up and a 2 s window. What criterion is given is the
//! harness's own measurement, checked: the measured window's length divided
//! by the messages the consumer received in it (time per delivered
//! message), scaled to criterion's iteration count. Criterion's wall clock
//! would time the broker's connection set-up and the drain as well, which
//! are not what a change to an adapter moves. Every sample must be a
//! successful point with nothing lost or corrupt, or the bench panics with
//! the point's error.
//!
//! Each adapter's broker is started once and every sample runs against it
//! as a live endpoint, so that a sample costs one point, not a broker
//! start. Select adapters the criterion way:
//! `cargo bench --bench adapters -- redis`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mqbench::adapter::Rules;
use mqbench::provision::{provision, RunningBroker};
use mqbench::results::{PointResult, Status};
use mqbench::run::{run_loaded, RunOptions};
use mqbench::scenario::{parse, Overrides, Scenario};
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The broker entries benchmarked: scenario name, and the adapter that
/// serves it (the loopback is in-process, the others are started locally).
const ADAPTERS: &[(&str, &str)] =
    &[("loopback", "loopback"), ("redis", "redis"), ("kafka", "kafka"), ("rabbitmq", "rabbitmq"), ("artemis", "amqp1")];

const WORKLOAD: &str = "workload:\n  payload: 1KB\n  rate: max\n  warmup: 500ms\n  duration: 2s\n  drain: 5s\n";

fn scenario(brokers: &str) -> Scenario {
    let text = format!("name: bench\n{WORKLOAD}brokers:\n{brokers}");
    parse(Path::new("bench.yaml"), &text, &Overrides::default(), &Rules).expect("the bench's own scenario parses")
}

/// Starts `name` as a scenario with `provision: local` would.
fn start(rt: &tokio::runtime::Runtime, name: &str) -> Box<dyn RunningBroker> {
    let s = scenario(&format!("  - name: {name}\n"));
    let point = &s.points[0];
    rt.block_on(provision(&point.broker, &point.params.options, &[]))
        .unwrap_or_else(|e| panic!("bench `{name}`: could not start its broker: {e:#}"))
}

/// The entry that runs against `broker` (live) or in-process.
fn entry(name: &str, adapter: &str, broker: Option<&dyn RunningBroker>) -> String {
    match broker {
        None => format!("  - name: {name}\n"),
        Some(b) => {
            format!("  - name: {name}\n    adapter: {adapter}\n    provision: live\n    endpoint: '{}'\n", b.endpoint())
        }
    }
}

/// Runs one point and returns it, or panics with why it failed.
fn one_point(rt: &tokio::runtime::Runtime, entry: &str) -> PointResult {
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = RunOptions { out: Some(dir.path().to_path_buf()), progress: false, ..Default::default() };
    let outcome = rt.block_on(run_loaded(scenario(entry), opts, CancellationToken::new())).expect("bench run");
    let p = outcome.results.points.into_iter().next().expect("one point");
    assert!(p.status == Status::Ok, "point {} failed: {}", p.id, p.error.as_deref().unwrap_or("(no error recorded)"));
    assert_eq!(p.counts.lost, 0, "point {}: messages lost", p.id);
    assert_eq!(p.counts.corrupt, 0, "point {}: corrupt bodies", p.id);
    p
}

/// Time per message delivered in the window, for `iters` messages.
fn per_delivered(p: &PointResult, iters: u64) -> Duration {
    let window = p.params.duration_s;
    let delivered = p.throughput.consume_msgs_per_s * window;
    assert!(delivered >= 1.0, "point {}: nothing delivered in the window", p.id);
    Duration::from_secs_f64(window * iters as f64 / delivered)
}

fn adapters(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut g = c.benchmark_group("adapter_1KB_unthrottled");
    // Each sample is a point of about 3 s: ten samples (criterion's least)
    // keep a broker's bench near half a minute.
    g.sample_size(10).warm_up_time(Duration::from_millis(1)).measurement_time(Duration::from_secs(30));
    g.throughput(Throughput::Elements(1));
    for &(name, adapter) in ADAPTERS {
        // Started only when criterion's filter selects this bench.
        let mut broker: Option<Box<dyn RunningBroker>> = None;
        g.bench_function(name, |b| {
            if name != "loopback" && broker.is_none() {
                broker = Some(start(&rt, name));
            }
            let entry = entry(name, adapter, broker.as_deref());
            b.iter_custom(|iters| per_delivered(&one_point(&rt, &entry), iters))
        });
        if let Some(mut b) = broker {
            rt.block_on(b.stop()).expect("stopping the bench's broker");
        }
    }
    g.finish();
}

criterion_group!(benches, adapters);
criterion_main!(benches);
