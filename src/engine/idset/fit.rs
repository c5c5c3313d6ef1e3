// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! First fit of aligned blocks of free ids.
//!
//! The search walks the window in increasing order, carrying the start of
//! the free run that reaches the current point; when the run ends it checks
//! the lowest aligned start in it. Empty and full slots extend or end the
//! run in O(1) (a whole stretch of them at once), and a mixed slot is only
//! entered when it may hold a block inside it:
//!
//! - it has at least `count` free ids, and
//! - it holds an aligned free block of `2^j` ids, `j = min(a, log2 count)`
//!   (any fit starts with one), which its parent's `orders` byte tells.
//!
//! Otherwise only its free prefix and suffix matter, found in O(d) each; and
//! when no block can cross a slot boundary at this level (`count <= 2^a <=`
//! the slot's span: a block lies in one aligned `2^a` chunk) not even those.
//! For `count = 2^a` (MSI-style blocks) the second test is exact, so every
//! node entered whole holds the answer: O(d · FANOUT). For other shapes a
//! node that passes both tests may still have no room, and large counts pay
//! O(d) per partly-used node between `lo` and the answer.

use core::cmp::{max, min};

use super::node::{
    above, bits, low_mask, span, valid, Inner, Leaf, Node, LEAF_WORDS, SPACE, STARTS,
};
use super::search::leaf_seek;
use super::{Root, Trie};

/// The state of one search.
struct Fit {
    count: u64,
    align_log2: u32,
    /// `j + 1` for the smallest aligned free block `2^j` every fit starts with.
    need: u8,
    /// `Some(a)` when a block lies inside one aligned `2^a` chunk.
    chunk_log2: Option<u32>,
    /// Start of the free run reaching the current point.
    run: Option<u64>,
}

impl Fit {
    fn new(count: u64, align_log2: u32) -> Fit {
        let floor_log2 = 63 - count.leading_zeros();
        Fit {
            count,
            align_log2,
            need: min(align_log2, floor_log2) as u8 + 1,
            chunk_log2: (align_log2 < 64 && count <= 1u64 << align_log2).then_some(align_log2),
            run: None,
        }
    }

    /// True if no block can cross the boundary between two aligned blocks
    /// of `2^b` ids.
    #[inline]
    fn stays_within(&self, b: u32) -> bool {
        self.chunk_log2.is_some_and(|a| a <= b)
    }

    /// A free run reaches `at` (starts there unless one is open already).
    #[inline]
    fn open(&mut self, at: u64) {
        if self.run.is_none() {
            self.run = Some(at);
        }
    }

    /// The open run ends at `end`: the lowest aligned block in it, if any.
    #[inline]
    fn close(&mut self, end: u64) -> Option<u64> {
        let start = self.run.take()?;
        let mask = low_mask(self.align_log2);
        let s = start.checked_add(mask)? & !mask;
        (s <= end && end - s >= self.count - 1).then_some(s)
    }

    fn walk(&mut self, node: &Node, h: u32, base: u64, lo: u64, hi: u64) -> Option<u64> {
        match node {
            Node::Leaf(leaf) => self.walk_leaf(leaf, base, lo, hi),
            Node::Inner(inner) => self.walk_inner(inner, h, base, lo, hi),
        }
    }

