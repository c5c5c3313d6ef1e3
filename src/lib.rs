// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Resource allocators for virtual machine monitors, whose whole state can be
//! cloned in O(1), saved, restored and carried across a snapshot or a live
//! migration.
//!
//! A drop-in replacement for rust-vmm's vm-allocator 0.1.4: the same types,
//! methods and errors, the same answers wherever 0.1.4 is correct (see
//! `CHANGELOG.md` for where it is not), and O(log n) operations.
//!
//! - [`IdAllocator`] hands out integers: legacy GSIs, MSI vectors, KVM memory
//!   slot ids, device ids. Smallest free id first, a given id, or aligned
//!   blocks of ids.
//! - [`AddressAllocator`] hands out aligned ranges of an address space: MMIO,
//!   PIO, guest memory. First fit, last fit or an exact address, optionally
//!   bounded to a sub-range ([`Constraint::within`]).
//!
//! Both sit on one persistent B+ tree of ranges whose nodes are shared
//! copy-on-write: a `clone` is a snapshot that never changes, costs one
//! pointer copy, and is `Send + Sync`.
//!
//! # Saving, restoring and migrating state
//!
//! - `to_bytes` / `from_bytes` (and, with `std`, `write_to_path` /
//!   `read_from_path`, which survive a crash at any instant) use the stable,
//!   versioned, checksummed format of [`format`](mod@format), specified byte by byte in
//!   `FORMAT.md`.
//! - With the `serde` feature (on by default) both allocators and
//!   [`RangeInclusive`] implement `Serialize`/`Deserialize` through a flat,
//!   sorted representation, and `compat::v0_1` reads and writes the serde
//!   shapes of vm-allocator 0.1.x, for migrations in both directions.
//! - With the `versionize` feature both allocators implement `Versionize`.
//! - [`AddressAllocator::from_allocations`] and [`IdAllocator::from_allocated`]
//!   rebuild an allocator from a VMM's own record of assignments.
//!
//! Every way in validates the state completely and reports the first problem
//! with its position ([`StateError`], [`format::DecodeError`]); no input can
//! build an allocator that would hand out the same id or address twice.
//!
//! # Cost of each operation
//!
//! n is the number of live allocations (for [`IdAllocator`], of runs of
//! consecutive allocated ids).
//!
//! | operation | time |
//! |---|---|
//! | `allocate` (First/Last/ExactMatch, any alignment, bounded or not) | O(log n) |
//! | `free`, `free_id`, `free_ids` | O(log n) |
//! | `allocate_id`, `allocate_id_at`, `allocate_ids` | O(log n) |
//! | `is_allocated`, `allocation_containing` | O(log n) |
//! | `clone` | O(1) |
//! | `len`, `used`, `available` | O(1) |
//! | `iter`, `ranges` | O(1) per item |
//! | the first mutation of a node shared with a clone | O(log n) extra (copies its path) |
//!
//! # Example
//!
//! ```rust
//! use std::collections::HashMap;
//! use vm_allocator::{AddressAllocator, AllocPolicy, Error, IdAllocator, RangeInclusive, Result};
//!
//! const FIRST_ADDR_PAST_32BITS: u64 = 1 << 32;
//! const MEM_32BIT_GAP_SIZE: u64 = 768 << 20;
//! const MMIO_MEM_START: u64 = FIRST_ADDR_PAST_32BITS - MEM_32BIT_GAP_SIZE;
//! const PAGE_SIZE: u64 = 0x1000;
//!
//! struct DeviceManager {
//!     id_allocator: IdAllocator,
//!     mmio_allocator: AddressAllocator,
//!     slots: HashMap<u32, RangeInclusive>,
//! }
//!
//! impl DeviceManager {
//!     fn new() -> Result<Self> {
//!         Ok(DeviceManager {
//!             id_allocator: IdAllocator::new(0, 100)?,
//!             mmio_allocator: AddressAllocator::new(MMIO_MEM_START, MEM_32BIT_GAP_SIZE)?,
//!             slots: HashMap::new(),
//!         })
//!     }
//!
//!     fn reserve_device_slot(&mut self) -> Result<u32> {
//!         let mmio = self
//!             .mmio_allocator
//!             .allocate(PAGE_SIZE, PAGE_SIZE, AllocPolicy::FirstMatch)?;
//!         let id = self.id_allocator.allocate_id()?;
//!         self.slots.insert(id, mmio);
//!         Ok(id)
//!     }
//!
//!     fn free_device_slot(&mut self, id: u32) -> Result<()> {
//!         let mmio = self.slots.remove(&id).ok_or(Error::NeverAllocated(id))?;
//!         self.id_allocator.free_id(id)?;
//!         self.mmio_allocator.free(&mmio)
//!     }
//! }
//!
//! let mut dm = DeviceManager::new().unwrap();
//! let id = dm.reserve_device_slot().unwrap();
//! let before = dm.mmio_allocator.clone(); // an O(1) snapshot
//! dm.free_device_slot(id).unwrap();
//! assert_eq!(before.len(), 1);
//! assert!(dm.mmio_allocator.is_empty());
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
// Unit tests use std (threads, proptest) even when the crate is no_std.
#[cfg(all(test, not(feature = "std")))]
extern crate std;

mod address_allocator;
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub mod compat;
mod constraint;
mod diff;
mod engine;
mod error;
pub mod format;
mod id_allocator;
mod id_owners;
mod owner;
mod range;
#[cfg(feature = "serde")]
mod serde_impl;
mod set;
mod transaction;
mod validate;
#[cfg(feature = "versionize")]
mod versionize_impl;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use address_allocator::{AddressAllocator, Allocation, Allocations, AllocationsWithOwners};
pub use constraint::{AllocPolicy, Constraint, DEFAULT_CONSTRAINT_ALIGN};
pub use diff::{Change, ChangeKind, ChangeRef, Delta, Diff, DiffError, PoolDiff, Size, Versioned};
pub use error::{Error, NodeState, Result};
pub use id_allocator::{IdAllocation, IdAllocations, IdAllocator, IdRuns, Ids};
pub use owner::{NameError, OwnedBy, Owner, MAX_NAME_LEN};
pub use range::RangeInclusive;
pub use set::layout;
pub use set::{Pool, PoolKind, ResourceSet, SetError};
pub use transaction::{Transaction, TransactionError};
pub use validate::{AddressAllocatorBuilder, IdAllocatorBuilder, ResourceSetBuilder, StateError};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_can_cross_threads() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<AddressAllocator>();
        send_sync::<IdAllocator>();
        let mut ids = IdAllocator::new(0, 9).unwrap();
        ids.allocate_id().unwrap();
        let snapshot = ids.clone();
        let seen = std::thread::spawn(move || snapshot.iter().collect::<alloc::vec::Vec<_>>())
            .join()
            .unwrap();
        ids.allocate_id().unwrap();
        assert_eq!(seen, [0]);
    }
}
