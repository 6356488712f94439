//! End-to-end latency percentiles (p50, p99, p99.9) of the fixed-rate
//! points, one panel per percentile so that lines stay readable. The chart
//! fits the sweep it draws:
//!
//! - several fixed rates: latency against the producer rate, one line per
//!   broker and payload size, with published latency (one figure per rate,
//!   the statistic unstated) dashed;
//! - one fixed rate: nothing varies along a rate axis, so brokers are
//!   compared per payload instead: latency against payload size, one line
//!   per broker (published figures, given per rate, are left out).

use super::data::{mean_by_x, ms_for_log, rate_mb_per_s, Dataset, Pt};
use super::figure::Figure;
use super::plot::{fmt_bytes, fmt_plain, Axis, Line, LineKind, Panel};
use super::published::{Row, Table};
use crate::measure::LatencySummary;
use std::collections::BTreeSet;

/// Picks one percentile out of a summary.
type Pick = fn(&LatencySummary) -> u64;

const PERCENTILES: [(&str, Pick); 3] = [("p50", |s| s.p50), ("p99", |s| s.p99), ("p99.9", |s| s.p999)];

pub fn figure(ds: &Dataset, published: &[Row]) -> Option<Figure> {
    let fixed: Vec<&Pt> = ds.ok().filter(|p| rate_mb_per_s(p.point).is_some()).collect();
    if fixed.is_empty() {
        return None;
    }
    let rates: BTreeSet<u64> = fixed.iter().filter_map(|p| rate_mb_per_s(p.point)).map(f64::to_bits).collect();
    if rates.len() == 1 {
        Some(one_rate(ds, &fixed))
    } else {
        Some(over_rates(ds, &fixed, published))
    }
}

fn panel(name: &str, x: Axis, lines: Vec<Line>) -> Panel {
    Panel { title: format!("end-to-end {name}"), x, y: Axis::log("latency (ms, log scale)", fmt_plain), lines }
}

/// One rate: x = payload size, a line per broker.
fn one_rate(ds: &Dataset, fixed: &[&Pt]) -> Figure {
    let rate = fixed[0].point.params.rate_label.clone();
    let mut panels = Vec::new();
    for (name, pick) in PERCENTILES {
        let mut lines = Vec::new();
        for label in ds.line_labels() {
            let pts: Vec<(f64, f64)> = fixed
                .iter()
                .filter(|p| ds.label(p) == label)
                .map(|p| (p.point.params.payload_bytes as f64, ms_for_log(pick(&p.point.latency_us.end_to_end))))
                .collect();
            if !pts.is_empty() {
                let colour = lines.len();
                lines.push(Line { label, colour, kind: LineKind::Measured, points: mean_by_x(pts) });
            }
        }
        panels.push(panel(name, Axis::log("payload size (bytes, log scale)", fmt_bytes), lines));
    }
    Figure {
        name: "latency".into(),
        title: format!("End-to-end latency by payload size at {rate}"),
        caption: format!(
            "Latency from each message's intended send time to its receipt (coordinated omission corrected), \
             at the one fixed producer rate of the sweep ({rate}), mean over repeats: lower is better."
        ),
        panels,
        cols: 3,
        panel_size: (460, 380),
    }
}

/// Several rates: x = producer rate, a line per broker and payload.
fn over_rates(ds: &Dataset, fixed: &[&Pt], published: &[Row]) -> Figure {
    let mut panels = Vec::new();
    for (name, pick) in PERCENTILES {
        let mut lines = Vec::new();
        for label in ds.line_labels() {
            let mine: Vec<_> = fixed.iter().filter(|p| ds.label(p) == label).collect();
            let sizes: BTreeSet<u64> = mine.iter().map(|p| p.point.params.payload_bytes).collect();
            for size in &sizes {
                let pts = mine
                    .iter()
                    .filter(|p| p.point.params.payload_bytes == *size)
                    .map(|p| (rate_mb_per_s(p.point).unwrap_or(0.0), ms_for_log(pick(&p.point.latency_us.end_to_end))));
                let text =
                    if sizes.len() > 1 { format!("{label}, {}", fmt_bytes(*size as f64)) } else { label.clone() };
                let colour = lines.len();
                lines.push(Line { label: text, colour, kind: LineKind::Measured, points: mean_by_x(pts) });
            }
        }
        let mut brokers: Vec<&str> = Vec::new();
        for r in published.iter().filter(|r| r.table == Table::Latency) {
            if !brokers.contains(&r.broker.as_str()) {
                brokers.push(&r.broker);
            }
        }
        for b in brokers {
            let colour = lines.len();
            lines.push(Line {
                label: format!("{b} (published)"),
                colour,
                kind: LineKind::Published,
                points: published
                    .iter()
                    .filter(|r| r.table == Table::Latency && r.broker == b)
                    .map(|r| (r.x, r.value))
                    .collect(),
            });
        }
        panels.push(panel(name, Axis::log("producer rate (MB/s, log scale)", fmt_plain), lines));
    }
    Figure {
        name: "latency".into(),
        title: "End-to-end latency against producer rate".into(),
        caption: "Latency from each message's intended send time to its receipt (coordinated omission \
                  corrected), at fixed producer rates; dashed lines with crosses are published figures."
            .into(),
        panels,
        cols: 3,
        panel_size: (460, 380),
    }
}
