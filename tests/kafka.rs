//! The Kafka adapter against Apache Kafka, started by each test through
//! local provisioning (`provision: local`, the default for the kafka
//! adapter): single KRaft nodes, and a three-node cluster with replication
//! 3. A missing installation fails the tests with the install command
//! (`bash docker/install-brokers.sh`); nothing is skipped.
//!
//! tansu (`local_broker: tansu`) is not tested here: it is an option for
//! users who want a Kafka-protocol broker without a JVM, and building it
//! from crates.io costs CI about 12 minutes.
#![cfg(feature = "kafka")]

mod common;

use common::procs::{dir_below, entry_named, mqbench, pids_with, sigkill, wait_for};
use mqbench::provision::local::kafka::ApacheKafkaKind;
use mqbench::provision::local::process::Mode;
use mqbench::provision::local::{Instance, LocalKind, Ports};
use mqbench::results::{PointResult, ResultsFile, Status};
use std::path::Path;
use std::time::{Duration, Instant};

async fn run_yaml(text: &str) -> ResultsFile {
    common::run_scenario("kafka-test.yaml", text).await
}

/// Every message delivered once, intact, in order per partition.
fn assert_exact(p: &PointResult) {
    assert_eq!(p.status, Status::Ok, "{}: {:?}", p.id, p.error);
    let c = &p.counts;
    assert!(c.sent > 0, "{}: nothing sent", p.id);
    assert_eq!(c.acked, c.sent, "{}: acked {} of {} ({:?})", p.id, c.acked, c.sent, p.errors);
    assert_eq!(c.received, c.sent, "{}: received {} of {}", p.id, c.received, c.sent);
    assert_eq!((c.lost, c.duplicated, c.out_of_order), (0, 0, 0), "{}: {:?}", p.id, p.warnings);
    assert_eq!((c.corrupt, c.foreign, c.failed), (0, 0, 0), "{}: {:?}", p.id, p.warnings);
    assert!(p.out_of_order_by_partition.is_empty());
    assert!(p.broker_software.starts_with("apache kafka 4."), "{}", p.broker_software);
    assert!(p.client.starts_with("librdkafka 2.12.1"), "{}", p.client);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_partitions_two_consumers_deliver_exactly_once_in_order() {
    let r = run_yaml(
        "workload:\n  payload: 1KB\n  rate: 2000msgps\n  partitions: 3\n  consumers: 2\n  warmup: 500ms\n  duration: 3s\n  drain: 5s\n\
         brokers:\n  - name: kafka\n",
    )
    .await;
    assert_eq!(r.points.len(), 1);
    let p = &r.points[0];
    assert_exact(p);
    assert_eq!(p.counts.sent, 6000);
    // The two members of the group split the three partitions.
    let groups = p.adapter_stats["group_assignments"].as_object().unwrap();
    assert_eq!(groups.len(), 1, "{groups:?}");
    let members: Vec<Vec<i64>> = serde_json::from_value(groups.values().next().unwrap().clone()).unwrap();
    assert_eq!(members.len(), 2);
    assert!(members.iter().all(|m| !m.is_empty()), "a member holds no partition: {members:?}");
    let mut all: Vec<i64> = members.concat();
    all.sort();
    assert_eq!(all, vec![0, 1, 2]);
    // librdkafka's own fetch wait is on record (Apache Kafka answers a
    // fetch as soon as data is there; only tansu gets a short one).
    assert_eq!(p.params.options["fetch_wait_max_ms"], serde_json::json!(500));
    assert_eq!(p.adapter_stats["delivery_errors"], 0);
    // Through the group's rebalances every partition was forwarded to its
    // member's own queue before fetching started.
    assert_eq!(p.adapter_stats["unforwarded"], 0);
}

/// `backlog: true`: the group joins after everything was produced, starts
/// from the earliest offset, and reads it all; the consume rate is the
/// catch-up rate over the drain, not the (empty) window's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_is_drained_by_consumers_that_attach_later() {
    let r = run_yaml(
        "workload:\n  payload: 1KB\n  rate: 5000msgps\n  partitions: 3\n  warmup: 500ms\n  duration: 2s\n  drain: 20s\n  backlog: true\n\
         brokers:\n  - name: kafka\n",
    )
    .await;
    let p = &r.points[0];
    assert_exact(p);
    assert!(p.params.backlog);
    assert_eq!(p.counts.sent, 10_000);
    assert!(p.warnings.iter().any(|w| w.starts_with("backlog point")), "{:?}", p.warnings);
    // Everything was waiting when the consumers attached, so the catch-up
    // rate beats the rate it was produced at, and the oldest message
    // waited at least the whole window.
    assert!(p.throughput.consume_msgs_per_s > 5000.0, "{:?}", p.throughput);
    assert!(p.latency_us.end_to_end.max >= 2_000_000, "{:?}", p.latency_us.end_to_end);
    assert_eq!(p.adapter_stats["unforwarded"], 0);
}

