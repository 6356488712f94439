//! `provision: container`: each broker in the container that
//! docker/images.sh builds, every message delivered, its software named,
//! its CPU and memory read from the container's cgroup, and no container
//! left behind, after a normal run, a failed point, SIGINT, or a SIGKILLed
//! mqbench (whose containers the next mqbench removes). A container killed
//! mid-point fails that point; the next point runs on a new one.
//!
//! These tests need a Docker engine: they run docker/images.sh once, which
//! installs and starts one where it is missing (as root) and builds the
//! images (quick when they are up to date).
#![cfg(all(feature = "container", feature = "redis"))]

mod common;

use common::procs::wait_for_exit;

use mqbench::results::{PointResult, Status};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;
use std::time::{Duration, Instant};

const OWNER_LABEL: &str = "org.mqbench.owner";
const BROKER_LABEL: &str = "org.mqbench.broker";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// docker/images.sh for the broker images, once per test binary.
fn ensure_images() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let out = Command::new("bash").arg(root().join("docker/images.sh")).output().expect("bash");
        assert!(
            out.status.success(),
            "docker/images.sh failed (it needs root, apt and docker/install-brokers.sh run first):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// A broker name no other test uses, so its containers can be told apart.
fn unique(stem: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{stem}-{}-{n}", std::process::id())
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("the docker CLI");
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Ids of containers (running or not) of scenario broker `name`.
fn containers_of(name: &str) -> Vec<String> {
    let filter = format!("label={BROKER_LABEL}={name}");
    docker(&["ps", "-a", "-q", "--filter", &filter]).lines().map(String::from).collect()
}

fn assert_no_container_of(name: &str) {
    let left = containers_of(name);
    assert!(left.is_empty(), "containers of `{name}` left behind: {left:?}");
}

/// 2 s points at 1000 msg/s, unless `workload` sets the duration.
fn scenario(name: &str, adapter: &str, workload: &str, options: &str) -> String {
    let duration = if workload.contains("duration:") { "" } else { "  duration: 2s\n" };
    format!(
        "workload:\n  payload: 100B\n  rate: 1000msgps\n  warmup: 0s\n{duration}  drain: 5s\n{workload}\
         brokers:\n  - name: {name}\n    adapter: {adapter}\n    provision: container\n{options}"
    )
}

/// Every message due was sent, acknowledged and received once, and the
/// broker's CPU and memory came from its container.
fn assert_complete(p: &PointResult) {
    assert_eq!(p.status, Status::Ok, "{:?}", p.error);
    assert_eq!(p.provision, mqbench::scenario::Provision::Container);
    let c = &p.counts;
    assert_eq!(c.sent, 2000, "{c:?}");
    assert_eq!(c.acked, c.sent, "{c:?}");
    assert_eq!(c.received, c.sent, "{c:?}");
    assert_eq!((c.lost, c.duplicated, c.failed, c.corrupt), (0, 0, 0, 0), "{c:?}");
    let broker = p.resources.broker.as_ref().expect("the container's resources");
    assert!(broker.peak_rss_bytes > 1 << 20, "{broker:?}");
    assert!(broker.cpu_s > 0.0, "{broker:?}");
}

async fn run_in_container(stem: &str, adapter: &str, options: &str) -> (String, PointResult) {
    ensure_images();
    let name = unique(stem);
    let r = common::run_scenario("container.yaml", &scenario(&name, adapter, "", options)).await;
    (name, r.points.into_iter().next().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_in_a_container_delivers_every_message() {
    let (name, p) = run_in_container("redis", "redis", "    options:\n      mode: streams\n").await;
    assert_complete(&p);
    assert!(p.broker_software.starts_with("redis 7"), "{}", p.broker_software);
    assert_no_container_of(&name);
}

#[cfg(feature = "rabbitmq")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_in_a_container_delivers_every_message() {
    let (name, p) = run_in_container("rabbitmq", "rabbitmq", "").await;
    assert_complete(&p);
    assert!(p.broker_software.to_lowercase().starts_with("rabbitmq 3."), "{}", p.broker_software);
    assert_no_container_of(&name);
}

/// The same image serves AMQP 1.0 through its plugin.
#[cfg(feature = "amqp1")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_amqp1_in_a_container_delivers_every_message() {
    let (name, p) = run_in_container("rabbitmq-amqp1", "rabbitmq-amqp1", "").await;
    assert_complete(&p);
    assert!(p.broker_software.to_lowercase().contains("rabbitmq"), "{}", p.broker_software);
    assert_no_container_of(&name);
}

#[cfg(feature = "kafka")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_in_a_container_delivers_every_message() {
    let (name, p) = run_in_container("kafka", "kafka", "").await;
    assert_complete(&p);
    // From the image's label: the Kafka protocol does not say.
    assert_eq!(p.broker_software, "apache kafka 4.4.0");
    assert_no_container_of(&name);
}

#[cfg(feature = "amqp1")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artemis_in_a_container_delivers_every_message() {
    let (name, p) = run_in_container("artemis", "artemis", "").await;
    assert_complete(&p);
    assert!(p.broker_software.to_lowercase().contains("artemis 2.40"), "{}", p.broker_software);
    assert_no_container_of(&name);
}

