//! `mqbench brokers up|down`: local brokers for manual use. `up` starts
//! them detached (their own sessions, no parent-death signal), prints their
//! endpoints and records them in a state file; `down` stops every recorded
//! broker (gracefully, then by force) and removes its directory.
//!
//! State file: `$MQBENCH_STATE_DIR/brokers.json`, else
//! `$XDG_RUNTIME_DIR/mqbench/brokers.json`, else
//! `/tmp/mqbench-<uid>/brokers.json`.
//!
//! With `--scenario`, a broker whose points have `security:` is started
//! with a listener per profile and the users they name, as a run would
//! start it: the passwords are read from the `password_env` variables now
//! and go only into the broker's own config files (readable by their owner
//! alone, in its directory, removed by `down`). `up` and `status` print
//! each profile's endpoint and the CA file that signed the broker's
//! certificate; the state file records the same, never a password.

use super::instance::Instance;
use super::process::{Group, Mode};
use super::{kind_for, kind_with_security, DEFAULT_UP};
use crate::scenario::security::Security;
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
    /// The listener of each security profile the broker was started with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secured: Vec<SecuredEndpoint>,
    /// The CA that signed its certificate (clients name it as `ca_file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

/// One security profile's listener of a broker `up` started.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SecuredEndpoint {
    /// `sasl_ssl-plain`, as point ids and reports name it.
    pub profile: String,
    pub endpoint: String,
}

impl UpBroker {
    /// The lines `up` and `status` print below the broker's own.
    fn security_lines(&self) -> String {
        let mut out = String::new();
        for s in &self.secured {
            out.push_str(&format!("\n  {}: {}", s.profile, s.endpoint));
        }
        if let Some(ca) = &self.ca_file {
            out.push_str(&format!("\n  CA: {} (`tls: {{ca_file: ...}}`)", ca.display()));
        }
        out
    }
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

/// What to start: its name, adapter, options, and the security profiles
/// of its points.
struct Target {
    name: String,
    adapter: String,
    options: serde_json::Map<String, serde_json::Value>,
    securities: Vec<Security>,
}

fn targets(names: &[String], scenario_file: Option<&Path>) -> anyhow::Result<(Vec<Target>, bool)> {
    if let Some(file) = scenario_file {
        let s = scenario::load(file, &Overrides::default(), &crate::adapter::Rules)?;
        let mut out: Vec<Target> = Vec::new();
        for p in s.points.iter().filter(|p| p.broker.provision == Provision::Local) {
            if !names.is_empty() && !names.contains(&p.broker.name) {
                continue;
            }
            let i = match out.iter().position(|t| t.name == p.broker.name) {
                Some(i) => i,
                None => {
                    out.push(Target {
                        name: p.broker.name.clone(),
                        adapter: p.broker.adapter.clone(),
                        options: p.params.options.clone(),
                        securities: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            if let Some(sec) = &p.params.security {
                if !out[i].securities.contains(sec) {
                    out[i].securities.push(sec.clone());
                }
            }
        }
        for n in names {
            if !out.iter().any(|t| &t.name == n) {
                bail!("{}: no broker named `{n}` with `provision: local`", file.display());
            }
        }
        return Ok((out, true));
    }
    let explicit = !names.is_empty();
    let list: Vec<String> = if explicit { names.to_vec() } else { DEFAULT_UP.iter().map(|s| s.to_string()).collect() };
    let target =
        |n: String| Target { name: n.clone(), adapter: n, options: serde_json::Map::new(), securities: Vec::new() };
    Ok((list.into_iter().map(target).collect(), explicit))
}

/// Starts the brokers and records them; returns the ones started now.
pub async fn up(names: &[String], scenario_file: Option<&Path>) -> anyhow::Result<Vec<UpBroker>> {
    let path = state_file();
    let mut state = load_state(&path)?;
    state.brokers.retain(is_running);
    let (targets, explicit) = targets(names, scenario_file)?;
    let mut started = Vec::new();
    let mut failures = Vec::new();
    for Target { name, adapter, options, securities } in targets {
        if let Some(b) = state.brokers.iter().find(|b| b.name == name) {
            println!("{name}: already up at {} ({}){}", b.endpoint, b.software, b.security_lines());
            continue;
        }
        let kind = if securities.is_empty() {
            kind_for(&adapter, &options)
        } else {
            kind_with_security(&adapter, &options, &securities)
        };
        let kind = match kind {
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
                let mut secured = Vec::new();
                for sec in &securities {
                    match kind.secured_endpoint(&instance.ports, sec) {
                        Ok(endpoint) => secured.push(SecuredEndpoint { profile: sec.label(), endpoint }),
                        Err(e) => failures.push(format!("{name}: {e:#}")),
                    }
                }
                let ca_file = super::certs::ca_file(instance.dir());
                let (dir, groups) = instance.detach();
                let b = UpBroker {
                    name: name.clone(),
                    adapter,
                    endpoint,
                    software,
                    dir,
                    processes: groups.into_iter().map(|(pid, program, log)| UpProcess { pid, program, log }).collect(),
                    secured,
                    ca_file,
                };
                println!("{name}: {} ({}), files in {}{}", b.endpoint, b.software, b.dir.display(), b.security_lines());
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
                println!(
                    "{}: {} {} ({}), files in {}{}",
                    b.name,
                    status,
                    b.endpoint,
                    b.software,
                    b.dir.display(),
                    b.security_lines()
                );
            }
        }
    }
    Ok(0)
}
