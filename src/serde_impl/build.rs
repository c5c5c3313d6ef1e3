// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Streaming decoded items through the validating builders.
//!
//! Used by the flat serde shapes and by the 0.1.x import alike, so every way
//! in runs the same checks.

use alloc::collections::BTreeMap;
use alloc::string::String;

use serde::de;

use crate::validate::{AddressAllocatorBuilder, IdAllocatorBuilder};
use crate::{AddressAllocator, IdAllocator, Owner, StateError};

/// A serde error for a state `what` rejected for `error`.
pub(crate) fn state_error<E: de::Error>(what: &str, error: StateError) -> E {
    E::custom(format_args!("invalid {what}: {error}"))
}

/// A decoded item: its bounds and its owner's name, not yet checked.
pub(crate) type RawItem = (u64, u64, Option<String>);

/// Turns owner names into shared [`Owner`]s, so that a name repeated on
/// many allocations is held once.
#[derive(Default)]
pub(crate) struct Interner {
    names: BTreeMap<String, Owner>,
}

impl Interner {
    /// The owner named `name`, checked, for item `index` of a `what`.
    pub(crate) fn owner<E: de::Error>(
        &mut self,
        what: &str,
        index: u64,
        name: String,
    ) -> Result<Owner, E> {
        if let Some(owner) = self.names.get(&name) {
            return Ok(owner.clone());
        }
        let owner = Owner::new(&name).map_err(|e| {
            E::custom(format_args!(
                "invalid {what}: allocation #{index} has the owner {name:?}: {e}"
            ))
        })?;
        self.names.insert(name, owner.clone());
        Ok(owner)
    }
}

/// Builds the allocator of the address space `space` from its allocations,
/// checking each as it arrives; the first decoding or validation error wins.
///
/// Time: O(n).
pub(crate) fn build_addresses<E: de::Error>(
    what: &str,
    space: (u64, u64),
    generation: u64,
    allocations: impl Iterator<Item = Result<RawItem, E>>,
) -> Result<AddressAllocator, E> {
    let mut builder = AddressAllocatorBuilder::from_bounds(space.0, space.1)
        .map_err(|e| state_error(what, e))?
        .generation(generation);
    let mut owners = Interner::default();
    for (index, item) in (0u64..).zip(allocations) {
        let (start, end, owner) = item?;
        let owner = owner
            .map(|name| owners.owner(what, index, name))
            .transpose()?;
        builder
            .push_bounds(start, end, owner)
            .map_err(|e| state_error(what, e))?;
    }
    builder.finish().map_err(|e| state_error(what, e))
}

/// Builds the id allocator of `base..=end` whose next never-allocated id is
/// `next_id` from its allocated runs, checking each as it arrives.
///
/// Time: O(r), r = runs.
pub(crate) fn build_ids<E: de::Error>(
    what: &str,
    (base, end, next_id): (u64, u64, u64),
    generation: u64,
    runs: impl Iterator<Item = Result<RawItem, E>>,
) -> Result<IdAllocator, E> {
    let mut builder = IdAllocatorBuilder::from_bounds(base, end)
        .and_then(|b| b.with_next_id(next_id))
        .map_err(|e| state_error(what, e))?
        .generation(generation);
    let mut owners = Interner::default();
    for (index, item) in (0u64..).zip(runs) {
        let (first, last, owner) = item?;
        let owner = owner
            .map(|name| owners.owner(what, index, name))
            .transpose()?;
        builder
            .push_bounds(first, last, owner)
            .map_err(|e| state_error(what, e))?;
    }
    builder.finish().map_err(|e| state_error(what, e))
}
