//! The child processes of locally started brokers, one process group each.
//!
//! Why process groups: brokers fork helpers (RabbitMQ's shell wrapper
//! starts `beam.smp`, which starts `epmd`...). Signalling the group reaches
//! them all, so nothing outlives mqbench. Every group that is started is
//! entered in a process-wide registry; [`stop_all`] (called when
//! `mqbench` exits, whatever the reason) stops whatever is still there, and
//! each [`Group`] stops itself when dropped. The direct child also gets
//! `PR_SET_PDEATHSIG`, so even a SIGKILLed mqbench takes its brokers with
//! it.
//!
//! Processes are forked from one long-lived thread: the kernel sends the
//! parent-death signal when the *thread* that forked exits, and tokio's
//! blocking-pool threads come and go.

use anyhow::{anyhow, Context};
use std::collections::BTreeSet;
use std::io::{BufRead, Seek};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How many log lines an error quotes.
pub const LOG_TAIL_LINES: usize = 20;

/// Process groups started by this process and not yet stopped.
fn registry() -> &'static Mutex<BTreeSet<i32>> {
    static REGISTRY: OnceLock<Mutex<BTreeSet<i32>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(BTreeSet::new()))
}

fn register(pgid: i32) {
    registry().lock().unwrap_or_else(|e| e.into_inner()).insert(pgid);
}

fn unregister(pgid: i32) {
    registry().lock().unwrap_or_else(|e| e.into_inner()).remove(&pgid);
}

/// Process groups still registered (started and not stopped).
pub fn registered() -> Vec<i32> {
    registry().lock().unwrap_or_else(|e| e.into_inner()).iter().copied().collect()
}

