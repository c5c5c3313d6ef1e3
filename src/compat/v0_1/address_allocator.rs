// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! An [`AddressAllocator`] field in 0.1.x's shape:
//! `#[serde(with = "vm_allocator::compat::v0_1::address_allocator")]`.
//!
//! The shape is `AddressAllocator { address_space, interval_tree }`; see the
//! [module above](super) for what loading checks and what saving writes.
//!
//! # Examples
//!
//! ```rust
//! use serde::{Deserialize, Serialize};
//! use vm_allocator::{AddressAllocator, AllocPolicy};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Mmio {
//!     #[serde(with = "vm_allocator::compat::v0_1::address_allocator")]
//!     space: AddressAllocator,
//! }
//! let mut mmio = Mmio {
//!     space: AddressAllocator::new(0x1000, 0x4000).unwrap(),
//! };
//! mmio.space
//!     .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
//!     .unwrap();
//! let json = serde_json::to_string(&mmio).unwrap();
//! assert!(json
//!     .starts_with(r#"{"space":{"address_space":{"start":4096,"end":20479},"interval_tree":"#));
//! let back: Mmio = serde_json::from_str(&json).unwrap();
//! assert_eq!(back.space, mmio.space);
//! ```

use core::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeStruct, Serializer};

use super::tree_export::{tiles, TreeOut};
use super::tree_import::{InOrder, Tree};
use crate::escape::quoted;
use crate::serde_impl::{next_field, FieldSeed, RawRange, Seen};
use crate::AddressAllocator;

const FIELDS: &[&str] = &["address_space", "interval_tree"];

/// Writes `allocator` as 0.1.x's `AddressAllocator`: its address space and
/// a balanced interval tree tiling it.
///
/// Fails if an allocation has an owner: 0.1.x has none, and this never
/// drops them silently; [`AddressAllocator::without_owners`] drops them
/// explicitly. The generation is not written (0.1.x has none).
///
/// Time: O(n); a temporary list of the tree's nodes (at most 2n + 1).
///
/// # Examples
///
/// ```rust
/// use vm_allocator::compat::v0_1::address_allocator;
/// use vm_allocator::{AddressAllocator, AllocPolicy, Owner};
///
/// let mut mmio = AddressAllocator::new(0x1000, 0x4000).unwrap();
/// mmio.allocate(0x1000, 0x1000, AllocPolicy::ExactMatch(0x2000))
///     .unwrap();
/// let mut json = Vec::new();
/// address_allocator::serialize(&mmio, &mut serde_json::Serializer::new(&mut json)).unwrap();
/// let json = String::from_utf8(json).unwrap();
/// // Free, allocated, free: 0.1.x's nodes tile the space.
/// assert_eq!(json.matches(r#""node_state":"Free""#).count(), 2);
/// assert_eq!(json.matches(r#""node_state":"Allocated""#).count(), 1);
///
/// // Owners do not exist in 0.1.x: refused, not dropped.
/// mmio.owned_by(&Owner::new("gpu0").unwrap())
///     .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
///     .unwrap();
/// let err = address_allocator::serialize(&mmio, &mut serde_json::Serializer::new(Vec::new()))
///     .unwrap_err();
/// assert!(err.to_string().contains("call without_owners() first"));
/// ```
pub fn serialize<S: Serializer>(
    allocator: &AddressAllocator,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    // has_owners is O(1): the search runs only when there is one to find.
    let owned = allocator
        .has_owners()
        .then(|| allocator.allocations().find(|a| a.owner().is_some()));
    if let Some(owned) = owned.flatten() {
        let r = owned.range();
        return Err(serde::ser::Error::custom(format_args!(
            "the allocation {:#x}..={:#x} has the owner {}, which vm-allocator 0.1.x cannot \
             hold; call without_owners() first to drop owners explicitly",
            r.start(),
            r.end(),
            quoted(owned.owner().map(|o| o.as_str()).unwrap_or_default())
        )));
    }
    let tiles = tiles(allocator);
    let mut st = serializer.serialize_struct("AddressAllocator", 2)?;
    st.serialize_field("address_space", &allocator.space())?;
    st.serialize_field("interval_tree", &TreeOut(&tiles))?;
    st.end()
}

/// Reads 0.1.x's `AddressAllocator`, checking the address space and every
/// node of the tree; allocated nodes become the allocations.
///
/// ```rust
/// use vm_allocator::AddressAllocator;
///
/// // A corrupt 0.1.x state: a free node stretched over the allocated one.
/// let json = r#"{"address_space":{"start":0,"end":65535},"interval_tree":{"root":
///     {"key":{"start":4096,"end":8191},"node_state":"Allocated","height":2,"right":null,
///      "left":{"key":{"start":0,"end":4096},"node_state":"Free","left":null,"right":null,"height":1}}}}"#;
/// let mut de = serde_json::Deserializer::from_str(json);
/// let err = vm_allocator::compat::v0_1::address_allocator::deserialize(&mut de).unwrap_err();
/// assert!(err
///     .to_string()
///     .contains("node #1 0x1000-0x1fff (Allocated) starts at or before the end of node #0"));
/// ```
///
/// Time: O(n); holds the keys of the allocated nodes until the end.
pub fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<AddressAllocator, D::Error> {
    deserializer.deserialize_struct("AddressAllocator", FIELDS, AllocatorVisitor)
}

struct AllocatorVisitor;

impl<'de> Visitor<'de> for AllocatorVisitor {
    type Value = AddressAllocator;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("vm-allocator 0.1 struct AddressAllocator { address_space, interval_tree }")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AddressAllocator, A::Error> {
        let space: RawRange = next_field(&mut seq, 0, &self)?;
        let mut nodes = InOrder::default();
        seq.next_element_seed(Tree { nodes: &mut nodes })?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        nodes.finish(space)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AddressAllocator, A::Error> {
        let mut seen = Seen::default();
        let mut space: Option<RawRange> = None;
        let mut nodes = InOrder::default();
        while let Some(i) = map.next_key_seed(FieldSeed(FIELDS))? {
            seen.first_time(i, FIELDS)?;
            if i == 0 {
                space = Some(map.next_value()?);
            } else {
                map.next_value_seed(Tree { nodes: &mut nodes })?;
            }
        }
        let space = space.ok_or_else(|| de::Error::missing_field(FIELDS[0]))?;
        if !seen.has(1) {
            return Err(de::Error::missing_field(FIELDS[1]));
        }
        nodes.finish(space)
    }
}
