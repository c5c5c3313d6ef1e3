// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Building a tree from spans that are already sorted, in O(n).

use alloc::vec::Vec;
use triomphe::Arc;

use super::config::{BRANCH_CAP, LEAF_CAP};
use super::node::{Branch, Leaf, Node};
use super::{Span, SpanTree};

impl SpanTree {
    /// Builds a tree from spans in increasing order.
    ///
    /// Precondition: the spans are sorted and disjoint (each ends before the
    /// next starts); the decoders check this before calling. Leaves are
    /// filled completely, so only the last node of each level can be small.
    /// Time: O(n).
    pub(crate) fn from_sorted(spans: impl IntoIterator<Item = Span>) -> SpanTree {
        let mut level: Vec<Node> = Vec::new();
        // Leaves are filled in place and copied out when full, so each span
        // is written once and each leaf summarised once.
        let mut leaf = Leaf::new();
        for span in spans {
            leaf.push_sorted(span);
            if leaf.spans().len() == LEAF_CAP {
                leaf.seal();
                level.push(Node::Leaf(Arc::new(leaf.clone())));
                leaf.clear();
            }
        }
        if !leaf.spans().is_empty() {
            leaf.seal();
            level.push(Node::Leaf(Arc::new(leaf)));
        }
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
