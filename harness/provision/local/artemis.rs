//! Local Apache ActiveMQ Artemis: an instance made with `artemis create` in
//! the temporary directory, with one AMQP acceptor on a free port.
//!
//! Artemis is not packaged by Debian: `docker/install-brokers.sh` unpacks
//! the upstream `bin` distribution from Maven Central (found without any
//! variable set, see [`super::home`]); `ARTEMIS_HOME` (an unpacked upstream
//! release) or `artemis` on PATH point at a user's own. The instance's `broker.xml` acceptors are replaced by one AMQP acceptor on
//! 127.0.0.1 with the `queue://` / `topic://` prefixes, so both the
//! adapter's capability-based addresses and prefixed ones work.
//!
//! With `security:` a second AMQP acceptor serves TLS (`sslEnabled`, the
//! run's certificate and key from [`super::certs`] as one PEM key store,
//! which Artemis reads with its bundled `pem-keystore`), and each
//! profile's user is added to the instance's `artemis-users.properties`
//! with the `amq` role (every right `artemis create` gives its own user).
//! That file is readable by its owner only and goes with the instance; no
//! password is on a command line or in a log.

use super::home::broker_home;
use super::process::find_program;
use super::{Launch, LocalKind, Ports};
use crate::scenario::security::Security;
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
    /// (user, password) of the profiles, when started with `security:`.
    users: Option<Vec<(String, String)>>,
}

impl ArtemisKind {
    /// `$ARTEMIS_HOME/bin/artemis`, else the installed distribution
    /// ([`super::home`]), else `artemis` on PATH.
    pub fn new() -> anyhow::Result<ArtemisKind> {
        match broker_home("Apache ActiveMQ Artemis", "ARTEMIS_HOME", "artemis", "bin/artemis") {
            Ok(home) => Ok(ArtemisKind { program: home.join("bin").join("artemis"), users: None }),
            Err(not_installed) if std::env::var_os("ARTEMIS_HOME").is_none() => {
                let program = find_program("artemis", &[], &format!("{not_installed:#}"))?;
                Ok(ArtemisKind { program, users: None })
            }
            Err(e) => Err(e),
        }
    }

    /// The broker with a TLS acceptor and the users of `securities`
    /// (nothing changes when it is empty; see [`super::users_of`]).
    pub fn with_security(mut self, securities: &[Security]) -> anyhow::Result<ArtemisKind> {
        if !securities.is_empty() {
            // A `.properties` value: no escapes, no surrounding blanks.
            let mut users = super::users_of(securities, "Artemis", &[' ', '\\'])?;
            users.retain(|(u, _)| u != USER);
            self.users = Some(users);
        }
        Ok(self)
    }
}

/// The TLS acceptor's index in the picked ports, when secured.
const AMQPS: usize = 1;

/// `broker.xml` with an AMQPS acceptor on `port` beside the others, its
/// key store `keystore` (a PEM file with the key and the certificate).
fn with_amqps_acceptor(broker_xml: &str, port: u16, keystore: &Path) -> anyhow::Result<String> {
    let end = broker_xml.find("</acceptors>").ok_or_else(|| anyhow!("broker.xml has no </acceptors>"))?;
    let acceptor = format!(
        "   <acceptor name=\"amqps\">tcp://127.0.0.1:{port}?protocols=AMQP;sslEnabled=true;keyStoreType=PEM;\
         keyStorePath={};keyStorePassword=unused;\
         anycastPrefix=queue://;multicastPrefix=topic://;amqpCredits=1000;amqpLowCredits=300</acceptor>\n      ",
        keystore.display()
    );
    Ok(format!("{}{acceptor}{}", &broker_xml[..end], &broker_xml[end..]))
}

/// The instance's users and roles files with `users` added, each in the
/// `amq` role.
fn add_users(etc: &Path, users: &[(String, String)]) -> anyhow::Result<()> {
    let read = |p: &Path| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
    let users_file = etc.join("artemis-users.properties");
    let mut text = read(&users_file)?;
    for (u, p) in users {
        text.push_str(&format!("\n{u} = {p}\n"));
    }
    super::write_private(&users_file, &text)?;
    let roles_file = etc.join("artemis-roles.properties");
    let names: Vec<&str> = users.iter().map(|(u, _)| u.as_str()).collect();
    let roles = read(&roles_file)?;
    let mut found = false;
    let mut out = String::new();
    for line in roles.lines() {
        match line.split_once('=') {
            Some((role, members)) if role.trim() == "amq" && !names.is_empty() => {
                found = true;
                out.push_str(&format!("amq = {},{}\n", members.trim(), names.join(",")));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if !found && !names.is_empty() {
        bail!("{} has no `amq` role to add the users to", roles_file.display());
    }
    std::fs::write(&roles_file, out).with_context(|| format!("writing {}", roles_file.display()))
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

    fn ports_needed(&self) -> usize {
        if self.users.is_some() {
            2
        } else {
            1
        }
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
        let mut xml = with_amqp_acceptor(&xml, ports.main())?;
        if let Some(users) = &self.users {
            let tls = super::certs::make(dir)?;
            let keystore = tls.key.with_file_name("server-keystore.pem");
            let read = |p: &Path| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
            super::write_private(&keystore, &format!("{}{}", read(&tls.key)?, read(&tls.cert)?))?;
            xml = with_amqps_acceptor(&xml, ports.0[AMQPS], &keystore)?;
            add_users(&instance.join("etc"), users)?;
        }
        std::fs::write(&xml_path, xml)?;
        let mut command = Command::new(instance.join("bin").join("artemis"));
        command.arg("run");
        Ok(vec![Launch { command, log: "artemis.log".into() }])
    }

    fn endpoint(&self, ports: &Ports) -> String {
        format!("amqp://{USER}:{PASSWORD}@127.0.0.1:{}", ports.main())
    }

    /// TLS profiles on the AMQPS acceptor, the others on the plain one; as
    /// the instance's user unless the profile names its own.
    fn secured_endpoint(&self, ports: &Ports, security: &Security) -> anyhow::Result<String> {
        match (security.tls.enabled(), &self.users) {
            (false, _) => Ok(self.endpoint(ports)),
            (true, Some(_)) => Ok(format!("amqps://{USER}:{PASSWORD}@127.0.0.1:{}", ports.0[AMQPS])),
            (true, None) => bail!("this local Artemis was started without TLS"),
        }
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
        let tls = with_amqps_acceptor(&out, 6001, Path::new("/t/ks.pem")).unwrap();
        assert!(
            tls.contains("tcp://127.0.0.1:5999?")
                && tls.contains("tcp://127.0.0.1:6001?protocols=AMQP;sslEnabled=true;")
        );
        assert!(tls.contains("keyStorePath=/t/ks.pem;"));
    }

    #[test]
    fn users_join_the_amq_role() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("artemis-users.properties"), "# users\nmqbench = ENC(x)\n").unwrap();
        std::fs::write(dir.path().join("artemis-roles.properties"), "# roles\namq = mqbench\n").unwrap();
        add_users(dir.path(), &[("bench".into(), "pw-1".into())]).unwrap();
        let users = std::fs::read_to_string(dir.path().join("artemis-users.properties")).unwrap();
        assert!(users.contains("mqbench = ENC(x)") && users.contains("\nbench = pw-1\n"), "{users}");
        let roles = std::fs::read_to_string(dir.path().join("artemis-roles.properties")).unwrap();
        assert!(roles.contains("amq = mqbench,bench\n"), "{roles}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("artemis-users.properties")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
}
