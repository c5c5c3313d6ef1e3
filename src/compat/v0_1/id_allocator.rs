// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! An [`IdAllocator`] field in 0.1.x's shape:
//! `#[serde(with = "vm_allocator::compat::v0_1::id_allocator")]`.
//!
//! The shape is `IdAllocator { range_base, next_id, range_end, freed_ids }`;
//! see the [module above](super) for what loading checks and what saving
//! writes.
//!
//! # Examples
//!
//! ```rust
//! use serde::{Deserialize, Serialize};
//! use vm_allocator::IdAllocator;
//!
//! #[derive(Serialize, Deserialize)]
//! struct Irqs {
//!     #[serde(with = "vm_allocator::compat::v0_1::id_allocator")]
//!     gsi: IdAllocator,
//! }
//! let mut irqs = Irqs {
//!     gsi: IdAllocator::new(5, 23).unwrap(),
//! };
//! irqs.gsi.allocate_ids(3, 1).unwrap();
//! irqs.gsi.free_id(6).unwrap();
//! let json = serde_json::to_string(&irqs).unwrap();
//! assert_eq!(
//!     json,
//!     r#"{"gsi":{"range_base":5,"next_id":8,"range_end":23,"freed_ids":[6]}}"#
//! );
//! let back: Irqs = serde_json::from_str(&json).unwrap();
//! assert_eq!(back.gsi, irqs.gsi);
//! ```

use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeSeq, SerializeStruct, Serializer};

use crate::escape::quoted;
use crate::serde_impl::{build_ids, next_field, FieldSeed, Seen};
use crate::IdAllocator;

const FIELDS: &[&str] = &["range_base", "next_id", "range_end", "freed_ids"];
const WHAT: &str = "vm-allocator 0.1 IdAllocator";

/// Writes `allocator` as 0.1.x's `IdAllocator`: `next_id` is one past the
/// highest id ever handed out (`None` once that was `u32::MAX`), and
/// `freed_ids` the ids below it that are not allocated.
///
/// Fails if an id has an owner: 0.1.x has none, and this never drops them
/// silently; [`IdAllocator::without_owners`] drops them explicitly. The
/// generation is not written (0.1.x has none).
///
/// Time: O(r + f), r = runs of allocated ids, f = free ids below `next_id`;
/// no allocation.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::compat::v0_1::id_allocator;
/// use vm_allocator::IdAllocator;
///
/// let mut gsi = IdAllocator::new(5, 23).unwrap();
/// gsi.allocate_ids(3, 1).unwrap();
/// gsi.free_id(6).unwrap();
/// let mut json = Vec::new();
/// id_allocator::serialize(&gsi, &mut serde_json::Serializer::new(&mut json)).unwrap();
/// assert_eq!(
///     json,
///     br#"{"range_base":5,"next_id":8,"range_end":23,"freed_ids":[6]}"#
/// );
/// ```
pub fn serialize<S: Serializer>(allocator: &IdAllocator, serializer: S) -> Result<S::Ok, S::Error> {
    // has_owners is O(1): the search runs only when there is one to find.
    let owned = allocator
        .has_owners()
        .then(|| allocator.allocations().find(|a| a.owner().is_some()));
    if let Some(owned) = owned.flatten() {
        return Err(serde::ser::Error::custom(format_args!(
            "ids {:?} have the owner {}, which vm-allocator 0.1.x cannot hold; \
             call without_owners() first to drop owners explicitly",
            owned.ids(),
            quoted(owned.owner().map(|o| o.as_str()).unwrap_or_default())
        )));
    }
    let mut st = serializer.serialize_struct("IdAllocator", 4)?;
    st.serialize_field("range_base", &allocator.range_base())?;
    st.serialize_field("next_id", &u32::try_from(allocator.next_id()).ok())?;
    st.serialize_field("range_end", &allocator.range_end())?;
    st.serialize_field("freed_ids", &FreedIds(allocator))?;
    st.end()
}

/// The ids in `range_base..next_id` that are not allocated, in increasing
/// order, as a sequence of known length.
struct FreedIds<'a>(&'a IdAllocator);

