// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Validation of allocator state that comes from outside: decoded bytes,
//! serde input, 0.1.x imports, or a VMM's own list of assignments.
//!
//! Every way in goes through the checkers here, one item at a time, so a
//! state that breaks an invariant can never be built and no decoder has to
//! collect its input before checking it.

use core::fmt;

use crate::{AddressAllocator, IdAllocator, RangeInclusive};

/// Why an allocator state was rejected. `index` is the position of the
/// offending item in the sorted list of allocations (or id runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateError {
    /// The address space `[start, end]` is inverted or the whole `u64` space.
    InvalidSpace {
        /// First address of the space.
        start: u64,
        /// Last address of the space.
        end: u64,
    },
    /// The id range `[base, end]` is inverted.
    InvalidIdRange {
        /// First id of the range.
        base: u64,
        /// Last id of the range.
        end: u64,
    },
    /// The next never-allocated id lies outside `base..=end + 1`.
    NextIdOutOfRange {
        /// The next id that was given.
        next_id: u64,
        /// First id of the range.
        base: u32,
        /// Last id of the range.
        end: u32,
    },
    /// An allocation ends before it starts.
    InvertedRange {
        /// Position of the allocation.
        index: u64,
        /// Its start.
        start: u64,
        /// Its end.
        end: u64,
    },
    /// An allocation lies (partly) outside the address space or id range.
    OutOfRange {
        /// Position of the allocation.
        index: u64,
        /// Its start.
        start: u64,
        /// Its end.
        end: u64,
        /// First value of the space.
        space_start: u64,
        /// Last value of the space.
        space_end: u64,
    },
    /// An allocation starts at or before the end of the previous one: the
    /// list is unsorted or two allocations overlap.
    Overlap {
        /// Position of the allocation.
        index: u64,
        /// End of the previous allocation.
        previous_end: u64,
        /// Start of this allocation.
        start: u64,
    },
    /// Two id runs touch (`previous_end + 1 == start`); the canonical form
    /// keeps maximal runs.
    TouchingRuns {
        /// Position of the second run.
        index: u64,
        /// Its first id.
        start: u64,
    },
    /// An allocated id is at or above the next never-allocated id.
    AboveNextId {
        /// Position of the run.
        index: u64,
        /// Last id of the run.
        end: u64,
        /// The next never-allocated id.
        next_id: u64,
    },
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            StateError::InvalidSpace { start, end } => {
                write!(f, "address space {start:#x}-{end:#x} is not a valid range")
            }
            StateError::InvalidIdRange { base, end } => {
                write!(f, "id range {base}..={end} is inverted")
            }
            StateError::NextIdOutOfRange { next_id, base, end } => write!(
                f,
                "next id {next_id} is outside {base}..={}",
                u64::from(end) + 1
            ),
            StateError::InvertedRange { index, start, end } => write!(
                f,
                "allocation #{index} {start:#x}-{end:#x} ends before it starts"
            ),
            StateError::OutOfRange {
                index,
                start,
                end,
                space_start,
                space_end,
            } => write!(
                f,
                "allocation #{index} {start:#x}-{end:#x} lies outside {space_start:#x}-{space_end:#x}"
            ),
            StateError::Overlap {
                index,
                previous_end,
                start,
            } => write!(
                f,
                "allocation #{index} starts at {start:#x}, not after the previous one's end {previous_end:#x} (unsorted or overlapping)"
            ),
            StateError::TouchingRuns { index, start } => write!(
                f,
                "id run #{index} starting at {start} touches the previous run (runs must be maximal)"
            ),
            StateError::AboveNextId {
                index,
                end,
                next_id,
            } => write!(
                f,
                "id run #{index} ends at {end}, at or above the next never-allocated id {next_id}"
            ),
        }
    }
}

impl core::error::Error for StateError {}

