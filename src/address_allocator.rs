// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Allocation of address ranges (MMIO, PIO, memory) from an address space.

use alloc::vec::Vec;
use core::cmp::Ordering;
use core::fmt;
use core::iter::FusedIterator;
use core::ops::RangeBounds;

use crate::engine::{Fit, Span, SpanTree, Spans, Tag, TaggedSpans};
use crate::range::inclusive_bounds;
use crate::{AllocPolicy, Constraint, Error, OwnedBy, Owner, RangeInclusive, Result};

/// An address space allocator.
///
/// Hands out aligned ranges of an address space by [`AllocPolicy`] and takes
/// them back. The allocations live in a persistent tree, so `clone` is O(1)
/// and the clone and the original never see each other's changes.
///
/// Each allocation may carry an [`Owner`] ([`owned_by`](Self::owned_by));
/// untagged allocations cost nothing extra. The
/// [`generation`](Self::generation) moves forward by one on every
/// successful mutation.
///
/// # Example
///
/// ```rust
/// use vm_allocator::{AddressAllocator, AllocPolicy, RangeInclusive};
///
/// // The 32-bit MMIO hole of a typical x86_64 VM.
/// let mut mmio = AddressAllocator::new(0xd000_0000, 0x2000_0000).unwrap();
/// let bar = mmio
///     .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
///     .unwrap();
/// assert_eq!(bar, RangeInclusive::new(0xd000_0000, 0xd000_0fff).unwrap());
///
/// let snapshot = mmio.clone(); // O(1)
/// mmio.free(&bar).unwrap();
/// assert!(snapshot.is_allocated(0xd000_0000));
/// assert!(!mmio.is_allocated(0xd000_0000));
/// ```
#[derive(Clone)]
pub struct AddressAllocator {
    space: RangeInclusive,
    allocations: SpanTree,
    generation: u64,
}

impl AddressAllocator {
    /// Creates an allocator for the `size` addresses starting at `base`.
    ///
    /// Fails with [`Error::Underflow`] for a zero size and [`Error::Overflow`]
    /// when the space would run past `u64::MAX`.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, Error};
    ///
    /// let pio = AddressAllocator::new(0, 0x10000)?;
    /// assert_eq!((pio.base(), pio.end()), (0, 0xffff));
    /// assert_eq!(
    ///     AddressAllocator::new(0x1000, 0).unwrap_err(),
    ///     Error::Underflow
    /// );
    /// assert_eq!(
    ///     AddressAllocator::new(u64::MAX, 2).unwrap_err(),
    ///     Error::Overflow
    /// );
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new(base: u64, size: u64) -> Result<Self> {
        let end = base
            .checked_add(size.checked_sub(1).ok_or(Error::Underflow)?)
            .ok_or(Error::Overflow)?;
        Ok(AddressAllocator {
            space: RangeInclusive::new(base, end)?,
            allocations: SpanTree::new(),
            generation: 0,
        })
    }

