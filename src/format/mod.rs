// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The stable on-disk format of allocator state (specified in `FORMAT.md`).
//!
//! A file is a header (magic, format version, kind, body length), a body of
//! canonical LEB128 varints and a CRC-32C trailer. One state has exactly one
//! encoding, and a reader accepts exactly the canonical encodings: if
//! `from_bytes(b)` succeeds then `to_bytes()` of the result is `b` again.
//!
//! Decoding treats its input as hostile. Every failure is a [`DecodeError`]
//! naming the byte offset, the field and what was wrong; no input can make it
//! panic, recurse or allocate more than a small multiple of its own size, and
//! the allocations go through the same validation as
//! [`AddressAllocator::from_allocations`](crate::AddressAllocator::from_allocations).
//!
//! With the `std` feature, `write_to_path` saves a file atomically (old or
//! new file after a crash, never a mix) and `read_from_path` loads one, with
//! `ReadError` telling I/O failures from bad bytes.
//!
//! ```rust
//! use vm_allocator::format::{self, ErrorKind, Field};
//! use vm_allocator::{AddressAllocator, AllocPolicy, IdAllocator};
//!
//! let mut mmio = AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap();
//! mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch).unwrap();
//! let bytes = mmio.to_bytes();
//! assert_eq!(AddressAllocator::from_bytes(&bytes).unwrap(), mmio);
//!
//! // A file of the other kind is refused, and the error says where and why.
//! let err = IdAllocator::from_bytes(&bytes).unwrap_err();
//! assert_eq!(err.field, Field::Kind);
//! assert_eq!(err.offset, 10);
//! assert!(matches!(err.kind, ErrorKind::WrongKind { found: 2, .. }));
//!
//! // Every file can be printed for people.
//! assert!(format::dump(&bytes).unwrap().contains("0xd0000000..=0xd0000fff"));
//! ```

mod address;
mod dump;
mod error;
mod frame;
mod id;
mod varint;

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use crate::persist::ReadError;
pub use dump::dump;
pub use error::{DecodeError, ErrorKind, Field};

use core::fmt;

/// The first eight bytes of every file: a non-ASCII byte (caught by 7-bit
/// channels), `VMA`, then CR LF, DOS end-of-file and LF (caught by newline
/// conversion and text-mode reads), as in PNG.
pub const MAGIC: [u8; 8] = [0x89, b'V', b'M', b'A', b'\r', b'\n', 0x1a, b'\n'];

/// The format version this crate writes.
pub const FORMAT_VERSION: u16 = 1;

/// Every format version this crate reads. Released versions stay readable
/// forever; a file of any other version is refused with
/// [`ErrorKind::UnsupportedVersion`].
pub const SUPPORTED_VERSIONS: &[u16] = &[1];

/// The largest file a reader accepts, in bytes (1 GiB): about 350 million
/// packed allocations.
pub const MAX_FILE_SIZE: usize = 1 << 30;

/// What a file holds: the byte after the version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileKind {
    /// An [`IdAllocator`](crate::IdAllocator) (byte 1).
    IdAllocator,
    /// An [`AddressAllocator`](crate::AddressAllocator) (byte 2).
    AddressAllocator,
}

impl FileKind {
    /// The byte that identifies this kind in a file. Byte 3 is reserved for
    /// a resource set. Time: O(1).
    pub const fn byte(self) -> u8 {
        match self {
            FileKind::IdAllocator => 1,
            FileKind::AddressAllocator => 2,
        }
    }

    /// The kind a byte stands for, if any. Time: O(1).
    pub const fn from_byte(byte: u8) -> Option<FileKind> {
        match byte {
            1 => Some(FileKind::IdAllocator),
            2 => Some(FileKind::AddressAllocator),
            _ => None,
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileKind::IdAllocator => f.write_str("IdAllocator"),
            FileKind::AddressAllocator => f.write_str("AddressAllocator"),
        }
    }
}
