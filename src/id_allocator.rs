// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Allocation of integer ids: GSIs, MSI vectors, memory-slot ids, device ids.
//!
//! Blocks of ids are `core::ops::RangeInclusive<u32>`, not the crate's own
//! [`RangeInclusive`](crate::RangeInclusive), on purpose: the crate's type
//! is 0.1.4's `u64` address range, whose constructor checks `start <= end`
//! and whose methods (`len`, `overlaps`, `contains`) are about addresses.
//! Ids are `u32`, as in 0.1.4's `allocate_id`, and a block of them is
//! what a VMM writes as `24..=31`, iterates with `for gsi in block` and
//! matches in patterns; a second address-style type would add a
//! conversion to every call without catching any error the allocator does
//! not already report.
//!
//! Answers that may come from pools of either kind (a set's
//! `allocations_of` and `free_owner`, diffs and deltas) give ids as the
//! crate's range, widened exactly; `TryFrom` converts both ways. The
//! crate docs state the rule: [Ranges of ids and of
//! addresses](crate#ranges-of-ids-and-of-addresses).

use alloc::vec::Vec;
use core::fmt;
use core::iter::FusedIterator;
use core::ops::{RangeBounds, RangeInclusive as IdRange};

use crate::engine::idset::{IdSet, IdSetRuns, Seek};
use crate::engine::{SpanTree, Tag, TaggedSpans};
use crate::id_owners::IdOwners;
use crate::range::inclusive_bounds;
use crate::{Error, OwnedBy, Owner, Result};

/// An allocator of unique ids from the interval `[range_base, range_end]`.
///
/// It always hands out the smallest free id, can reserve a given id
/// ([`allocate_id_at`](Self::allocate_id_at)) and contiguous, aligned blocks
/// of ids ([`allocate_ids`](Self::allocate_ids)). Allocated ids are kept in
/// a persistent radix tree of bitmaps: `clone` is O(1) and every single-id
/// operation walks at most five nodes (two for ids below 2^18), however
/// fragmented the ids are.
///
/// Like vm-allocator 0.1.4 it remembers the highest id ever handed out, so
/// that freeing an id reports [`Error::NeverAllocated`] or
/// [`Error::AlreadyReleased`] exactly as 0.1.4 does.
///
/// Allocated ids may carry an [`Owner`] ([`owned_by`](Self::owned_by));
/// the [`generation`](Self::generation) moves forward by one on every
/// successful mutation.
///
/// # Example
///
/// ```rust
/// use vm_allocator::{Error, IdAllocator};
///
/// // Legacy x86 GSIs 5..=23.
/// let mut gsi = IdAllocator::new(5, 23).unwrap();
/// assert_eq!(gsi.allocate_id().unwrap(), 5);
/// assert_eq!(gsi.allocate_id().unwrap(), 6);
/// assert_eq!(gsi.free_id(5).unwrap(), 5);
/// assert_eq!(gsi.free_id(5).unwrap_err(), Error::AlreadyReleased(5));
/// assert_eq!(gsi.allocate_id().unwrap(), 5); // smallest free id
///
/// // Restore a fixed assignment, then hand out a block of 4 aligned vectors.
/// assert_eq!(gsi.allocate_id_at(12).unwrap(), 12);
/// assert_eq!(gsi.allocate_ids(4, 4).unwrap(), 8..=11);
/// ```
#[derive(Clone)]
pub struct IdAllocator {
    range_base: u32,
    range_end: u32,
    /// One past the highest id ever allocated (0.1.4's `next_id`):
    /// in `range_base..=range_end + 1`.
    next_id: u64,
    /// The allocated ids.
    ids: IdSet,
    /// The owners of allocated ids.
    owners: IdOwners,
    /// Successful mutations so far (see `generation`).
    generation: u64,
    /// Where the searches for free ids start: no id of
    /// `range_base..free_from` is free. A cache, outside equality, hashing,
    /// ordering and the saved state.
    free_from: u32,
}

impl IdAllocator {
    /// Creates an allocator of the ids `range_base..=range_end`.
    ///
    /// Fails with [`Error::InvalidRange`] when `range_end < range_base`.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Error, IdAllocator};
    ///
    /// let gsi = IdAllocator::new(5, 23)?;
    /// assert_eq!((gsi.range_base(), gsi.range_end()), (5, 23));
    /// assert_eq!(gsi.available(), 19);
    /// assert_eq!(
    ///     IdAllocator::new(23, 5).unwrap_err(),
    ///     Error::InvalidRange(23, 5)
    /// );
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new(range_base: u32, range_end: u32) -> Result<Self> {
        if range_end < range_base {
            return Err(Error::InvalidRange(range_base.into(), range_end.into()));
        }
        Ok(IdAllocator {
            range_base,
            range_end,
            next_id: range_base.into(),
            ids: IdSet::new(),
            owners: IdOwners::new(),
            generation: 0,
            free_from: range_base,
        })
    }

