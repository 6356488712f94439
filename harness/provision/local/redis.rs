//! Local Redis: one `redis-server` with no persistence, bound to 127.0.0.1.
//!
//! The probe speaks RESP by hand (PING, then INFO server) so provisioning
//! does not depend on the redis adapter's cargo feature; the version is
//! read from INFO as the adapter reads it (`adapter::redis_info`).

use super::process::find_program;
use super::{Launch, LocalKind, Ports};
use crate::adapter::redis_info::software_from_info;
use anyhow::{anyhow, bail};
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::process::Command;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct RedisKind {
    program: PathBuf,
}

impl RedisKind {
    /// `redis-server` from PATH.
    pub fn new() -> anyhow::Result<RedisKind> {
        let program = find_program(
            "redis-server",
            &[],
            "install it with docker/install-brokers.sh (Debian/Ubuntu: apt-get install redis-server)",
        )?;
        Ok(RedisKind { program })
    }

    /// A given binary (tests, or a self-built Redis).
    pub fn with_program(program: PathBuf) -> RedisKind {
        RedisKind { program }
    }
}

#[async_trait]
impl LocalKind for RedisKind {
    fn name(&self) -> &'static str {
        "redis-server"
    }

    fn launches(&self, dir: &Path, ports: &Ports) -> anyhow::Result<Vec<Launch>> {
        let mut command = Command::new(&self.program);
        command
            .arg("--port")
            .arg(ports.main().to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(["--logfile", ""])
            .arg("--dir")
            .arg(dir);
        Ok(vec![Launch { command, log: "redis-server.log".into() }])
    }

    fn endpoint(&self, ports: &Ports) -> String {
        format!("redis://127.0.0.1:{}", ports.main())
    }

    async fn probe(&self, ports: &Ports) -> anyhow::Result<String> {
        probe_redis(ports.main()).await
    }
}

/// PING and INFO server to the Redis on 127.0.0.1:`port`; its software
/// and version once it answers (also the container probe).
pub async fn probe_redis(port: u16) -> anyhow::Result<String> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n").await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed before INFO answered");
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(info) = parse_ping_info(&buf)? {
            return software_from_info(&info).ok_or_else(|| anyhow!("INFO server has no redis_version"));
        }
    }
}

/// `Some(INFO text)` once the buffer holds `+PONG` and the INFO bulk string.
fn parse_ping_info(buf: &[u8]) -> anyhow::Result<Option<String>> {
    let text = String::from_utf8_lossy(buf);
    if text.starts_with('-') {
        bail!("{}", text.lines().next().unwrap_or_default());
    }
    let Some(rest) = text.strip_prefix("+PONG\r\n") else {
        return Ok(None);
    };
    if rest.starts_with('-') {
        bail!("{}", rest.lines().next().unwrap_or_default());
    }
    let Some(rest) = rest.strip_prefix('$') else {
        return Ok(None);
    };
    let Some((len, body)) = rest.split_once("\r\n") else {
        return Ok(None);
    };
    let len: usize = len.parse().map_err(|_| anyhow!("bad INFO reply"))?;
    Ok((body.len() >= len).then(|| body[..len].to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_is_parsed() {
        let info = "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n";
        let reply = format!("+PONG\r\n${}\r\n{info}\r\n", info.len());
        assert_eq!(parse_ping_info(reply.as_bytes()).unwrap().as_deref(), Some(info));
        assert_eq!(parse_ping_info(b"+PONG\r\n$50\r\n# Ser").unwrap(), None);
        assert!(parse_ping_info(b"-LOADING Redis is loading\r\n").is_err());
    }
}
