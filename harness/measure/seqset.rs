//! A growable bitset of sequence numbers: which messages of one producer
//! were acknowledged, or received by one consumer. Compact (1 bit per
//! message) and cheap to combine, so accounting stays exact at millions of
//! messages per second.

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeqSet {
    words: Vec<u64>,
}

impl SeqSet {
    pub fn new() -> SeqSet {
        SeqSet::default()
    }

    /// Inserts `seq`; true when it was not there yet.
    #[inline]
    pub fn insert(&mut self, seq: u64) -> bool {
        let (w, bit) = ((seq >> 6) as usize, 1u64 << (seq & 63));
        if w >= self.words.len() {
            self.words.resize((w + 1).next_power_of_two().max(64), 0);
        }
        let fresh = self.words[w] & bit == 0;
        self.words[w] |= bit;
        fresh
    }

    #[inline]
    pub fn contains(&self, seq: u64) -> bool {
        let w = (seq >> 6) as usize;
        w < self.words.len() && self.words[w] & (1u64 << (seq & 63)) != 0
    }

    fn word(&self, i: usize) -> u64 {
        self.words.get(i).copied().unwrap_or(0)
    }

    /// Adds every member of `other`.
    pub fn union_with(&mut self, other: &SeqSet) {
        if other.words.len() > self.words.len() {
            self.words.resize(other.words.len(), 0);
        }
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= *b;
        }
    }

    /// Members in `[lo, hi)`.
    pub fn count_in(&self, lo: u64, hi: u64) -> u64 {
        self.masked_count(lo, hi, |i| self.word(i))
    }

    /// Members of `self` in `[lo, hi)` that `other` lacks.
    pub fn count_missing_from(&self, other: &SeqSet, lo: u64, hi: u64) -> u64 {
        self.masked_count(lo, hi, |i| self.word(i) & !other.word(i))
    }

    fn masked_count(&self, lo: u64, hi: u64, word_at: impl Fn(usize) -> u64) -> u64 {
        if hi <= lo {
            return 0;
        }
        let (first, last) = ((lo >> 6) as usize, ((hi - 1) >> 6) as usize);
        let mut total = 0u64;
        for i in first..=last {
            let mut w = word_at(i);
            if i == first {
                w &= u64::MAX << (lo & 63);
            }
            if i == last {
                let top = ((hi - 1) & 63) + 1;
                if top < 64 {
                    w &= (1u64 << top) - 1;
                }
            }
            total += w.count_ones() as u64;
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_ranges_exactly() {
        let mut s = SeqSet::new();
        for i in (0..1000).step_by(3) {
            assert!(s.insert(i));
        }
        assert!(!s.insert(3));
        assert_eq!(s.count_in(0, 1000), 334);
        assert_eq!(s.count_in(1, 3), 0);
        assert_eq!(s.count_in(63, 65), 1); // 63
        assert_eq!(s.count_in(0, 0), 0);
        let mut t = SeqSet::new();
        t.insert(0);
        t.insert(999);
        assert_eq!(s.count_missing_from(&t, 0, 1000), 332); // 334 members, 0 and 999 in t
        t.union_with(&s);
        assert_eq!(t.count_in(0, 2000), 334);
        assert!(t.contains(999) && !t.contains(1000));
    }
}
