// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! In-order iteration over the spans of a tree, from either end, over the
//! whole tree or the spans overlapping a range.

use alloc::vec::Vec;

use super::node::{Branch, Leaf, Node};
use super::Span;
use crate::owner::Owner;

/// A position between two spans: a leaf, an index in it and the branches on
/// the path to it (each with the index of the child taken).
///
/// Steps never recurse; a step within a leaf is an index change, a step to
/// the next or previous leaf climbs and descends the path.
#[derive(Clone, Debug)]
struct Cursor<'a> {
    path: Vec<(&'a Branch, usize)>,
    leaf: Option<&'a Leaf>,
    /// Spans of `leaf` before the position.
    index: usize,
}

impl<'a> Cursor<'a> {
    /// The position before the first span of the tree rooted at `node`.
    fn first(node: Option<&'a Node>) -> Cursor<'a> {
        let mut cursor = Cursor {
            path: Vec::new(),
            leaf: None,
            index: 0,
        };
        if let Some(node) = node {
            cursor.descend(node, false);
        }
        cursor
    }

    /// The position after the last span whose start is at most `x`, with
    /// the number of spans before it.
    fn after_start(root: Option<&'a Node>, x: u64) -> (Cursor<'a>, u64) {
        Cursor::seek(root, x, |span| span.start <= x)
    }

    /// The position before the first span that ends at or after `x`, with
    /// the number of spans before it.
    fn before_end(root: Option<&'a Node>, x: u64) -> (Cursor<'a>, u64) {
        Cursor::seek(root, x, |span| span.end < x)
    }

    /// Descends towards `x` and stops in its leaf after the spans for which
    /// `before` holds (a prefix of the leaf, and every span of the children
    /// left of the path).
    fn seek(root: Option<&'a Node>, x: u64, before: impl Fn(&Span) -> bool) -> (Cursor<'a>, u64) {
        let mut cursor = Cursor {
            path: Vec::new(),
            leaf: None,
            index: 0,
        };
        let mut rank = 0u64;
        let Some(mut node) = root else {
            return (cursor, 0);
        };
        loop {
            match node {
                Node::Leaf(leaf) => {
                    cursor.leaf = Some(leaf);
                    cursor.index = leaf.spans().partition_point(&before);
                    let rank = rank + cursor.index as u64;
                    return (cursor, rank);
                }
                Node::Branch(branch) => {
                    let i = branch.route(x);
                    rank += branch.children()[..i]
                        .iter()
                        .map(|c| c.summary().count)
                        .sum::<u64>();
                    cursor.path.push((branch, i));
                    node = &branch.children()[i];
                }
            }
        }
    }

    /// Walks down the leftmost (or rightmost, `to_end`) path of `node`.
    fn descend(&mut self, mut node: &'a Node, to_end: bool) {
        loop {
            match node {
                Node::Leaf(leaf) => {
                    self.leaf = Some(leaf);
                    self.index = if to_end { leaf.spans().len() } else { 0 };
                    return;
                }
                Node::Branch(branch) => {
                    let i = if to_end {
                        branch.children().len() - 1
                    } else {
                        0
                    };
                    self.path.push((branch, i));
                    node = &branch.children()[i];
                }
            }
        }
    }

    /// The span after the position, moving past it.
    #[inline]
    fn next(&mut self) -> Option<(&'a Leaf, usize)> {
        loop {
            let leaf = self.leaf?;
            if self.index < leaf.spans().len() {
                self.index += 1;
                return Some((leaf, self.index - 1));
            }
            if !self.next_leaf() {
                return None;
            }
        }
    }

    /// The span before the position, moving before it.
    #[inline]
    fn prev(&mut self) -> Option<(&'a Leaf, usize)> {
        loop {
            let leaf = self.leaf?;
            if self.index > 0 {
                self.index -= 1;
                return Some((leaf, self.index));
            }
            if !self.prev_leaf() {
                return None;
            }
        }
    }

    #[cold]
    fn next_leaf(&mut self) -> bool {
        while let Some((branch, i)) = self.path.pop() {
            if let Some(child) = branch.children().get(i + 1) {
                self.path.push((branch, i + 1));
                self.descend(child, false);
                return true;
            }
        }
        self.leaf = None;
        false
    }

    #[cold]
    fn prev_leaf(&mut self) -> bool {
        while let Some((branch, i)) = self.path.pop() {
            if i > 0 {
                self.path.push((branch, i - 1));
                self.descend(&branch.children()[i - 1], true);
                return true;
            }
        }
        self.leaf = None;
        false
    }
}

/// Both ends of an iteration and the number of spans between them.
///
/// The back end is placed on the first step from the back, so a forward-only
/// walk pays for one path. The count keeps the two ends from crossing.
#[derive(Clone, Debug)]
struct Walk<'a> {
    root: Option<&'a Node>,
    front: Cursor<'a>,
    back: Option<Cursor<'a>>,
    /// The back end starts after the last span that starts at or before this.
    back_key: u64,
    remaining: u64,
}

