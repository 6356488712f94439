//! `mqbench merge`: combines the results of N load generators that ran the
//! same scenario with `--shard i/N` into one results file.
//!
//! Exact where the data allows it: counts add (each shard's producers have
//! their own ids and their own topic, see `run/shard.rs`), histograms add
//! (HdrHistogram merges without loss), and throughput adds over the common
//! window (every shard measured a window of the same length; their sum is
//! the load the broker carried while they overlapped). Two things are not
//! stored in mergeable form and are combined as bounds, said here and in
//! docs/kubernetes.md: the per-second p99s of the series (the larger of the
//! shards') and the schedule-delay percentiles (also the larger).
//!
//! Refused with an error: shards of different scenarios, a file that is
//! not a shard, an incomplete set (every shard 0..N-1 must be there; the
//! error names the missing ones), overlapping producer ids, a point missing
//! from a shard, differing parameters, or shards whose measurement windows
//! (recorded by each host's wall clock, see `run/shard.rs`) overlapped for
//! less than `min_overlap` of the window. The overlap found is recorded in
//! the merged point (`window` is the common part) and a warning states it
//! whenever it is under 99%.

use super::model::*;
use crate::measure::{accounting::SubscriptionCounts, LatencyHistogram, LatencySummary, SeriesPoint};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MergeError {
    #[error("give at least two shards to merge (got {0})")]
    TooFew(usize),
    #[error("shard {a} is scenario `{sa}` and shard {b} is scenario `{sb}`: only shards of one scenario merge")]
    DifferentScenario { a: usize, sa: String, b: usize, sb: String },
    #[error(
        "shards {a} and {b} ran scenario `{name}` from different files (the scenario text differs): only shards of one \
         scenario merge"
    )]
    DifferentScenarioText { a: usize, b: usize, name: String },
    #[error("shards {a} and {b} both ran shard {index}/{count}")]
    SameShard { a: usize, b: usize, index: u32, count: u32 },
    #[error("shard {a} is one of {ca} workers and shard {b} one of {cb}: they are not shards of one run")]
    DifferentCount { a: usize, ca: u32, b: usize, cb: u32 },
    #[error(
        "point {id} (repeat {repeat}): producer {producer} appears in shards {a} and {b}; shards must split producers"
    )]
    OverlappingProducers { id: String, repeat: u32, producer: u32, a: usize, b: usize },
    #[error("point {id} (repeat {repeat}) is in shard {a} but not in shard {b}")]
    MissingPoint { id: String, repeat: u32, a: usize, b: usize },
    #[error("point {id} (repeat {repeat}) has different parameters in shards {a} and {b}")]
    DifferentParams { id: String, repeat: u32, a: usize, b: usize },
    #[error("point {id} (repeat {repeat}), shard {shard}: {what}")]
    BadHistogram { id: String, repeat: u32, shard: usize, what: String },
    #[error("shard {0} is not a shard (its run has no `--shard i/N`): only shards merge")]
    NotAShard(usize),
    #[error(
        "shard(s) {} of {count} missing: a merge needs every shard 0..{} (got {}); fewer would report part of the load \
         as the whole", list(.missing, *.count), .count - 1, list(.present, *.count)
    )]
    MissingShards { count: u32, missing: Vec<u32>, present: Vec<u32> },
    #[error(
        "point {id} (repeat {repeat}): the shards measured together for {overlap_s:.2} s of the {window_s:.2} s window \
         ({:.0}%, below the {:.0}% required): their summed throughput was never offered at once; run the shards with \
         --barrier DIR, or lower --min-overlap", 100.0 * .overlap_s / .window_s, 100.0 * .min_overlap
    )]
    TooLittleOverlap { id: String, repeat: u32, overlap_s: f64, window_s: f64, min_overlap: f64 },
}

fn list(shards: &[u32], count: u32) -> String {
    shards.iter().map(|i| format!("{i}/{count}")).collect::<Vec<_>>().join(", ")
}

/// Default `--min-overlap`: shards must have measured together for 90% of
/// the window.
pub const DEFAULT_MIN_OVERLAP: f64 = 0.9;

/// An overlap under this fraction is stated in a warning of the merged point.
const WARN_OVERLAP: f64 = 0.99;

/// Merges shards (in the order given; shard numbers in errors are
/// 0-based positions in that order). `command` is recorded in the result.
pub fn merge(shards: &[ResultsFile], command: Vec<String>) -> Result<ResultsFile, MergeError> {
    merge_with(shards, command, DEFAULT_MIN_OVERLAP)
}

