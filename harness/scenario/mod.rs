//! Scenario files: the file model, validation with `file:line:col` errors,
//! command-line overrides and sweep expansion into points.

pub mod adapters;
pub mod expand;
pub mod locate;
pub mod model;
pub mod point;
pub mod search;
pub mod security;
pub mod units;

pub use adapters::AdapterRules;
use locate::{locate, Step};
pub use model::{BrokerSpec, OneOrMany, Provision, ScenarioFile, WorkloadSpec};
pub use point::{BrokerTarget, Params, Point, RateParam, MAX_IN_FLIGHT_BYTES, MAX_PAYLOAD_BYTES, MIN_PAYLOAD_BYTES};
use std::fmt;
use std::path::{Path, PathBuf};

/// A scenario error that names where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{}:{}: {}", self.file.display(), l, c, self.message),
            _ => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for ScenarioError {}

/// A parsed and validated scenario with its points.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub file: PathBuf,
    /// The file's text, kept so results and reports can show it.
    pub source: String,
    pub description: Option<String>,
    pub points: Vec<Point>,
}

/// How a run changes the file: `--broker`, `--set`, `--quick`.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Only these brokers (by `name`); empty means all.
    pub brokers: Vec<String>,
    /// `KEY=VALUE` pairs: a workload knob (`payload=[10B,1KB]`), an option
    /// for every broker (`options.mode=list`), or for one broker
    /// (`redis.mode=list`).
    pub set: Vec<String>,
    /// Shorten warm-up, window and drain for a smoke run.
    pub quick: bool,
}

/// `--quick` caps: long enough to exercise every phase, short enough to
/// finish a broker in seconds.
pub const QUICK_WARMUP_S: f64 = 0.5;
pub const QUICK_DURATION_S: f64 = 2.0;
pub const QUICK_DRAIN_S: f64 = 2.0;

struct Ctx<'a> {
    file: &'a Path,
    source: &'a str,
}

impl Ctx<'_> {
    fn at(&self, path: &[Step], message: impl Into<String>) -> ScenarioError {
        let pos = locate(self.source, path);
        ScenarioError {
            file: self.file.to_path_buf(),
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.column),
            message: message.into(),
        }
    }
    fn plain(&self, message: impl Into<String>) -> ScenarioError {
        ScenarioError { file: self.file.to_path_buf(), line: None, column: None, message: message.into() }
    }
}

/// Reads, validates and expands a scenario file; `adapters` answers what
/// the file asks of the brokers it names.
pub fn load(file: &Path, overrides: &Overrides, adapters: &dyn AdapterRules) -> Result<Scenario, ScenarioError> {
    let source = std::fs::read_to_string(file).map_err(|e| ScenarioError {
        file: file.to_path_buf(),
        line: None,
        column: None,
        message: format!("cannot read scenario file: {e}"),
    })?;
    parse(file, &source, overrides, adapters)
}

