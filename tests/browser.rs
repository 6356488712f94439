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
