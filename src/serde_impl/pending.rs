// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Lists that arrive before the parameters they are checked against.
//!
//! A self-describing format may give a struct's fields in any order. When a
//! list comes first it is checked for order as it streams in and held in a
//! tree (the same memory the final allocator needs, never a copy of the
//! input), then replayed through the full checks once the parameters are
//! known.

use serde::de;

use super::build_ids;
use crate::{AddressAllocator, IdAllocator, RangeInclusive, StateError};

/// Sorted, disjoint address ranges waiting for their address space.
pub(crate) struct PendingAllocations(
    /// The ranges, in an allocator whose space is a placeholder: only its
    /// list of allocations is ever read.
    AddressAllocator,
);

impl PendingAllocations {
    /// Reads the ranges of a `what`, checking that each is a valid range that
    /// starts after the previous one ends.
    ///
    /// Time: O(n).
    pub(crate) fn collect<E: de::Error>(
        what: &str,
        ranges: impl Iterator<Item = Result<(u64, u64), E>>,
    ) -> Result<Self, E> {
        let mut index = 0u64;
        let mut previous_end: Option<u64> = None;
        let mut checked = crate::state::Checked::new(ranges.fuse().map(|item| {
            let (start, end) = item?;
            if start > end {
                return Err(super::state_error(
                    what,
                    StateError::InvertedRange { index, start, end },
                ));
            }
            if start == 0 && end == u64::MAX {
                return Err(E::custom(format_args!(
                    "invalid {what}: allocation #{index} {start:#x}-{end:#x} is the whole u64 space, \
                     which no address space can hold"
                )));
            }
            if let Some(previous_end) = previous_end.filter(|&p| start <= p) {
                return Err(super::state_error(
                    what,
                    StateError::Overlap {
                        index,
                        previous_end,
                        start,
                    },
                ));
            }
            previous_end = Some(end);
            index += 1;
            Ok(RangeInclusive::from_parts(start, end))
        }));
        let placeholder = RangeInclusive::from_parts(0, u64::MAX - 1);
        let held = AddressAllocator::from_validated(placeholder, &mut checked);
        match checked.into_error() {
            Some(e) => Err(e),
            None => Ok(PendingAllocations(held)),
        }
    }

    /// The held ranges in increasing order.
    pub(crate) fn replay(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.0.iter().map(|r| (r.start(), r.end()))
    }
}

/// Sorted id runs, none touching the next, waiting for their id range and
/// next id.
pub(crate) struct PendingRuns(
    /// The runs, in an allocator of every `u32` id.
    IdAllocator,
);

impl PendingRuns {
    /// Reads the runs of a `what`, checking their order as the final
    /// checker would (inverted, unsorted, overlapping or touching runs).
    ///
    /// Time: O(r).
    pub(crate) fn collect<E: de::Error>(
        what: &str,
        runs: impl Iterator<Item = Result<(u64, u64), E>>,
    ) -> Result<Self, E> {
        let every_id = (0, u32::MAX.into(), 1 << 32);
        build_ids(what, every_id, runs).map(PendingRuns)
    }

    /// The held runs in increasing order.
    pub(crate) fn replay(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.0
            .ranges()
            .map(|r| (u64::from(*r.start()), u64::from(*r.end())))
    }
}
