// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Lists that arrive before the parameters they are checked against.
//!
//! A self-describing format may give a struct's fields in any order. When a
//! list comes first, its items are held as they were read (a few dozen
//! bytes each, for at least a handful of input bytes each: a small multiple
//! of the input) and go through the builder, with every check, once the
//! parameters are known. Nothing is checked against a placeholder.

use alloc::vec::Vec;

use serde::de::{DeserializeSeed, Deserializer, SeqAccess, Visitor};

use super::build::RawItem;
use super::item::Item;

/// Items of a list, held until the parameters are known.
pub(crate) struct Pending(pub(crate) Vec<RawItem>);

impl Pending {
    /// The held items, in the order they came.
    pub(crate) fn replay<E>(self) -> impl Iterator<Item = Result<RawItem, E>> {
        self.0.into_iter().map(Ok)
    }
}

/// Reads a list of items into a [`Pending`].
pub(crate) struct PendingSeed;

impl<'de> DeserializeSeed<'de> for PendingSeed {
    type Value = Pending;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Pending, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PendingSeed {
    type Value = Pending;

    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("a sequence of (start, end, owner) items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Pending, A::Error> {
        // Grows with the items present, never with a declared length.
        let mut items = Vec::new();
        while let Some(Item(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Pending(items))
    }
}

/// Reads the items of a sequence one at a time.
pub(crate) fn items<'de, 'a, A: SeqAccess<'de>>(
    seq: &'a mut A,
) -> impl Iterator<Item = Result<RawItem, A::Error>> + 'a {
    core::iter::from_fn(move || {
        seq.next_element::<Item>()
            .map(|item| item.map(|Item(raw)| raw))
            .transpose()
    })
}
