// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The public file methods of every kind of state, written once.

use alloc::vec::Vec;

use super::{DecodeError, EncodeError};
use crate::{AddressAllocator, Delta, IdAllocator, ResourceSet};

/// Defines `to_bytes`, `to_bytes_version`, `from_bytes` and, with `std`,
/// `write_to_path`, `write_to_path_version` and `read_from_path` on a
/// kind of state, through [`FileState`](super::FileState).
macro_rules! file_methods {
    (
        $ty:ident,
        $what:literal,
        $example:literal,
        $path_example:literal,
        $stream_example:literal,
        $setup:literal,
        $older_version:literal,
        $version_1:literal
    ) => {
        impl $ty {
            #[doc = concat!("Encodes the ", $what, " in the current format version (`FORMAT.md`).")]
            ///
            /// The encoding is canonical: equal states at equal generations
            /// give equal bytes, and [`from_bytes`](Self::from_bytes) gives
            /// the state back.
            ///
            /// ```rust
            #[doc = $example]
            /// ```
            ///
            /// Time: O(n).
            pub fn to_bytes(&self) -> Vec<u8> {
                super::to_bytes(self)
            }

            #[doc = concat!("Encodes the ", $what, " in format `version` (one of")]
            /// [`WRITABLE_VERSIONS`](crate::format::WRITABLE_VERSIONS)), for
            /// a host whose reader is older.
            ///
            /// Fails with [`EncodeError::DoesNotFit`] naming what the version
            /// cannot hold (version 1 holds no owner, no resource set and no
            /// delta; it does not store the generation, which reads back as
            /// 0), [`EncodeError::UnsupportedVersion`] or
            /// [`EncodeError::TooLarge`].
            ///
            /// Time: O(n).
            ///
            /// # Examples
            ///
            /// ```rust
            /// use vm_allocator::format::{EncodeError, Unfit, FORMAT_VERSION};
            #[doc = $setup]
            /// assert_eq!(state.to_bytes_version(FORMAT_VERSION).unwrap(), state.to_bytes());
            /// let err = state.to_bytes_version(7).unwrap_err();
            /// assert_eq!(err, EncodeError::UnsupportedVersion { version: 7, supported: &[1, 2] });
            #[doc = $version_1]
            /// ```
            pub fn to_bytes_version(&self, version: u16) -> Result<Vec<u8>, EncodeError> {
                super::encode(self, version)
            }

            #[doc = concat!("Decodes and fully validates a ", $what, " file of any supported version.")]
            ///
            /// Accepts exactly the canonical encodings of valid states.
            /// Anything else is a [`DecodeError`] naming the offset, the
            /// field and the reason; no input makes it panic, recurse or
            /// allocate more than a small multiple of `bytes.len()`.
            ///
            /// Time: O(len), len = `bytes.len()`.
            ///
            /// # Examples
            ///
            /// ```rust
            /// use vm_allocator::format::{DecodeErrorKind, Field};
            #[doc = $setup]
            /// let mut bytes = state.to_bytes();
            #[doc = concat!("assert_eq!(", stringify!($ty), "::from_bytes(&bytes).unwrap(), state);")]
            ///
            /// let last = bytes.len() - 1;
            /// bytes[last] ^= 0xff; // a damaged checksum
            #[doc = concat!("let err = ", stringify!($ty), "::from_bytes(&bytes).unwrap_err();")]
            /// assert_eq!((err.field, err.offset), (Field::Checksum, last - 3));
            /// assert!(matches!(err.kind, DecodeErrorKind::ChecksumMismatch { .. }));
            /// ```
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
                super::decode(bytes)
            }

            #[doc = concat!("Saves the ", $what, " to `path` in the current format version, replacing")]
            /// any file there atomically: the bytes go to a new temporary
            /// file in the same directory, which is synced to disk, renamed
            /// over `path`, and the directory is synced. After a crash at
            /// any instant `path` holds the old file or the new one, never a
            /// mix; a crash may leave a `.NAME.PID-N.tmp` file behind, which
            /// nothing reads. The new file gets default permissions.
            ///
            /// ```rust
            #[doc = $path_example]
            /// ```
            ///
            /// Time: O(n) plus the I/O.
            #[cfg(feature = "std")]
            #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
            pub fn write_to_path(&self, path: impl AsRef<std::path::Path>) -> std::io::Result<()> {
                super::write_to_path(self, path.as_ref(), super::FORMAT_VERSION)
            }

            /// Saves in format `version`, atomically, as
            /// [`write_to_path`](Self::write_to_path) does; an
            /// [`EncodeError`] comes back as an I/O error of kind
            /// `InvalidInput` (its source).
            ///
            /// Time: O(n) plus the I/O.
            ///
            /// # Examples
            ///
            /// ```rust
            #[doc = $setup]
            /// let dir = tempfile::tempdir().unwrap();
            /// let path = dir.path().join("state.vma");
            #[doc = concat!("state.write_to_path_version(&path, ", $older_version, ").unwrap();")]
            #[doc = concat!("let expected = state.to_bytes_version(", $older_version, ").unwrap();")]
            /// assert_eq!(std::fs::read(&path).unwrap(), expected);
            ///
            /// let err = state.write_to_path_version(&path, 7).unwrap_err();
            /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
            /// assert_eq!(std::fs::read(&path).unwrap(), expected); // untouched
            /// ```
            #[cfg(feature = "std")]
            #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
            pub fn write_to_path_version(
                &self,
                path: impl AsRef<std::path::Path>,
                version: u16,
            ) -> std::io::Result<()> {
                super::write_to_path(self, path.as_ref(), version)
            }

            #[doc = concat!("Writes the ", $what, " to `writer` in the current format version, as")]
            /// [`to_bytes`](Self::to_bytes) would encode it, without
            /// building the file in memory (one pass to measure the body,
            /// one to write it through a buffer; the checksum is computed on
            /// the way). Use a `BufWriter` or not: writes are already
            /// buffered.
            ///
            /// ```rust
            #[doc = $stream_example]
            /// ```
            ///
            /// Time: O(n); memory: O(1) beyond a 64 KiB buffer.
            #[cfg(feature = "std")]
            #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
            pub fn write_to(&self, writer: impl std::io::Write) -> std::io::Result<()> {
                super::write_to(self, super::FORMAT_VERSION, writer)
            }

            /// Writes in format `version` as [`write_to`](Self::write_to)
            /// does; an [`EncodeError`] comes back as an I/O error of kind
            /// `InvalidInput` (its source).
            ///
            /// Time: O(n).
            ///
            /// # Examples
            ///
            /// ```rust
            #[doc = $setup]
            /// let mut out = Vec::new();
            #[doc = concat!("state.write_to_version(&mut out, ", $older_version, ").unwrap();")]
            #[doc = concat!("assert_eq!(out, state.to_bytes_version(", $older_version, ").unwrap());")]
            /// let err = state.write_to_version(&mut Vec::new(), 7).unwrap_err();
            /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
            /// ```
            #[cfg(feature = "std")]
            #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
            pub fn write_to_version(
                &self,
                writer: impl std::io::Write,
                version: u16,
            ) -> std::io::Result<()> {
                super::write_to(self, version, writer)
            }

            #[doc = concat!("Reads one ", $what, " file from `reader` and decodes it as")]
            /// [`from_bytes`](Self::from_bytes) does, with the same limits
            /// and the same errors. It reads exactly the file's bytes, so
            /// more data may follow in the stream, and holds no more memory
            /// than the bytes it actually read, whatever length the file
            /// claims.
            ///
            /// Time: O(file size) plus the I/O.
            ///
            /// # Examples
            ///
            /// ```rust
            #[doc = $setup]
            /// let mut stream = state.to_bytes();
            /// stream.extend_from_slice(b"what follows");
            /// let mut reader = &stream[..];
            #[doc = concat!("assert_eq!(", stringify!($ty), "::read_from(&mut reader).unwrap(), state);")]
            /// assert_eq!(reader, &b"what follows"[..]); // exactly the file was read
            ///
            /// // A stream that ends inside the file.
            #[doc = concat!("assert!(", stringify!($ty), "::read_from(&stream[..12]).is_err());")]
            /// ```
            #[cfg(feature = "std")]
            #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
            pub fn read_from(reader: impl std::io::Read) -> Result<Self, crate::format::ReadError> {
                super::read_from(reader)
            }

            #[doc = concat!("Loads a ", $what, " saved by [`write_to_path`](Self::write_to_path), with the")]
            /// full validation of [`from_bytes`](Self::from_bytes); a file
            /// over [`MAX_FILE_SIZE`](crate::format::MAX_FILE_SIZE) is
            /// refused without being read.
            ///
            /// Time: O(file size) plus the I/O.
            ///
            /// # Examples
            ///
            /// ```rust
            /// use vm_allocator::format::ReadError;
            #[doc = $setup]
            /// let dir = tempfile::tempdir().unwrap();
            /// let path = dir.path().join("state.vma");
            /// state.write_to_path(&path).unwrap();
            #[doc = concat!("assert_eq!(", stringify!($ty), "::read_from_path(&path).unwrap(), state);")]
            ///
            /// std::fs::write(&path, b"garbage").unwrap();
            #[doc = concat!("let err = ", stringify!($ty), "::read_from_path(&path).unwrap_err();")]
            /// assert!(matches!(err, ReadError::Decode(_)));
            /// ```
            #[cfg(feature = "std")]
            #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
            pub fn read_from_path(
                path: impl AsRef<std::path::Path>,
            ) -> Result<Self, crate::format::ReadError> {
                super::read_from_path(path.as_ref())
            }
        }
    };
}

