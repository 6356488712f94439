//! Latency histograms: HdrHistogram in microseconds with 3 significant
//! digits, auto-resizing so that no sample is ever dropped; zero is a valid
//! sample (a sub-microsecond delivery), not a missing one.

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// A latency histogram in µs.
#[derive(Clone, Debug)]
pub struct LatencyHistogram(pub Histogram<u64>);

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

/// The percentiles that results report for every histogram.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LatencySummary {
    pub count: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    pub max: u64,
}

impl LatencyHistogram {
    pub fn new() -> Self {
        let mut h = Histogram::new(3).expect("3 significant digits is valid");
        h.auto(true);
        LatencyHistogram(h)
    }

    #[inline]
    pub fn record(&mut self, micros: u64) {
        // Auto-resize makes this infallible for any u64 the histogram can hold.
        self.0.record(micros).expect("auto-resizing histogram records every value");
    }

    pub fn add(&mut self, other: &LatencyHistogram) {
        self.0.add(&other.0).expect("auto-resizing histograms always add");
    }

    pub fn count(&self) -> u64 {
        self.0.len()
    }

    pub fn quantile(&self, q: f64) -> u64 {
        if self.0.is_empty() {
            0
        } else {
            self.0.value_at_quantile(q)
        }
    }

    pub fn summary(&self) -> LatencySummary {
        let h = &self.0;
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: h.len(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
        }
    }

    /// Base64 of the HdrHistogram V2 deflate encoding (the form other
    /// HdrHistogram libraries read).
    pub fn encode(&self) -> String {
        let mut buf = Vec::new();
        V2DeflateSerializer::new().serialize(&self.0, &mut buf).expect("serialising to memory");
        base64::engine::general_purpose::STANDARD.encode(buf)
    }

    pub fn decode(text: &str) -> Result<LatencyHistogram, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| format!("histogram is not base64: {e}"))?;
        let mut h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| format!("histogram does not decode: {e:?}"))?;
        h.auto(true);
        Ok(LatencyHistogram(h))
    }
}

/// Samples a task records, held as a plain list until there are enough
/// of them to be worth a histogram ([`SPILL`]), then added to one.
///
/// Why: a point's histograms (3 digits) start at 16 KB and grow to about
/// 64 KB as latencies of tens of milliseconds arrive. A thousand producers
/// and a thousand consumers at 10 msg/s each record their first measured
/// samples within the same 100 ms, when the window opens, and growing
/// four thousand histograms at once (some 250 MB of fresh pages) stalled
/// the whole process for up to 150 ms. Such a task records a few hundred
/// samples in a window, 8 bytes each here; a fast task spills into its
/// histogram every [`SPILL`] samples, at the cost of one more copy.
#[derive(Clone, Debug, Default)]
pub struct LatencyRecorder {
    pending: Vec<u64>,
    histogram: Option<LatencyHistogram>,
    /// Spill into 2-digit histograms (the per-second series) rather than
    /// the point's 3 digits.
    coarse: bool,
}

/// Samples held before they go into the histogram.
pub const SPILL: usize = 1024;

impl LatencyRecorder {
    /// A recorder whose histogram keeps `digits` significant digits.
    pub fn with_digits(digits: u8) -> LatencyRecorder {
        assert!(digits == 2 || digits == 3, "2 or 3 significant digits");
        LatencyRecorder { coarse: digits == 2, ..Default::default() }
    }

    fn empty_histogram(&self) -> LatencyHistogram {
        if self.coarse {
            let mut h = Histogram::new(2).expect("2 significant digits is valid");
            h.auto(true);
            LatencyHistogram(h)
        } else {
            LatencyHistogram::new()
        }
    }

    #[inline]
    pub fn record(&mut self, micros: u64) {
        if self.pending.len() == SPILL {
            self.spill();
        }
        self.pending.push(micros);
    }

    fn spill(&mut self) {
        if self.histogram.is_none() {
            self.histogram = Some(self.empty_histogram());
        }
        let h = self.histogram.as_mut().expect("just made");
        for &v in &self.pending {
            h.record(v);
        }
        self.pending.clear();
    }

    /// Adds every sample of `other`.
    pub fn add(&mut self, other: &LatencyRecorder) {
        if let Some(theirs) = &other.histogram {
            if self.histogram.is_none() {
                self.histogram = Some(self.empty_histogram());
            }
            self.histogram.as_mut().expect("just made").add(theirs);
        }
        for &v in &other.pending {
            self.record(v);
        }
    }

    /// The value at quantile `q` of every sample so far (0 when none).
    pub fn quantile(&self, q: f64) -> u64 {
        self.clone().finish().quantile(q)
    }

    /// Every sample recorded, as a histogram.
    pub fn finish(mut self) -> LatencyHistogram {
        self.spill();
        self.histogram.expect("spill makes one")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorder_holds_every_sample_whether_it_spilled_or_not() {
        for n in [0u64, 5, SPILL as u64, 3 * SPILL as u64 + 7] {
            let (mut r, mut h) = (LatencyRecorder::default(), LatencyHistogram::new());
            for v in 0..n {
                r.record(v * 37 % 100_000);
                h.record(v * 37 % 100_000);
            }
            let mut twice = r.clone();
            twice.add(&r);
            let got = r.finish();
            assert_eq!((got.count(), got.summary()), (h.count(), h.summary()), "{n} samples");
            assert_eq!(twice.finish().count(), 2 * n);
        }
    }

    #[test]
    fn zero_and_huge_values_are_kept() {
        let mut h = LatencyHistogram::new();
        h.record(0);
        h.record(1);
        h.record(3_600_000_000); // an hour
        assert_eq!(h.count(), 3);
        assert_eq!(h.summary().max, h.0.highest_equivalent(3_600_000_000));
        assert_eq!(h.quantile(0.0), 0);
    }

    #[test]
    fn encoding_round_trips() {
        let mut h = LatencyHistogram::new();
        for v in 0..10_000u64 {
            h.record(v * 7);
        }
        let back = LatencyHistogram::decode(&h.encode()).unwrap();
        assert_eq!(back.summary(), h.summary());
    }

    #[test]
    fn add_merges_exactly() {
        let (mut a, mut b) = (LatencyHistogram::new(), LatencyHistogram::new());
        a.record(10);
        b.record(20_000_000);
        a.add(&b);
        assert_eq!(a.count(), 2);
    }
}
