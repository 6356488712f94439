//! The `report`, `compare` and `merge` subcommands: argument types and the
//! glue from parsed options to the pure modules (`report`, `compare`,
//! `results::merge`), kept here so `cli.rs` only lists them.

use super::compare::{self, Thresholds};
use super::PublishedMode;
use anyhow::Context;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Results files (or run directories holding results.json).
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    /// Where report.html, report.md and charts/ go (default: beside the first results file).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Draw the published seed-benchmark figures beside the measured ones.
    #[arg(long, value_enum, default_value_t = PublishedMode::Auto)]
    pub published: PublishedMode,
}

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// The stored baseline results.json.
    pub baseline: PathBuf,
    /// The results to judge.
    pub current: PathBuf,
    /// Allowed change per metric: throughput, p50, p99, p99.9. Parsed by
    /// `compare` itself, so a bad one exits 1 ("could not compare") like
    /// any other bad input of the gate, not clap's usage code 2.
    #[arg(long, default_value = "throughput=5%,p99=10%")]
    pub threshold: String,
    /// Also write the comparison as Markdown (for a CI job summary).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Do not fail when a baseline point is missing from the current results.
    #[arg(long)]
    pub allow_missing: bool,
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Results of every worker (`mqbench run --shard i/N`).
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// The merged results file.
    #[arg(long)]
    pub out: PathBuf,
    /// Smallest fraction of the window that every shard must have measured
    /// at the same time (by the hosts' wall clocks); below it the merge is
    /// refused.
    #[arg(long, value_name = "FRACTION", default_value_t = crate::results::merge::DEFAULT_MIN_OVERLAP)]
    pub min_overlap: f64,
}

pub fn report(a: ReportArgs) -> anyhow::Result<i32> {
    let inputs = super::load(&a.results)?;
    if inputs.iter().any(|i| crate::omb::result::measured_by_omb(&i.results)) {
        eprintln!("warning: OMB result files: {}", crate::omb::LATENCY_CAVEAT);
    }
    let out = a.out.unwrap_or_else(|| inputs[0].path.parent().unwrap_or(Path::new(".")).to_path_buf());
    let w = super::write(&inputs, &out, a.published)?;
    for p in &w.problems {
        eprintln!("warning: {p}");
    }
    println!("{}\n{}", w.html.display(), w.markdown.display());
    Ok(0)
}

/// Called after `mqbench run`: the results are already on disk, so a
/// report that cannot be drawn is a warning, never a lost run.
pub fn after_run(dir: &Path) {
    let result =
        super::load(&[dir.join("results.json")]).and_then(|inputs| super::write(&inputs, dir, PublishedMode::Auto));
    match result {
        Ok(w) => {
            for p in &w.problems {
                eprintln!("warning: {p}");
            }
            eprintln!("mqbench: report in {}", w.html.display());
        }
        Err(e) => eprintln!("warning: the report was not written ({e:#}); the results are in {}", dir.display()),
    }
}

pub fn compare(a: CompareArgs) -> anyhow::Result<i32> {
    let thresholds: Thresholds =
        a.threshold.parse().map_err(|e| anyhow::anyhow!("--threshold {}: {e}", a.threshold))?;
    let mut base = crate::omb::result::read_any(&a.baseline)?;
    let mut cur = crate::omb::result::read_any(&a.current)?;
    // OMB's files carry no target rate: their points take the id of the
    // point of the other side that measured the same workload.
    let omb = (crate::omb::result::measured_by_omb(&base), crate::omb::result::measured_by_omb(&cur));
    if omb.0 {
        crate::omb::result::align_ids(&mut base, &cur);
    }
    if omb.1 {
        crate::omb::result::align_ids(&mut cur, &base);
    }
    if omb.0 || omb.1 {
        eprintln!("warning: OMB result file: {}", crate::omb::LATENCY_CAVEAT);
    }
    if base.run.scenario != cur.run.scenario {
        eprintln!(
            "warning: comparing scenario `{}` (baseline) with `{}` (current)",
            base.run.scenario, cur.run.scenario
        );
    }
    let c = compare::compare(&base, &cur, &thresholds, a.allow_missing);
    print!("{}", compare::to_text(&c));
    if let Some(path) = &a.markdown {
        std::fs::write(path, compare::to_markdown(&c)).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if c.failed() { compare::EXIT_REGRESSION } else { 0 })
}

pub fn merge(a: MergeArgs, args: &[OsString]) -> anyhow::Result<i32> {
    let shards = a.shards.iter().map(|p| crate::results::read_results(p)).collect::<anyhow::Result<Vec<_>>>()?;
    let command = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let merged = crate::results::merge::merge_with(&shards, command, a.min_overlap).map_err(|e| {
        let names: Vec<String> = a.shards.iter().enumerate().map(|(i, p)| format!("{i} = {}", p.display())).collect();
        anyhow::anyhow!("{e} (shards: {})", names.join(", "))
    })?;
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    crate::results::write_atomic(&a.out, &serde_json::to_vec_pretty(&merged)?)?;
    println!("merged {} shards: {} points -> {}", shards.len(), merged.points.len(), a.out.display());
    Ok(0)
}
