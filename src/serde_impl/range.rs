// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `RangeInclusive` as the struct `{ start, end }` of vm-allocator 0.1.x,
//! checked on the way in.

use core::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::{next_field, FieldSeed, Seen};
use crate::RangeInclusive;

const FIELDS: &[&str] = &["start", "end"];

impl Serialize for RangeInclusive {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut st = serializer.serialize_struct("RangeInclusive", 2)?;
        st.serialize_field("start", &self.start())?;
        st.serialize_field("end", &self.end())?;
        st.end()
    }
}

/// Accepts `start <= end` other than the whole `u64` space, as
/// [`RangeInclusive::new`] does.
impl<'de> Deserialize<'de> for RangeInclusive {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let RawRange { start, end } = RawRange::deserialize(deserializer)?;
        RangeInclusive::new(start, end).map_err(|_| {
            let why = if start > end {
                "start is after end"
            } else {
                "it is the whole u64 space, whose length does not fit in a u64"
            };
            de::Error::custom(format_args!(
                "invalid RangeInclusive {start:#x}-{end:#x}: {why}"
            ))
        })
    }
}

/// The bounds of a serialised `RangeInclusive`, not yet checked: each reader
/// judges them in its own terms (an address space, a tree node's key).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawRange {
    pub(crate) start: u64,
    pub(crate) end: u64,
}

impl<'de> Deserialize<'de> for RawRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct("RangeInclusive", FIELDS, RawRangeVisitor)
    }
}

struct RawRangeVisitor;

impl<'de> Visitor<'de> for RawRangeVisitor {
    type Value = RawRange;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct RangeInclusive { start, end }")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawRange, A::Error> {
        let start = next_field(&mut seq, 0, &self)?;
        let end = next_field(&mut seq, 1, &self)?;
        Ok(RawRange { start, end })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRange, A::Error> {
        let mut seen = Seen::default();
        let (mut start, mut end) = (0, 0);
        while let Some(i) = map.next_key_seed(FieldSeed(FIELDS))? {
            seen.first_time(i, FIELDS)?;
            let value = map.next_value()?;
            if i == 0 {
                start = value;
            } else {
                end = value;
            }
        }
        for (i, name) in FIELDS.iter().enumerate() {
            if !seen.has(i) {
                return Err(de::Error::missing_field(name));
            }
        }
        Ok(RawRange { start, end })
    }
}
