// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! A persistent set of `u32` ids, beside the range engine, for `IdAllocator`.
//!
//! An [`IdSet`] is a copy-on-write radix tree of bitmaps over the id space
//! `0..2^32` (see `node.rs`): leaves are bitmaps of `LEAF_IDS` aligned ids,
//! inner nodes have `FANOUT` slots that are empty, full or a child, and the
//! root sits only as high as the largest id needs. Nodes are shared through
//! `Arc`: cloning copies one pointer, and an edit copies only the nodes on
//! its path that a clone shares (none when no clone is alive). Every node
//! keeps the number of ids in its subtree and, per slot, the order of its
//! largest aligned free block; the set keeps its number of maximal runs. A
//! single-id edit is one walk down the tree (each level adjusts its count)
//! plus, rarely, a walk back up when a largest free block changes.
//!
//! With d the height of the root (at most 4 with the production sizes; 1
//! for ids below 2^18), the costs are:
//!
//! | operation | time |
//! |---|---|
//! | `clone`, `count`, `run_count`, `ptr_eq` | O(1) |
//! | `contains`, `first_absent`, `run_containing`, `first` | O(d) |
//! | `insert_first_absent`, `insert_if_absent`, `remove_if_present` | O(d) |
//! | `insert_range`, `remove_range` of one id, or of a range inside one leaf | O(d) |
//! | `insert_range`, `remove_range` of any other range (up to 2^32 ids) | O(d · FANOUT) |
//! | `first_fit` when `count <= 2^a` (a block never crosses a slot): candidate slots come from a mask | O(d · FANOUT / 8); exact pruning when `count` is a power of two |
//! | `first_fit`, other shapes | O(d) per partly-used node or word with room passed between `lo` and the answer; nodes without room are skipped whole |
//! | `runs` | O(d) to start, then O(1) per run within a leaf and O(d) to reach another leaf |
//! | `runs_overlapping` | as `runs`, once more to count the k runs it yields |
//! | `diff` | O(k · d · FANOUT) for k edits since a shared state; O(n) for sets built apart |
//! | `IdSetBuilder` | O(1) per run pushed plus O(FANOUT) per node built |
//!
//! Any edit also pays O(d · FANOUT) when it changes the order of a largest
//! free block on its path (rare for single ids), and the first edit after a
//! clone copies the nodes on its path (a node copy bumps the reference count
//! of each of its children).
//!
//! The set knows nothing of allocation: `IdAllocator` gives ids their meaning
//! and checks every precondition documented here.

mod build;
#[cfg(any(test, fuzzing, vm_allocator_check))]
mod check;
mod config;
mod diff;
mod fit;
mod flip;
mod heap;
mod iter;
mod node;
mod search;
mod trie;

use core::cmp::{max, min};
use core::fmt;

use alloc::vec::Vec;

use build::TrieBuilder;
pub(crate) use iter::IdSetRuns;
use node::SPACE;
pub(crate) use trie::{Root, Trie, View};

use crate::engine::Side;

/// A persistent set of `u32` ids.
///
/// The ids `low..frontier` are kept apart from the trie, as two numbers:
/// ids handed out in order (every VMM's boot) move the frontier up one at a
/// time without touching a node, and freeing the last of them moves it back
/// down. The trie holds every other id, none of them below the frontier.
/// Nothing outside this file sees the split: every query and edit answers
/// for the union.
///
/// Invariants: `low <= frontier <= 2^32`; the trie holds no id below
/// `frontier` (so `low..frontier` and the trie's ids are disjoint, and ids
/// below `low` are absent).
#[derive(Clone, Default)]
pub(crate) struct IdSet {
    low: u64,
    frontier: u64,
    trie: Trie,
}

