// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The validating builder of [`IdAllocator`].

use core::ops::RangeInclusive as IdRange;

use crate::engine::idset::IdSetBuilder;
use crate::engine::{Span, SpanTreeBuilder};
use crate::{IdAllocator, Owner};

use super::StateError;

/// Builds an [`IdAllocator`] from its allocated ids, pushed in increasing
/// order as runs of ids that share an owner, checking each as it comes.
///
/// Two runs may touch only if their owners differ; the canonical form
/// keeps runs maximal. Every way state comes in goes through this builder.
///
/// ```rust
/// use vm_allocator::{IdAllocatorBuilder, Owner, StateError};
///
/// let net0 = Owner::new("virtio-net0").unwrap();
/// let mut builder = IdAllocatorBuilder::new(5, 23)
///     .unwrap()
///     .with_next_id(12)
///     .unwrap();
/// builder.push(5..=6, None).unwrap();
/// builder.push(7..=8, Some(net0.clone())).unwrap(); // touches, another owner
/// assert_eq!(
///     builder.push(12..=12, None).unwrap_err(),
///     StateError::AboveNextId {
///         index: 2,
///         end: 12,
///         next_id: 12
///     }
/// );
/// ```
#[derive(Debug)]
pub struct IdAllocatorBuilder {
    base: u32,
    end: u32,
    /// The next never-allocated id, or `None` to take one past the highest
    /// id pushed.
    next_id: Option<u64>,
    generation: u64,
    index: u64,
    /// End and owner of the previous run.
    previous: Option<(u64, Option<Owner>)>,
    /// The run of allocated ids being gathered (runs that touch join).
    run: Option<(u64, u64)>,
    runs: IdSetBuilder,
    owners: SpanTreeBuilder,
    error: Option<StateError>,
}

impl IdAllocatorBuilder {
    /// Starts an allocator of the ids `range_base..=range_end` at generation
    /// 0, whose next never-allocated id is one past the highest id pushed
    /// (see [`with_next_id`](Self::with_next_id)).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocatorBuilder, StateError};
    ///
    /// let mut builder = IdAllocatorBuilder::new(5, 23)?;
    /// builder.push(5..=7, None)?;
    /// let mut gsi = builder.finish()?;
    /// assert_eq!(gsi.allocate_id().unwrap(), 8);
    /// let err = IdAllocatorBuilder::new(23, 5).unwrap_err();
    /// assert_eq!(err, StateError::InvalidIdRange { base: 23, end: 5 });
    /// assert_eq!(err.to_string(), "id range 23..=5 is inverted");
    /// # Ok::<(), StateError>(())
    /// ```
    pub fn new(range_base: u32, range_end: u32) -> Result<Self, StateError> {
        Self::from_bounds(range_base.into(), range_end.into())
    }

    /// Starts an allocator of the ids `base..=end`, checking that they are
    /// `u32` ids in order.
    pub(crate) fn from_bounds(base: u64, end: u64) -> Result<Self, StateError> {
        let (Ok(base32), Ok(end32)) = (u32::try_from(base), u32::try_from(end)) else {
            return Err(StateError::InvalidIdRange { base, end });
        };
        if base32 > end32 {
            return Err(StateError::InvalidIdRange { base, end });
        }
        Ok(IdAllocatorBuilder {
            base: base32,
            end: end32,
            next_id: None,
            generation: 0,
            index: 0,
            previous: None,
            run: None,
            runs: IdSetBuilder::new(),
            owners: SpanTreeBuilder::new(),
            error: None,
        })
    }

    /// Sets one past the highest id ever handed out (0.1.4's `next_id`),
    /// which must lie in `range_base..=range_end + 1`; every id pushed must
    /// be below it.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Error, IdAllocatorBuilder};
    ///
    /// // Id 5 is allocated; ids up to 9 were handed out before and freed.
    /// let mut builder = IdAllocatorBuilder::new(5, 23)?.with_next_id(10)?;
    /// builder.push(5..=5, None)?;
    /// let mut gsi = builder.finish()?;
    /// assert_eq!(gsi.free_id(7), Err(Error::AlreadyReleased(7)));
    /// assert_eq!(gsi.free_id(12), Err(Error::NeverAllocated(12)));
    /// assert!(IdAllocatorBuilder::new(5, 23)?.with_next_id(25).is_err()); // past 24
    /// # Ok::<(), vm_allocator::StateError>(())
    /// ```
    pub fn with_next_id(mut self, next_id: u64) -> Result<Self, StateError> {
        if next_id < u64::from(self.base) || next_id > u64::from(self.end) + 1 {
            return Err(StateError::NextIdOutOfRange {
                next_id,
                base: self.base,
                end: self.end,
            });
        }
        self.next_id = Some(next_id);
        Ok(self)
    }

