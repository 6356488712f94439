//! Local RabbitMQ: Debian's `rabbitmq-server` (3.10, Erlang/OTP 25) run as
//! a child, with everything it writes inside the instance directory. Facts
//! that shape this module:
//! - RabbitMQ needs an Erlang port mapper (epmd). Left alone it spawns
//!   `epmd -daemon` on port 4369, which outlives everything (the
//!   `-start_epmd false` flag does not prevent it). So a private epmd runs
//!   first, in the foreground, on a picked port, and the broker is pointed
//!   at it (`ERL_EPMD_PORT`); it is stopped last.
//! - The broker is started through `/usr/lib/rabbitmq/bin/rabbitmq-server`,
//!   not the `/usr/sbin` wrapper, which switches to the `rabbitmq` user (who
//!   cannot write a root-owned temporary directory). That script is a shell
//!   which forwards SIGTERM to `beam.smp`; SIGKILL to the shell alone
//!   would orphan a broker that keeps serving, hence the stop by process
//!   group, SIGTERM first, with a long grace.
//! - `RABBITMQ_CONF_ENV_FILE` points at an empty file, or
//!   /etc/rabbitmq/rabbitmq-env.conf would be read.
//! - The AMQP 1.0 plugin is enabled: the `rabbitmq-amqp1` adapter uses the
//!   same broker, on the same listener (the protocol header picks 0.9.1 or
//!   1.0).
//! - Readiness: the AMQP 0.9.1 protocol header answered by Connection.Start,
//!   which names the product and version.
//! - With `security:` a TLS listener (`listeners.ssl`, certificates from
//!   [`super::certs`]; a client certificate is verified when one is sent
//!   but not required) serves beside the plain one, and the users come
//!   from a definitions file loaded at boot (`load_definitions`): `guest`
//!   as always, and each profile's user with every permission on `/`. The
//!   file holds RabbitMQ's salted SHA-256 password hashes, never a
//!   password, is readable by its owner only and goes with the instance.

use super::process::find_program;
use super::{Launch, LocalKind, Ports};
use crate::scenario::security::Security;
use anyhow::{bail, Context};
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The script that runs the broker in the foreground as the current user.
const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";
const INSTALL_HINT: &str = "install it with docker/install-brokers.sh (Debian/Ubuntu: apt-get install rabbitmq-server)";
/// Indices into the picked ports.
const AMQP: usize = 0;
const DIST: usize = 1;
const EPMD: usize = 2;
/// The TLS listener's port, when secured.
const AMQPS: usize = 3;
/// The AMQP 0.9.1 protocol header.
const HEADER: &[u8] = b"AMQP\x00\x00\x09\x01";

pub struct RabbitKind {
    server: PathBuf,
    epmd: PathBuf,
    /// (user, password) of the profiles, when started with `security:`.
    users: Option<Vec<(String, String)>>,
}

impl RabbitKind {
    /// The Debian package's server script and the epmd of its Erlang.
    pub fn new() -> anyhow::Result<RabbitKind> {
        let server = PathBuf::from(SERVER);
        if !server.exists() {
            bail!("`{SERVER}` not found: {INSTALL_HINT}");
        }
        Ok(RabbitKind { server, epmd: find_epmd()?, users: None })
    }

    /// The broker with a TLS listener and the users of `securities`
    /// (nothing changes when it is empty; see [`super::users_of`]).
    pub fn with_security(mut self, securities: &[Security]) -> anyhow::Result<RabbitKind> {
        if !securities.is_empty() {
            // The hash is of the password's UTF-8 bytes, whatever they are.
            let mut users = super::users_of(securities, "RabbitMQ", &[])?;
            users.retain(|(u, _)| u != "guest");
            self.users = Some(users);
        }
        Ok(self)
    }
}