impl Serialize for FreedIds<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let allocator = self.0;
        let next_id = allocator.next_id();
        // Every allocated id lies below `next_id`.
        let count = next_id - u64::from(allocator.range_base()) - allocator.used();
        let mut seq = serializer.serialize_seq(usize::try_from(count).ok())?;
        // Ids below `next_id` fit in a u32.
        let mut uncovered = u64::from(allocator.range_base());
        for run in allocator.runs() {
            for id in uncovered..u64::from(*run.start()) {
                seq.serialize_element(&(id as u32))?;
            }
            uncovered = u64::from(*run.end()) + 1;
        }
        for id in uncovered..next_id {
            seq.serialize_element(&(id as u32))?;
        }
        seq.end()
    }
}

/// Reads 0.1.x's `IdAllocator`, checking the range, `next_id` and every
/// freed id; the allocated ids are `range_base..next_id` minus `freed_ids`.
///
/// ```rust
/// // A corrupt 0.1.x state: id 9 was never handed out (next_id is 8).
/// let json = r#"{"range_base":5,"next_id":8,"range_end":23,"freed_ids":[6,9]}"#;
/// let mut de = serde_json::Deserializer::from_str(json);
/// let err = vm_allocator::compat::v0_1::id_allocator::deserialize(&mut de).unwrap_err();
/// assert!(err
///     .to_string()
///     .contains("freed_ids #1 = 9 is at or above next_id 8"));
///
/// let json = r#"{"range_base":5,"next_id":8,"range_end":23,"freed_ids":[6]}"#;
/// let mut de = serde_json::Deserializer::from_str(json);
/// let ids = vm_allocator::compat::v0_1::id_allocator::deserialize(&mut de).unwrap();
/// assert_eq!(ids.runs().collect::<Vec<_>>(), vec![5..=5, 7..=7]);
/// ```
///
/// Time: O(f), f = freed ids; no memory beyond the allocator's when
/// `freed_ids` comes last, as 0.1.x writes it.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<IdAllocator, D::Error> {
    deserializer.deserialize_struct("IdAllocator", FIELDS, AllocatorVisitor)
}

/// `range_base`, `next_id` and `range_end`, not yet checked.
#[derive(Clone, Copy)]
struct Header {
    base: u32,
    next_id: Option<u32>,
    end: u32,
}

impl Header {
    /// The range and the next id as the checker takes them; 0.1.x's `None`
    /// is 2^32, which only a range ending at `u32::MAX` can reach.
    fn widen<E: de::Error>(self) -> Result<(u64, u64, u64), E> {
        if self.next_id.is_none() && self.end != u32::MAX {
            return Err(E::custom(format_args!(
                "invalid {WHAT}: next_id is None, which 0.1.x only reaches after handing out \
                 u32::MAX, but range_end is {}",
                self.end
            )));
        }
        let next_id = self.next_id.map_or(1 << 32, u64::from);
        Ok((self.base.into(), self.end.into(), next_id))
    }

    /// Builds the allocator from the freed ids, streaming the allocated runs
    /// between them through the checker.
    fn build<E: de::Error>(
        self,
        freed: impl Iterator<Item = Result<u32, E>>,
    ) -> Result<IdAllocator, E> {
        let header = self.widen()?;
        let runs = allocated_runs(header, freed).map(|run| run.map(|(a, b)| (a, b, Ok(None))));
        build_ids(WHAT, header, 0, runs)
    }
}

struct AllocatorVisitor;

impl<'de> Visitor<'de> for AllocatorVisitor {
    type Value = IdAllocator;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "vm-allocator 0.1 struct IdAllocator { range_base, next_id, range_end, freed_ids }",
        )
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IdAllocator, A::Error> {
        let header = Header {
            base: next_field(&mut seq, 0, &self)?,
            next_id: next_field(&mut seq, 1, &self)?,
            end: next_field(&mut seq, 2, &self)?,
        };
        seq.next_element_seed(Freed { header })?
            .ok_or_else(|| de::Error::invalid_length(3, &self))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IdAllocator, A::Error> {
        let mut seen = Seen::default();
        let (mut base, mut next_id, mut end) = (None, None, None);
        let mut built: Option<IdAllocator> = None;
        let mut pending: Option<HeldFreed> = None;
        while let Some(i) = map.next_key_seed(FieldSeed(FIELDS))? {
            seen.first_time(i, FIELDS)?;
            match i {
                0 => base = Some(map.next_value()?),
                1 => next_id = Some(map.next_value()?),
                2 => end = Some(map.next_value()?),
                _ => match (base, next_id, end) {
                    (Some(base), Some(next_id), Some(end)) => {
                        let header = Header { base, next_id, end };
                        built = Some(map.next_value_seed(Freed { header })?);
                    }
                    _ => pending = Some(map.next_value_seed(PendingFreed)?),
                },
            }
        }
        let header = Header {
            base: base.ok_or_else(|| de::Error::missing_field(FIELDS[0]))?,
            next_id: next_id.ok_or_else(|| de::Error::missing_field(FIELDS[1]))?,
            end: end.ok_or_else(|| de::Error::missing_field(FIELDS[2]))?,
        };
        match (built, pending) {
            (Some(allocator), _) => Ok(allocator),
            (None, Some(held)) => header.build(held.ids()),
            (None, None) => Err(de::Error::missing_field(FIELDS[3])),
        }
    }
}