/// The searches of a set of ids, written once for the trie and for the
/// set that keeps a run apart from it: each gives the four searches and
/// `contains`, and the rest follows from them.
pub(crate) trait Seek {
    /// True if `id` is in the set. Time: O(d).
    fn contains(&self, id: u32) -> bool;
    /// The smallest id `>= x` in the set. Time: O(d).
    fn next_present(&self, x: u64) -> Option<u64>;
    /// The smallest id `>= x` (and below 2^32) not in the set. Time: O(d).
    fn next_absent(&self, x: u64) -> Option<u64>;
    /// The largest id `<= x` in the set. Time: O(d).
    fn prev_present(&self, x: u64) -> Option<u64>;
    /// The largest id `<= x` not in the set. Time: O(d).
    fn prev_absent(&self, x: u64) -> Option<u64>;

    /// One of the four searches, chosen at compile time.
    #[inline]
    fn seek<const PRESENT: bool, const FORWARD: bool>(&self, x: u64) -> Option<u64> {
        match (PRESENT, FORWARD) {
            (true, true) => self.next_present(x),
            (false, true) => self.next_absent(x),
            (true, false) => self.prev_present(x),
            (false, false) => self.prev_absent(x),
        }
    }

    /// The maximal run of ids that holds `id`, if `id` is in the set.
    /// Time: O(d).
    fn run_containing(&self, id: u32) -> Option<(u32, u32)> {
        if !self.contains(id) {
            return None;
        }
        let x = u64::from(id);
        let first = self.prev_absent(x).map_or(0, |a| a + 1);
        let last = self.next_absent(x).map_or(SPACE - 1, |a| a - 1);
        Some((first as u32, last as u32))
    }

    /// The first run of the set. Time: O(d). Only the tests ask.
    #[cfg(test)]
    fn first(&self) -> Option<(u32, u32)> {
        let first = self.next_present(0)?;
        let last = self.next_absent(first).map_or(SPACE - 1, |a| a - 1);
        Some((first as u32, last as u32))
    }

    /// The smallest id in `lo..=hi` that is not in the set. Time: O(d).
    fn first_absent(&self, lo: u32, hi: u32) -> Option<u32> {
        self.next_absent(lo.into())
            .filter(|&x| x <= u64::from(hi))
            .map(|x| x as u32)
    }
}

impl IdSet {
    /// An empty set.
    pub(crate) const fn new() -> IdSet {
        IdSet {
            low: 0,
            frontier: 0,
            trie: Trie::new(),
        }
    }

    /// A set of the ids of `trie` and nothing apart.
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn from_trie(trie: Trie) -> IdSet {
        IdSet {
            trie,
            ..IdSet::new()
        }
    }

    /// The trie beside the frontier.
    #[inline]
    pub(crate) fn trie(&self) -> &Trie {
        &self.trie
    }

    /// True if the set holds no id.
    #[inline]
    fn is_empty(&self) -> bool {
        self.low == self.frontier && self.trie.count() == 0
    }

    /// True if some ids are kept apart.
    #[inline]
    pub(crate) fn has_apart(&self) -> bool {
        self.low < self.frontier
    }

    /// The ids kept apart, `low..frontier` (for the invariant checker).
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn bounds(&self) -> (u64, u64) {
        (self.low, self.frontier)
    }

    /// The frontier: no id at or above it is kept apart.
    #[inline]
    pub(crate) fn frontier(&self) -> u64 {
        self.frontier
    }

    /// The ids kept apart, `low..frontier`.
    #[inline]
    fn apart(&self) -> Option<(u64, u64)> {
        (self.low < self.frontier).then_some((self.low, self.frontier))
    }

    /// True if `x` is one of the ids kept apart.
    #[inline]
    fn in_apart(&self, x: u64) -> bool {
        self.low <= x && x < self.frontier
    }

    /// Number of ids in the set. Time: O(1).
    #[inline]
    pub(crate) fn count(&self) -> u64 {
        self.trie.count() + (self.frontier - self.low)
    }

    /// Number of maximal runs of consecutive ids. Time: O(d).
    pub(crate) fn run_count(&self) -> u64 {
        let Some((_, frontier)) = self.apart() else {
            return self.trie.run_count();
        };
        // The ids apart are one run, joined to the trie's first run when
        // that starts at the frontier.
        let joined = frontier < SPACE && self.trie.contains(frontier as u32);
        self.trie.run_count() + 1 - u64::from(joined)
    }

