//! The AMQP 1.0 adapter against Apache ActiveMQ Artemis, started by each
//! test through local provisioning (`provision: local`: `artemis create`
//! in a fresh directory, one AMQP acceptor on a free port), and against
//! ActiveMQ Classic (its upstream distribution, with one AMQP connector).
//! Both distributions come from `bash docker/install-brokers.sh`; without
//! them the tests fail with that command in the message. Nothing is
//! skipped.
#![cfg(feature = "amqp1")]

mod common;

use common::procs::{dir_below, mqbench, pids_with, sigkill, wait_for};
use mqbench::provision::local::process::Mode;
use mqbench::provision::local::{kind_for, Instance};
use mqbench::results::{PointResult, ResultsFile, Status};
use std::time::{Duration, Instant};

async fn run_yaml(text: &str) -> ResultsFile {
    common::run_scenario("artemis-test.yaml", text).await
}

/// A scenario running `workload` against one local Artemis.
fn local(workload: &str, options: &str) -> String {
    format!("workload:\n{workload}brokers:\n  - name: artemis\n    provision: local\n{options}")
}

/// Every message accepted, delivered once to every subscription, intact.
fn assert_all_delivered(p: &PointResult, expected_sent: u64) {
    assert_eq!(p.status, Status::Ok, "{}: {:?}", p.id, p.error);
    let c = &p.counts;
    assert_eq!(c.sent, expected_sent, "{}: {:?}", p.id, p.warnings);
    assert_eq!(c.acked, c.sent, "{}: acked {} of {} ({:?})", p.id, c.acked, c.sent, p.errors);
    let copies = expected_sent * p.params.subscriptions as u64;
    assert_eq!(c.received, copies, "{}: received {} of {copies} ({:?})", p.id, c.received, p.warnings);
    assert_eq!((c.lost, c.duplicated), (0, 0), "{}: {:?}", p.id, p.warnings);
    assert_eq!((c.corrupt, c.foreign, c.failed), (0, 0, 0), "{}: {:?}", p.id, p.warnings);
    // The software is what the broker's Open frame names.
    assert!(p.broker_software.contains("2.40.0"), "{}", p.broker_software);
    assert!(p.broker_software.to_lowercase().contains("artemis"), "{}", p.broker_software);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_producers_and_consumers_on_one_anycast_queue_get_every_message_once() {
    let r = run_yaml(&local(
        "  payload: 1KB\n  rate: 3000msgps\n  producers: 3\n  consumers: 3\n  warmup: 500ms\n  duration: 3s\n  drain: 5s\n",
        "",
    ))
    .await;
    let p = &r.points[0];
    assert_all_delivered(p, 9000);
    assert_eq!(p.by_producer.len(), 3);
    // Each consumer took a share of the queue: no consumer saw it all.
    assert_eq!(p.by_subscription.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multicast_gives_each_of_two_subscriptions_every_message() {
    let r = run_yaml(&local(
        "  payload: 200B\n  rate: 1000msgps\n  producers: 2\n  subscriptions: 2\n  consumers: 2\n  warmup: 500ms\n  duration: 2s\n  drain: 5s\n",
        "",
    ))
    .await;
    let p = &r.points[0];
    assert_all_delivered(p, 2000);
    assert_eq!(p.by_subscription.len(), 2);
    for s in &p.by_subscription {
        assert_eq!(s.received, 2000, "{s:?}");
    }
}

/// Pre-settled sends: Artemis may drop what it cannot take, and the point
/// says exactly how much arrived, with no message counted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settled_mode_reports_what_arrived_and_what_did_not() {
    let r = run_yaml(&local(
        "  payload: 200B\n  rate: 2000msgps\n  producers: 2\n  warmup: 500ms\n  duration: 2s\n  drain: 5s\n",
        "    options:\n      settle: settled\n",
    ))
    .await;
    let p = &r.points[0];
    assert_eq!(p.status, Status::Ok, "{:?}", p.error);
    let c = &p.counts;
    assert_eq!(p.params.options["settle"], "settled");
    // 2 producers x 1000 msg/s x 2 s were due and handed over.
    assert_eq!(c.sent, 4000);
    assert_eq!(c.acked, 4000);
    assert!(c.received > 0 && c.received <= 4000, "{c:?}");
    assert_eq!(c.lost, 4000 - c.received, "{c:?}");
    assert_eq!((c.duplicated, c.corrupt, c.foreign), (0, 0, 0), "{:?}", p.warnings);
    if c.lost > 0 {
        assert!(p.warnings.iter().any(|w| w.contains("lost")), "{:?}", p.warnings);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_clearly_and_quickly() {
    let kind = kind_for("artemis", &serde_json::Map::new()).unwrap();
    let broker = Instance::start(kind.as_ref(), Mode::Attached).await.unwrap();
    assert!(broker.endpoint.contains("mqbench:mqbench@"), "{}", broker.endpoint);
    let wrong = broker.endpoint.replace("mqbench:mqbench@", "mqbench:not-the-password@");
    let started = Instant::now();
    let r = run_yaml(&format!(
        "workload:\n  rate: 100msgps\n  warmup: 0s\n  duration: 1s\nbrokers:\n  - name: artemis\n    provision: live\n    endpoint: \"{wrong}\"\n"
    ))
    .await;
    let p = &r.points[0];
    assert_eq!(p.status, Status::Failed);
    let error = p.error.as_deref().unwrap_or_default();
    assert!(error.contains("authentication") || error.contains("SASL"), "{error}");
    assert!(!error.contains("not-the-password"), "the password leaked into results: {error}");
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
}

/// The Artemis JVM killed in the middle of a point's window: a failed point
/// with the death in its error, and the next point runs to the end on a
/// restarted broker; no JVM outlives mqbench.
#[test]
fn a_broker_killed_mid_point_fails_that_point_and_the_next_runs_on_a_restarted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("kill.yaml");
    std::fs::write(
        &file,
        local("  payload: [100B, 200B]\n  rate: 1000msgps\n  warmup: 500ms\n  duration: 5s\n  drain: 3s\n", ""),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let mut child = mqbench(tmp.path())
        .args(["run", file.to_str().unwrap(), "--no-progress", "--out", out.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Artemis logs AMQ221007 once it is live; the point starts within a
    // fraction of a second after that, and its window 0.5 s later.
    let log = wait_for("Artemis to be live", Duration::from_secs(120), || {
        let log = dir_below(tmp.path(), "mqbench-artemis-", "artemis.log")?;
        std::fs::read_to_string(&log).ok()?.contains("AMQ221007").then_some(log)
    });
    std::thread::sleep(Duration::from_millis(3000));
    let instance = log.parent().unwrap().join("instance");
    let pids = pids_with(&["org.apache.activemq.artemis.boot.Artemis", instance.to_str().unwrap()]);
    assert_eq!(pids.len(), 1, "one Artemis JVM: {pids:?}");
    sigkill(pids[0]);
    let status = child.wait().unwrap();
    assert!(status.success(), "mqbench exited with {status}");
    let left = pids_with(&["org.apache.activemq.artemis.boot.Artemis", tmp.path().to_str().unwrap()]);
    assert!(left.is_empty(), "Artemis JVMs left behind: {left:?}");
    let results = out.join("results.json");
    common::assert_matches_schema(&results);
    let r = mqbench::results::read_results(&results).unwrap();
    assert_eq!(r.points.len(), 2);
    let (dead, next) = (&r.points[0], &r.points[1]);
    assert_eq!(dead.status, Status::Failed, "{:?}", dead.warnings);
    let error = dead.error.as_deref().unwrap_or_default();
    assert!(error.contains("artemis died during the point") && error.contains("signal 9"), "{error}");
    assert!(dead.counts.received < 5000, "{:?}", dead.counts);
    assert_all_delivered(next, 5000);
}

/// ActiveMQ Classic 5.18 from its upstream distribution: a queue and a
/// virtual-topic fan-out to two subscriptions both deliver every message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activemq_classic_delivers_to_a_queue_and_to_two_virtual_topic_subscriptions() {
    let r = run_yaml(
        "workload:\n  payload: 1KB\n  rate: 1000msgps\n  subscriptions: [1, 2]\n  warmup: 500ms\n  duration: 2s\n  drain: 5s\n\
         brokers:\n  - name: activemq\n    provision: local\n",
    )
    .await;
    assert_eq!(r.points.len(), 2);
    for p in &r.points {
        assert_eq!(p.status, Status::Ok, "{}: {:?}", p.id, p.error);
        let c = &p.counts;
        assert_eq!((c.sent, c.acked), (2000, 2000), "{c:?}");
        assert_eq!(c.received, 2000 * p.params.subscriptions as u64, "{c:?}");
        assert_eq!((c.lost, c.duplicated, c.corrupt, c.failed), (0, 0, 0, 0), "{:?}", p.warnings);
        assert!(p.broker_software.contains("5.18.3"), "{}", p.broker_software);
    }
}
