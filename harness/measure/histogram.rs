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

#[cfg(test)]
mod tests {
    use super::*;

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