    /// Allocates `size` addresses aligned to `alignment`, placed by `policy`,
    /// and returns the allocated range.
    ///
    /// When the `ExactMatch` policy is used, the start address must be
    /// aligned to `alignment`.
    ///
    /// Errors: those of [`Constraint::new`]; [`Error::ResourceNotAvailable`]
    /// when no free aligned range fits, or, for `ExactMatch`, when the range
    /// is not inside the space or any address of it is allocated;
    /// [`Error::Overflow`] when an `ExactMatch` range would run past `u64::MAX`.
    ///
    /// Time: O(log n) for every policy and alignment, n = live allocations.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Error};
    ///
    /// let mut mmio = AddressAllocator::new(0xd000_0000, 0x10_0000)?;
    /// let first = mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)?;
    /// let last = mmio.allocate(0x1000, 0x1000, AllocPolicy::LastMatch)?;
    /// assert_eq!((first.start(), last.end()), (0xd000_0000, 0xd00f_ffff));
    /// // The exact range is taken: nothing changes.
    /// assert_eq!(
    ///     mmio.allocate(0x1000, 0x1000, AllocPolicy::ExactMatch(0xd000_0000)),
    ///     Err(Error::ResourceNotAvailable)
    /// );
    /// assert_eq!(mmio.len(), 2);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn allocate(
        &mut self,
        size: u64,
        alignment: u64,
        policy: AllocPolicy,
    ) -> Result<RangeInclusive> {
        self.allocate_with(Constraint::new(size, alignment, policy)?)
    }

    /// Allocates the range that `constraint` describes, honouring its
    /// minimum and maximum address as well as its size, alignment and policy.
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Constraint};
    ///
    /// // Allocate a 64-bit BAR, but keep it below 1 TiB.
    /// let mut mmio64 = AddressAllocator::new(1 << 32, 1 << 46).unwrap();
    /// let c = Constraint::new(1 << 30, 1 << 30, AllocPolicy::LastMatch)
    ///     .unwrap()
    ///     .with_max_address((1 << 40) - 1);
    /// let bar = mmio64.allocate_with(c).unwrap();
    /// assert_eq!(bar.end(), (1 << 40) - 1);
    /// ```
    ///
    /// Time: O(log n).
    pub fn allocate_with(&mut self, constraint: Constraint) -> Result<RangeInclusive> {
        self.allocate_tagged(constraint, None)
    }

    /// Returns a view that allocates on behalf of `owner`: every allocation
    /// made through it carries that owner.
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Owner};
    ///
    /// let mut mmio = AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap();
    /// let blk0 = Owner::new("virtio-blk0").unwrap();
    /// let mut blk = mmio.owned_by(&blk0);
    /// let bar0 = blk
    ///     .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
    ///     .unwrap();
    /// let bar1 = blk
    ///     .allocate(0x4000, 0x4000, AllocPolicy::LastMatch)
    ///     .unwrap();
    /// assert_eq!(
    ///     mmio.allocations_of("virtio-blk0").collect::<Vec<_>>(),
    ///     vec![bar0, bar1]
    /// );
    /// ```
    ///
    /// Time: O(1).
    pub fn owned_by<'a>(&'a mut self, owner: &'a Owner) -> OwnedBy<'a, Self> {
        OwnedBy::new(self, owner)
    }

    /// Allocates what `constraint` describes, owned by `tag`.
    pub(crate) fn allocate_tagged(
        &mut self,
        constraint: Constraint,
        tag: Tag,
    ) -> Result<RangeInclusive> {
        let lo = self.space.start().max(constraint.min_address());
        let hi = self.space.end().min(constraint.max_address());
        let size = constraint.size();
        let start = match constraint.policy() {
            AllocPolicy::ExactMatch(start) => {
                if start < lo || start > hi {
                    return Err(Error::ResourceNotAvailable);
                }
                let end = start.checked_add(size - 1).ok_or(Error::Overflow)?;
                if end > hi || self.allocations.overlap(Span::new(start, end)).is_some() {
                    return Err(Error::ResourceNotAvailable);
                }
                start
            }
            policy => {
                if lo > hi {
                    return Err(Error::ResourceNotAvailable);
                }
                let fit = Fit {
                    size,
                    align_log2: constraint.align_log2(),
                    lo,
                    hi,
                };
                let found = if policy == AllocPolicy::LastMatch {
                    self.allocations.last_fit(&fit)
                } else {
                    self.allocations.first_fit(&fit)
                };
                found.ok_or(Error::ResourceNotAvailable)?
            }
        };
        let range = RangeInclusive::from_parts(start, start + (size - 1));
        self.allocations
            .insert_tagged(Span::new(range.start(), range.end()), tag);
        self.bump();
        Ok(range)
    }

    /// Frees `key`, which must be exactly a range this allocator handed out
    /// (or restored) and has not freed since; otherwise fails with
    /// [`Error::ResourceNotAvailable`] and changes nothing.
    ///
    /// Time: O(log n).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Error, RangeInclusive};
    ///
    /// let mut mmio = AddressAllocator::new(0xd000_0000, 0x10_0000)?;
    /// let bar = mmio.allocate(0x2000, 0x1000, AllocPolicy::FirstMatch)?;
    /// // Only exactly an allocation can be freed, and only once.
    /// let half = RangeInclusive::new(bar.start(), bar.start() + 0xfff)?;
    /// assert_eq!(mmio.free(&half), Err(Error::ResourceNotAvailable));
    /// mmio.free(&bar)?;
    /// assert_eq!(mmio.free(&bar), Err(Error::ResourceNotAvailable));
    /// assert!(mmio.is_empty());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn free(&mut self, key: &RangeInclusive) -> Result<()> {
        self.check_allocation(key)?;
        self.allocations.remove(key.start());
        self.bump();
        Ok(())
    }

    /// Fails with [`Error::ResourceNotAvailable`] unless `key` is exactly a
    /// live allocation.
    fn check_allocation(&self, key: &RangeInclusive) -> Result<()> {
        match self.allocations.floor(key.start()) {
            Some(span) if span.start == key.start() && span.end == key.end() => Ok(()),
            _ => Err(Error::ResourceNotAvailable),
        }
    }

    /// The owner of the allocation that contains `address`, if it is
    /// allocated and has one. Time: O(log n).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Owner};
    ///
    /// let mut pio = AddressAllocator::new(0, 0x10000)?;
    /// let serial = Owner::new("serial0")?;
    /// pio.owned_by(&serial)
    ///     .allocate(8, 1, AllocPolicy::ExactMatch(0x3f8))?;
    /// pio.allocate(8, 1, AllocPolicy::ExactMatch(0x2f8))?;
    /// assert_eq!(pio.owner_at(0x3ff).map(Owner::as_str), Some("serial0"));
    /// assert_eq!(pio.owner_at(0x2f8), None); // allocated, no owner
    /// assert_eq!(pio.owner_at(0x400), None); // free
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn owner_at(&self, address: u64) -> Option<&Owner> {
        self.allocations
            .containing_entry(address)
            .and_then(|(_, owner)| owner)
    }

    /// Gives the live allocation `key` the owner `owner` (or none), and
    /// returns its previous owner.
    ///
    /// Fails with [`Error::ResourceNotAvailable`] and changes nothing unless
    /// `key` is exactly a live allocation. Setting the owner it already has
    /// changes nothing (the generation stays).
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Owner};
    ///
    /// let mut pio = AddressAllocator::new(0, 0x10000).unwrap();
    /// let com1 = pio.allocate(8, 1, AllocPolicy::ExactMatch(0x3f8)).unwrap();
    /// let serial = Owner::new("serial0").unwrap();
    /// assert_eq!(pio.set_owner(&com1, Some(serial.clone())).unwrap(), None);
    /// assert_eq!(pio.owner_at(0x3f8), Some(&serial));
    /// ```
    ///
    /// Time: O(log n).
    pub fn set_owner(
        &mut self,
        key: &RangeInclusive,
        owner: Option<Owner>,
    ) -> Result<Option<Owner>> {
        self.check_allocation(key)?;
        if self.owner_at(key.start()) == owner.as_ref() {
            return Ok(owner);
        }
        let old = self.allocations.set_tag(key.start(), owner);
        self.bump();
        Ok(old)
    }

    /// The live allocations of `owner`, in increasing address order.
    ///
    /// Time: O(n): every allocation is looked at.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Owner};
    ///
    /// let mut mmio = AddressAllocator::new(0xd000_0000, 0x10_0000)?;
    /// let gpu = Owner::new("gpu0")?;
    /// let bar0 = mmio
    ///     .owned_by(&gpu)
    ///     .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)?;
    /// mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)?;
    /// let bar2 = mmio
    ///     .owned_by(&gpu)
    ///     .allocate(0x4000, 0x4000, AllocPolicy::FirstMatch)?;
    /// assert_eq!(
    ///     mmio.allocations_of("gpu0").collect::<Vec<_>>(),
    ///     [bar0, bar2]
    /// );
    /// assert_eq!(mmio.allocations_of("gpu1").count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn allocations_of<'a>(
        &'a self,
        owner: &'a str,
    ) -> impl Iterator<Item = RangeInclusive> + 'a {
        self.allocations()
            .filter(move |a| a.owner().is_some_and(|o| o == owner))
            .map(|a| a.range())
    }

    /// Frees every allocation of `owner` in one step and returns them, in
    /// increasing address order. Freeing something is one mutation (the
    /// generation moves by one); finding nothing changes nothing.
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Owner};
    ///
    /// let mut mmio = AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap();
    /// let net0 = Owner::new("virtio-net0").unwrap();
    /// mmio.owned_by(&net0)
    ///     .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
    ///     .unwrap();
    /// mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
    ///     .unwrap();
    /// mmio.owned_by(&net0)
    ///     .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
    ///     .unwrap();
    /// let freed = mmio.free_owner("virtio-net0");
    /// assert_eq!(freed.len(), 2);
    /// assert_eq!(mmio.len(), 1);
    /// ```
    ///
    /// Time: O(n + k log n), k = allocations freed.
    pub fn free_owner(&mut self, owner: &str) -> Vec<RangeInclusive> {
        let freed: Vec<RangeInclusive> = self.allocations_of(owner).collect();
        for range in &freed {
            self.allocations.remove(range.start());
        }
        if !freed.is_empty() {
            self.bump();
        }
        freed
    }

    /// A copy of this allocator with every owner removed: the explicit,
    /// lossy step before saving in a form that has no owners (format
    /// version 1, vm-allocator 0.1.x's serde shape), which otherwise refuse
    /// a state with owners rather than drop them silently. The copy has the
    /// same allocations and generation.
    ///
    /// Time: O(1) if no allocation has an owner, else O(n).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Owner};
    ///
    /// let mut mmio = AddressAllocator::new(0xd000_0000, 0x10_0000)?;
    /// let net0 = Owner::new("virtio-net0")?;
    /// mmio.owned_by(&net0)
    ///     .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)?;
    /// // Format version 1 has no owners: it refuses them rather than drop them.
    /// assert!(mmio.to_bytes_version(1).is_err());
    /// let plain = mmio.without_owners();
    /// assert!(!plain.has_owners());
    /// assert_eq!(
    ///     plain.iter().collect::<Vec<_>>(),
    ///     mmio.iter().collect::<Vec<_>>()
    /// );
    /// assert!(plain.to_bytes_version(1).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn without_owners(&self) -> AddressAllocator {
        if !self.has_owners() {
            return self.clone();
        }
        AddressAllocator {
            space: self.space,
            allocations: SpanTree::from_sorted(self.allocations.iter()),
            generation: self.generation,
        }
    }

    /// True if any allocation has an owner. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Owner};
    ///
    /// let mut mmio = AddressAllocator::new(0xd000_0000, 0x10_0000)?;
    /// mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)?;
    /// assert!(!mmio.has_owners());
    /// mmio.owned_by(&Owner::new("rtc")?)
    ///     .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)?;
    /// assert!(mmio.has_owners());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn has_owners(&self) -> bool {
        self.allocations.tagged() > 0
    }

    /// The generation: 0 for a new allocator, one more after every
    /// successful mutation (allocate, free, `set_owner`, `free_owner`), the
    /// same after a failed one. It is saved and restored with the state;
    /// equality ignores it. Time: O(1).
    ///
    /// Generations count modulo 2^64: the mutation after `u64::MAX` gives
    /// 0 (`u64::wrapping_add`); it never fails or panics. A generation is
    /// compared for equality only (a [`Delta`](crate::Delta) names its
    /// base by generation and checksum), never ordered, so wrapping loses
    /// nothing. Only a state loaded at such a generation gets near it.
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AddressAllocatorBuilder, AllocPolicy};
    ///
    /// let mut a = AddressAllocator::new(0, 0x1000).unwrap();
    /// let r = a.allocate(0x100, 0x100, AllocPolicy::FirstMatch).unwrap();
    /// assert!(a.allocate(0x2000, 1, AllocPolicy::FirstMatch).is_err());
    /// a.free(&r).unwrap();
    /// assert_eq!(a.generation(), 2);
    ///
    /// // After u64::MAX comes 0.
    /// let mut last = AddressAllocatorBuilder::new(a.space())
    ///     .generation(u64::MAX)
    ///     .finish()
    ///     .unwrap();
    /// last.allocate(0x100, 0x100, AllocPolicy::FirstMatch)
    ///     .unwrap();
    /// assert_eq!(last.generation(), 0);
    /// ```
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Counts one successful mutation (modulo 2^64).
    #[inline]
    pub(crate) fn bump(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    /// Sets the generation (a diff being applied says what it becomes).
    pub(crate) fn set_generation(&mut self, generation: u64) {
        self.generation = generation;
    }

    /// Removes `range` if it is exactly a live allocation owned by `owner`;
    /// false (and nothing changed) otherwise. The generation stays.
    pub(crate) fn remove_exact(&mut self, range: RangeInclusive, owner: Option<&Owner>) -> bool {
        match self.allocations.floor_entry(range.start()) {
            Some((span, o))
                if span.start == range.start() && span.end == range.end() && o == owner =>
            {
                self.allocations.remove(span.start);
                true
            }
            _ => false,
        }
    }

    /// Adds the allocation `range` owned by `owner` if it is free and inside
    /// the space; false (and nothing changed) otherwise. The generation
    /// stays.
    pub(crate) fn insert_free(&mut self, range: RangeInclusive, owner: Option<Owner>) -> bool {
        let span = Span::new(range.start(), range.end());
        if !self.space.contains(&range) || self.allocations.overlap(span).is_some() {
            return false;
        }
        self.allocations.insert_tagged(span, owner);
        true
    }

    /// First address of the allocator.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::AddressAllocator;
    ///
    /// assert_eq!(
    ///     AddressAllocator::new(0xd000_0000, 0x1000)?.base(),
    ///     0xd000_0000
    /// );
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn base(&self) -> u64 {
        self.space.start()
    }

    /// Last address of the allocator.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::AddressAllocator;
    ///
    /// assert_eq!(
    ///     AddressAllocator::new(0xd000_0000, 0x1000)?.end(),
    ///     0xd000_0fff
    /// );
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn end(&self) -> u64 {
        self.space.end()
    }

    /// The managed address space.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, RangeInclusive};
    ///
    /// let mmio = AddressAllocator::new(0xd000_0000, 0x1000)?;
    /// assert_eq!(mmio.space(), RangeInclusive::new(0xd000_0000, 0xd000_0fff)?);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn space(&self) -> RangeInclusive {
        self.space
    }

    /// Number of live allocations. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy};
    ///
    /// let mut pio = AddressAllocator::new(0, 0x10000)?;
    /// pio.allocate(8, 1, AllocPolicy::ExactMatch(0x3f8))?;
    /// pio.allocate(8, 1, AllocPolicy::ExactMatch(0x2f8))?;
    /// assert_eq!(pio.len(), 2);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn len(&self) -> u64 {
        self.allocations.len()
    }

    /// True if nothing is allocated. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy};
    ///
    /// let mut pio = AddressAllocator::new(0, 0x10000)?;
    /// assert!(pio.is_empty());
    /// let com1 = pio.allocate(8, 1, AllocPolicy::ExactMatch(0x3f8))?;
    /// assert!(!pio.is_empty());
    /// pio.free(&com1)?;
    /// assert!(pio.is_empty());
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.allocations.len() == 0
    }

    /// Number of allocated addresses. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy};
    ///
    /// let mut pio = AddressAllocator::new(0, 0x10000)?;
    /// pio.allocate(8, 1, AllocPolicy::ExactMatch(0x3f8))?;
    /// pio.allocate(0x20, 0x20, AllocPolicy::FirstMatch)?;
    /// assert_eq!(pio.used(), 0x28);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn used(&self) -> u64 {
        self.allocations.covered()
    }

    /// Number of free addresses. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy};
    ///
    /// let mut pio = AddressAllocator::new(0, 0x10000)?;
    /// pio.allocate(8, 1, AllocPolicy::ExactMatch(0x3f8))?;
    /// assert_eq!(pio.available(), 0x10000 - 8);
    /// assert_eq!(pio.available() + pio.used(), pio.space().len());
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn available(&self) -> u64 {
        self.space.len() - self.allocations.covered()
    }

    /// True if `address` lies inside a live allocation. Time: O(log n).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy};
    ///
    /// let mut pio = AddressAllocator::new(0, 0x10000)?;
    /// pio.allocate(8, 1, AllocPolicy::ExactMatch(0x3f8))?;
    /// assert!(pio.is_allocated(0x3f8) && pio.is_allocated(0x3ff));
    /// assert!(!pio.is_allocated(0x400));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn is_allocated(&self, address: u64) -> bool {
        self.allocations.containing(address).is_some()
    }

    /// The live allocation that contains `address`, if any. Time: O(log n).
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy};
    ///
    /// let mut pio = AddressAllocator::new(0x0, 0x10000).unwrap();
    /// let r = pio
    ///     .allocate(0x8, 0x8, AllocPolicy::ExactMatch(0x3f8))
    ///     .unwrap();
    /// assert_eq!(pio.allocation_containing(0x3fc), Some(r));
    /// assert_eq!(pio.allocation_containing(0x400), None);
    /// ```
    pub fn allocation_containing(&self, address: u64) -> Option<RangeInclusive> {
        self.allocations
            .containing(address)
            .map(|s| RangeInclusive::from_parts(s.start, s.end))
    }

    /// The live allocations in increasing address order. Time: O(1) per item.
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy};
    ///
    /// let mut a = AddressAllocator::new(0x1000, 0x10000).unwrap();
    /// let high = a.allocate(0x100, 0x100, AllocPolicy::LastMatch).unwrap();
    /// let low = a.allocate(0x100, 0x100, AllocPolicy::FirstMatch).unwrap();
    /// assert_eq!(a.iter().collect::<Vec<_>>(), vec![low, high]);
    /// ```
    pub fn iter(&self) -> Allocations<'_> {
        Allocations(self.allocations.iter())
    }

    /// The live allocations with their owners, in increasing address
    /// order. Time: O(1) per item.
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Owner};
    ///
    /// let mut a = AddressAllocator::new(0, 0x10000).unwrap();
    /// let gpu = Owner::new("gpu").unwrap();
    /// a.allocate(0x100, 0x100, AllocPolicy::FirstMatch).unwrap();
    /// a.owned_by(&gpu)
    ///     .allocate(0x100, 0x100, AllocPolicy::FirstMatch)
    ///     .unwrap();
    /// let owners: Vec<_> = a
    ///     .allocations()
    ///     .map(|x| x.owner().map(|o| o.as_str()))
    ///     .collect();
    /// assert_eq!(owners, vec![None, Some("gpu")]);
    /// ```
    pub fn allocations(&self) -> AllocationsWithOwners<'_> {
        AllocationsWithOwners(self.allocations.iter_tagged())
    }

    /// The live allocations that overlap `bounds`, in increasing address
    /// order; an allocation that straddles an end of `bounds` is returned
    /// whole. Time: O(log n) to start, O(1) per item.
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy};
    ///
    /// let mut a = AddressAllocator::new(0, 0x10000).unwrap();
    /// let pages: Vec<_> = (0..8)
    ///     .map(|_| a.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch).unwrap())
    ///     .collect();
    /// // 0x1800..0x3000 touches the second and third pages.
    /// assert_eq!(a.range(0x1800..0x3000).collect::<Vec<_>>(), pages[1..3]);
    /// // From the back, and with an exact length.
    /// assert_eq!(a.range(0x5000..).rev().next(), Some(pages[7]));
    /// assert_eq!(a.range(..=0x1000).len(), 2);
    /// ```
    pub fn range(&self, bounds: impl RangeBounds<u64>) -> Allocations<'_> {
        let (first, last) = inclusive_bounds(&bounds);
        Allocations(self.allocations.iter_overlapping(first, last))
    }

    /// [`AddressAllocator::range`] with the owners.
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Owner};
    ///
    /// let mut a = AddressAllocator::new(0, 0xffff).unwrap();
    /// let nic = Owner::new("virtio-net0").unwrap();
    /// a.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch).unwrap();
    /// a.owned_by(&nic)
    ///     .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
    ///     .unwrap();
    /// let found: Vec<_> = a.allocations_in(0x1000..=0x1fff).collect();
    /// assert_eq!(found.len(), 1);
    /// assert_eq!(found[0].owner().map(|o| o.as_str()), Some("virtio-net0"));
    /// ```
    pub fn allocations_in(&self, bounds: impl RangeBounds<u64>) -> AllocationsWithOwners<'_> {
        let (first, last) = inclusive_bounds(&bounds);
        AllocationsWithOwners(self.allocations.iter_tagged_overlapping(first, last))
    }

    /// The tree of allocations, for the layers that compare and encode it.
    pub(crate) fn tree(&self) -> &SpanTree {
        &self.allocations
    }

    /// Builds an allocator from a validated tree (see `crate::validate`).
    pub(crate) fn from_parts(
        space: RangeInclusive,
        allocations: SpanTree,
        generation: u64,
    ) -> Self {
        AddressAllocator {
            space,
            allocations,
            generation,
        }
    }

    /// Checks the allocator's internal invariants; only in builds of this
    /// repository (tests, fuzzing), never in the published crate.
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    #[doc(hidden)]
    pub fn check_invariants(&self) -> core::result::Result<(), alloc::string::String> {
        self.allocations.check_invariants()?;
        if let Some(outside) = self.allocations.iter().find(|s| {
            !self
                .space
                .contains(&RangeInclusive::from_parts(s.start, s.end))
        }) {
            return Err(alloc::format!(
                "allocation {:#x}-{:#x} lies outside the space {:?}",
                outside.start,
                outside.end,
                self.space
            ));
        }
        Ok(())
    }
}