    /// The range of ids, `(range_base, range_end)`.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::IdAllocatorBuilder;
    ///
    /// assert_eq!(IdAllocatorBuilder::new(24, 4095)?.range(), (24, 4095));
    /// # Ok::<(), vm_allocator::StateError>(())
    /// ```
    pub fn range(&self) -> (u32, u32) {
        (self.base, self.end)
    }

    /// Sets the generation the allocator starts at.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::IdAllocatorBuilder;
    ///
    /// let gsi = IdAllocatorBuilder::new(5, 23)?.generation(9).finish()?;
    /// assert_eq!(gsi.generation(), 9);
    /// # Ok::<(), vm_allocator::StateError>(())
    /// ```
    pub fn generation(mut self, generation: u64) -> Self {
        self.generation = generation;
        self
    }

    /// Adds the next run of allocated ids, owned by `owner`.
    ///
    /// Time: O(1) amortised.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocatorBuilder, Owner, StateError};
    ///
    /// let rtc = Owner::new("rtc").unwrap();
    /// let mut builder = IdAllocatorBuilder::new(5, 23)?;
    /// builder.push(5..=6, Some(rtc.clone()))?;
    /// // Touching runs with one owner must come as one run.
    /// let err = builder.push(7..=7, Some(rtc)).unwrap_err();
    /// assert_eq!(err, StateError::TouchingRuns { index: 1, start: 7 });
    /// # Ok::<(), StateError>(())
    /// ```
    pub fn push(&mut self, ids: IdRange<u32>, owner: Option<Owner>) -> Result<(), StateError> {
        self.push_bounds((*ids.start()).into(), (*ids.end()).into(), owner)
    }

    /// Adds the run `first..=last`, checking that it is a range of ids.
    pub(crate) fn push_bounds(
        &mut self,
        first: u64,
        last: u64,
        owner: Option<Owner>,
    ) -> Result<(), StateError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if let Err(e) = self.check(first, last, owner.as_ref()) {
            self.error = Some(e);
            return Err(e);
        }
        self.index += 1;
        match self.run {
            Some((start, end)) if end + 1 == first => self.run = Some((start, last)),
            Some((start, end)) => {
                // Checked to lie in the `u32` range.
                self.runs.push(start as u32, end as u32);
                self.run = Some((first, last));
            }
            None => self.run = Some((first, last)),
        }
        if owner.is_some() {
            self.owners.push(Span::new(first, last), owner.clone());
        }
        self.previous = Some((last, owner));
        Ok(())
    }

    fn check(&self, first: u64, last: u64, owner: Option<&Owner>) -> Result<(), StateError> {
        let index = self.index;
        if first > last {
            return Err(StateError::InvertedRange {
                index,
                start: first,
                end: last,
            });
        }
        if first < u64::from(self.base) || last > u64::from(self.end) {
            return Err(StateError::OutOfRange {
                index,
                start: first,
                end: last,
                space_start: self.base.into(),
                space_end: self.end.into(),
            });
        }
        if let Some(next_id) = self.next_id.filter(|&n| last >= n) {
            return Err(StateError::AboveNextId {
                index,
                end: last,
                next_id,
            });
        }
        if let Some((previous_end, previous_owner)) = &self.previous {
            let previous_end = *previous_end;
            if first <= previous_end {
                return Err(StateError::Overlap {
                    index,
                    previous_end,
                    start: first,
                });
            }
            if first == previous_end + 1 && previous_owner.as_ref() == owner {
                return Err(StateError::TouchingRuns {
                    index,
                    start: first,
                });
            }
        }
        Ok(())
    }

    /// The allocator, or the first error met. Time: O(n / node size).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::IdAllocatorBuilder;
    ///
    /// let mut builder = IdAllocatorBuilder::new(0, 31)?;
    /// builder.push(0..=3, None)?;
    /// builder.push(8..=8, None)?;
    /// let slots = builder.finish()?;
    /// assert_eq!(slots.runs().collect::<Vec<_>>(), [0..=3, 8..=8]);
    /// // Nothing pushed above 8: it is the highest id ever handed out.
    /// assert_eq!(
    ///     slots.clone().free_id(9),
    ///     Err(vm_allocator::Error::NeverAllocated(9))
    /// );
    /// # Ok::<(), vm_allocator::StateError>(())
    /// ```
    pub fn finish(mut self) -> Result<IdAllocator, StateError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if let Some((start, end)) = self.run.take() {
            self.runs.push(start as u32, end as u32);
        }
        let next_id = self.next_id.unwrap_or_else(|| match &self.previous {
            Some((last, _)) => last + 1,
            None => self.base.into(),
        });
        Ok(IdAllocator::from_parts(
            self.base,
            self.end,
            next_id,
            self.runs.finish(),
            self.owners.finish(),
            self.generation,
        ))
    }
}

