// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `Versionize` for the state types, for VMMs whose snapshots are built on
//! the `versionize` crate.
//!
//! A state (either allocator, a resource set, a delta) is written as its
//! canonical file ([`to_bytes`], the current format version) in a
//! length-prefixed byte vector: a little-endian `u64` length, then the
//! bytes, which is exactly how `versionize` writes a `Vec<u8>`. The file
//! carries its own format version and checksum, so the `VersionMap` and the
//! target version are not consulted; reading runs [`from_bytes`] with its
//! full validation, and reads every supported format version (data written
//! before version 2 holds version 1 files). Writing refuses a state whose
//! file would exceed the limit that reading enforces. Reading never preallocates from the length prefix: the
//! buffer grows with the bytes actually present, up to
//! [`MAX_FILE_SIZE`](crate::format::MAX_FILE_SIZE).
//!
//! A [`RangeInclusive`] is its two bounds, as `versionize` writes two `u64`,
//! checked on the way in as [`RangeInclusive::new`] checks them.
//!
//! [`to_bytes`]: crate::AddressAllocator::to_bytes
//! [`from_bytes`]: crate::AddressAllocator::from_bytes

use std::io::{Read, Write};
use std::string::String;
use std::vec::Vec;

use versionize::{VersionMap, Versionize, VersionizeError, VersionizeResult};

use crate::format::{DecodeError, FORMAT_VERSION, MAX_FILE_SIZE};
use crate::{AddressAllocator, Delta, IdAllocator, RangeInclusive, ResourceSet};

/// Writes `bytes` as `versionize` writes a `Vec<u8>`.
fn write_bytes<W: Write>(writer: &mut W, what: &str, bytes: &[u8]) -> VersionizeResult<()> {
    let len = bytes.len() as u64;
    writer
        .write_all(&len.to_le_bytes())
        .and_then(|()| writer.write_all(bytes))
        .map_err(|e| VersionizeError::Serialize(format!("{what}: writing {len} bytes: {e}")))
}

/// Reads a byte vector written by [`write_bytes`], refusing a length above
/// the format's limit or one the input does not hold.
fn read_bytes<R: Read>(reader: &mut R, what: &str) -> VersionizeResult<Vec<u8>> {
    let mut prefix = [0u8; 8];
    reader.read_exact(&mut prefix).map_err(|e| {
        VersionizeError::Deserialize(format!("{what}: reading the length prefix: {e}"))
    })?;
    let len = u64::from_le_bytes(prefix);
    if len > MAX_FILE_SIZE as u64 {
        return Err(VersionizeError::Deserialize(format!(
            "{what}: the length prefix says {len} bytes, more than the format's limit of \
             {MAX_FILE_SIZE}"
        )));
    }
    let mut bytes = Vec::new();
    reader
        .take(len)
        .read_to_end(&mut bytes)
        .map_err(|e| VersionizeError::Deserialize(format!("{what}: reading {len} bytes: {e}")))?;
    if bytes.len() as u64 != len {
        return Err(VersionizeError::Deserialize(format!(
            "{what}: the length prefix says {len} bytes but only {} follow",
            bytes.len()
        )));
    }
    Ok(bytes)
}

fn decode_error(what: &str, e: DecodeError) -> VersionizeError {
    VersionizeError::Deserialize(format!("{what}: {e}"))
}

/// `Versionize` for a state as its canonical file in a byte vector.
macro_rules! versionize_as_file {
    ($ty:ident) => {
        impl Versionize for $ty {
            /// Fails, writing nothing, for a state whose file would be
            /// over [`MAX_FILE_SIZE`]: it could never be read back.
            ///
            /// Time: O(n).
            fn serialize<W: Write>(
                &self,
                writer: &mut W,
                _: &VersionMap,
                _: u16,
            ) -> VersionizeResult<()> {
                let bytes = crate::format::encode(self, FORMAT_VERSION)
                    .map_err(|e| VersionizeError::Serialize(format!("{}: {e}", stringify!($ty))))?;
                write_bytes(writer, stringify!($ty), &bytes)
            }

            /// Time: O(len) of the encoded state.
            fn deserialize<R: Read>(
                reader: &mut R,
                _: &VersionMap,
                _: u16,
            ) -> VersionizeResult<Self> {
                let bytes = read_bytes(reader, stringify!($ty))?;
                crate::format::decode(&bytes).map_err(|e| decode_error(stringify!($ty), e))
            }

            fn version() -> u16 {
                1
            }
        }
    };
}

versionize_as_file!(AddressAllocator);
versionize_as_file!(IdAllocator);
versionize_as_file!(ResourceSet);
versionize_as_file!(Delta);

impl Versionize for RangeInclusive {
    /// Time: O(1).
    fn serialize<W: Write>(
        &self,
        writer: &mut W,
        version_map: &VersionMap,
        target_version: u16,
    ) -> VersionizeResult<()> {
        self.start()
            .serialize(writer, version_map, target_version)?;
        self.end().serialize(writer, version_map, target_version)
    }

    /// Time: O(1).
    fn deserialize<R: Read>(
        reader: &mut R,
        version_map: &VersionMap,
        source_version: u16,
    ) -> VersionizeResult<Self> {
        let start = u64::deserialize(reader, version_map, source_version)?;
        let end = u64::deserialize(reader, version_map, source_version)?;
        RangeInclusive::new(start, end).map_err(|e| {
            VersionizeError::Deserialize(String::from("RangeInclusive: ") + &e.to_string())
        })
    }

    fn version() -> u16 {
        1
    }
}
