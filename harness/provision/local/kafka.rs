//! Local Apache Kafka: one KRaft node (broker and controller in one JVM), or
//! a cluster of several such nodes on one host (`local_nodes: 3`, the
//! replicated setup a production deployment runs), each formatted in the
//! instance's fresh directory and run from the jars with `java -cp
//! 'libs/*' kafka.Kafka`. The jars come from `KAFKA_HOME` (an upstream
//! tarball, or any folder with a `libs/` of Kafka's jars) or from the
//! folder `docker/install-brokers.sh` fills from Maven Central (see
//! [`super::home`]). This is what `provision: local` starts for the `kafka`
//! adapter unless its option `local_broker` says `tansu`.
//!
//! Also home of [`probe_kafka`], the hand-written Kafka-protocol readiness
//! probe shared with tansu: provisioning must not depend on the kafka
//! adapter's cargo feature (librdkafka).

use super::home::{broker_home, java};
use super::{Launch, LocalKind, Ports};
use crate::scenario::security::Security;
use anyhow::{bail, Context};
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Most nodes a local cluster may have (each is a JVM with a 1 GiB heap).
pub const MAX_NODES: u32 = 5;

/// JVM settings of each node: a bounded heap, and the collector settings
/// that Kafka's own start script uses.
const JVM_OPTS: &[&str] = &[
    "-Xms1g",
    "-Xmx1g",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
];

/// Broker logging to stdout (the node's log file), INFO and up, as the
/// upstream distribution's default.
const LOG4J2: &str = "status = warn\n\
appender.out.type = Console\n\
appender.out.name = STDOUT\n\
appender.out.layout.type = PatternLayout\n\
appender.out.layout.pattern = [%d] %p %m (%c)%n\n\
rootLogger.level = INFO\n\
rootLogger.appenderRef.out.ref = STDOUT\n\
logger.kafka.name = org.apache.kafka\n\
logger.kafka.level = INFO\n";

pub struct ApacheKafkaKind {
    /// The installation: `libs/` holds the jars.
    home: PathBuf,
    java: PathBuf,
    version: Option<String>,
    nodes: u32,
    /// Listeners with TLS and SASL, when a point asks for them.
    security: Option<LocalSecurity>,
}

/// What a secured local cluster serves besides its PLAINTEXT listener:
/// SASL_SSL, SSL and SASL_PLAINTEXT listeners on every node (certificates
/// from [`super::certs`]), PLAIN, SCRAM-SHA-256/512 and OAUTHBEARER (with
/// Kafka's unsecured-token validator: any subject is let in, as a test
/// setup) enabled on both SASL listeners, and these users: PLAIN ones in each listener's JAAS
/// config, SCRAM ones added to the metadata when the storage is formatted.
pub struct LocalSecurity {
    /// (user, password): each user of the points' `security:` blocks, with
    /// the password of the first point that names it.
    users: Vec<(String, String)>,
    /// `host:port` that node i's SASL_SSL listener advertises instead of
    /// its own address: a TCP proxy in front of the cluster.
    advertised: Option<Vec<String>>,
}

/// Listeners per node beyond PLAINTEXT and CONTROLLER when secured.
const SECURED_LISTENERS: [&str; 3] = ["SASL_SSL", "SSL", "SASL_PLAINTEXT"];

impl ApacheKafkaKind {
    /// A single node.
    pub fn new() -> anyhow::Result<ApacheKafkaKind> {
        ApacheKafkaKind::cluster(1)
    }

    /// `nodes` combined broker+controller nodes (1 to [`MAX_NODES`]).
    pub fn cluster(nodes: u32) -> anyhow::Result<ApacheKafkaKind> {
        if !(1..=MAX_NODES).contains(&nodes) {
            bail!("`local_nodes` is 1 to {MAX_NODES} (each node is a JVM on this host), not {nodes}");
        }
        let home = broker_home("Apache Kafka", "KAFKA_HOME", "kafka", "libs")?;
        let version = version_from_libs(&home.join("libs"));
        if version.is_none() {
            bail!(
                "{} holds no kafka_2.13-VERSION.jar: not a Kafka installation (run `bash docker/install-brokers.sh`)",
                home.join("libs").display()
            );
        }
        Ok(ApacheKafkaKind { home, java: java()?, version, nodes, security: None })
    }