/// One live allocation and its owner.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{AddressAllocator, AllocPolicy, Owner};
///
/// let mut pio = AddressAllocator::new(0, 0x10000)?;
/// let serial = Owner::new("serial0")?;
/// let com1 = pio
///     .owned_by(&serial)
///     .allocate(8, 1, AllocPolicy::ExactMatch(0x3f8))?;
/// let a = pio.allocations().next().unwrap();
/// assert_eq!((a.range(), a.owner()), (com1, Some(&serial)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Allocation<'a> {
    range: RangeInclusive,
    owner: Option<&'a Owner>,
}

impl<'a> Allocation<'a> {
    /// The allocated range.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, RangeInclusive};
    ///
    /// let mut pio = AddressAllocator::new(0, 0x10000)?;
    /// pio.allocate(8, 1, AllocPolicy::ExactMatch(0x3f8))?;
    /// let ranges: Vec<RangeInclusive> = pio.allocations().map(|a| a.range()).collect();
    /// assert_eq!(ranges, [RangeInclusive::new(0x3f8, 0x3ff)?]);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn range(&self) -> RangeInclusive {
        self.range
    }

    /// Its owner, if it has one.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Owner};
    ///
    /// let mut pio = AddressAllocator::new(0, 0x10000)?;
    /// pio.allocate(8, 1, AllocPolicy::ExactMatch(0x2f8))?;
    /// pio.owned_by(&Owner::new("serial0")?)
    ///     .allocate(8, 1, AllocPolicy::ExactMatch(0x3f8))?;
    /// let owners: Vec<_> = pio
    ///     .allocations()
    ///     .map(|a| a.owner().map(|o| o.as_str()))
    ///     .collect();
    /// assert_eq!(owners, [None, Some("serial0")]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn owner(&self) -> Option<&'a Owner> {
        self.owner
    }
}

