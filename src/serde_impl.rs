// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Validated `Serialize`/`Deserialize` for the state types.
//!
//! The serialised form is flat and sorted, never the tree's shape. Fields are
//! written in this order; binary formats (bincode, postcard, bitcode) see each
//! struct as a tuple of its fields:
//!
//! - `RangeInclusive { start: u64, end: u64 }`, the shape of vm-allocator
//!   0.1.x.
//! - `AddressAllocator { space: RangeInclusive, allocations: [(start, end), ..] }`
//!   with the allocations in increasing order.
//! - `IdAllocator { range_base: u32, range_end: u32, next_id: u64, allocated: [(first, last), ..] }`
//!   with `next_id` one past the highest id ever handed out and the
//!   allocated ids as maximal runs in increasing order.
//!
//! Deserialising runs the same validation as the binary format: every list
//! item streams through the checkers of `crate::state` straight into the
//! tree, and the first bad item is reported with its position. Nothing is
//! preallocated from a length the input declares.
//!
//! Self-describing formats may give the fields in any order (a
//! `serde_json::Value` sorts them, putting `allocations` before `space`). A
//! list that arrives before the parameters it is checked against is held in a
//! tree, checked for order as it streams in, and checked in full once the
//! parameters are known. Unknown, duplicate and missing fields are errors.

mod address;
mod build;
mod fields;
mod id;
mod pending;
mod range;

pub(crate) use build::{build_addresses, build_ids, state_error};
pub(crate) use fields::{next_field, FieldSeed, Seen};
pub(crate) use range::RawRange;
