//! OMB's result file (one JSON object per workload and driver): read into
//! mqbench's results model, so `report` and `compare` take it beside
//! mqbench's own results, and written from mqbench results, so tools built
//! around OMB's files read mqbench runs.
//!
//! Units as OMB writes them: rates in msg/s per 10-second interval,
//! `publishLatency*` and `endToEndLatency*` in milliseconds,
//! `publishDelayLatency*` in microseconds; quantile maps are keyed by
//! percentile (`"99.0"`).
//!
//! Reading: OMB's publish latency (actual send to acknowledgement) is
//! mqbench's `service` latency and is stored there and as `publish`;
//! histograms are rebuilt from the quantile maps (a few hundred steps, so
//! charts draw them); what OMB does not record (losses, duplicates, the
//! target rate, the number of subscriptions) is said in the point's
//! warnings, never shown as measured.
//!
//! Writing: what OMB's format cannot hold is listed in the file's own
//! `mqbench` object (OMB's readers ignore keys they do not know), which
//! also lets this reader restore the point id.

use crate::measure::{LatencyHistogram, LatencySummary, SeriesPoint};
use crate::results::{
    Histograms, HostInfo, Latencies, PointResult, ResultsFile, RunInfo, Status, Throughput, SCHEMA_VERSION,
};
use crate::scenario::{Params, Provision, RateParam};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The `client` of every point read from an OMB result file.
pub const OMB_CLIENT: &str = "OpenMessaging Benchmark";

/// Whether a results value came from an OMB result file (measured by OMB).
pub fn measured_by_omb(r: &ResultsFile) -> bool {
    !r.points.is_empty() && r.points.iter().all(|p| p.client == OMB_CLIENT)
}

/// Reads mqbench results or an OMB result file, whichever `path` holds
/// (a run directory means its results.json).
pub fn read_any(path: &Path) -> anyhow::Result<ResultsFile> {
    let joined;
    let path = if path.is_dir() {
        joined = path.join("results.json");
        joined.as_path()
    } else {
        path
    };
    match std::fs::read_to_string(path) {
        Ok(text) if looks_like_result(&text) => read(path),
        _ => crate::results::read_results(path),
    }
}

/// OMB's interval between samples of its series.
pub const INTERVAL_S: f64 = 10.0;

/// OMB's `TestResult`, field for field.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct TestResult {
    pub workload: String,
    pub driver: String,
    pub message_size: u64,
    pub topics: u32,
    pub partitions: u32,
    pub producers_per_topic: u32,
    pub consumers_per_topic: u32,

    pub publish_rate: Vec<f64>,
    pub publish_error_rate: Vec<f64>,
    pub consume_rate: Vec<f64>,
    pub backlog: Vec<f64>,

    pub publish_latency_avg: Vec<f64>,
    #[serde(rename = "publishLatency50pct")]
    pub publish_latency_50pct: Vec<f64>,
    #[serde(rename = "publishLatency75pct")]
    pub publish_latency_75pct: Vec<f64>,
    #[serde(rename = "publishLatency95pct")]
    pub publish_latency_95pct: Vec<f64>,
    #[serde(rename = "publishLatency99pct")]
    pub publish_latency_99pct: Vec<f64>,
    #[serde(rename = "publishLatency999pct")]
    pub publish_latency_999pct: Vec<f64>,
    #[serde(rename = "publishLatency9999pct")]
    pub publish_latency_9999pct: Vec<f64>,
    pub publish_latency_max: Vec<f64>,

    pub end_to_end_latency_avg: Vec<f64>,
    #[serde(rename = "endToEndLatency50pct")]
    pub end_to_end_latency_50pct: Vec<f64>,
    #[serde(rename = "endToEndLatency75pct")]
    pub end_to_end_latency_75pct: Vec<f64>,
    #[serde(rename = "endToEndLatency95pct")]
    pub end_to_end_latency_95pct: Vec<f64>,
    #[serde(rename = "endToEndLatency99pct")]
    pub end_to_end_latency_99pct: Vec<f64>,
    #[serde(rename = "endToEndLatency999pct")]
    pub end_to_end_latency_999pct: Vec<f64>,
    #[serde(rename = "endToEndLatency9999pct")]
    pub end_to_end_latency_9999pct: Vec<f64>,
    pub end_to_end_latency_max: Vec<f64>,

    #[serde(flatten)]
    pub aggregated: Aggregates,

    pub aggregated_publish_latency_quantiles: BTreeMap<String, f64>,
    pub aggregated_publish_delay_latency_quantiles: BTreeMap<String, f64>,
    pub aggregated_end_to_end_latency_quantiles: BTreeMap<String, f64>,

    /// Written by mqbench's export only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mqbench: Option<ExportNotes>,
}

