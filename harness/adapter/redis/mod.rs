//! The Redis adapter (the `redis` crate on tokio), in three modes chosen by
//! the `mode` option:
//!
//! | mode      | produce                  | consume                                   | delivery       |
//! |-----------|--------------------------|-------------------------------------------|----------------|
//! | `streams` | `XADD` to `<topic>-<p>`  | `XREADGROUP` in a group per subscription, `XACK` | at-least-once |
//! | `pubsub`  | `PUBLISH` to `<topic>-<p>` | `SUBSCRIBE`, one subscriber per subscription | at-most-once |
//! | `list`    | `LPUSH` to `<topic>-s<s>-<p>` | `BLMPOP ... RIGHT COUNT n` (`BRPOP` before Redis 7) | once |
//!
//! Partitions are several streams, channels or lists per topic; message
//! `seq` of a producer goes to partition `seq % partitions`, so order holds
//! per producer and partition.
//!
//! Decisions the modes force:
//! - `pubsub`: every subscriber receives every message, so consumers of
//!   one subscription cannot share its messages: `consumers` above 1 is
//!   refused. Loss under pressure (a subscriber cut off at the server's
//!   `client-output-buffer-limit`) is a result, not a bug.
//! - `list`: a popped element is gone, so each subscription has its own
//!   lists and a producer pushes every message to each of them (the cost of
//!   fan-out is the producer's); consumers of a subscription share its
//!   lists.
//!
//! Options:
//!
//! | option       | default   | meaning |
//! |--------------|-----------|---------|
//! | `mode`       | `streams` | `streams`, `pubsub` or `list` |
//! | `maxlen`     | none      | streams: trim each stream to about this many entries (`MAXLEN ~ n`) |
//! | `maxlen_exact` | false   | streams: exact trimming (`MAXLEN = n`), slower |
//! | `read_count` | 1000      | most entries one read returns (`COUNT`) |
//! | `ack`        | true      | streams: `XACK` what was read (false: `NOACK`, no pending list) |
//! | `connection` | `direct`  | streams producers and consumers, list producers: `direct` (own socket, see `direct.rs`) or `multiplexed` (redis-rs) |
//! | `tls_ca_file`| none      | `rediss://`: PEM CA certificate(s) to trust instead of the system roots |
//!
//! Producers pipeline each batch the runner hands them as one write and
//! return one pending acknowledgement for it, resolved by the server's
//! replies; the runner's `in_flight` bounds the window. The body is the
//! message (a stream entry's single field `p` holds it), so the payload
//! size is exact.
//!
//! Endpoints: `redis://host:port[/db]` or `rediss://` (TLS); a password in
//! the URL, or else in the environment variable `REDIS_PASSWORD` (never
//! written to results). The broker's `security:` block (TLS, and
//! `sasl: plain` as `AUTH user password`) is mapped in `security.rs`.

mod conn;
mod direct;
mod list;
mod pubsub;
pub mod security;
mod streams;

use super::{ConnectContext, Consumer, Driver, Producer, Session, Topology};
use anyhow::{anyhow, Context};
use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub struct RedisDriver;

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Streams,
    Pubsub,
    List,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Streams => "streams",
            Mode::Pubsub => "pubsub",
            Mode::List => "list",
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub maxlen: Option<u64>,
    #[serde(default)]
    pub maxlen_exact: bool,
    #[serde(default = "default_read_count")]
    pub read_count: usize,
    #[serde(default = "yes")]
    pub ack: bool,
    #[serde(default)]
    pub connection: Connection,
    /// `rediss://` only: PEM file of the CA that signed the server's
    /// certificate (else the system's trusted roots).
    #[serde(default)]
    pub tls_ca_file: Option<std::path::PathBuf>,
}

/// How streams and list producers talk to the server (see `direct.rs`).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Connection {
    /// The producer's own socket, written and read from its own task.
    #[default]
    Direct,
    /// redis-rs's multiplexed connection (one more task hop per round trip).
    Multiplexed,
}

