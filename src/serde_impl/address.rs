// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `AddressAllocator` as `{ space: RangeInclusive, allocations: [(start, end), ..] }`.

use core::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeSeq, SerializeStruct, Serializer};

use super::pending::PendingAllocations;
use super::{build_addresses, next_field, FieldSeed, RawRange, Seen};
use crate::AddressAllocator;

const FIELDS: &[&str] = &["space", "allocations"];
const WHAT: &str = "AddressAllocator";

impl Serialize for AddressAllocator {
    /// Time: O(n), with no allocation per item.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut st = serializer.serialize_struct("AddressAllocator", 2)?;
        st.serialize_field("space", &self.space())?;
        st.serialize_field("allocations", &AllocationList(self))?;
        st.end()
    }
}

/// The allocations as a sequence of `(start, end)` of known length.
struct AllocationList<'a>(&'a AddressAllocator);

impl Serialize for AllocationList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(usize::try_from(self.0.len()).ok())?;
        for r in self.0.iter() {
            seq.serialize_element(&(r.start(), r.end()))?;
        }
        seq.end()
    }
}

/// Checks the space and every allocation as `AddressAllocator::from_allocations`
/// does, streaming them into the tree.
impl<'de> de::Deserialize<'de> for AddressAllocator {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct("AddressAllocator", FIELDS, AllocatorVisitor)
    }
}

struct AllocatorVisitor;

impl<'de> Visitor<'de> for AllocatorVisitor {
    type Value = AddressAllocator;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct AddressAllocator { space, allocations }")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AddressAllocator, A::Error> {
        let space: RawRange = next_field(&mut seq, 0, &self)?;
        seq.next_element_seed(Allocations { space })?
            .ok_or_else(|| de::Error::invalid_length(1, &self))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AddressAllocator, A::Error> {
        let mut seen = Seen::default();
        let mut space: Option<RawRange> = None;
        let mut built: Option<AddressAllocator> = None;
        let mut pending: Option<PendingAllocations> = None;
        while let Some(i) = map.next_key_seed(FieldSeed(FIELDS))? {
            seen.first_time(i, FIELDS)?;
            match (i, space) {
                (0, _) => space = Some(map.next_value()?),
                (_, Some(space)) => built = Some(map.next_value_seed(Allocations { space })?),
                (_, None) => pending = Some(map.next_value_seed(Pending)?),
            }
        }
        let space = space.ok_or_else(|| de::Error::missing_field(FIELDS[0]))?;
        match (built, pending) {
            (Some(allocator), _) => Ok(allocator),
            (None, Some(pending)) => {
                build_addresses(WHAT, (space.start, space.end), pending.replay().map(Ok))
            }
            (None, None) => Err(de::Error::missing_field(FIELDS[1])),
        }
    }
}

/// Reads the allocations of a known space straight into the allocator.
struct Allocations {
    space: RawRange,
}

impl<'de> DeserializeSeed<'de> for Allocations {
    type Value = AddressAllocator;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Allocations {
    type Value = AddressAllocator;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of (start, end) allocations")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AddressAllocator, A::Error> {
        let items = core::iter::from_fn(|| seq.next_element().transpose());
        build_addresses(WHAT, (self.space.start, self.space.end), items)
    }
}

/// Reads allocations that came before the space.
struct Pending;

impl<'de> DeserializeSeed<'de> for Pending {
    type Value = PendingAllocations;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Pending {
    type Value = PendingAllocations;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of (start, end) allocations")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PendingAllocations, A::Error> {
        PendingAllocations::collect(WHAT, core::iter::from_fn(|| seq.next_element().transpose()))
    }
}
