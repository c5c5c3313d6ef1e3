// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! A journal in a file (needs `std`): created and compacted crash-safely,
//! appended to durably, opened with recovery, one writer at a time.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::{replay, AppendError, Discard, JournalWriter, Recovery};
use crate::format::file::{remove_stale_temporaries, replace_keeping, write_all, RealSteps, Steps};
use crate::format::DecodeError;
use crate::Versioned;

/// Incremental, crash-safe persistence of a state in one file: the full
/// state once, then one small record per change, each checksummed and
/// chained to the one before it (`FORMAT.md` section 13). A VMM appends
/// every change it commits; after a crash, a live update or a migration,
/// [`open`](Self::open) gives back exactly the last change it
/// acknowledged.
///
/// - [`create`](Self::create) writes a new journal of a state, atomically
///   (a temporary file, synced, renamed over the path, the directory
///   synced), as [`write_to_path`](crate::ResourceSet::write_to_path)
///   does.
/// - [`append`](Self::append) (or
///   [`append_labeled`](Self::append_labeled)) adds the record of a newer
///   state and returns only once it is durable.
///   [`append_buffered`](Self::append_buffered) and
///   [`sync`](Self::sync) batch the flushes.
/// - [`open`](Self::open) reads it back, stops at the first record that
///   fails, and reports what it kept and discarded, and why ([`Recovery`]):
///   a torn tail after a crash (normal: cut off right away) or damage
///   (corruption: left in place; appends are refused until
///   [`compact`](Self::compact) rewrites the journal from the last good
///   state). [`open_strict`](Self::open_strict) refuses any discarded
///   byte. [`read`](Self::read) reads without writing or locking.
/// - [`compact`](Self::compact) rewrites the journal as one full state,
///   atomically.
/// - One writer at a time: `create`, `open` and `open_strict` lock the
///   file (`File::lock`, an advisory lock) for as long as the `Journal`
///   lives, and fail with [`JournalError::Locked`] while another writer
///   holds it.
///
/// # Durability
///
/// `append` writes the record with one `write` and then calls
/// `fdatasync` (`File::sync_data`; on Apple platforms `F_FULLFSYNC`),
/// and returns `Ok` only after both. `fdatasync` is enough: a record is
/// data appended to the file, and `fdatasync` flushes the data and the
/// file size needed to read it back (it skips only metadata such as the
/// modification time). `append_buffered` only writes: the record survives
/// a crash of the process (the kernel has it), not a power loss or a
/// kernel crash, until the next `sync`, `append` or `compact` returns.
///
/// So a power loss loses at most the appends that had not returned and
/// the buffered appends not synced since; it never loses an append that
/// returned `Ok` (on a disk that honours flushes). What it may leave is a
/// torn tail, which the next `open` cuts off. A failed write is undone (the
/// file is cut back); if that fails too, or a flush fails, the journal is
/// broken ([`JournalError::Broken`]): Linux may drop the pages of a failed
/// flush and report the next one as a success, so only a fresh `open`
/// (which reads what really is on disk) is trusted. An append that returned
/// an error may or may not be in the journal.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{AllocPolicy, Journal, Owner, ResourceSet};
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("vm.journal");
///
/// let mut vm = ResourceSet::x86_64();
/// let mut journal = Journal::create(&path, &vm).unwrap();
/// let nvme = Owner::new("nvme0").unwrap();
/// let mut tx = vm.transaction();
/// tx.owned_by(&nvme).allocate_ids("msi_gsi", 8, 8).unwrap();
/// tx.owned_by(&nvme)
///     .allocate("mmio64", 1 << 24, 1 << 24, AllocPolicy::FirstMatch)
///     .unwrap();
/// tx.commit().unwrap();
/// journal.append_labeled(&vm, "hot-plug nvme0").unwrap(); // durable when it returns
/// drop(journal);
///
/// // The VMM restarts: exactly the last acknowledged state.
/// let (journal, recovery) = Journal::<ResourceSet>::open(&path).unwrap();
/// assert!(recovery.is_clean());
/// assert_eq!(journal.state(), &vm);
/// assert_eq!(journal.records(), 1);
/// ```
pub struct Journal<S: Versioned> {
    core: JournalCore<S, RealSteps>,
}

impl<S: Versioned + fmt::Debug> fmt::Debug for Journal<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.core.path)
            .field("generation", &self.core.writer.generation())
            .field("records", &self.core.writer.records())
            .field("len", &self.core.writer.len())
            .finish_non_exhaustive()
    }
}

