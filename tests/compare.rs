//! `mqbench compare` on stored results: an unchanged rerun passes, a
//! synthetic 20 % throughput drop fails the gate (exit code 3), the spread
//! between repeats absorbs noise, and missing points are reported.

use mqbench::report::compare::{compare, Thresholds, Verdict, EXIT_REGRESSION};
use mqbench::results::{read_results, ResultsFile};
use std::path::Path;

const FIXTURE: &str = "tests/fixtures/loopback-quick.json";

fn fixture() -> ResultsFile {
    read_results(Path::new(FIXTURE)).unwrap()
}

/// The fixture with every unthrottled point's throughput scaled by `f`.
fn scaled(f: f64) -> ResultsFile {
    let mut r = fixture();
    for p in r.points.iter_mut().filter(|p| p.params.rate.is_max()) {
        p.throughput.consume_msgs_per_s *= f;
        p.throughput.publish_msgs_per_s *= f;
    }
    r
}

fn write(dir: &Path, name: &str, r: &ResultsFile) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec(r).unwrap()).unwrap();
    path
}

fn cli(args: &[&std::ffi::OsStr]) -> i32 {
    let mut v = vec!["mqbench".into(), "compare".into()];
    v.extend(args.iter().map(|a| a.to_os_string()));
    mqbench::cli::main(v)
}

#[test]
fn an_unchanged_rerun_passes() {
    let c = compare(&fixture(), &fixture(), &Thresholds::default(), false);
    assert!(!c.failed());
    assert_eq!(c.regressions(), 0);
    assert!(c.rows.iter().all(|r| r.verdict == Verdict::Ok), "{:?}", c.rows);
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("summary.md");
    let code = cli(&[FIXTURE.as_ref(), FIXTURE.as_ref(), "--markdown".as_ref(), md.as_os_str()]);
    assert_eq!(code, 0);
    assert!(std::fs::read_to_string(md).unwrap().contains("**passed**"));
}

#[test]
fn a_twenty_percent_throughput_drop_is_a_regression() {
    let base = fixture();
    let cur = scaled(0.8);
    let c = compare(&base, &cur, &"throughput=5%,p99=10%".parse().unwrap(), false);
    let unthrottled_with_traffic =
        base.points.iter().filter(|p| p.params.rate.is_max() && p.throughput.consume_msgs_per_s > 0.0).count();
    assert!(unthrottled_with_traffic > 0);
    let regressions: Vec<_> = c.rows.iter().filter(|r| r.verdict == Verdict::Regression).collect();
    assert_eq!(regressions.len(), unthrottled_with_traffic, "{:?}", c.rows);
    for r in &regressions {
        assert!((r.change.unwrap() + 0.2).abs() < 1e-9, "change {:?}", r.change);
    }
    assert!(c.failed());
    let dir = tempfile::tempdir().unwrap();
    let (b, k) = (write(dir.path(), "base.json", &base), write(dir.path(), "cur.json", &cur));
    let md = dir.path().join("summary.md");
    let code = cli(&[b.as_os_str(), k.as_os_str(), "--markdown".as_ref(), md.as_os_str()]);
    assert_eq!(code, EXIT_REGRESSION);
    let text = std::fs::read_to_string(md).unwrap();
    assert!(text.contains("**FAILED**") && text.contains("REGRESSION"), "{text}");
    // A looser threshold lets the same drop through.
    let code = cli(&[b.as_os_str(), k.as_os_str(), "--threshold".as_ref(), "throughput=25%,p99=10%".as_ref()]);
    assert_eq!(code, 0);
}

/// Repeats whose spread is wider than the change make it noise.
#[test]
fn spread_between_repeats_absorbs_noise() {
    fn with_repeats(r: &ResultsFile, factors: &[f64]) -> ResultsFile {
        let mut out = r.clone();
        out.points.clear();
        for (i, f) in factors.iter().enumerate() {
            for p in &r.points {
                let mut q = p.clone();
                q.repeat = i as u32;
                q.throughput.consume_msgs_per_s *= f;
                q.throughput.publish_msgs_per_s *= f;
                out.points.push(q);
            }
        }
        out
    }
    let base = with_repeats(&fixture(), &[0.85, 1.0, 1.15]); // 30 % spread
    let noisy = with_repeats(&scaled(0.8), &[0.85, 1.0, 1.15]);
    let t: Thresholds = "throughput=5%".parse().unwrap();
    let c = compare(&base, &noisy, &t, false);
    assert_eq!(c.regressions(), 0, "{:?}", c.rows);
    assert!(c.rows.iter().any(|r| r.verdict == Verdict::Noise));
    // Tight repeats: the same 20 % drop is a regression.
    let base = with_repeats(&fixture(), &[0.99, 1.0, 1.01]);
    let tight = with_repeats(&scaled(0.8), &[0.99, 1.0, 1.01]);
    assert!(compare(&base, &tight, &t, false).regressions() > 0);
}

#[test]
fn missing_new_and_changed_software_are_reported() {
    let base = fixture();
    let mut cur = fixture();
    let gone = cur.points.remove(0);
    let mut extra = cur.points[0].clone();
    extra.id = "loopback/payload=1/rate=max/new=1".into();
    cur.points.push(extra);
    cur.points[0].broker_software = "loopback 2".into();
    let c = compare(&base, &cur, &Thresholds::default(), false);
    assert!(c.rows.iter().any(|r| r.id == gone.id && r.verdict == Verdict::Missing));
    assert!(c.rows.iter().any(|r| r.verdict == Verdict::New));
    assert_eq!(c.software.len(), 1);
    assert!(c.failed(), "a missing point fails the gate");
    assert!(!compare(&base, &cur, &Thresholds::default(), true).failed(), "unless allowed");
    let text = mqbench::report::compare::to_text(&c);
    assert!(text.contains("missing") && text.contains("broker software changed"), "{text}");
}

#[test]
fn bad_thresholds_are_clear_errors() {
    let code = cli(&[FIXTURE.as_ref(), FIXTURE.as_ref(), "--threshold".as_ref(), "speed=5%".as_ref()]);
    assert_eq!(code, 2, "clap rejects it as a usage error");
}
