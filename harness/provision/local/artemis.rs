//! Local Apache ActiveMQ Artemis: an instance made with `artemis create` in
//! the temporary directory, with one AMQP acceptor on a free port.
//!
//! Artemis is not packaged by Debian: `docker/install-brokers.sh` unpacks
//! the upstream `bin` distribution from Maven Central (found without any
//! variable set, see [`super::home`]); `ARTEMIS_HOME` (an unpacked upstream
//! release) or `artemis` on PATH point at a user's own. The instance's `broker.xml` acceptors are replaced by one AMQP acceptor on
//! 127.0.0.1 with the `queue://` / `topic://` prefixes, so both the
//! adapter's capability-based addresses and prefixed ones work.

use super::home::broker_home;
use super::process::find_program;
use super::{Launch, LocalKind, Ports};
use anyhow::{anyhow, bail, Context};
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The user the instance is created with; logins are required (as in a
/// deployment), so a wrong password is refused rather than let in as a guest.
pub const USER: &str = "mqbench";
pub const PASSWORD: &str = "mqbench";

pub struct ArtemisKind {
    /// `bin/artemis` of the installation.
    program: PathBuf,
}

impl ArtemisKind {
    /// `$ARTEMIS_HOME/bin/artemis`, else the installed distribution
    /// ([`super::home`]), else `artemis` on PATH.
    pub fn new() -> anyhow::Result<ArtemisKind> {
        match broker_home("Apache ActiveMQ Artemis", "ARTEMIS_HOME", "artemis", "bin/artemis") {
            Ok(home) => Ok(ArtemisKind { program: home.join("bin").join("artemis") }),
            Err(not_installed) if std::env::var_os("ARTEMIS_HOME").is_none() => {
                let program = find_program("artemis", &[], &format!("{not_installed:#}"))?;
                Ok(ArtemisKind { program })
            }
            Err(e) => Err(e),
        }
    }
}

/// Replaces the `<acceptors>` block of a `broker.xml` with one AMQP acceptor.
pub fn with_amqp_acceptor(broker_xml: &str, port: u16) -> anyhow::Result<String> {
    let start = broker_xml.find("<acceptors>").ok_or_else(|| anyhow!("broker.xml has no <acceptors>"))?;
    let end = broker_xml.find("</acceptors>").ok_or_else(|| anyhow!("broker.xml has no </acceptors>"))?;
    let acceptor = format!(
        "<acceptors>\n         <acceptor name=\"amqp\">tcp://127.0.0.1:{port}?protocols=AMQP;\
         anycastPrefix=queue://;multicastPrefix=topic://;amqpCredits=1000;amqpLowCredits=300</acceptor>\n      "
    );
    Ok(format!("{}{acceptor}{}", &broker_xml[..start], &broker_xml[end..]))
}

#[async_trait]
impl LocalKind for ArtemisKind {
    fn name(&self) -> &'static str {
        "artemis"
    }

    fn launches(&self, dir: &Path, ports: &Ports) -> anyhow::Result<Vec<Launch>> {
        let instance = dir.join("instance");
        let out = Command::new(&self.program)
            .arg("create")
            .arg(&instance)
            .args(["--user", USER, "--password", PASSWORD, "--require-login", "--silent", "--no-web"])
            .args(["--host", "127.0.0.1", "--no-autotune"])
            .output()
            .with_context(|| format!("running `{} create`", self.program.display()))?;
        if !out.status.success() {
            bail!(
                "`{} create` failed ({}): {}",
                self.program.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let xml_path = instance.join("etc").join("broker.xml");
        let xml = std::fs::read_to_string(&xml_path).with_context(|| format!("reading {}", xml_path.display()))?;
        std::fs::write(&xml_path, with_amqp_acceptor(&xml, ports.main())?)?;
        let mut command = Command::new(instance.join("bin").join("artemis"));
        command.arg("run");
        Ok(vec![Launch { command, log: "artemis.log".into() }])
    }

    fn endpoint(&self, ports: &Ports) -> String {
        format!("amqp://{USER}:{PASSWORD}@127.0.0.1:{}", ports.main())
    }

    async fn probe(&self, ports: &Ports) -> anyhow::Result<String> {
        answers_amqp(ports.main()).await?;
        Ok(version_from_lib(&self.program).unwrap_or_else(|| "apache-activemq-artemis".into()))
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(60)
    }
}

/// `apache-activemq-artemis 2.x.y` from the installation's
/// `lib/artemis-server-2.x.y.jar` (the adapter reads the same from the
/// broker's Open frame; this is only the provisioning hint).
fn version_from_lib(program: &Path) -> Option<String> {
    let lib = program.parent()?.parent()?.join("lib");
    std::fs::read_dir(lib).ok()?.flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().to_string();
        let v = name.strip_prefix("artemis-server-")?.strip_suffix(".jar")?;
        Some(format!("apache-activemq-artemis {v}"))
    })
}

/// Ready once the port answers the AMQP 1.0 SASL protocol header with the
/// same header: the listener is up and speaks AMQP 1.0.
pub async fn answers_amqp(port: u16) -> anyhow::Result<()> {
    const SASL_HEADER: &[u8; 8] = b"AMQP\x03\x01\x00\x00";
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(SASL_HEADER).await?;
    let mut got = [0u8; 8];
    s.read_exact(&mut got).await.context("no AMQP protocol header in answer")?;
    if &got != SASL_HEADER {
        bail!("port {port} answered the AMQP 1.0 SASL header with {got:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acceptors_are_replaced() {
        let xml =
            "<core>\n<acceptors>\n<acceptor name=\"artemis\">tcp://0.0.0.0:61616</acceptor>\n</acceptors>\n</core>";
        let out = with_amqp_acceptor(xml, 5999).unwrap();
        assert!(out.contains("tcp://127.0.0.1:5999?protocols=AMQP;"));
        assert!(!out.contains("61616"));
        assert!(out.ends_with("</acceptors>\n</core>"));
        assert!(with_amqp_acceptor("<core/>", 1).is_err());
    }
}
