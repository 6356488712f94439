//! Reads the broker's name and version from its Open frame.
//!
//! fe2o3-amqp does not expose the remote Open performative, so the adapter's
//! first (short) connection runs over [`Recording`], a socket wrapper that
//! keeps a copy of the first bytes the broker sends. Those bytes are the
//! protocol headers, the SASL frames and then the broker's Open, whose
//! `properties` carry `product` and `version` (`RabbitMQ` `3.10.8`,
//! `ActiveMQ` `5.17.2`, `apache-activemq-artemis` ...). [`software`] walks
//! the frames and decodes the Open with `serde_amqp`.

use fe2o3_amqp::types::performatives::Open;
use fe2o3_amqp::types::primitives::{Symbol, Value};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Most bytes kept: the Open comes within the first few hundred.
const KEEP: usize = 64 * 1024;

/// A stream that records the first [`KEEP`] bytes read from it.
#[derive(Debug)]
pub struct Recording<S> {
    inner: S,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl<S> Recording<S> {
    pub fn new(inner: S) -> (Recording<S>, Arc<Mutex<Vec<u8>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        (Recording { inner, seen: seen.clone() }, seen)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recording<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &r {
            let mut seen = self.seen.lock().unwrap();
            let room = KEEP.saturating_sub(seen.len());
            let new = &buf.filled()[before..];
            seen.extend_from_slice(&new[..new.len().min(room)]);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recording<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The first Open performative in `bytes` (a broker's opening bytes).
pub fn find_open(bytes: &[u8]) -> Option<Open> {
    let mut rest = bytes;
    loop {
        if rest.starts_with(b"AMQP") {
            rest = rest.get(8..)?;
            continue;
        }
        let size = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let (doff, frame_type) = (*rest.get(4)? as usize * 4, *rest.get(5)?);
        let frame = rest.get(..size)?;
        // Type 0 is an AMQP frame; SASL frames (type 1) come before it.
        if frame_type == 0 && size > doff {
            return serde_amqp::from_slice::<Open>(frame.get(doff..)?).ok();
        }
        rest = rest.get(size.max(8)..)?;
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Symbol(s) => Some(s.0.clone()),
        _ => None,
    }
}

/// `product version` from the Open's properties, or an honest fallback.
pub fn software(open: Option<&Open>) -> String {
    let Some(open) = open else {
        return "unknown (no Open frame seen from the broker)".into();
    };
    let prop = |key: &str| open.properties.as_ref().and_then(|p| p.get(&Symbol::from(key))).and_then(text);
    match (prop("product"), prop("version")) {
        (Some(p), Some(v)) => format!("{p} {v}"),
        (Some(p), None) => format!("{p} (version not reported)"),
        _ => format!("unknown (the broker's Open names no product; container-id `{}`)", open.container_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fe2o3_amqp::types::definitions::Fields;

    fn frame(frame_type: u8, body: &[u8]) -> Vec<u8> {
        let mut f = ((8 + body.len()) as u32).to_be_bytes().to_vec();
        f.extend_from_slice(&[2, frame_type, 0, 0]);
        f.extend_from_slice(body);
        f
    }

    fn open_with(props: &[(&str, &str)]) -> Open {
        let mut fields = Fields::new();
        for (k, v) in props {
            fields.insert(Symbol::from(*k), Value::String(v.to_string()));
        }
        Open {
            container_id: "broker-1".into(),
            hostname: None,
            max_frame_size: Default::default(),
            channel_max: Default::default(),
            idle_time_out: None,
            outgoing_locales: None,
            incoming_locales: None,
            offered_capabilities: None,
            desired_capabilities: None,
            properties: if props.is_empty() { None } else { Some(fields) },
        }
    }

    #[test]
    fn reads_product_and_version_after_sasl() {
        let open = open_with(&[("product", "RabbitMQ"), ("version", "3.10.8")]);
        let mut bytes = b"AMQP\x03\x01\x00\x00".to_vec();
        bytes.extend(frame(1, &[0x00, 0x53, 0x40, 0x45])); // a SASL frame
        bytes.extend_from_slice(b"AMQP\x00\x01\x00\x00");
        bytes.extend(frame(0, &serde_amqp::to_vec(&open).unwrap()));
        bytes.extend(frame(0, &[0x00, 0x53, 0x11])); // what follows is ignored
        let found = find_open(&bytes);
        assert_eq!(software(found.as_ref()), "RabbitMQ 3.10.8");
    }

    #[test]
    fn falls_back_honestly() {
        assert!(software(None).starts_with("unknown"));
        let bare = open_with(&[]);
        assert!(software(Some(&bare)).contains("broker-1"));
        assert_eq!(find_open(b"AMQP\x00\x01\x00\x00\x00\x00"), None);
    }
}