/// RabbitMQ's `rabbit_password_hashing_sha256` hash of `password`:
/// base64 of a 4-byte salt followed by SHA-256(salt, password).
fn password_hash(password: &str, salt: [u8; 4]) -> String {
    use base64::Engine;
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(salt);
    h.update(password.as_bytes());
    let mut out = salt.to_vec();
    out.extend_from_slice(&h.finalize());
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// The definitions a secured broker loads at boot: vhost `/`, `guest`
/// (password `guest`, as an unsecured broker has it) and `users`, each
/// with every permission on `/`.
fn definitions(users: &[(String, String)]) -> String {
    let all = std::iter::once(("guest", "guest")).chain(users.iter().map(|(u, p)| (u.as_str(), p.as_str())));
    let mut defs_users = Vec::new();
    let mut permissions = Vec::new();
    for (name, password) in all {
        let tags: &[&str] = if name == "guest" { &["administrator"] } else { &[] };
        defs_users.push(serde_json::json!({
            "name": name,
            "password_hash": password_hash(password, rand::random()),
            "hashing_algorithm": "rabbit_password_hashing_sha256",
            "tags": tags,
        }));
        permissions.push(serde_json::json!({
            "user": name, "vhost": "/", "configure": ".*", "write": ".*", "read": ".*",
        }));
    }
    serde_json::json!({
        "vhosts": [{"name": "/"}],
        "users": defs_users,
        "permissions": permissions,
    })
    .to_string()
}

/// `epmd` on PATH, else the one inside /usr/lib/erlang/erts-*/bin.
fn find_epmd() -> anyhow::Result<PathBuf> {
    let mut extra = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/usr/lib/erlang") {
        let mut erts: Vec<PathBuf> = dir
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("erts-")))
            .collect();
        erts.sort();
        extra.extend(erts.into_iter().rev().map(|p| p.join("bin")));
    }
    find_program("epmd", &extra, "it comes with Erlang (Debian: erlang-base, a dependency of rabbitmq-server)")
}

#[async_trait]
impl LocalKind for RabbitKind {
    fn name(&self) -> &'static str {
        "rabbitmq-server"
    }

    fn ports_needed(&self) -> usize {
        if self.users.is_some() {
            4
        } else {
            3
        }
    }

    fn launches(&self, dir: &Path, ports: &Ports) -> anyhow::Result<Vec<Launch>> {
        let (amqp, dist, epmd) = (ports.0[AMQP], ports.0[DIST], ports.0[EPMD]);
        let write = |name: &str, text: &str| -> anyhow::Result<PathBuf> {
            let path = dir.join(name);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            Ok(path)
        };
        let mut conf = format!("listeners.tcp.1 = 127.0.0.1:{amqp}\nloopback_users = none\n");
        if let Some(users) = &self.users {
            let tls = super::certs::make(dir)?;
            let defs = dir.join("definitions.json");
            super::write_private(&defs, &definitions(users))?;
            conf.push_str(&format!(
                "listeners.ssl.1 = 127.0.0.1:{}\n\
                 ssl_options.cacertfile = {}\n\
                 ssl_options.certfile = {}\n\
                 ssl_options.keyfile = {}\n\
                 ssl_options.verify = verify_peer\n\
                 ssl_options.fail_if_no_peer_cert = false\n\
                 load_definitions = {}\n",
                ports.0[AMQPS],
                tls.ca.display(),
                tls.cert.display(),
                tls.key.display(),
                defs.display()
            ));
        }
        let config = write("rabbitmq.conf", &conf)?;
        let plugins = write("enabled_plugins", "[rabbitmq_amqp1_0].\n")?;
        let env_file = write("rabbitmq-env.conf", "")?;
        for sub in ["mnesia", "log"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }

        let mut epmd_cmd = Command::new(&self.epmd);
        epmd_cmd.args(["-port", &epmd.to_string(), "-address", "127.0.0.1"]);

        // The broker must not start before our epmd listens, or its boot
        // would spawn a daemon epmd of its own on that port: wait for the
        // port, then `exec` (the process stays the one we started).
        let mut server = Command::new("/bin/bash");
        server.arg("-c").arg(format!(
            "for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/{epmd}) 2>/dev/null && break; sleep 0.05; done; exec \"$0\"",
        ));
        server.arg(&self.server);
        // Unique per instance: two brokers on one host must not share a node name.
        let node = format!("mqbench-{amqp}@localhost");
        server
            .env("RABBITMQ_NODENAME", &node)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", amqp.to_string())
            .env("RABBITMQ_DIST_PORT", dist.to_string())
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_CONFIG_FILE", &config)
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", &plugins)
            .env("RABBITMQ_CONF_ENV_FILE", &env_file)
            .env("RABBITMQ_PID_FILE", dir.join("rabbitmq.pid"))
            .env("HOME", dir)
            .env("ERL_EPMD_PORT", epmd.to_string())
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-kernel inet_dist_use_interface {127,0,0,1}");
        Ok(vec![
            Launch { command: epmd_cmd, log: "epmd.log".into() },
            Launch { command: server, log: "rabbitmq-server.log".into() },
        ])
    }

    fn endpoint(&self, ports: &Ports) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", ports.0[AMQP])
    }

    /// TLS profiles on the TLS listener, the others on the plain one; as
    /// `guest` unless the profile names its user (`sasl: plain`).
    fn secured_endpoint(&self, ports: &Ports, security: &Security) -> anyhow::Result<String> {
        match (security.tls.enabled(), &self.users) {
            (false, _) => Ok(self.endpoint(ports)),
            (true, Some(_)) => Ok(format!("amqps://guest:guest@127.0.0.1:{}/%2f", ports.0[AMQPS])),
            (true, None) => bail!("this local RabbitMQ was started without TLS"),
        }
    }

    async fn probe(&self, ports: &Ports) -> anyhow::Result<String> {
        probe_rabbitmq(ports.0[AMQP]).await
    }

    /// Boot takes 4 to 8 s on an idle machine, much longer on a busy one.
    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(120)
    }

    /// Shutdown stops every queue and flushes the message store.
    fn stop_timeout(&self) -> Duration {
        Duration::from_secs(30)
    }
}

