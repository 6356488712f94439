//! One running instance of a [`LocalKind`]: free ports, a fresh directory,
//! its processes, and a readiness loop that trusts only the protocol probe
//! (and notices a process that exits while we wait, whatever its code).
//! [`LocalBroker`] wraps an instance as the runner's [`RunningBroker`],
//! restarting it before a point when it died or grew past its memory bound.

use super::process::{log_errors, log_tail, Group, Mode, LOG_TAIL_LINES};
use super::{LocalKind, Ports};
use crate::provision::{Incident, RunningBroker};
use crate::system::resources::sample_tree;
use anyhow::{anyhow, bail, Context};
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long one probe may take before it counts as "not ready yet".
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause between probes.
const PROBE_EVERY: Duration = Duration::from_millis(100);

/// Distinct free ports on 127.0.0.1.
pub fn pick_ports(n: usize) -> anyhow::Result<Ports> {
    let mut ports: Vec<u16> = Vec::with_capacity(n);
    let mut tries = 0;
    while ports.len() < n {
        tries += 1;
        if tries > 100 * n.max(1) {
            bail!("cannot find {n} free TCP ports on 127.0.0.1");
        }
        let p = portpicker::pick_unused_port().ok_or_else(|| anyhow!("no free TCP port on 127.0.0.1"))?;
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    Ok(Ports(ports))
}

/// A started, ready broker instance.
pub struct Instance {
    pub ports: Ports,
    pub endpoint: String,
    /// What the probe reported (`redis 7.0.15`).
    pub software: String,
    /// Processes in launch order.
    pub groups: Vec<Group>,
    /// Removed on drop unless kept (detached instances keep theirs).
    dir: Option<tempfile::TempDir>,
    dir_path: PathBuf,
    stop_grace: Duration,
    stop_together: bool,
}

impl Instance {
    /// Starts `kind` and waits until its probe answers.
    pub async fn start(kind: &dyn LocalKind, mode: Mode) -> anyhow::Result<Instance> {
        let ports = pick_ports(kind.ports_needed())?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("mqbench-{}-", kind.name()))
            .tempdir()
            .context("cannot create the broker's temporary directory")?;
        let dir_path = dir.path().to_path_buf();
        let launches = kind.launches(&dir_path, &ports)?;
        let mut instance = Instance {
            endpoint: kind.endpoint(&ports),
            ports,
            software: String::new(),
            groups: Vec::new(),
            dir: Some(dir),
            dir_path,
            stop_grace: kind.stop_timeout(),
            stop_together: kind.stop_together(),
        };
        for launch in launches {
            let mut command = launch.command;
            if command.get_current_dir().is_none() {
                command.current_dir(&instance.dir_path);
            }
            let log = instance.dir_path.join(&launch.log);
            instance.groups.push(Group::spawn(command, &log, mode)?);
        }
        instance.software = instance.wait_ready(kind).await?;
        Ok(instance)
    }

    async fn wait_ready(&mut self, kind: &dyn LocalKind) -> anyhow::Result<String> {
        let started = Instant::now();
        let timeout = kind.ready_timeout();
        let mut last_error: String;
        loop {
            self.check_alive(kind.name(), "before it was ready")?;
            match tokio::time::timeout(PROBE_TIMEOUT, kind.probe(&self.ports)).await {
                Ok(Ok(software)) => {
                    // A port answered: make sure it is ours (a process that
                    // lost the port race logs a bind error and exits).
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    self.check_alive(kind.name(), "right after its port answered (is the port taken?)")?;
                    return Ok(software);
                }
                Ok(Err(e)) => last_error = format!("{e:#}"),
                Err(_) => last_error = format!("probe took longer than {PROBE_TIMEOUT:?}"),
            }
            if started.elapsed() > timeout {
                bail!(
                    "{} did not become ready within {timeout:?} (last probe: {last_error}){}",
                    kind.name(),
                    self.log_tails()
                );
            }
            tokio::time::sleep(PROBE_EVERY).await;
        }
    }

    /// Fails, quoting the logs, when any process has exited.
    fn check_alive(&mut self, name: &str, when: &str) -> anyhow::Result<()> {
        for i in 0..self.groups.len() {
            if let Some(how) = self.groups[i].exited().map(str::to_string) {
                let program = self.groups[i].program.clone();
                bail!("{name}: `{program}` {how} {when}{}", self.log_tails());
            }
        }
        Ok(())
    }

    /// The tail of every log, each under its path, for error messages,
    /// after the first lines that report an error.
    pub fn log_tails(&self) -> String {
        let mut out = String::new();
        for g in &self.groups {
            let errors = log_errors(&g.log, 5);
            if !errors.is_empty() {
                out.push_str(&format!("\n--- first error lines of {} ---\n{}", g.log.display(), errors.join("\n")));
            }
            out.push_str(&format!("\n--- last lines of {} ---\n{}", g.log.display(), log_tail(&g.log, LOG_TAIL_LINES)));
        }
        out
    }

    /// Which process has exited, if any.
    pub fn dead(&mut self) -> Option<String> {
        self.groups.iter_mut().find_map(|g| {
            let program = g.program.clone();
            g.exited().map(|how| format!("`{program}` {how}"))
        })
    }

    /// Every process that has exited, each as "`program` (its log) how".
    pub fn exited(&mut self) -> Vec<String> {
        self.groups
            .iter_mut()
            .filter_map(|g| {
                let (program, log) = (g.program.clone(), g.log.clone());
                let name = log.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                g.exited().map(|how| format!("`{program}` ({name}) {how}"))
            })
            .collect()
    }

    pub fn pids(&self) -> Vec<u32> {
        self.groups.iter().map(|g| g.pid as u32).collect()
    }

    pub fn dir(&self) -> &Path {
        &self.dir_path
    }

    /// Stops the groups in reverse launch order, each gracefully first (all
    /// signalled at once for kinds whose processes are peers).
    pub async fn stop(&mut self) {
        self.signal_peers();
        for g in self.groups.iter_mut().rev() {
            g.stop(self.stop_grace).await;
        }
    }

    /// SIGTERM to every group at once, for kinds that stop together.
    fn signal_peers(&mut self) {
        if self.stop_together {
            for g in self.groups.iter_mut() {
                if !g.gone() {
                    g.signal(libc::SIGTERM);
                }
            }
        }
    }

    /// Leaves the processes running and the directory in place; returns
    /// (pid, program, log) of each group.
    pub fn detach(mut self) -> (PathBuf, Vec<(i32, String, PathBuf)>) {
        let groups = std::mem::take(&mut self.groups)
            .into_iter()
            .map(|g| {
                let (program, log) = (g.program.clone(), g.log.clone());
                (g.detach(), program, log)
            })
            .collect();
        if let Some(d) = self.dir.take() {
            let _ = d.keep();
        }
        (self.dir_path.clone(), groups)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // Processes go before their directory does.
        self.signal_peers();
        for g in self.groups.iter_mut().rev() {
            g.stop_blocking(self.stop_grace);
        }
    }
}

