//! Reports from a stored results file (tests/fixtures/loopback-quick.json,
//! made by `mqbench run scenarios/loopback.yaml --quick`): the charts render,
//! the SVG parses, holds the expected series and plots the stored values at
//! the right places on its axes, the HTML has no scripts or external
//! links, the plausibility warnings fire on the data that should trigger
//! them (a failed point too), and a run whose report cannot be drawn keeps
//! its results.

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

/// The text labels (x, y, text) and the polylines (stroke, points) of an
/// SVG; data lines are drawn 2 px wide, axes and grid 1 px.
struct Drawn {
    texts: Vec<(f64, f64, String)>,
    lines: Vec<(String, Vec<(f64, f64)>)>,
}

fn drawn(svg: &str) -> Drawn {
    let attr = |e: &quick_xml::events::BytesStart, name: &[u8]| -> Option<String> {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == name)
            .map(|a| String::from_utf8_lossy(&a.value).into_owned())
    };
    let mut reader = quick_xml::Reader::from_str(svg);
    let (mut texts, mut lines) = (Vec::new(), Vec::new());
    let mut at: Option<(f64, f64)> = None;
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) if e.name().as_ref() == b"text" => {
                let num = |n: &[u8]| attr(&e, n).and_then(|v| v.parse().ok());
                at = num(b"x").zip(num(b"y"));
            }
            Event::Text(t) => {
                if let Some((x, y)) = at.take() {
                    texts.push((x, y, t.decode().unwrap().trim().to_string()));
                }
            }
            Event::Empty(e) | Event::Start(e) if e.name().as_ref() == b"polyline" => {
                let points = attr(&e, b"points").unwrap_or_default();
                let points = points
                    .split_whitespace()
                    .map(|p| {
                        let (x, y) = p.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect();
                if attr(&e, b"stroke-width").as_deref() == Some("2") {
                    lines.push((attr(&e, b"stroke").unwrap_or_default(), points));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Drawn { texts, lines }
}

/// A tick label's value: `10 B`, `1 KB`, `100k`, `1M`, `1000`.
fn tick_value(t: &str) -> Option<f64> {
    let t = t.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let n: f64 = t[..split].parse().ok()?;
    let f = match t[split..].trim() {
        "" | "B" => 1.0,
        "k" | "KB" => 1e3,
        "M" | "MB" => 1e6,
        "G" => 1e9,
        _ => return None,
    };
    Some(n * f)
}

/// A logarithmic axis fitted through its outermost tick labels:
/// (pixel, log10 value) at both ends.
struct LogAxis((f64, f64), (f64, f64));

impl LogAxis {
    fn value(&self, pixel: f64) -> f64 {
        let ((p0, l0), (p1, l1)) = (self.0, self.1);
        10f64.powf(l0 + (pixel - p0) / (p1 - p0) * (l1 - l0))
    }
    /// log10 units per pixel.
    fn resolution(&self) -> f64 {
        ((self.1 .1 - self.0 .1) / (self.1 .0 - self.0 .0)).abs()
    }
}

fn log_axis(ticks: &[(f64, f64)]) -> LogAxis {
    let lo = ticks.iter().min_by(|a, b| a.0.total_cmp(&b.0)).unwrap();
    let hi = ticks.iter().max_by(|a, b| a.0.total_cmp(&b.0)).unwrap();
    assert!(hi.0 > lo.0, "one tick only: {ticks:?}");
    LogAxis((lo.0, lo.1.log10()), (hi.0, hi.1.log10()))
}

/// The throughput chart places each unthrottled point where its stored
/// value is: decoding the measured line's vertices through the axes' own
/// tick labels gives back the payload size and the msg/s or MB/s of the
/// results, to within a pixel and a half.
#[test]
fn the_throughput_chart_plots_the_stored_values() {
    let results = fixture();
    let dir = tempfile::tempdir().unwrap();
    report::write(&[input(results.clone())], dir.path(), PublishedMode::Never).unwrap();
    let svg = drawn(&std::fs::read_to_string(dir.path().join("charts/throughput.svg")).unwrap());
    // What must be drawn: payload -> (msg/s, MB/s), for unthrottled points
    // that delivered anything (zero has no place on a log axis).
    let want: Vec<(f64, f64, f64)> = results
        .points
        .iter()
        .filter(|p| p.params.rate.is_max() && p.throughput.consume_msgs_per_s > 0.0)
        .map(|p| {
            let m = p.throughput.consume_msgs_per_s / p.params.subscriptions as f64;
            (p.params.payload_bytes as f64, m, m * p.params.payload_bytes as f64 / 1e6)
        })
        .collect();
    assert!(want.len() >= 2, "{want:?}");
    let width = svg.texts.iter().map(|t| t.0).fold(0.0, f64::max);
    for (panel, left) in [("msg/s", true), ("MB/s", false)] {
        let inside = |x: f64| (x < width / 2.0) == left;
        // Tick labels: y-axis ones are right-aligned numbers left of the
        // plot, x-axis ones sit on one line below it.
        let numbers: Vec<(f64, f64, f64)> =
            svg.texts.iter().filter(|t| inside(t.0)).filter_map(|t| tick_value(&t.2).map(|v| (t.0, t.1, v))).collect();
        let bottom = numbers.iter().map(|t| t.1).fold(0.0, f64::max);
        let x_ticks: Vec<(f64, f64)> = numbers.iter().filter(|t| t.1 == bottom).map(|t| (t.0, t.2)).collect();
        let y_ticks: Vec<(f64, f64)> = numbers.iter().filter(|t| t.1 != bottom).map(|t| (t.1, t.2)).collect();
        let (xa, ya) = (log_axis(&x_ticks), log_axis(&y_ticks));
        // The measured line: the coloured polyline with one vertex per payload.
        let line = svg
            .lines
            .iter()
            .find(|(_, pts)| pts.len() == want.len() && inside(pts[0].0) && pts[0].1 != pts[1].1)
            .unwrap_or_else(|| panic!("{panel}: no measured line among {:?}", svg.lines));
        for ((x, y), (payload, msgs, mbs)) in line.1.iter().zip(&want) {
            let (gx, gy) = (xa.value(*x), ya.value(*y));
            let value = if left { *msgs } else { *mbs };
            assert!((gx.log10() - payload.log10()).abs() <= 1.5 * xa.resolution(), "{panel}: x {gx} for {payload} B");
            assert!(
                (gy.log10() - value.log10()).abs() <= 1.5 * ya.resolution(),
                "{panel}: plotted {gy:.1} at {payload} B, stored {value:.1}"
            );
        }
    }
}

#[test]
fn report_html_has_no_scripts_and_no_external_links() {
    let dir = tempfile::tempdir().unwrap();
    let written = report::write(&[input(fixture())], dir.path(), PublishedMode::Always).unwrap();
    let html = std::fs::read_to_string(&written.html).unwrap().to_lowercase();
    assert!(html.len() > 10_000, "a whole report");
    for banned in [
        "<script",
        "javascript:",
        "<iframe",
        "<object",
        "<embed",
        "<link",
        "@import",
        "url(",
        " onload=",
        " onclick=",
        " onerror=",
    ] {
        assert!(!html.contains(banned), "report.html contains `{banned}`");
    }
    // Every src and href points inside the file (or at nothing outside it);
    // the SVG namespace is an identifier, not a link.
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let value: String = html[i + attr.len()..].chars().take_while(|c| *c != '"').collect();
            assert!(!value.contains("//") && !value.starts_with("data:text/html"), "{attr}{value}\" leaves the file");
        }
    }
}

#[test]
fn a_failed_point_is_warned_about_in_the_report() {
    let mut results = fixture();
    let failed = &mut results.points[1];
    failed.status = mqbench::results::Status::Failed;
    failed.error = Some("broker went away mid-point".into());
    let id = failed.id.clone();
    let inputs = vec![input(results)];
    let r = report::build(&inputs, PublishedMode::Never);
    let warning = r.warnings.iter().find(|w| w.kind == Kind::Failed).expect("a failed-point warning");
    assert_eq!(warning.subject, id);
    assert_eq!(r.warnings.iter().filter(|w| w.kind == Kind::Failed).count(), 1, "only the failed point");
    let dir = tempfile::tempdir().unwrap();
    let written = report::write(&inputs, dir.path(), PublishedMode::Never).unwrap();
    let html = std::fs::read_to_string(written.html).unwrap();
    let md = std::fs::read_to_string(written.markdown).unwrap();
    for text in [&html, &md] {
        assert!(text.contains("failed point") && text.contains(&id), "the warning is in the report");
        assert!(text.contains("broker went away mid-point"), "with the point's error");
    }
}

/// `mqbench run` writes its results before it draws: a report that cannot
/// be drawn (here `charts` is a file, so no chart can be written) is a
/// warning, the run still succeeds and its results are complete.
#[test]
fn a_report_that_cannot_be_drawn_leaves_the_run_and_its_results_intact() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.yaml");
    std::fs::write(&file, "workload:\n  payload: 100B\n  rate: 1000msgps\n  warmup: 0s\n  duration: 1s\n  drain: 1s\nbrokers:\n  - name: loopback\n").unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("charts"), "not a directory").unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_mqbench"))
        .arg("run")
        .arg(&file)
        .arg("--no-progress")
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: the report was not written") && stderr.contains("the results are in"),
        "{stderr}"
    );
    let results = read_results(&out.join("results.json")).unwrap();
    assert_eq!(results.points.len(), 1);
    assert_eq!(results.points[0].status, mqbench::results::Status::Ok);
    assert_eq!(results.points[0].counts.received, 1000);
    assert!(results.run.finished_at.is_some());
    assert!(out.join("results.csv").exists());
    assert!(!out.join("report.html").exists());
}

