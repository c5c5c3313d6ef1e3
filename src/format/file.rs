// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Saving state to a path and loading it back (needs `std`).
//!
//! A save replaces the file atomically: the bytes go to a new temporary file
//! in the same directory, which is flushed to disk, renamed over the target,
//! and the directory is flushed so that the rename itself is durable. After
//! a crash at any instant the target holds the complete old file or the
//! complete new one.
//!
//! A crash may leave a temporary file behind (`.NAME.PID-N.tmp`); it is
//! never read. A writer holds an exclusive lock on its temporary file from
//! the moment it creates it until the rename, so a temporary that can be
//! locked belongs to no live writer: every save removes those of its target
//! first ([`remove_stale_temporaries`] does it on demand), and never touches
//! another writer's file in progress. (Unix only; elsewhere leftovers stay.)

use std::ffi::OsString;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::state::FileState;
use super::{DecodeError, DecodeErrorKind, Field, MAX_FILE_SIZE};
#[cfg(test)]
use crate::{AddressAllocator, IdAllocator};

/// Why a state could not be read from a path.
///
/// # Examples
///
/// ```rust
/// use std::error::Error as _;
/// use vm_allocator::format::{DecodeErrorKind, ReadError};
/// use vm_allocator::IdAllocator;
///
/// let dir = tempfile::tempdir().unwrap();
/// let missing = IdAllocator::read_from_path(dir.path().join("gsi.vma")).unwrap_err();
/// assert!(matches!(&missing, ReadError::Io(e) if e.kind() == std::io::ErrorKind::NotFound));
/// assert!(missing.to_string().starts_with("cannot read the state file: "));
///
/// std::fs::write(dir.path().join("notes.txt"), "not a snapshot").unwrap();
/// let err = IdAllocator::read_from_path(dir.path().join("notes.txt")).unwrap_err();
/// match &err {
///     ReadError::Decode(e) => assert!(matches!(e.kind, DecodeErrorKind::BadMagic { .. })),
///     other => panic!("{other}"),
/// }
/// assert!(err.to_string().starts_with("invalid state file: magic at byte 0"));
/// assert!(err.source().is_some());
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// The file could not be opened or read.
    Io(io::Error),
    /// The file was read but its bytes are not a valid state.
    Decode(DecodeError),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "cannot read the state file: {e}"),
            ReadError::Decode(e) => write!(f, "invalid state file: {e}"),
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

impl From<DecodeError> for ReadError {
    fn from(e: DecodeError) -> Self {
        ReadError::Decode(e)
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io(e) => Some(e),
            ReadError::Decode(e) => Some(e),
        }
    }
}

/// Saves `state` to `path` in format `version`, replacing any file there
/// atomically.
pub(crate) fn write_to_path<T: FileState>(state: &T, path: &Path, version: u16) -> io::Result<()> {
    // Best effort: a leftover that cannot be removed does not stop a save.
    let _ = remove_stale_temporaries(path);
    let bytes = super::encode(state, version)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    replace_atomically(&mut RealSteps, path, &bytes)
}

/// Loads a state of `T`'s kind saved at `path`, with full validation.
pub(crate) fn read_from_path<T: FileState>(path: &Path) -> Result<T, ReadError> {
    let bytes = read_bounded(path)?;
    super::decode(&bytes).map_err(ReadError::Decode)
}

