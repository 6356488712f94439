//! Open-loop pacing: message k of a producer is due at `t0 + k / rate`.
//!
//! Tokio's timers tick in whole milliseconds, which would add up to 1 ms of
//! harness lateness to every latency at low rates. A pacer is therefore an
//! OS thread that sleeps precisely (timer slack set to 1 µs) and releases
//! messages as they fall due; the producer task sends everything released,
//! in batches when it is behind. The due time, not the wake-up time, is
//! what each message carries and what latency is measured from.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Shortest sleep between releases: at high rates a release covers many
/// messages rather than waking for each.
const MIN_TICK: Duration = Duration::from_micros(20);

pub struct Pacer {
    released: AtomicU64,
    stop: AtomicBool,
    pub notify: Notify,
}

/// The schedule of one producer.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
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

impl Pacer {
    /// Starts the pacing thread for `schedule`.
    pub fn start(schedule: Schedule) -> Arc<Pacer> {
        let pacer =
            Arc::new(Pacer { released: AtomicU64::new(0), stop: AtomicBool::new(false), notify: Notify::new() });
        let p = pacer.clone();
        std::thread::Builder::new()
            .name("mqbench-pacer".into())
            .spawn(move || {
                // SAFETY: prctl with PR_SET_TIMERSLACK only changes this thread's timer slack.
                unsafe {
                    libc::prctl(libc::PR_SET_TIMERSLACK, 1000u64, 0, 0, 0);
                }
                loop {
                    if p.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let now = Instant::now();
                    let k = schedule.due_by(now);
                    if k > p.released.load(Ordering::Relaxed) {
                        p.released.store(k, Ordering::Release);
                        p.notify.notify_one();
                    }
                    if k >= schedule.total {
                        break;
                    }
                    let next = schedule.due(k);
                    let wait = next.saturating_duration_since(Instant::now()).max(MIN_TICK);
                    std::thread::sleep(wait.min(Duration::from_millis(100)));
                }
            })
            .expect("spawning a pacer thread");
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
}
