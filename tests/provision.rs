//! Local provisioning: readiness that trusts only the probe, errors that
//! quote the log, restarts before a point, `brokers up/down`, and no
//! broker process outliving `mqbench run` however it ends (normally, with
//! a failed point, by SIGINT and by SIGTERM).

mod common;

use async_trait::async_trait;
use common::procs::wait_for_exit;
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

#[cfg(feature = "redis")]
#[test]
fn sighup_stops_the_run_and_its_brokers_and_exits_129() {
    signal_stops_the_run_and_its_brokers(libc::SIGHUP, 129);
}

/// Starts `mqbench run` on `text` in `tmp` and waits until its redis-server
/// runs; returns the child and the server's pids.
#[cfg(feature = "redis")]
fn run_until_redis_is_up(tmp: &Path, text: &str, extra: &[&str]) -> (std::process::Child, Vec<u32>) {
    let s = write_scenario(tmp, text);
    let child = mqbench(tmp)
        .arg("run")
        .arg(&s)
        .arg("--out")
        .arg(tmp.join("r"))
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut servers = Vec::new();
    while servers.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        servers = redis_servers_under(tmp);
    }
    assert!(!servers.is_empty(), "redis-server never started");
    (child, servers)
}

/// SIGKILL leaves mqbench no chance to clean up: the death signal set on
/// each broker's process takes it down with mqbench all the same.
#[cfg(feature = "redis")]
#[test]
fn a_sigkilled_mqbench_still_takes_its_redis_server_down() {
    let tmp = tempfile::tempdir().unwrap();
    let (child, servers) = run_until_redis_is_up(
        tmp.path(),
        "workload:\n  payload: 100B\n  rate: 1000msgps\n  warmup: 0s\n  duration: 60s\nbrokers:\n  - name: redis\n",
        &[],
    );
    // SAFETY: kill has no memory preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let (status, _) = wait_for_exit(child, 10);
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(libc::SIGKILL));
    let deadline = Instant::now() + Duration::from_secs(10);
    while servers.iter().any(|p| alive(*p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    for pid in servers {
        assert!(!alive(pid), "redis-server {pid} outlived a SIGKILLed mqbench");
    }
}

/// `--keep-topics` keeps what a point wrote on the broker, but a local
/// broker mqbench started is still stopped, and its directory removed.
#[cfg(feature = "redis")]
#[test]
fn keep_topics_still_stops_and_removes_a_local_broker() {
    let tmp = tempfile::tempdir().unwrap();
    let (child, servers) = run_until_redis_is_up(
        tmp.path(),
        "workload:\n  payload: 100B\n  rate: 1000msgps\n  warmup: 0s\n  duration: 1s\n  drain: 2s\nbrokers:\n  - name: redis\n",
        &["--keep-topics"],
    );
    let (status, err) = wait_for_exit(child, 60);
    assert!(status.success(), "{err}");
    let results = mqbench::results::read_results(&tmp.path().join("r/results.json")).unwrap();
    let p = &results.points[0];
    assert_eq!(p.status, mqbench::results::Status::Ok, "{:?}", p.error);
    assert!(p.warnings.iter().any(|w| w.contains("(--keep-topics)")), "{:?}", p.warnings);
    for pid in servers {
        assert!(!alive(pid), "redis-server {pid} outlived a --keep-topics run");
    }
    assert!(redis_servers_under(tmp.path()).is_empty());
    assert_no_broker_directories(tmp.path());
}

/// A local broker that dies in the middle of a point's window: that point
/// is recorded as failed with the connection error, the broker is
/// restarted before the next point, and the next point delivers
/// everything. The kill comes once the point's stream has messages (it is
/// running), not on a timer from the start.
#[cfg(feature = "redis")]
#[test]
fn a_local_broker_dying_mid_point_fails_that_point_and_is_restarted_for_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let (child, first) = run_until_redis_is_up(
        tmp.path(),
        "workload:\n  payload: 100B\n  rate: 1000msgps\n  warmup: 0s\n  drain: 2s\nbrokers:\n  - name: redis\n    workload:\n      duration: [8s, 1s]\n",
        &["--no-progress"],
    );
    let port = redis_port(first[0]);
    // The first point is producing once the server holds a key.
    let deadline = Instant::now() + Duration::from_secs(30);
    while redis_cli(port, "DBSIZE").unwrap_or_default().trim() == "0" || redis_cli(port, "DBSIZE").is_none() {
        assert!(Instant::now() < deadline, "the first point never produced");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill has no memory preconditions.
    unsafe { libc::kill(first[0] as i32, libc::SIGKILL) };
    // A new server comes up for the second point.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut restarted = Vec::new();
    while restarted.is_empty() && Instant::now() < deadline {
        restarted = redis_servers_under(tmp.path()).into_iter().filter(|p| !first.contains(p)).collect();
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, err) = wait_for_exit(child, 90);
    assert!(status.success(), "{err}");
    assert_eq!(restarted.len(), 1, "no restarted redis-server seen: {err}");
    let results = mqbench::results::read_results(&tmp.path().join("r/results.json")).unwrap();
    assert_eq!(results.points.len(), 2);
    let (dead, next) = (&results.points[0], &results.points[1]);
    assert_eq!(dead.status, mqbench::results::Status::Failed, "{dead:?}");
    let error = dead.error.as_deref().unwrap_or_default().to_lowercase();
    assert!(error.contains("connection") || error.contains("broken pipe") || error.contains("refused"), "{error}");
    assert_eq!(next.status, mqbench::results::Status::Ok, "{:?}", next.error);
    assert_eq!((next.counts.sent, next.counts.received, next.counts.lost), (1000, 1000, 0));
    assert!(redis_servers_under(tmp.path()).is_empty());
}

/// The port a redis-server of ours listens on (its process title reads
/// `redis-server 127.0.0.1:PORT`).
fn redis_port(pid: u32) -> u16 {
    let cmdline = String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap()).into_owned();
    let at = cmdline.find("127.0.0.1:").unwrap_or_else(|| panic!("no address in `{cmdline}`"));
    cmdline[at + 10..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap()
}

/// One redis-cli command's answer, or `None` when the server does not answer.
fn redis_cli(port: u16, command: &str) -> Option<String> {
    let out = Command::new("redis-cli").args(["-p", &port.to_string()]).args(command.split(' ')).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned()).filter(|s| !s.contains("ERR"))
}

