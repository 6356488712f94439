//! An OMB YAML file as its top-level keys, each with its line, and the
//! notes (warnings and errors) that name file, line and key.
//!
//! OMB reads its files with Jackson, which ignores unknown keys and turns
//! `"100"` into 100 for a number field: users' files rely on both, so the
//! readers here accept numbers written as strings and report an unknown key
//! as a warning (never silently).

use crate::scenario::locate::{locate, Step};
use serde_yaml::Value;
use std::fmt;
use std::path::{Path, PathBuf};

/// A warning or error about one key of one file.
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    pub file: PathBuf,
    pub line: Option<usize>,
    /// The OMB key (`producerRate`, `commonConfig` `sasl.jaas.config`), or
    /// empty for the file as a whole.
    pub key: String,
    pub text: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if self.key.is_empty() {
            write!(f, ": {}", self.text)
        } else {
            write!(f, ": `{}`: {}", self.key, self.text)
        }
    }
}

/// Errors of one import, every one of them (a file with three bad keys
/// says so once).
#[derive(Debug, Clone, PartialEq)]
pub struct Refused(pub Vec<Note>);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(|n| n.to_string()).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for Refused {}

/// One OMB file, parsed.
pub struct Source {
    pub file: PathBuf,
    pub text: String,
    /// Top-level keys in file order.
    pub entries: Vec<(String, Value)>,
    pub warnings: Vec<Note>,
    pub errors: Vec<Note>,
}

impl Source {
    pub fn read(file: &Path) -> Result<Source, Refused> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            Refused(vec![Note { file: file.into(), line: None, key: String::new(), text: format!("cannot read: {e}") }])
        })?;
        Source::parse(file, &text)
    }

    pub fn parse(file: &Path, text: &str) -> Result<Source, Refused> {
        let refuse = |line: Option<usize>, text: String| {
            Refused(vec![Note { file: file.into(), line, key: String::new(), text }])
        };
        let value: Value = serde_yaml::from_str(text).map_err(|e| {
            let line = e.location().map(|l| l.line());
            refuse(line, format!("not YAML: {}", e.to_string().split(" at line ").next().unwrap_or_default()))
        })?;
        let Value::Mapping(map) = value else {
            return Err(refuse(None, "an OMB file is a YAML mapping of keys (`name: ...`, `topics: ...`)".into()));
        };
        let mut entries = Vec::new();
        for (k, v) in map {
            let key = match k {
                Value::String(s) => s,
                other => serde_yaml::to_string(&other).unwrap_or_default().trim().to_string(),
            };
            entries.push((key, v));
        }
        Ok(Source { file: file.into(), text: text.into(), entries, warnings: vec![], errors: vec![] })
    }

    /// The line of a top-level key.
    pub fn line(&self, key: &str) -> Option<usize> {
        locate(&self.text, &[Step::Key(key.into())]).map(|p| p.line)
    }

    /// The line of item `index` of a top-level list.
    pub fn item_line(&self, key: &str, index: usize) -> Option<usize> {
        locate(&self.text, &[Step::Key(key.into()), Step::Index(index)]).map(|p| p.line)
    }

    pub fn note(&self, key: &str, text: impl Into<String>) -> Note {
        Note { file: self.file.clone(), line: self.line(key), key: key.into(), text: text.into() }
    }

    pub fn warn(&mut self, key: &str, text: impl Into<String>) {
        let n = self.note(key, text);
        self.warnings.push(n);
    }

    pub fn error(&mut self, key: &str, text: impl Into<String>) {
        let n = self.note(key, text);
        self.errors.push(n);
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Warns about every key not in `known`, saying that OMB ignores it.
    pub fn warn_unknown(&mut self, known: &[&str], what: &str) {
        let unknown: Vec<String> =
            self.entries.iter().map(|(k, _)| k.clone()).filter(|k| !known.contains(&k.as_str())).collect();
        for k in unknown {
            self.warn(
                &k,
                format!(
                    "unknown {what} key: OMB ignores keys it does not know, and so does the import (known: {})",
                    known.join(", ")
                ),
            );
        }
    }

    /// A whole number, written bare or as a string (`"100"`); `None` when
    /// absent, an error note when it is something else.
    pub fn int(&mut self, key: &str) -> Option<u64> {
        let v = self.get(key)?.clone();
        match number(&v) {
            Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= u64::MAX as f64 => Some(n as u64),
            Some(n) => {
                self.error(key, format!("{n} is not a whole number of zero or more"));
                None
            }
            None => {
                self.error(key, format!("{} is not a number", show(&v)));
                None
            }
        }
    }

    /// A number (fractions allowed), bare or as a string.
    pub fn float(&mut self, key: &str) -> Option<f64> {
        let v = self.get(key)?.clone();
        match number(&v) {
            Some(n) if n.is_finite() => Some(n),
            _ => {
                self.error(key, format!("{} is not a number", show(&v)));
                None
            }
        }
    }

    /// `true` or `false`, bare or as a string.
    pub fn boolean(&mut self, key: &str) -> Option<bool> {
        let v = self.get(key)?.clone();
        match &v {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
            _ => {
                self.error(key, format!("{} is not true or false", show(&v)));
                None
            }
        }
    }

    /// A string (a bare number or boolean is taken as its text).
    pub fn string(&mut self, key: &str) -> Option<String> {
        let v = self.get(key)?.clone();
        match &v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null => None,
            _ => {
                self.error(key, format!("{} is not a string", show(&v)));
                None
            }
        }
    }
}

/// A number bare or in a string, as Jackson coerces it.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

/// A value as the user wrote it, for messages.
pub fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{}`", serde_yaml::to_string(other).unwrap_or_default().trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_strings_and_lines() {
        let mut s = Source::parse(
            Path::new("w.yaml"),
            "# a comment\nname: x\ntopics: \"4\"\npartitionsPerTopic: 2.5\nfoo: 1\nflag: 'true'\nrate: abc\n",
        )
        .unwrap();
        assert_eq!(s.int("topics"), Some(4));
        assert_eq!(s.int("partitionsPerTopic"), None);
        assert_eq!(s.boolean("flag"), Some(true));
        assert_eq!(s.float("rate"), None);
        assert_eq!(s.errors.len(), 2);
        assert_eq!(
            s.errors[0].to_string(),
            "w.yaml:4: `partitionsPerTopic`: 2.5 is not a whole number of zero or more"
        );
        assert_eq!(s.errors[1].line, Some(7));
        s.warn_unknown(&["name", "topics", "partitionsPerTopic", "flag", "rate"], "workload");
        assert_eq!(s.warnings.len(), 1);
        assert!(s.warnings[0].to_string().starts_with("w.yaml:5: `foo`: unknown workload key: OMB ignores"));
    }
}