fn default_read_count() -> usize {
    1000
}

fn yes() -> bool {
    true
}

impl Options {
    fn check(&self) -> Result<(), String> {
        if self.read_count == 0 {
            return Err("`read_count` must be at least 1".into());
        }
        if self.mode != Mode::Streams {
            if self.maxlen.is_some() {
                return Err(format!("`maxlen` applies to mode `streams`, not `{}`", self.mode.as_str()));
            }
            if !self.ack {
                return Err(format!("`ack: false` applies to mode `streams`, not `{}`", self.mode.as_str()));
            }
        }
        if self.maxlen == Some(0) {
            return Err("`maxlen` must be at least 1 (or left out)".into());
        }
        Ok(())
    }
}

/// Counters for `adapter_stats`.
#[derive(Default)]
pub struct Stats {
    pub pipelines: AtomicU64,
    pub commands: AtomicU64,
    pub reads: AtomicU64,
    pub empty_reads: AtomicU64,
    /// pubsub: PUBLISHes that reached fewer subscribers than subscriptions.
    pub short_publishes: AtomicU64,
}

#[async_trait]
impl Driver for RedisDriver {
    fn check_options(&self, options: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        super::parse_options::<Options>(options)?.check()
    }

    /// A partition is one key (stream, list or channel) of the topic, and
    /// every consumer of a subscription reads all of them in each call.
    fn partitions(&self) -> super::PartitionLimit {
        super::PartitionLimit {
            max: 1024,
            meaning: "a partition is one Redis key (stream, list or channel) of the topic, and every consumer names all of them in each read",
        }
    }

    /// TLS and `AUTH` (see `security.rs`).
    fn check_security(&self, s: &crate::scenario::security::Security) -> Result<(), String> {
        security::check(s)
    }

    /// Streams (groups made before publishing, reading from id 0) and lists
    /// keep messages; pub/sub delivers only to subscribers present.
    fn check_backlog(&self, options: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        match super::parse_options::<Options>(options)?.mode {
            Mode::Pubsub => {
                Err("`mode: pubsub` delivers only to subscribers present when a message is published".into())
            }
            Mode::Streams | Mode::List => Ok(()),
        }
    }

    async fn connect(&self, ctx: &ConnectContext<'_>) -> anyhow::Result<Box<dyn Session>> {
        let options: Options = super::parse_options(ctx.options).map_err(anyhow::Error::msg)?;
        options.check().map_err(anyhow::Error::msg)?;
        let client = conn::client(ctx.endpoint, options.tls_ca_file.as_deref(), ctx.security, ctx.password)?;
        if options.mode == Mode::Pubsub && !client.dials_by_name() {
            anyhow::bail!("`mode: pubsub` cannot check the certificate against `tls.server_name` (redis-rs's subscriber connection dials the name it checks): name the server by that host in the endpoint");
        }
        let mut admin = conn::connect(&client).await?;
        let info: String = redis::cmd("INFO").arg("server").query_async(&mut admin).await.context("INFO server")?;
        let software = super::redis_info::software_from_info(&info)
            .ok_or_else(|| anyhow!("INFO server did not name a version"))?;
        let major = info
            .lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .and_then(|v| v.trim().split('.').next()?.parse::<u32>().ok())
            .unwrap_or(0);
        Ok(Box::new(RedisSession {
            client,
            admin,
            options,
            software,
            has_blmpop: major >= 7,
            stats: Arc::new(Stats::default()),
        }))
    }

    fn client(&self) -> String {
        "redis-rs 1 (tokio, multiplexed)".to_string()
    }
}

pub struct RedisSession {
    client: conn::Target,
    admin: MultiplexedConnection,
    options: Options,
    software: String,
    /// Redis 7 has BLMPOP (pop many from several lists in one call).
    has_blmpop: bool,
    stats: Arc<Stats>,
}

/// Names of a point's streams, channels or lists, one per partition.
pub fn partition_keys(topic: &str, partitions: u32) -> Vec<String> {
    (0..partitions.max(1)).map(|p| format!("{topic}-{p}")).collect()
}

