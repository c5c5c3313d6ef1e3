// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The body of a [`Delta`] file (version 2): the owner table, the state it
//! applies to and the state it gives (kind, generations, checksums), then
//! the changes of each allocator: what it freed and what it allocated, as
//! (gap, length - 1, owner) items.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

use super::error::Unfit;
use super::owners::{DecodedOwners, OwnerTable};
use super::set::{pool_kind_byte, Indented, ADDRESSES, IDS};
use super::sink::Sink;
use super::state::FileState;
use super::varint::{self, Reader, MIN_NAME_BYTES, MIN_OWNED_ITEM_BYTES};
use super::{DecodeError, DecodeErrorKind, Field, FileKind};
use crate::diff::{Change, PoolDiff};
use crate::escape_name;
use crate::{Delta, Diff, Owner, PoolKind, RangeInclusive};

const U32_MAX: u64 = u32::MAX as u64;

impl FileState for Delta {
    const KIND: FileKind = FileKind::Delta;

    fn fits(&self, version: u16) -> Result<(), Unfit> {
        if version >= 2 {
            Ok(())
        } else {
            Err(Unfit::Delta)
        }
    }

    fn body_hint(&self) -> usize {
        64 + self.diff().len() * 8
    }

    fn encode_body<S: Sink>(&self, _version: u16, out: &mut S) {
        let diff = self.diff();
        let mut table = owner_table(diff);
        table.write(out);
        out.byte(diff.kind().byte());
        varint::write(out, self.base_generation());
        out.put(&self.base_checksum().to_le_bytes());
        varint::write(out, self.target_generation());
        out.put(&self.target_checksum().to_le_bytes());
        write_changes(diff, &mut table, out);
    }

    fn decode_body(_version: u16, mut r: Reader<'_>) -> Result<Self, DecodeError> {
        let mut owners = DecodedOwners::read(&mut r)?;
        let kind_offset = r.pos();
        let found = r.byte(Field::BaseKind)?;
        let kind = match FileKind::from_byte(found) {
            Some(
                k @ (FileKind::IdAllocator | FileKind::AddressAllocator | FileKind::ResourceSet),
            ) => k,
            _ => {
                return Err(DecodeError::new(
                    kind_offset,
                    Field::BaseKind,
                    DecodeErrorKind::UnknownKind { found },
                ))
            }
        };
        let base_generation = r.varint(Field::BaseGeneration)?;
        let base_checksum = r.u32_le(Field::BaseChecksum)?;
        let target_generation = r.varint(Field::TargetGeneration)?;
        let target_checksum = r.u32_le(Field::TargetChecksum)?;
        let generations = (base_generation, target_generation);
        let pools = read_changes_of(kind, &mut r, &mut owners, generations, None)?;
        r.finish(Field::EndOfBody)?;
        owners.finish()?;
        let diff = Diff::from_parts(kind, generations, pools);
        Ok(Delta::from_parts(diff, base_checksum, target_checksum))
    }

    fn list(&self, _version: u16, f: &mut dyn fmt::Write) -> fmt::Result {
        let diff = self.diff();
        writeln!(
            f,
            "applies to: {} ({}) at generation {}, checksum {:#010x}",
            diff.kind(),
            diff.kind().byte(),
            self.base_generation(),
            self.base_checksum()
        )?;
        writeln!(
            f,
            "gives: generation {}, checksum {:#010x}",
            self.target_generation(),
            self.target_checksum()
        )?;
        writeln!(f, "changes: {}", diff.len())?;
        list_changes(diff, f)
    }
}

/// Lists the changes of a diff: a line per allocator, then a line per
/// change, indented.
pub(super) fn list_changes(diff: &Diff, f: &mut dyn fmt::Write) -> fmt::Result {
    for pool in diff.pools() {
        match pool.name() {
            Some(name) => write!(f, "pool {}: {} pool", escape_name(name), pool.kind())?,
            None => write!(f, "{} allocator", pool.kind())?,
        }
        let (before, after) = pool.generations();
        write!(f, ", generation {before} -> {after}")?;
        if let Some((before, after)) = pool.next_ids() {
            write!(f, ", next id {before} -> {after}")?;
        }
        writeln!(f)?;
        let mut indented = Indented {
            out: &mut *f,
            line_start: true,
        };
        for change in diff.changes().filter(|c| c.pool == pool.name()) {
            writeln!(indented, "{change}")?;
        }
    }
    Ok(())
}

/// The owner table of the ranges a diff lists.
pub(super) fn owner_table(diff: &Diff) -> OwnerTable<'_> {
    let owners = diff.pools().iter().flat_map(|p| {
        p.freed()
            .iter()
            .chain(p.allocated())
            .filter_map(Change::owner)
    });
    OwnerTable::new(owners)
}

