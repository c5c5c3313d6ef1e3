// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Why an operation on a resource set failed.

use alloc::string::String;
use core::fmt;

use super::PoolKind;
use crate::{Error, NameError};

/// Why an operation on a [`ResourceSet`](crate::ResourceSet) failed; the
/// set is unchanged.
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
            SetError::NoSuchPool(name) => write!(f, "no pool is named {name:?}"),
            SetError::WrongKind { pool, expected } => {
                write!(f, "pool {pool:?} is not an {expected} pool")
            }
            SetError::DuplicatePool(name) => write!(f, "a pool named {name:?} exists already"),
            SetError::InvalidName { name, error } => {
                write!(f, "invalid pool name {name:?}: {error}")
            }
            SetError::Pool { pool, error } => write!(f, "pool {pool:?}: {error}"),
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
