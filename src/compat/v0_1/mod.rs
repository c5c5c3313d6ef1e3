// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! State in the serde shape of vm-allocator 0.1.x, both ways.
//!
//! vm-allocator 0.1.4 derives serde on its internals, so its saved state is
//! the shape of its data structures:
//!
//! ```text
//! IdAllocator      { range_base: u32, next_id: Option<u32>, range_end: u32, freed_ids: BTreeSet<u32> }
//! AddressAllocator { address_space: RangeInclusive, interval_tree: IntervalTree }
//! IntervalTree     { root: Option<Box<InnerNode>> }
//! InnerNode        { key: RangeInclusive, node_state: NodeState,
//!                    left: Option<Box<InnerNode>>, right: Option<Box<InnerNode>>, height: u64 }
//! NodeState        = Free | Allocated
//! RangeInclusive   { start: u64, end: u64 }
//! ```
//!
//! A VMM switches a field to that shape with one attribute,
//! `#[serde(with = "vm_allocator::compat::v0_1::address_allocator")]` or
//! `#[serde(with = "vm_allocator::compat::v0_1::id_allocator")]`, or wraps a
//! value in [`V01`]. It works with any serde format; the bytes are those
//! 0.1.x reads and writes with the same format (for example bitcode 0.6,
//! the encoder of Firecracker's snapshots; `docs/firecracker.md` is the
//! upgrade guide for its `ResourceAllocatorState`).
//!
//! ```rust
//! use serde::{Deserialize, Serialize};
//! use vm_allocator::{AddressAllocator, AllocPolicy, IdAllocator};
//!
//! #[derive(Serialize, Deserialize)]
//! struct ResourceState {
//!     #[serde(with = "vm_allocator::compat::v0_1::id_allocator")]
//!     gsi: IdAllocator,
//!     #[serde(with = "vm_allocator::compat::v0_1::address_allocator")]
//!     mmio: AddressAllocator,
//! }
//!
//! let mut state = ResourceState {
//!     gsi: IdAllocator::new(5, 23).unwrap(),
//!     mmio: AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap(),
//! };
//! state.gsi.allocate_id().unwrap();
//! state
//!     .mmio
//!     .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
//!     .unwrap();
//!
//! // A host still on vm-allocator 0.1.x reads these bytes as its own state.
//! let bytes = bitcode::serialize(&state).unwrap();
//! let back: ResourceState = bitcode::deserialize(&bytes).unwrap();
//! assert_eq!(back.gsi, state.gsi);
//! assert_eq!(back.mmio, state.mmio);
//! ```
//!
//! # Loading 0.1.x state
//!
//! 0.1.4 accepts anything of the right shape and then hands out ranges and
//! ids twice, panics, or overflows its stack. Here every input is checked,
//! and the first problem is reported with the field, the node or the id, and
//! the offending values:
//!
//! - `address_space` must be a valid range (start not after end, not the
//!   whole `u64` space).
//! - The tree may be at most [`MAX_TREE_DEPTH`] levels deep; a deeper node is
//!   an error, found before descending into it, so recursion is bounded.
//!   Heights are read but trusted for nothing.
//! - The node keys, in order (nodes are named by in-order position, `#0`
//!   being the lowest), must be valid ranges, sorted and disjoint, and inside
//!   the address space. `Allocated` nodes become the allocations. `Free`
//!   nodes, and addresses that no node covers, become free space: 0.1.4
//!   leaves such holes (a failed `free` of a range starting at address 1
//!   removes its node and returns `Underflow`), and loading them here gives
//!   that space back. An empty tree is an address space with everything
//!   free.
//! - `range_base <= range_end`. `next_id` is `Some(n)` with
//!   `range_base <= n <= range_end + 1`, or `None` (every id up to
//!   `u32::MAX` handed out) only when `range_end == u32::MAX`.
//! - `freed_ids` must be strictly increasing and each in
//!   `range_base..next_id`. The allocated ids are `range_base..next_id`
//!   minus `freed_ids`, and `next_id` is kept as the highest id ever handed
//!   out, so `free_id` reports `NeverAllocated` and `AlreadyReleased`
//!   exactly as 0.1.x did.
//!
//! In a self-describing format the fields may come in any order, except that
//! a node's non-empty `right` must come after its `key`, `node_state` and
//! `left` (as in both 0.1.x's field order and alphabetical order), so nodes
//! stream in order. Loading holds the keys of the `Allocated` nodes (16 bytes each)
//! until the whole tree is read; nothing is preallocated from the input.
//!
//! # Saving in the 0.1.x shape
//!
//! - An address allocator becomes the tree 0.1.x itself keeps: its address
//!   space tiled by nodes, an `Allocated` node per allocation and a `Free`
//!   node per maximal gap, in a balanced tree with correct AVL heights. A
//!   0.1.x host that loads it allocates from it exactly as this crate would,
//!   wherever 0.1.x is correct (see `CHANGELOG.md`). Saving lists the nodes
//!   in a temporary vector (at most 2n + 1, 24 bytes each) and writes the
//!   tree with recursion depth O(log n).
//! - An id allocator becomes `next_id` (`None` once `u32::MAX` was handed
//!   out) and `freed_ids`, the ids below `next_id` that are not allocated,
//!   streamed without a temporary. 0.1.x keeps one set entry per such id, so
//!   a sparse id allocator has a large 0.1.x form.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{AddressAllocator, IdAllocator};

