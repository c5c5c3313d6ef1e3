// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The difference of two sets, skipping what they share.

use core::cmp::max;

use super::node::{bits, low_mask, span, valid, Inner, Leaf, Node, LEAF_WORDS};
use super::{Trie, View};

/// Which set of a [`Trie::diff`] holds a range: the engine's own.
pub(crate) use crate::engine::Side;

/// Joins the pieces the walk finds into maximal ranges before reporting.
struct Out<F: FnMut(Side, u32, u32)> {
    f: F,
    pending: Option<(Side, u64, u64)>,
}

impl<F: FnMut(Side, u32, u32)> Out<F> {
    #[inline]
    fn emit(&mut self, side: Side, first: u64, last: u64) {
        if let Some((s, _, end)) = &mut self.pending {
            if *s == side && *end + 1 == first {
                *end = last;
                return;
            }
        }
        self.flush();
        self.pending = Some((side, first, last));
    }

    fn flush(&mut self) {
        if let Some((side, first, last)) = self.pending.take() {
            (self.f)(side, first as u32, last as u32);
        }
    }

    /// Reports the runs of set bits of `w` (the word starting at `wb`).
    #[inline]
    fn word(&mut self, side: Side, mut w: u64, wb: u64) {
        while w != 0 {
            let p = w.trailing_zeros();
            let len = (!(w >> p)).trailing_zeros();
            self.emit(side, wb + u64::from(p), wb + u64::from(p + len) - 1);
            w &= !low_mask(p + len);
        }
    }

    /// Reports the ids of `node` (height `h`, first id `base`) that are in
    /// the set (`PRESENT`) or not.
    fn all<const PRESENT: bool>(&mut self, side: Side, node: &Node, h: u32, base: u64) {
        match node {
            Node::Leaf(leaf) => {
                for (k, &w) in leaf.words.iter().enumerate() {
                    let w = if PRESENT { w } else { !w };
                    self.word(side, w, base + 64 * k as u64);
                }
            }
            Node::Inner(inner) => {
                let cb = bits(h - 1);
                let wanted = if PRESENT {
                    inner.full | inner.mixed
                } else {
                    valid(h) & !inner.full
                };
                let mut slots = wanted;
                while slots != 0 {
                    let i = slots.trailing_zeros();
                    slots &= slots - 1;
                    let start = base + (u64::from(i) << cb);
                    if inner.mixed >> i & 1 != 0 {
                        self.all::<PRESENT>(side, inner.child(i), h - 1, start);
                    } else {
                        self.emit(side, start, start + ((1u64 << cb) - 1));
                    }
                }
            }
        }
    }

    fn leaves(&mut self, a: &Leaf, b: &Leaf, base: u64) {
        for k in 0..LEAF_WORDS {
            let (x, y) = (a.words[k], b.words[k]);
            if x == y {
                continue;
            }
            let (left, right) = (x & !y, y & !x);
            let wb = base + 64 * k as u64;
            let mut rest = left | right;
            while rest != 0 {
                let p = rest.trailing_zeros();
                let (side, m) = if left >> p & 1 != 0 {
                    (Side::Left, left)
                } else {
                    (Side::Right, right)
                };
                let len = (!(m >> p)).trailing_zeros();
                self.emit(side, wb + u64::from(p), wb + u64::from(p + len) - 1);
                rest &= !low_mask(p + len);
            }
        }
    }