/// Parses scenario text (the file name is used in errors and as the
/// default name).
pub fn parse(
    file: &Path,
    source: &str,
    overrides: &Overrides,
    adapters: &dyn AdapterRules,
) -> Result<Scenario, ScenarioError> {
    let ctx = Ctx { file, source };
    let mut spec: ScenarioFile = serde_yaml::from_str(source).map_err(|e| {
        let loc = e.location();
        ScenarioError {
            file: file.to_path_buf(),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
            message: e.to_string().split(" at line ").next().unwrap_or_default().to_string(),
        }
    })?;
    let name = spec.name.clone().unwrap_or_else(|| {
        file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "scenario".into())
    });
    if spec.brokers.is_empty() {
        return Err(ctx.at(&["brokers".into()], "no brokers: list at least one under `brokers:`"));
    }
    check_names(&ctx, &spec)?;
    apply_sets(&ctx, &mut spec, &overrides.set)?;
    if !overrides.brokers.is_empty() {
        for wanted in &overrides.brokers {
            if !spec.brokers.iter().any(|b| &b.name == wanted) {
                let names: Vec<_> = spec.brokers.iter().map(|b| b.name.as_str()).collect();
                return Err(
                    ctx.plain(format!("--broker {wanted}: no such broker in this file (it has: {})", names.join(", ")))
                );
            }
        }
    }

    let global = expand::layer(&expand::builtin_workload(), &spec.workload);
    let mut points = Vec::new();
    for (i, broker) in spec.brokers.iter().enumerate() {
        if !overrides.brokers.is_empty() && !overrides.brokers.contains(&broker.name) {
            continue;
        }
        let here = |key: &str| -> Vec<Step> { vec!["brokers".into(), i.into(), key.into()] };
        let adapter = broker.adapter.clone().unwrap_or_else(|| broker.name.clone());
        if !adapters.names().contains(&adapter.as_str()) {
            let key = if broker.adapter.is_some() { "adapter" } else { "name" };
            return Err(ctx.at(
                &here(key),
                format!(
                    "unknown adapter `{adapter}`: expected one of {} (set `adapter:` when the name is a label)",
                    adapters.names().join(", ")
                ),
            ));
        }
        let provision =
            broker.provision.unwrap_or(if adapter == "loopback" { Provision::Embedded } else { Provision::Local });
        if (adapter == "loopback") != (provision == Provision::Embedded) {
            return Err(ctx.at(
                &here("provision"),
                format!(
                    "provision `{}` does not fit adapter `{adapter}`: loopback is always `embedded`, other brokers are `local`, `container` or `live`",
                    provision.as_str()
                ),
            ));
        }
        if broker.image.is_some() && provision != Provision::Container {
            return Err(ctx.at(
                &here("image"),
                format!("`image:` is for `provision: container`; this broker is `{}`", provision.as_str()),
            ));
        }
        if provision == Provision::Live && broker.endpoint.is_none() {
            return Err(ctx.at(&here("provision"), "provision `live` needs an `endpoint:` to connect to"));
        }
        let workload = expand::layer(&global, &broker.workload);
        check_workload(&ctx, i, &broker.workload.payload.is_some(), &workload)?;
        let securities = check_security(&ctx, i, broker, &adapter, adapters)?;
        let mut broker_points = expand::expand_broker(broker, &adapter, provision, &workload, &securities)
            .map_err(|(key, msg)| ctx.at(&[here("options"), vec![key.as_str().into()]].concat(), msg))?;
        // Where a workload knob of this broker is written: its own
        // `workload:` when it sets the knob, else the file's.
        let knob = |key: &str, own: bool| -> Vec<Step> {
            if own {
                [here("workload"), vec![key.into()]].concat()
            } else {
                vec!["workload".into(), key.into()]
            }
        };
        for p in &broker_points {
            check_point(&p.params, &broker.name, &adapter, adapters).map_err(|(key, msg)| {
                let written = |w: &WorkloadSpec| match key {
                    "rate" => w.rate.is_some(),
                    "partitions" => w.partitions.is_some(),
                    "in_flight" => w.in_flight.is_some(),
                    _ => w.payload.is_some(),
                };
                // A knob nobody wrote (its default) is pointed at through
                // the payload that made it wrong.
                let key = if written(&broker.workload) || written(&spec.workload) { key } else { "payload" };
                ctx.at(&knob(key, written(&broker.workload)), msg)
            })?;
            if let Err(msg) = adapters.check_options(&adapter, &p.params.options) {
                let key = msg.split('`').nth(1).unwrap_or_default().to_string();
                let path = [here("options"), vec![key.as_str().into()]].concat();
                return Err(ctx.at(&path, format!("broker `{}`: {msg}", broker.name)));
            }
            if let Some(search) = &p.params.search {
                let at = knob("rate", broker.workload.rate.is_some());
                if p.params.backlog {
                    return Err(ctx.at(
                        &at,
                        format!(
                            "broker `{}`: a searched rate judges each probe by whether consumers keep up as it runs, so it does not combine with `backlog: true` (consumers attached afterwards); search without `backlog`, or give a fixed rate",
                            broker.name
                        ),
                    ));
                }
                let e2e = search.target.is_some_and(|t| t.latency == search::Metric::EndToEnd);
                if e2e && p.params.subscriptions == 0 {
                    return Err(ctx.at(
                        &at,
                        format!(
                            "broker `{}`: an end-to-end latency target needs consumers, and `subscriptions` is 0: add `latency: publish` to the search",
                            broker.name
                        ),
                    ));
                }
            }
            if p.params.backlog {
                let at = if broker.workload.backlog.is_some() {
                    [here("workload"), vec!["backlog".into()]].concat()
                } else {
                    vec!["workload".into(), "backlog".into()]
                };
                if p.params.subscriptions == 0 {
                    return Err(ctx.at(&at, "`backlog: true` needs consumers to drain it: `subscriptions` is 0"));
                }
                if let Err(msg) = adapters.check_backlog(&adapter, &p.params.options) {
                    return Err(ctx.at(&at, format!("broker `{}` cannot run `backlog: true`: {msg}", broker.name)));
                }
            }
        }
        if overrides.quick {
            for p in &mut broker_points {
                p.params.warmup_s = p.params.warmup_s.min(QUICK_WARMUP_S);
                p.params.duration_s = p.params.duration_s.min(QUICK_DURATION_S);
                p.params.drain_s = p.params.drain_s.min(QUICK_DRAIN_S);
                if let Some(search) = &mut p.params.search {
                    search.probe_s = search.probe_s.min(QUICK_DURATION_S);
                }
            }
        }
        points.extend(broker_points);
    }
    let mut seen = std::collections::HashSet::new();
    for p in &points {
        if p.repeat == 0 && !seen.insert(p.id.clone()) {
            return Err(ctx.plain(format!("two points share the id `{}`", p.id)));
        }
    }
    Ok(Scenario {
        name,
        file: file.to_path_buf(),
        source: source.to_string(),
        description: spec.description.clone(),
        points,
    })
}

