//! CPU and peak memory of a process tree over the measurement window,
//! from the samples `system::resources` takes, as results record them.

use crate::results::ProcessUsage;
use crate::system::resources::{ticks_per_second, TreeSample};

/// Accumulates samples over a window, with the count of messages handled
/// at each sample, so that CPU per message divides the CPU spent between
/// the first and last samples by the messages handled between them (not by
/// every message of the point, warm-up and drain included).
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    first: Option<(TreeSample, u64)>,
    last: (TreeSample, u64),
    peak_rss: u64,
}

impl Usage {
    /// A sample taken when `messages` had been handled so far.
    pub fn add(&mut self, s: TreeSample, messages: u64) {
        if self.first.is_none() {
            self.first = Some((s, messages));
        }
        self.last = (s, messages);
        self.peak_rss = self.peak_rss.max(s.rss_bytes);
    }

    pub fn finish(&self) -> Option<ProcessUsage> {
        let (first, first_messages) = self.first?;
        let (last, last_messages) = self.last;
        let messages = last_messages.saturating_sub(first_messages);
        let cpu_s = last.cpu_ticks.saturating_sub(first.cpu_ticks) as f64 / ticks_per_second();
        Some(ProcessUsage {
            cpu_s,
            peak_rss_bytes: self.peak_rss,
            cpu_s_per_million_msgs: if messages > 0 { cpu_s * 1e6 / messages as f64 } else { 0.0 },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_per_message_counts_only_the_messages_between_the_samples() {
        let mut u = Usage::default();
        let hz = ticks_per_second() as u64;
        u.add(TreeSample { cpu_ticks: 0, rss_bytes: 1 }, 5_000_000);
        u.add(TreeSample { cpu_ticks: 2 * hz, rss_bytes: 3 }, 6_000_000);
        let p = u.finish().unwrap();
        assert_eq!(p.cpu_s, 2.0);
        assert_eq!(p.peak_rss_bytes, 3);
        // 2 CPU seconds for the million handled between the samples.
        assert_eq!(p.cpu_s_per_million_msgs, 2.0);
        assert!(Usage::default().finish().is_none());
    }
}
