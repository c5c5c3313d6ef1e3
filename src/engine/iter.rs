// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! In-order iteration over the spans of a tree.

use alloc::vec::Vec;

use super::node::{Branch, Leaf, Node};
use super::Span;

/// The spans of a tree in increasing order.
///
/// Holds one frame per tree level, so it never recurses.
#[derive(Clone, Debug)]
pub(crate) struct Spans<'a> {
    /// Branches on the path to the current leaf, with the next child to visit.
    path: Vec<(&'a Branch, usize)>,
    leaf: Option<&'a Leaf>,
    next: usize,
    remaining: u64,
}

impl<'a> Spans<'a> {
    pub(super) fn new(root: Option<&'a Node>) -> Spans<'a> {
        let mut spans = Spans {
            path: Vec::new(),
            leaf: None,
            next: 0,
            remaining: root.map_or(0, |r| r.summary().count),
        };
        if let Some(root) = root {
            spans.descend(root);
        }
        spans
    }

    /// Walks down the leftmost path of `node`.
    fn descend(&mut self, mut node: &'a Node) {
        loop {
            match node {
                Node::Leaf(leaf) => {
                    self.leaf = Some(leaf);
                    self.next = 0;
                    return;
                }
                Node::Branch(branch) => {
                    self.path.push((branch, 1));
                    node = &branch.children()[0];
                }
            }
        }
    }
}

impl Iterator for Spans<'_> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        loop {
            let leaf = self.leaf?;
            if let Some(span) = leaf.spans().get(self.next) {
                self.next += 1;
                self.remaining -= 1;
                return Some(*span);
            }
            // Leaf exhausted: climb to the first branch with a child left.
            self.leaf = None;
            while let Some((branch, i)) = self.path.pop() {
                if let Some(child) = branch.children().get(i) {
                    self.path.push((branch, i + 1));
                    self.descend(child);
                    break;
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match usize::try_from(self.remaining) {
            Ok(n) => (n, Some(n)),
            Err(_) => (usize::MAX, None),
        }
    }
}
