//! OMB workloads x brokers as one mqbench scenario: text with a comment on
//! every line saying which OMB key it comes from, checked by the scenario
//! validator, whose errors are pointed back at the OMB file, line and key.
//!
//! Shape: one workload file writes the file's `workload:` (or each
//! broker's own `workload:` when the mapping differs between adapters,
//! such as partitions on RabbitMQ); several workload files give each
//! broker entry one per workload (`kafka-<workload>`), since OMB runs each
//! workload file as its own test.

use super::driver::{self, BrokerEntry, Origin};
use super::source::{Note, Refused};
use super::workload::{KeyDistributor, Workload};
use crate::scenario::{self, AdapterRules, Overrides, Scenario};
use std::path::{Path, PathBuf};

/// A produced scenario.
#[derive(Debug, Clone)]
pub struct Imported {
    pub name: String,
    /// The scenario file's text.
    pub text: String,
    /// Where each line of `text` comes from (index = line - 1).
    origins: Vec<Option<Origin>>,
    pub warnings: Vec<Note>,
    /// Environment variables to set for secrets left out of the file.
    pub env: Vec<(String, String)>,
    /// The first workload file, named as the scenario's file in results.
    pub file: PathBuf,
}

/// A workload knob as written: key, YAML value, comment, origin.
#[derive(Clone, Debug, PartialEq)]
struct Knob {
    key: &'static str,
    value: String,
    comment: String,
    origin: Option<Origin>,
}

/// Reads the files and imports them. `kinds` are broker kinds named on the
/// command line (`loopback`, `kafka`, ...), run where mqbench's default
/// provisioning puts them.
pub fn import(
    workloads: &[PathBuf],
    drivers: &[PathBuf],
    kinds: &[String],
    rules: &dyn AdapterRules,
) -> Result<Imported, Refused> {
    let mut errors = Vec::new();
    let mut ws = Vec::new();
    for w in workloads {
        match Workload::read(w) {
            Ok(w) => ws.push(w),
            Err(Refused(e)) => errors.extend(e),
        }
    }
    let mut ds = Vec::new();
    for d in drivers {
        match driver::read(d, rules) {
            Ok(d) => ds.push(d),
            Err(Refused(e)) => errors.extend(e),
        }
    }
    if !errors.is_empty() {
        return Err(Refused(errors));
    }
    import_parsed(ws, ds, kinds, rules)
}

