// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The persistent range engine beneath both allocators.
//!
//! `AddressAllocator` and the owners of ids use the [`SpanTree`] below;
//! `IdAllocator` keeps its ids in the bitmap trie of [`idset`].
//!
//! A [`SpanTree`] is a set of disjoint closed `u64` intervals ("spans") kept
//! in a copy-on-write B+ tree: spans live in leaves of up to `LEAF_CAP`,
//! nodes are shared through `Arc`, and every node carries a summary of its
//! subtree (first and last value, span count, values covered) and the
//! alignment-aware free-gap capacities of [`caps`] (a lone root leaf skips
//! them: its searches scan it). So:
//!
//! - cloning copies one pointer, and a mutation copies only the nodes on its
//!   path that are shared with a clone (none when no clone is alive);
//! - lookups, inserts, removals and first/last-fit searches with any
//!   power-of-two alignment and any window are O(log n).
//!
//! The engine knows nothing of ids, addresses or errors: the allocators give
//! spans their meaning and check every precondition documented here.

mod build;
mod caps;
#[cfg(any(test, fuzzing, vm_allocator_check))]
mod check;
mod config;
mod diff;
mod heap;
pub(crate) mod idset;
mod iter;
mod node;
mod search;
mod tags;

use triomphe::Arc;

use crate::owner::Owner;
pub(crate) use build::SpanTreeBuilder;
pub(crate) use diff::Side;
pub(crate) use heap::{arc_bytes, Block, Visit};
pub(crate) use iter::{Spans, TaggedSpans};
use node::{Branch, Leaf, Node, Place};
pub(crate) use tags::Tag;

/// A closed interval `[start, end]`, `start <= end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Span {
    pub(crate) start: u64,
    pub(crate) end: u64,
}

impl Span {
    pub(crate) const ZERO: Span = Span { start: 0, end: 0 };

    pub(crate) fn new(start: u64, end: u64) -> Span {
        debug_assert!(start <= end);
        Span { start, end }
    }

    /// `end - start`: the length minus one, which cannot overflow.
    pub(crate) fn len_minus_one(&self) -> u64 {
        self.end - self.start
    }
}

/// A request for free space: `size` values at alignment `2^align_log2`,
/// entirely inside the window `[lo, hi]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fit {
    pub(crate) size: u64,
    pub(crate) align_log2: u32,
    pub(crate) lo: u64,
    pub(crate) hi: u64,
}

/// A persistent set of disjoint spans.
#[derive(Clone, Debug, Default)]
pub(crate) struct SpanTree {
    root: Option<Node>,
}

impl SpanTree {
    /// An empty tree.
    pub(crate) const fn new() -> SpanTree {
        SpanTree { root: None }
    }

    /// Number of spans. Time: O(1).
    pub(crate) fn len(&self) -> u64 {
        self.root.as_ref().map_or(0, |r| r.summary().count)
    }

    /// Number of values covered by all spans (modulo 2^64). Time: O(1).
    pub(crate) fn covered(&self) -> u64 {
        self.root.as_ref().map_or(0, |r| r.summary().covered)
    }

    /// Number of spans with an owner. Time: O(1).
    pub(crate) fn tagged(&self) -> u64 {
        self.root.as_ref().map_or(0, |r| r.summary().tagged)
    }

