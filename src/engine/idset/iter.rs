// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The maximal runs of a set, from either end, and the runs overlapping a
//! window.

use core::fmt;
use core::iter::FusedIterator;

use super::node::{Leaf, LEAF_IDS, SPACE};
use super::search::leaf_seek;
use super::{IdSet, Seek};

/// The maximal runs `(first, last)` of an [`IdSet`], in increasing order.
///
/// Each end finds a run's two ends with the searches of `search.rs`, first
/// in the leaf it last stopped in: O(1) per run while the runs lie in one
/// leaf, O(d) to move to another leaf or to a run of whole blocks.
#[derive(Clone)]
pub(crate) struct IdSetRuns<'a> {
    set: &'a IdSet,
    /// The next run from the front starts at or after this id.
    front: u64,
    /// The next run from the back ends before this id.
    back: u64,
    /// Runs not yet yielded from either end.
    remaining: u64,
    front_leaf: Option<(&'a Leaf, u64)>,
    back_leaf: Option<(&'a Leaf, u64)>,
}

impl<'a> IdSetRuns<'a> {
    /// Finds the nearest wanted id from `x`, in the cached leaf of that end
    /// when it holds `x`.
    #[inline]
    fn find<const PRESENT: bool, const FORWARD: bool>(&mut self, mut x: u64) -> Option<u64> {
        // Below the frontier (or from anywhere, backwards) the set answers,
        // knowing the ids it keeps apart; past it only the trie holds ids.
        if self.set.has_apart() && (!FORWARD || x < self.set.frontier()) {
            return self.set.seek::<PRESENT, FORWARD>(x);
        }
        let cached = if FORWARD {
            self.front_leaf
        } else {
            self.back_leaf
        };
        if let Some((leaf, base)) = cached {
            if x >= base && x - base < LEAF_IDS {
                if let Some(off) = leaf_seek::<PRESENT, FORWARD>(leaf, (x - base) as u32) {
                    return Some(base + u64::from(off));
                }
                // Nothing wanted in the rest of the leaf: look past it.
                if FORWARD {
                    x = base + LEAF_IDS;
                    if x >= SPACE {
                        return None;
                    }
                } else {
                    x = base.checked_sub(1)?;
                }
            }
        }
        let found = self.set.trie().seek::<PRESENT, FORWARD>(x)?;
        let leaf = self.set.trie().leaf_at(found);
        if FORWARD {
            self.front_leaf = leaf;
        } else {
            self.back_leaf = leaf;
        }
        Some(found)
    }
}

impl Iterator for IdSetRuns<'_> {
    type Item = (u32, u32);

    fn next(&mut self) -> Option<(u32, u32)> {
        if self.remaining == 0 {
            return None;
        }
        let first = self.find::<true, true>(self.front)?;
        let last = self.find::<false, true>(first).map_or(SPACE - 1, |x| x - 1);
        self.front = last + 1;
        self.remaining -= 1;
        Some((first as u32, last as u32))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // At most 2^31 runs: this fits a 32-bit usize.
        let n = self.remaining as usize;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for IdSetRuns<'_> {
    fn next_back(&mut self) -> Option<(u32, u32)> {
        if self.remaining == 0 {
            return None;
        }
        let last = self.find::<true, false>(self.back.checked_sub(1)?)?;
        let first = self.find::<false, false>(last).map_or(0, |x| x + 1);
        self.back = first;
        self.remaining -= 1;
        Some((first as u32, last as u32))
    }
}

impl ExactSizeIterator for IdSetRuns<'_> {}

impl FusedIterator for IdSetRuns<'_> {}

impl fmt::Debug for IdSetRuns<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdSetRuns")
            .field("front", &self.front)
            .field("back", &self.back)
            .field("remaining", &self.remaining)
            .finish()
    }
}

impl IdSet {
    /// The maximal runs in increasing order (or decreasing, with `rev`).
    /// Time: O(d) to start; see [`IdSetRuns`] per run.
    pub(crate) fn runs(&self) -> IdSetRuns<'_> {
        IdSetRuns {
            set: self,
            front: 0,
            back: SPACE,
            remaining: self.run_count(),
            front_leaf: None,
            back_leaf: None,
        }
    }

    /// No runs at all (an empty window). Time: O(1).
    pub(crate) fn no_runs(&self) -> IdSetRuns<'_> {
        IdSetRuns {
            remaining: 0,
            ..self.runs()
        }
    }

    /// The maximal runs that share an id with `lo..=hi`, whole (not clipped
    /// to the window), in increasing order. Time: O(d) to start and O(k)
    /// more to count the k runs, then as [`runs`](Self::runs).
    pub(crate) fn runs_overlapping(&self, lo: u32, hi: u32) -> IdSetRuns<'_> {
        debug_assert!(lo <= hi);
        let front = self.run_containing(lo).map_or(lo, |(first, _)| first);
        let back = self.run_containing(hi).map_or(hi, |(_, last)| last);
        let mut runs = IdSetRuns {
            set: self,
            front: front.into(),
            back: u64::from(back) + 1,
            remaining: u64::MAX,
            front_leaf: None,
            back_leaf: None,
        };
        // Count them once so that the iterator knows its length.
        let mut count = 0;
        let mut probe = runs.clone();
        while probe.next().is_some_and(|(first, _)| first <= hi) {
            count += 1;
        }
        runs.remaining = count;
        runs
    }
}
