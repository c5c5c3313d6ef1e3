// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The body of an [`IdAllocator`] file.
//!
//! Version 1: the range, the next id, then every maximal run of allocated
//! ids as (gap, length - 1). Version 2: the owner table, then the same
//! record with the generation first and an owner after every run; runs
//! are maximal among ids of one owner, so two runs may touch when their
//! owners differ.

use core::fmt;

use super::error::Unfit;
use super::owners::{DecodedOwners, OwnerTable};
use super::sink::Sink;
use super::state::FileState;
use super::varint::{self, Reader, MIN_OWNED_ITEM_BYTES};
use super::{DecodeError, DecodeErrorKind, Field, FileKind};
use crate::validate::IdAllocatorBuilder;
use crate::{IdAllocator, RangeInclusive, StateError};

const U32_MAX: u64 = u32::MAX as u64;

impl FileState for IdAllocator {
    const KIND: FileKind = FileKind::IdAllocator;

    fn fits(&self, version: u16) -> Result<(), Unfit> {
        if version >= 2 {
            return Ok(());
        }
        match self.allocations().find(|a| a.owner().is_some()) {
            None => Ok(()),
            Some(a) => Err(Unfit::Owner {
                range: id_range(a.ids()),
                owner: a.owner().expect("found by its owner").clone(),
            }),
        }
    }

    fn body_hint(&self) -> usize {
        self.runs().len().saturating_mul(5).saturating_add(32)
    }

    fn encode_body<S: Sink>(&self, version: u16, out: &mut S) {
        if version == 1 {
            return encode_v1(self, out);
        }
        // Without owners (O(1) to tell), the table is empty: skip the pass.
        let owners = self
            .has_owners()
            .then(|| self.allocations().filter_map(|a| a.owner()));
        let mut table = OwnerTable::new(owners.into_iter().flatten());
        table.write(out);
        write_record(self, &mut table, out);
    }

    fn decode_body(version: u16, mut r: Reader<'_>) -> Result<Self, DecodeError> {
        if version == 1 {
            let ids = read_v1(&mut r)?;
            r.finish(Field::EndOfBody)?;
            return Ok(ids);
        }
        let mut owners = DecodedOwners::read(&mut r)?;
        let ids = read_record(&mut r, &mut owners)?;
        r.finish(Field::EndOfBody)?;
        owners.finish()?;
        Ok(ids)
    }

    fn list(&self, version: u16, f: &mut dyn fmt::Write) -> fmt::Result {
        list(self, version, f)
    }
}

/// An id range as the format's errors name it.
fn id_range(ids: core::ops::RangeInclusive<u32>) -> RangeInclusive {
    RangeInclusive::from_parts((*ids.start()).into(), (*ids.end()).into())
}

/// The version 1 body: range, next id, runs as (gap, length - 1), each
/// run measured from two past the previous one (runs never touch).
fn encode_v1(ids: &IdAllocator, out: &mut impl Sink) {
    let base = u64::from(ids.range_base());
    varint::write(out, base);
    varint::write(out, ids.range_end().into());
    varint::write(out, ids.next_id() - base);
    varint::write(out, ids.runs().len() as u64);
    let mut cursor = base;
    for run in ids.runs() {
        let (first, last) = (u64::from(*run.start()), u64::from(*run.end()));
        varint::write(out, first - cursor);
        varint::write(out, last - first);
        cursor = last + 2;
    }
}

/// Writes the version 2 record of `ids` (its owners are in `table`):
/// generation, range, next id, then the runs that share an owner as (gap,
/// length - 1, owner), each measured from one past the previous one.
pub(super) fn write_record<'a>(
    ids: &'a IdAllocator,
    table: &mut OwnerTable<'a>,
    out: &mut impl Sink,
) {
    let base = u64::from(ids.range_base());
    varint::write(out, ids.generation());
    varint::write(out, base);
    varint::write(out, ids.range_end().into());
    varint::write(out, ids.next_id() - base);
    let count = if ids.has_owners() {
        ids.allocations().count()
    } else {
        ids.runs().len()
    };
    varint::write(out, count as u64);
    let mut cursor = base;
    for a in ids.allocations() {
        let (first, last) = (u64::from(*a.ids().start()), u64::from(*a.ids().end()));
        varint::write(out, first - cursor);
        varint::write(out, last - first);
        varint::write(out, table.value(a.owner()));
        cursor = last + 1;
    }
}

