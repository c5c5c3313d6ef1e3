// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The invariant checker that tests and fuzz targets run after every edit.
//!
//! It recomputes every summary from the bitmaps alone, by plainer means than
//! the edits use (bit by bit, block by block), and compares.

use alloc::format;
use alloc::string::String;

use super::node::{
    bits, height_for, span, valid, Inner, Leaf, Node, FANOUT, LEAF_IDS, LEAF_WORDS, SPACE, TOP,
};
use super::{IdSet, Root, Seek, Trie};

/// What a block's parent must know about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Facts {
    count: u64,
    order: u8,
}

impl Trie {
    /// Checks every invariant listed in `node.rs` and says which one broke
    /// where. Time: O(n), n the ids the nodes cover.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let h = self.height;
        if h > TOP {
            return Err(format!("root height {h} above the top {TOP}"));
        }
        let facts = match &self.root {
            Root::Empty if h != 0 => return Err(format!("empty set at height {h}")),
            Root::Empty | Root::Full => return self.check_runs(),
            Root::Node(node) => check_node(node, h, 0, true)?,
        };
        // The root is as low as the largest id allows.
        let highest = self
            .prev_present(span(h) - 1)
            .ok_or("a root node without ids")?;
        if height_for(highest) != h {
            return Err(format!("root at height {h} for largest id {highest:#x}"));
        }
        if self.count() != facts.count {
            return Err(format!(
                "root reports {} ids, its nodes hold {}",
                self.count(),
                facts.count
            ));
        }
        self.check_runs()
    }

    /// The run count and the run iterators agree with the bitmaps, read by
    /// the diff walk (against the empty set: it reports the set's runs).
    fn check_runs(&self) -> Result<(), String> {
        let mut runs = alloc::vec::Vec::new();
        self.diff(&Trie::new(), |_, first, last| runs.push((first, last)));
        if self.run_count() != runs.len() as u64 {
            return Err(format!(
                "run count {}, the bitmaps hold {} runs",
                self.run_count(),
                runs.len()
            ));
        }
        if let Some(pair) = runs.windows(2).find(|p| p[0].1 + 1 >= p[1].0) {
            return Err(format!("runs {:?} and {:?} touch", pair[0], pair[1]));
        }
        let set = IdSet::from_trie(self.clone());
        if !set.runs().eq(runs.iter().copied()) || !set.runs().rev().eq(runs.iter().rev().copied())
        {
            return Err(String::from("the run iterators disagree with the bitmaps"));
        }
        Ok(())
    }
}

/// 1 + the largest `k` such that some aligned block of `2^k` ids of the
/// bitmap `words` is all clear, 0 if none: every block of each size tested
/// (a word or a group of words at a time), from the largest size down.
fn brute_order(words: &[u64]) -> u8 {
    let ids = 64 * words.len() as u64;
    for k in (0..=ids.trailing_zeros()).rev() {
        let size = 1u64 << k;
        let free = if size <= 64 {
            let mask = u64::MAX >> (64 - size);
            words
                .iter()
                .any(|&w| (0..64).step_by(size as usize).any(|p| (w >> p) & mask == 0))
        } else {
            words
                .chunks((size / 64) as usize)
                .any(|group| group.iter().all(|&w| w == 0))
        };
        if free {
            return k as u8 + 1;
        }
    }
    0
}

fn check_leaf(leaf: &Leaf, base: u64) -> Result<Facts, String> {
    let at = |what: &str| format!("leaf at {base:#x}: {what}");
    let count: u64 = leaf.words.iter().map(|w| u64::from(w.count_ones())).sum();
    if count == 0 || count == LEAF_IDS {
        return Err(at(&format!("{count} ids: should be a marker")));
    }
    if u64::from(leaf.count) != count {
        return Err(at(&format!("stores {} ids, holds {count}", leaf.count)));
    }
    for (k, &w) in leaf.words.iter().enumerate() {
        if (leaf.nonzero >> k & 1 != 0) != (w != 0) || (leaf.nonfull >> k & 1 != 0) != (w != !0) {
            return Err(at(&format!("stale word masks for word {k}")));
        }
        let order = brute_order(&[w]);
        if leaf.orders[k] != order {
            return Err(at(&format!(
                "word {k} order {} should be {order}",
                leaf.orders[k]
            )));
        }
    }
    if (leaf.nonzero | leaf.nonfull)
        .checked_shr(LEAF_WORDS as u32)
        .unwrap_or(0)
        != 0
    {
        return Err(at("word masks name words past the leaf"));
    }
    Ok(Facts {
        count,
        order: brute_order(&leaf.words),
    })
}

