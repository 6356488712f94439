//! Takes every registered secret out of a results file in memory, so that
//! what a run returns (and prints) is what it wrote: the writer's text
//! scrubbing alone would leave the two differing wherever a secret was
//! quoted (a password that is also a user name, say `guest:guest`).

use super::model::ResultsFile;
use crate::system::secrets::scrub_registered;

/// Scrubs every string of `results` in place. The encoded histograms are
/// left alone: they are base64 of numbers, and a secret matched inside
/// one by chance would corrupt it without hiding anything.
pub fn scrub_results(results: &mut ResultsFile) -> anyhow::Result<()> {
    let mut value = serde_json::to_value(&*results)?;
    let mut changed = false;
    scrub_value(&mut value, &mut changed);
    if changed {
        *results = serde_json::from_value(value)?;
    }
    Ok(())
}

fn scrub_value(value: &mut serde_json::Value, changed: &mut bool) {
    match value {
        serde_json::Value::String(s) => {
            let clean = scrub_registered(s);
            if clean != *s {
                *s = clean;
                *changed = true;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| scrub_value(v, changed)),
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key != "histograms" {
                    scrub_value(v, changed);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_secret_leaves_the_results_in_memory() {
        crate::system::secrets::register("Kq7-in-memory-secret");
        let mut results: ResultsFile = serde_json::from_value(serde_json::json!({
            "schema_version": 1,
            "run": {"id": "r", "scenario": "s", "scenario_file": "s.yaml", "started_at": "t",
                    "mqbench_version": "0", "git_revision": "g",
                    "host": {"os": "o", "kernel": "k", "hostname": "h", "cpus": 1, "memory_bytes": 1, "cpu_model": "c"},
                    "clients": {}, "command": ["--set", "pw=Kq7-in-memory-secret"]},
            "scenario_source": "endpoint: amqp://u:Kq7-in-memory-secret@h",
            "points": []
        }))
        .unwrap();
        scrub_results(&mut results).unwrap();
        assert_eq!(results.scenario_source, "endpoint: amqp://u:***@h");
        assert_eq!(results.run.command, vec!["--set".to_string(), "pw=***".to_string()]);
    }

    #[test]
    fn a_password_that_is_also_a_key_of_the_file_leaves_it_readable() {
        // Scrubbing the written text would turn `"git_revision":` into
        // `"***":` and the file would no longer read.
        crate::system::secrets::register("git_revision");
        let dir = tempfile::tempdir().unwrap();
        let writer = crate::results::ResultsWriter::create(dir.path()).unwrap();
        let results: ResultsFile = serde_json::from_value(serde_json::json!({
            "schema_version": 1,
            "run": {"id": "r", "scenario": "s", "scenario_file": "s.yaml", "started_at": "t",
                    "mqbench_version": "0", "git_revision": "g",
                    "host": {"os": "o", "kernel": "k", "hostname": "h", "cpus": 1, "memory_bytes": 1, "cpu_model": "c"},
                    "clients": {}, "command": []},
            "scenario_source": "password git_revision",
            "points": []
        }))
        .unwrap();
        writer.write(&results).unwrap();
        let back = crate::results::read_results(&writer.json_path()).unwrap();
        assert_eq!(back.scenario_source, "password ***");
    }
}
