//! OpenMessaging Benchmark files: workload and driver files written for
//! these tests (tests/fixtures/omb/, in OMB's format) together use every
//! workload key and value, every driver kind; each workload either runs a
//! short `--quick` run or is refused with its reason, and some map to
//! points written here by hand from OMB's semantics. An OMB result file
//! (hand-written) is read and reported beside an mqbench run, and an
//! exported mqbench run is read back by the same reader.
//!
//! Kafka driver files are checked against librdkafka, and the backlog
//! workload runs on Redis: without those adapters' features this file
//! compiles to nothing (tests/features.rs then fails, naming it).
#![cfg(all(feature = "kafka", feature = "redis", feature = "loopback"))]

mod common;

use mqbench::adapter::Rules;
use mqbench::omb::import::{import, Imported};
use mqbench::results::{ResultsFile, Status};
use mqbench::scenario::{Overrides, Params, Point, Provision, RateParam};
use serde_json::json;
use std::path::{Path, PathBuf};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/omb").join(rel)
}

fn workload(name: &str) -> PathBuf {
    fixture(&format!("workloads/{name}.yaml"))
}

fn driver(name: &str) -> PathBuf {
    fixture(&format!("drivers/{name}.yaml"))
}

fn imported(workloads: &[&str], drivers: &[&str], kinds: &[&str]) -> Imported {
    let w: Vec<PathBuf> = workloads.iter().map(|n| workload(n)).collect();
    let d: Vec<PathBuf> = drivers.iter().map(|n| driver(n)).collect();
    let k: Vec<String> = kinds.iter().map(|s| s.to_string()).collect();
    import(&w, &d, &k, &Rules).unwrap_or_else(|e| panic!("import refused:\n{e}"))
}

fn points(i: &Imported) -> Vec<Point> {
    i.scenario(&Overrides::default(), &Rules).unwrap_or_else(|e| panic!("{e}\n{}", i.text)).points
}

fn refusal(workloads: &[&str], drivers: &[&str], kinds: &[&str]) -> String {
    let w: Vec<PathBuf> = workloads.iter().map(|n| workload(n)).collect();
    let d: Vec<PathBuf> = drivers.iter().map(|n| driver(n)).collect();
    let k: Vec<String> = kinds.iter().map(|s| s.to_string()).collect();
    match import(&w, &d, &k, &Rules) {
        Err(e) => e.to_string(),
        Ok(i) => match i.scenario(&Overrides::default(), &Rules) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("expected a refusal, got:\n{}", i.text),
        },
    }
}

fn options(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().unwrap().clone()
}

/// A point's params written from OMB's semantics: `rate` msg/s in total,
/// minutes as seconds, mqbench's default `in_flight` (OMB has none).
#[allow(clippy::too_many_arguments)]
fn params(
    payload: u64,
    rate: Option<f64>,
    topics: u32,
    producers: u32,
    subscriptions: u32,
    consumers: u32,
    partitions: u32,
    (warmup_s, duration_s, drain_s): (f64, f64, f64),
    backlog: bool,
    opts: serde_json::Value,
) -> Params {
    Params {
        payload_bytes: payload,
        rate: match rate {
            Some(m) => RateParam::Fixed { bytes_per_s: m * payload as f64, msgs_per_s: m },
            None => RateParam::from_rate(mqbench::scenario::units::Rate::Max, payload),
        },
        rate_label: rate.map(|m| format!("{m}msgps")).unwrap_or_else(|| "max".into()),
        topics,
        producers,
        subscriptions,
        consumers,
        partitions,
        warmup_s,
        duration_s,
        drain_s,
        in_flight: 1000,
        backlog,
        security: None,
        options: options(opts),
        search: None,
    }
}

