// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The one trait behind every kind of file.
//!
//! Each kind of state (the two allocators, the resource set, the delta)
//! implements [`FileState`] once: its kind byte, whether it fits a format
//! version, its body in each version, and its listing. Everything else is
//! written once here and in `file.rs`, `dump.rs` and `methods.rs`:
//! `to_bytes`, `to_bytes_version`, `from_bytes`, the checksum a delta
//! names, `write_to_path`, `read_from_path`, `format::dump` and
//! `Versionize`.

use alloc::vec::Vec;
use core::fmt;

use super::error::Unfit;
use super::frame::{self, Frame};
#[cfg(feature = "versionize")]
use super::sink::Counter;
use super::sink::Sink;
use super::varint::Reader;
use super::{DecodeError, EncodeError, FileKind, FORMAT_VERSION, MAX_FILE_SIZE, WRITABLE_VERSIONS};

/// A state with a file form. Crate-private: the file format is specified
/// by `FORMAT.md`, not by implementations of this trait.
pub(crate) trait FileState: Sized {
    /// The kind byte of its files.
    const KIND: FileKind;

    /// Whether the state can be written in `version` (one this crate
    /// writes), and if not, the first thing that does not fit.
    fn fits(&self, version: u16) -> Result<(), Unfit>;

    /// A guess of the size of the body, to reserve memory.
    fn body_hint(&self) -> usize;

    /// Appends the body in `version`; `fits(version)` holds. The same bytes
    /// whatever the sink.
    fn encode_body<S: Sink>(&self, version: u16, out: &mut S);

    /// Decodes and fully validates a body of `version`: the reader's input
    /// ends where the body ends, and the body must end where its content
    /// ends.
    fn decode_body(version: u16, r: Reader<'_>) -> Result<Self, DecodeError>;

    /// Lists the state for people, after the lines of the file header, as
    /// a file of `version` holds it.
    fn list(&self, version: u16, f: &mut dyn fmt::Write) -> fmt::Result;
}

/// The file of `state` in the current format version.
pub(crate) fn to_bytes<T: FileState>(state: &T) -> Vec<u8> {
    debug_assert!(state.fits(FORMAT_VERSION).is_ok());
    seal(state, FORMAT_VERSION)
}

/// Checks that `state` can be written in `version`.
fn check_writable<T: FileState>(state: &T, version: u16) -> Result<(), EncodeError> {
    if !WRITABLE_VERSIONS.contains(&version) {
        return Err(EncodeError::UnsupportedVersion {
            version,
            supported: WRITABLE_VERSIONS,
        });
    }
    state
        .fits(version)
        .map_err(|what| EncodeError::DoesNotFit { version, what })
}

/// The size of the file of `state` in `version`, without building it.
/// Time: O(n).
#[cfg(feature = "versionize")]
pub(crate) fn file_len<T: FileState>(state: &T, version: u16) -> Result<u64, EncodeError> {
    check_writable(state, version)?;
    let mut body = Counter::default();
    state.encode_body(version, &mut body);
    Ok(frame::file_len(body.0))
}

/// The file of `state` in format `version`, if it fits.
pub(crate) fn encode<T: FileState>(state: &T, version: u16) -> Result<Vec<u8>, EncodeError> {
    check_writable(state, version)?;
    let bytes = seal(state, version);
    if bytes.len() > MAX_FILE_SIZE {
        return Err(EncodeError::TooLarge {
            size: bytes.len() as u64,
        });
    }
    Ok(bytes)
}

fn seal<T: FileState>(state: &T, version: u16) -> Vec<u8> {
    frame::seal(T::KIND, version, state.body_hint(), |out| {
        state.encode_body(version, out)
    })
}

/// Decodes a file of `T`'s kind, of any supported version.
pub(crate) fn decode<T: FileState>(bytes: &[u8]) -> Result<T, DecodeError> {
    let frame = frame::open(bytes, Some(T::KIND))?;
    decode_frame(frame)
}

/// Decodes the body of an opened file of `T`'s kind.
pub(crate) fn decode_frame<T: FileState>(frame: Frame<'_>) -> Result<T, DecodeError> {
    T::decode_body(frame.version, frame.body)
}

/// The checksum (CRC-32C trailer) of the current-version file of `state`:
/// how a delta names the state it applies to.
pub(crate) fn checksum<T: FileState>(state: &T) -> u32 {
    let bytes = to_bytes(state);
    let n = bytes.len();
    u32::from_le_bytes([bytes[n - 4], bytes[n - 3], bytes[n - 2], bytes[n - 1]])
}

#[cfg(feature = "std")]
pub(crate) use stream::{read_from, write_to};

#[cfg(feature = "std")]
mod stream {
    use std::io::{self, Read, Write};

