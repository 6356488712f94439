//! A producer: one channel (on its own connection unless shared), in
//! confirm mode when `confirms` is on.
//!
//! Publishes are pipelined. lapin's `basic_publish` registers the message's
//! confirm and queues its frames on the first poll, then waits for its I/O
//! thread to write them; awaiting each publish in turn would cost a thread
//! hand-off per message. Instead [`RabbitProducer::send`] polls each
//! publish once, in order (so delivery tags and wire order follow sequence
//! numbers), and hands the rest of the future to the runner as that
//! message's acknowledgement. With confirms it resolves at the broker's
//! `basic.ack` (or `basic.nack`); without, once the frames are written to
//! the socket.
//!
//! Stamps: the runner reads a batch's send time just before `send`, and
//! stamps each message's acknowledgement when that future resolves, which
//! lapin's I/O thread wakes on the `basic.ack` (or on the write, without
//! confirms); the runner polls the futures while a later `send` is under
//! way too.

use super::Stats;
use crate::adapter::{Ack, OutMessage, Producer, SendError};
use async_trait::async_trait;
use bytes::Bytes;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::publisher_confirm::Confirmation;
use lapin::{BasicProperties, Channel, Connection};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;

/// AMQP delivery modes.
const TRANSIENT: u8 = 1;
const PERSISTENT: u8 = 2;

pub struct RabbitProducer {
    /// Owned when the producer has its own connection.
    connection: Option<Connection>,
    channel: Arc<Channel>,
    target: Arc<Target>,
}

/// Where and how every message of this producer goes.
struct Target {
    exchange: String,
    routing_key: String,
    properties: BasicProperties,
    options: BasicPublishOptions,
    stats: Arc<Stats>,
}

impl RabbitProducer {
    pub async fn new(
        connection: Option<Connection>,
        channel: Channel,
        exchange: String,
        routing_key: String,
        confirms: bool,
        persistent: bool,
        stats: Arc<Stats>,
    ) -> anyhow::Result<RabbitProducer> {
        if confirms {
            channel.confirm_select(ConfirmSelectOptions::default()).await?;
        }
        let properties = BasicProperties::default().with_delivery_mode(if persistent { PERSISTENT } else { TRANSIENT });
        // With confirms, an unroutable message comes back (basic.return
        // before its ack) and is counted as failed rather than acked and
        // silently lost; without confirms nobody would wait for the return.
        let options = BasicPublishOptions { mandatory: confirms, immediate: false };
        Ok(RabbitProducer {
            connection,
            channel: Arc::new(channel),
            target: Arc::new(Target { exchange, routing_key, properties, options, stats }),
        })
    }
}

/// Publishes one message; resolves when the broker (or the socket) has it.
async fn publish(channel: Arc<Channel>, target: Arc<Target>, payload: Bytes) -> Result<(), SendError> {
    let t = &*target;
    let confirm = channel
        .basic_publish(&t.exchange, &t.routing_key, t.options, &payload, t.properties.clone())
        .await
        .map_err(|e| format!("publish: {e}"))?;
    match confirm.await {
        Ok(Confirmation::Ack(None)) | Ok(Confirmation::NotRequested) => Ok(()),
        Ok(Confirmation::Ack(Some(returned))) => {
            t.stats.returned.fetch_add(1, Ordering::Relaxed);
            Err(format!("returned by the broker: {} ({})", returned.reply_text, returned.reply_code))
        }
        Ok(Confirmation::Nack(_)) => {
            t.stats.nacked.fetch_add(1, Ordering::Relaxed);
            Err("nacked by the broker".into())
        }
        Err(e) => Err(format!("confirm: {e}")),
    }
}

#[async_trait]
impl Producer for RabbitProducer {
    async fn send(&mut self, batch: &[OutMessage], acks: &mut Vec<Ack>) -> anyhow::Result<()> {
        if !self.channel.status().connected() {
            anyhow::bail!("the channel is closed ({:?})", self.channel.status().state());
        }
        for m in batch {
            let mut fut = Box::pin(publish(self.channel.clone(), self.target.clone(), m.payload.clone()));
            // The first poll takes the delivery tag and queues the frames.
            match futures::poll!(fut.as_mut()) {
                Poll::Ready(r) => acks.push(Ack { messages: 1, state: crate::adapter::AckState::Done(r) }),
                Poll::Pending => acks.push(Ack::pending(1, fut)),
            }
        }
        self.target.stats.published.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        // Every publish is already queued for lapin's I/O thread, and its
        // acknowledgement is what the runner waits for.
        Ok(())
    }

    async fn close(self: Box<Self>) -> anyhow::Result<()> {
        let _ = self.channel.close(200, "mqbench producer done").await;
        if let Some(c) = self.connection {
            let _ = c.close(200, "mqbench producer done").await;
        }
        Ok(())
    }
}
