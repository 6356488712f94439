//! Certificates for a local broker with `security:`: a CA made for the run
//! and a server certificate it signed for `localhost` and 127.0.0.1, PEM
//! files in the instance's temporary directory (gone when it stops).
//! Clients of the run trust the CA ([`RunningBroker::trust`]); nothing
//! else does.
//!
//! [`RunningBroker::trust`]: crate::provision::RunningBroker::trust

use anyhow::Context;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
use std::path::{Path, PathBuf};

/// Where a secured instance keeps its PEM files: `DIR/tls/`.
pub fn tls_dir(instance_dir: &Path) -> PathBuf {
    instance_dir.join("tls")
}

/// The CA file of a secured instance, when it has one.
pub fn ca_file(instance_dir: &Path) -> Option<PathBuf> {
    let p = tls_dir(instance_dir).join("ca.pem");
    p.exists().then_some(p)
}

/// The files written.
pub struct ServerFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Makes the CA and the server certificate in `DIR/tls/`.
pub fn make(instance_dir: &Path) -> anyhow::Result<ServerFiles> {
    let dir = tls_dir(instance_dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "mqbench local broker CA");
    let ca = ca_params.self_signed(&ca_key)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
    params.subject_alt_names.push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    params.distinguished_name.push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &ca, &ca_key)?;
    let write = |name: &str, text: String| -> anyhow::Result<PathBuf> {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    };
    Ok(ServerFiles {
        ca: write("ca.pem", ca.pem())?,
        cert: write("server.pem", cert.pem())?,
        key: write("server.key", key.serialize_pem())?,
    })
}
