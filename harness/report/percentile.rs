//! The latency distribution of one point as a percentile plot in the
//! HdrHistogram style: x is the "number of nines" (90 %, 99 %, 99.9 % ...
//! equally spaced), so the tail is as wide as the body.

use super::data::{histogram, percentile_curve, Pt};
use super::figure::Figure;
use super::plot::{fmt_plain, Axis, Line, LineKind, Panel};

/// Labels whole numbers of nines as percentiles: 0 -> 0%, 3 -> 99.9%.
pub fn nines_label(v: f64) -> String {
    if (v - v.round()).abs() > 1e-6 || v < 0.0 {
        return String::new();
    }
    match v.round() as u32 {
        0 => "0%".into(),
        n => format!("{}%", 100.0 - 100.0 * 10f64.powi(-(n as i32))),
    }
}

pub fn figure(p: &Pt, index: usize) -> Option<Figure> {
    let h = &p.point.histograms;
    let mut lines = Vec::new();
    for (label, text, colour, kind) in [
        ("end to end (from intended send)", &h.end_to_end, 0, LineKind::Curve),
        ("publish (from intended send to ack)", &h.publish, 1, LineKind::Curve),
        ("service (from actual send to ack)", &h.service, 2, LineKind::DashedCurve),
    ] {
        if let Some(hist) = histogram(text) {
            lines.push(Line {
                label: format!("{label}, n={}", hist.count()),
                colour,
                kind,
                points: percentile_curve(&hist),
            });
        }
    }
    if lines.is_empty() {
        return None;
    }
    Some(Figure {
        name: format!("point-{index}-percentiles"),
        title: format!("Latency distribution: {}{}", p.point.id, repeat_suffix(p.point.repeat)),
        caption: "Latency at each percentile of the measurement window (HdrHistogram percentile plot).".into(),
        panels: vec![Panel {
            title: format!("{}{}", p.point.id, repeat_suffix(p.point.repeat)),
            x: Axis::linear("percentile (log scale of nines)", nines_label).with_range(0.0, 5.0),
            y: Axis::log("latency (ms, log scale)", fmt_plain),
            lines,
        }],
        cols: 1,
        panel_size: (760, 440),
    })
}

pub fn repeat_suffix(repeat: u32) -> String {
    if repeat > 0 {
        format!(" (repeat {repeat})")
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn nines() {
        assert_eq!(super::nines_label(0.0), "0%");
        assert_eq!(super::nines_label(1.0), "90%");
        assert_eq!(super::nines_label(3.0), "99.9%");
        assert_eq!(super::nines_label(5.0), "99.999%");
        assert_eq!(super::nines_label(2.5), "");
    }
}
