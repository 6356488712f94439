//! Mode `list`: LPUSH and pop from the right, so each list is FIFO. A
//! popped element is gone, so every subscription has its own lists (one per
//! partition) and a producer pushes each message to every subscription;
//! consumers of one subscription compete for its lists. Consumers pop many
//! elements per call with `BLMPOP` (Redis 7), else one with `BRPOP`.
//!
//! A consumer keeps a second pop waiting at the server while it handles
//! the reply of the first, as mode `streams` keeps a second read: a message
//! that arrives while a reply and the next request are on the wire would
//! otherwise wait for them. (A popped element is gone from the list, but
//! a reply is always read before the consumer stops; when it stops at the
//! deadline, what the waiting pop takes is lost either way.)

use super::conn::{self, text};
use super::{Options, Stats};
use crate::adapter::{Ack, Consumer, Delivery, OutMessage, Producer, Topology};
use anyhow::{bail, Context};
use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;
use redis::aio::MultiplexedConnection;
use redis::Value;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Pops a consumer keeps at the server.
const POPS_AHEAD: usize = 2;

/// How long one blocking pop waits on empty lists (seconds).
const BLOCK_S: f64 = 1.0;

/// The lists of subscription `s`, one per partition.
fn keys_of(t: &Topology, s: usize) -> Vec<String> {
    (0..t.partitions.max(1)).map(|p| format!("{}-s{s}-{p}", t.topic)).collect()
}

/// Every list of a point (for cleanup).
pub fn all_keys(t: &Topology) -> Vec<String> {
    (0..t.subscriptions.len()).flat_map(|s| keys_of(t, s)).collect()
}

pub struct ListProducer {
    out: conn::Out,
    /// Per subscription, per partition.
    keys: Vec<Vec<String>>,
    stats: Arc<Stats>,
}

impl ListProducer {
    pub fn new(out: conn::Out, t: &Topology, stats: Arc<Stats>) -> ListProducer {
        ListProducer { out, keys: (0..t.subscriptions.len()).map(|s| keys_of(t, s)).collect(), stats }
    }
}

#[async_trait]
impl Producer for ListProducer {
    /// One LPUSH per list with the batch's messages for it, in order (LPUSH
    /// of several values pushes them left one after another, so popping
    /// from the right returns them in the order given).
    async fn send(&mut self, batch: &[OutMessage], acks: &mut Vec<Ack>) -> anyhow::Result<()> {
        let partitions = self.keys.first().map(|k| k.len()).unwrap_or(1) as u64;
        let mut groups: Vec<(usize, Vec<&[u8]>)> = Vec::new();
        for p in 0..partitions {
            let values: Vec<&[u8]> = batch.iter().filter(|m| m.seq % partitions == p).map(|m| &m.payload[..]).collect();
            if !values.is_empty() {
                groups.push((p as usize, values));
            }
        }
        let keys = &self.keys;
        let build = |cmd: &mut dyn FnMut(&[&[u8]])| {
            for (p, values) in &groups {
                for subscription in keys {
                    let mut args: Vec<&[u8]> = Vec::with_capacity(values.len() + 2);
                    args.push(b"LPUSH");
                    args.push(subscription[*p].as_bytes());
                    args.extend_from_slice(values);
                    cmd(&args);
                }
            }
        };
        let commands = groups.len() * keys.len();
        self.out.send(commands, batch.len(), &self.stats, false, build, acks).await?;
        Ok(())
    }
}

pub struct ListConsumer {
    connection: MultiplexedConnection,
    keys: Vec<String>,
    count: usize,
    blmpop: bool,
    /// Rotates the key order so no partition is always served first.
    turn: usize,
    /// Replies of the pops sent, oldest first.
    ahead: VecDeque<BoxFuture<'static, redis::RedisResult<Vec<Value>>>>,
    stats: Arc<Stats>,
}

impl ListConsumer {
    pub fn new(
        connection: MultiplexedConnection,
        t: &Topology,
        subscription: u32,
        o: &Options,
        blmpop: bool,
        stats: Arc<Stats>,
    ) -> ListConsumer {
        ListConsumer {
            connection,
            keys: keys_of(t, subscription as usize),
            count: o.read_count,
            blmpop,
            turn: 0,
            ahead: VecDeque::new(),
            stats,
        }
    }

    /// The next pop over every list, starting from the next one in turn.
    fn pop_command(&mut self) -> redis::Cmd {
        let n = self.keys.len();
        let order: Vec<&String> = (0..n).map(|i| &self.keys[(i + self.turn) % n]).collect();
        self.turn = (self.turn + 1) % n;
        if self.blmpop {
            let mut c = redis::cmd("BLMPOP");
            c.arg(BLOCK_S).arg(n).arg(&order).arg("RIGHT").arg("COUNT").arg(self.count);
            c
        } else {
            let mut c = redis::cmd("BRPOP");
            c.arg(&order).arg(BLOCK_S);
            c
        }
    }

    fn partition(&self, key: &Value) -> anyhow::Result<u32> {
        let key = text(key).unwrap_or_default();
        match self.keys.iter().position(|k| k.as_bytes() == key) {
            Some(p) => Ok(p as u32),
            None => bail!("pop returned an unknown list {}", String::from_utf8_lossy(key)),
        }
    }
}

#[async_trait]
impl Consumer for ListConsumer {
    async fn recv(&mut self, out: &mut Vec<Delivery>) -> anyhow::Result<()> {
        loop {
            while self.ahead.len() < POPS_AHEAD {
                let mut pipe = redis::Pipeline::with_capacity(1);
                pipe.add_command(self.pop_command());
                let reply = conn::submit(&self.connection, pipe, 1).await;
                self.ahead.push_back(reply);
            }
            let front = self.ahead.front_mut().expect("pops were just sent");
            let replies = front.await;
            self.ahead.pop_front();
            let reply = replies.context("popping from the lists")?.pop().unwrap_or(Value::Nil);
            self.stats.reads.fetch_add(1, Ordering::Relaxed);
            match reply {
                Value::Nil => {
                    self.stats.empty_reads.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Value::Array(mut pair) if pair.len() == 2 => {
                    let (Some(items), Some(key)) = (pair.pop(), pair.pop()) else { unreachable!() };
                    let partition = self.partition(&key)?;
                    match items {
                        // BLMPOP: the popped elements.
                        Value::Array(items) => {
                            for item in items {
                                if let Value::BulkString(body) = item {
                                    out.push(Delivery { payload: Bytes::from(body), partition });
                                }
                            }
                        }
                        // BRPOP: one element.
                        Value::BulkString(body) => out.push(Delivery { payload: Bytes::from(body), partition }),
                        other => bail!("unexpected pop reply: {other:?}"),
                    }
                    return Ok(());
                }
                Value::ServerError(e) => bail!("pop failed: {e:?}"),
                other => bail!("unexpected pop reply: {other:?}"),
            }
        }
    }
}
