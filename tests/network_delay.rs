//! A network between the harness and the broker is measured once, and
//! exactly: through a proxy that holds every chunk 5 ms each way, publish
//! latency rises by the proxy's own measured round trip, and so does the
//! end-to-end latency of every consumer (push, or pull with a read kept
//! outstanding), for each adapter whose broker is installed here. The
//! brokers are started through local provisioning, and the points reach
//! them directly and through the proxy (`provision: live`).
//!
//! Apache Kafka runs with a second listener advertised at the proxy's
//! port: a Kafka client bootstrapped through the proxy is told to use it
//! for every later connection, so nothing bypasses the delay.
#![cfg(all(feature = "redis", feature = "rabbitmq", feature = "amqp1", feature = "kafka"))]

mod common;

use async_trait::async_trait;
use common::delay_proxy::DelayProxy;
use mqbench::provision::local::process::Mode;
use mqbench::provision::local::{kind_for, Instance, Launch, LocalKind, Ports};
use mqbench::results::{PointResult, Status};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ONE_WAY: Duration = Duration::from_millis(5);

/// Runs one 100 msg/s point of 1 KB at `endpoint`.
async fn point(adapter: &str, endpoint: &str, options: &str) -> PointResult {
    let text = format!(
        "workload:\n  payload: 1KB\n  rate: 100msgps\n  warmup: 1s\n  duration: 4s\n  drain: 3s\n\
         brokers:\n  - name: {adapter}\n    provision: live\n    endpoint: \"{endpoint}\"\n    options:\n{options}"
    );
    let r = common::run_scenario("network-delay.yaml", &text).await;
    let p = r.points[0].clone();
    assert_eq!(p.status, Status::Ok, "{adapter} at {endpoint}: {:?}", p.error);
    assert_eq!(p.counts.lost + p.counts.failed + p.counts.unsent, 0, "{adapter}: {:?}", p.counts);
    p
}

/// How a consumer gets its messages, which sets what the network adds to
/// end-to-end latency.
#[derive(Clone, Copy, PartialEq)]
enum Delivery {
    /// The broker sends as messages arrive (or a read is always waiting at
    /// the server): end to end rises by the round trip.
    Push,
    /// One fetch at a time per broker (librdkafka, as Kafka's Java
    /// client): a message that reaches the broker while the last answer
    /// and the next fetch are on the wire waits for that fetch, so end to
    /// end rises by the round trip plus up to one more (half on average).
    OneFetchInFlight,
}

/// The same point direct and through `proxied`: whether publish latency's
/// p50 rose by the proxy's round trip (within a quarter of it, and 1 ms),
/// and end to end's by what `delivery` adds, with the figures either way.
async fn check(
    what: &str,
    adapter: &str,
    direct: &str,
    proxied: &str,
    options: &str,
    rtt: Duration,
) -> Result<String, String> {
    check_delivery(what, adapter, direct, proxied, options, rtt, Delivery::Push).await
}

async fn check_delivery(
    what: &str,
    adapter: &str,
    direct: &str,
    proxied: &str,
    options: &str,
    rtt: Duration,
    delivery: Delivery,
) -> Result<String, String> {
    let a = point(adapter, direct, options).await;
    let b = point(adapter, proxied, options).await;
    let rtt_us = rtt.as_micros() as f64;
    let mut report = Vec::new();
    let mut ok = true;
    for (name, x, y) in [
        ("publish", a.latency_us.publish.p50, b.latency_us.publish.p50),
        ("end-to-end", a.latency_us.end_to_end.p50, b.latency_us.end_to_end.p50),
    ] {
        let rise = y as f64 - x as f64;
        let slack = 0.25 * rtt_us + 1000.0;
        let most = if name == "end-to-end" && delivery == Delivery::OneFetchInFlight { 2.0 * rtt_us } else { rtt_us };
        ok &= rise >= rtt_us - slack && rise <= most + slack;
        report.push(format!("{name} p50 {x} -> {y} µs (+{:.1} ms)", rise / 1e3));
    }
    let line = format!("{what}: proxy round trip {:.1} ms; {}", rtt_us / 1e3, report.join(", "));
    eprintln!("{line}");
    if ok {
        Ok(line)
    } else {
        Err(line)
    }
}

/// Fails with every line that missed.
fn assert_all(results: Vec<Result<String, String>>) {
    let missed: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(missed.is_empty(), "latency did not rise by the round trip:\n{}", missed.join("\n"));
}