/// Reads the whole file, refusing one over the format's size limit without
/// reading it (or, if it grows meanwhile, past one byte over the limit).
pub(crate) fn read_bounded(path: &Path) -> Result<Vec<u8>, ReadError> {
    let too_large = |size: u64| {
        ReadError::Decode(DecodeError::new(
            0,
            Field::File,
            DecodeErrorKind::FileTooLarge {
                size,
                max: MAX_FILE_SIZE as u64,
            },
        ))
    };
    let file = File::open(path).map_err(ReadError::Io)?;
    let size = file.metadata().map_err(ReadError::Io)?.len();
    if size > MAX_FILE_SIZE as u64 {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(MAX_FILE_SIZE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() > MAX_FILE_SIZE {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// The steps of an atomic replace. Each call is a point where a crash may
/// strike; tests drive [`replace_atomically`] through a version that stops
/// for good after any step, as a killed process would.
pub(crate) trait Steps {
    /// An open file.
    type File;
    /// Creates `path`, failing if it exists.
    fn create_new(&mut self, path: &Path) -> io::Result<Self::File>;
    /// Writes some of `bytes`, returning how many.
    fn write(&mut self, file: &mut Self::File, bytes: &[u8]) -> io::Result<usize>;
    /// Flushes the file's data and metadata to disk.
    fn sync_file(&mut self, file: &mut Self::File) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to`.
    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()>;
    /// Flushes the directory's entries to disk.
    fn sync_dir(&mut self, dir: &Path) -> io::Result<()>;
    /// Removes a temporary file after a failure.
    fn remove(&mut self, path: &Path) -> io::Result<()>;

    // The steps of a journal (defaults: not supported).

    /// Opens the existing file `path` to read and append to, locked for
    /// this writer alone: `WouldBlock` if another writer holds it.
    fn open_locked(&mut self, _path: &Path) -> io::Result<Self::File> {
        Err(io::ErrorKind::Unsupported.into())
    }
    /// Reads the whole file, at most one byte over
    /// [`MAX_FILE_SIZE`]; writes then go to its end.
    fn read_all(&mut self, _file: &mut Self::File) -> io::Result<Vec<u8>> {
        Err(io::ErrorKind::Unsupported.into())
    }
    /// Cuts the file to `len` bytes; writes then go to its end.
    fn truncate(&mut self, _file: &mut Self::File, _len: u64) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
    /// Flushes the file's data, and the size needed to read it back, to
    /// disk (`fdatasync`).
    fn sync_data(&mut self, _file: &mut Self::File) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// The real file system.
pub(crate) struct RealSteps;

impl Steps for RealSteps {
    type File = File;

    fn create_new(&mut self, path: &Path) -> io::Result<File> {
        let file = OpenOptions::new().write(true).create_new(true).open(path)?;
        // Locked for as long as the save lasts, so that no clean-up takes it
        // for a crashed writer's leftover.
        match file.lock() {
            Ok(()) => {}
            // A file system without locks: nothing is ever cleaned there.
            Err(e) if e.kind() == io::ErrorKind::Unsupported => return Ok(file),
            Err(e) => return Err(e),
        }
        // A clean-up may have removed the file between its creation and the
        // lock: then take another name.
        if !still_at(&file, path) {
            return Err(io::ErrorKind::AlreadyExists.into());
        }
        Ok(file)
    }

    fn write(&mut self, file: &mut File, bytes: &[u8]) -> io::Result<usize> {
        file.write(bytes)
    }

    fn sync_file(&mut self, file: &mut File) -> io::Result<()> {
        file.sync_all()
    }

    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    #[cfg(unix)]
    fn sync_dir(&mut self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    #[cfg(not(unix))]
    fn sync_dir(&mut self, _dir: &Path) -> io::Result<()> {
        // Elsewhere a directory cannot be opened for syncing; the rename is
        // as durable as the platform makes it.
        Ok(())
    }

    fn remove(&mut self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn open_locked(&mut self, path: &Path) -> io::Result<File> {
        // A compaction may replace the file between the open and the
        // lock: then the lock is on a file no longer at `path`, and the
        // open is tried again.
        for _ in 0..16 {
            let file = OpenOptions::new().read(true).write(true).open(path)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(io::ErrorKind::WouldBlock.into())
                }
                // A file system without locks: one writer by convention.
                Err(std::fs::TryLockError::Error(e)) if e.kind() == io::ErrorKind::Unsupported => {
                    return Ok(file)
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
            }
            if still_at(&file, path) {
                return Ok(file);
            }
        }
        Err(io::Error::other(format!(
            "{} keeps being replaced",
            path.display()
        )))
    }

    fn read_all(&mut self, file: &mut File) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        file.take(MAX_FILE_SIZE as u64 + 1)
            .read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    fn truncate(&mut self, file: &mut File, len: u64) -> io::Result<()> {
        use std::io::Seek;
        file.set_len(len)?;
        file.seek(io::SeekFrom::End(0)).map(|_| ())
    }

    fn sync_data(&mut self, file: &mut File) -> io::Result<()> {
        file.sync_data()
    }
}

/// True if `path` still names the file `file` has open.
#[cfg(unix)]
fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn still_at(_file: &File, _path: &Path) -> bool {
    true
}

/// Removes the temporary files that crashed saves to `path` left behind
/// (`.NAME.PID-N.tmp` beside it) and that no live writer holds, and returns
/// how many it removed. A writer in progress holds a lock on its temporary
/// file, so it is never touched. Every save does this first; call it to
/// clean up without saving.
///
/// ```rust
/// use vm_allocator::format::remove_stale_temporaries;
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("vm.vmalloc");
/// // What a writer killed in the middle of a save leaves.
/// std::fs::write(dir.path().join(".vm.vmalloc.4242-0.tmp"), b"half a file").unwrap();
/// assert_eq!(
///     remove_stale_temporaries(&path).unwrap(),
///     if cfg!(unix) { 1 } else { 0 }
/// );
/// ```
///
/// Only on Unix, where the lock is known to work; elsewhere it removes
/// nothing and returns 0.
///
/// Time: O(entries of the directory).
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub fn remove_stale_temporaries(path: impl AsRef<Path>) -> io::Result<usize> {
    let path = path.as_ref();
    if !cfg!(unix) {
        return Ok(0);
    }
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} does not name a file", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let prefix = prefix.to_string_lossy().into_owned();
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        if !is_temporary_of(&file_name, &prefix) {
            continue;
        }
        let candidate = entry.path();
        let Ok(file) = File::open(&candidate) else {
            continue;
        };
        // Locked: a writer is at work. Unsupported: cannot tell; leave it.
        if file.try_lock().is_err() || !still_at(&file, &candidate) {
            continue;
        }
        if std::fs::remove_file(&candidate).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// True if `file_name` is `PREFIX` + `PID-N.tmp`, the name of a temporary
/// file of a save.
fn is_temporary_of(file_name: &str, prefix: &str) -> bool {
    let Some(rest) = file_name
        .strip_prefix(prefix)
        .and_then(|r| r.strip_suffix(".tmp"))
    else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    matches!(rest.split_once('-'), Some((pid, n)) if digits(pid) && digits(n))
}

/// Numbers the temporary files of this process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `target` with `bytes` so that it holds either its old content
/// or `bytes`, whenever the process or the machine stops.
pub(crate) fn replace_atomically<S: Steps>(
    steps: &mut S,
    target: &Path,
    bytes: &[u8],
) -> io::Result<()> {
    replace(steps, target, bytes, false).map(drop)
}

/// [`replace_atomically`], keeping the new file open (and locked, from
/// its creation as a temporary) to write more to it: a journal.
pub(crate) fn replace_keeping<S: Steps>(
    steps: &mut S,
    target: &Path,
    bytes: &[u8],
) -> io::Result<S::File> {
    let file = replace(steps, target, bytes, true)?;
    Ok(file.expect("kept"))
}

fn replace<S: Steps>(
    steps: &mut S,
    target: &Path,
    bytes: &[u8],
    keep: bool,
) -> io::Result<Option<S::File>> {
    let name = target.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} does not name a file", target.display()),
        )
    })?;
    // The same directory, so that the rename never crosses file systems.
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let (mut file, temp) = create_temp(steps, dir, name)?;
    let written = write_all(steps, &mut file, bytes).and_then(|()| steps.sync_file(&mut file));
    // Kept open through the rename only when asked: some platforms do not
    // rename an open file.
    let kept = if keep { Some(file) } else { None };
    if let Err(e) = written.and_then(|()| steps.rename(&temp, target)) {
        // Best effort: the error that matters is the one above.
        let _ = steps.remove(&temp);
        return Err(e);
    }
    steps.sync_dir(dir)?;
    Ok(kept)
}

/// Creates a temporary file beside the target under a name no other writer
/// (nor a leftover of a crashed one) uses.
fn create_temp<S: Steps>(
    steps: &mut S,
    dir: &Path,
    name: &std::ffi::OsStr,
) -> io::Result<(S::File, PathBuf)> {
    loop {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut temp_name = OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{}-{n}.tmp", std::process::id()));
        let temp = dir.join(temp_name);
        match steps.create_new(&temp) {
            Ok(file) => return Ok((file, temp)),
            // A leftover from a crashed process that had our pid.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

pub(crate) fn write_all<S: Steps>(
    steps: &mut S,
    file: &mut S::File,
    mut bytes: &[u8],
) -> io::Result<()> {
    while !bytes.is_empty() {
        match steps.write(file, bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Steps that crash, and a file system in memory, for the crash tests of
/// saves and journals.
#[cfg(test)]
pub(crate) mod testing {
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::io;
    use std::path::{Path, PathBuf};
    use std::rc::Rc;

    use super::Steps;

    /// `inner`'s steps, with a crash after `budget` of them: from then on
    /// every step fails and does nothing, clean-up included, as when the
    /// process is killed. Writes go `chunk` bytes at a time.
    pub(crate) struct CrashAfter<S> {
        pub(crate) inner: S,
        budget: usize,
        chunk: usize,
        pub(crate) done: Vec<&'static str>,
    }

    impl<S> CrashAfter<S> {
        pub(crate) fn new(inner: S, budget: usize, chunk: usize) -> Self {
            CrashAfter {
                inner,
                budget,
                chunk,
                done: Vec::new(),
            }
        }

        fn step(&mut self, name: &'static str) -> io::Result<()> {
            if self.done.len() == self.budget {
                return Err(io::Error::other("crashed"));
            }
            self.done.push(name);
            Ok(())
        }
    }

    impl<S: Steps> Steps for CrashAfter<S> {
        type File = S::File;

        fn create_new(&mut self, path: &Path) -> io::Result<S::File> {
            self.step("create")?;
            self.inner.create_new(path)
        }

        fn write(&mut self, file: &mut S::File, bytes: &[u8]) -> io::Result<usize> {
            self.step("write")?;
            let n = bytes.len().min(self.chunk);
            self.inner.write(file, &bytes[..n])
        }

        fn sync_file(&mut self, file: &mut S::File) -> io::Result<()> {
            self.step("sync")?;
            self.inner.sync_file(file)
        }

        fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
            self.step("rename")?;
            self.inner.rename(from, to)
        }

        fn sync_dir(&mut self, dir: &Path) -> io::Result<()> {
            self.step("sync_dir")?;
            self.inner.sync_dir(dir)
        }

        fn remove(&mut self, path: &Path) -> io::Result<()> {
            self.step("remove")?;
            self.inner.remove(path)
        }

        fn open_locked(&mut self, path: &Path) -> io::Result<S::File> {
            self.step("open")?;
            self.inner.open_locked(path)
        }

        fn read_all(&mut self, file: &mut S::File) -> io::Result<Vec<u8>> {
            self.step("read")?;
            self.inner.read_all(file)
        }

        fn truncate(&mut self, file: &mut S::File, len: u64) -> io::Result<()> {
            self.step("truncate")?;
            self.inner.truncate(file, len)
        }

        fn sync_data(&mut self, file: &mut S::File) -> io::Result<()> {
            self.step("sync_data")?;
            self.inner.sync_data(file)
        }
    }

    /// One file: its bytes, and how many of them a flush made durable.
    #[derive(Clone, Debug, Default)]
    struct MemFile {
        bytes: Vec<u8>,
        durable: usize,
    }

    #[derive(Clone, Debug, Default)]
    struct Tree {
        names: BTreeMap<PathBuf, usize>,
        files: Vec<MemFile>,
    }

    /// A file system in memory. A handle is a file (an inode), so a file
    /// keeps its handles through a rename. What was written stays (a
    /// killed process); [`MemFs::power_losses`] gives what a power cut
    /// could leave instead. A rename replaces the target at once and for
    /// good. Clones share the files: a test keeps one to look at what a
    /// crashed writer left.
    #[derive(Clone, Debug, Default)]
    pub(crate) struct MemFs(Rc<RefCell<Tree>>);

    impl MemFs {
        /// The bytes of the file at `path`.
        pub(crate) fn get(&self, path: &Path) -> Option<Vec<u8>> {
            let tree = self.0.borrow();
            let &inode = tree.names.get(path)?;
            Some(tree.files[inode].bytes.clone())
        }

        /// Puts a file at `path`, flushed.
        pub(crate) fn insert(&self, path: &Path, bytes: Vec<u8>) {
            let mut tree = self.0.borrow_mut();
            let durable = bytes.len();
            tree.files.push(MemFile { bytes, durable });
            let inode = tree.files.len() - 1;
            tree.names.insert(path.to_path_buf(), inode);
        }

        /// How many temporary files of saves there are.
        pub(crate) fn temp_files(&self) -> usize {
            self.0
                .borrow()
                .names
                .keys()
                .filter(|p| p.to_string_lossy().ends_with(".tmp"))
                .count()
        }

        /// What a power cut could leave of the file at `path`, each a copy
        /// of the file system: of what was written and not flushed, any
        /// part (cut at every length), or zeros where it was.
        pub(crate) fn power_losses(&self, path: &Path) -> Vec<MemFs> {
            let tree = self.0.borrow();
            let Some(&inode) = tree.names.get(path) else {
                return vec![self.deep_copy()];
            };
            let file = &tree.files[inode];
            let mut variants = Vec::new();
            for cut in file.durable..=file.bytes.len() {
                let mut copy = tree.clone();
                copy.files[inode].bytes.truncate(cut);
                variants.push(MemFs(Rc::new(RefCell::new(copy))));
            }
            if file.durable < file.bytes.len() {
                let mut copy = tree.clone();
                copy.files[inode].bytes[file.durable..].fill(0);
                variants.push(MemFs(Rc::new(RefCell::new(copy))));
            }
            variants
        }

        fn deep_copy(&self) -> MemFs {
            MemFs(Rc::new(RefCell::new(self.0.borrow().clone())))
        }
    }

    impl Steps for MemFs {
        type File = usize;

        fn create_new(&mut self, path: &Path) -> io::Result<usize> {
            let mut tree = self.0.borrow_mut();
            if tree.names.contains_key(path) {
                return Err(io::ErrorKind::AlreadyExists.into());
            }
            tree.files.push(MemFile::default());
            let inode = tree.files.len() - 1;
            tree.names.insert(path.to_path_buf(), inode);
            Ok(inode)
        }

        fn write(&mut self, file: &mut usize, bytes: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().files[*file]
                .bytes
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn sync_file(&mut self, file: &mut usize) -> io::Result<()> {
            let mut tree = self.0.borrow_mut();
            let f = &mut tree.files[*file];
            f.durable = f.bytes.len();
            Ok(())
        }

        fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
            let mut tree = self.0.borrow_mut();
            let inode = tree.names.remove(from).ok_or(io::ErrorKind::NotFound)?;
            tree.names.insert(to.to_path_buf(), inode);
            Ok(())
        }

        fn sync_dir(&mut self, _: &Path) -> io::Result<()> {
            Ok(())
        }

        fn remove(&mut self, path: &Path) -> io::Result<()> {
            self.0
                .borrow_mut()
                .names
                .remove(path)
                .map(|_| ())
                .ok_or(io::ErrorKind::NotFound.into())
        }

        fn open_locked(&mut self, path: &Path) -> io::Result<usize> {
            let tree = self.0.borrow();
            tree.names
                .get(path)
                .copied()
                .ok_or(io::ErrorKind::NotFound.into())
        }

        fn read_all(&mut self, file: &mut usize) -> io::Result<Vec<u8>> {
            Ok(self.0.borrow().files[*file].bytes.clone())
        }

        fn truncate(&mut self, file: &mut usize, len: u64) -> io::Result<()> {
            let mut tree = self.0.borrow_mut();
            let f = &mut tree.files[*file];
            f.bytes.truncate(len as usize);
            f.durable = f.durable.min(f.bytes.len());
            Ok(())
        }

        fn sync_data(&mut self, file: &mut usize) -> io::Result<()> {
            self.sync_file(file)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{CrashAfter, MemFs};
    use super::*;
    use crate::AllocPolicy;

    /// Crashes a save in memory after every step and every partial write,
    /// with and without an old file, and checks what a reader then finds.
    fn crash_everywhere_in_memory(with_old: bool, chunk: usize) {
        let old = allocator_with(3).to_bytes();
        let new = allocator_with(40).to_bytes();
        let path = Path::new("/vm/state");
        let mut budget = 0;
        loop {
            let fs = MemFs::default();
            if with_old {
                fs.insert(path, old.clone());
            }
            let mut steps = CrashAfter::new(fs, budget, chunk);
            let result = replace_atomically(&mut steps, path, &new);
            let renamed = steps.done.contains(&"rename");
            let fs = steps.inner;
            match fs.get(path) {
                Some(found) if renamed => assert_eq!(found, new, "after {:?}", steps.done),
                Some(found) => {
                    assert!(with_old, "a file appeared before the rename");
                    assert_eq!(found, old, "after {:?}", steps.done);
                }
                None => assert!(
                    !with_old && !renamed,
                    "lost the file after {:?}",
                    steps.done
                ),
            }
            let crashed_with_a_temp = result.is_err() && steps.done.contains(&"create") && !renamed;
            assert_eq!(fs.temp_files(), usize::from(crashed_with_a_temp));
            if result.is_ok() {
                assert_eq!(steps.done.last(), Some(&"sync_dir"));
                break;
            }
            budget += 1;
        }
        // create, every write, sync, rename, sync_dir: each a crash point.
        assert_eq!(budget, new.len().div_ceil(chunk) + 4);
    }

    fn allocator_with(pages: u64) -> AddressAllocator {
        let mut a = AddressAllocator::new(1 << 32, 1 << 40).unwrap();
        for _ in 0..pages {
            a.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch).unwrap();
        }
        a
    }

    fn temp_files(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count()
    }

    /// Crashes a save after every step and every partial write, with and
    /// without an old file, and checks what a reader then finds.
    fn crash_everywhere(with_old: bool, chunk: usize) {
        let old = allocator_with(3);
        let new = allocator_with(40);
        let mut budget = 0;
        loop {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("state");
            if with_old {
                old.write_to_path(&path).unwrap();
            }
            let mut steps = CrashAfter::new(RealSteps, budget, chunk);
            let result = replace_atomically(&mut steps, &path, &new.to_bytes());
            let renamed = steps.done.contains(&"rename");
            match AddressAllocator::read_from_path(&path) {
                Ok(found) if renamed => assert_eq!(found, new, "after {:?}", steps.done),
                Ok(found) => {
                    assert!(with_old, "a file appeared before the rename");
                    assert_eq!(found, old, "after {:?}", steps.done);
                }
                Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
                    assert!(
                        !with_old && !renamed,
                        "lost the file after {:?}",
                        steps.done
                    )
                }
                Err(e) => panic!("unreadable after {:?}: {e}", steps.done),
            }
            let crashed_with_a_temp = result.is_err() && steps.done.contains(&"create") && !renamed;
            if crashed_with_a_temp {
                assert_eq!(temp_files(dir.path()), 1, "the crash leaves its temp file");
            }
            // Whatever a crash left behind, a later save and load work, and
            // the later save removes the crash's leftover (unix).
            let later = allocator_with(7);
            later.write_to_path(&path).unwrap();
            assert_eq!(AddressAllocator::read_from_path(&path).unwrap(), later);
            let left = if cfg!(unix) {
                0
            } else {
                usize::from(crashed_with_a_temp)
            };
            assert_eq!(temp_files(dir.path()), left, "after {:?}", steps.done);
            if result.is_ok() {
                assert_eq!(steps.done.last(), Some(&"sync_dir"));
                break;
            }
            budget += 1;
        }
        let writes = new.to_bytes().len().div_ceil(chunk);
        // create, every write, sync, rename, sync_dir: each a crash point.
        assert_eq!(budget, writes + 4);
    }

    #[test]
    fn crash_at_any_step_leaves_old_or_new() {
        crash_everywhere_in_memory(true, 1);
        crash_everywhere_in_memory(true, 16);
    }

    #[test]
    fn crash_without_an_old_file_leaves_nothing_or_new() {
        crash_everywhere_in_memory(false, 7);
    }

    #[test]
    fn crash_at_any_step_on_a_real_disk() {
        // Fewer, larger writes: here it is the real files, locks and
        // clean-up that are under test.
        crash_everywhere(true, 64);
        crash_everywhere(false, 128);
    }

    #[test]
    fn failed_write_removes_its_temp_file() {
        struct FailingWrite;
        impl Steps for FailingWrite {
            type File = File;
            fn create_new(&mut self, path: &Path) -> io::Result<File> {
                RealSteps.create_new(path)
            }
            fn write(&mut self, _: &mut File, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn sync_file(&mut self, file: &mut File) -> io::Result<()> {
                RealSteps.sync_file(file)
            }
            fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
                RealSteps.rename(from, to)
            }
            fn sync_dir(&mut self, dir: &Path) -> io::Result<()> {
                RealSteps.sync_dir(dir)
            }
            fn remove(&mut self, path: &Path) -> io::Result<()> {
                RealSteps.remove(path)
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let err = replace_atomically(&mut FailingWrite, &path, b"bytes").unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn names_held_by_live_writers_are_skipped_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids");
        let n = TEMP_COUNTER.load(Ordering::Relaxed);
        // Squat on the next few names, as writers at work would (other
        // tests may take names meanwhile): each holds its file's lock.
        let mut held = Vec::new();
        for k in n..n + 64 {
            let squat = dir
                .path()
                .join(format!(".ids.{}-{k}.tmp", std::process::id()));
            std::fs::write(&squat, b"half a file").unwrap();
            let file = File::open(&squat).unwrap();
            file.lock().unwrap();
            held.push(file);
        }
        let ids = IdAllocator::new(0, 9).unwrap();
        ids.write_to_path(&path).unwrap();
        assert_eq!(IdAllocator::read_from_path(&path).unwrap(), ids);
        assert_eq!(
            temp_files(dir.path()),
            64,
            "a live writer's file was touched"
        );
        // The writers die: their files are leftovers now.
        drop(held);
        let removed = remove_stale_temporaries(&path).unwrap();
        let expected = if cfg!(unix) { 64 } else { 0 };
        assert_eq!(removed, expected);
        assert_eq!(temp_files(dir.path()), 64 - expected);
        assert_eq!(IdAllocator::read_from_path(&path).unwrap(), ids);
    }

    #[test]
    fn only_temporaries_of_the_target_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vm");
        for name in [
            ".vm.1-2.tmp",      // a leftover of vm
            ".vm.x-2.tmp",      // not a pid
            ".vm.1-2.tmp.keep", // not ours
            ".vmm.1-2.tmp",     // another target's
            "vm.1-2.tmp",       // not hidden
            ".other.1-2.tmp",   // another target's
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let removed = remove_stale_temporaries(&path).unwrap();
        assert_eq!(removed, usize::from(cfg!(unix)));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 6 - removed);
        assert!(is_temporary_of(".vm.12-0.tmp", ".vm."));
        assert!(!is_temporary_of(".vm.12-.tmp", ".vm."));
        assert!(!is_temporary_of(".vm.-1.tmp", ".vm."));
    }

    #[test]
    fn paths_without_a_file_name_are_refused() {
        let err = replace_atomically(&mut RealSteps, Path::new("/"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn oversized_and_damaged_files_are_decode_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let file = File::create(&path).unwrap();
        file.set_len(MAX_FILE_SIZE as u64 + 1).unwrap();
        match IdAllocator::read_from_path(&path) {
            Err(ReadError::Decode(e)) => assert_eq!(
                e.kind,
                DecodeErrorKind::FileTooLarge {
                    size: MAX_FILE_SIZE as u64 + 1,
                    max: MAX_FILE_SIZE as u64
                }
            ),
            other => panic!("{other:?}"),
        }
        std::fs::write(&path, b"hello").unwrap();
        let err = IdAllocator::read_from_path(&path).unwrap_err();
        assert!(matches!(&err, ReadError::Decode(e) if e.field == Field::Magic));
        assert!(err
            .to_string()
            .starts_with("invalid state file: magic at byte 0"));
    }
}