/// Imports parsed files (the tests give text without touching the disk).
pub fn import_parsed(
    mut workloads: Vec<Workload>,
    drivers: Vec<driver::Driver>,
    kinds: &[String],
    rules: &dyn AdapterRules,
) -> Result<Imported, Refused> {
    let plain = |text: String| Note { file: PathBuf::from("mqbench"), line: None, key: String::new(), text };
    if workloads.is_empty() {
        return Err(Refused(vec![plain("give at least one OMB workload file".into())]));
    }
    if drivers.is_empty() && kinds.is_empty() {
        return Err(Refused(vec![plain(format!(
            "name where to run the workload: an OMB driver file (--driver FILE; with `mqbench run`, --omb-driver FILE) or a broker kind (--broker {})",
            rules.names().join("|")
        ))]));
    }
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut env = Vec::new();
    let mut brokers: Vec<BrokerEntry> = Vec::new();
    for d in drivers {
        errors.extend(d.errors);
        warnings.extend(d.warnings);
        env.extend(d.entry.env.clone());
        brokers.push(d.entry);
    }
    for k in kinds {
        if !rules.names().contains(&k.as_str()) {
            errors.push(plain(format!("--broker {k}: not a broker kind (one of {})", rules.names().join(", "))));
            continue;
        }
        brokers.push(BrokerEntry::named(k));
    }
    // Unique labels: two drivers both called `Kafka` become kafka, kafka-2.
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for b in &mut brokers {
        let n = seen.entry(b.name.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            b.name = format!("{}-{n}", b.name);
        }
    }
    // The knobs of each (workload, broker).
    let mut table: Vec<Vec<(Vec<Knob>, Vec<driver::OptionLine>)>> = Vec::new();
    for w in &mut workloads {
        let mut row = Vec::new();
        for b in &brokers {
            row.push(map_workload(w, &b.adapter, rules));
        }
        errors.append(&mut w.source.errors);
        warnings.append(&mut w.source.warnings);
        table.push(row);
    }
    dedup(&mut errors);
    dedup(&mut warnings);
    if !errors.is_empty() {
        return Err(Refused(errors));
    }
    let name = if workloads.len() == 1 { driver::slug(&workloads[0].name) } else { "omb".to_string() };
    let mut out = Out::default();
    out.comment("Imported from OpenMessaging Benchmark files by `mqbench import omb` (docs/omb.md).");
    for w in &workloads {
        out.comment(&format!("  workload: {}", w.source.file.display()));
    }
    for b in brokers.iter().filter_map(|b| b.file.as_ref()) {
        out.comment(&format!("  driver:   {}", b.display()));
    }
    out.comment("The comment on each line names the OMB key it comes from.");
    if !warnings.is_empty() {
        out.comment("What is not as in OMB (also printed by the import):");
        for n in &warnings {
            out.comment(&format!("  {n}"));
        }
    }
    for (var, what) in &env {
        out.comment(&format!("Set {var} to {what}: secrets are not written here."));
    }
    out.line(&format!("name: {name}"), None);
    let description = if workloads.len() == 1 {
        format!("OMB workload `{}` ({})", workloads[0].name, workloads[0].source.file.display())
    } else {
        format!("{} OMB workloads", workloads.len())
    };
    out.line(&format!("description: {}", serde_json::to_string(&description).unwrap_or_default()), None);
    let shared = workloads.len() == 1 && table[0].windows(2).all(|p| p[0].0 == p[1].0);
    if shared {
        out.line("workload:", None);
        for k in &table[0][0].0 {
            out.knob(2, k);
        }
    }
    out.line("brokers:", None);
    for (wi, w) in workloads.iter().enumerate() {
        for (bi, b) in brokers.iter().enumerate() {
            let (knobs, extra) = &table[wi][bi];
            let label =
                if workloads.len() == 1 { b.name.clone() } else { format!("{}-{}", b.name, driver::slug(&w.name)) };
            out.line(
                &format!("  - name: {label}"),
                b.file.as_ref().map(|f| Origin { file: f.clone(), line: None, key: "name".into() }),
            );
            if b.adapter != label {
                out.line(&format!("    adapter: {}", b.adapter), None);
            }
            if let Some(p) = b.provision {
                out.line(&format!("    provision: {p}"), None);
            }
            if let Some(e) = &b.endpoint {
                out.line(
                    &format!("    endpoint: {}", serde_json::to_string(e).unwrap_or_default()),
                    b.endpoint_origin.clone(),
                );
            }
            if !shared {
                out.line("    workload:", None);
                for k in knobs {
                    out.knob(6, k);
                }
            }
            let options: Vec<&driver::OptionLine> = b.options.iter().chain(extra.iter()).collect();
            if !options.is_empty() {
                out.line("    options:", None);
                for o in options {
                    let value = serde_json::to_string(&o.value).unwrap_or_default();
                    out.line(&format!("      {}: {value}  # {}", o.key, o.comment), o.origin.clone());
                }
            }
        }
    }
    let file = workloads[0].source.file.clone();
    Ok(Imported { name, text: out.text, origins: out.origins, warnings, env, file })
}

fn dedup(notes: &mut Vec<Note>) {
    let mut seen = Vec::new();
    notes.retain(|n| {
        if seen.contains(n) {
            false
        } else {
            seen.push(n.clone());
            true
        }
    });
}

#[derive(Default)]
struct Out {
    text: String,
    origins: Vec<Option<Origin>>,
}

impl Out {
    fn line(&mut self, text: &str, origin: Option<Origin>) {
        self.text.push_str(text);
        self.text.push('\n');
        self.origins.push(origin);
    }
    fn comment(&mut self, text: &str) {
        for l in text.lines() {
            self.line(format!("# {l}").trim_end(), None);
        }
    }
    fn knob(&mut self, indent: usize, k: &Knob) {
        let pad = " ".repeat(indent);
        self.line(&format!("{pad}{}: {}  # {}", k.key, k.value, k.comment), k.origin.clone());
    }
}

impl Imported {
    /// Validates and expands the scenario with the command line's
    /// overrides; an error names the OMB file, line and key its line came
    /// from.
    pub fn scenario(&self, overrides: &Overrides, rules: &dyn AdapterRules) -> Result<Scenario, Refused> {
        scenario::parse(&self.file, &self.text, overrides, rules).map_err(|e| Refused(vec![self.point_back(&e)]))
    }

