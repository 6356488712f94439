//! Local tansu: a Kafka-protocol broker in one Rust binary, with in-memory
//! storage. Facts that shape this module (tansu 0.6.0):
//! - it reads a `.env` file from its working directory and the parents,
//!   so it runs in the instance's fresh directory, and every setting is
//!   given as a flag (flags win over the environment);
//! - it exits with status 0 when its port is taken, so readiness relies on
//!   the Kafka-protocol probe and on the process staying alive;
//! - its in-memory storage only grows, so it is restarted between points
//!   once it passes [`MAX_RSS_BYTES`] (the adapter also deletes each
//!   point's topic).

use super::kafka::probe_kafka;
use super::process::find_program;
use super::{Launch, LocalKind, Ports};
use anyhow::Context;
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Resident memory past which tansu is restarted before the next point.
pub const MAX_RSS_BYTES: u64 = 2 << 30;

pub struct TansuKind {
    program: PathBuf,
    software: String,
    /// A fixed port instead of a picked one (tests of the taken-port error).
    port: Option<u16>,
}

impl TansuKind {
    /// `tansu` from PATH or ~/.cargo/bin.
    pub fn new() -> anyhow::Result<TansuKind> {
        let mut extra = Vec::new();
        if let Some(home) = std::env::var_os("HOME") {
            extra.push(PathBuf::from(home).join(".cargo/bin"));
        }
        let program = find_program(
            "tansu",
            &extra,
            "install it with `bash docker/install-brokers.sh --tansu` (`cargo install tansu --version 0.6.0 --locked --features dynostore`)",
        )?;
        TansuKind::with_program(program)
    }

    pub fn with_program(program: PathBuf) -> anyhow::Result<TansuKind> {
        let out = Command::new(&program)
            .arg("--version")
            .output()
            .with_context(|| format!("running `{} --version`", program.display()))?;
        let software = software_from_version(&String::from_utf8_lossy(&out.stdout));
        Ok(TansuKind { program, software, port: None })
    }

    /// Always listens on `port`, whatever ports provisioning picked.
    pub fn on_port(mut self, port: u16) -> TansuKind {
        self.port = Some(port);
        self
    }

    fn port(&self, ports: &Ports) -> u16 {
        self.port.unwrap_or(ports.main())
    }
}

/// `tansu 0.6.0 (kafka protocol)` from `tansu --version` (`tansu 0.6.0`).
pub fn software_from_version(out: &str) -> String {
    let line = out.lines().next().unwrap_or("").trim();
    let name = if line.is_empty() { "tansu (version unknown)" } else { line };
    format!("{name} (kafka protocol)")
}

#[async_trait]
impl LocalKind for TansuKind {
    fn name(&self) -> &'static str {
        "tansu"
    }

    fn launches(&self, _dir: &Path, ports: &Ports) -> anyhow::Result<Vec<Launch>> {
        let url = format!("tcp://127.0.0.1:{}", self.port(ports));
        let mut command = Command::new(&self.program);
        command
            .arg("broker")
            .args(["--cluster-id", "mqbench"])
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"]);
        Ok(vec![Launch { command, log: "tansu.log".into() }])
    }

    fn endpoint(&self, ports: &Ports) -> String {
        format!("127.0.0.1:{}", self.port(ports))
    }

    async fn probe(&self, ports: &Ports) -> anyhow::Result<String> {
        probe_kafka(self.port(ports)).await?;
        Ok(self.software.clone())
    }

    fn max_rss_bytes(&self) -> Option<u64> {
        Some(MAX_RSS_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_names_the_protocol() {
        assert_eq!(software_from_version("tansu 0.6.0\n"), "tansu 0.6.0 (kafka protocol)");
        assert_eq!(software_from_version(""), "tansu (version unknown) (kafka protocol)");
    }
}
