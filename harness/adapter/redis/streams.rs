//! Mode `streams`: XADD to one stream per partition; each subscription is a
//! consumer group on every stream, its consumers read with XREADGROUP and
//! acknowledge with XACK. The XACK of one read travels in the same pipeline
//! as the next XREADGROUP, so a consumer costs one round trip per read.
//!
//! A consumer keeps a second XREADGROUP waiting at the server while it
//! handles the reply of the first (the server takes it up the moment the
//! first is answered): otherwise every message that arrives while a reply
//! and the next request are on the wire waits for them, which on a network
//! adds up to a whole round trip to end-to-end latency.

use super::conn::{self, text};
use super::{partition_keys, Options, Stats};
use crate::adapter::{Ack, Consumer, Delivery, OutMessage, Producer, Topology};
use anyhow::{bail, Context};
use async_trait::async_trait;
use bytes::Bytes;
use redis::aio::MultiplexedConnection;
use redis::Value;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The single field of each entry; its value is the message body.
const FIELD: &str = "p";
/// How long one XREADGROUP blocks on an empty stream (ms).
const BLOCK_MS: u64 = 1000;
/// XREADGROUP requests a consumer keeps at the server.
const READS_AHEAD: usize = 2;

/// Creates every stream with one consumer group per subscription (none
/// for a produce-only point: XADD creates the streams).
pub async fn prepare(admin: &mut MultiplexedConnection, t: &Topology) -> anyhow::Result<()> {
    if t.subscriptions.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    for key in partition_keys(&t.topic, t.partitions) {
        for group in &t.subscriptions {
            pipe.cmd("XGROUP").arg("CREATE").arg(&key).arg(group).arg("0").arg("MKSTREAM").ignore();
        }
    }
    pipe.query_async::<()>(admin).await.context("XGROUP CREATE")?;
    Ok(())
}

pub struct StreamProducer {
    out: conn::Out,
    keys: Vec<String>,
    /// `MAXLEN ~ n` (or `= n`) on every XADD.
    trim: Option<(&'static str, String)>,
    stats: Arc<Stats>,
}

impl StreamProducer {
    pub fn new(out: conn::Out, t: &Topology, o: &Options, stats: Arc<Stats>) -> StreamProducer {
        StreamProducer {
            out,
            keys: partition_keys(&t.topic, t.partitions),
            trim: o.maxlen.map(|n| (if o.maxlen_exact { "=" } else { "~" }, n.to_string())),
            stats,
        }
    }
}

#[async_trait]
impl Producer for StreamProducer {
    async fn send(&mut self, batch: &[OutMessage], acks: &mut Vec<Ack>) -> anyhow::Result<()> {
        let (keys, trim) = (&self.keys, &self.trim);
        let build = |cmd: &mut dyn FnMut(&[&[u8]])| {
            for m in batch {
                let key = keys[(m.seq % keys.len() as u64) as usize].as_bytes();
                match trim {
                    Some((how, n)) => cmd(&[
                        b"XADD",
                        key,
                        b"MAXLEN",
                        how.as_bytes(),
                        n.as_bytes(),
                        b"*",
                        FIELD.as_bytes(),
                        &m.payload,
                    ]),
                    None => cmd(&[b"XADD", key, b"*", FIELD.as_bytes(), &m.payload]),
                }
            }
        };
        self.out.send(batch.len(), batch.len(), &self.stats, true, build, acks).await?;
        Ok(())
    }
}

pub struct StreamConsumer {
    link: conn::Link,
    keys: Vec<String>,
    group: String,
    name: String,
    count: String,
    ack: bool,
    /// Ids read but not yet acknowledged, per stream.
    unacked: Vec<Vec<Vec<u8>>>,
    /// XREADGROUP requests written whose replies are not taken yet.
    reading: usize,
    stats: Arc<Stats>,
}

impl StreamConsumer {
    pub fn new(
        link: conn::Link,
        t: &Topology,
        subscription: u32,
        index: u32,
        o: &Options,
        stats: Arc<Stats>,
    ) -> StreamConsumer {
        let keys = partition_keys(&t.topic, t.partitions);
        StreamConsumer {
            link,
            unacked: vec![Vec::new(); keys.len()],
            keys,
            group: t.subscriptions[subscription as usize].clone(),
            name: format!("c{index}"),
            count: o.read_count.to_string(),
            ack: o.ack,
            reading: 0,
            stats,
        }
    }