    /// Allocates the smallest free id.
    ///
    /// Fails when every id is allocated: with [`Error::Overflow`] if the range
    /// ends at `u32::MAX`, else with [`Error::ResourceNotAvailable`] (as 0.1.4).
    ///
    /// Time: O(d), d <= 4 the height of the id tree (plus O(log o) with an
    /// owner, o = owner spans).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Error, IdAllocator};
    ///
    /// let mut ids = IdAllocator::new(0, 1)?;
    /// assert_eq!(ids.allocate_id()?, 0);
    /// assert_eq!(ids.allocate_id()?, 1);
    /// assert_eq!(ids.allocate_id(), Err(Error::ResourceNotAvailable));
    ///
    /// let mut top = IdAllocator::new(u32::MAX, u32::MAX)?;
    /// top.allocate_id()?;
    /// assert_eq!(top.allocate_id(), Err(Error::Overflow));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn allocate_id(&mut self) -> Result<u32> {
        // Every id below `free_from` is taken. When it is also the id set's
        // frontier (ids handed out in order, or the smallest free id freed
        // last) and free, taking it moves the frontier: no search.
        let id = self.free_from;
        if self.ids.push_frontier(id) {
            self.free_from = id.saturating_add(1).min(self.range_end);
            self.next_id = self.next_id.max(u64::from(id) + 1);
            self.bump();
            return Ok(id);
        }
        self.allocate_id_searching()
    }

    /// `allocate_id` when the smallest free id is not at the frontier.
    #[inline(never)]
    fn allocate_id_searching(&mut self) -> Result<u32> {
        self.allocate_id_tagged(None)
    }

    #[inline]
    fn allocate_id_tagged(&mut self, tag: Tag) -> Result<u32> {
        let id =
            if u64::from(self.free_from) == self.next_id && self.next_id <= self.range_end.into() {
                // Every id below `next_id` is taken and none above it is (ids
                // handed out in order): the answer needs no search.
                let id = self.free_from;
                self.ids.insert_range(id, id);
                id
            } else {
                self.ids
                    .insert_first_absent(self.free_from, self.range_end)
                    .ok_or_else(|| self.exhausted())?
            };
        // Every id up to this one is taken now.
        self.free_from = id.saturating_add(1).min(self.range_end);
        self.allocated(id, id, tag);
        Ok(id)
    }

    /// Allocates exactly `id`.
    ///
    /// Fails with [`Error::OutOfRange`] when `id` is outside the range and
    /// [`Error::ResourceNotAvailable`] when it is already allocated.
    ///
    /// ```rust
    /// use vm_allocator::{Error, IdAllocator};
    ///
    /// let mut slots = IdAllocator::new(0, 31).unwrap();
    /// assert_eq!(slots.allocate_id_at(3).unwrap(), 3);
    /// assert_eq!(
    ///     slots.allocate_id_at(3).unwrap_err(),
    ///     Error::ResourceNotAvailable
    /// );
    /// assert_eq!(slots.allocate_id_at(32).unwrap_err(), Error::OutOfRange(32));
    /// assert_eq!(slots.allocate_id().unwrap(), 0);
    /// ```
    ///
    /// Time: O(d) (plus O(log o) with an owner).
    pub fn allocate_id_at(&mut self, id: u32) -> Result<u32> {
        self.allocate_id_at_tagged(id, None)
    }

    #[inline]
    fn allocate_id_at_tagged(&mut self, id: u32, tag: Tag) -> Result<u32> {
        self.check_in_range(id)?;
        if !self.ids.insert_if_absent(id) {
            return Err(Error::ResourceNotAvailable);
        }
        self.allocated(id, id, tag);
        Ok(id)
    }

    /// Allocates `count` consecutive ids, the first a multiple of `align`,
    /// at the lowest place they fit, and returns them.
    ///
    /// Fails with [`Error::InvalidSize`] for a zero count,
    /// [`Error::InvalidAlignment`] when `align` is not a power of two and
    /// [`Error::ResourceNotAvailable`] when no such block is free.
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// // MSI vectors come in aligned power-of-two blocks.
    /// let mut msi = IdAllocator::new(24, 255).unwrap();
    /// assert_eq!(msi.allocate_id().unwrap(), 24);
    /// assert_eq!(msi.allocate_ids(8, 8).unwrap(), 32..=39);
    /// assert_eq!(msi.allocate_ids(4, 4).unwrap(), 28..=31);
    /// ```
    ///
    /// Time: O(d) when `count` is a power of two no larger than `align`
    /// (MSI-style blocks); other shapes also pay O(d) per partly-used block
    /// of ids with room for `count` that they pass (blocks without room are
    /// skipped whole).
    pub fn allocate_ids(&mut self, count: u32, align: u32) -> Result<IdRange<u32>> {
        self.allocate_ids_tagged(count, align, None)
    }

    fn allocate_ids_tagged(&mut self, count: u32, align: u32, tag: Tag) -> Result<IdRange<u32>> {
        if count == 0 {
            return Err(Error::InvalidSize(0));
        }
        if !align.is_power_of_two() {
            return Err(Error::InvalidAlignment);
        }
        let first = self
            .ids
            .first_fit(
                count.into(),
                align.trailing_zeros(),
                self.free_from,
                self.range_end,
            )
            .ok_or(Error::ResourceNotAvailable)?;
        // The block lies inside the range, so this cannot overflow.
        let last = first + (count - 1);
        self.ids.insert_range(first, last);
        self.allocated(first, last, tag);
        Ok(first..=last)
    }

    /// Frees `id`.
    ///
    /// Fails with [`Error::OutOfRange`] when `id` is outside the range,
    /// [`Error::NeverAllocated`] when it lies at or above every id ever
    /// handed out, and [`Error::AlreadyReleased`] when it lies below one and
    /// is free (as in 0.1.4, which handed ids out in order; an id skipped by
    /// [`allocate_id_at`](Self::allocate_id_at) also counts as released).
    ///
    /// Time: O(d) (plus O(log o) when some id has an owner).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Error, IdAllocator};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let irq = gsi.allocate_id()?;
    /// assert_eq!(gsi.free_id(irq)?, 5);
    /// assert_eq!(gsi.free_id(irq), Err(Error::AlreadyReleased(5)));
    /// assert_eq!(gsi.free_id(9), Err(Error::NeverAllocated(9)));
    /// assert_eq!(
    ///     gsi.free_id(2).unwrap_err().to_string(),
    ///     "id 2 is not in the allocator's range"
    /// );
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn free_id(&mut self, id: u32) -> Result<u32> {
        self.check_in_range(id)?;
        if !self.ids.remove_if_present(id) {
            return Err(self.not_allocated(id));
        }
        self.freed(id, id);
        Ok(id)
    }

    /// Frees every id in `ids`, all or nothing.
    ///
    /// Fails, changing nothing, with [`Error::InvalidRange`] when `ids` is
    /// empty, [`Error::OutOfRange`] for the first id outside the range, and
    /// with [`Error::NeverAllocated`] or [`Error::AlreadyReleased`] for the
    /// first id that is not allocated.
    ///
    /// ```rust
    /// use vm_allocator::{Error, IdAllocator};
    ///
    /// let mut msi = IdAllocator::new(0, 63).unwrap();
    /// let block = msi.allocate_ids(4, 4).unwrap();
    /// msi.free_ids(block.clone()).unwrap();
    /// assert_eq!(msi.free_ids(block).unwrap_err(), Error::AlreadyReleased(0));
    /// ```
    ///
    /// Time: O(d) for ids inside one leaf of the tree, O(d · 64) for any
    /// other range (plus O((k + 1) log o) when some id has an owner, k =
    /// owner spans touched).
    pub fn free_ids(&mut self, ids: IdRange<u32>) -> Result<()> {
        let (first, last) = self.check_allocated(&ids)?;
        self.ids.remove_range(first, last);
        self.freed(first, last);
        Ok(())
    }

    /// The bounds of `ids` if every one is allocated, or the error
    /// `free_ids` gives.
    fn check_allocated(&self, ids: &IdRange<u32>) -> Result<(u32, u32)> {
        let (first, last) = (*ids.start(), *ids.end());
        if first > last {
            return Err(Error::InvalidRange(first.into(), last.into()));
        }
        self.check_in_range(first)?;
        self.check_in_range(last)?;
        // The first free id of the range: `first`, or the end of the run
        // that holds it plus one.
        if let Some(free) = self.ids.first_absent(first, last) {
            return Err(self.not_allocated(free));
        }
        Ok((first, last))
    }

    /// Returns a view that allocates ids on behalf of `owner`: every id
    /// allocated through it carries that owner.
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Owner};
    ///
    /// let mut gsi = IdAllocator::new(5, 23).unwrap();
    /// let serial = Owner::new("serial0").unwrap();
    /// assert_eq!(gsi.owned_by(&serial).allocate_id_at(4 + 1).unwrap(), 5);
    /// assert_eq!(gsi.owner_at(5), Some(&serial));
    /// assert_eq!(gsi.owner_at(6), None);
    /// ```
    ///
    /// Time: O(1).
    pub fn owned_by<'a>(&'a mut self, owner: &'a Owner) -> OwnedBy<'a, Self> {
        OwnedBy::new(self, owner)
    }

    /// The owner of `id`, if it is allocated and has one. Time: O(log o),
    /// o = spans of ids with an owner.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Owner};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let rtc = Owner::new("rtc")?;
    /// gsi.owned_by(&rtc).allocate_id_at(8)?;
    /// gsi.allocate_id_at(9)?;
    /// assert_eq!(gsi.owner_at(8).map(Owner::as_str), Some("rtc"));
    /// assert_eq!(gsi.owner_at(9), None); // allocated, no owner
    /// assert_eq!(gsi.owner_at(10), None); // free
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn owner_at(&self, id: u32) -> Option<&Owner> {
        self.owners.owner_at(id.into())
    }

    /// Gives every id of `ids` the owner `owner` (or none).
    ///
    /// Fails, changing nothing, as [`free_ids`](Self::free_ids) does when
    /// not every id of `ids` is allocated. Giving ids the owner they all
    /// have already changes nothing (the generation stays).
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Owner};
    ///
    /// let mut msi = IdAllocator::new(24, 4095).unwrap();
    /// let block = msi.allocate_ids(8, 8).unwrap();
    /// let nvme = Owner::new("nvme0").unwrap();
    /// msi.set_owner(block.clone(), Some(nvme.clone())).unwrap();
    /// assert_eq!(msi.ids_of("nvme0").collect::<Vec<_>>(), vec![block]);
    /// ```
    ///
    /// Time: O((k + 1) log r), k = owner spans touched.
    pub fn set_owner(&mut self, ids: IdRange<u32>, owner: Option<Owner>) -> Result<()> {
        let (first, last) = self.check_allocated(&ids)?;
        let (first, last) = (u64::from(first), u64::from(last));
        if self.owners.all_owned_by(first, last, owner.as_ref()) {
            return Ok(());
        }
        self.owners.untag(first, last);
        if let Some(owner) = owner {
            self.owners.tag(first, last, owner);
        }
        self.bump();
        Ok(())
    }

    /// The ids of `owner`, as maximal runs in increasing order.
    ///
    /// Time: O(k) where k = runs of ids with an owner.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Owner};
    ///
    /// let mut msi = IdAllocator::new(24, 4095)?;
    /// let net0 = Owner::new("virtio-net0")?;
    /// msi.owned_by(&net0).allocate_ids(4, 4)?;
    /// msi.allocate_id()?;
    /// msi.owned_by(&net0).allocate_id()?;
    /// assert_eq!(
    ///     msi.ids_of("virtio-net0").collect::<Vec<_>>(),
    ///     [24..=27, 29..=29]
    /// );
    /// assert_eq!(msi.ids_of("nobody").count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ids_of<'a>(&'a self, owner: &'a str) -> impl Iterator<Item = IdRange<u32>> + 'a {
        self.owners
            .iter()
            .filter(move |(_, o)| o.is_some_and(|o| o == owner))
            .map(|(s, _)| s.start as u32..=s.end as u32)
    }

    /// Frees every id of `owner` in one step and returns them as maximal
    /// runs in increasing order. Freeing something is one mutation (the
    /// generation moves by one); finding nothing changes nothing.
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Owner};
    ///
    /// let mut gsi = IdAllocator::new(5, 23).unwrap();
    /// let net0 = Owner::new("virtio-net0").unwrap();
    /// gsi.owned_by(&net0).allocate_id().unwrap();
    /// gsi.allocate_id().unwrap();
    /// gsi.owned_by(&net0).allocate_id().unwrap();
    /// assert_eq!(gsi.free_owner("virtio-net0"), vec![5..=5, 7..=7]);
    /// assert_eq!(gsi.iter().collect::<Vec<_>>(), vec![6]);
    /// ```
    ///
    /// Time: O((k + 1) log r), k = runs of the owner's ids.
    pub fn free_owner(&mut self, owner: &str) -> Vec<IdRange<u32>> {
        let freed: Vec<IdRange<u32>> = self.ids_of(owner).collect();
        for ids in &freed {
            let (first, last) = (*ids.start(), *ids.end());
            self.ids.remove_range(first, last);
            self.owners.untag(first.into(), last.into());
            self.free_from = self.free_from.min(first);
        }
        if !freed.is_empty() {
            self.bump();
        }
        freed
    }

    /// A copy with every owner removed: the explicit, lossy step before
    /// saving in a form that has no owners (format version 1, vm-allocator
    /// 0.1.x's serde shape), which otherwise refuse a state with owners
    /// rather than drop them silently. Same ids, next id and generation.
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Owner};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// gsi.owned_by(&Owner::new("rtc")?).allocate_id()?;
    /// // Format version 1 has no owners: it refuses them rather than drop them.
    /// assert!(gsi.to_bytes_version(1).is_err());
    /// let plain = gsi.without_owners();
    /// assert_eq!((plain.owner_at(5), plain.is_allocated(5)), (None, true));
    /// assert!(plain.to_bytes_version(1).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn without_owners(&self) -> IdAllocator {
        IdAllocator {
            owners: IdOwners::new(),
            ..self.clone()
        }
    }

    /// True if any allocated id has an owner. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Owner};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// gsi.allocate_id()?;
    /// assert!(!gsi.has_owners());
    /// gsi.owned_by(&Owner::new("rtc")?).allocate_id()?;
    /// assert!(gsi.has_owners());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn has_owners(&self) -> bool {
        !self.owners.is_empty()
    }

    /// The generation: 0 for a new allocator, one more after every
    /// successful mutation (allocating or freeing ids, `set_owner`,
    /// `free_owner`), the same after a failed one. It is saved and restored
    /// with the state; equality ignores it. Time: O(1).
    ///
    /// Generations count modulo 2^64: the mutation after `u64::MAX` gives
    /// 0 (`u64::wrapping_add`); it never fails or panics. A generation is
    /// compared for equality only (a [`Delta`](crate::Delta) names its
    /// base by generation and checksum), never ordered, so wrapping loses
    /// nothing. Only a state loaded at such a generation gets near it.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, IdAllocatorBuilder};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// assert_eq!(gsi.generation(), 0);
    /// let irq = gsi.allocate_id()?;
    /// assert!(gsi.free_id(20).is_err()); // a failed call changes nothing
    /// gsi.free_id(irq)?;
    /// assert_eq!(gsi.generation(), 2);
    /// // Saved and restored with the state.
    /// assert_eq!(
    ///     IdAllocator::from_bytes(&gsi.to_bytes())
    ///         .unwrap()
    ///         .generation(),
    ///     2
    /// );
    ///
    /// // After u64::MAX comes 0.
    /// let mut last = IdAllocatorBuilder::new(5, 23)
    ///     .unwrap()
    ///     .generation(u64::MAX)
    ///     .finish()
    ///     .unwrap();
    /// last.allocate_id()?;
    /// assert_eq!(last.generation(), 0);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The allocated ids with their owners: maximal runs of ids that share
    /// an owner (or have none), in increasing order. Time: O(1) per item.
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Owner};
    ///
    /// let mut ids = IdAllocator::new(0, 99).unwrap();
    /// let gpu = Owner::new("gpu").unwrap();
    /// ids.allocate_ids(2, 1).unwrap();
    /// ids.owned_by(&gpu).allocate_ids(2, 1).unwrap();
    /// let items: Vec<_> = ids
    ///     .allocations()
    ///     .map(|a| (a.ids(), a.owner().cloned()))
    ///     .collect();
    /// assert_eq!(items, vec![(0..=1, None), (2..=3, Some(gpu))]);
    /// ```
    pub fn allocations(&self) -> IdAllocations<'_> {
        IdAllocations {
            runs: self.ids.runs(),
            owners: self.owners.iter(),
            front: None,
            back: None,
            owner_front: None,
            owner_back: None,
        }
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

    /// Frees the ids `first..=last` if all are allocated with exactly
    /// `owner`; false (and nothing changed) otherwise. The generation stays.
    pub(crate) fn remove_labelled(&mut self, first: u64, last: u64, owner: Option<&Owner>) -> bool {
        let (Ok(first32), Ok(last32)) = (u32::try_from(first), u32::try_from(last)) else {
            return false;
        };
        let allocated = first32 <= last32 && self.ids.first_absent(first32, last32).is_none();
        if !allocated || !self.owners.all_owned_by(first, last, owner) {
            return false;
        }
        self.ids.remove_range(first32, last32);
        self.owners.untag(first, last);
        self.free_from = self.free_from.min(first32);
        true
    }

    /// Allocates the ids `first..=last` with `owner` if all are free and in
    /// the range; false (and nothing changed) otherwise. Neither the next
    /// id nor the generation moves.
    pub(crate) fn insert_labelled(&mut self, first: u64, last: u64, owner: Option<Owner>) -> bool {
        let in_range = first <= last
            && first >= u64::from(self.range_base)
            && last <= u64::from(self.range_end);
        if !in_range || self.ids.next_present(first).is_some_and(|x| x <= last) {
            return false;
        }
        // In the range, so `u32` ids.
        self.ids.insert_range(first as u32, last as u32);
        if let Some(owner) = owner {
            self.owners.tag(first, last, owner);
        }
        true
    }

    /// Sets the next never-allocated id if it lies in
    /// `range_base..=range_end + 1` above every allocated id; false (and
    /// nothing changed) otherwise.
    pub(crate) fn set_next_id_checked(&mut self, next_id: u64) -> bool {
        let highest = self.ids.runs().next_back().map(|(_, last)| u64::from(last));
        let fits = next_id >= u64::from(self.range_base)
            && next_id <= u64::from(self.range_end) + 1
            && highest.is_none_or(|h| h < next_id);
        if fits {
            self.next_id = next_id;
        }
        fits
    }

    /// Returns `true` if `id` is currently allocated. Ids outside the range
    /// never are.
    ///
    /// Time: O(d).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// gsi.allocate_id_at(9)?;
    /// assert!(gsi.is_allocated(9));
    /// assert!(!gsi.is_allocated(10));
    /// assert!(!gsi.is_allocated(100)); // outside the range
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn is_allocated(&self, id: u32) -> bool {
        self.ids.contains(id)
    }

    /// First id of the range.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// assert_eq!(IdAllocator::new(5, 23)?.range_base(), 5);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn range_base(&self) -> u32 {
        self.range_base
    }

    /// Last id of the range.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// assert_eq!(IdAllocator::new(5, 23)?.range_end(), 23);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn range_end(&self) -> u32 {
        self.range_end
    }

    /// Number of allocated ids. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut msi = IdAllocator::new(24, 4095)?;
    /// msi.allocate_ids(8, 8)?;
    /// msi.allocate_id()?;
    /// assert_eq!(msi.used(), 9);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn used(&self) -> u64 {
        self.ids.count()
    }

    /// Number of free ids. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut all = IdAllocator::new(0, u32::MAX)?;
    /// assert_eq!(all.available(), 1 << 32); // a u64: every u32 fits
    /// all.allocate_id()?;
    /// assert_eq!(all.available() + all.used(), 1 << 32);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn available(&self) -> u64 {
        self.range_len() - self.ids.count()
    }

    /// The allocated ids in increasing order. Time: O(1) per id.
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut ids = IdAllocator::new(0, 9).unwrap();
    /// ids.allocate_id_at(7).unwrap();
    /// ids.allocate_id().unwrap();
    /// assert_eq!(ids.iter().collect::<Vec<u32>>(), vec![0, 7]);
    /// ```
    pub fn iter(&self) -> Ids<'_> {
        Ids::new(self.runs(), self.used())
    }

    /// The allocated ids as maximal runs of consecutive ids, in increasing
    /// order (or decreasing, with `rev`). Time: O(1) per run, O(d) to move
    /// to another part of the tree.
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut ids = IdAllocator::new(0, 99).unwrap();
    /// ids.allocate_ids(3, 1).unwrap();
    /// ids.allocate_id_at(10).unwrap();
    /// assert_eq!(ids.runs().collect::<Vec<_>>(), vec![0..=2, 10..=10]);
    /// assert_eq!(ids.runs().rev().next(), Some(10..=10));
    /// ```
    pub fn runs(&self) -> IdRuns<'_> {
        IdRuns(self.ids.runs(), None)
    }

    /// The runs of allocated ids that share an id with `bounds`, clipped
    /// to `bounds`, in increasing order (or decreasing, with `rev`). Time:
    /// O(d + k) for k runs.
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut msi = IdAllocator::new(24, 4095).unwrap();
    /// msi.allocate_ids(8, 8).unwrap(); // 24..=31
    /// msi.allocate_ids(4, 4).unwrap(); // 32..=35
    /// msi.allocate_id_at(40).unwrap();
    /// assert_eq!(
    ///     msi.runs_in(30..=40).collect::<Vec<_>>(),
    ///     vec![30..=35, 40..=40]
    /// );
    /// assert_eq!(msi.runs_in(36..40).len(), 0);
    /// ```
    pub fn runs_in(&self, bounds: impl RangeBounds<u32>) -> IdRuns<'_> {
        let (lo, hi) = inclusive_bounds(&bounds);
        if lo > hi {
            return IdRuns(self.ids.no_runs(), None);
        }
        IdRuns(self.ids.runs_overlapping(lo, hi), Some((lo, hi)))
    }

    /// The allocated ids inside `bounds`, in increasing order (or
    /// decreasing, with `rev`). Time: O(d + k) to start for the k runs
    /// they lie in, O(1) per id.
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut gsi = IdAllocator::new(5, 23).unwrap();
    /// for _ in 0..6 {
    ///     gsi.allocate_id().unwrap(); // 5..=10
    /// }
    /// assert_eq!(gsi.range(8..).collect::<Vec<u32>>(), vec![8, 9, 10]);
    /// assert_eq!(gsi.range(..=6).rev().collect::<Vec<u32>>(), vec![6, 5]);
    /// ```
    pub fn range(&self, bounds: impl RangeBounds<u32>) -> Ids<'_> {
        let runs = self.runs_in(bounds);
        let count = runs.clone().map(|r| run_len(&r)).sum();
        Ids::new(runs, count)
    }

    /// The former name of [`IdAllocator::runs`].
    ///
    /// ```rust
    /// # #![allow(deprecated)]
    /// use vm_allocator::IdAllocator;
    ///
    /// let ids = IdAllocator::from_allocations(0, 99, [0..=2]).unwrap();
    /// assert!(ids.ranges().eq(ids.runs()));
    /// ```
    #[deprecated(since = "0.2.0", note = "use `IdAllocator::runs`")]
    pub fn ranges(&self) -> IdRuns<'_> {
        self.runs()
    }

    /// Checks the allocator's internal invariants; only in builds of this
    /// repository (tests, fuzzing), never in the published crate.
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    #[doc(hidden)]
    pub fn check_invariants(&self) -> core::result::Result<(), alloc::string::String> {
        self.ids.check_invariants()?;
        self.owners.check_invariants(&self.ids)?;
        let base = u64::from(self.range_base);
        let end = u64::from(self.range_end);
        if self.next_id < base || self.next_id > end + 1 {
            return Err(alloc::format!(
                "next id {} outside {base}..={}",
                self.next_id,
                end + 1
            ));
        }
        if self.free_from < self.range_base || self.free_from > self.range_end {
            return Err(alloc::format!(
                "free ids searched from {} outside {base}..={end}",
                self.free_from
            ));
        }
        if let Some(free) = self
            .free_from
            .checked_sub(1)
            .and_then(|below| self.ids.first_absent(self.range_base, below))
        {
            return Err(alloc::format!(
                "id {free} is free below {}, where the searches start",
                self.free_from
            ));
        }
        let mut prev: Option<u32> = None;
        for (first, last) in self.ids.runs() {
            if u64::from(first) < base || u64::from(last) >= self.next_id {
                return Err(alloc::format!(
                    "run {first}..={last} outside {base}..{}",
                    self.next_id
                ));
            }
            if prev.is_some_and(|p| u64::from(p) + 1 >= u64::from(first)) {
                return Err(alloc::format!("runs touch at {first}"));
            }
            prev = Some(last);
        }
        Ok(())
    }

    /// One past the highest id ever allocated (0.1.4's `next_id`).
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id
    }

    /// The runs of allocated ids and the owners, for the layers that
    /// compare and encode them.
    pub(crate) fn trees(&self) -> (&IdSet, &SpanTree) {
        (&self.ids, self.owners.tree())
    }

    /// Builds an allocator from validated parts (see `crate::validate`).
    pub(crate) fn from_parts(
        range_base: u32,
        range_end: u32,
        next_id: u64,
        ids: IdSet,
        owners: SpanTree,
        generation: u64,
    ) -> Self {
        IdAllocator {
            range_base,
            range_end,
            next_id,
            ids,
            owners: IdOwners::from_tree(owners),
            generation,
            free_from: range_base,
        }
    }

    fn range_len(&self) -> u64 {
        u64::from(self.range_end) - u64::from(self.range_base) + 1
    }

    fn check_in_range(&self, id: u32) -> Result<()> {
        if id < self.range_base || id > self.range_end {
            return Err(Error::OutOfRange(id));
        }
        Ok(())
    }

    /// The error for freeing `id`, which is in range but not allocated.
    fn not_allocated(&self, id: u32) -> Error {
        if u64::from(id) >= self.next_id {
            Error::NeverAllocated(id)
        } else {
            Error::AlreadyReleased(id)
        }
    }

    /// The error when no id is free, as 0.1.4 reports it.
    fn exhausted(&self) -> Error {
        if self.range_end == u32::MAX {
            Error::Overflow
        } else {
            Error::ResourceNotAvailable
        }
    }

    /// Records that the ids `first..=last`, just put into the set, are
    /// allocated and owned by `tag`.
    #[inline]
    fn allocated(&mut self, first: u32, last: u32, tag: Tag) {
        if let Some(owner) = tag {
            self.owners.tag(first.into(), last.into(), owner);
        }
        self.next_id = self.next_id.max(u64::from(last) + 1);
        self.bump();
    }

    /// Records that the ids `first..=last`, just taken out of the set, are
    /// free: they lose their owners.
    #[inline]
    fn freed(&mut self, first: u32, last: u32) {
        self.owners.untag(first.into(), last.into());
        self.free_from = self.free_from.min(first);
        self.bump();
    }
}

