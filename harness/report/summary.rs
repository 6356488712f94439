//! The answer first: one row per broker and payload size, with the
//! unthrottled throughput, the latency at each fixed rate, what was lost,
//! and a verdict (failed points, plausibility warnings and the run's own
//! warnings). Rows are grouped by payload so brokers compare at a glance;
//! the best figure of each payload is marked, among the brokers: the
//! loopback adapter is the harness's ceiling, a reference, not a choice.

use super::data::{delivered_msgs_per_s, Dataset, Pt};
use super::plausibility::Warning;
use super::plot::fmt_bytes;
use super::tables::{ms, num};
use crate::results::Status;

/// One broker at one payload size.
pub struct Row {
    /// Line label (broker and the knobs other than payload and rate).
    pub broker: String,
    pub software: String,
    /// The loopback adapter: the harness's own ceiling, shown for
    /// reference and never marked best (no one deploys it).
    pub reference: bool,
    pub payload_bytes: u64,
    /// Unthrottled delivered msg/s, mean over repeats; `None` when no
    /// unthrottled point of this row succeeded.
    pub max_msgs_per_s: Option<f64>,
    /// End-to-end (p50, p99) in µs at each of [`Summary::rates`], mean
    /// over repeats.
    pub latency_us: Vec<Option<(u64, u64)>>,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub points: usize,
    pub failed: usize,
    /// Failures, plausibility warnings and run warnings, one line each.
    pub notes: Vec<String>,
}

impl Row {
    /// `ok`, `N warnings` or `N of M failed`.
    pub fn verdict(&self) -> String {
        if self.failed > 0 {
            format!("{} of {} failed", self.failed, self.points)
        } else if !self.notes.is_empty() {
            format!("{} warning{}", self.notes.len(), if self.notes.len() == 1 { "" } else { "s" })
        } else {
            "ok".into()
        }
    }

    /// `none`, or the counts that are not zero.
    pub fn loss(&self) -> String {
        let parts: Vec<String> = [(self.lost, "lost"), (self.duplicated, "dup"), (self.out_of_order, "out of order")]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        }
    }
}

pub struct Summary {
    /// The fixed producer rates (their labels, as written in the scenario),
    /// in order of first appearance.
    pub rates: Vec<String>,
    /// Sorted by payload, then brokers in the order they ran.
    pub rows: Vec<Row>,
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

pub fn build(ds: &Dataset, warnings: &[Warning]) -> Summary {
    let mut rates: Vec<String> = Vec::new();
    for p in &ds.points {
        let pr = &p.point.params;
        if !pr.rate.is_max() && !rates.contains(&pr.rate_label) {
            rates.push(pr.rate_label.clone());
        }
    }
    let mut keys: Vec<(u64, usize, String)> = Vec::new();
    for p in &ds.points {
        let label = ds.label(p);
        if !keys.iter().any(|k| k.0 == p.point.params.payload_bytes && k.2 == label) {
            keys.push((p.point.params.payload_bytes, ds.colour(&label), label));
        }
    }
    keys.sort();
    let rows = keys
        .into_iter()
        .map(|(payload, _, broker)| {
            let mine: Vec<&Pt> =
                ds.points.iter().filter(|p| p.point.params.payload_bytes == payload && ds.label(p) == broker).collect();
            let ok = |p: &&&Pt| p.point.status == Status::Ok;
            let max: Vec<f64> = mine
                .iter()
                .filter(ok)
                .filter(|p| p.point.params.rate.is_max())
                .map(|p| delivered_msgs_per_s(p.point))
                .collect();
            let latency_us = rates
                .iter()
                .map(|r| {
                    let at: Vec<_> = mine.iter().filter(ok).filter(|p| &p.point.params.rate_label == r).collect();
                    let p50: Vec<f64> = at.iter().map(|p| p.point.latency_us.end_to_end.p50 as f64).collect();
                    let p99: Vec<f64> = at.iter().map(|p| p.point.latency_us.end_to_end.p99 as f64).collect();
                    Some((mean(&p50)?.round() as u64, mean(&p99)?.round() as u64))
                })
                .collect();
            let mut notes = Vec::new();
            for p in &mine {
                let pt = p.point;
                let at = format!("at {}", pt.params.rate_label);
                if pt.status == Status::Failed {
                    notes.push(format!("failed {at}: {}", pt.error.as_deref().unwrap_or("no error recorded")));
                }
                for w in warnings.iter().filter(|w| w.subject == pt.id && w.kind != super::plausibility::Kind::Failed) {
                    notes.push(format!("{} {at}: {}", w.kind.title(), w.message));
                }
                for w in &pt.warnings {
                    notes.push(format!("{at}: {w}"));
                }
            }
            notes.dedup();
            Row {
                software: mine.first().map(|p| p.point.broker_software.clone()).unwrap_or_default(),
                reference: mine.iter().all(|p| p.point.adapter == "loopback"),
                max_msgs_per_s: mean(&max),
                latency_us,
                lost: mine.iter().map(|p| p.point.counts.lost).sum(),
                duplicated: mine.iter().map(|p| p.point.counts.duplicated).sum(),
                out_of_order: mine.iter().map(|p| p.point.counts.out_of_order).sum(),
                points: mine.len(),
                failed: mine.iter().filter(|p| p.point.status == Status::Failed).count(),
                notes,
                broker,
                payload_bytes: payload,
            }
        })
        .collect();
    Summary { rates, rows }
}

impl Summary {
    /// The brokers (not the loopback reference) of the same payload as
    /// `row`.
    fn group(&self, row: usize) -> impl Iterator<Item = &Row> {
        let payload = self.rows[row].payload_bytes;
        self.rows.iter().filter(move |r| r.payload_bytes == payload && !r.reference)
    }

