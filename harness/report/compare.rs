//! `mqbench compare`: the nightly regression gate. Points are matched by
//! id; each metric's change is judged against a threshold and, where a
//! scenario repeats its points, against the spread between repeats: a
//! change is a regression only when it exceeds both, so a noisy metric
//! needs a bigger change to fail the gate than a steady one.
//!
//! Pure: takes two results files, returns a comparison; the CLI prints it.

use super::data::delivered_msgs_per_s;
use crate::results::{PointResult, ResultsFile, Status};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Exit code of `compare` when a regression is found.
pub const EXIT_REGRESSION: i32 = 3;
/// Exit code of `compare` when it could not compare: an unreadable or
/// invalid results file, a bad `--threshold` (every `Error:` of mqbench
/// exits 1). A malformed command line (unknown option, missing argument)
/// is clap's usage error, 2, as for every command.
pub const EXIT_BAD_INPUT: i32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    /// Delivered msg/s per subscription (higher is better).
    Throughput,
    /// End-to-end latency percentiles (lower is better).
    P50,
    P99,
    P999,
}

impl Metric {
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Throughput => "throughput",
            Metric::P50 => "p50",
            Metric::P99 => "p99",
            Metric::P999 => "p99.9",
        }
    }
    fn unit(&self) -> &'static str {
        match self {
            Metric::Throughput => "msg/s",
            _ => "ms",
        }
    }
    fn value(&self, p: &PointResult) -> f64 {
        let e = &p.latency_us.end_to_end;
        match self {
            Metric::Throughput => delivered_msgs_per_s(p),
            Metric::P50 => e.p50 as f64 / 1000.0,
            Metric::P99 => e.p99 as f64 / 1000.0,
            Metric::P999 => e.p999 as f64 / 1000.0,
        }
    }
    fn higher_is_better(&self) -> bool {
        matches!(self, Metric::Throughput)
    }
}

/// Allowed relative change per metric before it counts (`0.05` = 5 %).
#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds(pub BTreeMap<Metric, f64>);

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds([(Metric::Throughput, 0.05), (Metric::P99, 0.10)].into_iter().collect())
    }
}

impl std::str::FromStr for Thresholds {
    type Err = String;

    /// `throughput=5%,p99=10%`; metrics not named are not judged.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut m = BTreeMap::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("threshold `{part}` is not METRIC=PERCENT (e.g. throughput=5%)"))?;
            let metric = match k.trim() {
                "throughput" => Metric::Throughput,
                "p50" => Metric::P50,
                "p99" => Metric::P99,
                "p99.9" | "p999" => Metric::P999,
                other => {
                    return Err(format!("unknown metric `{other}` in --threshold (use throughput, p50, p99, p99.9)"))
                }
            };
            let v = v.trim();
            let frac = match v.strip_suffix('%') {
                Some(p) => p.trim().parse::<f64>().map(|x| x / 100.0),
                None => v.parse::<f64>(),
            }
            .map_err(|_| format!("threshold `{part}`: `{v}` is not a percentage (e.g. 5%)"))?;
            if !(0.0..10.0).contains(&frac) {
                return Err(format!("threshold `{part}` must be between 0% and 1000%"));
            }
            m.insert(metric, frac);
        }
        if m.is_empty() {
            return Err("--threshold names no metric".into());
        }
        Ok(Thresholds(m))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Improved,
    /// Beyond the threshold but within the spread between repeats.
    Noise,
    Regression,
    /// Ok in the baseline, failed now.
    NowFails,
    /// Failed in the baseline, ok now.
    Recovered,
    /// Failed in both.
    StillFails,
    /// In the baseline, not in the current results.
    Missing,
    /// In the current results only.
    New,
}