impl OwnedBy<'_, IdAllocator> {
    /// [`IdAllocator::allocate_id`], owned by this view's owner.
    ///
    /// Time: O(d + log o).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Owner};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let rtc = Owner::new("rtc")?;
    /// let irq = gsi.owned_by(&rtc).allocate_id()?;
    /// assert_eq!((irq, gsi.owner_at(irq)), (5, Some(&rtc)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn allocate_id(&mut self) -> Result<u32> {
        let owner = self.owner().clone();
        self.target().allocate_id_tagged(Some(owner))
    }

    /// [`IdAllocator::allocate_id_at`], owned by this view's owner.
    ///
    /// Time: O(d + log o).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Owner};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let serial = Owner::new("serial0")?;
    /// gsi.owned_by(&serial).allocate_id_at(4 + 1)?;
    /// assert!(gsi.owned_by(&serial).allocate_id_at(5).is_err()); // taken
    /// assert_eq!(gsi.ids_of("serial0").collect::<Vec<_>>(), [5..=5]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn allocate_id_at(&mut self, id: u32) -> Result<u32> {
        let owner = self.owner().clone();
        self.target().allocate_id_at_tagged(id, Some(owner))
    }

    /// [`IdAllocator::allocate_ids`], owned by this view's owner.
    ///
    /// Time: as [`IdAllocator::allocate_ids`], plus O(log o).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Owner};
    ///
    /// let mut msi = IdAllocator::new(24, 4095)?;
    /// let nvme = Owner::new("nvme0")?;
    /// let vectors = msi.owned_by(&nvme).allocate_ids(16, 16)?;
    /// assert_eq!(vectors, 32..=47);
    /// assert!(vectors.clone().all(|v| msi.owner_at(v) == Some(&nvme)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn allocate_ids(&mut self, count: u32, align: u32) -> Result<IdRange<u32>> {
        let owner = self.owner().clone();
        self.target().allocate_ids_tagged(count, align, Some(owner))
    }
}

