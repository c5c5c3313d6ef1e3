// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `IdAllocator` as
//! `{ range_base, range_end, next_id, generation, allocated: [(first, last, owner), ..] }`.

use core::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeSeq, SerializeStruct, Serializer};

use super::item::{Ids, ItemOut};
use super::pending::{items, Pending, PendingSeed};
use super::{build_ids, next_field, FieldSeed, Interner, PoolAt, Seen, What};
use crate::IdAllocator;

const FIELDS: &[&str] = &[
    "range_base",
    "range_end",
    "next_id",
    "generation",
    "allocated",
];
const KIND: &str = "IdAllocator";

impl Serialize for IdAllocator {
    /// Time: O(r), r = runs of allocated ids, with no allocation.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut st = serializer.serialize_struct(KIND, 5)?;
        st.serialize_field("range_base", &self.range_base())?;
        st.serialize_field("range_end", &self.range_end())?;
        st.serialize_field("next_id", &self.next_id())?;
        st.serialize_field("generation", &self.generation())?;
        st.serialize_field("allocated", &RunList(self))?;
        st.end()
    }
}

/// The allocated ids as `(first, last, owner)` runs that share an owner.
struct RunList<'a>(&'a IdAllocator);

impl Serialize for RunList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // bincode, postcard and bitcode need the length up front. Without
        // owners the items are the runs, whose number is known; with owners
        // they are counted first (no allocation, O(r)).
        let len = if self.0.has_owners() {
            self.0.allocations().count()
        } else {
            self.0.runs().len()
        };
        let mut seq = serializer.serialize_seq(Some(len))?;
        for a in self.0.allocations() {
            let ids = a.ids();
            seq.serialize_element(&ItemOut(*ids.start(), *ids.end(), a.owner()))?;
        }
        seq.end()
    }
}

/// Checks the range, the next id and every run through the validating
/// builder, streaming the runs into the tree.
impl<'de> de::Deserialize<'de> for IdAllocator {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let owners = &mut Interner::default();
        IdSeed::new(None, owners).deserialize(deserializer)
    }
}

/// Reads an `IdAllocator` on its own or as the pool `pool` of a set,
/// sharing owner names through `owners`.
pub(crate) struct IdSeed<'a> {
    what: What<'a>,
    owners: &'a mut Interner,
}

impl<'a> IdSeed<'a> {
    pub(crate) fn new(pool: Option<PoolAt<'a>>, owners: &'a mut Interner) -> Self {
        IdSeed {
            what: What::new(KIND, pool),
            owners,
        }
    }
}

impl<'de> DeserializeSeed<'de> for IdSeed<'_> {
    type Value = IdAllocator;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_struct(KIND, FIELDS, self)
    }
}

/// `range_base`, `range_end`, `next_id` and `generation`, not yet checked.
#[derive(Clone, Copy)]
struct Header {
    base: u32,
    end: u32,
    next_id: u64,
    generation: u64,
}

impl Header {
    fn bounds(self) -> (u64, u64, u64) {
        (self.base.into(), self.end.into(), self.next_id)
    }
}

impl<'de> Visitor<'de> for IdSeed<'_> {
    type Value = IdAllocator;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct IdAllocator { range_base, range_end, next_id, generation, allocated }")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IdAllocator, A::Error> {
        let header = Header {
            base: next_field(&mut seq, 0, &self)?,
            end: next_field(&mut seq, 1, &self)?,
            next_id: next_field(&mut seq, 2, &self)?,
            generation: next_field(&mut seq, 3, &self)?,
        };
        seq.next_element_seed(Runs {
            what: self.what,
            header,
            owners: self.owners,
        })?
        .ok_or_else(|| de::Error::invalid_length(4, &"struct IdAllocator with 5 elements"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IdAllocator, A::Error> {
        let IdSeed { what, owners } = self;
        let mut seen = Seen::default();
        let (mut base, mut end, mut next_id, mut generation) = (None, None, None, None);
        let mut built: Option<IdAllocator> = None;
        let mut pending: Option<Pending> = None;
        while let Some(i) = map.next_key_seed(FieldSeed(FIELDS))? {
            seen.first_time(i, FIELDS)?;
            match i {
                0 => base = Some(map.next_value()?),
                1 => end = Some(map.next_value()?),
                2 => next_id = Some(map.next_value()?),
                3 => generation = Some(map.next_value()?),
                _ => match (base, end, next_id, generation) {
                    (Some(base), Some(end), Some(next_id), Some(generation)) => {
                        let header = Header {
                            base,
                            end,
                            next_id,
                            generation,
                        };
                        built = Some(map.next_value_seed(Runs {
                            what,
                            header,
                            owners: &mut *owners,
                        })?);
                    }
                    _ => {
                        let seed = PendingSeed::<Ids>::new(&mut *owners);
                        pending = Some(map.next_value_seed(seed)?);
                    }
                },
            }
        }
        let header = Header {
            base: base.ok_or_else(|| de::Error::missing_field(FIELDS[0]))?,
            end: end.ok_or_else(|| de::Error::missing_field(FIELDS[1]))?,
            next_id: next_id.ok_or_else(|| de::Error::missing_field(FIELDS[2]))?,
            generation: generation.ok_or_else(|| de::Error::missing_field(FIELDS[3]))?,
        };
        match (built, pending) {
            (Some(allocator), _) => Ok(allocator),
            (None, Some(pending)) => {
                build_ids(&what, header.bounds(), header.generation, pending.replay())
            }
            (None, None) => Err(de::Error::missing_field(FIELDS[4])),
        }
    }
}

/// Reads the runs of a known range straight into the allocator.
struct Runs<'a> {
    what: What<'a>,
    header: Header,
    owners: &'a mut Interner,
}

impl<'de> DeserializeSeed<'de> for Runs<'_> {
    type Value = IdAllocator;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Runs<'_> {
    type Value = IdAllocator;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of (first, last, owner) runs of allocated ids")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IdAllocator, A::Error> {
        let h = self.header;
        let runs = items::<Ids, _>(&mut seq, self.owners);
        build_ids(&self.what, h.bounds(), h.generation, runs)
    }
}
