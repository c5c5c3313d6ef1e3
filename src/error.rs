// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The error type shared by both allocators.
//!
//! The variants, and which variant each mistake produces, are those of
//! vm-allocator 0.1.4, so code that matches on them keeps working.

use core::fmt;

use crate::RangeInclusive;

/// The state of a node in vm-allocator 0.1.4's interval tree.
///
/// It only appears in [`Error::InvalidStateTransition`], a variant kept so that
/// code written for 0.1.4 that matches on it still compiles; this crate never
/// returns that variant.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{Error, IdAllocator, NodeState};
///
/// // Code written for 0.1.4 may still match on it; the arm never fires here.
/// fn describe(e: Error) -> &'static str {
///     match e {
///         Error::InvalidStateTransition(_, NodeState::Allocated) => "allocated node",
///         Error::InvalidStateTransition(_, NodeState::Free) => "free node",
///         _ => "something else",
///     }
/// }
/// let mut ids = IdAllocator::new(0, 1)?;
/// assert_eq!(describe(ids.free_id(0).unwrap_err()), "something else");
/// assert!(NodeState::Free < NodeState::Allocated);
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Eq, Ord, Hash)]
pub enum NodeState {
    /// The node is free.
    Free,
    /// The node is allocated.
    Allocated,
}

/// Errors returned by the allocators.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{AddressAllocator, AllocPolicy, Error, IdAllocator};
///
/// let mut gsi = IdAllocator::new(5, 23)?;
/// assert_eq!(gsi.allocate_id_at(40), Err(Error::OutOfRange(40)));
/// assert_eq!(
///     gsi.free_id(7).unwrap_err().to_string(),
///     "id 7 was never allocated, it cannot be released"
/// );
///
/// let mut mmio = AddressAllocator::new(0x1000, 0x1000)?;
/// mmio.allocate(0x800, 0x800, AllocPolicy::FirstMatch)?;
/// // An overlapping request is `ResourceNotAvailable`, never `Overlap`.
/// let err = mmio
///     .allocate(0x800, 0x800, AllocPolicy::ExactMatch(0x1000))
///     .unwrap_err();
/// assert_eq!(err, Error::ResourceNotAvailable);
/// assert_eq!(err.to_string(), "the requested resource is not available");
/// # Ok::<(), Error>(())
/// ```
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
pub enum Error {
    /// An arithmetic operation on the resource would overflow (for example an
    /// id allocator whose range ends at `u32::MAX` has handed out every id).
    Overflow,
    /// The id is not part of the allocator's range.
    OutOfRange(u32),
    /// The id was allocated before but is free now.
    AlreadyReleased(u32),
    /// The id has never been allocated.
    NeverAllocated(u32),
    /// The requested resource is not available: no free range satisfies the
    /// request, the requested range is (partly) allocated, or the range to free
    /// is not an allocation.
    ResourceNotAvailable,
    /// The range `[start, end]` is not valid (start after end, or the whole
    /// `u64` space, whose length does not fit in a `u64`).
    InvalidRange(u64, u64),
    /// The alignment is zero or not a power of two.
    InvalidAlignment,
    /// The first range overlaps the second, existing one.
    ///
    /// Kept for compatibility with 0.1.4; this crate never returns it (an
    /// allocation that would overlap is `ResourceNotAvailable`).
    Overlap(RangeInclusive, RangeInclusive),
    /// Kept for compatibility with 0.1.4; never returned.
    InvalidStateTransition(RangeInclusive, NodeState),
    /// The address of an `ExactMatch` request is not a multiple of the alignment.
    UnalignedAddress,
    /// An arithmetic operation on the resource would underflow (for example an
    /// address allocator of size zero).
    Underflow,
    /// The size is not valid (zero).
    InvalidSize(u64),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Overflow => {
                write!(f, "management operations on the resource overflowed")
            }
            Error::OutOfRange(id) => write!(f, "id {id} is not in the allocator's range"),
            Error::AlreadyReleased(id) => write!(f, "id {id} is already released"),
            Error::NeverAllocated(id) => {
                write!(f, "id {id} was never allocated, it cannot be released")
            }
            Error::ResourceNotAvailable => write!(f, "the requested resource is not available"),
            Error::InvalidRange(start, end) => {
                write!(f, "the range {start:#x}-{end:#x} is not valid")
            }
            Error::InvalidAlignment => {
                write!(f, "the alignment is not valid: it must be a power of two")
            }
            Error::Overlap(new, existing) => write!(
                f,
                "range {:#x}-{:#x} overlaps existing range {:#x}-{:#x}",
                new.start(),
                new.end(),
                existing.start(),
                existing.end()
            ),
            Error::InvalidStateTransition(range, state) => write!(
                f,
                "invalid state transition for node {:#x}-{:#x} from {state:?} to Free",
                range.start(),
                range.end()
            ),
            Error::UnalignedAddress => write!(f, "the address is not aligned"),
            Error::Underflow => {
                write!(f, "management operations on the resource underflowed")
            }
            Error::InvalidSize(size) => write!(f, "the size {size:#x} is not valid"),
        }
    }
}

impl core::error::Error for Error {}

/// The result type of the allocators.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{IdAllocator, Result};
///
/// fn two_ids(ids: &mut IdAllocator) -> Result<(u32, u32)> {
///     Ok((ids.allocate_id()?, ids.allocate_id()?))
/// }
/// let mut ids = IdAllocator::new(0, 1)?;
/// assert_eq!(two_ids(&mut ids)?, (0, 1));
/// assert!(two_ids(&mut ids).is_err());
/// # Ok::<(), vm_allocator::Error>(())
/// ```
pub type Result<T> = core::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn messages_name_the_offending_value() {
        assert_eq!(
            Error::OutOfRange(7).to_string(),
            "id 7 is not in the allocator's range"
        );
        assert_eq!(
            Error::InvalidRange(2, 1).to_string(),
            "the range 0x2-0x1 is not valid"
        );
        let a = RangeInclusive::new(0x1000, 0x1fff).unwrap();
        let b = RangeInclusive::new(0x1800, 0x27ff).unwrap();
        assert_eq!(
            Error::Overlap(b, a).to_string(),
            "range 0x1800-0x27ff overlaps existing range 0x1000-0x1fff"
        );
    }
}
