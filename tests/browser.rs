//! report.html in a real browser: headless Chromium loads the file and
//! dumps the DOM it built; the charts (inline SVG with their text) and the
//! tables must be in it. Chromium is required (Debian's `chromium`, which
//! .ci/run installs); without it this test fails and says so.

use mqbench::report::{self, Input, PublishedMode};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const FIXTURE: &str = "tests/fixtures/loopback-quick.json";

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("which").arg(name).output() {
            if out.status.success() {
                return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            }
        }
    }
    panic!("headless Chromium is required for this test: install Debian's `chromium` (apt-get install chromium)");
}

/// Runs Chromium with a deadline, so a hung browser fails the test rather
/// than hanging it.
fn dump_dom(html: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting chromium");
    // Read the DOM while Chromium writes it: it is larger than a pipe's
    // buffer, and a full pipe would block the browser.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut out).map(|_| out)
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium exited with {status}");
            return reader.join().unwrap().expect("reading chromium's output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn report_html_renders_in_headless_chromium_with_charts_and_tables() {
    let results = mqbench::results::read_results(Path::new(FIXTURE)).unwrap();
    let n = results.points.len();
    let inputs = vec![Input { path: FIXTURE.into(), results }];
    let dir = tempfile::tempdir().unwrap();
    let written = report::write(&inputs, dir.path(), PublishedMode::Always).unwrap();
    let dom = dump_dom(&written.html.canonicalize().unwrap());

    // The browser parsed the inline SVG into elements (a dumped DOM
    // serialises them back), with the charts' text.
    assert_eq!(dom.matches("<svg").count(), 2 + 2 * n, "inline charts in the DOM");
    assert!(dom.contains("data-chart=\"throughput\"") && dom.contains("data-chart=\"latency\""));
    assert!(dom.contains("payload size (bytes, log scale)"));
    assert!(dom.contains("kafka (published)"));
    // Tables: a row per point, the environment, the published comparison.
    let points = dom.split("<table class=\"points\">").nth(1).expect("points table").split("</table>").next().unwrap();
    assert_eq!(points.matches("<tr>").count(), n + 1, "header and one row per point");
    assert!(dom.contains("<table class=\"environment\">"));
    assert!(dom.contains("<table class=\"published\">"));
    assert!(dom.contains("Why mqbench's numbers differ from the published ones"));
    assert!(dom.contains("class=\"warning\""), "plausibility warnings (the published Kafka row)");
}

/// A quick-start-shaped run (six brokers, three payloads, one fixed rate
/// and unthrottled: 36 points) made from the fixture's loopback points:
/// each broker gets the loopback figures scaled by its own factor, so the
/// report has brokers that differ.
fn quickstart_like() -> mqbench::results::ResultsFile {
    let mut results = mqbench::results::read_results(Path::new(FIXTURE)).unwrap();
    let base: Vec<_> = results.points.iter().filter(|p| p.params.rate_label != "15MBps").cloned().collect();
    let mut points = Vec::new();
    for (k, broker) in ["loopback", "redis", "kafka", "rabbitmq", "rabbitmq-amqp1", "artemis"].iter().enumerate() {
        let f = 1.0 / (1.0 + k as f64);
        for p in &base {
            let mut p = p.clone();
            p.id = p.id.replacen("loopback", broker, 1);
            p.broker = broker.to_string();
            p.adapter = broker.to_string();
            p.broker_software = format!("{broker} 1.{k}");
            p.throughput.consume_msgs_per_s *= f;
            p.throughput.publish_msgs_per_s *= f;
            for v in [&mut p.latency_us.end_to_end.p50, &mut p.latency_us.end_to_end.p99] {
                *v = (*v as f64 / f) as u64;
            }
            points.push(p);
        }
    }
    results.points = points;
    results
}

fn run_chromium(args: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .output()
        .expect("starting chromium");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Width and height of a PNG, from its IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

/// The report answers on its first screen: at 1400 x 900 px (a laptop),
/// the whole summary is above the fold, the page does not scroll sideways
/// and the point table fits its width. Chromium lays the report out in a
/// test page's iframe (a script in the test page, never in the report,
/// measures it) and takes a screenshot; the report and the screenshot are
/// kept under `target/tmp/` (`report-1400/`, `report-1400.png`) for a
/// person to look at.
#[test]
fn the_summary_is_on_the_first_screen_at_1400_px() {
    let (width, height) = (1400, 900);
    let inputs = vec![Input { path: FIXTURE.into(), results: quickstart_like() }];
    let kept = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-1400");
    let _ = std::fs::remove_dir_all(&kept);
    let written = report::write(&inputs, &kept, PublishedMode::Auto).unwrap();
    let html = written.html.canonicalize().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&html, dir.path().join("report.html")).unwrap();

    let probe = dir.path().join("probe.html");
    std::fs::write(
        &probe,
        format!(
            "<!DOCTYPE html><html><body style=\"margin:0\">\
             <iframe id=\"r\" src=\"report.html\" style=\"width:{width}px;height:{height}px;border:0\"></iframe>\
             <pre id=\"out\"></pre><script>\
             window.addEventListener('load', () => {{\
               const d = document.getElementById('r').contentDocument;\
               const box = s => {{ const e = d.querySelector(s); if (!e) return null;\
                 const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }};\
               const legends = [...d.querySelectorAll('figure.chart')].slice(0, 2).map(f => f.getBoundingClientRect().bottom);\
               document.getElementById('out').textContent = 'LAYOUT' + JSON.stringify({{\
                 scroll_width: d.documentElement.scrollWidth, summary: box('table.summary'),\
                 points: box('table.points'), points_box: box('div.wide'), charts: legends }}) + 'END';\
             }});</script></body></html>"
        ),
    )
    .unwrap();
    let dom = run_chromium(&[
        "--allow-file-access-from-files".into(),
        "--virtual-time-budget=10000".into(),
        "--dump-dom".into(),
        format!("file://{}", probe.canonicalize().unwrap().display()),
    ]);
    let json = dom.split("LAYOUT").nth(1).and_then(|s| s.split("END").next()).expect("the probe measured the report");
    let layout: serde_json::Value = serde_json::from_str(&json.replace("&quot;", "\"")).unwrap();
    let side = |k: &str, i: usize| layout[k][i].as_f64().unwrap_or_else(|| panic!("{k} in {layout}"));
    assert!(layout["scroll_width"].as_f64().unwrap() <= width as f64, "the page scrolls sideways: {layout}");
    assert!(side("summary", 3) <= height as f64, "the summary ends below the first screen: {layout}");
    assert!(side("summary", 2) <= width as f64, "the summary is wider than the window: {layout}");
    assert!(side("points_box", 2) <= width as f64, "the point table's box is wider than the window: {layout}");
    assert!(side("points", 2) <= width as f64, "the point table is wider than the window: {layout}");

    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-1400.png");
    let _ = std::fs::remove_file(&shot);
    run_chromium(&[
        format!("--screenshot={}", shot.display()),
        format!("--window-size={width},{height}"),
        format!("file://{}", html.display()),
    ]);
    assert_eq!(png_size(&shot), (width, height), "screenshot at the window's size");
}
