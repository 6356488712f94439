//! `mqbench --help` says what the README says, in fewer words: the quick
//! start command is the README's, every command the README lists has a
//! help of its own that explains it beyond one line, and the exit codes
//! are named.

use std::process::Command;

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mqbench")).args(args).output().unwrap();
    assert!(out.status.success(), "mqbench {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

#[test]
fn the_quick_start_is_the_readmes() {
    let readme = readme();
    let quick_start = readme
        .lines()
        .find(|l| l.contains("install-brokers.sh") && l.contains("quickstart.yaml"))
        .expect("README has the quick-start command")
        .trim();
    let top = help(&["--help"]);
    assert!(top.contains(quick_start), "--help lacks the README's quick start `{quick_start}`:\n{top}");
    for code in ["0 ok", "1 error", "2 bad arguments", "3 regression", "128 + signal"] {
        assert!(top.contains(code), "exit code `{code}` in:\n{top}");
    }
    let words = |t: &str| t.split_whitespace().count();
    assert!(words(&top) < words(&readme), "fewer words than the README");
}

#[test]
fn every_command_the_readme_lists_has_its_own_help() {
    let readme = readme();
    // `mqbench COMMAND ...` lines of the README's code blocks.
    let mut in_code = false;
    let code: Vec<&str> = readme
        .lines()
        .filter(|l| {
            if l.starts_with("```") {
                in_code = !in_code;
                return false;
            }
            in_code
        })
        .collect();
    let mut commands: Vec<&str> = code
        .iter()
        .filter_map(|l| l.trim().strip_prefix("mqbench "))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|c| c.chars().all(|ch| ch.is_ascii_lowercase()))
        .collect();
    commands.dedup();
    for c in ["run", "validate", "report", "compare", "merge", "brokers"] {
        assert!(commands.contains(&c), "README lists `mqbench {c}`: {commands:?}");
    }
    let top = help(&["--help"]);
    for c in commands {
        assert!(top.contains(&format!("  {c} ")), "`{c}` in the command list:\n{top}");
        let own = help(&[c, "--help"]);
        // The first line is the summary; the long help adds a paragraph.
        let paragraphs = own.split("\n\n").take_while(|p| !p.starts_with("Usage:")).count();
        assert!(paragraphs >= 2, "`mqbench {c} --help` explains no more than its one line:\n{own}");
    }
}
