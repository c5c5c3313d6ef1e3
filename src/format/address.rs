// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The body of an [`AddressAllocator`] file.
//!
//! Version 1: the space, then every allocation as (gap from the cursor,
//! length - 1). Version 2: the owner table, then the same record with the
//! generation first and an owner after every allocation.

use core::fmt;

use super::error::Unfit;
use super::owners::{DecodedOwners, OwnerTable};
use super::sink::Sink;
use super::state::FileState;
use super::varint::{self, Reader, MIN_OWNED_ITEM_BYTES};
use super::{DecodeError, DecodeErrorKind, Field, FileKind};
use crate::validate::AddressAllocatorBuilder;
use crate::AddressAllocator;

impl FileState for AddressAllocator {
    const KIND: FileKind = FileKind::AddressAllocator;

    fn fits(&self, version: u16) -> Result<(), Unfit> {
        if version >= 2 || !self.has_owners() {
            return Ok(());
        }
        let first = self
            .allocations()
            .find(|a| a.owner().is_some())
            .expect("has_owners");
        Err(Unfit::Owner {
            range: first.range(),
            owner: first.owner().expect("found by its owner").clone(),
        })
    }

    fn body_hint(&self) -> usize {
        usize::try_from(self.len())
            .unwrap_or(usize::MAX / 8)
            .saturating_mul(4)
            .saturating_add(32)
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
            let allocator = read_allocations(&mut r, None, 0)?;
            r.finish(Field::EndOfBody)?;
            return Ok(allocator);
        }
        let mut owners = DecodedOwners::read(&mut r)?;
        let allocator = read_record(&mut r, &mut owners)?;
        r.finish(Field::EndOfBody)?;
        owners.finish()?;
        Ok(allocator)
    }

    fn list(&self, version: u16, f: &mut dyn fmt::Write) -> fmt::Result {
        list(self, version, f)
    }
}

/// The version 1 body: space, count, then (gap, length - 1) per allocation.
fn encode_v1(allocator: &AddressAllocator, out: &mut impl Sink) {
    let space = allocator.space();
    varint::write(out, space.start());
    varint::write(out, space.end());
    varint::write(out, allocator.len());
    let mut cursor = space.start();
    allocator.tree().for_each_leaf(|spans| {
        for span in spans {
            varint::write(out, span.start - cursor);
            varint::write(out, span.end - span.start);
            // Past u64::MAX only after the last allocation.
            cursor = span.end.wrapping_add(1);
        }
    });
}

/// Writes the version 2 record (owners are in `table`): generation, space,
/// count, then (gap, length - 1, owner) per allocation.
pub(super) fn write_record<'a>(
    allocator: &'a AddressAllocator,
    table: &mut OwnerTable<'a>,
    out: &mut impl Sink,
) {
    let space = allocator.space();
    varint::write(out, allocator.generation());
    varint::write(out, space.start());
    varint::write(out, space.end());
    varint::write(out, allocator.len());
    let mut cursor = space.start();
    if !allocator.has_owners() {
        // Every owner is 0: no lookups, and the spans a leaf at a time.
        allocator.tree().for_each_leaf(|spans| {
            for span in spans {
                varint::write(out, span.start - cursor);
                varint::write(out, span.end - span.start);
                out.byte(0);
                cursor = span.end.wrapping_add(1);
            }
        });
        return;
    }
    for a in allocator.allocations() {
        let r = a.range();
        varint::write(out, r.start() - cursor);
        varint::write(out, r.end() - r.start());
        varint::write(out, table.value(a.owner()));
        cursor = r.end().wrapping_add(1);
    }
}

/// Reads a version 2 record (owners refer to `owners`).
pub(super) fn read_record(
    r: &mut Reader<'_>,
    owners: &mut DecodedOwners,
) -> Result<AddressAllocator, DecodeError> {
    let generation = r.varint(Field::Generation)?;
    read_allocations(r, Some(owners), generation)
}

/// Reads the space, the count and the allocations (with an owner each when
/// `owners` is given), streaming them through the builder.
fn read_allocations(
    r: &mut Reader<'_>,
    mut owners: Option<&mut DecodedOwners>,
    generation: u64,
) -> Result<AddressAllocator, DecodeError> {
    let start = r.varint(Field::SpaceStart)?;
    let end_offset = r.pos();
    let end = r.varint(Field::SpaceEnd)?;
    let mut builder = AddressAllocatorBuilder::from_bounds(start, end)
        .map_err(|e| {
            DecodeError::new(
                end_offset,
                Field::SpaceEnd,
                DecodeErrorKind::InvalidState(e),
            )
        })?
        .generation(generation);
    let count = match owners {
        Some(_) => r.count_of(Field::AllocationCount, MIN_OWNED_ITEM_BYTES)?,
        None => r.count(Field::AllocationCount)?,
    };
    // Where the next allocation may start; None once past u64::MAX.
    let mut cursor = Some(start);
    for index in 0..count {
        let item_offset = r.pos();
        let start_field = Field::AllocationStart { index };
        let gap = r.varint(start_field)?;
        let first = cursor
            .and_then(|c| c.checked_add(gap))
            .ok_or_else(|| overflow(item_offset, start_field, gap))?;
        let length_offset = r.pos();
        let length_field = Field::AllocationLength { index };
        let len_minus_one = r.varint(length_field)?;
        let last = first
            .checked_add(len_minus_one)
            .ok_or_else(|| overflow(length_offset, length_field, len_minus_one))?;
        let owner = match owners.as_deref_mut() {
            Some(table) => table.item(r, Field::AllocationOwner { index })?,
            None => None,
        };
        cursor = last.checked_add(1);
        builder.push_bounds(first, last, owner).map_err(|e| {
            DecodeError::new(item_offset, start_field, DecodeErrorKind::InvalidState(e))
        })?;
    }
    builder
        .finish()
        .map_err(|e| DecodeError::new(r.pos(), Field::EndOfBody, DecodeErrorKind::InvalidState(e)))
}

#[cold]
fn overflow(offset: usize, field: Field, value: u64) -> DecodeError {
    DecodeError::new(offset, field, DecodeErrorKind::Overflow { value })
}

/// Lists the space and every allocation (with its owner).
pub(super) fn list(
    addresses: &AddressAllocator,
    version: u16,
    f: &mut dyn fmt::Write,
) -> fmt::Result {
    if version >= 2 {
        writeln!(f, "generation: {}", addresses.generation())?;
    }
    let space = addresses.space();
    writeln!(
        f,
        "space: {:#x}..={:#x} ({:#x} addresses)",
        space.start(),
        space.end(),
        space.len()
    )?;
    writeln!(
        f,
        "allocations: {} ({:#x} addresses used, {:#x} free)",
        addresses.len(),
        addresses.used(),
        addresses.available()
    )?;
    for (i, a) in addresses.allocations().enumerate() {
        let r = a.range();
        write!(f, "#{i} {:#x}..={:#x} ({:#x})", r.start(), r.end(), r.len())?;
        match a.owner() {
            Some(owner) => writeln!(f, " {}", owner.escaped())?,
            None => writeln!(f)?,
        }
    }
    Ok(())
}
