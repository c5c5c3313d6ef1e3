// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Why a file was refused, and where.

use core::fmt;

use super::{FileKind, MAGIC};
use crate::escape::quoted;
use crate::{NameError, StateError};

/// A file that could not be decoded: what was wrong ([`kind`](Self::kind)),
/// in which field ([`field`](Self::field)), at which byte
/// ([`offset`](Self::offset), counted from the start of the file), in a
/// resource set or a delta, in which pool ([`pool`](Self::pool)) and, in a
/// journal, in which record ([`record`](Self::record)).
///
/// ```rust
/// use vm_allocator::format::{DecodeError, DecodeErrorKind, Field};
/// use vm_allocator::IdAllocator;
///
/// let err = IdAllocator::from_bytes(b"not a snapshot").unwrap_err();
/// assert_eq!(err.offset, 0);
/// assert_eq!(err.field, Field::Magic);
/// assert!(matches!(err.kind, DecodeErrorKind::BadMagic { .. }));
/// assert!(err
///     .to_string()
///     .starts_with("magic at byte 0: not a vm-allocator file"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DecodeError {
    /// Offset of the first byte of the offending field.
    pub offset: usize,
    /// The field or section being decoded.
    pub field: Field,
    /// What was wrong with it.
    pub kind: DecodeErrorKind,
    /// The position of the pool (of a resource set) or of the pool's
    /// changes (in a delta) that holds the field, counted from 0.
    pub pool: Option<u64>,
    /// The record of a journal that holds the field, counted from 0 (the
    /// first record after the base state is record #0).
    pub record: Option<u64>,
}

impl DecodeError {
    /// The error `kind` in `field` at byte `offset`, outside any pool (to
    /// compare with what a decoder returns).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::{DecodeError, DecodeErrorKind, Field};
    /// use vm_allocator::IdAllocator;
    ///
    /// // A file cut short inside its checksum.
    /// let mut bytes = IdAllocator::new(0, 9).unwrap().to_bytes();
    /// let len = bytes.len();
    /// bytes.truncate(len - 1);
    /// let expected = DecodeError::new(
    ///     len - 4,
    ///     Field::Checksum,
    ///     DecodeErrorKind::Truncated {
    ///         needed: 4,
    ///         available: 3,
    ///     },
    /// );
    /// assert_eq!(IdAllocator::from_bytes(&bytes), Err(expected));
    /// ```
    pub const fn new(offset: usize, field: Field, kind: DecodeErrorKind) -> Self {
        DecodeError {
            offset,
            field,
            kind,
            pool: None,
            record: None,
        }
    }

    /// The same error, inside pool `pool` (unless it names one already).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::{DecodeError, DecodeErrorKind, Field};
    ///
    /// let err = DecodeError::new(
    ///     40,
    ///     Field::OwnerName { index: 0 },
    ///     DecodeErrorKind::UnusedOwner,
    /// )
    /// .in_pool(2);
    /// assert_eq!(err.pool, Some(2));
    /// assert_eq!(err.in_pool(5).pool, Some(2)); // the innermost pool stays
    /// assert!(err.to_string().starts_with("pool #2 "));
    /// ```
    pub fn in_pool(mut self, pool: u64) -> Self {
        self.pool.get_or_insert(pool);
        self
    }

    /// The same error, inside record `record` of a journal (unless it
    /// names one already).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::{DecodeError, DecodeErrorKind, Field};
    ///
    /// let err = DecodeError::new(
    ///     40,
    ///     Field::RecordChecksum,
    ///     DecodeErrorKind::Truncated {
    ///         needed: 4,
    ///         available: 1,
    ///     },
    /// )
    /// .in_record(3);
    /// assert_eq!(err.record, Some(3));
    /// assert_eq!(
    ///     err.to_string(),
    ///     "record #3 checksum at byte 40: truncated: needs 4 bytes, only 1 available"
    /// );
    /// ```
    pub fn in_record(mut self, record: u64) -> Self {
        self.record.get_or_insert(record);
        self
    }
}

