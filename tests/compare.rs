//! `mqbench compare` on stored results: an unchanged rerun passes, a
//! synthetic 20 % throughput drop or latency rise fails the gate (exit code
//! 3), improvements and recoveries do not, a point that now fails is a
//! regression, the larger spread of the two sides absorbs noise, missing
//! points are reported, and bad input exits 1 as the README says.

use mqbench::report::compare::{compare, Metric, Thresholds, Verdict, EXIT_BAD_INPUT, EXIT_REGRESSION};
use mqbench::results::Status;
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

/// The fixture with every point's end-to-end percentiles scaled by `f`.
fn slower(f: f64) -> ResultsFile {
    let mut r = fixture();
    for p in &mut r.points {
        let e = &mut p.latency_us.end_to_end;
        for v in [&mut e.p50, &mut e.p99, &mut e.p999] {
            *v = (*v as f64 * f).round() as u64;
        }
    }
    r
}

/// Points whose end-to-end p99 is large enough that a 20 % change is
/// not lost to rounding of whole microseconds.
/// Unthrottled points are judged on throughput only.
fn with_latency(r: &ResultsFile) -> usize {
    r.points.iter().filter(|p| p.latency_us.end_to_end.p99 >= 100 && !p.params.rate.is_max()).count()
}

fn verdicts(c: &mqbench::report::compare::Comparison, metric: Metric) -> Vec<Verdict> {
    c.rows.iter().filter(|r| r.metric == Some(metric)).map(|r| r.verdict).collect()
}

#[test]
fn higher_latency_is_a_regression_and_lower_an_improvement() {
    let base = fixture();
    let n = with_latency(&base);
    assert!(n > 0, "the fixture has points with latency");
    let t: Thresholds = "p99=10%".parse().unwrap();
    let worse = compare(&base, &slower(1.25), &t, false);
    assert_eq!(
        verdicts(&worse, Metric::P99).iter().filter(|v| **v == Verdict::Regression).count(),
        n,
        "{:?}",
        worse.rows
    );
    assert!(worse.failed());
    // No latency row for an unthrottled point: its latency is its queue.
    assert!(worse.rows.iter().all(|r| r.metric != Some(Metric::P99) || !r.id.contains("rate=max")), "{:?}", worse.rows);
    let better = compare(&base, &slower(0.75), &t, false);
    assert_eq!(
        verdicts(&better, Metric::P99).iter().filter(|v| **v == Verdict::Improved).count(),
        n,
        "{:?}",
        better.rows
    );
    assert_eq!(better.regressions(), 0, "{:?}", better.rows);
    assert!(!better.failed());
    // The same through the command: exit 3 for the slower run, 0 for the faster.
    let dir = tempfile::tempdir().unwrap();
    let b = write(dir.path(), "base.json", &base);
    let (w, f) = (write(dir.path(), "worse.json", &slower(1.25)), write(dir.path(), "better.json", &slower(0.75)));
    let p99 = ["--threshold".as_ref(), "p99=10%".as_ref()];
    assert_eq!(cli(&[b.as_os_str(), w.as_os_str(), p99[0], p99[1]]), EXIT_REGRESSION);
    assert_eq!(cli(&[b.as_os_str(), f.as_os_str(), p99[0], p99[1]]), 0);
}

#[test]
fn more_throughput_is_an_improvement_not_a_regression() {
    let c = compare(&fixture(), &scaled(1.3), &"throughput=5%".parse().unwrap(), false);
    let v = verdicts(&c, Metric::Throughput);
    assert!(v.contains(&Verdict::Improved), "{:?}", c.rows);
    assert!(!v.contains(&Verdict::Regression), "{:?}", c.rows);
    assert!(!c.failed());
}

