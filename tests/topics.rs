//! Many topics and many producers on the loopback adapter: the `topics`
//! knob's accounting per topic and rolled up, the pacing hub at a thousand
//! producers (structure: every message sent and counted, one pacing thread,
//! not timing), and producers' phases spread over the interval (the largest
//! burst the "broker" sees).

mod common;

use mqbench::results::{PointResult, Status};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn ok(p: &PointResult) -> &PointResult {
    assert_eq!(p.status, Status::Ok, "{}: {:?}", p.id, p.error);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_topic_is_accounted_on_its_own_and_rolled_up() {
    // 4 topics x 2 producers at 4,000 msg/s in total: 500 msg/s each, 1,000
    // per producer in the 2 s window, each to 2 subscriptions of 2 consumers.
    let r = common::run_scenario(
        "topics.yaml",
        "workload:\n  payload: 100B\n  rate: 4000msgps\n  topics: [1, 4]\n  producers: 2\n  subscriptions: 2\n  consumers: 2\n  \
         warmup: 500ms\n  duration: 2s\n  drain: 2s\nbrokers:\n  - name: loopback\n",
    )
    .await;
    assert_eq!(r.points.len(), 2);
    assert_eq!(r.points[0].id, "loopback/payload=100/rate=4000msgps/topics=1");
    let one = ok(&r.points[0]);
    assert!(one.by_topic.is_empty(), "one topic has no per-topic breakdown");
    assert_eq!(one.counts.sent, 8_000);

    let p = ok(&r.points[1]);
    assert_eq!(p.id, "loopback/payload=100/rate=4000msgps/topics=4");
    assert_eq!(p.params.topics, 4);
    let c = &p.counts;
    assert_eq!((c.sent, c.acked, c.received), (8_000, 8_000, 16_000), "{c:?}");
    assert_eq!((c.lost, c.duplicated, c.out_of_order, c.foreign, c.corrupt), (0, 0, 0, 0, 0), "{c:?}");
    // Global producer ids: topic j has producers 2j and 2j + 1.
    let ids: Vec<u32> = p.by_producer.iter().map(|b| b.producer).collect();
    assert_eq!(ids, (0..8).collect::<Vec<_>>());
    assert!(p.by_producer.iter().all(|b| b.counts.sent == 1_000 && b.counts.received == 2_000), "{:?}", p.by_producer);
    // Subscription s of every topic, added up.
    assert_eq!(p.by_subscription.len(), 2);
    assert!(p.by_subscription.iter().all(|s| s.received == 8_000 && s.lost == 0), "{:?}", p.by_subscription);
    // Each topic on its own, and together the point.
    assert_eq!(p.by_topic.iter().map(|t| t.topic).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    for t in &p.by_topic {
        assert_eq!((t.counts.sent, t.counts.received, t.counts.lost), (2_000, 4_000, 0), "topic {}", t.topic);
        assert_eq!(t.end_to_end.count, 4_000, "topic {}", t.topic);
        assert_eq!(t.publish.count, 2_000, "topic {}", t.topic);
    }
    assert_eq!(p.latency_us.end_to_end.count, 16_000);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

/// OS threads of this process right now.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_producers_on_a_thousand_topics_run_on_one_pacing_thread() {
    let before = threads();
    let peak = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = std::thread::spawn({
        let (peak, done) = (peak.clone(), done.clone());
        move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(threads(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    });
    // 1,000 producers at 10 msg/s each: 20 messages each in the 2 s window.
    let r = common::run_scenario(
        "scale.yaml",
        "workload:\n  payload: 100B\n  rate: 10000msgps\n  topics: 1000\n  producers: 1\n  warmup: 500ms\n  duration: 2s\n  \
         drain: 2s\nbrokers:\n  - name: loopback\n",
    )
    .await;
    done.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    let p = ok(&r.points[0]);
    let c = &p.counts;
    assert_eq!((c.sent, c.acked, c.received, c.lost), (20_000, 20_000, 20_000, 0), "{c:?}");
    assert_eq!(p.by_producer.len(), 1_000);
    assert!(p.by_producer.iter().all(|b| b.counts.sent == 20 && b.counts.received == 20));
    assert_eq!(p.by_topic.len(), 1_000);
    assert!(p.by_topic.iter().all(|t| t.counts.received == 20));
    assert_eq!(p.latency_us.schedule_delay.count, 20_000);
    // No thread per producer: the runtime's workers, its blocking pool and
    // the one pacing thread (a thread per producer would add 1,000).
    let grew = peak.load(Ordering::Relaxed).saturating_sub(before);
    assert!(grew < 50, "the process grew by {grew} threads while running 1,000 producers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producers_are_spread_over_the_interval_not_in_step() {
    // 100 producers at 2 msg/s each: in step, message k of all 100 falls
    // due at once every 500 ms; spread, one every 5 ms.
    let r = common::run_scenario(
        "phases.yaml",
        "workload:\n  payload: 100B\n  rate: 200msgps\n  producers: 100\n  warmup: 500ms\n  duration: 2s\n  drain: 2s\n\
         brokers:\n  - name: loopback\n",
    )
    .await;
    let p = ok(&r.points[0]);
    assert_eq!(p.counts.sent, 400);
    assert_eq!(p.counts.received, 400);
    // In step, the 100 messages due at one instant reach the broker within
    // a millisecond or two. Spread, a millisecond holds one, or a few when
    // the host held the harness up and it caught up (20 would take a hold-up
    // of 100 ms): the bound tells the two apart without timing the host.
    let busiest = p.adapter_stats["busiest_ms"].as_u64().expect("busiest_ms in adapter_stats");
    assert!(busiest < 20, "the broker took {busiest} messages in one millisecond: producers sent in bursts");
}
