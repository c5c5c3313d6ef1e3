// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Reading a journal: the header and its base state, then each record in
//! order, applied to the state before it, up to the first record that
//! fails; and the report of what was kept and discarded, and why.

use core::fmt;

use super::frame::{open_header, read_record, sound_last_record};
use super::record::read_body;
use super::{JournalHeader, JournalWriter};
use crate::format::{DecodeError, DecodeErrorKind, Field};
use crate::{Diff, Versioned};

/// Reads the journal `bytes` of states `S`: checks its header and decodes
/// its base state, then hands out its records in order
/// ([`Replay`] is an iterator of [`JournalRecord`]s), each applied to the
/// state before it, up to the first record that fails;
/// [`finish`](Replay::finish) then reports what was kept and what was
/// discarded, and why ([`Recovery`]).
///
/// An error here is an unusable header (FORMAT.md 13.4): nothing can be
/// recovered from the file. The records' own failures are not errors:
/// they end the journal, and the recovery report says why.
///
/// Reading never changes anything and needs no lock: this is how tools,
/// tests and version histories walk a journal.
///
/// Time: O(header) to start, then O(k log n) per record of k changes;
/// memory: the current state and one record (a record's state is an
/// O(1) clone that shares all but the paths the record changed).
///
/// ```rust
/// use vm_allocator::format::{self, JournalWriter};
/// use vm_allocator::{IdAllocator, Owner};
///
/// let mut gsi = IdAllocator::new(5, 23).unwrap();
/// let (mut journal, mut bytes) = JournalWriter::start(&gsi, 7);
/// gsi.owned_by(&Owner::new("rtc").unwrap())
///     .allocate_id_at(8)
///     .unwrap();
/// bytes.extend(journal.append(&gsi, Some("rtc")).unwrap());
/// gsi.allocate_id().unwrap();
/// bytes.extend(journal.append(&gsi, None).unwrap());
///
/// let mut replay = format::replay::<IdAllocator>(&bytes).unwrap();
/// assert_eq!(replay.header().id, 7);
/// let labels: Vec<_> = replay.by_ref().map(|r| (r.generation, r.label)).collect();
/// assert_eq!(labels, [(1, Some("rtc")), (2, None)]);
/// let (end, recovery) = replay.finish();
/// assert!(recovery.is_clean());
/// assert_eq!(end.state(), &gsi);
/// ```
pub fn replay<S: Versioned>(bytes: &[u8]) -> Result<Replay<'_, S>, DecodeError> {
    let (header, state_start, state_end) = open_header(bytes, Some(S::JOURNAL_KIND))?;
    let base = S::decode_state(&bytes[..state_end], state_start)?;
    Ok(Replay::new(bytes, header, base))
}

/// The records of a journal, in order, each applied to the state before
/// it; made by [`replay`]. It stops at the first record that fails, and
/// [`finish`](Self::finish) says why.
///
/// ```rust
/// use vm_allocator::format::{self, JournalWriter};
/// use vm_allocator::AddressAllocator;
/// use vm_allocator::AllocPolicy::FirstMatch;
///
/// let mut mmio = AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap();
/// let (mut journal, mut bytes) = JournalWriter::start(&mmio, 1);
/// for _ in 0..3 {
///     mmio.allocate(0x1000, 0x1000, FirstMatch).unwrap();
///     bytes.extend(journal.append(&mmio, None).unwrap());
/// }
/// // Every state the journal went through, in order.
/// let replay = format::replay::<AddressAllocator>(&bytes).unwrap();
/// assert_eq!(replay.base().len(), 0);
/// let sizes: Vec<u64> = replay.map(|record| record.state.len() as u64).collect();
/// assert_eq!(sizes, [1, 2, 3]);
/// ```
pub struct Replay<'a, S> {
    bytes: &'a [u8],
    header: JournalHeader,
    base: S,
    state: S,
    /// Where the next record starts.
    pos: usize,
    /// The checksum the next record chains to (the 4 bytes before `pos`).
    checksum: u32,
    records: u64,
    discard: Option<Discard>,
    done: bool,
}

