//! `mqbench brokers up|down`: local brokers for manual use. `up` starts
//! them detached (their own sessions, no parent-death signal), prints their
//! endpoints and records them in a state file; `down` stops every recorded
//! broker (gracefully, then by force) and removes its directory.
//!
//! State file: `$MQBENCH_STATE_DIR/brokers.json`, else
//! `$XDG_RUNTIME_DIR/mqbench/brokers.json`, else
//! `/tmp/mqbench-<uid>/brokers.json`.

use super::instance::Instance;
use super::process::{Group, Mode};
use super::{kind_for, DEFAULT_UP};
use crate::scenario::{self, Overrides, Provision};
use anyhow::{bail, Context};
use clap::Subcommand;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum BrokersCommand {
    /// Start local brokers and leave them running (default: every kind
    /// this machine can start); prints their endpoints.
    Up {
        /// Adapter kinds (`redis`, `kafka`, `rabbitmq`...), or broker names
        /// of the scenario given with --scenario.
        names: Vec<String>,
        /// Start the `provision: local` brokers of this scenario.
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
    /// Stop every broker `brokers up` started and remove its directory.
    Down,
    /// List the brokers `brokers up` started.
    Status,
}

/// One process of a recorded broker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UpProcess {
    /// Also its process group id.
    pub pid: i32,
    pub program: String,
    pub log: PathBuf,
}

/// One broker started by `brokers up`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UpBroker {
    pub name: String,
    pub adapter: String,
    pub endpoint: String,
    pub software: String,
    pub dir: PathBuf,
    pub processes: Vec<UpProcess>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub brokers: Vec<UpBroker>,
}

pub fn state_file() -> PathBuf {
    let dir = if let Some(d) = std::env::var_os("MQBENCH_STATE_DIR") {
        PathBuf::from(d)
    } else if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR") {
        PathBuf::from(d).join("mqbench")
    } else {
        // SAFETY: getuid has no preconditions.
        PathBuf::from(format!("/tmp/mqbench-{}", unsafe { libc::getuid() }))
    };
    dir.join("brokers.json")
}

