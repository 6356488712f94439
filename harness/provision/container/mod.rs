//! `provision: container`: brokers in containers that mqbench starts
//! through testcontainers, from the images docker/images.sh builds (or the
//! scenario's `image:`), on the host's network and free 127.0.0.1 ports.
//!
//! A broker kind is one [`kinds::ContainerKind`]: image, settings, endpoint
//! and probe. Around it, as for local brokers: a readiness loop that trusts
//! only the protocol probe and notices a container that exits while it
//! waits (quoting its log); the broker's CPU and memory from the
//! container's cgroup; a watch that turns a container that exits during a
//! point into a failed point, and a restart before the next one. The
//! container is removed when the broker stops (end of run, Ctrl-C,
//! SIGTERM), when its value is dropped (errors), at exit (see
//! [`engine::remove_all`]), and, for a SIGKILLed mqbench, by the next one.

pub mod engine;
pub mod kinds;

use crate::provision::local::instance::pick_ports;
use crate::provision::{Incident, RunningBroker};
use crate::system::cgroup::ContainerCgroup;
use anyhow::{anyhow, bail, Context};
use async_trait::async_trait;
use futures::StreamExt;
use kinds::ContainerKind;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testcontainers::core::WaitFor;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

/// How long one probe may take before it counts as "not ready yet".
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause between probes.
const PROBE_EVERY: Duration = Duration::from_millis(200);
/// Log lines quoted when a container fails.
const LOG_TAIL_LINES: usize = 20;

/// The image label that names the software inside, where the broker's
/// protocol does not (Kafka's): docker/images.sh sets it.
pub const SOFTWARE_LABEL: &str = "org.mqbench.software";

/// One started, ready container.
struct Started {
    container: ContainerAsync<GenericImage>,
    id: String,
    endpoint: String,
    software: Option<String>,
    cgroup: Option<ContainerCgroup>,
    /// Set by the watch task when the container exits: how it ended.
    exited: Arc<Mutex<Option<String>>>,
    /// The container's first process, as the host sees it: gone the moment
    /// the container dies, before the engine's exit event arrives.
    pid: Option<u32>,
    watch: tokio::task::JoinHandle<()>,
}

/// A broker in a container, restarted when it died.
pub struct ContainerBroker {
    kind: Box<dyn ContainerKind>,
    name: String,
    image: String,
    docker: bollard::Docker,
    started: Option<Started>,
}

impl ContainerBroker {
    /// Starts broker `name` (the scenario's label) for `adapter`, from
    /// `image` or the kind's default image.
    pub async fn start(name: &str, adapter: &str, image: Option<&str>) -> anyhow::Result<ContainerBroker> {
        let kind = kinds::kind_for(adapter)?;
        let docker = engine::connect().await?;
        engine::remove_stale(&docker).await?;
        let image = image.unwrap_or(kind.default_image()).to_string();
        let mut broker = ContainerBroker { kind, name: name.to_string(), image, docker, started: None };
        broker.started = Some(broker.start_one().await?);
        Ok(broker)
    }

    async fn start_one(&self) -> anyhow::Result<Started> {
        let kind = self.kind.as_ref();
        // A missing default image is ours to build; a missing other image
        // is the user's, which testcontainers pulls from their registry.
        let software_label = match engine::image_label(&self.docker, &self.image, SOFTWARE_LABEL).await {
            Ok(label) => label,
            Err(_) if self.image == kind.default_image() => bail!(
                "image `{}` is not there: build it with `docker/images.sh {}` (or name another with `image:`)",
                self.image,
                kind.name()
            ),
            Err(_) => None,
        };
        let ports = pick_ports(kind.ports_needed())?;
        let setup = kind.setup(&ports);
        let (repo, tag) = split_image(&self.image);
        let mut request = GenericImage::new(repo, tag)
            .with_wait_for(WaitFor::Nothing)
            .with_network("host")
            .with_label(engine::OWNER_LABEL, engine::owner())
            .with_label(engine::BROKER_LABEL, self.name.clone())
            .with_startup_timeout(Duration::from_secs(600));
        for (k, v) in &setup.env {
            request = request.with_env_var(k.clone(), v.clone());
        }
        if let Some(cmd) = &setup.cmd {
            request = request.with_cmd(cmd.clone());
        }
        let container = request.start().await.with_context(|| format!("starting a container of `{}`", self.image))?;
        let id = container.id().to_string();
        engine::register(&id);
        let exited = Arc::new(Mutex::new(None));
        let watch = tokio::spawn(watch_exit(self.docker.clone(), id.clone(), exited.clone()));
        let pid = match self.docker.inspect_container(&id, None).await {
            Ok(i) => i.state.and_then(|s| s.pid).and_then(|p| u32::try_from(p).ok()).filter(|p| *p > 0),
            Err(_) => None,
        };
        let mut started = Started {
            pid,
            cgroup: ContainerCgroup::find(&id),
            container,
            id,
            endpoint: kind.endpoint(&ports),
            software: None,
            exited,
            watch,
        };
        match self.wait_ready(&started, &ports).await {
            Ok(software) => {
                started.software = software.or(software_label);
                Ok(started)
            }
            Err(e) => {
                let logs = log_tail(&started.container).await;
                remove(&self.docker, started).await;
                Err(anyhow!("{e:#}{logs}"))
            }
        }
    }

