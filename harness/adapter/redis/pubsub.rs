//! Mode `pubsub`: PUBLISH to one channel per partition; each subscription
//! is one subscriber connection on every channel. At-most-once: what a
//! subscriber misses (not yet subscribed, cut off at the output-buffer
//! limit) is lost, and the run reports it.

use super::conn;
use super::{partition_keys, Stats};
use crate::adapter::{Ack, Consumer, Delivery, OutMessage, Producer, Topology};
use anyhow::{anyhow, bail, Context};
use async_trait::async_trait;
use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use redis::aio::MultiplexedConnection;
use redis::Value;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Most messages one `recv` hands over.
const MAX_TAKE: usize = 4096;

/// Channels need no setup; the topology is checked.
pub fn prepare(t: &Topology) -> anyhow::Result<()> {
    if t.consumers > 1 {
        bail!(
            "redis mode `pubsub` gives every subscriber every message, so {} consumers cannot share one \
             subscription: set `consumers: 1` (and `subscriptions: N` for N subscribers), or use mode `streams` or `list`",
            t.consumers
        );
    }
    Ok(())
}

pub struct PubProducer {
    connection: MultiplexedConnection,
    channels: Vec<String>,
    stats: Arc<Stats>,
    subscribers: i64,
}

impl PubProducer {
    pub fn new(connection: MultiplexedConnection, t: &Topology, stats: Arc<Stats>) -> PubProducer {
        PubProducer {
            connection,
            channels: partition_keys(&t.topic, t.partitions),
            stats,
            subscribers: t.subscriptions.len() as i64,
        }
    }
}

#[async_trait]
impl Producer for PubProducer {
    async fn send(&mut self, batch: &[OutMessage], acks: &mut Vec<Ack>) -> anyhow::Result<()> {
        let mut pipe = redis::Pipeline::with_capacity(batch.len());
        for m in batch {
            let channel = &self.channels[(m.seq % self.channels.len() as u64) as usize];
            pipe.cmd("PUBLISH").arg(channel).arg(&m.payload[..]);
        }
        self.stats.pipelines.fetch_add(1, Ordering::Relaxed);
        self.stats.commands.fetch_add(batch.len() as u64, Ordering::Relaxed);
        let replies = conn::submit(&self.connection, pipe, batch.len()).await;
        let (stats, expected) = (self.stats.clone(), self.subscribers);
        acks.push(Ack::pending(batch.len(), async move {
            let values = replies.await.map_err(|e| format!("redis: {e}"))?;
            if let Some(e) = conn::first_error(&values) {
                return Err(e);
            }
            // PUBLISH answers how many subscribers got the message.
            let short = values.iter().filter(|v| matches!(v, Value::Int(n) if *n < expected)).count();
            stats.short_publishes.fetch_add(short as u64, Ordering::Relaxed);
            Ok(())
        }));
        Ok(())
    }
}

pub struct SubConsumer {
    pubsub: Option<redis::aio::PubSub>,
    messages: Option<redis::aio::PubSubStream>,
    channels: Vec<String>,
    stats: Arc<Stats>,
}

impl SubConsumer {
    pub async fn new(client: &redis::Client, t: &Topology, stats: Arc<Stats>) -> anyhow::Result<SubConsumer> {
        let pubsub = client.get_async_pubsub().await.context("opening a subscriber connection")?;
        Ok(SubConsumer {
            pubsub: Some(pubsub),
            messages: None,
            channels: partition_keys(&t.topic, t.partitions),
            stats,
        })
    }
}

#[async_trait]
impl Consumer for SubConsumer {
    /// Returns once the server has confirmed every SUBSCRIBE, so no message
    /// published from now on is missed.
    async fn ready(&mut self) -> anyhow::Result<()> {
        let mut pubsub = self.pubsub.take().ok_or_else(|| anyhow!("subscriber already started"))?;
        for channel in &self.channels {
            pubsub.subscribe(channel).await.with_context(|| format!("SUBSCRIBE {channel}"))?;
        }
        self.messages = Some(pubsub.into_on_message());
        Ok(())
    }

    async fn recv(&mut self, out: &mut Vec<Delivery>) -> anyhow::Result<()> {
        let messages = self.messages.as_mut().ok_or_else(|| anyhow!("recv before ready"))?;
        let first = messages.next().await.ok_or_else(|| {
            anyhow!("the server closed the subscriber connection (a slow subscriber is cut off at `client-output-buffer-limit pubsub`)")
        })?;
        self.stats.reads.fetch_add(1, Ordering::Relaxed);
        let channels = &self.channels;
        let delivery = |m: redis::Msg| {
            let partition = channels.iter().position(|c| c == m.get_channel_name()).unwrap_or(0) as u32;
            Delivery { payload: Bytes::copy_from_slice(m.get_payload_bytes()), partition }
        };
        out.push(delivery(first));
        while out.len() < MAX_TAKE {
            match messages.next().now_or_never() {
                Some(Some(m)) => out.push(delivery(m)),
                _ => break,
            }
        }
        Ok(())
    }
}