/// [`merge`] with the smallest overlap of the shards' windows allowed, as
/// a fraction of the window.
pub fn merge_with(shards: &[ResultsFile], command: Vec<String>, min_overlap: f64) -> Result<ResultsFile, MergeError> {
    if shards.len() < 2 {
        return Err(MergeError::TooFew(shards.len()));
    }
    let first = &shards[0];
    for (b, s) in shards.iter().enumerate().skip(1) {
        if s.run.scenario != first.run.scenario {
            return Err(MergeError::DifferentScenario {
                a: 0,
                sa: first.run.scenario.clone(),
                b,
                sb: s.run.scenario.clone(),
            });
        }
        if s.scenario_source != first.scenario_source {
            return Err(MergeError::DifferentScenarioText { a: 0, b, name: s.run.scenario.clone() });
        }
    }
    let mut seen: BTreeMap<u32, usize> = BTreeMap::new();
    for (b, s) in shards.iter().enumerate() {
        if let (Some(x), Some(y)) = (first.run.shard, s.run.shard) {
            if x.count != y.count {
                return Err(MergeError::DifferentCount { a: 0, ca: x.count, b, cb: y.count });
            }
        }
        let sh = s.run.shard.ok_or(MergeError::NotAShard(b))?;
        if let Some(a) = seen.insert(sh.index, b) {
            return Err(MergeError::SameShard { a, b, index: sh.index, count: sh.count });
        }
    }
    let count = first.run.shard.map(|s| s.count).unwrap_or_default();
    let missing: Vec<u32> = (0..count).filter(|i| !seen.contains_key(i)).collect();
    if !missing.is_empty() {
        return Err(MergeError::MissingShards { count, missing, present: seen.keys().copied().collect() });
    }
    let mut points = Vec::new();
    for p in &first.points {
        let mut parts = vec![p];
        for (b, s) in shards.iter().enumerate().skip(1) {
            let q = s
                .points
                .iter()
                .find(|q| q.id == p.id && q.repeat == p.repeat)
                .ok_or_else(|| MergeError::MissingPoint { id: p.id.clone(), repeat: p.repeat, a: 0, b })?;
            parts.push(q);
        }
        points.push(merge_point(&parts, min_overlap)?);
    }
    for (b, s) in shards.iter().enumerate().skip(1) {
        if let Some(q) = s.points.iter().find(|q| !first.points.iter().any(|p| p.id == q.id && p.repeat == q.repeat)) {
            return Err(MergeError::MissingPoint { id: q.id.clone(), repeat: q.repeat, a: b, b: 0 });
        }
    }
    let mut run = first.run.clone();
    run.id = format!("{}-merged-{}", run.scenario, super::env::now_compact());
    run.started_at = shards.iter().map(|s| s.run.started_at.clone()).min().unwrap_or_default();
    run.finished_at =
        shards.iter().map(|s| s.run.finished_at.clone()).collect::<Option<Vec<_>>>().and_then(|v| v.into_iter().max());
    let revs: std::collections::BTreeSet<&str> = shards.iter().map(|s| s.run.git_revision.as_str()).collect();
    run.git_revision = revs.into_iter().collect::<Vec<_>>().join(" + ");
    for s in shards {
        for (k, v) in &s.run.clients {
            run.clients.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    run.command = command;
    run.shard = None;
    Ok(ResultsFile { schema_version: SCHEMA_VERSION, run, scenario_source: first.scenario_source.clone(), points })
}

fn hist(p: &PointResult, shard: usize, text: &str) -> Result<LatencyHistogram, MergeError> {
    if text.is_empty() {
        return Ok(LatencyHistogram::new());
    }
    LatencyHistogram::decode(text).map_err(|what| MergeError::BadHistogram {
        id: p.id.clone(),
        repeat: p.repeat,
        shard,
        what,
    })
}

/// Percentiles cannot be merged from percentiles: the larger of the
/// shards' is an upper bound. Count and mean combine exactly.
fn bound(parts: &[&LatencySummary]) -> LatencySummary {
    let count: u64 = parts.iter().map(|s| s.count).sum();
    let mean = if count > 0 { parts.iter().map(|s| s.mean * s.count as f64).sum::<f64>() / count as f64 } else { 0.0 };
    let max = |f: fn(&LatencySummary) -> u64| parts.iter().map(|s| f(s)).max().unwrap_or(0);
    LatencySummary {
        count,
        mean,
        p50: max(|s| s.p50),
        p90: max(|s| s.p90),
        p99: max(|s| s.p99),
        p999: max(|s| s.p999),
        p9999: max(|s| s.p9999),
        max: max(|s| s.max),
    }
}

fn merge_point(parts: &[&PointResult], min_overlap: f64) -> Result<PointResult, MergeError> {
    let p0 = parts[0];
    let mut owner: BTreeMap<u32, usize> = BTreeMap::new();
    for (b, p) in parts.iter().enumerate() {
        if p.params != p0.params {
            return Err(MergeError::DifferentParams { id: p0.id.clone(), repeat: p0.repeat, a: 0, b });
        }
        for pc in &p.by_producer {
            if let Some(a) = owner.insert(pc.producer, b) {
                return Err(MergeError::OverlappingProducers {
                    id: p0.id.clone(),
                    repeat: p0.repeat,
                    producer: pc.producer,
                    a,
                    b,
                });
            }
        }
    }
    let mut out = p0.clone();
    let (mut publish, mut service, mut e2e, mut redelivered) =
        (LatencyHistogram::new(), LatencyHistogram::new(), LatencyHistogram::new(), LatencyHistogram::new());
    let mut lower_bounds = crate::results::LowerBounds::default();
    let mut counts = crate::measure::Counts::default();
    let mut by_producer = Vec::new();
    let mut by_sub: BTreeMap<u32, SubscriptionCounts> = BTreeMap::new();
    let mut by_topic: BTreeMap<u32, Vec<&TopicResult>> = BTreeMap::new();
    let mut ooo: BTreeMap<u32, u64> = BTreeMap::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut tp = Throughput::default();
    let mut series: BTreeMap<i64, SeriesPoint> = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut fatal = Vec::new();
    let mut software: Vec<&str> = Vec::new();
    let mut stats = Vec::new();
    let (mut harness_cpu, mut harness_rss, mut harness_any) = (0.0, 0u64, false);
    for (b, p) in parts.iter().enumerate() {
        publish.add(&hist(p, b, &p.histograms.publish)?);
        service.add(&hist(p, b, &p.histograms.service)?);
        e2e.add(&hist(p, b, &p.histograms.end_to_end)?);
        if !p.histograms.redelivered.is_empty() {
            redelivered.add(&hist(p, b, &p.histograms.redelivered)?);
        }
        lower_bounds.publish += p.lower_bounds.publish;
        lower_bounds.end_to_end += p.lower_bounds.end_to_end;
        counts.add(&p.counts);
        by_producer.extend(p.by_producer.iter().cloned());
        for s in &p.by_subscription {
            let e = by_sub
                .entry(s.subscription)
                .or_insert(SubscriptionCounts { subscription: s.subscription, ..Default::default() });
            e.received += s.received;
            e.lost += s.lost;
            e.duplicated += s.duplicated;
            e.out_of_order += s.out_of_order;
        }
        for t in &p.by_topic {
            by_topic.entry(t.topic).or_default().push(t);
        }
        for (k, v) in &p.out_of_order_by_partition {
            *ooo.entry(*k).or_default() += v;
        }
        for (k, v) in &p.errors {
            *errors.entry(k.clone()).or_default() += v;
        }
        tp.publish_msgs_per_s += p.throughput.publish_msgs_per_s;
        tp.publish_bytes_per_s += p.throughput.publish_bytes_per_s;
        tp.send_msgs_per_s += p.throughput.send_msgs_per_s;
        tp.consume_msgs_per_s += p.throughput.consume_msgs_per_s;
        tp.consume_bytes_per_s += p.throughput.consume_bytes_per_s;
        for s in &p.series {
            // Seconds are relative to each shard's window start, so the
            // same second of every shard's window adds up.
            let e = series.entry(s.t_s.round() as i64).or_insert_with(|| SeriesPoint {
                t_s: s.t_s,
                phase: s.phase.clone(),
                ..Default::default()
            });
            e.sent += s.sent;
            e.acked += s.acked;
            e.received += s.received;
            e.backlog += s.backlog;
            e.publish_p99_us = e.publish_p99_us.max(s.publish_p99_us);
            e.end_to_end_p50_us = e.end_to_end_p50_us.max(s.end_to_end_p50_us);
            e.end_to_end_p99_us = e.end_to_end_p99_us.max(s.end_to_end_p99_us);
        }
        warnings.extend(p.warnings.iter().map(|w| format!("shard {b}: {w}")));
        if let Some(e) = &p.error {
            fatal.push(format!("shard {b}: {e}"));
        }
        if !software.contains(&p.broker_software.as_str()) {
            software.push(&p.broker_software);
        }
        stats.push(p.adapter_stats.clone());
        if let Some(h) = &p.resources.harness {
            harness_any = true;
            harness_cpu += h.cpu_s;
            harness_rss = harness_rss.max(h.peak_rss_bytes);
        }
    }
    by_producer.sort_by_key(|p| p.producer);
    if software.len() > 1 {
        warnings.push(format!("shards measured different broker software: {}", software.join(", ")));
    }
    let common = common_window(parts);
    match common {
        Some(w) => {
            let window_s = p0.params.duration_s;
            let overlap_s = w.end_unix_us.saturating_sub(w.start_unix_us) as f64 / 1e6;
            if overlap_s < min_overlap * window_s {
                return Err(MergeError::TooLittleOverlap {
                    id: p0.id.clone(),
                    repeat: p0.repeat,
                    overlap_s,
                    window_s,
                    min_overlap,
                });
            }
            if overlap_s < WARN_OVERLAP * window_s {
                warnings.push(format!(
                    "the shards measured together for {overlap_s:.2} s of the {window_s:.2} s window ({:.1}%): the summed throughput is that of the common part only approximately",
                    100.0 * overlap_s / window_s
                ));
            }
        }
        None => warnings.extend(window_overlap_warning(parts)),
    }
    out.broker_software = software.join(" | ");
    out.status = if parts.iter().any(|p| p.status == Status::Failed) { Status::Failed } else { Status::Ok };
    out.error = (!fatal.is_empty()).then(|| fatal.join("; "));
    out.started_at = parts.iter().map(|p| p.started_at.clone()).min().unwrap_or_default();
    out.counts = counts;
    out.by_producer = by_producer;
    out.by_subscription = by_sub.into_values().collect();
    out.by_topic = by_topic
        .into_iter()
        .map(|(topic, parts)| {
            let mut counts = crate::measure::Counts::default();
            parts.iter().for_each(|t| counts.add(&t.counts));
            TopicResult {
                topic,
                counts,
                publish: bound(&parts.iter().map(|t| &t.publish).collect::<Vec<_>>()),
                end_to_end: bound(&parts.iter().map(|t| &t.end_to_end).collect::<Vec<_>>()),
            }
        })
        .collect();
    out.window = common;
    out.out_of_order_by_partition = ooo;
    out.throughput = tp;
    out.latency_us = Latencies {
        publish: publish.summary(),
        service: service.summary(),
        end_to_end: e2e.summary(),
        schedule_delay: bound(&parts.iter().map(|p| &p.latency_us.schedule_delay).collect::<Vec<_>>()),
        redelivered: redelivered.summary(),
    };
    out.histograms = Histograms {
        publish: publish.encode(),
        service: service.encode(),
        end_to_end: e2e.encode(),
        redelivered: redelivered.encode(),
    };
    out.lower_bounds = lower_bounds;
    out.series = series.into_values().collect();
    out.warnings = warnings;
    out.errors = errors;
    let messages = if out.counts.received > 0 { out.counts.received } else { out.counts.acked };
    out.resources = Resources {
        harness: harness_any.then(|| ProcessUsage {
            cpu_s: harness_cpu,
            peak_rss_bytes: harness_rss,
            cpu_s_per_million_msgs: if messages > 0 { harness_cpu / (messages as f64 / 1e6) } else { 0.0 },
        }),
        // The broker as seen by the first shard that measured it (a shared
        // broker would otherwise be counted once per shard).
        broker: parts.iter().find_map(|p| p.resources.broker.clone()),
    };
    out.adapter_stats = serde_json::json!({ "shards": stats });
    Ok(out)
}

/// The part of the window every shard measured (by the hosts' wall
/// clocks); `None` when a shard did not record its window (results from
/// before windows were recorded). An empty overlap has `end == start`.
fn common_window(parts: &[&PointResult]) -> Option<MeasuredWindow> {
    let windows: Vec<MeasuredWindow> = parts.iter().map(|p| p.window).collect::<Option<_>>()?;
    let start = windows.iter().map(|w| w.start_unix_us).max()?;
    let end = windows.iter().map(|w| w.end_unix_us).min()?.max(start);
    Some(MeasuredWindow { start_unix_us: start, end_unix_us: end })
}

/// For shards without recorded windows: shards whose start stamps are far
/// apart did not load the broker together; their sum is then not a
/// concurrent throughput, and the result says so.
fn window_overlap_warning(parts: &[&PointResult]) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    let starts: Vec<time::OffsetDateTime> =
        parts.iter().filter_map(|p| time::OffsetDateTime::parse(&p.started_at, &Rfc3339).ok()).collect();
    if starts.len() != parts.len() {
        return None;
    }
    let (lo, hi) = (starts.iter().min()?, starts.iter().max()?);
    let apart = (*hi - *lo).as_seconds_f64();
    let window = parts[0].params.duration_s;
    (apart > window / 2.0).then(|| {
        format!(
            "shards started {apart:.1} s apart with a {window:.1} s window: they overlapped for less than half of it, \
             so the summed throughput is not a concurrent load"
        )
    })
}
