// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `IdAllocator` as `{ range_base, range_end, next_id, allocated: [(first, last), ..] }`.

use core::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeSeq, SerializeStruct, Serializer};

use super::pending::PendingRuns;
use super::{build_ids, next_field, FieldSeed, Seen};
use crate::IdAllocator;

const FIELDS: &[&str] = &["range_base", "range_end", "next_id", "allocated"];
const WHAT: &str = "IdAllocator";

impl Serialize for IdAllocator {
    /// Time: O(r), r = runs of allocated ids, with no allocation per run.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut st = serializer.serialize_struct("IdAllocator", 4)?;
        st.serialize_field("range_base", &self.range_base())?;
        st.serialize_field("range_end", &self.range_end())?;
        st.serialize_field("next_id", &self.next_id())?;
        st.serialize_field("allocated", &RunList(self))?;
        st.end()
    }
}

/// The allocated runs as a sequence of `(first, last)` of known length.
struct RunList<'a>(&'a IdAllocator);

impl Serialize for RunList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let runs = self.0.ranges();
        let len = match runs.size_hint() {
            (low, Some(high)) if low == high => Some(low),
            _ => None,
        };
        let mut seq = serializer.serialize_seq(len)?;
        for run in runs {
            seq.serialize_element(&(*run.start(), *run.end()))?;
        }
        seq.end()
    }
}

/// Checks the range, the next id and every run as the binary format does,
/// streaming the runs into the tree.
impl<'de> de::Deserialize<'de> for IdAllocator {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct("IdAllocator", FIELDS, AllocatorVisitor)
    }
}

/// `range_base`, `range_end` and `next_id`, not yet checked.
#[derive(Clone, Copy)]
struct Header {
    base: u32,
    end: u32,
    next_id: u64,
}

impl Header {
    fn as_u64(self) -> (u64, u64, u64) {
        (self.base.into(), self.end.into(), self.next_id)
    }
}

struct AllocatorVisitor;

impl<'de> Visitor<'de> for AllocatorVisitor {
    type Value = IdAllocator;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct IdAllocator { range_base, range_end, next_id, allocated }")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IdAllocator, A::Error> {
        let header = Header {
            base: next_field(&mut seq, 0, &self)?,
            end: next_field(&mut seq, 1, &self)?,
            next_id: next_field(&mut seq, 2, &self)?,
        };
        seq.next_element_seed(Runs { header })?
            .ok_or_else(|| de::Error::invalid_length(3, &self))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IdAllocator, A::Error> {
        let mut seen = Seen::default();
        let (mut base, mut end, mut next_id) = (None, None, None);
        let mut built: Option<IdAllocator> = None;
        let mut pending: Option<PendingRuns> = None;
        while let Some(i) = map.next_key_seed(FieldSeed(FIELDS))? {
            seen.first_time(i, FIELDS)?;
            match i {
                0 => base = Some(map.next_value()?),
                1 => end = Some(map.next_value()?),
                2 => next_id = Some(map.next_value()?),
                _ => match (base, end, next_id) {
                    (Some(base), Some(end), Some(next_id)) => {
                        let header = Header { base, end, next_id };
                        built = Some(map.next_value_seed(Runs { header })?);
                    }
                    _ => pending = Some(map.next_value_seed(Pending)?),
                },
            }
        }
        let header = Header {
            base: base.ok_or_else(|| de::Error::missing_field(FIELDS[0]))?,
            end: end.ok_or_else(|| de::Error::missing_field(FIELDS[1]))?,
            next_id: next_id.ok_or_else(|| de::Error::missing_field(FIELDS[2]))?,
        };
        match (built, pending) {
            (Some(allocator), _) => Ok(allocator),
            (None, Some(pending)) => build_ids(WHAT, header.as_u64(), pending.replay().map(Ok)),
            (None, None) => Err(de::Error::missing_field(FIELDS[3])),
        }
    }
}

/// Reads the runs of a known range straight into the allocator.
struct Runs {
    header: Header,
}

impl<'de> DeserializeSeed<'de> for Runs {
    type Value = IdAllocator;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Runs {
    type Value = IdAllocator;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of (first, last) runs of allocated ids")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IdAllocator, A::Error> {
        build_ids(WHAT, self.header.as_u64(), runs(&mut seq))
    }
}

/// Reads runs that came before the range or the next id.
struct Pending;

impl<'de> DeserializeSeed<'de> for Pending {
    type Value = PendingRuns;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Pending {
    type Value = PendingRuns;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of (first, last) runs of allocated ids")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PendingRuns, A::Error> {
        PendingRuns::collect(WHAT, runs(&mut seq))
    }
}

/// The `(first, last)` runs of a sequence, widened for the checker.
fn runs<'de, 'a, A: SeqAccess<'de>>(
    seq: &'a mut A,
) -> impl Iterator<Item = Result<(u64, u64), A::Error>> + 'a {
    core::iter::from_fn(move || {
        seq.next_element::<(u32, u32)>()
            .map(|run| run.map(|(first, last)| (first.into(), last.into())))
            .transpose()
    })
}
