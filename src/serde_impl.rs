// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Validated `Serialize`/`Deserialize` for the state types.
//!
//! The serialised form is flat and sorted, never the tree's shape. Fields are
//! written in this order; binary formats (bincode, postcard, bitcode) see each
//! struct as a tuple of its fields:
//!
//! - `RangeInclusive { start: u64, end: u64 }`, the shape of vm-allocator
//!   0.1.x.
//! - `AddressAllocator { space: RangeInclusive, generation: u64, allocations: [(start: u64, end: u64, owner), ..] }`
//!   with the allocations in increasing order and `owner` a name
//!   (`Option<&str>`) or none.
//! - `IdAllocator { range_base: u32, range_end: u32, next_id: u64, generation: u64, allocated: [(first: u32, last: u32, owner), ..] }`
//!   with `next_id` one past the highest id ever handed out and the
//!   allocated ids as runs that share an owner, in increasing order (two
//!   runs touch only if their owners differ). A self-describing format may
//!   give any integer as `first` or `last`; one above `u32::MAX` is refused
//!   as outside the range, with its position.
//! - `ResourceSet { generation: u64, pools: [{ name, pool }, ..] }` with
//!   `pool` the enum `Ids(IdAllocator)` or `Addresses(AddressAllocator)`.
//! - `Owner` as its name.
//!
//! These are not the shapes of vm-allocator 0.1.x: `compat::v0_1` reads
//! and writes those.
//!
//! Deserialising runs the same validation as the binary format: every list
//! item streams through the validating builders of `crate::validate`
//! straight into the tree, and the first bad item is reported with its
//! position (and, inside a `ResourceSet`, its pool's). Nothing is
//! preallocated from a length the input declares. Owner names are
//! interned as they are read: a name repeated on many items, or in several
//! pools of a set, is held once, as the binary format holds it.
//!
//! Self-describing formats may give the fields in any order (a
//! `serde_json::Value` sorts them, putting `allocations` before `space`). A
//! list that arrives before the parameters it is checked against is held as
//! read (24 bytes an item) and goes through the builder once the
//! parameters are known, so each item is checked against the real space or
//! range, in order, with the same error as in any other order. Unknown,
//! duplicate and missing fields are errors.

mod address;
mod build;
mod fields;
mod id;
mod item;
mod pending;
mod range;
mod set;

pub(crate) use build::{build_addresses, build_ids, state_error, Interner, PoolAt, What};
pub(crate) use fields::{next_field, FieldSeed, Seen, VariantSeed};
pub(crate) use range::RawRange;
