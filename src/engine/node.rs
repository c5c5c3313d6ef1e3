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
//! - every node's summary equals what its contents give.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::mem;

use super::caps::{gap_cap, Caps};
use super::config::{BRANCH_CAP, BRANCH_MIN, LEAF_CAP, LEAF_MIN};
use super::Span;

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
    /// Free-gap capacities of the gaps between the subtree's spans.
    pub(crate) caps: Caps,
}

impl Summary {
    const EMPTY: Summary = Summary {
        first: 0,
        last: 0,
        count: 0,
        covered: 0,
        caps: Caps::EMPTY,
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
    pub(crate) const ROOT: Edges = Edges {
        left: true,
        right: true,
    };

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
    summary: Summary,
}

/// Up to `BRANCH_CAP` children, all of the same height, in span order.
#[derive(Clone, Debug)]
pub(crate) struct Branch {
    children: Vec<Node>,
    summary: Summary,
}

impl Node {
    pub(crate) fn summary(&self) -> &Summary {
        match self {
            Node::Leaf(leaf) => &leaf.summary,
            Node::Branch(branch) => &branch.summary,
        }
    }

    /// Number of entries: spans of a leaf, children of a branch.
    pub(crate) fn len(&self) -> usize {
        match self {
            Node::Leaf(leaf) => leaf.len,
            Node::Branch(branch) => branch.children.len(),
        }
    }

    fn min_len(&self) -> usize {
        match self {
            Node::Leaf(_) => LEAF_MIN,
            Node::Branch(_) => BRANCH_MIN,
        }
    }

    /// Inserts `span`, which overlaps no span of the subtree. Returns the new
    /// right sibling when the node had to split.
    pub(crate) fn insert(&mut self, span: Span, edges: Edges) -> Option<Node> {
        match self {
            Node::Leaf(leaf) => Arc::make_mut(leaf)
                .insert(span, edges)
                .map(|sibling| Node::Leaf(Arc::new(sibling))),
            Node::Branch(branch) => Arc::make_mut(branch)
                .insert(span, edges)
                .map(|sibling| Node::Branch(Arc::new(sibling))),
        }
    }

    /// Removes the span that starts at `start`; it must exist.
    pub(crate) fn remove(&mut self, start: u64, edges: Edges) {
        match self {
            Node::Leaf(leaf) => Arc::make_mut(leaf).remove(start),
            Node::Branch(branch) => Arc::make_mut(branch).remove(start, edges),
        }
    }

    /// Replaces the span that starts at `start` with `span`, which overlaps
    /// no other span of the tree.
    pub(crate) fn replace(&mut self, start: u64, span: Span) {
        match self {
            Node::Leaf(leaf) => Arc::make_mut(leaf).replace(start, span),
            Node::Branch(branch) => Arc::make_mut(branch).replace(start, span),
        }
    }

    /// True if this child must be merged or rebalanced after a removal.
    fn underflows(&self, edges: Edges) -> bool {
        self.len() == 0 || (self.len() < self.min_len() && !edges.any())
    }
}

impl Leaf {
    pub(crate) fn new() -> Leaf {
        Leaf {
            len: 0,
            spans: [Span::ZERO; LEAF_CAP],
            summary: Summary::EMPTY,
        }
    }

    /// A leaf holding `spans` (sorted, disjoint, at most `LEAF_CAP`).
    pub(crate) fn from_spans(spans: &[Span]) -> Leaf {
        let mut leaf = Leaf::new();
        leaf.spans[..spans.len()].copy_from_slice(spans);
        leaf.len = spans.len();
        leaf.recompute();
        leaf
    }

    pub(crate) fn spans(&self) -> &[Span] {
        &self.spans[..self.len]
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

    /// Recomputes the summary from the spans.
    pub(crate) fn recompute(&mut self) {
        let spans = self.spans();
        let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
            self.summary = Summary::EMPTY;
            return;
        };
        let covered = spans.iter().fold(0u64, |acc, s| {
            acc.wrapping_add(s.len_minus_one().wrapping_add(1))
        });
        let caps = Caps::from_gaps(spans.windows(2).map(|w| gap_between(w[0].end, w[1].start)));
        self.summary = Summary {
            first: first.start,
            last: last.end,
            count: spans.len() as u64,
            covered,
            caps,
        };
    }

    fn insert(&mut self, span: Span, edges: Edges) -> Option<Leaf> {
        let pos = self.spans().partition_point(|s| s.start < span.start);
        if self.len < LEAF_CAP {
            self.insert_at(pos, span);
            return None;
        }
        // Full. Filling the space in order appends at an edge leaf: split
        // there so that the full leaf stays full.
        if edges.right && pos == self.len {
            return Some(Leaf::from_spans(&[span]));
        }
        if edges.left && pos == 0 {
            return Some(mem::replace(self, Leaf::from_spans(&[span])));
        }
        let mid = LEAF_CAP / 2;
        let mut right = Leaf::from_spans(&self.spans[mid..self.len]);
        self.len = mid;
        if pos <= mid {
            self.insert_at(pos, span);
        } else {
            self.recompute();
            right.insert_at(pos - mid, span);
        }
        Some(right)
    }

    fn insert_at(&mut self, pos: usize, span: Span) {
        self.spans.copy_within(pos..self.len, pos + 1);
        self.spans[pos] = span;
        self.len += 1;
        self.recompute();
    }

    fn remove(&mut self, start: u64) {
        let pos = self.index_of(start);
        self.spans.copy_within(pos + 1..self.len, pos);
        self.len -= 1;
        self.recompute();
    }