impl<S: Versioned> Journal<S> {
    /// Creates a journal of `state` at `path`, replacing any file there
    /// atomically (after a crash, `path` holds the old file or the new
    /// journal, never a mix), and opens it for appending. A new journal
    /// gets a new random id, so no record of another journal chains to
    /// it. Fails with [`JournalError::Locked`] while a writer holds a
    /// journal at `path`. (The lock guards a journal that exists: two
    /// processes creating the same path at once both succeed, and the one
    /// that renames last holds the journal at `path`. Give each journal one
    /// creator.)
    ///
    /// Time: O(n) plus the I/O (two flushes).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Journal, JournalError};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("gsi.journal");
    /// let gsi = IdAllocator::new(5, 23).unwrap();
    /// let journal = Journal::create(&path, &gsi).unwrap();
    /// assert_eq!((journal.records(), journal.generation()), (0, 0));
    /// // One writer at a time.
    /// assert!(matches!(
    ///     Journal::create(&path, &gsi),
    ///     Err(JournalError::Locked)
    /// ));
    /// ```
    pub fn create(path: impl AsRef<Path>, state: &S) -> Result<Self, JournalError> {
        let path = path.as_ref();
        // Best effort: a leftover that cannot be removed does not stop us.
        let _ = remove_stale_temporaries(path);
        let core = JournalCore::create(RealSteps, path, state, random_id())?;
        Ok(Journal { core })
    }

    /// Opens the journal at `path` for appending, and returns it with the
    /// report of what reading it kept and discarded; its
    /// [`state`](Self::state) is that of the last good record.
    ///
    /// - A torn tail (a crash during an append, [`Recovery::is_torn_tail`])
    ///   is normal: it is cut off here (and the cut flushed), and appends
    ///   continue after the last good record.
    /// - Damage ([`Recovery::is_corrupt`]: records lost that no crash
    ///   explains) is left in the file, and appends are refused with
    ///   [`JournalError::Corrupt`]: [`compact`](Self::compact) rewrites the
    ///   journal from the last good state, discarding it, when the caller
    ///   decides to. [`open_strict`](Self::open_strict) refuses both.
    ///
    /// Fails if the file cannot be read, its header is invalid
    /// ([`JournalError::Decode`]: nothing to recover), or another writer
    /// holds it.
    ///
    /// Time: O(file size) plus O(k log n) per record of k changes.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Journal};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("ids.journal");
    /// let mut ids = IdAllocator::new(0, 99).unwrap();
    /// let mut journal = Journal::create(&path, &ids).unwrap();
    /// ids.allocate_id().unwrap();
    /// journal.append(&ids).unwrap();
    /// let acknowledged = ids.clone();
    /// ids.allocate_id().unwrap();
    /// journal.append(&ids).unwrap();
    /// drop(journal);
    ///
    /// // A crash cut the last append short.
    /// let len = std::fs::metadata(&path).unwrap().len();
    /// std::fs::OpenOptions::new()
    ///     .write(true)
    ///     .open(&path)
    ///     .unwrap()
    ///     .set_len(len - 2)
    ///     .unwrap();
    ///
    /// let (journal, recovery) = Journal::<IdAllocator>::open(&path).unwrap();
    /// assert!(recovery.is_torn_tail());
    /// assert_eq!(journal.state(), &acknowledged);
    /// assert_eq!(std::fs::metadata(&path).unwrap().len(), journal.len()); // cut off
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<(Self, Recovery), JournalError> {
        // Best effort: the compactions of killed writers leave temporaries.
        let _ = remove_stale_temporaries(path.as_ref());
        let (core, recovery) = JournalCore::open(RealSteps, path.as_ref())?;
        Ok((Journal { core }, recovery))
    }

    /// Opens the journal at `path` for appending only if reading it
    /// discards nothing: no torn tail, no damage. Otherwise fails with
    /// [`JournalError::Discarded`] and the report, and leaves the file as
    /// it is.
    ///
    /// Time: as [`open`](Self::open).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Journal, JournalError};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("ids.journal");
    /// let mut ids = IdAllocator::new(0, 99).unwrap();
    /// let mut journal = Journal::create(&path, &ids).unwrap();
    /// ids.allocate_id().unwrap();
    /// journal.append(&ids).unwrap();
    /// drop(journal);
    /// assert_eq!(
    ///     Journal::<IdAllocator>::open_strict(&path).unwrap().state(),
    ///     &ids
    /// );
    ///
    /// let mut bytes = std::fs::read(&path).unwrap();
    /// bytes.push(0x07); // a record that never finished
    /// std::fs::write(&path, &bytes).unwrap();
    /// match Journal::<IdAllocator>::open_strict(&path) {
    ///     Err(JournalError::Discarded(recovery)) => assert_eq!(recovery.discarded, 1),
    ///     other => panic!("{other:?}"),
    /// }
    /// assert_eq!(std::fs::read(&path).unwrap(), bytes); // untouched
    /// ```
    pub fn open_strict(path: impl AsRef<Path>) -> Result<Self, JournalError> {
        let core = JournalCore::open_strict(RealSteps, path.as_ref())?;
        Ok(Journal { core })
    }

