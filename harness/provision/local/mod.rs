//! `provision: local`: brokers started by mqbench as child processes from
//! installed binaries, each on free 127.0.0.1 ports with its data, config
//! and logs in a fresh temporary directory.
//!
//! A broker kind is one small module implementing [`LocalKind`]: what to
//! run and how to tell it is ready. The machinery around it (process
//! groups, readiness loop, log tails in errors, graceful stop, cleanup on
//! exit and Ctrl-C) is shared.

pub mod activemq;
pub mod artemis;
pub mod certs;
pub mod home;
pub mod instance;
pub mod kafka;
pub mod manual;
pub mod process;
pub mod rabbitmq;
pub mod redis;
pub mod tansu;

pub use instance::{Instance, LocalBroker};

use crate::scenario::security::Security;
use async_trait::async_trait;
use std::path::Path;
use std::time::Duration;

/// Kinds `mqbench brokers up` starts when no name is given (one per broker
/// software; `rabbitmq-amqp1` and `activemq` share a broker with another).
pub const DEFAULT_UP: &[&str] = &["redis", "kafka", "rabbitmq", "artemis"];

/// The local kind that serves adapter `adapter` (options of its first point
/// may choose the software, e.g. Apache Kafka or tansu, and its size).
pub fn kind_for(
    adapter: &str,
    options: &serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<Box<dyn LocalKind>> {
    kind_with_security(adapter, options, &[])
}

/// [`kind_for`], with the `security:` profiles of every point the broker
/// will serve: the broker gets a listener for each profile and the users
/// they name (see each kind).
pub fn kind_with_security(
    adapter: &str,
    options: &serde_json::Map<String, serde_json::Value>,
    securities: &[Security],
) -> anyhow::Result<Box<dyn LocalKind>> {
    if !securities.is_empty() && !matches!(adapter, "kafka" | "redis" | "rabbitmq" | "artemis") {
        anyhow::bail!("a local `{adapter}` broker with `security:` is not available yet: use `provision: live`");
    }
    match adapter {
        "redis" => Ok(Box::new(redis::RedisKind::new()?.with_security(securities)?)),
        "artemis" => Ok(Box::new(artemis::ArtemisKind::new()?.with_security(securities)?)),
        "activemq" => Ok(Box::new(activemq::ActiveMqKind::new()?)),
        // One broker serves both protocols (the AMQP 1.0 plugin is enabled).
        "rabbitmq" | "rabbitmq-amqp1" => Ok(Box::new(rabbitmq::RabbitKind::new()?.with_security(securities)?)),
        // The kafka adapter's `local_broker` option picks the software,
        // `local_nodes` the size of an Apache Kafka cluster.
        "kafka" => {
            let nodes = match options.get("local_nodes") {
                None => 1,
                Some(v) => v
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| anyhow::anyhow!("`local_nodes` is a number of nodes, not {v}"))?,
            };
            match options.get("local_broker").and_then(|v| v.as_str()) {
                None | Some("apache-kafka") => {
                    Ok(Box::new(kafka::ApacheKafkaKind::cluster(nodes)?.with_security(securities)?))
                }
                Some("tansu") if !securities.is_empty() => {
                    anyhow::bail!(
                        "`security:` on a local broker needs `local_broker: apache-kafka`: tansu is started plaintext"
                    )
                }
                Some("tansu") if nodes == 1 => Ok(Box::new(tansu::TansuKind::new()?)),
                Some("tansu") => {
                    anyhow::bail!("`local_nodes: {nodes}` needs `local_broker: apache-kafka`: tansu runs one node")
                }
                Some(other) => anyhow::bail!("`local_broker` is `apache-kafka` or `tansu`, not `{other}`"),
            }
        }
        other => anyhow::bail!(
            "local provisioning of `{other}` is not available in this build: use `provision: live` with an `endpoint:`"
        ),
    }
}

