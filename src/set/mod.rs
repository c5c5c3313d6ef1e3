// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! A named set of pools of ids and of address space, handled as one unit.

mod error;
pub mod layout;
mod pool;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::ops::RangeInclusive as IdRange;

use triomphe::Arc;

use crate::owner::check_name;
use crate::{
    AddressAllocator, AllocPolicy, Constraint, IdAllocator, OwnedBy, Owner, RangeInclusive,
};

pub use error::SetError;
pub use pool::{Pool, PoolKind};

/// One pool of a set: its name and its allocator.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// The name, checked like an owner's (shared, so copying a set's list
    /// of pools copies no string).
    pub(crate) name: Owner,
    pub(crate) pool: Pool,
}

/// Named pools of ids ([`IdAllocator`]) and of address space
/// ([`AddressAllocator`]) that allocate, free, snapshot, save, load, diff
/// and transact as one unit: what a VMM keeps for a whole VM.
///
/// - `clone` takes a snapshot of the whole set in O(1), whatever the number
///   of pools and allocations; the snapshot never changes.
/// - Every pool keeps its own [`generation`](IdAllocator::generation); the
///   set's [`generation`](Self::generation) moves forward by one on every
///   successful mutation of any pool. Adding or removing a pool is layout,
///   not a mutation: the generation stays, so a layout built pool by pool
///   is at generation 0 like [`x86_64`](Self::x86_64)'s.
/// - Pools keep the order they were added in; names are unique, 1 to 64
///   bytes ([`NameError`](crate::NameError)). Looking a pool up by name
///   is O(p), p = number of pools (a handful in a VMM).
///
/// [`x86_64`](Self::x86_64) and [`aarch64`](Self::aarch64) build the
/// layouts of a Firecracker-like VM; any other layout can be built with
/// [`add_id_pool`](Self::add_id_pool) and
/// [`add_address_pool`](Self::add_address_pool).
///
/// ```rust
/// use vm_allocator::{AllocPolicy, Owner, ResourceSet};
///
/// let mut vm = ResourceSet::x86_64();
/// let net0 = Owner::new("virtio-net0").unwrap();
/// let gsi = vm.owned_by(&net0).allocate_id("legacy_gsi").unwrap();
/// let bar = vm
///     .owned_by(&net0)
///     .allocate("mmio32", 0x1000, 0x1000, AllocPolicy::FirstMatch)
///     .unwrap();
/// assert_eq!((gsi, bar.start()), (5, 0xd000_0000));
///
/// let snapshot = vm.clone(); // O(1)
/// let freed = vm.free_owner("virtio-net0");
/// assert_eq!(freed.len(), 2);
/// assert_eq!(snapshot.ids("legacy_gsi").unwrap().owner_at(5), Some(&net0));
/// assert_eq!(vm.generation(), snapshot.generation() + 1);
/// ```
#[derive(Clone)]
pub struct ResourceSet {
    pools: Arc<Vec<Entry>>,
    generation: u64,
}

impl Default for ResourceSet {
    fn default() -> Self {
        ResourceSet::new()
    }
}

impl ResourceSet {
    /// An empty set, at generation 0.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::ResourceSet;
    ///
    /// let mut set = ResourceSet::new();
    /// assert!(set.is_empty());
    /// assert_eq!(set.generation(), 0);
    /// set.add_id_pool("slots", 0, 31)?;
    /// assert_eq!(set.allocate_id("slots")?, 0);
    /// assert_eq!(ResourceSet::default(), ResourceSet::new());
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn new() -> ResourceSet {
        ResourceSet {
            pools: Arc::new(Vec::new()),
            generation: 0,
        }
    }

    /// Builds a set from validated parts (see `crate::validate`).
    pub(crate) fn from_parts(pools: Vec<Entry>, generation: u64) -> ResourceSet {
        ResourceSet {
            pools: Arc::new(pools),
            generation,
        }
    }

