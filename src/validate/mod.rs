// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Validation of state that comes from outside: decoded bytes, serde
//! input, 0.1.x imports, `Versionize`, or a VMM's own list of assignments.
//!
//! Each state type has one validating builder here: items are pushed in
//! order, each is checked as it arrives and streamed into the tree, and
//! `finish` returns the state or the first error with its position. Every
//! way in goes through a builder, so no input can build a state that breaks
//! an invariant, and no decoder collects its input before checking it.

use core::fmt;

use crate::NameError;

mod address;
mod id;
mod set;

pub use address::AddressAllocatorBuilder;
pub use id::IdAllocatorBuilder;
pub use set::ResourceSetBuilder;

/// Why a state was rejected. `index` is the position of the offending item
/// in the sorted list of allocations (or id runs, or pools), counted from 0.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{AddressAllocator, RangeInclusive, StateError};
///
/// // A VMM's own record, out of order: refused with the position.
/// let space = RangeInclusive::new(0xd000_0000, 0xdfff_ffff)?;
/// let r = |a, b| RangeInclusive::new(a, b).unwrap();
/// let err = AddressAllocator::from_allocations(
///     space,
///     [r(0xd000_2000, 0xd000_2fff), r(0xd000_0000, 0xd000_0fff)],
/// )
/// .unwrap_err();
/// assert_eq!(
///     err,
///     StateError::Overlap {
///         index: 1,
///         previous_end: 0xd000_2fff,
///         start: 0xd000_0000
///     }
/// );
/// assert_eq!(
///     err.to_string(),
///     "allocation #1 starts at 0xd0000000, not after the previous one's end 0xd0002fff \
///      (unsorted or overlapping)"
/// );
/// # Ok::<(), vm_allocator::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// Two runs of allocated ids touch (`previous_end + 1 == start`) and
    /// have the same owner; the canonical form keeps them as one run.
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
    /// A pool of a resource set has an invalid name.
    PoolName {
        /// Position of the pool.
        index: u64,
        /// What is wrong with the name.
        error: NameError,
    },
    /// A pool of a resource set has the name of an earlier pool.
    DuplicatePool {
        /// Position of the pool.
        index: u64,
        /// Position of the earlier pool of that name.
        previous: u64,
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
                "id run #{index} starting at {start} touches the previous run and has the same \
                 owner (runs must be maximal)"
            ),
            StateError::AboveNextId {
                index,
                end,
                next_id,
            } => write!(
                f,
                "id run #{index} ends at {end}, at or above the next never-allocated id {next_id}"
            ),
            StateError::PoolName { index, error } => {
                write!(f, "pool #{index} has an invalid name: {error}")
            }
            StateError::DuplicatePool { index, previous } => write!(
                f,
                "pool #{index} has the same name as pool #{previous}"
            ),
        }
    }
}

impl core::error::Error for StateError {}