/// Sends `sig` to `mqbench run` in the middle of a point: it must exit with
/// `code`, keep its results, and leave no redis-server nor its directory.
#[cfg(feature = "redis")]
fn signal_stops_the_run_and_its_brokers(sig: i32, code: i32) {
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, servers) = run_until_redis_is_up(
        tmp.path(),
        "workload:\n  payload: 100B\n  rate: 2000msgps\n  warmup: 0s\n  duration: 60s\nbrokers:\n  - name: redis\n",
        &[],
    );
    // Let the point run a while.
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
    let status = mqbench(tmp.path()).args(["brokers", "status"]).output().unwrap();
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(status.starts_with("redis: up redis://127.0.0.1:"), "{status}");
    assert!(status.contains(&format!("files in {}", tmp.path().display())), "{status}");
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
    let status = mqbench(tmp.path()).args(["brokers", "status"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&status.stdout), "no brokers are up\n");
}

/// `brokers up --scenario FILE` starts the file's `provision: local`
/// brokers, not its live or embedded ones.
#[cfg(feature = "redis")]
#[test]
fn brokers_up_with_a_scenario_starts_its_local_brokers_only() {
    let tmp = tempfile::tempdir().unwrap();
    let s = write_scenario(
        tmp.path(),
        "brokers:\n  - name: loopback\n  - name: cache\n    adapter: redis\n  - name: far\n    adapter: redis\n    provision: live\n    endpoint: redis://192.0.2.1:6379\n",
    );
    let up = mqbench(tmp.path()).args(["brokers", "up", "--scenario"]).arg(&s).output().unwrap();
    let stdout = String::from_utf8_lossy(&up.stdout).into_owned();
    assert!(up.status.success(), "{stdout}{}", String::from_utf8_lossy(&up.stderr));
    assert_eq!(redis_servers_under(tmp.path()).len(), 1, "{stdout}");
    assert!(stdout.contains("redis://127.0.0.1:"), "{stdout}");
    assert!(!stdout.contains("192.0.2.1"), "a live broker is not started: {stdout}");
    let down = mqbench(tmp.path()).args(["brokers", "down"]).output().unwrap();
    assert!(down.status.success());
    assert!(redis_servers_under(tmp.path()).is_empty());
}