    /// The generation: 0 for a new set, one more after every successful
    /// mutation of any of its pools (an allocation, a free, an owner
    /// change, [`free_owner`](Self::free_owner)), the same after a failed
    /// one. It is saved and restored; equality ignores it. Time: O(1).
    ///
    /// Adding or removing a pool is a change of layout, not a mutation, and
    /// leaves the generation as it is. So a set built pool by pool with
    /// [`add_id_pool`](Self::add_id_pool) and
    /// [`add_address_pool`](Self::add_address_pool) is at generation 0, as
    /// [`x86_64`](Self::x86_64) and [`aarch64`](Self::aarch64) are, and a
    /// [`Delta`](crate::Delta) made from one applies to the other. (Diffs
    /// and deltas are between states of one layout only.)
    ///
    /// Generations count modulo 2^64: the mutation after `u64::MAX` gives
    /// 0, as `u64::wrapping_add` does; it never fails or panics. A
    /// generation is compared for equality only (a delta names its base by
    /// generation and checksum), never ordered, so wrapping loses nothing;
    /// a state starts near `u64::MAX` only if it was loaded so.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::ResourceSet;
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// assert_eq!(vm.generation(), 0);
    /// vm.allocate_id("legacy_gsi")?;
    /// assert!(vm.allocate_id("no_such_pool").is_err()); // a failure counts nothing
    /// vm.add_id_pool("slots", 0, 31)?; // layout, not a mutation
    /// assert_eq!(vm.generation(), 1);
    /// vm.allocate_id("slots")?;
    /// assert_eq!(vm.generation(), 2);
    /// assert_eq!(vm.ids("legacy_gsi").unwrap().generation(), 1);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Number of pools. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::ResourceSet;
    ///
    /// assert_eq!(ResourceSet::x86_64().len(), 7);
    /// assert_eq!(ResourceSet::aarch64().len(), 6);
    /// ```
    pub fn len(&self) -> usize {
        self.pools.len()
    }