impl OwnedBy<'_, AddressAllocator> {
    /// [`AddressAllocator::allocate`], owned by this view's owner.
    ///
    /// Time: O(log n).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Owner};
    ///
    /// let mut mmio = AddressAllocator::new(0xd000_0000, 0x10_0000)?;
    /// let blk0 = Owner::new("virtio-blk0")?;
    /// let bar = mmio
    ///     .owned_by(&blk0)
    ///     .allocate(0x1000, 0x1000, AllocPolicy::LastMatch)?;
    /// assert_eq!(bar.end(), 0xd00f_ffff);
    /// assert_eq!(mmio.owner_at(bar.start()), Some(&blk0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn allocate(
        &mut self,
        size: u64,
        alignment: u64,
        policy: AllocPolicy,
    ) -> Result<RangeInclusive> {
        self.allocate_with(Constraint::new(size, alignment, policy)?)
    }

    /// [`AddressAllocator::allocate_with`], owned by this view's owner.
    ///
    /// Time: O(log n).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Constraint, Owner};
    ///
    /// let mut mmio = AddressAllocator::new(0xc000_0000, 0x4000_0000)?;
    /// let gpu = Owner::new("gpu0")?;
    /// let c = Constraint::new(0x10_0000, 0x10_0000, AllocPolicy::FirstMatch)?
    ///     .with_min_address(0xe000_0000);
    /// let bar = mmio.owned_by(&gpu).allocate_with(c)?;
    /// assert_eq!(bar.start(), 0xe000_0000);
    /// assert_eq!(mmio.allocations_of("gpu0").collect::<Vec<_>>(), [bar]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn allocate_with(&mut self, constraint: Constraint) -> Result<RangeInclusive> {
        let owner = self.owner().clone();
        self.target().allocate_tagged(constraint, Some(owner))
    }
}

