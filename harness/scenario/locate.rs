//! Finds the line and column of a key path in YAML text.
//!
//! serde_yaml reports positions for errors it finds while deserializing, but
//! checks made afterwards (an adapter rejecting one of its options, two
//! brokers with the same name) only know the path of the offending value.
//! This walks the parser's events once to turn that path back into a
//! position, so every scenario error can name file, line and column.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// One step of a path into a YAML document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

impl From<&str> for Step {
    fn from(s: &str) -> Self {
        Step::Key(s.to_string())
    }
}

impl From<usize> for Step {
    fn from(i: usize) -> Self {
        Step::Index(i)
    }
}

/// A 1-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

enum Frame {
    Map { path: Vec<Step>, pending_key: Option<String>, expect_key: bool },
    Seq { path: Vec<Step>, next: usize },
}

struct Walker<'a> {
    target: &'a [Step],
    stack: Vec<Frame>,
    found: Option<Position>,
    /// Deepest prefix of the target seen so far, as a fallback.
    best: Option<(usize, Position)>,
}

fn position(m: &Marker) -> Position {
    Position { line: m.line(), column: m.col() + 1 }
}

impl Walker<'_> {
    /// The path of the node that starts now, or `None` when it is a key.
    fn node_path(&mut self, key_text: Option<&str>, mark: &Marker) -> Option<Vec<Step>> {
        match self.stack.last_mut() {
            None => Some(Vec::new()),
            Some(Frame::Map { path, pending_key, expect_key }) => {
                if *expect_key {
                    *expect_key = false;
                    let key = key_text.unwrap_or("").to_string();
                    let mut key_path = path.clone();
                    key_path.push(Step::Key(key.clone()));
                    *pending_key = Some(key);
                    let pos = position(mark);
                    self.note(&key_path, pos);
                    None
                } else {
                    *expect_key = true;
                    let mut p = path.clone();
                    p.push(Step::Key(pending_key.take().unwrap_or_default()));
                    Some(p)
                }
            }
            Some(Frame::Seq { path, next }) => {
                let mut p = path.clone();
                p.push(Step::Index(*next));
                *next += 1;
                let pos = position(mark);
                let found = p.clone();
                self.note(&found, pos);
                Some(p)
            }
        }
    }

    fn note(&mut self, path: &[Step], pos: Position) {
        if self.found.is_some() {
            return;
        }
        if path == self.target {
            self.found = Some(pos);
        } else if self.target.starts_with(path) {
            let depth = path.len();
            if self.best.map(|(d, _)| depth > d).unwrap_or(true) {
                self.best = Some((depth, pos));
            }
        }
    }
}

impl MarkedEventReceiver for Walker<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(text, ..) => {
                self.node_path(Some(&text), &mark);
            }
            Event::Alias(_) => {
                self.node_path(None, &mark);
            }
            Event::MappingStart(..) => {
                let path = self.node_path(None, &mark).unwrap_or_default();
                self.stack.push(Frame::Map { path, pending_key: None, expect_key: true });
            }
            Event::SequenceStart(..) => {
                let path = self.node_path(None, &mark).unwrap_or_default();
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

/// Position of the key (for a mapping entry) or item (for a list element)
/// at `path`; when the path does not exist, the position of its deepest
/// existing parent. `None` only when the text does not parse at all.
pub fn locate(source: &str, path: &[Step]) -> Option<Position> {
    let mut walker = Walker { target: path, stack: Vec::new(), found: None, best: None };
    let mut parser = Parser::new_from_str(source);
    if parser.load(&mut walker, false).is_err() && walker.found.is_none() && walker.best.is_none() {
        return None;
    }
    walker.found.or(walker.best.map(|(_, p)| p))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "name: x\nworkload:\n  payload: [10B, 1KB]\nbrokers:\n  - name: a\n    options:\n      mode: streams\n  - name: b\n    options:\n      mode: [list, pubsub]\n";

    #[test]
    fn finds_keys_and_items() {
        let p = locate(DOC, &["workload".into(), "payload".into()]).unwrap();
        assert_eq!(p, Position { line: 3, column: 3 });
        let p = locate(DOC, &["brokers".into(), 1usize.into(), "options".into(), "mode".into()]).unwrap();
        assert_eq!(p, Position { line: 10, column: 7 });
        let p = locate(DOC, &["brokers".into(), 0usize.into()]).unwrap();
        assert_eq!(p.line, 5);
    }

    #[test]
    fn missing_path_falls_back_to_parent() {
        let p = locate(DOC, &["brokers".into(), 0usize.into(), "options".into(), "nope".into()]).unwrap();
        assert_eq!(p.line, 6);
    }
}
