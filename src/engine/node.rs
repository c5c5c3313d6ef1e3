// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Nodes of the span tree and the edits that keep them balanced.
//!
//! Invariants (checked by `SpanTree::check_invariants`):
//! - every leaf is at the same depth; spans live only in leaves;
//! - spans are sorted and disjoint: each span ends before the next starts;
//! - a leaf holds 1..=`LEAF_CAP` spans and a branch 1..=`BRANCH_CAP`
//!   children; outside the root and the first and last node of each level,
//!   a leaf holds at least `LEAF_MIN` spans and a branch `BRANCH_MIN`
//!   children (the edge nodes are exempt so that filling the space in order
//!   leaves full nodes behind instead of half-full ones); a root branch has at
//!   least two children;
//! - every node's summary equals what its contents give, and so do the
//!   free-gap capacities of every node except a root leaf (nothing reads
//!   those, so a tree of one leaf never pays for them).

use alloc::vec::Vec;
use arrayvec::ArrayVec;
use core::mem;
use triomphe::Arc;

use super::caps::Caps;
use super::config::{BRANCH_CAP, BRANCH_MIN, LEAF_CAP, LEAF_MIN};
use super::tags::{Tag, Tags};
use super::Span;
use crate::owner::Owner;

/// What a node knows about its whole subtree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Start of the first span.
    pub(crate) first: u64,
    /// End of the last span.
    pub(crate) last: u64,
    /// Number of spans.
    pub(crate) count: u64,
    /// Number of values covered by the spans (modulo 2^64: the allocators
    /// never cover the whole `u64` space).
    pub(crate) covered: u64,
    /// Number of spans with an owner.
    pub(crate) tagged: u64,
}

impl Summary {
    const EMPTY: Summary = Summary {
        first: 0,
        last: 0,
        count: 0,
        covered: 0,
        tagged: 0,
    };
}

/// The gap strictly between two neighbouring spans, as `(start, len)`.
#[inline]
pub(crate) fn gap_between(left_end: u64, right_start: u64) -> (u64, u64) {
    (left_end.wrapping_add(1), right_start - left_end - 1)
}

/// Whether a node lies at the left or right edge of its level.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Edges {
    pub(crate) left: bool,
    pub(crate) right: bool,
}

impl Edges {
    /// The edges of child `i` out of `n`.
    fn child(self, i: usize, n: usize) -> Edges {
        Edges {
            left: self.left && i == 0,
            right: self.right && i + 1 == n,
        }
    }

    fn any(self) -> bool {
        self.left || self.right
    }
}

/// Where a subtree sits in the tree: whether it is the root, its edges, and
/// the nearest span ends outside it, so that a leaf can tell whether an edit
/// reaches a neighbouring leaf.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Place {
    pub(crate) is_root: bool,
    pub(crate) edges: Edges,
    /// End of the last span before the subtree.
    pub(crate) before: Option<u64>,
    /// Start of the first span after the subtree.
    pub(crate) after: Option<u64>,
}

impl Place {
    pub(crate) const ROOT: Place = Place {
        is_root: true,
        edges: Edges {
            left: true,
            right: true,
        },
        before: None,
        after: None,
    };
}

/// A range-set edit reached a span in a neighbouring leaf; nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CrossesLeaf;

/// A node: a leaf of spans or a branch of nodes, shared copy-on-write.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Leaf(Arc<Leaf>),
    Branch(Arc<Branch>),
}

/// Up to `LEAF_CAP` sorted, disjoint spans.
#[derive(Clone, Debug)]
pub(crate) struct Leaf {
    len: usize,
    spans: [Span; LEAF_CAP],
    /// Bit `j` is set when spans `j` and `j + 1` do not touch, so that the
    /// capacities are recomputed from the real gaps only (a leaf of packed
    /// allocations has none). Like the capacities, a root leaf stops
    /// tracking them (`gaps_tracked`), and rebuilds them when it needs them.
    open_gaps: u128,
    gaps_tracked: bool,
    summary: Summary,
    /// Capacities of the gaps between the spans (stale in a root leaf).
    caps: Caps,
    /// The owners of the spans, if any has one.
    tags: Tags,
}

/// The bits below `j`.
#[inline]
fn bits_below(j: usize) -> u128 {
    if j >= 128 {
        u128::MAX
    } else {
        (1u128 << j) - 1
    }
}