/// The aggregate scalars: publish and end to end in ms, publish delay in µs.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Aggregates {
    #[serde(rename = "aggregatedPublishLatencyAvg")]
    pub publish_avg: f64,
    #[serde(rename = "aggregatedPublishLatency50pct")]
    pub publish_50: f64,
    #[serde(rename = "aggregatedPublishLatency75pct")]
    pub publish_75: f64,
    #[serde(rename = "aggregatedPublishLatency95pct")]
    pub publish_95: f64,
    #[serde(rename = "aggregatedPublishLatency99pct")]
    pub publish_99: f64,
    #[serde(rename = "aggregatedPublishLatency999pct")]
    pub publish_999: f64,
    #[serde(rename = "aggregatedPublishLatency9999pct")]
    pub publish_9999: f64,
    #[serde(rename = "aggregatedPublishLatencyMax")]
    pub publish_max: f64,
    #[serde(rename = "aggregatedPublishDelayLatencyAvg")]
    pub delay_avg: f64,
    #[serde(rename = "aggregatedPublishDelayLatency50pct")]
    pub delay_50: f64,
    #[serde(rename = "aggregatedPublishDelayLatency75pct", skip_serializing_if = "Option::is_none")]
    pub delay_75: Option<f64>,
    #[serde(rename = "aggregatedPublishDelayLatency95pct", skip_serializing_if = "Option::is_none")]
    pub delay_95: Option<f64>,
    #[serde(rename = "aggregatedPublishDelayLatency99pct")]
    pub delay_99: f64,
    #[serde(rename = "aggregatedPublishDelayLatency999pct")]
    pub delay_999: f64,
    #[serde(rename = "aggregatedPublishDelayLatency9999pct")]
    pub delay_9999: f64,
    #[serde(rename = "aggregatedPublishDelayLatencyMax")]
    pub delay_max: f64,
    #[serde(rename = "aggregatedEndToEndLatencyAvg")]
    pub e2e_avg: f64,
    #[serde(rename = "aggregatedEndToEndLatency50pct")]
    pub e2e_50: f64,
    #[serde(rename = "aggregatedEndToEndLatency75pct")]
    pub e2e_75: f64,
    #[serde(rename = "aggregatedEndToEndLatency95pct")]
    pub e2e_95: f64,
    #[serde(rename = "aggregatedEndToEndLatency99pct")]
    pub e2e_99: f64,
    #[serde(rename = "aggregatedEndToEndLatency999pct")]
    pub e2e_999: f64,
    #[serde(rename = "aggregatedEndToEndLatency9999pct")]
    pub e2e_9999: f64,
    #[serde(rename = "aggregatedEndToEndLatencyMax")]
    pub e2e_max: f64,
}

/// What an exported file says about itself.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ExportNotes {
    pub point_id: String,
    pub run_id: String,
    pub subscriptions: u32,
    pub rate_label: String,
    pub notes: Vec<String>,
}

/// Whether a JSON text is an OMB result rather than mqbench results.
pub fn looks_like_result(text: &str) -> bool {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(m)) => {
            !m.contains_key("schema_version")
                && (m.contains_key("publishRate") || m.contains_key("aggregatedEndToEndLatencyAvg"))
        }
        _ => false,
    }
}

pub fn read(path: &Path) -> anyhow::Result<ResultsFile> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let r: TestResult =
        serde_json::from_str(&text).with_context(|| format!("{} is not an OMB result file", path.display()))?;
    Ok(to_results(path, &r))
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

