// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Inserting or removing one id: the path every allocation and free takes.
//!
//! One walk down from the root: each level adjusts its count and steps to
//! the child holding the id, and the leaf flips one bit. Everything else is
//! rare and kept out of line: a slot on the path that is a marker (it
//! becomes a node first), a child that fills up or empties (it becomes a
//! marker instead), a largest free block whose order changes (the orders
//! on the path are recomputed bottom up), an id next to the edited one that
//! the leaf cannot see (looked up). Time: O(d).

use super::node::{
    above, bits, block_start, low_mask, slot_of, span, unique, valid, word_order, Flipped, Inner,
    Leaf, Node, Op, LEAF_BITS, LEAF_IDS, LEAF_WORDS,
};
use super::search::leaf_seek;
use super::{Root, Seek, Trie};
use triomphe::Arc;

impl Leaf {
    /// Flips the id at offset `off` (absent for an insert, present for a
    /// removal); returns true if the leaf's largest free block changed.
    /// Time: O(1), plus O(LEAF_WORDS) when that block may have shrunk.
    #[inline(always)]
    pub(crate) fn flip<const INSERT: bool>(&mut self, off: u32) -> (bool, Flipped) {
        let k = (off / 64) as usize % LEAF_WORDS;
        let b = off % 64;
        let w = self.words[k];
        debug_assert_eq!(w >> b & 1 == 0, INSERT);
        // The neighbours, from this word or the next one over.
        let left = if b > 0 {
            Some(w >> (b - 1) & 1 != 0)
        } else if k > 0 {
            Some(self.words[k - 1] >> 63 != 0)
        } else {
            None
        };
        let right = if b < 63 {
            Some(w >> (b + 1) & 1 != 0)
        } else if k + 1 < LEAF_WORDS {
            Some(self.words[k + 1] & 1 != 0)
        } else {
            None
        };
        let new = w ^ (1 << b);
        self.store_word(k, w, new);
        let old_word = self.orders[k];
        let old_leaf = self.order;
        if INSERT {
            self.count += 1;
            // Taking an id only shrinks free blocks, and only the largest
            // ones matter: if the aligned block of the largest size that
            // holds the id was not all free, they all remain.
            let word = match old_word {
                _ if new == u64::MAX => 0,
                0 | 1 => 1,
                o => {
                    let size = 1u32 << (o - 1);
                    let block = low_mask(size) << (b & !(size - 1));
                    if !w & block == block {
                        word_order(new)
                    } else {
                        o
                    }
                }
            };
            if word != old_word {
                self.orders[k] = word;
                // The leaf's block can only shrink if this word held it (or
                // was a free word, which groups of free words may need).
                if old_word >= old_leaf || old_word == 7 {
                    self.order = self.compute_order();
                }
            }
        } else {
            self.count -= 1;
            // Freeing an id grows the free blocks only through the aligned
            // block one size up that holds it.
            let word = match old_word {
                0 => 1,
                o => {
                    let size = 1u32 << o;
                    let block = low_mask(size) << (b & !(size - 1));
                    if !new & block == block {
                        word_order(new)
                    } else {
                        o
                    }
                }
            };
            if word != old_word {
                self.orders[k] = word;
                self.order = if word == 7 {
                    self.compute_order()
                } else {
                    self.order.max(word)
                };
            }
        }
        (self.order != old_leaf, Flipped { left, right })
    }
}

impl Leaf {
    /// A leaf with every id but the one at offset `off`.
    fn all_but(off: u32) -> Leaf {
        let (k, b) = ((off / 64) as usize % LEAF_WORDS, off % 64);
        let mut leaf = Leaf::full();
        leaf.words[k] = !(1 << b);
        leaf.nonfull = 1 << k;
        leaf.count -= 1;
        leaf.orders[k] = 1;
        leaf.order = 1;
        leaf
    }

