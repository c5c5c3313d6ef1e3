// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Allocation of integer ids: GSIs, MSI vectors, memory-slot ids, device ids.

use alloc::vec::Vec;
use core::fmt;
use core::iter::Peekable;
use core::ops::RangeInclusive as IdRange;

use crate::engine::{Fit, Span, SpanTree, Spans, Tag, TaggedSpans};
use crate::id_owners::IdOwners;
use crate::{Error, OwnedBy, Owner, Result};

/// An allocator of unique ids from the interval `[range_base, range_end]`.
///
/// It always hands out the smallest free id, can reserve a given id
/// ([`allocate_id_at`](Self::allocate_id_at)) and contiguous, aligned blocks
/// of ids ([`allocate_ids`](Self::allocate_ids)). Allocated ids are kept as
/// runs of consecutive ids in a persistent tree: `clone` is O(1) and every
/// operation is O(log r), r = runs of allocated ids.
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
    /// The allocated ids, as maximal runs (no two runs touch).
    ids: SpanTree,
    /// The owners of allocated ids.
    owners: IdOwners,
    /// Successful mutations so far (see `generation`).
    generation: u64,
}

impl IdAllocator {
    /// Creates an allocator of the ids `range_base..=range_end`.
    ///
    /// Fails with [`Error::InvalidRange`] when `range_end < range_base`.
    pub fn new(range_base: u32, range_end: u32) -> Result<Self> {
        if range_end < range_base {
            return Err(Error::InvalidRange(range_base.into(), range_end.into()));
        }
        Ok(IdAllocator {
            range_base,
            range_end,
            next_id: range_base.into(),
            ids: SpanTree::new(),
            owners: IdOwners::new(),
            generation: 0,
        })
    }

    /// Allocates the smallest free id.
    ///
    /// Fails when every id is allocated: with [`Error::Overflow`] if the range
    /// ends at `u32::MAX`, else with [`Error::ResourceNotAvailable`] (as 0.1.4).
    ///
    /// Time: O(log r).
    pub fn allocate_id(&mut self) -> Result<u32> {
        self.allocate_id_tagged(None)
    }

