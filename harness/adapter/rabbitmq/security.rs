//! A point's `security:` on a lapin connection.
//!
//! | security                         | lapin (rustls) |
//! |----------------------------------|----------------|
//! | `tls` on                         | `amqps` (an `amqp://` endpoint is dialled with TLS; its port stays as written) |
//! | `tls.ca_file`                    | trusted besides the system's roots (a local broker's run CA) |
//! | `tls.cert_file`, `tls.key_file`  | the client certificate (mutual TLS), a PEM chain and a PKCS#8 key |
//! | `sasl: plain`, `username`, `password_env` | SASL PLAIN with that user, in place of the endpoint's |
//!
//! Refused at `validate` with the reason: `server_name` (lapin checks the
//! certificate against the host it dials), SCRAM and OAUTHBEARER (RabbitMQ
//! has neither over AMQP 0.9.1), EXTERNAL (lapin can send it, but it needs
//! the broker's `rabbitmq_auth_mechanism_ssl` plugin and a user per
//! certificate: not wired) and ANONYMOUS (RabbitMQ 3 has none).

use super::endpoint::Endpoint;
use crate::scenario::security::{Sasl, Security};
use anyhow::Context;
use lapin::uri::{AMQPScheme, SASLMechanism};

/// What the adapter can do with `s`; the error says why not.
pub fn check(s: &Security) -> Result<(), String> {
    match s.sasl {
        None | Some(Sasl::Plain) => {}
        Some(m @ (Sasl::ScramSha256 | Sasl::ScramSha512 | Sasl::Oauthbearer)) => {
            return Err(format!(
                "RabbitMQ has no SASL {} over AMQP 0.9.1: use `sasl: plain` (over `tls: true` to keep the password off the wire)",
                m.wire_name()
            ))
        }
        Some(Sasl::External) => {
            return Err("SASL EXTERNAL (login by client certificate) is not wired for RabbitMQ: it needs the broker's rabbitmq_auth_mechanism_ssl plugin; use `sasl: plain`, or mutual TLS (`tls: {cert_file, key_file}`) with the endpoint's user".into())
        }
        Some(Sasl::Anonymous) => {
            return Err("RabbitMQ 3 has no SASL ANONYMOUS: leave `sasl` out (the endpoint's user logs in) or use `sasl: plain`".into())
        }
    }
    if s.tls.files().is_some_and(|f| f.server_name.is_some()) {
        return Err("`server_name` is not supported for RabbitMQ: lapin checks the certificate against the host name it connects to (name the broker by that host in the endpoint)".into());
    }
    Ok(())
}

/// `endpoint` with `s` applied: TLS, its files read now, and the SASL
/// user with `password`.
pub fn apply(mut endpoint: Endpoint, s: &Security, password: Option<&str>) -> anyhow::Result<Endpoint> {
    if s.tls.enabled() {
        endpoint.uri.scheme = AMQPScheme::AMQPS;
    }
    if let Some(f) = s.tls.files() {
        let read = |path: &str, what: &str| std::fs::read(path).with_context(|| format!("reading {what} {path}"));
        if let Some(ca) = &f.ca_file {
            let pem = String::from_utf8(read(ca, "`tls.ca_file`")?)
                .map_err(|_| anyhow::anyhow!("`tls.ca_file` {ca} is not a PEM file"))?;
            endpoint.tls.ca_pem = Some(pem);
        }
        if let (Some(cert), Some(key)) = (&f.cert_file, &f.key_file) {
            endpoint.tls.identity = Some((read(cert, "`tls.cert_file`")?, read(key, "`tls.key_file`")?));
        }
    }
    if s.sasl == Some(Sasl::Plain) {
        let Some(pw) = password else { anyhow::bail!("`sasl: plain` needs the password of `password_env`") };
        endpoint.uri.authority.userinfo.username = s.username.clone().unwrap_or_default();
        endpoint.uri.authority.userinfo.password = pw.to_string();
        endpoint.uri.query.auth_mechanism = Some(SASLMechanism::Plain);
    }
    Ok(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::security::{Tls, TlsFiles};

    #[test]
    fn plain_over_tls_replaces_the_endpoints_user() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n").unwrap();
        let s = Security {
            tls: Tls::On(TlsFiles { ca_file: Some(ca.display().to_string()), ..Default::default() }),
            sasl: Some(Sasl::Plain),
            username: Some("bench".into()),
            password_env: Some("P".into()),
            ..Default::default()
        };
        let e =
            apply(Endpoint::parse("amqp://127.0.0.1:5671/%2f", "NO_SUCH_VAR").unwrap(), &s, Some("pw-1234")).unwrap();
        assert!(e.tls());
        assert_eq!(e.user(), "bench");
        assert_eq!(e.uri.authority.userinfo.password, "pw-1234");
        assert!(e.tls.ca_pem.as_deref().unwrap().contains("BEGIN CERTIFICATE"));
        assert!(!format!("{e:?}").contains("pw-1234"));
        let with = |m| Security { sasl: Some(m), ..Default::default() };
        assert!(check(&with(Sasl::Plain)).is_ok());
        assert!(check(&with(Sasl::ScramSha512)).unwrap_err().contains("SCRAM-SHA-512"));
        assert!(check(&with(Sasl::External)).is_err());
        let named = Security {
            tls: Tls::On(TlsFiles { server_name: Some("x".into()), ..Default::default() }),
            ..Default::default()
        };
        assert!(check(&named).unwrap_err().contains("server_name"));
    }
}
