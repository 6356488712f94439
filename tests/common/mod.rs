//! What every integration test that runs points shares: run a scenario text
//! into a temporary directory, and check that what landed on disk is what
//! was returned and matches `results/schema.json` (the issue asks that every
//! results.json the tests produce be validated against it).
#![allow(dead_code)] // each test binary uses its own part

pub mod delay_proxy;
pub mod procs;
pub mod secrets;

use mqbench::adapter::Rules;
use mqbench::results::ResultsFile;
use mqbench::run::{run_loaded, RunOptions};
use mqbench::scenario::{parse, Overrides};
use std::path::Path;
use tokio_util::sync::CancellationToken;

/// Runs `text` (a scenario, named `name` in errors) and returns its results
/// after checking the results file written for it.
pub async fn run_scenario(name: &str, text: &str) -> ResultsFile {
    run_scenario_with(name, text, RunOptions::default()).await
}

/// As [`run_scenario`], with run options (`out` is set here).
pub async fn run_scenario_with(name: &str, text: &str, opts: RunOptions) -> ResultsFile {
    let dir = tempfile::tempdir().unwrap();
    let scenario = parse(Path::new(name), text, &Overrides::default(), &Rules).unwrap();
    let opts = RunOptions { out: Some(dir.path().to_path_buf()), ..opts };
    let outcome = run_loaded(scenario, opts, CancellationToken::new()).await.unwrap();
    let file = dir.path().join("results.json");
    assert_matches_schema(&file);
    let on_disk = mqbench::results::read_results(&file).unwrap();
    assert_eq!(on_disk, outcome.results, "results.json differs from the results returned");
    outcome.results
}

/// Fails the test when `results_json` does not match `results/schema.json`.
pub fn assert_matches_schema(results_json: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("results/schema.json")).unwrap()).unwrap();
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(results_json).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&json).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "{} does not match results/schema.json: {errors:#?}", results_json.display());
}
