//! `mqbench import omb`, `mqbench export omb`, and what `mqbench run` does
//! with an OMB workload file: argument types and the glue to `import` and
//! `result`, so `cli.rs` only lists them. The adapters' rules come from
//! the caller (`cli` passes `adapter::Rules`).

use super::import::import as import_files;
use super::source::Refused;
use crate::scenario::{AdapterRules, Overrides, Scenario};
use anyhow::Context;
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand, Debug)]
pub enum ImportCommand {
    /// OpenMessaging Benchmark workload files (and driver files) as one mqbench scenario.
    Omb {
        /// OMB workload files (`workloads/*.yaml`); each is one point per broker.
        #[arg(required = true)]
        workloads: Vec<PathBuf>,
        /// OMB driver file (`driver-kafka/kafka.yaml`, ...): its broker, as a `provision: live` entry; repeat for several.
        #[arg(long = "driver", value_name = "FILE")]
        drivers: Vec<PathBuf>,
        /// A broker kind to run on instead (loopback, kafka, redis, ...), started by mqbench; repeat for several.
        #[arg(long = "broker", value_name = "KIND")]
        brokers: Vec<String>,
        /// Write the scenario here (default: standard output).
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum ExportCommand {
    /// One OpenMessaging Benchmark result file per measured point.
    Omb {
        /// mqbench results files (or run directories holding results.json).
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// Directory for the OMB result files.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

fn print_warnings(warnings: &[super::Note]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

fn refused(r: Refused) -> anyhow::Error {
    anyhow::anyhow!("the OMB files cannot be run as they are:\n{r}")
}

pub fn import(cmd: ImportCommand, rules: &dyn AdapterRules) -> anyhow::Result<i32> {
    let ImportCommand::Omb { workloads, drivers, brokers, out } = cmd;
    let imported = import_files(&workloads, &drivers, &brokers, rules).map_err(refused)?;
    let scenario = imported.scenario(&Overrides::default(), rules).map_err(refused)?;
    print_warnings(&imported.warnings);
    for (var, what) in &imported.env {
        eprintln!("note: set {var} to {what} before running (secrets are not written to the scenario)");
    }
    match out {
        Some(path) => {
            crate::results::write_atomic(&path, imported.text.as_bytes())?;
            eprintln!(
                "{}: {} points; run it with `mqbench run {}`",
                path.display(),
                scenario.points.len(),
                path.display()
            );
        }
        None => print!("{}", imported.text),
    }
    Ok(0)
}

/// With an OMB workload file, the scenario `run` runs (the import's
/// mapping, the command line's `--set` and `--quick` applied); `None` for
/// an mqbench scenario file.
pub fn scenario_for_run(
    file: &Path,
    drivers: &[PathBuf],
    kinds: &[String],
    set: &[String],
    quick: bool,
    rules: &dyn AdapterRules,
) -> anyhow::Result<Option<Scenario>> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    if !super::workload::looks_like_workload(&text) {
        if !drivers.is_empty() {
            anyhow::bail!(
                "--omb-driver: {} is not an OMB workload file (it has `brokers:` or none of OMB's workload keys)",
                file.display()
            );
        }
        return Ok(None);
    }
    let imported = import_files(&[file.to_path_buf()], drivers, kinds, rules).map_err(refused)?;
    let overrides = Overrides { brokers: vec![], set: set.to_vec(), quick };
    let scenario = imported.scenario(&overrides, rules).map_err(refused)?;
    print_warnings(&imported.warnings);
    for (var, what) in &imported.env {
        if std::env::var_os(var).is_none() {
            anyhow::bail!("set {var} to {what}: the run needs it, and secrets are never taken from files into results");
        }
    }
    eprintln!(
        "mqbench: {} is an OpenMessaging Benchmark workload: running it as imported (`mqbench import omb` writes the scenario)",
        file.display()
    );
    Ok(Some(scenario))
}

pub fn export(cmd: ExportCommand) -> anyhow::Result<i32> {
    let ExportCommand::Omb { results, out } = cmd;
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut written = 0;
    for path in &results {
        let path = if path.is_dir() { path.join("results.json") } else { path.clone() };
        let r = crate::results::read_results(&path)?;
        let (files, skipped) = super::result::export(&r);
        let mut seen = std::collections::BTreeMap::<String, usize>::new();
        for (id, t) in files {
            let n = seen.entry(id.clone()).or_insert(0);
            let name = super::result::file_name(&r, &id, *n);
            *n += 1;
            let file = out.join(name);
            crate::results::write_atomic(&file, &serde_json::to_vec_pretty(&t)?)?;
            println!("{}", file.display());
            written += 1;
        }
        for id in skipped {
            eprintln!(
                "warning: {}: point {id} failed, so it has no OMB result (OMB's format has no failed test)",
                path.display()
            );
        }
    }
    eprintln!("mqbench: {written} OMB result file(s) in {}; what OMB's format cannot hold:", out.display());
    for n in super::result::EXPORT_NOTES {
        eprintln!("  - {n}");
    }
    Ok(0)
}
