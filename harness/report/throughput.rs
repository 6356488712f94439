//! Throughput against payload size, one line per broker (variant), from
//! the unthrottled points: msg/s and MB/s side by side, both axes
//! logarithmic. Published figures go on the same axes, dashed.

use super::data::{delivered_msgs_per_s, mean_by_x, Dataset};
use super::figure::Figure;
use super::plot::{fmt_bytes, fmt_count, fmt_plain, Axis, Line, LineKind, Panel};
use super::published::{Row, Table};

pub fn figure(ds: &Dataset, published: &[Row]) -> Option<Figure> {
    let mut msgs = Vec::new();
    let mut mbs = Vec::new();
    for label in ds.line_labels() {
        let pts: Vec<(f64, f64, f64)> = ds
            .ok()
            .filter(|p| p.point.params.rate.is_max() && ds.label(p) == label)
            .map(|p| {
                let m = delivered_msgs_per_s(p.point);
                (p.point.params.payload_bytes as f64, m, m * p.point.params.payload_bytes as f64 / 1e6)
            })
            .collect();
        if pts.is_empty() {
            continue;
        }
        let colour = msgs.len();
        let line = |points| Line { label: label.clone(), colour, kind: LineKind::Measured, points };
        msgs.push(line(mean_by_x(pts.iter().map(|p| (p.0, p.1)))));
        mbs.push(line(mean_by_x(pts.iter().map(|p| (p.0, p.2)))));
    }
    if msgs.is_empty() {
        return None;
    }
    let mut brokers: Vec<&str> = Vec::new();
    for r in published.iter().filter(|r| r.table == Table::Throughput) {
        if !brokers.contains(&r.broker.as_str()) {
            brokers.push(&r.broker);
        }
    }
    for b in brokers {
        let rows: Vec<&Row> = published.iter().filter(|r| r.table == Table::Throughput && r.broker == b).collect();
        let colour = msgs.len();
        let line = |points| Line { label: format!("{b} (published)"), colour, kind: LineKind::Published, points };
        msgs.push(line(rows.iter().map(|r| (r.x, r.value)).collect()));
        mbs.push(line(rows.iter().map(|r| (r.x, r.bytes_per_s() / 1e6)).collect()));
    }
    let x = || Axis::log("payload size (bytes, log scale)", fmt_bytes);
    Some(Figure {
        name: "throughput".into(),
        title: "Throughput against payload size (unthrottled)".into(),
        caption: "Messages delivered per second to one subscription during the measurement window, \
                  mean over repeats; dashed lines with crosses are published figures."
            .into(),
        panels: vec![
            Panel {
                title: "messages per second".into(),
                x: x(),
                y: Axis::log("throughput (msg/s, log scale)", fmt_count),
                lines: msgs,
            },
            Panel {
                title: "megabytes per second (1 MB = 10^6 B)".into(),
                x: x(),
                y: Axis::log("throughput (MB/s, log scale)", fmt_plain),
                lines: mbs,
            },
        ],
        cols: 2,
        panel_size: (640, 400),
    })
}