/// Writes the changes of a diff: one change record for a lone allocator;
/// for a set, the count of changed pools, then each one's name, kind,
/// generations and change record.
pub(super) fn write_changes<'a>(diff: &'a Diff, table: &mut OwnerTable<'a>, out: &mut impl Sink) {
    if diff.kind() == FileKind::ResourceSet {
        varint::write(out, diff.pools().len() as u64);
        for pool in diff.pools() {
            let name = pool.name().unwrap_or_default();
            varint::write(out, name.len() as u64);
            out.put(name.as_bytes());
            out.byte(pool_kind_byte(pool.kind()));
            write_record(pool, true, table, out);
        }
    } else {
        let pool = &diff.pools()[0];
        write_record(pool, false, table, out);
    }
}

/// Where the fields of one allocator's changes start: what the rules a
/// journal checks when it applies a record point at.
#[derive(Clone, Debug, Default)]
pub struct PoolOffsets {
    /// The pool's name (a set's pool).
    pub name: usize,
    /// The pool's kind byte (a set's pool).
    pub kind: usize,
    /// The pool's base generation (a set's pool).
    pub base_generation: usize,
    /// The next id before (ids).
    pub next_id: usize,
    /// The next id after (ids).
    pub next_id_after: usize,
    /// Each freed range.
    pub freed: Vec<usize>,
    /// Each allocated range.
    pub allocated: Vec<usize>,
}

/// Reads the changes of a diff of `kind` (what [`write_changes`] writes);
/// `generations` are those of a lone allocator. With `offsets`, notes
/// where each pool's fields start.
pub(super) fn read_changes_of(
    kind: FileKind,
    r: &mut Reader<'_>,
    owners: &mut DecodedOwners,
    generations: (u64, u64),
    mut offsets: Option<&mut Vec<PoolOffsets>>,
) -> Result<Vec<PoolDiff>, DecodeError> {
    let mut pools = Vec::new();
    match kind {
        FileKind::ResourceSet => {
            let count = r.count_of(Field::ChangedPoolCount, MIN_NAME_BYTES)?;
            let mut seen: BTreeMap<&str, u64> = BTreeMap::new();
            for index in 0..count {
                let mut at = PoolOffsets::default();
                let name_offset = r.pos();
                at.name = name_offset;
                let name_field = Field::PoolName { index };
                let name = r.name(name_field)?;
                if let Some(&previous) = seen.get(name) {
                    return Err(DecodeError::new(
                        name_offset,
                        name_field,
                        DecodeErrorKind::DuplicatePool { previous },
                    ));
                }
                seen.insert(name, index);
                let kind_offset = r.pos();
                at.kind = kind_offset;
                let pool_kind = match r.byte(Field::PoolKind { index })? {
                    IDS => PoolKind::Ids,
                    ADDRESSES => PoolKind::Addresses,
                    found => {
                        return Err(DecodeError::new(
                            kind_offset,
                            Field::PoolKind { index },
                            DecodeErrorKind::UnknownPoolKind { found },
                        ))
                    }
                };
                let name = Owner::new(name).expect("the reader checked the name");
                let keep = offsets.is_some().then_some(&mut at);
                let pool = read_record(r, owners, Some(name), pool_kind, None, keep)
                    .map_err(|e| e.in_pool(index))?;
                pools.push(pool);
                if let Some(offsets) = offsets.as_deref_mut() {
                    offsets.push(at);
                }
            }
        }
        single => {
            let pool_kind = if single == FileKind::IdAllocator {
                PoolKind::Ids
            } else {
                PoolKind::Addresses
            };
            let mut at = PoolOffsets::default();
            let keep = offsets.is_some().then_some(&mut at);
            pools.push(read_record(
                r,
                owners,
                None,
                pool_kind,
                Some(generations),
                keep,
            )?);
            if let Some(offsets) = offsets {
                offsets.push(at);
            }
        }
    }
    Ok(pools)
}

/// Writes the changes of one allocator; a pool of a set also gives its
/// generations.
fn write_record<'a>(
    pool: &'a PoolDiff,
    with_generations: bool,
    table: &mut OwnerTable<'a>,
    out: &mut impl Sink,
) {
    if with_generations {
        varint::write(out, pool.generations().0);
        varint::write(out, pool.generations().1);
    }
    if let Some((before, after)) = pool.next_ids() {
        varint::write(out, before);
        varint::write(out, after);
    }
    for list in [pool.freed(), pool.allocated()] {
        varint::write(out, list.len() as u64);
        let mut cursor = 0u64;
        for c in list {
            let r = c.range();
            varint::write(out, r.start() - cursor);
            varint::write(out, r.end() - r.start());
            varint::write(out, table.value(c.owner()));
            cursor = r.end().wrapping_add(1);
        }
    }
}