/// The live allocations of an [`AddressAllocator`] with their owners, in
/// increasing order.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{AddressAllocator, AllocPolicy, AllocationsWithOwners, Owner};
///
/// let mut pio = AddressAllocator::new(0, 0x10000)?;
/// pio.allocate(8, 1, AllocPolicy::ExactMatch(0x2f8))?;
/// pio.owned_by(&Owner::new("serial0")?)
///     .allocate(8, 1, AllocPolicy::ExactMatch(0x3f8))?;
/// let mut all: AllocationsWithOwners<'_> = pio.allocations();
/// assert_eq!(all.size_hint(), (2, Some(2)));
/// assert_eq!(all.next().unwrap().owner(), None);
/// assert_eq!(all.next().unwrap().owner().unwrap().as_str(), "serial0");
/// assert!(all.next().is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct AllocationsWithOwners<'a>(TaggedSpans<'a>);

impl<'a> Iterator for AllocationsWithOwners<'a> {
    type Item = Allocation<'a>;

    fn next(&mut self) -> Option<Allocation<'a>> {
        self.0.next().map(|(s, owner)| Allocation {
            range: RangeInclusive::from_parts(s.start, s.end),
            owner,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<'a> DoubleEndedIterator for AllocationsWithOwners<'a> {
    fn next_back(&mut self) -> Option<Allocation<'a>> {
        self.0.next_back().map(|(s, owner)| Allocation {
            range: RangeInclusive::from_parts(s.start, s.end),
            owner,
        })
    }
}

impl ExactSizeIterator for AllocationsWithOwners<'_> {}

impl FusedIterator for AllocationsWithOwners<'_> {}

/// The live allocations of an [`AddressAllocator`], in increasing order.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{AddressAllocator, AllocPolicy, Allocations};
///
/// let mut pio = AddressAllocator::new(0, 0x10000)?;
/// let com2 = pio.allocate(8, 1, AllocPolicy::ExactMatch(0x2f8))?;
/// let com1 = pio.allocate(8, 1, AllocPolicy::ExactMatch(0x3f8))?;
/// let ranges: Allocations<'_> = pio.iter();
/// assert_eq!(ranges.collect::<Vec<_>>(), [com2, com1]);
/// // `&AddressAllocator` is iterable too.
/// assert_eq!((&pio).into_iter().count(), 2);
/// # Ok::<(), vm_allocator::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Allocations<'a>(Spans<'a>);

impl Iterator for Allocations<'_> {
    type Item = RangeInclusive;

    fn next(&mut self) -> Option<RangeInclusive> {
        self.0
            .next()
            .map(|s| RangeInclusive::from_parts(s.start, s.end))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Allocations<'_> {
    fn next_back(&mut self) -> Option<RangeInclusive> {
        self.0
            .next_back()
            .map(|s| RangeInclusive::from_parts(s.start, s.end))
    }
}

impl ExactSizeIterator for Allocations<'_> {}

impl FusedIterator for Allocations<'_> {}

impl<'a> IntoIterator for &'a AddressAllocator {
    type Item = RangeInclusive;
    type IntoIter = Allocations<'a>;

    fn into_iter(self) -> Allocations<'a> {
        self.iter()
    }
}

impl fmt::Debug for AddressAllocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddressAllocator")
            .field("space", &self.space)
            .field("generation", &self.generation)
            .field("allocations", &DebugList(self))
            .finish()
    }
}

