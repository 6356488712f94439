//! Scenario files: units, sweep expansion, stable ids, and errors that name
//! file, line and column.

use mqbench::scenario::{parse, Overrides, RateParam};
use std::path::Path;

fn load(text: &str) -> Result<mqbench::scenario::Scenario, mqbench::scenario::ScenarioError> {
    parse(Path::new("sweep.yaml"), text, &Overrides::default())
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
    let s = parse(Path::new("x.yaml"), text, &o).unwrap();
    assert_eq!(s.points.len(), 2);
    assert!(s.points[0].params.rate.is_max());
    assert_eq!(s.points[0].params.options["drop"], serde_json::json!(0.5));
    assert_eq!(s.points[0].params.duration_s, 2.0);
    assert_eq!(s.points[0].params.warmup_s, 0.5);
    let bad = Overrides { set: vec!["colour=red".into()], ..Default::default() };
    let e = parse(Path::new("x.yaml"), text, &bad).unwrap_err().to_string();
    assert!(e.contains("--set colour=red") && e.contains("workload knob"), "{e}");
    let unknown = Overrides { brokers: vec!["kafak".into()], ..Default::default() };
    let e = parse(Path::new("x.yaml"), text, &unknown).unwrap_err().to_string();
    assert!(e.contains("--broker kafak") && e.contains("loopback"), "{e}");
}

fn error_of(text: &str) -> String {
    load(text).unwrap_err().to_string()
}

#[test]
fn errors_name_file_line_and_column() {
    let e = error_of("workload:\n  payload: [10B, 10XB]\nbrokers:\n  - name: loopback\n");
    assert!(e.starts_with("sweep.yaml:2:"), "{e}");
    assert!(e.contains("unknown size unit `XB`"), "{e}");

    let e = error_of("workload:\n  rate: 1000\nbrokers:\n  - name: loopback\n");
    assert!(e.starts_with("sweep.yaml:2:"), "{e}");
    assert!(e.contains("no unit"), "{e}");

    let e = error_of("workload:\n  paylod: 1KB\nbrokers:\n  - name: loopback\n");
    assert!(e.starts_with("sweep.yaml:2:3:"), "{e}");
    assert!(e.contains("unknown field `paylod`"), "{e}");

    let e = error_of("brokers:\n  - name: loopback\n  - name: rabbit\n");
    assert!(e.starts_with("sweep.yaml:3:5:"), "{e}");
    assert!(e.contains("unknown adapter `rabbit`"), "{e}");

    let e = error_of("brokers:\n  - name: loopback\n    options:\n      drop: 0.1\n      stal_every: 1s\n");
    assert!(e.starts_with("sweep.yaml:5:7:"), "{e}");
    assert!(e.contains("stal_every"), "{e}");

    let e = error_of("workload:\n  payload: 5B\nbrokers:\n  - name: loopback\n");
    assert!(e.starts_with("sweep.yaml:2:3:") && e.contains("below the minimum of 10 B"), "{e}");

    let e = error_of("brokers:\n  - name: loopback\n  - name: loopback\n");
    assert!(e.starts_with("sweep.yaml:3:5:") && e.contains("used twice"), "{e}");

    let e = error_of("brokers:\n  - name: redis\n    provision: live\n");
    assert!(e.starts_with("sweep.yaml:3:5:") && e.contains("needs an `endpoint:`"), "{e}");

    let e = error_of("workload:\n  producers: 0\nbrokers:\n  - name: loopback\n");
    assert!(e.starts_with("sweep.yaml:2:3:") && e.contains("at least 1"), "{e}");

    // A backlog needs consumers and a broker that keeps messages for them.
    let e = error_of("workload:\n  backlog: true\nbrokers:\n  - name: loopback\n");
    assert!(e.starts_with("sweep.yaml:2:3:") && e.contains("cannot run `backlog: true`"), "{e}");
    let e = error_of("workload:\n  backlog: true\n  subscriptions: 0\nbrokers:\n  - name: kafka\n");
    assert!(e.starts_with("sweep.yaml:2:3:") && e.contains("`subscriptions` is 0"), "{e}");
    let e =
        error_of("brokers:\n  - name: redis\n    workload:\n      backlog: true\n    options:\n      mode: pubsub\n");
    assert!(e.starts_with("sweep.yaml:4:7:") && e.contains("pubsub"), "{e}");
    let ok = load("workload:\n  backlog: true\nbrokers:\n  - name: kafka\n  - name: redis\n").unwrap();
    assert!(ok.points.iter().all(|p| p.params.backlog && p.id.ends_with("/backlog")));

    let e = error_of("brokers: []\n");
    assert!(e.contains("no brokers"), "{e}");

    let e = error_of("workload:\n  rate: [max\nbrokers:\n");
    assert!(e.starts_with("sweep.yaml:"), "{e}");
}

#[test]
fn missing_file_is_a_clear_error() {
    let e = mqbench::scenario::load(Path::new("/nonexistent/x.yaml"), &Overrides::default()).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/x.yaml: cannot read scenario file"), "{e}");
}

#[test]
fn shipped_scenarios_validate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            mqbench::scenario::load(&path, &Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 1);
}
