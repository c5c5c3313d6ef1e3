// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Journals (FORMAT.md section 13): one file that holds a full state,
//! then one small record per change, each checksummed and chained to the
//! one before it.
//!
//! This module is the journal's bytes, without I/O (`no_std`):
//! [`JournalWriter`] makes them and [`replay`] reads them back, record by
//! record, with a [`Recovery`] report of what it kept and discarded;
//! [`History::from_journal_bytes`](crate::History::from_journal_bytes)
//! keeps the states it went through. [`Journal`](crate::Journal) (with
//! `std`) keeps one in a file.

mod apply;
#[cfg(feature = "std")]
mod file;
mod frame;
mod history;
mod list;
mod record;
mod replay;
mod writer;

pub use apply::JournalState;
#[cfg(feature = "std")]
pub use file::{Journal, JournalError};
pub(crate) use list::list;
pub use replay::{replay, Discard, DiscardCause, JournalRecord, Recovery, Replay};
pub use writer::{AppendError, JournalWriter};

use super::FileKind;

/// The first eight bytes of a journal: those of a state file
/// ([`MAGIC`](super::MAGIC)) with `J` for `A`, so that no reader of state
/// files takes a journal for one (it refuses it at byte 0) and a journal
/// gets the same protection against 7-bit channels and newline
/// conversions.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::format::{JournalWriter, JOURNAL_MAGIC, MAGIC};
/// use vm_allocator::IdAllocator;
///
/// assert_eq!(&JOURNAL_MAGIC[1..4], b"VMJ");
/// assert_eq!(
///     (JOURNAL_MAGIC[0], &JOURNAL_MAGIC[4..]),
///     (MAGIC[0], &MAGIC[4..])
/// );
/// let gsi = IdAllocator::new(5, 23).unwrap();
/// let (_, header) = JournalWriter::start(&gsi, 1);
/// // A journal is not a state file.
/// assert!(IdAllocator::from_bytes(&header).is_err());
/// ```
pub const JOURNAL_MAGIC: [u8; 8] = [0x89, b'V', b'M', b'J', b'\r', b'\n', 0x1a, b'\n'];

/// The format versions of journals this crate reads and writes: version
/// 2, whose state bodies and change records journals hold.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::format::{self, DecodeErrorKind, JournalWriter, JOURNAL_VERSIONS};
/// use vm_allocator::IdAllocator;
///
/// assert_eq!(JOURNAL_VERSIONS, &[2]);
/// let (_, mut header) = JournalWriter::start(&IdAllocator::new(0, 9).unwrap(), 1);
/// header[8] = 1; // journals have no version 1
/// let err = format::replay::<IdAllocator>(&header).err().unwrap();
/// assert_eq!(
///     err.kind,
///     DecodeErrorKind::UnsupportedVersion {
///         found: 1,
///         supported: JOURNAL_VERSIONS
///     }
/// );
/// ```
pub const JOURNAL_VERSIONS: &[u16] = &[2];

/// The header of a journal: what its first frame says.
///
/// ```rust
/// use vm_allocator::format::{self, FileKind, JournalWriter};
/// use vm_allocator::AddressAllocator;
///
/// let pio = AddressAllocator::new(0, 0x10000).unwrap();
/// let (_, bytes) = JournalWriter::start(&pio, 0x5eed);
/// let replay = format::replay::<AddressAllocator>(&bytes).unwrap();
/// let header = replay.header();
/// assert_eq!(
///     (header.version, header.kind, header.id),
///     (2, FileKind::AddressAllocator, 0x5eed)
/// );
/// assert_eq!((header.body_offset, header.len), (12, bytes.len()));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct JournalHeader {
    /// The format version of the journal.
    pub version: u16,
    /// The kind of state it keeps.
    pub kind: FileKind,
    /// Its id: random, so that the records of two journals never chain.
    pub id: u64,
    /// The offset of the header's body.
    pub body_offset: usize,
    /// The size of the header's body (the id and the base state).
    pub body_len: usize,
    /// The header's CRC-32C: what the first record chains to.
    pub checksum: u32,
    /// The size of the header: where the first record starts.
    pub len: usize,
}
