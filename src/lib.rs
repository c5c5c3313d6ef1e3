// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Resource allocators for virtual machine monitors, whose whole state can be
//! cloned in O(1), saved, restored, diffed and carried across a snapshot or
//! a live migration.
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
//! - [`ResourceSet`] holds named pools of both, as a VMM keeps them for a
//!   whole VM ([`ResourceSet::x86_64`], [`ResourceSet::aarch64`], or any
//!   other layout), and allocates, snapshots, saves, diffs and transacts
//!   them as one unit.
//! - Every allocation may carry an [`Owner`] (`virtio-net0`,
//!   `pci 0000:00:03.0`) through `owned_by(&owner)`: list what a device
//!   holds, free all of it in one call, and see owners in every dump and
//!   diff. Untagged allocations cost nothing extra.
//! - Every state has a generation that moves by one on each successful
//!   mutation. [`Diff`] says what was allocated and freed between two
//!   states, with owners; [`Delta`] is its file form, which names the state
//!   it applies to; a [`Transaction`] takes effect entirely or not at all.
//! - A [`History`] keeps versions of a state as it goes: each an O(1) clone
//!   that shares every node the edits did not copy, bounded by count or
//!   bytes ([`Retention`]). Any version reads back, any two diff, and
//!   [`History::blame`] says which version (and owner) made the allocation
//!   that holds an address or an id (see [below](#keeping-versions)).
//! - A [`Claim`] is what one of the VM's devices says it holds. After a
//!   restore, `reconcile` compares the state with the devices' claims and
//!   lists every disagreement ([`Report`], [`Finding`]); `adopt` makes the
//!   state hold exactly the claims, all or nothing; `from_claims` builds a
//!   state from a layout and the claims alone (see
//!   [below](#restoring-with-the-devices-claims)).
//! - A `Journal` (with `std`) keeps a state in one file incrementally: the
//!   full state once, then one small checksummed record per change, each
//!   chained to the one before; after a crash it gives back exactly the
//!   last change it acknowledged ([below](#keeping-a-journal)).
//!   [`History::from_journal_bytes`] (and `History::from_journal` of a
//!   path) reads a journal back as versions, so `blame` names the record
//!   that made an allocation.
//!
//! Everything sits on one persistent B+ tree of ranges whose nodes are
//! shared copy-on-write: a `clone` is a snapshot that never changes, costs
//! one pointer copy, and is `Send + Sync`.
//!
//! # Saving, restoring and migrating state
//!
//! - `to_bytes` / `from_bytes` (and, with `std`, `write_to_path` /
//!   `read_from_path`, which survive a crash at any instant) use the stable,
//!   versioned, checksummed format of [`format`](mod@format), specified byte
//!   by byte in `FORMAT.md`. Version 2 is written; version 1 files load
//!   forever, and `to_bytes_version(1)` still writes them for a state that
//!   fits.
//! - With the `serde` feature (on by default, unlike 0.1.4, because this
//!   state exists to be saved) every state type implements
//!   `Serialize`/`Deserialize` through a flat, sorted, validated
//!   representation, and `compat::v0_1` reads and writes the serde shapes
//!   of vm-allocator 0.1.x, for migrations in both directions.
//!
//! **Upgrading from 0.1.4:** the default serde shape is not 0.1.4's. A
//! struct that derives serde on the allocators reads the snapshots 0.1.4
//! wrote only with one attribute per field,
//! `#[serde(with = "vm_allocator::compat::v0_1::id_allocator")]` (or
//! `...::address_allocator`), or the `compat::v0_1::V01` wrapper; see
//! `compat::v0_1`.
//! - With the `versionize` feature every state type implements `Versionize`.
//! - With the `arbitrary` feature every state type implements `Arbitrary`,
//!   so a VMM can fuzz its own state that holds ours (see
//!   [below](#fuzzing-a-vmms-own-state)).
//! - [`AddressAllocator::from_allocations`], [`IdAllocator::from_allocations`]
//!   and the builders ([`AddressAllocatorBuilder`], [`IdAllocatorBuilder`],
//!   [`ResourceSetBuilder`]) rebuild state from a VMM's own records.
//!
//! Every way in validates the state completely through one builder per
//! state type and reports the first problem with its position
//! ([`StateError`], [`format::DecodeError`]); no input can build an
//! allocator that would hand out the same id or address twice.
//!
//! # Ranges of ids and of addresses
//!
//! One rule says which range type a call takes or gives:
//!
//! - A call on ids, where the kind is known from the call itself, speaks
//!   ids: `core::ops::RangeInclusive<u32>`, what a VMM writes as `24..=31`
//!   and iterates over. That is every method of [`IdAllocator`], and the
//!   id calls of a set: [`ResourceSet::allocate_ids`],
//!   [`ResourceSet::free_ids`], [`ResourceSet::set_id_owner`].
//! - A call on addresses speaks the crate's [`RangeInclusive`] (0.1.4's
//!   checked `u64` range).
//! - An answer that may come from pools of either kind is the crate's
//!   [`RangeInclusive`] for both, ids widened exactly, next to the pool it
//!   is in: [`ResourceSet::allocations_of`], [`ResourceSet::free_owner`],
//!   the changes of a [`Diff`] or a [`Delta`], and every listing and
//!   `--json` output. The pool's kind is one lookup away
//!   ([`ResourceSet::pool`]), or in the change ([`ChangeRef::pool_kind`]).
//!
//! A [`Claim`] and a [`Finding`] are `start..=end` in `u64` for both
//! kinds too ([`Claim::ids`] takes an id block).
//!
//! `TryFrom` converts between the two exactly: an id block into a
//! [`RangeInclusive`] (refused only when empty), a [`RangeInclusive`] that
//! ends at or below `u32::MAX` into an id block.
//!
//! ```rust
//! use core::ops::RangeInclusive as IdRange;
//! use vm_allocator::{Owner, PoolKind, RangeInclusive, ResourceSet};
//!
//! let mut vm = ResourceSet::x86_64();
//! let nvme = Owner::new("nvme0").unwrap();
//! let vectors: IdRange<u32> = vm.owned_by(&nvme).allocate_ids("msi_gsi", 8, 8)?;
//! assert_eq!(vectors, 24..=31);
//!
//! // Unplug: the answer names the pool and gives a RangeInclusive.
//! let freed = vm.free_owner("nvme0");
//! let (pool, range) = &freed[0];
//! assert_eq!(
//!     (pool.as_str(), *range),
//!     ("msi_gsi", RangeInclusive::try_from(vectors.clone())?)
//! );
//! if vm.pool(pool).unwrap().kind() == PoolKind::Ids {
//!     // Back to ids, to hand its first vector out again.
//!     let ids = IdRange::<u32>::try_from(*range)?;
//!     vm.owned_by(&nvme).allocate_id_at(pool, *ids.start())?;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Cost of each operation
//!
//! n is the number of live allocations (for [`IdAllocator`], of runs of
//! consecutive allocated ids), p the number of pools of a set, k the
//! number of changes.
//!
//! | operation | time |
//! |---|---|
//! | `allocate` (First/Last/ExactMatch, any alignment, bounded or not) | O(log n) |
//! | `free`, `free_id`, `free_ids` | O(log n) |
//! | `allocate_id`, `allocate_id_at`, `allocate_ids` | O(log n) |
//! | `is_allocated`, `allocation_containing`, `owner_at` | O(log n) |
//! | `clone` of an allocator or of a whole [`ResourceSet`] | O(1) |
//! | `len`, `used`, `available`, `generation`, `has_owners` | O(1) |
//! | `iter`, `runs`, `allocations` | O(1) per item |
//! | `range`, `runs_in`, `allocations_in` | O(log n + k) for k items |
//! | `allocations_of`, `free_owner` | O(n) (+ O(log n) per item freed) |
//! | the first mutation of a node shared with a clone | O(log n) extra (copies its path) |
//! | [`Diff::between`] two states that share history | O(k (log n + node size)) |
//! | [`Diff::between`] two states loaded independently | O(n) |
//! | [`Diff::apply`] | O(k log n) |
//! | `Journal::append` of a state k edits after the last one | O(k log n) + a write and a flush |
//! | `Journal::open`, [`format::replay`], [`History::from_journal_bytes`] | O(file size) + O(k log n) per record |
//! | starting, committing or rolling back a [`Transaction`] | O(1) |
//! | [`History::record`] a state k changes after the latest version | O(k log n), and as much per version dropped |
//! | [`History::get`], with V versions kept | O(log V) |
//! | [`History::blame`] | O(log n) |
//! | [`History::diff`] | as [`Diff::between`] |
//! | [`History::retained_bytes`] | O(1) |
//! | `reconcile` of c claims | O((n + c) log c) |
//! | `adopt` of c claims | O((n + c) log c + k log n) |
//! | `from_claims` of c claims | O(c log c) |
//! | set operations (a pool is looked up by name) | O(p) more |
//!
//! # Example
//!
//! ```rust
//! use vm_allocator::{AllocPolicy, Delta, Diff, Owner, ResourceSet};
//!
//! // The pools of an x86_64 VM laid out as Firecracker does.
//! let mut vm = ResourceSet::x86_64();
//! let before = vm.clone(); // an O(1) snapshot of every pool
//!
//! // Hot-plug a device: every resource or none.
//! let net0 = Owner::new("virtio-net0").unwrap();
//! let mut tx = vm.transaction();
//! tx.owned_by(&net0).allocate_id("legacy_gsi").unwrap();
//! tx.owned_by(&net0).allocate_ids("msi_gsi", 4, 4).unwrap();
//! tx.owned_by(&net0)
//!     .allocate("mmio32", 0x4000, 0x4000, AllocPolicy::FirstMatch)
//!     .unwrap();
//! tx.commit().unwrap();
//!
//! // What changed, for people and for programs.
//! let diff = Diff::between(&before, &vm).unwrap();
//! assert_eq!(diff.len(), 3);
//! assert!(diff
//!     .to_string()
//!     .contains("+ mmio32 0xd0000000..=0xd0003fff (16 KiB) virtio-net0"));
//!
//! // A migration sends the full state early and the delta at the pause.
//! let full = before.to_bytes();
//! let delta = Delta::between(&before, &vm).unwrap().to_bytes();
//! let restored = Delta::from_bytes(&delta)
//!     .unwrap()
//!     .apply(&ResourceSet::from_bytes(&full).unwrap())
//!     .unwrap();
//! assert_eq!(restored, vm);
//!
//! // Unplug: free everything the device holds, in every pool.
//! assert_eq!(vm.free_owner("virtio-net0").len(), 3);
//! assert!(vm.addresses("mmio32").unwrap().is_empty());
//! ```
//!
//! The 0.1.4 API is unchanged:
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
//!         let mmio =
//!             self.mmio_allocator
//!                 .allocate(PAGE_SIZE, PAGE_SIZE, AllocPolicy::FirstMatch)?;
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
//!
//! # Keeping versions
//!
//! ```rust
//! use vm_allocator::{AllocPolicy, History, Made, Owner, ResourceSet, Retention};
//!
//! let mut vm = ResourceSet::x86_64();
//! let mut history =
//!     History::with_retention(vm.clone(), Retention::unbounded().max_versions(1_000));
//!
//! let net0 = Owner::new("virtio-net0").unwrap();
//! vm.owned_by(&net0)
//!     .allocate("mmio32", 0x4000, 0x4000, AllocPolicy::FirstMatch)
//!     .unwrap();
//! history.record_labeled(&vm, "hot-plug virtio-net0").unwrap();
//! let nvme0 = Owner::new("nvme0").unwrap();
//! vm.owned_by(&nvme0)
//!     .allocate("mmio32", 0x4000, 0x4000, AllocPolicy::FirstMatch)
//!     .unwrap();
//! vm.owned_by(&nvme0).allocate_ids("msi_gsi", 4, 4).unwrap();
//! history.record_labeled(&vm, "hot-plug nvme0").unwrap();
//!
//! // Which hot-plug took this BAR, and when?
//! let blame = history.blame(Some("mmio32"), 0xd000_4000).unwrap();
//! assert_eq!((blame.owner(), blame.made()), (Some(&nvme0), Made::At(3)));
//! assert_eq!(blame.label(), Some("hot-plug nvme0"));
//! // The first BAR is older than the hot-plug of nvme0.
//! assert_eq!(
//!     history.blame(Some("mmio32"), 0xd000_0000).unwrap().made(),
//!     Made::At(1)
//! );
//!
//! // Any kept version reads back; any two diff.
//! assert_eq!(history.get(1).unwrap().ids("msi_gsi").unwrap().used(), 0);
//! assert_eq!(history.diff(1, 3).unwrap().len(), 2);
//! ```
//!
//! # Restoring with the devices' claims
//!
//! A restored state is valid in itself, but nothing says it agrees with
//! the devices restored beside it. Each device says what it holds, as
//! claims; the state is checked against them, and either refused or made
//! to hold exactly them:
//!
//! ```rust
//! use vm_allocator::{AllocPolicy, Claim, FindingKind, Owner, ResourceSet};
//!
//! // The state a snapshot restored: it still holds gpu0's BAR.
//! let mut vm = ResourceSet::x86_64();
//! let net0 = Owner::new("virtio-net0")?;
//! let gpu0 = Owner::new("gpu0")?;
//! vm.owned_by(&net0).allocate_id_at("legacy_gsi", 5)?;
//! vm.owned_by(&gpu0).allocate("mmio32", 0x1000, 0x1000, AllocPolicy::ExactMatch(0xd000_0000))?;
//!
//! // What the restored devices hold: net0's GSI and BAR.
//! let claims = [
//!     Claim::new(5, 5)?.in_pool("legacy_gsi").with_owner(net0.clone()),
//!     Claim::new(0xd000_4000, 0xd000_7fff)?.in_pool("mmio32").with_owner(net0.clone()),
//! ];
//! let report = vm.reconcile(&claims);
//! assert!(!report.is_consistent());
//! assert_eq!(
//!     report.to_string(),
//!     "unexpected mmio32 0xd0000000..=0xd0000fff (4 KiB): allocation 0xd0000000..=0xd0000fff of gpu0; no claim\n\
//!      missing mmio32 0xd0004000..=0xd0007fff (16 KiB): claim 0xd0004000..=0xd0007fff by virtio-net0; not allocated\n"
//! );
//!
//! // Refuse the snapshot, or adopt the claims: all or nothing.
//! vm.adopt(&claims)?;
//! assert!(vm.reconcile(&claims).is_consistent());
//! assert_eq!(vm.allocations_of("gpu0").count(), 0);
//!
//! // Or build the state from the claims alone, validated: two devices on
//! // one GSI are refused, naming them.
//! let rebuilt = ResourceSet::from_claims(&ResourceSet::x86_64(), &claims)?;
//! assert_eq!(rebuilt, vm);
//! let twice = [claims[0].clone(), Claim::new(5, 5)?.in_pool("legacy_gsi").with_owner(gpu0)];
//! let err = ResourceSet::from_claims(&ResourceSet::x86_64(), &twice).unwrap_err();
//! assert_eq!(err.finding().kind(), FindingKind::Conflict);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Keeping a journal
//!
//! A VMM appends each change it commits to a journal instead of rewriting
//! the whole state; `append` returns once the record is on disk
//! (`fdatasync`). On restart, `Journal::open` replays the records, stops at
//! the first one that fails, and reports what it kept and discarded: a
//! torn tail (an append a crash cut short: normal, cut off) or damage
//! (named by record and byte). [`format::replay`] walks the records, each
//! with its label and the state after it, and `History::from_journal`
//! keeps them as versions; the bytes are specified in `FORMAT.md` section
//! 13.
//! ```rust
//! # #[cfg(feature = "std")] {
//! use vm_allocator::{AllocPolicy, History, Journal, Made, Owner, ResourceSet, Retention};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("vm.journal");
//! let mut vm = ResourceSet::x86_64();
//! let mut journal = Journal::create(&path, &vm).unwrap();
//!
//! let gpu = Owner::new("gpu0").unwrap();
//! let mut tx = vm.transaction();
//! tx.owned_by(&gpu).allocate_ids("msi_gsi", 8, 8).unwrap();
//! tx.owned_by(&gpu)
//!     .allocate("mmio64", 1 << 30, 1 << 30, AllocPolicy::FirstMatch)
//!     .unwrap();
//! tx.commit().unwrap();
//! let before = journal.len();
//! journal.append_labeled(&vm, "hot-plug gpu0").unwrap();
//! assert!(journal.len() - before < 100); // two changes and a label, not the state
//!
//! // A crash cuts the next append short: the last acknowledged state stays.
//! let acknowledged = vm.clone();
//! vm.free_owner("gpu0");
//! journal.append(&vm).unwrap();
//! drop(journal);
//! let len = std::fs::metadata(&path).unwrap().len();
//! std::fs::OpenOptions::new()
//!     .write(true)
//!     .open(&path)
//!     .unwrap()
//!     .set_len(len - 3)
//!     .unwrap();
//!
//! let (journal, recovery) = Journal::<ResourceSet>::open(&path).unwrap();
//! assert!(recovery.is_torn_tail());
//! assert_eq!(journal.state(), &acknowledged);
//! drop(journal);
//!
//! // The journal as versions: which record took these MSI vectors?
//! let (history, _) = History::<ResourceSet>::from_journal(&path, Retention::unbounded()).unwrap();
//! let blame = history.blame(Some("msi_gsi"), 26).unwrap();
//! assert_eq!(
//!     (blame.made(), blame.label()),
//!     (Made::At(2), Some("hot-plug gpu0"))
//! );
//! # }
//! ```
//!
//! # Fuzzing a VMM's own state
//!
//! With the `arbitrary` feature, [`AddressAllocator`], [`IdAllocator`],
//! [`ResourceSet`], [`Pool`], [`Owner`], [`RangeInclusive`], [`Constraint`],
//! [`Diff`], [`Delta`] and `StatePair` implement `arbitrary::Arbitrary`
//! with a `size_hint`. Every generated value is a valid state that the
//! public API can reach (empty, full, fragmented, with owners, spaces at 0
//! and ending at `u64::MAX`, ids at `u32::MAX`, ...), so a VMM derives
//! `Arbitrary` on its own state and fuzzes it:
//! ```rust
//! # #[cfg(feature = "arbitrary")] {
//! use arbitrary::{Arbitrary, Unstructured};
//! use vm_allocator::{AddressAllocator, IdAllocator, ResourceSet};
//!
//! // A VMM's snapshot, holding our state beside its own.
//! #[derive(Debug, Arbitrary)]
//! struct VmState {
//!     gsi: IdAllocator,
//!     mmio: AddressAllocator,
//!     resources: ResourceSet,
//!     vcpus: u8,
//! }
//!
//! // The body of a fuzz target, `fuzz_target!(|vm: VmState| check(vm))`.
//! fn check(vm: VmState) {
//!     assert_eq!(IdAllocator::from_bytes(&vm.gsi.to_bytes()).unwrap(), vm.gsi);
//!     assert_eq!(
//!         AddressAllocator::from_bytes(&vm.mmio.to_bytes()).unwrap(),
//!         vm.mmio
//!     );
//!     let set = ResourceSet::from_bytes(&vm.resources.to_bytes()).unwrap();
//!     assert_eq!(set, vm.resources);
//! }
//!
//! for seed in 0..64u32 {
//!     let data: Vec<u8> = (0..2048u32)
//!         .map(|i| ((i + seed).wrapping_mul(2654435761) >> 13) as u8)
//!         .collect();
//!     check(VmState::arbitrary(&mut Unstructured::new(&data)).unwrap());
//! }
//! // Our types bound what one value reads, so the derived hint is bounded.
//! let (least, most) = VmState::size_hint(0);
//! assert!(least <= most.unwrap());
//! # }
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
// Unit tests use std (threads, proptest) even when the crate is no_std.
#[cfg(all(test, not(feature = "std")))]
extern crate std;

