//! Plausibility warnings, computed from the numbers (never hand-written):
//!
//! - a broker faster than the harness's own ceiling: the loopback adapter
//!   measured on the same host (same hostname) at the same payload size;
//! - bytes per second beyond what one host can carry ([`HOST_BYTES_PER_S`]);
//! - latency that sits on one value across every rate (a clock's
//!   resolution or a batching artefact, not the broker);
//! - messages lost or duplicated, and failed points.
//!
//! The same checks run over the published figures when they are drawn, so
//! the published anomalies are flagged by the code that flags ours.

use super::data::{delivered_msgs_per_s, mean_by_x, rate_mb_per_s, variant_of, Dataset};
use super::plot::{fmt_bytes, fmt_count};
use super::published::{Row, Table};
use crate::results::Status;
use std::collections::BTreeMap;

/// Most bytes per second one host can move through a broker: 10 GB/s.
///
/// Why this bound: a broker on one machine must at least copy every
/// message in from its producers and out to its consumers. Loopback TCP
/// between processes on a laptop or a small server runs at single-digit
/// GB/s per connection, memory copy bandwidth is a few tens of GB/s shared
/// by every copy, and one fast NVMe SSD writes at most ~7 GB/s. 10 GB/s is
/// generous on all three, so a figure above it is not a measurement of a
/// broker on one host. A loopback run on the same host gives a tighter,
/// measured bound (the first check).
pub const HOST_BYTES_PER_S: f64 = 10e9;

/// A result above the loopback ceiling by more than this fraction is
/// flagged (the margin absorbs run-to-run noise).
pub const CEILING_MARGIN: f64 = 0.05;

/// Relative spread (max - min over the median) under which latencies
/// across rates count as "one value".
pub const FLAT_SPREAD: f64 = 0.02;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    AboveLoopback,
    BeyondHost,
    FlatLatency,
    LostOrDuplicated,
    Failed,
}

