//! A point's `security:` as librdkafka settings.
//!
//! | security                         | librdkafka |
//! |----------------------------------|------------|
//! | `tls` on / off, `sasl` set / not | `security.protocol`: `plaintext`, `ssl`, `sasl_plaintext`, `sasl_ssl` |
//! | `sasl`                           | `sasl.mechanism`: `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512` |
//! | `username`, `password_env`       | `sasl.username`, `sasl.password` (read from the environment when the point connects) |
//! | `tls.ca_file`                    | `ssl.ca.location` (else the system's roots; a local broker's run CA) |
//! | `tls.cert_file`, `tls.key_file`  | `ssl.certificate.location`, `ssl.key.location` (mutual TLS) |
//! | `tls.server_name`                | not supported: librdkafka checks the certificate against the host it dials |
//!
//! librdkafka verifies the broker's certificate and its host name
//! (`ssl.endpoint.identification.algorithm=https`, its default) always.
//! OAUTHBEARER, EXTERNAL and ANONYMOUS are refused at `validate` with the
//! reason.

use crate::scenario::security::{Sasl, Security};

/// librdkafka properties holding a secret: the scenario may not set them
/// through `properties` (they would be stored with the results).
pub fn is_secret_property(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("password") || k.contains("secret")
}

/// What the adapter can do with `s`; the error says why not.
pub fn check(s: &Security) -> Result<(), String> {
    match s.sasl {
        None | Some(Sasl::Plain | Sasl::ScramSha256 | Sasl::ScramSha512) => {}
        Some(Sasl::Oauthbearer) => {
            return Err("OAUTHBEARER is not wired to librdkafka's OIDC settings yet: use plain or scram-sha-256/512".into())
        }
        Some(Sasl::External) => {
            return Err("Kafka has no SASL EXTERNAL: a client certificate is mutual TLS, `tls: {cert_file, key_file}` without `sasl`".into())
        }
        Some(Sasl::Anonymous) => return Err("Kafka has no SASL ANONYMOUS: leave `sasl` out".into()),
    }
    if s.tls.files().is_some_and(|f| f.server_name.is_some()) {
        return Err("`server_name` is not supported: librdkafka checks the certificate against the host name it connects to (name the broker by that host in the endpoint)".into());
    }
    Ok(())
}

/// The settings, secret included; a `Debug` that never prints it.
#[derive(Clone, Default)]
pub struct SecurityProps(pub Vec<(&'static str, String)>);

impl std::fmt::Debug for SecurityProps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: Vec<_> = self
            .0
            .iter()
            .map(|(k, v)| (*k, if *k == "sasl.password" { crate::system::secrets::MASK } else { v.as_str() }))
            .collect();
        f.debug_list().entries(shown).finish()
    }
}

/// librdkafka settings for `s` with `password`.
pub fn props(s: &Security, password: Option<&str>) -> SecurityProps {
    let mut p = vec![("security.protocol", s.protocol().to_string())];
    if let Some(m) = s.sasl {
        p.push(("sasl.mechanism", m.wire_name().to_string()));
        if let Some(u) = &s.username {
            p.push(("sasl.username", u.clone()));
        }
        if let Some(pw) = password {
            p.push(("sasl.password", pw.to_string()));
        }
    }
    if let Some(f) = s.tls.files() {
        p.push(("ssl.endpoint.identification.algorithm", "https".into()));
        if let Some(ca) = &f.ca_file {
            p.push(("ssl.ca.location", ca.clone()));
        }
        if let Some(c) = &f.cert_file {
            p.push(("ssl.certificate.location", c.clone()));
        }
        if let Some(k) = &f.key_file {
            p.push(("ssl.key.location", k.clone()));
        }
    }
    SecurityProps(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::security::{Tls, TlsFiles};

    #[test]
    fn sasl_ssl_maps_onto_librdkafka() {
        let s = Security {
            tls: Tls::On(TlsFiles { ca_file: Some("/ca.pem".into()), ..Default::default() }),
            sasl: Some(Sasl::ScramSha512),
            username: Some("bench".into()),
            password_env: Some("P".into()),
        };
        let p = props(&s, Some("pw-1234"));
        let get = |k: &str| p.0.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(get("sasl.password"), Some("pw-1234"));
        assert_eq!(get("ssl.ca.location"), Some("/ca.pem"));
        assert!(!format!("{p:?}").contains("pw-1234"));
        assert!(check(&Security { sasl: Some(Sasl::External), ..Default::default() }).is_err());
        assert!(is_secret_property("sasl.password") && is_secret_property("ssl.key.password"));
        assert!(!is_secret_property("sasl.username"));
    }
}