    fn replace(&mut self, start: u64, span: Span) {
        let pos = self.index_of(start);
        self.spans[pos] = span;
        self.recompute();
    }

    /// Moves all of `right`'s spans to the end of this leaf.
    fn absorb(&mut self, right: &Leaf) {
        self.spans[self.len..self.len + right.len].copy_from_slice(right.spans());
        self.len += right.len;
        self.recompute();
    }

    /// Evens out the spans of two neighbouring leaves.
    fn rebalance(left: &mut Leaf, right: &mut Leaf) {
        let total = left.len + right.len;
        let mut all: Vec<Span> = Vec::with_capacity(total);
        all.extend_from_slice(left.spans());
        all.extend_from_slice(right.spans());
        let mid = total / 2;
        *left = Leaf::from_spans(&all[..mid]);
        *right = Leaf::from_spans(&all[mid..]);
    }
}

impl Branch {
    /// A branch over `children` (same height, in order, at most `BRANCH_CAP`).
    pub(crate) fn from_children(children: Vec<Node>) -> Branch {
        let mut branch = Branch {
            children,
            summary: Summary::EMPTY,
        };
        branch.recompute();
        branch
    }

    pub(crate) fn children(&self) -> &[Node] {
        &self.children
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

    /// Recomputes the summary from the children.
    pub(crate) fn recompute(&mut self) {
        let (Some(first), Some(last)) = (self.children.first(), self.children.last()) else {
            self.summary = Summary::EMPTY;
            return;
        };
        let mut caps = Caps::from_gaps((0..self.children.len() - 1).map(|i| self.boundary_gap(i)));
        let mut count = 0u64;
        let mut covered = 0u64;
        for child in &self.children {
            let s = child.summary();
            caps.raise(&s.caps);
            count += s.count;
            covered = covered.wrapping_add(s.covered);
        }
        self.summary = Summary {
            first: first.summary().first,
            last: last.summary().last,
            count,
            covered,
            caps,
        };
    }

    /// Updates the summary after child `i` changed in place from `old`.
    ///
    /// Time: O(BRANCH_CAP) per alignment class whose maximum shrank, else O(1)
    /// beyond the 64-class merge.
    fn refresh(&mut self, i: usize, old: &Summary) {
        let new = *self.children[i].summary();
        let n = self.children.len();
        self.summary.count = self.summary.count - old.count + new.count;
        self.summary.covered = self
            .summary
            .covered
            .wrapping_sub(old.covered)
            .wrapping_add(new.covered);
        self.summary.first = self.children[0].summary().first;
        self.summary.last = self.children[n - 1].summary().last;

        let mut outgoing = old.caps;
        let mut incoming = new.caps;
        if old.first != new.first && i > 0 {
            let prev_last = self.children[i - 1].summary().last;
            outgoing.raise(&Caps::of_gap_pair(gap_between(prev_last, old.first)));
            incoming.raise(&Caps::of_gap_pair(gap_between(prev_last, new.first)));
        }
        if old.last != new.last && i + 1 < n {
            let next_first = self.children[i + 1].summary().first;
            outgoing.raise(&Caps::of_gap_pair(gap_between(old.last, next_first)));
            incoming.raise(&Caps::of_gap_pair(gap_between(new.last, next_first)));
        }
        let mut stale = self.summary.caps.apply_change(&outgoing, &incoming);
        while stale != 0 {
            let k = stale.trailing_zeros();
            stale &= stale - 1;
            let mut best = 0;
            for (j, child) in self.children.iter().enumerate() {
                best = best.max(child.summary().caps.get(k));
                if j + 1 < n {
                    let (start, len) = self.boundary_gap(j);
                    best = best.max(gap_cap(start, len, k));
                }
            }
            self.summary.caps.set(k, best);
        }
    }

    fn insert(&mut self, span: Span, edges: Edges) -> Option<Branch> {
        let i = self.route(span.start);
        let n = self.children.len();
        let old = *self.children[i].summary();
        let Some(sibling) = self.children[i].insert(span, edges.child(i, n)) else {
            self.refresh(i, &old);
            return None;
        };
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
        let right = self.children.split_off(mid);
        self.recompute();
        Some(Branch::from_children(right))
    }

    fn remove(&mut self, start: u64, edges: Edges) {
        let i = self.route(start);
        let n = self.children.len();
        let child_edges = edges.child(i, n);
        let old = *self.children[i].summary();
        self.children[i].remove(start, child_edges);
        if self.children[i].underflows(child_edges) {
            self.fix_underflow(i);
            self.recompute();
        } else {
            self.refresh(i, &old);
        }
    }

    fn replace(&mut self, start: u64, span: Span) {
        let i = self.route(start);
        let old = *self.children[i].summary();
        self.children[i].replace(start, span);
        self.refresh(i, &old);
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
        let mut all = mem::take(&mut left.children);
        all.append(&mut right.children);
        let mid = all.len() / 2;
        right.children = all.split_off(mid);
        left.children = all;
        left.recompute();
        right.recompute();
    }

    /// Takes the only child out of a branch (to shrink the tree's height).
    pub(crate) fn into_only_child(self) -> Node {
        debug_assert_eq!(self.children.len(), 1);
        self.children.into_iter().next().expect("one child")
    }
}

impl Caps {
    /// The summary of one gap given as `(start, len)`.
    fn of_gap_pair((start, len): (u64, u64)) -> Caps {
        Caps::of_gap(start, len)
    }
}