    /// Searches `lo..=hi`, inside `inner` (height `h`, first id `base`).
    fn walk_inner(&mut self, inner: &Inner, h: u32, base: u64, lo: u64, hi: u64) -> Option<u64> {
        let cb = bits(h - 1);
        let cspan = 1u64 << cb;
        let within = self.stays_within(cb);
        // When no block crosses a slot boundary, only empty slots and those
        // whose order is high enough can hold one: jump from one to the next.
        let candidates = if within {
            (valid(h) & !(inner.full | inner.mixed))
                | (inner.mixed & orders_at_least(&inner.orders, self.need))
        } else {
            u64::MAX
        };
        let i1 = ((hi - base) >> cb) as u32;
        let mut i = ((lo - base) >> cb) as u32;
        while i <= i1 {
            let bit = 1u64 << i;
            let start = base + (u64::from(i) << cb);
            if candidates & bit == 0 {
                // Nothing fits in this slot, and nothing crosses into it.
                if let Some(found) = self.close(start.wrapping_sub(1)) {
                    return Some(found);
                }
                i = min((candidates & above(i)).trailing_zeros(), i1 + 1);
                continue;
            }
            let end = start + (cspan - 1);
            let (wl, wh) = (max(start, lo), min(end, hi));
            if inner.full & bit != 0 {
                if let Some(found) = self.close(wl.wrapping_sub(1)) {
                    return Some(found);
                }
                // Skip the full slots that follow.
                i = min((!inner.full & above(i)).trailing_zeros(), i1 + 1);
                continue;
            }
            if inner.mixed & bit == 0 {
                self.open(wl);
                // Skip the empty slots that follow.
                i = min(
                    ((inner.full | inner.mixed) & above(i)).trailing_zeros(),
                    i1 + 1,
                );
                continue;
            }
            let child = inner.child(i);
            let whole = wl == start && wh == end;
            let roomy =
                cspan - child.count() >= self.count && inner.orders[i as usize] >= self.need;
            if !whole || roomy {
                if let Some(found) = self.walk(child, h - 1, start, wl, wh) {
                    return Some(found);
                }
            } else if within {
                // No block lies inside the child, none crosses into it.
                if let Some(found) = self.close(start.wrapping_sub(1)) {
                    return Some(found);
                }
            } else {
                // Only the child's free prefix and suffix can take part.
                let first = seek_in(child, h - 1, start, true);
                if first > start {
                    self.open(start);
                }
                if let Some(found) = self.close(first.wrapping_sub(1)) {
                    return Some(found);
                }
                let last = seek_in(child, h - 1, start, false);
                if last < end {
                    self.run = Some(last + 1);
                }
            }
            i += 1;
        }
        None
    }

    /// Searches `lo..=hi`, inside `leaf` (first id `base`).
    fn walk_leaf(&mut self, leaf: &Leaf, base: u64, lo: u64, hi: u64) -> Option<u64> {
        let within = self.stays_within(6);
        // When no block crosses a word boundary, only the words whose order
        // is high enough can hold one: jump from one to the next.
        let candidates = if within {
            orders_at_least(&leaf.orders, self.need)
        } else {
            u64::MAX
        };
        let k1 = ((hi - base) / 64) as usize;
        let mut k = ((lo - base) / 64) as usize;
        while k <= k1 {
            let wb = base + 64 * k as u64;
            if candidates >> k & 1 == 0 {
                if let Some(found) = self.close(wb.wrapping_sub(1)) {
                    return Some(found);
                }
                k = min(
                    (candidates & above(k as u32)).trailing_zeros() as usize,
                    k1 + 1,
                );
                continue;
            }
            let word = k;
            k += 1;
            // Ids outside the window count as taken.
            let mut w = leaf.words[word];
            if wb < lo {
                w |= low_mask((lo - wb) as u32);
            }
            if word == k1 {
                w |= !low_mask((hi - wb) as u32 + 1);
            }
            if w == 0 {
                if within {
                    // The whole word is free, and a block fits in a word:
                    // unless the free run that reaches it holds a lower one.
                    return Some(self.close(wb.wrapping_sub(1)).unwrap_or(wb));
                }
                // The run goes on through the free words that follow.
                self.open(wb);
                let next = (leaf.nonzero & above(word as u32)).trailing_zeros() as usize;
                k = max(k, min(next, k1));
                continue;
            }
            if w == u64::MAX {
                if let Some(found) = self.close(wb.wrapping_sub(1)) {
                    return Some(found);
                }
                continue;
            }
            let prefix = w.trailing_zeros();
            if prefix > 0 {
                self.open(wb);
            }
            if let Some(found) = self.close((wb + u64::from(prefix)).wrapping_sub(1)) {
                return Some(found);
            }
            if self.count <= 64 {
                let fits = starts_of_runs(!w, self.count as u32) & self.aligned_in_word(wb);
                if fits != 0 {
                    return Some(wb + u64::from(fits.trailing_zeros()));
                }
            }
            let suffix = w.leading_zeros();
            if suffix > 0 {
                self.run = Some(wb + 64 - u64::from(suffix));
            }
        }
        None
    }

    /// The bits of the word starting at `wb` whose ids are aligned.
    #[inline]
    fn aligned_in_word(&self, wb: u64) -> u64 {
        match self.align_log2 {
            a @ 0..=6 => STARTS[a as usize],
            a => u64::from(wb & low_mask(a) == 0),
        }
    }
}

