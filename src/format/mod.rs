// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The stable on-disk format of allocator state (specified in `FORMAT.md`).
//!
//! A file is a header (magic, format version, kind, body length), a body of
//! canonical LEB128 varints and a CRC-32C trailer. It holds an
//! [`IdAllocator`](crate::IdAllocator), an
//! [`AddressAllocator`](crate::AddressAllocator), a
//! [`ResourceSet`](crate::ResourceSet) or a [`Delta`](crate::Delta).
//! One state has exactly one encoding in each version, and a reader accepts
//! exactly the canonical encodings: if `from_bytes(b)` succeeds then
//! writing the result in the file's version gives `b` again.
//!
//! This crate writes version 2 ([`FORMAT_VERSION`]): owners (each name
//! stored once), generations, resource sets and deltas. It reads every
//! released version ([`SUPPORTED_VERSIONS`]) and still writes version 1
//! (`to_bytes_version(1)`) for a state that fits in it: an allocator
//! without owners (the generation, which version 1 does not store, reads
//! back as 0).
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
//! Journals (`FORMAT.md` section 13) keep a state incrementally: a header
//! with the full state, then one chained record per change.
//! [`JournalWriter`] makes their bytes and [`replay`] reads them back,
//! record by record, with a [`Recovery`] report (both `no_std`);
//! `Journal` (with `std`) keeps one in a file.
//!
//! ```rust
//! use vm_allocator::format::{self, DecodeErrorKind, Field};
//! use vm_allocator::{AddressAllocator, AllocPolicy, IdAllocator};
//!
//! let mut mmio = AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap();
//! mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
//!     .unwrap();
//! let bytes = mmio.to_bytes();
//! assert_eq!(AddressAllocator::from_bytes(&bytes).unwrap(), mmio);
//!
//! // A file of the other kind is refused, and the error says where and why.
//! let err = IdAllocator::from_bytes(&bytes).unwrap_err();
//! assert_eq!(err.field, Field::Kind);
//! assert_eq!(err.offset, 10);
//! assert!(matches!(
//!     err.kind,
//!     DecodeErrorKind::WrongKind { found: 2, .. }
//! ));
//!
//! // Version 1 is still written, for hosts with an older reader.
//! let v1 = mmio.to_bytes_version(1).unwrap();
//! assert_eq!(AddressAllocator::from_bytes(&v1).unwrap(), mmio);
//!
//! // Every file can be printed for people.
//! assert!(format::dump(&bytes)
//!     .unwrap()
//!     .contains("0xd0000000..=0xd0000fff"));
//! ```

mod address;
mod delta;
mod dump;
mod error;
#[cfg(feature = "std")]
pub(crate) mod file;
mod frame;
mod id;
mod journal;
mod methods;
mod owners;
mod set;
mod sink;
mod state;
mod varint;

pub use dump::dump;
pub use error::{DecodeError, DecodeErrorKind, EncodeError, Field, Unfit};
pub(crate) use journal::JournalState;
pub use journal::{
    replay, AppendError, Discard, DiscardCause, JournalHeader, JournalRecord, JournalWriter,
    Recovery, Replay, JOURNAL_MAGIC, JOURNAL_VERSIONS,
};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use journal::{Journal, JournalError};

/// The former name of [`DecodeErrorKind`], renamed so that it is not taken
/// for `std::io::ErrorKind`.
///
/// # Examples
///
/// ```rust
/// #![allow(deprecated)]
/// use vm_allocator::format::{DecodeErrorKind, ErrorKind};
///
/// // Code written against the old name still compiles (with a warning).
/// let kind: ErrorKind = DecodeErrorKind::UnusedOwner;
/// assert_eq!(kind, DecodeErrorKind::UnusedOwner);
/// ```
#[deprecated(since = "0.2.0", note = "renamed `DecodeErrorKind`")]
pub type ErrorKind = DecodeErrorKind;
#[cfg(feature = "std")]
pub(crate) use file::{read_from_path, write_to_path};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use file::{remove_stale_temporaries, ReadError};
#[cfg(feature = "versionize")]
pub(crate) use state::file_len;
pub(crate) use state::{checksum, decode, encode, to_bytes};
#[cfg(feature = "std")]
pub(crate) use state::{read_from, write_to};

use core::fmt;

/// The first eight bytes of every file: a non-ASCII byte (caught by 7-bit
/// channels), `VMA`, then CR LF, DOS end-of-file and LF (caught by newline
/// conversion and text-mode reads), as in PNG.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::format::MAGIC;
/// use vm_allocator::IdAllocator;
///
/// let bytes = IdAllocator::new(0, 9).unwrap().to_bytes();
/// assert!(bytes.starts_with(&MAGIC));
/// assert_eq!(&MAGIC[1..4], b"VMA");
/// ```
pub const MAGIC: [u8; 8] = [0x89, b'V', b'M', b'A', b'\r', b'\n', 0x1a, b'\n'];

/// The format version this crate writes by default.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::format::FORMAT_VERSION;
/// use vm_allocator::IdAllocator;
///
/// let gsi = IdAllocator::new(5, 23).unwrap();
/// let bytes = gsi.to_bytes();
/// assert_eq!(bytes[8..10], FORMAT_VERSION.to_le_bytes()); // u16le after the magic
/// assert_eq!(gsi.to_bytes_version(FORMAT_VERSION).unwrap(), bytes);
/// ```
pub const FORMAT_VERSION: u16 = 2;