fn check_inner(inner: &Inner, h: u32, base: u64) -> Result<Facts, String> {
    let at = |what: &str| format!("inner node of height {h} at {base:#x}: {what}");
    let slots = valid(h);
    let cb = bits(h - 1);
    if inner.full & inner.mixed != 0 || (inner.full | inner.mixed) & !slots != 0 {
        return Err(at(&format!(
            "full {:#x} and mixed {:#x} overlap or leave the slots {slots:#x}",
            inner.full, inner.mixed
        )));
    }
    for (i, child) in inner.children.iter().enumerate() {
        if child.is_some() != (inner.mixed >> i & 1 != 0) {
            return Err(at(&format!(
                "slot {i} holds a node: {}, is mixed: {}",
                child.is_some(),
                inner.mixed >> i & 1 != 0
            )));
        }
    }
    let mut count = 0u64;
    for i in 0..FANOUT as u32 {
        let expected = if slots >> i & 1 == 0 {
            Facts { count: 0, order: 0 }
        } else if inner.full >> i & 1 != 0 {
            Facts {
                count: 1 << cb,
                order: 0,
            }
        } else if inner.mixed >> i & 1 != 0 {
            check_node(inner.child(i), h - 1, base + (u64::from(i) << cb), false)?
        } else {
            Facts {
                count: 0,
                order: cb as u8 + 1,
            }
        };
        if inner.orders[i as usize] != expected.order {
            return Err(at(&format!(
                "slot {i} order {} should be {}",
                inner.orders[i as usize], expected.order
            )));
        }
        count += expected.count;
    }
    if inner.count != count {
        return Err(at(&format!("stores {} ids, holds {count}", inner.count)));
    }
    if count == 0 || count == span(h) {
        return Err(at(&format!("{count} ids: should be a marker")));
    }
    // Largest aligned free block: inside a slot, or a group of empty slots.
    let empty = slots & !(inner.full | inner.mixed);
    let mut order = inner.orders.iter().copied().max().unwrap_or(0);
    let mut group = 2u32;
    while group <= slots.count_ones() {
        let all_empty = |g: u32| (g * group..(g + 1) * group).all(|i| empty >> i & 1 != 0);
        if (0..FANOUT as u32 / group).any(all_empty) {
            order = (cb + group.trailing_zeros()) as u8 + 1;
        }
        group *= 2;
    }
    Ok(Facts { count, order })
}

fn check_node(node: &Node, h: u32, base: u64, is_root: bool) -> Result<Facts, String> {
    let facts = match (node, h) {
        (Node::Leaf(leaf), 0) => check_leaf(leaf, base)?,
        (Node::Inner(inner), 1..) => check_inner(inner, h, base)?,
        _ => {
            return Err(format!(
                "node at {base:#x} of the wrong kind for height {h}"
            ))
        }
    };
    // What the parent reads from the node must agree with what it holds
    // (nobody reads a root's order, which assumes every slot exists).
    let mut reported = Facts {
        count: node.count(),
        order: node.order(),
    };
    if is_root {
        reported.order = facts.order;
    }
    if reported != facts {
        return Err(format!(
            "node of height {h} at {base:#x} reports {reported:?}, holds {facts:?}"
        ));
    }
    Ok(facts)
}

impl IdSet {
    /// Checks the trie's invariants and those of the ids kept apart (see
    /// `IdSet`), and that the set's run count and run iterators agree with
    /// its ids. Time: O(n).
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        self.trie().check_invariants()?;
        let (low, frontier) = self.bounds();
        if low > frontier || frontier > SPACE {
            return Err(format!("ids apart {low:#x}..{frontier:#x}"));
        }
        if let Some(x) = self.trie().next_present(0).filter(|&x| x < frontier) {
            return Err(format!(
                "the trie holds {x:#x}, below the frontier {frontier:#x}"
            ));
        }
        // The runs: the trie's, the one apart joined to the first of them
        // when they touch.
        let mut runs: alloc::vec::Vec<(u32, u32)> =
            IdSet::from_trie(self.trie().clone()).runs().collect();
        if low < frontier {
            let last = (frontier - 1) as u32;
            match runs.first_mut() {
                Some(run) if u64::from(run.0) == frontier => run.0 = low as u32,
                _ => runs.insert(0, (low as u32, last)),
            }
        }
        if self.run_count() != runs.len() as u64 {
            return Err(format!(
                "run count {}, the ids hold {} runs",
                self.run_count(),
                runs.len()
            ));
        }
        if !self.runs().eq(runs.iter().copied())
            || !self.runs().rev().eq(runs.iter().rev().copied())
        {
            return Err(String::from("the run iterators disagree with the ids"));
        }
        let count: u64 = runs.iter().map(|&(a, b)| u64::from(b - a) + 1).sum();
        if self.count() != count {
            return Err(format!("count {}, the runs hold {count}", self.count()));
        }
        Ok(())
    }
}