    /// The answer in words, per payload: which broker delivered the most
    /// unthrottled and which had the lowest p99 at each fixed rate.
    pub fn answers(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, row) in self.rows.iter().enumerate() {
            if i > 0 && self.rows[i - 1].payload_bytes == row.payload_bytes {
                continue;
            }
            let group: Vec<usize> = (i..self.rows.len())
                .take_while(|j| self.rows[*j].payload_bytes == row.payload_bytes)
                .filter(|j| !self.rows[*j].reference)
                .collect();
            let mut parts = Vec::new();
            if let Some(j) = group.iter().find(|j| self.best_throughput(**j)) {
                let r = &self.rows[*j];
                parts.push(format!("most msg/s: {} ({} msg/s)", r.broker, num(r.max_msgs_per_s.unwrap_or(0.0))));
            }
            for (k, rate) in self.rates.iter().enumerate() {
                if let Some(j) = group.iter().find(|j| self.best_p99(**j, k)) {
                    let r = &self.rows[*j];
                    let p99 = r.latency_us[k].map(|l| l.1).unwrap_or(0);
                    parts.push(format!("lowest p99 at {rate}: {} ({} ms)", r.broker, ms(p99)));
                }
            }
            if !parts.is_empty() {
                out.push(format!("{}: {}", fmt_bytes(row.payload_bytes as f64), parts.join("; ")));
            }
        }
        out
    }

    /// Whether `row` has its payload's highest unthrottled throughput
    /// (only marked when at least two brokers compete, and never for the
    /// loopback reference or a broker that delivered nothing).
    pub fn best_throughput(&self, row: usize) -> bool {
        if self.rows[row].reference {
            return false;
        }
        let Some(v) = self.rows[row].max_msgs_per_s.filter(|v| *v > 0.0) else { return false };
        let others: Vec<f64> = self.group(row).filter_map(|r| r.max_msgs_per_s).collect();
        others.len() > 1 && others.iter().all(|o| *o <= v)
    }

    /// Whether `row` has its payload's lowest p99 at rate `rate`.
    pub fn best_p99(&self, row: usize, rate: usize) -> bool {
        if self.rows[row].reference {
            return false;
        }
        let Some((_, v)) = self.rows[row].latency_us[rate] else { return false };
        let others: Vec<u64> = self.group(row).filter_map(|r| r.latency_us[rate].map(|l| l.1)).collect();
        others.len() > 1 && others.iter().all(|o| *o >= v)
    }

    /// Column headers of [`Summary::cells`].
    pub fn headers(&self) -> Vec<String> {
        let mut h = vec!["payload".to_string(), "broker".into(), "max msg/s".into(), "max MB/s".into()];
        for r in &self.rates {
            h.push(format!("p50 ms at {r}"));
            h.push(format!("p99 ms at {r}"));
        }
        h.extend(["loss".into(), "verdict".into()]);
        h
    }

    /// One row as text; a best figure carries a trailing ` *` in Markdown
    /// (`mark`) and is bolded by the HTML writer.
    pub fn cells(&self, i: usize) -> Vec<String> {
        let r = &self.rows[i];
        let mut c = vec![
            fmt_bytes(r.payload_bytes as f64),
            r.broker.clone(),
            r.max_msgs_per_s.map(num).unwrap_or_else(|| "-".into()),
            r.max_msgs_per_s.map(|m| num(m * r.payload_bytes as f64 / 1e6)).unwrap_or_else(|| "-".into()),
        ];
        for l in &r.latency_us {
            match l {
                Some((p50, p99)) => c.extend([ms(*p50), ms(*p99)]),
                None => c.extend(["-".into(), "-".into()]),
            }
        }
        c.extend([r.loss(), r.verdict()]);
        c
    }
}
