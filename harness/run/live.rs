//! Counters shared by the tasks of a running point, read by the progress
//! display and by the drain (to stop as soon as everything has arrived).

use crate::measure::LatencyHistogram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub struct Live {
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    /// First copies received, over all subscriptions.
    pub received: AtomicU64,
    /// First copies received, per subscription.
    pub received_by_subscription: Vec<AtomicU64>,
    /// End-to-end latencies since the progress display last looked.
    pub recent: Mutex<LatencyHistogram>,
}

impl Live {
    pub fn new(subscriptions: u32) -> Live {
        Live { received_by_subscription: (0..subscriptions).map(|_| AtomicU64::new(0)).collect(), ..Default::default() }
    }

    /// True once every subscription has at least `expected` messages.
    pub fn all_received(&self, expected: u64) -> bool {
        self.received_by_subscription.iter().all(|r| r.load(Ordering::Relaxed) >= expected)
    }

    /// Takes the recent latencies (for a p99 over the last interval).
    pub fn take_recent(&self) -> LatencyHistogram {
        std::mem::take(&mut *self.recent.lock().unwrap())
    }
}
