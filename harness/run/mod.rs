//! Running a scenario: brokers up, points one by one, results written after
//! each, brokers down. Clocks, tasks and I/O live here; the numbers are
//! computed by `measure`.

pub mod clock;
pub mod consumer;
pub mod live;
pub mod output;
pub mod pacer;
pub mod point;
pub mod producer;
pub mod search;
pub mod shard;
pub mod topics;
pub mod usage;

use crate::provision::{self, RunningBroker};
use crate::results::{env, PointResult, ResultsFile, ResultsWriter, RunInfo, Status, SCHEMA_VERSION};
use crate::scenario::{self, Overrides, Scenario};
use crate::system::stop_signal;
use futures::FutureExt;
use output::{Event, Output};
use point::{failed_result, run_point, PointTarget};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// The message of a caught panic (`panic!("...")` carries a `&str` or a
/// `String`).
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Everything `mqbench run` takes.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub scenario: PathBuf,
    /// Results directory; default `results/<scenario>-<timestamp>`.
    pub out: Option<PathBuf>,
    pub overrides: Overrides,
    /// Show progress bars (summary lines are always printed).
    pub progress: bool,
    /// The command line, for the record.
    pub command: Vec<String>,
    /// This worker's share when N load generators run the scenario
    /// (`--shard i/N`; see `shard.rs`).
    pub shard: Option<crate::results::Shard>,
    /// A directory every shard can read and write (a shared volume): each
    /// point starts when every shard is ready there (`--barrier`; see
    /// `shard.rs`).
    pub barrier: Option<PathBuf>,
    /// Skip each point's cleanup, leaving its topic and messages on the
    /// broker (`--keep-topics`): for reading the same messages with another
    /// client, as the tansu comparison in docs/brokers/tansu.md does.
    pub keep_topics: bool,
}

/// The broker of the points being run, or why it did not start.
type BrokerState = Result<Box<dyn RunningBroker>, String>;

pub struct RunOutcome {
    pub dir: PathBuf,
    pub results: ResultsFile,
    /// True when a signal (Ctrl-C, SIGTERM, SIGHUP) stopped the run early.
    pub interrupted: bool,
}

/// Records broker processes that died during a point: a failed point when
/// the broker could not serve it to its end (the error says so before any
/// error the point itself met), a warning when a cluster lost a minority
/// of its nodes (the failover is what the point measured). The next point
/// runs on a restarted broker (`RunningBroker::before_point`).
fn record_incident(result: &mut PointResult, incident: provision::Incident) {
    if incident.fatal {
        result.status = Status::Failed;
        result.error = Some(match result.error.take() {
            Some(e) => format!("{}; then: {e}", incident.message),
            None => incident.message,
        });
    } else {
        result.warnings.push(incident.message);
    }
}

/// Adds a finished point to the results and tells every output (the
/// results writer puts it on disk before anything else runs).
fn record(
    results: &mut ResultsFile,
    outputs: &mut [Box<dyn Output>],
    index: usize,
    total: usize,
    result: PointResult,
) -> anyhow::Result<()> {
    results.points.push(result);
    // Secrets registered while the point ran leave memory as they leave
    // the files, so the run returns what it wrote.
    crate::results::scrub_results(results)?;
    let last = results.points.last().expect("just pushed");
    for o in outputs.iter_mut() {
        o.on(&Event::PointFinished { index, total, result: last, results })?;
    }
    Ok(())
}

/// What running one point needs besides the point and its broker.
struct PointRunner<'a> {
    opts: &'a RunOptions,
    stamp: &'a str,
    barrier: Option<&'a shard::StartBarrier>,
    cancel: &'a CancellationToken,
}

