//! `topics: N`: a point with N topics, each with the point's producers,
//! subscriptions and consumers, run side by side on one session.
//!
//! - Names: with one topic the point's topic name as before; with N, the
//!   name with `-t<j>` appended (`mqbench-...-r0-t7`), each with its own
//!   subscriptions (`<topic>-sub<s>`). Adapters see one [`Topology`] per
//!   topic and need nothing else.
//! - Producer ids are global over the point: producer i of topic j is
//!   `j * producers + i`, which is what its payload header carries, so a
//!   message that reaches another topic's consumer is counted `foreign`,
//!   never as a receipt; `rate` is the total over every topic.
//! - Accounting is exact per topic (each topic's producers against its own
//!   subscriptions) and rolls up into the point: counts add, `by_producer`
//!   lists every producer under its global id, `by_subscription` adds
//!   subscription s of every topic, and `by_topic` keeps each topic's counts
//!   and latency summaries.
//! - Setup (prepare, producers, consumers, cleanup) runs a few topics at a
//!   time, each step with its own timeout, so that a thousand topics do not
//!   wait on each other one by one.

use super::consumer::ConsumerReport;
use super::producer::ProducerReport;
use crate::adapter::{Consumer, Producer, Session, Topology};
use crate::measure::accounting::{Accounting, SubscriptionCounts};
use crate::measure::{account, LatencyHistogram};
use crate::results::{Shard, TopicResult};
use crate::scenario::Params;
use anyhow::anyhow;
use futures::stream::{self, StreamExt};
use std::future::Future;
use std::time::Duration;

/// Setup calls (prepare, connect a client) in flight at once.
const SETUP_CONCURRENCY: usize = 16;
/// Longest wait for one setup call.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// One topic of a point, as this worker runs it.
pub struct TopicPlan {
    /// 0-based topic index.
    pub index: u32,
    pub topology: Topology,
    /// Global ids of the producers this worker runs on the topic.
    pub producers: Vec<u32>,
}

/// A consumer and where it reads.
pub struct TopicConsumer {
    pub topic: u32,
    pub subscription: u32,
    pub consumer: Box<dyn Consumer>,
}

/// The topics this worker runs: every topic with at least one of its
/// producers (all of them without `--shard`).
pub fn topologies(p: &Params, stem: &str, shard: Option<Shard>) -> Vec<TopicPlan> {
    let mine = super::shard::producers(shard, p.all_producers());
    (0..p.topics)
        .filter_map(|j| {
            let producers: Vec<u32> = mine.iter().copied().filter(|g| g / p.producers.max(1) == j).collect();
            if producers.is_empty() {
                return None;
            }
            let topic = if p.topics == 1 { stem.to_string() } else { format!("{stem}-t{j}") };
            let topology = Topology {
                subscriptions: (0..p.subscriptions).map(|i| format!("{topic}-sub{i}")).collect(),
                topic,
                partitions: p.partitions,
                producers: p.producers,
                consumers: p.consumers,
                payload_bytes: p.payload_bytes,
                in_flight: p.in_flight,
            };
            Some(TopicPlan { index: j, topology, producers })
        })
        .collect()
}

async fn timed<T>(what: String, fut: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    match tokio::time::timeout(STEP_TIMEOUT, fut).await {
        Ok(r) => r.map_err(|e| e.context(what)),
        Err(_) => Err(anyhow!("{what}: no answer within {}s", STEP_TIMEOUT.as_secs())),
    }
}