/// A field or section of a file (see `FORMAT.md`). Item fields carry the
/// position of the item in the sorted list, counted from 0.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::format::Field;
/// use vm_allocator::AddressAllocator;
///
/// let err = AddressAllocator::from_bytes(&[]).unwrap_err();
/// assert_eq!(err.field, Field::Magic);
/// assert_eq!(Field::Checksum.to_string(), "checksum");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The file as a whole (its size).
    File,
    /// The 8-byte magic.
    Magic,
    /// The 2-byte format version.
    Version,
    /// The kind byte.
    Kind,
    /// The varint length of the body.
    BodyLength,
    /// The body as a whole.
    Body,
    /// The 4-byte CRC-32C trailer.
    Checksum,
    /// Past the checksum, where the file should end.
    EndOfFile,
    /// Past the last item of the body, where the body should end.
    EndOfBody,
    /// The first address of an address space.
    SpaceStart,
    /// The last address of an address space.
    SpaceEnd,
    /// The number of allocations.
    AllocationCount,
    /// The start (gap) of an allocation.
    AllocationStart {
        /// Position of the allocation.
        index: u64,
    },
    /// The length of an allocation.
    AllocationLength {
        /// Position of the allocation.
        index: u64,
    },
    /// The first id of an id range.
    RangeBase,
    /// The last id of an id range.
    RangeEnd,
    /// The next never-allocated id.
    NextId,
    /// The number of runs of allocated ids.
    RunCount,
    /// The first id (gap) of a run.
    RunStart {
        /// Position of the run.
        index: u64,
    },
    /// The length of a run.
    RunLength {
        /// Position of the run.
        index: u64,
    },
    /// The owner of an allocation (version 2).
    AllocationOwner {
        /// Position of the allocation.
        index: u64,
    },
    /// The owner of a run (version 2).
    RunOwner {
        /// Position of the run.
        index: u64,
    },
    /// The generation of a state (version 2).
    Generation,
    /// The number of owner names (version 2).
    OwnerCount,
    /// An owner name of the table (version 2).
    OwnerName {
        /// Position of the name in the table.
        index: u64,
    },
    /// The number of pools of a resource set (version 2).
    PoolCount,
    /// The name of a pool (version 2).
    PoolName {
        /// Position of the pool.
        index: u64,
    },
    /// The kind byte of a pool (version 2).
    PoolKind {
        /// Position of the pool.
        index: u64,
    },
    /// The kind of state a delta applies to (version 2).
    BaseKind,
    /// The generation of the state a delta applies to (version 2).
    BaseGeneration,
    /// The checksum of the state a delta applies to (version 2).
    BaseChecksum,
    /// The generation of the state a delta gives (version 2).
    TargetGeneration,
    /// The checksum of the state a delta gives (version 2).
    TargetChecksum,
    /// The number of pools a delta changes (version 2).
    ChangedPoolCount,
    /// The next never-allocated id after a delta (version 2).
    NextIdAfter,
    /// The number of ranges a delta frees (version 2).
    FreedCount,
    /// The start (gap) of a range a delta frees.
    FreedStart {
        /// Position of the range.
        index: u64,
    },
    /// The length of a range a delta frees.
    FreedLength {
        /// Position of the range.
        index: u64,
    },
    /// The owner of a range a delta frees.
    FreedOwner {
        /// Position of the range.
        index: u64,
    },
    /// The number of ranges a delta allocates (version 2).
    AllocatedCount,
    /// The start (gap) of a range a delta allocates.
    AllocatedStart {
        /// Position of the range.
        index: u64,
    },
    /// The length of a range a delta allocates.
    AllocatedLength {
        /// Position of the range.
        index: u64,
    },
    /// The owner of a range a delta allocates.
    AllocatedOwner {
        /// Position of the range.
        index: u64,
    },
    /// The random id of a journal, in its header.
    JournalId,
    /// The length of a journal record's body, before the body.
    RecordLength,
    /// The body of a journal record as a whole.
    RecordBody,
    /// The length of a journal record's body again, after the body.
    RecordTrailer,
    /// The CRC-32C of a journal record.
    RecordChecksum,
    /// The label of a journal record.
    Label,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::File => f.write_str("file"),
            Field::Magic => f.write_str("magic"),
            Field::Version => f.write_str("format version"),
            Field::Kind => f.write_str("kind"),
            Field::BodyLength => f.write_str("body length"),
            Field::Body => f.write_str("body"),
            Field::Checksum => f.write_str("checksum"),
            Field::EndOfFile => f.write_str("end of file"),
            Field::EndOfBody => f.write_str("end of body"),
            Field::SpaceStart => f.write_str("space start"),
            Field::SpaceEnd => f.write_str("space end"),
            Field::AllocationCount => f.write_str("allocation count"),
            Field::AllocationStart { index } => write!(f, "allocation #{index} start"),
            Field::AllocationLength { index } => write!(f, "allocation #{index} length"),
            Field::RangeBase => f.write_str("range base"),
            Field::RangeEnd => f.write_str("range end"),
            Field::NextId => f.write_str("next id"),
            Field::RunCount => f.write_str("run count"),
            Field::RunStart { index } => write!(f, "run #{index} start"),
            Field::RunLength { index } => write!(f, "run #{index} length"),
            Field::AllocationOwner { index } => write!(f, "allocation #{index} owner"),
            Field::RunOwner { index } => write!(f, "run #{index} owner"),
            Field::Generation => f.write_str("generation"),
            Field::OwnerCount => f.write_str("owner count"),
            Field::OwnerName { index } => write!(f, "owner name #{index}"),
            Field::PoolCount => f.write_str("pool count"),
            Field::PoolName { index } => write!(f, "pool #{index} name"),
            Field::PoolKind { index } => write!(f, "pool #{index} kind"),
            Field::BaseKind => f.write_str("base kind"),
            Field::BaseGeneration => f.write_str("base generation"),
            Field::BaseChecksum => f.write_str("base checksum"),
            Field::TargetGeneration => f.write_str("target generation"),
            Field::TargetChecksum => f.write_str("target checksum"),
            Field::ChangedPoolCount => f.write_str("changed pool count"),
            Field::NextIdAfter => f.write_str("next id after"),
            Field::FreedCount => f.write_str("freed count"),
            Field::FreedStart { index } => write!(f, "freed #{index} start"),
            Field::FreedLength { index } => write!(f, "freed #{index} length"),
            Field::FreedOwner { index } => write!(f, "freed #{index} owner"),
            Field::AllocatedCount => f.write_str("allocated count"),
            Field::AllocatedStart { index } => write!(f, "allocated #{index} start"),
            Field::AllocatedLength { index } => write!(f, "allocated #{index} length"),
            Field::AllocatedOwner { index } => write!(f, "allocated #{index} owner"),
            Field::JournalId => f.write_str("journal id"),
            Field::RecordLength => f.write_str("length"),
            Field::RecordBody => f.write_str("body"),
            Field::RecordTrailer => f.write_str("length after the body"),
            Field::RecordChecksum => f.write_str("checksum"),
            Field::Label => f.write_str("label"),
        }
    }
}