impl PointRunner<'_> {
    /// Runs `point` (the `index`-th of the scenario; `tag` tells a search's
    /// probes' topics apart) on the broker already provisioned for it.
    async fn run(
        &self,
        point: &scenario::Point,
        index: usize,
        tag: &str,
        broker: &mut Option<(String, BrokerState)>,
        outputs: &mut Vec<Box<dyn Output>>,
    ) -> PointResult {
        let (opts, cancel) = (self.opts, self.cancel);
        match broker.as_mut().map(|(_, b)| b) {
            Some(Ok(b)) => match b.before_point().await {
                Err(e) => failed_result(point, format!("broker not usable: {e:#}"), "unknown".into()),
                Ok(()) => match b.endpoint_for(point.params.security.as_ref()) {
                    Err(e) => failed_result(point, format!("{e:#}"), "unknown".into()),
                    Ok(endpoint) => {
                        let (hint, pids, cgroup) = (b.software_hint(), b.pids(), b.cgroup());
                        let target = PointTarget {
                            security: point.params.security.as_ref().map(|s| with_trust(s, b.trust())),
                            endpoint: &endpoint,
                            software_hint: hint.as_deref(),
                            broker_pids: pids,
                            broker_cgroup: cgroup,
                            topic: format!(
                                "mqbench-{}-{}-r{}{tag}{}",
                                self.stamp.to_lowercase(),
                                index,
                                point.repeat,
                                opts.shard.map(|s| format!("-s{}", s.index)).unwrap_or_default()
                            ),
                            shard: opts.shard,
                            keep_topic: opts.keep_topics,
                            barrier: self.barrier.map(|b| b.for_point(index)),
                        };
                        let mut progress_outputs = std::mem::take(outputs);
                        let mut on_progress = |p: &point::Progress| {
                            for o in progress_outputs.iter_mut() {
                                let _ = o.on(&Event::Progress { point, progress: p });
                            }
                        };
                        // A panic inside the point (a harness bug) is caught
                        // here, so the point is recorded as failed and the
                        // sweep goes on; `progress_outputs` (the results
                        // writer among them) survives it.
                        let r =
                            AssertUnwindSafe(run_point(point, &target, cancel, &mut on_progress)).catch_unwind().await;
                        *outputs = progress_outputs;
                        let mut r = r.unwrap_or_else(|panic| {
                            failed_result(
                                point,
                                format!(
                                    "the harness panicked inside this point (a bug in mqbench): {}",
                                    panic_text(&*panic)
                                ),
                                "unknown".into(),
                            )
                        });
                        if let Some(incident) = b.after_point() {
                            record_incident(&mut r, incident);
                        }
                        r
                    }
                },
            },
            Some(Err(e)) => failed_result(point, format!("broker did not start: {e}"), "not started".into()),
            None => unreachable!("a broker is provisioned before its first point"),
        }
    }
}

/// Runs a scenario file to the end (or to Ctrl-C, SIGTERM or SIGHUP), writing results as it
/// goes. Broker failures become failed points; only bad input and an
/// unwritable results directory are errors.
pub async fn run(opts: RunOptions) -> anyhow::Result<RunOutcome> {
    let scenario = scenario::load(&opts.scenario, &opts.overrides, &crate::adapter::Rules)?;
    run_with(scenario, opts).await
}

/// Runs a scenario loaded elsewhere (an imported OMB workload) as `run`
/// does: to the end or to Ctrl-C, SIGTERM or SIGHUP.
pub async fn run_with(scenario: Scenario, opts: RunOptions) -> anyhow::Result<RunOutcome> {
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        stop_signal::stop_requested().await;
        c.cancel();
    });
    run_loaded(scenario, opts, cancel).await
}