    /// A leaf with only the id at offset `off`.
    fn only(off: u32) -> Leaf {
        let (k, b) = ((off / 64) as usize % LEAF_WORDS, off % 64);
        let mut leaf = Leaf::empty();
        leaf.words[k] = 1 << b;
        leaf.nonzero = 1 << k;
        leaf.count = 1;
        leaf.orders[k] = word_order(1 << b);
        leaf.order = leaf.compute_order();
        leaf
    }
}

impl Inner {
    /// Flips `x` in slot `i` of this node of height 1 when the slot is a
    /// marker (it becomes a leaf) or its leaf fills up or empties (it
    /// becomes a marker), adjusting this node's count; returns whether its
    /// order changed and what the leaf knew of the neighbours (every other
    /// id of the block is in the set, or none is). `Err`, changing nothing,
    /// when `x` is already in (insert) or out of (remove) the set.
    #[inline(never)]
    fn flip_at_leaf_edge<const INSERT: bool>(
        &mut self,
        i: u32,
        x: u64,
    ) -> Result<(bool, Flipped), ()> {
        let bit = 1u64 << i;
        let off = (x & (LEAF_IDS - 1)) as u32;
        let old_order = self.order;
        let others = |present: bool| Flipped {
            left: (off > 0).then_some(present),
            right: (u64::from(off) + 1 < LEAF_IDS).then_some(present),
        };
        let seen = if self.full & bit != 0 {
            if INSERT {
                return Err(());
            }
            // A full block loses an id: its order becomes 1, no empty slot
            // appears or goes.
            self.children[i as usize] = Some(Node::Leaf(Arc::new(Leaf::all_but(off))));
            self.full &= !bit;
            self.mixed |= bit;
            self.orders[i as usize] = 1;
            self.order = self.order.max(1);
            self.count -= 1;
            return Ok((self.order != old_order, others(true)));
        } else if self.mixed & bit == 0 {
            if !INSERT {
                return Err(());
            }
            // An empty block gains an id.
            let leaf = Leaf::only(off);
            self.orders[i as usize] = leaf.order;
            self.children[i as usize] = Some(Node::Leaf(Arc::new(leaf)));
            self.mixed |= bit;
            others(false)
        } else {
            let Node::Leaf(leaf) = self.child(i) else {
                unreachable!("the children of height 1 are leaves")
            };
            if leaf.contains(off) == INSERT {
                return Err(());
            }
            // The leaf fills up or empties: a marker replaces it.
            let was = self.orders[i as usize];
            self.children[i as usize] = None;
            self.mixed &= !bit;
            self.full |= u64::from(INSERT) << i;
            if INSERT {
                self.orders[i as usize] = 0;
                self.count += 1;
                // Only a slot that held the largest free block matters.
                if was == self.order {
                    self.order = self.compute_order();
                }
                return Ok((self.order != old_order, others(true)));
            }
            self.orders[i as usize] = LEAF_BITS as u8 + 1;
            others(false)
        };
        self.count = if INSERT {
            self.count + 1
        } else {
            self.count - 1
        };
        self.order = self.compute_order();
        Ok((self.order != old_order, seen))
    }

    /// The flip of `x` reaches slot `i`, which is a marker or whose child
    /// fills up or empties with it. This level's count is already adjusted.
    #[cold]
    #[inline(never)]
    fn flip_at_slot_edge<const INSERT: bool>(&mut self, h: u32, i: u32, x: u64) -> Flipped {
        let bit = 1u64 << i;
        if self.mixed & bit != 0 {
            // The child fills up or empties: a marker replaces it (and the
            // bitmap that would have seen the neighbours goes with it).
            let full = INSERT;
            self.children[i as usize] = None;
            self.mixed &= !bit;
            self.full |= u64::from(full) << i;
            self.orders[i as usize] = if full { 0 } else { bits(h - 1) as u8 + 1 };
            self.order = self.compute_order();
            return Flipped {
                left: None,
                right: None,
            };
        }
        // An empty slot gains an id or a full one loses one: it becomes a
        // node first (it spans more than one id, so it stays one).
        let child = if self.full & bit != 0 {
            Node::full(h - 1)
        } else {
            Node::empty(h - 1)
        };
        self.full &= !bit;
        self.mixed |= bit;
        let child = self.children[i as usize].insert(child);
        child.flip::<INSERT>(h - 1, x)
    }