/// A run of allocated ids that share an owner (or have none).
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{IdAllocation, IdAllocator, Owner};
///
/// let mut gsi = IdAllocator::new(5, 23)?;
/// let rtc = Owner::new("rtc")?;
/// gsi.owned_by(&rtc).allocate_ids(2, 1)?;
/// let run: IdAllocation<'_> = gsi.allocations().next().unwrap();
/// assert_eq!((run.ids(), run.owner()), (5..=6, Some(&rtc)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdAllocation<'a> {
    ids: IdRange<u32>,
    owner: Option<&'a Owner>,
}

impl<'a> IdAllocation<'a> {
    /// The ids.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut ids = IdAllocator::new(0, 99)?;
    /// ids.allocate_ids(3, 1)?;
    /// ids.allocate_id_at(10)?;
    /// let runs: Vec<_> = ids.allocations().map(|a| a.ids()).collect();
    /// assert_eq!(runs, [0..=2, 10..=10]);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn ids(&self) -> IdRange<u32> {
        self.ids.clone()
    }

    /// Their owner, if they have one.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Owner};
    ///
    /// let mut ids = IdAllocator::new(0, 99)?;
    /// ids.allocate_id()?;
    /// ids.owned_by(&Owner::new("gpu")?).allocate_id()?;
    /// let owners: Vec<_> = ids
    ///     .allocations()
    ///     .map(|a| a.owner().map(|o| o.as_str()))
    ///     .collect();
    /// assert_eq!(owners, [None, Some("gpu")]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn owner(&self) -> Option<&'a Owner> {
        self.owner
    }
}