/// Every format version this crate reads. Released versions stay readable
/// forever; a file of any other version is refused with
/// [`DecodeErrorKind::UnsupportedVersion`].
///
/// # Examples
///
/// ```rust
/// use vm_allocator::format::{DecodeErrorKind, SUPPORTED_VERSIONS};
/// use vm_allocator::IdAllocator;
///
/// let mut bytes = IdAllocator::new(5, 23).unwrap().to_bytes();
/// bytes[8] = 9; // a version from the future
/// let err = IdAllocator::from_bytes(&bytes).unwrap_err();
/// assert_eq!(
///     err.kind,
///     DecodeErrorKind::UnsupportedVersion {
///         found: 9,
///         supported: SUPPORTED_VERSIONS
///     }
/// );
/// assert_eq!(
///     err.kind.to_string(),
///     "unsupported format version 9; this reader supports 1, 2"
/// );
/// ```
pub const SUPPORTED_VERSIONS: &[u16] = &[1, 2];

/// Every format version this crate writes (`to_bytes_version`).
///
/// # Examples
///
/// ```rust
/// use vm_allocator::format::WRITABLE_VERSIONS;
/// use vm_allocator::IdAllocator;
///
/// let gsi = IdAllocator::new(5, 23).unwrap();
/// for &version in WRITABLE_VERSIONS {
///     let bytes = gsi.to_bytes_version(version).unwrap();
///     assert_eq!(IdAllocator::from_bytes(&bytes).unwrap(), gsi);
/// }
/// ```
pub const WRITABLE_VERSIONS: &[u16] = &[1, 2];

/// The largest file a reader accepts, in bytes (1 GiB): about 350 million
/// packed allocations.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::format::{DecodeErrorKind, MAX_FILE_SIZE};
/// use vm_allocator::IdAllocator;
///
/// assert_eq!(MAX_FILE_SIZE, 1 << 30);
/// // Larger input is refused before any of it is decoded.
/// let huge = vec![0u8; MAX_FILE_SIZE + 1];
/// let err = IdAllocator::from_bytes(&huge).unwrap_err();
/// assert!(matches!(err.kind, DecodeErrorKind::FileTooLarge { .. }));
/// ```
pub const MAX_FILE_SIZE: usize = 1 << 30;

/// What a file holds: the byte after the version.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::format::{DecodeErrorKind, FileKind};
/// use vm_allocator::{AddressAllocator, IdAllocator};
///
/// let bytes = IdAllocator::new(5, 23).unwrap().to_bytes();
/// assert_eq!(FileKind::from_byte(bytes[10]), Some(FileKind::IdAllocator));
/// let err = AddressAllocator::from_bytes(&bytes).unwrap_err();
/// assert_eq!(
///     err.kind,
///     DecodeErrorKind::WrongKind {
///         expected: FileKind::AddressAllocator,
///         found: 1
///     }
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FileKind {
    /// An [`IdAllocator`](crate::IdAllocator) (byte 1).
    IdAllocator,
    /// An [`AddressAllocator`](crate::AddressAllocator) (byte 2).
    AddressAllocator,
    /// A [`ResourceSet`](crate::ResourceSet) (byte 3, version 2 on).
    ResourceSet,
    /// A [`Delta`](crate::Delta) between two states (byte 4, version 2 on).
    Delta,
}

impl FileKind {
    /// The byte that identifies this kind in a file. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::FileKind;
    /// use vm_allocator::ResourceSet;
    ///
    /// assert_eq!(FileKind::IdAllocator.byte(), 1);
    /// assert_eq!(
    ///     ResourceSet::x86_64().to_bytes()[10],
    ///     FileKind::ResourceSet.byte()
    /// );
    /// ```
    pub const fn byte(self) -> u8 {
        match self {
            FileKind::IdAllocator => 1,
            FileKind::AddressAllocator => 2,
            FileKind::ResourceSet => 3,
            FileKind::Delta => 4,
        }
    }

    /// The kind a byte stands for, if any. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::FileKind;
    ///
    /// assert_eq!(FileKind::from_byte(4), Some(FileKind::Delta));
    /// assert_eq!(FileKind::from_byte(0), None);
    /// for kind in [
    ///     FileKind::IdAllocator,
    ///     FileKind::AddressAllocator,
    ///     FileKind::ResourceSet,
    ///     FileKind::Delta,
    /// ] {
    ///     assert_eq!(FileKind::from_byte(kind.byte()), Some(kind));
    /// }
    /// ```
    pub const fn from_byte(byte: u8) -> Option<FileKind> {
        match byte {
            1 => Some(FileKind::IdAllocator),
            2 => Some(FileKind::AddressAllocator),
            3 => Some(FileKind::ResourceSet),
            4 => Some(FileKind::Delta),
            _ => None,
        }
    }

    /// True if files of format `version` can hold this kind: version 1
    /// holds the two allocators, version 2 every kind. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::FileKind;
    ///
    /// assert!(FileKind::AddressAllocator.in_version(1));
    /// assert!(!FileKind::ResourceSet.in_version(1));
    /// assert!(FileKind::ResourceSet.in_version(2));
    /// ```
    pub const fn in_version(self, version: u16) -> bool {
        match self {
            FileKind::IdAllocator | FileKind::AddressAllocator => true,
            FileKind::ResourceSet | FileKind::Delta => version >= 2,
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileKind::IdAllocator => f.write_str("IdAllocator"),
            FileKind::AddressAllocator => f.write_str("AddressAllocator"),
            FileKind::ResourceSet => f.write_str("ResourceSet"),
            FileKind::Delta => f.write_str("Delta"),
        }
    }
}