    /// True if the set has no pool. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::ResourceSet;
    ///
    /// let mut set = ResourceSet::new();
    /// assert!(set.is_empty());
    /// set.add_address_pool("pio", 0, 0x10000)?;
    /// assert!(!set.is_empty());
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.pools.is_empty()
    }

    /// The pools with their names, in the order they were added.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{PoolKind, ResourceSet};
    ///
    /// let vm = ResourceSet::aarch64();
    /// let ids: Vec<&str> = vm
    ///     .pools()
    ///     .filter(|(_, pool)| pool.kind() == PoolKind::Ids)
    ///     .map(|(name, _)| name)
    ///     .collect();
    /// assert_eq!(ids, ["spi", "msi_gsi"]);
    /// assert_eq!(vm.pools().len(), 6);
    /// ```
    pub fn pools(&self) -> impl ExactSizeIterator<Item = (&str, &Pool)> + '_ {
        self.pools.iter().map(|e| (e.name.as_str(), &e.pool))
    }

    pub(crate) fn entries(&self) -> &[Entry] {
        &self.pools
    }

    /// The pools as shared between clones (a history counts their bytes).
    pub(crate) fn shared_entries(&self) -> &Arc<Vec<Entry>> {
        &self.pools
    }

    /// The pools, to edit (copied first if a snapshot shares them).
    pub(crate) fn entries_mut(&mut self) -> &mut [Entry] {
        Arc::make_mut(&mut self.pools).as_mut_slice()
    }

    /// Sets the generation (a diff being applied says what it becomes).
    pub(crate) fn set_generation(&mut self, generation: u64) {
        self.generation = generation;
    }

    /// The pool named `name`. Time: O(p).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{PoolKind, ResourceSet};
    ///
    /// let vm = ResourceSet::x86_64();
    /// assert_eq!(vm.pool("pio").map(|p| p.kind()), Some(PoolKind::Addresses));
    /// assert!(vm.pool("spi").is_none());
    /// ```
    pub fn pool(&self, name: &str) -> Option<&Pool> {
        self.position(name).map(|i| &self.pools[i].pool)
    }

    /// The id pool named `name`, if there is one. Time: O(p).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::x86_64();
    /// assert_eq!(vm.ids("msi_gsi").map(|ids| ids.range_end()), Some(4095));
    /// assert!(vm.ids("mmio32").is_none()); // an address pool
    /// ```
    pub fn ids(&self, name: &str) -> Option<&IdAllocator> {
        self.pool(name).and_then(Pool::as_ids)
    }

    /// The address pool named `name`, if there is one. Time: O(p).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::x86_64();
    /// assert_eq!(vm.addresses("pio").map(|pio| pio.end()), Some(0xffff));
    /// assert!(vm.addresses("msi_gsi").is_none()); // an id pool
    /// ```
    pub fn addresses(&self, name: &str) -> Option<&AddressAllocator> {
        self.pool(name).and_then(Pool::as_addresses)
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.pools.iter().position(|e| e.name.as_str() == name)
    }

    /// Adds `pool` under `name`, after the other pools. The set's
    /// generation stays: a pool is layout (see
    /// [`generation`](Self::generation)); the pool keeps its own.
    ///
    /// Fails with [`SetError::InvalidName`] or [`SetError::DuplicatePool`].
    ///
    /// Time: O(p).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, ResourceSet, SetError};
    ///
    /// // A pool that already holds allocations.
    /// let mut pio = AddressAllocator::new(0, 0x10000).unwrap();
    /// pio.allocate(8, 1, AllocPolicy::ExactMatch(0x3f8)).unwrap();
    /// let mut vm = ResourceSet::new();
    /// vm.add_pool("pio", pio)?;
    /// assert!(vm.addresses("pio").unwrap().is_allocated(0x3f8));
    ///
    /// let again = vm
    ///     .add_pool("pio", AddressAllocator::new(0, 8).unwrap())
    ///     .unwrap_err();
    /// assert_eq!(again, SetError::DuplicatePool("pio".into()));
    /// assert_eq!(again.to_string(), r#"a pool named "pio" exists already"#);
    /// let unnamed = vm.add_pool("", AddressAllocator::new(0, 8).unwrap());
    /// assert!(matches!(unnamed, Err(SetError::InvalidName { .. })));
    /// # Ok::<(), SetError>(())
    /// ```
    pub fn add_pool(&mut self, name: &str, pool: impl Into<Pool>) -> Result<(), SetError> {
        check_name(name).map_err(|error| SetError::InvalidName {
            name: String::from(name),
            error,
        })?;
        if self.position(name).is_some() {
            return Err(SetError::DuplicatePool(String::from(name)));
        }
        let name = Owner::new(name).expect("the name was checked");
        Arc::make_mut(&mut self.pools).push(Entry {
            name,
            pool: pool.into(),
        });
        Ok(())
    }

    /// Adds an empty pool of the ids `range_base..=range_end` under `name`.
    ///
    /// ```rust
    /// use vm_allocator::ResourceSet;
    ///
    /// let mut set = ResourceSet::new();
    /// set.add_id_pool("slots", 0, 31).unwrap();
    /// set.add_address_pool("pio", 0, 0x10000).unwrap();
    /// assert_eq!(set.allocate_id("slots").unwrap(), 0);
    /// assert!(set.add_id_pool("slots", 0, 1).is_err());
    /// ```
    ///
    /// Time: O(p).
    pub fn add_id_pool(
        &mut self,
        name: &str,
        range_base: u32,
        range_end: u32,
    ) -> Result<(), SetError> {
        let ids = IdAllocator::new(range_base, range_end).map_err(|error| SetError::Pool {
            pool: String::from(name),
            error,
        })?;
        self.add_pool(name, ids)
    }

    /// Adds an empty pool of the `size` addresses from `base` under `name`.
    ///
    /// Time: O(p).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Error, ResourceSet};
    ///
    /// let mut set = ResourceSet::new();
    /// set.add_address_pool("mmio", 0xd000_0000, 0x1000_0000)?;
    /// let bar = set.allocate("mmio", 0x1000, 0x1000, AllocPolicy::FirstMatch)?;
    /// assert_eq!(bar.start(), 0xd000_0000);
    /// // An empty space is refused, naming the pool.
    /// let err = set.add_address_pool("empty", 0, 0).unwrap_err();
    /// assert_eq!(err.allocator_error(), Some(Error::Underflow));
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn add_address_pool(&mut self, name: &str, base: u64, size: u64) -> Result<(), SetError> {
        let addresses = AddressAllocator::new(base, size).map_err(|error| SetError::Pool {
            pool: String::from(name),
            error,
        })?;
        self.add_pool(name, addresses)
    }

    /// Removes the pool named `name` and returns it. The set's generation
    /// stays: a pool is layout (see [`generation`](Self::generation)).
    ///
    /// Time: O(p).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{PoolKind, ResourceSet, SetError};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let pio = vm.remove_pool("pio")?;
    /// assert_eq!(pio.kind(), PoolKind::Addresses);
    /// assert_eq!(vm.len(), 6);
    /// assert_eq!(
    ///     vm.remove_pool("pio").unwrap_err(),
    ///     SetError::NoSuchPool("pio".into())
    /// );
    /// # Ok::<(), SetError>(())
    /// ```
    pub fn remove_pool(&mut self, name: &str) -> Result<Pool, SetError> {
        let i = self
            .position(name)
            .ok_or_else(|| SetError::NoSuchPool(String::from(name)))?;
        let entry = Arc::make_mut(&mut self.pools).remove(i);
        Ok(entry.pool)
    }

    /// Allocates from the address pool `pool` as
    /// [`AddressAllocator::allocate`] does.
    ///
    /// Time: O(p + log n).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Error, ResourceSet, SetError};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let bar = vm.allocate("mmio32", 0x1000, 0x1000, AllocPolicy::LastMatch)?;
    /// assert_eq!(bar.end(), 0xfebf_ffff);
    /// // Ids are not addresses.
    /// let err = vm
    ///     .allocate("msi_gsi", 1, 1, AllocPolicy::FirstMatch)
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), r#"pool "msi_gsi" is not an address pool"#);
    /// let err = vm
    ///     .allocate("pio", 0x2_0000, 1, AllocPolicy::FirstMatch)
    ///     .unwrap_err();
    /// assert_eq!(err.allocator_error(), Some(Error::ResourceNotAvailable));
    /// # Ok::<(), SetError>(())
    /// ```
    pub fn allocate(
        &mut self,
        pool: &str,
        size: u64,
        alignment: u64,
        policy: AllocPolicy,
    ) -> Result<RangeInclusive, SetError> {
        self.with_addresses(pool, |a| a.allocate(size, alignment, policy))
    }

    /// Allocates from the address pool `pool` as
    /// [`AddressAllocator::allocate_with`] does.
    ///
    /// Time: O(p + log n).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Constraint, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// // A 1 GiB BAR in the upper half of the 64-bit window.
    /// let c = Constraint::new(1 << 30, 1 << 30, AllocPolicy::FirstMatch)
    ///     .unwrap()
    ///     .with_min_address(384 << 30);
    /// assert_eq!(vm.allocate_with("mmio64", c)?.start(), 384 << 30);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn allocate_with(
        &mut self,
        pool: &str,
        constraint: Constraint,
    ) -> Result<RangeInclusive, SetError> {
        self.with_addresses(pool, |a| a.allocate_with(constraint))
    }

    /// Frees an allocation of the address pool `pool` as
    /// [`AddressAllocator::free`] does.
    ///
    /// Time: O(p + log n).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Error, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let bar = vm.allocate("mmio32", 0x1000, 0x1000, AllocPolicy::FirstMatch)?;
    /// vm.free("mmio32", &bar)?;
    /// assert!(vm.addresses("mmio32").unwrap().is_empty());
    /// let err = vm.free("mmio32", &bar).unwrap_err();
    /// assert_eq!(err.allocator_error(), Some(Error::ResourceNotAvailable));
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn free(&mut self, pool: &str, range: &RangeInclusive) -> Result<(), SetError> {
        self.with_addresses(pool, |a| a.free(range))
    }

    /// Sets the owner of an allocation of the address pool `pool` as
    /// [`AddressAllocator::set_owner`] does.
    ///
    /// Time: O(p + log n).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Owner, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let com1 = vm.allocate("pio", 8, 1, AllocPolicy::ExactMatch(0x3f8))?;
    /// let serial = Owner::new("serial0").unwrap();
    /// assert_eq!(vm.set_owner("pio", &com1, Some(serial.clone()))?, None);
    /// assert_eq!(
    ///     vm.allocations_of("serial0").collect::<Vec<_>>(),
    ///     [("pio", com1)]
    /// );
    /// assert_eq!(vm.set_owner("pio", &com1, None)?, Some(serial));
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn set_owner(
        &mut self,
        pool: &str,
        range: &RangeInclusive,
        owner: Option<Owner>,
    ) -> Result<Option<Owner>, SetError> {
        self.with_addresses(pool, |a| a.set_owner(range, owner))
    }

    /// Allocates the smallest free id of the id pool `pool`.
    ///
    /// Time: O(p + log r).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{ResourceSet, SetError};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// assert_eq!(vm.allocate_id("legacy_gsi")?, 5);
    /// assert_eq!(vm.allocate_id("legacy_gsi")?, 6);
    /// let err = vm.allocate_id("spi").unwrap_err();
    /// assert_eq!(err.to_string(), r#"no pool is named "spi""#);
    /// # Ok::<(), SetError>(())
    /// ```
    pub fn allocate_id(&mut self, pool: &str) -> Result<u32, SetError> {
        self.with_ids(pool, |ids| ids.allocate_id())
    }

    /// Allocates the id `id` of the id pool `pool`.
    ///
    /// Time: O(p + log r).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Error, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// assert_eq!(vm.allocate_id_at("legacy_gsi", 12)?, 12);
    /// let err = vm.allocate_id_at("legacy_gsi", 12).unwrap_err();
    /// assert_eq!(err.allocator_error(), Some(Error::ResourceNotAvailable));
    /// assert_eq!(
    ///     err.to_string(),
    ///     r#"pool "legacy_gsi": the requested resource is not available"#
    /// );
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn allocate_id_at(&mut self, pool: &str, id: u32) -> Result<u32, SetError> {
        self.with_ids(pool, |ids| ids.allocate_id_at(id))
    }

    /// Allocates `count` aligned ids of the id pool `pool`.
    ///
    /// Time: O(p + log r).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::ResourceSet;
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// assert_eq!(vm.allocate_ids("msi_gsi", 4, 4)?, 24..=27);
    /// assert_eq!(vm.allocate_ids("msi_gsi", 8, 8)?, 32..=39);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn allocate_ids(
        &mut self,
        pool: &str,
        count: u32,
        align: u32,
    ) -> Result<IdRange<u32>, SetError> {
        self.with_ids(pool, |ids| ids.allocate_ids(count, align))
    }

    /// Frees the id `id` of the id pool `pool`.
    ///
    /// Time: O(p + log r).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Error, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let gsi = vm.allocate_id("legacy_gsi")?;
    /// assert_eq!(vm.free_id("legacy_gsi", gsi)?, gsi);
    /// let err = vm.free_id("legacy_gsi", gsi).unwrap_err();
    /// assert_eq!(err.allocator_error(), Some(Error::AlreadyReleased(5)));
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn free_id(&mut self, pool: &str, id: u32) -> Result<u32, SetError> {
        self.with_ids(pool, |ids| ids.free_id(id))
    }

    /// Frees the ids `ids` of the id pool `pool`, all or nothing.
    ///
    /// Time: O(p + log r).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::ResourceSet;
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let vectors = vm.allocate_ids("msi_gsi", 4, 4)?;
    /// vm.free_ids("msi_gsi", vectors.clone())?;
    /// assert_eq!(vm.ids("msi_gsi").unwrap().used(), 0);
    /// assert!(vm.free_ids("msi_gsi", vectors).is_err());
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn free_ids(&mut self, pool: &str, ids: IdRange<u32>) -> Result<(), SetError> {
        self.with_ids(pool, |a| a.free_ids(ids))
    }

    /// Sets the owner of ids of the id pool `pool` as
    /// [`IdAllocator::set_owner`] does.
    ///
    /// Time: O(p + log r).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Owner, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let vectors = vm.allocate_ids("msi_gsi", 4, 4)?;
    /// let nvme = Owner::new("nvme0").unwrap();
    /// vm.set_id_owner("msi_gsi", vectors, Some(nvme.clone()))?;
    /// assert_eq!(vm.ids("msi_gsi").unwrap().owner_at(25), Some(&nvme));
    /// assert_eq!(vm.free_owner("nvme0").len(), 1);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn set_id_owner(
        &mut self,
        pool: &str,
        ids: IdRange<u32>,
        owner: Option<Owner>,
    ) -> Result<(), SetError> {
        self.with_ids(pool, |a| a.set_owner(ids, owner))
    }

    /// Returns a view that allocates on behalf of `owner` in any pool.
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Owner, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let blk0 = Owner::new("virtio-blk0").unwrap();
    /// let mut blk = vm.owned_by(&blk0);
    /// blk.allocate_id("legacy_gsi")?;
    /// blk.allocate("mmio32", 0x1000, 0x1000, AllocPolicy::FirstMatch)?;
    /// assert_eq!(vm.allocations_of("virtio-blk0").count(), 2);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn owned_by<'a>(&'a mut self, owner: &'a Owner) -> OwnedBy<'a, Self> {
        OwnedBy::new(self, owner)
    }

    /// What `owner` holds in every pool: `(pool name, range)` in pool
    /// order, then address order (id ranges are maximal runs of ids).
    ///
    /// The ranges of both kinds of pool are the crate's
    /// [`RangeInclusive`], an id pool's runs widened exactly, as in a
    /// [`Diff`](crate::Diff): see [Ranges of ids and of
    /// addresses](crate#ranges-of-ids-and-of-addresses). `try_into()`
    /// gives a run of ids back as the `core::ops::RangeInclusive<u32>`
    /// that the id methods take.
    ///
    /// Time: O(n) over all pools.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Owner, PoolKind, RangeInclusive, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let net0 = Owner::new("virtio-net0").unwrap();
    /// let vectors = vm.owned_by(&net0).allocate_ids("msi_gsi", 2, 2)?;
    /// let bar = vm
    ///     .owned_by(&net0)
    ///     .allocate("mmio32", 0x1000, 0x1000, AllocPolicy::FirstMatch)?;
    /// let held: Vec<(&str, RangeInclusive)> = vm.allocations_of("virtio-net0").collect();
    /// assert_eq!(
    ///     held,
    ///     [
    ///         ("msi_gsi", RangeInclusive::new(24, 25).unwrap()),
    ///         ("mmio32", bar)
    ///     ]
    /// );
    ///
    /// // The run of MSI vectors, as allocate_ids gave it.
    /// let (pool, run) = held[0];
    /// assert_eq!(vm.pool(pool).unwrap().kind(), PoolKind::Ids);
    /// assert_eq!(core::ops::RangeInclusive::<u32>::try_from(run)?, vectors);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn allocations_of<'a>(
        &'a self,
        owner: &'a str,
    ) -> impl Iterator<Item = (&'a str, RangeInclusive)> + 'a {
        self.pools.iter().flat_map(move |e| {
            let name = e.name.as_str();
            let ranges: alloc::boxed::Box<dyn Iterator<Item = RangeInclusive>> =
                match &e.pool {
                    Pool::Ids(ids) => alloc::boxed::Box::new(ids.ids_of(owner).map(|r| {
                        RangeInclusive::from_parts((*r.start()).into(), (*r.end()).into())
                    })),
                    Pool::Addresses(a) => alloc::boxed::Box::new(a.allocations_of(owner)),
                };
            ranges.map(move |r| (name, r))
        })
    }

    /// Frees everything `owner` holds, in every pool, in one step; returns
    /// what was freed as `(pool name, range)`, ranges as
    /// [`allocations_of`](Self::allocations_of) gives them (the crate's
    /// [`RangeInclusive`] for ids too). Freeing something is one mutation
    /// of the set (its generation moves by one, and that of each pool
    /// touched); finding nothing changes nothing.
    ///
    /// Time: O(n + k log n) over all pools, k = allocations freed.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Owner, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let net0 = Owner::new("virtio-net0").unwrap();
    /// vm.owned_by(&net0).allocate_id("legacy_gsi")?;
    /// let bar = vm
    ///     .owned_by(&net0)
    ///     .allocate("mmio32", 0x1000, 0x1000, AllocPolicy::FirstMatch)?;
    /// let generation = vm.generation();
    /// let freed = vm.free_owner("virtio-net0");
    /// assert_eq!(freed[1], ("mmio32".to_string(), bar));
    /// assert_eq!(freed.len(), 2);
    /// assert_eq!(vm.generation(), generation + 1); // one mutation of the set
    /// assert!(vm.free_owner("virtio-net0").is_empty());
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn free_owner(&mut self, owner: &str) -> Vec<(String, RangeInclusive)> {
        if self.allocations_of(owner).next().is_none() {
            return Vec::new();
        }
        let mut freed = Vec::new();
        for entry in Arc::make_mut(&mut self.pools).iter_mut() {
            let name = entry.name.as_str();
            match &mut entry.pool {
                Pool::Ids(ids) => freed.extend(ids.free_owner(owner).into_iter().map(|r| {
                    let r = RangeInclusive::from_parts((*r.start()).into(), (*r.end()).into());
                    (String::from(name), r)
                })),
                Pool::Addresses(a) => freed.extend(
                    a.free_owner(owner)
                        .into_iter()
                        .map(|r| (String::from(name), r)),
                ),
            }
        }
        self.bump();
        freed
    }

    /// True if any allocation of any pool has an owner. Time: O(p).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Owner, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// vm.allocate_id("legacy_gsi")?;
    /// assert!(!vm.has_owners());
    /// vm.owned_by(&Owner::new("rtc").unwrap())
    ///     .allocate_id("legacy_gsi")?;
    /// assert!(vm.has_owners());
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn has_owners(&self) -> bool {
        self.pools.iter().any(|e| e.pool.has_owners())
    }

    /// A copy with every owner removed from every pool (see
    /// [`AddressAllocator::without_owners`]). Same generation.
    ///
    /// Time: O(n) if some allocation has an owner.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Owner, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// vm.owned_by(&Owner::new("rtc").unwrap())
    ///     .allocate_id("legacy_gsi")?;
    /// let plain = vm.without_owners();
    /// assert!(!plain.has_owners());
    /// assert!(plain.ids("legacy_gsi").unwrap().is_allocated(5));
    /// assert_eq!(plain.generation(), vm.generation());
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn without_owners(&self) -> ResourceSet {
        let pools = self
            .pools
            .iter()
            .map(|e| Entry {
                name: e.name.clone(),
                pool: e.pool.without_owners(),
            })
            .collect();
        ResourceSet::from_parts(pools, self.generation)
    }

    /// Runs `op` on the address pool `pool`; counts a success.
    fn with_addresses<T>(
        &mut self,
        pool: &str,
        op: impl FnOnce(&mut AddressAllocator) -> crate::Result<T>,
    ) -> Result<T, SetError> {
        self.with_pool(pool, PoolKind::Addresses, |p| match p {
            Pool::Addresses(a) => op(a),
            Pool::Ids(_) => unreachable!("the kind was checked"),
        })
    }

    /// Runs `op` on the id pool `pool`; counts a success.
    fn with_ids<T>(
        &mut self,
        pool: &str,
        op: impl FnOnce(&mut IdAllocator) -> crate::Result<T>,
    ) -> Result<T, SetError> {
        self.with_pool(pool, PoolKind::Ids, |p| match p {
            Pool::Ids(ids) => op(ids),
            Pool::Addresses(_) => unreachable!("the kind was checked"),
        })
    }

    fn with_pool<T>(
        &mut self,
        name: &str,
        kind: PoolKind,
        op: impl FnOnce(&mut Pool) -> crate::Result<T>,
    ) -> Result<T, SetError> {
        let i = self
            .position(name)
            .ok_or_else(|| SetError::NoSuchPool(String::from(name)))?;
        if self.pools[i].pool.kind() != kind {
            return Err(SetError::WrongKind {
                pool: String::from(name),
                expected: kind,
            });
        }
        // The list of pools may be shared with snapshots: copying it copies
        // p pointers, never an allocator's contents.
        let pool = &mut Arc::make_mut(&mut self.pools)[i].pool;
        let before = pool.generation();
        let result = op(pool);
        let changed = pool.generation() != before;
        match result {
            Ok(value) => {
                if changed {
                    self.bump();
                }
                Ok(value)
            }
            Err(error) => Err(SetError::Pool {
                pool: String::from(name),
                error,
            }),
        }
    }

    /// Counts one successful mutation (modulo 2^64).
    pub(crate) fn bump(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    /// Checks every pool's invariants; only in builds of this
    /// repository (tests, fuzzing), never in the published crate.
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        for (i, e) in self.pools.iter().enumerate() {
            check_name(&e.name).map_err(|e| alloc::format!("pool #{i}: {e}"))?;
            if self.pools[..i].iter().any(|p| p.name == e.name) {
                return Err(alloc::format!("pool #{i} repeats the name {:?}", e.name));
            }
            e.pool
                .check_invariants()
                .map_err(|why| alloc::format!("pool {:?}: {why}", e.name))?;
        }
        Ok(())
    }
}

