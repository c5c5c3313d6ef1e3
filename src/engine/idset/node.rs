// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Nodes of the id set, their summaries, and the edits that keep them.
//!
//! The id space `0..2^32` is cut into aligned blocks. A leaf is the bitmap
//! of `LEAF_IDS` ids; an inner node at height `h >= 1` has `FANOUT` slots,
//! each an aligned block of height `h - 1` (a root at the top height has
//! fewer: only those below 2^32). A slot is *empty* (none of its ids is in
//! the set), *full* (all are) or *mixed* (a child node holds its bitmap), so
//! an all-free or all-taken block of any size costs two bits, not a node.
//!
//! Invariants (checked by `IdSet::check_invariants`):
//! - a node holds at least one id and misses at least one: an all-free or
//!   all-taken block is a marker in its parent (or the root), never a node;
//! - a leaf sits at height 0 and an inner node's children one level below
//!   it; `full` and `mixed` are disjoint and name only slots that exist at
//!   the node's height; `children[i]` holds a node exactly when slot `i` is
//!   mixed;
//! - `count` is the number of ids in the subtree;
//! - `orders[i]` is 1 + the largest `k` such that slot `i` (word `i` in a
//!   leaf) holds an aligned block of `2^k` free ids, 0 if it holds none;
//!   slots that do not exist hold 0; `order` is the same for the whole node
//!   (a node below the top, whose slots all exist);
//! - a leaf's `nonzero` / `nonfull` bit `k` is set when word `k` has a set /
//!   a clear bit;
//! - the root's height is the smallest whose span holds every id of the set
//!   (0 for the empty set), and the set's run count is its number of
//!   maximal runs (kept at the root only: an edit changes it by what the
//!   ids next to the edited range are, which the leaf usually knows).

use triomphe::Arc;

pub(crate) use super::config::{FANOUT, LEAF_WORDS};

/// Bits of an id that index inside a leaf.
pub(crate) const LEAF_BITS: u32 = 6 + LEAF_WORDS.trailing_zeros();
/// Ids in a leaf.
pub(crate) const LEAF_IDS: u64 = 1 << LEAF_BITS;
/// Bits of an id that index the slots of one inner level.
pub(crate) const FAN_BITS: u32 = FANOUT.trailing_zeros();
/// Height of the tallest root: the first height whose blocks span 2^32 ids.
pub(crate) const TOP: u32 = (32 - LEAF_BITS).div_ceil(FAN_BITS);
/// Number of ids, `u32::MAX + 1`.
pub(crate) const SPACE: u64 = 1 << 32;
/// The words of a leaf, as a mask.
pub(crate) const WORD_MASK: u64 = low_mask(LEAF_WORDS as u32);

/// log2 of the ids a block of height `h` spans (before clipping to 2^32).
#[inline]
pub(crate) const fn bits(h: u32) -> u32 {
    LEAF_BITS + h * FAN_BITS
}

/// Entries of the per-height tables: a power of two above `TOP`, so that a
/// masked index needs no bounds check.
const HEIGHTS: usize = (TOP as usize + 1).next_power_of_two();

/// `span` for every height, looked up rather than computed on hot paths.
const SPANS: [u64; HEIGHTS] = {
    let mut spans = [0; HEIGHTS];
    let mut h = 0;
    while h <= TOP {
        spans[h as usize] = if bits(h) >= 32 { SPACE } else { 1 << bits(h) };
        h += 1;
    }
    spans
};

/// Ids a block of height `h` spans (the top level is clipped to 2^32).
#[inline]
pub(crate) const fn span(h: u32) -> u64 {
    SPANS[h as usize & (HEIGHTS - 1)]
}

/// `valid` for every height (index 0 unused).
const VALID: [u64; HEIGHTS] = {
    let mut valid = [0; HEIGHTS];
    let mut h = 1;
    while h <= TOP {
        valid[h as usize] = low_mask((span(h) >> bits(h - 1)) as u32);
        h += 1;
    }
    valid
};

/// The slots of an inner node at height `h >= 1`, as a mask.
#[inline]
pub(crate) const fn valid(h: u32) -> u64 {
    VALID[h as usize & (HEIGHTS - 1)]
}

/// The first id of the block of height `h` that holds `x`.
#[inline]
pub(crate) const fn block_start(x: u64, h: u32) -> u64 {
    (x >> bits(h)) << bits(h)
}