    /// Recomputes the orders along the path to `x`, bottom up, after a
    /// flip changed an order on it. Time: O(h · FANOUT).
    #[cold]
    #[inline(never)]
    fn refresh_orders(&mut self, h: u32, x: u64) {
        let i = slot_of(x, h);
        if self.mixed >> i & 1 != 0 {
            let child = self.child_mut(i);
            if let Node::Inner(inner) = child {
                // The flip made every node on the path unique: no copy here.
                unique(inner).refresh_orders(h - 1, x);
            }
            self.orders[i as usize] = child.order();
        }
        self.order = self.compute_order();
    }
}

impl Node {
    /// Adds `delta` to the counts of the nodes on the path to `x` from this
    /// one (height `h`) down to height `stop`, exclusive.
    #[cold]
    #[inline(never)]
    fn add_counts(&mut self, h: u32, stop: u32, x: u64, delta: u64) {
        let mut node = self;
        let mut level = h;
        while level > stop {
            let Node::Inner(shared) = node else {
                unreachable!("inner nodes above the stop")
            };
            let inner = unique(shared);
            inner.count = inner.count.wrapping_add(delta);
            node = inner.child_mut(slot_of(x, level));
            level -= 1;
        }
    }

    /// True if this block, of `span` ids, keeps an id and misses one after
    /// `op` flips one of its ids.
    #[inline(always)]
    fn stays_mixed<const INSERT: bool>(&self, span: u64) -> bool {
        let count = self.count();
        if INSERT {
            count + 1 != span
        } else {
            count != 1
        }
    }

    /// Flips id `x` inside this node (height `h`): inserts it (absent) or
    /// removes it (present), copying the nodes on its path first if a clone
    /// shares them. The node must not fill up or empty (its parent, or the
    /// set for a root, turns it into a marker instead).
    /// Time: O(h), plus O(h · FANOUT) when an order on the path changes.
    #[inline(always)]
    pub(crate) fn flip<const INSERT: bool>(&mut self, h: u32, x: u64) -> Flipped {
        let delta = if INSERT { 1 } else { u64::MAX };
        let mut node = &mut *self;
        let mut level = h;
        let (refresh, flipped) = loop {
            let inner = match node {
                Node::Leaf(leaf) => {
                    break unique(leaf).flip::<INSERT>((x & (LEAF_IDS - 1)) as u32);
                }
                Node::Inner(inner) => unique(inner),
            };
            inner.count = inner.count.wrapping_add(delta);
            let i = slot_of(x, level);
            let stays = matches!(
                &inner.children[i as usize],
                Some(child) if child.stays_mixed::<INSERT>(span(level - 1))
            );
            if !stays {
                break (true, inner.flip_at_slot_edge::<INSERT>(level, i, x));
            }
            node = inner.child_mut(i);
            level -= 1;
        };
        if refresh {
            if let Node::Inner(inner) = self {
                unique(inner).refresh_orders(h, x);
            }
        }
        flipped
    }
}

impl Trie {
    /// Inserts or removes one id below the root's span and counts runs.
    /// Time: O(d), plus O(d · FANOUT) when the order of a largest free
    /// block changes.
    #[inline(always)]
    pub(crate) fn edit_one<const INSERT: bool>(&mut self, id: u32) {
        let h = self.height;
        if let Root::Node(node) = &mut self.root {
            if node.stays_mixed::<INSERT>(span(h)) {
                let flipped = node.flip::<INSERT>(h, id.into());
                // The leaf saw both neighbours (or there is none).
                let left = flipped.left.or((id == 0).then_some(false));
                let right = flipped.right.or((id == u32::MAX).then_some(false));
                let (left, right) = match (left, right) {
                    (Some(left), Some(right)) => (left, right),
                    _ => self.neighbours(id, id, flipped),
                };
                self.count_runs(left, right, op::<INSERT>());
                return;
            }
        }
        self.edit_one_root::<INSERT>(id);
    }