/// The children of a branch, inline so that copying a shared branch is one
/// allocation; one spare slot holds a new child until the branch splits.
type Children = ArrayVec<Node, { BRANCH_CAP + 1 }>;

/// Up to `BRANCH_CAP` children, all of the same height, in span order.
#[derive(Clone, Debug)]
pub(crate) struct Branch {
    children: Children,
    summary: Summary,
    /// Capacities of all gaps strictly inside this branch.
    caps: Caps,
}

impl Node {
    pub(crate) fn summary(&self) -> &Summary {
        match self {
            Node::Leaf(leaf) => &leaf.summary,
            Node::Branch(branch) => &branch.summary,
        }
    }

    /// Capacities of the gaps strictly inside this node (stale for a root
    /// leaf, which nobody asks).
    pub(crate) fn inner_caps(&self) -> &Caps {
        match self {
            Node::Leaf(leaf) => &leaf.caps,
            Node::Branch(branch) => &branch.caps,
        }
    }

    /// Number of entries: spans of a leaf, children of a branch.
    pub(crate) fn len(&self) -> usize {
        match self {
            Node::Leaf(leaf) => leaf.len,
            Node::Branch(branch) => branch.children.len(),
        }
    }

    /// True if this child must be merged or rebalanced after an edit.
    fn underflows(&self, edges: Edges) -> bool {
        let min = match self {
            Node::Leaf(_) => LEAF_MIN,
            Node::Branch(_) => BRANCH_MIN,
        };
        self.len() == 0 || (self.len() < min && !edges.any())
    }

    /// Runs `edit` on the leaf that holds `key`, then restores every
    /// invariant on the way back up: a node that overflowed splits, one that
    /// underflowed is merged with or rebalanced against a neighbour, and
    /// every summary on the path is refreshed. Returns the edit's result and
    /// the new right sibling of this node if it split.
    ///
    /// Time: O(log n) nodes, each touched in O(node size).
    pub(crate) fn edit<R, F>(&mut self, key: u64, place: Place, edit: &mut F) -> (R, Option<Node>)
    where
        F: FnMut(&mut Leaf, Place) -> (R, Option<Arc<Leaf>>),
    {
        match self {
            Node::Leaf(leaf) => {
                let leaf = Arc::make_mut(leaf);
                if place.is_root {
                    leaf.stop_tracking_gaps();
                }
                let (result, sibling) = edit(leaf, place);
                // A leaf that has (or, having split, is about to get) a
                // parent keeps its capacities; a lone root leaf does not.
                if !place.is_root || sibling.is_some() {
                    leaf.refresh_caps();
                }
                (result, sibling.map(Node::Leaf))
            }
            Node::Branch(branch) => {
                let (result, sibling) = Arc::make_mut(branch).edit(key, place, edit);
                (result, sibling.map(|s| Node::Branch(Arc::new(s))))
            }
        }
    }
}

impl Leaf {
    /// An empty leaf.
    pub(crate) fn new() -> Leaf {
        Leaf {
            len: 0,
            spans: [Span::ZERO; LEAF_CAP],
            open_gaps: 0,
            gaps_tracked: true,
            summary: Summary::EMPTY,
            caps: Caps::EMPTY,
            tags: Tags::NONE,
        }
    }

    /// A leaf holding `spans` (sorted, disjoint, at most `LEAF_CAP`) owned
    /// as `tags` says, with its summary and capacities computed.
    pub(crate) fn from_spans(spans: &[Span], tags: Tags) -> Leaf {
        let mut leaf = Leaf::new();
        leaf.spans[..spans.len()].copy_from_slice(spans);
        leaf.len = spans.len();
        leaf.tags = tags;
        leaf.recompute();
        leaf
    }

    /// A leaf holding one span.
    fn single(span: Span, tag: Tag) -> Leaf {
        let mut tags = Tags::NONE;
        tags.set(0, tag);
        Leaf::from_spans(&[span], tags)
    }

    pub(crate) fn spans(&self) -> &[Span] {
        &self.spans[..self.len]
    }

    /// The owner of span `i`.
    #[inline]
    pub(crate) fn tag(&self, i: usize) -> Option<&Owner> {
        self.tags.get(i)
    }

