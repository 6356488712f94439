//! report.html: one self-contained file (charts inline as SVG, no scripts,
//! no external resources) that opens from a CI artefact or an e-mail.
//!
//! It answers on its first screen: a line saying what was run, then the
//! summary (per payload, each broker's throughput, latency at the fixed
//! rates, loss and verdict, the best figure of each payload in bold), then
//! the charts; the point table, warnings in full, runs, environment and
//! scenario follow.

use super::explain::WHY_THEY_DIFFER;
use super::plausibility::Warning;
use super::summary::Summary;
use super::tables::{self, Table};
use super::{Chart, Report};
use std::fmt::Write;

pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

fn table(out: &mut String, class: &str, t: &Table) {
    let _ = write!(out, "<table class=\"{class}\"><thead><tr>");
    for h in &t.headers {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>\n");
    for r in &t.rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{}</td>", esc(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

/// The point table with its column groups drawn apart (a rule between
/// groups, each header naming its group in its title), in a box that
/// scrolls sideways rather than widening the page.
fn points_table(out: &mut String, t: &Table) {
    out.push_str("<div class=\"wide\"><table class=\"points\"><colgroup>");
    for (name, span) in tables::POINT_GROUPS {
        let _ = write!(out, "<col span=\"{span}\" class=\"group\" title=\"{}\">", esc(name));
    }
    out.push_str("</colgroup><thead><tr>");
    let mut group = tables::POINT_GROUPS.iter().flat_map(|(name, span)| std::iter::repeat_n(*name, *span));
    let mut first = true;
    let mut last = "";
    for h in &t.headers {
        let g = group.next().unwrap_or("");
        let class = if g != last && !first { " class=\"start\"" } else { "" };
        let _ = write!(out, "<th{class} title=\"{}\">{}</th>", esc(g), esc(h));
        (first, last) = (false, g);
    }
    out.push_str("</tr></thead><tbody>\n");
    for r in &t.rows {
        out.push_str("<tr>");
        let mut group = tables::POINT_GROUPS.iter().flat_map(|(name, span)| std::iter::repeat_n(*name, *span));
        let mut last = "";
        for (i, c) in r.iter().enumerate() {
            let g = group.next().unwrap_or("");
            let mut classes = Vec::new();
            if g != last && i > 0 {
                classes.push("start");
            }
            if i == 1 && c != "ok" {
                classes.push("fail");
            }
            last = g;
            if classes.is_empty() {
                let _ = write!(out, "<td>{}</td>", esc(c));
            } else {
                let _ = write!(out, "<td class=\"{}\">{}</td>", classes.join(" "), esc(c));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

/// The summary: payload groups (the payload cell spans its brokers), the
/// best throughput and p99 of each payload in bold, the verdict with its
/// notes folded under it.
fn summary_table(out: &mut String, s: &Summary) {
    if s.rows.is_empty() {
        return;
    }
    out.push_str(
        "<table class=\"summary\"><thead><tr><th rowspan=\"2\">payload</th><th rowspan=\"2\">broker</th>\
                   <th colspan=\"2\" class=\"start\">unthrottled</th>",
    );
    for r in &s.rates {
        let _ = write!(out, "<th colspan=\"2\" class=\"start\">latency at {}</th>", esc(r));
    }
    out.push_str(
        "<th rowspan=\"2\" class=\"start\">loss</th><th rowspan=\"2\">verdict</th></tr>\n<tr>\
                   <th class=\"start\">msg/s</th><th>MB/s</th>",
    );
    for _ in &s.rates {
        out.push_str("<th class=\"start\">p50 ms</th><th>p99 ms</th>");
    }
    out.push_str("</tr></thead><tbody>\n");
    for (i, row) in s.rows.iter().enumerate() {
        let cells = s.cells(i);
        let first_of_payload = i == 0 || s.rows[i - 1].payload_bytes != row.payload_bytes;
        out.push_str(match (first_of_payload, row.reference) {
            (true, true) => "<tr class=\"payload reference\">",
            (true, false) => "<tr class=\"payload\">",
            (false, true) => "<tr class=\"reference\">",
            (false, false) => "<tr>",
        });
        if first_of_payload {
            let span = s.rows[i..].iter().take_while(|r| r.payload_bytes == row.payload_bytes).count();
            let _ = write!(out, "<th rowspan=\"{span}\" class=\"payload\">{}</th>", esc(&cells[0]));
        }
        let note = if row.reference { " (harness ceiling)" } else { "" };
        let _ = write!(out, "<td class=\"broker\">{}{note} <small>{}</small></td>", esc(&cells[1]), esc(&row.software));
        let best = s.best_throughput(i);
        for (k, c) in cells[2..4].iter().enumerate() {
            let class = if k == 0 { " class=\"start\"" } else { "" };
            if best {
                let _ = write!(out, "<td{class}><b>{}</b></td>", esc(c));
            } else {
                let _ = write!(out, "<td{class}>{}</td>", esc(c));
            }
        }
        for r in 0..s.rates.len() {
            let (p50, p99) = (&cells[4 + 2 * r], &cells[5 + 2 * r]);
            let _ = write!(out, "<td class=\"start\">{}</td>", esc(p50));
            if s.best_p99(i, r) {
                let _ = write!(out, "<td><b>{}</b></td>", esc(p99));
            } else {
                let _ = write!(out, "<td>{}</td>", esc(p99));
            }
        }
        let loss_class = if row.loss() == "none" { "start" } else { "start fail" };
        let _ = write!(out, "<td class=\"{loss_class}\">{}</td>", esc(&row.loss()));
        let verdict = row.verdict();
        let class = if row.failed > 0 {
            "fail"
        } else if row.notes.is_empty() {
            "ok"
        } else {
            "warn"
        };
        if row.notes.is_empty() {
            let _ = write!(out, "<td class=\"verdict {class}\">{}</td>", esc(&verdict));
        } else {
            let _ = write!(out, "<td class=\"verdict {class}\"><details><summary>{}</summary><ul>", esc(&verdict));
            for n in &row.notes {
                let _ = write!(out, "<li>{}</li>", esc(n));
            }
            out.push_str("</ul></details></td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

/// One sentence: what was run, where, and how it went.
fn headline(r: &Report) -> String {
    let ds = &r.dataset;
    let brokers = ds.line_labels().len();
    let failed = ds.points.iter().filter(|p| p.point.status != crate::results::Status::Ok).count();
    let hosts: Vec<String> = {
        let mut h: Vec<String> = ds.inputs.iter().map(|i| i.results.run.host.hostname.clone()).collect();
        h.dedup();
        h
    };
    let mut s = format!(
        "{} point{} on {brokers} broker{} ({}), on {}",
        ds.points.len(),
        if ds.points.len() == 1 { "" } else { "s" },
        if brokers == 1 { "" } else { "s" },
        ds.line_labels().join(", "),
        hosts.join(", ")
    );
    s.push_str(&match failed {
        0 => ": none failed".to_string(),
        n => format!(": {n} failed"),
    });
    let _ = write!(s, ", {} plausibility warning{}.", r.warnings.len(), if r.warnings.len() == 1 { "" } else { "s" });
    s
}

fn chart(out: &mut String, c: &Chart) {
    let _ = write!(out, "<figure class=\"chart\" data-chart=\"{}\">", esc(&c.figure.name));
    match &c.svg {
        Ok(svg) => out.push_str(svg),
        Err(e) => {
            let _ = write!(out, "<p class=\"error\">chart not drawn: {}</p>", esc(e));
        }
    }
    let _ =
        writeln!(out, "<figcaption><b>{}</b>. {}</figcaption></figure>", esc(&c.figure.title), esc(&c.figure.caption));
}

fn warnings(out: &mut String, w: &[Warning]) {
    if w.is_empty() {
        out.push_str("<p>No plausibility warnings.</p>\n");
        return;
    }
    out.push_str("<ul class=\"warnings\">\n");
    for w in w {
        let _ = writeln!(
            out,
            "<li class=\"warning\"><b>{}</b> ({}): {}</li>",
            esc(&w.subject),
            esc(w.kind.title()),
            esc(&w.message)
        );
    }
    out.push_str("</ul>\n");
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1em auto;max-width:1400px;padding:0 1em;color:#222}\
h1{font-size:1.5em;margin:.3em 0}h2{font-size:1.2em;margin:1em 0 .4em}.lede{margin:.2em 0 .6em}nav{font-size:13px}nav a{margin-right:1em}\
table{border-collapse:collapse;font-size:13px;margin:.5em 0}th,td{border:1px solid #ddd;padding:3px 6px;text-align:right;vertical-align:top}\
th{background:#f0f0f0;font-weight:600}td:first-child,th:first-child{text-align:left}\
.start{border-left:2px solid #888}.fail{color:#b00}.warn{color:#8a5a00}.ok{color:#075}\
table.summary td.broker,table.summary thead th:nth-child(2){text-align:left}table.summary tr.reference td{color:#666;font-style:italic}\
.top{display:flex;flex-wrap:wrap;gap:0 2em;align-items:flex-start}.top aside{flex:1;min-width:20em;font-size:14px}\
.top aside ul{padding-left:1.2em;margin:.3em 0}.top aside li{margin:.3em 0}\
table.summary small{color:#666}table.summary td{white-space:nowrap}td.verdict{white-space:normal}\
table.summary tr.payload>*{border-top:2px solid #888}table.summary th.payload{background:#f8f8f8;vertical-align:middle}\
td.verdict{text-align:left;max-width:34em}td.verdict details{margin:0}td.verdict ul{margin:.3em 0;padding-left:1.2em;font-size:12px}\
.wide{overflow-x:auto;max-width:100%}table.points{font-size:12px}table.points th,table.points td{padding:3px 4px}table.points th{white-space:normal}table.points td:first-child{white-space:nowrap}\
figure{margin:.5em 0}svg{max-width:100%;height:auto}figcaption{font-size:13px}\
.warning{margin:.3em 0}pre{background:#f6f6f6;padding:1em;overflow:auto}details{margin:.5em 0}.error{color:#b00}";

pub fn render(r: &Report) -> String {
    let ds = &r.dataset;
    let names: Vec<String> = ds.inputs.iter().map(|i| i.results.run.scenario.clone()).collect();
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mqbench report: {}</title>\
         <style>{STYLE}</style></head><body>\n<h1>mqbench report: {}</h1>\n",
        esc(&names.join(", ")),
        esc(&names.join(", "))
    );
    let _ = writeln!(o, "<p class=\"lede\">{}</p>", esc(&headline(r)));
    o.push_str(
        "<nav><a href=\"#summary\">summary</a><a href=\"#charts\">charts</a><a href=\"#points\">points</a>\
         <a href=\"#warnings\">warnings</a><a href=\"#runs\">runs</a><a href=\"#details\">each point</a>\
         <a href=\"#environment\">environment</a><a href=\"#scenario\">scenario</a></nav>\n",
    );
    if !r.summary.rows.is_empty() {
        o.push_str("<h2 id=\"summary\">Summary</h2>\n<div class=\"top\">");
        summary_table(&mut o, &r.summary);
        o.push_str("<aside>");
        let answers = r.summary.answers();
        if !answers.is_empty() {
            o.push_str("<p><b>Best per payload</b> (bold in the table; loopback, the harness's ceiling, is a reference):</p><ul class=\"answers\">");
            for a in answers {
                let _ = write!(o, "<li>{}</li>", esc(&a));
            }
            o.push_str("</ul>");
        }
        let failed = r.summary.rows.iter().map(|row| row.failed).sum::<usize>();
        let noted = r.summary.rows.iter().filter(|row| !row.notes.is_empty()).count();
        let published = r.warnings.iter().filter(|w| w.subject.starts_with("published ")).count();
        let _ = write!(
            o,
            "<p><b>Verdicts</b>: {}; {}{}. Open a verdict for its notes, or see <a href=\"#warnings\">warnings</a>.</p>",
            if failed == 0 { "no point failed".to_string() } else { format!("{failed} point(s) failed") },
            if noted == 0 {
                "no warnings on the measured points".to_string()
            } else {
                format!("{noted} row(s) with warnings")
            },
            if published == 0 {
                String::new()
            } else {
                format!("; {published} plausibility warning(s) about the published figures")
            }
        );
        o.push_str(
            "<p class=\"note\">Unthrottled: messages delivered per second to one subscription and MB/s \
             (10<sup>6</sup> B). Latency: end to end, from each message's intended send time, at each fixed \
             rate. Mean over repeats. Loss: lost, duplicated and out-of-order messages over the row's points.</p>",
        );
        o.push_str("</aside></div>\n");
    }
    if let Some(t) = &r.capacity_table {
        o.push_str("<h2 id=\"capacity\">Capacity</h2>\n<p>Searched rates: the highest rate sustained (schedule kept, backlog not growing, nothing lost, the target held), from the lowest to the highest over repeats; MB = 10<sup>6</sup> B.</p>\n");
        table(&mut o, "capacity", t);
        for c in &r.capacity {
            chart(&mut o, c);
        }
    }
    o.push_str("<h2 id=\"charts\">Charts</h2>\n");
    if r.overview.is_empty() {
        o.push_str("<p>No unthrottled or fixed-rate points succeeded: nothing to draw across points.</p>\n");
    }
    for c in &r.overview {
        chart(&mut o, c);
    }
    o.push_str("<h2 id=\"points\">Points</h2>\n<p>Latency in milliseconds from the intended send time; \
                throughput over the measurement window (MB = 10<sup>6</sup> bytes); counts are of measured messages.</p>\n");
    points_table(&mut o, &tables::points(ds));
    o.push_str("<h2 id=\"warnings\">Plausibility warnings</h2>\n");
    warnings(&mut o, &r.warnings);
    let point_warnings: Vec<_> =
        ds.points.iter().flat_map(|p| p.point.warnings.iter().map(move |w| (p.point.id.clone(), w.clone()))).collect();
    if !point_warnings.is_empty() {
        o.push_str("<h3>Warnings recorded by the run</h3>\n<ul class=\"run-warnings\">\n");
        for (id, w) in point_warnings {
            let _ = writeln!(o, "<li><b>{}</b>: {}</li>", esc(&id), esc(&w));
        }
        o.push_str("</ul>\n");
    }
    o.push_str("<h2 id=\"runs\">Runs</h2>\n");
    table(&mut o, "runs", &tables::runs(ds));
    if !r.published.is_empty() {
        o.push_str("<h2 id=\"published\">Measured beside published</h2>\n");
        let _ = writeln!(o, "<p>Published figures: {}.</p>", esc(super::published::SOURCE));
        table(&mut o, "published", &tables::measured_vs_published(ds, &r.published));
        o.push_str("<h3>Why mqbench's numbers differ from the published ones</h3>\n");
        for p in WHY_THEY_DIFFER {
            let _ = writeln!(o, "<p>{}</p>", esc(p));
        }
    }
    o.push_str("<h2 id=\"details\">Each point</h2>\n");
    for (i, charts) in &r.per_point {
        let p = ds.points[*i].point;
        let _ = writeln!(
            o,
            "<details><summary>{}{} ({})</summary>",
            esc(&p.id),
            esc(&super::percentile::repeat_suffix(p.repeat)),
            esc(&p.broker_software)
        );
        for c in charts {
            chart(&mut o, c);
        }
        if !p.errors.is_empty() {
            o.push_str("<p>Errors by message:</p><ul>");
            for (k, v) in &p.errors {
                let _ = write!(o, "<li>{} x {}</li>", v, esc(k));
            }
            o.push_str("</ul>");
        }
        o.push_str("</details>\n");
    }
    o.push_str("<h2 id=\"environment\">Environment</h2>\n");
    table(&mut o, "environment", &tables::environment(ds));
    o.push_str("<h2 id=\"scenario\">Scenario</h2>\n");
    for i in ds.inputs {
        let _ = writeln!(
            o,
            "<h3>{} ({})</h3><pre class=\"scenario\">{}</pre>",
            esc(&i.results.run.scenario),
            esc(&i.results.run.scenario_file),
            esc(&i.results.scenario_source)
        );
    }
    o.push_str("</body></html>\n");
    o
}
