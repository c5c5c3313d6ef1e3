// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Why two states cannot be diffed, or a diff or delta cannot be applied.

use alloc::string::String;
use core::fmt;

use crate::escape::quoted;
use crate::format::FileKind;
use crate::{Owner, RangeInclusive};

/// Why a diff could not be computed or applied; nothing was changed.
///
/// `Display` shows pool and owner names between double quotes, by the rule
/// of [`escape_name`](crate::escape_name) (FORMAT.md 6.1.1).
///
/// # Examples
///
/// ```rust
/// use vm_allocator::format::FileKind;
/// use vm_allocator::{AddressAllocator, Delta, DiffError, IdAllocator};
///
/// let gsi = IdAllocator::new(5, 23)?;
/// let delta = Delta::between(&gsi, &gsi).unwrap();
/// let err = delta.apply(&AddressAllocator::new(0, 0x1000)?).unwrap_err();
/// assert_eq!(
///     err,
///     DiffError::WrongKind {
///         expected: FileKind::IdAllocator,
///         found: FileKind::AddressAllocator
///     }
/// );
/// assert_eq!(
///     err.to_string(),
///     "the diff applies to an IdAllocator, not an AddressAllocator"
/// );
/// # Ok::<(), vm_allocator::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DiffError {
    /// The two states do not have the same shape (kind, range or space,
    /// pools), or the state a diff is applied to does not have the shape of
    /// the diff's states.
    ShapeMismatch {
        /// What differs, for people.
        what: String,
    },
    /// The diff was made from a state of another kind.
    WrongKind {
        /// The kind the diff applies to.
        expected: FileKind,
        /// The kind of the state given.
        found: FileKind,
    },
    /// The state is not at the generation the diff starts from.
    GenerationMismatch {
        /// The pool, in a resource set.
        pool: Option<String>,
        /// The generation the diff starts from.
        expected: u64,
        /// The state's generation.
        found: u64,
    },
    /// The state is not the one a delta was made from: its checksum (that
    /// of its file in the current format version) differs.
    ChecksumMismatch {
        /// The checksum the delta names.
        expected: u32,
        /// The state's.
        found: u32,
    },
    /// Applying a delta did not give the state it promises (a forged or
    /// inconsistent delta): the result's checksum differs.
    ResultMismatch {
        /// The checksum the delta names.
        expected: u32,
        /// The result's.
        found: u32,
    },
    /// A range the diff frees is not allocated in the state, or not with
    /// the owner the diff names.
    NotAllocated {
        /// The pool, in a resource set.
        pool: Option<String>,
        /// The range.
        range: RangeInclusive,
        /// The owner the diff names.
        owner: Option<Owner>,
    },
    /// A range the diff allocates is not free in the state (or lies outside
    /// its space or range).
    NotFree {
        /// The pool, in a resource set.
        pool: Option<String>,
        /// The range.
        range: RangeInclusive,
    },
    /// The next never-allocated id the diff gives does not fit the ids the
    /// pool holds after the changes.
    InvalidNextId {
        /// The pool, in a resource set.
        pool: Option<String>,
        /// The next id the diff gives.
        next_id: u64,
    },
}

fn pool_prefix(f: &mut fmt::Formatter<'_>, pool: &Option<String>) -> fmt::Result {
    match pool {
        Some(pool) => write!(f, "pool {}: ", quoted(pool)),
        None => Ok(()),
    }
}

impl fmt::Display for DiffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiffError::ShapeMismatch { what } => {
                write!(f, "the states do not have the same shape: {what}")
            }
            DiffError::WrongKind { expected, found } => {
                write!(f, "the diff applies to an {expected}, not an {found}")
            }
            DiffError::GenerationMismatch {
                pool,
                expected,
                found,
            } => {
                pool_prefix(f, pool)?;
                write!(
                    f,
                    "the diff applies to generation {expected}, the state is at generation {found}"
                )
            }
            DiffError::ChecksumMismatch { expected, found } => write!(
                f,
                "the delta applies to the state with checksum {expected:#010x}, this state's \
                 is {found:#010x}"
            ),
            DiffError::ResultMismatch { expected, found } => write!(
                f,
                "applying the delta gave a state with checksum {found:#010x}, not the \
                 {expected:#010x} it names"
            ),
            DiffError::NotAllocated { pool, range, owner } => {
                pool_prefix(f, pool)?;
                write!(
                    f,
                    "{:#x}..={:#x} is not allocated",
                    range.start(),
                    range.end()
                )?;
                match owner {
                    Some(owner) => write!(f, " with the owner {}", quoted(owner.as_str())),
                    None => f.write_str(" without an owner"),
                }
            }
            DiffError::NotFree { pool, range } => {
                pool_prefix(f, pool)?;
                write!(f, "{:#x}..={:#x} is not free", range.start(), range.end())
            }
            DiffError::InvalidNextId { pool, next_id } => {
                pool_prefix(f, pool)?;
                write!(
                    f,
                    "the next id {next_id} does not fit the allocated ids and the range"
                )
            }
        }
    }
}

impl core::error::Error for DiffError {}