/// Reads the changes of one allocator (`generations` is given for a lone
/// allocator, read for a pool of a set).
fn read_record(
    r: &mut Reader<'_>,
    owners: &mut DecodedOwners,
    name: Option<Owner>,
    kind: PoolKind,
    generations: Option<(u64, u64)>,
    mut offsets: Option<&mut PoolOffsets>,
) -> Result<PoolDiff, DecodeError> {
    let mut note = |set: fn(&mut PoolOffsets) -> &mut usize, at: usize| {
        if let Some(o) = offsets.as_deref_mut() {
            *set(o) = at;
        }
    };
    let generations = match generations {
        Some(g) => g,
        None => {
            note(|o| &mut o.base_generation, r.pos());
            (
                r.varint(Field::BaseGeneration)?,
                r.varint(Field::TargetGeneration)?,
            )
        }
    };
    let next_ids = match kind {
        PoolKind::Ids => {
            note(|o| &mut o.next_id, r.pos());
            let before = r.varint_at_most(Field::NextId, U32_MAX + 1)?;
            note(|o| &mut o.next_id_after, r.pos());
            let after = r.varint_at_most(Field::NextIdAfter, U32_MAX + 1)?;
            Some((before, after))
        }
        PoolKind::Addresses => None,
    };
    let (freed_at, allocated_at) = match offsets {
        Some(o) => (Some(&mut o.freed), Some(&mut o.allocated)),
        None => (None, None),
    };
    let freed = read_changes(r, owners, kind, ChangeFields::FREED, freed_at)?;
    let allocated = read_changes(r, owners, kind, ChangeFields::ALLOCATED, allocated_at)?;
    Ok(PoolDiff::from_parts(
        name,
        kind,
        generations,
        next_ids,
        freed,
        allocated,
    ))
}

/// The fields of one list of changes.
#[derive(Clone, Copy)]
struct ChangeFields {
    count: Field,
    start: fn(u64) -> Field,
    length: fn(u64) -> Field,
    owner: fn(u64) -> Field,
}

impl ChangeFields {
    const FREED: ChangeFields = ChangeFields {
        count: Field::FreedCount,
        start: |index| Field::FreedStart { index },
        length: |index| Field::FreedLength { index },
        owner: |index| Field::FreedOwner { index },
    };
    const ALLOCATED: ChangeFields = ChangeFields {
        count: Field::AllocatedCount,
        start: |index| Field::AllocatedStart { index },
        length: |index| Field::AllocatedLength { index },
        owner: |index| Field::AllocatedOwner { index },
    };
}

/// Reads a sorted list of disjoint ranges with owners; ids stay below
/// 2^32, and two ranges of ids that touch must have different owners.
fn read_changes(
    r: &mut Reader<'_>,
    owners: &mut DecodedOwners,
    kind: PoolKind,
    fields: ChangeFields,
    mut starts: Option<&mut Vec<usize>>,
) -> Result<Vec<Change>, DecodeError> {
    let count = r.count_of(fields.count, MIN_OWNED_ITEM_BYTES)?;
    let mut changes: Vec<Change> = Vec::new();
    // Where the next range may start; None once past u64::MAX.
    let mut cursor = Some(0u64);
    for index in 0..count {
        let item_offset = r.pos();
        if let Some(starts) = starts.as_deref_mut() {
            starts.push(item_offset);
        }
        let start_field = (fields.start)(index);
        let gap = r.varint(start_field)?;
        let start = cursor
            .and_then(|c| c.checked_add(gap))
            .ok_or(DecodeError::new(
                item_offset,
                start_field,
                DecodeErrorKind::Overflow { value: gap },
            ))?;
        let length_offset = r.pos();
        let length_field = (fields.length)(index);
        let len_minus_one = r.varint(length_field)?;
        let end = start.checked_add(len_minus_one).ok_or(DecodeError::new(
            length_offset,
            length_field,
            DecodeErrorKind::Overflow {
                value: len_minus_one,
            },
        ))?;
        if start == 0 && end == u64::MAX {
            // No range holds the whole u64 space.
            return Err(DecodeError::new(
                length_offset,
                length_field,
                DecodeErrorKind::ValueOutOfRange {
                    value: len_minus_one,
                    max: u64::MAX - 1,
                },
            ));
        }
        if kind == PoolKind::Ids && end > U32_MAX {
            return Err(DecodeError::new(
                length_offset,
                length_field,
                DecodeErrorKind::ValueOutOfRange {
                    value: end,
                    max: U32_MAX,
                },
            ));
        }
        let owner = owners.item(r, (fields.owner)(index))?;
        if let Some(previous) = changes.last() {
            let touches = previous.range().end().checked_add(1) == Some(start);
            if kind == PoolKind::Ids && touches && previous.owner() == owner.as_ref() {
                return Err(DecodeError::new(
                    item_offset,
                    start_field,
                    DecodeErrorKind::MergeableRuns,
                ));
            }
        }
        cursor = end.checked_add(1);
        changes.push(Change::new(RangeInclusive::from_parts(start, end), owner));
    }
    Ok(changes)
}
