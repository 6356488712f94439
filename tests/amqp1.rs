//! The AMQP 1.0 adapter against real brokers that the tests start:
//! RabbitMQ with its AMQP 1.0 plugin, through the project's local
//! provisioning (the `rabbitmq-amqp1` kind), and the Qpid Proton C example
//! broker, built from source by the test (`amqp1/proton.rs`). A missing
//! broker fails the test with the install hint; nothing is skipped.
#![cfg(feature = "amqp1")]

#[path = "amqp1/proton.rs"]
mod proton;

mod common;

use mqbench::provision::local::process::Mode;
use mqbench::provision::local::{kind_for, Instance};
use mqbench::results::{PointResult, ResultsFile, Status};
use proton::ProtonBroker;
use std::time::{Duration, Instant};

async fn run_yaml(text: &str) -> ResultsFile {
    common::run_scenario("amqp1-test.yaml", text).await
}

/// A RabbitMQ with the AMQP 1.0 plugin, started through local provisioning.
async fn rabbitmq() -> Instance {
    let kind = kind_for("rabbitmq-amqp1", &serde_json::Map::new()).unwrap();
    Instance::start(kind.as_ref(), Mode::Attached).await.unwrap()
}

/// A scenario with one `rabbitmq-amqp1` broker at `endpoint`.
fn rabbit_scenario(workload: &str, endpoint: &str, options: &str) -> String {
    format!(
        "workload:\n{workload}brokers:\n  - name: rabbitmq-amqp1\n    provision: live\n    endpoint: \"{endpoint}\"\n{options}"
    )
}

