//! A broker entry's `security:` block: TLS and SASL, the same for every
//! adapter, mapped onto each client by its adapter.
//!
//! ```yaml
//! security:
//!   tls: true                 # or a map: ca_file, cert_file, key_file, server_name
//!   sasl: scram-sha-512       # plain | scram-sha-256 | scram-sha-512 | oauthbearer | external | anonymous
//!   username: bench
//!   password_env: MQBENCH_KAFKA_PASSWORD
//! ```
//!
//! OAUTHBEARER (Kafka only) comes in two forms. With `token_endpoint:
//! https://idp/.../token` (and optionally `scope`) the client fetches
//! tokens by OIDC client credentials: `username` is the client id and
//! `password_env` names the variable that holds the client secret. Without
//! it the client makes an *unsecured* JWT whose subject is `username`
//! and signs nothing: only a broker with Kafka's unsecured validator (a
//! test setup, such as the local Kafka mqbench starts) accepts it.
//!
//! The secret itself never lives in the file, the points or the results:
//! a point records only the *name* of the environment variable, and the
//! password is read from the environment when the point connects
//! ([`Security::password`]) or when `validate` checks that it is set. A
//! literal `password:` is refused at validation with a message that says
//! to use `password_env`. Swept (`security: [..., ...]`), each value is a
//! point dimension labelled by its profile ([`Security::label`]).

use serde::{Deserialize, Deserializer, Serialize};

/// TLS: off, on with the system's trust store, or on with files.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Tls {
    #[default]
    Off,
    On(TlsFiles),
}

impl Tls {
    pub fn enabled(&self) -> bool {
        matches!(self, Tls::On(_))
    }
    pub fn files(&self) -> Option<&TlsFiles> {
        match self {
            Tls::Off => None,
            Tls::On(f) => Some(f),
        }
    }
}

/// Written back as the scenario writes it: `false`, `true`, or the map.
impl Serialize for Tls {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Tls::Off => s.serialize_bool(false),
            Tls::On(f) if *f == TlsFiles::default() => s.serialize_bool(true),
            Tls::On(f) => f.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Tls {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Flag(bool),
            Files(TlsFiles),
        }
        match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "`tls` is true, false, or a map of `ca_file`, `cert_file`, `key_file`, `server_name` (all optional)",
            )
        })? {
            Raw::Flag(false) => Ok(Tls::Off),
            Raw::Flag(true) => Ok(Tls::On(TlsFiles::default())),
            Raw::Files(f) => Ok(Tls::On(f)),
        }
    }
}

/// TLS settings; every file is PEM. Without `ca_file` the client trusts
/// the system's roots (or, for a local broker, the CA mqbench made for it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Client certificate (mutual TLS), with `key_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// The host name the server's certificate must name, when it is not
    /// the endpoint's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
}

/// A SASL mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sasl {
    Plain,
    #[serde(rename = "scram-sha-256")]
    ScramSha256,
    #[serde(rename = "scram-sha-512")]
    ScramSha512,
    Oauthbearer,
    External,
    Anonymous,
}

impl Sasl {
    /// The mechanism's IANA name (`SCRAM-SHA-512`), as brokers spell it.
    pub fn wire_name(self) -> &'static str {
        match self {
            Sasl::Plain => "PLAIN",
            Sasl::ScramSha256 => "SCRAM-SHA-256",
            Sasl::ScramSha512 => "SCRAM-SHA-512",
            Sasl::Oauthbearer => "OAUTHBEARER",
            Sasl::External => "EXTERNAL",
            Sasl::Anonymous => "ANONYMOUS",
        }
    }
    /// The scenario's spelling (`scram-sha-512`).
    pub fn as_str(self) -> &'static str {
        match self {
            Sasl::Plain => "plain",
            Sasl::ScramSha256 => "scram-sha-256",
            Sasl::ScramSha512 => "scram-sha-512",
            Sasl::Oauthbearer => "oauthbearer",
            Sasl::External => "external",
            Sasl::Anonymous => "anonymous",
        }
    }
    /// Whether the mechanism sends a user name and password.
    pub fn needs_password(self) -> bool {
        matches!(self, Sasl::Plain | Sasl::ScramSha256 | Sasl::ScramSha512)
    }
}

/// The block as written. `password` is read only to refuse it with a
/// clear message (see `scenario::parse`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySpec {
    #[serde(default)]
    pub tls: Tls,
    pub sasl: Option<Sasl>,
    pub username: Option<String>,
    pub password_env: Option<String>,
    pub password: Option<serde_yaml::Value>,
    pub token_endpoint: Option<String>,
    pub scope: Option<String>,
}

