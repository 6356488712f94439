//! CPU time and resident memory of a container, from its control group:
//! what `provision: container` reports as the broker's usage, in the same
//! [`TreeSample`] form as a local broker's process tree.
//!
//! Why the cgroup and not the container's processes in /proc: the cgroup
//! counts every process the container ever ran (short-lived helpers too)
//! and needs no view of the container's process tree. Memory is the
//! resident part only (anonymous plus mapped file pages), not the page
//! cache the cgroup also charges, so it compares with a local broker's RSS.
//!
//! Both layouts are read: cgroup v1 (one hierarchy per controller, as
//! Docker's `cgroupfs` driver makes them under `/sys/fs/cgroup/<controller>/docker/<id>`)
//! and v2 (one unified tree), with Docker's `systemd` driver's
//! `system.slice/docker-<id>.scope` names as well.

use super::resources::{ticks_per_second, TreeSample};
use std::path::{Path, PathBuf};

const ROOT: &str = "/sys/fs/cgroup";

/// Where one container's accounting files are.
#[derive(Clone, Debug, PartialEq)]
pub enum ContainerCgroup {
    /// `cpuacct.usage` (nanoseconds) and the memory controller's `memory.stat`.
    V1 { cpu_usage: PathBuf, memory_stat: PathBuf },
    /// The unified directory: `cpu.stat` (`usage_usec`) and `memory.stat`.
    V2 { dir: PathBuf },
}

impl ContainerCgroup {
    /// The cgroup of the container with full id `id`, if this host shows it.
    pub fn find(id: &str) -> Option<ContainerCgroup> {
        ContainerCgroup::find_under(Path::new(ROOT), id)
    }

    fn find_under(root: &Path, id: &str) -> Option<ContainerCgroup> {
        let leaves = [format!("docker/{id}"), format!("system.slice/docker-{id}.scope")];
        for leaf in &leaves {
            let cpu = ["cpuacct", "cpu,cpuacct"]
                .iter()
                .map(|c| root.join(c).join(leaf).join("cpuacct.usage"))
                .find(|p| p.exists());
            let memory = root.join("memory").join(leaf).join("memory.stat");
            if let Some(cpu_usage) = cpu {
                if memory.exists() {
                    return Some(ContainerCgroup::V1 { cpu_usage, memory_stat: memory });
                }
            }
            let dir = root.join(leaf);
            if dir.join("cpu.stat").exists() && dir.join("memory.stat").exists() {
                return Some(ContainerCgroup::V2 { dir });
            }
        }
        None
    }

    /// CPU time so far and resident memory now; `None` once the cgroup is
    /// gone (the container stopped).
    pub fn sample(&self) -> Option<TreeSample> {
        let (cpu_ns, rss) = match self {
            ContainerCgroup::V1 { cpu_usage, memory_stat } => {
                let ns: u64 = std::fs::read_to_string(cpu_usage).ok()?.trim().parse().ok()?;
                let stat = std::fs::read_to_string(memory_stat).ok()?;
                (ns, field(&stat, "total_rss")? + field(&stat, "total_mapped_file").unwrap_or(0))
            }
            ContainerCgroup::V2 { dir } => {
                let cpu = std::fs::read_to_string(dir.join("cpu.stat")).ok()?;
                let stat = std::fs::read_to_string(dir.join("memory.stat")).ok()?;
                (field(&cpu, "usage_usec")? * 1000, field(&stat, "anon")? + field(&stat, "file_mapped").unwrap_or(0))
            }
        };
        let ticks = (cpu_ns as f64 * ticks_per_second() / 1e9).round() as u64;
        Some(TreeSample { cpu_ticks: ticks, rss_bytes: rss })
    }
}

/// The value of `name` in a `key value` per line file.
fn field(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == name).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_files_are_found_and_read() {
        let root = tempfile::tempdir().unwrap();
        let cpu = root.path().join("cpuacct/docker/abc");
        let mem = root.path().join("memory/docker/abc");
        std::fs::create_dir_all(&cpu).unwrap();
        std::fs::create_dir_all(&mem).unwrap();
        std::fs::write(cpu.join("cpuacct.usage"), "2000000000\n").unwrap();
        std::fs::write(
            mem.join("memory.stat"),
            "cache 999\nrss 10\ntotal_cache 999\ntotal_rss 4096\ntotal_mapped_file 1024\n",
        )
        .unwrap();
        let cg = ContainerCgroup::find_under(root.path(), "abc").unwrap();
        let s = cg.sample().unwrap();
        assert_eq!(s.cpu_ticks, (2.0 * ticks_per_second()) as u64);
        assert_eq!(s.rss_bytes, 5120, "resident = total_rss + total_mapped_file, without the page cache");
        assert_eq!(ContainerCgroup::find_under(root.path(), "other"), None);
        std::fs::remove_file(cpu.join("cpuacct.usage")).unwrap();
        assert!(cg.sample().is_none(), "a removed cgroup gives no sample");
    }

    #[test]
    fn v2_files_are_found_and_read() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("system.slice/docker-abc.scope");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cpu.stat"), "usage_usec 500000\nuser_usec 1\n").unwrap();
        std::fs::write(dir.join("memory.stat"), "anon 8192\nfile 77777\nfile_mapped 100\n").unwrap();
        let s = ContainerCgroup::find_under(root.path(), "abc").unwrap().sample().unwrap();
        assert_eq!(s.cpu_ticks, (0.5 * ticks_per_second()).round() as u64);
        assert_eq!(s.rss_bytes, 8292);
    }
}