/// The smallest height whose blocks hold id `x`.
#[inline]
pub(crate) const fn height_for(x: u64) -> u32 {
    let needed = 64 - x.leading_zeros();
    if needed <= LEAF_BITS {
        0
    } else {
        (needed - LEAF_BITS).div_ceil(FAN_BITS)
    }
}

/// The slot of an inner node at height `h` that holds `x`.
#[inline]
pub(crate) const fn slot_of(x: u64, h: u32) -> u32 {
    ((x >> bits(h - 1)) as u32) & (FANOUT as u32 - 1)
}

/// The low `n` bits.
#[inline]
pub(crate) const fn low_mask(n: u32) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1 << n) - 1
    }
}

/// Bits `lo..=hi`.
#[inline]
pub(crate) const fn bit_range(lo: u32, hi: u32) -> u64 {
    low_mask(hi + 1) & !low_mask(lo)
}

/// Bits strictly above `i`.
#[inline]
pub(crate) const fn above(i: u32) -> u64 {
    if i >= 63 {
        0
    } else {
        u64::MAX << (i + 1)
    }
}

/// `STARTS[j]`: the bit positions that are multiples of `2^j`.
pub(crate) const STARTS: [u64; 7] = [
    u64::MAX,
    0x5555_5555_5555_5555,
    0x1111_1111_1111_1111,
    0x0101_0101_0101_0101,
    0x0001_0001_0001_0001,
    0x0000_0001_0000_0001,
    0x0000_0000_0000_0001,
];

/// The largest `k <= limit` (`limit <= 6`) such that `m` has `2^k` set bits
/// starting at a multiple of `2^k`; `m` is not zero.
#[inline]
pub(crate) fn group_order(mut m: u64, limit: u32) -> u32 {
    let mut k = 0;
    while k < limit {
        let next = m & (m >> (1u32 << k)) & STARTS[k as usize + 1];
        if next == 0 {
            break;
        }
        m = next;
        k += 1;
    }
    k
}

/// 1 + the largest `k` such that `w` has an aligned block of `2^k` clear
/// bits; 0 when `w` has none.
#[inline]
pub(crate) fn word_order(w: u64) -> u8 {
    if w == u64::MAX {
        0
    } else {
        group_order(!w, 6) as u8 + 1
    }
}

/// Which way an edit goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// Add ids that are all absent.
    Insert,
    /// Take out ids that are all present.
    Remove,
}

/// What flipping one id saw: whether the ids next to it are in the set,
/// when its leaf knows (`None`: the neighbour lies in another block).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Flipped {
    pub(crate) left: Option<bool>,
    pub(crate) right: Option<bool>,
}

/// A node: the bitmap of a leaf or the slots of an inner node, shared
/// copy-on-write.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Leaf(Arc<Leaf>),
    Inner(Arc<Inner>),
}

/// The bitmap of `LEAF_IDS` aligned ids.
#[derive(Clone, Debug)]
pub(crate) struct Leaf {
    pub(crate) words: [u64; LEAF_WORDS],
    /// Bit `k`: word `k` has a set bit.
    pub(crate) nonzero: u64,
    /// Bit `k`: word `k` has a clear bit.
    pub(crate) nonfull: u64,
    /// Set bits.
    pub(crate) count: u32,
    /// Per word: 1 + the order of its largest aligned clear block, 0 if none.
    pub(crate) orders: [u8; LEAF_WORDS],
    /// 1 + the order of the leaf's largest aligned free block, 0 if none.
    pub(crate) order: u8,
}

/// `FANOUT` aligned blocks of one height, each empty, full or a child.
#[derive(Clone, Debug)]
pub(crate) struct Inner {
    /// Slots whose ids are all in the set.
    pub(crate) full: u64,
    /// Slots held by a child node.
    pub(crate) mixed: u64,
    /// Ids in the subtree.
    pub(crate) count: u64,
    /// Per slot: 1 + the order of its largest aligned free block, 0 if none.
    pub(crate) orders: [u8; FANOUT],
    /// 1 + the order of the node's largest aligned free block (as if every
    /// slot existed: meaningless for a top root, which nobody asks).
    pub(crate) order: u8,
    /// The node of each mixed slot.
    pub(crate) children: [Option<Node>; FANOUT],
}