/// One point's security profile, as points and results record it: no
/// secret, only where to find it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Security {
    #[serde(default, skip_serializing_if = "is_off")]
    pub tls: Tls,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sasl: Option<Sasl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// OAUTHBEARER by OIDC client credentials: the identity provider's
    /// token endpoint (without it, an unsecured test token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// OAUTHBEARER: the scope asked of the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

fn is_off(t: &Tls) -> bool {
    !t.enabled()
}

impl Security {
    /// Checks the block; the error names the key it is about
    /// (`(key, message)`).
    pub fn from_spec(spec: &SecuritySpec) -> Result<Security, (&'static str, String)> {
        if spec.password.is_some() {
            return Err((
                "password",
                "a literal `password` is refused: secrets never go in a scenario file (it is stored with the results and shown in reports); put the password in an environment variable and name it with `password_env: VARIABLE`".into(),
            ));
        }
        match spec.sasl {
            Some(m) if m.needs_password() => {
                if spec.username.as_deref().unwrap_or("").is_empty() {
                    return Err(("sasl", format!("`sasl: {}` needs a `username`", m.as_str())));
                }
                if spec.password_env.as_deref().unwrap_or("").is_empty() {
                    return Err((
                        "sasl",
                        format!(
                            "`sasl: {}` needs `password_env`: the name of the environment variable that holds the password",
                            m.as_str()
                        ),
                    ));
                }
            }
            Some(Sasl::Oauthbearer) => {
                if spec.username.as_deref().unwrap_or("").is_empty() {
                    return Err((
                        "sasl",
                        "`sasl: oauthbearer` needs a `username`: the OIDC client id with `token_endpoint`, the unsecured token's subject without it".into(),
                    ));
                }
                match (&spec.token_endpoint, &spec.password_env) {
                    (Some(url), _) if !(url.starts_with("https://") || url.starts_with("http://")) => {
                        return Err((
                            "token_endpoint",
                            format!("`token_endpoint` is the identity provider's token URL (https://...), not `{url}`"),
                        ));
                    }
                    (Some(_), None) => {
                        return Err((
                            "sasl",
                            "`sasl: oauthbearer` with `token_endpoint` needs `password_env`: the variable that holds the OIDC client secret".into(),
                        ));
                    }
                    (None, Some(_)) => {
                        return Err((
                            "password_env",
                            "`sasl: oauthbearer` without `token_endpoint` makes an unsecured test token, which takes no secret: set `token_endpoint` for OIDC client credentials, or leave `password_env` out".into(),
                        ));
                    }
                    _ => {}
                }
            }
            Some(Sasl::External) if spec.tls.files().is_none_or(|f| f.cert_file.is_none()) => {
                return Err((
                    "sasl",
                    "`sasl: external` authenticates with the client's TLS certificate: set `tls: {cert_file: ..., key_file: ...}`".into(),
                ));
            }
            _ => {}
        }
        if let Some(f) = spec.tls.files() {
            if f.cert_file.is_some() != f.key_file.is_some() {
                return Err((
                    "tls",
                    "mutual TLS needs both `cert_file` and `key_file` (the client's certificate and its key)".into(),
                ));
            }
        }
        if spec.password_env.is_some() && spec.sasl.is_none() {
            return Err((
                "password_env",
                "`password_env` without `sasl`: name a mechanism (`sasl: plain`, `scram-sha-512`, ...)".into(),
            ));
        }
        if (spec.token_endpoint.is_some() || spec.scope.is_some()) && spec.sasl != Some(Sasl::Oauthbearer) {
            return Err((
                if spec.token_endpoint.is_some() { "token_endpoint" } else { "scope" },
                "`token_endpoint` and `scope` belong to `sasl: oauthbearer`".into(),
            ));
        }
        if let Some(v) = &spec.password_env {
            if !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || v.is_empty() {
                return Err((
                    "password_env",
                    format!("`password_env` is the name of an environment variable (letters, digits, `_`), not `{v}`"),
                ));
            }
        }
        Ok(Security {
            tls: spec.tls.clone(),
            sasl: spec.sasl,
            username: spec.username.clone(),
            password_env: spec.password_env.clone(),
            token_endpoint: spec.token_endpoint.clone(),
            scope: spec.scope.clone(),
        })
    }

    /// OAUTHBEARER with an unsecured test token (no `token_endpoint`).
    pub fn unsecured_token(&self) -> bool {
        self.sasl == Some(Sasl::Oauthbearer) && self.token_endpoint.is_none()
    }