/// The allocated ids of an [`IdAllocator`] with their owners, as maximal
/// runs of ids that share an owner, in increasing order.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{IdAllocations, IdAllocator, Owner};
///
/// let mut ids = IdAllocator::new(0, 99)?;
/// let gpu = Owner::new("gpu")?;
/// ids.allocate_ids(4, 1)?;
/// ids.set_owner(1..=2, Some(gpu.clone()))?;
/// // Runs split where the owner changes.
/// let runs: IdAllocations<'_> = ids.allocations();
/// let runs: Vec<_> = runs.map(|a| (a.ids(), a.owner().is_some())).collect();
/// assert_eq!(runs, [(0..=0, false), (1..=2, true), (3..=3, false)]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct IdAllocations<'a> {
    runs: IdSetRuns<'a>,
    /// Owner spans, which lie inside runs, in order.
    owners: TaggedSpans<'a>,
    /// What is left of the run the front (back) is in.
    front: Option<(u64, u64)>,
    back: Option<(u64, u64)>,
    /// The next owner span from the front (back), taken but not returned.
    owner_front: Option<OwnerSpan<'a>>,
    owner_back: Option<OwnerSpan<'a>>,
}

type OwnerSpan<'a> = (crate::engine::Span, Option<&'a Owner>);

fn id_allocation(first: u64, last: u64, owner: Option<&Owner>) -> IdAllocation<'_> {
    // Runs lie in the allocator's `u32` range.
    IdAllocation {
        ids: first as u32..=last as u32,
        owner,
    }
}