/// One record of a journal, as [`Replay`] hands it out: where it is, its
/// label, its generation, its changes and the state after it.
///
/// ```rust
/// use vm_allocator::format::{self, JournalRecord, JournalWriter};
/// use vm_allocator::IdAllocator;
///
/// let mut ids = IdAllocator::new(0, 99).unwrap();
/// let (mut journal, mut bytes) = JournalWriter::start(&ids, 1);
/// ids.allocate_ids(4, 4).unwrap();
/// bytes.extend(journal.append(&ids, Some("msi")).unwrap());
/// let record: JournalRecord<'_, IdAllocator> = format::replay(&bytes).unwrap().next().unwrap();
/// assert_eq!(
///     (record.index, record.generation, record.label),
///     (0, 1, Some("msi"))
/// );
/// assert_eq!(record.diff.to_string(), "+ 0..=3 (4 ids)\n");
/// assert_eq!(record.state, ids);
/// assert_eq!(record.offset + record.len, bytes.len());
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct JournalRecord<'a, S> {
    /// Its position among the records, from 0.
    pub index: u64,
    /// The offset of its first byte in the journal.
    pub offset: usize,
    /// Its size in bytes, frame included.
    pub len: usize,
    /// Its label, if it has one.
    pub label: Option<&'a str>,
    /// The generation of the state after it.
    pub generation: u64,
    /// What it changed, from the state before it.
    pub diff: Diff,
    /// The state after it (an O(1) clone).
    pub state: S,
}

impl<'a, S: Versioned> Replay<'a, S> {
    fn new(bytes: &'a [u8], header: JournalHeader, base: S) -> Self {
        Replay {
            bytes,
            pos: header.len,
            checksum: header.checksum,
            header,
            state: base.clone(),
            base,
            records: 0,
            discard: None,
            done: false,
        }
    }

    /// The journal's header. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::{self, FileKind, JournalWriter};
    /// use vm_allocator::ResourceSet;
    ///
    /// let (_, bytes) = JournalWriter::start(&ResourceSet::x86_64(), 0xfeed);
    /// let replay = format::replay::<ResourceSet>(&bytes).unwrap();
    /// assert_eq!(
    ///     (replay.header().kind, replay.header().id),
    ///     (FileKind::ResourceSet, 0xfeed)
    /// );
    /// assert_eq!(replay.header().len, bytes.len());
    /// ```
    pub fn header(&self) -> &JournalHeader {
        &self.header
    }

    /// The base state: what the journal holds before its first record.
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::{self, JournalWriter};
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut gsi = IdAllocator::new(5, 23).unwrap();
    /// gsi.allocate_id().unwrap();
    /// let (_, bytes) = JournalWriter::start(&gsi, 1);
    /// assert_eq!(format::replay::<IdAllocator>(&bytes).unwrap().base(), &gsi);
    /// ```
    pub fn base(&self) -> &S {
        &self.base
    }

    /// Reads the records that are left, and returns the end of the
    /// journal, ready to append to (its state is that of the last good
    /// record), with the report of what was kept and discarded.
    ///
    /// Time: O(k log n) per record left; O(1) more to tell a torn tail
    /// from damage.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::{self, DiscardCause, JournalWriter};
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut ids = IdAllocator::new(0, 99).unwrap();
    /// let (mut journal, mut bytes) = JournalWriter::start(&ids, 1);
    /// ids.allocate_id().unwrap();
    /// bytes.extend(journal.append(&ids, None).unwrap());
    /// let good = bytes.len();
    /// ids.allocate_id().unwrap();
    /// let record = journal.append(&ids, None).unwrap();
    /// bytes.extend(&record[..record.len() - 3]); // a crash in the middle of a write
    ///
    /// let (end, recovery) = format::replay::<IdAllocator>(&bytes).unwrap().finish();
    /// assert_eq!(
    ///     (recovery.records, recovery.len, recovery.discarded),
    ///     (1, good, bytes.len() - good)
    /// );
    /// assert_eq!(recovery.discard.unwrap().cause, DiscardCause::TornTail);
    /// assert_eq!(end.generation(), 1);
    /// ```
    pub fn finish(mut self) -> (JournalWriter<S>, Recovery) {
        while self.next().is_some() {}
        let recovery = Recovery {
            records: self.records,
            len: self.pos,
            discarded: self.bytes.len() - self.pos,
            discard: self.discard,
        };
        let writer = JournalWriter::resume(
            self.state,
            self.header.id,
            self.checksum,
            self.records,
            self.pos as u64,
        );
        (writer, recovery)
    }

