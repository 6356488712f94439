//! A point's `security:` on a Redis connection.
//!
//! | security                         | Redis |
//! |----------------------------------|-------|
//! | `tls` on                         | `rediss://` (a `redis://` endpoint is dialled with TLS), rustls |
//! | `tls.ca_file`                    | the CA trusted (else the `tls_ca_file` option, else the system's roots; a local broker's run CA) |
//! | `tls.cert_file`, `tls.key_file`  | the client certificate (mutual TLS) |
//! | `tls.server_name`                | the name the server's certificate must carry; the socket still goes to the endpoint's host |
//! | `sasl: plain`, `username`, `password_env` | `AUTH username password` (an ACL user) on every connection |
//!
//! Redis has no SASL: its `AUTH` sends a user name and password as they
//! are, which is what PLAIN does, so `plain` is the mechanism that names
//! it. The others are refused at `validate` with the reason.

use crate::scenario::security::{Sasl, Security};

/// What the adapter can do with `s`; the error says why not.
pub fn check(s: &Security) -> Result<(), String> {
    match s.sasl {
        None | Some(Sasl::Plain) => Ok(()),
        Some(Sasl::ScramSha256 | Sasl::ScramSha512 | Sasl::Oauthbearer) => Err(format!(
            "Redis has no SASL: it authenticates with `AUTH user password`, which `sasl: plain` (with `username` and `password_env`) sends; `{}` is not available",
            s.sasl.map(Sasl::as_str).unwrap_or_default()
        )),
        Some(Sasl::External) => Err(
            "Redis has no SASL EXTERNAL: a client certificate is mutual TLS, `tls: {cert_file, key_file}` without `sasl`".into(),
        ),
        Some(Sasl::Anonymous) => {
            Err("Redis has no SASL ANONYMOUS: leave `sasl` out (a connection without AUTH is Redis's default user)".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_maps_onto_auth() {
        let with = |m| Security { sasl: Some(m), ..Default::default() };
        assert!(check(&Security::default()).is_ok());
        assert!(check(&with(Sasl::Plain)).is_ok());
        let e = check(&with(Sasl::ScramSha512)).unwrap_err();
        assert!(e.contains("AUTH") && e.contains("scram-sha-512"), "{e}");
        assert!(check(&with(Sasl::External)).unwrap_err().contains("mutual TLS"));
        assert!(check(&with(Sasl::Anonymous)).is_err());
    }
}