/// `brokers up --scenario FILE` with a `security:` block starts the broker
/// with that security: it prints the profile's endpoint and the CA to
/// trust, a live point reaches it there with the password from the
/// environment, and neither the output nor the state file holds the
/// password.
#[cfg(feature = "redis")]
#[test]
fn brokers_up_with_a_secured_scenario_prints_each_profile_and_never_the_password() {
    let tmp = tempfile::tempdir().unwrap();
    let password = common::secrets::random_secret("up");
    let s = write_scenario(
        tmp.path(),
        "brokers:\n  - name: cache\n    adapter: redis\n    security: {tls: true, sasl: plain, username: bench, password_env: MQBENCH_UP_PW}\n",
    );
    let up = mqbench(tmp.path())
        .args(["brokers", "up", "--scenario"])
        .arg(&s)
        .env("MQBENCH_UP_PW", &password)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&up.stdout).into_owned();
    assert!(up.status.success(), "{stdout}{}", String::from_utf8_lossy(&up.stderr));
    let field = |text: &str, key: &str| -> String {
        let line =
            text.lines().find_map(|l| l.trim().strip_prefix(key)).unwrap_or_else(|| panic!("no `{key}` in {text}"));
        line.split_whitespace().next().unwrap().to_string()
    };
    let endpoint = field(&stdout, "sasl_ssl-plain: ");
    let ca = field(&stdout, "CA: ");
    assert!(endpoint.starts_with("rediss://127.0.0.1:"), "{stdout}");
    assert!(Path::new(&ca).exists(), "{stdout}");
    let status = mqbench(tmp.path()).args(["brokers", "status"]).output().unwrap();
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert_eq!(field(&status, "sasl_ssl-plain: "), endpoint, "{status}");

    let live = tmp.path().join("live.yaml");
    std::fs::write(
        &live,
        format!(
            "workload: {{payload: 100B, rate: 200msgps, warmup: 200ms, duration: 1s, drain: 3s}}\n\
             brokers:\n  - name: cache\n    adapter: redis\n    provision: live\n    endpoint: \"{endpoint}\"\n    \
             security: {{tls: {{ca_file: \"{ca}\"}}, sasl: plain, username: bench, password_env: MQBENCH_UP_PW}}\n"
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = mqbench(tmp.path())
        .arg("run")
        .arg(&live)
        .arg("--out")
        .arg(&out)
        .arg("--no-progress")
        .env("MQBENCH_UP_PW", &password)
        .output()
        .unwrap();
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let p = &results["points"][0];
    assert_eq!(p["status"], "ok", "{p}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(p["counts"]["sent"].as_u64().unwrap() > 0);
    assert_eq!(p["counts"]["received"], p["counts"]["sent"], "{p}");

    let state = std::fs::read(tmp.path().join("state/brokers.json")).unwrap();
    for (what, bytes) in
        [("up", &up.stdout), ("up's errors", &up.stderr), ("status", &status.into_bytes()), ("state", &state)]
    {
        assert!(!common::secrets::contains(bytes, &password), "{what} holds the password");
    }
    let down = mqbench(tmp.path()).args(["brokers", "down"]).output().unwrap();
    assert!(down.status.success());
    assert!(redis_servers_under(tmp.path()).is_empty());
}