#[test]
fn workloads_map_to_the_points_omb_would_run() {
    // One topic of one partition, 1 KB, 1,000 msg/s, one minute each of
    // warm-up and test; mqbench's drain is its own 5 s.
    let i = imported(&["one-topic-1kb"], &[], &["loopback"]);
    let p = points(&i);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].id, "loopback/payload=1024/rate=1000msgps");
    assert_eq!(p[0].broker.provision, Provision::Embedded);
    assert_eq!(p[0].params, params(1024, Some(1000.0), 1, 1, 1, 1, 1, (60.0, 60.0, 5.0), false, json!({})));

    // Numbers as strings, half a minute of warm-up, 3 topics x 2
    // producers sharing 6,000 msg/s, 2 subscriptions of 2 consumers; on
    // the Kafka driver file, whose settings become the adapter's options
    // and KEY_ROUND_ROBIN keyed messages.
    let i = imported(&["fan-out-strings"], &["kafka"], &[]);
    let p = points(&i);
    assert_eq!(p[0].id, "kafka/payload=100/rate=6000msgps");
    assert_eq!(
        (p[0].broker.provision, p[0].broker.endpoint.as_deref()),
        (Provision::Live, Some("kafka1:9092,kafka2:9092"))
    );
    let kafka = json!({
        "replication_factor": 3,
        "topic_config": {"min.insync.replicas": "2"},
        "properties": {"request.timeout.ms": "120000"},
        "acks": "all",
        "linger_ms": 1,
        "batch_size": 1048576,
        "consumer_properties": {"auto.offset.reset": "earliest", "enable.auto.commit": "false", "max.partition.fetch.bytes": "10485760"},
        "keys": true,
    });
    assert_eq!(p[0].params, params(100, Some(6000.0), 3, 2, 2, 2, 2, (30.0, 120.0, 5.0), false, kafka));

    // 1 GiB of backlog at 20,000 msg/s of 1,024 B, one subscription:
    // 2^30 / (1024 x 20000) = 52.4288 s of producing (no warm-up), then
    // the test's minute to drain it.
    let i = imported(&["backlog"], &[], &["redis"]);
    let p = points(&i);
    assert_eq!(p[0].id, "redis/payload=1024/rate=20000msgps/backlog");
    assert_eq!(p[0].params, params(1024, Some(20000.0), 1, 1, 1, 1, 1, (0.0, 52.429, 60.0), true, json!({})));

    // producerRate 0 (find the maximum) is `rate: max`; RANDOM_NANO keys
    // on Kafka; the default warm-up of one minute.
    let i = imported(&["max-rate"], &[], &["kafka"]);
    let p = points(&i);
    assert_eq!(p[0].broker.provision, Provision::Local);
    assert_eq!(p[0].params, params(64, None, 1, 1, 1, 1, 1, (60.0, 60.0, 5.0), false, json!({"keys": true})));
    let max = i.warnings.iter().find(|w| w.key == "producerRate").expect("a warning for producerRate: 0");
    assert!(max.text.contains("maximum sustainable rate") && max.text.contains("rate: max"), "{max}");

    // No subscriptions: produce only.
    let p = points(&imported(&["produce-only"], &[], &["loopback"]));
    assert_eq!(p[0].params, params(512, Some(2000.0), 2, 1, 0, 1, 1, (0.0, 60.0, 5.0), false, json!({})));
}

#[test]
fn what_cannot_be_honoured_is_a_warning_naming_file_line_and_key() {
    let i = imported(&["fan-out-strings"], &["rabbitmq"], &[]);
    let w: Vec<String> = i.warnings.iter().map(|n| n.to_string()).collect();
    let file = workload("fan-out-strings");
    let has = |line: usize, key: &str, text: &str| {
        let prefix = format!("{}:{line}: `{key}`: ", file.display());
        assert!(w.iter().any(|n| n.starts_with(&prefix) && n.contains(text)), "no `{prefix}...{text}` in {w:#?}");
    };
    has(17, "someFutureKey", "OMB ignores keys it does not know");
    has(16, "warmupDurationMinutes", "OMB reads whole minutes");
    has(9, "randomBytesRatio", "zeros");
    has(10, "randomizedPayloadPoolSize", "pool");
    has(5, "partitionsPerTopic", "no partitions");
    has(6, "keyDistributor", "sends no message keys");
    // Every warning is in the scenario too, as a comment.
    for n in &w {
        assert!(i.text.contains(&format!("#   {n}")), "{n} not in\n{}", i.text);
    }
    let p = points(&i);
    assert_eq!(p[0].params.partitions, 1);
    // Backlog and payload file notes.
    let b = imported(&["backlog"], &[], &["redis"]);
    assert!(b.warnings.iter().any(|n| n.key == "consumerBacklogSizeGB" && n.text.contains("pauses its consumers")));
    assert!(b.warnings.iter().any(|n| n.key == "backlogDrainRatio" && n.text.contains("whole backlog")));
    let one = imported(&["one-topic-1kb"], &[], &["loopback"]);
    let pf = one.warnings.iter().find(|n| n.key == "payloadFile").expect("payloadFile note");
    assert!(pf.text.contains("does not send the file's bytes"), "{pf}");
}