    /// Reads the journal at `path` without opening it for appending: no
    /// lock, and nothing is written (a torn tail stays). Returns the state
    /// of the last good record and the report.
    ///
    /// To walk the records one by one, read the file and use
    /// [`format::replay`](crate::format::replay).
    ///
    /// Time: O(file size) plus O(k log n) per record.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Journal};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("ids.journal");
    /// let mut ids = IdAllocator::new(0, 99).unwrap();
    /// let mut journal = Journal::create(&path, &ids).unwrap();
    /// ids.allocate_id().unwrap();
    /// journal.append(&ids).unwrap();
    /// // Readable while the writer holds it.
    /// let (state, recovery) = Journal::<IdAllocator>::read(&path).unwrap();
    /// assert_eq!((state, recovery.records), (ids, 1));
    /// ```
    pub fn read(path: impl AsRef<Path>) -> Result<(S, Recovery), JournalError> {
        let bytes = read_journal_file(path.as_ref())?;
        let (end, recovery) = replay::<S>(&bytes).map_err(JournalError::Decode)?.finish();
        Ok((end.state().clone(), recovery))
    }

    /// Appends the record of `state` (made from the last state: see
    /// [`JournalWriter`]) and returns once it is durable (see
    /// [Durability](#durability)).
    ///
    /// Fails, and adds nothing, if `state`'s generation is not above the
    /// last one or it is not of the journal's shape
    /// ([`JournalError::Append`]), or the journal is damaged or broken.
    ///
    /// Time: O(k log n) plus a write and a flush.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Journal};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("mmio.journal");
    /// let mut mmio = AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap();
    /// let mut journal = Journal::create(&path, &mmio).unwrap();
    /// mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
    ///     .unwrap();
    /// let before = journal.len();
    /// journal.append(&mmio).unwrap();
    /// assert!(journal.len() - before < 64); // one small record
    /// assert_eq!(journal.state(), &mmio);
    /// ```
    pub fn append(&mut self, state: &S) -> Result<(), JournalError> {
        self.core.append(state, None, true)
    }

    /// [`append`](Self::append) with a label (a name: 1 to 64 bytes of
    /// UTF-8 without a control character), which `vmalloc log` shows.
    ///
    /// Time: as `append`.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format;
    /// use vm_allocator::{IdAllocator, Journal};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("ids.journal");
    /// let mut ids = IdAllocator::new(0, 99).unwrap();
    /// let mut journal = Journal::create(&path, &ids).unwrap();
    /// ids.allocate_ids(4, 4).unwrap();
    /// journal.append_labeled(&ids, "msi for nvme0").unwrap();
    /// let bytes = std::fs::read(&path).unwrap();
    /// let record = format::replay::<IdAllocator>(&bytes)
    ///     .unwrap()
    ///     .next()
    ///     .unwrap();
    /// assert_eq!(record.label, Some("msi for nvme0"));
    /// ```
    pub fn append_labeled(&mut self, state: &S, label: &str) -> Result<(), JournalError> {
        self.core.append(state, Some(label), true)
    }

    /// [`append`](Self::append) without the flush: the record is written
    /// to the file (it survives a crash of the process) but is durable
    /// only once [`sync`](Self::sync), `append` or `compact` returns.
    ///
    /// Time: O(k log n) plus a write.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Journal};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("ids.journal");
    /// let mut ids = IdAllocator::new(0, 999).unwrap();
    /// let mut journal = Journal::create(&path, &ids).unwrap();
    /// for _ in 0..100 {
    ///     ids.allocate_id().unwrap();
    ///     journal.append_buffered(&ids).unwrap();
    /// }
    /// journal.sync().unwrap(); // one flush for the hundred records
    /// assert_eq!(journal.records(), 100);
    /// ```
    pub fn append_buffered(&mut self, state: &S) -> Result<(), JournalError> {
        self.core.append(state, None, false)
    }

    /// [`append_buffered`](Self::append_buffered) with a label.
    ///
    /// Time: as `append_buffered`.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Journal, ResourceSet};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("vm.journal");
    /// let mut vm = ResourceSet::x86_64();
    /// let mut journal = Journal::create(&path, &vm).unwrap();
    /// vm.allocate_id("legacy_gsi").unwrap();
    /// journal.append_buffered_labeled(&vm, "serial0").unwrap();
    /// journal.sync().unwrap();
    /// assert_eq!(Journal::<ResourceSet>::read(&path).unwrap().0, vm);
    /// ```
    pub fn append_buffered_labeled(&mut self, state: &S, label: &str) -> Result<(), JournalError> {
        self.core.append(state, Some(label), false)
    }