    /// Updates the run count after an edit whose neighbours are `left` and
    /// `right`.
    #[inline(always)]
    pub(crate) fn count_runs(&mut self, left: bool, right: bool, op: Op) {
        let joins = u64::from(left) + u64::from(right);
        self.runs = match op {
            // A new run, less one for each side it joins.
            Op::Insert => self.runs + 1 - joins,
            // One run less, plus one for each side that remains.
            Op::Remove => self.runs + joins - 1,
        };
    }

    /// Whether the ids next to `first..=last` are in the set, asking for
    /// those the leaf did not see (they lie in other blocks; the edit did
    /// not change them).
    #[cold]
    #[inline(never)]
    pub(crate) fn neighbours(&self, first: u32, last: u32, seen: Flipped) -> (bool, bool) {
        let left = seen
            .left
            .unwrap_or_else(|| first.checked_sub(1).is_some_and(|x| self.contains(x)));
        let right = seen
            .right
            .unwrap_or_else(|| last.checked_add(1).is_some_and(|x| self.contains(x)));
        (left, right)
    }

    /// `edit_one` when the root is a marker or becomes one.
    #[cold]
    #[inline(never)]
    fn edit_one_root<const INSERT: bool>(&mut self, id: u32) {
        let h = self.height;
        let flipped = if let Root::Node(_) = self.root {
            // The root empties or fills up.
            self.root = if INSERT { Root::Full } else { Root::Empty };
            Flipped {
                left: None,
                right: None,
            }
        } else {
            // A marker root (empty for an insert, full for a removal)
            // becomes a node: its span holds more than one id.
            let mut node = if INSERT {
                Node::empty(h)
            } else {
                Node::full(h)
            };
            let flipped = node.flip::<INSERT>(h, id.into());
            self.root = Root::Node(node);
            flipped
        };
        let (left, right) = self.neighbours(id, id, flipped);
        self.count_runs(left, right, op::<INSERT>());
    }
}

/// The edit a const `INSERT` names.
#[inline(always)]
const fn op<const INSERT: bool>() -> Op {
    if INSERT {
        Op::Insert
    } else {
        Op::Remove
    }
}

/// Allocation-shaped edits: the check and the change in one call. The
/// common case takes two short walks: one that reads, down to the leaf of
/// the id, and one that writes, adjusting each level's count without any
/// check, because the leaf neither fills up nor empties (so no slot on the
/// path changes kind). Anything else takes the general path.
impl Trie {
    /// Counts runs after a flip in a lone leaf (height 0), past which no id
    /// is in the set.
    #[inline(always)]
    fn count_runs_in_lone_leaf(&mut self, seen: Flipped, op: Op) {
        let (left, right) = (seen.left.unwrap_or(false), seen.right.unwrap_or(false));
        self.count_runs(left, right, op);
    }

    /// Ends a one-walk edit of `first..=last`: refreshes the orders on its
    /// path when the leaf's largest free block `changed`, and counts runs
    /// from the neighbours the leaf `seen` (past a lone leaf nothing is in
    /// the set; a neighbour in another leaf is looked up).
    #[inline(always)]
    fn finish_walk(&mut self, first: u32, last: u32, changed: bool, seen: Flipped, op: Op) {
        let h = self.height;
        if changed {
            if let Root::Node(Node::Inner(inner)) = &mut self.root {
                unique(inner).refresh_orders(h, first.into());
            }
        }
        let left = seen.left.or((first == 0 || h == 0).then_some(false));
        let right = seen.right.or((last == u32::MAX || h == 0).then_some(false));
        let (left, right) = match (left, right) {
            (Some(left), Some(right)) => (left, right),
            _ => self.neighbours(first, last, seen),
        };
        self.count_runs(left, right, op);
    }

