//! The Redis adapter against a real redis-server that each run starts
//! through local provisioning (`provision: local`, the default for redis).
//! Without `redis-server` installed these tests fail with the provisioning
//! error, which names the install script.
#![cfg(feature = "redis")]

mod common;

use mqbench::adapter::Rules;
use mqbench::results::{PointResult, ResultsFile, Status};
use mqbench::scenario::{parse, Overrides};
use std::path::Path;

async fn run_yaml(text: &str) -> ResultsFile {
    common::run_scenario("redis-test.yaml", text).await
}

fn scenario(workload: &str, options: &str) -> String {
    format!(
        "workload:\n  payload: 100B\n  warmup: 300ms\n  duration: 2s\n  drain: 3s\n{workload}brokers:\n  - name: redis\n    options:\n{options}"
    )
}

/// Every message due in the window was sent, acknowledged and received
/// once per subscription, in order, with one latency sample each.
fn assert_complete(p: &PointResult, subscriptions: u64) {
    assert_eq!(p.status, Status::Ok, "{:?}", p.error);
    assert!(
        p.broker_software.starts_with("redis 7") || p.broker_software.starts_with("redis "),
        "{}",
        p.broker_software
    );
    let c = &p.counts;
    assert!(c.sent > 0);
    assert_eq!(c.acked, c.sent, "{c:?}");
    assert_eq!(c.received, subscriptions * c.acked, "{c:?}");
    assert_eq!((c.lost, c.duplicated, c.failed, c.corrupt, c.foreign), (0, 0, 0, 0, 0), "{c:?}");
    assert_eq!(c.out_of_order, 0, "{c:?}");
    assert_eq!(p.latency_us.end_to_end.count, c.received, "{c:?}");
    // Whether the producers kept the schedule depends on the machine's
    // load (a figure for a benchmark); anything else warned about is a
    // failure of the point.
    let schedule = |w: &str| w.starts_with("behind schedule") || w.starts_with("schedule delay grew");
    assert!(p.warnings.iter().all(|w| schedule(w)), "{:?}", p.warnings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_deliver_every_message() {
    let r = run_yaml(&scenario("  rate: 5000msgps\n", "      mode: streams\n")).await;
    let p = &r.points[0];
    assert_complete(p, 1);
    assert_eq!(p.counts.sent, 10_000);
    // Redis is a process this run started: its CPU and memory are recorded.
    let broker = p.resources.broker.as_ref().expect("broker resources");
    assert!(broker.peak_rss_bytes > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_keep_order_per_producer_and_stream_with_shared_groups() {
    let r = run_yaml(&scenario(
        "  rate: 8000msgps\n  producers: 3\n  partitions: 4\n  subscriptions: 2\n  consumers: 2\n",
        "      mode: streams\n      read_count: 50\n",
    ))
    .await;
    let p = &r.points[0];
    assert_complete(p, 2);
    assert!(p.out_of_order_by_partition.is_empty(), "{:?}", p.out_of_order_by_partition);
    assert_eq!(p.by_producer.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_with_maxlen_and_noack() {
    // MAXLEN far above what a point holds: trimming must not lose anything.
    let r =
        run_yaml(&scenario("  rate: 3000msgps\n", "      mode: streams\n      maxlen: 1000000\n      ack: false\n"))
            .await;
    assert_complete(&r.points[0], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_produce_only_point_counts_acked_messages_and_consumes_nothing() {
    // `subscriptions: 0`, as in the comparison with redis-benchmark (docs/brokers/redis.md).
    let r = run_yaml(&scenario("  rate: 4000msgps\n  subscriptions: 0\n", "      mode: streams\n")).await;
    let p = &r.points[0];
    assert_eq!(p.status, Status::Ok, "{:?}", p.error);
    assert_eq!(p.counts.sent, 8_000);
    assert_eq!(p.counts.acked, p.counts.sent);
    assert_eq!((p.counts.received, p.counts.lost), (0, 0));
    assert_eq!(p.latency_us.publish.count, p.counts.acked);
    assert!(p.warnings.iter().any(|w| w.contains("produce-only")), "{:?}", p.warnings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_mode_refuses_a_produce_only_point() {
    let r = run_yaml(&scenario("  rate: 1000msgps\n  subscriptions: 0\n", "      mode: list\n")).await;
    let p = &r.points[0];
    assert_eq!(p.status, Status::Failed);
    assert!(p.error.as_deref().unwrap_or_default().contains("at least one subscription"), "{:?}", p.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_delivers_every_message_to_every_subscription() {
    let r =
        run_yaml(&scenario("  rate: 5000msgps\n  subscriptions: 2\n  partitions: 2\n", "      mode: pubsub\n")).await;
    let p = &r.points[0];
    assert_complete(p, 2);
    assert_eq!(p.adapter_stats["short_publishes"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_refuses_shared_consumers_with_a_clear_error() {
    let r = run_yaml(&scenario("  rate: 1000msgps\n  consumers: 2\n", "      mode: pubsub\n")).await;
    let p = &r.points[0];
    assert_eq!(p.status, Status::Failed);
    let e = p.error.as_deref().unwrap_or_default();
    assert!(e.contains("pubsub") && e.contains("consumers"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_delivers_every_message() {
    let r = run_yaml(&scenario("  rate: 5000msgps\n  producers: 2\n  partitions: 2\n", "      mode: list\n")).await;
    let p = &r.points[0];
    assert_complete(p, 1);
    assert_eq!(p.params.options["pop"], "BLMPOP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_fans_out_to_every_subscription_and_shares_within_one() {
    let r = run_yaml(&scenario("  rate: 4000msgps\n  subscriptions: 2\n  consumers: 2\n", "      mode: list\n")).await;
    assert_complete(&r.points[0], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modes_run_against_one_broker_and_unthrottled_works() {
    // Three points, one redis-server (started once, reused), unthrottled.
    let r = run_yaml(
        "workload:\n  payload: 100B\n  rate: max\n  in_flight: 256\n  warmup: 200ms\n  duration: 1s\n  drain: 5s\nbrokers:\n  - name: redis\n    options:\n      mode: [streams, list, pubsub]\n",
    )
    .await;
    assert_eq!(r.points.len(), 3);
    for p in &r.points {
        assert_eq!(p.status, Status::Ok, "{}: {:?}", p.id, p.error);
        assert_eq!(p.counts.acked, p.counts.sent, "{}", p.id);
        assert!(p.counts.acked > 1000, "{}: {:?}", p.id, p.counts);
        assert_eq!(p.counts.duplicated, 0, "{}", p.id);
        if p.params.options["mode"] != "pubsub" {
            // Queued modes lose nothing even unthrottled.
            assert_eq!(p.counts.lost, 0, "{}", p.id);
            assert_eq!(p.counts.received, p.counts.acked, "{}", p.id);
        }
    }
}

#[test]
fn options_are_checked_up_front() {
    let e =
        parse(Path::new("x.yaml"), &scenario("", "      mode: queue\n"), &Overrides::default(), &Rules).unwrap_err();
    assert!(e.to_string().contains("queue"), "{e}");
    let e = parse(
        Path::new("x.yaml"),
        &scenario("", "      mode: list\n      maxlen: 10\n"),
        &Overrides::default(),
        &Rules,
    )
    .unwrap_err();
    assert!(e.to_string().contains("`maxlen`"), "{e}");
    let e = parse(Path::new("x.yaml"), &scenario("", "      mdoe: list\n"), &Overrides::default(), &Rules).unwrap_err();
    assert!(e.to_string().contains("mdoe"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_multiplexed_connection_keeps_order_too() {
    // redis-rs's multiplexed connection (the `direct` default bypasses it).
    let r = run_yaml(&scenario(
        "  rate: 6000msgps\n  producers: 2\n  partitions: 3\n",
        "      mode: [streams, list]\n      connection: multiplexed\n",
    ))
    .await;
    assert_eq!(r.points.len(), 2);
    for p in &r.points {
        assert_complete(p, 1);
        assert_eq!(p.params.options["connection"], "multiplexed");
    }
}

/// A redis-server serving TLS only, with a certificate for 127.0.0.1 signed
/// by a CA made for this test; killed on drop.
struct TlsRedis {
    child: std::process::Child,
    port: u16,
    ca_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl TlsRedis {
    fn start() -> TlsRedis {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.subject_alt_names.push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        let write = |name: &str, text: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let ca_file = write("ca.pem", ca.pem());
        let cert_file = write("server.pem", cert.pem());
        let key_file = write("server.key", key.serialize_pem());
        let port = portpicker::pick_unused_port().expect("a free port");
        let child = std::process::Command::new("redis-server")
            .args(["--port", "0", "--bind", "127.0.0.1", "--tls-port", &port.to_string()])
            .arg("--tls-cert-file")
            .arg(&cert_file)
            .arg("--tls-key-file")
            .arg(&key_file)
            .arg("--tls-ca-cert-file")
            .arg(&ca_file)
            .args(["--tls-auth-clients", "no", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (docker/install-brokers.sh installs it)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "redis-server with TLS did not listen on {port}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        TlsRedis { child, port, ca_file, _dir: dir }
    }

    fn scenario(&self, options: &str) -> String {
        format!(
            "workload:\n  payload: 100B\n  rate: 2000msgps\n  warmup: 300ms\n  duration: 2s\n  drain: 3s\nbrokers:\n  - name: redis\n    provision: live\n    endpoint: rediss://127.0.0.1:{}\n    options:\n      mode: streams\n{options}",
            self.port
        )
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_with_the_servers_ca_delivers_every_message() {
    let server = TlsRedis::start();
    let r = run_yaml(&server.scenario(&format!("      tls_ca_file: {}\n", server.ca_file.display()))).await;
    assert_complete(&r.points[0], 1);
    assert_eq!(r.points[0].counts.sent, 4_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_refuses_a_certificate_from_an_unknown_ca() {
    let server = TlsRedis::start();
    let r = run_yaml(&server.scenario("")).await;
    let p = &r.points[0];
    assert_eq!(p.status, Status::Failed);
    let error = p.error.as_deref().unwrap_or_default().to_lowercase();
    assert!(error.contains("certificate") || error.contains("issuer"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mode_runs_several_topics_each_with_its_own_producers_and_subscriptions() {
    // 3 topics x 2 producers at 3,000 msg/s in total: 1,000 per producer in
    // the 2 s window; every topic to its own 2 subscriptions.
    let r = run_yaml(&scenario(
        "  rate: 3000msgps\n  topics: 3\n  producers: 2\n  subscriptions: 2\n",
        "      mode: [streams, pubsub, list]\n",
    ))
    .await;
    assert_eq!(r.points.len(), 3);
    for p in &r.points {
        assert_complete(p, 2);
        assert_eq!(p.counts.sent, 6_000, "{}", p.id);
        assert_eq!(p.by_producer.iter().map(|b| b.producer).collect::<Vec<_>>(), (0..6).collect::<Vec<_>>());
        assert_eq!(p.by_topic.len(), 3, "{}", p.id);
        for t in &p.by_topic {
            assert_eq!(
                (t.counts.sent, t.counts.received, t.counts.lost),
                (2_000, 4_000, 0),
                "{} topic {}",
                p.id,
                t.topic
            );
        }
    }
}
