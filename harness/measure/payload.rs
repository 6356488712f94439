//! Message bodies: exactly the configured size, incompressible, and carrying
//! who sent them, their sequence number and when they were due.
//!
//! Layout (little endian), chosen by body length so that the smallest
//! published size (10 B) still carries everything needed for accounting and
//! latency:
//!
//! | length   | header                                                        |
//! |----------|---------------------------------------------------------------|
//! | >= 20 B  | producer `u32`, sequence `u64`, due time `u64` (µs since the Unix epoch) |
//! | 10..19 B | producer `u8`, sequence `u32`, due time low 40 bits (µs; wraps every 12.7 days, recovered from the receiver's clock) |
//! | < 10 B   | refused by scenario validation                                 |
//!
//! The rest of the body is taken from a pseudo-random pool at an offset
//! derived from (producer, sequence): every message differs, nothing
//! compresses (not even across a batch, as Kafka's codecs compress), and the
//! receiver can check each body byte for byte without shipping a checksum.
//! The pool comes from a fixed seed, so a body can be checked on any host.
//!
//! Consecutive sequence numbers of a producer take consecutive,
//! non-overlapping windows of the pool (from a start that depends on the
//! producer): a batch of bodies is one stretch of random bytes, with no
//! repeat for a compressor to find within 16 MB, and building or checking
//! it reads the pool in order. (Random offsets per message made every body
//! copy a cache miss: at 1 KB that copy was a sixth of the harness's CPU.)
//!
//! What a receiver can check, and what it cannot:
//! - every body byte after the header, against the pool (`corrupt`);
//! - a copy of the wrong length whose header and first filler bytes are
//!   ours (at least [`MIN_PREFIX`] of them) is a truncated or extended copy
//!   of our message: `corrupt`; anything else of the wrong length is
//!   `foreign` (another point's, or not mqbench's);
//! - the header against the schedule ([`Plausible`]): a due time before the
//!   run began or after its receipt is impossible, and a paced producer's
//!   message k is due in `[t0 + k * interval, t0 + (k + 1) * interval)`, so a
//!   changed sequence number or due time of a paced message is `corrupt`
//!   (not a phantom receipt plus a loss);
//! - not: bodies of 20 B and less have no filler after the header (10 to
//!   19 B: at most 9 B), so their bytes beyond the header prove little;
//!   and unthrottled messages have no schedule, so a changed sequence
//!   number of an unthrottled header-only body, or a due time changed
//!   within the run, is taken as it reads.

use bytes::{BufMut, Bytes, BytesMut};
use rand::{RngCore, SeedableRng};
use std::sync::Arc;

/// Header size of bodies of 20 B and more.
pub const FULL_HEADER_LEN: usize = 20;
/// Header size of bodies of 10 to 19 B.
pub const COMPACT_HEADER_LEN: usize = 10;
/// Producers addressable by the one-byte compact header.
pub const COMPACT_MAX_PRODUCERS: u32 = 256;
const COMPACT_SEQ_LIMIT: u64 = 1 << 32;
const DUE_MASK_40: u64 = (1 << 40) - 1;
const POOL_SEED: u64 = 0x6d71_6265_6e63_6821;
const MIN_POOL_LEN: usize = 16 << 20;
/// Filler bytes a wrong-length copy must share with our body to count as a
/// damaged copy of it rather than a foreign message (a chance match of
/// random bytes: 2^-64).
pub const MIN_PREFIX: usize = 8;

/// What a body says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub producer: u32,
    pub seq: u64,
    /// Due time in µs since the Unix epoch.
    pub due_us: u64,
}

/// Why a received body could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Length differs from the point's payload size.
    WrongLength,
    /// Header fine, body bytes differ from what was sent.
    Corrupt,
}

/// The source of body bytes, shared by producers and consumers of a point.
#[derive(Clone)]
pub struct BodyPool {
    bytes: Arc<Vec<u8>>,
    payload_len: usize,
}

