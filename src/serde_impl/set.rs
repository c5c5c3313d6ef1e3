// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `ResourceSet` as `{ generation, pools: [{ name, pool }, ..] }`, and
//! `Pool` as the enum `Ids(IdAllocator) | Addresses(AddressAllocator)`.
//!
//! Owner names are shared by every pool of a set, as in the binary format;
//! an error inside a pool names the pool (`IdAllocator of pool #1 "gsi"`).

use alloc::string::String;
use core::fmt;

use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde::ser::{Serialize, SerializeSeq, SerializeStruct, Serializer};

use super::address::AddressSeed;
use super::id::IdSeed;
use super::{next_field, state_error, FieldSeed, Interner, PoolAt, Seen, VariantSeed};
use crate::owner::check_name;
use crate::validate::ResourceSetBuilder;
use crate::{Pool, ResourceSet};

const FIELDS: &[&str] = &["generation", "pools"];
const ENTRY_FIELDS: &[&str] = &["name", "pool"];
const VARIANTS: &[&str] = &["Ids", "Addresses"];
const WHAT: &str = "ResourceSet";

impl Serialize for ResourceSet {
    /// Time: O(n) over all pools.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut st = serializer.serialize_struct("ResourceSet", 2)?;
        st.serialize_field("generation", &self.generation())?;
        st.serialize_field("pools", &PoolList(self))?;
        st.end()
    }
}

struct PoolList<'a>(&'a ResourceSet);

impl Serialize for PoolList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for (name, pool) in self.0.pools() {
            seq.serialize_element(&EntryOut { name, pool })?;
        }
        seq.end()
    }
}

struct EntryOut<'a> {
    name: &'a str,
    pool: &'a Pool,
}

impl Serialize for EntryOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut st = serializer.serialize_struct("PoolEntry", 2)?;
        st.serialize_field("name", self.name)?;
        st.serialize_field("pool", self.pool)?;
        st.end()
    }
}

impl Serialize for Pool {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Pool::Ids(ids) => serializer.serialize_newtype_variant("Pool", 0, VARIANTS[0], ids),
            Pool::Addresses(a) => serializer.serialize_newtype_variant("Pool", 1, VARIANTS[1], a),
        }
    }
}

impl<'de> Deserialize<'de> for Pool {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let owners = &mut Interner::default();
        PoolSeed { at: None, owners }.deserialize(deserializer)
    }
}

/// Reads a pool, on its own or at `at` in a set.
struct PoolSeed<'a> {
    at: Option<PoolAt<'a>>,
    owners: &'a mut Interner,
}

impl<'de> DeserializeSeed<'de> for PoolSeed<'_> {
    type Value = Pool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Pool, D::Error> {
        deserializer.deserialize_enum("Pool", VARIANTS, self)
    }
}

impl<'de> Visitor<'de> for PoolSeed<'_> {
    type Value = Pool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("enum Pool { Ids, Addresses }")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Pool, A::Error> {
        let (variant, access) = data.variant_seed(VariantSeed(VARIANTS))?;
        match variant {
            0 => access
                .newtype_variant_seed(IdSeed::new(self.at, self.owners))
                .map(Pool::Ids),
            _ => access
                .newtype_variant_seed(AddressSeed::new(self.at, self.owners))
                .map(Pool::Addresses),
        }
    }
}

/// Checks every pool's name through the validating builder.
impl<'de> Deserialize<'de> for ResourceSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct("ResourceSet", FIELDS, SetVisitor)
    }
}

struct SetVisitor;

impl<'de> Visitor<'de> for SetVisitor {
    type Value = ResourceSet;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct ResourceSet { generation, pools }")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ResourceSet, A::Error> {
        let generation: u64 = next_field(&mut seq, 0, &self)?;
        let owners = &mut Interner::default();
        let builder = seq
            .next_element_seed(Pools { owners })?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        builder
            .generation(generation)
            .finish()
            .map_err(|e| state_error(WHAT, e))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ResourceSet, A::Error> {
        let mut seen = Seen::default();
        let owners = &mut Interner::default();
        let mut generation: Option<u64> = None;
        let mut pools: Option<ResourceSetBuilder> = None;
        while let Some(i) = map.next_key_seed(FieldSeed(FIELDS))? {
            seen.first_time(i, FIELDS)?;
            if i == 0 {
                generation = Some(map.next_value()?);
            } else {
                pools = Some(map.next_value_seed(Pools {
                    owners: &mut *owners,
                })?);
            }
        }
        let generation = generation.ok_or_else(|| de::Error::missing_field(FIELDS[0]))?;
        let builder = pools.ok_or_else(|| de::Error::missing_field(FIELDS[1]))?;
        builder
            .generation(generation)
            .finish()
            .map_err(|e| state_error(WHAT, e))
    }
}

/// The pools, pushed into the builder as they come.
struct Pools<'a> {
    owners: &'a mut Interner,
}

impl<'de> DeserializeSeed<'de> for Pools<'_> {
    type Value = ResourceSetBuilder;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Pools<'_> {
    type Value = ResourceSetBuilder;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of { name, pool } entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ResourceSetBuilder, A::Error> {
        let mut builder = ResourceSetBuilder::new();
        let mut index = 0u64;
        while let Some(Entry { name, pool }) = seq.next_element_seed(EntrySeed {
            index,
            owners: &mut *self.owners,
        })? {
            builder
                .push(&name, pool)
                .map_err(|e| state_error(WHAT, e))?;
            index += 1;
        }
        Ok(builder)
    }
}

struct Entry {
    name: String,
    pool: Pool,
}

/// Reads the entry of pool `index`.
struct EntrySeed<'a> {
    index: u64,
    owners: &'a mut Interner,
}

impl EntrySeed<'_> {
    /// Where the pool is, for its errors: its name is shown once known and
    /// valid (the builder reports an invalid one).
    fn at<'n>(&self, name: Option<&'n str>) -> PoolAt<'n> {
        PoolAt {
            index: self.index,
            name: name.filter(|n| check_name(n).is_ok()),
        }
    }
}

impl<'de> DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = Entry;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Entry, D::Error> {
        deserializer.deserialize_struct("PoolEntry", ENTRY_FIELDS, self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_> {
    type Value = Entry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct PoolEntry { name, pool }")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entry, A::Error> {
        let name: String = next_field(&mut seq, 0, &self)?;
        let at = self.at(Some(&name));
        let pool = seq
            .next_element_seed(PoolSeed {
                at: Some(at),
                owners: self.owners,
            })?
            .ok_or_else(|| de::Error::invalid_length(1, &"struct PoolEntry with 2 elements"))?;
        Ok(Entry { name, pool })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
        let mut seen = Seen::default();
        let mut name: Option<String> = None;
        let mut pool: Option<Pool> = None;
        while let Some(i) = map.next_key_seed(FieldSeed(ENTRY_FIELDS))? {
            seen.first_time(i, ENTRY_FIELDS)?;
            if i == 0 {
                name = Some(map.next_value()?);
            } else {
                let at = self.at(name.as_deref());
                pool = Some(map.next_value_seed(PoolSeed {
                    at: Some(at),
                    owners: &mut *self.owners,
                })?);
            }
        }
        Ok(Entry {
            name: name.ok_or_else(|| de::Error::missing_field(ENTRY_FIELDS[0]))?,
            pool: pool.ok_or_else(|| de::Error::missing_field(ENTRY_FIELDS[1]))?,
        })
    }
}