impl<'a> IdAllocations<'a> {
    /// The next run from the front: the rest of the current one, a new
    /// one, or the rest of the one the back started.
    fn front_run(&mut self) -> Option<(u64, u64)> {
        self.front
            .take()
            .or_else(|| self.runs.next().map(|(a, b)| (a.into(), b.into())))
            .or_else(|| self.back.take())
    }

    fn back_run(&mut self) -> Option<(u64, u64)> {
        self.back
            .take()
            .or_else(|| self.runs.next_back().map(|(a, b)| (a.into(), b.into())))
            .or_else(|| self.front.take())
    }

    fn peek_owner_front(&mut self) -> Option<OwnerSpan<'a>> {
        if self.owner_front.is_none() {
            self.owner_front = self.owners.next().or_else(|| self.owner_back.take());
        }
        self.owner_front
    }

    fn peek_owner_back(&mut self) -> Option<OwnerSpan<'a>> {
        if self.owner_back.is_none() {
            self.owner_back = self.owners.next_back().or_else(|| self.owner_front.take());
        }
        self.owner_back
    }
}

impl<'a> Iterator for IdAllocations<'a> {
    type Item = IdAllocation<'a>;

    fn next(&mut self) -> Option<IdAllocation<'a>> {
        let (from, end) = self.front_run()?;
        match self.peek_owner_front() {
            Some((span, owner)) if span.start <= end => {
                if span.start > from {
                    // Untagged ids before the owner span.
                    self.front = Some((span.start, end));
                    return Some(id_allocation(from, span.start - 1, None));
                }
                self.owner_front = None;
                if span.end < end {
                    self.front = Some((span.end + 1, end));
                }
                Some(id_allocation(span.start, span.end, owner))
            }
            _ => Some(id_allocation(from, end, None)),
        }
    }
}