/// What was wrong with a field.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::format::{DecodeErrorKind, Field};
/// use vm_allocator::IdAllocator;
///
/// let mut bytes = IdAllocator::new(0, 9).unwrap().to_bytes();
/// bytes[12] ^= 0x01; // damage the body
/// let err = IdAllocator::from_bytes(&bytes).unwrap_err();
/// assert!(matches!(err.kind, DecodeErrorKind::ChecksumMismatch { .. }));
/// assert_eq!(err.field, Field::Checksum);
/// assert!(err
///     .kind
///     .to_string()
///     .starts_with("checksum mismatch: stored CRC-32C 0x"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input is larger than [`MAX_FILE_SIZE`](super::MAX_FILE_SIZE).
    FileTooLarge {
        /// Size of the input in bytes.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The input does not start with [`MAGIC`]: not one of our files.
    BadMagic {
        /// The bytes found, zero-padded when the input is shorter.
        found: [u8; 8],
        /// How many bytes of `found` were present.
        found_len: u8,
    },
    /// The file is of a format version this reader does not know.
    UnsupportedVersion {
        /// The version in the file.
        found: u16,
        /// The versions this reader decodes.
        supported: &'static [u16],
    },
    /// The file holds another kind of state than the one asked for.
    WrongKind {
        /// The kind asked for.
        expected: FileKind,
        /// The kind byte in the file.
        found: u8,
    },
    /// The kind byte names no kind this reader knows.
    UnknownKind {
        /// The kind byte in the file.
        found: u8,
    },
    /// The CRC-32C stored in the trailer is not that of the bytes before it.
    ChecksumMismatch {
        /// The checksum in the file.
        stored: u32,
        /// The checksum of the bytes read.
        computed: u32,
    },
    /// The input ends inside the field. For a varint, `needed` is the
    /// least number of bytes that could complete it.
    Truncated {
        /// Bytes the field needs.
        needed: u64,
        /// Bytes left in the input (or the body).
        available: u64,
    },
    /// Bytes follow the place where the file (or the body) must end.
    TrailingBytes {
        /// How many bytes are left over.
        count: u64,
    },
    /// A varint is longer than the minimal encoding of its value.
    OverlongVarint,
    /// A varint encodes a value of more than 64 bits.
    VarintTooLarge,
    /// A value is larger than its field allows.
    ValueOutOfRange {
        /// The value decoded.
        value: u64,
        /// The largest value the field allows.
        max: u64,
    },
    /// Adding this delta to the position before it runs past `u64::MAX`.
    Overflow {
        /// The delta decoded.
        value: u64,
    },
    /// A count of items larger than the rest of the body could hold, at
    /// two bytes or more per item; refused before anything is allocated.
    CountTooLarge {
        /// The count decoded.
        count: u64,
        /// The most items the remaining bytes could hold.
        max: u64,
    },
    /// The fields decode but describe an invalid state: the error names the
    /// offending item; the offset is that of the item's first byte.
    InvalidState(StateError),
    /// A name (of an owner or a pool) is not valid UTF-8 (version 2).
    InvalidUtf8 {
        /// Offset of the first invalid byte within the name.
        at: usize,
    },
    /// A name (of an owner or a pool) breaks the naming rules (version 2).
    InvalidName(NameError),
    /// An owner name is not after the one before it: the table must be
    /// sorted, without duplicates (version 2).
    UnsortedOwners,
    /// An owner name is used by no allocation (version 2).
    UnusedOwner,
    /// A pool kind byte names no kind of pool (version 2).
    UnknownPoolKind {
        /// The byte found.
        found: u8,
    },
    /// Two runs of ids (or ranges of a delta) touch and have the same
    /// owner, so they should be one (version 2).
    MergeableRuns,
    /// A pool name appears twice in a delta (version 2).
    DuplicatePool {
        /// Position of the earlier change of that pool.
        previous: u64,
    },
    /// The input does not start with
    /// [`JOURNAL_MAGIC`](super::JOURNAL_MAGIC): not a journal.
    NotAJournal {
        /// The bytes found, zero-padded when the input is shorter.
        found: [u8; 8],
        /// How many bytes of `found` were present.
        found_len: u8,
    },
    /// The length of a journal record after its body is not the length
    /// before it.
    LengthMismatch,
    /// A journal record's generation is not above the generation of the
    /// state before it.
    GenerationNotAbove {
        /// The generation before the record.
        previous: u64,
    },
    /// A journal record changes a pool the set does not have.
    NoSuchPool,
    /// A journal record's changed pool does not come after the one before
    /// it in the set's order of pools.
    PoolOutOfOrder,
    /// A journal record's changed pool is of another kind than the set's
    /// pool of that name.
    WrongPoolKind {
        /// The kind byte of the set's pool (1: ids, 2: addresses).
        expected: u8,
        /// The kind byte in the record.
        found: u8,
    },
    /// A journal record's changed pool starts from another generation
    /// than the pool's.
    GenerationMismatch {
        /// The pool's generation.
        expected: u64,
        /// The generation the record starts from.
        found: u64,
    },
    /// A journal record lists a pool that it does not change (same
    /// generation, same next id, no ranges).
    UnchangedPool,
    /// A journal record's next id before is not the allocator's next id.
    NextIdMismatch {
        /// The allocator's next id.
        expected: u64,
        /// The next id the record starts from.
        found: u64,
    },
    /// A journal record frees a range that is not allocated with the
    /// owner it names.
    NotAllocated,
    /// A journal record allocates a range that is not free, or not inside
    /// the allocator's space or range.
    NotFree,
    /// A journal record frees a range and allocates it again with the same
    /// owner: no change, which a record never lists.
    NoOpChange,
    /// A journal record's next id after does not fit the allocator: it
    /// must be above every allocated id and at most one past the range.
    InvalidNextId,
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeErrorKind::FileTooLarge { size, max } => {
                write!(f, "the input is {size} bytes, over the limit of {max}")
            }
            DecodeErrorKind::BadMagic { found, found_len } => {
                f.write_str("not a vm-allocator file: found")?;
                // Clamped: a caller may build this with any length.
                write_hex(f, &found[..usize::from(found_len).min(found.len())])?;
                if found_len == 8 && found == super::JOURNAL_MAGIC {
                    f.write_str(" (a journal)")?;
                }
                f.write_str(", expected")?;
                write_hex(f, &MAGIC)
            }
            DecodeErrorKind::UnsupportedVersion { found, supported } => {
                write!(
                    f,
                    "unsupported format version {found}; this reader supports "
                )?;
                for (i, v) in supported.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{v}")?;
                }
                Ok(())
            }
            DecodeErrorKind::WrongKind { expected, found } => match FileKind::from_byte(found) {
                // Refused although it is the kind asked for: the file's
                // version does not hold that kind (a version 1 set).
                Some(kind) if kind == expected => write!(
                    f,
                    "kind {found} ({kind}) does not exist in this file's format version"
                ),
                Some(kind) => write!(
                    f,
                    "the file holds {} ({found}), not {}",
                    Article(kind),
                    Article(expected)
                ),
                None => write!(f, "unknown kind {found}, expected {}", Article(expected)),
            },
            DecodeErrorKind::UnknownKind { found } => write!(f, "unknown kind {found}"),
            DecodeErrorKind::ChecksumMismatch { stored, computed } => write!(
                f,
                "checksum mismatch: stored CRC-32C {stored:#010x}, computed {computed:#010x}"
            ),
            DecodeErrorKind::Truncated { needed, available } => write!(
                f,
                "truncated: needs {needed} bytes, only {available} available"
            ),
            DecodeErrorKind::TrailingBytes { count: 1 } => f.write_str("1 trailing byte"),
            DecodeErrorKind::TrailingBytes { count } => write!(f, "{count} trailing bytes"),
            DecodeErrorKind::OverlongVarint => {
                f.write_str("non-canonical varint: longer than its value needs")
            }
            DecodeErrorKind::VarintTooLarge => f.write_str("varint value does not fit in 64 bits"),
            DecodeErrorKind::ValueOutOfRange { value, max } => {
                write!(f, "value {value:#x} is out of range (at most {max:#x})")
            }
            DecodeErrorKind::Overflow { value } => {
                write!(f, "delta {value:#x} runs past the largest value of u64")
            }
            DecodeErrorKind::CountTooLarge { count, max } => write!(
                f,
                "count {count} is more than the rest of the body could hold (at most {max})"
            ),
            DecodeErrorKind::InvalidState(e) => write!(f, "invalid state: {e}"),
            DecodeErrorKind::InvalidUtf8 { at } => {
                write!(f, "the name is not valid UTF-8 (byte {at} of the name)")
            }
            DecodeErrorKind::InvalidName(e) => write!(f, "invalid name: {e}"),
            DecodeErrorKind::UnsortedOwners => f.write_str(
                "the owner name is not after the previous one (the table must be sorted, \
                 without duplicates)",
            ),
            DecodeErrorKind::UnusedOwner => f.write_str("no allocation has this owner"),
            DecodeErrorKind::UnknownPoolKind { found } => write!(f, "unknown pool kind {found}"),
            DecodeErrorKind::MergeableRuns => f.write_str(
                "the range touches the previous one and has the same owner (ranges must be \
                 maximal)",
            ),
            DecodeErrorKind::DuplicatePool { previous } => {
                write!(f, "the pool was changed already by change #{previous}")
            }
            DecodeErrorKind::NotAJournal { found, found_len } => {
                f.write_str("not a vm-allocator journal: found")?;
                let found = &found[..usize::from(found_len).min(found.len())];
                write_hex(f, found)?;
                if found == MAGIC {
                    f.write_str(" (a state file)")?;
                }
                f.write_str(", expected")?;
                write_hex(f, &super::JOURNAL_MAGIC)
            }
            DecodeErrorKind::LengthMismatch => {
                f.write_str("the length after the body is not the length before it")
            }
            DecodeErrorKind::GenerationNotAbove { previous } => write!(
                f,
                "the generation is not above {previous}, the generation before the record"
            ),
            DecodeErrorKind::NoSuchPool => f.write_str("the set has no pool of this name"),
            DecodeErrorKind::PoolOutOfOrder => f.write_str(
                "the pool does not come after the previous changed pool in the set's order",
            ),
            DecodeErrorKind::WrongPoolKind { expected, found } => write!(
                f,
                "the set's pool of this name is of kind {expected}, not {found}"
            ),
            DecodeErrorKind::GenerationMismatch { expected, found } => {
                write!(f, "the allocator is at generation {expected}, not {found}")
            }
            DecodeErrorKind::UnchangedPool => f.write_str(
                "the pool's change changes nothing (same generation, same next id, no ranges)",
            ),
            DecodeErrorKind::NextIdMismatch { expected, found } => {
                write!(f, "the allocator's next id is {expected}, not {found}")
            }
            DecodeErrorKind::NotAllocated => {
                f.write_str("the range is not allocated with this owner")
            }
            DecodeErrorKind::NotFree => {
                f.write_str("the range is not free, or not inside the allocator's space")
            }
            DecodeErrorKind::NoOpChange => f.write_str(
                "the range is freed and allocated again with the same owner (no change)",
            ),
            DecodeErrorKind::InvalidNextId => f.write_str(
                "the next id does not fit: it must be above every allocated id and at most \
                 one past the range",
            ),
        }
    }
}