/// The latency chart: in each percentile's panel, the line of each payload
/// size (found through its legend entry's colour) has a vertex per fixed
/// rate, at the stored rate in MB/s and the stored percentile in ms, read
/// back through the panel's own tick labels.
#[test]
fn the_latency_chart_plots_the_stored_percentiles() {
    let results = fixture();
    let dir = tempfile::tempdir().unwrap();
    report::write(&[input(results.clone())], dir.path(), PublishedMode::Never).unwrap();
    let svg = drawn(&std::fs::read_to_string(dir.path().join("charts/latency.svg")).unwrap());
    type Pick = fn(&mqbench::measure::LatencySummary) -> u64;
    let panels: [(&str, Pick); 3] =
        [("end-to-end p50", |s| s.p50), ("end-to-end p99", |s| s.p99), ("end-to-end p99.9", |s| s.p999)];
    let mut checked = 0;
    for (title, pick) in panels {
        let centre = svg.texts.iter().find(|t| t.2 == title).unwrap_or_else(|| panic!("no panel {title}")).0;
        let gap = svg
            .texts
            .iter()
            .filter(|t| t.2.starts_with("end-to-end p"))
            .map(|t| (t.0 - centre).abs())
            .filter(|d| *d > 0.0)
            .fold(f64::MAX, f64::min);
        let inside = |x: f64| (x - centre).abs() < gap / 2.0;
        let numbers: Vec<(f64, f64, f64)> =
            svg.texts.iter().filter(|t| inside(t.0)).filter_map(|t| tick_value(&t.2).map(|v| (t.0, t.1, v))).collect();
        let bottom = numbers.iter().map(|t| t.1).fold(0.0, f64::max);
        let xa = log_axis(&numbers.iter().filter(|t| t.1 == bottom).map(|t| (t.0, t.2)).collect::<Vec<_>>());
        let ya = log_axis(&numbers.iter().filter(|t| t.1 != bottom).map(|t| (t.1, t.2)).collect::<Vec<_>>());
        for (size, label) in [(10, "loopback, 10 B"), (1000, "loopback, 1 KB"), (100_000, "loopback, 100 KB")] {
            // The legend's sample line sits just left of its text, level with it.
            let legend = svg
                .texts
                .iter()
                .find(|t| inside(t.0) && t.2 == label)
                .unwrap_or_else(|| panic!("{title}: no legend {label}"));
            let colour = &svg
                .lines
                .iter()
                .find(|(_, p)| {
                    p.len() == 2
                        && p[0].1 == p[1].1
                        && (p[1].0 - legend.0).abs() < 10.0
                        && (p[0].1 - legend.1).abs() < 10.0
                })
                .unwrap_or_else(|| panic!("{title}: no legend line for {label}"))
                .0;
            let mut want: Vec<(f64, f64)> = results
                .points
                .iter()
                .filter(|p| p.params.payload_bytes == size && !p.params.rate.is_max())
                .map(|p| {
                    (
                        p.params.rate.msgs_per_s().unwrap() * size as f64 / 1e6,
                        pick(&p.latency_us.end_to_end) as f64 / 1000.0,
                    )
                })
                .collect();
            want.sort_by(|a, b| a.0.total_cmp(&b.0));
            let line = svg
                .lines
                .iter()
                .find(|(c, p)| c == colour && inside(p[0].0) && p.len() == want.len() && p[0].1 != p[1].1)
                .unwrap_or_else(|| panic!("{title}: no line for {label}"));
            for ((x, y), (rate, ms)) in line.1.iter().zip(&want) {
                let (gx, gy) = (xa.value(*x), ya.value(*y));
                assert!(
                    (gx.log10() - rate.log10()).abs() <= 1.5 * xa.resolution(),
                    "{title}, {label}: x {gx} for {rate} MB/s"
                );
                assert!(
                    (gy.log10() - ms.log10()).abs() <= 1.5 * ya.resolution(),
                    "{title}, {label}: plotted {gy:.3} ms at {rate} MB/s, stored {ms:.3} ms"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 3 * 3 * 2, "three panels, three sizes, two rates");
}

/// The summary row of each broker and payload holds the stored figures:
/// the unthrottled point's delivered msg/s, the p50 and p99 of each fixed
/// rate, the loss counts; a broker with a lost message gets a warning
/// verdict; the best broker of a payload is a broker, never loopback.
#[test]
fn the_summary_holds_each_broker_and_payload_figures() {
    let mut results = fixture();
    // At 1 KB, redis a quarter and kafka an eighth of loopback's throughput,
    // with three and five times its p99.
    let kb: Vec<_> = results.points.iter().filter(|p| p.params.payload_bytes == 1000).cloned().collect();
    for (broker, slower, software) in [("redis", 4, "redis 7.0.15"), ("kafka", 8, "Apache Kafka 4.1.1")] {
        for (i, p) in kb.iter().enumerate() {
            let mut p = p.clone();
            p.id = p.id.replacen("loopback", broker, 1);
            p.broker = broker.into();
            p.adapter = broker.into();
            p.broker_software = software.into();
            p.throughput.consume_msgs_per_s /= slower as f64;
            p.latency_us.end_to_end.p99 *= slower as u64 / 2 + 1;
            if broker == "redis" && i == 0 {
                p.counts.lost = 2;
            }
            results.points.push(p);
        }
    }
    let inputs = vec![input(results.clone())];
    let r = report::build(&inputs, PublishedMode::Never);
    let s = &r.summary;
    assert_eq!(s.rates, ["1MBps", "15MBps"]);
    // Three payloads of loopback and one of redis and kafka, by payload.
    let keys: Vec<(u64, &str)> = s.rows.iter().map(|r| (r.payload_bytes, r.broker.as_str())).collect();
    assert_eq!(keys, [(10, "loopback"), (1000, "loopback"), (1000, "redis"), (1000, "kafka"), (100_000, "loopback")]);
    for row in &s.rows {
        let mine: Vec<_> = results
            .points
            .iter()
            .filter(|p| p.broker == row.broker && p.params.payload_bytes == row.payload_bytes)
            .collect();
        let max = mine.iter().find(|p| p.params.rate.is_max()).unwrap();
        assert_eq!(row.max_msgs_per_s, Some(max.throughput.consume_msgs_per_s / max.params.subscriptions as f64));
        for (k, rate) in s.rates.iter().enumerate() {
            let p = mine.iter().find(|p| &p.params.rate_label == rate).unwrap();
            assert_eq!(
                row.latency_us[k],
                Some((p.latency_us.end_to_end.p50, p.latency_us.end_to_end.p99)),
                "{} {rate}",
                row.broker
            );
        }
        assert_eq!(row.lost, mine.iter().map(|p| p.counts.lost).sum::<u64>());
    }
    let redis_row = s.rows.iter().position(|r| r.broker == "redis").unwrap();
    assert_eq!(s.rows[redis_row].loss(), "2 lost");
    assert!(s.rows[redis_row].verdict().contains("warning"), "{}", s.rows[redis_row].verdict());
    assert!(s.rows[redis_row].notes.iter().any(|n| n.contains("lost")), "{:?}", s.rows[redis_row].notes);
    // Loopback is faster but is the ceiling: redis is the 1 KB answer.
    assert!(s.best_throughput(redis_row) && s.best_p99(redis_row, 0) && s.best_p99(redis_row, 1));
    assert!(!s.best_throughput(redis_row + 1) && !s.best_p99(redis_row + 1, 0));
    assert!(!s.rows.iter().enumerate().any(|(i, r)| r.broker == "loopback" && s.best_throughput(i)));
    let answers = s.answers();
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert!(answers[0].starts_with("1 KB: most msg/s: redis"), "{answers:?}");

    // Both reports show it before anything else.
    let dir = tempfile::tempdir().unwrap();
    let written = report::write(&inputs, dir.path(), PublishedMode::Never).unwrap();
    let html = std::fs::read_to_string(&written.html).unwrap();
    let summary = html.find("<table class=\"summary\">").expect("summary table");
    assert!(summary < html.find("<figure").unwrap() && summary < html.find("<table class=\"runs\">").unwrap());
    assert!(html.contains("redis 7.0.15") && html.contains("2 lost"));
    let md = std::fs::read_to_string(&written.markdown).unwrap();
    assert!(md.find("## Summary").unwrap() < md.find("## Runs").unwrap());
    assert!(md.contains("| 1 KB | redis |"), "{md}");
}

/// A sweep with one fixed rate compares brokers per payload (x = payload
/// size, a line per broker); every series of a chart has its own colour
/// and marker, and the legend lies below the plot, not over it.
#[test]
fn one_fixed_rate_compares_brokers_by_payload_with_distinct_series() {
    let mut results = fixture();
    results.points.retain(|p| p.params.rate_label != "15MBps");
    let base = results.points.clone();
    for (k, b) in ["redis", "kafka", "rabbitmq", "artemis", "rabbitmq-amqp1", "activemq", "kafka-2", "redis-2", "x"]
        .iter()
        .enumerate()
    {
        for p in &base {
            let mut p = p.clone();
            p.id = p.id.replacen("loopback", b, 1);
            p.broker = b.to_string();
            p.latency_us.end_to_end.p50 += 100 * (k as u64 + 1);
            results.points.push(p);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    report::write(&[input(results)], dir.path(), PublishedMode::Never).unwrap();
    let latency = std::fs::read_to_string(dir.path().join("charts/latency.svg")).unwrap();
    let texts = svg_texts(&latency);
    assert!(texts.iter().any(|t| t == "payload size (bytes, log scale)"), "x is the payload: {texts:?}");
    assert!(!texts.iter().any(|t| t.starts_with("producer rate")), "no rate axis for one rate");
    for b in ["loopback", "redis", "x"] {
        assert_eq!(texts.iter().filter(|t| *t == b).count(), 3, "one legend entry for {b} per panel");
    }
    let d = placed(&latency);
    // The p50 panel: legend entries are the texts below its x tick labels.
    let p50_centre = d.texts.iter().find(|t| t.2 == "end-to-end p50").unwrap().0;
    let in_p50 = |x: f64| x < 2.0 * p50_centre;
    let ticks_bottom = d
        .texts
        .iter()
        .filter(|t| in_p50(t.0) && (t.2.ends_with(" B") || t.2.ends_with("KB")))
        .map(|t| t.1)
        .fold(0.0, f64::max);
    let legend: Vec<&(f64, f64, String)> =
        d.texts.iter().filter(|t| in_p50(t.0) && t.1 > ticks_bottom && !t.2.contains("log scale")).collect();
    assert_eq!(legend.len(), 10, "ten brokers below the plot: {legend:?}");
    // Each entry: a two-point sample line ending just left of its text, and
    // a marker at the sample's middle; (colour, marker shape) is unique.
    let mut styles = Vec::new();
    for t in &legend {
        let (stroke, pts) = d
            .lines
            .iter()
            .find(|(_, p)| {
                p.len() == 2 && p[0].1 == p[1].1 && (p[1].0 - t.0).abs() < 10.0 && (p[0].1 - t.1).abs() < 10.0
            })
            .unwrap_or_else(|| panic!("no sample line for {}", t.2));
        let mid = ((pts[0].0 + pts[1].0) / 2.0, pts[0].1);
        let (fill, shape) = d
            .markers
            .iter()
            .find(|(_, _, c)| (c.0 - mid.0).abs() < 2.5 && (c.1 - mid.1).abs() < 2.5)
            .map(|(f, s, _)| (f.clone(), s.clone()))
            .unwrap_or_else(|| panic!("no marker for {} at {mid:?}", t.2));
        assert_eq!(&fill, stroke, "{}: marker and line in one colour", t.2);
        styles.push((stroke.clone(), shape));
    }
    let mut unique = styles.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), legend.len(), "two series look alike: {styles:?}");
    let mut colours: Vec<_> = styles.iter().map(|s| s.0.clone()).collect();
    colours.sort();
    colours.dedup();
    assert_eq!(colours.len(), 8, "ten series use all eight colours: {styles:?}");
}

/// Texts (x, y, text), polylines (stroke, points) and markers (fill,
/// shape, centre) of an SVG; a marker's shape is `circle` or its polygon's
/// vertices relative to their centre.
struct Placed {
    texts: Vec<(f64, f64, String)>,
    lines: Vec<(String, Vec<(f64, f64)>)>,
    markers: Vec<(String, String, (f64, f64))>,
}

fn placed(svg: &str) -> Placed {
    let attr = |e: &quick_xml::events::BytesStart, name: &[u8]| -> Option<String> {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == name)
            .map(|a| String::from_utf8_lossy(&a.value).into_owned())
    };
    let points = |v: &str| -> Vec<(f64, f64)> {
        v.split_whitespace()
            .filter_map(|p| {
                let (x, y) = p.split_once(',')?;
                Some((x.parse().ok()?, y.parse().ok()?))
            })
            .collect()
    };
    let mut reader = quick_xml::Reader::from_str(svg);
    let mut out = Placed { texts: Vec::new(), lines: Vec::new(), markers: Vec::new() };
    let mut at: Option<(f64, f64)> = None;
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) if e.name().as_ref() == b"text" => {
                let num = |n: &[u8]| attr(&e, n).and_then(|v| v.parse().ok());
                at = num(b"x").zip(num(b"y"));
            }
            Event::Text(t) => {
                if let Some((x, y)) = at.take() {
                    out.texts.push((x, y, t.decode().unwrap().trim().to_string()));
                }
            }
            Event::Empty(e) | Event::Start(e) => match e.name().as_ref() {
                b"polyline" => out
                    .lines
                    .push((attr(&e, b"stroke").unwrap_or_default(), points(&attr(&e, b"points").unwrap_or_default()))),
                b"circle" => {
                    let num = |n: &[u8]| attr(&e, n).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
                    out.markers.push((
                        attr(&e, b"fill").unwrap_or_default(),
                        "circle".into(),
                        (num(b"cx"), num(b"cy")),
                    ));
                }
                b"polygon" => {
                    let p = points(&attr(&e, b"points").unwrap_or_default());
                    let n = p.len().max(1) as f64;
                    let c = (p.iter().map(|q| q.0).sum::<f64>() / n, p.iter().map(|q| q.1).sum::<f64>() / n);
                    let shape: Vec<String> = p.iter().map(|q| format!("{:.0},{:.0}", q.0 - c.0, q.1 - c.1)).collect();
                    out.markers.push((attr(&e, b"fill").unwrap_or_default(), shape.join(" "), c));
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    out
}
