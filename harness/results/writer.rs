//! Writes results.json and results.csv after every point, atomically
//! (temporary file in the same directory, then rename), so a crash loses at
//! most the point that was running.

use super::csv;
use super::model::ResultsFile;
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct ResultsWriter {
    dir: PathBuf,
}

/// Replaces `path` with `bytes` in one step.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

impl ResultsWriter {
    pub fn create(dir: &Path) -> anyhow::Result<ResultsWriter> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create results directory {}", dir.display()))?;
        Ok(ResultsWriter { dir: dir.to_path_buf() })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn json_path(&self) -> PathBuf {
        self.dir.join("results.json")
    }

    pub fn write(&self, results: &ResultsFile) -> anyhow::Result<()> {
        // A password registered while the run read it never reaches disk,
        // wherever a message quoted it. The values are scrubbed, not the
        // text: a password that is also a word of the format (`mqbench`)
        // would otherwise break the file's keys.
        let mut clean = results.clone();
        super::scrub::scrub_results(&mut clean)?;
        let json = serde_json::to_string_pretty(&clean)?;
        write_atomic(&self.json_path(), json.as_bytes())?;
        write_atomic(&self.dir.join("results.csv"), csv::to_csv(&clean).as_bytes())?;
        Ok(())
    }
}

/// Reads a results file, with an error that says which file and why.
pub fn read_results(path: &Path) -> anyhow::Result<ResultsFile> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let results: ResultsFile =
        serde_json::from_str(&text).with_context(|| format!("{} is not an mqbench results file", path.display()))?;
    if results.schema_version != super::model::SCHEMA_VERSION {
        anyhow::bail!(
            "{}: schema_version {} is not supported (this mqbench reads version {})",
            path.display(),
            results.schema_version,
            super::model::SCHEMA_VERSION
        );
    }
    Ok(results)
}
