// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The body of a journal record: a label, the owner table, the generation
//! after the record, and the changes from the state before, as a delta
//! file holds them (FORMAT.md 13.5).

use alloc::vec::Vec;

use super::super::delta::{owner_table, read_changes_of, write_changes, PoolOffsets};
use super::super::owners::DecodedOwners;
use super::super::varint::{self, Reader};
use super::super::{DecodeError, Field, FileKind};
use crate::Diff;

/// A record body that was read.
pub(super) struct RecordBody<'a> {
    pub(super) label: Option<&'a str>,
    pub(super) generation: u64,
    /// Where the generation is, for the rule that it moves up.
    pub(super) generation_at: usize,
    /// The changes, from the generation before to the record's.
    pub(super) diff: Diff,
    /// Where the fields of each changed allocator start.
    pub(super) offsets: Vec<PoolOffsets>,
}

/// Appends the body of a record: `label`, then `diff` (whose second
/// generation is the record's).
pub(super) fn write_body(label: Option<&str>, diff: &Diff, out: &mut Vec<u8>) {
    let label = label.unwrap_or_default();
    varint::write(out, label.len() as u64);
    out.extend_from_slice(label.as_bytes());
    let mut table = owner_table(diff);
    table.write(out);
    varint::write(out, diff.generations().1);
    write_changes(diff, &mut table, out);
}

/// Reads the body `bytes[start..end]` of a record of a journal of `kind`,
/// whose state before is at generation `previous` (FORMAT.md 13.8, steps
/// B1 to B6). Errors have no record yet.
pub(super) fn read_body(
    bytes: &[u8],
    (start, end): (usize, usize),
    kind: FileKind,
    previous: u64,
) -> Result<RecordBody<'_>, DecodeError> {
    let mut r = Reader::new(&bytes[..end], start);
    let label = if r.skip_zero() {
        None
    } else {
        Some(r.name(Field::Label)?)
    };
    let mut owners = DecodedOwners::read(&mut r)?;
    let generation_at = r.pos();
    let generation = r.varint(Field::Generation)?;
    let mut offsets = Vec::new();
    let pools = read_changes_of(
        kind,
        &mut r,
        &mut owners,
        (previous, generation),
        Some(&mut offsets),
    )?;
    r.finish(Field::EndOfBody)?;
    owners.finish()?;
    Ok(RecordBody {
        label,
        generation,
        generation_at,
        diff: Diff::from_parts(kind, (previous, generation), pools),
        offsets,
    })
}