/// Stops every registered process group (SIGTERM, then SIGKILL after
/// `grace`), blocking. The last line of defence at exit.
pub fn stop_all(grace: Duration) {
    let groups = registered();
    for &g in &groups {
        signal_group(g, libc::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    for &g in &groups {
        while !group_gone(g) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if !group_gone(g) {
            signal_group(g, libc::SIGKILL);
            let hard = Instant::now() + Duration::from_secs(2);
            while !group_gone(g) && Instant::now() < hard {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        unregister(g);
    }
}

type SpawnJob = (Command, mpsc::SyncSender<std::io::Result<Child>>);

/// Forks on the spawner thread (see the module docs for why).
fn spawn_on_spawner(command: Command) -> std::io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        std::thread::Builder::new()
            .name("mqbench-spawner".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("cannot start the process-spawning thread");
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::sync_channel(1);
    tx.lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((command, reply_tx))
        .map_err(|_| std::io::Error::other("the process-spawning thread is gone"))?;
    reply_rx.recv().map_err(|_| std::io::Error::other("the process-spawning thread is gone"))?
}

fn signal_group(pgid: i32, sig: i32) {
    if pgid > 1 {
        // SAFETY: kill has no memory preconditions; a negative pid names a group.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }
}

/// Reaps the group leader if it is our child and has exited.
fn reap(pid: i32) -> Option<i32> {
    let mut status = 0;
    // SAFETY: waitpid writes only to `status`.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    (r == pid).then_some(status)
}

/// True once no process of the group is left (zombies of our own children
/// are reaped first, since a zombie still belongs to its group).
fn group_gone(pgid: i32) -> bool {
    reap(pgid);
    // SAFETY: signal 0 only checks for existence.
    let r = unsafe { libc::kill(-pgid, 0) };
    r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// How a process ended, in words.
fn describe_status(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("exited with code {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("was killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("ended (wait status {status})")
    }
}

/// One started process and its process group (pgid = its pid).
pub struct Group {
    pub pid: i32,
    /// Program name, for messages.
    pub program: String,
    pub log: PathBuf,
    /// Set once the leader has been reaped.
    exit: Option<String>,
    /// Left running on drop (`mqbench brokers up`).
    detached: bool,
}

/// How a group is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Stopped with mqbench: own process group, parent-death signal.
    Attached,
    /// Can outlive mqbench once [`Group::detach`]ed (`brokers up`): own
    /// session, no death signal.
    Detached,
}

impl Group {
    /// Starts `command` with stdout and stderr appended to `log`, stdin
    /// closed, in its own process group.
    pub fn spawn(mut command: Command, log: &Path, mode: Mode) -> anyhow::Result<Group> {
        let program = command.get_program().to_string_lossy().into_owned();
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot create log file {}", log.display()))?;
        let err = out.try_clone()?;
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        match mode {
            Mode::Attached => {
                command.process_group(0);
                // SAFETY: the closure runs in the forked child before exec and
                // only calls async-signal-safe functions (prctl, getppid).
                let parent = std::process::id() as i32;
                unsafe {
                    command.pre_exec(move || {
                        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        // The parent may have died before prctl took effect.
                        if libc::getppid() != parent {
                            return Err(std::io::Error::other("mqbench exited while starting the broker"));
                        }
                        Ok(())
                    });
                }
            }
            Mode::Detached => {
                // SAFETY: setsid is async-signal-safe.
                unsafe {
                    command.pre_exec(|| {
                        if libc::setsid() < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
            }
        }
        let child = spawn_on_spawner(command).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow!(
                    "cannot start `{program}`: no such program (install the brokers with docker/install-brokers.sh)"
                )
            } else {
                anyhow!("cannot start `{program}`: {e}")
            }
        })?;
        let pid = child.id() as i32;
        // The Child handle is dropped without waiting: the group is managed
        // through its pid (std neither kills nor reaps on drop).
        drop(child);
        // Registered in both modes: a detached group is stopped like any
        // other until [`Group::detach`] hands it over (a failed start must
        // not leave it behind).
        register(pid);
        Ok(Group { pid, program, log: log.to_path_buf(), exit: None, detached: false })
    }

    /// Re-attaches to a detached group by pid (for `brokers down`).
    pub fn adopt(pid: i32, program: String, log: PathBuf) -> Group {
        Group { pid, program, log, exit: None, detached: false }
    }

    /// `Some(how it ended)` once the leader process has exited.
    pub fn exited(&mut self) -> Option<&str> {
        if self.exit.is_none() {
            if let Some(status) = reap(self.pid) {
                self.exit = Some(describe_status(status));
            } else {
                // Not our child (adopted) or still running: check existence.
                // SAFETY: signal 0 only checks for existence.
                let r = unsafe { libc::kill(self.pid, 0) };
                if r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
                    self.exit = Some("exited".into());
                }
            }
        }
        self.exit.as_deref()
    }

    /// True once no process of the group remains.
    pub fn gone(&mut self) -> bool {
        let _ = self.exited();
        group_gone(self.pid)
    }

    pub fn signal(&self, sig: i32) {
        signal_group(self.pid, sig);
    }

    /// SIGTERM, up to `grace` to go, then SIGKILL.
    pub async fn stop(&mut self, grace: Duration) {
        if !self.gone() {
            self.signal(libc::SIGTERM);
            let deadline = Instant::now() + grace;
            while !self.gone() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if !self.gone() {
                tracing::warn!("{} (pid {}) ignored SIGTERM for {grace:?}: killing it", self.program, self.pid);
                self.signal(libc::SIGKILL);
                let hard = Instant::now() + Duration::from_secs(5);
                while !self.gone() && Instant::now() < hard {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        unregister(self.pid);
    }

    /// [`Group::stop`] for places that cannot await (drop, exit).
    pub fn stop_blocking(&mut self, grace: Duration) {
        if !self.gone() {
            self.signal(libc::SIGTERM);
            let deadline = Instant::now() + grace;
            while !self.gone() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if !self.gone() {
                self.signal(libc::SIGKILL);
                let hard = Instant::now() + Duration::from_secs(5);
                while !self.gone() && Instant::now() < hard {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        unregister(self.pid);
    }

    /// Leaves the group running when this handle goes (`brokers up`).
    pub fn detach(mut self) -> i32 {
        self.detached = true;
        unregister(self.pid);
        self.pid
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if !self.detached {
            self.stop_blocking(Duration::from_secs(10));
        }
    }
}

/// The last `n` lines of a log file (reads at most its last 64 KiB).
pub fn log_tail(path: &Path, n: usize) -> String {
    let Ok(mut f) = std::fs::File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(std::io::SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let lines: Vec<String> = std::io::BufReader::new(f).lines().map_while(Result::ok).collect();
    let tail = &lines[lines.len().saturating_sub(n)..];
    if tail.is_empty() {
        "(log is empty)".into()
    } else {
        tail.join("\n")
    }
}

/// The first `n` lines of a log that report an error (`ERROR`, `FATAL`,
/// an exception), from its first 4 MiB: a JVM broker that fails to start
/// names the cause once and then logs a long shutdown, so the tail alone
/// would miss it.
pub fn log_errors(path: &Path, n: usize) -> Vec<String> {
    use std::io::Read;
    let Ok(f) = std::fs::File::open(path) else { return Vec::new() };
    std::io::BufReader::new(f.take(4 << 20))
        .lines()
        .map_while(Result::ok)
        .filter(|l| l.contains(" ERROR ") || l.contains("FATAL") || l.contains("Exception:"))
        .take(n)
        .collect()
}

/// Finds `program` on PATH, then in `extra` directories; the error says how
/// to install it.
pub fn find_program(program: &str, extra: &[PathBuf], install_hint: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(extra.iter().cloned());
    for dir in dirs {
        let candidate = dir.join(program);
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    Err(anyhow!("`{program}` not found on PATH{}: {install_hint}", {
        let shown: Vec<String> = extra.iter().map(|d| d.display().to_string()).collect();
        if shown.is_empty() {
            String::new()
        } else {
            format!(" nor in {}", shown.join(", "))
        }
    }))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_group_is_stopped_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sh.log");
        let mut cmd = Command::new("sh");
        // A parent that ignores SIGTERM's default by waiting on a child.
        cmd.args(["-c", "sleep 300 & echo started; wait"]);
        let mut g = Group::spawn(cmd, &log, Mode::Attached).unwrap();
        assert!(registered().contains(&g.pid));
        let deadline = Instant::now() + Duration::from_secs(5);
        while !log_tail(&log, 5).contains("started") && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!g.gone());
        g.stop(Duration::from_secs(5)).await;
        assert!(g.gone());
        assert!(!registered().contains(&g.pid));
    }

    #[test]
    fn a_missing_program_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let e = Group::spawn(Command::new("/nonexistent/redis-server"), &dir.path().join("x.log"), Mode::Attached)
            .err()
            .unwrap();
        assert!(e.to_string().contains("no such program"), "{e}");
        let e = find_program("no-such-broker-binary", &[dir.path().into()], "install it").unwrap_err();
        assert!(e.to_string().contains("no-such-broker-binary"), "{e}");
    }

    #[test]
    fn error_lines_are_found_wherever_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.log");
        let mut text = String::from("[t] INFO starting\n[t] ERROR Fatal error during startup\n");
        text.push_str(&(0..100).map(|i| format!("[t] INFO shutting down {i}\n")).collect::<String>());
        std::fs::write(&p, text).unwrap();
        assert_eq!(log_errors(&p, 5), vec!["[t] ERROR Fatal error during startup".to_string()]);
        assert!(!log_tail(&p, 20).contains("ERROR"));
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.log");
        std::fs::write(&p, (0..100).map(|i| format!("line {i}\n")).collect::<String>()).unwrap();
        let t = log_tail(&p, 3);
        assert_eq!(t, "line 97\nline 98\nline 99");
    }
}