/// Runs `f` (`doing` it: "preparing") on every topic, a few at a time;
/// every topic is tried, and the first error (naming its topic when there
/// are several) is returned.
pub async fn each<'a, F, Fut>(plans: &'a [TopicPlan], doing: &str, f: F) -> anyhow::Result<()>
where
    F: Fn(&'a Topology) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + 'a,
{
    let several = plans.len() > 1;
    let results: Vec<anyhow::Result<()>> = stream::iter(plans)
        .map(|t| {
            let what =
                if several { format!("{doing} topic `{}`", t.topology.topic) } else { format!("{doing} the topic") };
            timed(what, f(&t.topology))
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Creates this worker's producers of every topic, in producer id order.
pub async fn producers(session: &dyn Session, plans: &[TopicPlan]) -> anyhow::Result<Vec<(u32, Box<dyn Producer>)>> {
    let jobs = plans.iter().flat_map(|t| t.producers.iter().map(move |i| (t, *i)));
    let made: Vec<anyhow::Result<(u32, Box<dyn Producer>)>> = stream::iter(jobs)
        .map(|(t, i)| async move {
            let what = format!("creating producer {i} (topic `{}`)", t.topology.topic);
            Ok((i, timed(what, session.producer(&t.topology, i)).await?))
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .collect()
        .await;
    let mut out = made.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    out.sort_by_key(|(i, _)| *i);
    Ok(out)
}

/// Creates consumers `mine` of every subscription of every topic.
pub async fn consumers(
    session: &dyn Session,
    plans: &[TopicPlan],
    subscriptions: u32,
    mine: &[u32],
) -> anyhow::Result<Vec<TopicConsumer>> {
    let jobs = plans.iter().flat_map(|t| (0..subscriptions).flat_map(move |s| mine.iter().map(move |c| (t, s, *c))));
    let made: Vec<anyhow::Result<TopicConsumer>> = stream::iter(jobs)
        .map(|(t, s, c)| async move {
            let what = format!("creating consumer {c} of subscription {s} (topic `{}`)", t.topology.topic);
            let consumer = timed(what, session.consumer(&t.topology, s, c)).await?;
            Ok(TopicConsumer { topic: t.index, subscription: s, consumer })
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .collect()
        .await;
    made.into_iter().collect()
}

/// Exact accounting of each topic's producers against its own
/// subscriptions, rolled up into the point; `by_topic` is filled only when
/// the point has several topics. Reports are tagged with their topic.
pub fn account_topics(
    p: &Params,
    producers: &[(u32, ProducerReport)],
    consumers: &[(u32, ConsumerReport)],
) -> (Accounting, Vec<TopicResult>) {
    let mut topics: Vec<u32> = producers.iter().map(|(t, _)| *t).collect();
    topics.sort_unstable();
    topics.dedup();
    let mut total = Accounting {
        by_subscription: (0..p.subscriptions)
            .map(|s| SubscriptionCounts { subscription: s, ..Default::default() })
            .collect(),
        ..Default::default()
    };
    let mut by_topic = Vec::new();
    for j in topics {
        let base = j * p.producers;
        // Consumer ledgers count the topic's producers from 0.
        let ledgers: Vec<_> = producers
            .iter()
            .filter(|(t, _)| *t == j)
            .map(|(_, r)| {
                let mut l = r.ledger.clone();
                l.producer -= base;
                l
            })
            .collect();
        let consumer_ledgers: Vec<_> =
            consumers.iter().filter(|(t, _)| *t == j).map(|(_, r)| r.ledger.clone()).collect();
        let mut a = account(&ledgers, &consumer_ledgers, p.subscriptions);
        for pc in &mut a.by_producer {
            pc.producer += base;
        }
        total.counts.add(&a.counts);
        total.by_producer.append(&mut a.by_producer);
        for (sum, s) in total.by_subscription.iter_mut().zip(&a.by_subscription) {
            sum.received += s.received;
            sum.lost += s.lost;
            sum.duplicated += s.duplicated;
            sum.out_of_order += s.out_of_order;
        }
        for (part, n) in a.out_of_order_by_partition {
            *total.out_of_order_by_partition.entry(part).or_default() += n;
        }
        if p.topics > 1 {
            let (mut publish, mut e2e) = (LatencyHistogram::new(), LatencyHistogram::new());
            producers.iter().filter(|(t, _)| *t == j).for_each(|(_, r)| publish.add(&r.publish));
            consumers.iter().filter(|(t, _)| *t == j).for_each(|(_, r)| e2e.add(&r.end_to_end));
            by_topic.push(TopicResult {
                topic: j,
                counts: a.counts,
                publish: publish.summary(),
                end_to_end: e2e.summary(),
            });
        }
    }
    total.by_producer.sort_by_key(|p| p.producer);
    (total, by_topic)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(topics: u32, producers: u32) -> Params {
        let text = format!("workload:\n  topics: {topics}\n  producers: {producers}\nbrokers:\n  - name: loopback\n");
        let s =
            crate::scenario::parse(std::path::Path::new("t.yaml"), &text, &Default::default(), &crate::adapter::Rules)
                .unwrap();
        s.points[0].params.clone()
    }

    #[test]
    fn each_topic_has_its_own_names_and_producers() {
        let plans = topologies(&params(3, 2), "stem", None);
        let names: Vec<&str> = plans.iter().map(|t| t.topology.topic.as_str()).collect();
        assert_eq!(names, ["stem-t0", "stem-t1", "stem-t2"]);
        assert_eq!(plans[1].topology.subscriptions, ["stem-t1-sub0"]);
        assert_eq!(plans.iter().map(|t| t.producers.clone()).collect::<Vec<_>>(), [vec![0, 1], vec![2, 3], vec![4, 5]]);
        // One topic keeps the point's name.
        assert_eq!(topologies(&params(1, 2), "stem", None)[0].topology.topic, "stem");
    }

    #[test]
    fn a_shard_runs_only_topics_with_its_producers() {
        // 4 topics of one producer over 2 workers: worker 1 runs topics 1 and 3.
        let plans = topologies(&params(4, 1), "s", Some(Shard { index: 1, count: 2 }));
        assert_eq!(plans.iter().map(|t| t.index).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(plans[1].producers, [3]);
    }
}
