//! Latency percentiles (p50, p99, p99.9 end to end) against the producer
//! rate, one line per broker and payload size, from the fixed-rate points;
//! one panel per percentile so that lines stay readable. Published latency
//! (one figure per rate, the statistic unstated) is drawn dashed in each.

use super::data::{mean_by_x, ms_for_log, rate_mb_per_s, Dataset};
use super::figure::Figure;
use super::plot::{fmt_bytes, fmt_plain, Axis, Line, LineKind, Panel};
use super::published::{Row, Table};
use crate::measure::LatencySummary;
use std::collections::BTreeSet;

/// Picks one percentile out of a summary.
type Pick = fn(&LatencySummary) -> u64;

const PERCENTILES: [(&str, Pick); 3] = [("p50", |s| s.p50), ("p99", |s| s.p99), ("p99.9", |s| s.p999)];

pub fn figure(ds: &Dataset, published: &[Row]) -> Option<Figure> {
    let fixed: Vec<_> = ds.ok().filter(|p| rate_mb_per_s(p.point).is_some()).collect();
    if fixed.is_empty() {
        return None;
    }
    let mut panels = Vec::new();
    for (name, pick) in PERCENTILES {
        let mut lines = Vec::new();
        // Lines split by payload size take fresh colours after the brokers'.
        let mut extra = ds.line_labels().len() + 4;
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
                lines.push(Line {
                    label: text,
                    colour: if sizes.len() > 1 && size != sizes.first().unwrap() {
                        extra += 1;
                        extra - 1
                    } else {
                        ds.colour(&label)
                    },
                    kind: LineKind::Measured,
                    points: mean_by_x(pts),
                });
            }
        }
        let mut brokers: Vec<&str> = Vec::new();
        for r in published.iter().filter(|r| r.table == Table::Latency) {
            if !brokers.contains(&r.broker.as_str()) {
                brokers.push(&r.broker);
            }
        }
        for (i, b) in brokers.iter().enumerate() {
            lines.push(Line {
                label: format!("{b} (published)"),
                colour: ds.published_colour(b, i),
                kind: LineKind::Published,
                points: published
                    .iter()
                    .filter(|r| r.table == Table::Latency && r.broker == *b)
                    .map(|r| (r.x, r.value))
                    .collect(),
            });
        }
        panels.push(Panel {
            title: format!("end-to-end {name}"),
            x: Axis::log("producer rate (MB/s, log scale)", fmt_plain),
            y: Axis::log("latency (ms, log scale)", fmt_plain),
            lines,
            legend_lower: false,
        });
    }
    Some(Figure {
        name: "latency".into(),
        title: "End-to-end latency against producer rate".into(),
        caption: "Latency from each message's intended send time to its receipt (coordinated omission \
                  corrected), at fixed producer rates; dashed lines with crosses are published figures."
            .into(),
        panels,
        cols: 3,
        panel_size: (520, 440),
    })
}