/// A mutable reference to the value of `arc`, copied first if a clone
/// shares it. Unlike `Arc::make_mut` it keeps the copy out of line, so the
/// check that usually succeeds stays small.
#[inline]
pub(crate) fn unique<T: Clone>(arc: &mut Arc<T>) -> &mut T {
    if !arc.is_unique() {
        copy_shared(arc);
    }
    Arc::get_mut(arc).expect("an unshared Arc")
}

#[cold]
#[inline(never)]
fn copy_shared<T: Clone>(arc: &mut Arc<T>) {
    *arc = Arc::new(T::clone(arc));
}

impl Leaf {
    /// A leaf without ids (only ever transient: it is edited at once).
    pub(crate) fn empty() -> Leaf {
        Leaf {
            words: [0; LEAF_WORDS],
            nonzero: 0,
            nonfull: WORD_MASK,
            count: 0,
            orders: [7; LEAF_WORDS],
            order: LEAF_BITS as u8 + 1,
        }
    }

    /// A leaf with every id (only ever transient).
    pub(crate) fn full() -> Leaf {
        Leaf {
            words: [u64::MAX; LEAF_WORDS],
            nonzero: WORD_MASK,
            nonfull: 0,
            count: LEAF_IDS as u32,
            orders: [0; LEAF_WORDS],
            order: 0,
        }
    }

    /// True if the id at offset `off` is in the set.
    #[inline]
    pub(crate) fn contains(&self, off: u32) -> bool {
        self.words[(off / 64) as usize] >> (off % 64) & 1 != 0
    }

    /// 1 + the order of the largest aligned free block, 0 if none, from
    /// the words' orders. Time: O(LEAF_WORDS).
    pub(crate) fn compute_order(&self) -> u8 {
        let best = self.orders.iter().copied().max().unwrap_or(0);
        if best < 7 {
            return best;
        }
        // Free words: find the largest aligned group of them.
        let free_words = !self.nonzero & WORD_MASK;
        7 + group_order(free_words, LEAF_WORDS.trailing_zeros()) as u8
    }

    /// Stores word `k`, which was `old`, and its masks (not its order).
    #[inline]
    pub(crate) fn store_word(&mut self, k: usize, old: u64, w: u64) {
        self.words[k] = w;
        // The word masks change only when the word leaves or reaches 0 or !0.
        if old == 0 || w == 0 || old == u64::MAX || w == u64::MAX {
            let bit = 1u64 << k;
            self.nonzero = (self.nonzero & !bit) | (u64::from(w != 0) << k);
            self.nonfull = (self.nonfull & !bit) | (u64::from(w != u64::MAX) << k);
        }
    }

    /// Stores word `k`, which was `old`, with its masks and order.
    #[inline]
    fn set_word(&mut self, k: usize, old: u64, w: u64) {
        self.store_word(k, old, w);
        self.orders[k] = word_order(w);
    }

    /// Inserts or removes the ids at offsets `lo..=hi`, which are all absent
    /// or all present. Time: O(words touched + LEAF_WORDS).
    pub(crate) fn edit(&mut self, lo: u32, hi: u32, op: Op) {
        debug_assert!(lo <= hi && u64::from(hi) < LEAF_IDS);
        let insert = op == Op::Insert;
        let (k0, k1) = ((lo / 64) as usize, (hi / 64) as usize);
        // The bits flip: the precondition says they all hold the old value.
        if k0 == k1 {
            let m = bit_range(lo % 64, hi % 64);
            let w = self.words[k0];
            debug_assert_eq!(w & m, if insert { 0 } else { m });
            self.set_word(k0, w, w ^ m);
        } else {
            let m0 = bit_range(lo % 64, 63);
            let m1 = bit_range(0, hi % 64);
            let (w0, w1) = (self.words[k0], self.words[k1]);
            debug_assert_eq!(w0 & m0, if insert { 0 } else { m0 });
            debug_assert_eq!(w1 & m1, if insert { 0 } else { m1 });
            self.set_word(k0, w0, w0 ^ m0);
            self.set_word(k1, w1, w1 ^ m1);
            if k0 + 1 < k1 {
                let mid = bit_range(k0 as u32 + 1, k1 as u32 - 1);
                if insert {
                    self.words[k0 + 1..k1].fill(u64::MAX);
                    self.orders[k0 + 1..k1].fill(0);
                    self.nonzero |= mid;
                    self.nonfull &= !mid;
                } else {
                    self.words[k0 + 1..k1].fill(0);
                    self.orders[k0 + 1..k1].fill(7);
                    self.nonzero &= !mid;
                    self.nonfull |= mid;
                }
            }
        }
        self.order = self.compute_order();
        let n = hi - lo + 1;
        if insert {
            self.count += n;
        } else {
            self.count -= n;
        }
    }
}