fn us(ms: f64) -> u64 {
    (ms * 1000.0).round().max(0.0) as u64
}

/// A quantile map (percentile -> value) as (fraction, value), sorted.
fn quantiles(m: &BTreeMap<String, f64>) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = m.iter().filter_map(|(k, v)| k.parse::<f64>().ok().map(|p| (p / 100.0, *v))).collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

/// A histogram (µs) with the distribution a quantile map describes: each
/// step between two percentiles holds its share of a million samples at
/// the upper value. Charts only: the summaries come from OMB's own
/// aggregates.
fn histogram_from(q: &[(f64, f64)], scale_to_us: f64) -> String {
    if q.is_empty() {
        return String::new();
    }
    let mut h = LatencyHistogram::new();
    let mut prev = 0.0;
    for (f, v) in q {
        let n = ((f - prev) * 1e6).round() as u64;
        if n > 0 {
            let _ = h.0.record_n((v * scale_to_us).round().max(0.0) as u64, n);
        }
        prev = *f;
    }
    if h.count() == 0 {
        return String::new();
    }
    h.encode()
}

/// The value at fraction `f` of a quantile map (the first step at or above).
fn at(q: &[(f64, f64)], f: f64) -> Option<f64> {
    q.iter().find(|(p, _)| *p >= f - 1e-9).map(|(_, v)| *v)
}