/// Checks the sorted allocations of an address allocator one at a time.
#[derive(Debug)]
pub(crate) struct AddressChecker {
    space: RangeInclusive,
    index: u64,
    previous_end: Option<u64>,
}

impl AddressChecker {
    /// Starts checking allocations of the space `[start, end]`.
    pub(crate) fn new(start: u64, end: u64) -> Result<Self, StateError> {
        let space =
            RangeInclusive::new(start, end).map_err(|_| StateError::InvalidSpace { start, end })?;
        Ok(AddressChecker {
            space,
            index: 0,
            previous_end: None,
        })
    }

    pub(crate) fn space(&self) -> RangeInclusive {
        self.space
    }

    /// Checks the next allocation `[start, end]`.
    pub(crate) fn check(&mut self, start: u64, end: u64) -> Result<RangeInclusive, StateError> {
        let index = self.index;
        if start > end {
            return Err(StateError::InvertedRange { index, start, end });
        }
        if start < self.space.start() || end > self.space.end() {
            return Err(StateError::OutOfRange {
                index,
                start,
                end,
                space_start: self.space.start(),
                space_end: self.space.end(),
            });
        }
        if let Some(previous_end) = self.previous_end {
            if start <= previous_end {
                return Err(StateError::Overlap {
                    index,
                    previous_end,
                    start,
                });
            }
        }
        self.previous_end = Some(end);
        self.index += 1;
        Ok(RangeInclusive::from_parts(start, end))
    }
}

/// Checks the sorted runs of an id allocator one at a time.
#[derive(Debug)]
pub(crate) struct IdChecker {
    base: u32,
    end: u32,
    next_id: u64,
    index: u64,
    previous_end: Option<u64>,
}

impl IdChecker {
    /// Starts checking runs of the range `base..=end` whose next
    /// never-allocated id is `next_id`.
    pub(crate) fn new(base: u64, end: u64, next_id: u64) -> Result<Self, StateError> {
        let (Ok(base32), Ok(end32)) = (u32::try_from(base), u32::try_from(end)) else {
            return Err(StateError::InvalidIdRange { base, end });
        };
        if base32 > end32 {
            return Err(StateError::InvalidIdRange { base, end });
        }
        if next_id < base || next_id > end + 1 {
            return Err(StateError::NextIdOutOfRange {
                next_id,
                base: base32,
                end: end32,
            });
        }
        Ok(IdChecker {
            base: base32,
            end: end32,
            next_id,
            index: 0,
            previous_end: None,
        })
    }