    /// Probes until the broker answers, the container exits or time runs out.
    async fn wait_ready(
        &self,
        started: &Started,
        ports: &crate::provision::local::Ports,
    ) -> anyhow::Result<Option<String>> {
        let kind = self.kind.as_ref();
        let deadline = Instant::now() + kind.ready_timeout();
        let mut last;
        loop {
            if let Some(how) = started.exited.lock().unwrap_or_else(|e| e.into_inner()).clone() {
                bail!("the {} container ({}) exited before it was ready: {how}", kind.name(), self.image);
            }
            match tokio::time::timeout(PROBE_TIMEOUT, kind.probe(ports)).await {
                Ok(Ok(software)) => return Ok(software),
                Ok(Err(e)) => last = format!("{e:#}"),
                Err(_) => last = format!("the probe took over {PROBE_TIMEOUT:?}"),
            }
            if Instant::now() >= deadline {
                bail!(
                    "the {} container ({}) was not ready after {:?}: {last}",
                    kind.name(),
                    self.image,
                    kind.ready_timeout()
                );
            }
            tokio::time::sleep(PROBE_EVERY).await;
        }
    }
}

/// True while process `pid` runs (a zombie is not running).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit(')').next().is_some_and(|r| !r.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// `repo[:tag]` split at the tag's colon (a registry's `host:port/` is not a tag).
fn split_image(image: &str) -> (String, String) {
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), tag.to_string()),
        _ => (image.to_string(), "latest".to_string()),
    }
}

/// Waits for the container to exit and records how.
async fn watch_exit(docker: bollard::Docker, id: String, exited: Arc<Mutex<Option<String>>>) {
    let mut wait = docker.wait_container(&id, None::<bollard::query_parameters::WaitContainerOptions>);
    let how = match wait.next().await {
        Some(Ok(r)) => format!("exit code {}", r.status_code),
        // bollard reports a non-zero exit code as this error.
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => format!("exit code {code}"),
        Some(Err(e)) => format!("lost track of it: {e}"),
        None => "lost track of it".to_string(),
    };
    *exited.lock().unwrap_or_else(|e| e.into_inner()) = Some(how);
}

/// The container's last log lines, as an error suffix.
async fn log_tail(container: &ContainerAsync<GenericImage>) -> String {
    let mut text = String::new();
    for bytes in [container.stdout_to_vec().await, container.stderr_to_vec().await].into_iter().flatten() {
        text.push_str(&String::from_utf8_lossy(&bytes));
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
    format!("\n  its log ends with:\n    {}", tail.join("\n    "))
}

/// Removes a started container (whatever its state) and forgets it.
async fn remove(docker: &bollard::Docker, started: Started) {
    started.watch.abort();
    let id = started.id.clone();
    if let Err(e) = started.container.rm().await {
        tracing::warn!("removing container {id}: {e}; retrying");
        if let Err(e) = engine::remove(docker, &id).await {
            tracing::warn!("{e:#}");
        }
    }
    engine::unregister(&id);
}

#[async_trait]
impl RunningBroker for ContainerBroker {
    fn endpoint(&self) -> String {
        self.started.as_ref().map(|s| s.endpoint.clone()).unwrap_or_default()
    }

    fn software_hint(&self) -> Option<String> {
        self.started.as_ref().and_then(|s| s.software.clone())
    }

    fn cgroup(&self) -> Option<ContainerCgroup> {
        self.started.as_ref().and_then(|s| s.cgroup.clone())
    }

    /// Restarts a container that exited (or was removed) since the last point.
    async fn before_point(&mut self) -> anyhow::Result<()> {
        let dead = match &self.started {
            None => Some("it is not running".to_string()),
            Some(s) => s
                .exited
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .or_else(|| s.pid.filter(|p| !alive(*p)).map(|_| "its first process is gone".to_string())),
        };
        if let Some(why) = dead {
            tracing::warn!("restarting the {} container ({why})", self.kind.name());
            if let Some(s) = self.started.take() {
                remove(&self.docker, s).await;
            }
            self.started = Some(self.start_one().await.with_context(|| format!("restarting it after {why}"))?);
        }
        Ok(())
    }

    fn after_point(&mut self) -> Option<Incident> {
        let s = self.started.as_ref()?;
        let how = s.exited.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let how = how.or_else(|| s.pid.filter(|p| !alive(*p)).map(|_| "its first process is gone".to_string()))?;
        Some(Incident {
            message: format!("the {} container ({}) exited during the point: {how}", self.kind.name(), self.image),
            fatal: true,
        })
    }

    async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(s) = self.started.take() {
            remove(&self.docker, s).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_split_at_the_tag() {
        let s = |i: &str| split_image(i);
        assert_eq!(s("mqbench/redis:latest"), ("mqbench/redis".into(), "latest".into()));
        assert_eq!(s("redis"), ("redis".into(), "latest".into()));
        assert_eq!(s("registry:5000/team/kafka"), ("registry:5000/team/kafka".into(), "latest".into()));
        assert_eq!(s("registry:5000/kafka:4.0.0"), ("registry:5000/kafka".into(), "4.0.0".into()));
    }
}