/// Writes a file only its owner can read, in an instance's directory
/// (gone when it stops): the config of a secured broker holds its users'
/// passwords.
pub(crate) fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    // `mode` applies only to a file it creates.
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting {}", path.display()))?;
    f.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

/// The users a secured local broker is started with: each user named by
/// a profile of `securities`, with the password of the first profile that
/// names it (read from its `password_env` now), so a later profile with
/// another variable for the same user connects with a wrong password.
/// `broker` and `forbidden` (characters its config files cannot hold in a
/// password) shape the refusals; user names are letters, digits, `_`, `-`
/// and `.`.
pub(crate) fn users_of(
    securities: &[Security],
    broker: &str,
    forbidden: &[char],
) -> anyhow::Result<Vec<(String, String)>> {
    let mut users: Vec<(String, String)> = Vec::new();
    for s in securities {
        if let (Some(user), Some(password)) = (&s.username, s.password().map_err(anyhow::Error::msg)?) {
            if password.contains(forbidden) || password.chars().any(char::is_control) {
                let shown: String = forbidden.iter().map(|c| format!("`{}` ", c.escape_default())).collect();
                anyhow::bail!(
                    "the local {broker} takes passwords without control characters or {}(they go into its settings); the one in `{}` has one",
                    shown,
                    s.password_env.as_deref().unwrap_or_default()
                );
            }
            if !user.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.') {
                anyhow::bail!("the local {broker} takes user names of letters, digits, `_`, `-` and `.`, not `{user}`");
            }
            if !users.iter().any(|(u, _)| u == user) {
                users.push((user.clone(), password));
            }
        }
    }
    Ok(users)
}

/// Ports picked for one broker instance (all free on 127.0.0.1).
#[derive(Clone, Debug)]
pub struct Ports(pub Vec<u16>);

impl Ports {
    /// The main client port.
    pub fn main(&self) -> u16 {
        self.0[0]
    }
}

/// One process to start for a broker.
pub struct Launch {
    /// Program, arguments, environment; the working directory defaults to
    /// the instance directory. It is started in its own process group.
    pub command: std::process::Command,
    /// Log file name inside the instance directory (stdout and stderr).
    pub log: String,
}

/// One kind of locally started broker.
#[async_trait]
pub trait LocalKind: Send + Sync {
    /// Short name for messages (`redis-server`).
    fn name(&self) -> &'static str;
    /// How many free ports the instance needs (the first is the client port).
    fn ports_needed(&self) -> usize {
        1
    }
    /// Processes to start, in order, in the fresh directory `dir`. Fails
    /// with an install hint when the binary is missing.
    fn launches(&self, dir: &Path, ports: &Ports) -> anyhow::Result<Vec<Launch>>;
    /// The endpoint in the adapter's form (`redis://127.0.0.1:PORT`).
    fn endpoint(&self, ports: &Ports) -> String;
    /// The endpoint of the listener that serves `security` (kinds started
    /// with `security:` have one per profile).
    fn secured_endpoint(&self, ports: &Ports, security: &Security) -> anyhow::Result<String> {
        let _ = ports;
        anyhow::bail!("the local {} has no listener for security `{}`", self.name(), security.label())
    }
    /// One protocol-level readiness probe; `Ok(software and version)` once
    /// the broker really answers. Never trust an exit code alone.
    async fn probe(&self, ports: &Ports) -> anyhow::Result<String>;
    /// Longest wait for readiness.
    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(30)
    }
    /// How long each process group gets between SIGTERM and SIGKILL.
    fn stop_timeout(&self) -> Duration {
        Duration::from_secs(15)
    }
    /// True when the processes are peers to be stopped at once (the nodes
    /// of a cluster: stopped one by one, the last would wait for a quorum
    /// that is gone); false stops them one by one in reverse launch order.
    fn stop_together(&self) -> bool {
        false
    }
    /// Resident memory of the broker's process tree past which it is
    /// restarted before the next point (for brokers that only grow).
    fn max_rss_bytes(&self) -> Option<u64> {
        None
    }
}
