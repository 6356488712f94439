//! The command line: clap parses once into validated options; nothing later
//! sees raw arguments. Errors print as `Error: ...` and exit 1; an
//! interrupted run exits 128 + the signal (130 for Ctrl-C, 143 for SIGTERM)
//! after writing what it measured.

use crate::run::{self, RunOptions};
use crate::scenario::{self, Overrides};
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "mqbench",
    version,
    about = "Benchmark message brokers: open-loop load, honest latency, every message counted",
    long_about = "Benchmark message brokers: which broker, at which payload sizes and rates, with what \
                  throughput and latency, and did a change make it worse?\n\n\
                  A scenario file (YAML) sweeps payload sizes x rates x other knobs over brokers: loopback (the \
                  harness's own ceiling), redis, kafka, rabbitmq, artemis, activemq, rabbitmq-amqp1. Producers \
                  are paced open-loop; latency runs from each message's due time; every message is counted \
                  (lost, duplicated, out of order).",
    after_long_help = "Quick start (Debian/Ubuntu, in the source tree):\n  \
                       bash docker/install-brokers.sh && cargo run --release -- run scenarios/quickstart.yaml\n\n\
                       Output: results/<scenario>-<time>/ (or --out DIR): results.json and results.csv, written \
                       after every point; report.html (summary first) and report.md with charts/.\n\
                       Exit codes: 0 ok, 1 error, 2 bad arguments, 3 regression (compare), 128 + signal when \
                       interrupted (130 for Ctrl-C).\n\
                       Documentation: README.md and docs/ in the source tree. MQBENCH_LOG=debug prints logs."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run every point of a scenario and write results.json, results.csv.
    ///
    /// Starts the `provision: local` brokers, runs the points one by one
    /// (results are on disk after each; a failing broker is a failed point
    /// and the sweep goes on), stops the brokers and writes report.html and
    /// report.md. Ctrl-C, SIGTERM or SIGHUP record the running point as
    /// interrupted, stop the brokers and exit with 128 + the signal.
    Run {
        /// Scenario file (YAML).
        scenario: PathBuf,
        /// Results directory (default results/<scenario>-<timestamp>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Only this broker (by name); repeat for several.
        #[arg(long = "broker", value_name = "NAME")]
        brokers: Vec<String>,
        /// Override a knob: `rate=max`, `payload=[10B,1KB]`, `options.mode=list`, `redis.mode=list`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Smoke run: warm-up 0.5 s, window 2 s, drain at most 2 s.
        #[arg(long)]
        quick: bool,
        /// No progress bars (summary lines only).
        #[arg(long)]
        no_progress: bool,
        /// Run worker I of N load generators (its share of producers and consumers, on its own topic); combine with `mqbench merge`.
        #[arg(long, value_name = "I/N", value_parser = crate::run::shard::parse)]
        shard: Option<crate::results::Shard>,
        /// With --shard: a directory every worker can read and write (a shared volume); each point starts at a wall-clock time agreed there once every worker is ready.
        #[arg(long, value_name = "DIR")]
        barrier: Option<PathBuf>,
        /// Worker threads of the harness's async runtime (default: one per CPU). On a host shared with the broker, 1 leaves the broker more CPU and costs fewer thread wake-ups per message.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
        threads: Option<u16>,
        /// SCENARIO is an OpenMessaging Benchmark workload file: run it against the broker of this OMB driver file (repeat for several; or name broker kinds with --broker). See docs/omb.md.
        #[arg(long = "omb-driver", value_name = "FILE")]
        omb_drivers: Vec<PathBuf>,
        /// Leave each point's topic or queue, with its messages, on the broker (to read it with another client; for live brokers: local ones are still stopped at the end); each result names it in a warning.
        #[arg(long)]
        keep_topics: bool,
    },
    /// Write report.html and report.md (with charts) from stored results.
    ///
    /// Reads results only, never runs anything. report.html is one
    /// self-contained file: a summary per broker and payload first
    /// (throughput, latency at the fixed rates, loss, verdict), then charts,
    /// the point table, warnings, each point's percentiles and series, the
    /// environment and the scenario. Give several results files to draw
    /// their runs together.
    Report(crate::report::commands::ReportArgs),
    /// Compare two results files point by point; exit 3 on a regression.
    ///
    /// Points match by id. A change is a regression when it exceeds its
    /// threshold and, with repeats, the spread between them; a point that
    /// now fails or is missing is one too. Exit 0 passed, 3 regression, 1
    /// bad input.
    Compare(crate::report::commands::CompareArgs),
    /// Combine the results of `--shard i/N` workers into one results file.
    ///
    /// Counts and histograms add, throughput adds over the common window.
    /// Shards of different scenarios, a shard given twice or a point
    /// missing from a shard are refused.
    Merge(crate::report::commands::MergeArgs),
    /// Start or stop local brokers for manual use (`brokers up redis`, `brokers down`).
    ///
    /// `up` prints each broker's endpoint, for a `provision: live` scenario
    /// or another client; they run until `brokers down`.
    Brokers {
        #[command(subcommand)]
        action: crate::provision::local::manual::BrokersCommand,
    },
    /// Write a scenario file from files of another benchmark tool (OpenMessaging Benchmark).
    ///
    /// `import omb WORKLOAD.yaml... --driver DRIVER.yaml` writes the
    /// equivalent mqbench scenario, each line commented with the OMB key it
    /// comes from; what cannot be honoured is a warning naming file, line
    /// and key, or an error. `mqbench run WORKLOAD.yaml` runs the same
    /// mapping without writing it. See docs/omb.md.
    Import {
        #[command(subcommand)]
        format: crate::omb::commands::ImportCommand,
    },
    /// Write stored results in another benchmark tool's result format (OpenMessaging Benchmark).
    ///
    /// `export omb RESULTS.json... --out DIR` writes one OMB result file per
    /// measured point; what OMB's format cannot hold is listed in each
    /// file's `mqbench` object and printed. See docs/omb.md.
    Export {
        #[command(subcommand)]
        format: crate::omb::commands::ExportCommand,
    },
    /// Check scenario files and list their points without running anything.
    ///
    /// Errors name the file, line and column, what is wrong and what would
    /// be right. Exit 0 when every file is valid, 1 otherwise.
    Validate {
        /// Scenario files (YAML).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
        /// Print every point id.
        #[arg(long)]
        list: bool,
    },
}

