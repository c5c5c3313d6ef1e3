// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! In-order iteration over the spans of a tree.

use alloc::vec::Vec;
use core::slice;

use super::node::{Branch, Leaf, Node};
use super::Span;
use crate::owner::Owner;

/// The spans of a tree in increasing order.
///
/// Walks one leaf's slice at a time and keeps one frame per tree level, so it
/// never recurses and each step is usually a slice-iterator step.
#[derive(Clone, Debug)]
pub(crate) struct Spans<'a> {
    /// Branches on the path to the current leaf, with the next child to visit.
    path: Vec<(&'a Branch, usize)>,
    current: slice::Iter<'a, Span>,
    /// Spans not yet returned, including those in `current`.
    remaining: u64,
}

impl<'a> Spans<'a> {
    pub(super) fn new(root: Option<&'a Node>) -> Spans<'a> {
        let mut spans = Spans {
            path: Vec::new(),
            current: [].iter(),
            remaining: root.map_or(0, |r| r.summary().count),
        };
        if let Some(root) = root {
            spans.descend(root);
        }
        spans
    }

    /// Walks down the leftmost path of `node` and starts on its first leaf.
    fn descend(&mut self, mut node: &'a Node) {
        loop {
            match node {
                Node::Leaf(leaf) => {
                    self.current = leaf.spans().iter();
                    return;
                }
                Node::Branch(branch) => {
                    self.path.push((branch, 1));
                    node = &branch.children()[0];
                }
            }
        }
    }

    /// Moves to the next leaf; false when there is none.
    #[cold]
    fn next_leaf(&mut self) -> bool {
        while let Some((branch, i)) = self.path.pop() {
            if let Some(child) = branch.children().get(i) {
                self.path.push((branch, i + 1));
                self.descend(child);
                return true;
            }
        }
        false
    }
}

impl Iterator for Spans<'_> {
    type Item = Span;

    #[inline]
    fn next(&mut self) -> Option<Span> {
        loop {
            if let Some(span) = self.current.next() {
                self.remaining -= 1;
                return Some(*span);
            }
            if !self.next_leaf() {
                return None;
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

/// The spans of a tree in increasing order, with their owners.
#[derive(Clone, Debug)]
pub(crate) struct TaggedSpans<'a> {
    path: Vec<(&'a Branch, usize)>,
    leaf: Option<&'a Leaf>,
    index: usize,
    remaining: u64,
}

impl<'a> TaggedSpans<'a> {
    pub(super) fn new(root: Option<&'a Node>) -> TaggedSpans<'a> {
        let mut spans = TaggedSpans {
            path: Vec::new(),
            leaf: None,
            index: 0,
            remaining: root.map_or(0, |r| r.summary().count),
        };
        if let Some(root) = root {
            spans.descend(root);
        }
        spans
    }

    fn descend(&mut self, mut node: &'a Node) {
        loop {
            match node {
                Node::Leaf(leaf) => {
                    self.leaf = Some(leaf);
                    self.index = 0;
                    return;
                }
                Node::Branch(branch) => {
                    self.path.push((branch, 1));
                    node = &branch.children()[0];
                }
            }
        }
    }

    /// The spans from the first one that ends at or after `x`.
    pub(super) fn from(root: Option<&'a Node>, x: u64) -> TaggedSpans<'a> {
        let total = root.map_or(0, |r| r.summary().count);
        let mut spans = TaggedSpans {
            path: Vec::new(),
            leaf: None,
            index: 0,
            remaining: total,
        };
        let Some(mut node) = root else {
            return spans;
        };
        let mut skipped = 0u64;
        loop {
            match node {
                Node::Leaf(leaf) => {
                    let index = leaf.spans().partition_point(|s| s.end < x);
                    spans.leaf = Some(leaf);
                    spans.index = index;
                    spans.remaining = total - skipped - index as u64;
                    return spans;
                }
                Node::Branch(branch) => {
                    let i = branch.route(x);
                    skipped += branch.children()[..i]
                        .iter()
                        .map(|c| c.summary().count)
                        .sum::<u64>();
                    spans.path.push((branch, i + 1));
                    node = &branch.children()[i];
                }
            }
        }
    }

    #[cold]
    fn next_leaf(&mut self) -> bool {
        while let Some((branch, i)) = self.path.pop() {
            if let Some(child) = branch.children().get(i) {
                self.path.push((branch, i + 1));
                self.descend(child);
                return true;
            }
        }
        self.leaf = None;
        false
    }
}

impl<'a> Iterator for TaggedSpans<'a> {
    type Item = (Span, Option<&'a Owner>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let leaf = self.leaf?;
            if self.index < leaf.spans().len() {
                let i = self.index;
                self.index += 1;
                self.remaining -= 1;
                return Some((leaf.spans()[i], leaf.tag(i)));
            }
            if !self.next_leaf() {
                return None;
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
