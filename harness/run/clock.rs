//! One clock for a run: monotonic inside the process, expressed as µs since
//! the Unix epoch so that due times in message bodies can be compared on
//! another host (shards) as well.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: Instant,
    epoch_unix_us: u64,
}

impl Clock {
    pub fn new() -> Clock {
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Clock { epoch: Instant::now(), epoch_unix_us: unix.as_micros() as u64 }
    }

    /// µs since the Unix epoch of a monotonic instant.
    #[inline]
    pub fn unix_us(&self, at: Instant) -> u64 {
        self.epoch_unix_us + at.saturating_duration_since(self.epoch).as_micros() as u64
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// Whole µs from `from` to `to`, zero if `to` is earlier.
#[inline]
pub fn micros_between(from: Instant, to: Instant) -> u64 {
    to.saturating_duration_since(from).as_micros() as u64
}