    fn allocate_id_tagged(&mut self, tag: Tag) -> Result<u32> {
        // Runs are maximal, so the smallest free id is the range's base or
        // the id right after the first run.
        let base = u64::from(self.range_base);
        let first = match self.ids.first() {
            Some(run) if run.start == base => run.end + 1,
            _ => base,
        };
        if first > u64::from(self.range_end) {
            return Err(self.exhausted());
        }
        self.mark_allocated(first, first, tag);
        Ok(first as u32)
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
    /// assert_eq!(slots.allocate_id_at(3).unwrap_err(), Error::ResourceNotAvailable);
    /// assert_eq!(slots.allocate_id_at(32).unwrap_err(), Error::OutOfRange(32));
    /// assert_eq!(slots.allocate_id().unwrap(), 0);
    /// ```
    ///
    /// Time: O(log r).
    pub fn allocate_id_at(&mut self, id: u32) -> Result<u32> {
        self.allocate_id_at_tagged(id, None)
    }

    fn allocate_id_at_tagged(&mut self, id: u32, tag: Tag) -> Result<u32> {
        self.check_in_range(id)?;
        if self.is_allocated(id) {
            return Err(Error::ResourceNotAvailable);
        }
        self.mark_allocated(id.into(), id.into(), tag);
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
    /// Time: O(log r).
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
            .first_free_block(count.into(), align.trailing_zeros())
            .ok_or(Error::ResourceNotAvailable)?;
        let last = first + u64::from(count) - 1;
        self.mark_allocated(first, last, tag);
        Ok(first as u32..=last as u32)
    }

    /// Frees `id`.
    ///
    /// Fails with [`Error::OutOfRange`] when `id` is outside the range,
    /// [`Error::NeverAllocated`] when it lies at or above every id ever
    /// handed out, and [`Error::AlreadyReleased`] when it lies below one and
    /// is free (as in 0.1.4, which handed ids out in order; an id skipped by
    /// [`allocate_id_at`](Self::allocate_id_at) also counts as released).
    ///
    /// Time: O(log r).
    pub fn free_id(&mut self, id: u32) -> Result<u32> {
        self.check_in_range(id)?;
        let run = self
            .ids
            .containing(id.into())
            .ok_or(self.not_allocated(id))?;
        self.mark_free(run, id.into(), id.into());
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
    /// Time: O(log r).
    pub fn free_ids(&mut self, ids: IdRange<u32>) -> Result<()> {
        let run = self.allocated_run(&ids)?;
        self.mark_free(run, (*ids.start()).into(), (*ids.end()).into());
        Ok(())
    }

    /// The run that holds every id of `ids`, or the error `free_ids` gives.
    fn allocated_run(&self, ids: &IdRange<u32>) -> Result<Span> {
        let (first, last) = (*ids.start(), *ids.end());
        if first > last {
            return Err(Error::InvalidRange(first.into(), last.into()));
        }
        self.check_in_range(first)?;
        self.check_in_range(last)?;
        let run = self
            .ids
            .containing(first.into())
            .ok_or(self.not_allocated(first))?;
        if run.end < u64::from(last) {
            return Err(self.not_allocated(run.end as u32 + 1));
        }
        Ok(run)
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

    /// The owner of `id`, if it is allocated and has one. Time: O(log r).
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
        self.allocated_run(&ids)?;
        let (first, last) = (u64::from(*ids.start()), u64::from(*ids.end()));
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
            let (first, last) = (u64::from(*ids.start()), u64::from(*ids.end()));
            let run = self.ids.containing(first).expect("owned ids are allocated");
            self.ids.carve(run, first, last);
            self.owners.untag(first, last);
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
    pub fn without_owners(&self) -> IdAllocator {
        IdAllocator {
            owners: IdOwners::new(),
            ..self.clone()
        }
    }

    /// True if any allocated id has an owner. Time: O(1).
    pub fn has_owners(&self) -> bool {
        !self.owners.is_empty()
    }

    /// The generation: 0 for a new allocator, one more after every
    /// successful mutation (allocating or freeing ids, `set_owner`,
    /// `free_owner`), the same after a failed one. It is saved and restored
    /// with the state; equality ignores it. Time: O(1).
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
    /// let items: Vec<_> = ids.allocations().map(|a| (a.ids(), a.owner().cloned())).collect();
    /// assert_eq!(items, vec![(0..=1, None), (2..=3, Some(gpu))]);
    /// ```
    pub fn allocations(&self) -> IdAllocations<'_> {
        IdAllocations {
            runs: self.ids.iter(),
            owners: self.owners.iter().peekable(),
            run: None,
        }
    }

    /// Counts one successful mutation.
    #[inline]
    fn bump(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    /// Sets the generation (a diff being applied says what it becomes).
    pub(crate) fn set_generation(&mut self, generation: u64) {
        self.generation = generation;
    }

    /// Frees the ids `first..=last` if all are allocated with exactly
    /// `owner`; false (and nothing changed) otherwise. The generation stays.
    pub(crate) fn remove_labelled(&mut self, first: u64, last: u64, owner: Option<&Owner>) -> bool {
        match self.ids.containing(first) {
            Some(run) if run.end >= last && self.owners.all_owned_by(first, last, owner) => {
                self.ids.carve(run, first, last);
                self.owners.untag(first, last);
                true
            }
            _ => false,
        }
    }

    /// Allocates the ids `first..=last` with `owner` if all are free and in
    /// the range; false (and nothing changed) otherwise. Neither the next
    /// id nor the generation moves.
    pub(crate) fn insert_labelled(&mut self, first: u64, last: u64, owner: Option<Owner>) -> bool {
        let in_range = first >= u64::from(self.range_base) && last <= u64::from(self.range_end);
        if !in_range || self.ids.overlap(Span::new(first, last)).is_some() {
            return false;
        }
        self.ids.fill(first, last);
        if let Some(owner) = owner {
            self.owners.tag(first, last, owner);
        }
        true
    }

    /// Sets the next never-allocated id if it lies in
    /// `range_base..=range_end + 1` above every allocated id; false (and
    /// nothing changed) otherwise.
    pub(crate) fn set_next_id_checked(&mut self, next_id: u64) -> bool {
        let highest = self.ids.last().map(|s| s.end);
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
    /// Time: O(log r).
    pub fn is_allocated(&self, id: u32) -> bool {
        self.ids.containing(id.into()).is_some()
    }

    /// First id of the range.
    pub fn range_base(&self) -> u32 {
        self.range_base
    }

    /// Last id of the range.
    pub fn range_end(&self) -> u32 {
        self.range_end
    }

    /// Number of allocated ids. Time: O(1).
    pub fn used(&self) -> u64 {
        self.ids.covered()
    }

    /// Number of free ids. Time: O(1).
    pub fn available(&self) -> u64 {
        self.range_len() - self.ids.covered()
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
        Ids {
            runs: self.ranges(),
            current: None,
        }
    }

    /// The allocated ids as maximal runs of consecutive ids, in increasing
    /// order. Time: O(1) per run.
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut ids = IdAllocator::new(0, 99).unwrap();
    /// ids.allocate_ids(3, 1).unwrap();
    /// ids.allocate_id_at(10).unwrap();
    /// assert_eq!(ids.ranges().collect::<Vec<_>>(), vec![0..=2, 10..=10]);
    /// ```
    pub fn ranges(&self) -> IdRuns<'_> {
        IdRuns(self.ids.iter())
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
        let mut prev: Option<Span> = None;
        for run in self.ids.iter() {
            if run.start < base || run.end >= self.next_id {
                return Err(alloc::format!(
                    "run {}..={} outside {base}..{}",
                    run.start,
                    run.end,
                    self.next_id
                ));
            }
            if prev.is_some_and(|p| p.end + 1 == run.start) {
                return Err(alloc::format!("runs touch at {}", run.start));
            }
            prev = Some(run);
        }
        Ok(())
    }

    /// One past the highest id ever allocated (0.1.4's `next_id`).
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id
    }

    /// The runs of allocated ids and the owners, for the layers that
    /// compare and encode them.
    pub(crate) fn trees(&self) -> (&SpanTree, &SpanTree) {
        (&self.ids, self.owners.tree())
    }

    /// Builds an allocator from validated parts (see `crate::validate`).
    pub(crate) fn from_parts(
        range_base: u32,
        range_end: u32,
        next_id: u64,
        ids: SpanTree,
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

    /// The lowest free block of `count` ids aligned to `2^align_log2`.
    fn first_free_block(&self, count: u64, align_log2: u32) -> Option<u64> {
        self.ids.first_fit(&Fit {
            size: count,
            align_log2,
            lo: self.range_base.into(),
            hi: self.range_end.into(),
        })
    }

    /// Marks the free ids `first..=last` allocated, owned by `tag`.
    fn mark_allocated(&mut self, first: u64, last: u64, tag: Tag) {
        self.ids.fill(first, last);
        if let Some(owner) = tag {
            self.owners.tag(first, last, owner);
        }
        self.next_id = self.next_id.max(last + 1);
        self.bump();
    }

    /// Marks the ids `first..=last` of the allocated `run` free.
    fn mark_free(&mut self, run: Span, first: u64, last: u64) {
        self.ids.carve(run, first, last);
        self.owners.untag(first, last);
        self.bump();
    }
}

impl OwnedBy<'_, IdAllocator> {
    /// [`IdAllocator::allocate_id`], owned by this view's owner.
    ///
    /// Time: O(log r).
    pub fn allocate_id(&mut self) -> Result<u32> {
        let owner = self.owner().clone();
        self.target().allocate_id_tagged(Some(owner))
    }

    /// [`IdAllocator::allocate_id_at`], owned by this view's owner.
    ///
    /// Time: O(log r).
    pub fn allocate_id_at(&mut self, id: u32) -> Result<u32> {
        let owner = self.owner().clone();
        self.target().allocate_id_at_tagged(id, Some(owner))
    }

    /// [`IdAllocator::allocate_ids`], owned by this view's owner.
    ///
    /// Time: O(log r).
    pub fn allocate_ids(&mut self, count: u32, align: u32) -> Result<IdRange<u32>> {
        let owner = self.owner().clone();
        self.target().allocate_ids_tagged(count, align, Some(owner))
    }
}

/// A run of allocated ids that share an owner (or have none).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdAllocation<'a> {
    ids: IdRange<u32>,
    owner: Option<&'a Owner>,
}

impl<'a> IdAllocation<'a> {
    /// The ids.
    pub fn ids(&self) -> IdRange<u32> {
        self.ids.clone()
    }