    /// The cluster with a listener for every profile of `securities` and
    /// the users they name (nothing changes when it is empty). A user's
    /// password is read from its `password_env` now; the first point that
    /// names a user sets its password, so a later point with another
    /// variable for the same user connects with a wrong one.
    pub fn with_security(mut self, securities: &[Security]) -> anyhow::Result<ApacheKafkaKind> {
        if securities.is_empty() {
            return Ok(self);
        }
        if securities.iter().any(|s| s.token_endpoint.is_some()) {
            bail!("a local Kafka validates unsecured OAUTHBEARER tokens only (it knows no identity provider): leave `token_endpoint` out, or point the scenario at a cluster that trusts the provider (`provision: live`)");
        }
        let users = super::users_of(securities, "Kafka", &['"', '\\', ',', ']', '='])?;
        self.security = Some(LocalSecurity { users, advertised: None });
        Ok(self)
    }

    /// Each node's SASL_SSL listener advertised at `addresses[i]`
    /// (`host:port`, one per node) rather than at its own port: the setup
    /// of a cluster reached through a TCP proxy with a port per broker,
    /// where clients bootstrap at the proxy and must follow the advertised
    /// addresses to every node. The certificate names `localhost` and
    /// 127.0.0.1, so the proxy listens there too. Needs
    /// [`ApacheKafkaKind::with_security`] first.
    pub fn advertise_sasl_ssl_at(mut self, addresses: Vec<String>) -> anyhow::Result<ApacheKafkaKind> {
        if addresses.len() != self.nodes as usize {
            bail!("{} advertised addresses for {} nodes", addresses.len(), self.nodes);
        }
        match &mut self.security {
            Some(sec) => sec.advertised = Some(addresses),
            None => bail!("advertised SASL_SSL addresses need a secured cluster (`with_security`)"),
        }
        Ok(self)
    }

    /// `apache kafka 4.4.0`, from the installed jars (`, 3 nodes` for a
    /// cluster).
    pub fn software(&self) -> String {
        let v = self.version.as_deref().unwrap_or("(version unknown)");
        match self.nodes {
            1 => format!("apache kafka {v}"),
            n => format!("apache kafka {v}, {n} nodes"),
        }
    }

    /// The nodes of the cluster.
    pub fn nodes(&self) -> u32 {
        self.nodes
    }
}

/// The release from `libs/kafka_2.13-3.7.0.jar` (or `kafka-clients-3.7.0.jar`).
pub fn version_from_libs(libs: &Path) -> Option<String> {
    let names: Vec<String> =
        std::fs::read_dir(libs).ok()?.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    version_from_names(&names)
}

fn version_from_names(names: &[String]) -> Option<String> {
    let core = names.iter().find_map(|n| {
        let rest = n.strip_prefix("kafka_")?.strip_suffix(".jar")?;
        let (_scala, version) = rest.split_once('-')?;
        (version.chars().next()?.is_ascii_digit() && !version.contains('-')).then(|| version.to_string())
    });
    core.or_else(|| {
        names.iter().find_map(|n| {
            let v = n.strip_prefix("kafka-clients-")?.strip_suffix(".jar")?;
            (v.chars().next()?.is_ascii_digit() && !v.contains('-')).then(|| v.to_string())
        })
    })
}

/// A KRaft cluster id: 16 random bytes, URL-safe base64 without padding
/// (what `kafka-storage.sh random-uuid` prints), without starting a JVM.
/// Like Kafka's own, it never starts with `-`: the storage tool would read
/// such an id as an option (one start in 64 failed so).
fn cluster_id() -> String {
    use base64::Engine;
    loop {
        let bytes: [u8; 16] = rand::random();
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        if !id.starts_with('-') {
            return id;
        }
    }
}

/// Node `i`'s (0-based) client and controller ports: ports come in pairs.
fn node_ports(ports: &Ports, i: usize) -> (u16, u16) {
    (ports.0[2 * i], ports.0[2 * i + 1])
}