impl<'a> DoubleEndedIterator for IdAllocations<'a> {
    fn next_back(&mut self) -> Option<IdAllocation<'a>> {
        let (start, last) = self.back_run()?;
        match self.peek_owner_back() {
            Some((span, owner)) if span.end >= start => {
                if span.end < last {
                    // Untagged ids after the owner span.
                    self.back = Some((start, span.end));
                    return Some(id_allocation(span.end + 1, last, None));
                }
                self.owner_back = None;
                if span.start > start {
                    self.back = Some((start, span.start - 1));
                }
                Some(id_allocation(span.start, span.end, owner))
            }
            _ => Some(id_allocation(start, last, None)),
        }
    }
}

impl FusedIterator for IdAllocations<'_> {}

/// The allocated ids of an [`IdAllocator`], in increasing order.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{IdAllocator, Ids};
///
/// let mut ids = IdAllocator::new(0, 99)?;
/// ids.allocate_ids(2, 1)?;
/// ids.allocate_id_at(10)?;
/// let all: Ids<'_> = ids.iter();
/// assert_eq!(all.collect::<Vec<u32>>(), [0, 1, 10]);
/// // `&IdAllocator` is iterable too.
/// assert_eq!((&ids).into_iter().max(), Some(10));
/// # Ok::<(), vm_allocator::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Ids<'a> {
    runs: IdRuns<'a>,
    front: Option<IdRange<u32>>,
    back: Option<IdRange<u32>>,
    /// Ids not yet returned.
    remaining: u64,
}

