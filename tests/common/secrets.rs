//! Looking for secrets in what a run wrote or printed.

use std::path::{Path, PathBuf};
use std::process::Output;

/// A password no file or log could hold by chance.
pub fn random_secret(tag: &str) -> String {
    format!("Mq{tag}{:016x}{:08x}", rand::random::<u64>(), rand::random::<u32>())
}

/// Every file below `dir`, with its bytes.
pub fn files_below(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

/// Whether `hay` holds `needle`.
pub fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// `mqbench run SCENARIO --out OUT --no-progress` in `tmp` with the log at
/// its most verbose (where a leak would show) and `passwords` as
/// environment variables `(name, value)`.
pub fn run_logged(tmp: &Path, scenario: &Path, out: &Path, passwords: &[(&str, &str)]) -> Output {
    let mut run = super::procs::mqbench(tmp);
    run.arg("run").arg(scenario).arg("--out").arg(out).arg("--no-progress").env("MQBENCH_LOG", "debug");
    for (name, value) in passwords {
        run.env(name, value);
    }
    run.output().unwrap()
}
