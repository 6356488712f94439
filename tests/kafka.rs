//! The Kafka adapter against tansu, started by each test through local
//! provisioning (`provision: local`, the default for the kafka adapter).
//! A missing `tansu` binary fails the tests with the install hint; nothing
//! is skipped.
#![cfg(feature = "kafka")]

mod common;

use mqbench::provision::local::process::Mode;
use mqbench::provision::local::tansu::TansuKind;
use mqbench::provision::local::Instance;
use mqbench::results::{PointResult, ResultsFile, Status};
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
    assert_eq!(p.broker_software, "tansu 0.6.0 (kafka protocol)");
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
    // The short fetch wait the adapter chose for tansu is on record.
    assert_eq!(p.params.options["fetch_wait_max_ms"], serde_json::json!(1));
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
    let broker = Instance::start(&TansuKind::new().unwrap(), Mode::Attached).await.unwrap();
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
    // Read the topic back from the start of each partition to its end
    // (tansu's high watermarks are not to be trusted: one short here).
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_gives_a_clear_error_not_a_hang() {
    // Someone else holds the port and accepts connections without answering.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let kind = TansuKind::new().unwrap().on_port(port);
    let started = Instant::now();
    let err = match Instance::start(&kind, Mode::Attached).await {
        Ok(_) => panic!("tansu cannot be ready on a port that is taken"),
        Err(e) => format!("{e:#}"),
    };
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    assert!(err.contains("tansu") && err.contains("exited"), "{err}");
    drop(holder);
}
