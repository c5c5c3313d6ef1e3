// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Field names and positions for the hand-written struct visitors.

use alloc::string::String;
use core::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};

/// Reads a field name, or its index for formats that number fields, as its
/// position in the list of names; unknown names are errors.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FieldSeed(pub(crate) &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for FieldSeed {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "one of {:?}", self.0)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<usize, E> {
        index_in(self.0, v).ok_or_else(|| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<usize, E> {
        position_in(self.0, v.as_bytes()).ok_or_else(|| E::unknown_field(v, self.0))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<usize, E> {
        position_in(self.0, v).ok_or_else(|| E::unknown_field(&String::from_utf8_lossy(v), self.0))
    }
}

/// `v` as an index into `names`, if it is one.
fn index_in(names: &[&str], v: u64) -> Option<usize> {
    usize::try_from(v).ok().filter(|&i| i < names.len())
}

/// Where the name `v` is in `names`.
fn position_in(names: &[&str], v: &[u8]) -> Option<usize> {
    names.iter().position(|name| name.as_bytes() == v)
}

/// Reads an enum variant's name, or its index for formats that number
/// variants, as its position in the list of names; anything else is an
/// unknown variant (not an unknown field: the messages differ).
#[derive(Clone, Copy, Debug)]
pub(crate) struct VariantSeed(pub(crate) &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for VariantSeed {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for VariantSeed {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a variant index, one of")?;
        for (i, name) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            write!(f, "{sep} {i} (`{name}`)")?;
        }
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<usize, E> {
        index_in(self.0, v).ok_or_else(|| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<usize, E> {
        position_in(self.0, v.as_bytes()).ok_or_else(|| E::unknown_variant(v, self.0))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<usize, E> {
        position_in(self.0, v)
            .ok_or_else(|| E::unknown_variant(&String::from_utf8_lossy(v), self.0))
    }
}

/// The fields a map has given so far, to reject duplicates and name the
/// missing ones.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Seen(u32);

impl Seen {
    /// Records field `i` of `names`; fails if the map gave it before.
    pub(crate) fn first_time<E: de::Error>(
        &mut self,
        i: usize,
        names: &'static [&'static str],
    ) -> Result<(), E> {
        let bit = 1 << i;
        if self.0 & bit != 0 {
            return Err(E::duplicate_field(names[i]));
        }
        self.0 |= bit;
        Ok(())
    }

    /// True if field `i` was given.
    pub(crate) fn has(&self, i: usize) -> bool {
        self.0 & (1 << i) != 0
    }
}

/// Reads element `i` of a struct given as a sequence; a missing element is an
/// error naming how many were expected.
pub(crate) fn next_field<'de, A, T>(
    seq: &mut A,
    i: usize,
    expected: &dyn de::Expected,
) -> Result<T, A::Error>
where
    A: SeqAccess<'de>,
    T: de::Deserialize<'de>,
{
    seq.next_element()?
        .ok_or_else(|| de::Error::invalid_length(i, expected))
}