    /// Flips `x` if its path down the tree has no marker and no node a
    /// clone shares, and its leaf neither fills up nor empties: `Some(true)`
    /// when done, `Some(false)` when `x` is already in (insert) or out of
    /// (remove) the set, `None` when the general path must do it. One walk
    /// down: each level's count is adjusted on the way (and put back if the
    /// walk stops short), and nothing is copied.
    #[inline(always)]
    fn flip_checked<const INSERT: bool>(&mut self, x: u64) -> Option<bool> {
        let h = self.height;
        if x >= span(h) {
            return None;
        }
        let Root::Node(root) = &mut self.root else {
            return None;
        };
        let delta = if INSERT { 1 } else { u64::MAX };
        let mut node = &mut *root;
        let mut level = h;
        let outcome = loop {
            match node {
                Node::Leaf(shared) => {
                    let off = (x & (LEAF_IDS - 1)) as u32;
                    if shared.contains(off) == INSERT {
                        break Err(Some(false));
                    }
                    let stays = if INSERT {
                        u64::from(shared.count) + 1 < LEAF_IDS
                    } else {
                        shared.count > 1
                    };
                    if !stays {
                        break Err(None);
                    }
                    let Some(leaf) = Arc::get_mut(shared) else {
                        break Err(None);
                    };
                    break Ok(leaf.flip::<INSERT>(off));
                }
                Node::Inner(shared) => {
                    let i = slot_of(x, level);
                    // Above the leaves, a marker slot or a leaf that fills
                    // up or empties is handled here, in one step (higher
                    // up, a marker slot goes to the general path).
                    let edge = match &shared.children[i as usize] {
                        Some(Node::Leaf(leaf)) if INSERT => u64::from(leaf.count) + 1 == LEAF_IDS,
                        Some(Node::Leaf(leaf)) => leaf.count == 1,
                        Some(Node::Inner(_)) => false,
                        None if level == 1 => true,
                        None => break Err(None),
                    };
                    if edge {
                        // The general path turns a node that fills up or
                        // empties into a marker in its parent.
                        let stays = if INSERT {
                            shared.count + 1 != span(level)
                        } else {
                            shared.count != 1
                        };
                        if !stays {
                            break Err(None);
                        }
                    }
                    // A node a clone shares goes to the general path, which
                    // checks before it copies anything (this edit may fail).
                    let Some(inner) = Arc::get_mut(shared) else {
                        break Err(None);
                    };
                    if edge {
                        break inner
                            .flip_at_leaf_edge::<INSERT>(i, x)
                            .map_err(|()| Some(false));
                    }
                    inner.count = inner.count.wrapping_add(delta);
                    node = inner.child_mut(i);
                    level -= 1;
                }
            }
        };
        let (changed, seen) = match outcome {
            Ok(flipped) => flipped,
            Err(result) => {
                if level < h {
                    // Put back the counts of the levels passed.
                    root.add_counts(h, level, x, delta.wrapping_neg());
                }
                return result;
            }
        };
        let id = x as u32;
        self.finish_walk(id, id, changed, seen, op::<INSERT>());
        Some(true)
    }

