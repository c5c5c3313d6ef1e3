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
use crate::engine::Span;
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
    write_spans(allocator, out, false);
}

/// Spans encoded into a buffer before they are appended at once.
const CHUNK: usize = 64;

/// Writes every allocation as (gap from the cursor, length - 1), and an
/// owner 0 after each when `owner_zero`: the body of an allocator without
/// owners, a chunk of spans at a time through a buffer on the stack, which
/// beats a bounds-checked push per byte.
fn write_spans(allocator: &AddressAllocator, out: &mut impl Sink, owner_zero: bool) {
    let mut cursor = allocator.space().start();
    // Room for the longest items, and 8 bytes of slack for the fast path's
    // whole-word stores.
    let mut buf = [0u8; CHUNK * (2 * 10 + 1) + 8];
    let owner = usize::from(owner_zero);
    allocator.tree().for_each_leaf(|spans| {
        for chunk in spans.chunks(CHUNK) {
            let mut pos = 0;
            for span in chunk {
                let (gap, len) = (span.start - cursor, span.end - span.start);
                if gap < 0x4000 && len < 0x4000 {
                    // Both fields take one or two bytes (packed pages: a
                    // gap of 0, a length of 4095): one store of the item,
                    // the owner 0 included, and zeros past it.
                    let (g, g_len) = short(gap);
                    let (l, l_len) = short(len);
                    let item = g | l << (8 * g_len);
                    buf[pos..pos + 8].copy_from_slice(&item.to_le_bytes());
                    pos += g_len + l_len + owner;
                } else {
                    pos = varint::put(&mut buf, pos, gap);
                    pos = varint::put(&mut buf, pos, len);
                    buf[pos] = 0;
                    pos += owner;
                }
                // Past u64::MAX only after the last allocation.
                cursor = span.end.wrapping_add(1);
            }
            out.put(&buf[..pos]);
        }
    });
}

/// The LEB128 encoding of `value < 2^14` as the low bytes of a word, and
/// its length.
#[inline(always)]
fn short(value: u64) -> (u64, usize) {
    if value < 0x80 {
        (value, 1)
    } else {
        (value & 0x7f | 0x80 | (value >> 7) << 8, 2)
    }
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
    if !allocator.has_owners() {
        // Every owner is 0: no lookups, and the spans a leaf at a time.
        return write_spans(allocator, out, true);
    }
    let mut cursor = space.start();
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
    let owned = owners.is_some();
    // Most items (packed pages: a gap of 0, a length of 4095, no owner)
    // have one- or two-byte fields: they are read a batch at a time, each
    // from one word, then checked and appended by the builder at once.
    // Anything else, errors included, takes the general readers below, one
    // item at a time.
    let mut offsets = [0usize; BATCH];
    let mut index = 0;
    while index < count {
        let mut read = 0;
        let mut limit = 0;
        builder
            .push_filled(|slots| {
                let room = slots.len().min(BATCH);
                limit = usize::try_from(count - index).map_or(room, |n| n.min(room));
                read = read_short(&mut slots[..limit], &mut offsets, r, &mut cursor, owned);
                read
            })
            .map_err(|(i, e)| {
                DecodeError::new(
                    offsets[i],
                    Field::AllocationStart {
                        index: index + i as u64,
                    },
                    DecodeErrorKind::InvalidState(e),
                )
            })?;
        index += read as u64;
        if read == limit {
            continue;
        }
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
        index += 1;
    }
    builder
        .finish()
        .map_err(|e| DecodeError::new(r.pos(), Field::EndOfBody, DecodeErrorKind::InvalidState(e)))
}

/// Items the fast path reads at most before the builder checks them.
const BATCH: usize = 64;

/// Reads items from `r` into `slots` while they are short (see
/// `short_item`) and their bounds do not overflow, recording where each
/// starts in `offsets` and moving `cursor` past each; returns how many it
/// read. Position and cursor stay in registers for the whole run.
#[inline]
fn read_short(
    slots: &mut [Span],
    offsets: &mut [usize; BATCH],
    r: &mut Reader<'_>,
    cursor: &mut Option<u64>,
    owned: bool,
) -> usize {
    let Some(mut next) = *cursor else {
        return 0;
    };
    let (bytes, start) = r.parts();
    let mut pos = start;
    let mut n = 0;
    let mut past_end = false;
    for (slot, offset) in slots.iter_mut().zip(offsets.iter_mut()) {
        let Some(word) = bytes.get(pos..pos + 8) else {
            break;
        };
        let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let Some((gap, len_minus_one, used)) = short_item(word, owned) else {
            break;
        };
        let Some(last) = next
            .checked_add(gap)
            .and_then(|first| first.checked_add(len_minus_one))
        else {
            break;
        };
        *slot = Span::new(last - len_minus_one, last);
        *offset = pos;
        n += 1;
        pos += used;
        match last.checked_add(1) {
            Some(after) => next = after,
            None => {
                past_end = true;
                break;
            }
        }
    }
    *cursor = (!past_end).then_some(next);
    r.advance(pos - start);
    n
}

/// An item whose gap and length take one or two bytes each and whose
/// owner (when `owned`) is 0, from the eight bytes at its start (the first
/// in the lowest byte): `(gap, length - 1, bytes used)`. `None` for any
/// other item, which the general readers then take (overlong encodings
/// and owners included).
///
/// The item's shape (which of its fields take two bytes) is branched on,
/// each shape with its own constant size: the position of the next item
/// then follows from a predicted branch, not from arithmetic on this one's
/// bytes, and the reads of consecutive items overlap.
#[inline(always)]
fn short_item(word: u64, owned: bool) -> Option<(u64, u64, usize)> {
    let byte = |i: u32| (word >> (8 * i)) & 0xff;
    // Bit i: byte i has its continuation bit set.
    let c = (word >> 7 & 1) | (word >> 14 & 2) | (word >> 21 & 4) | (word >> 28 & 8);
    // A two-byte field: its second byte must end it and not be 0.
    let two = |i: u32| (byte(i) & 0x7f | byte(i + 1) << 7, byte(i + 1) != 0);
    // Tried in order of frequency; not a `match`, which becomes a jump
    // table.
    let (gap, len, used, ok) = if c & 0b111 == 0b010 {
        // gap one byte, length two (a page and larger, packed)
        let (len, ok) = two(1);
        (byte(0), len, 3, ok)
    } else if c & 0b111 == 0b000 {
        // gap, length: one byte each
        (byte(0), byte(1), 2, true)
    } else if c & 0b111 == 0b001 {
        // gap two bytes, length one
        let (gap, ok) = two(0);
        (gap, byte(2), 3, ok)
    } else if c & 0b1111 == 0b0101 {
        // gap, length: two bytes each
        let (gap, ok_gap) = two(0);
        let (len, ok_len) = two(2);
        (gap, len, 4, ok_gap && ok_len)
    } else {
        return None;
    };
    if !owned {
        return ok.then_some((gap, len, used));
    }
    // The owner: one byte, 0.
    (ok && byte(used as u32) == 0).then_some((gap, len, used + 1))
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