#[test]
fn workloads_mqbench_cannot_run_are_refused_with_the_reason() {
    let tiny = refusal(&["refused-tiny"], &[], &["loopback"]);
    assert!(tiny.contains("refused-tiny.yaml:4: `messageSize`: 4 B is below mqbench's minimum of 10 B"), "{tiny}");
    let endless = refusal(&["refused-endless"], &[], &["loopback"]);
    assert!(endless.contains("refused-endless.yaml:4: `keyDistributor`: `HASHED` is not one of"), "{endless}");
    assert!(endless.contains("`testDurationMinutes`: missing or 0"), "{endless}");
    let backlog = refusal(&["refused-backlog-max"], &[], &["loopback"]);
    assert!(
        backlog.contains("refused-backlog-max.yaml:12: `consumerBacklogSizeGB`: needs a fixed producerRate"),
        "{backlog}"
    );
    // The loopback keeps nothing for late consumers: the scenario's own
    // check, pointed back at the OMB key.
    let lb = refusal(&["backlog"], &[], &["loopback"]);
    assert!(
        lb.contains("backlog.yaml:12: `consumerBacklogSizeGB`: broker `loopback` cannot run `backlog: true`"),
        "{lb}"
    );
    // A payload file of the wrong length: OMB refuses it, and so does the
    // import.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("payload")).unwrap();
    std::fs::write(dir.path().join("payload/p.data"), vec![7u8; 100]).unwrap();
    let w = dir.path().join("w.yaml");
    std::fs::write(
        &w,
        "topics: 1\npartitionsPerTopic: 1\nmessageSize: 1024\npayloadFile: payload/p.data\nsubscriptionsPerTopic: 1\nconsumerPerSubscription: 1\nproducersPerTopic: 1\nproducerRate: 100\ntestDurationMinutes: 1\n",
    )
    .unwrap();
    let e = import(&[w], &[], &["loopback".into()], &Rules).unwrap_err().to_string();
    assert!(e.contains("w.yaml:4: `payloadFile`: `payload/p.data` is 100 B but messageSize is 1024"), "{e}");
    // Neither a driver nor a broker.
    let e = import(&[workload("one-topic-1kb")], &[], &[], &Rules).unwrap_err().to_string();
    assert!(e.contains("--driver FILE") && e.contains("--broker"), "{e}");
}