    /// The owners of the spans.
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn tags(&self) -> &Tags {
        &self.tags
    }

    /// Sets the owner of the span that starts at `start`, returning the old one.
    pub(crate) fn set_tag(&mut self, start: u64, tag: Tag) -> Tag {
        let pos = self.index_of(start);
        let old = self.tags.set(pos, tag);
        self.summary.tagged = self.tags.count() as u64;
        old
    }

    /// Appends `span`, which starts after every span of the leaf, to a
    /// leaf that is not full; `seal` must follow before the leaf is used.
    #[inline]
    pub(crate) fn push_sorted(&mut self, span: Span, tag: Tag) {
        debug_assert!(self.len < LEAF_CAP);
        self.tags.set(self.len, tag);
        debug_assert!(self.spans().last().is_none_or(|p| p.end < span.start));
        if let Some(prev) = self.len.checked_sub(1) {
            if self.spans[prev].end + 1 != span.start {
                self.open_gaps |= 1 << prev;
            }
        }
        self.spans[self.len] = span;
        self.len += 1;
        self.summary.covered = self
            .summary
            .covered
            .wrapping_add(span.len_minus_one().wrapping_add(1));
    }

    /// Completes a leaf built by `push_sorted`: its summary and capacities.
    pub(crate) fn seal(&mut self) {
        self.gaps_tracked = true;
        self.refresh_ends();
        self.refresh_caps();
    }