    /// Makes every buffered append durable (one flush); nothing to do if
    /// there is none.
    ///
    /// Time: a flush.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Journal};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("ids.journal");
    /// let mut ids = IdAllocator::new(0, 9).unwrap();
    /// let mut journal = Journal::create(&path, &ids).unwrap();
    /// journal.sync().unwrap(); // nothing buffered
    /// ids.allocate_id().unwrap();
    /// journal.append_buffered(&ids).unwrap();
    /// journal.sync().unwrap();
    /// ```
    pub fn sync(&mut self) -> Result<(), JournalError> {
        self.core.sync()
    }

    /// Rewrites the journal as one full state (the last one), atomically:
    /// after a crash the path holds the old journal or the new one. The
    /// new journal gets a new id. This is also how a damaged journal is
    /// repaired: what was discarded is gone once this returns. Temporaries
    /// left beside the journal by killed compactions are removed first (as
    /// [`open`](Self::open) and [`create`](Self::create) do).
    ///
    /// Time: O(n) plus the I/O (two flushes).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Journal};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("ids.journal");
    /// let mut ids = IdAllocator::new(0, 999).unwrap();
    /// let mut journal = Journal::create(&path, &ids).unwrap();
    /// for _ in 0..50 {
    ///     ids.allocate_id().unwrap();
    ///     journal.append(&ids).unwrap();
    /// }
    /// let long = journal.len();
    /// journal.compact().unwrap();
    /// assert_eq!((journal.records(), journal.state()), (0, &ids));
    /// assert!(journal.len() < long);
    /// ids.allocate_id().unwrap();
    /// journal.append(&ids).unwrap(); // appends go on after it
    /// ```
    pub fn compact(&mut self) -> Result<(), JournalError> {
        // Best effort, as in `create`: only unlocked temporaries go, so a
        // writer at work elsewhere keeps its own.
        let _ = remove_stale_temporaries(&self.core.path);
        self.core.compact(random_id())
    }

    /// The last state: that of the last record (or of the base). Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Journal};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let gsi = IdAllocator::new(5, 23).unwrap();
    /// let journal = Journal::create(dir.path().join("j"), &gsi).unwrap();
    /// assert_eq!(journal.state(), &gsi);
    /// ```
    pub fn state(&self) -> &S {
        self.core.writer.state()
    }

    /// The last state's generation. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Journal};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut ids = IdAllocator::new(0, 9).unwrap();
    /// let mut journal = Journal::create(dir.path().join("j"), &ids).unwrap();
    /// ids.allocate_id().unwrap();
    /// journal.append(&ids).unwrap();
    /// assert_eq!(journal.generation(), 1);
    /// ```
    pub fn generation(&self) -> u64 {
        self.core.writer.generation()
    }

    /// The number of records after the base state. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Journal};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let journal = Journal::create(dir.path().join("j"), &IdAllocator::new(0, 9).unwrap()).unwrap();
    /// assert_eq!(journal.records(), 0);
    /// ```
    pub fn records(&self) -> u64 {
        self.core.writer.records()
    }

    /// The size of the journal in bytes, as far as this writer wrote it.
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Journal};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("j");
    /// let journal = Journal::create(&path, &IdAllocator::new(0, 9).unwrap()).unwrap();
    /// assert_eq!(journal.len(), std::fs::metadata(&path).unwrap().len());
    /// ```
    #[allow(clippy::len_without_is_empty)] // a journal always has a header
    pub fn len(&self) -> u64 {
        self.core.writer.len()
    }

    /// The journal's id: random, new at every `create` and `compact`.
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Journal};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let ids = IdAllocator::new(0, 9).unwrap();
    /// let mut journal = Journal::create(dir.path().join("j"), &ids).unwrap();
    /// let first = journal.id();
    /// journal.compact().unwrap();
    /// assert_ne!(journal.id(), first);
    /// ```
    pub fn id(&self) -> u64 {
        self.core.writer.id()
    }

    /// The path the journal was created or opened at. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Journal};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("j");
    /// let journal = Journal::create(&path, &IdAllocator::new(0, 9).unwrap()).unwrap();
    /// assert_eq!(journal.path(), path);
    /// ```
    pub fn path(&self) -> &Path {
        &self.core.path
    }
}

