//! A consumer: one channel (on its own connection unless shared)
//! consuming its subscription's queue, which it shares with the other
//! consumers of that subscription.
//!
//! With manual acks, each batch taken from lapin is acknowledged by one
//! `basic.ack` with `multiple` on its last delivery tag: one frame per batch
//! instead of one per message, as RabbitMQ's own clients do.

use super::Stats;
use crate::adapter::{Consumer, Delivery};
use async_trait::async_trait;
use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use lapin::acker::Acker;
use lapin::options::BasicAckOptions;
use lapin::{Channel, Connection};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Most deliveries handed to the runner at once.
const MAX_BATCH: usize = 4096;

pub struct RabbitConsumer {
    connection: Option<Connection>,
    channel: Channel,
    consumer: lapin::Consumer,
    manual_ack: bool,
    stats: Arc<Stats>,
}

impl RabbitConsumer {
    pub fn new(
        connection: Option<Connection>,
        channel: Channel,
        consumer: lapin::Consumer,
        manual_ack: bool,
        stats: Arc<Stats>,
    ) -> RabbitConsumer {
        RabbitConsumer { connection, channel, consumer, manual_ack, stats }
    }

    /// Adds one delivery; returns its acker.
    fn take(&self, d: lapin::message::Delivery, out: &mut Vec<Delivery>) -> Acker {
        if d.redelivered {
            self.stats.redelivered.fetch_add(1, Ordering::Relaxed);
        }
        out.push(Delivery { payload: Bytes::from(d.data), partition: 0 });
        d.acker
    }
}

#[async_trait]
impl Consumer for RabbitConsumer {
    async fn recv(&mut self, out: &mut Vec<Delivery>) -> anyhow::Result<()> {
        let first = match self.consumer.next().await {
            Some(Ok(d)) => d,
            Some(Err(e)) => anyhow::bail!("consume: {e}"),
            None => anyhow::bail!("the broker cancelled the consumer (queue deleted?)"),
        };
        let start = out.len();
        let mut last = self.take(first, out);
        while out.len() - start < MAX_BATCH {
            match self.consumer.next().now_or_never() {
                Some(Some(Ok(d))) => last = self.take(d, out),
                Some(Some(Err(e))) => anyhow::bail!("consume: {e}"),
                _ => break,
            }
        }
        self.stats.delivered.fetch_add((out.len() - start) as u64, Ordering::Relaxed);
        if self.manual_ack {
            last.ack(BasicAckOptions { multiple: true }).await.map_err(|e| anyhow::anyhow!("ack: {e}"))?;
            self.stats.ack_frames.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn close(self: Box<Self>) -> anyhow::Result<()> {
        let _ = self.channel.close(200, "mqbench consumer done").await;
        if let Some(c) = self.connection {
            let _ = c.close(200, "mqbench consumer done").await;
        }
        Ok(())
    }
}
