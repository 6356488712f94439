//! A point's `security:` on an AMQP 1.0 connection: TLS is done here with
//! tokio-rustls around the TCP socket (fe2o3-amqp opens its connection
//! over any stream), SASL by fe2o3-amqp's profiles.
//!
//! | security                         | AMQP 1.0 |
//! |----------------------------------|----------|
//! | `tls` on                         | TLS from the first byte (`amqps`, what an Artemis `sslEnabled` acceptor serves) |
//! | `tls.ca_file`                    | the CA trusted (else the system's roots; a local broker's run CA) |
//! | `tls.cert_file`, `tls.key_file`  | the client certificate (mutual TLS), a PEM chain and key |
//! | `tls.server_name`                | the name the certificate must carry; the socket still goes to the endpoint's host |
//! | `sasl: plain`, `username`, `password_env` | SASL PLAIN as that user, in place of the endpoint's |
//! | `sasl: anonymous`                | SASL ANONYMOUS, whatever the endpoint names |
//!
//! SCRAM, OAUTHBEARER and EXTERNAL are refused at `validate` with the
//! reason.

use super::config::Endpoint;
use crate::scenario::security::{Sasl, Security};
use anyhow::{anyhow, Context};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::sync::Arc;
use tokio::net::TcpStream;

/// TLS of a connection: the PEM contents it trusts and presents, read
/// when the point connects.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// CA certificates to trust instead of the system's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// The client's certificate chain and key (mutual TLS).
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
    /// The name the server's certificate must carry, when not the host.
    pub server_name: Option<String>,
}

/// What the adapter can do with `s`; the error says why not.
pub fn check(s: &Security) -> Result<(), String> {
    match s.sasl {
        None | Some(Sasl::Plain | Sasl::Anonymous) => Ok(()),
        Some(m @ (Sasl::ScramSha256 | Sasl::ScramSha512)) => Err(format!(
            "SASL {} is not wired for AMQP 1.0 (the broker needs a SCRAM login module too): use `sasl: plain` over `tls: true`",
            m.wire_name()
        )),
        Some(Sasl::Oauthbearer) => Err("SASL OAUTHBEARER is not available for AMQP 1.0: use `sasl: plain`".into()),
        Some(Sasl::External) => Err(
            "SASL EXTERNAL is not wired for AMQP 1.0: use `sasl: plain`, or mutual TLS (`tls: {cert_file, key_file}`) with the endpoint's user".into(),
        ),
    }
}

/// `endpoint` with `s` applied: TLS files read now, and the SASL user.
pub fn apply(mut endpoint: Endpoint, s: &Security, password: Option<&str>) -> anyhow::Result<Endpoint> {
    if let Some(f) = s.tls.files() {
        let read = |path: &str, what: &str| std::fs::read(path).with_context(|| format!("reading {what} {path}"));
        let mut tls = endpoint.tls.take().unwrap_or_default();
        if let Some(ca) = &f.ca_file {
            tls.ca_pem = Some(read(ca, "`tls.ca_file`")?);
        }
        if let (Some(cert), Some(key)) = (&f.cert_file, &f.key_file) {
            tls.identity = Some((read(cert, "`tls.cert_file`")?, read(key, "`tls.key_file`")?));
        }
        tls.server_name = f.server_name.clone();
        endpoint.tls = Some(tls);
    }
    match s.sasl {
        Some(Sasl::Plain) => {
            let Some(pw) = password else { anyhow::bail!("`sasl: plain` needs the password of `password_env`") };
            endpoint.user = s.username.clone();
            endpoint.password = Some(pw.to_string());
        }
        Some(Sasl::Anonymous) => {
            endpoint.user = None;
            endpoint.password = None;
        }
        _ => {}
    }
    Ok(endpoint)
}

/// The rustls client configuration of `tls`.
fn client_config(tls: &TlsSettings) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    match &tls.ca_pem {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| anyhow!("`tls.ca_file` is not PEM certificates: {e}"))?;
                roots.add(cert).context("`tls.ca_file` holds a certificate rustls cannot use")?;
            }
            if roots.is_empty() {
                anyhow::bail!("`tls.ca_file` holds no PEM certificate");
            }
        }
        None => {
            // Unreadable system certificates are skipped, as browsers do.
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
    Ok(match &tls.identity {
        Some((chain, key)) => {
            let chain: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(chain)
                    .collect::<Result<_, _>>()
                    .map_err(|e| anyhow!("`tls.cert_file` is not PEM certificates: {e}"))?;
            let key =
                PrivateKeyDer::from_pem_slice(key).map_err(|e| anyhow!("`tls.key_file` is not a PEM key: {e}"))?;
            builder.with_client_auth_cert(chain, key).context("the client certificate and key do not fit")?
        }
        None => builder.with_no_client_auth(),
    })
}

/// Runs the TLS handshake over `socket` for `ep`, checking the server's
/// certificate against `server_name` or the endpoint's host.
pub async fn wrap(
    socket: TcpStream,
    ep: &Endpoint,
    tls: &TlsSettings,
) -> anyhow::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let name = tls.server_name.clone().unwrap_or_else(|| ep.host.clone());
    let server = ServerName::try_from(name.clone()).map_err(|_| anyhow!("`{name}` is not a host name for TLS"))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(tls)?));
    match tokio::time::timeout(super::link::OPEN_TIMEOUT, connector.connect(server, socket)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(anyhow!("TLS handshake with {} (as `{name}`): {e}", ep.addr())),
        Err(_) => {
            Err(anyhow!("TLS handshake with {}: no answer within {}s", ep.addr(), super::link::OPEN_TIMEOUT.as_secs()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::security::{Tls, TlsFiles};

    #[test]
    fn plain_replaces_the_user_and_tls_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a certificate").unwrap();
        let s = Security {
            tls: Tls::On(TlsFiles {
                ca_file: Some(ca.display().to_string()),
                server_name: Some("broker.example".into()),
                ..Default::default()
            }),
            sasl: Some(Sasl::Plain),
            username: Some("bench".into()),
            password_env: Some("P".into()),
            ..Default::default()
        };
        let ep = Endpoint::parse("amqps://mqbench:mqbench@127.0.0.1:5671", |_| None).unwrap();
        let ep = apply(ep, &s, Some("pw-1234")).unwrap();
        assert_eq!((ep.user.as_deref(), ep.password.as_deref()), (Some("bench"), Some("pw-1234")));
        let tls = ep.tls.as_ref().unwrap();
        assert_eq!(tls.server_name.as_deref(), Some("broker.example"));
        assert_eq!(tls.ca_pem.as_deref(), Some(&b"not a certificate"[..]));
        // A CA file without a certificate is an error, not an empty trust.
        assert!(client_config(tls).is_err());
        assert!(!format!("{ep:?}").contains("pw-1234"));
        let with = |m| Security { sasl: Some(m), ..Default::default() };
        assert!(check(&with(Sasl::Anonymous)).is_ok());
        assert!(check(&with(Sasl::ScramSha256)).unwrap_err().contains("SCRAM-SHA-256"));
        assert!(check(&with(Sasl::External)).is_err());
    }
}