/// Why a journal could not be created, opened, appended to or compacted.
///
/// ```rust
/// use vm_allocator::format::AppendError;
/// use vm_allocator::{IdAllocator, Journal, JournalError};
///
/// let dir = tempfile::tempdir().unwrap();
/// let mut ids = IdAllocator::new(0, 9).unwrap();
/// let mut journal = Journal::create(dir.path().join("j"), &ids).unwrap();
/// let err = journal.append(&ids).unwrap_err();
/// assert!(matches!(err, JournalError::Append(AppendError::GenerationNotAbove { last: 0, found: 0 })));
/// assert_eq!(
///     err.to_string(),
///     "cannot append: the state's generation 0 is not above the journal's last generation 0"
/// );
/// let missing = Journal::<IdAllocator>::open(dir.path().join("none")).unwrap_err();
/// assert!(matches!(missing, JournalError::Io(e) if e.kind() == std::io::ErrorKind::NotFound));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum JournalError {
    /// Reading or writing the file failed.
    Io(io::Error),
    /// The journal's header is invalid: nothing can be recovered.
    Decode(DecodeError),
    /// [`Journal::open_strict`]: reading the journal would discard bytes.
    Discarded(Box<Recovery>),
    /// The journal is damaged after its last good record (see
    /// [`Journal::open`]): no appends until [`Journal::compact`].
    Corrupt(Box<Discard>),
    /// Another writer holds the journal.
    Locked,
    /// The state cannot be appended.
    Append(AppendError),
    /// An earlier write or flush failed, so where the file ends is not
    /// known: open the journal again.
    Broken,
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalError::Io(e) => write!(f, "journal I/O failed: {e}"),
            JournalError::Decode(e) => write!(f, "invalid journal: {e}"),
            JournalError::Discarded(r) => write!(f, "the journal is not intact: {r}"),
            JournalError::Corrupt(d) => write!(
                f,
                "the journal is damaged ({d}); compact it to go on from the last good record"
            ),
            JournalError::Locked => f.write_str("another writer holds the journal"),
            JournalError::Append(e) => write!(f, "cannot append: {e}"),
            JournalError::Broken => {
                f.write_str("an earlier write or flush of the journal failed; open it again")
            }
        }
    }
}

impl std::error::Error for JournalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JournalError::Io(e) => Some(e),
            JournalError::Decode(e) => Some(e),
            JournalError::Append(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for JournalError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::WouldBlock {
            JournalError::Locked
        } else {
            JournalError::Io(e)
        }
    }
}

/// The bytes of the journal at `path`, for the readers that take no lock
/// ([`Journal::read`], `History::from_journal`): up to
/// [`MAX_FILE_SIZE`](crate::format::MAX_FILE_SIZE), as every file reader.
pub(super) fn read_journal_file(path: &Path) -> Result<Vec<u8>, JournalError> {
    crate::format::file::read_bounded(path).map_err(|e| match e {
        crate::format::ReadError::Io(e) => JournalError::Io(e),
        crate::format::ReadError::Decode(e) => JournalError::Decode(e),
    })
}

/// A new journal id: random (std's per-process random hash keys), mixed
/// with the time, the process and a counter.
fn random_id() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    h.finish()
}

/// A journal over any [`Steps`], so that the crash tests can stop it
/// after any step.
pub(crate) struct JournalCore<S, St: Steps> {
    pub(crate) steps: St,
    file: St::File,
    path: PathBuf,
    pub(crate) writer: JournalWriter<S>,
    /// Records written and not yet flushed.
    unsynced: bool,
    /// The damage found by `open`; appends wait for a compaction.
    corrupt: Option<Discard>,
    /// A write could not be undone or a flush failed.
    broken: bool,
    /// Room for the next record.
    buffer: Vec<u8>,
}