    /// True if both trees are the same allocation. Time: O(1).
    pub(crate) fn ptr_eq(&self, other: &SpanTree) -> bool {
        match (&self.root, &other.root) {
            (None, None) => true,
            (Some(Node::Leaf(a)), Some(Node::Leaf(b))) => Arc::ptr_eq(a, b),
            (Some(Node::Branch(a)), Some(Node::Branch(b))) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Runs `edit` on the leaf where `key` belongs and rebalances the path.
    fn edit<R>(
        &mut self,
        key: u64,
        mut edit: impl FnMut(&mut Leaf, Place) -> (R, Option<Arc<Leaf>>),
    ) -> R {
        // A lone root leaf with room cannot split: edit it directly.
        if let Some(Node::Leaf(leaf)) = &mut self.root {
            if leaf.spans().len() < config::LEAF_CAP {
                let leaf = Arc::make_mut(leaf);
                leaf.stop_tracking_gaps();
                let (result, sibling) = edit(leaf, Place::ROOT);
                debug_assert!(sibling.is_none());
                if leaf.spans().is_empty() {
                    self.root = None;
                }
                return result;
            }
        }
        let root = self
            .root
            .get_or_insert_with(|| Node::Leaf(Arc::new(Leaf::new())));
        let (result, sibling, _) = root.edit(key, Place::ROOT, &mut edit);
        if let Some(sibling) = sibling {
            let left = self.root.take().expect("root exists");
            self.root = Some(Node::Branch(Arc::new(Branch::from_children(alloc::vec![
                left, sibling
            ]))));
        }
        self.shrink_root();
        result
    }

    /// Adds `span` without an owner. Precondition: it overlaps no span in
    /// the tree. Time: O(log n).
    // A range-set edit of the ids `IdAllocator` kept here before it moved
    // to `idset`; only the engine's tests use it now.
    #[cfg(test)]
    pub(crate) fn insert(&mut self, span: Span) {
        self.insert_tagged(span, None);
    }

    /// Adds `span` owned by `tag`. Precondition: it overlaps no span in the
    /// tree. Time: O(log n).
    pub(crate) fn insert_tagged(&mut self, span: Span, tag: Tag) {
        debug_assert!(self.overlap(span).is_none(), "{span:?} overlaps");
        let mut tag = Some(tag);
        self.edit(span.start, |leaf, place| {
            let tag = tag.take().expect("the edit runs once");
            ((), leaf.insert(span, tag, place.edges))
        });
    }

    /// Removes the span that starts at `start` and returns its owner.
    /// Precondition: it exists. Time: O(log n).
    pub(crate) fn remove(&mut self, start: u64) -> Tag {
        debug_assert!(self.floor(start).is_some_and(|s| s.start == start));
        self.edit(start, |leaf, _| (leaf.remove(start), None))
    }

    /// Sets the owner of the span that starts at `start` and returns the
    /// old one. Precondition: the span exists. Time: O(log n).
    pub(crate) fn set_tag(&mut self, start: u64, tag: Tag) -> Tag {
        debug_assert!(self.floor(start).is_some_and(|s| s.start == start));
        let mut tag = Some(tag);
        self.edit(start, |leaf, _| {
            let tag = tag.take().expect("the edit runs once");
            (leaf.set_tag(start, tag), None)
        })
    }

    /// Replaces the span that starts at `start` with `span`. Precondition:
    /// the old span exists and `span` overlaps no other span.
    /// Time: O(log n).
    // A range-set edit of the ids `IdAllocator` kept here before it moved
    // to `idset`; only the engine's tests use it now.
    #[cfg(test)]
    pub(crate) fn replace(&mut self, start: u64, span: Span) {
        self.edit(start, |leaf, _| (leaf.replace(start, span), None));
    }

    /// Range-set edit: adds the free values `first..=last`, merging them with
    /// the spans they touch, so that spans stay maximal. Precondition: no
    /// span overlaps `first..=last`. Time: O(log n).
    // A range-set edit of the ids `IdAllocator` kept here before it moved
    // to `idset`; only the engine's tests use it now.
    #[cfg(test)]
    pub(crate) fn fill(&mut self, first: u64, last: u64) {
        debug_assert!(self.overlap(Span::new(first, last)).is_none());
        if self
            .edit(first, |leaf, place| leaf.fill(first, last, place))
            .is_ok()
        {
            return;
        }
        // A touched span lies in a neighbouring leaf: edit span by span.
        let before = first.checked_sub(1).and_then(|x| self.containing(x));
        let after = last.checked_add(1).and_then(|x| self.containing(x));
        match (before, after) {
            (Some(b), Some(a)) => {
                self.remove(a.start);
                self.replace(b.start, Span::new(b.start, a.end));
            }
            (Some(b), None) => self.replace(b.start, Span::new(b.start, last)),
            (None, Some(a)) => self.replace(a.start, Span::new(first, a.end)),
            (None, None) => self.insert(Span::new(first, last)),
        }
    }

    /// Range-set edit: removes `first..=last` from `span`, a span of the tree
    /// that contains them, keeping what is left on either side (with the
    /// span's owner). Time: O(log n).
    pub(crate) fn carve(&mut self, span: Span, first: u64, last: u64) {
        debug_assert!(self.floor(span.start) == Some(span));
        self.edit(span.start, |leaf, place| {
            ((), leaf.carve(span.start, first, last, place.edges))
        });
    }

    /// Drops empty roots and roots with a single child.
    fn shrink_root(&mut self) {
        loop {
            match &self.root {
                Some(Node::Leaf(leaf)) if leaf.spans().is_empty() => {}
                Some(Node::Branch(branch)) if branch.children().len() <= 1 => {}
                _ => return,
            }
            match self.root.take() {
                Some(node) if node.len() == 0 => return,
                Some(Node::Branch(branch)) if branch.children().len() == 1 => {
                    let branch = Arc::try_unwrap(branch).unwrap_or_else(|shared| (*shared).clone());
                    self.root = Some(branch.into_only_child());
                }
                other => {
                    self.root = other;
                    return;
                }
            }
        }
    }

    /// The last span that starts at or before `x`. Time: O(log n).
    pub(crate) fn floor(&self, x: u64) -> Option<Span> {
        self.floor_entry(x).map(|(span, _)| span)
    }

    /// The last span that starts at or before `x`, with its owner.
    /// Time: O(log n).
    pub(crate) fn floor_entry(&self, x: u64) -> Option<(Span, Option<&Owner>)> {
        let mut node = self.root.as_ref()?;
        loop {
            match node {
                Node::Leaf(leaf) => {
                    return leaf.floor_index(x).map(|i| (leaf.spans()[i], leaf.tag(i)))
                }
                Node::Branch(branch) => {
                    let i = branch.route(x);
                    if branch.firsts()[i] > x {
                        return None; // x precedes every span
                    }
                    node = &branch.children()[i];
                }
            }
        }
    }

    /// The span containing `x`. Time: O(log n).
    pub(crate) fn containing(&self, x: u64) -> Option<Span> {
        self.floor(x).filter(|s| s.end >= x)
    }

    /// The span containing `x`, with its owner. Time: O(log n).
    pub(crate) fn containing_entry(&self, x: u64) -> Option<(Span, Option<&Owner>)> {
        self.floor_entry(x).filter(|(s, _)| s.end >= x)
    }

    /// A span that shares a value with `span`, if any. Time: O(log n).
    pub(crate) fn overlap(&self, span: Span) -> Option<Span> {
        // The span with the greatest start <= span.end is the only candidate
        // that can reach back into `span`.
        self.floor(span.end).filter(|s| s.end >= span.start)
    }

    /// Calls `f` with the spans of each leaf, in increasing order: what an
    /// encoder that reads every span needs, without an iterator's
    /// per-step bookkeeping. Time: O(n); recursion as deep as the tree
    /// (O(log n)).
    pub(crate) fn for_each_leaf(&self, mut f: impl FnMut(&[Span])) {
        fn walk(node: &Node, f: &mut impl FnMut(&[Span])) {
            match node {
                Node::Leaf(leaf) => f(leaf.spans()),
                Node::Branch(branch) => {
                    for child in branch.children() {
                        walk(child, f);
                    }
                }
            }
        }
        if let Some(root) = &self.root {
            walk(root, &mut f);
        }
    }

    /// The spans in increasing order. Time: O(1) per step.
    pub(crate) fn iter(&self) -> Spans<'_> {
        Spans::new(self.root.as_ref())
    }

    /// The spans in increasing order, with their owners. Time: O(1) per step.
    pub(crate) fn iter_tagged(&self) -> TaggedSpans<'_> {
        TaggedSpans::new(self.root.as_ref())
    }

    /// The spans that end at or after `x`, in increasing order, with their
    /// owners. Time: O(log n) to start, O(1) per step.
    pub(crate) fn iter_tagged_from(&self, x: u64) -> TaggedSpans<'_> {
        TaggedSpans::from(self.root.as_ref(), x)
    }

    /// The spans overlapping `first..=last`, in increasing order. Time:
    /// O(log n) to start, O(1) per step.
    pub(crate) fn iter_overlapping(&self, first: u64, last: u64) -> Spans<'_> {
        Spans::overlapping(self.root.as_ref(), first, last)
    }

    /// [`SpanTree::iter_overlapping`] with the owners.
    pub(crate) fn iter_tagged_overlapping(&self, first: u64, last: u64) -> TaggedSpans<'_> {
        TaggedSpans::overlapping(self.root.as_ref(), first, last)
    }
}

#[cfg(test)]
mod tests;