/// Every message accepted, delivered once to every subscription, intact.
fn assert_all_delivered(p: &PointResult) {
    assert_eq!(p.status, Status::Ok, "{}: {:?}", p.id, p.error);
    let c = &p.counts;
    let copies = c.sent * p.params.subscriptions as u64;
    assert!(c.sent > 0, "{}: nothing sent", p.id);
    assert_eq!(c.acked, c.sent, "{}: acked {} of {} ({:?})", p.id, c.acked, c.sent, p.errors);
    assert_eq!(c.received, copies, "{}: received {} of {copies} ({:?})", p.id, c.received, p.warnings);
    assert_eq!((c.lost, c.duplicated), (0, 0), "{}: {:?}", p.id, p.warnings);
    assert_eq!((c.corrupt, c.foreign, c.failed), (0, 0, 0), "{}: {:?}", p.id, p.warnings);
    assert!(p.client.starts_with("fe2o3-amqp 0.18"), "{}", p.client);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_unsettled_producers_and_consumers_on_one_queue_deliver_exactly_once() {
    let broker = rabbitmq().await;
    let r = run_yaml(&rabbit_scenario(
        "  payload: 1KB\n  rate: 3000msgps\n  producers: 3\n  consumers: 3\n  warmup: 500ms\n  duration: 3s\n  drain: 5s\n",
        &broker.endpoint,
        "    options:\n      settle: unsettled\n      credit: 200\n",
    ))
    .await;
    let p = &r.points[0];
    assert_all_delivered(p);
    assert_eq!(p.counts.sent, 9000);
    assert!(p.broker_software.starts_with("RabbitMQ 3."), "{}", p.broker_software);
    assert_eq!(p.params.options["address"], "/queue/{topic}");
    assert_eq!(p.adapter_stats["rejected"], 0);
    // Each producer's messages all arrived (the runner compared every body).
    assert_eq!(p.by_producer.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_fan_out_gives_every_subscription_every_message() {
    let broker = rabbitmq().await;
    let r = run_yaml(&rabbit_scenario(
        "  payload: 100B\n  rate: 1000msgps\n  producers: 2\n  subscriptions: 3\n  warmup: 500ms\n  duration: 2s\n  drain: 5s\n",
        &broker.endpoint,
        "",
    ))
    .await;
    let p = &r.points[0];
    assert_all_delivered(p);
    assert_eq!(p.by_subscription.len(), 3);
    assert_eq!(p.params.options["address"], "/exchange/amq.topic/{topic}");
    // Sharing one fan-out subscription between consumers cannot work on
    // RabbitMQ's plugin: the point says so instead of duplicating messages.
    let r = run_yaml(&rabbit_scenario(
        "  payload: 100B\n  rate: 100msgps\n  subscriptions: 2\n  consumers: 2\n  warmup: 0s\n  duration: 1s\n",
        &broker.endpoint,
        "",
    ))
    .await;
    assert_eq!(r.points[0].status, Status::Failed);
    assert!(r.points[0].error.as_deref().unwrap_or_default().contains("cannot share"), "{:?}", r.points[0].error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_settled_mode_runs_and_accounts_for_every_message() {
    let broker = rabbitmq().await;
    let r = run_yaml(&rabbit_scenario(
        "  payload: 200B\n  rate: 2000msgps\n  producers: 2\n  warmup: 500ms\n  duration: 2s\n  drain: 5s\n",
        &broker.endpoint,
        "    options:\n      settle: settled\n",
    ))
    .await;
    let p = &r.points[0];
    assert_eq!(p.status, Status::Ok, "{:?}", p.error);
    let c = &p.counts;
    assert_eq!(p.params.options["settle"], "settled");
    // Pre-settled sends are "acked" when handed over; whatever the broker did
    // not deliver is lost, and the two add up.
    assert_eq!(c.acked, c.sent);
    assert_eq!(c.received + c.lost, c.sent, "{c:?}");
    assert!(c.received > 0);
    assert_eq!((c.duplicated, c.corrupt, c.foreign), (0, 0, 0), "{:?}", p.warnings);
    if c.lost > 0 {
        assert!(p.warnings.iter().any(|w| w.contains("lost")), "{:?}", p.warnings);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_a_send_to_a_missing_queue_is_reported_lost() {
    let broker = rabbitmq().await;
    // RabbitMQ accepts and drops what is sent to a missing /amq/queue/;
    // the consumers listen on a fresh queue that nothing reaches.
    let r = run_yaml(&rabbit_scenario(
        "  payload: 100B\n  rate: 500msgps\n  warmup: 0s\n  duration: 2s\n  drain: 2s\n",
        &broker.endpoint,
        "    options:\n      address: /amq/queue/mqbench-missing-{topic}\n      receive_address: /queue/{topic}\n",
    ))
    .await;
    let p = &r.points[0];
    let c = &p.counts;
    assert!(c.sent > 0);
    assert_eq!(c.acked, c.sent, "RabbitMQ accepts these: {:?}", p.errors);
    assert_eq!(c.received, 0);
    assert_eq!(c.lost, c.sent, "{c:?}");
    assert!(p.warnings.iter().any(|w| w.contains("lost")), "{:?}", p.warnings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_a_wrong_password_fails_clearly_and_quickly() {
    let broker = rabbitmq().await;
    assert!(broker.endpoint.contains("guest:guest@"), "{}", broker.endpoint);
    let wrong = broker.endpoint.replace("guest:guest@", "guest:not-the-password@");
    let started = Instant::now();
    let r = run_yaml(&rabbit_scenario("  rate: 100msgps\n  warmup: 0s\n  duration: 1s\n", &wrong, "")).await;
    let p = &r.points[0];
    assert_eq!(p.status, Status::Failed);
    let error = p.error.as_deref().unwrap_or_default();
    // The error names the user, unless another test of this process has
    // connected as guest:guest: then `guest` is a registered password and
    // is masked wherever it appears (the user name too).
    assert!(
        error.contains("authentication failed") && (error.contains("`guest`") || error.contains("`***`")),
        "{error}"
    );
    assert!(!error.contains("not-the-password"), "the password leaked into results: {error}");
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proton_example_broker_delivers_every_message() {
    let broker = ProtonBroker::start();
    let r = run_yaml(&format!(
        "workload:\n  payload: [46B, 4KB]\n  rate: 2000msgps\n  producers: 2\n  consumers: 2\n  warmup: 500ms\n  duration: 2s\n  drain: 5s\n\
         brokers:\n  - name: proton\n    adapter: activemq\n    provision: live\n    endpoint: \"{}\"\n    options:\n      address: \"{{topic}}\"\n",
        broker.endpoint()
    ))
    .await;
    assert_eq!(r.points.len(), 2);
    for p in &r.points {
        assert_all_delivered(p);
        assert_eq!(p.counts.sent, 4000);
        // The example broker's Open names no product: the result says so.
        assert!(p.broker_software.starts_with("unknown"), "{}", p.broker_software);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_dies_mid_point_fails_that_point_and_the_next_one_runs() {
    // Two brokers: the first is killed 1.5 s into its point, which must
    // fail with its error; the run goes on to the second broker's point.
    // (Restarting the first broker on its port raced the runner, which
    // moves on as soon as a point has failed.)
    let mut dying = ProtonBroker::start();
    let alive = ProtonBroker::start();
    let (dying_endpoint, alive_endpoint) = (dying.endpoint(), alive.endpoint());
    let killer = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(1500));
        dying.kill();
    });
    let started = Instant::now();
    let r = run_yaml(&format!(
        "workload:\n  payload: 100B\n  rate: 1000msgps\n  warmup: 500ms\n  duration: 3s\n  drain: 2s\n\
         brokers:\n  - name: dying\n    adapter: activemq\n    provision: live\n    endpoint: \"{dying_endpoint}\"\n    options:\n      address: \"{{topic}}\"\n\
         \x20 - name: alive\n    adapter: activemq\n    provision: live\n    endpoint: \"{alive_endpoint}\"\n    options:\n      address: \"{{topic}}\"\n"
    ))
    .await;
    killer.await.unwrap();
    assert_eq!(r.points.len(), 2);
    let (first, second) = (&r.points[0], &r.points[1]);
    assert_eq!(first.broker, "dying");
    assert_eq!(first.status, Status::Failed, "{first:?}");
    assert!(first.error.as_deref().is_some_and(|e| !e.is_empty()), "no error recorded");
    assert_eq!(second.broker, "alive");
    assert_all_delivered(second);
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_several_topics_each_get_their_own_addresses() {
    // 3 topics x 2 producers at 1,200 msg/s in total: 400 per producer in
    // the 2 s window; each topic fanned out to its own 2 subscriptions.
    let broker = rabbitmq().await;
    let r = run_yaml(&rabbit_scenario(
        "  payload: 100B\n  rate: 1200msgps\n  topics: 3\n  producers: 2\n  subscriptions: 2\n  warmup: 500ms\n  \
         duration: 2s\n  drain: 5s\n",
        &broker.endpoint,
        "",
    ))
    .await;
    let p = &r.points[0];
    assert_all_delivered(p);
    assert_eq!(p.counts.sent, 2_400);
    assert_eq!(p.by_producer.iter().map(|b| b.producer).collect::<Vec<_>>(), (0..6).collect::<Vec<_>>());
    assert_eq!(p.by_topic.len(), 3);
    for t in &p.by_topic {
        assert_eq!((t.counts.sent, t.counts.received, t.counts.lost), (800, 1_600, 0), "topic {}", t.topic);
    }
}