file_methods!(
    IdAllocator,
    "allocator",
    "use vm_allocator::IdAllocator;

let mut gsi = IdAllocator::new(5, 23).unwrap();
gsi.allocate_id().unwrap();
gsi.allocate_id_at(9).unwrap();
let bytes = gsi.to_bytes();
let back = IdAllocator::from_bytes(&bytes).unwrap();
assert_eq!(back, gsi);
assert_eq!(back.generation(), 2);",
    "use vm_allocator::format::ReadError;
use vm_allocator::IdAllocator;

let dir = tempfile::tempdir().unwrap();
let path = dir.path().join(\"gsi.vmalloc\");
let mut gsi = IdAllocator::new(5, 23).unwrap();
gsi.allocate_id().unwrap();
gsi.write_to_path(&path).unwrap();
assert_eq!(IdAllocator::read_from_path(&path).unwrap(), gsi);

let missing = IdAllocator::read_from_path(dir.path().join(\"nothing\"));
assert!(matches!(missing, Err(ReadError::Io(_))));",
    "use vm_allocator::IdAllocator;

// One stream holds several states, one after the other.
let mut gsi = IdAllocator::new(5, 23).unwrap();
gsi.allocate_id().unwrap();
let msi = IdAllocator::new(24, 4095).unwrap();
let mut stream = Vec::new();
gsi.write_to(&mut stream).unwrap();
msi.write_to(&mut stream).unwrap();
assert_eq!(&stream[..gsi.to_bytes().len()], &gsi.to_bytes()[..]);

let mut reader = &stream[..];
assert_eq!(IdAllocator::read_from(&mut reader).unwrap(), gsi);
assert_eq!(IdAllocator::read_from(&mut reader).unwrap(), msi);
assert!(reader.is_empty());",
    "use vm_allocator::IdAllocator;

let mut state = IdAllocator::new(5, 23).unwrap();
state.allocate_id().unwrap();",
    "1",
    "// Version 1 has no generation: it reads back as 0.
let v1 = state.to_bytes_version(1).unwrap();
assert_eq!(IdAllocator::from_bytes(&v1).unwrap().generation(), 0);"
);

file_methods!(
    AddressAllocator,
    "allocator",
    "use vm_allocator::{AddressAllocator, AllocPolicy, Owner};

let mut pio = AddressAllocator::new(0, 0x10000).unwrap();
pio.allocate(8, 1, AllocPolicy::ExactMatch(0x3f8)).unwrap();
let serial = Owner::new(\"serial0\").unwrap();
pio.owned_by(&serial).allocate(8, 1, AllocPolicy::ExactMatch(0x2f8)).unwrap();
let bytes = pio.to_bytes();
assert_eq!(&bytes[..8], b\"\\x89VMA\\r\\n\\x1a\\n\");
let back = AddressAllocator::from_bytes(&bytes).unwrap();
assert_eq!(back, pio);
assert_eq!(back.owner_at(0x2f8), Some(&serial));",
    "use vm_allocator::{AddressAllocator, AllocPolicy};

let dir = tempfile::tempdir().unwrap();
let path = dir.path().join(\"mmio.vmalloc\");
let mut mmio = AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap();
mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch).unwrap();
mmio.write_to_path(&path).unwrap();
assert_eq!(AddressAllocator::read_from_path(&path).unwrap(), mmio);",
    "use vm_allocator::{AddressAllocator, AllocPolicy};

let mut mmio = AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap();
mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch).unwrap();
let mut file = Vec::new();
mmio.write_to(&mut file).unwrap();
assert_eq!(file, mmio.to_bytes());
assert_eq!(AddressAllocator::read_from(&file[..]).unwrap(), mmio);",
    "use vm_allocator::{AddressAllocator, AllocPolicy};

let mut state = AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap();
state.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch).unwrap();",
    "1",
    "// Version 1 has no generation: it reads back as 0.
let v1 = state.to_bytes_version(1).unwrap();
assert_eq!(AddressAllocator::from_bytes(&v1).unwrap().generation(), 0);"
);

file_methods!(
    ResourceSet,
    "set",
    "use vm_allocator::{Owner, ResourceSet};

let mut vm = ResourceSet::x86_64();
let net0 = Owner::new(\"virtio-net0\").unwrap();
vm.owned_by(&net0).allocate_id(\"legacy_gsi\").unwrap();
let bytes = vm.to_bytes();
let back = ResourceSet::from_bytes(&bytes).unwrap();
assert_eq!(back, vm);
assert_eq!(back.generation(), vm.generation());
// Version 1 has no resource sets.
assert!(vm.to_bytes_version(1).is_err());",
    "use vm_allocator::ResourceSet;

let dir = tempfile::tempdir().unwrap();
let path = dir.path().join(\"vm.vmalloc\");
let mut vm = ResourceSet::aarch64();
vm.allocate_id(\"spi\").unwrap();
vm.write_to_path(&path).unwrap();
assert_eq!(ResourceSet::read_from_path(&path).unwrap(), vm);",
    "use vm_allocator::ResourceSet;

let mut vm = ResourceSet::x86_64();
vm.allocate_id(\"legacy_gsi\").unwrap();
let mut snapshot = std::io::Cursor::new(Vec::new());
vm.write_to(&mut snapshot).unwrap();
snapshot.set_position(0);
assert_eq!(ResourceSet::read_from(&mut snapshot).unwrap(), vm);",
    "use vm_allocator::ResourceSet;

let mut state = ResourceSet::x86_64();
state.allocate_id(\"legacy_gsi\").unwrap();",
    "2",
    "// Version 1 holds single allocators only.
let err = state.to_bytes_version(1).unwrap_err();
assert_eq!(err, EncodeError::DoesNotFit { version: 1, what: Unfit::ResourceSet });"
);

file_methods!(
    Delta,
    "delta",
    "use vm_allocator::{Delta, IdAllocator};

let older = IdAllocator::new(0, 31).unwrap();
let mut newer = older.clone();
newer.allocate_ids(4, 4).unwrap();
let delta = Delta::between(&older, &newer).unwrap();
let bytes = delta.to_bytes();
assert_eq!(Delta::from_bytes(&bytes).unwrap(), delta);",
    "use vm_allocator::{Delta, IdAllocator};

let dir = tempfile::tempdir().unwrap();
let path = dir.path().join(\"final.delta\");
let older = IdAllocator::new(0, 31).unwrap();
let mut newer = older.clone();
newer.allocate_id().unwrap();
Delta::between(&older, &newer).unwrap().write_to_path(&path).unwrap();
let delta = Delta::read_from_path(&path).unwrap();
assert_eq!(delta.apply(&older).unwrap(), newer);",
    "use vm_allocator::{Delta, IdAllocator};

let older = IdAllocator::new(0, 31).unwrap();
let mut newer = older.clone();
newer.allocate_id().unwrap();
let mut wire = Vec::new();
Delta::between(&older, &newer).unwrap().write_to(&mut wire).unwrap();
let delta = Delta::read_from(&wire[..]).unwrap();
assert_eq!(delta.apply(&older).unwrap(), newer);",
    "use vm_allocator::{Delta, IdAllocator};

let older = IdAllocator::new(0, 31).unwrap();
let mut newer = older.clone();
newer.allocate_id().unwrap();
let state = Delta::between(&older, &newer).unwrap();",
    "2",
    "// Version 1 has no deltas.
let err = state.to_bytes_version(1).unwrap_err();
assert_eq!(err, EncodeError::DoesNotFit { version: 1, what: Unfit::Delta });"
);
