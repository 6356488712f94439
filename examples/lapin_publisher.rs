//! The yardstick for the RabbitMQ adapter: a minimal publisher written
//! directly on lapin's API, with no pacing, no histograms and no body
//! checks, against which mqbench's unthrottled figure is compared
//! (docs/brokers/rabbitmq.md). It does what RabbitMQ PerfTest does by default
//! with confirms: one producer keeping a window of unconfirmed publishes,
//! one consumer acknowledging with `multiple`, each on its own connection.
//!
//! The topology and knobs match mqbench's rabbitmq defaults: a durable
//! direct exchange, a durable classic queue bound by routing key,
//! persistent 1 KB messages, confirms, prefetch 1000, a window of 1000.
//!
//! ```text
//! AMQP_URI=amqp://guest:guest@127.0.0.1:PORT/%2f cargo run --release --example lapin_publisher --features rabbitmq
//! ```
//! Optional: `SECONDS` (default 10), `SIZE` bytes (default 1000), `WINDOW` (default 1000).

use futures::stream::{FuturesUnordered, StreamExt};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn connect(uri: &str, name: &str) -> Connection {
    let props = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio::current())
        .with_connection_name(name.into());
    Connection::connect(uri, props).await.unwrap_or_else(|e| panic!("connecting to {name}: {e}"))
}

fn main() {
    // Settings come from the environment.
    let Ok(url) = std::env::var("AMQP_URI") else {
        eprintln!("lapin_publisher: set AMQP_URI=amqp://guest:guest@127.0.0.1:PORT/%2f (a broker from `mqbench brokers up rabbitmq`)");
        std::process::exit(2);
    };
    let seconds: f64 = env_or("SECONDS", 10.0);
    let size: usize = env_or("SIZE", 1000);
    let window: usize = env_or("WINDOW", 1000);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(run(url, seconds, size, window));
}

async fn run(uri: String, seconds: f64, size: usize, window: usize) {
    let name = format!("lapin-bench-{}", std::process::id());
    let admin = connect(&uri, "lapin-bench-admin").await;
    let ch = admin.create_channel().await.unwrap();
    let durable = ExchangeDeclareOptions { durable: true, ..Default::default() };
    ch.exchange_declare(&name, ExchangeKind::Direct, durable, FieldTable::default()).await.unwrap();
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), AMQPValue::LongString("classic".into()));
    let qo = QueueDeclareOptions { durable: true, ..Default::default() };
    ch.queue_declare(&name, qo, args).await.unwrap();
    ch.queue_bind(&name, &name, &name, QueueBindOptions::default(), FieldTable::default()).await.unwrap();

    // Consumer: its own connection, prefetch 1000, one ack per batch.
    let consumed = Arc::new(AtomicU64::new(0));
    let cconn = connect(&uri, "lapin-bench-consumer").await;
    let cch = cconn.create_channel().await.unwrap();
    cch.basic_qos(1000, BasicQosOptions::default()).await.unwrap();
    let mut consumer =
        cch.basic_consume(&name, "bench", BasicConsumeOptions::default(), FieldTable::default()).await.unwrap();
    let counter = consumed.clone();
    let consuming = tokio::spawn(async move {
        while let Some(Ok(d)) = consumer.next().await {
            let mut last = d.acker;
            let mut n = 1;
            while let Some(Some(Ok(more))) = futures::FutureExt::now_or_never(consumer.next()) {
                last = more.acker;
                n += 1;
            }
            last.ack(BasicAckOptions { multiple: true }).await.unwrap();
            counter.fetch_add(n, Ordering::Relaxed);
        }
    });

    // Producer: its own connection, confirms, at most `window` unconfirmed.
    let pconn = connect(&uri, "lapin-bench-producer").await;
    let pch = pconn.create_channel().await.unwrap();
    pch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    let body = vec![0x5au8; size];
    let props = BasicProperties::default().with_delivery_mode(2);
    let mut pending = FuturesUnordered::new();
    let mut confirmed = 0u64;
    let started = Instant::now();
    let end = started + Duration::from_secs_f64(seconds);
    while Instant::now() < end {
        while pending.len() < window {
            let confirm =
                pch.basic_publish(&name, &name, BasicPublishOptions::default(), &body, props.clone()).await.unwrap();
            pending.push(confirm);
        }
        if let Some(c) = pending.next().await {
            assert!(c.unwrap().is_ack());
            confirmed += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let in_window = consumed.load(Ordering::Relaxed);
    while let Some(c) = pending.next().await {
        assert!(c.unwrap().is_ack());
    }
    println!(
        "lapin_publisher: {size} B, window {window}, {elapsed:.1} s: published (confirmed) {:.0} msg/s, consumed {:.0} msg/s",
        confirmed as f64 / elapsed,
        in_window as f64 / elapsed
    );
    ch.queue_delete(&name, QueueDeleteOptions::default()).await.unwrap();
    ch.exchange_delete(&name, Default::default()).await.unwrap();
    consuming.abort();
}
