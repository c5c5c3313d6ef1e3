// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Writing a journal in memory: its header, then one record per state.

use alloc::vec::Vec;
use core::fmt;

use super::frame::{record_len, seal_header, write_record};
use super::record::write_body;
use crate::format::MAX_FILE_SIZE;
use crate::{Diff, DiffError, NameError, Versioned};

/// The end of a journal, in memory: the last state it holds and what the
/// next record chains to. It makes the bytes of a journal (FORMAT.md
/// section 13) without any I/O: [`start`](Self::start) gives the header,
/// [`append`](Self::append) the record of each new state.
/// [`Journal`](crate::Journal) writes them to a file.
///
/// A record holds the changes from the state before it
/// ([`Diff::between`]), which costs O(k log n) when the new state was
/// made from the last one (a clone, then k edits), and O(n) for a state
/// with no history in common.
///
/// ```rust
/// use vm_allocator::format::{self, JournalWriter};
/// use vm_allocator::{AllocPolicy, Owner, ResourceSet};
///
/// let mut vm = ResourceSet::x86_64();
/// let (mut journal, mut bytes) = JournalWriter::start(&vm, 42);
/// let nvme = Owner::new("nvme0").unwrap();
/// vm.owned_by(&nvme)
///     .allocate("mmio64", 1 << 20, 1 << 20, AllocPolicy::FirstMatch)
///     .unwrap();
/// let record = journal.append(&vm, Some("hot-plug nvme0")).unwrap();
/// assert!(record.len() < 64);
/// bytes.extend(record);
///
/// let (end, recovery) = format::replay::<ResourceSet>(&bytes).unwrap().finish();
/// assert!(recovery.is_clean());
/// assert_eq!(end.state(), &vm);
/// ```
#[derive(Clone, Debug)]
pub struct JournalWriter<S> {
    state: S,
    id: u64,
    checksum: u32,
    records: u64,
    len: u64,
    /// Room for the next record's body.
    scratch: Vec<u8>,
}

/// A record encoded and not yet counted in (see [`JournalWriter::prepare`]).
pub(crate) struct Prepared<S> {
    state: S,
    checksum: u32,
    len: usize,
}

impl<S: Versioned> JournalWriter<S> {
    /// A new journal of `state`, with the journal id `id`: the writer, and
    /// the journal's first bytes (its header). Records chain to the
    /// header's checksum, which the id makes different for every journal a
    /// writer starts (pick it at random; [`Journal`](crate::Journal) does).
    ///
    /// Time: O(n).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::{JournalWriter, JOURNAL_MAGIC};
    /// use vm_allocator::IdAllocator;
    ///
    /// let gsi = IdAllocator::new(5, 23).unwrap();
    /// let (journal, header) = JournalWriter::start(&gsi, 9);
    /// assert!(header.starts_with(&JOURNAL_MAGIC));
    /// assert_eq!((journal.records(), journal.len()), (0, header.len() as u64));
    /// // The same state in a journal with another id: another chain.
    /// let (other, _) = JournalWriter::start(&gsi, 10);
    /// assert_ne!(journal.checksum(), other.checksum());
    /// ```
    pub fn start(state: &S, id: u64) -> (JournalWriter<S>, Vec<u8>) {
        let header = seal_header(S::JOURNAL_KIND, id, 8 + state.state_hint(), |out| {
            state.encode_state(out)
        });
        let n = header.len();
        let checksum = u32::from_le_bytes(header[n - 4..].try_into().expect("four bytes"));
        let writer = JournalWriter::resume(state.clone(), id, checksum, 0, n as u64);
        (writer, header)
    }

    pub(crate) fn resume(state: S, id: u64, checksum: u32, records: u64, len: u64) -> Self {
        JournalWriter {
            state,
            id,
            checksum,
            records,
            len,
            scratch: Vec::new(),
        }
    }

