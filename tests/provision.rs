//! Local provisioning: readiness that trusts only the probe, errors that
//! quote the log, restarts before a point, `brokers up/down`, and no
//! broker process outliving `mqbench run` however it ends (normally, with
//! a failed point, by SIGINT and by SIGTERM).

use async_trait::async_trait;
use mqbench::provision::local::redis::RedisKind;
use mqbench::provision::local::{Launch, LocalBroker, LocalKind, Ports};
use mqbench::provision::RunningBroker;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Pids of redis-server processes whose working directory is under `root`
/// (local provisioning runs each broker in a fresh directory under TMPDIR).
fn redis_servers_under(root: &Path) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
        if comm.trim() == "redis-server" && cwd.starts_with(root) {
            out.push(pid);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; look at its state.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit(')').next().map(|r| !r.trim_start().starts_with('Z')).unwrap_or(false))
        .unwrap_or(false)
}

/// A broker that logs a bind error and exits 0 at once: readiness must
/// not trust the exit code.
struct ExitsZero;

#[async_trait]
impl LocalKind for ExitsZero {
    fn name(&self) -> &'static str {
        "exits-zero"
    }
    fn launches(&self, _dir: &Path, ports: &Ports) -> anyhow::Result<Vec<Launch>> {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("echo 'FATAL: could not bind 127.0.0.1:{}: address in use'; exit 0", ports.main()));
        Ok(vec![Launch { command, log: "exits-zero.log".into() }])
    }
    fn endpoint(&self, ports: &Ports) -> String {
        format!("x://127.0.0.1:{}", ports.main())
    }
    async fn probe(&self, ports: &Ports) -> anyhow::Result<String> {
        tokio::net::TcpStream::connect(("127.0.0.1", ports.main())).await?;
        Ok("never".into())
    }
}

#[tokio::test]
async fn a_broker_that_exits_zero_is_not_ready_and_its_log_is_quoted() {
    let e = LocalBroker::start(Box::new(ExitsZero)).await.err().expect("must fail").to_string();
    assert!(e.contains("exited with code 0"), "{e}");
    assert!(e.contains("could not bind"), "the log tail is quoted: {e}");
}

#[tokio::test]
async fn a_missing_binary_gives_a_clear_error() {
    let kind = RedisKind::with_program(PathBuf::from("/nonexistent/bin/redis-server"));
    let e = LocalBroker::start(Box::new(kind)).await.err().expect("must fail").to_string();
    assert!(e.contains("/nonexistent/bin/redis-server") && e.contains("install-brokers.sh"), "{e}");
}

/// redis-server whose memory bound is always exceeded.
struct TinyRedis(RedisKind);

#[async_trait]
impl LocalKind for TinyRedis {
    fn name(&self) -> &'static str {
        "tiny-redis"
    }
    fn launches(&self, dir: &Path, ports: &Ports) -> anyhow::Result<Vec<Launch>> {
        self.0.launches(dir, ports)
    }
    fn endpoint(&self, ports: &Ports) -> String {
        self.0.endpoint(ports)
    }
    async fn probe(&self, ports: &Ports) -> anyhow::Result<String> {
        self.0.probe(ports).await
    }
    fn max_rss_bytes(&self) -> Option<u64> {
        Some(1)
    }
}

#[tokio::test]
async fn a_dead_or_oversized_broker_is_restarted_before_the_next_point() {
    let mut b = LocalBroker::start(Box::new(RedisKind::new().unwrap())).await.unwrap();
    assert!(b.software_hint().unwrap().starts_with("redis "), "{:?}", b.software_hint());
    assert!(b.endpoint().starts_with("redis://127.0.0.1:"));
    let pid = b.pids()[0];
    b.before_point().await.unwrap();
    assert_eq!(b.restarts(), 0, "a healthy broker is left alone");
    // SAFETY: kill has no memory preconditions.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    tokio::time::sleep(Duration::from_millis(200)).await;
    b.before_point().await.unwrap();
    assert_eq!(b.restarts(), 1);
    assert_ne!(b.pids()[0], pid);
    assert!(alive(b.pids()[0]));
    let last = b.pids()[0];
    b.stop().await.unwrap();
    assert!(!alive(last));

    let mut tiny = LocalBroker::start(Box::new(TinyRedis(RedisKind::new().unwrap()))).await.unwrap();
    let first = tiny.pids()[0];
    tiny.before_point().await.unwrap();
    assert_eq!(tiny.restarts(), 1);
    assert!(!alive(first), "the oversized broker was stopped");
    tiny.stop().await.unwrap();
}

fn mqbench(tmp: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mqbench"));
    c.env("TMPDIR", tmp).env("MQBENCH_STATE_DIR", tmp.join("state"));
    c
}

