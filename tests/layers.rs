//! Dependencies point one way: scenario -> points -> (provision, adapter)
//! -> run -> measure -> results -> report, with `system` (processes and
//! signals) below everything and `cli` above. This test reads every source
//! file under `harness/` and fails, naming the file and line, when a
//! top-level module imports another that its row of [`ALLOWED`] does not
//! list; adding an edge is a decision made here, in review, not by accident.

use std::path::{Path, PathBuf};

/// Which top-level modules each one may name as `crate::MODULE`.
const ALLOWED: &[(&str, &[&str])] = &[
    ("system", &[]),
    ("measure", &[]),
    // The body format's limits (header lengths, producers a compact header
    // can name) are checked at validation, so the file's line is named.
    // `system::secrets` (redacting and scrubbing passwords) is below
    // everything: scenario text, results and reports all pass through it.
    ("scenario", &["measure", "system"]),
    ("adapter", &["scenario", "measure", "system"]),
    ("provision", &["scenario", "adapter", "system"]),
    ("run", &["scenario", "adapter", "provision", "measure", "results", "system"]),
    ("results", &["scenario", "measure", "system"]),
    // OpenMessaging Benchmark files: scenario text from OMB workloads and
    // results values from OMB result files (adapters asked through
    // `scenario::AdapterRules`, never named).
    ("omb", &["scenario", "measure", "results"]),
    // Reads OMB result files beside mqbench's.
    ("report", &["scenario", "measure", "results", "omb", "system"]),
    ("cli", &["scenario", "adapter", "provision", "run", "measure", "results", "report", "system", "omb"]),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// `(line, module)` for every `crate::MODULE` outside comments.
fn crate_imports(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            assert!(
                !name.is_empty(),
                "line {}: `crate::{{...}}` groups are not checked; import each module on its own",
                i + 1
            );
            found.push((i + 1, name));
        }
    }
    found
}

/// The top-level module a file under `harness/` belongs to (`None` for
/// the crate root and `main.rs`).
fn module_of(root: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(root).unwrap();
    let first = rel.components().next()?.as_os_str().to_string_lossy().into_owned();
    match first.strip_suffix(".rs") {
        Some("lib" | "main") => None,
        Some(m) => Some(m.to_string()),
        None => Some(first),
    }
}

fn violations(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    sources(root, &mut files);
    files.sort();
    let mut bad = Vec::new();
    for file in files {
        let Some(module) = module_of(root, &file) else { continue };
        let allowed = ALLOWED
            .iter()
            .find(|(m, _)| *m == module)
            .unwrap_or_else(|| panic!("{}: module `{module}` has no row in ALLOWED", file.display()))
            .1;
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, target) in crate_imports(&text) {
            if target != module && !allowed.contains(&target.as_str()) {
                bad.push(format!("{}:{line}: `{module}` imports `crate::{target}`", file.display()));
            }
        }
    }
    bad
}

#[test]
fn modules_import_only_what_lies_below_them() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("harness");
    let bad = violations(&root);
    assert!(bad.is_empty(), "imports against the flow:\n{}", bad.join("\n"));
}

#[test]
fn the_check_sees_a_forbidden_import() {
    // The three that once ran against the flow, planted in a copy of the
    // tree's layout.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (file, text) in [
        ("scenario/mod.rs", "fn f() { crate::adapter::check_options(); }\n"),
        ("provision/local/instance.rs", "use crate::run::resources::sample_tree; // sampling\n"),
        ("adapter/redis/mod.rs", "let s = crate::provision::local::redis::software_from_info(&i);\n"),
        ("system/mod.rs", "// crate::run in a comment is not an import\nuse crate::system::stop_signal;\n"),
    ] {
        let path = root.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let bad = violations(root);
    let names: Vec<&str> = bad.iter().map(|b| b.rsplit(": ").next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "`adapter` imports `crate::provision`",
            "`provision` imports `crate::run`",
            "`scenario` imports `crate::adapter`"
        ],
        "{bad:?}"
    );
    assert!(bad[1].contains("provision/local/instance.rs:1:"), "{bad:?}");
}
