// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The frame around every body: header (magic, version, kind, body length)
//! and the CRC-32C trailer.

use alloc::vec::Vec;

#[cfg(any(not(feature = "std"), test))]
use crc::{Crc, Table, CRC_32_ISCSI};

#[cfg(feature = "std")]
use super::sink::Sink;
use super::varint::{self, Reader};
use super::{
    DecodeError, DecodeErrorKind, Field, FileKind, MAGIC, MAX_FILE_SIZE, SUPPORTED_VERSIONS,
};

/// CRC-32C (Castagnoli), slice-by-16: the checksum without `std`.
#[cfg(any(not(feature = "std"), test))]
static CRC32C: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISCSI);

/// Offset of the version field.
const VERSION_OFFSET: usize = MAGIC.len();
/// Offset of the kind byte.
const KIND_OFFSET: usize = VERSION_OFFSET + 2;
/// Offset of the body length varint.
const BODY_LENGTH_OFFSET: usize = KIND_OFFSET + 1;
/// Room reserved for the body length while the body is written.
const MAX_VARINT_LEN: usize = 10;
const CHECKSUM_LEN: usize = 4;

/// The CRC-32C of `bytes`.
///
/// With `std`, through the `crc32c` crate: the CPU's CRC-32C instructions
/// (SSE 4.2, ARMv8) when it has them, detected at run time, its own tables
/// otherwise; some 7x faster than the tables of the `crc` crate, which
/// builds without `std` use.
#[inline]
pub(super) fn crc32c(bytes: &[u8]) -> u32 {
    #[cfg(feature = "std")]
    {
        crc32c::crc32c(bytes)
    }
    #[cfg(not(feature = "std"))]
    {
        CRC32C.checksum(bytes)
    }
}

/// A running CRC-32C, for files written as a stream and for journal
/// records: the CPU's instructions with `std`, the tables without.
#[derive(Clone)]
pub(crate) struct Crc32cDigest(DigestState);

#[cfg(feature = "std")]
type DigestState = u32;
#[cfg(not(feature = "std"))]
type DigestState = crc::Digest<'static, u32, Table<16>>;

impl Crc32cDigest {
    /// The checksum of nothing yet.
    pub(crate) fn new() -> Crc32cDigest {
        #[cfg(feature = "std")]
        {
            Crc32cDigest(0)
        }
        #[cfg(not(feature = "std"))]
        {
            Crc32cDigest(CRC32C.digest())
        }
    }

    /// Adds `bytes` to the checksum.
    #[inline]
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        #[cfg(feature = "std")]
        {
            self.0 = crc32c::crc32c_append(self.0, bytes);
        }
        #[cfg(not(feature = "std"))]
        {
            self.0.update(bytes);
        }
    }

    /// The checksum of everything added.
    pub(crate) fn finalize(self) -> u32 {
        #[cfg(feature = "std")]
        {
            self.0
        }
        #[cfg(not(feature = "std"))]
        {
            self.0.finalize()
        }
    }
}

/// Writes the header of a file of `kind` in `version` whose body is
/// `body_len` bytes long.
#[cfg(feature = "std")]
pub(super) fn write_header(out: &mut impl Sink, kind: FileKind, version: u16, body_len: u64) {
    out.put(&MAGIC);
    out.put(&version.to_le_bytes());
    out.byte(kind.byte());
    varint::write(out, body_len);
}

/// The size of a whole file whose body is `body_len` bytes long.
#[cfg(feature = "std")]
pub(super) fn file_len(body_len: u64) -> u64 {
    let (_, len_len) = varint::to_array(body_len);
    BODY_LENGTH_OFFSET as u64 + len_len as u64 + body_len + CHECKSUM_LEN as u64
}

/// Builds a file of `kind` in format `version` around the body that
/// `write_body` appends; `body_hint` is the expected body size.
pub(super) fn seal(
    kind: FileKind,
    version: u16,
    body_hint: usize,
    write_body: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    seal_with(&MAGIC, kind, version, body_hint, write_body)
}

