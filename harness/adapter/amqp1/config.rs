//! The adapter's knobs (scenario `options`) and the parsed endpoint.
//!
//! Credentials come from the endpoint URL (`amqp://user:pass@host:port`) or,
//! when the URL has none, from `AMQP_USER` / `AMQP_PASSWORD`; with neither
//! the connection uses SASL ANONYMOUS. The password never reaches results:
//! [`Endpoint`]'s `Debug` hides it and the recorded options never hold it.

use crate::adapter::redact_endpoint;
use serde::Deserialize;

/// How the sender settles deliveries.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Settle {
    /// Pre-settled transfers: at-most-once, no disposition from the broker;
    /// publish latency is the time to hand the transfer to the client.
    Settled,
    /// The broker settles each delivery; publish latency is the time to its
    /// disposition, and only `accepted` counts as acknowledged.
    Unsettled,
}

impl Settle {
    pub fn as_str(&self) -> &'static str {
        match self {
            Settle::Settled => "settled",
            Settle::Unsettled => "unsettled",
        }
    }
}

/// Adapter options, as written under a broker's `options:`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// `unsettled` (default) or `settled`.
    #[serde(default = "default_settle")]
    pub settle: Settle,
    /// Link credit each receiver keeps topped up (default 1000).
    #[serde(default = "default_credit")]
    pub credit: u32,
    /// Marks messages durable in their header (default false). It asks the
    /// broker to persist them; whether the queue itself survives a restart
    /// is the address convention's business (see `address.rs`).
    #[serde(default)]
    pub durable: bool,
    /// Address template for senders and receivers, replacing the broker
    /// kind's convention. `{topic}` and `{subscription}` are substituted.
    #[serde(default)]
    pub address: Option<String>,
    /// Address template for receivers only (e.g. send to a missing
    /// `/amq/queue/...` while receiving from a fresh `/queue/...`).
    #[serde(default)]
    pub receive_address: Option<String>,
}

fn default_settle() -> Settle {
    Settle::Unsettled
}

fn default_credit() -> u32 {
    1000
}

impl Options {
    pub fn check(&self) -> Result<(), String> {
        if self.credit == 0 {
            return Err("`credit` must be at least 1: a receiver without credit never gets a message".into());
        }
        for (name, t) in [("address", &self.address), ("receive_address", &self.receive_address)] {
            if let Some(t) = t {
                if t.trim().is_empty() {
                    return Err(format!("`{name}` is empty"));
                }
            }
        }
        Ok(())
    }
}

/// Where to connect and as whom.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
    /// The URL path without its leading `/` (RabbitMQ's vhost in the 0.9.1
    /// form `amqp://.../%2f`), percent-decoded; empty when absent.
    pub path: String,
    /// TLS (`amqps://`, or the point's `security:`); `None` is plain TCP.
    pub tls: Option<super::tls::TlsSettings>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("path", &self.path)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Endpoint {
    /// Parses `amqp[s]://[user[:pass]@]host[:port][/path]`. The port defaults to
    /// 5672 (5671 for `amqps`, TLS with the system's roots). `env` looks up `AMQP_USER` and `AMQP_PASSWORD` (a parameter so
    /// tests need not touch the process environment).
    pub fn parse(endpoint: &str, env: impl Fn(&str) -> Option<String>) -> Result<Endpoint, String> {
        let (rest, tls) = match endpoint.split_once("://") {
            Some(("amqp", rest)) => (rest, None),
            Some(("amqps", rest)) => (rest, Some(super::tls::TlsSettings::default())),
            Some((scheme, _)) => {
                return Err(format!("endpoint scheme `{scheme}`: expected `amqp://host:port` or `amqps://host:port`"))
            }
            None => (endpoint, None),
        };
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) => (a, p),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>().map_err(|_| format!("endpoint `{}`: bad port `{p}`", redact_endpoint(endpoint)))?,
            ),
            None => (hostport, if tls.is_some() { 5671 } else { 5672 }),
        };
        if host.is_empty() {
            return Err(format!("endpoint `{}` has no host", redact_endpoint(endpoint)));
        }
        let (mut user, mut password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((n, p)) => (Some(decode(n)?), Some(decode(p)?)),
                None => (Some(decode(u)?), None),
            },
            None => (None, None),
        };
        if user.is_none() {
            user = env("AMQP_USER").filter(|u| !u.is_empty());
        }
        if password.is_none() && user.is_some() {
            password = env("AMQP_PASSWORD");
        }
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        Ok(Endpoint { host, port, user, password, path: decode(path.split('?').next().unwrap_or(""))?, tls })
    }

    /// `host:port`, for messages and the socket.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Percent-decoding of URL components (`%2f` -> `/`).
fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(|| format!("bad percent escape in `{s}`"))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad percent escape `%{hex}`"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{s}` does not decode to UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn parses_rabbitmq_style_endpoints() {
        let e = Endpoint::parse("amqp://guest:gu%40st@127.0.0.1:5673/%2f", no_env).unwrap();
        assert_eq!((e.host.as_str(), e.port), ("127.0.0.1", 5673));
        assert_eq!(e.user.as_deref(), Some("guest"));
        assert_eq!(e.password.as_deref(), Some("gu@st"));
        assert_eq!(e.path, "/");
        assert!(!format!("{e:?}").contains("gu@st"));
    }

    #[test]
    fn credentials_fall_back_to_the_environment() {
        let env = |k: &str| match k {
            "AMQP_USER" => Some("bob".to_string()),
            "AMQP_PASSWORD" => Some("secret".to_string()),
            _ => None,
        };
        let e = Endpoint::parse("amqp://localhost", env).unwrap();
        assert_eq!((e.port, e.user.as_deref(), e.password.as_deref()), (5672, Some("bob"), Some("secret")));
        let anon = Endpoint::parse("127.0.0.1:1234", no_env).unwrap();
        assert_eq!((anon.port, anon.user), (1234, None));
    }

    #[test]
    fn bad_endpoints_are_named_without_the_password() {
        let tls = Endpoint::parse("amqps://u:hunter2@h", no_env).unwrap();
        assert_eq!((tls.port, tls.tls.is_some()), (5671, true));
        assert!(!format!("{tls:?}").contains("hunter2"));
        let err = Endpoint::parse("amqp://u:hunter2@h:x", no_env).unwrap_err();
        assert!(err.contains("bad port") && !err.contains("hunter2"), "{err}");
        assert!(Endpoint::parse("http://h:1", no_env).unwrap_err().contains("`http`"));
        assert!(Endpoint::parse("amqp://u:p@h:x", no_env).unwrap_err().contains("bad port"));
        assert_eq!(redact_endpoint("amqp://u:p@h:1/%2f"), "amqp://u:***@h:1/%2f");
    }
}
