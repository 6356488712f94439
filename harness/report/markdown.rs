//! report.md: the tables and warnings as GitHub-flavoured Markdown, with
//! links to the PNG charts beside it, for CI job summaries and pages.

use super::explain::WHY_THEY_DIFFER;
use super::summary::Summary;
use super::tables::{self, Table};
use super::Report;
use std::fmt::Write;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn table(out: &mut String, t: &Table) {
    grid(out, &t.headers, &t.rows);
}

fn grid(out: &mut String, headers: &[impl AsRef<str>], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", headers.iter().map(|h| cell(h.as_ref())).collect::<Vec<_>>().join(" | "));
    let _ = writeln!(
        out,
        "|{}",
        headers.iter().enumerate().map(|(i, _)| if i == 0 { "---|" } else { "---:|" }).collect::<String>()
    );
    for r in rows {
        let _ = writeln!(out, "| {} |", r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | "));
    }
    out.push('\n');
}

/// The summary as a plain table, best figures marked with a trailing `*`.
fn summary_table(out: &mut String, s: &Summary) {
    let rows: Vec<Vec<String>> = (0..s.rows.len())
        .map(|i| {
            let mut c = s.cells(i);
            if s.best_throughput(i) {
                c[2].push_str(" *");
                c[3].push_str(" *");
            }
            for r in 0..s.rates.len() {
                if s.best_p99(i, r) {
                    c[5 + 2 * r].push_str(" *");
                }
            }
            c
        })
        .collect();
    grid(out, &s.headers(), &rows);
}

pub fn render(r: &Report) -> String {
    let ds = &r.dataset;
    let names: Vec<String> = ds.inputs.iter().map(|i| i.results.run.scenario.clone()).collect();
    let mut o = format!("# mqbench report: {}\n\n", names.join(", "));
    if !r.summary.rows.is_empty() {
        o.push_str("## Summary\n\nPer payload size, each broker: delivered msg/s and MB/s unthrottled, end-to-end latency at each fixed rate (mean over repeats); the best of each payload is marked `*`.\n\n");
        summary_table(&mut o, &r.summary);
        for row in r.summary.rows.iter().filter(|row| !row.notes.is_empty()) {
            for n in &row.notes {
                let _ = writeln!(
                    o,
                    "- {} {}: {}",
                    cell(&row.broker),
                    super::plot::fmt_bytes(row.payload_bytes as f64),
                    cell(n)
                );
            }
        }
        o.push('\n');
    }
    if let Some(t) = &r.capacity_table {
        o.push_str("## Capacity\n\nSearched rates: the highest rate sustained (schedule kept, backlog not growing, nothing lost, the target held), from the lowest to the highest over repeats; MB = 10^6 bytes.\n\n");
        table(&mut o, t);
        for c in &r.capacity {
            match &c.png {
                Some(path) => {
                    let _ = writeln!(o, "![{}]({})\n\n{}\n", c.figure.title, path, c.figure.caption);
                }
                None => {
                    let _ = writeln!(o, "{}: PNG not drawn (see report.html for the SVG).\n", c.figure.title);
                }
            }
        }
    }
    o.push_str("## Runs\n\n");
    table(&mut o, &tables::runs(ds));
    o.push_str("## Plausibility warnings\n\n");
    if r.warnings.is_empty() {
        o.push_str("No plausibility warnings.\n\n");
    }
    for w in &r.warnings {
        let _ = writeln!(o, "- **{}** ({}): {}", cell(&w.subject), w.kind.title(), cell(&w.message));
    }
    o.push('\n');
    o.push_str("## Charts\n\n");
    for c in &r.overview {
        match &c.png {
            Some(path) => {
                let _ = writeln!(o, "![{}]({})\n\n{}\n", c.figure.title, path, c.figure.caption);
            }
            None => {
                let _ = writeln!(o, "{}: PNG not drawn (see report.html for the SVG).\n", c.figure.title);
            }
        }
    }
    o.push_str("## Points\n\nLatency in ms from the intended send time; MB = 10^6 bytes.\n\n");
    table(&mut o, &tables::points(ds));
    if !r.published.is_empty() {
        o.push_str("## Measured beside published\n\n");
        let _ = writeln!(o, "Published figures: {}.\n", super::published::SOURCE);
        table(&mut o, &tables::measured_vs_published(ds, &r.published));
        o.push_str("### Why mqbench's numbers differ from the published ones\n\n");
        for p in WHY_THEY_DIFFER {
            let _ = writeln!(o, "{p}\n");
        }
    }
    o.push_str("## Each point\n\n");
    for (i, charts) in &r.per_point {
        let p = ds.points[*i].point;
        let links: Vec<String> =
            charts.iter().filter_map(|c| c.png.as_ref().map(|path| format!("[{}]({})", c.figure.name, path))).collect();
        let _ = writeln!(o, "- `{}`{}: {}", p.id, super::percentile::repeat_suffix(p.repeat), links.join(", "));
    }
    o.push_str("\n## Environment\n\n");
    table(&mut o, &tables::environment(ds));
    o
}