impl OwnedBy<'_, ResourceSet> {
    /// [`ResourceSet::allocate`], owned by this view's owner.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Owner, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let net0 = Owner::new("virtio-net0").unwrap();
    /// let bar = vm
    ///     .owned_by(&net0)
    ///     .allocate("mmio32", 0x4000, 0x4000, AllocPolicy::FirstMatch)?;
    /// assert_eq!(
    ///     vm.addresses("mmio32").unwrap().owner_at(bar.start()),
    ///     Some(&net0)
    /// );
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn allocate(
        &mut self,
        pool: &str,
        size: u64,
        alignment: u64,
        policy: AllocPolicy,
    ) -> Result<RangeInclusive, SetError> {
        let owner = self.owner();
        // The pool is looked up before the request is checked, as
        // `ResourceSet::allocate` does.
        self.target().with_addresses(pool, |a| {
            a.owned_by(owner).allocate(size, alignment, policy)
        })
    }

    /// [`ResourceSet::allocate_with`], owned by this view's owner.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Constraint, Owner, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let gpu = Owner::new("gpu0").unwrap();
    /// let c = Constraint::new(1 << 30, 1 << 30, AllocPolicy::LastMatch).unwrap();
    /// let bar = vm.owned_by(&gpu).allocate_with("mmio64", c)?;
    /// assert_eq!(bar.end(), (512 << 30) - 1);
    /// assert_eq!(vm.allocations_of("gpu0").count(), 1);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn allocate_with(
        &mut self,
        pool: &str,
        constraint: Constraint,
    ) -> Result<RangeInclusive, SetError> {
        let owner = self.owner();
        self.target()
            .with_addresses(pool, |a| a.owned_by(owner).allocate_with(constraint))
    }

    /// [`ResourceSet::allocate_id`], owned by this view's owner.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Owner, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let rtc = Owner::new("rtc").unwrap();
    /// let gsi = vm.owned_by(&rtc).allocate_id("legacy_gsi")?;
    /// assert_eq!(vm.ids("legacy_gsi").unwrap().owner_at(gsi), Some(&rtc));
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn allocate_id(&mut self, pool: &str) -> Result<u32, SetError> {
        let owner = self.owner();
        self.target()
            .with_ids(pool, |ids| ids.owned_by(owner).allocate_id())
    }

    /// [`ResourceSet::allocate_id_at`], owned by this view's owner.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Owner, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let serial = Owner::new("serial0").unwrap();
    /// vm.owned_by(&serial).allocate_id_at("legacy_gsi", 4 + 1)?;
    /// assert_eq!(vm.free_owner("serial0").len(), 1);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn allocate_id_at(&mut self, pool: &str, id: u32) -> Result<u32, SetError> {
        let owner = self.owner();
        self.target()
            .with_ids(pool, |ids| ids.owned_by(owner).allocate_id_at(id))
    }

    /// [`ResourceSet::allocate_ids`], owned by this view's owner.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Owner, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let nvme = Owner::new("nvme0").unwrap();
    /// assert_eq!(vm.owned_by(&nvme).allocate_ids("msi_gsi", 8, 8)?, 24..=31);
    /// assert_eq!(
    ///     vm.ids("msi_gsi")
    ///         .unwrap()
    ///         .ids_of("nvme0")
    ///         .collect::<Vec<_>>(),
    ///     [24..=31]
    /// );
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn allocate_ids(
        &mut self,
        pool: &str,
        count: u32,
        align: u32,
    ) -> Result<IdRange<u32>, SetError> {
        let owner = self.owner();
        self.target()
            .with_ids(pool, |ids| ids.owned_by(owner).allocate_ids(count, align))
    }
}

/// Two sets are equal when they have the same pools, in the same order,
/// with the same names and equal allocators; generations are not compared.
impl PartialEq for ResourceSet {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.pools, &other.pools)
            || (self.pools.len() == other.pools.len()
                && self
                    .pools
                    .iter()
                    .zip(other.pools.iter())
                    .all(|(a, b)| a.name == b.name && a.pool == b.pool))
    }
}

impl Eq for ResourceSet {}

/// Hashes what equality compares: the pools' names and allocators.
impl core::hash::Hash for ResourceSet {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.pools.len().hash(state);
        for (name, pool) in self.pools() {
            name.hash(state);
            pool.hash(state);
        }
    }
}

impl fmt::Debug for ResourceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Pools<'a>(&'a ResourceSet);
        impl fmt::Debug for Pools<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map().entries(self.0.pools()).finish()
            }
        }
        f.debug_struct("ResourceSet")
            .field("generation", &self.generation)
            .field("pools", &Pools(self))
            .finish()
    }
}