#[async_trait]
impl Session for RedisSession {
    fn broker_software(&self) -> String {
        self.software.clone()
    }

    async fn prepare(&self, t: &Topology) -> anyhow::Result<()> {
        let mut admin = self.admin.clone();
        match self.options.mode {
            Mode::Streams => streams::prepare(&mut admin, t).await,
            Mode::Pubsub => pubsub::prepare(t),
            // Each subscription has its own lists: with none there is
            // nowhere to push.
            Mode::List if t.subscriptions.is_empty() => {
                anyhow::bail!("redis list mode needs at least one subscription (its lists are per subscription)")
            }
            Mode::List => Ok(()),
        }
    }

    async fn producer(&self, t: &Topology, index: u32) -> anyhow::Result<Box<dyn Producer>> {
        let stats = self.stats.clone();
        let out = if self.options.connection == Connection::Direct && self.options.mode != Mode::Pubsub {
            match direct::Direct::open(&self.client.client).await? {
                Some(d) => conn::Out::Direct(d),
                None => conn::Out::Multiplexed(conn::connect(&self.client).await?),
            }
        } else {
            conn::Out::Multiplexed(conn::connect(&self.client).await?)
        };
        // Producers differ only by their sequence numbers, which the runner sets.
        let _ = index;
        Ok(match self.options.mode {
            Mode::Streams => Box::new(streams::StreamProducer::new(out, t, &self.options, stats)),
            Mode::Pubsub => Box::new(pubsub::PubProducer::new(out.multiplexed()?, t, stats)),
            Mode::List => Box::new(list::ListProducer::new(out, t, stats)),
        })
    }

    async fn consumer(&self, t: &Topology, subscription: u32, index: u32) -> anyhow::Result<Box<dyn Consumer>> {
        let stats = self.stats.clone();
        Ok(match self.options.mode {
            Mode::Streams => Box::new(streams::StreamConsumer::new(
                conn::Link::open(&self.client, self.options.connection == Connection::Direct).await?,
                t,
                subscription,
                index,
                &self.options,
                stats,
            )) as Box<dyn Consumer>,
            Mode::Pubsub => Box::new(pubsub::SubConsumer::new(&self.client.client, t, stats).await?),
            Mode::List => Box::new(list::ListConsumer::new(
                conn::connect(&self.client).await?,
                t,
                subscription,
                &self.options,
                self.has_blmpop,
                stats,
            )),
        })
    }

    async fn cleanup(&self, t: &Topology) -> anyhow::Result<()> {
        let mut admin = self.admin.clone();
        let keys = match self.options.mode {
            Mode::Streams => partition_keys(&t.topic, t.partitions),
            Mode::Pubsub => Vec::new(),
            Mode::List => list::all_keys(t),
        };
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL").arg(&keys).query_async(&mut admin).await.context("DEL")?;
        }
        Ok(())
    }

    fn effective_options(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("mode".into(), self.options.mode.as_str().into());
        m.insert("read_count".into(), (self.options.read_count as u64).into());
        if self.options.mode == Mode::Streams {
            m.insert("ack".into(), self.options.ack.into());
        }
        if self.options.mode != Mode::Pubsub {
            let c = if self.options.connection == Connection::Direct { "direct" } else { "multiplexed" };
            m.insert("connection".into(), c.into());
        }
        if self.options.mode == Mode::List {
            m.insert("pop".into(), if self.has_blmpop { "BLMPOP" } else { "BRPOP" }.into());
        }
        m
    }

    fn stats(&self) -> serde_json::Value {
        let s = &self.stats;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut v = serde_json::json!({
            "pipelines": get(&s.pipelines),
            "commands": get(&s.commands),
            "reads": get(&s.reads),
            "empty_reads": get(&s.empty_reads),
        });
        if self.options.mode == Mode::Pubsub {
            v["short_publishes"] = get(&s.short_publishes).into();
        }
        v
    }
}