#[test]
fn driver_files_map_onto_adapter_options_and_keep_secrets_out() {
    // RabbitMQ: the first URI without its password, quorum queues,
    // persistent messages, and what OMB's driver does unasked.
    let i = imported(&["one-topic-1kb"], &["rabbitmq"], &[]);
    let p = &points(&i)[0];
    assert_eq!(
        (p.broker.adapter.as_str(), p.broker.endpoint.as_deref()),
        ("rabbitmq", Some("amqp://bench@rabbit1:5672/%2f"))
    );
    assert_eq!(
        p.params.options,
        options(
            json!({"persistent": true, "queue_type": "quorum", "exchange": "fanout", "confirms": true, "ack": "auto"})
        )
    );
    assert!(!i.text.contains("rabbit-s3cret"), "{}", i.text);
    assert_eq!(i.env.iter().map(|(v, _)| v.as_str()).collect::<Vec<_>>(), ["RABBITMQ_PASSWORD"]);
    // CLASSIC, persistence off (as a string), a TLS URI passed on as it is.
    let classic = &points(&imported(&["one-topic-1kb"], &["rabbitmq-classic"], &[]))[0];
    assert_eq!(classic.broker.endpoint.as_deref(), Some("amqps://rabbit1:5671"));
    assert_eq!(classic.broker.name, "rabbitmq-classic");
    assert_eq!(
        classic.params.options,
        options(
            json!({"persistent": false, "queue_type": "classic", "exchange": "fanout", "confirms": true, "ack": "auto"})
        )
    );
    let stream = &points(&imported(&["one-topic-1kb"], &["rabbitmq-stream"], &[]))[0];
    assert_eq!(
        stream.params.options,
        options(
            json!({"persistent": false, "queue_type": "stream", "exchange": "fanout", "confirms": true, "ack": "manual"})
        )
    );

    // Redis: host, port (a string), user in the URL; the password only
    // as REDIS_PASSWORD.
    let i = imported(&["one-topic-1kb"], &["redis"], &[]);
    let p = &points(&i)[0];
    assert_eq!((p.broker.adapter.as_str(), p.broker.endpoint.as_deref()), ("redis", Some("redis://bench@redis1:6380")));
    assert_eq!(p.params.options, options(json!({"mode": "streams"})));
    assert!(!i.text.contains("redis-s3cret"), "{}", i.text);
    assert!(i.text.contains("Set REDIS_PASSWORD to the password in"), "{}", i.text);
    assert!(i.warnings.iter().any(|n| n.key == "jedisPoolMaxTotal"));

    // Artemis: the core-protocol address, spoken to over AMQP 1.0.
    let i = imported(&["one-topic-1kb"], &["artemis"], &[]);
    let p = &points(&i)[0];
    assert_eq!((p.broker.adapter.as_str(), p.broker.endpoint.as_deref()), ("artemis", Some("amqp://artemis1:61616")));

    // Kafka: Java-only properties are left out, with a warning each.
    let i = imported(&["one-topic-1kb"], &["kafka"], &[]);
    for key in ["commonConfig default.api.timeout.ms", "producerConfig key.serializer"] {
        let n = i.warnings.iter().find(|n| n.key == key).unwrap_or_else(|| panic!("no warning for {key}"));
        assert!(n.text.contains("librdkafka"), "{n}");
    }
    let kafka_file = driver("kafka");
    let w = i.warnings.iter().find(|n| n.key == "producerConfig key.serializer").unwrap();
    assert_eq!((w.file.as_path(), w.line), (kafka_file.as_path(), Some(14)));

    // SASL/TLS: refused for now, each property named, no password shown.
    let e = refusal(&["one-topic-1kb"], &["kafka-sasl"], &[]);
    for (line, key) in [(6, "security.protocol"), (7, "sasl.mechanism"), (8, "sasl.jaas.config")] {
        assert!(e.contains(&format!("kafka-sasl.yaml:{line}: `commonConfig {key}`: SASL/TLS settings")), "{e}");
    }
    assert!(!e.contains("kafka-s3cret") && !e.contains("username="), "{e}");
    // A broker mqbench has no adapter for.
    let e = refusal(&["one-topic-1kb"], &["pulsar"], &[]);
    assert!(e.contains("pulsar.yaml:2: `driverClass`") && e.contains("has no mqbench adapter"), "{e}");

    // Two drivers and two workloads: a broker entry for each pair.
    let i = imported(&["one-topic-1kb", "produce-only"], &["kafka", "redis"], &[]);
    let ids: Vec<String> = points(&i).into_iter().map(|p| p.id).collect();
    assert_eq!(
        ids,
        [
            "kafka-one-topic-1kb/payload=1024/rate=1000msgps",
            "redis-one-topic-1kb/payload=1024/rate=1000msgps",
            "kafka-produce-only/payload=512/rate=2000msgps",
            "redis-produce-only/payload=512/rate=2000msgps",
        ]
    );
}

/// `mqbench ARGS...` in this process; its exit code.
fn mqbench(args: &[&str]) -> i32 {
    let mut v: Vec<std::ffi::OsString> = vec!["mqbench".into()];
    v.extend(args.iter().map(|a| a.into()));
    mqbench::cli::main(v)
}

/// `mqbench run` of the workload fixture `name` with `--quick` into
/// `out`, against `target` (`["--broker", "loopback"]` or
/// `["--omb-driver", FILE]`); the run must succeed.
fn run_quick(name: &str, target: [&str; 2], out: &Path) {
    let w = workload(name);
    let args =
        ["run", w.to_str().unwrap(), target[0], target[1], "--quick", "--no-progress", "--out", out.to_str().unwrap()];
    assert_eq!(mqbench(&args), 0);
}

fn read(dir: &Path) -> ResultsFile {
    mqbench::results::read_results(&dir.join("results.json")).unwrap()
}

