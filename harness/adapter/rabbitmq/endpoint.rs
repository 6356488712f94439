//! The endpoint string (`amqp://user:pass@host:port/vhost`) made into a
//! connectable URI, with the password of a live broker taken from the
//! environment so that it never appears in scenario files or results.

use lapin::uri::{AMQPScheme, AMQPUri};
use std::str::FromStr;

/// A parsed endpoint; [`Endpoint::redacted`] is what messages show.
#[derive(Clone)]
pub struct Endpoint {
    pub uri: AMQPUri,
    /// TLS beyond the system's roots (from the point's `security:`).
    pub tls: TlsFiles,
}

/// The PEM contents a TLS connection uses besides the system's roots.
#[derive(Clone, Default)]
pub struct TlsFiles {
    /// CA certificates to trust.
    pub ca_pem: Option<String>,
    /// The client's certificate chain and PKCS#8 key (mutual TLS).
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl TlsFiles {
    /// lapin's form of it, made for each connection (it is not `Clone`).
    pub fn config(&self) -> lapin::tcp::OwnedTLSConfig {
        lapin::tcp::OwnedTLSConfig {
            identity: self
                .identity
                .as_ref()
                .map(|(pem, key)| lapin::tcp::OwnedIdentity::PKCS8 { pem: pem.clone(), key: key.clone() }),
            cert_chain: self.ca_pem.clone(),
        }
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Endpoint {
    /// Parses `text`. The password is the one written in the URI, else the
    /// value of the environment variable `password_env`; a URI without a
    /// user means RabbitMQ's default `guest`/`guest`.
    pub fn parse(text: &str, password_env: &str) -> anyhow::Result<Endpoint> {
        Self::parse_with(text, password_env, |k| std::env::var(k).ok())
    }

    fn parse_with(text: &str, password_env: &str, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Endpoint> {
        let text = text.trim();
        if !(text.starts_with("amqp://") || text.starts_with("amqps://")) {
            anyhow::bail!(
                "rabbitmq endpoint `{text}` must start with amqp:// or amqps:// (e.g. amqp://user@host:5672/%2f)"
            );
        }
        let mut uri =
            AMQPUri::from_str(text).map_err(|e| anyhow::anyhow!("rabbitmq endpoint is not a valid AMQP URI: {e}"))?;
        // The URI parser keeps only DNS names as hosts and would put
        // `localhost` in place of an IP address: take the host ourselves.
        uri.authority.host = host_of(text).ok_or_else(|| anyhow::anyhow!("rabbitmq endpoint has no host"))?;
        let (has_user, has_password) = userinfo_of(text);
        if !has_password {
            match env(password_env) {
                Some(p) => uri.authority.userinfo.password = p,
                None if has_user => anyhow::bail!(
                    "rabbitmq endpoint names user `{}` but no password: set the environment variable {password_env} \
                     (option `password_env` picks another)",
                    uri.authority.userinfo.username
                ),
                None => {}
            }
        }
        Ok(Endpoint { uri, tls: TlsFiles::default() })
    }

    /// `amqp://user:***@host:port/vhost`, safe for logs and results.
    pub fn redacted(&self) -> String {
        let u = &self.uri;
        let scheme = match u.scheme {
            AMQPScheme::AMQP => "amqp",
            AMQPScheme::AMQPS => "amqps",
        };
        format!(
            "{scheme}://{}:***@{}:{}/{}",
            u.authority.userinfo.username,
            u.authority.host,
            u.authority.port,
            vhost_label(&u.vhost)
        )
    }

    pub fn vhost(&self) -> &str {
        &self.uri.vhost
    }

    pub fn user(&self) -> &str {
        &self.uri.authority.userinfo.username
    }

    pub fn tls(&self) -> bool {
        self.uri.scheme == AMQPScheme::AMQPS
    }

    pub fn host_port(&self) -> (String, u16) {
        (self.uri.authority.host.clone(), self.uri.authority.port)
    }
}

/// The vhost as written in a URI path (`/` is `%2f`).
fn vhost_label(vhost: &str) -> String {
    vhost.replace('%', "%25").replace('/', "%2f")
}

/// The part between `://` and the path, without user information.
fn authority_of(text: &str) -> &str {
    let rest = text.split_once("://").map(|(_, r)| r).unwrap_or(text);
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    &rest[..end]
}

fn host_of(text: &str) -> Option<String> {
    let auth = authority_of(text);
    let hostport = auth.rsplit_once('@').map(|(_, h)| h).unwrap_or(auth);
    let host =
        if let Some(v6) = hostport.strip_prefix('[') { v6.split(']').next()? } else { hostport.split(':').next()? };
    (!host.is_empty()).then(|| host.to_string())
}

/// Whether the URI names a user, and a password.
fn userinfo_of(text: &str) -> (bool, bool) {
    match authority_of(text).rsplit_once('@') {
        Some((info, _)) => (!info.is_empty(), info.contains(':')),
        None => (false, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, env: Option<&str>) -> anyhow::Result<Endpoint> {
        Endpoint::parse_with(text, "PW", |_| env.map(String::from))
    }

    #[test]
    fn ip_host_port_vhost_and_password() {
        let e = parse("amqp://guest:guest@127.0.0.1:5999/%2f", None).unwrap();
        assert_eq!(e.host_port(), ("127.0.0.1".to_string(), 5999));
        assert_eq!(e.vhost(), "/");
        assert_eq!(e.uri.authority.userinfo.password, "guest");
        assert_eq!(e.redacted(), "amqp://guest:***@127.0.0.1:5999/%2f");
        let e = parse("amqp://bench@10.0.0.7/perf", Some("s3cret")).unwrap();
        assert_eq!(e.uri.authority.userinfo.password, "s3cret");
        assert_eq!(e.vhost(), "perf");
        assert_eq!(e.uri.authority.port, 5672);
        assert!(!format!("{e:?}").contains("s3cret"));
    }

    #[test]
    fn missing_password_and_bad_scheme_are_clear() {
        let err = parse("amqp://bench@host:5672/%2f", None).unwrap_err().to_string();
        assert!(err.contains("PW") && err.contains("`bench`"), "{err}");
        let err = parse("http://host:5672", None).unwrap_err().to_string();
        assert!(err.contains("amqp://"), "{err}");
        // No user at all: RabbitMQ's defaults.
        let e = parse("amqp://localhost:5672", None).unwrap();
        assert_eq!(e.user(), "guest");
    }
}