/// Converts an OMB result into a one-point mqbench results file.
pub fn to_results(path: &Path, r: &TestResult) -> ResultsFile {
    let notes = r.mqbench.clone();
    let broker = super::driver::slug(if r.driver.is_empty() { "omb" } else { &r.driver });
    let publish = mean(&r.publish_rate);
    let consume = mean(&r.consume_rate);
    let subscriptions = match &notes {
        Some(n) => n.subscriptions,
        None if consume <= 0.0 => 0,
        None if publish > 0.0 => (consume / publish).round().max(1.0) as u32,
        None => 1,
    };
    let rate_label = match &notes {
        Some(n) if !n.rate_label.is_empty() => n.rate_label.clone(),
        _ => format!("{}msgps", publish.round() as u64),
    };
    let id = match &notes {
        Some(n) if !n.point_id.is_empty() => n.point_id.clone(),
        _ => format!("{broker} (measured by OMB)/payload={}/rate={rate_label}", r.message_size),
    };
    let seconds = INTERVAL_S * r.publish_rate.len() as f64;
    let sent = (r.publish_rate.iter().sum::<f64>() * INTERVAL_S).round() as u64;
    let received = (r.consume_rate.iter().sum::<f64>() * INTERVAL_S).round() as u64;
    let a = &r.aggregated;
    let pq = quantiles(&r.aggregated_publish_latency_quantiles);
    let eq = quantiles(&r.aggregated_end_to_end_latency_quantiles);
    let dq = quantiles(&r.aggregated_publish_delay_latency_quantiles);
    let summary =
        |count: u64, avg: f64, p50: f64, p90: Option<f64>, p99: f64, p999: f64, p9999: f64, max: f64, k: f64| {
            LatencySummary {
                count,
                mean: avg * k,
                p50: (p50 * k).round() as u64,
                p90: (p90.unwrap_or(p99) * k).round() as u64,
                p99: (p99 * k).round() as u64,
                p999: (p999 * k).round() as u64,
                p9999: (p9999 * k).round() as u64,
                max: (max * k).round() as u64,
            }
        };
    let publish_lat = summary(
        sent,
        a.publish_avg,
        a.publish_50,
        at(&pq, 0.9),
        a.publish_99,
        a.publish_999,
        a.publish_9999,
        a.publish_max,
        1000.0,
    );
    let e2e = summary(received, a.e2e_avg, a.e2e_50, at(&eq, 0.9), a.e2e_99, a.e2e_999, a.e2e_9999, a.e2e_max, 1000.0);
    let delay =
        summary(sent, a.delay_avg, a.delay_50, at(&dq, 0.9), a.delay_99, a.delay_999, a.delay_9999, a.delay_max, 1.0);
    let series = (0..r.publish_rate.len())
        .map(|i| {
            let get = |v: &Vec<f64>| v.get(i).copied().unwrap_or(0.0);
            SeriesPoint {
                t_s: i as f64 * INTERVAL_S,
                phase: "measure".into(),
                sent: (get(&r.publish_rate) * INTERVAL_S).round() as u64,
                acked: (get(&r.publish_rate) * INTERVAL_S).round() as u64,
                received: (get(&r.consume_rate) * INTERVAL_S).round() as u64,
                backlog: get(&r.backlog).max(0.0) as u64,
                publish_p99_us: us(get(&r.publish_latency_99pct)),
                end_to_end_p50_us: us(get(&r.end_to_end_latency_50pct)),
                end_to_end_p99_us: us(get(&r.end_to_end_latency_99pct)),
            }
        })
        .collect();
    let mut warnings = Vec::new();
    if notes.is_none() {
        warnings.push(super::LATENCY_CAVEAT.to_string());
        warnings.push(format!(
            "OMB's result files record neither the target rate nor the number of subscriptions: the rate shown is OMB's measured mean publish rate ({publish:.0} msg/s), and {subscriptions} subscription(s) is the ratio of consume to publish rate"
        ));
        warnings.push(
            "OMB does not count lost, duplicated, out-of-order or corrupt messages: those zeros are not measurements"
                .into(),
        );
    } else if let Some(n) = &notes {
        warnings.push(format!("exported by mqbench from run `{}`; the export said: {}", n.run_id, n.notes.join("; ")));
    }
    let errors_per_s = mean(&r.publish_error_rate);
    let mut errors = BTreeMap::new();
    if errors_per_s > 0.0 {
        errors.insert("publish errors (OMB's publishErrorRate)".into(), (errors_per_s * seconds).round() as u64);
    }
    let adapter = match broker.as_str() {
        b if b.contains("kafka") => "kafka",
        b if b.contains("rabbit") => "rabbitmq",
        b if b.contains("redis") => "redis",
        b if b.contains("artemis") => "artemis",
        _ => "omb",
    };
    let point = PointResult {
        id,
        repeat: 0,
        broker: broker.clone(),
        adapter: adapter.into(),
        provision: Provision::Live,
        broker_software: match &notes {
            None => format!("{} (measured by OMB)", if r.driver.is_empty() { "unknown driver" } else { &r.driver }),
            Some(_) => format!("{} (an mqbench run in OMB's format)", r.driver),
        },
        client: if notes.is_none() { OMB_CLIENT.into() } else { "mqbench, exported in OMB's format".into() },
        params: Params {
            payload_bytes: r.message_size,
            rate: RateParam::Fixed { bytes_per_s: publish * r.message_size as f64, msgs_per_s: publish },
            rate_label,
            topics: r.topics.max(1),
            producers: r.producers_per_topic,
            subscriptions,
            consumers: r.consumers_per_topic,
            partitions: r.partitions,
            warmup_s: 0.0,
            duration_s: seconds,
            drain_s: 0.0,
            in_flight: 0,
            backlog: false,
            security: None,
            options: serde_json::Map::new(),
            search: None,
        },
        status: Status::Ok,
        error: None,
        started_at: String::new(),
        counts: crate::measure::Counts { sent, acked: sent, received, ..Default::default() },
        by_producer: vec![],
        by_subscription: vec![],
        by_topic: vec![],
        out_of_order_by_partition: BTreeMap::new(),
        throughput: Throughput {
            publish_msgs_per_s: publish,
            publish_bytes_per_s: publish * r.message_size as f64,
            send_msgs_per_s: publish,
            consume_msgs_per_s: consume,
            consume_bytes_per_s: consume * r.message_size as f64,
        },
        latency_us: Latencies {
            publish: publish_lat.clone(),
            service: publish_lat,
            end_to_end: e2e,
            schedule_delay: delay,
            redelivered: LatencySummary::default(),
        },
        histograms: Histograms {
            publish: histogram_from(&pq, 1000.0),
            service: histogram_from(&pq, 1000.0),
            end_to_end: histogram_from(&eq, 1000.0),
            redelivered: String::new(),
        },
        lower_bounds: Default::default(),
        series,
        warnings,
        errors,
        resources: Default::default(),
        adapter_stats: serde_json::Value::Null,
        window: None,
        probe: None,
        capacity: None,
    };
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "omb".into());
    ResultsFile {
        schema_version: SCHEMA_VERSION,
        run: RunInfo {
            id: format!("{stem} (OMB)"),
            scenario: notes
                .as_ref()
                .map(|_| r.workload.clone())
                .unwrap_or_else(|| super::driver::slug(if r.workload.is_empty() { &stem } else { &r.workload })),
            scenario_file: path.display().to_string(),
            started_at: String::new(),
            finished_at: None,
            mqbench_version: String::new(),
            git_revision: "unknown".into(),
            host: HostInfo {
                os: "unknown (an OMB result file records no host)".into(),
                kernel: String::new(),
                hostname: String::new(),
                cpus: 0,
                memory_bytes: 0,
                cpu_model: String::new(),
            },
            clients: BTreeMap::new(),
            command: vec![],
            shard: None,
        },
        scenario_source: String::new(),
        points: vec![point],
    }
}