/// Reads `freed_ids` once the header is known, straight into the allocator.
struct Freed {
    header: Header,
}

impl<'de> DeserializeSeed<'de> for Freed {
    type Value = IdAllocator;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Freed {
    type Value = IdAllocator;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a set of freed ids")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IdAllocator, A::Error> {
        self.header
            .build(core::iter::from_fn(|| seq.next_element().transpose()))
    }
}

/// Reads `freed_ids` that came before the header: checks that they are
/// strictly increasing and holds them as runs (so memory follows the runs,
/// not the ids) until the header is known.
struct PendingFreed;

/// Freed ids held as runs of consecutive ids.
struct HeldFreed(Vec<(u32, u32)>);

impl HeldFreed {
    /// The held ids, in increasing order.
    fn ids<'a, E: 'a>(&'a self) -> impl Iterator<Item = Result<u32, E>> + 'a {
        self.0.iter().flat_map(|&(a, b)| (a..=b).map(Ok))
    }
}

impl<'de> DeserializeSeed<'de> for PendingFreed {
    type Value = HeldFreed;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PendingFreed {
    type Value = HeldFreed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a set of freed ids")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HeldFreed, A::Error> {
        let mut runs: Vec<(u32, u32)> = Vec::new();
        let mut index = 0u64;
        while let Some(id) = seq.next_element::<u32>()? {
            match runs.last_mut() {
                Some(last) if id <= last.1 => {
                    return Err(not_increasing(index, id.into(), last.1.into()));
                }
                Some(last) if id == last.1 + 1 => last.1 = id,
                _ => runs.push((id, id)),
            }
            index += 1;
        }
        Ok(HeldFreed(runs))
    }
}

/// The allocated runs of `base..next_id` between the freed ids, which are
/// checked one by one as they stream past.
fn allocated_runs<E: de::Error>(
    (base, end, next_id): (u64, u64, u64),
    freed: impl Iterator<Item = Result<u32, E>>,
) -> impl Iterator<Item = Result<(u64, u64), E>> {
    let mut freed = freed.fuse();
    let mut index = 0u64;
    let mut previous: Option<u64> = None;
    // The lowest id not yet known to be freed or allocated; `None` once the
    // run above the last freed id has been given.
    let mut uncovered = Some(base);
    core::iter::from_fn(move || loop {
        let start = uncovered?;
        let id = match freed.next() {
            Some(Ok(id)) => u64::from(id),
            Some(Err(e)) => return Some(Err(e)),
            None => {
                uncovered = None;
                return (start < next_id).then(|| Ok((start, next_id - 1)));
            }
        };
        if id < base || id > end {
            return Some(Err(E::custom(format_args!(
                "invalid {WHAT}: freed_ids #{index} = {id} is outside the id range {base}..={end}"
            ))));
        }
        if id >= next_id {
            return Some(Err(E::custom(format_args!(
                "invalid {WHAT}: freed_ids #{index} = {id} is at or above next_id {next_id}, \
                 so it was never handed out"
            ))));
        }
        if let Some(previous) = previous.filter(|&p| id <= p) {
            return Some(Err(not_increasing(index, id, previous)));
        }
        previous = Some(id);
        index += 1;
        uncovered = Some(id + 1);
        if start < id {
            return Some(Ok((start, id - 1)));
        }
    })
}

fn not_increasing<E: de::Error>(index: u64, id: u64, previous: u64) -> E {
    E::custom(format_args!(
        "invalid {WHAT}: freed_ids #{index} = {id} is not above the previous freed id \
         {previous}; the set must be strictly increasing"
    ))
}