impl<'a> Ids<'a> {
    fn new(runs: IdRuns<'a>, count: u64) -> Ids<'a> {
        Ids {
            runs,
            front: None,
            back: None,
            remaining: count,
        }
    }

    fn took(&mut self, id: Option<u32>) -> Option<u32> {
        if id.is_some() {
            self.remaining -= 1;
        }
        id
    }
}

/// The number of ids in a run.
fn run_len(run: &IdRange<u32>) -> u64 {
    u64::from(*run.end() - *run.start()) + 1
}

impl Iterator for Ids<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        loop {
            if let Some(id) = self.front.as_mut().and_then(Iterator::next) {
                return self.took(Some(id));
            }
            match self.runs.next() {
                Some(run) => self.front = Some(run),
                // The runs are used up: finish the one the back started.
                None => {
                    let id = self.back.as_mut().and_then(Iterator::next);
                    return self.took(id);
                }
            }
        }
    }

    /// Exact when the count fits in a `usize` (up to 2^32 ids do not on
    /// 32-bit targets).
    fn size_hint(&self) -> (usize, Option<usize>) {
        match usize::try_from(self.remaining) {
            Ok(n) => (n, Some(n)),
            Err(_) => (usize::MAX, None),
        }
    }
}

impl DoubleEndedIterator for Ids<'_> {
    fn next_back(&mut self) -> Option<u32> {
        loop {
            if let Some(id) = self.back.as_mut().and_then(DoubleEndedIterator::next_back) {
                return self.took(Some(id));
            }
            match self.runs.next_back() {
                Some(run) => self.back = Some(run),
                None => {
                    let id = self.front.as_mut().and_then(DoubleEndedIterator::next_back);
                    return self.took(id);
                }
            }
        }
    }
}

impl FusedIterator for Ids<'_> {}

/// The allocated ids of an [`IdAllocator`] as maximal runs, in increasing order.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{IdAllocator, IdRuns};
///
/// let mut ids = IdAllocator::new(0, 99)?;
/// ids.allocate_ids(3, 1)?;
/// ids.allocate_id_at(10)?;
/// let runs: IdRuns<'_> = ids.runs();
/// assert_eq!(runs.len(), 2);
/// assert_eq!(runs.collect::<Vec<_>>(), [0..=2, 10..=10]);
/// # Ok::<(), vm_allocator::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct IdRuns<'a>(IdSetRuns<'a>, Option<(u32, u32)>);

impl IdRuns<'_> {
    /// A run clipped to the window, if there is one.
    fn clip(&self, (first, last): (u32, u32)) -> IdRange<u32> {
        match self.1 {
            Some((lo, hi)) => first.max(lo)..=last.min(hi),
            None => first..=last,
        }
    }
}

impl Iterator for IdRuns<'_> {
    type Item = IdRange<u32>;

    fn next(&mut self) -> Option<IdRange<u32>> {
        self.0.next().map(|run| self.clip(run))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for IdRuns<'_> {
    fn next_back(&mut self) -> Option<IdRange<u32>> {
        self.0.next_back().map(|run| self.clip(run))
    }
}

impl ExactSizeIterator for IdRuns<'_> {}

impl FusedIterator for IdRuns<'_> {}

impl fmt::Debug for IdAllocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Runs<'a>(&'a IdAllocator);
        impl fmt::Debug for Runs<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut list = f.debug_list();
                for a in self.0.allocations() {
                    match a.owner() {
                        None => list.entry(&a.ids()),
                        Some(owner) => list.entry(&(a.ids(), owner)),
                    };
                }
                list.finish()
            }
        }
        f.debug_struct("IdAllocator")
            .field("range_base", &self.range_base)
            .field("range_end", &self.range_end)
            .field("next_id", &self.next_id)
            .field("generation", &self.generation)
            .field("allocated", &Runs(self))
            .finish()
    }
}

/// Two allocators are equal when they have the same range, the same
/// allocated ids with the same owners and the same highest id ever handed
/// out; the generation is not compared.
impl PartialEq for IdAllocator {
    fn eq(&self, other: &Self) -> bool {
        self.range_base == other.range_base
            && self.range_end == other.range_end
            && self.next_id == other.next_id
            && (self.ids.ptr_eq(&other.ids) || self.ids.runs().eq(other.ids.runs()))
            && (self.owners.tree().ptr_eq(other.owners.tree())
                || self.owners.iter().eq(other.owners.iter()))
    }
}

impl Eq for IdAllocator {}

/// Hashes what equality compares: the range, the next id, and the
/// allocated ids with their owners (not the generation).
impl core::hash::Hash for IdAllocator {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        (self.range_base, self.range_end, self.next_id).hash(state);
        for a in self.allocations() {
            a.hash(state);
        }
    }
}

/// Orders by range, then next id, then the allocated ids with their owners
/// (no owner first).
impl PartialOrd for IdAllocator {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for IdAllocator {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        (self.range_base, self.range_end, self.next_id)
            .cmp(&(other.range_base, other.range_end, other.next_id))
            .then_with(|| {
                self.allocations()
                    .map(|a| (*a.ids().start(), *a.ids().end(), a.owner()))
                    .cmp(
                        other
                            .allocations()
                            .map(|a| (*a.ids().start(), *a.ids().end(), a.owner())),
                    )
            })
    }
}

impl<'a> IntoIterator for &'a IdAllocator {
    type Item = u32;
    type IntoIter = Ids<'a>;

    /// The allocated ids, as [`IdAllocator::iter`] gives them.
    fn into_iter(self) -> Ids<'a> {
        self.iter()
    }
}
