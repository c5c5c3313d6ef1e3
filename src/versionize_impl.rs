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
//! before version 2 holds version 1 files). The file is written and read
//! as a stream, without an intermediate buffer. Writing refuses a state
//! whose file would exceed the limit that reading enforces. Reading never
//! preallocates from the length prefix: it holds the bytes actually present,
//! up to [`MAX_FILE_SIZE`](crate::format::MAX_FILE_SIZE).
//!
//! A [`RangeInclusive`] is its two bounds, as `versionize` writes two `u64`,
//! checked on the way in as [`RangeInclusive::new`] checks them.
//!
//! [`to_bytes`]: crate::AddressAllocator::to_bytes
//! [`from_bytes`]: crate::AddressAllocator::from_bytes

use std::io::{Read, Write};
use std::string::String;

use versionize::{VersionMap, Versionize, VersionizeError, VersionizeResult};

use crate::format::{DecodeError, ReadError, FORMAT_VERSION, MAX_FILE_SIZE};
use crate::{AddressAllocator, Delta, IdAllocator, RangeInclusive, ResourceSet};

/// Reads the length prefix of a byte vector, refusing a length above the
/// format's limit.
fn read_len<R: Read>(reader: &mut R, what: &str) -> VersionizeResult<u64> {
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
    Ok(len)
}

/// `Versionize` for a state as its canonical file in a byte vector.
macro_rules! versionize_as_file {
    ($ty:ident) => {
        impl Versionize for $ty {
            /// Writes the length, then the file straight to `writer` (no
            /// intermediate buffer of the file). Fails, writing nothing,
            /// for a state whose file would be over [`MAX_FILE_SIZE`]: it
            /// could never be read back.
            ///
            /// Time: O(n).
            fn serialize<W: Write>(
                &self,
                writer: &mut W,
                _: &VersionMap,
                _: u16,
            ) -> VersionizeResult<()> {
                let what = stringify!($ty);
                let len = crate::format::file_len(self, FORMAT_VERSION)
                    .and_then(|size| match size > MAX_FILE_SIZE as u64 {
                        true => Err(crate::format::EncodeError::TooLarge { size }),
                        false => Ok(size),
                    })
                    .map_err(|e| VersionizeError::Serialize(format!("{what}: {e}")))?;
                writer
                    .write_all(&len.to_le_bytes())
                    .and_then(|()| crate::format::write_to(self, FORMAT_VERSION, &mut *writer))
                    .map_err(|e| {
                        VersionizeError::Serialize(format!("{what}: writing {len} bytes: {e}"))
                    })
            }

            /// Reads the file straight from `reader`, holding no more than
            /// the bytes actually present.
            ///
            /// Time: O(len) of the encoded state.
            fn deserialize<R: Read>(
                reader: &mut R,
                _: &VersionMap,
                _: u16,
            ) -> VersionizeResult<Self> {
                let what = stringify!($ty);
                let len = read_len(reader, what)?;
                let mut body = reader.take(len);
                let state = crate::format::read_from(&mut body).map_err(|e| {
                    // An input that ends before the length it announced says
                    // so first.
                    let mut probe = [0u8; 1];
                    let ended = body.limit() > 0 && matches!(body.read(&mut probe), Ok(0));
                    let present = len - body.limit();
                    match e {
                        ReadError::Decode(e) if ended => VersionizeError::Deserialize(format!(
                            "{what}: the length prefix says {len} bytes but only {present} \
                             follow: {e}"
                        )),
                        ReadError::Decode(e) => decode_error(what, e),
                        e => VersionizeError::Deserialize(format!(
                            "{what}: reading {len} bytes: {e}"
                        )),
                    }
                })?;
                match body.limit() {
                    0 => Ok(state),
                    left => Err(VersionizeError::Deserialize(format!(
                        "{what}: the length prefix says {len} bytes but the file in them \
                         ends {left} bytes earlier"
                    ))),
                }
            }

            fn version() -> u16 {
                1
            }
        }
    };
}

fn decode_error(what: &str, e: DecodeError) -> VersionizeError {
    VersionizeError::Deserialize(format!("{what}: {e}"))
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
