// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Building a tree from spans that are already sorted, in O(n).

use alloc::vec::Vec;
use triomphe::Arc;

use super::config::{BRANCH_CAP, LEAF_CAP};
use super::node::{Branch, Leaf, Node};
use super::tags::Tag;
use super::{Span, SpanTree};

/// Builds a tree from spans pushed in increasing order.
///
/// Leaves are filled in place and copied out when full, so each span is
/// written once and each leaf summarised once; only the last node of each
/// level can be small. The caller checks the order (the validating builders
/// of `crate::validate` do) before pushing.
#[derive(Debug)]
pub(crate) struct SpanTreeBuilder {
    leaves: Vec<Node>,
    leaf: Leaf,
}

impl SpanTreeBuilder {
    pub(crate) fn new() -> SpanTreeBuilder {
        SpanTreeBuilder {
            leaves: Vec::new(),
            leaf: Leaf::new(),
        }
    }

    /// Appends `span`, owned by `tag`. Precondition: it starts after the
    /// end of the span pushed before. Time: O(1) amortised.
    #[inline]
    pub(crate) fn push(&mut self, span: Span, tag: Tag) {
        self.leaf.push_sorted(span, tag);
        if self.leaf.spans().len() == LEAF_CAP {
            self.leaf.seal();
            self.leaves.push(Node::Leaf(Arc::new(self.leaf.clone())));
            self.leaf.clear();
        }
    }

    /// The tree of every span pushed. Time: O(n / LEAF_CAP).
    pub(crate) fn finish(mut self) -> SpanTree {
        if !self.leaf.spans().is_empty() {
            self.leaf.seal();
            self.leaves.push(Node::Leaf(Arc::new(self.leaf)));
        }
        let mut level = self.leaves;
        while level.len() > 1 {
            let mut parents = Vec::with_capacity(level.len().div_ceil(BRANCH_CAP));
            let mut rest = level.into_iter().peekable();
            while rest.peek().is_some() {
                let children = rest.by_ref().take(BRANCH_CAP);
                parents.push(Node::Branch(Arc::new(Branch::from_children(children))));
            }
            level = parents;
        }
        SpanTree { root: level.pop() }
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