    pub(crate) fn range(&self) -> (u32, u32) {
        (self.base, self.end)
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Checks the next run `first..=last`.
    pub(crate) fn check(
        &mut self,
        first: u64,
        last: u64,
    ) -> Result<core::ops::RangeInclusive<u32>, StateError> {
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
        if last >= self.next_id {
            return Err(StateError::AboveNextId {
                index,
                end: last,
                next_id: self.next_id,
            });
        }
        if let Some(previous_end) = self.previous_end {
            if first <= previous_end {
                return Err(StateError::Overlap {
                    index,
                    previous_end,
                    start: first,
                });
            }
            if first == previous_end + 1 {
                return Err(StateError::TouchingRuns {
                    index,
                    start: first,
                });
            }
        }
        self.previous_end = Some(last);
        self.index += 1;
        Ok(first as u32..=last as u32)
    }
}

/// Feeds checked items to a builder while remembering the first error, so
/// that a decoder can stream its input straight into the tree.
pub(crate) struct Checked<I, E> {
    items: I,
    error: Option<E>,
}

impl<I, E, T> Checked<I, E>
where
    I: Iterator<Item = Result<T, E>>,
{
    pub(crate) fn new(items: I) -> Self {
        Checked { items, error: None }
    }

    /// The first error met, if any.
    pub(crate) fn into_error(self) -> Option<E> {
        self.error
    }
}

impl<I, E, T> Iterator for &mut Checked<I, E>
where
    I: Iterator<Item = Result<T, E>>,
{
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.error.is_some() {
            return None;
        }
        match self.items.next()? {
            Ok(item) => Some(item),
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }
}

impl AddressAllocator {
    /// Restores an allocator of the address space `space` holding exactly
    /// `allocations`, which must be sorted, disjoint and inside the space.
    ///
    /// This is how a VMM rebuilds its allocator from its own record of
    /// assignments; every item is checked and the first bad one is reported
    /// with its position.
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, RangeInclusive, StateError};
    ///
    /// let space = RangeInclusive::new(0x1000, 0xffff).unwrap();
    /// let r = |a, b| RangeInclusive::new(a, b).unwrap();
    /// let a = AddressAllocator::from_allocations(space, [r(0x1000, 0x1fff), r(0x4000, 0x4fff)])
    ///     .unwrap();
    /// assert_eq!(a.len(), 2);
    ///
    /// let err = AddressAllocator::from_allocations(space, [r(0x4000, 0x4fff), r(0x1000, 0x1fff)])
    ///     .unwrap_err();
    /// assert_eq!(err, StateError::Overlap { index: 1, previous_end: 0x4fff, start: 0x1000 });
    /// ```
    ///
    /// Time: O(n).
    pub fn from_allocations(
        space: RangeInclusive,
        allocations: impl IntoIterator<Item = RangeInclusive>,
    ) -> Result<Self, StateError> {
        let mut checker = AddressChecker::new(space.start(), space.end())?;
        let mut checked = Checked::new(
            allocations
                .into_iter()
                .map(|r| checker.check(r.start(), r.end())),
        );
        let allocator = AddressAllocator::from_validated(space, &mut checked);
        match checked.into_error() {
            Some(e) => Err(e),
            None => Ok(allocator),
        }
    }
}

impl IdAllocator {
    /// Restores an allocator of the ids `range_base..=range_end` in which
    /// exactly the ids of `allocated` are allocated. The runs must be sorted,
    /// disjoint and inside the range; touching runs are merged.
    ///
    /// The highest allocated id counts as the highest ever handed out, so
    /// freeing an id above it reports [`Error::NeverAllocated`](crate::Error).
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// // Restore the GSIs a VMM recorded for its devices.
    /// let mut gsi = IdAllocator::from_allocated(5, 23, [5..=7, 9..=9]).unwrap();
    /// assert_eq!(gsi.allocate_id().unwrap(), 8);
    /// assert_eq!(gsi.allocate_id().unwrap(), 10);
    /// ```
    ///
    /// Time: O(n).
    pub fn from_allocated(
        range_base: u32,
        range_end: u32,
        allocated: impl IntoIterator<Item = core::ops::RangeInclusive<u32>>,
    ) -> Result<Self, StateError> {
        // The next id is not known until the last run is read: check against
        // the loosest one (past the range) and set the real one afterwards.
        let mut checker = IdChecker::new(
            range_base.into(),
            range_end.into(),
            u64::from(range_end) + 1,
        )?;
        let mut highest: Option<u64> = None;
        let mut merged = MergeTouching {
            runs: allocated
                .into_iter()
                .map(|r| (u64::from(*r.start()), u64::from(*r.end()))),
            pending: None,
        };
        let mut checked = Checked::new(core::iter::from_fn(|| {
            let (first, last) = merged.next()?;
            highest = Some(last);
            Some(checker.check(first, last))
        }));
        let mut allocator = IdAllocator::from_validated(
            range_base,
            range_end,
            u64::from(range_end) + 1,
            &mut checked,
        );
        if let Some(e) = checked.into_error() {
            return Err(e);
        }
        allocator.set_next_id(highest.map_or(range_base.into(), |h| h + 1));
        Ok(allocator)
    }
}

/// Merges touching runs of a sorted sequence, passing anything else on for
/// the checker to judge.
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
