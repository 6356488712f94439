//! Keeping secrets out of everything mqbench writes.
//!
//! Two nets, both applied to results, reports, failed-point errors and
//! log lines:
//! - every password mqbench reads from the environment (`password_env`)
//!   or finds in an endpoint URL is [`register`]ed, and [`scrub`] replaces
//!   each registered value wherever it appears;
//! - [`redact`] removes what looks like a secret written where it should
//!   not be: the password of a URL's userinfo (`redis://u:PASS@h`) and the
//!   value of a `password:`/`password=`-style key (`sasl.password`,
//!   `ssl.key.password`, `secret`, `token`), in scenario text, command
//!   lines and messages.

use std::sync::{Mutex, OnceLock};

/// What replaces a secret.
pub const MASK: &str = "***";

fn registry() -> &'static Mutex<Vec<String>> {
    static R: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(Vec::new()))
}

/// Remembers `secret` so that [`scrub`] removes it from what is written.
/// Values under 4 characters are not registered: masking every `a` of a
/// file would hide everything and protect nothing.
pub fn register(secret: &str) {
    if secret.len() < 4 {
        return;
    }
    let mut r = registry().lock().unwrap_or_else(|e| e.into_inner());
    if !r.iter().any(|s| s == secret) {
        r.push(secret.to_string());
    }
}

/// `text` with every registered secret and every secret-looking value
/// masked (for messages and log lines).
pub fn scrub(text: &str) -> String {
    scrub_registered(&redact(text))
}

/// `text` with every registered secret masked, and nothing else changed
/// (for serialized results, whose scenario text was [`redact`]ed before).
pub fn scrub_registered(text: &str) -> String {
    let mut out = text.to_string();
    let r = registry().lock().unwrap_or_else(|e| e.into_inner());
    for s in r.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), MASK);
        }
    }
    out
}

/// A log writer that [`scrub`]s each line before it reaches standard
/// error (tracing's formatter writes one event per call).
#[derive(Clone, Copy, Default)]
pub struct ScrubbedStderr;

impl std::io::Write for ScrubbedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(scrub(&text).as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for ScrubbedStderr {
    type Writer = ScrubbedStderr;
    fn make_writer(&'a self) -> Self::Writer {
        ScrubbedStderr
    }
}

/// Key names whose values are secrets (matched case-insensitively at the
/// end of a key: `sasl.password`, `MQBENCH_TOKEN`, `client_secret`).
const SECRET_KEYS: &[&str] = &["password", "passwd", "secret", "token"];

fn is_secret_key(key: &str) -> bool {
    let k = key.trim().trim_matches(|c| c == '"' || c == '\'' || c == '-').to_ascii_lowercase();
    // `password_env` names a variable: not a secret.
    if k.ends_with("_env") {
        return false;
    }
    SECRET_KEYS.iter().any(|s| k.ends_with(s))
}

/// `text` with URL userinfo passwords and `KEY: VALUE` / `KEY=VALUE`
/// secrets masked (see the module doc).
pub fn redact(text: &str) -> String {
    let text = redact_userinfo(text);
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        out.push_str(&redact_pairs(line));
    }
    out
}

/// `scheme://user:PASS@host` -> `scheme://user:***@host`.
fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '/' || c == '"' || c == '\'' || c == ',')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.split_once(':') {
                    Some((user, pass)) if !pass.is_empty() => {
                        register(pass);
                        out.push_str(user);
                        out.push(':');
                        out.push_str(MASK);
                    }
                    _ => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Masks the value after a secret key's `:` or `=` up to the end of the
/// value (`,`, `}`, `]`, whitespace, or the line's end).
fn redact_pairs(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let bytes = line.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b':' || c == b'=' {
            // The key is the word before the separator.
            let key_start = line[..i]
                .rfind(|ch: char| {
                    !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '.' || ch == '-' || ch == '"' || ch == '\'')
                })
                .map(|p| p + 1)
                .unwrap_or(0);
            let key = &line[key_start..i];
            if is_secret_key(key) {
                let mut v = i + 1;
                while v < bytes.len() && bytes[v] == b' ' {
                    v += 1;
                }
                let quote = bytes.get(v).copied().filter(|q| *q == b'"' || *q == b'\'');
                let end = match quote {
                    Some(q) => line[v + 1..].find(q as char).map(|e| v + 1 + e + 1).unwrap_or(line.len()),
                    None => line[v..]
                        .find(|ch: char| ch == ',' || ch == '}' || ch == ']' || ch.is_whitespace())
                        .map(|e| v + e)
                        .unwrap_or(line.len()),
                };
                if end > v {
                    let value = line[v..end].trim_matches(|q| q == '"' || q == '\'');
                    // Masked here always; masked everywhere after only when
                    // it is not a plain word: prose such as librdkafka's
                    // `OAUTHBEARER token: Failed to ...` would otherwise
                    // make every later `Failed` a secret. (Passwords from
                    // the environment and URLs are registered apart.)
                    if value.chars().any(|c| !c.is_ascii_alphabetic()) {
                        register(value);
                    }
                    out.push_str(&line[start..v]);
                    out.push_str(MASK);
                    start = end;
                    i = end;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push_str(&line[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_passwords_are_masked() {
        assert_eq!(redact("redis://bench:s3cr3t@h:6379/0"), "redis://bench:***@h:6379/0");
        assert_eq!(redact("amqp://guest@h:5672"), "amqp://guest@h:5672");
        assert_eq!(redact("endpoint: amqps://a:b1234@h, x"), "endpoint: amqps://a:***@h, x");
        assert_eq!(redact("no url here"), "no url here");
    }

    #[test]
    fn secret_keys_are_masked_and_password_env_is_kept() {
        assert_eq!(redact("  password: hunter22\n"), "  password: ***\n");
        assert_eq!(redact("properties: {sasl.password: 'p w1', acks: 1}"), "properties: {sasl.password: ***, acks: 1}");
        assert_eq!(redact("--set kafka.properties.sasl.password=abcd1"), "--set kafka.properties.sasl.password=***");
        assert_eq!(redact("password_env: MQBENCH_PW\n"), "password_env: MQBENCH_PW\n");
        assert_eq!(redact("rate: 10MBps\n"), "rate: 10MBps\n");
    }

    #[test]
    fn a_plain_word_after_a_secret_key_in_prose_is_masked_there_only() {
        let msg = "Failed to acquire SASL OAUTHBEARER token: Failed to retrieve OIDC token";
        assert_eq!(redact(msg), "Failed to acquire SASL OAUTHBEARER token: *** to retrieve OIDC token");
        assert_eq!(scrub("Failed to connect"), "Failed to connect");
        let _ = redact("sasl.password: Xw7plain9");
        assert_eq!(scrub("said Xw7plain9"), "said ***");
    }

    #[test]
    fn registered_secrets_are_scrubbed_anywhere() {
        register("Zq9-registered-secret");
        assert_eq!(scrub("error: auth failed for Zq9-registered-secret!"), "error: auth failed for ***!");
        // Found in a URL once, scrubbed everywhere after.
        let _ = redact("kafka://u:Yy8-from-url@h");
        assert_eq!(scrub("said Yy8-from-url"), "said ***");
    }
}
