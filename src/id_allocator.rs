// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Allocation of integer ids: GSIs, MSI vectors, memory-slot ids, device ids.

use alloc::string::String;
use core::fmt;
use core::ops::RangeInclusive as IdRange;

use crate::engine::{Fit, Span, SpanTree, Spans};
use crate::{Error, Result};

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
        })
    }

    /// Allocates the smallest free id.
    ///
    /// Fails when every id is allocated: with [`Error::Overflow`] if the range
    /// ends at `u32::MAX`, else with [`Error::ResourceNotAvailable`] (as 0.1.4).
    ///
    /// Time: O(log r).
    pub fn allocate_id(&mut self) -> Result<u32> {
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
        self.mark_allocated(first, first);
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
        self.check_in_range(id)?;
        if self.is_allocated(id) {
            return Err(Error::ResourceNotAvailable);
        }
        self.mark_allocated(id.into(), id.into());
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
        self.mark_allocated(first, last);
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
        self.ids.carve(run, id.into(), id.into());
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
        self.ids.carve(run, first.into(), last.into());
        Ok(())
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

    /// Checks the allocator's internal invariants; for tests and fuzzing.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> core::result::Result<(), String> {
        self.ids.check_invariants()?;
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

    /// Builds an allocator from parts a decoder has fully validated: runs
    /// sorted, not touching, inside `range_base..next_id`, and `next_id` in
    /// `range_base..=range_end + 1`. Time: O(n).
    pub(crate) fn from_validated(
        range_base: u32,
        range_end: u32,
        next_id: u64,
        runs: impl IntoIterator<Item = IdRange<u32>>,
    ) -> Self {
        IdAllocator {
            range_base,
            range_end,
            next_id,
            ids: SpanTree::from_sorted(
                runs.into_iter()
                    .map(|r| Span::new((*r.start()).into(), (*r.end()).into())),
            ),
        }
    }

    /// Sets the next never-allocated id; the caller has checked it.
    pub(crate) fn set_next_id(&mut self, next_id: u64) {
        self.next_id = next_id;
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

    /// Marks the free ids `first..=last` allocated.
    fn mark_allocated(&mut self, first: u64, last: u64) {
        self.ids.fill(first, last);
        self.next_id = self.next_id.max(last + 1);
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

impl fmt::Debug for IdAllocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Runs<'a>(&'a IdAllocator);
        impl fmt::Debug for Runs<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.0.ranges()).finish()
            }
        }
        f.debug_struct("IdAllocator")
            .field("range_base", &self.range_base)
            .field("range_end", &self.range_end)
            .field("next_id", &self.next_id)
            .field("allocated", &Runs(self))
            .finish()
    }
}

/// Two allocators are equal when they have the same range, the same
/// allocated ids and the same highest id ever handed out.
impl PartialEq for IdAllocator {
    fn eq(&self, other: &Self) -> bool {
        self.range_base == other.range_base
            && self.range_end == other.range_end
            && self.next_id == other.next_id
            && (self.ids.ptr_eq(&other.ids) || self.ids.iter().eq(other.ids.iter()))
    }
}

impl Eq for IdAllocator {}
