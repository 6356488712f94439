//! State shared by the tasks of a running point: counters for the progress
//! display, and what each subscription has received, which tells first
//! copies from redeliveries and lets the drain stop exactly when every
//! acknowledged message has arrived.

use crate::measure::{LatencyHistogram, ProducerLedger, SeqSet};
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

#[derive(Default)]
pub struct Live {
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    /// First copies received, over all subscriptions.
    pub received: AtomicU64,
    /// Per topic and subscription ([`Live::slot`]), per producer of the
    /// topic: every sequence number one of its consumers has received
    /// (first copies; any due time). Consumers of a subscription insert a
    /// whole batch under one lock.
    pub seen: Vec<Mutex<Vec<SeqSet>>>,
    /// End-to-end latencies since the progress display last looked.
    pub recent: Mutex<LatencyHistogram>,
    /// Subscriptions per topic.
    pub subscriptions: u32,
}

impl Live {
    /// For `topics` topics of `subscriptions` subscriptions each, with
    /// `producers` producers per topic.
    pub fn new(topics: u32, subscriptions: u32, producers: u32) -> Live {
        Live {
            seen: (0..topics * subscriptions).map(|_| Mutex::new(vec![SeqSet::new(); producers as usize])).collect(),
            subscriptions,
            ..Default::default()
        }
    }

    /// True once every subscription has received every measured message
    /// the producers of `ledgers` had acknowledged: messages whose
    /// acknowledgement failed, warm-up messages and second copies do not
    /// count towards it.
    /// Ledger producer ids are global (topic j's producers are
    /// `j * producers ..`); each is checked against its own topic's
    /// subscriptions.
    pub fn all_received(&self, ledgers: &[ProducerLedger], producers: u32) -> bool {
        let subscriptions = self.subscriptions;
        ledgers.iter().all(|l| {
            let (topic, local) = (l.producer / producers.max(1), (l.producer % producers.max(1)) as usize);
            (0..subscriptions).all(|s| {
                let seen = self.seen[Live::slot(topic, s, subscriptions)].lock().unwrap();
                l.acked.count_missing_from(&seen[local], l.measured.start, l.measured.end) == 0
            })
        })
    }

    /// The index of topic `topic`'s subscription `subscription` in `seen`.
    pub fn slot(topic: u32, subscription: u32, subscriptions: u32) -> usize {
        (topic * subscriptions + subscription) as usize
    }

    /// Takes the recent latencies (for a p99 over the last interval).
    pub fn take_recent(&self) -> LatencyHistogram {
        std::mem::take(&mut *self.recent.lock().unwrap())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acked(producer: u32, seqs: std::ops::Range<u64>, failed: &[u64]) -> ProducerLedger {
        let mut l = ProducerLedger::new(producer);
        for s in seqs {
            l.note_sent(s, true);
            if !failed.contains(&s) {
                l.acked.insert(s);
            }
        }
        l
    }

    #[test]
    fn the_drain_waits_for_each_acknowledged_message_not_for_a_count() {
        let live = Live::new(1, 1, 1);
        let ledgers = [acked(0, 0..4, &[3])];
        {
            let mut seen = live.seen[0].lock().unwrap();
            // 3's acknowledgement failed, but it arrived; 0 twice would
            // make four receipts, yet 2 is still on its way.
            for s in [0, 1, 3] {
                seen[0].insert(s);
            }
        }
        assert!(!live.all_received(&ledgers, 1));
        live.seen[0].lock().unwrap()[0].insert(2);
        assert!(live.all_received(&ledgers, 1));
    }

    #[test]
    fn every_subscription_needs_every_message() {
        let live = Live::new(1, 2, 1);
        let ledgers = [acked(0, 0..2, &[])];
        for s in 0..2 {
            live.seen[0].lock().unwrap()[0].insert(s);
        }
        assert!(!live.all_received(&ledgers, 1));
        for s in 0..2 {
            live.seen[1].lock().unwrap()[0].insert(s);
        }
        assert!(live.all_received(&ledgers, 1));
        // A produce-only point has nothing to wait for.
        assert!(Live::new(1, 0, 1).all_received(&ledgers, 1));
    }
}
