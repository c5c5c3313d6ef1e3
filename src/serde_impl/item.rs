// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! One list item, `(start, end, owner)`: an allocation or a run of ids,
//! and its owner's name or none.

use alloc::string::String;
use core::fmt;
use core::marker::PhantomData;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeTuple, Serializer};

use super::build::{BadName, Interner, Item, Named};
use crate::Owner;

/// How an item's bounds are written: as `u64` (addresses) or `u32` (ids).
pub(crate) trait Bound {
    /// Reads a bound, widened to `u64`.
    fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error>;
}

/// Bounds written as `u64`.
pub(crate) struct Addresses;

impl Bound for Addresses {
    fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_u64(Widen)
    }
}

/// Bounds written as `u32`. A self-describing format may hold any
/// integer there: it is taken whole, for the builder to report as outside
/// the id range with the item's position.
pub(crate) struct Ids;

impl Bound for Ids {
    fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_u32(Widen)
    }
}

/// Any unsigned integer, as a `u64`.
struct Widen;

impl Visitor<'_> for Widen {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an unsigned integer")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }
}

/// Reads one bound.
struct BoundSeed<B>(PhantomData<B>);

impl<'de, B: Bound> DeserializeSeed<'de> for BoundSeed<B> {
    type Value = u64;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<u64, D::Error> {
        B::read(deserializer)
    }
}

/// Reads an item whose bounds are written as `B`, turning its owner's name
/// into a shared [`Owner`] as it is read (no string is allocated for a name
/// seen before). The bounds are not checked; an invalid name is returned,
/// not raised, so that it is reported at its position among the other
/// errors.
pub(crate) struct ItemSeed<'a, B> {
    owners: &'a mut Interner,
    bound: PhantomData<B>,
}

impl<'a, B> ItemSeed<'a, B> {
    pub(crate) fn new(owners: &'a mut Interner) -> Self {
        ItemSeed {
            owners,
            bound: PhantomData,
        }
    }
}

impl<'de, B: Bound> DeserializeSeed<'de> for ItemSeed<'_, B> {
    type Value = Item;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Item, D::Error> {
        deserializer.deserialize_tuple(3, self)
    }
}

impl<'de, B: Bound> Visitor<'de> for ItemSeed<'_, B> {
    type Value = Item;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a (start, end, owner) triple")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Item, A::Error> {
        let start = seq
            .next_element_seed(BoundSeed::<B>(PhantomData))?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let end = seq
            .next_element_seed(BoundSeed::<B>(PhantomData))?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        let owner = seq
            .next_element_seed(OwnerSeed {
                owners: self.owners,
            })?
            .ok_or_else(|| de::Error::invalid_length(2, &self))?;
        Ok((start, end, owner))
    }
}

/// Reads an optional owner name.
struct OwnerSeed<'a> {
    owners: &'a mut Interner,
}

impl<'de> DeserializeSeed<'de> for OwnerSeed<'_> {
    type Value = Named;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Named, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for OwnerSeed<'_> {
    type Value = Named;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an owner name or none")
    }

    fn visit_none<E: de::Error>(self) -> Result<Named, E> {
        Ok(Ok(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Named, E> {
        Ok(Ok(None))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Named, D::Error> {
        deserializer.deserialize_str(self)
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Named, E> {
        Ok(self.owners.owner(name).map(Some))
    }

    fn visit_string<E: de::Error>(self, name: String) -> Result<Named, E> {
        Ok(self.owners.owner_from(name).map(Some))
    }
}

/// Writes `(start, end, owner)`, the bounds as `B` is (`u64` or `u32`).
pub(crate) struct ItemOut<'a, B>(pub(crate) B, pub(crate) B, pub(crate) Option<&'a Owner>);

impl<B: Serialize> Serialize for ItemOut<'_, B> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut t = serializer.serialize_tuple(3)?;
        t.serialize_element(&self.0)?;
        t.serialize_element(&self.1)?;
        t.serialize_element(&self.2.map(Owner::as_str))?;
        t.end()
    }
}

/// An owner is its name.
impl Serialize for Owner {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A name, checked as [`Owner::new`] checks it.
impl<'de> Deserialize<'de> for Owner {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Owner::try_from(name.as_str()).map_err(|e| {
            de::Error::custom(format_args!("invalid owner {}", BadName::new(&name, e)))
        })
    }
}
