//! Searched rates in a report: per searched point, latency against offered
//! rate with every probe drawn (sustained and not) and the knee marked,
//! the hockey-stick curve the search walked; and a table broker x payload
//! -> capacity at the target, a range over repeats.

use super::data::{ms_for_log, Dataset, Pt};
use super::figure::Figure;
use super::plot::{fmt_plain, Axis, Line, LineKind, Panel};
use super::tables::Table;
use crate::results::PointResult;
use crate::scenario::search::{Metric, Percentile, SearchParam};

/// The probes of a searched point, in the order run.
pub fn probes_of<'a>(ds: &Dataset<'a>, p: &Pt<'a>) -> Vec<&'a PointResult> {
    ds.inputs[p.input]
        .results
        .points
        .iter()
        .filter(|q| q.repeat == p.point.repeat && q.probe.as_ref().is_some_and(|pr| pr.search == p.point.id))
        .collect()
}

/// Searched points (their confirmation runs, or failed records).
fn searched<'a, 'b>(ds: &'b Dataset<'a>) -> impl Iterator<Item = (usize, &'b Pt<'a>, SearchParam)> {
    ds.points.iter().enumerate().filter_map(|(i, p)| p.point.params.search.map(|s| (i, p, s)))
}

/// The latency a search judged by, in µs, and its name.
fn judged(p: &PointResult, s: &SearchParam) -> u64 {
    let (metric, pct) = s.target.map_or((Metric::EndToEnd, Percentile::P99), |t| (t.latency, t.percentile));
    let sum = match metric {
        Metric::EndToEnd => &p.latency_us.end_to_end,
        Metric::Publish => &p.latency_us.publish,
    };
    match pct {
        Percentile::P50 => sum.p50,
        Percentile::P99 => sum.p99,
        Percentile::P999 => sum.p999,
    }
}

fn judged_name(s: &SearchParam) -> String {
    match s.target {
        Some(t) => {
            format!("{} {}", if t.latency == Metric::Publish { "publish" } else { "end-to-end" }, t.percentile.label())
        }
        None => "end-to-end p99".into(),
    }
}

/// The offered rate of a run in msg/s: its fixed rate, or for the
/// unthrottled probe what it sent.
fn offered(p: &PointResult) -> f64 {
    p.params.rate.msgs_per_s().unwrap_or(p.throughput.send_msgs_per_s)
}

/// One figure per searched point that has probes.
pub fn figures(ds: &Dataset) -> Vec<Figure> {
    let mut out = Vec::new();
    for (i, p, s) in searched(ds) {
        let probes = probes_of(ds, p);
        if probes.is_empty() {
            continue;
        }
        let mut sustained = Vec::new();
        let mut not = Vec::new();
        let mut unthrottled = Vec::new();
        for q in &probes {
            let pt = (offered(q), ms_for_log(judged(q, &s)));
            match q.probe.as_ref() {
                Some(pr) if pr.index == 0 => unthrottled.push(pt),
                Some(pr) if pr.sustained => sustained.push(pt),
                _ => not.push(pt),
            }
        }
        let all: Vec<f64> = probes.iter().map(|q| ms_for_log(judged(q, &s))).collect();
        let (ymin, ymax) = all.iter().fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
        let mut lines = Vec::new();
        let by_rate = |mut v: Vec<(f64, f64)>| {
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            v
        };
        for (label, pts) in
            [("sustained probes", sustained), ("probes not sustained", not), ("unthrottled probe", unthrottled)]
        {
            if !pts.is_empty() {
                let colour = lines.len();
                lines.push(Line { label: label.into(), colour, kind: LineKind::Measured, points: by_rate(pts) });
            }
        }
        if let Some(c) = &p.point.capacity {
            let colour = lines.len();
            lines.push(Line {
                label: format!("knee: {:.0} msg/s ({})", c.msgs_per_s, c.limited_by.as_str()),
                colour,
                kind: LineKind::DashedCurve,
                points: vec![(c.msgs_per_s, ymin.min(1.0) * 0.5), (c.msgs_per_s, ymax.max(1.0) * 2.0)],
            });
        }
        if let Some(t) = s.target {
            let xs: Vec<f64> = probes.iter().map(|q| offered(q)).collect();
            let (xmin, xmax) = xs.iter().fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
            let colour = lines.len();
            lines.push(Line {
                label: format!("target {}", t.label()),
                colour,
                kind: LineKind::DashedCurve,
                points: vec![(xmin, t.us as f64 / 1000.0), (xmax, t.us as f64 / 1000.0)],
            });
        }
        let name = judged_name(&s);
        out.push(Figure {
            name: format!("point-{i}-capacity"),
            title: format!("{}: {name} against offered rate", p.point.id),
            caption: format!(
                "Each probe of the search at its offered rate (the unthrottled probe at what it sent); the dashed vertical line is the capacity found, the dashed horizontal one the target. {}",
                match &p.point.capacity {
                    Some(c) => format!("Capacity {:.0} msg/s, limited by {}.", c.msgs_per_s, c.limited_by.as_str()),
                    None => format!("No capacity: {}", p.point.error.as_deref().unwrap_or("the search did not finish")),
                }
            ),
            panels: vec![Panel {
                title: format!("{name} (ms, log scale)"),
                x: Axis::linear("offered rate (msg/s)", fmt_plain),
                y: Axis::log("latency (ms, log scale)", fmt_plain),
                lines,
            }],
            cols: 1,
            panel_size: (720, 420),
        });
    }
    out
}

