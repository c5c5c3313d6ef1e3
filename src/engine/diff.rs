// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The spans two trees do not share.
//!
//! Both trees are walked in order side by side. Whenever both walks stand
//! at the start of the very same node (one `Arc`, shared since a clone),
//! that whole subtree is skipped at once: a tree and a clone of it edited k
//! times differ only on the k copied paths, so comparing them costs
//! O(k · (log n + node size)). Trees built independently share nothing and
//! are compared span by span, in O(n).

use alloc::vec::Vec;

use super::node::Node;
use super::{Span, SpanTree};
use crate::owner::Owner;

/// Which of the two trees of a diff a span belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// In `self` (the older state) only.
    Left,
    /// In `other` (the newer state) only.
    Right,
}

impl Node {
    /// True if both are the same allocation. Time: O(1).
    pub(crate) fn ptr_eq(&self, other: &Node) -> bool {
        match (self, other) {
            (Node::Leaf(a), Node::Leaf(b)) => triomphe::Arc::ptr_eq(a, b),
            (Node::Branch(a), Node::Branch(b)) => triomphe::Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl SpanTree {
    /// Calls `f` for every span (with its owner) that is in one tree but
    /// not, with the same bounds and owner, in the other, in increasing
    /// order of start (on a tie, the left one first).
    ///
    /// Time: O(k · (log n + node size)) when the trees share all but k
    /// edited paths; O(n) otherwise.
    pub(crate) fn diff<'a>(
        &'a self,
        other: &'a SpanTree,
        mut f: impl FnMut(Side, Span, Option<&'a Owner>),
    ) {
        if self.ptr_eq(other) {
            return;
        }
        let mut left = Cursor::new(self.root.as_ref());
        let mut right = Cursor::new(other.root.as_ref());
        loop {
            let (a, b) = match (left.peek(), right.peek()) {
                (None, None) => return,
                (Some((span, tag)), None) => {
                    f(Side::Left, span, tag);
                    left.step();
                    continue;
                }
                (None, Some((span, tag))) => {
                    f(Side::Right, span, tag);
                    right.step();
                    continue;
                }
                (Some(a), Some(b)) => (a, b),
            };
            if let Some(height) = shared_start(&left, &right) {
                left.skip(height);
                right.skip(height);
                continue;
            }
            if a == b {
                // Equal entries come in long runs where the trees were built
                // apart: skip them a slice at a time.
                let same = left.common_run(&right);
                left.advance(same);
                right.advance(same);
            } else if a.0.start < b.0.start {
                f(Side::Left, a.0, a.1);
                left.step();
            } else if b.0.start < a.0.start {
                f(Side::Right, b.0, b.1);
                right.step();
            } else {
                f(Side::Left, a.0, a.1);
                f(Side::Right, b.0, b.1);
                left.step();
                right.step();
            }
        }
    }
}

/// The tallest node that both walks stand at the start of, if any, as its
/// height above the leaves.
fn shared_start(left: &Cursor<'_>, right: &Cursor<'_>) -> Option<usize> {
    // A node can only start here if its first leaf does.
    if !left.at_leaf_start() || !right.at_leaf_start() {
        return None;
    }
    let top = left.height().min(right.height());
    (0..=top)
        .rev()
        .find(|&h| match (left.starting(h), right.starting(h)) {
            (Some(a), Some(b)) => a.ptr_eq(b),
            _ => false,
        })
}

/// An in-order walk over the spans of a tree that can skip whole subtrees.
///
/// `frames[0]` is the root and the last frame a leaf; each frame holds the
/// index of the child being walked (for a branch) or of the next span (for
/// the leaf). Empty once every span has been visited.
struct Cursor<'a> {
    frames: Vec<(&'a Node, usize)>,
}

impl<'a> Cursor<'a> {
    fn new(root: Option<&'a Node>) -> Cursor<'a> {
        let mut cursor = Cursor { frames: Vec::new() };
        if let Some(root) = root {
            cursor.frames.push((root, 0));
            cursor.settle();
        }
        cursor
    }

    /// Height of the root above the leaves.
    fn height(&self) -> usize {
        self.frames.len().saturating_sub(1)
    }

    fn at_leaf_start(&self) -> bool {
        self.frames.last().is_some_and(|&(_, i)| i == 0)
    }

    /// The node of height `h` on the path, if the walk stands at its start.
    fn starting(&self, h: usize) -> Option<&'a Node> {
        let level = self.frames.len().checked_sub(1 + h)?;
        self.frames[level..]
            .iter()
            .all(|&(_, i)| i == 0)
            .then_some(self.frames[level].0)
    }

    /// The next span and its owner.
    fn peek(&self) -> Option<(Span, Option<&'a Owner>)> {
        match *self.frames.last()? {
            (Node::Leaf(leaf), i) => Some((leaf.spans()[i], leaf.tag(i))),
            (Node::Branch(_), _) => unreachable!("a settled walk stands on a leaf"),
        }
    }

    /// The rest of the current leaf: its spans from the next one on, and
    /// the index of the next one.
    fn rest(&self) -> Option<(&'a super::node::Leaf, usize)> {
        match *self.frames.last()? {
            (Node::Leaf(leaf), i) => Some((leaf, i)),
            (Node::Branch(_), _) => None,
        }
    }

    /// How many entries, from the next one on and within both current
    /// leaves, are equal in both walks (span and owner).
    fn common_run(&self, other: &Cursor<'_>) -> usize {
        let (Some((a, i)), Some((b, j))) = (self.rest(), other.rest()) else {
            return 0;
        };
        let (xs, ys) = (&a.spans()[i..], &b.spans()[j..]);
        let mut n = 0;
        while n < xs.len() && n < ys.len() && xs[n] == ys[n] && a.tag(i + n) == b.tag(j + n) {
            n += 1;
        }
        n
    }

    /// Moves past the next `n` spans, all in the current leaf.
    fn advance(&mut self, n: usize) {
        if let Some(frame) = self.frames.last_mut() {
            frame.1 += n;
            self.settle();
        }
    }

    /// Moves past the next span.
    fn step(&mut self) {
        if let Some(frame) = self.frames.last_mut() {
            frame.1 += 1;
            self.settle();
        }
    }

    /// Moves past the whole node of height `h` that the walk starts.
    fn skip(&mut self, h: usize) {
        let level = self.frames.len() - 1 - h;
        self.frames.truncate(level);
        // Skipping the root leaves nothing to walk.
        if let Some(parent) = self.frames.last_mut() {
            parent.1 += 1;
            self.settle();
        }
    }

    /// Climbs out of finished nodes and descends to the next span.
    fn settle(&mut self) {
        while let Some(&(node, i)) = self.frames.last() {
            if i < node.len() {
                match node {
                    Node::Leaf(_) => return,
                    Node::Branch(branch) => self.frames.push((&branch.children()[i], 0)),
                }
            } else {
                self.frames.pop();
                if let Some(parent) = self.frames.last_mut() {
                    parent.1 += 1;
                }
            }
        }
    }
}