    /// Reads, checks and applies the record at `pos`; an error says
    /// whether the record's frame is what failed.
    fn read_next(&mut self) -> Result<JournalRecord<'a, S>, (DecodeError, bool)> {
        let bytes = self.bytes;
        let start = self.pos;
        let index = self.records;
        let frame = read_record(bytes, start).map_err(|e| (e, true))?;
        let content = |e| (e, false);
        let previous = self.state.generation();
        let body = read_body(bytes, frame.body, S::JOURNAL_KIND, previous).map_err(content)?;
        if body.generation <= previous {
            let e = DecodeError::new(
                body.generation_at,
                Field::Generation,
                DecodeErrorKind::GenerationNotAbove { previous },
            );
            return Err(content(e));
        }
        let mut next = self.state.clone();
        next.apply_record(&body.diff, &body.offsets)
            .map_err(content)?;
        self.state = next;
        self.pos = frame.end;
        self.checksum = frame.checksum;
        self.records += 1;
        Ok(JournalRecord {
            index,
            offset: start,
            len: frame.end - start,
            label: body.label,
            generation: body.generation,
            diff: body.diff,
            state: self.state.clone(),
        })
    }

    /// Why the record at `pos` is discarded: a frame that is not sound is
    /// a torn tail unless a sound record ends the journal after it; a
    /// sound frame with an invalid content is always damage.
    fn discard(&self, error: DecodeError, frame: bool) -> Discard {
        let cause = if !frame {
            DiscardCause::InvalidRecord
        } else {
            match sound_last_record(self.bytes, self.pos) {
                Some(last_record) => DiscardCause::Damage { last_record },
                None => DiscardCause::TornTail,
            }
        };
        Discard {
            error: error.in_record(self.records),
            offset: self.pos,
            cause,
        }
    }
}

impl<'a, S: Versioned> Iterator for Replay<'a, S> {
    type Item = JournalRecord<'a, S>;

    fn next(&mut self) -> Option<JournalRecord<'a, S>> {
        if self.done || self.pos == self.bytes.len() {
            self.done = true;
            return None;
        }
        match self.read_next() {
            Ok(record) => Some(record),
            Err((error, frame)) => {
                self.discard = Some(self.discard(error, frame));
                self.done = true;
                None
            }
        }
    }
}

impl<S: Versioned> core::iter::FusedIterator for Replay<'_, S> {}

/// What reading a journal kept and discarded, and why.
///
/// Everything up to [`len`](Self::len) was read: the header and
/// [`records`](Self::records) good records. The
/// [`discarded`](Self::discarded) bytes after them, if any, start with a
/// record that failed ([`discard`](Self::discard)).
///
/// ```rust
/// use vm_allocator::format::{self, JournalWriter};
/// use vm_allocator::IdAllocator;
///
/// let mut ids = IdAllocator::new(0, 99).unwrap();
/// let (mut journal, mut bytes) = JournalWriter::start(&ids, 1);
/// ids.allocate_id().unwrap();
/// bytes.extend(journal.append(&ids, None).unwrap());
/// let (_, recovery) = format::replay::<IdAllocator>(&bytes).unwrap().finish();
/// assert!(recovery.is_clean());
/// assert_eq!(
///     recovery.to_string(),
///     format!("1 record, {} bytes, nothing discarded", bytes.len())
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovery {
    /// Good records read after the base state.
    pub records: u64,
    /// Bytes kept: the header and the good records.
    pub len: usize,
    /// Bytes discarded after them.
    pub discarded: usize,
    /// The record that failed and why, when bytes were discarded.
    pub discard: Option<Discard>,
}

