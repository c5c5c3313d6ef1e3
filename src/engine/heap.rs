// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The heap blocks a tree holds, for a history's count of the bytes it
//! keeps alive.
//!
//! A *block* is one allocation on the heap that a state reaches: a node
//! (with what it owns outright, such as a leaf's column of owners), a table
//! of capacities (shared through an `Arc` of its own), an owner's name. A
//! walk hands each block it reaches to a visitor, with its address (the
//! block's identity for as long as it is alive) and its size, and goes on
//! into what the block refers to only if the visitor says so. A visitor
//! that says no for blocks it has seen before walks only the part of a tree
//! no earlier walk reached: for a clone edited k times, the O(k log n)
//! nodes of the copied paths and the blocks they point to.
//!
//! A block that a node refers to several times (an owner that tags many
//! spans of one leaf) is handed over once per node, so that a visitor
//! counting references counts one per referring block, the same on every
//! walk of that block.

use arrayvec::ArrayVec;
use core::mem::size_of;
use triomphe::Arc;

use super::config::LEAF_CAP;
use super::node::{Leaf, Node};
use super::SpanTree;
use crate::owner::Owner;

/// One heap block: where it is and how many bytes it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// Its address: no two live blocks share one.
    pub addr: usize,
    /// Its size in bytes, as allocated (an `Arc`'s reference count
    /// included).
    pub bytes: usize,
}

impl Block {
    /// The block of `arc`, holding `extra` more bytes in allocations that
    /// only it owns.
    pub(crate) fn of_arc<T>(arc: &Arc<T>, extra: usize) -> Block {
        Block {
            addr: &**arc as *const T as usize,
            bytes: arc_bytes::<T>() + extra,
        }
    }
}

/// The bytes of the allocation behind an `Arc<T>`: the value and its
/// reference count.
pub(crate) const fn arc_bytes<T>() -> usize {
    size_of::<(usize, T)>()
}

/// What a walk calls for each block it reaches: true to go on into the
/// blocks this one refers to.
pub(crate) type Visit<'a> = dyn FnMut(Block) -> bool + 'a;

impl SpanTree {
    /// Hands the tree's blocks to `visit`, from the root down (see the
    /// module's documentation). Time: O(1) per block visited and per
    /// reference out of a block the visitor enters; recursion as deep as
    /// the tree.
    pub(crate) fn walk_heap(&self, visit: &mut Visit<'_>) {
        if let Some(root) = &self.root {
            walk_node(root, visit);
        }
    }
}

fn walk_node(node: &Node, visit: &mut Visit<'_>) {
    match node {
        Node::Leaf(leaf) => {
            if visit(Block::of_arc(leaf, leaf.tags_heap_bytes())) {
                if let Some(table) = leaf.table_arc() {
                    visit(Block::of_arc(table, 0));
                }
                walk_owners(leaf, visit);
            }
        }
        Node::Branch(branch) => {
            if visit(Block::of_arc(branch, 0)) {
                if let Some(table) = branch.table_arc() {
                    visit(Block::of_arc(table, 0));
                }
                for child in branch.children() {
                    walk_node(child, visit);
                }
            }
        }
    }
}

/// Each distinct owner of a leaf's spans, once.
fn walk_owners(leaf: &Leaf, visit: &mut Visit<'_>) {
    if !leaf.has_tags() {
        return;
    }
    let mut owners: ArrayVec<Block, LEAF_CAP> = (0..leaf.spans().len())
        .filter_map(|i| leaf.tag(i))
        .map(Owner::heap_block)
        .collect();
    owners.sort_unstable_by_key(|block| block.addr);
    let mut last = None;
    for block in owners {
        if last != Some(block.addr) {
            last = Some(block.addr);
            visit(block);
        }
    }
}