// ---------------------------------------------------------------------------
// Removal, through the mqbench binary.

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

fn read_results(tmp: &Path) -> mqbench::results::ResultsFile {
    let file = tmp.join("r/results.json");
    common::assert_matches_schema(&file);
    mqbench::results::read_results(&file).unwrap()
}

/// Starts `mqbench run` and waits until broker `name`'s container exists;
/// returns the child and the container id.
fn run_until_running(tmp: &Path, text: &str, name: &str) -> (std::process::Child, String) {
    let s = write_scenario(tmp, text);
    let mut child = mqbench(tmp)
        .args(["run", "--no-progress", "--out"])
        .arg(tmp.join("r"))
        .arg(&s)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut id = None;
    while id.is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        id = containers_of(name).into_iter().next();
    }
    let Some(id) = id else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("no container of `{name}` started");
    };
    (child, id)
}

/// Waits until the redis in container `id` holds a key: a point is producing.
fn wait_until_producing(id: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let port = docker(&["inspect", "-f", "{{json .Config.Cmd}}", id]);
        let port: Vec<String> = serde_json::from_str(&port).unwrap();
        let port = &port[port.iter().position(|a| a == "--port").unwrap() + 1];
        let out = Command::new("docker").args(["exec", id, "redis-cli", "-p", port, "DBSIZE"]).output().unwrap();
        let size = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && size != "0" && !size.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "the point never produced (DBSIZE {size:?})");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn no_container_outlives_a_failed_point() {
    ensure_images();
    let tmp = tempfile::tempdir().unwrap();
    let name = unique("failed");
    // Point 1 runs; point 2 fails (pubsub cannot share a subscription).
    let text = scenario(&name, "redis", "  consumers: [1, 2]\n", "    options:\n      mode: pubsub\n");
    let s = write_scenario(tmp.path(), &text);
    let out = mqbench(tmp.path()).args(["run", "--no-progress", "--out"]).arg(tmp.path().join("r")).arg(&s).output();
    let out = out.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = read_results(tmp.path());
    assert_eq!(r.points[0].status, Status::Ok, "{:?}", r.points[0].error);
    assert_eq!(r.points[1].status, Status::Failed);
    assert_no_container_of(&name);
}

#[test]
fn sigint_mid_point_removes_the_container() {
    ensure_images();
    let tmp = tempfile::tempdir().unwrap();
    let name = unique("sigint");
    let text = scenario(&name, "redis", "  duration: 60s\n", "    options:\n      mode: streams\n");
    let (child, id) = run_until_running(tmp.path(), &text, &name);
    wait_until_producing(&id);
    // SAFETY: kill has no memory preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let (status, err) = wait_for_exit(child, 60);
    assert_eq!(status.code(), Some(130), "{err}");
    assert_eq!(read_results(tmp.path()).points[0].status, Status::Failed);
    assert_no_container_of(&name);
}

/// A container killed in the middle of a point: that point is recorded
/// as failed, naming the container's exit, and the next point runs on a
/// fresh container and delivers everything.
#[test]
fn a_container_killed_mid_point_fails_that_point_and_the_next_runs() {
    ensure_images();
    let tmp = tempfile::tempdir().unwrap();
    let name = unique("killed");
    let text = scenario(&name, "redis", "  duration: [8s, 2s]\n", "    options:\n      mode: streams\n");
    let (child, id) = run_until_running(tmp.path(), &text, &name);
    wait_until_producing(&id);
    docker(&["kill", &id]);
    let (status, err) = wait_for_exit(child, 120);
    assert!(status.success(), "{err}");
    let r = read_results(tmp.path());
    assert_eq!(r.points[0].status, Status::Failed);
    let error = r.points[0].error.clone().unwrap_or_default();
    assert!(error.contains("container") && error.contains("exited during the point"), "{error}");
    assert_complete(&r.points[1]);
    assert_no_container_of(&name);
}

/// A container whose mqbench was SIGKILLed (its owner label names a
/// process that is gone) is removed when the next mqbench starts one.
#[test]
fn a_killed_mqbenchs_containers_are_removed_by_the_next() {
    ensure_images();
    let tmp = tempfile::tempdir().unwrap();
    let stale = unique("stale");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
    // A pid above the kernel's limit (2^22) never runs.
    let owner = format!("{OWNER_LABEL}={host}/4194305/1");
    let broker = format!("{BROKER_LABEL}={stale}");
    docker(&["run", "-d", "--label", &owner, "--label", &broker, "mqbench/redis:latest"]);
    assert_eq!(containers_of(&stale).len(), 1);
    let name = unique("after-stale");
    let s = write_scenario(tmp.path(), &scenario(&name, "redis", "  duration: 1s\n", ""));
    let out = mqbench(tmp.path()).args(["run", "--no-progress", "--out"]).arg(tmp.path().join("r")).arg(&s).output();
    let out = out.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_no_container_of(&stale);
    assert_no_container_of(&name);
}

