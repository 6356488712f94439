//! The per-second series of one point: messages sent, acknowledged and
//! received each second (top) and that second's p99 latency (bottom), from
//! the start of warm-up (negative seconds) to the end of the drain, so
//! that warm-up, stalls and the drain are visible.

use super::data::{ms_for_log, Pt};
use super::figure::Figure;
use super::percentile::repeat_suffix;
use super::plot::{fmt_count, fmt_plain, Axis, Line, LineKind, Panel};
use crate::measure::SeriesPoint;

fn line(label: &str, colour: usize, s: &[SeriesPoint], f: fn(&SeriesPoint) -> Option<f64>) -> Line {
    let points = s.iter().filter_map(|p| Some((p.t_s, f(p)?))).collect();
    Line { label: label.into(), colour, kind: LineKind::Measured, points }
}

pub fn figure(p: &Pt, index: usize) -> Option<Figure> {
    let s = &p.point.series;
    if s.is_empty() {
        return None;
    }
    let x = || Axis::linear("time from the start of the measurement window (s)", fmt_plain);
    let name = format!("{}{}", p.point.id, repeat_suffix(p.point.repeat));
    Some(Figure {
        name: format!("point-{index}-series"),
        title: format!("Per-second series: {name}"),
        caption: "Each second of the run; negative seconds are warm-up, seconds after the window are the drain.".into(),
        panels: vec![
            Panel {
                title: format!("{name}: messages per second"),
                x: x(),
                y: Axis::linear("messages in that second (msg/s)", fmt_count),
                lines: vec![
                    line("sent", 0, s, |p| Some(p.sent as f64)),
                    line("acknowledged", 1, s, |p| Some(p.acked as f64)),
                    line("received", 2, s, |p| Some(p.received as f64)),
                ],
            },
            Panel {
                title: format!("{name}: p99 latency per second"),
                x: x(),
                y: Axis::log("p99 latency (ms, log scale)", fmt_plain),
                lines: vec![
                    // A second in which nothing arrived has no latency: no point is drawn.
                    line("end-to-end p99", 0, s, |p| (p.received > 0).then(|| ms_for_log(p.end_to_end_p99_us))),
                    line("publish p99", 1, s, |p| (p.acked > 0).then(|| ms_for_log(p.publish_p99_us))),
                ],
            },
        ],
        cols: 1,
        panel_size: (760, 330),
    })
}