/// `server.properties` of node `i` (0-based) of an `n`-node cluster on
/// 127.0.0.1, every node both broker and controller.
///
/// Internal topics are replicated min(n, 3) times. A node that stops
/// heartbeating is fenced after 3 s (Kafka's default is 9 s), so a node
/// killed in a point's window shows as a failover inside it.
pub fn server_properties(dir: &Path, ports: &Ports, i: usize, n: usize) -> String {
    let (port, controller_port) = node_ports(ports, i);
    let voters: Vec<String> = (0..n).map(|j| format!("{}@127.0.0.1:{}", j + 1, node_ports(ports, j).1)).collect();
    let replication = n.min(3);
    let min_isr = if n >= 3 { 2 } else { 1 };
    format!(
        "process.roles=broker,controller\n\
         node.id={}\n\
         controller.quorum.voters={}\n\
         listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}\n\
         advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n\
         controller.listener.names=CONTROLLER\n\
         inter.broker.listener.name=PLAINTEXT\n\
         listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n\
         log.dirs={}\n\
         num.partitions=1\n\
         offsets.topic.replication.factor={replication}\n\
         transaction.state.log.replication.factor={replication}\n\
         transaction.state.log.min.isr={min_isr}\n\
         share.coordinator.state.topic.replication.factor={replication}\n\
         share.coordinator.state.topic.min.isr={min_isr}\n\
         group.initial.rebalance.delay.ms=0\n\
         broker.heartbeat.interval.ms=500\n\
         broker.session.timeout.ms=3000\n\
         delete.topic.enable=true\n",
        i + 1,
        voters.join(","),
        dir.join(format!("node-{}", i + 1)).join("data").display()
    )
}

/// Node `i`'s port for the `k`th of [`SECURED_LISTENERS`]: after every
/// node's client and controller ports.
fn secured_port(ports: &Ports, i: usize, n: usize, k: usize) -> u16 {
    ports.0[2 * n + SECURED_LISTENERS.len() * i + k]
}

/// A PEM value on one `.properties` line (`\n` is a line break there).
fn inline_pem(pem: &str) -> String {
    pem.trim_end().replace('\n', "\\n")
}

