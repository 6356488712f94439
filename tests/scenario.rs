//! Scenario files: units, sweep expansion, stable ids, and errors that name
//! file, line and column.

use mqbench::adapter::Rules;
use mqbench::scenario::{parse, Overrides, RateParam};
use std::path::Path;

fn load(text: &str) -> Result<mqbench::scenario::Scenario, mqbench::scenario::ScenarioError> {
    parse(Path::new("sweep.yaml"), text, &Overrides::default(), &Rules)
}

#[test]
fn cartesian_product_with_stable_ids() {
    let s = load(
        "workload:\n  payload: [10B, 1KB]\n  rate: [1MBps, max]\n  producers: [1, 2]\nbrokers:\n  - name: loopback\n    options:\n      drop: [0.0, 0.1]\n",
    )
    .unwrap();
    assert_eq!(s.name, "sweep");
    assert_eq!(s.points.len(), 16);
    let ids: Vec<&str> = s.points.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids[0], "loopback/payload=10/rate=1MBps/producers=1/drop=0.0");
    assert_eq!(ids[15], "loopback/payload=1000/rate=max/producers=2/drop=0.1");
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 16, "ids are unique");
    let p = &s.points[1];
    assert_eq!(p.params.options["drop"], serde_json::json!(0.1));
    assert_eq!(p.params.rate, RateParam::Fixed { bytes_per_s: 1e6, msgs_per_s: 1e5 });
    assert!(s.points[4].params.rate.is_max() && !s.points[3].params.rate.is_max());
}

#[test]
fn unswept_knobs_stay_out_of_ids_and_defaults_apply() {
    let s =
        load("workload:\n  payload: 100B\n  rate: 5000msgps\n  consumers: 2\nbrokers:\n  - name: loopback\n").unwrap();
    assert_eq!(s.points.len(), 1);
    let p = &s.points[0];
    assert_eq!(p.id, "loopback/payload=100/rate=5000msgps");
    assert_eq!(p.params.consumers, 2);
    assert_eq!(p.params.producers, 1);
    assert_eq!(p.params.duration_s, 10.0);
    assert_eq!(p.params.warmup_s, 2.0);
    assert_eq!(p.params.rate.msgs_per_s(), Some(5000.0));
}

#[test]
fn broker_workload_overrides_and_repeats() {
    let s = load(
        "workload:\n  payload: [1KB, 10KB]\n  repeats: 3\nbrokers:\n  - name: a\n    adapter: loopback\n  - name: b\n    adapter: loopback\n    workload:\n      payload: 100B\n",
    )
    .unwrap();
    let a: Vec<_> = s.points.iter().filter(|p| p.broker.name == "a").collect();
    let b: Vec<_> = s.points.iter().filter(|p| p.broker.name == "b").collect();
    assert_eq!(a.len(), 6);
    assert_eq!(b.len(), 3);
    assert_eq!(b.iter().map(|p| p.repeat).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert!(b.iter().all(|p| p.params.payload_bytes == 100 && p.id == "b/payload=100/rate=1MBps"));
}

#[test]
fn command_line_overrides() {
    let text = "workload:\n  payload: 1KB\nbrokers:\n  - name: loopback\n";
    let o = Overrides {
        set: vec!["rate=[max, 2MBps]".into(), "loopback.drop=0.5".into()],
        quick: true,
        ..Default::default()
    };
    let s = parse(Path::new("x.yaml"), text, &o, &Rules).unwrap();
    assert_eq!(s.points.len(), 2);
    assert!(s.points[0].params.rate.is_max());
    assert_eq!(s.points[0].params.options["drop"], serde_json::json!(0.5));
    assert_eq!(s.points[0].params.duration_s, 2.0);
    assert_eq!(s.points[0].params.warmup_s, 0.5);
    let bad = Overrides { set: vec!["colour=red".into()], ..Default::default() };
    let e = parse(Path::new("x.yaml"), text, &bad, &Rules).unwrap_err().to_string();
    assert!(e.contains("--set colour=red") && e.contains("workload knob"), "{e}");
    let unknown = Overrides { brokers: vec!["kafak".into()], ..Default::default() };
    let e = parse(Path::new("x.yaml"), text, &unknown, &Rules).unwrap_err().to_string();
    assert!(e.contains("--broker kafak") && e.contains("loopback"), "{e}");
}

/// One bad scenario file and what its error must say.
struct Bad {
    /// What the row is about (printed when it fails).
    what: &'static str,
    text: &'static str,
    /// The error starts with this (`sweep.yaml:LINE:COL:`, or `sweep.yaml:`
    /// for errors with no position).
    at: &'static str,
    /// Every one of these is in the message.
    says: &'static [&'static str],
    /// The adapter whose driver makes the check; when this build lacks it,
    /// the file validates instead (its points fail at run time, saying the
    /// adapter is not built in).
    needs: Option<&'static str>,
}