#[test]
fn every_runnable_workload_runs_with_quick() {
    let dir = tempfile::tempdir().unwrap();
    // (workload, broker, point id, messages received over every
    // subscription: rate x the 2 s window x subscriptions)
    let runs = [
        ("one-topic-1kb", "loopback", "loopback/payload=1024/rate=1000msgps", Some(2_000)),
        ("fan-out-strings", "loopback", "loopback/payload=100/rate=6000msgps", Some(24_000)),
        ("max-rate", "loopback", "loopback/payload=64/rate=max", None),
        ("produce-only", "loopback", "loopback/payload=512/rate=2000msgps", Some(0)),
        // The loopback keeps no backlog (refused above): Redis streams do.
        ("backlog", "redis", "redis/payload=1024/rate=20000msgps/backlog", None),
    ];
    for (w, broker, id, received) in runs {
        let out = dir.path().join(w);
        let path = workload(w);
        let code = mqbench(&[
            "run",
            path.to_str().unwrap(),
            "--broker",
            broker,
            "--quick",
            "--no-progress",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{w} on {broker}");
        let r = read(&out);
        assert_eq!(r.points.len(), 1, "{w}");
        let p = &r.points[0];
        assert_eq!((p.id.as_str(), p.status), (id, Status::Ok), "{w}: {:?}", p.error);
        assert!(p.counts.sent > 0 && p.counts.lost == 0 && p.counts.duplicated == 0, "{w}: {:?}", p.counts);
        if let Some(n) = received {
            assert_eq!(p.counts.received, n, "{w}: {:?}", p.counts);
        }
        // The imported scenario is what results record.
        assert!(r.scenario_source.starts_with("# Imported from OpenMessaging Benchmark"), "{w}");
    }
    let backlog = read(&dir.path().join("backlog"));
    assert!(backlog.points[0].params.backlog);
    assert_eq!(backlog.points[0].counts.received, backlog.points[0].counts.sent);
}

#[test]
fn import_writes_a_scenario_that_validates() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.yaml");
    let w = workload("fan-out-strings");
    assert_eq!(
        mqbench(&["import", "omb", w.to_str().unwrap(), "--broker", "loopback", "-o", out.to_str().unwrap()]),
        0
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("  topics: 3  # topics\n"), "{text}");
    assert_eq!(mqbench(&["validate", out.to_str().unwrap()]), 0);
    // A refused import writes nothing and exits 1.
    let bad = dir.path().join("bad.yaml");
    let t = workload("refused-tiny");
    assert_eq!(
        mqbench(&["import", "omb", t.to_str().unwrap(), "--broker", "loopback", "-o", bad.to_str().unwrap()]),
        1
    );
    assert!(!bad.exists());
}

const OMB_RESULT: &str = "results/one-topic-1kb-Loopback-hand-written.json";

#[test]
fn an_omb_result_reads_as_measured_by_omb_and_reports_beside_mqbench() {
    let path = fixture(OMB_RESULT);
    let r = mqbench::omb::result::read_any(&path).unwrap();
    assert!(mqbench::omb::result::measured_by_omb(&r));
    let p = &r.points[0];
    // From the hand-written file: three 10 s intervals of 990, 1010 and
    // 1000 msg/s published, 980, 1020, 1000 consumed.
    assert_eq!(p.id, "loopback (measured by OMB)/payload=1024/rate=1000msgps");
    assert_eq!((p.params.payload_bytes, p.params.duration_s, p.params.subscriptions), (1024, 30.0, 1));
    assert_eq!((p.counts.sent, p.counts.received), (30_000, 30_000));
    assert!((p.throughput.publish_msgs_per_s - 1000.0).abs() < 1e-9);
    // Milliseconds to microseconds; p90 from the quantile map.
    let e = &p.latency_us.end_to_end;
    assert_eq!((e.p50, e.p90, e.p99, e.p999, e.p9999, e.max), (3_000, 7_000, 12_000, 20_000, 30_000, 41_000));
    assert_eq!(p.latency_us.service.p99, 6_500);
    assert_eq!(p.latency_us.schedule_delay.p99, 150);
    assert_eq!(p.series.len(), 3);
    assert_eq!((p.series[0].t_s, p.series[0].acked, p.series[0].backlog), (0.0, 9_900, 100));
    assert!(p.warnings[0].contains("0 ms samples dropped") && p.warnings[0].contains("intended send in microseconds"));
    // The rebuilt histogram draws the same distribution.
    let h = mqbench::measure::LatencyHistogram::decode(&p.histograms.end_to_end).unwrap();
    assert!((11_900..=12_100).contains(&h.quantile(0.99)), "{}", h.quantile(0.99));

    // Beside an mqbench run of the same workload: one report, and compare
    // matches the two points (OMB records no target rate).
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    run_quick("one-topic-1kb", ["--broker", "loopback"], &run);
    let report = dir.path().join("report");
    assert_eq!(
        mqbench(&["report", path.to_str().unwrap(), run.to_str().unwrap(), "--out", report.to_str().unwrap()]),
        0
    );
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("loopback (measured by OMB)"), "the OMB line is labelled");
    assert!(html.contains("0 ms samples dropped"), "the caveat is in the report");
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("measured by OMB"));
    let mut base = r.clone();
    let cur = read(&run);
    mqbench::omb::result::align_ids(&mut base, &cur);
    let c = mqbench::report::compare::compare(&base, &cur, &Default::default(), false);
    assert!(c.rows.iter().all(|r| r.metric.is_some()), "matched, not missing: {:?}", c.rows);
    assert_eq!(c.rows[0].id, "loopback/payload=1024/rate=1000msgps");
    // The command: it reads the OMB file and a run directory and matches
    // the points (latency is not judged here: a loaded host's tail is not
    // this test's business).
    let md = dir.path().join("compare.md");
    let (p, r, m) = (path.to_str().unwrap(), run.to_str().unwrap(), md.to_str().unwrap());
    assert_eq!(mqbench(&["compare", p, r, "--threshold", "throughput=900%", "--markdown", m]), 0);
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.contains("loopback/payload=1024/rate=1000msgps") && !text.contains("| missing"), "{text}");
}

