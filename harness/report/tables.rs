//! The tables of a report as plain rows of text, shared by the HTML and
//! Markdown writers so both show the same numbers the same way.

use super::data::{delivered_msgs_per_s, rate_mb_per_s, Dataset};
use super::percentile::repeat_suffix;
use super::plot::{fmt_bytes, fmt_plain};
use super::published::{counterpart, Row, Table as PubTable};
use crate::results::Status;

pub struct Table {
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// Microseconds as milliseconds with three decimals (the tables keep the
/// µs resolution the histograms have).
pub fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

pub fn num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Every point of every input, in the order they ran. The point id
/// carries broker, payload, rate and any other swept knob; the shape
/// column gives topics, producers, subscriptions and consumers of every
/// point, the security column its TLS/SASL profile (`sasl_ssl-plain`); the broker software is in the summary. Columns come in groups
/// (point, throughput, end-to-end latency, publish latency, counts) that
/// the HTML writer draws apart, so the table fits a laptop's width.
pub fn points(ds: &Dataset) -> Table {
    let headers = vec![
        "point",
        "status",
        "[topics x] prod/sub/cons",
        "security",
        "published msg/s",
        "delivered msg/s",
        "MB/s",
        "e2e p50 ms",
        "e2e p99 ms",
        "e2e p99.9 ms",
        "e2e max ms",
        "publish p99 ms",
        "sent",
        "acked",
        "received",
        "lost",
        "dup",
        "out of order",
    ];
    let rows = ds
        .points
        .iter()
        .map(|p| {
            let pt = p.point;
            let (e, pr) = (&pt.latency_us.end_to_end, &pt.params);
            let mut id = format!("{}{}", pt.id, repeat_suffix(pt.repeat));
            if ds.inputs.len() > 1 {
                id = format!("{id} [{}]", ds.inputs[p.input].results.run.id);
            }
            vec![
                id,
                match pt.status {
                    Status::Ok => "ok".into(),
                    Status::Failed => format!("failed: {}", pt.error.as_deref().unwrap_or("")),
                },
                match pr.topics {
                    1 => format!("{}/{}/{}", pr.producers, pr.subscriptions, pr.consumers),
                    t => format!("{t} x {}/{}/{}", pr.producers, pr.subscriptions, pr.consumers),
                },
                // The profile (protocol and mechanism), never a secret.
                crate::scenario::security::label_of(pr.security.as_ref()),
                num(pt.throughput.publish_msgs_per_s),
                num(delivered_msgs_per_s(pt)),
                num(delivered_msgs_per_s(pt) * pr.payload_bytes as f64 / 1e6),
                ms(e.p50),
                ms(e.p99),
                ms(e.p999),
                ms(e.max),
                ms(pt.latency_us.publish.p99),
                pt.counts.sent.to_string(),
                pt.counts.acked.to_string(),
                pt.counts.received.to_string(),
                pt.counts.lost.to_string(),
                pt.counts.duplicated.to_string(),
                pt.counts.out_of_order.to_string(),
            ]
        })
        .collect();
    Table { headers, rows }
}

/// Column groups of [`points`]: (name, number of columns).
pub const POINT_GROUPS: [(&str, usize); 5] =
    [("", 4), ("throughput", 3), ("end-to-end latency", 4), ("publish", 1), ("messages", 6)];

/// Measured beside published, row by published row: the measured value is
/// the mean over repeats of the counterpart broker's matching points (same
/// payload unthrottled; same rate for latency), empty when not measured.
pub fn measured_vs_published(ds: &Dataset, published: &[Row]) -> Table {
    let headers = vec!["table", "broker", "at", "published", "measured", "measured by", "measured / published"];
    let mut rows = Vec::new();
    for r in published {
        let mine: Vec<_> = ds.ok().filter(|p| counterpart(p.point) == Some(r.broker.as_str())).collect();
        let (at, pubv, values, by): (String, String, Vec<f64>, Vec<String>) = match r.table {
            PubTable::Throughput => {
                let m: Vec<_> = mine
                    .iter()
                    .filter(|p| p.point.params.rate.is_max() && p.point.params.payload_bytes as f64 == r.x)
                    .collect();
                (
                    fmt_bytes(r.x),
                    format!("{} msg/s", num(r.value)),
                    m.iter().map(|p| delivered_msgs_per_s(p.point)).collect(),
                    m.iter().map(|p| ds.label(p)).collect(),
                )
            }
            PubTable::Latency => {
                let m: Vec<_> =
                    mine.iter().filter(|p| rate_mb_per_s(p.point).is_some_and(|x| (x - r.x).abs() < 1e-9)).collect();
                (
                    format!("{} MB/s", fmt_plain(r.x)),
                    format!("{} ms", fmt_plain(r.value)),
                    m.iter().map(|p| p.point.latency_us.end_to_end.p50 as f64 / 1000.0).collect(),
                    m.iter().map(|p| format!("{} (e2e p50)", ds.label(p))).collect(),
                )
            }
        };
        let mean = (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
        let mut by = by;
        by.dedup();
        rows.push(vec![
            match r.table {
                PubTable::Throughput => "throughput".into(),
                PubTable::Latency => "latency".into(),
            },
            r.broker.clone(),
            at,
            pubv,
            match (mean, r.table) {
                (None, _) => "not measured".into(),
                (Some(v), PubTable::Throughput) => format!("{} msg/s", num(v)),
                (Some(v), PubTable::Latency) => format!("{v:.3} ms"),
            },
            by.join(", "),
            mean.map(|v| format!("{:.3}", v / r.value)).unwrap_or_default(),
        ]);
    }
    Table { headers, rows }
}

/// One row per input: what was measured where.
pub fn runs(ds: &Dataset) -> Table {
    let headers = vec!["run", "scenario", "started", "finished", "points", "failed", "git", "mqbench", "shard"];
    let rows = ds
        .inputs
        .iter()
        .map(|i| {
            let r = &i.results;
            vec![
                r.run.id.clone(),
                r.run.scenario.clone(),
                r.run.started_at.clone(),
                r.run.finished_at.clone().unwrap_or_else(|| "unfinished".into()),
                r.points.len().to_string(),
                r.points.iter().filter(|p| p.status == Status::Failed).count().to_string(),
                r.run.git_revision.clone(),
                r.run.mqbench_version.clone(),
                r.run.shard.map(|s| format!("{}/{}", s.index, s.count)).unwrap_or_default(),
            ]
        })
        .collect();
    Table { headers, rows }
}

/// Host, clients and command line of each input.
pub fn environment(ds: &Dataset) -> Table {
    let headers = vec!["run", "host", "OS", "kernel", "CPU", "cores", "memory", "clients", "command"];
    let rows = ds
        .inputs
        .iter()
        .map(|i| {
            let r = &i.results.run;
            vec![
                r.id.clone(),
                r.host.hostname.clone(),
                r.host.os.clone(),
                r.host.kernel.clone(),
                r.host.cpu_model.clone(),
                r.host.cpus.to_string(),
                format!("{:.1} GiB", r.host.memory_bytes as f64 / (1u64 << 30) as f64),
                r.clients.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("; "),
                r.command.join(" "),
            ]
        })
        .collect();
    Table { headers, rows }
}