impl<'a> Walk<'a> {
    fn all(root: Option<&'a Node>) -> Walk<'a> {
        Walk {
            root,
            front: Cursor::first(root),
            back: None,
            back_key: u64::MAX,
            remaining: root.map_or(0, |r| r.summary().count),
        }
    }

    fn from(root: Option<&'a Node>, x: u64) -> Walk<'a> {
        let (front, before) = Cursor::before_end(root, x);
        Walk {
            root,
            front,
            back: None,
            back_key: u64::MAX,
            remaining: root.map_or(0, |r| r.summary().count) - before,
        }
    }

    /// The spans overlapping `first..=last`.
    fn overlapping(root: Option<&'a Node>, first: u64, last: u64) -> Walk<'a> {
        if first > last {
            return Walk {
                root: None,
                front: Cursor::first(None),
                back: None,
                back_key: 0,
                remaining: 0,
            };
        }
        let (front, before) = Cursor::before_end(root, first);
        let (back, through) = Cursor::after_start(root, last);
        Walk {
            root,
            front,
            back: Some(back),
            back_key: last,
            remaining: through.saturating_sub(before),
        }
    }

    #[inline]
    fn next(&mut self) -> Option<(&'a Leaf, usize)> {
        if self.remaining == 0 {
            return None;
        }
        let found = self.front.next()?;
        self.remaining -= 1;
        Some(found)
    }

    fn next_back(&mut self) -> Option<(&'a Leaf, usize)> {
        if self.remaining == 0 {
            return None;
        }
        let (root, key) = (self.root, self.back_key);
        let back = self
            .back
            .get_or_insert_with(|| Cursor::after_start(root, key).0);
        let found = back.prev()?;
        self.remaining -= 1;
        Some(found)
    }

    fn len(&self) -> usize {
        // Every span is a heap entry, so the count fits in a usize.
        usize::try_from(self.remaining).unwrap_or(usize::MAX)
    }
}

/// The spans of a tree in increasing order (or decreasing, from the back).
#[derive(Clone, Debug)]
pub(crate) struct Spans<'a>(Walk<'a>);

impl<'a> Spans<'a> {
    pub(super) fn new(root: Option<&'a Node>) -> Spans<'a> {
        Spans(Walk::all(root))
    }

    pub(super) fn overlapping(root: Option<&'a Node>, first: u64, last: u64) -> Spans<'a> {
        Spans(Walk::overlapping(root, first, last))
    }
}

impl Iterator for Spans<'_> {
    type Item = Span;

    #[inline]
    fn next(&mut self) -> Option<Span> {
        self.0.next().map(|(leaf, i)| leaf.spans()[i])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.0.len(), Some(self.0.len()))
    }
}

impl DoubleEndedIterator for Spans<'_> {
    fn next_back(&mut self) -> Option<Span> {
        self.0.next_back().map(|(leaf, i)| leaf.spans()[i])
    }
}

impl ExactSizeIterator for Spans<'_> {}

impl core::iter::FusedIterator for Spans<'_> {}

/// The spans of a tree in increasing order, with their owners.
#[derive(Clone, Debug)]
pub(crate) struct TaggedSpans<'a>(Walk<'a>);

impl<'a> TaggedSpans<'a> {
    pub(super) fn new(root: Option<&'a Node>) -> TaggedSpans<'a> {
        TaggedSpans(Walk::all(root))
    }

    /// The spans from the first one that ends at or after `x`.
    pub(super) fn from(root: Option<&'a Node>, x: u64) -> TaggedSpans<'a> {
        TaggedSpans(Walk::from(root, x))
    }

    pub(super) fn overlapping(root: Option<&'a Node>, first: u64, last: u64) -> TaggedSpans<'a> {
        TaggedSpans(Walk::overlapping(root, first, last))
    }
}

impl<'a> Iterator for TaggedSpans<'a> {
    type Item = (Span, Option<&'a Owner>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.0
            .next()
            .map(|(leaf, i)| (leaf.spans()[i], leaf.tag(i)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.0.len(), Some(self.0.len()))
    }
}

impl DoubleEndedIterator for TaggedSpans<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0
            .next_back()
            .map(|(leaf, i)| (leaf.spans()[i], leaf.tag(i)))
    }
}

impl ExactSizeIterator for TaggedSpans<'_> {}

impl core::iter::FusedIterator for TaggedSpans<'_> {}
