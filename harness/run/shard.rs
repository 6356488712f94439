//! `--shard i/N`: one of N load generators running the same scenario.
//!
//! How the work splits, chosen so that `mqbench merge` is exact:
//! - producers: worker i runs the producers whose id is ≡ i (mod N), with
//!   their global ids in every payload header and the global per-producer
//!   rate (total rate / producers), so the N workers together offer the
//!   scenario's load;
//! - topic: each worker uses its own topic (or queue, or stream), named
//!   with `-s<i>`; a worker's consumers therefore see exactly its own
//!   producers' messages, and no message is counted by two workers;
//! - consumers: worker i runs consumer c of every subscription where
//!   c ≡ i (mod N), and at least one (consumer i mod C when it would have
//!   none), so every subscription of its topic is read.
//!
//! Counts, histograms and throughput of the shards then add up exactly;
//! what changes from one generator is that the broker serves N topics with
//! the point's partitions each, rather than one. With `topics: T`, the
//! split is over the T x producers global producer ids, and a worker runs
//! only the topics that have one of its producers.
//!
//! Each worker is judged against its own share: its producers' part of
//! the rate, not the whole of it.
//!
//! ## Starting together (`--barrier DIR`)
//! Without it each worker starts each point when it is ready, and the
//! summed load may never have been offered at once. With it, DIR is a
//! directory every worker can read and write (a shared volume, e.g. a
//! `ReadWriteMany` claim mounted in every pod of a Kubernetes Indexed Job,
//! fresh for each run): once connected and prepared for a point, worker i
//! writes `point-<n>/shard-<i>.json` with its wall-clock ready time, waits
//! until all N files are there, and starts the point's schedule at the
//! latest ready time plus [`START_LEAD`]. Every worker computes the same
//! instant from the same files, so no worker leads. A worker that sees the
//! last file only after that instant starts at once (late); each result
//! records its window by the wall clock, and `mqbench merge` measures the
//! true overlap from those windows.
//!
//! The hosts' wall clocks are assumed synchronised by NTP (or chrony,
//! PTP): the common start and the overlap `merge` reports are then good to
//! the clocks' offset, typically under 1 ms on a LAN with chrony and a few
//! ms with plain NTP, i.e. 0.1% of a 10 s window at 10 ms. End-to-end
//! latency is never compared across hosts: each worker reads its own
//! producers' messages, so due time and receipt are stamped by one clock.

use crate::results::Shard;
use anyhow::{anyhow, Context};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// From the last worker's ready time to the common start: long enough for
/// every worker to see the last ready file on a shared volume.
pub const START_LEAD: Duration = Duration::from_secs(2);
/// Longest wait for the other workers at a point.
pub const BARRIER_TIMEOUT: Duration = Duration::from_secs(600);
/// How often a waiting worker looks for the others' files.
const POLL: Duration = Duration::from_millis(10);

/// The start barrier of one run (or, after [`StartBarrier::for_point`], of
/// one of its points).
#[derive(Clone, Debug)]
pub struct StartBarrier {
    dir: PathBuf,
    shard: Shard,
    point: usize,
    timeout: Duration,
}

/// What a worker writes when it is ready for a point.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Ready {
    shard: u32,
    count: u32,
    point: String,
    repeat: u32,
    ready_unix_us: u64,
}

fn unix_us_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros() as u64
}

impl StartBarrier {
    pub fn new(dir: PathBuf, shard: Shard) -> anyhow::Result<StartBarrier> {
        std::fs::create_dir_all(&dir).with_context(|| format!("--barrier: cannot create {}", dir.display()))?;
        Ok(StartBarrier { dir, shard, point: 0, timeout: BARRIER_TIMEOUT })
    }

    /// The barrier of the `index`-th point of the run.
    pub fn for_point(&self, index: usize) -> StartBarrier {
        StartBarrier { point: index, ..self.clone() }
    }

    /// With a shorter wait for the other workers (tests).
    pub fn with_timeout(self, timeout: Duration) -> StartBarrier {
        StartBarrier { timeout, ..self }
    }