    /// Their owner, if they have one.
    pub fn owner(&self) -> Option<&'a Owner> {
        self.owner
    }
}

/// The allocated ids of an [`IdAllocator`] with their owners, as maximal
/// runs of ids that share an owner, in increasing order.
#[derive(Clone, Debug)]
pub struct IdAllocations<'a> {
    runs: Spans<'a>,
    owners: Peekable<TaggedSpans<'a>>,
    /// What is left of the current run.
    run: Option<(u64, u64)>,
}

impl<'a> Iterator for IdAllocations<'a> {
    type Item = IdAllocation<'a>;

    fn next(&mut self) -> Option<IdAllocation<'a>> {
        let (from, end) = match self.run.take() {
            Some(rest) => rest,
            None => self.runs.next().map(|s| (s.start, s.end))?,
        };
        // Owner spans lie inside runs, in order.
        let item = |first: u64, last: u64, owner| IdAllocation {
            ids: first as u32..=last as u32,
            owner,
        };
        match self.owners.peek() {
            Some(&(span, _)) if span.start <= end => {
                if span.start > from {
                    self.run = Some((span.start, end));
                    return Some(item(from, span.start - 1, None));
                }
                let (span, owner) = self.owners.next().expect("peeked");
                if span.end < end {
                    self.run = Some((span.end + 1, end));
                }
                Some(item(span.start, span.end, owner))
            }
            _ => Some(item(from, end, None)),
        }
    }
}

/// The allocated ids of an [`IdAllocator`], in increasing order.
#[derive(Clone, Debug)]
pub struct Ids<'a> {
    runs: IdRuns<'a>,
    current: Option<IdRange<u32>>,
}

impl Iterator for Ids<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        loop {
            if let Some(id) = self.current.as_mut().and_then(Iterator::next) {
                return Some(id);
            }
            self.current = Some(self.runs.next()?);
        }
    }
}

/// The allocated ids of an [`IdAllocator`] as maximal runs, in increasing order.
#[derive(Clone, Debug)]
pub struct IdRuns<'a>(Spans<'a>);

impl Iterator for IdRuns<'_> {
    type Item = IdRange<u32>;

    fn next(&mut self) -> Option<IdRange<u32>> {
        // Runs lie inside the u32 id range by construction.
        self.0.next().map(|s| s.start as u32..=s.end as u32)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for IdRuns<'_> {}

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
            && (self.ids.ptr_eq(&other.ids) || self.ids.iter().eq(other.ids.iter()))
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