impl Inner {
    /// An inner node at height `h` without ids (only ever transient).
    pub(crate) fn empty(h: u32) -> Inner {
        let mut orders = [0; FANOUT];
        let free = bits(h - 1) as u8 + 1;
        for (i, order) in orders.iter_mut().enumerate() {
            if valid(h) >> i & 1 != 0 {
                *order = free;
            }
        }
        let mut inner = Inner {
            full: 0,
            mixed: 0,
            count: 0,
            orders,
            order: 0,
            children: [const { None }; FANOUT],
        };
        inner.order = inner.compute_order();
        inner
    }

    /// An inner node at height `h` with every id (only ever transient).
    pub(crate) fn full(h: u32) -> Inner {
        Inner {
            full: valid(h),
            mixed: 0,
            count: span(h),
            orders: [0; FANOUT],
            order: 0,
            children: [const { None }; FANOUT],
        }
    }

    /// The child of mixed slot `i`.
    #[inline]
    pub(crate) fn child(&self, i: u32) -> &Node {
        match &self.children[i as usize % FANOUT] {
            Some(node) => node,
            None => unreachable!("slot {i} is not mixed"),
        }
    }

    /// The child of mixed slot `i`, to edit.
    #[inline]
    pub(crate) fn child_mut(&mut self, i: u32) -> &mut Node {
        match &mut self.children[i as usize % FANOUT] {
            Some(node) => node,
            None => unreachable!("slot {i} is not mixed"),
        }
    }

    /// The nodes of the mixed slots, in slot order.
    #[cfg(test)]
    pub(crate) fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.children.iter().flatten()
    }

    /// 1 + the order of the largest aligned free block, from the slots'
    /// orders, for a node below the top (whose slots all exist).
    /// Time: O(FANOUT).
    pub(crate) fn compute_order(&self) -> u8 {
        let empty = !(self.full | self.mixed) & low_mask(FANOUT as u32);
        if empty == 0 {
            return self.orders.iter().copied().max().unwrap_or(0);
        }
        // Empty slots beat anything inside a slot: find the largest aligned
        // group of them. `orders` holds the slot height's bits + 1 for them.
        let slot_order = self.orders[empty.trailing_zeros() as usize];
        slot_order + group_order(empty, FAN_BITS) as u8
    }

    /// Makes the slots in `mask` (a run of slots), which are all empty
    /// (insert) or all full (remove), full or empty. Time: O(FANOUT).
    fn set_whole(&mut self, h: u32, mask: u64, op: Op) {
        let n = u64::from(mask.count_ones());
        let lo = mask.trailing_zeros() as usize;
        let hi = 63 - mask.leading_zeros() as usize;
        if op == Op::Insert {
            debug_assert_eq!((self.full | self.mixed) & mask, 0);
            self.full |= mask;
            self.count += n * span(h - 1);
            self.orders[lo..=hi].fill(0);
        } else {
            debug_assert_eq!(self.full & mask, mask);
            self.full &= !mask;
            self.count -= n * span(h - 1);
            self.orders[lo..=hi].fill(bits(h - 1) as u8 + 1);
        }
        self.order = self.compute_order();
    }

    /// Puts `node`, of height `h - 1`, into the empty slot `i`.
    pub(crate) fn adopt(&mut self, i: u32, node: Node) {
        let bit = 1u64 << i;
        debug_assert_eq!((self.full | self.mixed) & bit, 0);
        self.count += node.count();
        self.orders[i as usize] = node.order();
        self.children[i as usize] = Some(node);
        self.mixed |= bit;
        self.order = self.compute_order();
    }

    /// Inserts or removes `first..=last`, inside this node (at height `h`,
    /// first id `base`) and all absent or all present.
    /// Time: O(h · FANOUT), two paths down.
    pub(crate) fn edit(&mut self, h: u32, base: u64, first: u64, last: u64, op: Op) {
        let cb = bits(h - 1);
        let i0 = ((first - base) >> cb) as u32;
        let i1 = ((last - base) >> cb) as u32;
        let start = |i: u32| base + (u64::from(i) << cb);
        let end = |i: u32| start(i) + ((1u64 << cb) - 1);
        if i0 == i1 {
            if first == start(i0) && last == end(i0) {
                self.set_whole(h, 1 << i0, op);
            } else {
                self.edit_slot(h, base, i0, first, last, op);
            }
            return;
        }
        let mut whole = bit_range(i0, i1);
        if first != start(i0) {
            self.edit_slot(h, base, i0, first, end(i0), op);
            whole &= !(1 << i0);
        }
        if last != end(i1) {
            self.edit_slot(h, base, i1, start(i1), last, op);
            whole &= !(1 << i1);
        }
        if whole != 0 {
            self.set_whole(h, whole, op);
        }
    }

    /// Edits part of slot `i`; turns a child that fills up or empties into
    /// a marker. Time: O(h · FANOUT).
    fn edit_slot(&mut self, h: u32, base: u64, i: u32, first: u64, last: u64, op: Op) {
        let ch = h - 1;
        let cbase = base + (u64::from(i) << bits(ch));
        let bit = 1u64 << i;
        let old_count = if self.mixed & bit != 0 {
            let child = self.child_mut(i);
            let old = child.count();
            child.edit(ch, cbase, first, last, op);
            old
        } else {
            // An empty slot gains ids or a full one loses some: it becomes a
            // node (which may at once turn out full or empty again below).
            let was_full = self.full & bit != 0;
            debug_assert_eq!(was_full, op == Op::Remove);
            let mut child = if was_full {
                Node::full(ch)
            } else {
                Node::empty(ch)
            };
            child.edit(ch, cbase, first, last, op);
            self.children[i as usize] = Some(child);
            self.mixed |= bit;
            self.full &= !bit;
            if was_full {
                span(ch)
            } else {
                0
            }
        };
        let (count, child_order) = {
            let child = self.child(i);
            (child.count(), child.order())
        };
        self.count = self.count - old_count + count;
        let order = if count == 0 {
            self.children[i as usize] = None;
            self.mixed &= !bit;
            bits(ch) as u8 + 1
        } else if count == span(ch) {
            self.children[i as usize] = None;
            self.mixed &= !bit;
            self.full |= bit;
            0
        } else {
            child_order
        };
        // An empty slot's order (its height's bits + 1) is unlike any other
        // slot's, so a slot that turns empty or stops being empty shows here.
        if self.orders[i as usize] != order {
            self.orders[i as usize] = order;
            self.order = self.compute_order();
        }
    }
}