/// Checks one expanded point against what the harness and its adapter can
/// run; the error names the knob (`rate`, `partitions`, `in_flight`) it is
/// about.
fn check_point(
    p: &Params,
    broker: &str,
    adapter: &str,
    adapters: &dyn AdapterRules,
) -> Result<(), (&'static str, String)> {
    if let Some(total) = p.rate.msgs_per_s() {
        // Producer i sends message k at t0 + k / rate_i: a window shorter
        // than one interval may hold no message at all, and then nothing
        // is measured.
        let per_producer = total / p.producers as f64;
        let due = per_producer * p.duration_s;
        if due < 1.0 {
            let least = p.producers as f64 / p.duration_s;
            return Err((
                "rate",
                format!(
                    "broker `{broker}`: rate `{}` with {} B payloads is {total} msg/s, {per_producer} msg/s for each of {} producer(s): the {} s window holds {due:.3} messages per producer, so nothing would be measured; raise the rate (at least {least} msg/s, `{}msgps`) or the `duration`",
                    p.rate_label,
                    p.payload_bytes,
                    p.producers,
                    p.duration_s,
                    least.ceil()
                ),
            ));
        }
    }
    let held = p.producers as u64 * p.in_flight as u64 * p.payload_bytes;
    if held > MAX_IN_FLIGHT_BYTES {
        return Err((
            "in_flight",
            format!(
                "broker `{broker}`: {} producer(s) x `in_flight: {}` x {} B payloads may hold {:.1} GB of bodies awaiting acknowledgement, more than the harness's limit of {} GB: lower `in_flight` (at most {} here) or the payload",
                p.producers,
                p.in_flight,
                p.payload_bytes,
                held as f64 / 1e9,
                MAX_IN_FLIGHT_BYTES / 1_000_000_000,
                (MAX_IN_FLIGHT_BYTES / (p.producers as u64 * p.payload_bytes)).max(1)
            ),
        ));
    }
    adapters.check_partitions(adapter, p.partitions).map_err(|m| ("partitions", format!("broker `{broker}`: {m}")))
}

/// A broker's `security:` values, checked: the block's own rules, then
/// what its adapter can do; `[None]` when it has none.
fn check_security(
    ctx: &Ctx,
    i: usize,
    broker: &BrokerSpec,
    adapter: &str,
    adapters: &dyn AdapterRules,
) -> Result<Vec<Option<security::Security>>, ScenarioError> {
    let Some(specs) = &broker.security else { return Ok(vec![None]) };
    let swept = matches!(specs, OneOrMany::Many(_));
    let mut out = Vec::new();
    for (j, spec) in specs.values().iter().enumerate() {
        let mut at: Vec<Step> = vec!["brokers".into(), i.into(), "security".into()];
        if swept {
            at.push(j.into());
        }
        let s = security::Security::from_spec(spec).map_err(|(key, msg)| {
            ctx.at(&[at.clone(), vec![key.into()]].concat(), format!("broker `{}`: {msg}", broker.name))
        })?;
        if let Err(msg) = adapters.check_security(adapter, &s) {
            return Err(ctx.at(
                &at,
                format!("broker `{}`: adapter `{adapter}` cannot run security `{}`: {msg}", broker.name, s.label()),
            ));
        }
        out.push(Some(s));
    }
    Ok(out)
}

