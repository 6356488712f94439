//! `security:` on the local Redis, RabbitMQ and Artemis brokers: each is
//! started by `mqbench run` with TLS and a user, its secured points deliver
//! every message, a wrong password fails its point with the broker's
//! refusal, and no secret reaches anything the run writes or prints.
#![cfg(any(feature = "redis", feature = "rabbitmq", feature = "amqp1"))]

mod common;

use common::secrets::{contains, files_below, random_secret, run_logged};
use mqbench::results::{PointResult, ResultsFile, Status};

/// What one run of a secured scenario left.
struct SecuredRun {
    results: ResultsFile,
    /// (what, bytes) of every output file, stdout and stderr.
    searched: Vec<(String, Vec<u8>)>,
    secrets: [String; 2],
    stderr: String,
}

/// Runs `broker` (a `brokers:` entry whose profiles name
/// `MQBENCH_SO_PW`, the user's password, and `MQBENCH_SO_WRONG_PW`,
/// another one) with local provisioning and the debug log on.
fn run_secured(tag: &str, broker: &str) -> SecuredRun {
    let tmp = tempfile::tempdir().unwrap();
    let good = random_secret(&format!("{tag}good"));
    let wrong = random_secret(&format!("{tag}wrong"));
    let scenario = tmp.path().join("secured.yaml");
    std::fs::write(
        &scenario,
        format!(
            "workload:\n  payload: 1KB\n  rate: 500msgps\n  warmup: 200ms\n  duration: 1s\n  drain: 5s\nbrokers:\n{broker}"
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = run_logged(tmp.path(), &scenario, &out, &[("MQBENCH_SO_PW", &good), ("MQBENCH_SO_WRONG_PW", &wrong)]);
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    let results_file = out.join("results.json");
    assert!(results_file.exists(), "no results: {stderr}");
    common::assert_matches_schema(&results_file);
    let results = mqbench::results::read_results(&results_file).unwrap();
    let mut searched: Vec<(String, Vec<u8>)> =
        files_below(&out).into_iter().map(|(p, b)| (p.display().to_string(), b)).collect();
    searched.push(("stdout".into(), run.stdout));
    searched.push(("stderr".into(), run.stderr));
    SecuredRun { results, searched, secrets: [good, wrong], stderr }
}

impl SecuredRun {
    /// The point of `broker` (its name) with `profile`.
    fn point(&self, broker: &str, profile: &str) -> &PointResult {
        let ids: Vec<&str> = self.results.points.iter().map(|p| p.id.as_str()).collect();
        self.results
            .points
            .iter()
            .find(|p| p.broker == broker && p.id.ends_with(&format!("/security={profile}")))
            .unwrap_or_else(|| panic!("no {broker} point with security={profile}: {ids:?}\n{}", self.stderr))
    }

    /// The point delivered each of its 500 messages once.
    fn assert_delivered(&self, broker: &str, profile: &str) {
        let p = self.point(broker, profile);
        assert_eq!(p.status, Status::Ok, "{}: {:?}", p.id, p.error);
        let c = &p.counts;
        assert_eq!(c.sent, 500, "{}", p.id);
        assert_eq!((c.acked, c.received), (c.sent, c.sent), "{}: {c:?}", p.id);
        assert_eq!((c.lost, c.duplicated, c.corrupt, c.failed), (0, 0, 0, 0), "{}", p.id);
    }

    /// The point failed, saying one of `words`.
    fn assert_refused(&self, broker: &str, profile: &str, words: &[&str]) {
        let p = self.point(broker, profile);
        assert_eq!(p.status, Status::Failed, "{}", p.id);
        let e = p.error.as_deref().unwrap_or_default().to_lowercase();
        assert!(words.iter().any(|w| e.contains(w)), "{}: {e}", p.id);
    }

    /// Nothing written or printed (with the log at its most verbose)
    /// holds either password.
    fn assert_no_secret(&self) {
        let names: Vec<&str> = self.searched.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.iter().any(|n| n.ends_with("results.json")), "{names:?}");
        assert!(names.iter().any(|n| n.ends_with("report.html")), "{names:?}");
        for (what, bytes) in &self.searched {
            for secret in &self.secrets {
                assert!(!contains(bytes, secret), "{what} holds a secret");
            }
        }
    }
}

/// TLS with the run's CA, AUTH of an ACL user over TLS, and a wrong
/// password over the plain port. (Two profiles with one label would make
/// two points of one id, so the wrong password has a profile of its own.)
/// A second broker checks `server_name`: the socket goes to 127.0.0.1
/// while the certificate is checked against the name, `localhost` (which
/// it carries) or another (which it does not).
#[cfg(feature = "redis")]
#[test]
fn redis_with_tls_and_an_acl_user_delivers_and_refuses_a_wrong_password() {
    let run = run_secured(
        "redis",
        "  - name: redis\n\
         \x20   security:\n\
         \x20     - {tls: true}\n\
         \x20     - {tls: true, sasl: plain, username: bench, password_env: MQBENCH_SO_PW}\n\
         \x20     - {sasl: plain, username: bench, password_env: MQBENCH_SO_WRONG_PW}\n\
         \x20 - name: redis-named\n\
         \x20   adapter: redis\n\
         \x20   security:\n\
         \x20     - {tls: {server_name: localhost}}\n\
         \x20     - {tls: {server_name: elsewhere.example}, sasl: plain, username: bench, password_env: MQBENCH_SO_PW}\n",
    );
    assert_eq!(run.results.points.len(), 5);
    for profile in ["ssl", "sasl_ssl-plain"] {
        run.assert_delivered("redis", profile);
    }
    run.assert_delivered("redis-named", "ssl");
    run.assert_refused("redis-named", "sasl_ssl-plain", &["not valid for name", "notvalidforname"]);
    run.assert_refused("redis", "sasl_plaintext-plain", &["authentication", "wrongpass"]);
    run.assert_no_secret();
}

/// The three profiles every broker's local instance serves: TLS alone (as
/// the broker's default user), SASL PLAIN of the scenario's user over TLS,
/// and that user with a wrong password over the plain listener, which must
/// fail its point saying one of `refusal`.
#[cfg(any(feature = "rabbitmq", feature = "amqp1"))]
fn tls_a_user_and_a_wrong_password(broker: &str, refusal: &[&str]) {
    let run = run_secured(
        broker,
        &format!(
            "  - name: {broker}\n\
             \x20   security:\n\
             \x20     - {{tls: true}}\n\
             \x20     - {{tls: true, sasl: plain, username: bench, password_env: MQBENCH_SO_PW}}\n\
             \x20     - {{sasl: plain, username: bench, password_env: MQBENCH_SO_WRONG_PW}}\n"
        ),
    );
    assert_eq!(run.results.points.len(), 3);
    for profile in ["ssl", "sasl_ssl-plain"] {
        run.assert_delivered(broker, profile);
    }
    run.assert_refused(broker, "sasl_plaintext-plain", refusal);
    run.assert_no_secret();
}

/// TLS as `guest`, a user from the definitions file over TLS.
#[cfg(feature = "rabbitmq")]
#[test]
fn rabbitmq_with_tls_and_a_user_delivers_and_refuses_a_wrong_password() {
    tls_a_user_and_a_wrong_password("rabbitmq", &["authentication", "password"]);
}

/// TLS as the instance's user, an added user over TLS.
#[cfg(feature = "amqp1")]
#[test]
fn artemis_with_tls_and_a_user_delivers_and_refuses_a_wrong_password() {
    tls_a_user_and_a_wrong_password("artemis", &["authentication"]);
}
