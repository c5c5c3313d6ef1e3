// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! One list item, `(start, end, owner)`: an allocation or a run of ids,
//! and its owner's name or none.

use alloc::string::String;
use core::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeTuple, Serializer};

use super::build::{BadName, Interner, Item, Named};
use crate::Owner;

/// Reads an item, turning its owner's name into a shared [`Owner`] as it
/// is read (no string is allocated for a name seen before). The bounds are
/// not checked; an invalid name is returned, not raised, so that it is
/// reported at its position among the other errors.
pub(crate) struct ItemSeed<'a> {
    pub(crate) owners: &'a mut Interner,
}

impl<'de> DeserializeSeed<'de> for ItemSeed<'_> {
    type Value = Item;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Item, D::Error> {
        deserializer.deserialize_tuple(3, self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_> {
    type Value = Item;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a (start, end, owner) triple")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Item, A::Error> {
        let start: u64 = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let end: u64 = seq
            .next_element()?
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

/// Writes `(start, end, owner)`.
pub(crate) struct ItemOut<'a>(pub(crate) u64, pub(crate) u64, pub(crate) Option<&'a Owner>);

impl Serialize for ItemOut<'_> {
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
