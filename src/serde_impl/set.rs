// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `ResourceSet` as `{ generation, pools: [{ name, pool }, ..] }`, and
//! `Pool` as the enum `Ids(IdAllocator) | Addresses(AddressAllocator)`.

use alloc::string::String;
use core::fmt;

use serde::de::{
    self, Deserialize, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};
use serde::ser::{Serialize, SerializeSeq, SerializeStruct, Serializer};

use super::{next_field, state_error, FieldSeed, Seen, VariantSeed};
use crate::validate::ResourceSetBuilder;
use crate::{AddressAllocator, IdAllocator, Pool, ResourceSet};

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
        deserializer.deserialize_enum("Pool", VARIANTS, PoolVisitor)
    }
}

struct PoolVisitor;

impl<'de> Visitor<'de> for PoolVisitor {
    type Value = Pool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("enum Pool { Ids, Addresses }")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Pool, A::Error> {
        let (variant, access) = data.variant_seed(VariantSeed(VARIANTS))?;
        match variant {
            0 => access.newtype_variant::<IdAllocator>().map(Pool::Ids),
            _ => access
                .newtype_variant::<AddressAllocator>()
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
        let Pools(builder) = next_field(&mut seq, 1, &self)?;
        builder
            .generation(generation)
            .finish()
            .map_err(|e| state_error(WHAT, e))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ResourceSet, A::Error> {
        let mut seen = Seen::default();
        let mut generation: Option<u64> = None;
        let mut pools: Option<Pools> = None;
        while let Some(i) = map.next_key_seed(FieldSeed(FIELDS))? {
            seen.first_time(i, FIELDS)?;
            if i == 0 {
                generation = Some(map.next_value()?);
            } else {
                pools = Some(map.next_value()?);
            }
        }
        let generation = generation.ok_or_else(|| de::Error::missing_field(FIELDS[0]))?;
        let Pools(builder) = pools.ok_or_else(|| de::Error::missing_field(FIELDS[1]))?;
        builder
            .generation(generation)
            .finish()
            .map_err(|e| state_error(WHAT, e))
    }
}

/// The pools, pushed into the builder as they come.
struct Pools(ResourceSetBuilder);

impl<'de> Deserialize<'de> for Pools {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(PoolsVisitor)
    }
}

struct PoolsVisitor;

impl<'de> Visitor<'de> for PoolsVisitor {
    type Value = Pools;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of { name, pool } entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Pools, A::Error> {
        let mut builder = ResourceSetBuilder::new();
        while let Some(Entry { name, pool }) = seq.next_element()? {
            builder
                .push(&name, pool)
                .map_err(|e| state_error(WHAT, e))?;
        }
        Ok(Pools(builder))
    }
}

struct Entry {
    name: String,
    pool: Pool,
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct("PoolEntry", ENTRY_FIELDS, EntryVisitor)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = Entry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct PoolEntry { name, pool }")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entry, A::Error> {
        let name = next_field(&mut seq, 0, &self)?;
        let pool = next_field(&mut seq, 1, &self)?;
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
                pool = Some(map.next_value()?);
            }
        }
        Ok(Entry {
            name: name.ok_or_else(|| de::Error::missing_field(ENTRY_FIELDS[0]))?,
            pool: pool.ok_or_else(|| de::Error::missing_field(ENTRY_FIELDS[1]))?,
        })
    }
}
