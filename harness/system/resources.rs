//! CPU ticks and resident memory of process trees, from /proc: the
//! harness itself, and each broker it started (with all its helpers).
//! Summing samples over a window is the runner's (`run/usage.rs`).

use std::collections::HashMap;

/// Clock ticks per second, the unit of [`TreeSample::cpu_ticks`].
pub fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// (parent pid, utime + stime ticks, resident pages) of a process.
fn stat(pid: u32) -> Option<(u32, u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ppid = f.get(1)?.parse().ok()?;
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    let rss: u64 = f.get(21)?.parse().ok()?;
    Some((ppid, utime + stime, rss))
}

/// A sample of a process tree: total CPU ticks and resident bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct TreeSample {
    pub cpu_ticks: u64,
    pub rss_bytes: u64,
}

/// Sums `roots` and all their descendants.
pub fn sample_tree(roots: &[u32]) -> TreeSample {
    let mut procs: HashMap<u32, (u32, u64, u64)> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
                if let Some(s) = stat(pid) {
                    procs.insert(pid, s);
                }
            }
        }
    }
    let mut in_tree: Vec<u32> = roots.iter().copied().filter(|p| procs.contains_key(p)).collect();
    let mut i = 0;
    while i < in_tree.len() {
        let parent = in_tree[i];
        for (pid, (ppid, _, _)) in &procs {
            if *ppid == parent && !in_tree.contains(pid) {
                in_tree.push(*pid);
            }
        }
        i += 1;
    }
    let page = page_size();
    let mut s = TreeSample::default();
    for pid in in_tree {
        let (_, ticks, rss) = procs[&pid];
        s.cpu_ticks += ticks;
        s.rss_bytes += rss * page;
    }
    s
}

/// Usage of the harness process alone (its threads, not its children).
pub fn sample_self() -> TreeSample {
    let pid = std::process::id();
    stat(pid).map(|(_, t, r)| TreeSample { cpu_ticks: t, rss_bytes: r * page_size() }).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_sample_sees_this_process() {
        let s = sample_self();
        assert!(s.rss_bytes > 0);
        let tree = sample_tree(&[std::process::id()]);
        assert!(tree.rss_bytes >= s.rss_bytes);
    }
}
