// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! A readable listing of a file: its header, then every allocation, run,
//! pool or change on a line of its own.

use alloc::string::String;
use core::fmt::Write;

use super::frame::{self, Frame};
use super::state::{decode_frame, FileState};
use super::{DecodeError, FileKind, JOURNAL_MAGIC};
use crate::{AddressAllocator, Delta, IdAllocator, ResourceSet};

/// Decodes `bytes` (of any kind and version) with full validation and
/// lists their header fields and every allocation, run, pool or change,
/// one per line.
///
/// Owner and pool names show by the rule of
/// [`escape_name`](crate::escape_name) (FORMAT.md 6.1.1): a name cannot
/// fake a line of the listing or hide what it holds, while the file keeps
/// it exactly. The output of a given file never changes: golden tests
/// compare it with checked-in listings.
///
/// ```rust
/// use vm_allocator::{format, IdAllocator, Owner};
///
/// let mut gsi = IdAllocator::new(5, 23).unwrap();
/// gsi.allocate_ids(3, 1).unwrap();
/// let serial = Owner::new("serial0").unwrap();
/// gsi.owned_by(&serial).allocate_id().unwrap();
/// let text = format::dump(&gsi.to_bytes()).unwrap();
/// assert!(text.contains("kind: IdAllocator (1)\n"));
/// assert!(text.contains("range: 5..=23 (19 ids)\n"));
/// assert!(text.contains("#0 5..=7 (3)\n"));
/// assert!(text.contains("#1 8..=8 (1) serial0\n"));
///
/// let fake = Owner::new("rtc\u{2028}#2 9..=9 (1) rtc").unwrap();
/// gsi.owned_by(&fake).allocate_id().unwrap();
/// let text = format::dump(&gsi.to_bytes()).unwrap();
/// assert!(text.ends_with("#2 9..=9 (1) rtc\\u{2028}#2 9..=9 (1) rtc\n"));
/// ```
///
/// Time: O(len), len = `bytes.len()`.
pub fn dump(bytes: &[u8]) -> Result<String, DecodeError> {
    if bytes.starts_with(&JOURNAL_MAGIC) {
        return super::journal::list(bytes);
    }
    let frame = frame::open(bytes, None)?;
    let mut out = String::new();
    let w = &mut out;
    // Writing to a String cannot fail.
    let _ = writeln!(w, "vm-allocator state file");
    let _ = writeln!(w, "format version: {}", frame.version);
    let _ = writeln!(w, "kind: {} ({})", frame.kind, frame.kind.byte());
    let _ = writeln!(
        w,
        "body: {} bytes at offset {}",
        frame.body_len, frame.body_offset
    );
    let _ = writeln!(w, "checksum: CRC-32C {:#010x}", frame.checksum);
    let version = frame.version;
    match frame.kind {
        FileKind::IdAllocator => list::<IdAllocator>(frame, version, &mut out)?,
        FileKind::AddressAllocator => list::<AddressAllocator>(frame, version, &mut out)?,
        FileKind::ResourceSet => list::<ResourceSet>(frame, version, &mut out)?,
        FileKind::Delta => list::<Delta>(frame, version, &mut out)?,
    }
    Ok(out)
}

fn list<T: FileState>(frame: Frame<'_>, version: u16, out: &mut String) -> Result<(), DecodeError> {
    let state: T = decode_frame(frame)?;
    let _ = state.list(version, out);
    Ok(())
}