impl<S: Versioned, St: Steps> JournalCore<S, St> {
    pub(crate) fn create(
        mut steps: St,
        path: &Path,
        state: &S,
        id: u64,
    ) -> Result<Self, JournalError> {
        // A writer holding the old journal keeps it: refuse. Hold the old
        // file's lock until the new one replaces it.
        let old = match steps.open_locked(path) {
            Ok(file) => Some(file),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        let (writer, header) = JournalWriter::start(state, id);
        let file = replace_keeping(&mut steps, path, &header)?;
        drop(old);
        Ok(JournalCore {
            steps,
            file,
            path: path.to_path_buf(),
            writer,
            unsynced: false,
            corrupt: None,
            broken: false,
            buffer: Vec::new(),
        })
    }

    /// Opens and reads the journal; the file is not changed yet.
    fn read(
        mut steps: St,
        path: &Path,
    ) -> Result<(St, St::File, JournalWriter<S>, Recovery), JournalError> {
        let mut file = steps.open_locked(path)?;
        let bytes = steps.read_all(&mut file)?;
        let (writer, recovery) = replay::<S>(&bytes).map_err(JournalError::Decode)?.finish();
        Ok((steps, file, writer, recovery))
    }

    pub(crate) fn open(steps: St, path: &Path) -> Result<(Self, Recovery), JournalError> {
        let (mut steps, mut file, writer, recovery) = Self::read(steps, path)?;
        let mut corrupt = None;
        if recovery.is_torn_tail() {
            // A crash's leftover: cut it off for good before anything is
            // appended after it.
            steps.truncate(&mut file, recovery.len as u64)?;
            steps.sync_file(&mut file)?;
        } else if let Some(discard) = recovery.discard {
            corrupt = Some(discard);
        }
        let core = JournalCore {
            steps,
            file,
            path: path.to_path_buf(),
            writer,
            unsynced: false,
            corrupt,
            broken: false,
            buffer: Vec::new(),
        };
        Ok((core, recovery))
    }

    pub(crate) fn open_strict(steps: St, path: &Path) -> Result<Self, JournalError> {
        let (steps, file, writer, recovery) = Self::read(steps, path)?;
        if !recovery.is_clean() {
            return Err(JournalError::Discarded(Box::new(recovery)));
        }
        Ok(JournalCore {
            steps,
            file,
            path: path.to_path_buf(),
            writer,
            unsynced: false,
            corrupt: None,
            broken: false,
            buffer: Vec::new(),
        })
    }

    fn usable(&self) -> Result<(), JournalError> {
        if self.broken {
            return Err(JournalError::Broken);
        }
        match self.corrupt {
            Some(discard) => Err(JournalError::Corrupt(Box::new(discard))),
            None => Ok(()),
        }
    }

    pub(crate) fn append(
        &mut self,
        state: &S,
        label: Option<&str>,
        sync: bool,
    ) -> Result<(), JournalError> {
        self.usable()?;
        self.buffer.clear();
        let prepared = self
            .writer
            .prepare(state, label, &mut self.buffer)
            .map_err(JournalError::Append)?;
        if let Err(e) = write_all(&mut self.steps, &mut self.file, &self.buffer) {
            // Undo a partial write, so that the next record follows the
            // last good one.
            let len = self.writer.len();
            if self.steps.truncate(&mut self.file, len).is_err() {
                self.broken = true;
            }
            return Err(JournalError::Io(e));
        }
        self.unsynced = true;
        if sync {
            self.flush()?;
        }
        self.writer.commit(prepared);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), JournalError> {
        if let Err(e) = self.steps.sync_data(&mut self.file) {
            self.broken = true;
            return Err(JournalError::Io(e));
        }
        self.unsynced = false;
        Ok(())
    }

    pub(crate) fn sync(&mut self) -> Result<(), JournalError> {
        if self.broken {
            return Err(JournalError::Broken);
        }
        if self.unsynced {
            self.flush()?;
        }
        Ok(())
    }

    pub(crate) fn compact(&mut self, id: u64) -> Result<(), JournalError> {
        if self.broken {
            return Err(JournalError::Broken);
        }
        let (writer, header) = JournalWriter::start(self.writer.state(), id);
        // The old file stays open, and locked, until the new one has
        // replaced it.
        let file = replace_keeping(&mut self.steps, &self.path, &header)?;
        self.file = file;
        self.writer = writer;
        self.unsynced = false;
        self.corrupt = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::file::testing::{CrashAfter, MemFs};
    use crate::{AllocPolicy, Owner, ResourceSet};

    /// A small VM's states, each one or two edits after the one before.
    fn states() -> Vec<ResourceSet> {
        let mut vm = ResourceSet::new();
        vm.add_id_pool("gsi", 5, 23).unwrap();
        vm.add_address_pool("mmio", 0xd000_0000, 0x1000_0000)
            .unwrap();
        let mut out = vec![vm.clone()];
        for i in 0..9u64 {
            let owner = Owner::new(&format!("dev{}", i % 3)).unwrap();
            match i % 3 {
                0 => {
                    vm.owned_by(&owner).allocate_id("gsi").unwrap();
                }
                1 => {
                    vm.owned_by(&owner)
                        .allocate("mmio", 0x1000 << i, 0x1000, AllocPolicy::FirstMatch)
                        .unwrap();
                    vm.allocate_id("gsi").unwrap();
                }
                _ => {
                    assert!(!vm.free_owner("dev0").is_empty());
                }
            }
            out.push(vm.clone());
        }
        out
    }

    #[derive(Clone, Copy, Debug)]
    enum Op {
        Create(u64),
        Append(usize, Option<&'static str>, bool),
        Sync,
        Compact(u64),
        Reopen,
    }

    const SCRIPT: &[Op] = &[
        Op::Create(1),
        Op::Append(1, None, true),
        Op::Append(2, Some("two"), true),
        Op::Append(3, None, false),
        Op::Append(4, Some("four"), false),
        Op::Sync,
        Op::Append(5, None, false),
        Op::Compact(2),
        Op::Append(6, None, true),
        Op::Append(7, None, false),
        Op::Reopen,
        Op::Append(8, Some("eight"), true),
    ];

    type Core<St> = JournalCore<ResourceSet, St>;

    /// What the script got done before the crash: the last state known
    /// durable, and the last state written at all.
    struct Outcome {
        acked: Option<usize>,
        attempted: Option<usize>,
        steps: usize,
        finished: bool,
    }

    /// Runs the script on `fs` with a crash after `budget` steps.
    fn run(fs: &MemFs, path: &Path, budget: usize, chunk: usize) -> Outcome {
        let states = states();
        let mut steps = Some(CrashAfter::new(fs.clone(), budget, chunk));
        let mut core: Option<Core<CrashAfter<MemFs>>> = None;
        let (mut acked, mut attempted, mut last_written) = (None, None, None);
        let mut finished = true;
        for op in SCRIPT {
            let result = match *op {
                Op::Create(id) => {
                    attempted = Some(0);
                    Core::create(steps.take().unwrap(), path, &states[0], id).map(|c| {
                        core = Some(c);
                        acked = Some(0);
                        last_written = Some(0);
                    })
                }
                Op::Append(i, label, sync) => {
                    attempted = Some(i);
                    let c = core.as_mut().unwrap();
                    c.append(&states[i], label, sync).map(|()| {
                        last_written = Some(i);
                        if sync {
                            acked = Some(i);
                        }
                    })
                }
                Op::Sync => core.as_mut().unwrap().sync().map(|()| acked = last_written),
                Op::Compact(id) => core
                    .as_mut()
                    .unwrap()
                    .compact(id)
                    .map(|()| acked = last_written),
                Op::Reopen => {
                    let c = core.take().unwrap();
                    Core::open(c.steps, path).map(|(c, recovery)| {
                        assert!(recovery.is_clean(), "{recovery}");
                        core = Some(c);
                    })
                }
            };
            if result.is_err() {
                finished = false;
                break;
            }
        }
        let steps = match (&core, &steps) {
            (Some(c), _) => c.steps.done.len(),
            (None, Some(s)) => s.done.len(),
            (None, None) => budget,
        };
        Outcome {
            acked,
            attempted,
            steps,
            finished,
        }
    }

    /// After a crash, each thing a power cut could have left: opening it
    /// gives an acknowledged state or a later one written before the
    /// crash, exactly, and never reports damage; and the journal goes on.
    fn check_after(
        fs: &MemFs,
        path: &Path,
        old: Option<&[u8]>,
        outcome: &Outcome,
        what: &str,
    ) -> (usize, usize) {
        let states = states();
        let (mut opened_count, mut torn) = (0, 0);
        for (v, variant) in fs.power_losses(path).into_iter().enumerate() {
            if outcome.acked.is_none() && old.is_some() && variant.get(path).as_deref() == old {
                // Not replaced yet: the old file, whole.
                continue;
            }
            let opened = Core::<MemFs>::open(variant.clone(), path);
            let (mut core, recovery) = match (opened, outcome.acked) {
                (Err(JournalError::Io(e)), None) if e.kind() == io::ErrorKind::NotFound => continue,
                (Ok(found), _) => found,
                (Err(e), _) => panic!("{what}, variant {v}: {e}"),
            };
            assert!(!recovery.is_corrupt(), "{what}, variant {v}: {recovery}");
            opened_count += 1;
            torn += usize::from(recovery.is_torn_tail());
            let state = core.writer.state().clone();
            let j = states
                .iter()
                .position(|s| *s == state && s.generation() == state.generation())
                .unwrap_or_else(|| panic!("{what}, variant {v}: a state never written"));
            let low = outcome.acked.unwrap_or(0);
            let high = outcome.attempted.unwrap_or(0);
            assert!(
                (low..=high).contains(&j),
                "{what}, variant {v}: state {j}, acknowledged {low}, attempted {high}"
            );
            // The journal goes on from there.
            if let Some(next) = states.get(j + 1) {
                core.append(next, Some("after"), true).unwrap();
                drop(core);
                let (core, recovery) = Core::<MemFs>::open(variant, path).unwrap();
                assert!(recovery.is_clean(), "{what}, variant {v}: {recovery}");
                assert_eq!(core.writer.state(), next);
            }
        }
        (opened_count, torn)
    }

    /// Returns the steps of the whole script, the journals opened after a
    /// crash and how many of them had a torn tail.
    fn crash_everywhere(chunk: usize, with_old: bool) -> (usize, usize, usize) {
        let path = Path::new("/vm/journal");
        let mut budget = 0;
        let (mut opened, mut torn) = (0, 0);
        let old = with_old.then_some(&b"an old file, not a journal"[..]);
        loop {
            let fs = MemFs::default();
            if let Some(old) = old {
                fs.insert(path, old.to_vec());
            }
            let outcome = run(&fs, path, budget, chunk);
            let what = format!("budget {budget}, chunk {chunk}");
            let (o, t) = check_after(&fs, path, old, &outcome, &what);
            opened += o;
            torn += t;
            if outcome.finished {
                assert_eq!(outcome.acked, Some(8));
                return (outcome.steps, opened, torn);
            }
            budget += 1;
        }
    }

    #[test]
    fn every_crash_point_keeps_every_acknowledged_append() {
        // Writes a byte at a time: every partial record is a crash point.
        let (steps, opened, torn) = crash_everywhere(1, false);
        eprintln!("{steps} steps; {opened} journals opened after a crash, {torn} with a torn tail");
        assert!(steps > 300 && opened > 10_000 && torn > 1_000);
        crash_everywhere(5, true);
        crash_everywhere(64, false);
    }

    /// MemFs whose writes stop after three bytes with an error, and whose
    /// flushes fail, when asked.
    struct Faulty {
        fs: MemFs,
        short_writes: bool,
        failed_flushes: bool,
    }

    impl Steps for Faulty {
        type File = usize;
        fn create_new(&mut self, p: &Path) -> io::Result<usize> {
            self.fs.create_new(p)
        }
        fn write(&mut self, f: &mut usize, b: &[u8]) -> io::Result<usize> {
            match (self.short_writes, b.len() > 3) {
                (false, _) => self.fs.write(f, b),
                (true, true) => self.fs.write(f, &b[..3]),
                (true, false) => Err(io::Error::other("disk full")),
            }
        }
        fn sync_file(&mut self, f: &mut usize) -> io::Result<()> {
            self.fs.sync_file(f)
        }
        fn rename(&mut self, a: &Path, b: &Path) -> io::Result<()> {
            self.fs.rename(a, b)
        }
        fn sync_dir(&mut self, d: &Path) -> io::Result<()> {
            self.fs.sync_dir(d)
        }
        fn remove(&mut self, p: &Path) -> io::Result<()> {
            self.fs.remove(p)
        }
        fn open_locked(&mut self, p: &Path) -> io::Result<usize> {
            self.fs.open_locked(p)
        }
        fn read_all(&mut self, f: &mut usize) -> io::Result<Vec<u8>> {
            self.fs.read_all(f)
        }
        fn truncate(&mut self, f: &mut usize, len: u64) -> io::Result<()> {
            self.fs.truncate(f, len)
        }
        fn sync_data(&mut self, f: &mut usize) -> io::Result<()> {
            if self.failed_flushes {
                return Err(io::Error::other("flush failed"));
            }
            self.fs.sync_data(f)
        }
    }

    #[test]
    fn a_failed_write_is_undone_and_a_failed_flush_breaks_the_journal() {
        let states = states();
        let path = Path::new("/vm/journal");
        let fs = MemFs::default();
        let faulty = Faulty {
            fs: fs.clone(),
            short_writes: false,
            failed_flushes: false,
        };
        let mut core = Core::create(faulty, path, &states[0], 1).unwrap();
        core.append(&states[1], None, true).unwrap();
        let good = fs.get(path).unwrap();

        // A write that stops half-way: the file is cut back, nothing is
        // counted, and the next append goes where the record would have.
        core.steps.short_writes = true;
        let err = core.append(&states[2], None, true).unwrap_err();
        assert!(matches!(&err, JournalError::Io(e) if e.to_string() == "disk full"));
        assert_eq!(fs.get(path).unwrap(), good);
        assert_eq!(core.writer.state(), &states[1]);
        core.steps.short_writes = false;
        core.append(&states[2], None, true).unwrap();
        let good = fs.get(path).unwrap();

        // A flush that fails: broken until opened again.
        core.steps.failed_flushes = true;
        assert!(matches!(
            core.append(&states[3], None, true),
            Err(JournalError::Io(_))
        ));
        assert!(matches!(
            core.append(&states[4], None, true),
            Err(JournalError::Broken)
        ));
        assert!(matches!(core.sync(), Err(JournalError::Broken)));
        assert!(matches!(core.compact(9), Err(JournalError::Broken)));
        // The record was written, not acknowledged: a new open may find it.
        let (core, recovery) = Core::<MemFs>::open(fs.clone(), path).unwrap();
        assert!(recovery.is_clean());
        assert_eq!(core.writer.state(), &states[3]);
        assert!(fs.get(path).unwrap().starts_with(&good));
    }
}