/// A local broker as the runner sees it: started once per run, restarted
/// before a point when needed, stopped at the end.
pub struct LocalBroker {
    kind: Box<dyn LocalKind>,
    instance: Option<Instance>,
    software: String,
    restarts: u32,
}

impl LocalBroker {
    pub async fn start(kind: Box<dyn LocalKind>) -> anyhow::Result<LocalBroker> {
        let instance = Instance::start(kind.as_ref(), Mode::Attached).await?;
        Ok(LocalBroker { software: instance.software.clone(), instance: Some(instance), kind, restarts: 0 })
    }

    /// Times the broker was restarted (died, or grew past its bound).
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    async fn restart(&mut self, why: &str) -> anyhow::Result<()> {
        tracing::warn!("restarting {}: {why}", self.kind.name());
        if let Some(mut old) = self.instance.take() {
            old.stop().await;
        }
        let instance = Instance::start(self.kind.as_ref(), Mode::Attached)
            .await
            .with_context(|| format!("restarting {} ({why})", self.kind.name()))?;
        self.software = instance.software.clone();
        self.instance = Some(instance);
        self.restarts += 1;
        Ok(())
    }
}

#[async_trait]
impl RunningBroker for LocalBroker {
    fn endpoint(&self) -> String {
        self.instance.as_ref().map(|i| i.endpoint.clone()).unwrap_or_default()
    }

    fn software_hint(&self) -> Option<String> {
        Some(self.software.clone())
    }

    fn pids(&self) -> Vec<u32> {
        self.instance.as_ref().map(|i| i.pids()).unwrap_or_default()
    }

    fn endpoint_for(&self, security: Option<&crate::scenario::security::Security>) -> anyhow::Result<String> {
        match (security, self.instance.as_ref()) {
            (Some(s), Some(i)) => self.kind.secured_endpoint(&i.ports, s),
            _ => Ok(self.endpoint()),
        }
    }

    fn trust(&self) -> Option<PathBuf> {
        self.instance.as_ref().and_then(|i| super::certs::ca_file(i.dir()))
    }

    async fn before_point(&mut self) -> anyhow::Result<()> {
        let why = match self.instance.as_mut() {
            None => Some("it is not running".to_string()),
            Some(i) => match i.dead() {
                Some(d) => Some(format!("{d}{}", i.log_tails())),
                None => self.kind.max_rss_bytes().and_then(|max| {
                    let rss = sample_tree(&i.pids()).rss_bytes;
                    (rss > max).then(|| format!("its processes use {rss} bytes of memory, over the bound of {max}"))
                }),
            },
        };
        match why {
            Some(why) => self.restart(&why).await,
            None => Ok(()),
        }
    }

    fn after_point(&mut self) -> Option<Incident> {
        let i = self.instance.as_mut()?;
        let dead = i.exited();
        if dead.is_empty() {
            return None;
        }
        let total = i.groups.len();
        let fatal = dead.len() * 2 >= total;
        let left = if fatal { String::new() } else { format!(" ({} of {total} still running)", total - dead.len()) };
        Some(Incident {
            message: format!("{} died during the point: {}{left}{}", self.kind.name(), dead.join("; "), i.log_tails()),
            fatal,
        })
    }

    async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut i) = self.instance.take() {
            i.stop().await;
        }
        Ok(())
    }
}