fn write_scenario(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("s.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

#[cfg(feature = "redis")]
#[test]
fn no_redis_server_outlives_a_normal_run_or_a_failed_point() {
    let tmp = tempfile::tempdir().unwrap();
    // Point 1 runs; point 2 fails (pubsub cannot share a subscription).
    let s = write_scenario(
        tmp.path(),
        "workload:\n  payload: 100B\n  rate: 2000msgps\n  warmup: 0s\n  duration: 1s\n  drain: 2s\nbrokers:\n  - name: redis\n    workload:\n      consumers: [1, 2]\n    options:\n      mode: pubsub\n",
    );
    let out = mqbench(tmp.path()).arg("run").arg(&s).arg("--out").arg(tmp.path().join("r")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("r/results.json")).unwrap()).unwrap();
    assert_eq!(results["points"][0]["status"], "ok", "{}", results["points"][0]["error"]);
    assert_eq!(results["points"][1]["status"], "failed");
    assert!(redis_servers_under(tmp.path()).is_empty());
    // Its temporary directory went with it.
    assert_no_broker_directories(tmp.path());
}

/// No `mqbench-redis*` instance directory is left in `tmp`.
fn assert_no_broker_directories(tmp: &Path) {
    let left: Vec<_> = std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("mqbench-redis"))
        .collect();
    assert!(left.is_empty(), "broker directories left behind: {left:?}");
}

#[cfg(feature = "redis")]
#[test]
fn sigint_stops_the_run_and_its_brokers_and_exits_130() {
    signal_stops_the_run_and_its_brokers(libc::SIGINT, 130);
}

#[cfg(feature = "redis")]
#[test]
fn sigterm_stops_the_run_and_its_brokers_and_exits_143() {
    signal_stops_the_run_and_its_brokers(libc::SIGTERM, 143);
}

/// Sends `sig` to `mqbench run` in the middle of a point: it must exit with
/// `code`, keep its results, and leave no redis-server nor its directory.
#[cfg(feature = "redis")]
fn signal_stops_the_run_and_its_brokers(sig: i32, code: i32) {
    let tmp = tempfile::tempdir().unwrap();
    let s = write_scenario(
        tmp.path(),
        "workload:\n  payload: 100B\n  rate: 2000msgps\n  warmup: 0s\n  duration: 60s\nbrokers:\n  - name: redis\n",
    );
    let mut child = mqbench(tmp.path())
        .arg("run")
        .arg(&s)
        .arg("--out")
        .arg(tmp.path().join("r"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the broker runs and the point has been going a while.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut servers = Vec::new();
    while servers.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        servers = redis_servers_under(tmp.path());
    }
    assert!(!servers.is_empty(), "redis-server never started");
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: kill has no memory preconditions.
    unsafe { libc::kill(child.id() as i32, sig) };
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "mqbench did not exit after signal {sig}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(code), "{err}");
    let text = std::fs::read_to_string(tmp.path().join("r/results.json")).unwrap();
    let results: serde_json::Value = serde_json::from_str(&text).unwrap();
    let error = results["points"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("interrupted"), "{error}");
    for pid in servers {
        assert!(!alive(pid), "redis-server {pid} outlived mqbench");
    }
    assert!(redis_servers_under(tmp.path()).is_empty());
    assert_no_broker_directories(tmp.path());
}

#[test]
fn a_binary_missing_from_path_fails_the_point_with_the_install_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let s = write_scenario(tmp.path(), "workload:\n  duration: 1s\nbrokers:\n  - name: redis\n");
    let out = mqbench(tmp.path())
        .env("PATH", tmp.path())
        .arg("run")
        .arg(&s)
        .arg("--out")
        .arg(tmp.path().join("r"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(tmp.path().join("r/results.json")).unwrap();
    let results: serde_json::Value = serde_json::from_str(&text).unwrap();
    let error = results["points"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("`redis-server` not found on PATH") && error.contains("install-brokers.sh"), "{error}");
}

#[test]
fn brokers_up_leaves_redis_running_and_down_stops_it() {
    let tmp = tempfile::tempdir().unwrap();
    let up = mqbench(tmp.path()).args(["brokers", "up", "redis"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&up.stdout).into_owned();
    assert!(up.status.success(), "{stdout}{}", String::from_utf8_lossy(&up.stderr));
    assert!(stdout.contains("redis: redis://127.0.0.1:"), "{stdout}");
    // mqbench has exited; the broker runs on, detached.
    let servers = redis_servers_under(tmp.path());
    assert_eq!(servers.len(), 1, "{stdout}");
    let again = mqbench(tmp.path()).args(["brokers", "up", "redis"]).output().unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("already up"));
    assert_eq!(redis_servers_under(tmp.path()).len(), 1);
    let down = mqbench(tmp.path()).args(["brokers", "down"]).output().unwrap();
    assert!(down.status.success());
    assert!(String::from_utf8_lossy(&down.stdout).contains("redis: stopped"));
    assert!(!alive(servers[0]));
    assert!(!tmp.path().join("state/brokers.json").exists());
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("mqbench-redis"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
