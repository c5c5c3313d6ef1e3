// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Building a tree from spans that are already sorted, in O(n).

use alloc::vec::Vec;
use arrayvec::ArrayVec;
use triomphe::Arc;

use super::config::{BRANCH_CAP, LEAF_CAP};
use super::node::{Branch, Leaf, Node};
use super::tags::{Tag, Tags};
use super::{Span, SpanTree};

/// Builds a tree from spans pushed in increasing order, bottom-up.
///
/// A push only stores the span: each leaf is summarised once, when it is
/// full (its summary, gap bits and capacities in one pass over its spans,
/// which are then in cache), and each branch once, when it has all its
/// children. Every node but the last of each level is full. The caller
/// checks the order (the validating builders of `crate::validate` do) before
/// pushing.
#[derive(Debug)]
pub(crate) struct SpanTreeBuilder {
    /// The spans of the leaf being filled.
    spans: [Span; LEAF_CAP],
    len: usize,
    /// Their owners (no column until the first owner).
    tags: Tags,
    /// `levels[h]`: the finished nodes of height `h` not yet given a parent.
    levels: Vec<ArrayVec<Node, BRANCH_CAP>>,
}

impl SpanTreeBuilder {
    pub(crate) fn new() -> SpanTreeBuilder {
        SpanTreeBuilder {
            spans: [Span::ZERO; LEAF_CAP],
            len: 0,
            tags: Tags::NONE,
            levels: Vec::new(),
        }
    }

    /// Appends `span`, owned by `tag`. Precondition: it starts after the
    /// end of the span pushed before. Time: O(1) amortised.
    #[inline(always)]
    pub(crate) fn push(&mut self, span: Span, tag: Tag) {
        if self.len == LEAF_CAP {
            self.finish_leaf();
        }
        debug_assert!(self.len == 0 || self.spans[self.len - 1].end < span.start);
        // The slots of spans not pushed yet are empty: only an owner is
        // written.
        if tag.is_some() {
            self.tags.set(self.len, tag);
        }
        self.spans[self.len] = span;
        self.len += 1;
    }

    /// Makes the spans pushed so far a leaf, hands it to its level and
    /// starts the next one.
    #[cold]
    #[inline(never)]
    fn finish_leaf(&mut self) {
        let tags = core::mem::take(&mut self.tags);
        let leaf = Leaf::from_spans(&self.spans[..self.len], tags);
        self.len = 0;
        self.add(0, Node::Leaf(Arc::new(leaf)));
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
        if self.len > 0 {
            self.finish_leaf();
        }
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
