//! Delivery accounting: what producers sent and had acknowledged, what each
//! subscription received, and from the two, exact counts of lost,
//! duplicated and out-of-order messages.
//!
//! Only *measured* messages count: those whose due time falls inside the
//! measurement window (warm-up messages are delivered and ignored). Each
//! subscription is expected to receive every acknowledged message once, so
//! a copy in a second subscription is not a duplicate; with S subscriptions
//! and nothing lost, `received = S * acked`.

use super::seqset::SeqSet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Range;

/// What one producer did.
#[derive(Clone, Debug, Default)]
pub struct ProducerLedger {
    pub producer: u32,
    /// Sequence numbers whose due time fell in the window.
    pub measured: Range<u64>,
    /// Every sequence number the broker acknowledged.
    pub acked: SeqSet,
    /// Measured messages whose send or acknowledgement failed.
    pub failed: u64,
    /// Measured messages never sent (behind schedule, or stopped by an
    /// error): not in `measured`, which holds what was sent.
    pub unsent: u64,
}

impl ProducerLedger {
    pub fn new(producer: u32) -> Self {
        ProducerLedger { producer, ..Default::default() }
    }

    /// Records that `seq` (measured or not) was sent.
    #[inline]
    pub fn note_sent(&mut self, seq: u64, measured: bool) {
        if measured {
            if self.measured.is_empty() {
                self.measured = seq..seq + 1;
            } else {
                self.measured.end = seq + 1;
            }
        }
    }

    pub fn sent(&self) -> u64 {
        self.measured.end - self.measured.start
    }
}

/// What one consumer received.
#[derive(Clone, Debug, Default)]
pub struct ConsumerLedger {
    pub subscription: u32,
    /// Per producer: sequence numbers received.
    pub received: Vec<SeqSet>,
    /// Per producer: measured copies beyond the first at this consumer.
    pub duplicated: Vec<u64>,
    /// Per producer: measured messages that came after a higher sequence
    /// number of the same producer and partition.
    pub out_of_order: Vec<u64>,
    pub out_of_order_by_partition: BTreeMap<u32, u64>,
    /// Bodies whose bytes differ from what was sent.
    pub corrupt: u64,
    /// Messages that are not this point's (wrong length, unknown producer).
    pub foreign: u64,
    /// Per producer, per partition: highest sequence number seen + 1.
    last: Vec<Vec<u64>>,
}

/// What a delivery turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivered {
    First,
    Duplicate,
}

impl ConsumerLedger {
    pub fn new(subscription: u32, producers: u32) -> Self {
        let n = producers as usize;
        ConsumerLedger {
            subscription,
            received: vec![SeqSet::new(); n],
            duplicated: vec![0; n],
            out_of_order: vec![0; n],
            last: vec![Vec::new(); n],
            ..Default::default()
        }
    }

    /// Records one delivery. `producer` must be below the point's producer
    /// count (check before calling; others are `foreign`).
    #[inline]
    pub fn record(&mut self, producer: u32, seq: u64, partition: u32, measured: bool) -> Delivered {
        let p = producer as usize;
        let fresh = self.received[p].insert(seq);
        let lasts = &mut self.last[p];
        if lasts.len() <= partition as usize {
            lasts.resize(partition as usize + 1, 0);
        }
        let last = &mut lasts[partition as usize];
        let late = seq + 1 < *last;
        *last = (*last).max(seq + 1);
        if !fresh {
            if measured {
                self.duplicated[p] += 1;
            }
            return Delivered::Duplicate;
        }
        if late && measured {
            self.out_of_order[p] += 1;
            *self.out_of_order_by_partition.entry(partition).or_default() += 1;
        }
        Delivered::First
    }
}

/// The counts every result carries.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Counts {
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub received: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    /// Measured messages never sent (not part of `sent`).
    #[serde(default)]
    pub unsent: u64,
    #[serde(default)]
    pub corrupt: u64,
    #[serde(default)]
    pub foreign: u64,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.sent += o.sent;
        self.acked += o.acked;
        self.failed += o.failed;
        self.received += o.received;
        self.lost += o.lost;
        self.duplicated += o.duplicated;
        self.out_of_order += o.out_of_order;
        self.unsent += o.unsent;
        self.corrupt += o.corrupt;
        self.foreign += o.foreign;
    }
}

/// Counts of one producer, summed over subscriptions.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ProducerCounts {
    pub producer: u32,
    #[serde(flatten)]
    pub counts: Counts,
}

/// Counts of one subscription.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SubscriptionCounts {
    pub subscription: u32,
    pub received: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
}

/// The whole accounting of a point.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Accounting {
    pub counts: Counts,
    pub by_producer: Vec<ProducerCounts>,
    pub by_subscription: Vec<SubscriptionCounts>,
    /// Out-of-order messages per partition (only partitions that had any).
    pub out_of_order_by_partition: BTreeMap<u32, u64>,
}

/// Whether any consumer of `subscription` received `seq` of `producer`.
pub fn received_by(consumers: &[ConsumerLedger], subscription: u32, producer: u32, seq: u64) -> bool {
    consumers
        .iter()
        .filter(|c| c.subscription == subscription)
        .any(|c| c.received.get(producer as usize).is_some_and(|s| s.contains(seq)))
}