    use alloc::vec::Vec;

    use super::{check_writable, FileState};
    use crate::format::frame;
    use crate::format::sink::{Counter, Stream};
    use crate::format::{ReadError, MAGIC, MAX_FILE_SIZE, SUPPORTED_VERSIONS};

    /// Writes the file of `state` in `version` to `w` without building it in
    /// memory: one pass over the state to measure the body, one to write it
    /// through a buffer, the checksum computed on the way. An
    /// [`EncodeError`](crate::format::EncodeError) comes back as an I/O
    /// error of kind `InvalidInput`.
    pub(crate) fn write_to<T: FileState, W: Write>(
        state: &T,
        version: u16,
        w: W,
    ) -> io::Result<()> {
        let invalid = |e| io::Error::new(io::ErrorKind::InvalidInput, e);
        check_writable(state, version).map_err(invalid)?;
        let mut body = Counter::default();
        state.encode_body(version, &mut body);
        let size = frame::file_len(body.0);
        if size > MAX_FILE_SIZE as u64 {
            return Err(invalid(crate::format::EncodeError::TooLarge { size }));
        }
        let mut out = Stream::new(w);
        frame::write_header(&mut out, T::KIND, version, body.0);
        state.encode_body(version, &mut out);
        out.finish()
    }

    /// Reads one file of `T`'s kind from `r` and decodes it as `from_bytes`
    /// does (the same errors at the same offsets), reading exactly the
    /// file's bytes and no more, and never holding more than the bytes
    /// actually read.
    pub(crate) fn read_from<T: FileState, R: Read>(mut r: R) -> Result<T, ReadError> {
        // Magic, version and kind, then the body length byte by byte.
        let mut bytes = Vec::with_capacity(32);
        read_up_to(&mut r, &mut bytes, MAGIC.len() + 3)?;
        let header_ok = bytes.len() == MAGIC.len() + 3
            && bytes[..MAGIC.len()] == MAGIC
            && SUPPORTED_VERSIONS.contains(&u16::from_le_bytes([bytes[8], bytes[9]]));
        if header_ok {
            loop {
                let before = bytes.len();
                read_up_to(&mut r, &mut bytes, before + 1)?;
                let ended = bytes.len() == before || bytes[before] < 0x80;
                if ended || bytes.len() - (MAGIC.len() + 3) == 10 {
                    break;
                }
            }
            if let Some(body_len) = body_length(&bytes[MAGIC.len() + 3..]) {
                // The body and the checksum, as far as they go.
                let rest = body_len.saturating_add(4);
                r.by_ref()
                    .take(rest)
                    .read_to_end(&mut bytes)
                    .map_err(ReadError::Io)?;
            }
        }
        // Whatever was read, decoding it says what is wrong and where.
        super::decode(&bytes).map_err(ReadError::Decode)
    }

    /// A canonical body length within the limit, or `None` (decoding the
    /// bytes read then reports why).
    fn body_length(varint: &[u8]) -> Option<u64> {
        let mut value = 0u64;
        // 2^30 takes five bytes: a longer length is refused anyway.
        for (i, &b) in varint.iter().enumerate().take(5) {
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return (value <= MAX_FILE_SIZE as u64 && (b != 0 || i == 0)).then_some(value);
            }
        }
        None
    }

    /// Reads until `bytes` holds `len` bytes or the input ends.
    fn read_up_to<R: Read>(r: &mut R, bytes: &mut Vec<u8>, len: usize) -> Result<(), ReadError> {
        let want = len.saturating_sub(bytes.len()) as u64;
        r.take(want)
            .read_to_end(bytes)
            .map(|_| ())
            .map_err(ReadError::Io)
    }
}