/// Gives each point of an OMB-derived file the id of the point of `other`
/// that measured the same thing (same broker, payload, topics, partitions
/// and producers), when exactly one does: OMB's files do not record the
/// target rate that mqbench's ids carry, so `compare` could not match
/// them otherwise.
pub fn align_ids(omb: &mut ResultsFile, other: &ResultsFile) {
    for p in &mut omb.points {
        let same = |q: &&PointResult| {
            q.broker == p.broker
                && q.params.payload_bytes == p.params.payload_bytes
                && q.params.topics == p.params.topics
                && q.params.partitions == p.params.partitions
                && q.params.producers == p.params.producers
        };
        let ids: std::collections::BTreeSet<&str> = other.points.iter().filter(same).map(|q| q.id.as_str()).collect();
        if ids.len() == 1 {
            p.id = ids.into_iter().next().unwrap_or_default().to_string();
        }
    }
}

/// Percentiles written in the exported quantile maps.
const EXPORT_PERCENTILES: &[f64] = &[
    0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 75.0, 80.0, 85.0, 90.0, 95.0, 97.5, 99.0, 99.5, 99.9, 99.95, 99.99,
    99.999, 100.0,
];

/// What every exported file says it cannot express.
pub const EXPORT_NOTES: &[&str] = &[
    "publish latency (aggregatedPublishLatency*) is mqbench's service latency: actual send to acknowledgement, as OMB's",
    "end-to-end latency (aggregatedEndToEndLatency*) is mqbench's: from the intended send, so it includes any publish delay, in microsecond resolution written as fractional milliseconds; OMB's runs from the actual send in whole milliseconds",
    "publish delay is mqbench's schedule delay (actual minus intended send); its 75th and 95th percentiles are not recorded by mqbench and are left out",
    "the 10-second series hold rates and backlog only; per-interval latency percentiles are left empty (mqbench keeps per-second p99s, which do not add up to 10-second percentiles)",
    "publishErrorRate is spread evenly: mqbench counts send errors per point, not per interval",
    "mqbench's loss, duplicate and order counts have no place in OMB's format: see results.json",
];

/// Writes one OMB result per measured point of `results`; failed points
/// are skipped (returned by id, for the command to say).
pub fn export(results: &ResultsFile) -> (Vec<(String, TestResult)>, Vec<String>) {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for p in &results.points {
        if p.status != Status::Ok {
            skipped.push(p.id.clone());
            continue;
        }
        out.push((p.id.clone(), export_point(results, p)));
    }
    (out, skipped)
}

fn quantile_map(h: &Option<LatencyHistogram>, k: f64) -> BTreeMap<String, f64> {
    let Some(h) = h else { return BTreeMap::new() };
    EXPORT_PERCENTILES.iter().map(|p| (format!("{p:?}"), h.quantile(p / 100.0) as f64 / k)).collect()
}