// The layers, from the bottom up (see DESIGN.md):
// The persistent engine: a copy-on-write B+ tree of spans and a bitmap trie
// of ids, O(log n), O(1) clones.
mod engine;
// The allocators and what they are made of: 0.1.4's API, owners, generations.
mod address_allocator;
mod constraint;
mod error;
mod id_allocator;
mod id_owners;
mod owner;
mod range;
// The one rule by which human-readable output shows names.
mod escape;
// Named pools of both allocators, handled as one state.
mod set;
// Versions of a state: what changed (diff, delta) and all-or-nothing batches.
mod diff;
mod transaction;
// Versions kept: a history of states, and blame.
mod history;
// Agreement with what the VM's devices claim: reconcile, adopt.
mod reconcile;
// The validating builders: every way state comes in goes through them.
mod validate;
// The stable, versioned file format and crash-safe files.
pub mod format;
// Integrations, each behind its feature.
#[cfg(feature = "arbitrary")]
mod arbitrary_impl;
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub mod compat;
#[cfg(feature = "serde")]
mod serde_impl;
#[cfg(feature = "versionize")]
mod versionize_impl;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The Firecracker upgrade guide's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../docs/firecracker.md")]
struct FirecrackerGuideDoctests;

pub use address_allocator::{AddressAllocator, Allocation, Allocations, AllocationsWithOwners};
#[cfg(feature = "arbitrary")]
#[cfg_attr(docsrs, doc(cfg(feature = "arbitrary")))]
pub use arbitrary_impl::StatePair;
pub use constraint::{AllocPolicy, Constraint, DEFAULT_CONSTRAINT_ALIGN};
pub use diff::{Change, ChangeKind, ChangeRef, Delta, Diff, DiffError, PoolDiff, Size, Versioned};
pub use error::{Error, NodeState, Result};
pub use escape::{escape_name, EscapedName};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use format::{Journal, JournalError};
pub use history::{Blame, History, HistoryError, Made, Retention, Version, Versions};
pub use id_allocator::{IdAllocation, IdAllocations, IdAllocator, IdRuns, Ids};
pub use owner::{NameError, OwnedBy, Owner, MAX_NAME_LEN};
pub use range::RangeInclusive;
pub use reconcile::{AdoptError, Allocated, Claim, Finding, FindingKind, OutsideReason, Report};
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