    /// True if both sets are the same allocation (so they are equal).
    /// Time: O(1).
    pub(crate) fn ptr_eq(&self, other: &IdSet) -> bool {
        (self.low, self.frontier) == (other.low, other.frontier) && self.trie.ptr_eq(&other.trie)
    }
}

impl Seek for IdSet {
    /// True if `id` is in the set. Time: O(d).
    #[inline]
    fn contains(&self, id: u32) -> bool {
        self.in_apart(id.into()) || self.trie.contains(id)
    }

    /// The smallest id `>= x` in the set. Time: O(d).
    fn next_present(&self, x: u64) -> Option<u64> {
        match self.apart() {
            Some((low, frontier)) if x < frontier => Some(max(x, low)),
            _ => self.trie.next_present(x),
        }
    }

    /// The smallest id `>= x` (and below 2^32) not in the set. Time: O(d).
    #[inline]
    fn next_absent(&self, x: u64) -> Option<u64> {
        if self.in_apart(x) {
            self.trie.next_absent(self.frontier)
        } else {
            self.trie.next_absent(x)
        }
    }

    /// The largest id `<= x` in the set. Time: O(d).
    fn prev_present(&self, x: u64) -> Option<u64> {
        let apart = self.apart();
        match apart {
            Some((low, frontier)) if x < frontier => (x >= low).then_some(x),
            _ => self
                .trie
                .prev_present(x)
                .or_else(|| apart.map(|(_, frontier)| frontier - 1)),
        }
    }

    /// The largest id `<= x` not in the set. Time: O(d).
    fn prev_absent(&self, x: u64) -> Option<u64> {
        let Some((low, frontier)) = self.apart() else {
            return self.trie.prev_absent(x);
        };
        if x < low {
            return Some(x);
        }
        if x < frontier {
            return low.checked_sub(1);
        }
        // The trie holds nothing below the frontier: an answer below it
        // is the id before the frontier, which lies apart.
        match self.trie.prev_absent(x) {
            Some(a) if a < frontier => low.checked_sub(1),
            found => found,
        }
    }
}

impl IdSet {
    /// Puts the ids kept apart into the trie (before an edit the frontier
    /// cannot describe).
    fn flush(&mut self) {
        if let Some((low, frontier)) = self.apart() {
            self.trie.insert_range(low as u32, (frontier - 1) as u32);
        }
        (self.low, self.frontier) = (0, 0);
    }

    /// Adds `first..=last`. Precondition: none of them is in the set.
    /// Time: O(1) at the frontier; else O(d) for one id, O(d · FANOUT) for
    /// a range (plus O(d) to raise the root for a larger id).
    #[inline]
    pub(crate) fn insert_range(&mut self, first: u32, last: u32) {
        debug_assert!(first <= last);
        let (f, l) = (u64::from(first), u64::from(last));
        if f == self.frontier {
            // The frontier moves up (the trie holds none of these ids).
            self.frontier = l + 1;
        } else if self.is_empty() {
            (self.low, self.frontier) = (f, l + 1);
        } else if f > self.frontier {
            self.trie.insert_range(first, last);
        } else if l + 1 == self.low {
            self.low = f;
        } else {
            self.flush();
            self.trie.insert_range(first, last);
        }
    }

    /// Takes out `first..=last`. Precondition: all of them are in the set.
    /// Time: O(1) for the last ids below the frontier; else O(d) for one
    /// id, O(d · FANOUT) for a range.
    #[inline]
    pub(crate) fn remove_range(&mut self, first: u32, last: u32) {
        debug_assert!(first <= last);
        let (f, l) = (u64::from(first), u64::from(last));
        if f >= self.frontier {
            self.trie.remove_range(first, last);
            return;
        }
        // The frontier moves down to `first`; the ids apart above the
        // range go into the trie, or the range goes on into it.
        let frontier = self.frontier;
        if l + 1 < frontier {
            self.trie.insert_range(last + 1, (frontier - 1) as u32);
        } else if l >= frontier {
            self.trie.remove_range(frontier as u32, last);
        }
        self.frontier = f;
    }