pub mod address_allocator;
pub mod id_allocator;
mod node_state;
mod tree_export;
mod tree_import;

/// The deepest interval tree that loading accepts, in levels (a lone root is
/// one level).
///
/// 0.1.4 refuses to grow its tree past a height of 50, so its state never
/// comes near this; a deeper tree is forged or corrupt and is rejected
/// before it can exhaust the stack.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::compat::v0_1::{V01, MAX_TREE_DEPTH};
/// use vm_allocator::AddressAllocator;
///
/// // A forged tree one level too deep: a chain of left children.
/// let mut node = String::from("null");
/// for i in 0..=u64::from(MAX_TREE_DEPTH) {
///     node = format!(
///         r#"{{"key":{{"start":{s},"end":{s}}},"node_state":"Free","left":{node},"right":null,"height":1}}"#,
///         s = 100 + i
///     );
/// }
/// let json = format!(r#"{{"address_space":{{"start":0,"end":4095}},"interval_tree":{{"root":{node}}}}}"#);
/// let err = serde_json::from_str::<V01<AddressAllocator>>(&json).unwrap_err();
/// assert!(err.to_string().contains("deeper than 64 levels"), "{err}");
/// ```
pub const MAX_TREE_DEPTH: u32 = 64;

/// A state type in the serde shape of vm-allocator 0.1.x, for use without a
/// `serde(with)` attribute.
///
/// ```rust
/// use vm_allocator::compat::v0_1::V01;
/// use vm_allocator::{AddressAllocator, AllocPolicy};
///
/// let mut mmio = AddressAllocator::new(0x1000, 0x4000).unwrap();
/// mmio.allocate(0x1000, 0x1000, AllocPolicy::ExactMatch(0x2000))
///     .unwrap();
///
/// let json = serde_json::to_string(&V01(mmio.clone())).unwrap();
/// // 0.1.x's interval tree: the allocation between two free nodes.
/// assert!(json.contains(r#""node_state":"Allocated""#));
/// assert_eq!(json.matches(r#""node_state":"Free""#).count(), 2);
///
/// let V01(back) = serde_json::from_str::<V01<AddressAllocator>>(&json).unwrap();
/// assert_eq!(back, mmio);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V01<T>(pub T);

impl Serialize for V01<AddressAllocator> {
    /// Time: O(n).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        address_allocator::serialize(&self.0, serializer)
    }
}

impl<'de> Deserialize<'de> for V01<AddressAllocator> {
    /// Time: O(n).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        address_allocator::deserialize(deserializer).map(V01)
    }
}

impl Serialize for V01<IdAllocator> {
    /// Time: O(r + f), r = runs of allocated ids, f = free ids below `next_id`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        id_allocator::serialize(&self.0, serializer)
    }
}

impl<'de> Deserialize<'de> for V01<IdAllocator> {
    /// Time: O(f), f = freed ids.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        id_allocator::deserialize(deserializer).map(V01)
    }
}
