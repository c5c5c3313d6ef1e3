// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Building a tree from spans that are already sorted, in O(n).

use alloc::vec::Vec;
use arrayvec::ArrayVec;
use triomphe::{Arc, UniqueArc};

use super::config::{BRANCH_CAP, LEAF_CAP};
use super::node::{Branch, Leaf, Node};
use super::tags::Tag;
use super::{Span, SpanTree};

/// Builds a tree from spans pushed in increasing order, bottom-up.
///
/// Spans go straight into the leaf being filled, which is summarised once,
/// when it is full (its summary, gap bits and capacities in one pass over
/// its spans, which are then in cache), and each branch once, when it has
/// all its children. Every node but the last of each level is full. The
/// caller checks the order (the validating builders of `crate::validate`
/// do) before pushing.
pub(crate) struct SpanTreeBuilder {
    /// The leaf being filled, not shared yet (made at the first push, so
    /// that a decoder refusing its input allocates nothing).
    leaf: Option<UniqueArc<Leaf>>,
    /// `levels[h]`: the finished nodes of height `h` not yet given a parent.
    levels: Vec<ArrayVec<Node, BRANCH_CAP>>,
}

impl core::fmt::Debug for SpanTreeBuilder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SpanTreeBuilder")
            .field("leaf", &self.leaf.as_ref().map(|leaf| leaf.spans()))
            .field("levels", &self.levels)
            .finish()
    }
}

impl SpanTreeBuilder {
    pub(crate) fn new() -> SpanTreeBuilder {
        SpanTreeBuilder {
            leaf: None,
            levels: Vec::new(),
        }
    }

    /// Appends `span`, owned by `tag`. Precondition: it starts after the
    /// end of the span pushed before. Time: O(1) amortised.
    #[inline(always)]
    pub(crate) fn push(&mut self, span: Span, tag: Tag) {
        self.room().append_one(span, tag);
    }

    /// The leaf being filled, with room for a span: a new one if it is
    /// full or there is none.
    #[inline(always)]
    fn room(&mut self) -> &mut Leaf {
        if self
            .leaf
            .as_ref()
            .is_none_or(|leaf| leaf.spans().len() == LEAF_CAP)
        {
            self.next_leaf();
        }
        self.leaf.as_mut().expect("a leaf with room")
    }

    /// Span slots to fill, in the leaf being filled (a new one if it is
    /// full): the caller writes spans into a prefix of them, then
    /// [`commit`](Self::commit)s it, or nothing.
    #[inline]
    pub(crate) fn spare(&mut self) -> &mut [Span] {
        self.room().spare()
    }

    /// Takes the first `n` slots [`spare`](Self::spare) gave, which the
    /// caller filled with spans that follow the ones pushed before (sorted,
    /// disjoint), without owners.
    #[inline]
    pub(crate) fn commit(&mut self, n: usize) {
        self.leaf.as_mut().expect("spare gave the slots").commit(n);
    }

    /// Seals the leaf being filled, if any, and hands it to its level.
    fn finish_leaf(&mut self) {
        if let Some(mut leaf) = self.leaf.take() {
            leaf.seal();
            self.add(0, Node::Leaf(leaf.shareable()));
        }
    }

    /// Seals the leaf being filled, if any, and starts the next one.
    #[cold]
    #[inline(never)]
    fn next_leaf(&mut self) {
        self.finish_leaf();
        self.leaf = Some(UniqueArc::new(Leaf::new()));
    }

    /// Adds a finished node of height `h`; a full level becomes a branch
    /// one level up.
    fn add(&mut self, h: usize, node: Node) {
        if self.levels.len() == h {
            self.levels.push(ArrayVec::new());
        }
        if self.levels[h].is_full() {
            let children = core::mem::take(&mut self.levels[h]);
            let branch = Node::Branch(Arc::new(Branch::from_children(children)));
            self.add(h + 1, branch);
        }
        self.levels[h].push(node);
    }

    /// The tree of every span pushed. Time: O(log n) after the pushes.
    pub(crate) fn finish(mut self) -> SpanTree {
        self.finish_leaf();
        // Close each level from the bottom: its nodes become the last
        // children of a branch one level up, unless one node is left at the
        // top.
        let mut h = 0;
        while h < self.levels.len() {
            let top = h + 1 == self.levels.len();
            let nodes = core::mem::take(&mut self.levels[h]);
            if top && nodes.len() == 1 {
                return SpanTree {
                    root: nodes.into_iter().next(),
                };
            }
            if !nodes.is_empty() {
                let branch = Node::Branch(Arc::new(Branch::from_children(nodes)));
                self.add(h + 1, branch);
            }
            h += 1;
        }
        SpanTree::new()
    }
}

impl SpanTree {
    /// Builds a tree of untagged spans in increasing order.
    ///
    /// Precondition: the spans are sorted and disjoint (each ends before the
    /// next starts). Time: O(n).
    pub(crate) fn from_sorted(spans: impl IntoIterator<Item = Span>) -> SpanTree {
        let mut builder = SpanTreeBuilder::new();
        for span in spans {
            builder.push(span, None);
        }
        builder.finish()
    }
}
