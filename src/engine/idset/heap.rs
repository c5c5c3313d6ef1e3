// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The heap blocks of an id set, for a history's byte count (see
//! `engine::heap`): every node is one block; empty and full slots cost
//! none.

use super::node::Node;
use super::trie::Root;
use super::IdSet;
use crate::engine::{Block, Visit};

impl IdSet {
    /// Hands the set's nodes to `visit`, from the root down, entering a
    /// node's children only if `visit` says so. Time: O(1) per node visited
    /// and per child of a node entered; recursion as deep as the root is
    /// high (at most 4 with the production sizes).
    pub(crate) fn walk_heap(&self, visit: &mut Visit<'_>) {
        if let Root::Node(node) = &self.trie.root {
            walk_node(node, visit);
        }
    }
}

fn walk_node(node: &Node, visit: &mut Visit<'_>) {
    match node {
        Node::Leaf(leaf) => {
            visit(Block::of_arc(leaf, 0));
        }
        Node::Inner(inner) => {
            if visit(Block::of_arc(inner, 0)) {
                for child in inner.children.iter().flatten() {
                    walk_node(child, visit);
                }
            }
        }
    }
}
