// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Building a set from runs that are already sorted, in O(n).

use core::cmp::min;
use core::mem;
use triomphe::Arc;

use super::node::{bits, slot_of, span, Inner, Leaf, Node, Op, LEAF_IDS, SPACE, TOP};
use super::{Root, Trie};

/// Builds an [`Trie`] from runs pushed in increasing order.
///
/// It fills one leaf and one inner node per level along the right edge of
/// the tree, sealing each into its parent once the runs have moved past
/// it; whole aligned blocks inside a run become full markers without a
/// leaf. Time: O(1) per run plus O(FANOUT) per whole block and per node
/// built, so O(n) in all.
pub(crate) struct TrieBuilder {
    /// The leaf being filled, with its first id.
    leaf: Option<(u64, Leaf)>,
    /// `levels[h]`: the inner node of height `h` being filled, with its
    /// first id (`levels[0]` is unused).
    levels: [Option<(u64, Inner)>; TOP as usize + 1],
    /// The root, once the top level is sealed.
    root: Root,
    /// The last id pushed.
    last: Option<u64>,
    /// Runs pushed.
    runs: u64,
}

impl core::fmt::Debug for TrieBuilder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TrieBuilder")
            .field("runs", &self.runs)
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

impl TrieBuilder {
    pub(crate) fn new() -> TrieBuilder {
        TrieBuilder {
            leaf: None,
            levels: core::array::from_fn(|_| None),
            root: Root::Empty,
            last: None,
            runs: 0,
        }
    }

    /// Adds the run `first..=last`. Precondition: `first <= last`, and the
    /// run starts after the previous one without touching it.
    pub(crate) fn push(&mut self, first: u32, last: u32) {
        debug_assert!(first <= last);
        debug_assert!(self.last.is_none_or(|prev| u64::from(first) > prev + 1));
        let (mut x, last) = (u64::from(first), u64::from(last));
        self.last = Some(last);
        self.runs += 1;
        while x <= last {
            match largest_block(x, last) {
                None => {
                    // Part of one leaf.
                    let base = x & !(LEAF_IDS - 1);
                    let end = min(last, base + (LEAF_IDS - 1));
                    self.leaf_at(base)
                        .edit((x - base) as u32, (end - base) as u32, Op::Insert);
                    x = end + 1;
                }
                Some(TOP) => {
                    // The whole id space.
                    self.root = Root::Full;
                    x = SPACE;
                }
                Some(h) => {
                    // What lies before the block goes into place first.
                    self.seal_leaf();
                    for below in 1..=h {
                        self.seal_level(below);
                    }
                    self.place(h, x, Root::Full);
                    x += span(h);
                }
            }
        }
    }

    /// The set of every run pushed.
    pub(crate) fn finish(mut self) -> Trie {
        self.seal_leaf();
        for h in 1..=TOP {
            self.seal_level(h);
        }
        let mut set = Trie {
            height: TOP,
            runs: self.runs,
            root: mem::take(&mut self.root),
        };
        set.lower();
        set
    }

    fn leaf_at(&mut self, base: u64) -> &mut Leaf {
        if self.leaf.as_ref().is_some_and(|(b, _)| *b != base) {
            self.seal_leaf();
        }
        &mut self.leaf.get_or_insert_with(|| (base, Leaf::empty())).1
    }

    fn seal_leaf(&mut self) {
        if let Some((base, leaf)) = self.leaf.take() {
            let block = if u64::from(leaf.count) == LEAF_IDS {
                Root::Full
            } else {
                Root::Node(Node::Leaf(Arc::new(leaf)))
            };
            self.place(0, base, block);
        }
    }

    fn seal_level(&mut self, h: u32) {
        if let Some((base, inner)) = self.levels[h as usize].take() {
            let block = if inner.count == span(h) {
                Root::Full
            } else {
                Root::Node(Node::Inner(Arc::new(inner)))
            };
            if h == TOP {
                self.root = block;
            } else {
                self.place(h, base, block);
            }
        }
    }

    /// Puts `block`, of height `g` and starting at `base`, into its slot of
    /// the node being filled one level up (sealing that node first if the
    /// block lies past it).
    fn place(&mut self, g: u32, base: u64, block: Root) {
        let h = g + 1;
        let node_base = if bits(h) >= 32 {
            0
        } else {
            base & !(span(h) - 1)
        };
        if self.levels[h as usize]
            .as_ref()
            .is_some_and(|(b, _)| *b != node_base)
        {
            self.seal_level(h);
        }
        let (_, inner) =
            self.levels[h as usize].get_or_insert_with(|| (node_base, Inner::empty(h)));
        match block {
            Root::Empty => {}
            Root::Full => inner.edit(h, node_base, base, base + (span(g) - 1), Op::Insert),
            Root::Node(node) => inner.adopt(slot_of(base, h), node),
        }
    }
}

/// The height of the largest aligned block that starts at `x` and ends by
/// `last`, if a leaf-sized one does.
fn largest_block(x: u64, last: u64) -> Option<u32> {
    let mut best = None;
    for h in 0..=TOP {
        let size = span(h);
        if x & (size - 1) != 0 || last - x < size - 1 {
            break;
        }
        best = Some(h);
    }
    best
}
