// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The bitmap trie that holds the ids of an [`IdSet`](super::IdSet) but
//! those below its frontier: the root, its height and its run count, and
//! the edits that walk it.

use core::mem;

#[cfg(test)]
use super::build::TrieBuilder;
use super::node::{self, height_for, span, Flipped, Node, Op};
use super::Seek;

/// The bitmap trie: a persistent set of `u32` ids (see `node.rs`).
#[derive(Clone, Default)]
pub(crate) struct Trie {
    /// Height of the root: the smallest whose blocks hold every id of the set.
    pub(super) height: u32,
    /// Number of maximal runs of consecutive ids.
    pub(super) runs: u64,
    pub(super) root: Root,
}

/// The root block `0..span(height)`: empty, full or a node.
#[derive(Clone, Debug, Default)]
pub(crate) enum Root {
    #[default]
    Empty,
    Full,
    Node(Node),
}

/// A block as the searches see it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum View<'a> {
    Empty,
    Full,
    Node(&'a Node),
}

impl Trie {
    /// An empty set.
    pub(crate) const fn new() -> Trie {
        Trie {
            height: 0,
            runs: 0,
            root: Root::Empty,
        }
    }

    /// Number of ids in the set. Time: O(1).
    pub(crate) fn count(&self) -> u64 {
        match &self.root {
            Root::Empty => 0,
            Root::Full => span(self.height),
            Root::Node(node) => node.count(),
        }
    }

    /// Number of maximal runs of consecutive ids. Time: O(1).
    pub(crate) fn run_count(&self) -> u64 {
        self.runs
    }

    /// True if both sets are the same allocation (so they are equal).
    /// Time: O(1).
    pub(crate) fn ptr_eq(&self, other: &Trie) -> bool {
        self.height == other.height
            && match (&self.root, &other.root) {
                (Root::Empty, Root::Empty) | (Root::Full, Root::Full) => true,
                (Root::Node(a), Root::Node(b)) => a.ptr_eq(b),
                _ => false,
            }
    }

    /// The root as a view, with its height.
    pub(crate) fn view(&self) -> (View<'_>, u32) {
        let view = match &self.root {
            Root::Empty => View::Empty,
            Root::Full => View::Full,
            Root::Node(node) => View::Node(node),
        };
        (view, self.height)
    }

    /// Adds `first..=last`. Precondition: none of them is in the set.
    /// Time: O(d) for one id; O(d · FANOUT) for a range (plus O(d) to raise
    /// the root for a larger id).
    #[inline]
    pub(crate) fn insert_range(&mut self, first: u32, last: u32) {
        debug_assert!(first <= last);
        debug_assert!(self
            .next_present(first.into())
            .is_none_or(|x| x > u64::from(last)));
        if first == last && u64::from(first) < span(self.height) {
            self.edit_one::<true>(first);
        } else if !self.edit_in_leaf::<true>(first, last) {
            self.insert_beyond(first, last);
        }
    }

    /// `insert_range` for a range, or an id past the root's span.
    fn insert_beyond(&mut self, first: u32, last: u32) {
        let needed = height_for(last.into());
        if matches!(self.root, Root::Empty) {
            self.height = needed;
        } else {
            while self.height < needed {
                self.raise();
            }
        }
        if first == last {
            self.edit_one::<true>(first);
        } else {
            self.edit_range(first, last, Op::Insert);
        }
    }

    /// Takes out `first..=last`. Precondition: all of them are in the set.
    /// Time: O(d) for one id; O(d · FANOUT) for a range.
    #[inline]
    pub(crate) fn remove_range(&mut self, first: u32, last: u32) {
        debug_assert!(first <= last);
        debug_assert!(self
            .next_absent(first.into())
            .is_none_or(|x| x > u64::from(last)));
        if first == last {
            self.edit_one::<false>(first);
        } else if !self.edit_in_leaf::<false>(first, last) {
            self.edit_range(first, last, Op::Remove);
        }
        self.lower_if_needed();
    }

    /// Inserts or removes a range below the root's span and counts runs.
    fn edit_range(&mut self, first: u32, last: u32, op: Op) {
        self.edit_root(first.into(), last.into(), op);
        let unknown = Flipped {
            left: None,
            right: None,
        };
        let (left, right) = self.neighbours(first, last, unknown);
        self.count_runs(left, right, op);
    }

    fn edit_root(&mut self, first: u64, last: u64, op: Op) {
        let h = self.height;
        let span = span(h);
        debug_assert!(last < span);
        let marker = match op {
            Op::Insert => Root::Full,
            Op::Remove => Root::Empty,
        };
        if first == 0 && last == span - 1 {
            self.root = marker;
            return;
        }
        let node = match &mut self.root {
            Root::Node(node) => node,
            // A marker root becomes a node first.
            root => {
                *root = Root::Node(match root {
                    Root::Empty => Node::empty(h),
                    _ => Node::full(h),
                });
                let Root::Node(node) = root else {
                    unreachable!("just set")
                };
                node
            }
        };
        node.edit(h, 0, first, last, op);
        let count = node.count();
        if count == 0 || count == span {
            // Emptied or filled up: the node becomes a marker.
            self.root = if count == 0 { Root::Empty } else { Root::Full };
        }
    }

    /// Puts the root one level higher, in slot 0 of a new node.
    fn raise(&mut self) {
        let h = self.height + 1;
        let mut inner = node::Inner::empty(h);
        match mem::take(&mut self.root) {
            Root::Empty => {}
            Root::Full => inner.edit(h, 0, 0, span(h - 1) - 1, Op::Insert),
            Root::Node(node) => inner.adopt(0, node),
        }
        self.root = Root::Node(Node::Inner(triomphe::Arc::new(inner)));
        self.height = h;
    }

    /// After a removal: lowers the root if all its ids now lie in its
    /// first slot (or it is empty). Time: O(1), or O(d) when it lowers.
    #[inline]
    pub(crate) fn lower_if_needed(&mut self) {
        let lowers = match &self.root {
            Root::Node(Node::Inner(inner)) => inner.full | inner.mixed == 1,
            Root::Empty => true,
            _ => false,
        };
        if lowers && self.height > 0 {
            self.lower();
        }
    }

    /// Lowers the root while everything lies in its slot 0.
    pub(super) fn lower(&mut self) {
        loop {
            let next = match &self.root {
                Root::Empty => {
                    self.height = 0;
                    return;
                }
                Root::Node(Node::Inner(inner)) if inner.full | inner.mixed == 1 => {
                    if inner.full == 1 {
                        Root::Full
                    } else {
                        Root::Node(inner.child(0).clone())
                    }
                }
                _ => return,
            };
            self.root = next;
            self.height -= 1;
        }
    }

    /// Builds a set from runs that are sorted, disjoint and do not touch.
    /// Time: O(n). (Decoders build through `TrieBuilder` directly.)
    #[cfg(test)]
    pub(crate) fn from_sorted_runs(runs: impl IntoIterator<Item = (u32, u32)>) -> Trie {
        let mut builder = TrieBuilder::new();
        for (first, last) in runs {
            builder.push(first, last);
        }
        builder.finish()
    }
}