fn check_names(ctx: &Ctx, spec: &ScenarioFile) -> Result<(), ScenarioError> {
    let mut names = std::collections::HashSet::new();
    for (i, b) in spec.brokers.iter().enumerate() {
        let path: Vec<Step> = vec!["brokers".into(), i.into(), "name".into()];
        if b.name.is_empty() || !b.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.') {
            return Err(ctx.at(
                &path,
                format!("broker name `{}` must be letters, digits, `-`, `_` or `.` (it is part of point ids)", b.name),
            ));
        }
        if !names.insert(b.name.clone()) {
            return Err(ctx.at(&path, format!("broker name `{}` is used twice: names must be unique", b.name)));
        }
    }
    Ok(())
}

fn check_workload(ctx: &Ctx, broker: usize, own_payload: &bool, w: &WorkloadSpec) -> Result<(), ScenarioError> {
    let path = |key: &str, own: bool| -> Vec<Step> {
        if own {
            vec!["brokers".into(), broker.into(), "workload".into(), key.into()]
        } else {
            vec!["workload".into(), key.into()]
        }
    };
    let payloads = w.payload.as_ref().map(|p| p.values()).unwrap_or_default();
    let producers = w.producers.as_ref().map(|p| p.values()).unwrap_or_default();
    for p in &payloads {
        if p.0 < MIN_PAYLOAD_BYTES {
            return Err(ctx.at(
                &path("payload", *own_payload),
                format!(
                    "payload {} B is below the minimum of {MIN_PAYLOAD_BYTES} B, the smallest body that carries producer, sequence and send time",
                    p.0
                ),
            ));
        }
        if p.0 > MAX_PAYLOAD_BYTES {
            return Err(ctx.at(
                &path("payload", *own_payload),
                format!(
                    "payload {} B is above the harness's limit of {MAX_PAYLOAD_BYTES} B (100 MB): each point builds its bodies from a random pool four times the payload, and every body in flight is held until acknowledged",
                    p.0
                ),
            ));
        }
        if p.0 < crate::measure::payload::FULL_HEADER_LEN as u64 {
            // Producer ids are unique over every topic of a point.
            let topics = w.topics.as_ref().and_then(|t| t.values().into_iter().max()).unwrap_or(1);
            let too_many = |n: &&u32| n.saturating_mul(topics) > crate::measure::payload::COMPACT_MAX_PRODUCERS;
            if let Some(n) = producers.iter().find(too_many) {
                let n = match topics {
                    1 => format!("{n} producers"),
                    t => format!("{} producers ({n} on each of {t} topics)", n.saturating_mul(t)),
                };
                return Err(ctx.at(
                    &path("producers", false),
                    format!(
                        "{n} with {} B payloads: bodies under {} B carry a one-byte producer id, so at most {} producers",
                        p.0,
                        crate::measure::payload::FULL_HEADER_LEN,
                        crate::measure::payload::COMPACT_MAX_PRODUCERS
                    ),
                ));
            }
        }
    }
    let positive = |key: &str, values: Option<&OneOrMany<u32>>| -> Result<(), ScenarioError> {
        if let Some(v) = values {
            if v.values().contains(&0) {
                return Err(ctx.at(&path(key, false), format!("`{key}` must be at least 1")));
            }
        }
        Ok(())
    };
    positive("topics", w.topics.as_ref())?;
    positive("producers", w.producers.as_ref())?;
    // `subscriptions: 0` is allowed: a produce-only point (no consumers,
    // nothing to deliver), for comparing with write-only tools.
    positive("consumers", w.consumers.as_ref())?;
    positive("partitions", w.partitions.as_ref())?;
    positive("in_flight", w.in_flight.as_ref())?;
    if let Some(d) = &w.duration {
        if d.values().iter().any(|d| d.0.is_zero()) {
            return Err(ctx.at(&path("duration", false), "`duration` must be above zero"));
        }
    }
    Ok(())
}

