//! Open-loop pacing: message k of a producer is due at `t0 + k / rate`,
//! where each producer's `t0` is the point's start plus its phase (see
//! [`phase`]), so that P producers together offer an even rate rather
//! than bursts of P messages.
//!
//! Tokio's timers tick in whole milliseconds, which would add up to 1 ms of
//! harness lateness to every latency at low rates. Releases therefore come
//! from one OS thread, the pacing hub, that sleeps precisely (timer slack
//! set to 1 µs) until the earliest due message of any producer and releases
//! every message that has fallen due; each producer task sends everything
//! released to it, in batches when it is behind. One thread serves every
//! producer of the process (a thread per producer does not scale to a
//! thousand producers on a small host): its work per release is a heap
//! operation and a task wake-up, about a microsecond, so it keeps up with
//! well over 100,000 releases per second. The due time, not the wake-up
//! time, is what each message carries and what latency is measured from.

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Shortest time between two releases of one producer: at high rates a
/// release covers many messages rather than waking for each.
const MIN_TICK: Duration = Duration::from_micros(20);
/// Longest sleep of the hub without looking at its queue.
const MAX_SLEEP: Duration = Duration::from_millis(100);

pub struct Pacer {
    released: AtomicU64,
    stop: AtomicBool,
    pub notify: Notify,
}

/// The schedule of one producer.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// When message 0 is due.
    pub t0: Instant,
    /// Time between messages in nanoseconds, unrounded: a `Duration` holds
    /// whole nanoseconds, and 666 ns between messages at 1.5 M msg/s would
    /// run the schedule 0.1% fast and end it early, with 1,500 fewer
    /// messages due in a 1 s window than the rate says.
    pub interval_ns: f64,
    /// Messages due before sending stops.
    pub total: u64,
}

impl Schedule {
    /// Messages due from `t0` on, before `t0 + send_for`.
    pub fn new(t0: Instant, msgs_per_s: f64, send_for: Duration) -> Schedule {
        let interval_ns = 1e9 / msgs_per_s;
        let total = (send_for.as_secs_f64() * msgs_per_s).ceil() as u64;
        Schedule { t0, interval_ns, total }
    }

    #[inline]
    pub fn due(&self, k: u64) -> Instant {
        self.t0 + Duration::from_nanos((self.interval_ns * k as f64) as u64)
    }

    /// Messages due at or before `now`.
    pub fn due_by(&self, now: Instant) -> u64 {
        if now < self.t0 {
            return 0;
        }
        let elapsed = now.duration_since(self.t0).as_nanos() as f64;
        ((elapsed / self.interval_ns).floor() as u64 + 1).min(self.total)
    }
}

/// The offset of producer `index` of `producers` (over every topic and
/// shard of the point, all at `msgs_per_s` each) from the point's start:
/// phases spread evenly over one interval, so that message k of producer i
/// is due `i / (producers * msgs_per_s)` after message k of producer 0 and
/// the producers together offer an even rate. Shards use global producer
/// ids, so N load generators interleave the same way one would.
pub fn phase(index: u32, producers: u32, msgs_per_s: f64) -> Duration {
    if producers == 0 || msgs_per_s <= 0.0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(index as f64 / (producers as f64 * msgs_per_s))
}

impl Pacer {
    /// Starts pacing `schedule` on the process's pacing hub.
    pub fn start(schedule: Schedule) -> Arc<Pacer> {
        let pacer =
            Arc::new(Pacer { released: AtomicU64::new(0), stop: AtomicBool::new(false), notify: Notify::new() });
        hub().add(Entry { next: schedule.t0, schedule, pacer: pacer.clone() });
        pacer
    }

