//! Which broker answers: RabbitMQ names its product and version in the
//! server properties of Connection.Start, the first frame it sends after
//! the AMQP 0.9.1 protocol header. lapin reads that frame but keeps the
//! properties to itself, so a short first connection sends the header,
//! parses the frame with amq-protocol and hangs up before logging in.
//!
//! The same probe tells local provisioning that a broker is ready: only a
//! broker that really speaks AMQP answers it.

use super::endpoint::Endpoint;
use amq_protocol::frame::{parse_frame, AMQPFrame};
use amq_protocol::protocol::{connection, AMQPClass};
use amq_protocol::tcp::AMQPUriTcpExt;
use amq_protocol::types::FieldTable;
use std::io::{Read, Write};
use std::time::Duration;

/// The AMQP 0.9.1 protocol header.
const HEADER: &[u8] = b"AMQP\x00\x00\x09\x01";
/// A frame's type, channel and size come first; a frame-end octet last.
const FRAME_HEAD: usize = 7;
/// Connection.Start is a few hundred bytes: anything far larger is not it.
const MAX_START_FRAME: usize = 64 << 10;

/// What the broker says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerInfo {
    /// `RabbitMQ`
    pub product: String,
    /// `3.10.8`
    pub version: String,
    /// `Erlang/OTP 25.2.3`
    pub platform: Option<String>,
}

impl ServerInfo {
    /// `RabbitMQ 3.10.8`
    pub fn software(&self) -> String {
        format!("{} {}", self.product, self.version)
    }
}

/// Connects to `endpoint` (TCP or TLS), sends the protocol header and
/// reads Connection.Start, all within `timeout`.
pub async fn probe(endpoint: &Endpoint, timeout: Duration) -> anyhow::Result<ServerInfo> {
    let addr = format!("{}:{}", endpoint.uri.authority.host, endpoint.uri.authority.port);
    match tokio::time::timeout(timeout, exchange(endpoint)).await {
        Ok(Ok(frame)) => parse_start(&frame),
        Ok(Err(e)) => Err(anyhow::anyhow!("AMQP handshake with {addr}: {e}")),
        Err(_) => anyhow::bail!("AMQP handshake with {addr}: no Connection.Start within {timeout:?}"),
    }
}

/// Sends the header; returns the first frame the broker sends back, whole.
async fn exchange(endpoint: &Endpoint) -> std::io::Result<Vec<u8>> {
    if endpoint.tls() {
        // amq-protocol's TLS connector is blocking: run it off the runtime
        // (the caller's timeout bounds the wait).
        let (uri, tls) = (endpoint.uri.clone(), endpoint.tls.clone());
        return tokio::task::spawn_blocking(move || {
            let config = tls.config();
            let mut stream =
                uri.connect_with_config(config.as_ref()).map_err(|e| std::io::Error::other(e.to_string()))?;
            stream.set_nonblocking(false)?;
            read_start(&mut stream)
        })
        .await
        .map_err(std::io::Error::other)?;
    }
    let (host, port) = endpoint.host_port();
    let mut stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?.into_std()?;
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    tokio::task::spawn_blocking(move || read_start(&mut stream)).await.map_err(std::io::Error::other)?
}

/// Writes the header and reads one frame, blocking.
fn read_start(stream: &mut (impl Read + Write)) -> std::io::Result<Vec<u8>> {
    stream.write_all(HEADER)?;
    stream.flush()?;
    let mut frame = vec![0u8; FRAME_HEAD];
    stream.read_exact(&mut frame)?;
    if frame.starts_with(b"AMQP") {
        // A protocol header back means "I speak another version".
        let mut rest = [0u8; 1];
        stream.read_exact(&mut rest)?;
        frame.extend_from_slice(&rest);
        return Ok(frame);
    }
    let size = u32::from_be_bytes([frame[3], frame[4], frame[5], frame[6]]) as usize;
    if size > MAX_START_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("first frame claims {size} bytes: not an AMQP 0.9.1 broker"),
        ));
    }
    frame.resize(FRAME_HEAD + size + 1, 0);
    stream.read_exact(&mut frame[FRAME_HEAD..])?;
    Ok(frame)
}

/// Extracts product and version from a Connection.Start frame.
pub fn parse_start(frame: &[u8]) -> anyhow::Result<ServerInfo> {
    if let Some(version) = frame.strip_prefix(b"AMQP") {
        anyhow::bail!(
            "the broker does not speak AMQP 0.9.1: it answered with the protocol header for version {:?} \
             (an AMQP 1.0 endpoint? use an `amqp1`-kind adapter)",
            version
        );
    }
    let (_, parsed) = parse_frame(frame).map_err(|e| anyhow::anyhow!("malformed first frame from the broker: {e}"))?;
    match parsed {
        AMQPFrame::Method(0, AMQPClass::Connection(connection::AMQPMethod::Start(start))) => {
            let props = &start.server_properties;
            Ok(ServerInfo {
                product: text(props, "product").unwrap_or_else(|| "unknown AMQP 0.9.1 broker".into()),
                version: text(props, "version").unwrap_or_else(|| "(version not reported)".into()),
                platform: text(props, "platform"),
            })
        }
        other => anyhow::bail!("expected Connection.Start from the broker, got {other:?}"),
    }
}

fn text(table: &FieldTable, key: &str) -> Option<String> {
    let v = table.inner().get(key)?;
    v.as_long_string()
        .map(|s| String::from_utf8_lossy(s.as_bytes()).into_owned())
        .or_else(|| v.as_short_string().map(|s| s.as_str().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use amq_protocol::frame::{gen_frame, WriteContext};
    use amq_protocol::types::{AMQPValue, LongString};

    fn start_frame(props: FieldTable) -> Vec<u8> {
        let start = connection::Start {
            version_major: 0,
            version_minor: 9,
            server_properties: props,
            mechanisms: LongString::from("PLAIN AMQPLAIN"),
            locales: LongString::from("en_US"),
        };
        let frame = AMQPFrame::Method(0, AMQPClass::Connection(connection::AMQPMethod::Start(start)));
        let bytes = gen_frame(&frame)(WriteContext::from(Vec::new())).unwrap().write;
        bytes
    }

    #[test]
    fn reads_product_and_version() {
        let mut props = FieldTable::default();
        props.insert("product".into(), AMQPValue::LongString("RabbitMQ".into()));
        props.insert("version".into(), AMQPValue::LongString("3.10.8".into()));
        props.insert("platform".into(), AMQPValue::LongString("Erlang/OTP 25.2.3".into()));
        let info = parse_start(&start_frame(props)).unwrap();
        assert_eq!(info.software(), "RabbitMQ 3.10.8");
        assert_eq!(info.platform.as_deref(), Some("Erlang/OTP 25.2.3"));
    }

    #[test]
    fn other_protocols_are_named() {
        let e = parse_start(b"AMQP\x00\x01\x00\x00").unwrap_err().to_string();
        assert!(e.contains("does not speak AMQP 0.9.1"), "{e}");
        assert!(parse_start(b"\x01\x00").is_err());
    }
}
