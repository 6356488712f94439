//! Reports from stored results: charts (plotters, SVG and PNG), report.html
//! and report.md, plausibility warnings, and the regression `compare`.
//! Nothing here runs a benchmark: every number comes from results files,
//! so any report can be regenerated from what a run left on disk.

pub mod capacity;
pub mod commands;
pub mod compare;
pub mod data;
pub mod explain;
pub mod figure;
pub mod html;
pub mod latency;
pub mod markdown;
pub mod percentile;
pub mod plausibility;
pub mod plot;
pub mod published;
pub mod series;
pub mod summary;
pub mod tables;
pub mod throughput;

use anyhow::Context;
pub use data::{Dataset, Input};
use figure::Figure;
use std::path::{Path, PathBuf};

/// When to draw the published figures beside the measured ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PublishedMode {
    /// When a measured broker has a published counterpart, or the scenario
    /// is one of the seed scenarios (`seed-*`).
    #[default]
    Auto,
    Always,
    Never,
}

/// A figure with its renderings.
pub struct Chart {
    pub figure: Figure,
    /// The SVG document, or why it could not be drawn.
    pub svg: Result<String, String>,
    /// Path of the PNG relative to the report, when written.
    pub png: Option<String>,
}

/// Everything a report shows, computed before anything is written.
pub struct Report<'a> {
    pub dataset: Dataset<'a>,
    pub published: Vec<published::Row>,
    pub warnings: Vec<plausibility::Warning>,
    /// Per broker and payload: the answer, shown first.
    pub summary: summary::Summary,
    /// Throughput and latency across points.
    pub overview: Vec<Chart>,
    /// Per point (index into `dataset.points`): percentile plot and series.
    pub per_point: Vec<(usize, Vec<Chart>)>,
    /// Searched rates: latency against offered rate per searched point.
    pub capacity: Vec<Chart>,
    /// Searched rates: broker x payload -> capacity.
    pub capacity_table: Option<tables::Table>,
}

/// What `write` produced, and what went wrong without stopping it.
#[derive(Debug)]
pub struct Written {
    pub html: PathBuf,
    pub markdown: PathBuf,
    /// Charts that could not be drawn (e.g. no font for PNG text).
    pub problems: Vec<String>,
}

/// Reads results files; an unreadable one is an error naming it.
pub fn load(paths: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
    if paths.is_empty() {
        anyhow::bail!("give at least one results.json");
    }
    paths
        .iter()
        .map(|p| {
            let path = if p.is_dir() { p.join("results.json") } else { p.clone() };
            // An OMB result file reads as one more results file, its
            // points "measured by OMB" (see `omb::result`).
            Ok(Input { results: crate::omb::result::read_any(&path)?, path })
        })
        .collect()
}

fn published_rows(ds: &Dataset, mode: PublishedMode) -> Vec<published::Row> {
    let all = published::seed();
    match mode {
        PublishedMode::Never => vec![],
        PublishedMode::Always => all,
        PublishedMode::Auto => {
            if ds.inputs.iter().any(|i| i.results.run.scenario.starts_with("seed-")) {
                return all;
            }
            let have: Vec<&str> = ds.points.iter().filter_map(|p| published::counterpart(p.point)).collect();
            all.into_iter().filter(|r| have.contains(&r.broker.as_str())).collect()
        }
    }
}

fn chart(figure: Figure) -> Chart {
    let svg = figure.svg().map_err(|e| format!("{e:#}"));
    Chart { figure, svg, png: None }
}

/// Builds every chart (as SVG) and every warning.
pub fn build(inputs: &[Input], mode: PublishedMode) -> Report<'_> {
    let dataset = Dataset::new(inputs);
    let published = published_rows(&dataset, mode);
    let warnings = plausibility::check(&dataset, &published);
    let summary = summary::build(&dataset, &warnings);
    let mut overview = Vec::new();
    if let Some(f) = throughput::figure(&dataset, &published) {
        overview.push(chart(f));
    }
    if let Some(f) = latency::figure(&dataset, &published) {
        overview.push(chart(f));
    }
    let per_point = dataset
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let charts = [percentile::figure(p, i), series::figure(p, i)].into_iter().flatten().map(chart).collect();
            (i, charts)
        })
        .collect();
    let capacity = capacity::figures(&dataset).into_iter().map(chart).collect();
    let capacity_table = capacity::table(&dataset);
    Report { dataset, published, warnings, summary, overview, per_point, capacity, capacity_table }
}

/// Writes report.html, report.md and charts/*.png|svg into `out`.
pub fn write(inputs: &[Input], out: &Path, mode: PublishedMode) -> anyhow::Result<Written> {
    std::fs::create_dir_all(out.join("charts"))
        .with_context(|| format!("cannot create report directory {}", out.display()))?;
    // A password registered in this process leaves the data before it is
    // drawn; scrubbing the rendered text instead could break its markup.
    let mut clean = Vec::with_capacity(inputs.len());
    for input in inputs {
        let mut results = input.results.clone();
        crate::results::scrub_results(&mut results)?;
        clean.push(Input { path: input.path.clone(), results });
    }
    let mut report = build(&clean, mode);
    let mut problems = Vec::new();
    let charts = report
        .overview
        .iter_mut()
        .chain(report.capacity.iter_mut())
        .chain(report.per_point.iter_mut().flat_map(|(_, c)| c.iter_mut()));
    for c in charts {
        match &c.svg {
            Ok(svg) => {
                let path = out.join("charts").join(format!("{}.svg", c.figure.name));
                std::fs::write(&path, svg).with_context(|| format!("cannot write {}", path.display()))?;
            }
            Err(e) => problems.push(format!("{}: SVG not drawn: {e}", c.figure.name)),
        }
        let rel = format!("charts/{}.png", c.figure.name);
        match c.figure.png(&out.join(&rel)) {
            Ok(()) => c.png = Some(rel),
            Err(e) => problems.push(format!("{}: PNG not drawn: {e:#}", c.figure.name)),
        }
    }
    let html = out.join("report.html");
    crate::results::write_atomic(&html, html::render(&report).as_bytes())?;
    let markdown = out.join("report.md");
    crate::results::write_atomic(&markdown, markdown::render(&report).as_bytes())?;
    Ok(Written { html, markdown, problems })
}
