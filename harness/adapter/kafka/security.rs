//! A point's `security:` as librdkafka settings.
//!
//! | security                         | librdkafka |
//! |----------------------------------|------------|
//! | `tls` on / off, `sasl` set / not | `security.protocol`: `plaintext`, `ssl`, `sasl_plaintext`, `sasl_ssl` |
//! | `sasl`                           | `sasl.mechanism`: `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`, `OAUTHBEARER` |
//! | `username`, `password_env`       | `sasl.username`, `sasl.password` (read from the environment when the point connects) |
//! | `oauthbearer` with `token_endpoint` | `sasl.oauthbearer.method=oidc`, `.client.id` (`username`), `.client.secret` (from `password_env`), `.token.endpoint.url`, `.scope` |
//! | `oauthbearer` without it         | `enable.sasl.oauthbearer.unsecure.jwt=true`, `sasl.oauthbearer.config=principal=<username>`: an unsigned token, for test brokers only |
//! | `tls.ca_file`                    | `ssl.ca.location` (else the system's roots; a local broker's run CA) |
//! | `tls.cert_file`, `tls.key_file`  | `ssl.certificate.location`, `ssl.key.location` (mutual TLS) |
//! | `tls.server_name`                | not supported: librdkafka checks the certificate against the host it dials |
//!
//! librdkafka verifies the broker's certificate and its host name
//! (`ssl.endpoint.identification.algorithm=https`, its default) always.
//! EXTERNAL and ANONYMOUS are refused at `validate` with the reason.
//! librdkafka fetches OIDC tokens itself (it is built with libcurl for
//! that) and refreshes them before they expire.

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
        None | Some(Sasl::Plain | Sasl::ScramSha256 | Sasl::ScramSha512 | Sasl::Oauthbearer) => {}
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
            .map(|(k, v)| (*k, if is_secret_property(k) { crate::system::secrets::MASK } else { v.as_str() }))
            .collect();
        f.debug_list().entries(shown).finish()
    }
}

/// librdkafka settings for `s` with `password`.
pub fn props(s: &Security, password: Option<&str>) -> SecurityProps {
    let mut p = vec![("security.protocol", s.protocol().to_string())];
    if s.sasl == Some(Sasl::Oauthbearer) {
        p.push(("sasl.mechanism", Sasl::Oauthbearer.wire_name().to_string()));
        let user = s.username.clone().unwrap_or_default();
        match &s.token_endpoint {
            Some(url) => {
                p.push(("sasl.oauthbearer.method", "oidc".into()));
                p.push(("sasl.oauthbearer.client.id", user));
                if let Some(pw) = password {
                    p.push(("sasl.oauthbearer.client.secret", pw.to_string()));
                }
                p.push(("sasl.oauthbearer.token.endpoint.url", url.clone()));
                if let Some(scope) = &s.scope {
                    p.push(("sasl.oauthbearer.scope", scope.clone()));
                }
            }
            None => {
                p.push(("enable.sasl.oauthbearer.unsecure.jwt", "true".into()));
                p.push(("sasl.oauthbearer.config", format!("principal={user}")));
            }
        }
    } else if let Some(m) = s.sasl {
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
            ..Default::default()
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

    #[test]
    fn oauthbearer_maps_onto_oidc_or_an_unsecured_token() {
        let get = |p: &SecurityProps, k: &str| p.0.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        let oidc = Security {
            tls: Tls::On(TlsFiles::default()),
            sasl: Some(Sasl::Oauthbearer),
            username: Some("mqbench-client".into()),
            password_env: Some("P".into()),
            token_endpoint: Some("https://idp.example/token".into()),
            scope: Some("kafka".into()),
        };
        assert!(check(&oidc).is_ok());
        let p = props(&oidc, Some("client-secret-99"));
        assert_eq!(get(&p, "sasl.mechanism").as_deref(), Some("OAUTHBEARER"));
        assert_eq!(get(&p, "sasl.oauthbearer.method").as_deref(), Some("oidc"));
        assert_eq!(get(&p, "sasl.oauthbearer.client.id").as_deref(), Some("mqbench-client"));
        assert_eq!(get(&p, "sasl.oauthbearer.client.secret").as_deref(), Some("client-secret-99"));
        assert_eq!(get(&p, "sasl.oauthbearer.token.endpoint.url").as_deref(), Some("https://idp.example/token"));
        assert_eq!(get(&p, "sasl.oauthbearer.scope").as_deref(), Some("kafka"));
        assert_eq!(get(&p, "sasl.password"), None);
        assert!(!format!("{p:?}").contains("client-secret-99"));
        let unsecured =
            Security { sasl: Some(Sasl::Oauthbearer), username: Some("bench".into()), ..Default::default() };
        let p = props(&unsecured, None);
        assert_eq!(get(&p, "security.protocol").as_deref(), Some("sasl_plaintext"));
        assert_eq!(get(&p, "enable.sasl.oauthbearer.unsecure.jwt").as_deref(), Some("true"));
        assert_eq!(get(&p, "sasl.oauthbearer.config").as_deref(), Some("principal=bench"));
        assert_eq!(get(&p, "sasl.oauthbearer.method"), None);
    }
}