fn load_state(path: &Path) -> anyhow::Result<State> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).with_context(|| format!("cannot read {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn save_state(path: &Path, state: &State) -> anyhow::Result<()> {
    if state.brokers.is_empty() {
        let _ = std::fs::remove_file(path);
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(state)?)?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// True while a process of the broker still runs (and is the one we
/// started: its working directory is the broker's directory).
fn is_running(b: &UpBroker) -> bool {
    b.processes
        .iter()
        .any(|p| std::fs::read_link(format!("/proc/{}/cwd", p.pid)).map(|cwd| cwd.starts_with(&b.dir)).unwrap_or(false))
}

/// What to start: (name, adapter, options).
type Target = (String, String, serde_json::Map<String, serde_json::Value>);

fn targets(names: &[String], scenario_file: Option<&Path>) -> anyhow::Result<(Vec<Target>, bool)> {
    if let Some(file) = scenario_file {
        let s = scenario::load(file, &Overrides::default(), &crate::adapter::Rules)?;
        let mut out: Vec<Target> = Vec::new();
        for p in s.points.iter().filter(|p| p.broker.provision == Provision::Local) {
            if !out.iter().any(|(n, _, _)| n == &p.broker.name) && (names.is_empty() || names.contains(&p.broker.name))
            {
                out.push((p.broker.name.clone(), p.broker.adapter.clone(), p.params.options.clone()));
            }
        }
        for n in names {
            if !out.iter().any(|(name, _, _)| name == n) {
                bail!("{}: no broker named `{n}` with `provision: local`", file.display());
            }
        }
        return Ok((out, true));
    }
    let explicit = !names.is_empty();
    let list: Vec<String> = if explicit { names.to_vec() } else { DEFAULT_UP.iter().map(|s| s.to_string()).collect() };
    Ok((list.into_iter().map(|n| (n.clone(), n, serde_json::Map::new())).collect(), explicit))
}

/// Starts the brokers and records them; returns the ones started now.
pub async fn up(names: &[String], scenario_file: Option<&Path>) -> anyhow::Result<Vec<UpBroker>> {
    let path = state_file();
    let mut state = load_state(&path)?;
    state.brokers.retain(is_running);
    let (targets, explicit) = targets(names, scenario_file)?;
    let mut started = Vec::new();
    let mut failures = Vec::new();
    for (name, adapter, options) in targets {
        if let Some(b) = state.brokers.iter().find(|b| b.name == name) {
            println!("{name}: already up at {} ({})", b.endpoint, b.software);
            continue;
        }
        let kind = match kind_for(&adapter, &options) {
            Ok(k) => k,
            Err(e) if !explicit => {
                println!("{name}: skipped ({e:#})");
                continue;
            }
            Err(e) => {
                failures.push(format!("{name}: {e:#}"));
                continue;
            }
        };
        match Instance::start(kind.as_ref(), Mode::Detached).await {
            Ok(instance) => {
                let (endpoint, software) = (instance.endpoint.clone(), instance.software.clone());
                let (dir, groups) = instance.detach();
                let b = UpBroker {
                    name: name.clone(),
                    adapter,
                    endpoint,
                    software,
                    dir,
                    processes: groups.into_iter().map(|(pid, program, log)| UpProcess { pid, program, log }).collect(),
                };
                println!("{name}: {} ({}), files in {}", b.endpoint, b.software, b.dir.display());
                state.brokers.push(b.clone());
                save_state(&path, &state)?;
                started.push(b);
            }
            Err(e) => failures.push(format!("{name}: {e:#}")),
        }
    }
    save_state(&path, &state)?;
    if !state.brokers.is_empty() {
        println!("state in {}; stop them with `mqbench brokers down`", path.display());
    }
    if !failures.is_empty() {
        bail!("some brokers did not start:\n{}", failures.join("\n"));
    }
    Ok(started)
}

/// Stops every recorded broker and removes its directory; returns their names.
pub async fn down() -> anyhow::Result<Vec<String>> {
    let path = state_file();
    let state = load_state(&path)?;
    let mut stopped = Vec::new();
    for b in &state.brokers {
        let running = is_running(b);
        for p in b.processes.iter().rev() {
            if running {
                let mut g = Group::adopt(p.pid, p.program.clone(), p.log.clone());
                g.stop(Duration::from_secs(15)).await;
            }
        }
        // Only directories this tool made (a hand-edited state file must
        // not remove anything else).
        if b.dir.file_name().is_some_and(|n| n.to_string_lossy().starts_with("mqbench-")) {
            let _ = std::fs::remove_dir_all(&b.dir);
        }
        println!("{}: {}", b.name, if running { "stopped" } else { "was not running" });
        stopped.push(b.name.clone());
    }
    save_state(&path, &State::default())?;
    Ok(stopped)
}

/// The `mqbench brokers` subcommand; returns the exit code.
pub async fn execute(command: BrokersCommand) -> anyhow::Result<i32> {
    match command {
        BrokersCommand::Up { names, scenario } => {
            // Ctrl-C while brokers start: the one starting is stopped (its
            // group is still registered), those already up stay recorded.
            tokio::select! {
                r = up(&names, scenario.as_deref()) => { r?; }
                _ = crate::system::stop_signal::stop_requested() => {
                    eprintln!("interrupted: `mqbench brokers down` stops the brokers already up");
                    return Ok(crate::system::stop_signal::exit_code());
                }
            }
        }
        BrokersCommand::Down => {
            if down().await?.is_empty() {
                println!("no brokers are up (state file {})", state_file().display());
            }
        }
        BrokersCommand::Status => {
            let state = load_state(&state_file())?;
            if state.brokers.is_empty() {
                println!("no brokers are up");
            }
            for b in &state.brokers {
                let status = if is_running(b) { "up" } else { "gone" };
                println!("{}: {} {} ({}), files in {}", b.name, status, b.endpoint, b.software, b.dir.display());
            }
        }
    }
    Ok(0)
}