impl Recovery {
    /// True if nothing was discarded. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::{self, JournalWriter};
    /// use vm_allocator::IdAllocator;
    ///
    /// let (_, mut bytes) = JournalWriter::start(&IdAllocator::new(0, 9).unwrap(), 1);
    /// assert!(format::replay::<IdAllocator>(&bytes)
    ///     .unwrap()
    ///     .finish()
    ///     .1
    ///     .is_clean());
    /// bytes.push(0x05); // the first byte of a record that never came
    /// assert!(!format::replay::<IdAllocator>(&bytes)
    ///     .unwrap()
    ///     .finish()
    ///     .1
    ///     .is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.discard.is_none()
    }

    /// True if what was discarded is a torn tail: what a crash during an
    /// append leaves, and nothing to worry about (the append did not
    /// return). Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::{self, JournalWriter};
    /// use vm_allocator::IdAllocator;
    ///
    /// let (_, mut bytes) = JournalWriter::start(&IdAllocator::new(0, 9).unwrap(), 1);
    /// bytes.extend([0x06, 0x00]); // half a record
    /// let (_, recovery) = format::replay::<IdAllocator>(&bytes).unwrap().finish();
    /// assert!(recovery.is_torn_tail() && !recovery.is_corrupt());
    /// ```
    pub fn is_torn_tail(&self) -> bool {
        matches!(
            self.discard,
            Some(Discard {
                cause: DiscardCause::TornTail,
                ..
            })
        )
    }

    /// True if what was discarded is damage: records were lost that a
    /// crash cannot explain. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::{self, JournalWriter};
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut ids = IdAllocator::new(0, 99).unwrap();
    /// let (mut journal, mut bytes) = JournalWriter::start(&ids, 1);
    /// let header = bytes.len();
    /// for _ in 0..3 {
    ///     ids.allocate_id().unwrap();
    ///     bytes.extend(journal.append(&ids, None).unwrap());
    /// }
    /// bytes[header + 2] ^= 0x10; // bit rot in the first record
    /// let (end, recovery) = format::replay::<IdAllocator>(&bytes).unwrap().finish();
    /// assert!(recovery.is_corrupt());
    /// assert_eq!((recovery.records, end.generation()), (0, 0));
    /// ```
    pub fn is_corrupt(&self) -> bool {
        self.discard.is_some() && !self.is_torn_tail()
    }
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.records == 1 { "" } else { "s" };
        write!(f, "{} record{s}, {} bytes, ", self.records, self.len)?;
        match &self.discard {
            None => f.write_str("nothing discarded"),
            Some(d) => write!(f, "{} bytes discarded: {d}", self.discarded),
        }
    }
}

/// The record at which a journal stopped, and why.
///
/// ```rust
/// use vm_allocator::format::{self, DiscardCause, Field, JournalWriter};
/// use vm_allocator::IdAllocator;
///
/// let mut ids = IdAllocator::new(0, 99).unwrap();
/// let (mut journal, mut bytes) = JournalWriter::start(&ids, 1);
/// let header = bytes.len();
/// ids.allocate_id().unwrap();
/// bytes.extend(journal.append(&ids, None).unwrap());
/// bytes.truncate(bytes.len() - 1);
/// let (_, recovery) = format::replay::<IdAllocator>(&bytes).unwrap().finish();
/// let discard = recovery.discard.unwrap();
/// assert_eq!(
///     (discard.offset, discard.cause),
///     (header, DiscardCause::TornTail)
/// );
/// assert_eq!(
///     (discard.error.record, discard.error.field),
///     (Some(0), Field::RecordChecksum)
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Discard {
    /// What failed, where (the error names the record).
    pub error: DecodeError,
    /// The offset of the failed record's first byte: the first byte
    /// discarded.
    pub offset: usize,
    /// Why the record is discarded.
    pub cause: DiscardCause,
}

impl fmt::Display for Discard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let record = self.error.record.unwrap_or_default();
        match self.cause {
            DiscardCause::TornTail => write!(
                f,
                "a torn tail (an append cut short) from record #{record} at byte {}",
                self.offset
            )?,
            DiscardCause::InvalidRecord => write!(
                f,
                "damage: record #{record} at byte {} is sound but invalid",
                self.offset
            )?,
            DiscardCause::Damage { last_record } => write!(
                f,
                "damage: record #{record} at byte {} is broken, and a sound record ends the \
                 journal at byte {last_record}",
                self.offset
            )?,
        }
        write!(f, " ({})", self.error)
    }
}

/// Why a record of a journal and everything after it were discarded
/// (FORMAT.md 13.7).
///
/// ```rust
/// use vm_allocator::format::DiscardCause;
///
/// // Only a torn tail is what a crash leaves.
/// assert_ne!(DiscardCause::TornTail, DiscardCause::InvalidRecord);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DiscardCause {
    /// The record's frame is not sound (cut short, or its checksum fails)
    /// and no sound record ends the journal after it: what a crash in the
    /// middle of an append leaves. Normal: no append that returned was
    /// lost.
    TornTail,
    /// The record's frame is sound (its checksum holds) but its content is
    /// invalid or does not apply to the state before it: written on
    /// purpose or by a bug, never by a crash. Corruption.
    InvalidRecord,
    /// The record's frame is not sound, but a sound record ends the journal
    /// further on: the journal was damaged after it was written.
    /// Corruption.
    Damage {
        /// The offset of the sound record that ends the journal.
        last_record: usize,
    },
}