#[test]
fn an_exported_run_reads_back_through_the_same_reader() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    run_quick("fan-out-strings", ["--broker", "loopback"], &run);
    let out = dir.path().join("omb");
    assert_eq!(mqbench(&["export", "omb", run.to_str().unwrap(), "--out", out.to_str().unwrap()]), 0);
    let files: Vec<PathBuf> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1);
    let original = read(&run);
    let o = &original.points[0];
    let back = mqbench::omb::result::read_any(&files[0]).unwrap();
    let b = &back.points[0];
    assert_eq!((b.id.as_str(), b.params.subscriptions, b.params.rate_label.as_str()), (o.id.as_str(), 2, "6000msgps"));
    assert_eq!((b.params.topics, b.params.partitions, b.params.producers, b.params.consumers), (3, 2, 2, 2));
    // Latencies: the original histograms' percentiles, exactly.
    let h = |s: &str| mqbench::measure::LatencyHistogram::decode(s).unwrap();
    let (e2e, service) = (h(&o.histograms.end_to_end), h(&o.histograms.service));
    assert_eq!(b.latency_us.end_to_end.p99, e2e.quantile(0.99));
    assert_eq!(b.latency_us.end_to_end.p50, e2e.quantile(0.5));
    assert_eq!(b.latency_us.service.p999, service.quantile(0.999));
    // Rates: the window's seconds in one 10 s interval.
    let measured: Vec<_> = o.series.iter().filter(|s| s.phase == "measure").collect();
    let secs = measured.len() as f64;
    let acked: u64 = measured.iter().map(|s| s.acked).sum();
    let received: u64 = measured.iter().map(|s| s.received).sum();
    assert!((b.throughput.publish_msgs_per_s - acked as f64 / secs).abs() < 1e-6);
    assert!((b.throughput.consume_msgs_per_s - received as f64 / secs).abs() < 1e-6);
    // The file says what OMB's format cannot hold, and is not taken for
    // an OMB measurement.
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    assert!(json["mqbench"]["notes"].as_array().unwrap().len() >= 3);
    assert!(json["aggregatedPublishDelayLatency75pct"].is_null(), "not recorded by mqbench, so left out");
    assert!(!mqbench::omb::result::measured_by_omb(&back));
}

/// A redis-server on a free port, killed when dropped.
struct Redis {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    fn start() -> Redis {
        let dir = tempfile::tempdir().unwrap();
        let port = portpicker::pick_unused_port().expect("a free port");
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (docker/install-brokers.sh installs it)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "redis-server did not listen on {port}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Redis { child, port, _dir: dir }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_driver_file_runs_against_the_broker_it_names() {
    // OMB's Redis driver file for a server on this host (no password: the
    // password path is covered above without touching the environment).
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("redis.yaml");
    std::fs::write(
        &d,
        format!(
            "name: Redis\ndriverClass: io.openmessaging.benchmark.driver.redis.RedisBenchmarkDriver\nredisHost: 127.0.0.1\nredisPort: {}\n",
            redis.port
        ),
    )
    .unwrap();
    let out = dir.path().join("run");
    run_quick("fan-out-strings", ["--omb-driver", d.to_str().unwrap()], &out);
    let r = read(&out);
    let p = &r.points[0];
    assert_eq!((p.id.as_str(), p.status), ("redis/payload=100/rate=6000msgps", Status::Ok), "{:?}", p.error);
    assert_eq!(p.broker_software.split(' ').next(), Some("redis"));
    assert_eq!(p.params.topics, 3);
    // 6,000 msg/s for the 2 s window, to 2 subscriptions.
    assert_eq!((p.counts.sent, p.counts.received, p.counts.lost), (12_000, 24_000, 0), "{:?}", p.counts);
}
