//! The report's view of stored results: which points form one line of a
//! chart, and the numbers charts and tables read from a point. Pure: no
//! I/O, no drawing.

use crate::measure::LatencyHistogram;
use crate::results::{PointResult, ResultsFile, Status};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One results file given to `report`.
#[derive(Clone, Debug)]
pub struct Input {
    pub path: PathBuf,
    pub results: ResultsFile,
}

/// A point with the input it came from.
#[derive(Clone, Copy, Debug)]
pub struct Pt<'a> {
    pub input: usize,
    pub point: &'a PointResult,
}

/// The knobs of a point id other than payload and rate: points sharing a
/// variant differ only in payload and rate, so they form one line.
/// `kafka/payload=100/rate=max/producers=4` -> `kafka/producers=4`.
pub fn variant_of(id: &str) -> String {
    id.split('/').filter(|s| !s.starts_with("payload=") && !s.starts_with("rate=")).collect::<Vec<_>>().join("/")
}

/// Every point of every input, with line labels that stay unique when
/// several inputs hold the same broker.
pub struct Dataset<'a> {
    pub inputs: &'a [Input],
    pub points: Vec<Pt<'a>>,
    /// Line label by (input, variant).
    labels: BTreeMap<(usize, String), String>,
    /// Order of first appearance by line label.
    colours: BTreeMap<String, usize>,
}

impl<'a> Dataset<'a> {
    pub fn new(inputs: &'a [Input]) -> Dataset<'a> {
        let points: Vec<Pt> = inputs
            .iter()
            .enumerate()
            // A searched rate's probes are drawn with their search
            // (`capacity.rs`), not as points of their own.
            .flat_map(|(i, input)| {
                input.results.points.iter().filter(|p| p.probe.is_none()).map(move |p| Pt { input: i, point: p })
            })
            .collect();
        let mut inputs_of: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for p in &points {
            let v = inputs_of.entry(variant_of(&p.point.id)).or_default();
            if !v.contains(&p.input) {
                v.push(p.input);
            }
        }
        let mut labels = BTreeMap::new();
        let mut colours = BTreeMap::new();
        for p in &points {
            let variant = variant_of(&p.point.id);
            let label = if inputs_of[&variant].len() > 1 {
                format!("{variant} [{}]", inputs[p.input].results.run.id)
            } else {
                variant.clone()
            };
            let n = colours.len();
            colours.entry(label.clone()).or_insert(n);
            labels.insert((p.input, variant), label);
        }
        Dataset { inputs, points, labels, colours }
    }

    pub fn label(&self, p: &Pt) -> String {
        self.labels[&(p.input, variant_of(&p.point.id))].clone()
    }

    /// Where `label` first appears among the points (lines are listed in
    /// the order the run measured them).
    pub fn colour(&self, label: &str) -> usize {
        self.colours.get(label).copied().unwrap_or(self.colours.len())
    }

    pub fn ok(&self) -> impl Iterator<Item = &Pt<'a>> {
        self.points.iter().filter(|p| p.point.status == Status::Ok)
    }

    /// Line labels in order of first appearance.
    pub fn line_labels(&self) -> Vec<String> {
        let mut v: Vec<(usize, String)> = self.colours.iter().map(|(l, c)| (*c, l.clone())).collect();
        v.sort();
        v.into_iter().map(|(_, l)| l).collect()
    }
}

/// Messages per second delivered to one subscription (what a reader of the
/// broker sees); the acknowledged publish rate when nothing consumes.
pub fn delivered_msgs_per_s(p: &PointResult) -> f64 {
    if p.params.subscriptions > 0 {
        p.throughput.consume_msgs_per_s / p.params.subscriptions as f64
    } else {
        p.throughput.publish_msgs_per_s
    }
}

/// Producer rate of a fixed-rate point in MB/s (10^6 bytes), `None` when
/// unthrottled.
pub fn rate_mb_per_s(p: &PointResult) -> Option<f64> {
    match p.params.rate {
        crate::scenario::RateParam::Fixed { bytes_per_s, .. } => Some(bytes_per_s / 1e6),
        _ => None,
    }
}

/// Averages `(x, y)` pairs that share an x (repeats of one point), sorted
/// by x.
pub fn mean_by_x(pairs: impl IntoIterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    let mut by: BTreeMap<u64, (f64, f64, u32)> = BTreeMap::new();
    for (x, y) in pairs {
        let e = by.entry(x.to_bits()).or_insert((x, 0.0, 0));
        e.1 += y;
        e.2 += 1;
    }
    let mut v: Vec<(f64, f64)> = by.into_values().map(|(x, s, n)| (x, s / n as f64)).collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

/// Latencies below 1 µs are drawn at 1 µs on log axes (0 has no place on
/// them; the tables keep the exact value).
pub fn ms_for_log(us: u64) -> f64 {
    us.max(1) as f64 / 1000.0
}

/// A decoded histogram of a point, `None` when empty or unreadable.
pub fn histogram(text: &str) -> Option<LatencyHistogram> {
    if text.is_empty() {
        return None;
    }
    LatencyHistogram::decode(text).ok().filter(|h| h.count() > 0)
}

/// A percentile curve: x = "number of nines" (0 = 0 %, 1 = 90 %, 2 = 99 %,
/// ... 5 = 99.999 %), y = latency in ms.
pub fn percentile_curve(h: &LatencyHistogram) -> Vec<(f64, f64)> {
    (0..=250)
        .map(|i| {
            let nines = i as f64 * 0.02;
            let q = 1.0 - 10f64.powf(-nines);
            (nines, ms_for_log(h.quantile(q.min(1.0))))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_drops_payload_and_rate_only() {
        assert_eq!(variant_of("kafka/payload=100/rate=max/producers=4"), "kafka/producers=4");
        assert_eq!(variant_of("redis/payload=10/rate=1MBps"), "redis");
    }

    #[test]
    fn repeats_average() {
        assert_eq!(mean_by_x([(2.0, 1.0), (1.0, 5.0), (2.0, 3.0)]), vec![(1.0, 5.0), (2.0, 2.0)]);
    }

    #[test]
    fn curve_reaches_the_tail() {
        let mut h = LatencyHistogram::new();
        for v in 1..=100_000u64 {
            h.record(v);
        }
        let c = percentile_curve(&h);
        assert_eq!(c.first().unwrap().0, 0.0);
        assert!((c.last().unwrap().0 - 5.0).abs() < 1e-9);
        assert!(c.last().unwrap().1 > 99.0, "{:?}", c.last());
        assert!(c.windows(2).all(|w| w[0].1 <= w[1].1));
    }
}