/// `--keep-topics` leaves the point's topic and every message on the
/// broker, and the result names the topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_topics_leaves_the_topic_and_its_messages() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let broker = Instance::start(&ApacheKafkaKind::new().unwrap(), Mode::Attached).await.unwrap();
    let endpoint = format!("127.0.0.1:{}", broker.ports.main());
    let text = format!(
        "workload:\n  payload: 100B\n  rate: 1000msgps\n  partitions: 2\n  subscriptions: 0\n  warmup: 0s\n  duration: 1s\n\
         brokers:\n  - name: kafka\n    provision: live\n    endpoint: {endpoint}\n"
    );
    let opts = mqbench::run::RunOptions { keep_topics: true, ..Default::default() };
    let r = common::run_scenario_with("keep.yaml", &text, opts).await;
    let p = &r.points[0];
    assert_eq!(p.status, Status::Ok, "{:?}", p.error);
    assert_eq!(p.counts.acked, 1000);
    let kept = p.warnings.iter().find_map(|w| w.strip_prefix("kept `")).expect("no `kept` warning");
    let topic = kept.split('`').next().unwrap().to_string();
    // Read the topic back from the start of each partition to its end.
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &endpoint)
        .set("group.id", "keep-topics-check")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "1")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    for partition in 0..2 {
        tpl.add_partition_offset(&topic, partition, rdkafka::Offset::Beginning).unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let (mut stored, mut at_end) = (0, std::collections::BTreeSet::new());
    let deadline = Instant::now() + Duration::from_secs(20);
    while at_end.len() < 2 && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(_)) => stored += 1,
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(partition))) => {
                at_end.insert(partition);
            }
            Some(Err(e)) => panic!("reading `{topic}` back: {e}"),
            None => {}
        }
    }
    assert_eq!(at_end.len(), 2, "did not reach the end of `{topic}` in 20 s ({stored} read)");
    assert_eq!(stored, 1000, "messages left in `{topic}`");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_0_and_all_and_keyed_messages_deliver() {
    let r = run_yaml(
        "workload:\n  payload: 200B\n  rate: 2000msgps\n  partitions: 3\n  warmup: 0s\n  duration: 2s\n  drain: 5s\n\
         brokers:\n  - name: kafka\n    options:\n      acks: [0, all]\n      keys: [false, true]\n",
    )
    .await;
    assert_eq!(r.points.len(), 4);
    for p in &r.points {
        assert_exact(p);
    }
    assert_eq!(r.points[0].params.options["acks"], serde_json::json!(0));
    assert_eq!(r.points[3].params.options["acks"], serde_json::json!("all"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_and_idempotence_deliver_intact_payloads() {
    let r = run_yaml(
        "workload:\n  payload: 2KB\n  rate: 1000msgps\n  partitions: 2\n  warmup: 0s\n  duration: 1s\n  drain: 5s\n\
         brokers:\n  - name: kafka\n    options:\n      compression: [none, gzip, snappy, lz4, zstd]\n      idempotence: [false, true]\n",
    )
    .await;
    assert_eq!(r.points.len(), 10);
    for p in &r.points {
        // The runner compares every body byte with what was sent.
        assert_exact(p);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_bootstrap_server_fails_the_point_clearly_within_10s() {
    let port = portpicker::pick_unused_port().unwrap();
    let started = Instant::now();
    let r = run_yaml(&format!(
        "workload:\n  rate: 100msgps\n  warmup: 0s\n  duration: 1s\nbrokers:\n  - name: kafka\n    provision: live\n    endpoint: 127.0.0.1:{port}\n"
    ))
    .await;
    let elapsed = started.elapsed();
    let p = &r.points[0];
    assert_eq!(p.status, Status::Failed);
    let error = p.error.as_deref().unwrap_or_default();
    assert!(error.contains(&format!("127.0.0.1:{port}")) && error.contains("bootstrap"), "{error}");
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}: {error}");
}

/// Apache Kafka on a port someone else holds: the JVM's bind error is
/// quoted from its log, not a hang or a bare exit code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_gives_a_clear_error_quoting_the_log() {
    // Someone else holds the port and accepts connections without answering.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let kind = OnPort { inner: ApacheKafkaKind::new().unwrap(), port };
    let started = Instant::now();
    let err = match Instance::start(&kind, Mode::Attached).await {
        Ok(_) => panic!("Kafka cannot be ready on a port that is taken"),
        Err(e) => format!("{e:#}"),
    };
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
    assert!(err.contains("apache-kafka") && err.contains("exited"), "{err}");
    assert!(err.contains("kafka-node-1.log") && err.contains("Address already in use"), "{err}");
    drop(holder);
}

/// Apache Kafka told to listen on a given client port.
struct OnPort {
    inner: ApacheKafkaKind,
    port: u16,
}

impl OnPort {
    fn ports(&self, ports: &Ports) -> Ports {
        let mut p = ports.0.clone();
        p[0] = self.port;
        Ports(p)
    }
}

#[async_trait::async_trait]
impl LocalKind for OnPort {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn ports_needed(&self) -> usize {
        self.inner.ports_needed()
    }
    fn launches(&self, dir: &Path, ports: &Ports) -> anyhow::Result<Vec<mqbench::provision::local::Launch>> {
        self.inner.launches(dir, &self.ports(ports))
    }
    fn endpoint(&self, ports: &Ports) -> String {
        self.inner.endpoint(&self.ports(ports))
    }
    async fn probe(&self, ports: &Ports) -> anyhow::Result<String> {
        self.inner.probe(&self.ports(ports)).await
    }
}

/// A `mqbench run` of `scenario` in a private TMPDIR (its brokers'
/// directories land there), once point `index` has stored its first
/// message on node `node` (the warm-up has begun).
struct RunningPoint {
    tmp: tempfile::TempDir,
    child: std::process::Child,
    out: std::path::PathBuf,
    /// The broker instance's directory.
    instance: std::path::PathBuf,
}

impl RunningPoint {
    fn start(scenario: &str, index: usize, node: u32) -> RunningPoint {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("kill.yaml");
        std::fs::write(&file, scenario).unwrap();
        let out = tmp.path().join("out");
        let child = mqbench(tmp.path())
            .args(["run", file.to_str().unwrap(), "--no-progress", "--out", out.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let data = format!("node-{node}/data");
        let partition = wait_for("the point's first message on the broker", Duration::from_secs(120), || {
            let data = dir_below(tmp.path(), "mqbench-apache-kafka-", &data)?;
            let partition = entry_named(&data, "mqbench-", &format!("-{index}-r0-0"))?;
            let segment = entry_named(&partition, "0000", ".log")?;
            (std::fs::metadata(segment).ok()?.len() > 0).then_some(partition)
        });
        let instance = partition.ancestors().nth(3).unwrap().to_path_buf();
        RunningPoint { tmp, child, out, instance }
    }

    /// The JVM of node `node`.
    fn node_pid(&self, node: u32) -> i32 {
        let config = self.instance.join(format!("server-{node}.properties"));
        let pids = pids_with(&["kafka.Kafka", config.to_str().unwrap()]);
        assert_eq!(pids.len(), 1, "one JVM runs node {node}: {pids:?}");
        pids[0]
    }

    /// Waits for mqbench to exit; checks that no JVM of the run and no
    /// broker directory is left, and that the results match the schema.
    fn finish(mut self) -> (std::process::ExitStatus, ResultsFile) {
        let status = self.child.wait().unwrap();
        let left = pids_with(&["kafka.Kafka", self.tmp.path().to_str().unwrap()]);
        assert!(left.is_empty(), "Kafka JVMs left behind: {left:?}");
        assert!(!self.instance.exists(), "the broker's directory {} is left", self.instance.display());
        let results = self.out.join("results.json");
        common::assert_matches_schema(&results);
        (status, mqbench::results::read_results(&results).unwrap())
    }
}

/// Runs `scenario` and, `after` past the first message of point `index`
/// on node `node`, SIGKILLs that node's JVM. Returns the results and the
/// killed pid.
fn run_killing_node(scenario: &str, index: usize, node: u32, after: Duration) -> (ResultsFile, i32) {
    let run = RunningPoint::start(scenario, index, node);
    std::thread::sleep(after);
    let pid = run.node_pid(node);
    sigkill(pid);
    let (status, results) = run.finish();
    assert!(status.success(), "mqbench exited with {status}");
    (results, pid)
}

/// SIGTERM and SIGINT to mqbench in the middle of a point: it records the
/// point as interrupted, stops every node of the cluster it started and
/// exits with 128 + the signal; no JVM outlives it.
#[test]
fn sigterm_or_sigint_mid_point_leaves_no_kafka_jvm_behind() {
    for (signal, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let run = RunningPoint::start(
            "workload:\n  payload: 100B\n  rate: 1000msgps\n  warmup: 500ms\n  duration: 20s\n\
             brokers:\n  - name: kafka\n    options: {local_nodes: 2, replication_factor: 2}\n",
            0,
            1,
        );
        let nodes = [run.node_pid(1), run.node_pid(2)];
        // SAFETY: kill has no memory preconditions.
        unsafe { libc::kill(run.child.id() as i32, signal) };
        let (status, r) = run.finish();
        assert_eq!(status.code(), Some(code), "signal {signal}");
        for pid in nodes {
            assert!(!Path::new(&format!("/proc/{pid}")).exists(), "node JVM {pid} outlived mqbench");
        }
        let p = &r.points[0];
        assert_eq!(p.status, Status::Failed);
        assert!(p.error.as_deref().unwrap_or_default().contains("interrupted"), "{:?}", p.error);
    }
}

/// The only node killed in the middle of a point's window: that point is
/// recorded as failed with the broker's death in its error, and the next
/// point runs to the end on a restarted broker.
#[test]
fn a_broker_killed_mid_point_fails_that_point_and_the_next_runs_on_a_restarted_one() {
    let (r, killed) = run_killing_node(
        "workload:\n  payload: [100B, 200B]\n  rate: 1000msgps\n  warmup: 500ms\n  duration: 4s\n  drain: 3s\n\
         brokers:\n  - name: kafka\n",
        0,
        1,
        Duration::from_millis(1500),
    );
    assert_eq!(r.points.len(), 2);
    let (dead, next) = (&r.points[0], &r.points[1]);
    assert_eq!(dead.status, Status::Failed, "{:?}", dead.warnings);
    let error = dead.error.as_deref().unwrap_or_default();
    assert!(error.contains("apache-kafka died during the point"), "{error}");
    assert!(error.contains("kafka-node-1.log") && error.contains("signal 9"), "{error}");
    // Messages were sent before the kill, and not all of them made it.
    assert!(dead.counts.sent > 0 && dead.counts.received < dead.counts.sent, "{:?}", dead.counts);
    assert_exact(next);
    assert_eq!(next.counts.sent, 4000);
    assert!(!Path::new(&format!("/proc/{killed}")).exists(), "the killed JVM {killed} is still there");
}

/// Three KRaft nodes on this host, topics with replication 3, `acks: all`
/// and `min.insync.replicas: 2`. One node killed in the middle of the
/// first point: the point completes with a warning naming the node, no
/// acknowledged message is lost, and the failover shows in the publish
/// latency's tail. The second point runs on a restarted, healthy cluster
/// and delivers everything exactly once.
#[test]
fn a_three_node_cluster_survives_a_node_killed_mid_point_and_delivers_everything() {
    let (r, _) = run_killing_node(
        "workload:\n  payload: [1KB, 2KB]\n  rate: 1000msgps\n  partitions: 3\n  warmup: 500ms\n  duration: 6s\n  drain: 20s\n  in_flight: 20000\n\
         brokers:\n  - name: kafka\n    options:\n      local_nodes: 3\n      replication_factor: 3\n      acks: all\n\
         \x20     topic_config: {min.insync.replicas: 2}\n",
        0,
        2,
        Duration::from_millis(2000),
    );
    assert_eq!(r.points.len(), 2);
    let (failover, healthy) = (&r.points[0], &r.points[1]);
    assert!(failover.broker_software.ends_with(", 3 nodes"), "{}", failover.broker_software);
    assert_eq!(failover.status, Status::Ok, "{:?}", failover.error);
    assert!(
        failover.warnings.iter().any(|w| w.contains("died during the point") && w.contains("2 of 3 still running")),
        "{:?}",
        failover.warnings
    );
    let c = &failover.counts;
    // The window of 20,000 unacknowledged messages holds the stall, so
    // sending kept its schedule.
    assert_eq!(c.sent, 6000);
    assert_eq!(c.acked + c.failed, c.sent, "{c:?}");
    assert_eq!(c.lost, 0, "acknowledged with acks=all and 2 in-sync replicas, then lost: {c:?}");
    assert_eq!(c.corrupt, 0);
    // The partitions the dead node led stalled until it was fenced (3 s)
    // and a new leader took over.
    assert!(failover.latency_us.publish.max >= 1_000_000, "{:?}", failover.latency_us.publish);
    assert_exact(healthy);
    assert!(healthy.warnings.iter().all(|w| !w.contains("died")), "{:?}", healthy.warnings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_topics_each_with_their_own_groups_deliver_exactly_once() {
    // 3 topics x 2 producers at 1,200 msg/s in total: 400 per producer in
    // the 2 s window; each topic read by its own 2 groups of 2 members.
    let r = run_yaml(
        "workload:\n  payload: 1KB\n  rate: 1200msgps\n  topics: 3\n  producers: 2\n  partitions: 2\n  subscriptions: 2\n  \
         consumers: 2\n  warmup: 500ms\n  duration: 2s\n  drain: 5s\nbrokers:\n  - name: kafka\n",
    )
    .await;
    let p = &r.points[0];
    assert_eq!(p.status, Status::Ok, "{:?}", p.error);
    let c = &p.counts;
    assert_eq!((c.sent, c.acked, c.received), (2_400, 2_400, 4_800), "{c:?}");
    assert_eq!((c.lost, c.duplicated, c.out_of_order, c.foreign), (0, 0, 0, 0), "{c:?}");
    assert_eq!(p.by_producer.iter().map(|b| b.producer).collect::<Vec<_>>(), (0..6).collect::<Vec<_>>());
    assert_eq!(p.by_topic.len(), 3);
    for t in &p.by_topic {
        assert_eq!((t.counts.sent, t.counts.received, t.counts.lost), (800, 1_600, 0), "topic {}", t.topic);
    }
    // Six groups (two per topic), each with both members holding a partition.
    let groups = p.adapter_stats["group_assignments"].as_object().unwrap();
    assert_eq!(groups.len(), 6, "{groups:?}");
}