/// Bit `i` set when `orders[i] >= need` (orders are below 128). Eight bytes
/// at a time: the high bit of each byte of `(x | 0x80..) - need` says
/// `x >= need`, and a multiplication gathers the eight high bits.
#[inline]
fn orders_at_least(orders: &[u8], need: u8) -> u64 {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut mask = 0;
    for (c, chunk) in orders.chunks(8).enumerate() {
        let mut bytes = [0u8; 8];
        bytes[..chunk.len()].copy_from_slice(chunk);
        let x = u64::from_le_bytes(bytes);
        let at_least = ((x | HIGH) - LOW * u64::from(need)) & HIGH;
        let gathered = (at_least >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56;
        mask |= gathered << (8 * c);
    }
    mask & low_mask(orders.len() as u32)
}

/// The positions `p` at which the bits `p..p + n` of `z` are all set
/// (`1 <= n <= 64`; bits past the word count as clear).
#[inline]
fn starts_of_runs(mut z: u64, n: u32) -> u64 {
    let mut have = 1;
    while have < n && z != 0 {
        let step = min(have, n - have);
        z &= z >> step;
        have += step;
    }
    z
}

/// The first (or last) id of a mixed block that is in the set.
fn seek_in(node: &Node, h: u32, base: u64, first: bool) -> u64 {
    let found = match (node, first) {
        (Node::Leaf(leaf), true) => leaf_seek::<true, true>(leaf, 0).map(|o| base + u64::from(o)),
        (Node::Leaf(leaf), false) => leaf_seek::<true, false>(leaf, (64 * LEAF_WORDS - 1) as u32)
            .map(|o| base + u64::from(o)),
        (Node::Inner(inner), true) => {
            let cb = bits(h - 1);
            let i = (inner.full | inner.mixed).trailing_zeros();
            let start = base + (u64::from(i) << cb);
            Some(if inner.full >> i & 1 != 0 {
                start
            } else {
                seek_in(inner.child(i), h - 1, start, true)
            })
        }
        (Node::Inner(inner), false) => {
            let cb = bits(h - 1);
            let i = 63 - (inner.full | inner.mixed).leading_zeros();
            let start = base + (u64::from(i) << cb);
            Some(if inner.full >> i & 1 != 0 {
                start + ((1u64 << cb) - 1)
            } else {
                seek_in(inner.child(i), h - 1, start, false)
            })
        }
    };
    found.expect("a mixed block holds an id")
}

impl Trie {
    /// The lowest `s`, a multiple of `2^align_log2`, such that
    /// `s..s + count` are all free and inside `lo..=hi`.
    ///
    /// Preconditions: `count >= 1`, `lo <= hi`, `align_log2 < 64`.
    /// Time: O(d · FANOUT) when `count` is a power of two no larger than the
    /// alignment; otherwise O(d) more per partly-used node (or leaf word)
    /// with room for `count` passed before the answer (see the module docs).
    pub(crate) fn first_fit(&self, count: u64, align_log2: u32, lo: u32, hi: u32) -> Option<u32> {
        debug_assert!(count >= 1 && lo <= hi && align_log2 < 64);
        let (lo, hi) = (u64::from(lo), u64::from(hi));
        let mut fit = Fit::new(count, align_log2);
        let span = span(self.height);
        if lo < span {
            match &self.root {
                Root::Empty => fit.open(lo),
                Root::Full => {}
                Root::Node(node) => {
                    if let Some(found) = fit.walk(node, self.height, 0, lo, min(hi, span - 1)) {
                        return Some(found as u32);
                    }
                }
            }
        }
        if hi >= span {
            // Ids above the root's block are free.
            fit.open(max(lo, span));
        }
        debug_assert!(hi < SPACE);
        fit.close(hi).map(|s| s as u32)
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use proptest::prelude::*;

    use super::{orders_at_least, starts_of_runs};

    proptest! {
        #[test]
        fn orders_at_least_matches_a_loop(
            orders in proptest::collection::vec(0u8..40, 1..=64),
            need in 0u8..41,
        ) {
            let want = orders
                .iter()
                .enumerate()
                .filter(|&(_, &o)| o >= need)
                .fold(0u64, |m, (i, _)| m | 1 << i);
            prop_assert_eq!(orders_at_least(&orders, need), want);
        }

        #[test]
        fn starts_of_runs_matches_a_loop(z in any::<u64>(), n in 1u32..=64) {
            let free = |p: u32| p < 64 && z >> p & 1 != 0;
            let want: Vec<u32> = (0..64).filter(|&p| (p..p + n).all(free)).collect();
            let got = starts_of_runs(z, n);
            let got: Vec<u32> = (0..64).filter(|&p| got >> p & 1 != 0).collect();
            prop_assert_eq!(got, want);
        }
    }
}
