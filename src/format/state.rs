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

    /// Appends the body in `version`; `fits(version)` holds.
    fn encode_body(&self, version: u16, out: &mut Vec<u8>);

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

/// The file of `state` in format `version`, if it fits.
pub(crate) fn encode<T: FileState>(state: &T, version: u16) -> Result<Vec<u8>, EncodeError> {
    if !WRITABLE_VERSIONS.contains(&version) {
        return Err(EncodeError::UnsupportedVersion {
            version,
            supported: WRITABLE_VERSIONS,
        });
    }
    state
        .fits(version)
        .map_err(|what| EncodeError::DoesNotFit { version, what })?;
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
