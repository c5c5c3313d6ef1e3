// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The frames of a journal: the header (a state file's frame with the
//! journal magic, whose body is the journal id and the base state), and
//! the record frame (length, body, length again, chained CRC-32C).

use alloc::vec::Vec;

use super::super::frame::{self, crc32c, FrameRules};
use super::super::varint::{self, Reader};
use super::super::{DecodeError, DecodeErrorKind, Field, FileKind, MAX_FILE_SIZE};
use super::{JournalHeader, JOURNAL_MAGIC, JOURNAL_VERSIONS};

/// The largest record body, as for a file's body.
pub(super) const MAX_RECORD_BODY: u64 = MAX_FILE_SIZE as u64;

/// The bytes of a journal id.
const ID_LEN: usize = 8;

const CHECKSUM_LEN: usize = 4;

/// The frame of a journal's header.
const HEADER: FrameRules = FrameRules {
    magic: JOURNAL_MAGIC,
    bad_magic: |found, found_len| DecodeErrorKind::NotAJournal { found, found_len },
    versions: JOURNAL_VERSIONS,
    more_after: true,
    holds: |kind, _| kind != FileKind::Delta,
};

/// The header of a journal keeping a state of `kind`: the journal id, then
/// the version 2 body of the state that `write_state` appends.
pub(super) fn seal_header(
    kind: FileKind,
    id: u64,
    body_hint: usize,
    write_state: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    frame::seal_with(
        &JOURNAL_MAGIC,
        kind,
        JOURNAL_VERSIONS[0],
        body_hint,
        |out| {
            out.extend_from_slice(&id.to_le_bytes());
            write_state(out);
        },
    )
}

/// Checks the header frame (FORMAT.md 13.4, steps J1 to J11) and reads the
/// journal id: the header, and where the base state's body starts and
/// ends.
pub(super) fn open_header(
    bytes: &[u8],
    expected: Option<FileKind>,
) -> Result<(JournalHeader, usize, usize), DecodeError> {
    let frame = frame::open_with(&HEADER, bytes, expected)?;
    let body_end = frame.body_offset + frame.body_len;
    let mut r = frame.body;
    let id = r.take(ID_LEN, Field::JournalId)?;
    let id = u64::from_le_bytes(id.try_into().expect("eight bytes"));
    let header = JournalHeader {
        version: frame.version,
        kind: frame.kind,
        id,
        body_offset: frame.body_offset,
        body_len: frame.body_len,
        checksum: frame.checksum,
        len: frame.end,
    };
    Ok((header, r.pos(), body_end))
}

/// A record frame that was read and whose checksum holds.
pub(super) struct RecordFrame {
    /// The body: `bytes[body.0..body.1]`.
    pub(super) body: (usize, usize),
    /// The record's checksum.
    pub(super) checksum: u32,
    /// The offset right after the record.
    pub(super) end: usize,
}

/// Appends the frame of a record whose body is `body` after a record (or
/// header) whose checksum is `previous`; returns the record's checksum.
pub(super) fn write_record(previous: u32, body: &[u8], out: &mut Vec<u8>) -> u32 {
    let (len, n) = varint::to_array(body.len() as u64);
    let start = out.len();
    out.reserve(2 * n + body.len() + CHECKSUM_LEN);
    out.extend_from_slice(&len[..n]);
    out.extend_from_slice(body);
    out.extend(len[..n].iter().rev());
    let mut digest = frame::Crc32cDigest::new();
    digest.update(&previous.to_le_bytes());
    digest.update(&out[start..]);
    let checksum = digest.finalize();
    out.extend_from_slice(&checksum.to_le_bytes());
    checksum
}

/// The size of the frame of a record whose body is `body_len` bytes.
pub(super) fn record_len(body_len: usize) -> usize {
    2 * varint::to_array(body_len as u64).1 + body_len + CHECKSUM_LEN
}

/// Reads the frame of the record at `start` (FORMAT.md 13.6, steps R1 to
/// R6); the chained checksum covers the 4 bytes before it. Errors have no
/// record yet.
pub(super) fn read_record(bytes: &[u8], start: usize) -> Result<RecordFrame, DecodeError> {
    debug_assert!(start >= CHECKSUM_LEN);
    let mut r = Reader::new(bytes, start);
    let len = r.varint_at_most(Field::RecordLength, MAX_RECORD_BODY)? as usize;
    let len_bytes = &bytes[start..r.pos()];
    let body_start = r.pos();
    r.take(len, Field::RecordBody)?;
    let trailer_at = r.pos();
    let trailer = r.take(len_bytes.len(), Field::RecordTrailer)?;
    if !trailer.iter().eq(len_bytes.iter().rev()) {
        return Err(DecodeError::new(
            trailer_at,
            Field::RecordTrailer,
            DecodeErrorKind::LengthMismatch,
        ));
    }
    let checksum_at = r.pos();
    let stored = r.u32_le(Field::RecordChecksum)?;
    let computed = crc32c(&bytes[start - CHECKSUM_LEN..checksum_at]);
    if stored != computed {
        return Err(DecodeError::new(
            checksum_at,
            Field::RecordChecksum,
            DecodeErrorKind::ChecksumMismatch { stored, computed },
        ));
    }
    Ok(RecordFrame {
        body: (body_start, body_start + len),
        checksum: stored,
        end: r.pos(),
    })
}

/// The start of the sound record frame that ends the input, if there is
/// one and it starts after `after` (FORMAT.md 13.7): read backwards from
/// the end, its checksum, its length after the body, its body and its
/// length, whose chained checksum holds.
pub(super) fn sound_last_record(bytes: &[u8], after: usize) -> Option<usize> {
    let end = bytes.len();
    let checksum_at = end.checked_sub(CHECKSUM_LEN)?;
    // The length after the body, its bytes in reverse order: the byte
    // before the checksum is the varint's first (lowest) group.
    let mut value = 0u64;
    let mut n = 0;
    loop {
        let at = checksum_at.checked_sub(n + 1)?;
        let b = bytes[at];
        if n == 9 && b > 1 {
            return None;
        }
        value |= u64::from(b & 0x7f) << (7 * n);
        n += 1;
        if b & 0x80 == 0 {
            if b == 0 && n > 1 {
                return None;
            }
            break;
        }
        if n == 10 {
            return None;
        }
    }
    if value > MAX_RECORD_BODY {
        return None;
    }
    let body_start = checksum_at.checked_sub(n)?.checked_sub(value as usize)?;
    let start = body_start.checked_sub(n)?;
    if start <= after || start < CHECKSUM_LEN {
        return None;
    }
    let forward = &bytes[start..body_start];
    let backward = &bytes[body_start + value as usize..checksum_at];
    if !forward.iter().eq(backward.iter().rev()) {
        return None;
    }
    let stored = u32::from_le_bytes(bytes[checksum_at..].try_into().ok()?);
    (crc32c(&bytes[start - CHECKSUM_LEN..checksum_at]) == stored).then_some(start)
}
