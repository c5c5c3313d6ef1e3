// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Streaming decoded items through the validating builders.
//!
//! Used by the flat serde shapes and by the 0.1.x import alike, so every way
//! in runs the same checks.

use alloc::collections::BTreeSet;
use alloc::string::String;
use core::fmt;

use serde::de;

use crate::escape::quoted;

use crate::validate::{AddressAllocatorBuilder, IdAllocatorBuilder};
use crate::{AddressAllocator, IdAllocator, NameError, Owner, StateError, MAX_NAME_LEN};

/// A serde error for a state `what` rejected for `error`.
pub(crate) fn state_error<E: de::Error, W: fmt::Display + ?Sized>(
    what: &W,
    error: StateError,
) -> E {
    E::custom(format_args!("invalid {what}: {error}"))
}

/// What is being read, for error messages: a state type, and the pool of a
/// set it belongs to, if any.
#[derive(Clone, Copy, Debug)]
pub(crate) struct What<'a> {
    kind: &'static str,
    pool: Option<PoolAt<'a>>,
}

/// A pool of a set: its position, and its name once known and valid.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PoolAt<'a> {
    pub(crate) index: u64,
    pub(crate) name: Option<&'a str>,
}

impl<'a> What<'a> {
    /// A state of type `kind` read on its own, or as the pool `pool`.
    pub(crate) fn new(kind: &'static str, pool: Option<PoolAt<'a>>) -> Self {
        What { kind, pool }
    }
}

/// `IdAllocator`, or `IdAllocator of pool #1 "gsi"`.
impl fmt::Display for What<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind)?;
        if let Some(PoolAt { index, name }) = self.pool {
            write!(f, " of pool #{index}")?;
            if let Some(name) = name {
                write!(f, " {}", quoted(name))?;
            }
        }
        Ok(())
    }
}

/// An item's owner as read: none, a valid name, or an invalid one.
pub(crate) type Named = Result<Option<Owner>, BadName>;

/// A decoded item: its bounds, not yet checked, and its owner.
pub(crate) type Item = (u64, u64, Named);

/// An owner name that is not valid, kept to be reported at its item's
/// position.
#[derive(Debug)]
pub(crate) struct BadName {
    /// The name, cut short if it is very long.
    shown: String,
    /// Its length in bytes.
    len: usize,
    error: NameError,
}

impl BadName {
    pub(crate) fn new(name: &str, error: NameError) -> BadName {
        // A hostile name may be huge: show at most twice the longest valid
        // one.
        let mut cut = name.len().min(2 * MAX_NAME_LEN);
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        BadName {
            shown: String::from(&name[..cut]),
            len: name.len(),
            error,
        }
    }
}

/// `"name": why`, the name cut short (with its length) if very long.
impl fmt::Display for BadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", quoted(&self.shown))?;
        if self.shown.len() < self.len {
            write!(f, "... ({} bytes)", self.len)?;
        }
        write!(f, ": {}", self.error)
    }
}

/// Turns owner names into shared [`Owner`]s, so that a name repeated on
/// many allocations is held once, and looking it up allocates nothing.
#[derive(Default)]
pub(crate) struct Interner {
    names: BTreeSet<Owner>,
    /// The last owner given: items of one owner tend to follow each other.
    last: Option<Owner>,
}

impl Interner {
    /// The owner named `name`, checked. Time: O(log k), k = names so far.
    pub(crate) fn owner(&mut self, name: &str) -> Result<Owner, BadName> {
        if let Some(last) = self.last.as_ref().filter(|l| l.as_str() == name) {
            return Ok(last.clone());
        }
        let owner = match self.names.get(name) {
            Some(owner) => owner.clone(),
            None => {
                let owner = Owner::new(name).map_err(|e| BadName::new(name, e))?;
                self.names.insert(owner.clone());
                owner
            }
        };
        self.last = Some(owner.clone());
        Ok(owner)
    }

    /// [`owner`](Self::owner) for a name the deserializer hands over owned.
    pub(crate) fn owner_from(&mut self, name: String) -> Result<Owner, BadName> {
        if self.names.contains(name.as_str()) {
            return self.owner(&name);
        }
        let owner = Owner::try_from(name.as_str()).map_err(|e| BadName::new(&name, e))?;
        self.names.insert(owner.clone());
        self.last = Some(owner.clone());
        Ok(owner)
    }
}

/// The error for item `index`, `start..=end`, whose owner's name is bad.
fn bad_owner<E: de::Error, W: fmt::Display + ?Sized>(
    what: &W,
    index: u64,
    start: u64,
    end: u64,
    bad: BadName,
) -> E {
    E::custom(format_args!(
        "invalid {what}: allocation #{index} {start:#x}-{end:#x} has an invalid owner {bad}"
    ))
}

/// Builds the allocator of the address space `space` from its allocations,
/// checking each as it arrives; the first decoding or validation error wins.
///
/// Time: O(n).
pub(crate) fn build_addresses<E: de::Error, W: fmt::Display + ?Sized>(
    what: &W,
    space: (u64, u64),
    generation: u64,
    allocations: impl Iterator<Item = Result<Item, E>>,
) -> Result<AddressAllocator, E> {
    let mut builder = AddressAllocatorBuilder::from_bounds(space.0, space.1)
        .map_err(|e| state_error(what, e))?
        .generation(generation);
    for (index, item) in (0u64..).zip(allocations) {
        let (start, end, owner) = item?;
        let owner = owner.map_err(|bad| bad_owner(what, index, start, end, bad))?;
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
pub(crate) fn build_ids<E: de::Error, W: fmt::Display + ?Sized>(
    what: &W,
    (base, end, next_id): (u64, u64, u64),
    generation: u64,
    runs: impl Iterator<Item = Result<Item, E>>,
) -> Result<IdAllocator, E> {
    let mut builder = IdAllocatorBuilder::from_bounds(base, end)
        .and_then(|b| b.with_next_id(next_id))
        .map_err(|e| state_error(what, e))?
        .generation(generation);
    for (index, item) in (0u64..).zip(runs) {
        let (first, last, owner) = item?;
        let owner = owner.map_err(|bad| bad_owner(what, index, first, last, bad))?;
        builder
            .push_bounds(first, last, owner)
            .map_err(|e| state_error(what, e))?;
    }
    builder.finish().map_err(|e| state_error(what, e))
}