    /// The record that takes the journal from its last state to `state`,
    /// with an optional label (a name: 1 to 64 bytes of UTF-8 without a
    /// control character, as owners are).
    ///
    /// Fails, and changes nothing, if `state`'s generation is not above the
    /// last one ([`AppendError::GenerationNotAbove`]), if it does not have
    /// the journal's shape ([`AppendError::Shape`]), if the label is not a
    /// valid name ([`AppendError::Label`]), or if the journal would grow
    /// past [`MAX_FILE_SIZE`](crate::format::MAX_FILE_SIZE).
    ///
    /// Time: O(k log n) for a state made from the last one by k edits.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::{AppendError, JournalWriter};
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut gsi = IdAllocator::new(5, 23).unwrap();
    /// let (mut journal, _) = JournalWriter::start(&gsi, 1);
    /// gsi.allocate_id().unwrap();
    /// let record = journal.append(&gsi, Some("serial0")).unwrap();
    /// assert_eq!(record.len(), 23);
    /// // The same state again: its generation did not move.
    /// let err = journal.append(&gsi, None).unwrap_err();
    /// assert_eq!(err, AppendError::GenerationNotAbove { last: 1, found: 1 });
    /// ```
    pub fn append(&mut self, state: &S, label: Option<&str>) -> Result<Vec<u8>, AppendError> {
        let mut out = Vec::new();
        self.append_to(state, label, &mut out)?;
        Ok(out)
    }

    /// [`append`](Self::append), writing the record at the end of `out`
    /// (nothing is written on an error).
    ///
    /// Time: O(k log n).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::JournalWriter;
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut ids = IdAllocator::new(0, 99).unwrap();
    /// let (mut journal, mut bytes) = JournalWriter::start(&ids, 1);
    /// for _ in 0..10 {
    ///     ids.allocate_id().unwrap();
    ///     journal.append_to(&ids, None, &mut bytes).unwrap();
    /// }
    /// assert_eq!(journal.len(), bytes.len() as u64);
    /// ```
    pub fn append_to(
        &mut self,
        state: &S,
        label: Option<&str>,
        out: &mut Vec<u8>,
    ) -> Result<(), AppendError> {
        let prepared = self.prepare(state, label, out)?;
        self.commit(prepared);
        Ok(())
    }

    /// Writes the record of `state` at the end of `out` without counting
    /// it in: [`commit`](Self::commit) does, once the bytes are stored.
    pub(crate) fn prepare(
        &mut self,
        state: &S,
        label: Option<&str>,
        out: &mut Vec<u8>,
    ) -> Result<Prepared<S>, AppendError> {
        if let Some(label) = label {
            crate::owner::check_name(label).map_err(AppendError::Label)?;
        }
        let (last, found) = (self.state.generation(), state.generation());
        if found <= last {
            return Err(AppendError::GenerationNotAbove { last, found });
        }
        let diff = Diff::between(&self.state, state).map_err(AppendError::Shape)?;
        let mut body = core::mem::take(&mut self.scratch);
        body.clear();
        write_body(label, &diff, &mut body);
        let len = record_len(body.len());
        let size = self.len + len as u64;
        if size > MAX_FILE_SIZE as u64 {
            self.scratch = body;
            return Err(AppendError::TooLarge { size });
        }
        let checksum = write_record(self.checksum, &body, out);
        self.scratch = body;
        Ok(Prepared {
            state: state.clone(),
            checksum,
            len,
        })
    }

    /// Counts in a record [`prepare`](Self::prepare) made.
    pub(crate) fn commit(&mut self, prepared: Prepared<S>) {
        self.state = prepared.state;
        self.checksum = prepared.checksum;
        self.records += 1;
        self.len += prepared.len as u64;
    }

    /// The last state: the base's, or the last record's. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::JournalWriter;
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut ids = IdAllocator::new(0, 9).unwrap();
    /// let (mut journal, _) = JournalWriter::start(&ids, 1);
    /// ids.allocate_id().unwrap();
    /// journal.append(&ids, None).unwrap();
    /// assert_eq!(journal.state(), &ids);
    /// ```
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The last state's generation. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::JournalWriter;
    /// use vm_allocator::ResourceSet;
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// vm.allocate_id("legacy_gsi").unwrap();
    /// let (journal, _) = JournalWriter::start(&vm, 1);
    /// assert_eq!(journal.generation(), 1);
    /// ```
    pub fn generation(&self) -> u64 {
        self.state.generation()
    }

