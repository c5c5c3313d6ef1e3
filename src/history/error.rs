// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Why a history refused a version or a query.

use core::fmt;

use crate::DiffError;

/// Why a [`History`](crate::History) refused to record a version or to
/// answer a query; the history is unchanged.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{History, HistoryError, IdAllocator};
///
/// let mut gsi = IdAllocator::new(5, 23)?;
/// gsi.allocate_id()?;
/// let mut history = History::new(gsi.clone());
/// // The same generation again is not a new version.
/// let err = history.record(&gsi).unwrap_err();
/// assert_eq!(
///     err,
///     HistoryError::NotAbove {
///         latest: 1,
///         found: 1
///     }
/// );
/// assert_eq!(
///     err.to_string(),
///     "cannot record the state at generation 1: the history's latest version is at \
///      generation 1, and each version must be above the one before"
/// );
/// # Ok::<(), vm_allocator::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HistoryError {
    /// The state's generation is not above that of the latest version.
    NotAbove {
        /// The generation of the history's latest version.
        latest: u64,
        /// The generation of the state given.
        found: u64,
    },
    /// The state does not have the shape of the history's versions (another
    /// range or space, other pools): it is not a later version of them.
    ShapeMismatch(DiffError),
    /// A history needs a first version, and none was given.
    Empty,
    /// No version at this generation is kept.
    NotKept {
        /// The generation asked for.
        generation: u64,
        /// The oldest version kept.
        oldest: u64,
        /// The latest version.
        latest: u64,
    },
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryError::NotAbove { latest, found } => write!(
                f,
                "cannot record the state at generation {found}: the history's latest version \
                 is at generation {latest}, and each version must be above the one before"
            ),
            HistoryError::ShapeMismatch(why) => {
                write!(f, "cannot record the state: {why}")
            }
            HistoryError::Empty => {
                f.write_str("a history needs a first version, and there is none")
            }
            HistoryError::NotKept {
                generation,
                oldest,
                latest,
            } => write!(
                f,
                "no version at generation {generation} is kept (the history keeps versions \
                 from generation {oldest} to {latest})"
            ),
        }
    }
}

impl core::error::Error for HistoryError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            HistoryError::ShapeMismatch(why) => Some(why),
            _ => None,
        }
    }
}
