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
//! the point's partitions each, rather than one.

use crate::results::Shard;

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

    #[test]
    fn bad_shards_are_rejected() {
        assert_eq!(parse("1/4").unwrap(), Shard { index: 1, count: 4 });
        assert!(parse("4/4").unwrap_err().contains("below the count"));
        assert!(parse("x").unwrap_err().contains("INDEX/COUNT"));
    }
}
