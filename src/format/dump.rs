// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! A readable listing of a file: its header, then every allocation or run on
//! a line of its own.

use alloc::string::{String, ToString};
use core::fmt;

use super::frame::{self, Frame};
use super::{address, id, DecodeError, FileKind};
use crate::{AddressAllocator, IdAllocator};

/// Decodes `bytes` (of any kind) with full validation and lists their
/// header fields and every allocation or run, one per line.
///
/// The output of a given file never changes: golden tests compare it with
/// checked-in listings.
///
/// ```rust
/// use vm_allocator::{format, IdAllocator};
///
/// let mut gsi = IdAllocator::new(5, 23).unwrap();
/// gsi.allocate_ids(3, 1).unwrap();
/// let text = format::dump(&gsi.to_bytes()).unwrap();
/// assert!(text.contains("kind: IdAllocator (1)\n"));
/// assert!(text.contains("range: 5..=23 (19 ids)\n"));
/// assert!(text.contains("#0 5..=7 (3)\n"));
/// ```
///
/// Time: O(len), len = `bytes.len()`.
pub fn dump(bytes: &[u8]) -> Result<String, DecodeError> {
    let frame = frame::open(bytes, None)?;
    let header = Header {
        version: frame.version,
        kind: frame.kind,
        body_offset: frame.body_offset,
        body_len: frame.body_len,
        checksum: frame.checksum,
    };
    let state = decode(frame)?;
    Ok(Listing { header, state }.to_string())
}

enum State {
    Id(IdAllocator),
    Address(AddressAllocator),
}

fn decode(frame: Frame<'_>) -> Result<State, DecodeError> {
    match frame.kind {
        FileKind::IdAllocator => id::decode_body(frame.body).map(State::Id),
        FileKind::AddressAllocator => address::decode_body(frame.body).map(State::Address),
    }
}

struct Header {
    version: u16,
    kind: FileKind,
    body_offset: usize,
    body_len: usize,
    checksum: u32,
}

struct Listing {
    header: Header,
    state: State,
}

impl fmt::Display for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.header;
        writeln!(f, "vm-allocator state file")?;
        writeln!(f, "format version: {}", h.version)?;
        writeln!(f, "kind: {} ({})", h.kind, h.kind.byte())?;
        writeln!(f, "body: {} bytes at offset {}", h.body_len, h.body_offset)?;
        writeln!(f, "checksum: CRC-32C {:#010x}", h.checksum)?;
        match &self.state {
            State::Id(ids) => list_ids(f, ids),
            State::Address(addresses) => list_addresses(f, addresses),
        }
    }
}

fn list_ids(f: &mut fmt::Formatter<'_>, ids: &IdAllocator) -> fmt::Result {
    let (base, end) = (ids.range_base(), ids.range_end());
    let size = u64::from(end) - u64::from(base) + 1;
    writeln!(f, "range: {base}..={end} ({size} ids)")?;
    writeln!(f, "next id: {}", ids.next_id())?;
    let runs = ids.ranges().count();
    writeln!(
        f,
        "runs: {runs} ({} ids used, {} free)",
        ids.used(),
        ids.available()
    )?;
    for (i, run) in ids.ranges().enumerate() {
        let len = u64::from(*run.end()) - u64::from(*run.start()) + 1;
        writeln!(f, "#{i} {}..={} ({len})", run.start(), run.end())?;
    }
    Ok(())
}

fn list_addresses(f: &mut fmt::Formatter<'_>, addresses: &AddressAllocator) -> fmt::Result {
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
    for (i, r) in addresses.iter().enumerate() {
        writeln!(f, "#{i} {:#x}..={:#x} ({:#x})", r.start(), r.end(), r.len())?;
    }
    Ok(())
}