impl Kind {
    pub fn title(&self) -> &'static str {
        match self {
            Kind::AboveLoopback => "above the loopback ceiling",
            Kind::BeyondHost => "beyond what one host carries",
            Kind::FlatLatency => "latency on one value at every rate",
            Kind::LostOrDuplicated => "lost or duplicated messages",
            Kind::Failed => "failed point",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Warning {
    pub kind: Kind,
    /// Point id or `published <broker> ...`.
    pub subject: String,
    pub message: String,
}

/// Loopback ceiling (msg/s) by (hostname, payload).
fn ceilings(ds: &Dataset) -> BTreeMap<(String, u64), f64> {
    let mut c: BTreeMap<(String, u64), f64> = BTreeMap::new();
    for p in ds.ok().filter(|p| p.point.adapter == "loopback" && p.point.params.rate.is_max()) {
        let host = ds.inputs[p.input].results.run.host.hostname.clone();
        let v = delivered_msgs_per_s(p.point).max(p.point.throughput.publish_msgs_per_s);
        let e = c.entry((host, p.point.params.payload_bytes)).or_insert(0.0);
        *e = e.max(v);
    }
    c
}

/// Why a flat series is flat, when the values say so.
fn flat_hint(values_ms: &[f64]) -> &'static str {
    let whole_ms = values_ms.iter().all(|v| (v - v.round()).abs() < 1e-9);
    let mean = values_ms.iter().sum::<f64>() / values_ms.len() as f64;
    if (400.0..=600.0).contains(&mean) {
        " About half a second at every rate is what a timestamp in whole seconds gives: a uniform \
         error of 0 to 1 s averages 500 ms."
    } else if whole_ms && mean <= 1.5 {
        " Exactly 1 ms at every rate is a millisecond clock's floor: deliveries faster than 1 ms \
         cannot read lower (and 0 ms samples are dropped)."
    } else if whole_ms {
        " Whole milliseconds: the clock's resolution hides the broker's behaviour."
    } else {
        " A broker under more load should queue more; an unchanging value suggests a timer or batching artefact."
    }
}

fn flat(values: &[(f64, f64)]) -> bool {
    if values.len() < 3 {
        return false;
    }
    let (lo_x, hi_x) = (values.first().unwrap().0, values.last().unwrap().0);
    let mut ys: Vec<f64> = values.iter().map(|v| v.1).collect();
    ys.sort_by(f64::total_cmp);
    let median = ys[ys.len() / 2];
    hi_x >= 3.0 * lo_x && median > 0.0 && (ys[ys.len() - 1] - ys[0]) <= FLAT_SPREAD * median
}

pub fn check(ds: &Dataset, published: &[Row]) -> Vec<Warning> {
    let mut out = Vec::new();
    let ceil = ceilings(ds);
    for p in &ds.points {
        let pt = p.point;
        let subject = format!("{}{}", pt.id, super::percentile::repeat_suffix(pt.repeat));
        if pt.status == Status::Failed {
            out.push(Warning {
                kind: Kind::Failed,
                subject: subject.clone(),
                message: format!("the point failed: {}", pt.error.as_deref().unwrap_or("no error recorded")),
            });
            continue;
        }
        let host = &ds.inputs[p.input].results.run.host.hostname;
        if pt.adapter != "loopback" {
            if let Some(c) = ceil.get(&(host.clone(), pt.params.payload_bytes)) {
                let v = delivered_msgs_per_s(pt).max(pt.throughput.publish_msgs_per_s);
                if v > c * (1.0 + CEILING_MARGIN) {
                    out.push(Warning {
                        kind: Kind::AboveLoopback,
                        subject: subject.clone(),
                        message: format!(
                            "{} msg/s is above the loopback ceiling of {} msg/s measured on the same host ({host}) at \
                             {}: the harness cannot move messages faster than that without a broker, so this figure \
                             is not a measurement",
                            fmt_count(v),
                            fmt_count(*c),
                            fmt_bytes(pt.params.payload_bytes as f64)
                        ),
                    });
                }
            }
        }
        let bytes = pt.throughput.publish_bytes_per_s.max(pt.throughput.consume_bytes_per_s);
        if bytes > HOST_BYTES_PER_S {
            out.push(Warning {
                kind: Kind::BeyondHost,
                subject: subject.clone(),
                message: format!(
                    "{:.1} GB/s is beyond the {:.0} GB/s one host can carry",
                    bytes / 1e9,
                    HOST_BYTES_PER_S / 1e9
                ),
            });
        }
        let c = &pt.counts;
        if c.lost > 0 || c.duplicated > 0 {
            out.push(Warning {
                kind: Kind::LostOrDuplicated,
                subject: subject.clone(),
                message: format!("{} lost and {} duplicated of {} acknowledged", c.lost, c.duplicated, c.acked),
            });
        }
    }
    // Flat latency: one (input, variant, payload) across fixed rates.
    let mut groups: BTreeMap<(usize, String, u64), Vec<(f64, f64)>> = BTreeMap::new();
    for p in ds.ok() {
        if let Some(r) = rate_mb_per_s(p.point) {
            let key = (p.input, variant_of(&p.point.id), p.point.params.payload_bytes);
            groups.entry(key).or_default().push((r, p.point.latency_us.end_to_end.p50 as f64 / 1000.0));
        }
    }
    for ((_, variant, size), values) in groups {
        let v = mean_by_x(values);
        if flat(&v) {
            let ys: Vec<f64> = v.iter().map(|x| x.1).collect();
            out.push(Warning {
                kind: Kind::FlatLatency,
                subject: format!("{variant} at {}", fmt_bytes(size as f64)),
                message: format!(
                    "end-to-end p50 stays at {:.3} ms from {} to {} MB/s.{}",
                    ys[0],
                    v[0].0,
                    v[v.len() - 1].0,
                    flat_hint(&ys)
                ),
            });
        }
    }
    // The published figures, by the same rules.
    let mut brokers: Vec<&str> = Vec::new();
    for r in published {
        if !brokers.contains(&r.broker.as_str()) {
            brokers.push(&r.broker);
        }
    }
    for b in brokers {
        for r in published.iter().filter(|r| r.broker == b && r.table == Table::Throughput) {
            let subject = format!("published {b} at {}", fmt_bytes(r.x));
            if r.bytes_per_s() > HOST_BYTES_PER_S {
                out.push(Warning {
                    kind: Kind::BeyondHost,
                    subject: subject.clone(),
                    message: format!(
                        "{} msg/s x {} = {:.1} GB/s, beyond the {:.0} GB/s one host can carry; the published \
                         figure was measured on one laptop",
                        fmt_count(r.value),
                        fmt_bytes(r.x),
                        r.bytes_per_s() / 1e9,
                        HOST_BYTES_PER_S / 1e9
                    ),
                });
            }
            for ((host, size), c) in &ceil {
                if *size as f64 == r.x && r.value > c * (1.0 + CEILING_MARGIN) {
                    out.push(Warning {
                        kind: Kind::AboveLoopback,
                        subject: subject.clone(),
                        message: format!(
                            "{} msg/s is above the loopback ceiling of {} msg/s that mqbench measured on {host} \
                             (a different machine from the published one, so a comparison, not a proof)",
                            fmt_count(r.value),
                            fmt_count(*c)
                        ),
                    });
                }
            }
        }
        let lat: Vec<(f64, f64)> =
            published.iter().filter(|r| r.broker == b && r.table == Table::Latency).map(|r| (r.x, r.value)).collect();
        let lat = mean_by_x(lat);
        if flat(&lat) {
            let ys: Vec<f64> = lat.iter().map(|x| x.1).collect();
            out.push(Warning {
                kind: Kind::FlatLatency,
                subject: format!("published {b} latency"),
                message: format!(
                    "{} ms at every rate from {} to {} MB/s.{}",
                    ys.iter().map(|v| format!("{v}")).collect::<Vec<_>>().join(", "),
                    lat[0].0,
                    lat[lat.len() - 1].0,
                    flat_hint(&ys)
                ),
            });
        }
    }
    out.sort_by_key(|w| w.kind);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_anomalies_are_found() {
        let rows = super::super::published::seed();
        let ds = Dataset::new(&[]);
        let w = check(&ds, &rows);
        let beyond: Vec<_> = w.iter().filter(|w| w.kind == Kind::BeyondHost).map(|w| w.subject.as_str()).collect();
        assert_eq!(beyond, vec!["published kafka at 50 KB", "published kafka at 100 KB"]);
        let flat: Vec<_> = w.iter().filter(|w| w.kind == Kind::FlatLatency).map(|w| w.subject.as_str()).collect();
        assert_eq!(flat, vec!["published rabbitmq latency", "published redis latency"]);
        assert!(w.iter().any(|w| w.message.contains("half a second")));
        assert!(w.iter().any(|w| w.message.contains("1 ms")));
    }

    #[test]
    fn rising_latency_is_not_flat() {
        assert!(!flat(&[(1.0, 4.0), (3.0, 4.0), (15.0, 5.0)]));
        assert!(flat(&[(1.0, 507.0), (3.0, 501.0), (6.0, 500.0), (15.0, 500.0)]));
        assert!(!flat(&[(1.0, 1.0), (2.0, 1.0), (2.5, 1.0)]), "a narrow rate range proves nothing");
    }
}
