// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The nearest id in or out of the set, forwards or backwards from a point.
//!
//! One generic walk serves all four searches: `PRESENT` says whether it
//! looks for an id in the set or a free one, `FORWARD` which way. A slot's
//! masks say at once whether it is all wanted, holds some wanted id, or none,
//! so the walk enters at most two nodes per level: the one holding the
//! starting point (which may hold nothing wanted past it) and the first
//! later slot holding a wanted id (which always does). Time: O(d).

use super::node::{
    above, bits, block_start, low_mask, slot_of, span, valid, Inner, Leaf, Node, LEAF_IDS, SPACE,
};
use super::{Root, Seek, Trie};

/// The lowest (`FORWARD`) or highest set bit of a non-zero mask.
#[inline]
fn pick<const FORWARD: bool>(m: u64) -> u32 {
    if FORWARD {
        m.trailing_zeros()
    } else {
        63 - m.leading_zeros()
    }
}

/// The nearest wanted offset from `off` within a leaf. Time: O(1).
#[inline]
pub(crate) fn leaf_seek<const PRESENT: bool, const FORWARD: bool>(
    leaf: &Leaf,
    off: u32,
) -> Option<u32> {
    let k = off / 64;
    let b = off % 64;
    let word = |j: u32| {
        let w = leaf.words[j as usize];
        if PRESENT {
            w
        } else {
            !w
        }
    };
    let here = if FORWARD {
        word(k) & (u64::MAX << b)
    } else {
        word(k) & low_mask(b + 1)
    };
    if here != 0 {
        return Some(k * 64 + pick::<FORWARD>(here));
    }
    let words = if PRESENT { leaf.nonzero } else { leaf.nonfull };
    let rest = if FORWARD {
        words & above(k)
    } else {
        words & low_mask(k)
    };
    if rest == 0 {
        return None;
    }
    let j = pick::<FORWARD>(rest);
    Some(j * 64 + pick::<FORWARD>(word(j)))
}

/// The nearest wanted id from `x` within `node` (height `h`), `x` inside
/// it. Time: O(h).
///
/// Walks down towards `x`, remembering at the lowest level passed the slots
/// past `x` (before it, backwards) that hold a wanted id; if the walk finds
/// nothing past `x`, the nearest of those slots holds the answer.
#[inline]
fn seek<const PRESENT: bool, const FORWARD: bool>(
    mut node: &Node,
    mut h: u32,
    x: u64,
) -> Option<u64> {
    let mut fallback: Option<(&Inner, u32, u64)> = None;
    loop {
        match node {
            Node::Leaf(leaf) => {
                if let Some(off) = leaf_seek::<PRESENT, FORWARD>(leaf, (x & (LEAF_IDS - 1)) as u32)
                {
                    return Some(block_start(x, 0) + u64::from(off));
                }
                break;
            }
            Node::Inner(inner) => {
                let i = slot_of(x, h);
                let (all, some) = slot_masks::<PRESENT>(inner, h);
                if all >> i & 1 != 0 {
                    return Some(x);
                }
                let rest = if FORWARD {
                    some & above(i)
                } else {
                    some & low_mask(i)
                };
                if rest != 0 {
                    fallback = Some((inner, h, rest));
                }
                match &inner.children[i as usize] {
                    Some(child) => node = child,
                    None => break,
                }
                h -= 1;
            }
        }
    }
    let (inner, h, rest) = fallback?;
    Some(nearest_in::<PRESENT, FORWARD>(
        inner,
        h,
        block_start(x, h),
        rest,
    ))
}

/// The slots of `inner` (height `h`) all of whose ids are wanted, and those
/// that hold a wanted id.
#[inline]
fn slot_masks<const PRESENT: bool>(inner: &Inner, h: u32) -> (u64, u64) {
    if PRESENT {
        (inner.full, inner.full | inner.mixed)
    } else {
        let slots = valid(h);
        (slots & !(inner.full | inner.mixed), slots & !inner.full)
    }
}

/// The wanted id nearest the start (`FORWARD`) or end of the nearest of the
/// slots `rest` of `inner` (height `h`, first id `base`), all of which hold
/// one. Time: O(h).
fn nearest_in<const PRESENT: bool, const FORWARD: bool>(
    mut inner: &Inner,
    mut h: u32,
    mut base: u64,
    mut rest: u64,
) -> u64 {
    loop {
        let j = pick::<FORWARD>(rest);
        let cb = bits(h - 1);
        let start = base + (u64::from(j) << cb);
        let (all, _) = slot_masks::<PRESENT>(inner, h);
        if all >> j & 1 != 0 {
            return if FORWARD {
                start
            } else {
                start + ((1u64 << cb) - 1)
            };
        }
        match inner.child(j) {
            Node::Leaf(leaf) => {
                let edge = if FORWARD { 0 } else { LEAF_IDS as u32 - 1 };
                let off = leaf_seek::<PRESENT, FORWARD>(leaf, edge).expect("a mixed leaf");
                return start + u64::from(off);
            }
            Node::Inner(child) => {
                inner = child;
                h -= 1;
                base = start;
                rest = slot_masks::<PRESENT>(inner, h).1;
            }
        }
    }
}