    /// Adds `id` if it is the frontier and not in the set (the next id in
    /// order); returns whether it did. Time: O(1) when the trie is empty,
    /// else O(d).
    #[inline]
    pub(crate) fn push_frontier(&mut self, id: u32) -> bool {
        if u64::from(id) != self.frontier || self.trie.contains(id) {
            return false;
        }
        self.frontier += 1;
        true
    }

    /// Adds the smallest id in `lo..=hi` that is not in the set and returns
    /// it, if there is one. Time: O(1) at the frontier, else O(d).
    #[inline]
    pub(crate) fn insert_first_absent(&mut self, lo: u32, hi: u32) -> Option<u32> {
        let x = u64::from(lo);
        if x < self.frontier {
            if x < self.low {
                // Below the ids apart every id is free.
                self.insert_range(lo, lo);
                return Some(lo);
            }
            // Past the ids apart: at or above the frontier.
            if self.frontier > u64::from(hi) {
                return None;
            }
            return self.insert_first_absent(self.frontier as u32, hi);
        }
        if x <= u64::from(hi) && (self.is_empty() || x == self.frontier && !self.trie.contains(lo))
        {
            self.insert_range(lo, lo);
            return Some(lo);
        }
        // The trie's answer lies past the frontier: it goes into the trie.
        self.trie.insert_first_absent(lo, hi)
    }

    /// Adds `id` if it is not in the set; returns whether it was added.
    /// Time: O(d).
    pub(crate) fn insert_if_absent(&mut self, id: u32) -> bool {
        let x = u64::from(id);
        if x > self.frontier {
            return self.trie.insert_if_absent(id);
        }
        if self.contains(id) {
            return false;
        }
        self.insert_range(id, id);
        true
    }

    /// Takes out `id` if it is in the set; returns whether it was.
    /// Time: O(d), O(1) for the last id below the frontier.
    #[inline]
    pub(crate) fn remove_if_present(&mut self, id: u32) -> bool {
        let x = u64::from(id);
        if x + 1 == self.frontier && x >= self.low {
            // The last id apart: the frontier moves back.
            self.frontier = x;
            return true;
        }
        if x >= self.frontier {
            return self.trie.remove_if_present(id);
        }
        if x < self.low {
            return false;
        }
        self.remove_range(id, id);
        true
    }

    /// The lowest `s`, a multiple of `2^align_log2`, such that
    /// `s..s + count` are all free and inside `lo..=hi`.
    ///
    /// Preconditions: `count >= 1`, `lo <= hi`, `align_log2 < 64`.
    /// Time: that of [`Trie::first_fit`].
    pub(crate) fn first_fit(&self, count: u64, align_log2: u32, lo: u32, hi: u32) -> Option<u32> {
        let Some((low, frontier)) = self.apart() else {
            return self.trie.first_fit(count, align_log2, lo, hi);
        };
        let (lo64, hi64) = (u64::from(lo), u64::from(hi));
        if lo64 < low {
            // Every id below the ids apart is free.
            let mask = (1u64 << align_log2) - 1;
            if let Some(start) = lo64.checked_add(mask).map(|x| x & !mask) {
                if start
                    .checked_add(count - 1)
                    .is_some_and(|end| end <= min(hi64, low - 1))
                {
                    return Some(start as u32);
                }
            }
        }
        let from = max(lo64, frontier);
        if from > hi64 {
            return None;
        }
        self.trie.first_fit(count, align_log2, from as u32, hi)
    }

