// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! One list item, `(start, end, owner)`: an allocation or a run of ids,
//! and its owner's name or none.

use alloc::string::String;
use core::fmt;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeTuple, Serializer};

use super::build::RawItem;
use crate::Owner;

/// An item as read, not yet checked.
pub(crate) struct Item(pub(crate) RawItem);

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_tuple(3, ItemVisitor)
    }
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
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
        let owner: Option<String> = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(2, &self))?;
        Ok(Item((start, end, owner)))
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
        Owner::try_from(name.as_str())
            .map_err(|e| de::Error::custom(format_args!("invalid owner {name:?}: {e}")))
    }
}
