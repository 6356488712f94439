//! The loopback's service-rate limit (`service_rate`): one server per
//! session that takes messages in arrival order and serves them one at a
//! time, each for a service time of `1 / service_rate` (`service_time:
//! fixed`) or drawn from an exponential distribution of that mean
//! (`exponential`), and only then hands them to the consumers' queues.
//! A message's delivery time is therefore
//! `finish_k = max(arrival_k, finish_(k-1)) + service_k`, a single-server
//! FIFO queue whose answer is known: offered more than `service_rate`, its
//! backlog and latency grow without bound; offered less, fixed service adds
//! no wait at all (arrivals are paced evenly) and exponential service waits
//! as a D/M/1 queue does.
//!
//! Producers are acknowledged when their batch is admitted to the queue;
//! at most `capacity` messages wait for service, beyond which senders wait
//! (backpressure, as a full broker would). The server is an OS thread with
//! fine timer slack rather than a Tokio task, whose timers tick in whole
//! milliseconds and would add up to 1 ms to every delivery.

use super::{Batch, ProducerShared};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How service times are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceTime {
    /// Every message takes exactly `1 / rate`.
    Fixed,
    /// Exponentially distributed with mean `1 / rate` (seeded, so a run
    /// is repeatable).
    Exponential,
}

/// Longest sleep of the server without checking whether its session ended.
const MAX_SLEEP: Duration = Duration::from_millis(20);

struct Job {
    arrived: Instant,
    shared: Arc<ProducerShared>,
    consumer: usize,
    batch: Batch,
    /// Room it took in the queue, returned when its last message is served.
    permits: usize,
}

/// The producers' end of the server.
#[derive(Clone)]
pub struct ServiceQueue {
    jobs: mpsc::Sender<Job>,
    room: Arc<Semaphore>,
    capacity: usize,
}

/// Ends the server thread when the session that started it is dropped.
pub struct ServerGuard(Arc<AtomicBool>);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl ServiceQueue {
    /// Starts a server of `msgs_per_s` with room for `capacity` waiting
    /// messages.
    pub fn start(msgs_per_s: f64, time: ServiceTime, capacity: usize) -> (ServiceQueue, ServerGuard) {
        let (jobs, rx) = mpsc::channel();
        let room = Arc::new(Semaphore::new(capacity));
        let closed = Arc::new(AtomicBool::new(false));
        let server = Server { rx, room: room.clone(), closed: closed.clone(), mean_s: 1.0 / msgs_per_s, time };
        std::thread::Builder::new()
            .name("mqbench-loopback-server".into())
            .spawn(move || server.run())
            .expect("spawning the loopback server");
        (ServiceQueue { jobs, room, capacity }, ServerGuard(closed))
    }

    /// Admits a batch for service (waiting while the queue is full).
    pub async fn admit(&self, shared: &Arc<ProducerShared>, consumer: usize, batch: Batch) -> anyhow::Result<()> {
        let n = batch.len().min(self.capacity) as u32;
        let gone = || anyhow::anyhow!("loopback: the service queue is gone");
        self.room.acquire_many(n).await.map_err(|_| gone())?.forget();
        let job = Job { arrived: Instant::now(), shared: shared.clone(), consumer, batch, permits: n as usize };
        self.jobs.send(job).map_err(|_| gone())
    }
}

/// A message served, waiting for its finish time.
struct Served {
    finish: Instant,
    shared: Arc<ProducerShared>,
    consumer: usize,
    delivery: super::Delivery,
    /// Permits to return when it leaves (the admitted batch's, on its last
    /// message).
    permits: usize,
}

struct Server {
    rx: mpsc::Receiver<Job>,
    room: Arc<Semaphore>,
    closed: Arc<AtomicBool>,
    mean_s: f64,
    time: ServiceTime,
}

impl Server {
    fn service(&self, rng: &mut SmallRng) -> Duration {
        match self.time {
            ServiceTime::Fixed => Duration::from_secs_f64(self.mean_s),
            // Inversion: -ln(U) is exponential of mean 1 for U in (0, 1].
            ServiceTime::Exponential => {
                let u: f64 = 1.0 - rng.random::<f64>();
                Duration::from_secs_f64(-u.ln() * self.mean_s)
            }
        }
    }

    fn run(self) {
        // SAFETY: prctl with PR_SET_TIMERSLACK only changes this thread's timer slack.
        unsafe {
            libc::prctl(libc::PR_SET_TIMERSLACK, 1000u64, 0, 0, 0);
        }
        let mut rng = SmallRng::seed_from_u64(0x6d71_6265_6e63_6821);
        let mut free_at = Instant::now();
        let mut queue: VecDeque<Served> = VecDeque::new();
        while !self.closed.load(Ordering::Relaxed) {
            let next = if queue.is_empty() {
                match self.rx.recv_timeout(MAX_SLEEP) {
                    Ok(job) => Some(job),
                    Err(mpsc::RecvTimeoutError::Timeout) => continue,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            } else {
                self.rx.try_recv().ok()
            };
            let mut arrivals: Vec<Job> = next.into_iter().collect();
            arrivals.extend(self.rx.try_iter());
            for job in arrivals {
                let (permits, last) = (job.permits, job.batch.len().saturating_sub(1));
                for (i, delivery) in job.batch.into_iter().enumerate() {
                    free_at = free_at.max(job.arrived) + self.service(&mut rng);
                    queue.push_back(Served {
                        finish: free_at,
                        shared: job.shared.clone(),
                        consumer: job.consumer,
                        delivery,
                        permits: if i == last { permits } else { 0 },
                    });
                }
            }
            let now = Instant::now();
            if !self.deliver_due(&mut queue, now) {
                return;
            }
            if let Some(first) = queue.front() {
                let wait = first.finish.saturating_duration_since(Instant::now()).min(MAX_SLEEP);
                if !wait.is_zero() {
                    std::thread::sleep(wait);
                }
            }
        }
    }

    /// Hands every message whose service has finished to its consumer,
    /// consecutive ones of one producer and consumer as one batch. False
    /// when the consumers are gone (the point is over).
    fn deliver_due(&self, queue: &mut VecDeque<Served>, now: Instant) -> bool {
        while queue.front().is_some_and(|s| s.finish <= now) {
            let first = queue.pop_front().expect("checked");
            let (shared, consumer) = (first.shared.clone(), first.consumer);
            let mut permits = first.permits;
            let mut batch = vec![first.delivery];
            while let Some(s) = queue.front() {
                if s.finish > now || s.consumer != consumer || !Arc::ptr_eq(&s.shared, &shared) {
                    break;
                }
                let s = queue.pop_front().expect("checked");
                permits += s.permits;
                batch.push(s.delivery);
            }
            if futures::executor::block_on(shared.deliver(consumer, batch)).is_err() {
                return false;
            }
            self.room.add_permits(permits);
        }
        true
    }
}