impl Verdict {
    pub fn text(&self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Improved => "improved",
            Verdict::Noise => "within noise",
            Verdict::Regression => "REGRESSION",
            Verdict::NowFails => "REGRESSION (now fails)",
            Verdict::Recovered => "recovered",
            Verdict::StillFails => "still fails",
            Verdict::Missing => "missing",
            Verdict::New => "new",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Row {
    pub id: String,
    /// `None` for whole-point verdicts (missing, new, failed).
    pub metric: Option<Metric>,
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    /// Relative change of the means, (current - baseline) / baseline.
    pub change: Option<f64>,
    /// Largest relative spread (max - min over mean) of either side's repeats.
    pub spread: f64,
    pub repeats: (usize, usize),
    pub verdict: Verdict,
}

#[derive(Clone, Debug)]
pub struct Comparison {
    pub rows: Vec<Row>,
    /// (id, baseline software, current software) where they differ.
    pub software: Vec<(String, String, String)>,
    pub thresholds: Thresholds,
    pub allow_missing: bool,
}

impl Comparison {
    pub fn regressions(&self) -> usize {
        self.rows.iter().filter(|r| matches!(r.verdict, Verdict::Regression | Verdict::NowFails)).count()
    }
    pub fn missing(&self) -> usize {
        self.rows.iter().filter(|r| r.verdict == Verdict::Missing).count()
    }
    /// True when the gate fails: a regression, or a missing point unless
    /// allowed (a point that did not run cannot be shown not to regress).
    pub fn failed(&self) -> bool {
        self.regressions() > 0 || (!self.allow_missing && self.missing() > 0)
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn spread(v: &[f64]) -> f64 {
    let m = mean(v);
    if v.len() < 2 || m == 0.0 {
        return 0.0;
    }
    let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| (l.min(*x), h.max(*x)));
    (hi - lo) / m
}

fn by_id(r: &ResultsFile) -> BTreeMap<&str, Vec<&PointResult>> {
    let mut m: BTreeMap<&str, Vec<&PointResult>> = BTreeMap::new();
    // A searched rate's probes run at whatever rates each search chose:
    // its confirmation run (the point's id, at the capacity found) is
    // what compares.
    for p in r.points.iter().filter(|p| p.probe.is_none()) {
        m.entry(p.id.as_str()).or_default().push(p);
    }
    m
}

fn whole(id: &str, verdict: Verdict, repeats: (usize, usize)) -> Row {
    Row { id: id.into(), metric: None, baseline: None, current: None, change: None, spread: 0.0, repeats, verdict }
}

/// Compares `current` with `baseline`.
pub fn compare(
    baseline: &ResultsFile,
    current: &ResultsFile,
    thresholds: &Thresholds,
    allow_missing: bool,
) -> Comparison {
    let (b, c) = (by_id(baseline), by_id(current));
    let ids: BTreeSet<&str> = b.keys().chain(c.keys()).copied().collect();
    let mut rows = Vec::new();
    let mut software = Vec::new();
    for id in ids {
        let (bp, cp) = (b.get(id).cloned().unwrap_or_default(), c.get(id).cloned().unwrap_or_default());
        let n = (bp.len(), cp.len());
        if cp.is_empty() {
            rows.push(whole(id, Verdict::Missing, n));
            continue;
        }
        if bp.is_empty() {
            rows.push(whole(id, Verdict::New, n));
            continue;
        }
        let bs: BTreeSet<&str> = bp.iter().map(|p| p.broker_software.as_str()).collect();
        let cs: BTreeSet<&str> = cp.iter().map(|p| p.broker_software.as_str()).collect();
        if bs != cs {
            let join = |s: BTreeSet<&str>| s.into_iter().collect::<Vec<_>>().join(", ");
            software.push((id.to_string(), join(bs), join(cs)));
        }
        let bok: Vec<_> = bp.iter().filter(|p| p.status == Status::Ok).collect();
        let cok: Vec<_> = cp.iter().filter(|p| p.status == Status::Ok).collect();
        match (bok.is_empty(), cok.is_empty() || cok.len() < cp.len()) {
            (true, true) => {
                rows.push(whole(id, Verdict::StillFails, n));
                continue;
            }
            (false, true) => {
                rows.push(whole(id, Verdict::NowFails, n));
                continue;
            }
            (true, false) => {
                rows.push(whole(id, Verdict::Recovered, n));
                continue;
            }
            (false, false) => {}
        }
        // An unthrottled point's latency is the time messages wait in the
        // in-flight window its producers keep full: it follows throughput,
        // which is judged, and on a shared host it swings by half or more
        // between unchanged runs (docs/nightly.md), so it is not judged.
        let unthrottled = bok[0].params.rate.is_max();
        for (&metric, &limit) in &thresholds.0 {
            if unthrottled && metric != Metric::Throughput {
                continue;
            }
            let bv: Vec<f64> = bok.iter().map(|p| metric.value(p)).collect();
            let cv: Vec<f64> = cok.iter().map(|p| metric.value(p)).collect();
            let (bm, cm) = (mean(&bv), mean(&cv));
            let change = if bm != 0.0 {
                (cm - bm) / bm
            } else if cm == 0.0 {
                0.0
            } else {
                f64::INFINITY
            };
            let noise = spread(&bv).max(spread(&cv));
            let worse = if metric.higher_is_better() { -change } else { change };
            let verdict = if worse.abs() <= limit {
                Verdict::Ok
            } else if worse.abs() <= noise {
                Verdict::Noise
            } else if worse > 0.0 {
                Verdict::Regression
            } else {
                Verdict::Improved
            };
            rows.push(Row {
                id: id.into(),
                metric: Some(metric),
                baseline: Some(bm),
                current: Some(cm),
                change: Some(change),
                spread: noise,
                repeats: (bok.len(), cok.len()),
                verdict,
            });
        }
    }
    Comparison { rows, software, thresholds: thresholds.clone(), allow_missing }
}

fn value(v: Option<f64>, m: Option<Metric>) -> String {
    match (v, m) {
        (Some(v), Some(Metric::Throughput)) => format!("{v:.0}"),
        (Some(v), Some(_)) => format!("{v:.3}"),
        _ => "-".into(),
    }
}

fn cells(r: &Row) -> [String; 8] {
    [
        r.id.clone(),
        r.metric.map(|m| format!("{} ({})", m.name(), m.unit())).unwrap_or_else(|| "point".into()),
        value(r.baseline, r.metric),
        value(r.current, r.metric),
        r.change.map(|c| format!("{:+.1}%", c * 100.0)).unwrap_or_else(|| "-".into()),
        if r.repeats.0 > 1 || r.repeats.1 > 1 { format!("{:.1}%", r.spread * 100.0) } else { "-".into() },
        format!("{}/{}", r.repeats.0, r.repeats.1),
        r.verdict.text().into(),
    ]
}

const HEADERS: [&str; 8] = ["point", "metric", "baseline", "current", "change", "spread", "repeats", "verdict"];

fn summary(c: &Comparison) -> String {
    let t: Vec<String> = c.thresholds.0.iter().map(|(m, v)| format!("{}={:.1}%", m.name(), v * 100.0)).collect();
    format!(
        "{} regression(s), {} missing point(s){}, {} new; thresholds {}; a change is a regression only beyond both \
         the threshold and the spread between repeats; unthrottled points are judged on throughput only",
        c.regressions(),
        c.missing(),
        if c.allow_missing && c.missing() > 0 { " (allowed)" } else { "" },
        c.rows.iter().filter(|r| r.verdict == Verdict::New).count(),
        t.join(", ")
    )
}

/// A plain-text table for the terminal.
pub fn to_text(c: &Comparison) -> String {
    let rows: Vec<[String; 8]> = c.rows.iter().map(cells).collect();
    let mut w = HEADERS.map(|h| h.len());
    for r in &rows {
        for (i, s) in r.iter().enumerate() {
            w[i] = w[i].max(s.chars().count());
        }
    }
    let mut o = String::new();
    let line = |o: &mut String, r: &[String]| {
        let parts: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, s)| if i < 2 || i == 7 { format!("{s:<0$}", w[i]) } else { format!("{s:>0$}", w[i]) })
            .collect();
        let _ = writeln!(o, "{}", parts.join("  ").trim_end());
    };
    line(&mut o, &HEADERS.map(String::from));
    for r in &rows {
        line(&mut o, r);
    }
    for (id, b, cur) in &c.software {
        let _ = writeln!(o, "broker software changed for {id}: {b} -> {cur}");
    }
    let _ = writeln!(o, "{}", summary(c));
    o
}

/// The same as Markdown, for a CI job summary.
pub fn to_markdown(c: &Comparison) -> String {
    let mut o = String::from("## mqbench compare\n\n");
    let _ = writeln!(o, "**{}**: {}\n", if c.failed() { "FAILED" } else { "passed" }, summary(c));
    let _ = writeln!(o, "| {} |", HEADERS.join(" | "));
    let _ = writeln!(o, "|---|---|---:|---:|---:|---:|---:|---|");
    for r in &c.rows {
        let _ = writeln!(o, "| {} |", cells(r).map(|s| s.replace('|', "\\|")).join(" | "));
    }
    if !c.software.is_empty() {
        o.push_str("\nBroker software changed:\n\n");
        for (id, b, cur) in &c.software {
            let _ = writeln!(o, "- `{id}`: {b} -> {cur}");
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_and_reject() {
        let t: Thresholds = "throughput=5%,p99=10%".parse().unwrap();
        assert_eq!(t.0[&Metric::Throughput], 0.05);
        assert_eq!(t.0[&Metric::P99], 0.10);
        assert!("latency=5%".parse::<Thresholds>().unwrap_err().contains("unknown metric"));
        assert!("p99=ten".parse::<Thresholds>().unwrap_err().contains("not a percentage"));
    }

    #[test]
    fn spread_is_relative_range() {
        assert_eq!(spread(&[100.0]), 0.0);
        assert!((spread(&[90.0, 110.0]) - 0.2).abs() < 1e-12);
    }
}
