//! `security:` against Apache Kafka over SASL_SSL: PLAIN, SCRAM-SHA-512
//! and OAUTHBEARER (an unsecured token) deliver every message; a wrong
//! password, a certificate from another CA and a certificate for another
//! host each fail their point clearly and quickly; no secret reaches
//! anything a run writes or prints; and through a TCP proxy the client
//! follows the advertised listeners to every node.
//!
//! Kafka in three places: one node started by `mqbench run` (local
//! provisioning with security, swept plaintext / PLAIN / SCRAM /
//! OAUTHBEARER / wrong password), one started here and reached as a live
//! broker by the TLS failure cases, and a three-node cluster behind a
//! proxy started here.
#![cfg(feature = "kafka")]

mod common;

use common::procs::mqbench;
use common::secrets::{contains, files_below, random_secret, run_logged};
use mqbench::provision::local::kafka::ApacheKafkaKind;
use mqbench::provision::local::process::Mode;
use mqbench::provision::local::{certs, Instance, LocalKind};
use mqbench::results::{ResultsFile, Status};
use mqbench::scenario::security::{Sasl, Security};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn sasl_ssl_plain_and_scram_deliver_everything_and_no_secret_is_written_out() {
    let tmp = tempfile::tempdir().unwrap();
    let good = random_secret("good");
    let wrong = random_secret("wrong");
    let in_url = random_secret("url");
    let in_set = random_secret("set");
    let scenario = tmp.path().join("secured.yaml");
    std::fs::write(
        &scenario,
        "workload:\n  payload: 1KB\n  rate: 1000msgps\n  warmup: 500ms\n  duration: 2s\n  drain: 5s\n\
         brokers:\n\
         \x20 - name: kafka\n\
         \x20   security:\n\
         \x20     - {}\n\
         \x20     - {tls: true, sasl: plain, username: bench, password_env: MQBENCH_TEST_PW}\n\
         \x20     - {tls: true, sasl: scram-sha-512, username: bench, password_env: MQBENCH_TEST_PW}\n\
         \x20     - {tls: true, sasl: oauthbearer, username: bench}\n\
         \x20     - {tls: true, sasl: scram-sha-256, username: bench, password_env: MQBENCH_TEST_WRONG_PW}\n"
            .to_string()
            + &format!(
                "  - name: leaky\n    adapter: kafka\n    provision: live\n    endpoint: \"sasl_ssl://bench:{in_url}@127.0.0.1:1\"\n"
            ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = run_logged(tmp.path(), &scenario, &out, &[("MQBENCH_TEST_PW", &good), ("MQBENCH_TEST_WRONG_PW", &wrong)]);
    let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    let results: ResultsFile = mqbench::results::read_results(&out.join("results.json")).unwrap();
    common::assert_matches_schema(&out.join("results.json"));
    let ids: Vec<&str> = results.points.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(results.points.len(), 6, "{ids:?}\n{stderr}");

    // OAUTHBEARER with an unsecured token, which the local Kafka's
    // test-only validator takes.
    for (i, profile) in
        [(0, "plaintext"), (1, "sasl_ssl-plain"), (2, "sasl_ssl-scram-sha-512"), (3, "sasl_ssl-oauthbearer")]
    {
        let p = &results.points[i];
        assert!(p.id.ends_with(&format!("/security={profile}")), "{}", p.id);
        assert_eq!(p.status, Status::Ok, "{}: {:?}", p.id, p.error);
        let c = &p.counts;
        assert_eq!(c.sent, 2000, "{}", p.id);
        assert_eq!((c.acked, c.received), (c.sent, c.sent), "{}: {c:?}", p.id);
        assert_eq!((c.lost, c.duplicated, c.corrupt, c.failed), (0, 0, 0, 0), "{}", p.id);
    }
    let sec = results.points[2].params.security.as_ref().unwrap();
    assert_eq!((sec.sasl, sec.password_env.as_deref()), (Some(Sasl::ScramSha512), Some("MQBENCH_TEST_PW")));

    // The same user with another password: the broker refuses it.
    let refused = &results.points[4];
    assert_eq!(refused.status, Status::Failed, "{}", refused.id);
    let e = refused.error.as_deref().unwrap();
    assert!(e.to_lowercase().contains("authentication"), "{e}");
    let leaky = &results.points[5];
    assert_eq!(leaky.status, Status::Failed);

    // A literal password, or one in a librdkafka property, is refused
    // before anything runs, and the refusal does not quote it.
    let mut refusals = String::new();
    for set in [
        format!("kafka.security={{sasl: plain, username: bench, password: {in_set}}}"),
        format!("kafka.properties={{sasl.password: {in_set}}}"),
    ] {
        let v = mqbench(tmp.path())
            .arg("run")
            .arg(&scenario)
            .arg("--out")
            .arg(tmp.path().join("refused"))
            .arg("--set")
            .arg(&set)
            .env("MQBENCH_LOG", "debug")
            .env("MQBENCH_TEST_PW", &good)
            .output()
            .unwrap();
        assert!(!v.status.success(), "--set {set} was accepted");
        let text = String::from_utf8_lossy(&v.stderr).into_owned() + &String::from_utf8_lossy(&v.stdout);
        assert!(text.contains("password_env"), "{text}");
        refusals.push_str(&text);
    }
    let status = mqbench(tmp.path()).args(["brokers", "status"]).output().unwrap();

    // Nothing written or printed holds a secret.
    let mut searched = files_below(&out);
    let names: Vec<String> =
        searched.iter().map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for wanted in ["results.json", "results.csv", "report.html", "report.md"] {
        assert!(names.iter().any(|n| n == wanted), "{wanted} not written: {names:?}");
    }
    assert!(names.iter().any(|n| n.ends_with(".svg")), "no charts: {names:?}");
    searched.push(("stdout".into(), run.stdout.clone()));
    searched.push(("stderr".into(), run.stderr.clone()));
    searched.push(("run --set".into(), refusals.into_bytes()));
    if tmp.path().join("refused").exists() {
        searched.extend(files_below(&tmp.path().join("refused")));
    }
    searched.push(("brokers status".into(), [status.stdout, status.stderr].concat()));
    for (path, bytes) in &searched {
        for secret in [&good, &wrong, &in_url, &in_set] {
            assert!(!contains(bytes, secret), "{} holds a secret", path.display());
        }
    }
    // The debug log was on, and the stored scenario kept everything else.
    assert!(stderr.contains("DEBUG"), "no debug log: {stderr}");
    assert!(results.scenario_source.contains("password_env: MQBENCH_TEST_PW"));
    assert!(results.scenario_source.contains("sasl_ssl://bench:***@127.0.0.1:1"), "{}", results.scenario_source);
    // The report shows each point's profile.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("sasl_ssl-scram-sha-512") && html.contains("sasl_ssl-plain"));
    let _ = stdout;
}

/// A local Kafka with security, started here and reached as a live broker.
struct SecuredKafka {
    instance: Instance,
    kind: ApacheKafkaKind,
}

impl SecuredKafka {
    async fn start(security: &Security) -> SecuredKafka {
        let kind = ApacheKafkaKind::new().unwrap().with_security(std::slice::from_ref(security)).unwrap();
        let instance = Instance::start(&kind, Mode::Attached).await.unwrap();
        SecuredKafka { instance, kind }
    }
    fn endpoint(&self, s: &Security) -> String {
        self.kind.secured_endpoint(&self.instance.ports, s).unwrap()
    }
    fn ca(&self) -> String {
        certs::ca_file(self.instance.dir()).unwrap().display().to_string()
    }
}

/// A TCP proxy: port i of `host` forwards every connection to upstream i,
/// once upstreams are given (a connection before then waits for them),
/// and counts the connections each port took.
struct Proxy {
    addresses: Vec<String>,
    upstreams: Arc<tokio::sync::watch::Sender<Vec<SocketAddr>>>,
    connections: Arc<Vec<AtomicUsize>>,
}

impl Proxy {
    /// `n` ports on `host`, listening from now on (inside a tokio runtime).
    fn bind(host: &str, n: usize) -> Proxy {
        let (upstreams, _) = tokio::sync::watch::channel(Vec::new());
        let upstreams = Arc::new(upstreams);
        let connections: Arc<Vec<AtomicUsize>> = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
        let mut addresses = Vec::new();
        for i in 0..n {
            let listener = std::net::TcpListener::bind((host, 0)).unwrap();
            listener.set_nonblocking(true).unwrap();
            addresses.push(format!("{host}:{}", listener.local_addr().unwrap().port()));
            let (upstreams, connections) = (upstreams.clone(), connections.clone());
            tokio::spawn(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                while let Ok((mut client, _)) = listener.accept().await {
                    connections[i].fetch_add(1, AtomicOrdering::Relaxed);
                    let mut known = upstreams.subscribe();
                    tokio::spawn(async move {
                        let upstream = match known.wait_for(|l| l.len() > i).await {
                            Ok(list) => list[i],
                            Err(_) => return,
                        };
                        if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                }
            });
        }
        Proxy { addresses, upstreams, connections }
    }

    fn forward_to(&self, upstreams: Vec<SocketAddr>) {
        self.upstreams.send_replace(upstreams);
    }

    fn connections(&self) -> Vec<usize> {
        self.connections.iter().map(|c| c.load(AtomicOrdering::Relaxed)).collect()
    }
}

/// Runs one live point against `endpoint` with `security` (YAML flow map)
/// and `options`; returns it with the time the run took.
async fn live_point(endpoint: &str, security: &str, options: &str) -> (mqbench::results::PointResult, Duration) {
    let text = format!(
        "workload:\n  payload: 1KB\n  rate: 500msgps\n  warmup: 200ms\n  duration: 1s\n  drain: 3s\n\
         brokers:\n  - name: kafka\n    provision: live\n    endpoint: \"{endpoint}\"\n    security: {security}\n    options: {options}\n"
    );
    let start = Instant::now();
    let r = common::run_scenario("tls-case.yaml", &text).await;
    (r.points.into_iter().next().unwrap(), start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_foreign_ca_and_wrong_host_fail_clearly_within_seconds() {
    let good = random_secret("good");
    let wrong = random_secret("wrong");
    // SAFETY: set before any thread of this test reads the environment;
    // the names are this test's own.
    unsafe {
        std::env::set_var("MQBENCH_TLS_TEST_PW", &good);
        std::env::set_var("MQBENCH_TLS_TEST_WRONG_PW", &wrong);
    }
    let user = Security {
        tls: mqbench::scenario::security::Tls::On(Default::default()),
        sasl: Some(Sasl::Plain),
        username: Some("bench".into()),
        password_env: Some("MQBENCH_TLS_TEST_PW".into()),
        ..Default::default()
    };
    let kafka = SecuredKafka::start(&user).await;
    let endpoint = kafka.endpoint(&user);
    let ca = kafka.ca();
    let plain = |env: &str, ca: &str| {
        format!("{{tls: {{ca_file: \"{ca}\"}}, sasl: plain, username: bench, password_env: {env}}}")
    };

    // The right password over the live path works.
    let (p, _) = live_point(&endpoint, &plain("MQBENCH_TLS_TEST_PW", &ca), "{}").await;
    assert_eq!(p.status, Status::Ok, "{:?}", p.error);
    assert_eq!(p.counts.received, p.counts.sent);

    let (p, took) = live_point(&endpoint, &plain("MQBENCH_TLS_TEST_WRONG_PW", &ca), "{}").await;
    let e = p.error.clone().unwrap_or_default();
    eprintln!("wrong password ({took:?}): {e}");
    assert_eq!(p.status, Status::Failed);
    assert!(e.to_lowercase().contains("authentication"), "{e}");
    assert!(took < Duration::from_secs(10), "{took:?}");

    // A CA of its own, which never signed the broker's certificate.
    let other = tempfile::tempdir().unwrap();
    let other_ca = certs::make(other.path()).unwrap().ca.display().to_string();
    let (p, took) = live_point(&endpoint, &plain("MQBENCH_TLS_TEST_PW", &other_ca), "{}").await;
    let e = p.error.clone().unwrap_or_default();
    eprintln!("foreign CA ({took:?}): {e}");
    assert_eq!(p.status, Status::Failed);
    assert!(e.contains("certificate verify failed"), "{e}");
    assert!(took < Duration::from_secs(10), "{took:?}");

    // The same broker at 127.0.0.2, which its certificate does not name.
    let proxy = Proxy::bind("127.0.0.2", 1);
    proxy.forward_to(vec![endpoint.parse().unwrap()]);
    let aliased = proxy.addresses[0].clone();
    let (p, took) = live_point(&aliased, &plain("MQBENCH_TLS_TEST_PW", &ca), "{}").await;
    let e = p.error.clone().unwrap_or_default();
    eprintln!("wrong host ({took:?}): {e}");
    assert_eq!(p.status, Status::Failed);
    // librdkafka words a name mismatch as any failed verification.
    assert!(e.contains("certificate verify failed"), "{e}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    // Through the same proxy with host-name checks off, the point runs:
    // the failure above was the name and nothing else.
    let (p, _) = live_point(
        &aliased,
        &plain("MQBENCH_TLS_TEST_PW", &ca),
        "{properties: {ssl.endpoint.identification.algorithm: none}}",
    )
    .await;
    assert_eq!(p.status, Status::Ok, "{:?}", p.error);
    drop(kafka);
}

/// The example scenario for a cluster behind SASL_SSL and a TCP proxy
/// (`scenarios/examples/kafka-sasl-ssl-proxy.yaml`), pointed at a local
/// three-node cluster whose SASL_SSL listeners advertise a proxy's ports,
/// one per node: bootstrapped at the proxy's first port only, it delivers
/// every message, and every proxy port took connections, so the client
/// followed the advertised listeners to each node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_tcp_proxy_the_client_follows_the_advertised_listeners_to_every_node() {
    let password = random_secret("proxy");
    // SAFETY: set before any thread of this test reads the environment;
    // the name is this test's own.
    unsafe { std::env::set_var("MQBENCH_PROXY_TEST_PW", &password) };
    let user = Security {
        tls: mqbench::scenario::security::Tls::On(Default::default()),
        sasl: Some(Sasl::ScramSha512),
        username: Some("mqbench".into()),
        password_env: Some("MQBENCH_PROXY_TEST_PW".into()),
        ..Default::default()
    };
    let proxy = Proxy::bind("127.0.0.1", 3);
    let kind = ApacheKafkaKind::cluster(3)
        .unwrap()
        .with_security(std::slice::from_ref(&user))
        .unwrap()
        .advertise_sasl_ssl_at(proxy.addresses.clone())
        .unwrap();
    let instance = Instance::start(&kind, Mode::Attached).await.unwrap();
    let own = kind.secured_endpoint(&instance.ports, &user).unwrap();
    proxy.forward_to(own.split(',').map(|a| a.parse().unwrap()).collect());
    let ca = certs::ca_file(instance.dir()).unwrap().display().to_string();

    let tmp = tempfile::tempdir().unwrap();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/examples/kafka-sasl-ssl-proxy.yaml");
    let out = tmp.path().join("out");
    let mut run = mqbench(tmp.path());
    run.arg("run").arg(&example).arg("--out").arg(&out).arg("--no-progress");
    for set in [
        "rate=2000msgps".to_string(),
        "warmup=1s".into(),
        "duration=3s".into(),
        "drain=10s".into(),
        format!("kafka.endpoint={}", proxy.addresses[0]),
        format!(
            "kafka.security={{tls: {{ca_file: \"{ca}\"}}, sasl: scram-sha-512, username: mqbench, password_env: MQBENCH_PROXY_TEST_PW}}"
        ),
    ] {
        run.arg("--set").arg(set);
    }
    let run = tokio::task::spawn_blocking(move || run.output().unwrap()).await.unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    let results: ResultsFile = mqbench::results::read_results(&out.join("results.json")).unwrap();
    assert_eq!(results.points.len(), 1, "{stderr}");
    let p = &results.points[0];
    assert_eq!(p.status, Status::Ok, "{:?}\n{stderr}", p.error);
    assert_eq!(p.counts.sent, 6000, "{:?}", p.counts);
    assert_eq!((p.counts.acked, p.counts.received, p.counts.lost), (6000, 6000, 0), "{:?}", p.counts);
    let connections = proxy.connections();
    assert!(connections.iter().all(|&c| c > 0), "connections per proxy port (node 1, 2, 3): {connections:?}");
    for (path, bytes) in files_below(&out) {
        assert!(!contains(&bytes, &password), "{} holds the password", path.display());
    }
    drop(instance);
}

/// OAUTHBEARER by OIDC client credentials, with no identity provider to
/// answer: librdkafka takes the settings (it is built with libcurl), the
/// point fails on the unreachable token endpoint or broker rather than on
/// its configuration, and the results record the token endpoint and the
/// variable's name, never the client secret, in a file the schema takes.
#[test]
fn an_oidc_profile_is_taken_by_librdkafka_and_recorded_without_its_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = random_secret("oidc");
    let scenario = tmp.path().join("oidc.yaml");
    std::fs::write(
        &scenario,
        "workload:\n  payload: 1KB\n  rate: 100msgps\n  warmup: 0s\n  duration: 1s\n  drain: 2s\n\
         brokers:\n  - name: kafka\n    provision: live\n    endpoint: 127.0.0.1:1\n    security:\n\
         \x20     tls: true\n      sasl: oauthbearer\n      username: mqbench-client\n\
         \x20     password_env: MQBENCH_OIDC_TEST_SECRET\n      token_endpoint: http://127.0.0.1:1/token\n      scope: kafka\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = run_logged(tmp.path(), &scenario, &out, &[("MQBENCH_OIDC_TEST_SECRET", &secret)]);
    let results: ResultsFile = mqbench::results::read_results(&out.join("results.json")).unwrap();
    common::assert_matches_schema(&out.join("results.json"));
    let p = &results.points[0];
    assert_eq!(p.status, Status::Failed);
    let e = p.error.as_deref().unwrap_or_default();
    for refusal in ["No such configuration property", "Invalid value", "not supported", "requires"] {
        assert!(!e.contains(refusal), "librdkafka refused the OIDC settings: {e}");
    }
    let sec = p.params.security.as_ref().unwrap();
    assert_eq!(sec.token_endpoint.as_deref(), Some("http://127.0.0.1:1/token"));
    assert_eq!(sec.password_env.as_deref(), Some("MQBENCH_OIDC_TEST_SECRET"));
    let mut searched = files_below(&out);
    searched.push(("stdout".into(), run.stdout.clone()));
    searched.push(("stderr".into(), run.stderr.clone()));
    for (path, bytes) in &searched {
        assert!(!contains(bytes, &secret), "{} holds the client secret", path.display());
    }
}