impl Seek for Trie {
    /// True if `id` is in the set. Time: O(d).
    #[inline]
    fn contains(&self, id: u32) -> bool {
        let x = u64::from(id);
        let mut h = self.height;
        if x >= span(h) {
            return false;
        }
        let mut node = match &self.root {
            Root::Empty => return false,
            Root::Full => return true,
            Root::Node(node) => node,
        };
        loop {
            match node {
                Node::Leaf(leaf) => return leaf.contains((x & (LEAF_IDS - 1)) as u32),
                Node::Inner(inner) => {
                    let i = slot_of(x, h);
                    match &inner.children[i as usize] {
                        Some(child) => node = child,
                        None => return inner.full >> i & 1 != 0,
                    }
                    h -= 1;
                }
            }
        }
    }

    /// The smallest id `>= x` in the set. Time: O(d).
    fn next_present(&self, x: u64) -> Option<u64> {
        if x >= span(self.height) {
            return None;
        }
        match &self.root {
            Root::Empty => None,
            Root::Full => Some(x),
            Root::Node(node) => seek::<true, true>(node, self.height, x),
        }
    }

    /// The smallest id `>= x` (and below 2^32) not in the set. Time: O(d).
    ///
    /// The search that every `allocate_id` runs, so it has its own walk: a
    /// full slot sends it to the next slot that is not full, in the same
    /// node, and a leaf without a free id past `x` sends it back to the
    /// root from the next leaf (once per level at most: every later slot it
    /// enters holds a free id).
    #[inline]
    fn next_absent(&self, mut x: u64) -> Option<u64> {
        'root: loop {
            let mut h = self.height;
            let root_span = span(h);
            if x >= root_span {
                // Ids above the root's block are free.
                return (x < SPACE).then_some(x);
            }
            let mut node = match &self.root {
                Root::Empty => return Some(x),
                Root::Full => {
                    x = root_span;
                    continue 'root;
                }
                Root::Node(node) => node,
            };
            loop {
                let inner = match node {
                    Node::Leaf(leaf) => {
                        let start = block_start(x, 0);
                        match leaf_seek::<false, true>(leaf, (x - start) as u32) {
                            Some(off) => return Some(start + u64::from(off)),
                            None => {
                                x = start + LEAF_IDS;
                                continue 'root;
                            }
                        }
                    }
                    Node::Inner(inner) => inner,
                };
                let i = slot_of(x, h);
                match &inner.children[i as usize] {
                    Some(child) => {
                        node = child;
                        h -= 1;
                    }
                    None if inner.full >> i & 1 == 0 => return Some(x),
                    None => {
                        // A full slot: on to the next one that is not.
                        let start = block_start(x, h);
                        let rest = !inner.full & valid(h) & above(i);
                        if rest == 0 {
                            x = start + span(h);
                            continue 'root;
                        }
                        x = start + (u64::from(rest.trailing_zeros()) << bits(h - 1));
                    }
                }
            }
        }
    }

    /// The largest id `<= x` in the set. Time: O(d).
    fn prev_present(&self, x: u64) -> Option<u64> {
        let x = x.min(span(self.height) - 1);
        match &self.root {
            Root::Empty => None,
            Root::Full => Some(x),
            Root::Node(node) => seek::<true, false>(node, self.height, x),
        }
    }

    /// The largest id `<= x` not in the set. Time: O(d).
    fn prev_absent(&self, x: u64) -> Option<u64> {
        if x >= span(self.height) {
            return Some(x);
        }
        match &self.root {
            Root::Empty => Some(x),
            Root::Full => None,
            Root::Node(node) => seek::<false, false>(node, self.height, x),
        }
    }
}

impl Trie {
    /// The leaf that holds `x` and its first id, if a leaf does. Time: O(d).
    pub(crate) fn leaf_at(&self, x: u64) -> Option<(&Leaf, u64)> {
        let mut h = self.height;
        if x >= span(h) {
            return None;
        }
        let Root::Node(root) = &self.root else {
            return None;
        };
        let mut node = root;
        loop {
            match node {
                Node::Leaf(leaf) => return Some((leaf, x & !(LEAF_IDS - 1))),
                Node::Inner(inner) => {
                    let i = slot_of(x, h);
                    if inner.mixed >> i & 1 == 0 {
                        return None;
                    }
                    node = inner.child(i);
                    h -= 1;
                }
            }
        }
    }
}