    /// The journal id. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::JournalWriter;
    /// use vm_allocator::IdAllocator;
    ///
    /// let (journal, _) = JournalWriter::start(&IdAllocator::new(0, 9).unwrap(), 0xabc);
    /// assert_eq!(journal.id(), 0xabc);
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The number of records after the base state. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::JournalWriter;
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut ids = IdAllocator::new(0, 9).unwrap();
    /// let (mut journal, _) = JournalWriter::start(&ids, 1);
    /// ids.allocate_id().unwrap();
    /// journal.append(&ids, None).unwrap();
    /// assert_eq!(journal.records(), 1);
    /// ```
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The size of the journal in bytes: its header and its records.
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::JournalWriter;
    /// use vm_allocator::IdAllocator;
    ///
    /// let (journal, header) = JournalWriter::start(&IdAllocator::new(0, 9).unwrap(), 1);
    /// assert_eq!(journal.len(), header.len() as u64);
    /// ```
    #[allow(clippy::len_without_is_empty)] // a journal always has a header
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The checksum the next record chains to: that of the last record,
    /// or of the header. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::JournalWriter;
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut ids = IdAllocator::new(0, 9).unwrap();
    /// let (mut journal, header) = JournalWriter::start(&ids, 1);
    /// assert_eq!(journal.checksum().to_le_bytes(), header[header.len() - 4..]);
    /// ids.allocate_id().unwrap();
    /// let record = journal.append(&ids, None).unwrap();
    /// assert_eq!(journal.checksum().to_le_bytes(), record[record.len() - 4..]);
    /// ```
    pub fn checksum(&self) -> u32 {
        self.checksum
    }
}

/// Why a state could not be appended to a journal; the journal is
/// unchanged.
///
/// ```rust
/// use vm_allocator::format::{AppendError, JournalWriter};
/// use vm_allocator::{IdAllocator, NameError};
///
/// let mut ids = IdAllocator::new(0, 9).unwrap();
/// let (mut journal, _) = JournalWriter::start(&ids, 1);
/// ids.allocate_id().unwrap();
/// let err = journal.append(&ids, Some("")).unwrap_err();
/// assert_eq!(err, AppendError::Label(NameError::Empty));
/// assert_eq!(err.to_string(), "invalid label: the name is empty");
/// let other = IdAllocator::new(0, 10).unwrap();
/// assert!(matches!(
///     journal.append(&other, None),
///     Err(AppendError::GenerationNotAbove { .. })
/// ));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AppendError {
    /// The state's generation is not above the journal's last one: every
    /// record moves the generation up.
    GenerationNotAbove {
        /// The journal's last generation.
        last: u64,
        /// The state's.
        found: u64,
    },
    /// The state does not have the shape of the journal's states.
    Shape(DiffError),
    /// The label is not a valid name.
    Label(NameError),
    /// The journal would be larger than
    /// [`MAX_FILE_SIZE`](crate::format::MAX_FILE_SIZE): compact it.
    TooLarge {
        /// The size it would have, in bytes.
        size: u64,
    },
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppendError::GenerationNotAbove { last, found } => write!(
                f,
                "the state's generation {found} is not above the journal's last generation {last}"
            ),
            AppendError::Shape(e) => write!(f, "not a state of this journal: {e}"),
            AppendError::Label(e) => write!(f, "invalid label: {e}"),
            AppendError::TooLarge { size } => write!(
                f,
                "the journal would be {size} bytes, over the limit of {MAX_FILE_SIZE}; compact it"
            ),
        }
    }
}

impl core::error::Error for AppendError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            AppendError::Shape(e) => Some(e),
            AppendError::Label(e) => Some(e),
            _ => None,
        }
    }
}