fn export_point(results: &ResultsFile, p: &PointResult) -> TestResult {
    let decode = |s: &str| if s.is_empty() { None } else { LatencyHistogram::decode(s).ok().filter(|h| h.count() > 0) };
    let service = decode(&p.histograms.service);
    let e2e = decode(&p.histograms.end_to_end);
    let ms = |h: &Option<LatencyHistogram>, q: f64| h.as_ref().map(|h| h.quantile(q) as f64 / 1000.0).unwrap_or(0.0);
    let avg = |h: &Option<LatencyHistogram>| h.as_ref().map(|h| h.0.mean() / 1000.0).unwrap_or(0.0);
    let max = |h: &Option<LatencyHistogram>| h.as_ref().map(|h| h.0.max() as f64 / 1000.0).unwrap_or(0.0);
    // 10-second buckets of the measurement window's seconds.
    let measured: Vec<&SeriesPoint> = p.series.iter().filter(|s| s.phase == "measure").collect();
    let mut buckets: Vec<(f64, u64, u64, u64)> = Vec::new();
    for chunk in measured.chunks(INTERVAL_S as usize) {
        let secs = chunk.len() as f64;
        let acked: u64 = chunk.iter().map(|s| s.acked).sum();
        let received: u64 = chunk.iter().map(|s| s.received).sum();
        buckets.push((secs, acked, received, chunk.last().map(|s| s.backlog).unwrap_or(0)));
    }
    let errors: u64 = p.errors.values().sum::<u64>() + p.counts.failed;
    let window = p.params.duration_s.max(1e-9);
    let d = &p.latency_us.schedule_delay;
    TestResult {
        workload: results.run.scenario.clone(),
        driver: p.broker.clone(),
        message_size: p.params.payload_bytes,
        topics: p.params.topics,
        partitions: p.params.partitions,
        producers_per_topic: p.params.producers,
        consumers_per_topic: p.params.consumers,
        publish_rate: buckets.iter().map(|b| b.1 as f64 / b.0).collect(),
        publish_error_rate: buckets.iter().map(|_| errors as f64 / window).collect(),
        consume_rate: buckets.iter().map(|b| b.2 as f64 / b.0).collect(),
        backlog: buckets.iter().map(|b| b.3 as f64).collect(),
        aggregated: Aggregates {
            publish_avg: avg(&service),
            publish_50: ms(&service, 0.5),
            publish_75: ms(&service, 0.75),
            publish_95: ms(&service, 0.95),
            publish_99: ms(&service, 0.99),
            publish_999: ms(&service, 0.999),
            publish_9999: ms(&service, 0.9999),
            publish_max: max(&service),
            delay_avg: d.mean,
            delay_50: d.p50 as f64,
            delay_75: None,
            delay_95: None,
            delay_99: d.p99 as f64,
            delay_999: d.p999 as f64,
            delay_9999: d.p9999 as f64,
            delay_max: d.max as f64,
            e2e_avg: avg(&e2e),
            e2e_50: ms(&e2e, 0.5),
            e2e_75: ms(&e2e, 0.75),
            e2e_95: ms(&e2e, 0.95),
            e2e_99: ms(&e2e, 0.99),
            e2e_999: ms(&e2e, 0.999),
            e2e_9999: ms(&e2e, 0.9999),
            e2e_max: max(&e2e),
        },
        aggregated_publish_latency_quantiles: quantile_map(&service, 1000.0),
        aggregated_publish_delay_latency_quantiles: BTreeMap::new(),
        aggregated_end_to_end_latency_quantiles: quantile_map(&e2e, 1000.0),
        mqbench: Some(ExportNotes {
            point_id: p.id.clone(),
            run_id: results.run.id.clone(),
            subscriptions: p.params.subscriptions,
            rate_label: p.params.rate_label.clone(),
            notes: EXPORT_NOTES.iter().map(|s| s.to_string()).collect(),
        }),
        ..Default::default()
    }
}

/// A file name for an exported point: `<scenario>-<point id>.json`, with
/// `/` and `=` made safe.
pub fn file_name(results: &ResultsFile, point_id: &str, repeat: usize) -> String {
    let safe: String = format!("{}-{point_id}", results.run.scenario)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' { c } else { '_' })
        .collect();
    if repeat == 0 {
        format!("{safe}.json")
    } else {
        format!("{safe}-{repeat}.json")
    }
}