/// `base` (from [`server_properties`]) with the secured listeners of node
/// `i`: TLS from an inline PEM keystore (an unencrypted PKCS#8 key, which
/// Kafka accepts inline but not from a PEM file), PLAIN and SCRAM on both
/// SASL listeners. Inter-broker and controller traffic stays PLAINTEXT.
fn secured_properties(
    base: &str,
    sec: &LocalSecurity,
    tls: &super::certs::ServerFiles,
    ports: &Ports,
    i: usize,
    n: usize,
) -> anyhow::Result<String> {
    let read = |p: &Path| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
    let (cert, key) = (read(&tls.cert)?, read(&tls.key)?);
    let extra: Vec<String> = (0..SECURED_LISTENERS.len())
        .map(|k| format!("{}://127.0.0.1:{}", SECURED_LISTENERS[k], secured_port(ports, i, n, k)))
        .collect();
    let advertised: Vec<String> = match &sec.advertised {
        None => extra.clone(),
        Some(at) => (0..SECURED_LISTENERS.len())
            .map(|k| match SECURED_LISTENERS[k] {
                "SASL_SSL" => format!("SASL_SSL://{}", at[i]),
                _ => extra[k].clone(),
            })
            .collect(),
    };
    let mut out = String::new();
    for line in base.lines() {
        if line.starts_with("listeners=") {
            out.push_str(&format!("{line},{}\n", extra.join(",")));
        } else if line.starts_with("advertised.listeners=") {
            out.push_str(&format!("{line},{}\n", advertised.join(",")));
        } else if line.starts_with("listener.security.protocol.map=") {
            out.push_str(&format!("{line},SASL_SSL:SASL_SSL,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str("ssl.keystore.type=PEM\n");
    out.push_str(&format!("ssl.keystore.certificate.chain={}\n", inline_pem(&cert)));
    out.push_str(&format!("ssl.keystore.key={}\n", inline_pem(&key)));
    out.push_str("ssl.client.auth=none\n");
    out.push_str("sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER\n");
    let plain_users: String = sec.users.iter().map(|(u, p)| format!(" user_{u}=\"{p}\"")).collect();
    for listener in ["sasl_ssl", "sasl_plaintext"] {
        out.push_str(&format!(
            "listener.name.{listener}.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required{plain_users};\n"
        ));
        for m in ["scram-sha-256", "scram-sha-512"] {
            out.push_str(&format!(
                "listener.name.{listener}.{m}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;\n"
            ));
        }
        // Kafka's default OAUTHBEARER validator takes unsecured (unsigned)
        // tokens: a test setup, never a production one. The subject claim
        // is the broker's own login, which nothing uses (inter-broker
        // traffic is PLAINTEXT).
        out.push_str(&format!(
            "listener.name.{listener}.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"mqbench\";\n"
        ));
    }
    Ok(out)
}

#[async_trait]
impl LocalKind for ApacheKafkaKind {
    fn name(&self) -> &'static str {
        "apache-kafka"
    }

    fn ports_needed(&self) -> usize {
        let per_node = if self.security.is_some() { 2 + SECURED_LISTENERS.len() } else { 2 };
        per_node * self.nodes as usize
    }

    fn launches(&self, dir: &Path, ports: &Ports) -> anyhow::Result<Vec<Launch>> {
        let log4j = dir.join("log4j2.properties");
        std::fs::write(&log4j, LOG4J2).with_context(|| format!("writing {}", log4j.display()))?;
        let classpath = format!("{}/*", self.home.join("libs").display());
        let id = cluster_id();
        let n = self.nodes as usize;
        let tls = match &self.security {
            Some(_) => Some(super::certs::make(dir)?),
            None => None,
        };
        // SCRAM users go into the metadata when the storage is formatted.
        let mut format_args: Vec<String> = Vec::new();
        if let Some(sec) = &self.security {
            for (user, password) in &sec.users {
                for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
                    format_args.push("--add-scram".into());
                    format_args.push(format!("{mechanism}=[name={user},password=\"{password}\"]"));
                }
            }
        }
        let mut launches = Vec::with_capacity(n);
        for i in 0..n {
            let config = dir.join(format!("server-{}.properties", i + 1));
            let mut properties = server_properties(dir, ports, i, n);
            if let (Some(sec), Some(tls)) = (&self.security, &tls) {
                properties = secured_properties(&properties, sec, tls, ports, i, n)?;
            }
            super::write_private(&config, &properties)?;
            // Format the storage, then become the broker: one process group,
            // so a failed format shows in the same log and stops the start.
            let mut command = Command::new("sh");
            command
                .arg("-c")
                .arg(
                    r#"set -e; j="$1"; cp="$2"; id="$3"; cfg="$4"; log="$5"; shift 5
"$j" -Xmx256m -Dlog4j2.configurationFile="$log" -cp "$cp" kafka.tools.StorageTool format -t "$id" -c "$cfg" "$@"
exec "$j" $MQBENCH_KAFKA_JVM_OPTS -Dlog4j2.configurationFile="$log" -cp "$cp" kafka.Kafka "$cfg""#,
                )
                .arg("sh")
                .arg(&self.java)
                .arg(&classpath)
                .arg(&id)
                .arg(&config)
                .arg(&log4j)
                .args(&format_args)
                .env("MQBENCH_KAFKA_JVM_OPTS", JVM_OPTS.join(" "));
            launches.push(Launch { command, log: format!("kafka-node-{}.log", i + 1) });
        }
        Ok(launches)
    }

    fn endpoint(&self, ports: &Ports) -> String {
        let all: Vec<String> =
            (0..self.nodes as usize).map(|i| format!("127.0.0.1:{}", node_ports(ports, i).0)).collect();
        all.join(",")
    }

    fn secured_endpoint(&self, ports: &Ports, security: &Security) -> anyhow::Result<String> {
        let listener = security.protocol().to_ascii_uppercase();
        if listener == "PLAINTEXT" {
            return Ok(self.endpoint(ports));
        }
        let k = SECURED_LISTENERS.iter().position(|l| *l == listener);
        match (k, &self.security) {
            (Some(k), Some(_)) => {
                let n = self.nodes as usize;
                let all: Vec<String> = (0..n).map(|i| format!("127.0.0.1:{}", secured_port(ports, i, n, k))).collect();
                Ok(all.join(","))
            }
            _ => bail!("this local Kafka was started without a {listener} listener"),
        }
    }

    async fn probe(&self, ports: &Ports) -> anyhow::Result<String> {
        // Every node answers, and the cluster's metadata lists them all.
        for i in 0..self.nodes as usize {
            let answer = probe_kafka(node_ports(ports, i).0).await?;
            if answer.brokers < self.nodes {
                bail!("node {} lists {} of the {} brokers", i + 1, answer.brokers, self.nodes);
            }
        }
        Ok(self.software())
    }

    fn ready_timeout(&self) -> Duration {
        // JVMs, storage formatting, then the KRaft quorum electing itself.
        Duration::from_secs(120)
    }

    fn stop_timeout(&self) -> Duration {
        // A node whose peers are gone waits for a controller that will not
        // answer; its data is thrown away, so it need not finish.
        Duration::from_secs(10)
    }

    fn stop_together(&self) -> bool {
        true
    }
}

// ---------------------------------------------------------------------------
// The Kafka-protocol probe.

const API_METADATA: i16 = 3;
const API_VERSIONS: i16 = 18;

/// What a broker's Metadata answer said.
#[derive(Debug, PartialEq)]
pub struct ProbeAnswer {
    pub brokers: u32,
    pub metadata_version: i16,
}

/// Asks the broker on 127.0.0.1:`port` for its API versions, then for
/// cluster metadata; succeeds once it names at least one broker. A process
/// that merely accepts connections (another program on the port) fails.
pub async fn probe_kafka(port: u16) -> anyhow::Result<ProbeAnswer> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
    s.set_nodelay(true)?;
    let versions = exchange(&mut s, API_VERSIONS, 0, 1, &[]).await?;
    let (min, max) = metadata_range(&versions)?;
    // Versions 9 and up use the flexible encoding; 8 and below do not, and
    // every broker still supports one of 4..=8 (Kafka 4 dropped 0..=3).
    let version = max.min(8);
    if version < min {
        bail!("the broker supports Metadata versions {min}..={max} only (flexible encoding)");
    }
    let body = metadata_request(version);
    let answer = exchange(&mut s, API_METADATA, version, 2, &body).await?;
    let brokers = metadata_brokers(&answer, version)?;
    if brokers == 0 {
        bail!("the broker's metadata lists no brokers yet");
    }
    Ok(ProbeAnswer { brokers, metadata_version: version })
}

/// One request-response with request header v1; returns the response body
/// after the correlation id.
async fn exchange(s: &mut TcpStream, api: i16, version: i16, correlation: i32, body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let client = b"mqbench-probe";
    let mut msg = Vec::with_capacity(64 + body.len());
    msg.extend_from_slice(&api.to_be_bytes());
    msg.extend_from_slice(&version.to_be_bytes());
    msg.extend_from_slice(&correlation.to_be_bytes());
    msg.extend_from_slice(&(client.len() as i16).to_be_bytes());
    msg.extend_from_slice(client);
    msg.extend_from_slice(body);
    let mut framed = (msg.len() as i32).to_be_bytes().to_vec();
    framed.extend_from_slice(&msg);
    s.write_all(&framed).await?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.context("the port accepted a connection but closed it without a Kafka answer")?;
    let len = i32::from_be_bytes(len);
    if !(4..=64 << 20).contains(&len) {
        bail!("not a Kafka answer (frame length {len})");
    }
    let mut buf = vec![0u8; len as usize];
    s.read_exact(&mut buf).await?;
    let got = i32::from_be_bytes(buf[..4].try_into().unwrap());
    if got != correlation {
        bail!("not a Kafka answer (correlation id {got}, expected {correlation})");
    }
    Ok(buf.split_off(4))
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> anyhow::Result<[u8; N]> {
        if self.0.len() < N {
            bail!("Kafka answer cut short");
        }
        let (head, rest) = self.0.split_at(N);
        self.0 = rest;
        Ok(head.try_into().unwrap())
    }
    fn i16(&mut self) -> anyhow::Result<i16> {
        Ok(i16::from_be_bytes(self.take()?))
    }
    fn i32(&mut self) -> anyhow::Result<i32> {
        Ok(i32::from_be_bytes(self.take()?))
    }
}

/// The Metadata version range from an ApiVersions v0 answer.
fn metadata_range(body: &[u8]) -> anyhow::Result<(i16, i16)> {
    let mut r = Reader(body);
    let error = r.i16()?;
    if error != 0 {
        bail!("ApiVersions answered with error code {error}");
    }
    let n = r.i32()?;
    for _ in 0..n.max(0) {
        let (key, min, max) = (r.i16()?, r.i16()?, r.i16()?);
        if key == API_METADATA {
            return Ok((min, max));
        }
    }
    bail!("the broker does not list the Metadata API")
}

/// A Metadata request body for all topics (non-flexible versions 0..=8).
fn metadata_request(version: i16) -> Vec<u8> {
    let mut b = Vec::new();
    // Topics: v0 reads an empty array as "all"; v1+ reads null (-1) so.
    b.extend_from_slice(&(if version == 0 { 0i32 } else { -1i32 }).to_be_bytes());
    if version >= 4 {
        b.push(0); // allow_auto_topic_creation
    }
    if version >= 8 {
        b.push(0); // include_cluster_authorized_operations
        b.push(0); // include_topic_authorized_operations
    }
    b
}

/// The number of brokers a Metadata answer lists.
fn metadata_brokers(body: &[u8], version: i16) -> anyhow::Result<u32> {
    let mut r = Reader(body);
    if version >= 3 {
        r.i32()?; // throttle_time_ms
    }
    let n = r.i32()?;
    if n < 0 {
        bail!("bad Metadata answer (broker count {n})");
    }
    Ok(n as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_come_from_the_jars() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            version_from_names(&names(&["kafka_2.13-3.7.0-test.jar", "kafka_2.13-3.7.0.jar", "zstd-jni-1.5.jar"])),
            Some("3.7.0".into())
        );
        assert_eq!(version_from_names(&names(&["kafka-clients-4.0.0.jar"])), Some("4.0.0".into()));
        assert_eq!(version_from_names(&names(&["slf4j-api-1.7.jar"])), None);
    }

    #[test]
    fn properties_name_both_listeners() {
        let p = server_properties(Path::new("/tmp/x"), &Ports(vec![9092, 9093]), 0, 1);
        assert!(p.contains("listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"));
        assert!(p.contains("controller.quorum.voters=1@127.0.0.1:9093\n"));
        assert!(p.contains("log.dirs=/tmp/x/node-1/data"));
        assert!(p.contains("offsets.topic.replication.factor=1\n"));
        assert_eq!(cluster_id().len(), 22);
    }

    #[test]
    fn cluster_ids_never_start_with_a_dash() {
        // About 1 in 64 random ids would; 2,000 draws miss none of them.
        for _ in 0..2000 {
            let id = cluster_id();
            assert!(!id.starts_with('-'), "{id}");
            assert_eq!(id.len(), 22);
        }
    }

    #[test]
    fn cluster_nodes_share_the_voters_and_replicate_internal_topics() {
        let ports = Ports(vec![10, 11, 20, 21, 30, 31]);
        let p = server_properties(Path::new("/tmp/x"), &ports, 1, 3);
        assert!(p.contains("node.id=2\n"));
        assert!(p.contains("controller.quorum.voters=1@127.0.0.1:11,2@127.0.0.1:21,3@127.0.0.1:31\n"));
        assert!(p.contains("listeners=PLAINTEXT://127.0.0.1:20,CONTROLLER://127.0.0.1:21\n"));
        assert!(p.contains("log.dirs=/tmp/x/node-2/data"));
        assert!(p.contains("offsets.topic.replication.factor=3\n"));
        assert!(p.contains("transaction.state.log.min.isr=2\n"));
    }

    #[test]
    fn metadata_answers_are_read() {
        // ApiVersions v0: no error, two APIs, Metadata 0..=12.
        let mut v = vec![0, 0, 0, 0, 0, 2];
        v.extend_from_slice(&[0, 0, 0, 0, 0, 9, 0, 3, 0, 0, 0, 12]);
        assert_eq!(metadata_range(&v).unwrap(), (0, 12));
        assert!(metadata_range(&[0, 35, 0, 0, 0, 0]).is_err());
        // Metadata v8: throttle, one broker, ...
        let m = [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1];
        assert_eq!(metadata_brokers(&m, 8).unwrap(), 1);
        assert_eq!(metadata_request(8).len(), 7);
    }

    #[tokio::test]
    async fn a_silent_listener_is_not_a_kafka_broker() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                drop(s);
            }
        });
        assert!(probe_kafka(port).await.is_err());
    }
}