    /// Messages released so far.
    #[inline]
    pub fn released(&self) -> u64 {
        self.released.load(Ordering::Acquire)
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Drop for Pacer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One producer in the hub's queue, ordered by its next release.
struct Entry {
    next: Instant,
    schedule: Schedule,
    pacer: Arc<Pacer>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.next == other.next
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Reversed: the heap's top is the earliest release.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        other.next.cmp(&self.next)
    }
}

/// The pacing thread and its queue of producers.
struct Hub {
    queue: Mutex<BinaryHeap<Entry>>,
    /// Signalled when a producer is added, so the hub sleeps no longer than
    /// the new producer's first due time.
    added: Condvar,
}

fn hub() -> &'static Hub {
    static HUB: OnceLock<&'static Hub> = OnceLock::new();
    HUB.get_or_init(|| {
        let hub: &'static Hub =
            Box::leak(Box::new(Hub { queue: Mutex::new(BinaryHeap::new()), added: Condvar::new() }));
        std::thread::Builder::new().name("mqbench-pacer".into()).spawn(move || hub.run()).expect("spawning the pacer");
        hub
    })
}

impl Hub {
    fn add(&self, entry: Entry) {
        self.queue.lock().unwrap().push(entry);
        self.added.notify_one();
    }

    fn run(&self) {
        // SAFETY: prctl with PR_SET_TIMERSLACK only changes this thread's timer slack.
        unsafe {
            libc::prctl(libc::PR_SET_TIMERSLACK, 1000u64, 0, 0, 0);
        }
        let mut queue = self.queue.lock().unwrap();
        loop {
            let now = Instant::now();
            while queue.peek().is_some_and(|e| e.next <= now) {
                let mut e = queue.pop().expect("peeked");
                if e.pacer.stop.load(Ordering::Relaxed) {
                    continue;
                }
                let k = e.schedule.due_by(now);
                if k > e.pacer.released.load(Ordering::Relaxed) {
                    e.pacer.released.store(k, Ordering::Release);
                    e.pacer.notify.notify_one();
                }
                if k < e.schedule.total {
                    e.next = e.schedule.due(k).max(now + MIN_TICK);
                    queue.push(e);
                }
            }
            let wait = match queue.peek() {
                Some(e) => e.next.saturating_duration_since(Instant::now()).min(MAX_SLEEP),
                None => MAX_SLEEP,
            };
            if !wait.is_zero() {
                queue = self.added.wait_timeout(queue, wait).unwrap().0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_counts_due_messages() {
        let t0 = Instant::now();
        let s = Schedule::new(t0, 1000.0, Duration::from_secs(2));
        assert_eq!(s.total, 2000);
        assert_eq!(s.due_by(t0), 1); // message 0 is due at t0
        assert_eq!(s.due_by(t0 + Duration::from_micros(999)), 1);
        assert_eq!(s.due_by(t0 + Duration::from_millis(1)), 2);
        assert_eq!(s.due_by(t0 + Duration::from_secs(10)), 2000);
        assert_eq!(s.due(1000), t0 + Duration::from_secs(1));
    }

    #[test]
    fn phases_interleave_producers_evenly() {
        // 4 producers at 10 msg/s each: together one message every 25 ms.
        let phases: Vec<Duration> = (0..4).map(|i| phase(i, 4, 10.0)).collect();
        assert_eq!(phases.iter().map(|d| d.as_millis()).collect::<Vec<_>>(), vec![0, 25, 50, 75]);
        assert_eq!(phase(3, 0, 10.0), Duration::ZERO);
    }

    #[test]
    fn one_hub_releases_many_producers_on_time() {
        // 200 producers, 20 messages each at 100 msg/s: all released, none early.
        let t0 = Instant::now() + Duration::from_millis(20);
        let schedules: Vec<Schedule> =
            (0..200).map(|i| Schedule::new(t0 + phase(i, 200, 100.0), 100.0, Duration::from_millis(200))).collect();
        let pacers: Vec<Arc<Pacer>> = schedules.iter().map(|s| Pacer::start(*s)).collect();
        std::thread::sleep(Duration::from_millis(20));
        for (s, p) in schedules.iter().zip(&pacers) {
            assert!(p.released() <= s.due_by(Instant::now()), "released before due");
        }
        std::thread::sleep(Duration::from_millis(400));
        assert!(pacers.iter().all(|p| p.released() == 20), "every message released");
    }
}
