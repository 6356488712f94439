//! Local Apache Kafka: one KRaft node (broker and controller in one JVM),
//! formatted in the instance's fresh directory, for users who have Kafka
//! installed (`KAFKA_HOME`, or `kafka-server-start.sh` on PATH). Chosen with
//! the kafka adapter's option `local_broker: apache-kafka`.
//!
//! Kafka cannot be installed on the machines this project's CI uses (no
//! JVM distribution in its package sources), so this kind is exercised by
//! its unit tests only; see README "Kafka".
//!
//! Also home of [`probe_kafka`], the hand-written Kafka-protocol readiness
//! probe shared with tansu: provisioning must not depend on the kafka
//! adapter's cargo feature (librdkafka).

use super::process::find_program;
use super::{Launch, LocalKind, Ports};
use anyhow::{anyhow, bail, Context};
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct ApacheKafkaKind {
    /// The `bin` directory holding `kafka-server-start.sh` and
    /// `kafka-storage.sh`.
    bin: PathBuf,
    version: Option<String>,
}

impl ApacheKafkaKind {
    pub fn new() -> anyhow::Result<ApacheKafkaKind> {
        let hint = "install Apache Kafka (https://kafka.apache.org/downloads, needs a JVM) and set KAFKA_HOME, \
                    or use the default local broker tansu (`local_broker: tansu`)";
        let start = match std::env::var_os("KAFKA_HOME") {
            Some(home) => {
                let p = PathBuf::from(home).join("bin/kafka-server-start.sh");
                if !p.is_file() {
                    bail!("KAFKA_HOME is set but {} does not exist: {hint}", p.display());
                }
                p
            }
            None => find_program("kafka-server-start.sh", &[], hint)?,
        };
        let bin = start.parent().map(Path::to_path_buf).ok_or_else(|| anyhow!("no bin directory"))?;
        let version = bin.parent().and_then(|home| version_from_libs(&home.join("libs")));
        Ok(ApacheKafkaKind { bin, version })
    }

    /// `apache kafka 3.7.0`, from the installed jars.
    pub fn software(&self) -> String {
        match &self.version {
            Some(v) => format!("apache kafka {v}"),
            None => "apache kafka (version unknown)".into(),
        }
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
fn cluster_id() -> String {
    use base64::Engine;
    let bytes: [u8; 16] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `server.properties` for a single combined node on 127.0.0.1.
pub fn server_properties(dir: &Path, port: u16, controller_port: u16) -> String {
    format!(
        "process.roles=broker,controller\n\
         node.id=1\n\
         controller.quorum.voters=1@127.0.0.1:{controller_port}\n\
         listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}\n\
         advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n\
         controller.listener.names=CONTROLLER\n\
         inter.broker.listener.name=PLAINTEXT\n\
         listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n\
         log.dirs={}\n\
         num.partitions=1\n\
         offsets.topic.replication.factor=1\n\
         transaction.state.log.replication.factor=1\n\
         transaction.state.log.min.isr=1\n\
         group.initial.rebalance.delay.ms=0\n\
         delete.topic.enable=true\n",
        dir.join("data").display()
    )
}

#[async_trait]
impl LocalKind for ApacheKafkaKind {
    fn name(&self) -> &'static str {
        "apache-kafka"
    }

    fn ports_needed(&self) -> usize {
        2
    }

    fn launches(&self, dir: &Path, ports: &Ports) -> anyhow::Result<Vec<Launch>> {
        let config = dir.join("server.properties");
        std::fs::write(&config, server_properties(dir, ports.main(), ports.0[1]))
            .with_context(|| format!("writing {}", config.display()))?;
        // Format the storage, then become the broker: one process group, so
        // a failed format shows in the same log and stops the start.
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(r#"set -e; "$1/kafka-storage.sh" format -t "$2" -c "$3"; exec "$1/kafka-server-start.sh" "$3""#)
            .arg("sh")
            .arg(&self.bin)
            .arg(cluster_id())
            .arg(&config)
            .env("LOG_DIR", dir.join("logs"));
        Ok(vec![Launch { command, log: "kafka.log".into() }])
    }

    fn endpoint(&self, ports: &Ports) -> String {
        format!("127.0.0.1:{}", ports.main())
    }

    async fn probe(&self, ports: &Ports) -> anyhow::Result<String> {
        probe_kafka(ports.main()).await?;
        Ok(self.software())
    }

    fn ready_timeout(&self) -> Duration {
        // A JVM, storage formatting, then the KRaft quorum electing itself.
        Duration::from_secs(120)
    }

    fn stop_timeout(&self) -> Duration {
        Duration::from_secs(30)
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
        let p = server_properties(Path::new("/tmp/x"), 9092, 9093);
        assert!(p.contains("listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"));
        assert!(p.contains("controller.quorum.voters=1@127.0.0.1:9093"));
        assert!(p.contains("log.dirs=/tmp/x/data"));
        assert_eq!(cluster_id().len(), 22);
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