    /// Inserts or removes `first..=last` (all absent, or all present),
    /// which lie in one leaf, when the path to it has no marker and the
    /// leaf neither fills up nor empties; false, changing nothing,
    /// otherwise. One walk down, like `flip_checked`.
    #[inline]
    pub(crate) fn edit_in_leaf<const INSERT: bool>(&mut self, first: u32, last: u32) -> bool {
        let (lo, hi) = (u64::from(first), u64::from(last));
        let h = self.height;
        if hi >= span(h) || lo >> LEAF_BITS != hi >> LEAF_BITS {
            return false;
        }
        let Root::Node(root) = &mut self.root else {
            return false;
        };
        let n = hi - lo + 1;
        let delta = if INSERT { n } else { n.wrapping_neg() };
        let mut node = &mut *root;
        let mut level = h;
        let outcome = loop {
            match node {
                Node::Leaf(shared) => {
                    let count = u64::from(shared.count);
                    let stays = if INSERT {
                        count + n < LEAF_IDS
                    } else {
                        count > n
                    };
                    if !stays {
                        break None;
                    }
                    let (a, b) = ((lo & (LEAF_IDS - 1)) as u32, (hi & (LEAF_IDS - 1)) as u32);
                    let seen = Flipped {
                        left: a.checked_sub(1).map(|x| shared.contains(x)),
                        right: (u64::from(b) + 1 < LEAF_IDS).then(|| shared.contains(b + 1)),
                    };
                    let leaf = unique(shared);
                    let old = leaf.order;
                    leaf.edit(a, b, op::<INSERT>());
                    break Some((leaf.order != old, seen));
                }
                Node::Inner(shared) => {
                    let i = slot_of(lo, level);
                    if shared.children[i as usize].is_none() {
                        break None;
                    }
                    let inner = unique(shared);
                    inner.count = inner.count.wrapping_add(delta);
                    node = inner.child_mut(i);
                    level -= 1;
                }
            }
        };
        let Some((changed, seen)) = outcome else {
            if level < h {
                // Put back the counts of the levels passed.
                root.add_counts(h, level, lo, delta.wrapping_neg());
            }
            return false;
        };
        self.finish_walk(first, last, changed, seen, op::<INSERT>());
        true
    }

    /// `insert_first_absent` in one walk when the path to the answer has no
    /// marker and its leaf does not fill up: `Some(answer)`, or `None` when
    /// the general path must do it. The walk searches as it descends (a
    /// full slot sends it to the next slot that is not, within the node)
    /// and adjusts each level's count as it enters a child, putting them
    /// back if it stops short.
    #[inline(always)]
    fn take_first_checked(&mut self, lo: u32, hi: u32) -> Option<Option<u32>> {
        let h = self.height;
        let mut x = u64::from(lo);
        if x >= span(h) {
            return None;
        }
        let Root::Node(root) = &mut self.root else {
            return None;
        };
        let mut node = &mut *root;
        let mut level = h;
        let outcome = loop {
            match node {
                Node::Leaf(shared) => {
                    let start = block_start(x, 0);
                    let Some(off) = leaf_seek::<false, true>(shared, (x - start) as u32) else {
                        break Err(None);
                    };
                    x = start + u64::from(off);
                    if x > u64::from(hi) {
                        // Every id of lo..=hi is in the set.
                        break Err(Some(None));
                    }
                    if u64::from(shared.count) + 1 == LEAF_IDS {
                        break Err(None);
                    }
                    break Ok(unique(shared).flip::<true>(off));
                }
                Node::Inner(shared) => {
                    // The slot to enter: a full one sends the search to the
                    // next slot that is not. Above the leaves, an empty slot
                    // or a leaf whose last free id is taken is handled here,
                    // in one step (higher up, an empty slot goes to the
                    // general path).
                    let entered = loop {
                        let i = slot_of(x, level);
                        match &shared.children[i as usize] {
                            Some(Node::Leaf(leaf)) if u64::from(leaf.count) + 1 == LEAF_IDS => {
                                let off = leaf_seek::<false, true>(leaf, 0).expect("a free id");
                                let free = block_start(x, 0) + u64::from(off);
                                if free >= x {
                                    x = free;
                                    break Some((i, true));
                                }
                                // Its free id lies before x: as good as full.
                            }
                            Some(_) => break Some((i, false)),
                            None if shared.full >> i & 1 == 0 => {
                                break (level == 1).then_some((i, true))
                            }
                            None => {}
                        }
                        let rest = !shared.full & valid(level) & above(i);
                        if rest == 0 {
                            break None;
                        }
                        x = block_start(x, level)
                            + (u64::from(rest.trailing_zeros()) << bits(level - 1));
                    };
                    let Some((i, edge)) = entered else {
                        break Err(None);
                    };
                    if edge && x > u64::from(hi) {
                        // Every id of lo..=hi is in the set.
                        break Err(Some(None));
                    }
                    if edge && shared.count + 1 == span(level) {
                        // This node fills up: the general path makes it a
                        // marker in its parent.
                        break Err(None);
                    }
                    let inner = unique(shared);
                    if edge {
                        break Ok(inner.flip_at_leaf_edge::<true>(i, x).expect("a free id"));
                    }
                    inner.count += 1;
                    node = inner.child_mut(i);
                    level -= 1;
                }
            }
        };
        let (changed, seen) = match outcome {
            Ok(flipped) => flipped,
            Err(result) => {
                if level < h {
                    // Put back the counts of the levels passed.
                    root.add_counts(h, level, x, u64::MAX);
                }
                return result;
            }
        };
        let id = x as u32;
        self.finish_walk(id, id, changed, seen, Op::Insert);
        Some(Some(id))
    }