    /// Reports `a` minus `b` and `b` minus `a` inside the block of height
    /// `h` at `base`; each view comes with its own height, at most `h` (a
    /// lower one lies in slot 0 of the block).
    fn blocks(&mut self, h: u32, base: u64, a: (View<'_>, u32), b: (View<'_>, u32)) {
        if a.1 < h || b.1 < h {
            let cb = bits(h - 1);
            let mut slots = occupied(a, h) | occupied(b, h);
            while slots != 0 {
                let i = slots.trailing_zeros();
                slots &= slots - 1;
                let start = base + (u64::from(i) << cb);
                self.blocks(h - 1, start, slot(a, h, i), slot(b, h, i));
            }
            return;
        }
        match (a.0, b.0) {
            (View::Empty, View::Empty) | (View::Full, View::Full) => {}
            (View::Empty, View::Full) => self.emit(Side::Right, base, base + span(h) - 1),
            (View::Full, View::Empty) => self.emit(Side::Left, base, base + span(h) - 1),
            (View::Node(x), View::Empty) => self.all::<true>(Side::Left, x, h, base),
            (View::Empty, View::Node(y)) => self.all::<true>(Side::Right, y, h, base),
            (View::Node(x), View::Full) => self.all::<false>(Side::Right, x, h, base),
            (View::Full, View::Node(y)) => self.all::<false>(Side::Left, y, h, base),
            (View::Node(x), View::Node(y)) => match (x, y) {
                _ if x.ptr_eq(y) => {}
                (Node::Leaf(p), Node::Leaf(q)) => self.leaves(p, q, base),
                (Node::Inner(p), Node::Inner(q)) => self.inners(p, q, h, base),
                _ => unreachable!("nodes of one height are of one kind"),
            },
        }
    }

    fn inners(&mut self, a: &Inner, b: &Inner, h: u32, base: u64) {
        let cb = bits(h - 1);
        // Slots full in one and not the other, or a child in either.
        let mut slots = (a.full ^ b.full) | a.mixed | b.mixed;
        while slots != 0 {
            let i = slots.trailing_zeros();
            slots &= slots - 1;
            let start = base + (u64::from(i) << cb);
            self.blocks(
                h - 1,
                start,
                (slot_view(a, i), h - 1),
                (slot_view(b, i), h - 1),
            );
        }
    }
}

/// The slots of the block of height `h` that a view of height `<= h` may
/// hold ids in.
fn occupied(v: (View<'_>, u32), h: u32) -> u64 {
    if v.1 < h {
        return 1;
    }
    match v.0 {
        View::Empty => 0,
        View::Full => valid(h),
        View::Node(Node::Inner(inner)) => inner.full | inner.mixed,
        View::Node(Node::Leaf(_)) => unreachable!("a leaf has no slots"),
    }
}

/// Slot `i` of a view of height `<= h` seen as a block of height `h`.
fn slot<'a>(v: (View<'a>, u32), h: u32, i: u32) -> (View<'a>, u32) {
    if v.1 < h {
        return if i == 0 { v } else { (View::Empty, h - 1) };
    }
    let view = match v.0 {
        View::Empty => View::Empty,
        View::Full => View::Full,
        View::Node(Node::Inner(inner)) => slot_view(inner, i),
        View::Node(Node::Leaf(_)) => unreachable!("a leaf has no slots"),
    };
    (view, h - 1)
}

fn slot_view(inner: &Inner, i: u32) -> View<'_> {
    if inner.full >> i & 1 != 0 {
        View::Full
    } else if inner.mixed >> i & 1 != 0 {
        View::Node(inner.child(i))
    } else {
        View::Empty
    }
}

impl Trie {
    /// Reports, in increasing order, the maximal ranges of ids in `self` but
    /// not in `other` ([`Side::Left`]) and in `other` but not in `self`
    /// ([`Side::Right`]).
    ///
    /// Subtrees that both sets share (the same allocation, as after a clone)
    /// are skipped whole, so comparing a state with a clone edited k times
    /// costs O(k · d · FANOUT) plus the ranges reported; sets built apart
    /// cost O(n).
    pub(crate) fn diff(&self, other: &Trie, f: impl FnMut(Side, u32, u32)) {
        let mut out = Out { f, pending: None };
        let (a, b) = (self.view(), other.view());
        out.blocks(max(a.1, b.1), 0, a, b);
        out.flush();
    }
}