/// Combines ledgers into exact counts.
pub fn account(producers: &[ProducerLedger], consumers: &[ConsumerLedger], subscriptions: u32) -> Accounting {
    let np = producers.len();
    let mut by_producer: Vec<ProducerCounts> = producers
        .iter()
        .map(|p| ProducerCounts {
            producer: p.producer,
            counts: Counts {
                sent: p.sent(),
                acked: p.acked.count_in(p.measured.start, p.measured.end),
                failed: p.failed,
                unsent: p.unsent,
                ..Default::default()
            },
        })
        .collect();
    let mut by_subscription = Vec::new();
    let mut by_partition = BTreeMap::new();
    for s in 0..subscriptions {
        let mine: Vec<&ConsumerLedger> = consumers.iter().filter(|c| c.subscription == s).collect();
        let mut sub = SubscriptionCounts { subscription: s, ..Default::default() };
        for (pi, p) in producers.iter().enumerate() {
            // Consumer ledgers are indexed by producer id, which is not the
            // position when a worker runs a shard of the producers.
            let id = p.producer as usize;
            let (lo, hi) = (p.measured.start, p.measured.end);
            let mut union = SeqSet::new();
            let mut copies = 0u64;
            let (mut dups, mut late) = (0u64, 0u64);
            for c in &mine {
                if let Some(set) = c.received.get(id) {
                    union.union_with(set);
                    copies += set.count_in(lo, hi);
                }
                dups += c.duplicated.get(id).copied().unwrap_or(0);
                late += c.out_of_order.get(id).copied().unwrap_or(0);
            }
            let received = union.count_in(lo, hi);
            let lost = p.acked.count_missing_from(&union, lo, hi);
            // A message first seen by two consumers of one subscription is a
            // duplicate too.
            let dups = dups + (copies - received);
            let pc = &mut by_producer[pi].counts;
            pc.received += received;
            pc.lost += lost;
            pc.duplicated += dups;
            pc.out_of_order += late;
            sub.received += received;
            sub.lost += lost;
            sub.duplicated += dups;
            sub.out_of_order += late;
        }
        for c in &mine {
            for (part, n) in &c.out_of_order_by_partition {
                *by_partition.entry(*part).or_insert(0) += n;
            }
        }
        by_subscription.push(sub);
    }
    let mut counts = Counts::default();
    for p in &by_producer {
        counts.add(&p.counts);
    }
    counts.corrupt = consumers.iter().map(|c| c.corrupt).sum();
    counts.foreign = consumers.iter().map(|c| c.foreign).sum();
    debug_assert_eq!(by_producer.len(), np);
    Accounting { counts, by_producer, by_subscription, out_of_order_by_partition: by_partition }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn producer(n: u64, acked_except: &[u64]) -> ProducerLedger {
        let mut p = ProducerLedger::new(0);
        for s in 0..n {
            p.note_sent(s, true);
            if !acked_except.contains(&s) {
                p.acked.insert(s);
            }
        }
        p
    }

    #[test]
    fn exact_counts_for_one_subscription() {
        let p = producer(10, &[9]);
        let mut c = ConsumerLedger::new(0, 1);
        for s in [0u64, 1, 3, 2, 4, 4, 5, 6, 7] {
            c.record(0, s, 0, true);
        }
        let a = account(&[p], &[c], 1);
        assert_eq!(a.counts.sent, 10);
        assert_eq!(a.counts.acked, 9);
        assert_eq!(a.counts.received, 8);
        assert_eq!(a.counts.lost, 1); // 8 acked, never received
        assert_eq!(a.counts.duplicated, 1);
        assert_eq!(a.counts.out_of_order, 1); // 2 after 3
    }

    #[test]
    fn fan_out_is_not_duplication_but_shared_consumers_are() {
        let p = producer(4, &[]);
        let mut c0 = ConsumerLedger::new(0, 1); // subscription 0
        let mut c1 = ConsumerLedger::new(0, 1); // subscription 0, shares it
        let mut c2 = ConsumerLedger::new(1, 1); // subscription 1
        for s in 0..2 {
            c0.record(0, s, 0, true);
        }
        for s in 1..4 {
            c1.record(0, s, 0, true); // 1 went to both: a duplicate
        }
        for s in 0..4 {
            c2.record(0, s, 0, true);
        }
        let a = account(&[p], &[c0, c1, c2], 2);
        assert_eq!(a.counts.received, 8);
        assert_eq!(a.counts.duplicated, 1);
        assert_eq!(a.counts.lost, 0);
        assert_eq!(a.by_subscription[1].received, 4);
    }

    #[test]
    fn warmup_messages_do_not_count() {
        let mut p = ProducerLedger::new(0);
        for s in 0..10 {
            p.note_sent(s, s >= 5);
            p.acked.insert(s);
        }
        let mut c = ConsumerLedger::new(0, 1);
        for s in 0..10 {
            c.record(0, s, 0, s >= 5);
        }
        c.record(0, 1, 0, false); // duplicate in warm-up: ignored
        let a = account(&[p], &[c], 1);
        assert_eq!((a.counts.sent, a.counts.received, a.counts.duplicated), (5, 5, 0));
    }
}