    fn point_back(&self, e: &scenario::ScenarioError) -> Note {
        let origin = e.line.and_then(|l| self.origins.get(l.wrapping_sub(1)).cloned().flatten());
        let at = e
            .line
            .map(|l| format!(" (line {l} of the imported scenario: `mqbench import omb` writes it)"))
            .unwrap_or_default();
        match origin {
            Some(o) => Note { file: o.file, line: o.line, key: o.key, text: format!("{}{at}", e.message) },
            None => {
                Note { file: self.file.clone(), line: None, key: String::new(), text: format!("{}{at}", e.message) }
            }
        }
    }
}

fn origin(w: &Workload, key: &str) -> Option<Origin> {
    Some(Origin { file: w.source.file.clone(), line: w.source.line(key), key: key.into() })
}

/// Seconds as a span mqbench reads: `60s`, or `1500ms` for fractions.
fn span(seconds: f64) -> String {
    let ms = (seconds * 1000.0).round() as u64;
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// `producerRate: 0`: OMB searches for the highest rate its consumers keep
/// up with. This is the one place that maps it: onto `rate: max` until the
/// scenario has a capacity search, then onto that search.
fn find_maximum(w: &mut Workload) -> (String, String) {
    w.source.warn(
        "producerRate",
        "0 asks OMB to find the maximum sustainable rate (it starts at 10,000 msg/s and every 3 s raises the rate, or lowers it when the backlog of unsent or unreceived messages passes 1,000); mqbench runs `rate: max` instead: producers send as fast as the broker acknowledges (at most `in_flight` unacknowledged each), which measures the ceiling of publishing, and the consumers may fall behind it (the backlog is reported). The two figures differ: OMB's is the rate at which consumers still keep up",
    );
    ("max".into(), "producerRate: 0 (OMB: find the maximum; see the warning)".into())
}

/// One workload's knobs for one adapter, plus adapter options it implies
/// (Kafka `keys`). Notes go to the workload's source.
fn map_workload(w: &mut Workload, adapter: &str, rules: &dyn AdapterRules) -> (Vec<Knob>, Vec<driver::OptionLine>) {
    let mut knobs = Vec::new();
    let mut extra = Vec::new();
    let mut push = |key: &'static str, value: String, comment: String, origin: Option<Origin>| {
        knobs.push(Knob { key, value, comment, origin })
    };

    // messageSize
    let size = w.message_size;
    if w.source.get("messageSize").is_none() || size == 0 {
        w.source.error("messageSize", "missing or 0: give the body size in bytes");
    } else if size < scenario::MIN_PAYLOAD_BYTES {
        w.source.error(
            "messageSize",
            format!(
                "{size} B is below mqbench's minimum of {} B: every body carries producer, sequence and due time, which latency and loss accounting need",
                scenario::MIN_PAYLOAD_BYTES
            ),
        );
    } else if size > scenario::MAX_PAYLOAD_BYTES {
        w.source
            .error("messageSize", format!("{size} B is above mqbench's limit of {} B", scenario::MAX_PAYLOAD_BYTES));
    }
    push("payload", format!("{size}B"), format!("messageSize: {size}"), origin(w, "messageSize"));

    // producerRate
    let (rate, comment) = if w.producer_rate == 0 {
        find_maximum(w)
    } else {
        (format!("{}msgps", w.producer_rate), format!("producerRate: {} (msg/s over all producers)", w.producer_rate))
    };
    push("rate", rate, comment, origin(w, "producerRate"));

    // topics, partitionsPerTopic
    if w.topics == 0 {
        w.source.error("topics", "missing or 0: OMB would create no topic; give at least 1");
    }
    push("topics", w.topics.to_string(), "topics".into(), origin(w, "topics"));
    let mut partitions = w.partitions_per_topic;
    if partitions == 0 {
        w.source.error("partitionsPerTopic", "missing or 0: give at least 1");
    } else if partitions > 1 && rules.check_partitions(adapter, 2).is_err() {
        w.source.warn(
            "partitionsPerTopic",
            format!("{partitions}: the `{adapter}` adapter has no partitions (a subscription is one queue), so 1; OMB's drivers for such brokers ignore the key too"),
        );
        partitions = 1;
    } else if let Err(why) = rules.check_partitions(adapter, partitions.min(u32::MAX as u64) as u32) {
        w.source.error("partitionsPerTopic", why);
    }
    push("partitions", partitions.to_string(), "partitionsPerTopic".into(), origin(w, "partitionsPerTopic"));

    // producers, subscriptions, consumers
    if w.producers_per_topic == 0 {
        w.source.error("producersPerTopic", "missing or 0: give at least 1 producer per topic");
    }
    push("producers", w.producers_per_topic.to_string(), "producersPerTopic".into(), origin(w, "producersPerTopic"));
    push(
        "subscriptions",
        w.subscriptions_per_topic.to_string(),
        if w.subscriptions_per_topic == 0 {
            "subscriptionsPerTopic: 0 (or absent, OMB's default): produce only".into()
        } else {
            "subscriptionsPerTopic (fan-out)".into()
        },
        origin(w, "subscriptionsPerTopic"),
    );
    if w.subscriptions_per_topic > 0 && w.consumer_per_subscription == 0 {
        w.source.error(
            "consumerPerSubscription",
            "missing or 0 with subscriptions: nothing would read them; give at least 1 (or subscriptionsPerTopic: 0 to produce only)",
        );
    }
    push(
        "consumers",
        w.consumer_per_subscription.max(1).to_string(),
        "consumerPerSubscription".into(),
        origin(w, "consumerPerSubscription"),
    );

    // Durations.
    let minutes = |w: &mut Workload, key: &str, m: f64| {
        if m.fract() != 0.0 {
            w.source.warn(
                key,
                format!(
                    "{m} minutes: OMB reads whole minutes (it would run {}); mqbench runs {}",
                    m.trunc(),
                    span(m * 60.0)
                ),
            );
        }
    };
    minutes(w, "warmupDurationMinutes", w.warmup_duration_minutes);
    minutes(w, "testDurationMinutes", w.test_duration_minutes);
    if w.test_duration_minutes <= 0.0 {
        w.source.error(
            "testDurationMinutes",
            "missing or 0: OMB then runs until stopped; mqbench needs a measurement window, give the minutes",
        );
    }
    let warmup_s = w.warmup_duration_minutes.max(0.0) * 60.0;
    let test_s = w.test_duration_minutes.max(0.0) * 60.0;
    push(
        "warmup",
        span(warmup_s),
        format!(
            "warmupDurationMinutes: {}{}",
            w.warmup_duration_minutes,
            if w.source.get("warmupDurationMinutes").is_none() { " (OMB's default)" } else { "" }
        ),
        origin(w, "warmupDurationMinutes"),
    );

    // Backlog.
    if w.consumer_backlog_size_gb > 0 {
        let bytes = w.consumer_backlog_size_gb as f64 * (1u64 << 30) as f64;
        let subs = w.subscriptions_per_topic as f64;
        if w.producer_rate == 0 {
            w.source.error("consumerBacklogSizeGB", "needs a fixed producerRate: mqbench sizes the backlog as rate x time, and `producerRate: 0` has no rate");
        }
        if w.subscriptions_per_topic == 0 {
            w.source
                .error("consumerBacklogSizeGB", "needs subscriptions to drain the backlog: subscriptionsPerTopic is 0");
        }
        let build_s = if w.producer_rate > 0 && subs > 0.0 && size > 0 {
            bytes / (size as f64 * subs * w.producer_rate as f64)
        } else {
            1.0
        };
        let duration_s = (build_s - warmup_s).max(1.0);
        w.source.warn(
            "consumerBacklogSizeGB",
            format!(
                "{} GiB: OMB pauses its consumers until that backlog has built, resumes them while producing goes on, and measures `testDurationMinutes` once it has drained; mqbench's `backlog: true` produces for warm-up plus window ({}: what {} GiB takes at {} msg/s) with no consumer attached, then stops the producers and lets the consumers drain it within `drain` (OMB's test duration, {}): its consume rate is the catch-up read rate, without producers competing",
                w.consumer_backlog_size_gb,
                span(warmup_s + duration_s),
                w.consumer_backlog_size_gb,
                w.producer_rate,
                span(test_s)
            ),
        );
        if w.backlog_drain_ratio != 1.0 {
            w.source.warn(
                "backlogDrainRatio",
                format!("{}: mqbench waits for the whole backlog (up to `drain`), and what is not read by then is counted as lost", w.backlog_drain_ratio),
            );
        }
        push(
            "duration",
            span(duration_s),
            format!("consumerBacklogSizeGB: {} (producing time for that backlog)", w.consumer_backlog_size_gb),
            origin(w, "consumerBacklogSizeGB"),
        );
        push(
            "drain",
            span(test_s.max(1.0)),
            format!("testDurationMinutes: {} (time allowed to drain)", w.test_duration_minutes),
            origin(w, "testDurationMinutes"),
        );
        push("backlog", "true".into(), "consumerBacklogSizeGB".into(), origin(w, "consumerBacklogSizeGB"));
    } else {
        if w.source.get("backlogDrainRatio").is_some() {
            w.source.warn("backlogDrainRatio", "has no effect without consumerBacklogSizeGB, in OMB as here");
        }
        push(
            "duration",
            span(test_s),
            format!("testDurationMinutes: {}", w.test_duration_minutes),
            origin(w, "testDurationMinutes"),
        );
        push(
            "drain",
            "5s".into(),
            "mqbench's own: the longest wait for consumers after the window (OMB stops at its end)".into(),
            None,
        );
    }

    // Payload contents.
    if w.use_randomized_payloads {
        if w.random_bytes_ratio < 1.0 {
            w.source.warn(
                "randomBytesRatio",
                format!("{}: OMB's bodies are that fraction random and the rest zeros (compressible); mqbench's bodies are random throughout, so with compression on the broker sees less compressible data than OMB sends", w.random_bytes_ratio),
            );
        }
        w.source.warn(
            "randomizedPayloadPoolSize",
            format!("{}: OMB repeats a pool of that many bodies; every mqbench body differs (a tracking header and a window on a seeded random pool), which matters only to compression", w.randomized_payload_pool_size),
        );
    } else {
        match w.payload_file.clone() {
            None => w.source.warn("payloadFile", "absent and useRandomizedPayloads is false: OMB would fail to load a payload; mqbench sends its own bodies of messageSize bytes"),
            Some(p) => {
                let found = payload_candidates(&w.source.file, &p).into_iter().find(|c| c.is_file());
                match found.as_ref().and_then(|f| std::fs::metadata(f).ok()) {
                    Some(m) if m.len() != size => w.source.error(
                        "payloadFile",
                        format!("`{p}` is {} B but messageSize is {size}: OMB refuses a payload file of another length, and so does the import", m.len()),
                    ),
                    Some(_) => w.source.warn(
                        "payloadFile",
                        format!("`{p}`: mqbench does not send the file's bytes; its bodies are exactly messageSize ({size} B) too, random with a tracking header (incompressible), which matters only to compression"),
                    ),
                    None => w.source.warn(
                        "payloadFile",
                        format!("`{p}` not found (looked beside the workload and in the current directory; OMB would stop there); mqbench sends its own bodies of messageSize ({size} B), random with a tracking header"),
                    ),
                }
            }
        }
    }

    // Keys.
    match (w.key_distributor, adapter) {
        (KeyDistributor::NoKey, _) => {}
        (k, "kafka") => {
            extra.push(driver::OptionLine {
                key: "keys".into(),
                value: serde_json::json!(true),
                comment: format!("keyDistributor: {}", k.as_str()),
                origin: origin(w, "keyDistributor"),
            });
            w.source.warn(
                "keyDistributor",
                format!("{}: OMB keys messages from 10,000 random 7-character keys ({}); mqbench's `keys: true` keys each message by its sequence number, a new key every message: both spread messages over the partitions by the key's hash", k.as_str(), if k == KeyDistributor::KeyRoundRobin { "in turn" } else { "picked by the nanosecond clock" }),
            );
        }
        (k, other) => w.source.warn(
            "keyDistributor",
            format!("{}: the `{other}` adapter sends no message keys, so messages go without them (mqbench has keys for Kafka only)", k.as_str()),
        ),
    }
    (knobs, extra)
}

/// Where OMB's relative `payloadFile` may be: OMB resolves it from the
/// directory it runs in, usually its checkout, with workloads in
/// `workloads/` and payloads in `payload/`.
fn payload_candidates(workload: &Path, payload: &str) -> Vec<PathBuf> {
    let p = Path::new(payload);
    if p.is_absolute() {
        return vec![p.into()];
    }
    let dir = workload.parent().unwrap_or(Path::new("."));
    vec![p.into(), dir.join(p), dir.join("..").join(p)]
}