    /// Empties the leaf (keeping its storage) for the next `push_sorted`.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.open_gaps = 0;
        self.summary = Summary::EMPTY;
        self.tags.clear();
    }

    /// Index of the last span starting at or before `x`.
    pub(crate) fn floor_index(&self, x: u64) -> Option<usize> {
        self.spans()
            .partition_point(|s| s.start <= x)
            .checked_sub(1)
    }

    fn index_of(&self, start: u64) -> usize {
        let i = self.spans().partition_point(|s| s.start < start);
        debug_assert!(
            i < self.len && self.spans[i].start == start,
            "no span at {start:#x}"
        );
        i
    }

    /// Recomputes the summary, gap bits and capacities from the spans.
    /// Time: O(len).
    fn recompute(&mut self) {
        self.summary.covered = self.spans().iter().fold(0u64, |acc, s| {
            acc.wrapping_add(s.len_minus_one().wrapping_add(1))
        });
        self.rebuild_gap_bits();
        self.refresh_ends();
        self.refresh_caps();
    }

    /// A root leaf needs neither gap bits nor capacities until it gets a
    /// parent; stop maintaining them.
    pub(crate) fn stop_tracking_gaps(&mut self) {
        self.gaps_tracked = false;
    }

    fn rebuild_gap_bits(&mut self) {
        self.open_gaps = 0;
        self.gaps_tracked = true;
        for j in 0..self.len.saturating_sub(1) {
            self.mark_gap(j);
        }
    }

    /// Re-reads whether gap `j` (between spans `j` and `j + 1`) is open;
    /// out-of-range indices are ignored.
    #[inline]
    fn mark_gap(&mut self, j: usize) {
        if j + 1 < self.len {
            let bit = 1u128 << j;
            if self.spans[j].end + 1 == self.spans[j + 1].start {
                self.open_gaps &= !bit;
            } else {
                self.open_gaps |= bit;
            }
        }
    }

    /// Updates the gap bits after span `pos` was inserted.
    fn gaps_after_insert(&mut self, pos: usize) {
        if !self.gaps_tracked {
            return;
        }
        let low = self.open_gaps & bits_below(pos);
        self.open_gaps = low | ((self.open_gaps & !bits_below(pos)) << 1);
        if pos > 0 {
            self.mark_gap(pos - 1);
        }
        self.mark_gap(pos);
    }

    /// Updates the gap bits after span `pos` was removed.
    fn gaps_after_remove(&mut self, pos: usize) {
        if !self.gaps_tracked {
            return;
        }
        let low = self.open_gaps & bits_below(pos);
        self.open_gaps = low | ((self.open_gaps >> 1) & !bits_below(pos));
        self.open_gaps &= bits_below(self.len.saturating_sub(1));
        if pos > 0 {
            self.mark_gap(pos - 1);
        }
    }

    /// Updates the gap bits after span `pos` changed its bounds.
    fn gaps_after_change(&mut self, pos: usize) {
        if !self.gaps_tracked {
            return;
        }
        if pos > 0 {
            self.mark_gap(pos - 1);
        }
        self.mark_gap(pos);
    }

    /// Refreshes first, last and count; `covered` is kept by the edits.
    #[inline]
    fn refresh_ends(&mut self) {
        let spans = self.spans();
        self.summary = match (spans.first(), spans.last()) {
            (Some(first), Some(last)) => Summary {
                first: first.start,
                last: last.end,
                count: spans.len() as u64,
                covered: self.summary.covered,
                tagged: self.tags.count() as u64,
            },
            _ => Summary::EMPTY,
        };
    }

    /// Recomputes the capacities of the gaps between the spans.
    /// Time: O(open gaps + 64).
    fn refresh_caps(&mut self) {
        if !self.gaps_tracked {
            self.rebuild_gap_bits();
        }
        let spans = &self.spans;
        let mut open = self.open_gaps;
        self.caps = Caps::from_gaps(core::iter::from_fn(|| {
            if open == 0 {
                return None;
            }
            let j = open.trailing_zeros() as usize;
            open &= open - 1;
            Some(gap_between(spans[j].end, spans[j + 1].start))
        }));
    }

    /// Inserts `span` owned by `tag`, which overlaps no span; returns the
    /// new right sibling if the leaf had to split.
    pub(crate) fn insert(&mut self, span: Span, tag: Tag, edges: Edges) -> Option<Arc<Leaf>> {
        let pos = self.spans().partition_point(|s| s.start < span.start);
        if self.len < LEAF_CAP {
            self.insert_at(pos, span, tag);
            return None;
        }
        // Full. Filling the space in order appends at an edge leaf: split
        // there so that the full leaf stays full.
        if edges.right && pos == self.len {
            return Some(Arc::new(Leaf::single(span, tag)));
        }
        if edges.left && pos == 0 {
            let mut full = Arc::new(Leaf::single(span, tag));
            let moved = Arc::make_mut(&mut full);
            mem::swap(self, moved);
            moved.refresh_caps(); // it may have been a root leaf
            return Some(full);
        }
        let mid = LEAF_CAP / 2;
        let right_tags = self.tags.split_off(mid, self.len);
        let mut right = Arc::new(Leaf::from_spans(&self.spans[mid..self.len], right_tags));
        self.len = mid;
        self.recompute();
        if pos <= mid {
            self.insert_at(pos, span, tag);
        } else {
            let right_leaf = Arc::make_mut(&mut right);
            right_leaf.insert_at(pos - mid, span, tag);
            right_leaf.refresh_caps();
        }
        Some(right)
    }

    #[inline]
    fn insert_at(&mut self, pos: usize, span: Span, tag: Tag) {
        if pos < self.len {
            self.spans.copy_within(pos..self.len, pos + 1);
        }
        self.tags.insert(pos, self.len, tag);
        self.spans[pos] = span;
        self.len += 1;
        self.gaps_after_insert(pos);
        self.summary.covered = self
            .summary
            .covered
            .wrapping_add(span.len_minus_one().wrapping_add(1));
        self.refresh_ends();
    }

    /// Removes the span that starts at `start`, returning its owner.
    pub(crate) fn remove(&mut self, start: u64) -> Tag {
        let pos = self.index_of(start);
        let span = self.spans[pos];
        self.spans.copy_within(pos + 1..self.len, pos);
        let tag = self.tags.remove(pos, self.len);
        self.len -= 1;
        self.gaps_after_remove(pos);
        self.summary.covered = self
            .summary
            .covered
            .wrapping_sub(span.len_minus_one().wrapping_add(1));
        self.refresh_ends();
        tag
    }

    /// Replaces the span that starts at `start` with `span`.
    pub(crate) fn replace(&mut self, start: u64, span: Span) {
        let pos = self.index_of(start);
        let old = mem::replace(&mut self.spans[pos], span);
        self.gaps_after_change(pos);
        self.summary.covered = self
            .summary
            .covered
            .wrapping_sub(old.len_minus_one())
            .wrapping_add(span.len_minus_one());
        self.refresh_ends();
    }

    /// Adds the free values `first..=last`, merging with the spans they
    /// touch. Fails, changing nothing, if a touched span lies in another leaf.
    pub(crate) fn fill(
        &mut self,
        first: u64,
        last: u64,
        place: Place,
    ) -> (Result<(), CrossesLeaf>, Option<Arc<Leaf>>) {
        // Spans merge here, which owners would forbid: only untagged trees fill.
        debug_assert_eq!(self.tags.count(), 0);
        let pos = self.spans().partition_point(|s| s.start < first);
        let touches_left = match pos {
            0 => {
                if first > 0 && place.before == Some(first - 1) {
                    return (Err(CrossesLeaf), None);
                }
                false
            }
            _ => self.spans[pos - 1].end + 1 == first,
        };
        let touches_right = if pos == self.len {
            if last < u64::MAX && place.after == Some(last + 1) {
                return (Err(CrossesLeaf), None);
            }
            false
        } else {
            self.spans[pos].start == last + 1
        };
        match (touches_left, touches_right) {
            (false, false) => {
                return (
                    Ok(()),
                    self.insert(Span::new(first, last), None, place.edges),
                )
            }
            (true, true) => {
                self.spans[pos - 1].end = self.spans[pos].end;
                if pos + 1 < self.len {
                    self.spans.copy_within(pos + 1..self.len, pos);
                }
                self.tags.remove(pos, self.len);
                self.len -= 1;
                self.gaps_after_remove(pos);
            }
            (true, false) => {
                self.spans[pos - 1].end = last;
                self.gaps_after_change(pos - 1);
            }
            (false, true) => {
                self.spans[pos].start = first;
                self.gaps_after_change(pos);
            }
        }
        self.summary.covered = self.summary.covered.wrapping_add(last - first + 1);
        self.refresh_ends();
        (Ok(()), None)
    }

    /// Removes the values `first..=last` from the span that starts at
    /// `start` and contains them (what is left keeps the span's owner);
    /// returns the new right sibling if the leaf had to split to keep both
    /// remaining pieces.
    pub(crate) fn carve(
        &mut self,
        start: u64,
        first: u64,
        last: u64,
        edges: Edges,
    ) -> Option<Arc<Leaf>> {
        let pos = self.index_of(start);
        let span = self.spans[pos];
        debug_assert!(span.start <= first && last <= span.end);
        match (span.start == first, span.end == last) {
            (true, true) => {
                self.remove(start);
                return None;
            }
            (true, false) => self.spans[pos].start = last + 1,
            (false, true) => self.spans[pos].end = first - 1,
            (false, false) => {
                // Keep the left piece in place, insert the right one.
                self.spans[pos].end = first - 1;
                self.gaps_after_change(pos);
                self.summary.covered = self.summary.covered.wrapping_sub(span.end - first + 1);
                let right = Span::new(last + 1, span.end);
                let tag = self.tags.get(pos).cloned();
                if self.len < LEAF_CAP {
                    self.insert_at(pos + 1, right, tag);
                    return None;
                }
                self.refresh_ends();
                return self.insert(right, tag, edges);
            }
        }
        self.gaps_after_change(pos);
        self.summary.covered = self.summary.covered.wrapping_sub(last - first + 1);
        self.refresh_ends();
        None
    }

    /// Moves all of `right`'s spans to the end of this leaf.
    fn absorb(&mut self, right: &Leaf) {
        self.spans[self.len..self.len + right.len].copy_from_slice(right.spans());
        self.tags.append(self.len, &right.tags, right.len);
        self.len += right.len;
        self.recompute();
    }

    /// Evens out the spans of two neighbouring leaves.
    fn rebalance(left: &mut Leaf, right: &mut Leaf) {
        let total = left.len + right.len;
        let mut all: Vec<Span> = Vec::with_capacity(total);
        all.extend_from_slice(left.spans());
        all.extend_from_slice(right.spans());
        // Both together may not fit in one leaf's column: place each owner
        // straight into its new slot.
        let mid = total / 2;
        let (mut left_tags, mut right_tags) = (Tags::NONE, Tags::NONE);
        let owners = (0..left.len)
            .map(|i| left.tag(i))
            .chain((0..right.len).map(|i| right.tag(i)));
        for (i, owner) in owners.enumerate() {
            if let Some(owner) = owner {
                match i.checked_sub(mid) {
                    None => left_tags.set(i, Some(owner.clone())),
                    Some(j) => right_tags.set(j, Some(owner.clone())),
                };
            }
        }
        *left = Leaf::from_spans(&all[..mid], left_tags);
        *right = Leaf::from_spans(&all[mid..], right_tags);
    }

    /// True if the gap bits match the spans or are not tracked (for the
    /// invariant checker).
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn gap_bits_match(&self) -> bool {
        if !self.gaps_tracked {
            return true;
        }
        let mut expected = 0u128;
        for (j, pair) in self.spans().windows(2).enumerate() {
            if pair[0].end + 1 != pair[1].start {
                expected |= 1 << j;
            }
        }
        expected == self.open_gaps
    }
}