/// The software and version that the AMQP 0.9.1 listener on
/// 127.0.0.1:`port` announces in Connection.Start (also the container probe).
pub async fn probe_rabbitmq(port: u16) -> anyhow::Result<String> {
    software(&connection_start(port).await?)
}

/// Sends the protocol header and returns the first frame, whole.
async fn connection_start(port: u16) -> anyhow::Result<Vec<u8>> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(HEADER).await?;
    let mut frame = vec![0u8; 7];
    s.read_exact(&mut frame).await.context("the broker closed the connection before Connection.Start")?;
    if frame.starts_with(b"AMQP") {
        bail!("port {port} answered with another AMQP protocol header: not RabbitMQ's 0.9.1 listener");
    }
    let size = u32::from_be_bytes([frame[3], frame[4], frame[5], frame[6]]) as usize;
    if frame[0] != 1 || size > 1 << 16 {
        bail!("port {port} answered with something that is not an AMQP method frame");
    }
    frame.resize(7 + size + 1, 0);
    s.read_exact(&mut frame[7..]).await?;
    Ok(frame)
}

/// `RabbitMQ 3.10.8`, read with the adapter's Connection.Start parser.
#[cfg(feature = "rabbitmq")]
fn software(frame: &[u8]) -> anyhow::Result<String> {
    Ok(crate::adapter::rabbitmq::server_info::parse_start(frame)?.software())
}

/// Without the rabbitmq adapter (an AMQP 1.0 only build) there is no
/// amq-protocol parser: check that the frame is Connection.Start (class
/// 10, method 10) and name the product only.
#[cfg(not(feature = "rabbitmq"))]
fn software(frame: &[u8]) -> anyhow::Result<String> {
    if frame.len() < 11 || frame[7..11] != [0, 10, 0, 10] {
        bail!("the first frame is not Connection.Start");
    }
    Ok("RabbitMQ (version read only with the `rabbitmq` cargo feature)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launches_keep_everything_in_the_directory() {
        let Ok(kind) = RabbitKind::new() else {
            // The launch plan needs no broker, but the constructor checks the install.
            panic!("rabbitmq-server is not installed: {INSTALL_HINT}");
        };
        let dir = tempfile::tempdir().unwrap();
        let ports = Ports(vec![20001, 20002, 20003]);
        let launches = kind.launches(dir.path(), &ports).unwrap();
        assert_eq!(launches.len(), 2);
        assert!(launches[0].command.get_program().to_string_lossy().ends_with("epmd"));
        let env: Vec<(String, String)> = launches[1]
            .command
            .get_envs()
            .map(|(k, v)| (k.to_string_lossy().into_owned(), v.unwrap().to_string_lossy().into_owned()))
            .collect();
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
        assert_eq!(get("ERL_EPMD_PORT"), "20003");
        assert_eq!(get("RABBITMQ_NODE_PORT"), "20001");
        assert!(get("HOME").starts_with(&*dir.path().to_string_lossy()));
        assert!(get("RABBITMQ_MNESIA_BASE").starts_with(&*dir.path().to_string_lossy()));
        let conf = std::fs::read_to_string(dir.path().join("rabbitmq.conf")).unwrap();
        assert!(conf.contains("127.0.0.1:20001"));
        assert_eq!(kind.endpoint(&ports), "amqp://guest:guest@127.0.0.1:20001/%2f");
    }

    #[test]
    fn definitions_hold_hashes_not_passwords() {
        // The example of RabbitMQ's documentation on password hashing
        // ("test12", salt 908D C60A); Python's hashlib gives the same.
        assert_eq!(
            password_hash("test12", [0x90, 0x8d, 0xc6, 0x0a]),
            "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR"
        );
        let defs = definitions(&[("bench".into(), "pw-123456".into())]);
        assert!(!defs.contains("pw-123456"), "{defs}");
        let v: serde_json::Value = serde_json::from_str(&defs).unwrap();
        let names: Vec<&str> = v["users"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["guest", "bench"]);
        assert_eq!(v["permissions"][1]["user"], "bench");
    }
}
