//! Reports from a stored results file (tests/fixtures/loopback-quick.json,
//! made by `mqbench run scenarios/loopback.yaml --quick`): the charts render,
//! the SVG parses and holds the expected series, and the plausibility
//! warnings fire on the data that should trigger them.

use mqbench::report::plausibility::Kind;
use mqbench::report::{self, Input, PublishedMode};
use mqbench::results::{read_results, ResultsFile};
use quick_xml::events::Event;
use std::path::{Path, PathBuf};

const FIXTURE: &str = "tests/fixtures/loopback-quick.json";

fn fixture() -> ResultsFile {
    read_results(Path::new(FIXTURE)).unwrap()
}

fn input(results: ResultsFile) -> Input {
    Input { path: PathBuf::from(FIXTURE), results }
}

/// Every text node of an SVG document, after checking it parses as XML.
fn svg_texts(svg: &str) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_str(svg);
    let mut texts = Vec::new();
    let mut depth = 0i32;
    let mut saw_svg = false;
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("SVG does not parse: {e}")) {
            Event::Start(e) => {
                saw_svg |= e.name().as_ref() == b"svg";
                depth += 1;
            }
            Event::End(_) => depth -= 1,
            Event::Text(t) => texts.push(t.decode().unwrap().trim().to_string()),
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(saw_svg, "no <svg> element");
    assert_eq!(depth, 0, "unbalanced SVG");
    texts
}

fn count_tag(svg: &str, tag: &[u8]) -> usize {
    let mut reader = quick_xml::Reader::from_str(svg);
    let mut n = 0;
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == tag => n += 1,
            Event::Eof => break,
            _ => {}
        }
    }
    n
}

#[test]
fn charts_render_from_stored_results_with_the_expected_series() {
    let inputs = vec![input(fixture())];
    let dir = tempfile::tempdir().unwrap();
    let written = report::write(&inputs, dir.path(), PublishedMode::Always).unwrap();
    assert!(written.problems.is_empty(), "{:?}", written.problems);

    let throughput = std::fs::read_to_string(dir.path().join("charts/throughput.svg")).unwrap();
    let texts = svg_texts(&throughput);
    // One measured line (loopback) and four published ones, in both panels.
    for label in ["loopback", "kafka (published)", "redis (published)", "rabbitmq (published)", "artemis (published)"] {
        assert_eq!(texts.iter().filter(|t| *t == label).count(), 2, "legend entry {label} in {texts:?}");
    }
    for axis in ["payload size (bytes, log scale)", "throughput (msg/s, log scale)", "throughput (MB/s, log scale)"] {
        assert!(texts.iter().any(|t| t == axis), "axis label {axis}");
    }
    assert!(texts.iter().any(|t| t == "100 KB"), "decade ticks in bytes: {texts:?}");
    assert!(count_tag(&throughput, b"polyline") >= 10, "5 lines x 2 panels");

    let latency = std::fs::read_to_string(dir.path().join("charts/latency.svg")).unwrap();
    let texts = svg_texts(&latency);
    for title in ["end-to-end p50", "end-to-end p99", "end-to-end p99.9"] {
        assert!(texts.iter().any(|t| t == title), "panel {title}");
    }
    // The fixture sweeps three payload sizes at fixed rates: one line each.
    for size in ["loopback, 10 B", "loopback, 1 KB", "loopback, 100 KB"] {
        assert_eq!(texts.iter().filter(|t| *t == size).count(), 3, "{size} in every panel: {texts:?}");
    }

    // One percentile plot and one series per point.
    let n = inputs[0].results.points.len();
    for i in 0..n {
        let svg = std::fs::read_to_string(dir.path().join(format!("charts/point-{i}-percentiles.svg"))).unwrap();
        let texts = svg_texts(&svg);
        for tick in ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"] {
            assert!(texts.iter().any(|t| t == tick), "percentile tick {tick} in point {i}");
        }
        assert!(texts.iter().any(|t| t.starts_with("end to end (from intended send), n=")));
        let svg = std::fs::read_to_string(dir.path().join(format!("charts/point-{i}-series.svg"))).unwrap();
        let texts = svg_texts(&svg);
        for l in ["sent", "acknowledged", "received", "end-to-end p99"] {
            assert!(texts.iter().any(|t| t == l), "series {l} in point {i}");
        }
    }
    // PNGs exist and are PNGs.
    let png = std::fs::read(dir.path().join("charts/throughput.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 10_000, "a drawn chart, not an empty image");
}

#[test]
fn html_and_markdown_hold_tables_environment_and_scenario() {
    let inputs = vec![input(fixture())];
    let dir = tempfile::tempdir().unwrap();
    report::write(&inputs, dir.path(), PublishedMode::Auto).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let r = &inputs[0].results;
    assert_eq!(html.matches("<svg").count(), 2 + 2 * r.points.len(), "inline charts");
    for p in &r.points {
        assert!(html.contains(&format!("<td>{}</td>", p.id)), "row of {}", p.id);
    }
    assert!(html.contains(&r.run.host.hostname));
    assert!(html.contains("class=\"scenario\""));
    assert!(html.contains("The harness's own ceiling"), "scenario text");
    assert!(!html.contains("src=\"http"), "self-contained");
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("![Throughput against payload size (unthrottled)](charts/throughput.png)"));
    for p in &r.points {
        assert!(md.contains(&format!("| {} |", p.id)), "row of {}", p.id);
    }
    // Auto: a loopback-only run has no published counterpart.
    assert!(!html.contains("Measured beside published"));
}

