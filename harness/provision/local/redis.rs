//! Local Redis: one `redis-server` with no persistence, bound to 127.0.0.1.
//!
//! With `security:` it also serves TLS on a second port (certificates from
//! [`super::certs`]; a client certificate is asked for but optional, so
//! mutual TLS works with one the run's CA signed) and knows the profiles'
//! users as ACL users with every right. They are defined in a config file
//! of the instance's directory, readable by its owner only and gone with
//! the instance, so no password is on the command line or in a log. The
//! plain port keeps Redis's default user without a password, as a secured
//! local Kafka keeps its PLAINTEXT listener: the probe and plaintext points
//! use it.
//!
//! The probe speaks RESP by hand (PING, then INFO server) so provisioning
//! does not depend on the redis adapter's cargo feature; the version is
//! read from INFO as the adapter reads it (`adapter::redis_info`).

use super::process::find_program;
use super::{Launch, LocalKind, Ports};
use crate::adapter::redis_info::software_from_info;
use crate::scenario::security::Security;
use anyhow::{anyhow, bail};
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::process::Command;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct RedisKind {
    program: PathBuf,
    /// (user, password) of the ACL, when started with `security:`.
    users: Option<Vec<(String, String)>>,
}

impl RedisKind {
    /// `redis-server` from PATH.
    pub fn new() -> anyhow::Result<RedisKind> {
        let program = find_program(
            "redis-server",
            &[],
            "install it with docker/install-brokers.sh (Debian/Ubuntu: apt-get install redis-server)",
        )?;
        Ok(RedisKind { program, users: None })
    }

    /// A given binary (tests, or a self-built Redis).
    pub fn with_program(program: PathBuf) -> RedisKind {
        RedisKind { program, users: None }
    }

    /// The server with a TLS port and the users of `securities` (nothing
    /// changes when it is empty; see [`super::users_of`]).
    pub fn with_security(mut self, securities: &[Security]) -> anyhow::Result<RedisKind> {
        if !securities.is_empty() {
            self.users = Some(super::users_of(securities, "Redis", &[' ', '"', '\'', '\\'])?);
        }
        Ok(self)
    }
}

/// The config file of a secured server: its ACL users, each with every
/// key, channel and command (`~* &* +@all`).
fn acl_config(users: &[(String, String)]) -> String {
    users.iter().map(|(u, p)| format!("user {u} on >{p} ~* &* +@all\n")).collect()
}

#[async_trait]
impl LocalKind for RedisKind {
    fn name(&self) -> &'static str {
        "redis-server"
    }

    fn ports_needed(&self) -> usize {
        if self.users.is_some() {
            2
        } else {
            1
        }
    }

    fn launches(&self, dir: &Path, ports: &Ports) -> anyhow::Result<Vec<Launch>> {
        let mut command = Command::new(&self.program);
        if let Some(users) = &self.users {
            // The config file comes first: redis-server reads it, then the
            // options after it.
            let config = dir.join("secured.conf");
            super::write_private(&config, &acl_config(users))?;
            let tls = super::certs::make(dir)?;
            command
                .arg(&config)
                .arg("--tls-port")
                .arg(ports.0[1].to_string())
                .arg("--tls-cert-file")
                .arg(&tls.cert)
                .arg("--tls-key-file")
                .arg(&tls.key)
                .arg("--tls-ca-cert-file")
                .arg(&tls.ca)
                .args(["--tls-auth-clients", "optional"]);
        }
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

    /// Plaintext and `sasl_plaintext` on the plain port, TLS on the TLS
    /// port; the user and password travel in the client's `AUTH`.
    fn secured_endpoint(&self, ports: &Ports, security: &Security) -> anyhow::Result<String> {
        match (security.tls.enabled(), &self.users) {
            (false, _) => Ok(self.endpoint(ports)),
            (true, Some(_)) => Ok(format!("rediss://127.0.0.1:{}", ports.0[1])),
            (true, None) => bail!("this local Redis was started without TLS"),
        }
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

    #[test]
    fn acl_users_get_every_right() {
        let c = acl_config(&[("bench".into(), "pw-1".into()), ("other".into(), "pw-2".into())]);
        assert_eq!(c, "user bench on >pw-1 ~* &* +@all\nuser other on >pw-2 ~* &* +@all\n");
    }
}