    /// Inserts the smallest id of `lo..=hi` not in the set and returns it.
    /// Time: O(d).
    #[inline]
    pub(crate) fn insert_first_absent(&mut self, lo: u32, hi: u32) -> Option<u32> {
        if let Root::Node(Node::Leaf(shared)) = &mut self.root {
            // A lone leaf, in one pass.
            let leaf: &Leaf = shared;
            if u64::from(lo) < LEAF_IDS && u64::from(leaf.count) + 1 < LEAF_IDS {
                if let Some(id) = leaf_seek::<false, true>(leaf, lo) {
                    if id > hi {
                        return None;
                    }
                    let (_, seen) = unique(shared).flip::<true>(id);
                    self.count_runs_in_lone_leaf(seen, Op::Insert);
                    return Some(id);
                }
            }
        }
        if let Some(answer) = self.take_first_checked(lo, hi) {
            return answer;
        }
        let id = self.first_absent(lo, hi)?;
        self.insert_range(id, id);
        Some(id)
    }

    /// Inserts `id` unless it is in the set; false if it was. Time: O(d).
    #[inline]
    pub(crate) fn insert_if_absent(&mut self, id: u32) -> bool {
        if let Root::Node(Node::Leaf(shared)) = &mut self.root {
            // A lone leaf, in one pass.
            if u64::from(id) < LEAF_IDS && u64::from(shared.count) + 1 < LEAF_IDS {
                if shared.contains(id) {
                    return false;
                }
                let (_, seen) = unique(shared).flip::<true>(id);
                self.count_runs_in_lone_leaf(seen, Op::Insert);
                return true;
            }
        }
        match self.flip_checked::<true>(id.into()) {
            Some(done) => done,
            None if self.contains(id) => false,
            None => {
                self.insert_range(id, id);
                true
            }
        }
    }

    /// Removes `id` if it is in the set; false if it was not. Time: O(d).
    #[inline]
    pub(crate) fn remove_if_present(&mut self, id: u32) -> bool {
        if let Root::Node(Node::Leaf(shared)) = &mut self.root {
            // A lone leaf, in one pass.
            if u64::from(id) >= LEAF_IDS || !shared.contains(id) {
                return false;
            }
            if shared.count > 1 {
                let (_, seen) = unique(shared).flip::<false>(id);
                self.count_runs_in_lone_leaf(seen, Op::Remove);
                return true;
            }
        }
        match self.flip_checked::<false>(id.into()) {
            Some(done) => {
                // A leaf that empties at height 1 leaves an empty slot: the
                // root may now hold everything in its slot 0.
                if done {
                    self.lower_if_needed();
                }
                done
            }
            None if !self.contains(id) => false,
            None => {
                self.remove_range(id, id);
                true
            }
        }
    }
}