#[test]
fn plausibility_flags_a_broker_above_the_loopback_ceiling_and_losses() {
    let mut results = fixture();
    // A "broker" point derived from the fastest loopback point: twice its
    // throughput, on the same host, with one lost and one duplicated message.
    let mut fake = results
        .points
        .iter()
        .filter(|p| p.params.rate.is_max())
        .max_by(|a, b| a.throughput.consume_msgs_per_s.total_cmp(&b.throughput.consume_msgs_per_s))
        .unwrap()
        .clone();
    fake.id = fake.id.replacen("loopback", "redis", 1);
    fake.broker = "redis".into();
    fake.adapter = "redis".into();
    fake.broker_software = "redis 7.0.15".into();
    fake.throughput.consume_msgs_per_s *= 2.0;
    fake.throughput.publish_msgs_per_s *= 2.0;
    fake.counts.lost = 1;
    fake.counts.duplicated = 1;
    results.points.push(fake.clone());
    let inputs = vec![input(results)];
    let r = report::build(&inputs, PublishedMode::Auto);
    let kinds: Vec<(Kind, &str)> = r.warnings.iter().map(|w| (w.kind, w.subject.as_str())).collect();
    assert!(kinds.contains(&(Kind::AboveLoopback, fake.id.as_str())), "{kinds:?}");
    assert!(kinds.contains(&(Kind::LostOrDuplicated, fake.id.as_str())), "{kinds:?}");
    // Auto mode draws redis's published figures now, and flags theirs too.
    assert!(r.published.iter().all(|p| p.broker == "redis"));
    assert!(kinds.contains(&(Kind::FlatLatency, "published redis latency")), "{kinds:?}");
    // The loopback points themselves are not above their own ceiling.
    assert!(!r.warnings.iter().any(|w| w.kind == Kind::AboveLoopback && w.subject.starts_with("loopback")));
}

#[test]
fn report_command_writes_beside_the_results_and_rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(FIXTURE, dir.path().join("results.json")).unwrap();
    let code = mqbench::cli::main(vec!["mqbench".into(), "report".into(), dir.path().join("results.json").into()]);
    assert_eq!(code, 0);
    assert!(dir.path().join("report.html").exists() && dir.path().join("report.md").exists());
    std::fs::write(dir.path().join("bad.json"), "{}").unwrap();
    let code = mqbench::cli::main(vec!["mqbench".into(), "report".into(), dir.path().join("bad.json").into()]);
    assert_eq!(code, 1);
}