/// Reads the range and the next id, and starts the builder.
fn read_header(r: &mut Reader<'_>) -> Result<IdAllocatorBuilder, DecodeError> {
    let base = r.varint_at_most(Field::RangeBase, U32_MAX)?;
    let end_offset = r.pos();
    let end = r.varint_at_most(Field::RangeEnd, U32_MAX)?;
    let next_offset = r.pos();
    // next_id - base is at most 2^32 (next_id = end + 1 = 2^32, base = 0).
    let next_id = base + r.varint_at_most(Field::NextId, U32_MAX + 1)?;
    let invalid =
        |offset, field, e| DecodeError::new(offset, field, DecodeErrorKind::InvalidState(e));
    IdAllocatorBuilder::from_bounds(base, end)
        .map_err(|e| invalid(end_offset, Field::RangeEnd, e))?
        .with_next_id(next_id)
        .map_err(|e| invalid(next_offset, Field::NextId, e))
}

/// Decodes a version 1 body, streaming every run through the builder.
fn read_v1(r: &mut Reader<'_>) -> Result<IdAllocator, DecodeError> {
    let mut builder = read_header(r)?;
    let count = r.count(Field::RunCount)?;
    // Where the next run may start at the earliest; values stay below
    // 2^35, so nothing here can overflow.
    let mut cursor = builder_base(&builder);
    for index in 0..count {
        let item_offset = r.pos();
        let start_field = Field::RunStart { index };
        let first = cursor + r.varint_at_most(start_field, U32_MAX)?;
        let last = first + r.varint_at_most(Field::RunLength { index }, U32_MAX)?;
        cursor = last + 2;
        builder
            .push_bounds(first, last, None)
            .map_err(|e| state_error(item_offset, start_field, e))?;
    }
    builder
        .finish()
        .map_err(|e| state_error(r.pos(), Field::EndOfBody, e))
}

/// Reads a version 2 record (owners refer to `owners`).
pub(super) fn read_record(
    r: &mut Reader<'_>,
    owners: &mut DecodedOwners,
) -> Result<IdAllocator, DecodeError> {
    let generation = r.varint(Field::Generation)?;
    let mut builder = read_header(r)?.generation(generation);
    let count = r.count_of(Field::RunCount, MIN_OWNED_ITEM_BYTES)?;
    let mut cursor = builder_base(&builder);
    for index in 0..count {
        let item_offset = r.pos();
        let start_field = Field::RunStart { index };
        let first = cursor + r.varint_at_most(start_field, U32_MAX)?;
        let last = first + r.varint_at_most(Field::RunLength { index }, U32_MAX)?;
        let owner = owners.item(r, Field::RunOwner { index })?;
        cursor = last + 1;
        builder
            .push_bounds(first, last, owner)
            .map_err(|e| state_error(item_offset, start_field, e))?;
    }
    builder
        .finish()
        .map_err(|e| state_error(r.pos(), Field::EndOfBody, e))
}

fn builder_base(builder: &IdAllocatorBuilder) -> u64 {
    builder.range().0.into()
}

fn state_error(offset: usize, field: Field, e: StateError) -> DecodeError {
    DecodeError::new(offset, field, DecodeErrorKind::InvalidState(e))
}

/// Lists the range, the next id and every run (with its owner).
pub(super) fn list(ids: &IdAllocator, version: u16, f: &mut dyn fmt::Write) -> fmt::Result {
    let (base, end) = (ids.range_base(), ids.range_end());
    if version >= 2 {
        writeln!(f, "generation: {}", ids.generation())?;
    }
    let size = u64::from(end) - u64::from(base) + 1;
    writeln!(f, "range: {base}..={end} ({size} ids)")?;
    writeln!(f, "next id: {}", ids.next_id())?;
    if version == 1 {
        writeln!(
            f,
            "runs: {} ({} ids used, {} free)",
            ids.runs().len(),
            ids.used(),
            ids.available()
        )?;
        for (i, run) in ids.runs().enumerate() {
            let len = u64::from(*run.end()) - u64::from(*run.start()) + 1;
            writeln!(f, "#{i} {}..={} ({len})", run.start(), run.end())?;
        }
        return Ok(());
    }
    writeln!(
        f,
        "runs: {} ({} ids used, {} free)",
        ids.allocations().count(),
        ids.used(),
        ids.available()
    )?;
    for (i, a) in ids.allocations().enumerate() {
        let run = a.ids();
        let len = u64::from(*run.end()) - u64::from(*run.start()) + 1;
        write!(f, "#{i} {}..={} ({len})", run.start(), run.end())?;
        match a.owner() {
            Some(owner) => writeln!(f, " {}", owner.escaped())?,
            None => writeln!(f)?,
        }
    }
    Ok(())
}