/// Entry point used by `main.rs` and by tests; returns the exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args.clone()) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("MQBENCH_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(crate::system::secrets::ScrubbedStderr)
        .try_init();
    let code = match execute(cli, args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {}", crate::system::secrets::scrub(&format!("{e:#}")));
            1
        }
    };
    // Whatever happened, no broker this process started outlives it.
    crate::provision::local::process::stop_all(std::time::Duration::from_secs(10));
    #[cfg(feature = "container")]
    crate::provision::container::engine::remove_all();
    code
}

/// The async runtime; `threads` workers, or tokio's default (one per CPU,
/// or `TOKIO_WORKER_THREADS`).
fn runtime(threads: Option<u16>) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        builder.worker_threads(n as usize);
    }
    Ok(builder.enable_all().build()?)
}

fn execute(cli: Cli, args: Vec<OsString>) -> anyhow::Result<i32> {
    match cli.command {
        Command::Run {
            scenario,
            out,
            brokers,
            set,
            quick,
            no_progress,
            shard,
            barrier,
            threads,
            keep_topics,
            omb_drivers,
        } => {
            // An OMB workload file runs through the import's mapping; its
            // `--broker` names broker kinds, not entries of a file.
            let imported = crate::omb::commands::scenario_for_run(
                &scenario,
                &omb_drivers,
                &brokers,
                &set,
                quick,
                &crate::adapter::Rules,
            )?;
            let opts = RunOptions {
                scenario,
                out,
                overrides: Overrides { brokers: if imported.is_some() { vec![] } else { brokers }, set, quick },
                progress: !no_progress && std::io::stderr().is_terminal(),
                command: args.iter().map(|a| a.to_string_lossy().into_owned()).collect(),
                shard,
                barrier,
                keep_topics,
            };
            let outcome = match imported {
                Some(loaded) => runtime(threads)?.block_on(run::run_with(loaded, opts))?,
                None => runtime(threads)?.block_on(run::run(opts))?,
            };
            crate::report::commands::after_run(&outcome.dir);
            Ok(if outcome.interrupted { crate::system::stop_signal::exit_code() } else { 0 })
        }
        Command::Brokers { action } => runtime(None)?.block_on(crate::provision::local::manual::execute(action)),
        Command::Import { format } => crate::omb::commands::import(format, &crate::adapter::Rules),
        Command::Export { format } => crate::omb::commands::export(format),
        Command::Report(a) => crate::report::commands::report(a),
        Command::Compare(a) => crate::report::commands::compare(a),
        Command::Merge(a) => crate::report::commands::merge(a, &args),
        Command::Validate { scenarios, list } => {
            let mut failed = false;
            for file in scenarios {
                match scenario::load(&file, &Overrides::default(), &crate::adapter::Rules) {
                    Ok(s) => {
                        let brokers: std::collections::BTreeSet<_> =
                            s.points.iter().map(|p| p.broker.name.as_str()).collect();
                        println!(
                            "{}: ok, {} points over {} brokers ({})",
                            file.display(),
                            s.points.len(),
                            brokers.len(),
                            brokers.into_iter().collect::<Vec<_>>().join(", ")
                        );
                        for p in s.points.iter().filter(|_| list) {
                            let note = match crate::adapter::driver(&p.broker.adapter) {
                                Ok(_) => String::new(),
                                Err(e) => format!("  (will fail: {e})"),
                            };
                            println!(
                                "  {}{}{note}",
                                p.id,
                                if p.repeat > 0 { format!(" #{}", p.repeat) } else { String::new() }
                            );
                        }
                    }
                    Err(e) => {
                        eprintln!("{e}");
                        if crate::omb::workload::looks_like_workload(
                            &std::fs::read_to_string(&file).unwrap_or_default(),
                        ) {
                            eprintln!(
                                "{}: this is an OpenMessaging Benchmark workload file: `mqbench import omb {0} --driver DRIVER.yaml` (or `--broker KIND`) checks it and writes the scenario; `mqbench run {0} --omb-driver DRIVER.yaml` runs it (docs/omb.md)",
                                file.display()
                            );
                        }
                        failed = true;
                    }
                }
            }
            Ok(if failed { 1 } else { 0 })
        }
    }
}