impl Branch {
    /// A branch over `children` (same height, in order, at most
    /// `BRANCH_CAP`, capacities up to date).
    pub(crate) fn from_children(children: impl IntoIterator<Item = Node>) -> Branch {
        let mut branch = Branch {
            children: children.into_iter().collect(),
            summary: Summary::EMPTY,
            caps: Caps::EMPTY,
        };
        branch.recompute();
        branch
    }

    pub(crate) fn children(&self) -> &[Node] {
        &self.children
    }

    /// Capacities of all gaps strictly inside this branch.
    pub(crate) fn caps(&self) -> &Caps {
        &self.caps
    }

    /// Index of the child to search for a span starting at `x`: the last
    /// child whose first span starts at or before `x`, else the first.
    pub(crate) fn route(&self, x: u64) -> usize {
        self.children
            .partition_point(|c| c.summary().first <= x)
            .saturating_sub(1)
    }

    /// The gap between child `i` and child `i + 1`, as `(start, len)`.
    fn boundary_gap(&self, i: usize) -> (u64, u64) {
        gap_between(
            self.children[i].summary().last,
            self.children[i + 1].summary().first,
        )
    }

    /// Recomputes the summary and capacities from the children.
    /// Time: O(BRANCH_CAP * 64).
    pub(crate) fn recompute(&mut self) {
        self.recompute_caps();
        let (Some(first), Some(last)) = (self.children.first(), self.children.last()) else {
            self.summary = Summary::EMPTY;
            return;
        };
        let mut count = 0u64;
        let mut covered = 0u64;
        let mut tagged = 0u64;
        for child in &self.children {
            let s = child.summary();
            count += s.count;
            covered = covered.wrapping_add(s.covered);
            tagged += s.tagged;
        }
        self.summary = Summary {
            first: first.summary().first,
            last: last.summary().last,
            count,
            covered,
            tagged,
        };
    }

