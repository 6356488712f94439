//! Finding and killing the broker processes a test's mqbench started, by
//! what their command lines name (a private TMPDIR, so processes of tests
//! running beside it are never touched), and running the mqbench binary.
#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Pids of live processes whose command line contains every one of `parts`.
pub fn pids_with(parts: &[&str]) -> Vec<i32> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return found };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let Ok(raw) = std::fs::read(e.path().join("cmdline")) else { continue };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        // A zombie has an empty command line: it is not running.
        if !cmdline.is_empty() && parts.iter().all(|p| cmdline.contains(p)) {
            found.push(pid);
        }
    }
    found
}

/// Waits until `found` returns something, or fails the test after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut found: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(t) = found() {
            return t;
        }
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn sigkill(pid: i32) {
    // SAFETY: kill has no memory preconditions.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// The mqbench binary with a private TMPDIR (brokers' directories land in
/// it) and state directory.
pub fn mqbench(tmp: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mqbench"));
    c.env("TMPDIR", tmp).env("MQBENCH_STATE_DIR", tmp.join("state"));
    c
}

/// A directory under `root` whose name starts with `prefix`, and then a
/// path below it that `below` names (`node-1/data`), once both exist.
pub fn dir_below(root: &Path, prefix: &str, below: &str) -> Option<PathBuf> {
    std::fs::read_dir(root).ok()?.flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        let p = e.path().join(below);
        (name.starts_with(prefix) && p.exists()).then_some(p)
    })
}

/// An entry of `dir` whose name starts with `prefix` and ends with `suffix`.
pub fn entry_named(dir: &Path, prefix: &str, suffix: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        (name.starts_with(prefix) && name.ends_with(suffix)).then(|| e.path())
    })
}

/// Waits for `child` (an mqbench) to exit, at most `secs`, returning its
/// exit status and stderr; kills it and fails the test past the deadline.
pub fn wait_for_exit(mut child: std::process::Child, secs: u64) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("mqbench did not exit within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    (status, err)
}