/// A kind with its indefinite article: "an IdAllocator", "a Delta".
struct Article(FileKind);

impl fmt::Display for Article {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let article = match self.0 {
            FileKind::IdAllocator | FileKind::AddressAllocator => "an",
            _ => "a",
        };
        write!(f, "{article} {}", self.0)
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    if bytes.is_empty() {
        return f.write_str(" nothing");
    }
    for b in bytes {
        write!(f, " {b:02x}")?;
    }
    Ok(())
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(record) = self.record {
            write!(f, "record #{record} ")?;
        }
        if let Some(pool) = self.pool {
            write!(f, "pool #{pool} ")?;
        }
        write!(f, "{} at byte {}: {}", self.field, self.offset, self.kind)
    }
}

impl core::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match &self.kind {
            DecodeErrorKind::InvalidState(e) => Some(e),
            DecodeErrorKind::InvalidName(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a state could not be written in the format version asked for.
///
/// `Display` shows pool and owner names between double quotes, by the rule
/// of [`escape_name`](crate::escape_name) (FORMAT.md 6.1.1).
///
/// # Examples
///
/// ```rust
/// use vm_allocator::format::EncodeError;
/// use vm_allocator::IdAllocator;
///
/// let gsi = IdAllocator::new(5, 23).unwrap();
/// let err = gsi.to_bytes_version(3).unwrap_err();
/// assert_eq!(
///     err,
///     EncodeError::UnsupportedVersion {
///         version: 3,
///         supported: &[1, 2]
///     }
/// );
/// assert_eq!(
///     err.to_string(),
///     "cannot write format version 3; this crate writes [1, 2]"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncodeError {
    /// This crate does not write that version.
    UnsupportedVersion {
        /// The version asked for.
        version: u16,
        /// The versions this crate writes.
        supported: &'static [u16],
    },
    /// The state holds something the version cannot hold.
    DoesNotFit {
        /// The version asked for.
        version: u16,
        /// What does not fit.
        what: Unfit,
    },
    /// The file would be larger than [`MAX_FILE_SIZE`](super::MAX_FILE_SIZE).
    TooLarge {
        /// Its size in bytes.
        size: u64,
    },
}

/// What a format version cannot hold.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::format::{EncodeError, Unfit};
/// use vm_allocator::{IdAllocator, Owner, ResourceSet};
///
/// let err = ResourceSet::x86_64().to_bytes_version(1).unwrap_err();
/// assert_eq!(
///     err,
///     EncodeError::DoesNotFit {
///         version: 1,
///         what: Unfit::ResourceSet
///     }
/// );
/// assert_eq!(
///     err.to_string(),
///     "format version 1 cannot hold a resource set"
/// );
///
/// let mut gsi = IdAllocator::new(5, 23).unwrap();
/// gsi.owned_by(&Owner::new("rtc").unwrap())
///     .allocate_id()
///     .unwrap();
/// let err = gsi.to_bytes_version(1).unwrap_err();
/// assert!(matches!(
///     err,
///     EncodeError::DoesNotFit {
///         what: Unfit::Owner { .. },
///         ..
///     }
/// ));
/// assert_eq!(
///     err.to_string(),
///     "format version 1 cannot hold the owner of the allocation 0x5..=0x5 (\"rtc\"); \
///      without_owners() drops owners explicitly"
/// );
///
/// // A set with owners is refused as a set: version 1 has no sets at all.
/// let mut vm = ResourceSet::x86_64();
/// vm.owned_by(&Owner::new("rtc").unwrap())
///     .allocate_id("legacy_gsi")
///     .unwrap();
/// let err = vm.to_bytes_version(1).unwrap_err();
/// assert_eq!(
///     err,
///     EncodeError::DoesNotFit {
///         version: 1,
///         what: Unfit::ResourceSet
///     }
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unfit {
    /// An allocation with an owner: version 1 has no owners. The first
    /// such allocation of the lone allocator is named; `without_owners()`
    /// drops them explicitly. (A resource set is [`Unfit::ResourceSet`]
    /// in version 1, with or without owners: that version has no sets.)
    Owner {
        /// The allocation (for ids, the run of ids).
        range: crate::RangeInclusive,
        /// Its owner.
        owner: crate::Owner,
    },
    /// A resource set: version 1 holds single allocators only.
    ResourceSet,
    /// A delta: version 1 has no deltas.
    Delta,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::UnsupportedVersion { version, supported } => {
                write!(
                    f,
                    "cannot write format version {version}; this crate writes {supported:?}"
                )
            }
            EncodeError::DoesNotFit { version, what } => {
                write!(f, "format version {version} cannot hold ")?;
                match what {
                    Unfit::Owner { range, owner } => write!(
                        f,
                        "the owner of the allocation {:#x}..={:#x} ({}); \
                         without_owners() drops owners explicitly",
                        range.start(),
                        range.end(),
                        quoted(owner.as_str())
                    ),
                    Unfit::ResourceSet => f.write_str("a resource set"),
                    Unfit::Delta => f.write_str("a delta"),
                }
            }
            EncodeError::TooLarge { size } => write!(
                f,
                "the file would be {size} bytes, over the limit of {}",
                super::MAX_FILE_SIZE
            ),
        }
    }
}

impl core::error::Error for EncodeError {}
