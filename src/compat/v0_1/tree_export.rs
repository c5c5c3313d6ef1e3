// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Writing an address allocator as 0.1.x's interval tree.
//!
//! 0.1.x tiles its address space with nodes: one per allocation, one per
//! maximal free gap. The tiles are listed in order and written as the
//! balanced tree whose root is the middle tile, so the two subtrees of every
//! node differ in size by at most one, hence in height by at most one: a
//! valid AVL tree, whose height is the bit length of its size.

use alloc::vec::Vec;

use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::node_state::Allocated;
use crate::{AddressAllocator, RangeInclusive};

/// One node of the tiling.
#[derive(Clone, Copy, Debug)]
pub(super) struct Tile {
    key: RangeInclusive,
    state: Allocated,
}

/// The allocations of `allocator` and the free gaps around them, in order.
///
/// Time: O(n); at most 2n + 1 tiles.
pub(super) fn tiles(allocator: &AddressAllocator) -> Vec<Tile> {
    let mut tiles = Vec::with_capacity(
        usize::try_from(allocator.len())
            .unwrap_or(0)
            .saturating_mul(2)
            .saturating_add(1),
    );
    let free = |start: u64, end: u64| Tile {
        key: RangeInclusive::from_parts(start, end),
        state: Allocated(false),
    };
    // The first address no tile covers yet; `None` once past `u64::MAX`.
    let mut uncovered = Some(allocator.base());
    for key in allocator.iter() {
        if let Some(start) = uncovered.filter(|&s| s < key.start()) {
            tiles.push(free(start, key.start() - 1));
        }
        tiles.push(Tile {
            key,
            state: Allocated(true),
        });
        uncovered = key.end().checked_add(1);
    }
    if let Some(start) = uncovered.filter(|&s| s <= allocator.end()) {
        tiles.push(free(start, allocator.end()));
    }
    tiles
}

/// `IntervalTree { root }` over `tiles`.
pub(super) struct TreeOut<'a>(pub(super) &'a [Tile]);

impl Serialize for TreeOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut st = serializer.serialize_struct("IntervalTree", 1)?;
        st.serialize_field("root", &Subtree(self.0))?;
        st.end()
    }
}

/// `Option<Box<InnerNode>>`: the balanced tree over a run of tiles, `None`
/// when the run is empty.
struct Subtree<'a>(&'a [Tile]);

impl Serialize for Subtree<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0.is_empty() {
            serializer.serialize_none()
        } else {
            serializer.serialize_some(&NodeOut(self.0))
        }
    }
}

/// `InnerNode`: the middle tile of a non-empty run, with the runs on either
/// side as its subtrees. Recursion depth is the tree's height, O(log n).
struct NodeOut<'a>(&'a [Tile]);

impl Serialize for NodeOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let tiles = self.0;
        let mid = tiles.len() / 2;
        let Tile { key, state } = tiles[mid];
        let mut st = serializer.serialize_struct("InnerNode", 5)?;
        st.serialize_field("key", &key)?;
        st.serialize_field("node_state", &state)?;
        st.serialize_field("left", &Subtree(&tiles[..mid]))?;
        st.serialize_field("right", &Subtree(&tiles[mid + 1..]))?;
        st.serialize_field("height", &height(tiles.len()))?;
        st.end()
    }
}

/// The height of the balanced tree over `size` tiles, a lone node being 1:
/// its left subtree is the larger, with `size / 2` tiles.
fn height(size: usize) -> u64 {
    u64::from(usize::BITS - size.leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The height the recursive definition gives: 1 + the larger subtree's.
    fn height_by_recursion(size: usize) -> u64 {
        if size == 0 {
            0
        } else {
            let left = size / 2;
            let right = size - left - 1;
            1 + height_by_recursion(left).max(height_by_recursion(right))
        }
    }

    #[test]
    fn height_is_the_bit_length_of_the_size() {
        for size in 0..2000 {
            assert_eq!(height(size), height_by_recursion(size), "size {size}");
        }
    }

    #[test]
    fn tiles_cover_the_space_in_order() {
        let mut a = AddressAllocator::new(0x1000, 0x10000).unwrap();
        a.allocate(0x1000, 0x1000, crate::AllocPolicy::ExactMatch(0x1000))
            .unwrap();
        a.allocate(0x1000, 0x1000, crate::AllocPolicy::ExactMatch(0x4000))
            .unwrap();
        let t: Vec<(u64, u64, bool)> = tiles(&a)
            .iter()
            .map(|t| (t.key.start(), t.key.end(), t.state.0))
            .collect();
        assert_eq!(
            t,
            [
                (0x1000, 0x1fff, true),
                (0x2000, 0x3fff, false),
                (0x4000, 0x4fff, true),
                (0x5000, 0x10fff, false),
            ]
        );
    }
}