    /// The XACK commands for what was read (taken), as argument lists.
    fn take_acks(&mut self) -> Vec<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for (key, ids) in self.keys.iter().zip(self.unacked.iter_mut()) {
            if !ids.is_empty() {
                let mut args = vec![b"XACK".to_vec(), key.as_bytes().to_vec(), self.group.as_bytes().to_vec()];
                args.append(ids);
                out.push(args);
            }
        }
        out
    }
}

#[async_trait]
impl Consumer for StreamConsumer {
    async fn recv(&mut self, out: &mut Vec<Delivery>) -> anyhow::Result<()> {
        loop {
            // Top up the reads waiting at the server; the first carries the
            // XACKs of what was taken since.
            while self.reading < READS_AHEAD {
                let acks = self.take_acks();
                let block = BLOCK_MS.to_string();
                let mut read: Vec<&[u8]> = vec![
                    b"XREADGROUP",
                    b"GROUP",
                    self.group.as_bytes(),
                    self.name.as_bytes(),
                    b"COUNT",
                    self.count.as_bytes(),
                    b"BLOCK",
                    block.as_bytes(),
                ];
                if !self.ack {
                    read.push(b"NOACK");
                }
                read.push(b"STREAMS");
                read.extend(self.keys.iter().map(|k| k.as_bytes()));
                read.extend(self.keys.iter().map(|_| b">".as_slice()));
                let build = |cmd: &mut dyn FnMut(&[&[u8]])| {
                    for a in &acks {
                        let args: Vec<&[u8]> = a.iter().map(|x| x.as_slice()).collect();
                        cmd(&args);
                    }
                    cmd(&read);
                };
                self.link.write(acks.len() + 1, build).await.context("XREADGROUP/XACK")?;
                self.reading += 1;
            }
            let mut values = self.link.next().await.context("XREADGROUP/XACK")?;
            self.reading -= 1;
            self.stats.reads.fetch_add(1, Ordering::Relaxed);
            let before = out.len();
            if let Some(reply) = values.pop() {
                self.take(reply, out)?;
            }
            if out.len() > before {
                return Ok(());
            }
            self.stats.empty_reads.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn close(mut self: Box<Self>) -> anyhow::Result<()> {
        let acks = self.take_acks();
        if !acks.is_empty() {
            let build = |cmd: &mut dyn FnMut(&[&[u8]])| {
                for a in &acks {
                    let args: Vec<&[u8]> = a.iter().map(|x| x.as_slice()).collect();
                    cmd(&args);
                }
            };
            self.link.request(acks.len(), build).await.context("XACK")?;
        }
        Ok(())
    }
}

impl StreamConsumer {
    /// Moves the entries of an XREADGROUP reply into `out`.
    fn take(&mut self, reply: Value, out: &mut Vec<Delivery>) -> anyhow::Result<()> {
        let streams = match reply {
            Value::Nil => return Ok(()),
            Value::Array(s) => s,
            Value::Map(m) => m.into_iter().map(|(k, v)| Value::Array(vec![k, v])).collect(),
            other => bail!("unexpected XREADGROUP reply: {other:?}"),
        };
        for stream in streams {
            let Value::Array(mut pair) = stream else { bail!("unexpected XREADGROUP stream: {stream:?}") };
            let (Some(entries), Some(key)) = (pair.pop(), pair.pop()) else { bail!("short XREADGROUP stream reply") };
            let key = text(&key).unwrap_or_default();
            let Some(partition) = self.keys.iter().position(|k| k.as_bytes() == key) else {
                bail!("XREADGROUP returned an unknown stream {}", String::from_utf8_lossy(key));
            };
            let Value::Array(entries) = entries else { bail!("unexpected XREADGROUP entries: {entries:?}") };
            for entry in entries {
                let Value::Array(mut e) = entry else { bail!("unexpected stream entry: {entry:?}") };
                let (Some(fields), Some(id)) = (e.pop(), e.pop()) else { bail!("short stream entry") };
                if self.ack {
                    if let Value::BulkString(id) = id {
                        self.unacked[partition].push(id);
                    }
                }
                // A trimmed-away entry still pending comes back with nil fields.
                let Value::Array(mut fv) = fields else { continue };
                if let Some(Value::BulkString(body)) = fv.pop() {
                    out.push(Delivery { payload: Bytes::from(body), partition: partition as u32 });
                }
            }
        }
        Ok(())
    }
}