    /// Announces this worker ready for point `id` and returns the agreed
    /// start, once every worker is ready.
    pub async fn wait(&self, id: &str, repeat: u32) -> anyhow::Result<Instant> {
        let dir = self.dir.join(format!("point-{}", self.point));
        std::fs::create_dir_all(&dir).with_context(|| format!("--barrier: cannot create {}", dir.display()))?;
        let mine = Ready {
            shard: self.shard.index,
            count: self.shard.count,
            point: id.to_string(),
            repeat,
            ready_unix_us: unix_us_now(),
        };
        crate::results::write_atomic(
            &dir.join(format!("shard-{}.json", self.shard.index)),
            &serde_json::to_vec(&mine)?,
        )?;
        let give_up = Instant::now() + self.timeout;
        loop {
            let mut latest = 0u64;
            let mut missing = Vec::new();
            for k in 0..self.shard.count {
                let file = dir.join(format!("shard-{k}.json"));
                let Ok(text) = std::fs::read(&file) else {
                    missing.push(k);
                    continue;
                };
                let other: Ready = serde_json::from_slice(&text)
                    .with_context(|| format!("--barrier: {} is not a ready file", file.display()))?;
                if other.point != id || other.repeat != repeat || other.count != self.shard.count {
                    anyhow::bail!(
                        "--barrier: {} says shard {}/{} is at point {} (repeat {}), this shard {}/{} at {id} (repeat {repeat}): \
                         the shards run different scenarios, or the directory is left from another run (use a fresh one per run)",
                        file.display(),
                        other.shard,
                        other.count,
                        other.point,
                        other.repeat,
                        self.shard.index,
                        self.shard.count
                    );
                }
                latest = latest.max(other.ready_unix_us);
            }
            if missing.is_empty() {
                let start_us = latest + START_LEAD.as_micros() as u64;
                let (now, now_us) = (Instant::now(), unix_us_now());
                return Ok(now + Duration::from_micros(start_us.saturating_sub(now_us)));
            }
            if Instant::now() >= give_up {
                let names: Vec<String> = missing.iter().map(|k| format!("{k}/{}", self.shard.count)).collect();
                return Err(anyhow!(
                    "--barrier {}: shard(s) {} not ready for point {id} within {} s",
                    self.dir.display(),
                    names.join(", "),
                    self.timeout.as_secs()
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Parses `i/N` (0-based index, N workers).
pub fn parse(s: &str) -> Result<Shard, String> {
    let (i, n) = s.split_once('/').ok_or_else(|| format!("--shard `{s}` is not INDEX/COUNT (e.g. 0/4)"))?;
    let index: u32 = i.trim().parse().map_err(|_| format!("--shard `{s}`: `{i}` is not a whole number"))?;
    let count: u32 = n.trim().parse().map_err(|_| format!("--shard `{s}`: `{n}` is not a whole number"))?;
    if count == 0 || index >= count {
        return Err(format!(
            "--shard `{s}`: the index must be below the count (0/{count} .. {}/{count})",
            count.max(1) - 1
        ));
    }
    Ok(Shard { index, count })
}

/// Global ids of the producers this worker runs.
pub fn producers(shard: Option<Shard>, producers: u32) -> Vec<u32> {
    match shard {
        None => (0..producers).collect(),
        Some(s) => (0..producers).filter(|p| p % s.count == s.index).collect(),
    }
}

/// Consumer indices (per subscription) this worker runs; never empty when
/// `consumers > 0`.
pub fn consumers(shard: Option<Shard>, consumers: u32) -> Vec<u32> {
    match shard {
        None => (0..consumers).collect(),
        Some(s) => {
            let mine: Vec<u32> = (0..consumers).filter(|c| c % s.count == s.index).collect();
            if mine.is_empty() && consumers > 0 {
                vec![s.index % consumers]
            } else {
                mine
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_producer_runs_exactly_once() {
        for n in 1..5u32 {
            let mut all: Vec<u32> = (0..n).flat_map(|i| producers(Some(Shard { index: i, count: n }), 7)).collect();
            all.sort();
            assert_eq!(all, (0..7).collect::<Vec<_>>());
        }
    }

    #[test]
    fn every_worker_reads_its_topic() {
        assert_eq!(consumers(Some(Shard { index: 2, count: 3 }), 1), vec![0]);
        assert_eq!(consumers(Some(Shard { index: 1, count: 2 }), 4), vec![1, 3]);
    }

    fn barrier(dir: &std::path::Path, index: u32) -> StartBarrier {
        StartBarrier::new(dir.to_path_buf(), Shard { index, count: 2 }).unwrap().for_point(3)
    }

    #[tokio::test]
    async fn shards_agree_on_one_start_after_the_last_is_ready() {
        let dir = tempfile::tempdir().unwrap();
        let first = tokio::spawn({
            let b = barrier(dir.path(), 0);
            async move { b.wait("p", 0).await.unwrap() }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!first.is_finished(), "shard 0 must wait for shard 1");
        let late_ready = unix_us_now();
        let t1 = barrier(dir.path(), 1).wait("p", 0).await.unwrap();
        let t0 = first.await.unwrap();
        // Both start at the same instant (one process: one clock), the lead
        // after the last shard was ready.
        let apart = if t0 > t1 { t0 - t1 } else { t1 - t0 };
        assert!(apart < Duration::from_millis(5), "{apart:?}");
        let start_us = unix_us_now() + t1.saturating_duration_since(Instant::now()).as_micros() as u64;
        let lead = start_us.saturating_sub(late_ready);
        assert!(
            lead >= START_LEAD.as_micros() as u64 - 5_000 && lead < START_LEAD.as_micros() as u64 + 50_000,
            "{lead}"
        );
    }

    #[tokio::test]
    async fn a_missing_shard_or_a_stale_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = barrier(dir.path(), 0).with_timeout(Duration::from_millis(50)).wait("p", 0).await.unwrap_err();
        assert!(e.to_string().contains("shard(s) 1/2 not ready for point p"), "{e}");
        let e = barrier(dir.path(), 1).wait("q", 0).await.unwrap_err();
        assert!(e.to_string().contains("directory is left from another run"), "{e}");
    }

    #[test]
    fn bad_shards_are_rejected() {
        assert_eq!(parse("1/4").unwrap(), Shard { index: 1, count: 4 });
        assert!(parse("4/4").unwrap_err().contains("below the count"));
        assert!(parse("x").unwrap_err().contains("INDEX/COUNT"));
    }
}
