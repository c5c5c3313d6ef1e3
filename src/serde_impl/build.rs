// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Streaming decoded items through the state checkers into an allocator.
//!
//! Used by the flat serde shapes and by the 0.1.x import alike, so every way
//! in runs the same checks.

use serde::de;

use crate::state::{AddressChecker, Checked, IdChecker};
use crate::{AddressAllocator, IdAllocator, StateError};

/// A serde error for a state `what` rejected for `error`.
pub(crate) fn state_error<E: de::Error>(what: &str, error: StateError) -> E {
    E::custom(format_args!("invalid {what}: {error}"))
}

/// Builds the allocator of the address space `space` from its allocations,
/// checking each as it arrives; the first decoding or validation error wins.
///
/// Time: O(n).
pub(crate) fn build_addresses<E: de::Error>(
    what: &str,
    space: (u64, u64),
    allocations: impl Iterator<Item = Result<(u64, u64), E>>,
) -> Result<AddressAllocator, E> {
    let mut checker = AddressChecker::new(space.0, space.1).map_err(|e| state_error(what, e))?;
    let space = checker.space();
    let mut checked = Checked::new(allocations.fuse().map(|item| {
        let (start, end) = item?;
        checker.check(start, end).map_err(|e| state_error(what, e))
    }));
    let allocator = AddressAllocator::from_validated(space, &mut checked);
    match checked.into_error() {
        Some(e) => Err(e),
        None => Ok(allocator),
    }
}

/// Builds the id allocator of `base..=end` whose next never-allocated id is
/// `next_id` from its allocated runs, checking each as it arrives.
///
/// Time: O(r), r = runs.
pub(crate) fn build_ids<E: de::Error>(
    what: &str,
    (base, end, next_id): (u64, u64, u64),
    runs: impl Iterator<Item = Result<(u64, u64), E>>,
) -> Result<IdAllocator, E> {
    let mut checker = IdChecker::new(base, end, next_id).map_err(|e| state_error(what, e))?;
    let (base, end) = checker.range();
    let next_id = checker.next_id();
    let mut checked = Checked::new(runs.fuse().map(|item| {
        let (first, last) = item?;
        checker.check(first, last).map_err(|e| state_error(what, e))
    }));
    let allocator = IdAllocator::from_validated(base, end, next_id, &mut checked);
    match checked.into_error() {
        Some(e) => Err(e),
        None => Ok(allocator),
    }
}
