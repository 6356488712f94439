//! report.html: one self-contained file (charts inline as SVG, no scripts,
//! no external resources) that opens from a CI artefact or an e-mail.

use super::explain::WHY_THEY_DIFFER;
use super::plausibility::Warning;
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

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1700px;padding:0 1em;color:#222}\
table{border-collapse:collapse;font-size:13px;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}\
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}figure{margin:1em 0}svg{max-width:100%;height:auto}\
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
    o.push_str("<h2 id=\"runs\">Runs</h2>\n");
    table(&mut o, "runs", &tables::runs(ds));
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
    o.push_str("<h2 id=\"charts\">Charts</h2>\n");
    if r.overview.is_empty() {
        o.push_str("<p>No unthrottled or fixed-rate points succeeded: nothing to draw across points.</p>\n");
    }
    for c in &r.overview {
        chart(&mut o, c);
    }
    o.push_str("<h2 id=\"points\">Points</h2>\n<p>Latency in milliseconds from the intended send time; \
                throughput over the measurement window (MB = 10<sup>6</sup> bytes); counts are of measured messages.</p>\n");
    table(&mut o, "points", &tables::points(ds));
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