/// [`seal`] with another magic (a journal's header).
pub(super) fn seal_with(
    magic: &[u8; 8],
    kind: FileKind,
    version: u16,
    body_hint: usize,
    write_body: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    // The length is known only once the body is written: leave room for
    // the varint the hint would take, so that the body moves only when the
    // hint was off by enough to change the varint's length.
    let (_, guess) = varint::to_array(body_hint as u64);
    let mut out = Vec::with_capacity(BODY_LENGTH_OFFSET + guess + body_hint + CHECKSUM_LEN);
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.push(kind.byte());
    out.extend_from_slice(&[0; MAX_VARINT_LEN][..guess]);
    write_body(&mut out);
    let body_len = out.len() - BODY_LENGTH_OFFSET - guess;
    let (len_bytes, len_len) = varint::to_array(body_len as u64);
    if len_len == guess {
        out[BODY_LENGTH_OFFSET..BODY_LENGTH_OFFSET + guess].copy_from_slice(&len_bytes[..guess]);
    } else {
        out.splice(
            BODY_LENGTH_OFFSET..BODY_LENGTH_OFFSET + guess,
            len_bytes[..len_len].iter().copied(),
        );
    }
    let crc = crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// A file whose header and checksum have been checked.
pub(super) struct Frame<'a> {
    pub(super) version: u16,
    pub(super) kind: FileKind,
    pub(super) body_offset: usize,
    pub(super) body_len: usize,
    pub(super) checksum: u32,
    /// Reads the body; the end of the body is the end of its input.
    pub(super) body: Reader<'a>,
    /// The offset right after the checksum.
    pub(super) end: usize,
}

/// What a kind of frame requires: the state files of FORMAT.md section 2,
/// or the header of a journal (section 13).
pub(super) struct FrameRules {
    /// The first eight bytes.
    pub(super) magic: [u8; 8],
    /// The error for input that does not start with the magic.
    pub(super) bad_magic: fn([u8; 8], u8) -> DecodeErrorKind,
    /// The format versions read.
    pub(super) versions: &'static [u16],
    /// Whether bytes may follow the checksum (a journal's records).
    pub(super) more_after: bool,
    /// Whether a file of `version` can hold the kind.
    pub(super) holds: fn(FileKind, u16) -> bool,
}

/// The frame of a state file.
const STATE_FILE: FrameRules = FrameRules {
    magic: MAGIC,
    bad_magic: |found, found_len| DecodeErrorKind::BadMagic { found, found_len },
    versions: SUPPORTED_VERSIONS,
    more_after: false,
    holds: FileKind::in_version,
};

/// Checks the frame of `bytes`: size limit, magic, version, length,
/// trailing bytes, checksum, then the kind (`expected`, or any known kind).
///
/// The kind is checked after the checksum so that a damaged kind byte is
/// reported as damage, and a sound file of another kind as the wrong kind.
pub(super) fn open(bytes: &[u8], expected: Option<FileKind>) -> Result<Frame<'_>, DecodeError> {
    open_with(&STATE_FILE, bytes, expected)
}

/// [`open`] by the given rules.
pub(super) fn open_with<'a>(
    rules: &FrameRules,
    bytes: &'a [u8],
    expected: Option<FileKind>,
) -> Result<Frame<'a>, DecodeError> {
    if bytes.len() > MAX_FILE_SIZE {
        return Err(DecodeError::new(
            0,
            Field::File,
            DecodeErrorKind::FileTooLarge {
                size: bytes.len() as u64,
                max: MAX_FILE_SIZE as u64,
            },
        ));
    }
    check_magic(rules, bytes)?;
    let mut r = Reader::new(bytes, VERSION_OFFSET);
    let version_bytes = r.take(2, Field::Version)?;
    let version = u16::from_le_bytes([version_bytes[0], version_bytes[1]]);
    if !rules.versions.contains(&version) {
        return Err(DecodeError::new(
            VERSION_OFFSET,
            Field::Version,
            DecodeErrorKind::UnsupportedVersion {
                found: version,
                supported: rules.versions,
            },
        ));
    }
    let kind_byte = r.take(1, Field::Kind)?[0];
    let body_len = r.varint_at_most(Field::BodyLength, MAX_FILE_SIZE as u64)? as usize;
    let body_offset = r.pos();
    let available = r.remaining();
    if available < body_len {
        return Err(DecodeError::new(
            body_offset,
            Field::Body,
            DecodeErrorKind::Truncated {
                needed: body_len as u64,
                available: available as u64,
            },
        ));
    }
    let body_end = body_offset + body_len;
    let after_body = available - body_len;
    if after_body < CHECKSUM_LEN {
        return Err(DecodeError::new(
            body_end,
            Field::Checksum,
            DecodeErrorKind::Truncated {
                needed: CHECKSUM_LEN as u64,
                available: after_body as u64,
            },
        ));
    }
    if after_body > CHECKSUM_LEN && !rules.more_after {
        return Err(DecodeError::new(
            body_end + CHECKSUM_LEN,
            Field::EndOfFile,
            DecodeErrorKind::TrailingBytes {
                count: (after_body - CHECKSUM_LEN) as u64,
            },
        ));
    }
    let stored = u32::from_le_bytes([
        bytes[body_end],
        bytes[body_end + 1],
        bytes[body_end + 2],
        bytes[body_end + 3],
    ]);
    let computed = crc32c(&bytes[..body_end]);
    if stored != computed {
        return Err(DecodeError::new(
            body_end,
            Field::Checksum,
            DecodeErrorKind::ChecksumMismatch { stored, computed },
        ));
    }
    let kind = check_kind(rules, kind_byte, version, expected)?;
    Ok(Frame {
        version,
        kind,
        body_offset,
        body_len,
        checksum: stored,
        body: Reader::new(&bytes[..body_end], body_offset),
        end: body_end + CHECKSUM_LEN,
    })
}