struct DebugList<'a>(&'a AddressAllocator);

impl fmt::Debug for DebugList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for a in self.0.allocations() {
            match a.owner() {
                None => list.entry(&a.range()),
                Some(owner) => list.entry(&(a.range(), owner)),
            };
        }
        list.finish()
    }
}

/// Two allocators are equal when they manage the same space and hold the
/// same allocations with the same owners, however they got there; the
/// generation is not compared.
impl PartialEq for AddressAllocator {
    fn eq(&self, other: &Self) -> bool {
        self.space == other.space
            && self.len() == other.len()
            && (self.allocations.ptr_eq(&other.allocations)
                || self
                    .allocations
                    .iter_tagged()
                    .eq(other.allocations.iter_tagged()))
    }
}

impl Eq for AddressAllocator {}

/// Hashes what equality compares: the space and the allocations with their
/// owners (not the generation).
impl core::hash::Hash for AddressAllocator {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.space.hash(state);
        self.len().hash(state);
        for a in self.allocations() {
            a.hash(state);
        }
    }
}

/// Orders by space, then by the sorted list of allocations and their owners
/// (no owner first).
impl PartialOrd for AddressAllocator {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AddressAllocator {
    fn cmp(&self, other: &Self) -> Ordering {
        self.space
            .cmp(&other.space)
            .then_with(|| self.allocations().cmp(other.allocations()))
    }
}