const fn bad(what: &'static str, text: &'static str, at: &'static str, says: &'static [&'static str]) -> Bad {
    Bad { what, text, at, says, needs: None }
}

/// Every bad input a new user is likely to write, with the error it gets:
/// file, line and column, what is wrong, what would be right. A new knob
/// adds its rows here.
const BAD: &[Bad] = &[
    bad(
        "unknown size unit",
        "workload:\n  payload: [10B, 10XB]\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:",
        &["unknown size unit `XB`", "a size such as `10B`"],
    ),
    bad(
        "a rate without a unit",
        "workload:\n  rate: 1000\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:",
        &["no unit", "`1000msgps`"],
    ),
    bad(
        "a rate of zero",
        "workload:\n  rate: 0MBps\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:",
        &["above zero", "`max`"],
    ),
    bad(
        "a rate written as a map",
        "workload:\n  rate: {x: 1}\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:",
        &["map", "a rate such as `1MBps`"],
    ),
    bad(
        "a size inside a nested list",
        "workload:\n  payload: [10B, [1KB]]\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:",
        &["sequence", "a size such as `10B`"],
    ),
    bad(
        "a size written as a boolean",
        "workload:\n  payload: true\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:",
        &["boolean", "a size such as `10B`"],
    ),
    bad(
        "a negative size",
        "workload:\n  payload: -5\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:",
        &["negative", "a size such as `10B`"],
    ),
    bad(
        "a duration written as a map",
        "workload:\n  duration: {s: 10}\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:",
        &["map", "a duration such as `500ms`"],
    ),
    bad(
        "a duration without a unit",
        "workload:\n  warmup: 5\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:",
        &["no unit", "`5s`"],
    ),
    bad(
        "an empty sweep",
        "workload:\n  payload: []\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:",
        &["empty list sweeps nothing"],
    ),
    bad(
        "a misspelt knob",
        "workload:\n  paylod: 1KB\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:3:",
        &["unknown field `paylod`", "`payload`"],
    ),
    bad(
        "a payload below the header",
        "workload:\n  payload: 5B\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:3:",
        &["below the minimum of 10 B"],
    ),
    bad(
        "a payload the harness cannot serve",
        "workload:\n  payload: 2GB\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:3:",
        &["2000000000 B", "limit of 100000000 B", "pool four times the payload"],
    ),
    bad(
        "a broker's own payload above the limit",
        "brokers:\n  - name: loopback\n    workload:\n      payload: [1KB, 101MB]\n",
        "sweep.yaml:4:7:",
        &["101000000 B", "limit of 100000000 B"],
    ),
    bad(
        "too many bodies in flight",
        "workload:\n  payload: 10MB\n  in_flight: 1000\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:3:3:",
        &["10.0 GB of bodies", "limit of 4 GB", "at most 400"],
    ),
    bad(
        "too many bodies in flight by default",
        "workload:\n  payload: 50MB\n  rate: 10msgps\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:3:",
        &["`in_flight: 1000`", "at most 80"],
    ),
    bad(
        "no message due in the window",
        "workload:\n  payload: 1KB\n  rate: 1Bps\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:3:3:",
        &["rate `1Bps`", "0.010 messages per producer", "nothing would be measured", "at least 0.1 msg/s"],
    ),
    bad(
        "no message due for each producer",
        "workload:\n  rate: 5msgps\n  producers: 10\n  duration: 1s\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:3:",
        &["each of 10 producer(s)", "0.500 messages per producer", "`10msgps`"],
    ),
    bad(
        "a broker's own rate with nothing due",
        "brokers:\n  - name: loopback\n    workload:\n      rate: [max, 1msgps]\n      duration: 500ms\n",
        "sweep.yaml:4:7:",
        &["rate `1msgps`", "nothing would be measured"],
    ),
    bad(
        "more loopback partitions than labels",
        "workload:\n  partitions: 100000000\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:3:",
        &["`partitions: 100000000`", "`loopback` adapter's 1024"],
    ),
    Bad {
        what: "partitions on RabbitMQ",
        text: "brokers:\n  - name: rabbitmq\n    workload:\n      partitions: 3\n",
        at: "sweep.yaml:4:7:",
        says: &["`rabbitmq` adapter's 1", "RabbitMQ has no partitions"],
        needs: Some("rabbitmq"),
    },
    Bad {
        what: "partitions on AMQP 1.0",
        text: "workload:\n  partitions: 2\nbrokers:\n  - name: artemis\n",
        at: "sweep.yaml:2:3:",
        says: &["`artemis` adapter's 1", "AMQP 1.0 addresses have no partitions"],
        needs: Some("amqp1"),
    },
    Bad {
        what: "more Redis keys than a read names",
        text: "workload:\n  partitions: 5000\nbrokers:\n  - name: redis\n",
        at: "sweep.yaml:2:3:",
        says: &["`redis` adapter's 1024", "one Redis key"],
        needs: Some("redis"),
    },
    Bad {
        what: "more Kafka partitions than a point creates",
        text: "workload:\n  partitions: 20000\nbrokers:\n  - name: kafka\n",
        at: "sweep.yaml:2:3:",
        says: &["`kafka` adapter's 10000"],
        needs: Some("kafka"),
    },
    bad(
        "an unknown adapter",
        "brokers:\n  - name: loopback\n  - name: rabbit\n",
        "sweep.yaml:3:5:",
        &["unknown adapter `rabbit`", "rabbitmq", "set `adapter:`"],
    ),
    bad(
        "a misspelt adapter option",
        "brokers:\n  - name: loopback\n    options:\n      drop: 0.1\n      stal_every: 1s\n",
        "sweep.yaml:5:7:",
        &["unknown field `stal_every`", "`stall_every`"],
    ),
    bad(
        "a fraction above 1",
        "brokers:\n  - name: loopback\n    options:\n      drop: 1.5\n",
        "sweep.yaml:4:7:",
        &["`drop` is a fraction between 0 and 1"],
    ),
    bad(
        "a broker name twice",
        "brokers:\n  - name: loopback\n  - name: loopback\n",
        "sweep.yaml:3:5:",
        &["used twice"],
    ),
    bad(
        "a broker name that breaks ids",
        "brokers:\n  - name: a/b\n    adapter: loopback\n",
        "sweep.yaml:2:5:",
        &["must be letters, digits"],
    ),
    bad(
        "a live broker without an endpoint",
        "brokers:\n  - name: redis\n    provision: live\n",
        "sweep.yaml:3:5:",
        &["needs an `endpoint:`"],
    ),
    bad(
        "a provision that does not fit",
        "brokers:\n  - name: loopback\n    provision: local\n",
        "sweep.yaml:3:5:",
        &["does not fit adapter `loopback`", "`embedded`"],
    ),
    bad(
        "no producers",
        "workload:\n  producers: 0\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:3:",
        &["`producers` must be at least 1"],
    ),
    bad(
        "no consumers",
        "workload:\n  consumers: 0\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:3:",
        &["`consumers` must be at least 1"],
    ),
    bad(
        "no window",
        "workload:\n  duration: 0s\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:3:",
        &["`duration` must be above zero"],
    ),
    bad(
        "no in-flight window",
        "workload:\n  in_flight: 0\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:3:",
        &["`in_flight` must be at least 1"],
    ),
    bad(
        "too many producers for a compact header",
        "workload:\n  payload: 12B\n  producers: 300\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:3:3:",
        &["300 producers with 12 B payloads", "at most 256"],
    ),
    bad(
        "a backlog the loopback cannot keep",
        "workload:\n  backlog: true\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:3:",
        &["cannot run `backlog: true`"],
    ),
    bad(
        "a backlog with nobody to drain it",
        "workload:\n  backlog: true\n  subscriptions: 0\nbrokers:\n  - name: kafka\n",
        "sweep.yaml:2:3:",
        &["`subscriptions` is 0"],
    ),
    Bad {
        what: "a backlog on pub/sub",
        text: "brokers:\n  - name: redis\n    workload:\n      backlog: true\n    options:\n      mode: pubsub\n",
        at: "sweep.yaml:4:7:",
        says: &["cannot run `backlog: true`", "pubsub"],
        needs: Some("redis"),
    },
    bad(
        "a searched rate without an upper bound",
        "workload:\n  rate: {search: {p99: 50ms}}\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:",
        &["needs `max`", "`100MBps`"],
    ),
    bad(
        "a searched rate whose target is not a duration",
        "workload:\n  payload: 1KB\n  rate:\n    search: {max: 10MBps, p99: fast}\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:4:",
        &["`fast` is not a duration", "`500ms`"],
    ),
    bad(
        "a searched rate with two targets",
        "workload:\n  rate: {search: {max: 10MBps, p50: 1ms, p99: 9ms}}\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:",
        &["one latency target", "`p99.9`"],
    ),
    bad(
        "a searched rate with a backlog",
        "workload:\n  rate: {search: {max: 10MBps}}\n  backlog: true\nbrokers:\n  - name: kafka\n",
        "sweep.yaml:2:3:",
        &["does not combine with `backlog: true`", "give a fixed rate"],
    ),
    bad(
        "an end-to-end target with nothing consumed",
        "workload:\n  rate: {search: {max: 10MBps, p99: 5ms}}\n  subscriptions: 0\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:3:",
        &["`subscriptions` is 0", "`latency: publish`"],
    ),
    bad("no brokers", "brokers: []\n", "sweep.yaml:1:", &["no brokers"]),
    bad(
        "a rate list left open",
        "workload:\n  rate: [max\nbrokers:\n",
        "sweep.yaml:2:10:",
        &["`max brokers` is not a rate", "a rate such as"],
    ),
    bad(
        "a tab for indentation",
        "workload:\n\tpayload: 1KB\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:",
        &["cannot start any token"],
    ),
    bad(
        "a default rate with nothing due",
        "workload:\n  payload: 50MB\nbrokers:\n  - name: loopback\n",
        "sweep.yaml:2:3:",
        &["rate `1MBps` with 50000000 B payloads", "nothing would be measured"],
    ),
];

#[test]
fn every_bad_input_gets_an_error_that_says_where_what_and_what_would_be_right() {
    let mut failures = Vec::new();
    for row in BAD {
        let built = row.needs.is_none_or(|a| mqbench::adapter::driver(a).is_ok());
        match (load(row.text), built) {
            (Ok(_), false) => {}
            (Ok(s), true) => failures.push(format!("{}: validated ({} points)", row.what, s.points.len())),
            (Err(e), _) => {
                let e = e.to_string();
                let missing: Vec<_> = row.says.iter().filter(|w| !e.contains(*w)).collect();
                // serde's internals are no help to a user.
                let internals = ["untagged", "variant", "Scalar", "OneOrMany"].iter().any(|w| e.contains(w));
                if !e.starts_with(row.at) || !missing.is_empty() || internals {
                    failures.push(format!("{}: `{e}` (wanted it at `{}`, saying {missing:?})", row.what, row.at));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} rows:\n{}", failures.len(), BAD.len(), failures.join("\n"));
}

#[test]
fn the_largest_servable_payload_and_the_slowest_measurable_rate_validate() {
    // The limits themselves are allowed: exactly 100 MB with an in-flight
    // window that fits, and a rate that puts exactly one message per
    // producer in the window.
    let s = load(
        "workload:\n  payload: 100MB\n  in_flight: 40\n  rate: 1msgps\n  duration: 1s\nbrokers:\n  - name: loopback\n",
    )
    .unwrap();
    assert_eq!(s.points[0].params.payload_bytes, mqbench::scenario::MAX_PAYLOAD_BYTES);
    let s = load("workload:\n  partitions: 1024\nbrokers:\n  - name: loopback\n").unwrap();
    assert_eq!(s.points[0].params.partitions, 1024);
}

#[test]
fn a_searched_rate_is_one_point_with_its_search_in_the_params() {
    let s = load(
        "workload:\n  payload: 1KB\n  rate: [2MBps, {search: {max: 100MBps, p99: 50ms}}]\nbrokers:\n  - name: loopback\n",
    )
    .unwrap();
    let ids: Vec<&str> = s.points.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["loopback/payload=1000/rate=2MBps", "loopback/payload=1000/rate=search-p99-50ms"]);
    assert!(s.points[0].params.search.is_none());
    let search = s.points[1].params.search.unwrap();
    assert_eq!((search.max_msgs_per_s, search.target.unwrap().us), (100_000.0, 50_000));
    // `--set` takes the same spelling, and `--quick` shortens the probes.
    let o =
        Overrides { set: vec!["rate={search: {max: 1MBps, probe: 10s}}".into()], quick: true, ..Default::default() };
    let s = mqbench::scenario::parse(Path::new("s.yaml"), "brokers:\n  - name: loopback\n", &o, &Rules).unwrap();
    assert_eq!(s.points[0].params.search.unwrap().probe_s, mqbench::scenario::QUICK_DURATION_S);
}

#[test]
fn missing_file_is_a_clear_error() {
    let e = mqbench::scenario::load(Path::new("/nonexistent/x.yaml"), &Overrides::default(), &Rules).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/x.yaml: cannot read scenario file"), "{e}");
}

#[test]
fn shipped_scenarios_validate() {
    // Shipped secured scenarios take their password from this variable;
    // validate checks that it is set.
    // SAFETY: no other test of this binary reads it.
    unsafe { std::env::set_var("MQBENCH_KAFKA_PASSWORD", "shipped-scenario-check") };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            mqbench::scenario::load(&path, &Overrides::default(), &Rules).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 1);
}

#[test]
fn security_blocks_are_swept_checked_and_refuse_literal_passwords() {
    // SAFETY: this variable is this test's own.
    unsafe { std::env::set_var("MQBENCH_SCENARIO_TEST_PW", "not-a-real-password") };
    let s = load(
        "brokers:\n  - name: kafka\n    security:\n      - {}\n      - {tls: true, sasl: scram-sha-512, username: u, password_env: MQBENCH_SCENARIO_TEST_PW}\n",
    )
    .unwrap();
    let ids: Vec<&str> = s.points.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "kafka/payload=1000/rate=1MBps/security=plaintext",
            "kafka/payload=1000/rate=1MBps/security=sasl_ssl-scram-sha-512"
        ]
    );
    let json = serde_json::to_string(&s.points[1].params).unwrap();
    assert!(json.contains("MQBENCH_SCENARIO_TEST_PW") && !json.contains("not-a-real-password"), "{json}");

    let e = load(
        "brokers:\n  - name: kafka\n    security:\n      sasl: plain\n      username: u\n      password: hunter22\n",
    )
    .unwrap_err();
    assert_eq!((e.line, e.column), (Some(6), Some(7)), "{e}");
    assert!(e.message.contains("password_env") && !e.message.contains("hunter22"), "{e}");
    let e = load(
        "brokers:\n  - name: kafka\n    security: {sasl: plain, username: u, password_env: MQBENCH_NO_SUCH_VAR_X}\n",
    )
    .unwrap_err();
    assert!(e.message.contains("MQBENCH_NO_SUCH_VAR_X") && e.message.contains("not set"), "{e}");
    // What an adapter cannot do is refused with the reason.
    let e = load("brokers:\n  - name: kafka\n    security: {tls: true, sasl: anonymous}\n").unwrap_err();
    assert!(e.message.contains("ANONYMOUS"), "{e}");
    let e = load("brokers:\n  - name: loopback\n    security: {tls: true}\n").unwrap_err();
    assert!(e.message.contains("does not support TLS"), "{e}");
    let e = load("brokers:\n  - name: redis\n    security: {sasl: scram-sha-256, username: u, password_env: P}\n")
        .unwrap_err();
    assert!(e.message.contains("AUTH") && e.message.contains("scram-sha-256"), "{e}");
    let e = load("brokers:\n  - name: rabbitmq\n    security: {tls: {server_name: mq.example}}\n").unwrap_err();
    assert!(e.message.contains("server_name"), "{e}");
    let e =
        load("brokers:\n  - name: artemis\n    security: {tls: {cert_file: c.pem, key_file: k.pem}, sasl: external}\n")
            .unwrap_err();
    assert!(e.message.contains("EXTERNAL"), "{e}");
    assert!(
        load("brokers:\n  - name: artemis\n    security: {tls: {server_name: mq.example}, sasl: anonymous}\n").is_ok()
    );
    // `--set BROKER.security=...` sweeps it from the command line.
    let o = Overrides { set: vec!["kafka.security=[{}, {tls: true}]".into()], ..Default::default() };
    let s = parse(Path::new("sweep.yaml"), "brokers:\n  - name: kafka\n", &o, &Rules).unwrap();
    assert_eq!(s.points.len(), 2);
    assert!(s.points[1].id.ends_with("/security=ssl"));
    // `--set BROKER.endpoint=...` points one broker elsewhere.
    let o = Overrides { set: vec!["far.endpoint=proxy.example:19092".into()], ..Default::default() };
    let file = "brokers:\n  - name: far\n    adapter: kafka\n    provision: live\n    endpoint: a.example:9092\n";
    let s = parse(Path::new("live.yaml"), file, &o, &Rules).unwrap();
    assert_eq!(s.points[0].broker.endpoint.as_deref(), Some("proxy.example:19092"));
    let o = Overrides { set: vec!["near.endpoint=x:1".into()], ..Default::default() };
    assert!(parse(Path::new("live.yaml"), file, &o, &Rules).unwrap_err().message.contains("no broker named `near`"));
}