    /// Recomputes the capacities from the children's and the gaps between
    /// them. Time: O(BRANCH_CAP * 64) at worst; zero classes are skipped.
    fn recompute_caps(&mut self) {
        let n = self.children.len();
        let mut caps = Caps::from_gaps((0..n.saturating_sub(1)).map(|i| self.boundary_gap(i)));
        for child in &self.children {
            caps.raise(child.inner_caps());
        }
        self.caps = caps;
    }

    /// Updates the summary after child `i` changed in place from
    /// `old`/`old_caps`.
    ///
    /// Time: O(64), plus a recomputation when a maximum may have shrunk.
    fn refresh(&mut self, i: usize, old: &Summary, old_caps: &Caps) {
        let new = *self.children[i].summary();
        let n = self.children.len();
        self.summary.count = self.summary.count - old.count + new.count;
        self.summary.tagged = self.summary.tagged - old.tagged + new.tagged;
        self.summary.covered = self
            .summary
            .covered
            .wrapping_sub(old.covered)
            .wrapping_add(new.covered);
        self.summary.first = self.children[0].summary().first;
        self.summary.last = self.children[n - 1].summary().last;

        // The child's capacities replace its old ones; its boundary gaps
        // change only if its ends moved. Classes that only grew are updated
        // in place; if a maximum may have shrunk, recompute from the parts.
        let mut stale = self
            .caps
            .apply_change(old_caps, self.children[i].inner_caps());
        if old.first != new.first && i > 0 {
            let prev_last = self.children[i - 1].summary().last;
            stale |= self.caps.apply_change(
                &Caps::of_gap(gap_between(prev_last, old.first)),
                &Caps::of_gap(gap_between(prev_last, new.first)),
            );
        }
        if old.last != new.last && i + 1 < n {
            let next_first = self.children[i + 1].summary().first;
            stale |= self.caps.apply_change(
                &Caps::of_gap(gap_between(old.last, next_first)),
                &Caps::of_gap(gap_between(new.last, next_first)),
            );
        }
        if stale != 0 {
            self.recompute_caps();
        }
    }

