//! Per-second series: counts and latency per second of the run, from the
//! start of warm-up to the end of the drain, so that stalls and warm-up show.

use super::histogram::LatencyRecorder;
use serde::{Deserialize, Serialize};

/// One second of one task's activity.
#[derive(Clone, Debug)]
pub struct Bucket {
    pub sent: u64,
    pub acked: u64,
    pub received: u64,
    pub publish: LatencyRecorder,
    pub end_to_end: LatencyRecorder,
}

/// Per-second latencies keep 2 significant digits (1% resolution, enough
/// for a p99 over one second; the point's histograms keep 3), and are held
/// as lists until a bucket has [`super::histogram::SPILL`] samples: a
/// thousand producers and consumers at 10 msg/s each fill a bucket every
/// second, and a histogram apiece (2 to 10 KB, each second) was most of
/// the harness's memory, 400 MB over a 35 s point.
impl Default for Bucket {
    fn default() -> Self {
        Bucket {
            sent: 0,
            acked: 0,
            received: 0,
            publish: LatencyRecorder::with_digits(2),
            end_to_end: LatencyRecorder::with_digits(2),
        }
    }
}

/// Buckets indexed by whole seconds since the start of warm-up.
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub buckets: Vec<Bucket>,
}

impl Series {
    #[inline]
    pub fn at(&mut self, second: usize) -> &mut Bucket {
        if second >= self.buckets.len() {
            self.buckets.resize_with(second + 1, Bucket::default);
        }
        &mut self.buckets[second]
    }

    pub fn add(&mut self, other: &Series) {
        for (i, b) in other.buckets.iter().enumerate() {
            let mine = self.at(i);
            mine.sent += b.sent;
            mine.acked += b.acked;
            mine.received += b.received;
            mine.publish.add(&b.publish);
            mine.end_to_end.add(&b.end_to_end);
        }
    }

    /// The series as results record it. Bucket 0 starts `lead_s` (a whole
    /// number of seconds) before the window opens, so bucket edges fall on
    /// the window's start. `subscriptions` turns acknowledgements into the
    /// receipts they are owed (each subscription gets every message).
    pub fn points(&self, lead_s: f64, duration_s: f64, subscriptions: u32) -> Vec<SeriesPoint> {
        let (mut owed, mut got) = (0u64, 0u64);
        self.buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                owed += b.acked * subscriptions as u64;
                got += b.received;
                let t_s = i as f64 - lead_s;
                let phase = if t_s < 0.0 {
                    "warmup"
                } else if t_s < duration_s {
                    "measure"
                } else {
                    "drain"
                };
                SeriesPoint {
                    t_s,
                    phase: phase.to_string(),
                    sent: b.sent,
                    acked: b.acked,
                    received: b.received,
                    backlog: owed.saturating_sub(got),
                    publish_p99_us: b.publish.quantile(0.99),
                    end_to_end_p50_us: b.end_to_end.quantile(0.50),
                    end_to_end_p99_us: b.end_to_end.quantile(0.99),
                }
            })
            .collect()
    }
}

/// One second as results record it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SeriesPoint {
    /// Start of the second, relative to the start of the measurement window
    /// (negative during warm-up).
    pub t_s: f64,
    /// `warmup`, `measure` or `drain`.
    pub phase: String,
    /// Messages sent, acknowledged and received in this second (any phase).
    pub sent: u64,
    pub acked: u64,
    pub received: u64,
    /// At the end of this second: messages acknowledged so far that have
    /// not reached a subscription yet, summed over subscriptions (a
    /// consumer that lags shows as a backlog that grows).
    #[serde(default)]
    pub backlog: u64,
    pub publish_p99_us: u64,
    pub end_to_end_p50_us: u64,
    pub end_to_end_p99_us: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backlog_is_what_was_acknowledged_and_not_yet_received() {
        let mut s = Series::default();
        // Two subscriptions; 100 acknowledged a second; the consumers read
        // 150, 150, then catch up with 300.
        for (i, received) in [150, 150, 300].into_iter().enumerate() {
            let b = s.at(i);
            b.acked = 100;
            b.received = received;
        }
        let backlog: Vec<u64> = s.points(0.0, 3.0, 2).iter().map(|p| p.backlog).collect();
        assert_eq!(backlog, [50, 100, 0]);
        // Produce only: nothing is owed.
        assert!(s.points(0.0, 3.0, 0).iter().all(|p| p.backlog == 0));
    }
}