/// Line label, payload bytes and target: one row of the capacity table.
type GroupKey = (String, u64, String);

/// Broker x payload -> capacity at the target: min to max over repeats.
pub fn table(ds: &Dataset) -> Option<Table> {
    let mut groups: Vec<(GroupKey, Vec<&PointResult>)> = Vec::new();
    for (_, p, s) in searched(ds) {
        let key = (
            ds.label(p),
            p.point.params.payload_bytes,
            s.target.map_or("none (schedule, backlog, loss)".into(), |t| t.label()),
        );
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(p.point),
            None => groups.push((key, vec![p.point])),
        }
    }
    if groups.is_empty() {
        return None;
    }
    let range = |v: &[f64], scale: f64, digits: usize| -> String {
        let (lo, hi) = v.iter().fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
        if v.is_empty() {
            "-".into()
        } else if (hi - lo).abs() < 1e-9 {
            format!("{:.digits$}", lo / scale)
        } else {
            format!("{:.digits$} to {:.digits$}", lo / scale, hi / scale)
        }
    };
    let rows = groups
        .into_iter()
        .map(|((broker, payload, target), points)| {
            let found: Vec<_> = points.iter().filter_map(|p| p.capacity.as_ref()).collect();
            let msgs: Vec<f64> = found.iter().map(|c| c.msgs_per_s).collect();
            let mb: Vec<f64> = found.iter().map(|c| c.bytes_per_s).collect();
            let mut limits: Vec<&str> = found.iter().map(|c| c.limited_by.as_str()).collect();
            limits.dedup();
            let failed = points.len() - found.len();
            let unconfirmed = found.iter().filter(|c| !c.confirmed).count();
            let mut notes = Vec::new();
            if failed > 0 {
                notes.push(format!("{failed} search(es) ended without an answer"));
            }
            if unconfirmed > 0 {
                notes.push(format!("{unconfirmed} confirmation run(s) not sustained"));
            }
            vec![
                broker,
                super::plot::fmt_bytes(payload as f64),
                target,
                range(&msgs, 1.0, 0),
                range(&mb, 1e6, 2),
                limits.join(", "),
                format!("{}", points.len()),
                notes.join("; "),
            ]
        })
        .collect();
    Some(Table {
        headers: vec![
            "broker",
            "payload",
            "target",
            "capacity msg/s",
            "capacity MB/s",
            "limited by",
            "searches",
            "notes",
        ],
        rows,
    })
}