/// Applies `--set KEY=VALUE` to the file model.
fn apply_sets(ctx: &Ctx, spec: &mut ScenarioFile, sets: &[String]) -> Result<(), ScenarioError> {
    for set in sets {
        // Messages quote the setting without a secret written into it.
        let shown = crate::system::secrets::redact(set);
        let (key, value) = set
            .split_once('=')
            .ok_or_else(|| ctx.plain(format!("--set {shown}: expected KEY=VALUE, e.g. --set rate=max")))?;
        let (key, value) = (key.trim(), value.trim());
        let bad = |e: serde_yaml::Error| ctx.plain(format!("--set {shown}: {e}"));
        let mut w = WorkloadSpec::default();
        let is_workload = match key {
            "payload" => {
                w.payload = Some(serde_yaml::from_str(value).map_err(bad)?);
                true
            }
            "rate" => {
                w.rate = Some(serde_yaml::from_str(value).map_err(bad)?);
                true
            }
            "topics" => {
                w.topics = Some(serde_yaml::from_str(value).map_err(bad)?);
                true
            }
            "producers" => {
                w.producers = Some(serde_yaml::from_str(value).map_err(bad)?);
                true
            }
            "subscriptions" => {
                w.subscriptions = Some(serde_yaml::from_str(value).map_err(bad)?);
                true
            }
            "consumers" => {
                w.consumers = Some(serde_yaml::from_str(value).map_err(bad)?);
                true
            }
            "partitions" => {
                w.partitions = Some(serde_yaml::from_str(value).map_err(bad)?);
                true
            }
            "warmup" => {
                w.warmup = Some(serde_yaml::from_str(value).map_err(bad)?);
                true
            }
            "duration" => {
                w.duration = Some(serde_yaml::from_str(value).map_err(bad)?);
                true
            }
            "drain" => {
                w.drain = Some(serde_yaml::from_str(value).map_err(bad)?);
                true
            }
            "in_flight" => {
                w.in_flight = Some(serde_yaml::from_str(value).map_err(bad)?);
                true
            }
            "repeats" => {
                w.repeats = Some(serde_yaml::from_str(value).map_err(bad)?);
                true
            }
            "backlog" => {
                w.backlog = Some(serde_yaml::from_str(value).map_err(bad)?);
                true
            }
            _ => false,
        };
        // `security=...` for every broker, `BROKER.security=...` for one.
        let security_scope = match key.split_once('.') {
            None if key == "security" => Some(None),
            Some((scope, "security")) => Some(Some(scope)),
            _ => None,
        };
        if let Some(scope) = security_scope {
            let parsed: OneOrMany<security::SecuritySpec> = serde_yaml::from_str(value).map_err(bad)?;
            let mut matched = false;
            for b in &mut spec.brokers {
                if scope.is_none_or(|s| s == b.name) {
                    b.security = Some(parsed.clone());
                    matched = true;
                }
            }
            if !matched {
                return Err(
                    ctx.plain(format!("--set {shown}: no broker named `{}` in this file", scope.unwrap_or_default()))
                );
            }
            continue;
        }
        // `BROKER.endpoint=HOST:PORT`: where a live broker is (so one file
        // can be pointed at one's own cluster).
        if let Some((scope, "endpoint")) = key.split_once('.') {
            let b = spec
                .brokers
                .iter_mut()
                .find(|b| b.name == scope)
                .ok_or_else(|| ctx.plain(format!("--set {shown}: no broker named `{scope}` in this file")))?;
            b.endpoint = Some(value.to_string());
            continue;
        }
        if is_workload {
            // The command line wins over the file at every level.
            spec.workload = expand::layer(&spec.workload, &w);
            for b in &mut spec.brokers {
                b.workload = expand::layer(&b.workload, &w);
            }
            continue;
        }
        let (scope, option) = key.split_once('.').ok_or_else(|| {
            ctx.plain(format!(
                "--set {shown}: `{key}` is not a workload knob (payload, rate, topics, producers, subscriptions, consumers, partitions, warmup, duration, drain, in_flight, repeats, backlog); set an adapter option as `options.KEY=...` or `BROKER.KEY=...`"
            ))
        })?;
        let parsed: OneOrMany<serde_yaml::Value> = serde_yaml::from_str(value).map_err(bad)?;
        let mut matched = false;
        for b in &mut spec.brokers {
            if scope == "options" || scope == b.name {
                b.options.insert(option.to_string(), parsed.clone());
                matched = true;
            }
        }
        if !matched {
            return Err(ctx.plain(format!("--set {shown}: no broker named `{scope}` in this file")));
        }
    }
    Ok(())
}