#[test]
fn a_point_that_was_ok_and_now_fails_is_a_regression() {
    let base = fixture();
    let mut cur = fixture();
    cur.points[0].status = Status::Failed;
    cur.points[0].error = Some("broker went away".into());
    let c = compare(&base, &cur, &Thresholds::default(), false);
    let row = c.rows.iter().find(|r| r.id == cur.points[0].id).unwrap();
    assert_eq!(row.verdict, Verdict::NowFails);
    assert_eq!(c.regressions(), 1, "{:?}", c.rows);
    assert!(c.failed());
    // And the other way round: recovered and still failing are not regressions.
    let c = compare(&cur, &base, &Thresholds::default(), false);
    assert_eq!(c.rows.iter().find(|r| r.id == cur.points[0].id).unwrap().verdict, Verdict::Recovered);
    assert!(!c.failed(), "{:?}", c.rows);
    let c = compare(&cur, &cur, &Thresholds::default(), false);
    assert_eq!(c.rows.iter().find(|r| r.id == cur.points[0].id).unwrap().verdict, Verdict::StillFails);
    assert!(!c.failed(), "{:?}", c.rows);
    let dir = tempfile::tempdir().unwrap();
    let (b, k) = (write(dir.path(), "base.json", &base), write(dir.path(), "cur.json", &cur));
    assert_eq!(cli(&[b.as_os_str(), k.as_os_str()]), EXIT_REGRESSION);
}

/// Points of `r` repeated once per factor, throughput scaled by it.
fn repeated(r: &ResultsFile, factors: &[f64]) -> ResultsFile {
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

/// The spread that excuses a change is the larger of the two sides': a
/// noisy current run cannot pass as a regression of a steady baseline, nor
/// the other way round.
#[test]
fn the_larger_spread_of_either_side_decides_what_is_noise() {
    let t: Thresholds = "throughput=5%".parse().unwrap();
    let (tight, wide) = (&[0.99, 1.0, 1.01][..], &[0.85, 1.0, 1.15][..]); // 2 % and 30 %
    let judge = |base: &[f64], cur: &[f64]| {
        let c = compare(&repeated(&fixture(), base), &repeated(&scaled(0.8), cur), &t, false);
        let v = verdicts(&c, Metric::Throughput);
        let row = c.rows.iter().find(|r| r.metric == Some(Metric::Throughput) && r.verdict != Verdict::Ok).cloned();
        (v, row)
    };
    for (base, cur, what) in [(tight, wide, "noisy current"), (wide, tight, "noisy baseline")] {
        let (v, row) = judge(base, cur);
        assert!(v.contains(&Verdict::Noise) && !v.contains(&Verdict::Regression), "{what}: {v:?}");
        let row = row.unwrap();
        assert!((row.spread - 0.30).abs() < 1e-9, "{what}: the larger spread, not {}", row.spread);
        assert_eq!(row.repeats, (3, 3));
    }
    let (v, row) = judge(tight, tight);
    assert!(v.contains(&Verdict::Regression) && !v.contains(&Verdict::Noise), "{v:?}");
    assert!((row.unwrap().spread - 0.02).abs() < 1e-9);
}

#[test]
fn bad_input_exits_1_and_a_malformed_command_line_2() {
    let dir = tempfile::tempdir().unwrap();
    let f = FIXTURE.as_ref();
    // A bad threshold, an unreadable file, a file that is not results: "could not compare".
    assert_eq!(cli(&[f, f, "--threshold".as_ref(), "speed=5%".as_ref()]), EXIT_BAD_INPUT);
    assert_eq!(cli(&[f, f, "--threshold".as_ref(), "p99=ten".as_ref()]), EXIT_BAD_INPUT);
    assert_eq!(cli(&[f, dir.path().join("missing.json").as_os_str()]), EXIT_BAD_INPUT);
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"points\": 3}").unwrap();
    assert_eq!(cli(&[junk.as_os_str(), f]), EXIT_BAD_INPUT);
    assert_eq!(EXIT_BAD_INPUT, 1, "the README documents 1");
    // What the error says, from the binary.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mqbench"))
        .args(["compare", FIXTURE, FIXTURE, "--threshold", "speed=5%"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--threshold speed=5%") && stderr.contains("unknown metric `speed`"), "{stderr}");
    // Not a comparison at all: clap's usage error.
    assert_eq!(cli(&[f, f, "--no-such-option".as_ref()]), 2);
    assert_eq!(cli(&[f]), 2);
}