/// Runs an already-loaded scenario; `cancel` stops it early.
pub async fn run_loaded(scenario: Scenario, opts: RunOptions, cancel: CancellationToken) -> anyhow::Result<RunOutcome> {
    if let Some(sh) = opts.shard {
        if let Some(p) = scenario.points.iter().find(|p| p.params.all_producers() < sh.count) {
            anyhow::bail!(
                "--shard {}/{}: point {} has {} producer(s) over all topics, fewer than the {} workers; every worker needs at least one",
                sh.index,
                sh.count,
                p.id,
                p.params.all_producers(),
                sh.count
            );
        }
    }
    let barrier = match (&opts.barrier, opts.shard) {
        (Some(dir), Some(shard)) => Some(shard::StartBarrier::new(dir.clone(), shard)?),
        (Some(_), None) => anyhow::bail!("--barrier waits for the other shards: it needs --shard i/N"),
        (None, _) => None,
    };
    let stamp = env::now_compact();
    let run_id = format!("{}-{}", scenario.name, stamp);
    let dir = opts.out.clone().unwrap_or_else(|| PathBuf::from("results").join(&run_id));
    let writer = ResultsWriter::create(&dir)?;
    let mut clients = std::collections::BTreeMap::new();
    for p in &scenario.points {
        if let Ok(d) = crate::adapter::driver(&p.broker.adapter) {
            clients.insert(p.broker.adapter.clone(), d.client());
        }
    }
    let mut results = ResultsFile {
        schema_version: SCHEMA_VERSION,
        run: RunInfo {
            id: run_id.clone(),
            scenario: scenario.name.clone(),
            scenario_file: scenario.file.display().to_string(),
            started_at: env::now_rfc3339(),
            finished_at: None,
            mqbench_version: env!("CARGO_PKG_VERSION").to_string(),
            git_revision: env::git_revision(),
            host: env::host(),
            clients,
            command: opts.command.iter().map(|a| crate::system::secrets::redact(a)).collect(),
            shard: opts.shard,
        },
        // The scenario as written, less any secret written into it (a
        // URL's password; `validate` refuses a literal `password:`).
        scenario_source: crate::system::secrets::redact(&scenario.source),
        points: Vec::new(),
    };
    // The file is on disk (with no points yet) before the first point starts.
    crate::results::scrub_results(&mut results)?;
    writer.write(&results)?;
    let mut outputs: Vec<Box<dyn Output>> = vec![Box::new(writer)];
    if opts.progress {
        outputs.push(Box::new(output::ProgressBars::default()));
    }
    outputs.push(Box::new(output::Summary));
    let emit = |outputs: &mut Vec<Box<dyn Output>>, e: &Event| -> anyhow::Result<()> {
        for o in outputs.iter_mut() {
            o.on(e)?;
        }
        Ok(())
    };
    emit(&mut outputs, &Event::RunStarted { points: scenario.points.len(), dir: &dir })?;

    let total = scenario.points.len();
    let mut broker: Option<(String, BrokerState)> = None;
    let mut interrupted = false;
    for (index, point) in scenario.points.iter().enumerate() {
        if cancel.is_cancelled() {
            interrupted = true;
            break;
        }
        // One broker per name, kept for all its points, stopped before the next.
        if broker.as_ref().map(|(n, _)| n != &point.broker.name).unwrap_or(true) {
            if let Some((_, Ok(mut b))) = broker.take() {
                if let Err(e) = b.stop().await {
                    tracing::warn!("stopping broker: {e:#}");
                }
            }
            // A local broker serves every security profile of its points.
            let mut securities: Vec<crate::scenario::security::Security> = Vec::new();
            for p in scenario.points.iter().filter(|p| p.broker.name == point.broker.name) {
                if let Some(s) = &p.params.security {
                    if !securities.contains(s) {
                        securities.push(s.clone());
                    }
                }
            }
            let up = tokio::select! {
                r = provision::provision(&point.broker, &point.params.options, &securities) => r.map_err(|e| format!("{e:#}")),
                _ = cancel.cancelled() => Err("interrupted while starting the broker".to_string()),
            };
            broker = Some((point.broker.name.clone(), up));
        }
        let runner = PointRunner { opts: &opts, stamp: &stamp, barrier: barrier.as_ref(), cancel: &cancel };
        if point.params.search.is_none() {
            emit(&mut outputs, &Event::PointStarted { index, total, point })?;
            let result = runner.run(point, index, "", &mut broker, &mut outputs).await;
            interrupted |= cancel.is_cancelled();
            record(&mut results, &mut outputs, index, total, result)?;
        } else {
            // Each probe is a point of its own, on disk as it ends.
            let mut search = search::Search::new(point);
            let mut probe = 0;
            while let Some(step) = search.next_step() {
                let result = match step {
                    search::Step::Run(p) => {
                        emit(&mut outputs, &Event::PointStarted { index, total, point: &p })?;
                        let mut r = runner.run(&p, index, &format!("-p{probe}"), &mut broker, &mut outputs).await;
                        probe += 1;
                        search.judge(&mut r);
                        r
                    }
                    search::Step::Record(r) => *r,
                };
                interrupted |= cancel.is_cancelled();
                record(&mut results, &mut outputs, index, total, result)?;
                if interrupted {
                    break;
                }
            }
        }
        if interrupted {
            break;
        }
    }
    if let Some((_, Ok(mut b))) = broker.take() {
        if let Err(e) = b.stop().await {
            tracing::warn!("stopping broker: {e:#}");
        }
    }
    results.run.finished_at = Some(env::now_rfc3339());
    crate::results::scrub_results(&mut results)?;
    emit(&mut outputs, &Event::RunFinished { results: &results, dir: &dir })?;
    Ok(RunOutcome { dir, results, interrupted })
}

/// `s` trusting `ca` (a local broker's run CA) when TLS is on and the
/// scenario names no `ca_file` of its own.
fn with_trust(s: &crate::scenario::security::Security, ca: Option<PathBuf>) -> crate::scenario::security::Security {
    use crate::scenario::security::Tls;
    let mut s = s.clone();
    if let (Tls::On(files), Some(ca)) = (&mut s.tls, ca) {
        if files.ca_file.is_none() {
            files.ca_file = Some(ca.display().to_string());
        }
    }
    s
}
