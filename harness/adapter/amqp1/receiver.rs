//! The consumer: one connection, one session and one receiver link that
//! keeps `credit` topped up, accepting what it takes as soon as it has it.

use super::link::{Conn, CLOSE_TIMEOUT};
use crate::adapter::{Consumer, Delivery};
use anyhow::anyhow;
use async_trait::async_trait;
use bytes::Bytes;
use fe2o3_amqp::types::messaging::Body;
use fe2o3_amqp::types::primitives::Value;
use fe2o3_amqp::Receiver;
use futures::FutureExt;

/// Most deliveries taken (and accepted in one go) per `recv`.
const MAX_TAKE: usize = 1024;

pub struct AmqpConsumer {
    pub conn: Option<Conn>,
    pub receiver: Option<Receiver>,
    /// End the link with a non-closing detach (RabbitMQ) rather than close.
    pub detach: bool,
}

/// The body bytes of a message: a single data section as sent by mqbench.
/// Anything else yields empty bytes, which the runner counts as foreign.
fn payload(body: Body<Value>) -> Bytes {
    match body {
        Body::Data(sections) => {
            let mut sections = sections.into_inner();
            if sections.len() == 1 {
                Bytes::from(sections.pop().map(|d| d.0.into_vec()).unwrap_or_default())
            } else {
                Bytes::from(sections.into_iter().flat_map(|d| d.0.into_vec()).collect::<Vec<u8>>())
            }
        }
        Body::Value(v) => match v.0 {
            Value::Binary(b) => Bytes::from(b.into_vec()),
            _ => Bytes::new(),
        },
        _ => Bytes::new(),
    }
}

#[async_trait]
impl Consumer for AmqpConsumer {
    async fn recv(&mut self, out: &mut Vec<Delivery>) -> anyhow::Result<()> {
        let receiver = self.receiver.as_mut().ok_or_else(|| anyhow!("the receiver link is closed"))?;
        let first = receiver.recv::<Body<Value>>().await.map_err(|e| anyhow!("receiving on the AMQP 1.0 link: {e}"))?;
        let mut infos = Vec::with_capacity(64);
        let (info, message) = first.into_parts();
        infos.push(info);
        out.push(Delivery { payload: payload(message.body), partition: 0 });
        // Take what is already buffered without waiting (recv is cancel-safe).
        while infos.len() < MAX_TAKE {
            match receiver.recv::<Body<Value>>().now_or_never() {
                Some(Ok(d)) => {
                    let (info, message) = d.into_parts();
                    infos.push(info);
                    out.push(Delivery { payload: payload(message.body), partition: 0 });
                }
                Some(Err(e)) => return Err(anyhow!("receiving on the AMQP 1.0 link: {e}")),
                None => break,
            }
        }
        // Pre-settled deliveries are not in the unsettled map and are skipped.
        receiver.accept_all(infos).await.map_err(|e| anyhow!("accepting deliveries: {e}"))?;
        Ok(())
    }

    async fn close(mut self: Box<Self>) -> anyhow::Result<()> {
        if let Some(receiver) = self.receiver.take() {
            if self.detach {
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, receiver.detach()).await;
            } else {
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, receiver.close()).await;
            }
        }
        if let Some(conn) = self.conn.take() {
            conn.close().await;
        }
        Ok(())
    }
}