/// Without an engine the point fails saying what to install and start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_engine_fails_the_point_with_what_to_install() {
    let tmp = tempfile::tempdir().unwrap();
    let s = write_scenario(tmp.path(), &scenario("no-engine", "redis", "", ""));
    let out = mqbench(tmp.path())
        .env("DOCKER_HOST", format!("unix://{}/no-such.sock", tmp.path().display()))
        .args(["run", "--no-progress", "--out"])
        .arg(tmp.path().join("r"))
        .arg(&s)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "a broker that cannot start is a failed point: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = &read_results(tmp.path()).points[0];
    assert_eq!(p.status, Status::Failed);
    let error = p.error.clone().unwrap_or_default();
    assert!(error.contains("apt-get install docker.io") && error.contains("docker/images.sh"), "{error}");
}

/// `image:` belongs to container brokers only.
#[test]
fn an_image_for_a_local_broker_is_refused_where_it_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let s = write_scenario(tmp.path(), "brokers:\n  - name: redis\n    image: redis:7\n");
    let out = mqbench(tmp.path()).arg("validate").arg(&s).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("image") && err.contains("provision: container") && err.contains(":3"), "{err}");
}

// ---------------------------------------------------------------------------
// The mqbench image (what docker/k8s/ runs), built from the binary that
// cargo built for these tests.

/// docker/images.sh mqbench with this build's binary, once per test
/// process: two builds at once hard-link the same binary into their
/// contexts, and each link changes the file's ctime under the other's tar
/// ("file changed as we read it").
fn build_mqbench_image() {
    static BUILT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let out = Command::new("bash")
            .arg(root().join("docker/images.sh"))
            .arg("mqbench")
            .env("MQBENCH_BIN", env!("CARGO_BIN_EXE_mqbench"))
            .output()
            .unwrap();
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    });
    if let Err(e) = built {
        panic!("docker/images.sh mqbench: {e}");
    }
}

#[test]
fn the_mqbench_image_validates_and_runs_a_loopback_point_onto_a_mounted_volume() {
    ensure_images();
    build_mqbench_image();
    let tmp = tempfile::tempdir().unwrap();
    write_scenario(
        tmp.path(),
        "name: in-image\nworkload:\n  payload: 100B\n  rate: 1000msgps\n  warmup: 0s\n  duration: 1s\nbrokers:\n  - name: loopback\n",
    );
    let volume = format!("{}:/work", tmp.path().display());
    let validated = docker(&["run", "--rm", "-v", &volume, "mqbench/mqbench:latest", "validate", "/work/s.yaml"]);
    assert!(validated.contains(": ok, 1 point"), "{validated}");
    docker(&[
        "run",
        "--rm",
        "-v",
        &volume,
        "mqbench/mqbench:latest",
        "run",
        "--no-progress",
        "/work/s.yaml",
        "--out",
        "/work/r",
    ]);
    let r = read_results(tmp.path());
    assert_eq!(r.points.len(), 1);
    let p = &r.points[0];
    assert_eq!(p.status, Status::Ok, "{:?}", p.error);
    assert_eq!(p.counts.received, p.counts.sent);
    assert_eq!(p.counts.sent, 1000);
    // The scenarios ship in the image too.
    docker(&["run", "--rm", "mqbench/mqbench:latest", "validate", "/scenarios/quickstart.yaml"]);
}

/// docker/compose.yaml: the four brokers and mqbench beside them, through
/// Debian's docker-compose (scripts/test.sh installs it); every point of
/// its scenario delivers, and `down` leaves nothing of the project.
#[test]
fn the_compose_file_runs_mqbench_against_its_four_brokers() {
    ensure_images();
    build_mqbench_image();
    let tmp = tempfile::tempdir().unwrap();
    let project = format!("mqbench-test-{}", std::process::id());
    let compose = |args: &[&str]| {
        Command::new("docker-compose")
            .args(["-p", &project, "-f"])
            .arg(root().join("docker/compose.yaml"))
            .args(args)
            .env("MQBENCH_RESULTS", tmp.path().join("r"))
            .output()
            .expect("docker-compose (Debian: apt-get install docker-compose)")
    };
    let up = compose(&["up", "--exit-code-from", "mqbench"]);
    let down = compose(&["down", "-v"]);
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stdout));
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    let r = read_results(tmp.path());
    assert_eq!(r.points.len(), 5, "one point per broker entry");
    for p in &r.points {
        assert_eq!(p.status, Status::Ok, "{}: {:?}", p.id, p.error);
        assert_eq!((p.counts.lost, p.counts.duplicated), (0, 0), "{}", p.id);
    }
    let filter = format!("label=com.docker.compose.project={project}");
    assert_eq!(docker(&["ps", "-a", "-q", "--filter", &filter]), "", "compose containers left behind");
}