/// `endpoint` with the port of `upstream` replaced by `port`.
fn via(endpoint: &str, upstream: u16, port: u16) -> String {
    let from = format!("127.0.0.1:{upstream}");
    assert!(endpoint.contains(&from), "{endpoint} does not name {from}");
    endpoint.replace(&from, &format!("127.0.0.1:{port}"))
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_latency_rises_by_the_network_round_trip() {
    let proxy = DelayProxy::new(ONE_WAY);
    let rtt = proxy.round_trip(50);
    let kind = kind_for("redis", &serde_json::Map::new()).unwrap();
    let broker = Instance::start(kind.as_ref(), Mode::Attached).await.unwrap();
    let port = broker.ports.main();
    let proxied = via(&broker.endpoint, port, proxy.forward(addr(port)));
    let mut results = Vec::new();
    for mode in ["streams", "pubsub", "list"] {
        let options = format!("      mode: {mode}\n");
        results.push(check(&format!("redis {mode}"), "redis", &broker.endpoint, &proxied, &options, rtt).await);
    }
    assert_all(results);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_latency_rises_by_the_network_round_trip() {
    let proxy = DelayProxy::new(ONE_WAY);
    let rtt = proxy.round_trip(50);
    let kind = kind_for("rabbitmq", &serde_json::Map::new()).unwrap();
    let broker = Instance::start(kind.as_ref(), Mode::Attached).await.unwrap();
    let port = broker.ports.main();
    let proxied = via(&broker.endpoint, port, proxy.forward(addr(port)));
    let options = "      confirms: true\n";
    let mut results = vec![check("rabbitmq (AMQP 0-9-1)", "rabbitmq", &broker.endpoint, &proxied, options, rtt).await];
    // The same broker over AMQP 1.0 (its plugin listens on the same port).
    let amqp1 = kind_for("rabbitmq-amqp1", &serde_json::Map::new()).unwrap().endpoint(&broker.ports);
    let amqp1_proxied = via(&amqp1, port, proxy.forward(addr(port)));
    let options = "      settle: unsettled\n";
    results.push(check("rabbitmq (AMQP 1.0)", "rabbitmq-amqp1", &amqp1, &amqp1_proxied, options, rtt).await);
    assert_all(results);
}

/// Apache Kafka with a second listener, `PROXIED`, advertised at a proxy
/// that forwards to it.
struct KafkaBehindProxy {
    inner: Box<dyn LocalKind>,
    proxy: Arc<DelayProxy>,
    /// The proxy's port, once the broker's ports are known.
    port: Arc<Mutex<Option<u16>>>,
}

#[async_trait]
impl LocalKind for KafkaBehindProxy {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn ports_needed(&self) -> usize {
        self.inner.ports_needed() + 1
    }
    fn launches(&self, dir: &Path, ports: &Ports) -> anyhow::Result<Vec<Launch>> {
        let launches = self.inner.launches(dir, ports)?;
        let listener = *ports.0.last().unwrap();
        let front = self.proxy.forward(addr(listener));
        *self.port.lock().unwrap() = Some(front);
        let file = dir.join("server-1.properties");
        let mut text = String::new();
        for line in std::fs::read_to_string(&file)?.lines() {
            let line = if line.starts_with("listeners=") {
                format!("{line},PROXIED://127.0.0.1:{listener}")
            } else if line.starts_with("advertised.listeners=") {
                format!("{line},PROXIED://127.0.0.1:{front}")
            } else if line.starts_with("listener.security.protocol.map=") {
                format!("{line},PROXIED:PLAINTEXT")
            } else {
                line.to_string()
            };
            text.push_str(&line);
            text.push('\n');
        }
        std::fs::write(&file, text)?;
        Ok(launches)
    }
    fn endpoint(&self, ports: &Ports) -> String {
        self.inner.endpoint(ports)
    }
    async fn probe(&self, ports: &Ports) -> anyhow::Result<String> {
        self.inner.probe(ports).await
    }
    fn ready_timeout(&self) -> Duration {
        self.inner.ready_timeout()
    }
    fn stop_timeout(&self) -> Duration {
        self.inner.stop_timeout()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_latency_rises_by_the_network_round_trip() {
    let proxy = Arc::new(DelayProxy::new(ONE_WAY));
    let rtt = proxy.round_trip(50);
    let mut options = serde_json::Map::new();
    options.insert("local_broker".into(), "apache-kafka".into());
    let kind = KafkaBehindProxy {
        inner: kind_for("kafka", &options).unwrap(),
        proxy: proxy.clone(),
        port: Default::default(),
    };
    let front = kind.port.clone();
    let broker = Instance::start(&kind, Mode::Attached).await.unwrap();
    let front = front.lock().unwrap().expect("the proxy was set up with the broker");
    let proxied = via(&broker.endpoint, broker.ports.main(), front);
    assert_all(vec![
        check_delivery(
            "kafka (Apache Kafka)",
            "kafka",
            &broker.endpoint,
            &proxied,
            "      acks: all\n",
            rtt,
            Delivery::OneFetchInFlight,
        )
        .await,
    ]);
}