impl IdAllocator {
    /// Restores an allocator of the ids `range_base..=range_end` in which
    /// exactly the ids of `allocated` are allocated. The runs must be sorted,
    /// disjoint and inside the range; touching runs are merged.
    ///
    /// The highest allocated id counts as the highest ever handed out, so
    /// freeing an id above it reports [`Error::NeverAllocated`](crate::Error).
    /// [`IdAllocatorBuilder`] also takes owners, the next id and a
    /// generation.
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// // Restore the GSIs a VMM recorded for its devices.
    /// let mut gsi = IdAllocator::from_allocations(5, 23, [5..=7, 9..=9]).unwrap();
    /// assert_eq!(gsi.allocate_id().unwrap(), 8);
    /// assert_eq!(gsi.allocate_id().unwrap(), 10);
    /// ```
    ///
    /// The same name as [`AddressAllocator::from_allocations`](crate::AddressAllocator::from_allocations).
    ///
    /// Time: O(n).
    pub fn from_allocations(
        range_base: u32,
        range_end: u32,
        allocated: impl IntoIterator<Item = IdRange<u32>>,
    ) -> Result<Self, StateError> {
        let mut builder = IdAllocatorBuilder::new(range_base, range_end)?;
        let merged = MergeTouching {
            runs: allocated
                .into_iter()
                .map(|r| (u64::from(*r.start()), u64::from(*r.end()))),
            pending: None,
        };
        for (first, last) in merged {
            builder.push_bounds(first, last, None)?;
        }
        builder.finish()
    }

    /// The former name of [`IdAllocator::from_allocations`].
    ///
    /// ```rust
    /// # #![allow(deprecated)]
    /// use vm_allocator::IdAllocator;
    ///
    /// let gsi = IdAllocator::from_allocated(5, 23, [5..=7]).unwrap();
    /// assert_eq!(gsi, IdAllocator::from_allocations(5, 23, [5..=7]).unwrap());
    /// ```
    #[deprecated(
        since = "0.2.0",
        note = "use `IdAllocator::from_allocations`, the name both allocators share"
    )]
    pub fn from_allocated(
        range_base: u32,
        range_end: u32,
        allocated: impl IntoIterator<Item = IdRange<u32>>,
    ) -> Result<Self, StateError> {
        IdAllocator::from_allocations(range_base, range_end, allocated)
    }
}

/// Merges touching runs of a sorted sequence, passing anything else on for
/// the builder to judge.
struct MergeTouching<I> {
    runs: I,
    pending: Option<(u64, u64)>,
}

impl<I: Iterator<Item = (u64, u64)>> Iterator for MergeTouching<I> {
    type Item = (u64, u64);

    fn next(&mut self) -> Option<(u64, u64)> {
        let mut current = self.pending.take().or_else(|| self.runs.next())?;
        for (first, last) in self.runs.by_ref() {
            if current.0 <= current.1 && first <= last && first == current.1 + 1 {
                current.1 = last;
            } else {
                self.pending = Some((first, last));
                break;
            }
        }
        Some(current)
    }
}