    /// Reports, in increasing order, the maximal ranges of ids in `self` but
    /// not in `other` ([`Side::Left`]) and in `other` but not in `self`
    /// ([`Side::Right`]).
    ///
    /// The tries are compared as [`Trie::diff`] does (shared subtrees
    /// skipped); the ids apart of either set are compared with the other
    /// set's ids there, at O(d) per run found.
    pub(crate) fn diff(&self, other: &IdSet, mut f: impl FnMut(Side, u32, u32)) {
        let (a, b) = (self.apart(), other.apart());
        if a.is_none() && b.is_none() {
            return self.trie.diff(&other.trie, f);
        }
        // Outside the ids apart of either set, the tries decide; inside
        // them, each set's ids are compared with the other's.
        let cut = |x: (u64, u64)| -> Vec<(u64, u64)> {
            let mut pieces = alloc::vec![x];
            for (low, frontier) in [a, b].into_iter().flatten() {
                pieces = pieces
                    .into_iter()
                    .flat_map(|(s, e)| {
                        let mut out = Vec::new();
                        if s < low {
                            out.push((s, min(e, low - 1)));
                        }
                        if e >= frontier {
                            out.push((max(s, frontier), e));
                        }
                        out
                    })
                    .collect();
            }
            pieces
        };
        let mut found: Vec<(u64, u64, Side)> = Vec::new();
        self.trie.diff(&other.trie, |side, first, last| {
            for (s, e) in cut((first.into(), last.into())) {
                found.push((s, e, side));
            }
        });
        // Ids apart in one set and not the other: the other's absent ids
        // there, minus the ids apart of both.
        for (mine, theirs, side) in [(a, &other, Side::Left), (b, &self, Side::Right)] {
            let Some((low, frontier)) = mine else {
                continue;
            };
            let mut x = low;
            while x < frontier {
                let Some(gap) = theirs.next_absent(x).filter(|&g| g < frontier) else {
                    break;
                };
                let end = theirs
                    .next_present(gap)
                    .map_or(frontier - 1, |p| min(p, frontier) - 1);
                found.push((gap, end, side));
                x = end + 1;
            }
        }
        found.sort_unstable_by_key(|&(s, _, _)| s);
        let mut pending: Option<(u64, u64, Side)> = None;
        for (s, e, side) in found {
            match &mut pending {
                Some((_, end, p)) if *p == side && *end + 1 == s => *end = e,
                _ => {
                    if let Some((ps, pe, pside)) = pending.replace((s, e, side)) {
                        f(pside, ps as u32, pe as u32);
                    }
                }
            }
        }
        if let Some((s, e, side)) = pending {
            f(side, s as u32, e as u32);
        }
    }

    /// Builds a set from runs that are sorted, disjoint and do not touch.
    /// Time: O(n). (Decoders build through `IdSetBuilder` directly.)
    #[cfg(test)]
    pub(crate) fn from_sorted_runs(runs: impl IntoIterator<Item = (u32, u32)>) -> IdSet {
        let mut builder = IdSetBuilder::new();
        for (first, last) in runs {
            builder.push(first, last);
        }
        builder.finish()
    }
}

/// Builds an [`IdSet`] from runs pushed in increasing order: the first run
/// is kept apart (so that allocating on from its end moves the frontier),
/// the others go into a trie (see [`TrieBuilder`]).
#[derive(Debug)]
pub(crate) struct IdSetBuilder {
    first: Option<(u32, u32)>,
    trie: TrieBuilder,
}

impl IdSetBuilder {
    pub(crate) fn new() -> IdSetBuilder {
        IdSetBuilder {
            first: None,
            trie: TrieBuilder::new(),
        }
    }

    /// Adds the run `first..=last`. Precondition: `first <= last`, and the
    /// run starts after the previous one without touching it.
    #[inline]
    pub(crate) fn push(&mut self, first: u32, last: u32) {
        if self.first.is_none() {
            self.first = Some((first, last));
        } else {
            self.trie.push(first, last);
        }
    }

    /// The set of every run pushed.
    pub(crate) fn finish(self) -> IdSet {
        let (low, frontier) = self
            .first
            .map_or((0, 0), |(first, last)| (first.into(), u64::from(last) + 1));
        IdSet {
            low,
            frontier,
            trie: self.trie.finish(),
        }
    }
}

/// Shows the runs.
impl fmt::Debug for IdSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Runs<'a>(&'a IdSet);
        impl fmt::Debug for Runs<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list()
                    .entries(self.0.runs().map(|(a, b)| a..=b))
                    .finish()
            }
        }
        f.debug_struct("IdSet")
            .field("count", &self.count())
            .field("runs", &Runs(self))
            .finish()
    }
}

#[cfg(test)]
mod tests;
