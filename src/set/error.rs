// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Why an operation on a resource set failed.

use alloc::string::String;
use core::fmt;

use super::PoolKind;
use crate::escape::quoted;
use crate::{Error, NameError};

/// Why an operation on a [`ResourceSet`](crate::ResourceSet) failed; the
/// set is unchanged.
///
/// `Display` shows a pool's name between double quotes, by the rule of
/// [`escape_name`](crate::escape_name) (FORMAT.md 6.1.1).
///
/// # Examples
///
/// ```rust
/// use std::error::Error as _;
/// use vm_allocator::{Error, ResourceSet, SetError};
///
/// let mut vm = ResourceSet::x86_64();
/// let err = vm.allocate_id_at("legacy_gsi", 2).unwrap_err();
/// assert_eq!(
///     err,
///     SetError::Pool {
///         pool: "legacy_gsi".into(),
///         error: Error::OutOfRange(2)
///     }
/// );
/// assert_eq!(
///     err.to_string(),
///     r#"pool "legacy_gsi": id 2 is not in the allocator's range"#
/// );
/// assert!(err.source().is_some()); // the allocator's error
///
/// let err = vm.add_id_pool("bad\nname", 0, 1).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     r#"invalid pool name "bad\u{a}name": the name holds a control character at byte 3"#
/// );
///
/// // Names show by the rule of `escape_name`, between quotes: a name
/// // cannot fake a line of the message or hide what it holds.
/// let err = vm.allocate_id("gsi\u{2028}legacy_gsi").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     r#"no pool is named "gsi\u{2028}legacy_gsi""#
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SetError {
    /// No pool has this name.
    NoSuchPool(String),
    /// The pool hands out something else (ids, not addresses, or the
    /// reverse).
    WrongKind {
        /// The pool's name.
        pool: String,
        /// What the operation needs.
        expected: PoolKind,
    },
    /// A pool with this name exists already.
    DuplicatePool(String),
    /// The name is not a valid pool name.
    InvalidName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        error: NameError,
    },
    /// The pool's allocator refused the operation.
    Pool {
        /// The pool's name.
        pool: String,
        /// The allocator's error.
        error: Error,
    },
}

impl SetError {
    /// The allocator's error, if the allocator refused the operation.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Error, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// vm.allocate_id_at("legacy_gsi", 9)?;
    /// let taken = vm.allocate_id_at("legacy_gsi", 9).unwrap_err();
    /// assert_eq!(taken.allocator_error(), Some(Error::ResourceNotAvailable));
    /// let missing = vm.allocate_id_at("gsi", 9).unwrap_err();
    /// assert_eq!(missing.allocator_error(), None);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn allocator_error(&self) -> Option<Error> {
        match self {
            SetError::Pool { error, .. } => Some(*error),
            _ => None,
        }
    }
}

impl fmt::Display for SetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetError::NoSuchPool(name) => write!(f, "no pool is named {}", quoted(name)),
            SetError::WrongKind { pool, expected } => {
                write!(f, "pool {} is not an {expected} pool", quoted(pool))
            }
            SetError::DuplicatePool(name) => {
                write!(f, "a pool named {} exists already", quoted(name))
            }
            SetError::InvalidName { name, error } => {
                write!(f, "invalid pool name {}: {error}", quoted(name))
            }
            SetError::Pool { pool, error } => write!(f, "pool {}: {error}", quoted(pool)),
        }
    }
}

impl core::error::Error for SetError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            SetError::InvalidName { error, .. } => Some(error),
            SetError::Pool { error, .. } => Some(error),
            _ => None,
        }
    }
}
