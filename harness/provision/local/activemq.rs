//! Local ActiveMQ Classic with its AMQP 1.0 transport.
//!
//! Needs an upstream installation whose `lib/` holds the `activemq-amqp`
//! module: the `bin` distribution that `docker/install-brokers.sh` unpacks
//! from Maven Central (found without any variable set, see
//! [`super::home`]), or `ACTIVEMQ_HOME`.
//! Debian's `activemq` package is built without that module (its
//! README.Debian lists it as disabled; an `amqp://` connector fails with
//! "Transport scheme NOT recognized"), so on our CI machines this kind
//! fails up front with exactly that reason instead of starting a broker
//! that cannot speak AMQP 1.0.
//!
//! The broker runs with a minimal `activemq.xml` in the temporary directory:
//! one `amqp://127.0.0.1:PORT` transport connector, no JMX, no web console,
//! data in the temporary directory. Virtual topics (the adapter's fan-out
//! convention) are on by default in ActiveMQ.

use super::artemis::answers_amqp;
use super::home::broker_home;
use super::{Launch, LocalKind, Ports};
use anyhow::bail;
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Where Debian's package puts ActiveMQ (without the AMQP module).
const DEBIAN_HOME: &str = "/usr/share/activemq";

pub struct ActiveMqKind {
    home: PathBuf,
    /// `5.18.3` from the `activemq-amqp-5.18.3.jar` name.
    version: String,
}

/// The `activemq-amqp-*.jar` under `lib/` (and its subdirectories).
fn find_amqp_jar(dir: &Path, depth: u32) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with("activemq-amqp-") && name.ends_with(".jar") {
            return Some(path);
        }
        if depth > 0 && path.is_dir() {
            if let Some(p) = find_amqp_jar(&path, depth - 1) {
                return Some(p);
            }
        }
    }
    None
}

impl ActiveMqKind {
    /// `ACTIVEMQ_HOME`, else the installed distribution ([`super::home`]),
    /// else Debian's location; fails unless the installation has the AMQP
    /// module.
    pub fn new() -> anyhow::Result<ActiveMqKind> {
        let home = match broker_home("Apache ActiveMQ Classic", "ACTIVEMQ_HOME", "activemq", "bin/activemq") {
            Ok(home) => home,
            Err(_) if std::env::var_os("ACTIVEMQ_HOME").is_none() && Path::new(DEBIAN_HOME).is_dir() => {
                PathBuf::from(DEBIAN_HOME)
            }
            Err(e) => return Err(e),
        };
        Self::at(home)
    }

    pub fn at(home: PathBuf) -> anyhow::Result<ActiveMqKind> {
        if !home.join("bin").join("activemq").is_file() {
            bail!("{} has no bin/activemq: is it an ActiveMQ installation?", home.display());
        }
        let Some(jar) = find_amqp_jar(&home.join("lib"), 2) else {
            bail!(
                "the ActiveMQ at {} lacks the AMQP module (no activemq-amqp jar under lib/; Debian's activemq \
                 package is built without it), so it cannot speak AMQP 1.0: install the upstream tarball and set \
                 ACTIVEMQ_HOME, or use `provision: live`",
                home.display()
            );
        };
        let name = jar.file_name().unwrap_or_default().to_string_lossy().to_string();
        let version = name.trim_start_matches("activemq-amqp-").trim_end_matches(".jar").to_string();
        Ok(ActiveMqKind { home, version })
    }
}

/// The broker configuration: one AMQP connector, nothing else listening.
pub fn config_xml(dir: &Path, port: u16) -> String {
    format!(
        r#"<beans xmlns="http://www.springframework.org/schema/beans"
       xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
       xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans.xsd
                           http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="mqbench" useJmx="false"
          dataDirectory="{data}">
    <transportConnectors>
      <transportConnector name="amqp" uri="amqp://127.0.0.1:{port}?maximumConnections=1000&amp;wireFormat.maxFrameSize=104857600"/>
    </transportConnectors>
  </broker>
</beans>
"#,
        data = dir.join("data").display()
    )
}

#[async_trait]
impl LocalKind for ActiveMqKind {
    fn name(&self) -> &'static str {
        "activemq"
    }

    fn launches(&self, dir: &Path, ports: &Ports) -> anyhow::Result<Vec<Launch>> {
        let xml = dir.join("activemq.xml");
        std::fs::write(&xml, config_xml(dir, ports.main()))?;
        let mut command = Command::new(self.home.join("bin").join("activemq"));
        command
            .arg("console")
            .arg(format!("xbean:file:{}", xml.display()))
            .env("ACTIVEMQ_HOME", &self.home)
            .env("ACTIVEMQ_BASE", &self.home)
            .env("ACTIVEMQ_DATA", dir.join("data"))
            .env("ACTIVEMQ_TMP", dir.join("tmp"))
            .env("ACTIVEMQ_PIDFILE", dir.join("activemq.pid"));
        Ok(vec![Launch { command, log: "activemq.log".into() }])
    }

    fn endpoint(&self, ports: &Ports) -> String {
        format!("amqp://127.0.0.1:{}", ports.main())
    }

    async fn probe(&self, ports: &Ports) -> anyhow::Result<String> {
        answers_amqp(ports.main()).await?;
        Ok(format!("ActiveMQ {}", self.version))
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_installation_without_the_amqp_module_is_refused_with_that_reason() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join("bin")).unwrap();
        std::fs::create_dir_all(home.path().join("lib/optional")).unwrap();
        std::fs::write(home.path().join("bin/activemq"), "").unwrap();
        let err = ActiveMqKind::at(home.path().to_path_buf()).err().unwrap().to_string();
        assert!(err.contains("lacks the AMQP module"), "{err}");
        std::fs::write(home.path().join("lib/optional/activemq-amqp-5.18.3.jar"), "").unwrap();
        let kind = ActiveMqKind::at(home.path().to_path_buf()).unwrap();
        assert_eq!(kind.version, "5.18.3");
        assert!(config_xml(home.path(), 7777).contains("amqp://127.0.0.1:7777?"));
    }
}