    fn edit<R, F>(&mut self, key: u64, place: Place, edit: &mut F) -> (R, Option<Branch>)
    where
        F: FnMut(&mut Leaf, Place) -> (R, Option<Arc<Leaf>>),
    {
        let i = self.route(key);
        let n = self.children.len();
        let child_place = Place {
            is_root: false,
            edges: place.edges.child(i, n),
            before: match i {
                0 => place.before,
                _ => Some(self.children[i - 1].summary().last),
            },
            after: match self.children.get(i + 1) {
                Some(next) => Some(next.summary().first),
                None => place.after,
            },
        };
        let old = *self.children[i].summary();
        let old_caps = *self.children[i].inner_caps();
        let (result, sibling) = self.children[i].edit(key, child_place, edit);
        if let Some(sibling) = sibling {
            return (result, self.adopt(i, sibling, place.edges));
        }
        if self.children[i].underflows(child_place.edges) {
            self.fix_underflow(i);
            self.recompute();
        } else {
            self.refresh(i, &old, &old_caps);
        }
        (result, None)
    }

    /// Inserts `sibling`, split off child `i`, after it; splits this branch
    /// if it overflows and returns the new right half.
    fn adopt(&mut self, i: usize, sibling: Node, edges: Edges) -> Option<Branch> {
        self.children.insert(i + 1, sibling);
        if self.children.len() <= BRANCH_CAP {
            self.recompute();
            return None;
        }
        // Over full. At an edge, keep the full side full (see `Leaf::insert`):
        // the small new node sits at the very end or the very start.
        let total = self.children.len();
        let mid = if edges.right && i + 2 == total {
            total - 1
        } else if edges.left && i == 0 && self.children[0].len() == 1 {
            1
        } else {
            total / 2
        };
        let right: Children = self.children.drain(mid..).collect();
        self.recompute();
        Some(Branch::from_children(right))
    }

    /// Merges or rebalances child `i`, which is empty or below its minimum,
    /// with a neighbour.
    fn fix_underflow(&mut self, i: usize) {
        if self.children[i].len() == 0 {
            self.children.remove(i);
            return;
        }
        let n = self.children.len();
        let left = if i + 1 < n {
            i
        } else if i > 0 {
            i - 1
        } else {
            return; // an only child: our own parent rebalances us
        };
        let (head, tail) = self.children.split_at_mut(left + 1);
        let merged = match (&mut head[left], &mut tail[0]) {
            (Node::Leaf(a), Node::Leaf(b)) => {
                if a.len + b.len <= LEAF_CAP {
                    Arc::make_mut(a).absorb(b);
                    true
                } else {
                    Leaf::rebalance(Arc::make_mut(a), Arc::make_mut(b));
                    false
                }
            }
            (Node::Branch(a), Node::Branch(b)) => {
                if a.children.len() + b.children.len() <= BRANCH_CAP {
                    let moved = b.children.clone();
                    let a = Arc::make_mut(a);
                    a.children.extend(moved);
                    a.recompute();
                    true
                } else {
                    Branch::rebalance(Arc::make_mut(a), Arc::make_mut(b));
                    false
                }
            }
            _ => unreachable!("siblings always have the same height"),
        };
        if merged {
            self.children.remove(left + 1);
        }
    }

    /// Evens out the children of two neighbouring branches.
    fn rebalance(left: &mut Branch, right: &mut Branch) {
        let mut all: Vec<Node> = left.children.drain(..).collect();
        all.extend(right.children.drain(..));
        let mid = all.len() / 2;
        right.children = all.drain(mid..).collect();
        left.children = all.into_iter().collect();
        left.recompute();
        right.recompute();
    }

    /// Takes the only child out of a branch (to shrink the tree's height).
    pub(crate) fn into_only_child(self) -> Node {
        debug_assert_eq!(self.children.len(), 1);
        self.children.into_iter().next().expect("one child")
    }
}
