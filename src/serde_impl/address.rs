// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `AddressAllocator` as
//! `{ space: RangeInclusive, generation, allocations: [(start, end, owner), ..] }`.

use core::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeSeq, SerializeStruct, Serializer};

use super::item::{Addresses, ItemOut};
use super::pending::{items, Pending, PendingSeed};
use super::{build_addresses, next_field, FieldSeed, Interner, PoolAt, RawRange, Seen, What};
use crate::AddressAllocator;

const FIELDS: &[&str] = &["space", "generation", "allocations"];
const KIND: &str = "AddressAllocator";

impl Serialize for AddressAllocator {
    /// Time: O(n), with no allocation per item.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut st = serializer.serialize_struct(KIND, 3)?;
        st.serialize_field("space", &self.space())?;
        st.serialize_field("generation", &self.generation())?;
        st.serialize_field("allocations", &AllocationList(self))?;
        st.end()
    }
}

/// The allocations as a sequence of `(start, end, owner)` of known length.
struct AllocationList<'a>(&'a AddressAllocator);

impl Serialize for AllocationList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(usize::try_from(self.0.len()).ok())?;
        for a in self.0.allocations() {
            let r = a.range();
            seq.serialize_element(&ItemOut(r.start(), r.end(), a.owner()))?;
        }
        seq.end()
    }
}

/// Checks the space and every allocation through the validating builder,
/// streaming them into the tree.
impl<'de> de::Deserialize<'de> for AddressAllocator {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let owners = &mut Interner::default();
        AddressSeed::new(None, owners).deserialize(deserializer)
    }
}

/// Reads an `AddressAllocator` on its own or as the pool `pool` of a set,
/// sharing owner names through `owners`.
pub(crate) struct AddressSeed<'a> {
    what: What<'a>,
    owners: &'a mut Interner,
}

impl<'a> AddressSeed<'a> {
    pub(crate) fn new(pool: Option<PoolAt<'a>>, owners: &'a mut Interner) -> Self {
        AddressSeed {
            what: What::new(KIND, pool),
            owners,
        }
    }
}

impl<'de> DeserializeSeed<'de> for AddressSeed<'_> {
    type Value = AddressAllocator;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_struct(KIND, FIELDS, self)
    }
}

impl<'de> Visitor<'de> for AddressSeed<'_> {
    type Value = AddressAllocator;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct AddressAllocator { space, generation, allocations }")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AddressAllocator, A::Error> {
        let space: RawRange = next_field(&mut seq, 0, &self)?;
        let generation: u64 = next_field(&mut seq, 1, &self)?;
        seq.next_element_seed(Allocations {
            what: self.what,
            space,
            generation,
            owners: self.owners,
        })?
        .ok_or_else(|| de::Error::invalid_length(2, &"struct AddressAllocator with 3 elements"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AddressAllocator, A::Error> {
        let AddressSeed { what, owners } = self;
        let mut seen = Seen::default();
        let mut space: Option<RawRange> = None;
        let mut generation: Option<u64> = None;
        let mut built: Option<AddressAllocator> = None;
        let mut pending: Option<Pending> = None;
        while let Some(i) = map.next_key_seed(FieldSeed(FIELDS))? {
            seen.first_time(i, FIELDS)?;
            match (i, space, generation) {
                (0, _, _) => space = Some(map.next_value()?),
                (1, _, _) => generation = Some(map.next_value()?),
                (_, Some(space), Some(generation)) => {
                    built = Some(map.next_value_seed(Allocations {
                        what,
                        space,
                        generation,
                        owners: &mut *owners,
                    })?);
                }
                _ => {
                    let seed = PendingSeed::<Addresses>::new(&mut *owners);
                    pending = Some(map.next_value_seed(seed)?);
                }
            }
        }
        let space = space.ok_or_else(|| de::Error::missing_field(FIELDS[0]))?;
        let generation = generation.ok_or_else(|| de::Error::missing_field(FIELDS[1]))?;
        match (built, pending) {
            (Some(allocator), _) => Ok(allocator),
            (None, Some(pending)) => build_addresses(
                &what,
                (space.start, space.end),
                generation,
                pending.replay(),
            ),
            (None, None) => Err(de::Error::missing_field(FIELDS[2])),
        }
    }
}

/// Reads the allocations of a known space straight into the allocator.
struct Allocations<'a> {
    what: What<'a>,
    space: RawRange,
    generation: u64,
    owners: &'a mut Interner,
}

impl<'de> DeserializeSeed<'de> for Allocations<'_> {
    type Value = AddressAllocator;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Allocations<'_> {
    type Value = AddressAllocator;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of (start, end, owner) allocations")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AddressAllocator, A::Error> {
        let space = (self.space.start, self.space.end);
        let allocations = items::<Addresses, _>(&mut seq, self.owners);
        build_addresses(&self.what, space, self.generation, allocations)
    }
}
