//! The yardstick for the AMQP 1.0 adapter's CPU figure: one sender and one
//! receiver written directly on fe2o3-amqp's API, with no pacing, no
//! histograms and no body checks, so that what fe2o3-amqp itself costs per
//! message can be told apart from what mqbench adds (docs/brokers/amqp1.md).
//!
//! Like `scenarios/amqp1-vs-proton.yaml`: 46-byte data bodies, unsettled,
//! a window of 100 unsettled deliveries, receiver credit 1000, accepts in
//! batches, each link on its own connection. Run it under `/usr/bin/time`
//! and read the broker's CPU from /proc:
//!
//! ```text
//! AMQP1_URL=amqp://guest:guest@127.0.0.1:PORT cargo run --release --example fe2o3_pair --features amqp1
//! ```
//! Optional: `COUNT` messages (default 300000), `SIZE` bytes (46), `WINDOW` (100).

use fe2o3_amqp::connection::ConnectionHandle;
use fe2o3_amqp::link::delivery::DeliveryFut;
use fe2o3_amqp::link::receiver::CreditMode;
use fe2o3_amqp::link::SendError;
use fe2o3_amqp::session::SessionHandle;
use fe2o3_amqp::types::messaging::{Body, Message, Outcome};
use fe2o3_amqp::types::primitives::{Binary, Value};
use fe2o3_amqp::{Connection, Receiver, Sendable, Sender, Session};
use futures::FutureExt;
use std::collections::VecDeque;
use std::time::Instant;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    // Settings come from the environment.
    let Ok(url) = std::env::var("AMQP1_URL") else {
        eprintln!(
            "fe2o3_pair: set AMQP1_URL=amqp://guest:guest@127.0.0.1:PORT (a broker from `mqbench brokers up rabbitmq`)"
        );
        std::process::exit(2);
    };
    let count: usize = env_or("COUNT", 300_000);
    let size: usize = env_or("SIZE", 46);
    let window: usize = env_or("WINDOW", 100);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(run(url, count, size, window));
}

/// A session with the large windows mqbench's adapter uses (RabbitMQ sends
/// past a small default incoming window).
async fn session(conn: &mut ConnectionHandle<()>) -> SessionHandle<()> {
    Session::builder().incoming_window(1 << 20).outgoing_window(1 << 20).begin(conn).await.expect("session")
}

async fn run(url: String, count: usize, size: usize, window: usize) {
    let address = format!("/queue/fe2o3-pair-{}", std::process::id());
    let mut rconn = Connection::open("fe2o3-pair-receiver", url.as_str()).await.expect("receiver connection");
    let mut rsession = session(&mut rconn).await;
    let mut receiver = Receiver::builder()
        .name("receiver")
        .source(address.as_str())
        .credit_mode(CreditMode::Auto(1000))
        .auto_accept(false)
        .attach(&mut rsession)
        .await
        .expect("receiver link");
    let consumer = tokio::spawn(async move {
        let mut got = 0usize;
        while got < count {
            let first = receiver.recv::<Body<Value>>().await.expect("receive");
            let mut infos = vec![first.into_parts().0];
            while infos.len() < 1024 {
                match receiver.recv::<Body<Value>>().now_or_never() {
                    Some(Ok(d)) => infos.push(d.into_parts().0),
                    Some(Err(e)) => panic!("receive: {e}"),
                    None => break,
                }
            }
            got += infos.len();
            receiver.accept_all(infos).await.expect("accept");
        }
        let _ = receiver.detach().await;
        let _ = rsession.end().await;
        let _ = rconn.close().await;
    });

    let mut sconn = Connection::open("fe2o3-pair-sender", url.as_str()).await.expect("sender connection");
    let mut ssession = session(&mut sconn).await;
    let mut sender = Sender::attach(&mut ssession, "sender", address.as_str()).await.expect("sender link");
    let body = vec![0x5au8; size];
    let started = Instant::now();
    let mut in_flight: VecDeque<DeliveryFut<Result<Outcome, SendError>>> = VecDeque::with_capacity(window);
    for _ in 0..count {
        if in_flight.len() == window {
            let outcome = in_flight.pop_front().unwrap().await.expect("disposition");
            assert!(matches!(outcome, Outcome::Accepted(_)), "{outcome:?}");
        }
        let message = Message::builder().data(Binary::from(body.clone())).build();
        let sendable = Sendable::builder().message(message).build();
        in_flight.push_back(sender.send_batchable(sendable).await.expect("send"));
    }
    for fut in in_flight {
        fut.await.expect("disposition");
    }
    let sent_s = started.elapsed().as_secs_f64();
    consumer.await.expect("consumer task");
    let all_s = started.elapsed().as_secs_f64();
    println!(
        "fe2o3_pair: {size} B, window {window}: {count} sent in {sent_s:.2} s ({:.0} msg/s), received by {all_s:.2} s ({:.0} msg/s end to end)",
        count as f64 / sent_s,
        count as f64 / all_s
    );
    let _ = sender.detach().await;
    let _ = ssession.end().await;
    let _ = sconn.close().await;
}
