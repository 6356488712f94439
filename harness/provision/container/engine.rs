//! The Docker engine, as `provision: container` needs it: a connection that
//! fails with what to install or start, the labels that mark our
//! containers, the removal of containers that a killed mqbench left, and a
//! process-wide list of the containers this process started, which
//! [`remove_all`] removes at exit whatever happened before.
//!
//! Every container is labelled `org.mqbench.owner=<host>/<pid>/<start>`
//! (the owning process and its start time, so a reused pid is not taken
//! for its owner). At its first container of a run, mqbench removes every
//! labelled container of this host whose owner is no longer running: a
//! SIGKILLed mqbench's brokers live until the next mqbench starts.

use anyhow::{anyhow, Context};
use bollard::query_parameters::{ListContainersOptionsBuilder, RemoveContainerOptionsBuilder};
use bollard::Docker;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};

/// The label on every container mqbench starts; its value names the owner.
pub const OWNER_LABEL: &str = "org.mqbench.owner";
/// The label that names the scenario's broker a container serves.
pub const BROKER_LABEL: &str = "org.mqbench.broker";

/// What to do when no engine answers.
const INSTALL_HINT: &str = "`provision: container` needs a running Docker engine: install it \
     (Debian/Ubuntu: `apt-get install docker.io`) and start it (`systemctl start docker`, or `dockerd &` as root); \
     `docker/images.sh` does both and builds the broker images";

/// A connection to the engine that answers a ping.
pub async fn connect() -> anyhow::Result<Docker> {
    let docker = Docker::connect_with_local_defaults().map_err(|e| anyhow!("{INSTALL_HINT} ({e})"))?;
    match tokio::time::timeout(std::time::Duration::from_secs(10), docker.ping()).await {
        Ok(Ok(_)) => Ok(docker),
        Ok(Err(e)) => Err(anyhow!("no Docker engine answers ({e}): {INSTALL_HINT}")),
        Err(_) => Err(anyhow!("the Docker engine did not answer a ping in 10 s: {INSTALL_HINT}")),
    }
}

/// The start time of process `pid` in clock ticks since boot (field 22 of
/// /proc/PID/stat), which tells a process from a later one with its pid.
fn start_time(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    text[text.rfind(')')? + 2..].split_whitespace().nth(19)?.parse().ok()
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
}

/// This process as an owner label value.
pub fn owner() -> String {
    let pid = std::process::id();
    format!("{}/{pid}/{}", host_name(), start_time(pid).unwrap_or(0))
}

/// True when `owner` names a process of this host that is gone.
fn owner_is_gone(owner: &str) -> bool {
    let mut parts = owner.rsplitn(3, '/');
    let (Some(start), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
        return false;
    };
    host == host_name() && start_time(pid) != Some(start)
}

/// Removes the labelled containers whose owner has gone, once per process.
/// Returns how many it removed.
pub async fn remove_stale(docker: &Docker) -> anyhow::Result<usize> {
    static DONE: tokio::sync::OnceCell<usize> = tokio::sync::OnceCell::const_new();
    DONE.get_or_try_init(|| async {
        let filters = HashMap::from([("label", vec![OWNER_LABEL])]);
        let list = docker
            .list_containers(Some(ListContainersOptionsBuilder::new().all(true).filters(&filters).build()))
            .await
            .context("listing containers")?;
        let mut removed = 0;
        for c in list {
            let owner = c.labels.as_ref().and_then(|l| l.get(OWNER_LABEL)).cloned().unwrap_or_default();
            if let (Some(id), true) = (c.id, owner_is_gone(&owner)) {
                tracing::warn!("removing container {id} left by an mqbench that is gone ({owner})");
                remove(docker, &id).await?;
                removed += 1;
            }
        }
        Ok::<usize, anyhow::Error>(removed)
    })
    .await
    .copied()
}

/// Removes a container, running or not, with its anonymous volumes.
pub async fn remove(docker: &Docker, id: &str) -> anyhow::Result<()> {
    match docker.remove_container(id, Some(RemoveContainerOptionsBuilder::new().force(true).v(true).build())).await {
        Ok(()) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
        Err(e) => Err(anyhow!("removing container {id}: {e}")),
    }
}

/// Containers started by this process and not yet removed.
fn registry() -> &'static Mutex<BTreeSet<String>> {
    static REGISTRY: OnceLock<Mutex<BTreeSet<String>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(BTreeSet::new()))
}

pub fn register(id: &str) {
    registry().lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_string());
}

pub fn unregister(id: &str) {
    registry().lock().unwrap_or_else(|e| e.into_inner()).remove(id);
}

/// Removes every container still registered, blocking (on a runtime of
/// its own: it runs after the main runtime is gone). The last line of
/// defence at exit, as `local::process::stop_all` is for processes.
pub fn remove_all() {
    let ids: Vec<String> = registry().lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect();
    if ids.is_empty() {
        return;
    }
    let work = move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
        rt.block_on(async {
            let docker = Docker::connect_with_local_defaults().ok()?;
            for id in &ids {
                if let Err(e) = remove(&docker, id).await {
                    eprintln!("mqbench: {e:#}");
                }
                unregister(id);
            }
            Some(())
        })
    };
    // A thread of its own: this may be called from inside a runtime.
    let _ = std::thread::spawn(work).join();
}

/// The image's label `name`; `Ok(None)` when it has no such label,
/// `Err` when the image is not there.
pub async fn image_label(docker: &Docker, image: &str, name: &str) -> Result<Option<String>, bollard::errors::Error> {
    let inspect = docker.inspect_image(image).await?;
    Ok(inspect.config.and_then(|c| c.labels).and_then(|l| l.get(name).cloned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_is_gone_only_when_its_process_is() {
        assert!(!owner_is_gone(&owner()), "this process is running");
        let host = host_name();
        assert!(owner_is_gone(&format!("{host}/{}/1", std::process::id())), "same pid, other start: a reused pid");
        assert!(owner_is_gone(&format!("{host}/4194305/7")), "no such pid (above pid_max)");
        assert!(!owner_is_gone("another-host/4194305/7"), "other hosts' containers are theirs to clean");
        assert!(!owner_is_gone("garbage"));
    }
}
