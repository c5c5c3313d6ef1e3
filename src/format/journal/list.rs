// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The listing of a journal for `format::dump`: its header, its base
//! state, each record with its changes, and what reading it kept and
//! discarded.

use alloc::string::String;
use core::fmt::Write;

use super::frame::open_header;
use super::replay;
use crate::escape_name;
use crate::format::delta::list_changes;
use crate::format::set::Indented;
use crate::format::{DecodeError, FileKind};
use crate::{AddressAllocator, IdAllocator, ResourceSet, Versioned};

/// Lists the journal `bytes`; an error is a header that cannot be read.
pub(crate) fn list(bytes: &[u8]) -> Result<String, DecodeError> {
    let (header, _, _) = open_header(bytes, None)?;
    match header.kind {
        FileKind::IdAllocator => list_of::<IdAllocator>(bytes),
        FileKind::AddressAllocator => list_of::<AddressAllocator>(bytes),
        _ => list_of::<ResourceSet>(bytes),
    }
}

fn list_of<S: Versioned>(bytes: &[u8]) -> Result<String, DecodeError> {
    let mut replay = replay::<S>(bytes)?;
    let mut out = String::new();
    let f = &mut out;
    let h = *replay.header();
    // Writing to a String cannot fail.
    let _ = writeln!(f, "vm-allocator journal");
    let _ = writeln!(f, "format version: {}", h.version);
    let _ = writeln!(f, "kind: {} ({})", h.kind, h.kind.byte());
    let _ = writeln!(f, "journal id: {:#018x}", h.id);
    let _ = writeln!(
        f,
        "header: {} bytes, body {} bytes at offset {}",
        h.len, h.body_len, h.body_offset
    );
    let _ = writeln!(f, "checksum: CRC-32C {:#010x}", h.checksum);
    let _ = writeln!(f, "base state:");
    let _ = replay.base().list_state(&mut Indented {
        out: f,
        line_start: true,
    });
    for record in replay.by_ref() {
        let _ = write!(
            f,
            "record #{} at byte {}, {} bytes: generation {}",
            record.index, record.offset, record.len, record.generation
        );
        if let Some(label) = record.label {
            let _ = write!(f, ", label \"{}\"", escape_name(label));
        }
        let _ = writeln!(f);
        let _ = list_changes(
            &record.diff,
            &mut Indented {
                out: f,
                line_start: true,
            },
        );
    }
    let (end, recovery) = replay.finish();
    let _ = writeln!(f, "end: {recovery}");
    let _ = writeln!(f, "state: generation {}", end.generation());
    Ok(out)
}