impl Node {
    /// A node of height `h` without ids (only ever transient).
    pub(crate) fn empty(h: u32) -> Node {
        if h == 0 {
            Node::Leaf(Arc::new(Leaf::empty()))
        } else {
            Node::Inner(Arc::new(Inner::empty(h)))
        }
    }

    /// A node of height `h` with every id (only ever transient).
    pub(crate) fn full(h: u32) -> Node {
        if h == 0 {
            Node::Leaf(Arc::new(Leaf::full()))
        } else {
            Node::Inner(Arc::new(Inner::full(h)))
        }
    }

    /// Ids in the subtree. Time: O(1).
    #[inline]
    pub(crate) fn count(&self) -> u64 {
        match self {
            Node::Leaf(leaf) => leaf.count.into(),
            Node::Inner(inner) => inner.count,
        }
    }

    /// 1 + the order of the largest aligned free block. Time: O(1).
    #[inline]
    pub(crate) fn order(&self) -> u8 {
        match self {
            Node::Leaf(leaf) => leaf.order,
            Node::Inner(inner) => inner.order,
        }
    }

    /// True if both are the same allocation.
    #[inline]
    pub(crate) fn ptr_eq(&self, other: &Node) -> bool {
        match (self, other) {
            (Node::Leaf(a), Node::Leaf(b)) => Arc::ptr_eq(a, b),
            (Node::Inner(a), Node::Inner(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Inserts or removes `first..=last` (inside this node of height `h`
    /// starting at `base`; all absent or all present), copying the node
    /// first if a clone shares it. Time: O(h · FANOUT).
    pub(crate) fn edit(&mut self, h: u32, base: u64, first: u64, last: u64, op: Op) {
        match self {
            Node::Leaf(leaf) => {
                unique(leaf).edit((first - base) as u32, (last - base) as u32, op);
            }
            Node::Inner(inner) => unique(inner).edit(h, base, first, last, op),
        }
    }
}
