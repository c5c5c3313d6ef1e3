// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Lists that arrive before the parameters they are checked against.
//!
//! A self-describing format may give a struct's fields in any order. When a
//! list comes first, its items are held as they were read and go through
//! the builder, with every check and in order, once the parameters are
//! known: nothing is checked against a placeholder, so every error is the
//! one the real space or range gives.
//!
//! An item is held in 24 bytes (its bounds and a shared owner) against
//! the 11 input bytes of the shortest JSON item (`[0,0,null],`), in blocks
//! of fixed size (no regrowth copies) that are released as the items are
//! replayed. No string is copied and nothing is reserved from a declared
//! length.

use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;

use serde::de::{DeserializeSeed, Deserializer, SeqAccess, Visitor};

use super::build::{BadName, Interner, Item};
use super::item::{Bound, ItemSeed};
use crate::Owner;

/// Items per block.
const BLOCK: usize = 1024;

/// Items of a list, held until the parameters are known.
pub(crate) struct Pending {
    blocks: Vec<Vec<(u64, u64, Option<Owner>)>>,
    /// The first item with an invalid owner name: replay stops there, so
    /// nothing after it is held.
    bad: Option<(u64, u64, BadName)>,
}

impl Pending {
    /// The held items, in the order they came.
    pub(crate) fn replay<E>(self) -> impl Iterator<Item = Result<Item, E>> {
        let bad = self.bad.map(|(start, end, bad)| Ok((start, end, Err(bad))));
        self.blocks
            .into_iter()
            .flatten()
            .map(|(start, end, owner)| Ok((start, end, Ok(owner))))
            .chain(bad)
    }
}

/// Reads a list of items whose bounds are written as `B` into a
/// [`Pending`].
pub(crate) struct PendingSeed<'a, B> {
    owners: &'a mut Interner,
    bound: PhantomData<B>,
}

impl<'a, B> PendingSeed<'a, B> {
    pub(crate) fn new(owners: &'a mut Interner) -> Self {
        PendingSeed {
            owners,
            bound: PhantomData,
        }
    }
}

impl<'de, B: Bound> DeserializeSeed<'de> for PendingSeed<'_, B> {
    type Value = Pending;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Pending, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, B: Bound> Visitor<'de> for PendingSeed<'_, B> {
    type Value = Pending;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of (start, end, owner) items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Pending, A::Error> {
        let mut held = Pending {
            blocks: Vec::new(),
            bad: None,
        };
        while let Some((start, end, owner)) =
            seq.next_element_seed(ItemSeed::<B>::new(&mut *self.owners))?
        {
            if held.bad.is_some() {
                // Read to the end (the input must be well formed), keep
                // nothing.
                continue;
            }
            match owner {
                Ok(owner) => match held.blocks.last_mut() {
                    Some(block) if block.len() < BLOCK => block.push((start, end, owner)),
                    _ => {
                        let mut block = Vec::with_capacity(BLOCK);
                        block.push((start, end, owner));
                        held.blocks.push(block);
                    }
                },
                Err(bad) => held.bad = Some((start, end, bad)),
            }
        }
        Ok(held)
    }
}

/// Reads the items of a sequence one at a time, their bounds written as
/// `B`.
pub(crate) fn items<'de, 'a, B: Bound, A: SeqAccess<'de>>(
    seq: &'a mut A,
    owners: &'a mut Interner,
) -> impl Iterator<Item = Result<Item, A::Error>> + 'a {
    core::iter::from_fn(move || {
        seq.next_element_seed(ItemSeed::<B>::new(&mut *owners))
            .transpose()
    })
}