fn check_magic(rules: &FrameRules, bytes: &[u8]) -> Result<(), DecodeError> {
    let magic = &rules.magic;
    let present = bytes.len().min(magic.len());
    if bytes[..present] != magic[..present] {
        let mut found = [0; 8];
        found[..present].copy_from_slice(&bytes[..present]);
        return Err(DecodeError::new(
            0,
            Field::Magic,
            (rules.bad_magic)(found, present as u8),
        ));
    }
    if present < magic.len() {
        return Err(DecodeError::new(
            0,
            Field::Magic,
            DecodeErrorKind::Truncated {
                needed: magic.len() as u64,
                available: present as u64,
            },
        ));
    }
    Ok(())
}

/// The kind a file of `version` holds: `expected`, or for a listing any
/// kind that version knows.
fn check_kind(
    rules: &FrameRules,
    found: u8,
    version: u16,
    expected: Option<FileKind>,
) -> Result<FileKind, DecodeError> {
    let error = |kind| DecodeError::new(KIND_OFFSET, Field::Kind, kind);
    let known = FileKind::from_byte(found).filter(|&k| (rules.holds)(k, version));
    match (expected, known) {
        (Some(expected), Some(kind)) if kind == expected => Ok(kind),
        (Some(expected), _) => Err(error(DecodeErrorKind::WrongKind { expected, found })),
        (None, Some(kind)) => Ok(kind),
        (None, None) => Err(error(DecodeErrorKind::UnknownKind { found })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        // The check value of the CRC catalogue: CRC-32C of "123456789".
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(CRC32C.checksum(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn every_crc32c_agrees() {
        // Lengths around the block sizes of the table and instruction
        // loops, and a streamed checksum in uneven pieces.
        let data: alloc::vec::Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
        for len in [
            0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 255, 256, 257, 4095, 5000,
        ] {
            assert_eq!(
                crc32c(&data[..len]),
                CRC32C.checksum(&data[..len]),
                "{len} bytes"
            );
        }
        #[cfg(feature = "std")]
        {
            let mut digest = Crc32cDigest::new();
            for piece in data.chunks(333) {
                digest.update(piece);
            }
            assert_eq!(digest.finalize(), CRC32C.checksum(&data));
        }
    }

    #[test]
    fn sealed_empty_body_opens() {
        let file = seal(FileKind::IdAllocator, 1, 0, |_| {});
        assert_eq!(file.len(), 8 + 2 + 1 + 1 + 4);
        let frame = open(&file, None).unwrap();
        assert_eq!(frame.kind, FileKind::IdAllocator);
        assert_eq!((frame.body_offset, frame.body_len), (12, 0));
        assert_eq!(frame.version, 1);
        assert_eq!(frame.checksum, crc32c(&file[..12]));
    }

    #[test]
    fn bodies_longer_or_shorter_than_the_hint_frame_alike() {
        for (hint, len) in [(0, 300), (300, 0), (100, 127), (100, 128), (20_000, 16_383)] {
            let file = seal(FileKind::AddressAllocator, 2, hint, |out| {
                out.extend(core::iter::repeat_n(9, len))
            });
            let frame = open(&file, Some(FileKind::AddressAllocator)).unwrap();
            assert_eq!(frame.body_len, len, "hint {hint}");
            assert_eq!(
                file,
                seal(FileKind::AddressAllocator, 2, len, |out| {
                    out.extend(core::iter::repeat_n(9, len))
                })
            );
        }
    }

    #[test]
    fn long_bodies_get_multi_byte_lengths() {
        let file = seal(FileKind::AddressAllocator, 2, 300, |out| {
            out.extend_from_slice(&[7; 300])
        });
        assert_eq!(&file[11..13], &[0xac, 0x02]);
        let frame = open(&file, Some(FileKind::AddressAllocator)).unwrap();
        assert_eq!((frame.body_offset, frame.body_len), (13, 300));
        assert_eq!(frame.body.remaining(), 300);
    }
}
