//! Java-properties text, as Kafka driver files embed it
//! (`producerConfig: |` followed by `acks=all` lines).
//!
//! Written here rather than taken from a crate: OMB's files use a small
//! part of the format (`key=value`, `key: value` or `key value`, `#` and
//! `!` comments, a trailing `\` continuing a line, `\` escapes), and the
//! line of each property inside the text is needed for the notes, which
//! the crates do not give.

/// One property: its key, value and 0-based line within the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// Every property of `text`, in order (a repeated key appears twice; the
/// last wins where they are applied, as in `java.util.Properties`).
pub fn parse(text: &str) -> Vec<Property> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        let mut logical = lines[i].trim_start().to_string();
        i += 1;
        if logical.is_empty() || logical.starts_with('#') || logical.starts_with('!') {
            continue;
        }
        // A line ending in an odd number of backslashes continues.
        while ends_in_continuation(&logical) && i < lines.len() {
            logical.pop();
            logical.push_str(lines[i].trim_start());
            i += 1;
        }
        if ends_in_continuation(&logical) {
            logical.pop();
        }
        let (key, value) = split(&logical);
        out.push(Property { key: unescape(&key), value: unescape(&value), line: start });
    }
    out
}

fn ends_in_continuation(s: &str) -> bool {
    s.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

/// Splits at the first unescaped `=`, `:` or whitespace; the separator's
/// surrounding blanks are not part of key or value.
fn split(line: &str) -> (String, String) {
    let chars: Vec<char> = line.chars().collect();
    let mut k = 0;
    while k < chars.len() {
        match chars[k] {
            '\\' => k += 2,
            '=' | ':' | ' ' | '\t' => break,
            _ => k += 1,
        }
    }
    let k = k.min(chars.len());
    let key: String = chars[..k].iter().collect();
    let mut v = k;
    while v < chars.len() && (chars[v] == ' ' || chars[v] == '\t') {
        v += 1;
    }
    if v < chars.len() && (chars[v] == '=' || chars[v] == ':') {
        v += 1;
        while v < chars.len() && (chars[v] == ' ' || chars[v] == '\t') {
            v += 1;
        }
    }
    (key, chars[v..].iter().collect::<String>().trim_end().to_string())
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = it.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&hex),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(text: &str) -> Vec<(String, String, usize)> {
        parse(text).into_iter().map(|p| (p.key, p.value, p.line)).collect()
    }

    #[test]
    fn the_forms_driver_files_use() {
        let text =
            "# comment\nacks=all\n  linger.ms = 1\n! also a comment\nbatch.size: 1048576\n\nclient.id my client\n\
                    sasl.jaas.config=org.Login required \\\n    username=\"u\";\nkey\\=with=eq\nempty=\n";
        assert_eq!(
            kv(text),
            vec![
                ("acks".into(), "all".into(), 1),
                ("linger.ms".into(), "1".into(), 2),
                ("batch.size".into(), "1048576".into(), 4),
                ("client.id".into(), "my client".into(), 6),
                ("sasl.jaas.config".into(), "org.Login required username=\"u\";".into(), 7),
                ("key=with".into(), "eq".into(), 9),
                ("empty".into(), "".into(), 10),
            ]
        );
    }
}