fn mix(producer: u32, seq: u64) -> u64 {
    // splitmix64 finaliser over (producer, seq)
    let mut z = seq ^ ((producer as u64) << 40) ^ 0x9e37_79b9_7f4a_7c15;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl BodyPool {
    /// A pool for bodies of exactly `payload_len` bytes (at least 10).
    pub fn new(payload_len: usize) -> BodyPool {
        assert!(payload_len >= COMPACT_HEADER_LEN, "payload below the 10-byte minimum");
        let len = MIN_POOL_LEN.max(payload_len * 4);
        let mut bytes = vec![0u8; len];
        rand::rngs::SmallRng::seed_from_u64(POOL_SEED).fill_bytes(&mut bytes);
        BodyPool { bytes: Arc::new(bytes), payload_len }
    }

    pub fn payload_len(&self) -> usize {
        self.payload_len
    }

    fn header_len(&self) -> usize {
        if self.payload_len >= FULL_HEADER_LEN {
            FULL_HEADER_LEN
        } else {
            COMPACT_HEADER_LEN
        }
    }

    fn filler(&self, producer: u32, seq: u64) -> &[u8] {
        let n = self.payload_len - self.header_len();
        let span = (self.bytes.len() - n) as u64;
        // No overflow: both factors are below the pool's length, so their
        // product stays below 2^63 for any pool under 3 GB (bodies under
        // about 750 MB).
        let at = ((mix(producer, 0) % span + (seq % span) * n as u64) % span) as usize;
        &self.bytes[at..at + n]
    }

    /// Builds one body. Sequence numbers beyond 2^32 cannot be carried by
    /// the compact header; the runner stops such a producer first.
    pub fn encode(&self, h: Header) -> Bytes {
        let mut b = BytesMut::with_capacity(self.payload_len);
        self.encode_into(h, &mut b);
        b.freeze()
    }

    /// Appends one body to `b`: a producer builds a whole batch in one
    /// buffer and hands out slices of it (one allocation per batch).
    pub fn encode_into(&self, h: Header, b: &mut BytesMut) {
        if self.header_len() == FULL_HEADER_LEN {
            b.put_u32_le(h.producer);
            b.put_u64_le(h.seq);
            b.put_u64_le(h.due_us);
        } else {
            debug_assert!(h.producer < COMPACT_MAX_PRODUCERS && h.seq < COMPACT_SEQ_LIMIT);
            b.put_u8(h.producer as u8);
            b.put_u32_le(h.seq as u32);
            let due = h.due_us & DUE_MASK_40;
            b.put_slice(&due.to_le_bytes()[..5]);
        }
        b.put_slice(self.filler(h.producer, h.seq));
    }

    /// Largest sequence number a body of this size can carry.
    pub fn seq_limit(&self) -> u64 {
        if self.header_len() == FULL_HEADER_LEN {
            u64::MAX
        } else {
            COMPACT_SEQ_LIMIT
        }
    }

    /// Reads the header; `now_us` (the receiver's clock) recovers the full
    /// due time of compact headers. With `verify`, compares the body bytes.
    pub fn decode(&self, body: &[u8], now_us: u64, verify: bool) -> Result<Header, DecodeError> {
        if body.len() != self.payload_len {
            return Err(self.wrong_length(body, now_us));
        }
        let h = self.header(body, now_us);
        if verify && &body[self.header_len()..] != self.filler(h.producer, h.seq) {
            return Err(DecodeError::Corrupt);
        }
        Ok(h)
    }

    /// A body of the wrong length: a damaged copy of ours when its header
    /// and at least [`MIN_PREFIX`] filler bytes after it match, foreign
    /// otherwise.
    fn wrong_length(&self, body: &[u8], now_us: u64) -> DecodeError {
        let hl = self.header_len();
        let overlap = body.len().min(self.payload_len).saturating_sub(hl);
        if overlap < MIN_PREFIX {
            return DecodeError::WrongLength;
        }
        let h = self.header(&body[..hl], now_us);
        if body[hl..hl + overlap] == self.filler(h.producer, h.seq)[..overlap] {
            DecodeError::Corrupt
        } else {
            DecodeError::WrongLength
        }
    }

    /// Reads the header at the start of `body` (at least a header long).
    fn header(&self, body: &[u8], now_us: u64) -> Header {
        if self.header_len() == FULL_HEADER_LEN {
            Header {
                producer: u32::from_le_bytes(body[0..4].try_into().unwrap()),
                seq: u64::from_le_bytes(body[4..12].try_into().unwrap()),
                due_us: u64::from_le_bytes(body[12..20].try_into().unwrap()),
            }
        } else {
            let mut due = [0u8; 8];
            due[..5].copy_from_slice(&body[5..10]);
            let low = u64::from_le_bytes(due);
            // The newest time at or before `now` whose low 40 bits match.
            let back = now_us.wrapping_sub(low) & DUE_MASK_40;
            Header {
                producer: body[0] as u32,
                seq: u32::from_le_bytes(body[1..5].try_into().unwrap()) as u64,
                due_us: now_us.wrapping_sub(back),
            }
        }
    }
}

/// What a header must agree with: the run's start and, for paced
/// producers, their schedule. Due times come from the receiver's own clock
/// (a worker's consumers read only its own producers' topic), so a due time
/// after the receipt is impossible.
#[derive(Clone, Copy, Debug, Default)]
pub struct Plausible {
    /// Start of the schedule (µs since the Unix epoch); nothing is due
    /// before it.
    pub t0_us: u64,
    /// A paced producer's interval between messages, in ns (`None`
    /// unthrottled): message k is due within one interval of
    /// `t0 + k * interval`, whatever phase the producer has.
    pub interval_ns: Option<f64>,
}

impl Plausible {
    /// True when `h` can be a message of this run received at `now_us`.
    pub fn check(&self, h: &Header, now_us: u64) -> bool {
        if h.due_us < self.t0_us || h.due_us > now_us {
            return false;
        }
        match self.interval_ns {
            None => true,
            Some(ns) => {
                // Rounding of due times to whole ns and µs: a few µs.
                let offset_us = (h.due_us - self.t0_us) as f64 - h.seq as f64 * ns / 1e3;
                (-2.0..ns / 1e3 + 2.0).contains(&offset_us)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_exact_length_and_round_trip() {
        for len in [10usize, 15, 19, 20, 21, 1000, 100_000] {
            let pool = BodyPool::new(len);
            let h = Header { producer: 7, seq: 123_456, due_us: 1_764_000_000_123_456 };
            let b = pool.encode(h);
            assert_eq!(b.len(), len);
            let back = pool.decode(&b, h.due_us + 250, true).unwrap();
            assert_eq!(back, h, "len {len}");
        }
    }

    #[test]
    fn corruption_and_length_are_detected() {
        let pool = BodyPool::new(100);
        let h = Header { producer: 1, seq: 2, due_us: 3_000_000 };
        let mut b = pool.encode(h).to_vec();
        b[50] ^= 1;
        assert_eq!(pool.decode(&b, 3_000_001, true), Err(DecodeError::Corrupt));
        assert!(pool.decode(&b, 3_000_001, false).is_ok());
        assert_eq!(pool.decode(&b[..99], 3_000_001, true), Err(DecodeError::WrongLength));
    }

    #[test]
    fn a_truncated_copy_of_ours_is_corrupt_and_a_stranger_is_foreign() {
        let pool = BodyPool::new(100);
        let h = Header { producer: 1, seq: 2, due_us: 3_000_000 };
        let b = pool.encode(h);
        assert_eq!(pool.decode(&b[..60], 3_000_001, true), Err(DecodeError::Corrupt));
        let mut longer = b.to_vec();
        longer.extend_from_slice(b"tail");
        assert_eq!(pool.decode(&longer, 3_000_001, true), Err(DecodeError::Corrupt));
        // Too short to tell, or not our bytes: foreign.
        assert_eq!(pool.decode(&b[..FULL_HEADER_LEN + 4], 3_000_001, true), Err(DecodeError::WrongLength));
        let stranger = vec![0x55u8; 60];
        assert_eq!(pool.decode(&stranger, 3_000_001, true), Err(DecodeError::WrongLength));
    }

    #[test]
    fn headers_are_checked_against_the_schedule() {
        let t0 = 1_764_000_000_000_000u64;
        // 1000 msg/s: message k is due at t0 + k ms (plus a phase under 1 ms).
        let paced = Plausible { t0_us: t0, interval_ns: Some(1e6) };
        let ok = Header { producer: 0, seq: 40, due_us: t0 + 40_000 + 300 };
        assert!(paced.check(&ok, t0 + 50_000));
        // A flipped sequence bit (40 -> 41, 40 -> 8) or due time bit.
        assert!(!paced.check(&Header { seq: 41, ..ok }, t0 + 50_000));
        assert!(!paced.check(&Header { seq: 8, ..ok }, t0 + 50_000));
        assert!(!paced.check(&Header { due_us: ok.due_us ^ (1 << 12), ..ok }, t0 + 50_000));
        // Due after its receipt, or before the run: impossible either way.
        assert!(!paced.check(&ok, t0 + 40_000));
        let free = Plausible { t0_us: t0, interval_ns: None };
        assert!(free.check(&Header { seq: 1 << 30, ..ok }, t0 + 50_000));
        assert!(!free.check(&Header { due_us: t0 - 1, ..ok }, t0 + 50_000));
        // A 10 B body's flipped sequence number is caught the same way.
        let pool = BodyPool::new(10);
        let mut b = pool.encode(ok).to_vec();
        b[1] ^= 1;
        let h = pool.decode(&b, t0 + 50_000, true).unwrap();
        assert!(!paced.check(&h, t0 + 50_000));
    }

    #[test]
    fn bodies_differ_between_messages() {
        let pool = BodyPool::new(1000);
        let a = pool.encode(Header { producer: 0, seq: 1, due_us: 5 });
        let b = pool.encode(Header { producer: 0, seq: 2, due_us: 5 });
        assert_ne!(a[20..], b[20..]);
    }

    #[test]
    fn a_batch_of_bodies_does_not_compress() {
        use std::io::Write;
        for len in [100usize, 1000] {
            let pool = BodyPool::new(len);
            let mut batch = BytesMut::new();
            for seq in 0..1000 {
                pool.encode_into(Header { producer: 2, seq, due_us: 5 }, &mut batch);
            }
            let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
            z.write_all(&batch).unwrap();
            let packed = z.finish().unwrap().len();
            // Headers repeat most of their bytes; the random rest must not shrink.
            let random = 1000 * (len - FULL_HEADER_LEN);
            assert!(packed as f64 > 0.99 * random as f64, "{len} B bodies: {} -> {packed}", batch.len());
        }
    }

    #[test]
    fn consecutive_bodies_take_consecutive_windows() {
        let pool = BodyPool::new(1000);
        let (a, b) = (pool.filler(4, 10), pool.filler(4, 11));
        let gap = b.as_ptr() as usize - a.as_ptr() as usize;
        assert_eq!(gap, 980, "the next body starts where this one ends");
        // Far sequence numbers still land inside the pool.
        assert_eq!(pool.filler(4, u64::MAX).len(), 980);
    }

    #[test]
    fn compact_due_time_survives_40_bit_wrap() {
        let pool = BodyPool::new(10);
        let due = (5u64 << 40) - 10; // just before a wrap
        let b = pool.encode(Header { producer: 3, seq: 9, due_us: due });
        let h = pool.decode(&b, due + 30, true).unwrap();
        assert_eq!(h.due_us, due);
    }
}