    /// The Kafka-style protocol name: `plaintext`, `ssl`, `sasl_plaintext`
    /// or `sasl_ssl` (every adapter's profile is described so in reports).
    pub fn protocol(&self) -> &'static str {
        match (self.tls.enabled(), self.sasl.is_some()) {
            (false, false) => "plaintext",
            (true, false) => "ssl",
            (false, true) => "sasl_plaintext",
            (true, true) => "sasl_ssl",
        }
    }

    /// The profile in a point id and a report: `sasl_ssl-scram-sha-512`,
    /// `ssl`, `plaintext`.
    pub fn label(&self) -> String {
        match self.sasl {
            Some(m) => format!("{}-{}", self.protocol(), m.as_str()),
            None => self.protocol().to_string(),
        }
    }

    /// The password, read from the environment now; the error says which
    /// variable is missing. `None` when the mechanism takes no password.
    pub fn password(&self) -> Result<Option<String>, String> {
        let Some(var) = &self.password_env else { return Ok(None) };
        match std::env::var(var) {
            Ok(v) if !v.is_empty() => {
                crate::system::secrets::register(&v);
                Ok(Some(v))
            }
            Ok(_) => Err(format!("the environment variable `{var}` (`password_env`) is empty")),
            Err(_) => Err(format!(
                "the environment variable `{var}` (`password_env`) is not set: export it with the password before running"
            )),
        }
    }
}

/// The security profile of an optional block, for reports: `plaintext`
/// when there is none.
pub fn label_of(s: Option<&Security>) -> String {
    s.map(Security::label).unwrap_or_else(|| "plaintext".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> SecuritySpec {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn blocks_parse_and_label_their_profile() {
        let s = Security::from_spec(&spec("tls: true\nsasl: scram-sha-512\nusername: u\npassword_env: P\n")).unwrap();
        assert_eq!(s.label(), "sasl_ssl-scram-sha-512");
        let s = Security::from_spec(&spec("tls: {ca_file: /x/ca.pem, server_name: kafka}\n")).unwrap();
        assert_eq!(s.label(), "ssl");
        assert_eq!(s.tls.files().unwrap().ca_file.as_deref(), Some("/x/ca.pem"));
        assert_eq!(Security::from_spec(&spec("tls: false\n")).unwrap().label(), "plaintext");
        let json = serde_json::to_value(&s).unwrap();
        let back: Security = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn bad_blocks_say_what_is_wrong() {
        let e = Security::from_spec(&spec("sasl: plain\nusername: u\npassword: hunter2\n")).unwrap_err();
        assert_eq!(e.0, "password");
        assert!(e.1.contains("password_env"), "{}", e.1);
        assert!(!e.1.contains("hunter2"));
        assert!(Security::from_spec(&spec("sasl: plain\nusername: u\n")).unwrap_err().1.contains("password_env"));
        assert!(Security::from_spec(&spec("sasl: plain\npassword_env: P\n")).unwrap_err().1.contains("username"));
        assert!(Security::from_spec(&spec("tls: {cert_file: c.pem}\n")).unwrap_err().1.contains("key_file"));
        assert!(Security::from_spec(&spec("sasl: external\n")).unwrap_err().1.contains("cert_file"));
        let e = Security::from_spec(&spec("sasl: oauthbearer\nusername: u\ntoken_endpoint: https://idp/token\n"));
        assert!(e.unwrap_err().1.contains("client secret"));
        let e = Security::from_spec(&spec("sasl: oauthbearer\nusername: u\npassword_env: P\n"));
        assert!(e.unwrap_err().1.contains("unsecured"));
        let e =
            Security::from_spec(&spec("sasl: oauthbearer\nusername: u\ntoken_endpoint: idp/token\npassword_env: P\n"));
        assert_eq!(e.unwrap_err().0, "token_endpoint");
        let e = Security::from_spec(&spec("sasl: plain\nusername: u\npassword_env: P\nscope: kafka\n"));
        assert_eq!(e.unwrap_err().0, "scope");
        let s = Security::from_spec(&spec("tls: true\nsasl: oauthbearer\nusername: bench\n")).unwrap();
        assert!(s.unsecured_token() && s.label() == "sasl_ssl-oauthbearer");
        assert!(serde_yaml::from_str::<SecuritySpec>("tls: maybe\n").is_err());
        assert!(serde_yaml::from_str::<SecuritySpec>("sasl: kerberos\n").is_err());
    }

    #[test]
    fn the_password_comes_from_the_environment() {
        let s = Security {
            sasl: Some(Sasl::Plain),
            password_env: Some("MQBENCH_TEST_NO_SUCH_VAR".into()),
            ..Default::default()
        };
        assert!(s.password().unwrap_err().contains("MQBENCH_TEST_NO_SUCH_VAR"));
        assert_eq!(Security::default().password(), Ok(None));
    }
}
