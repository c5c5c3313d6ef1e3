// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! A [`History`] read from a journal: its base state, then the state after
//! each record, with the record's label. It lives with the journal (the
//! format layer builds on the history layer, never the other way round),
//! and reads journals by [`replay`] alone.

use core::iter;

use super::{replay, Recovery};
use crate::format::DecodeError;
use crate::{History, Retention, Versioned};

impl<S: Versioned> History<S> {
    /// The history of the journal `bytes`: its base state, then the state
    /// after each good record with the record's label, kept as
    /// `retention` says, with the report of what reading the journal kept
    /// and discarded ([`Recovery`], as [`Journal::open`] gives it).
    ///
    /// It reads what [`format::replay`](crate::format::replay) reads: a
    /// journal that ends at a torn tail or at damage gives the versions up
    /// to its last good record, and the recovery says why it stopped
    /// ([`Recovery::is_torn_tail`], [`Recovery::is_corrupt`]). It fails
    /// only where `replay` does, on a header that cannot be read (nothing
    /// to recover).
    ///
    /// The versions are what recording each state live would have kept:
    /// the same states, generations, labels and changes, so `get`,
    /// `diff` and `blame` answer the same. (A byte budget in `retention`
    /// counts the blocks of these states as they were decoded, which
    /// need not be laid out as the live states were; so with a byte
    /// budget the two may keep a different number of versions.)
    ///
    /// [`Journal::open`]: crate::Journal::open
    ///
    /// Time: O(file size), plus O(k log n) per record of k changes (the
    /// record is applied, then diffed with the version before it, as
    /// `record` does). Memory: the versions kept, each sharing all but the
    /// paths its record changed with the one before
    /// ([`retained_bytes`](Self::retained_bytes)), which for a record of a
    /// few bytes may be a few KiB: for a journal from elsewhere, bound it
    /// with [`Retention::max_bytes`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::JournalWriter;
    /// use vm_allocator::{AllocPolicy, History, Made, Owner, ResourceSet, Retention};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let (mut journal, mut bytes) = JournalWriter::start(&vm, 7);
    /// let nvme0 = Owner::new("nvme0").unwrap();
    /// vm.owned_by(&nvme0)
    ///     .allocate("mmio32", 0x4000, 0x4000, AllocPolicy::FirstMatch)?;
    /// bytes.extend(journal.append(&vm, Some("hot-plug nvme0")).unwrap());
    /// vm.allocate_id("legacy_gsi")?;
    /// bytes.extend(journal.append(&vm, None).unwrap());
    ///
    /// let (history, recovery) =
    ///     History::<ResourceSet>::from_journal_bytes(&bytes, Retention::unbounded())?;
    /// assert!(recovery.is_clean());
    /// let versions: Vec<_> = history
    ///     .versions()
    ///     .map(|v| (v.generation(), v.label()))
    ///     .collect();
    /// assert_eq!(
    ///     versions,
    ///     [(0, None), (1, Some("hot-plug nvme0")), (2, None)]
    /// );
    /// let blame = history.blame(Some("mmio32"), 0xd000_0042).unwrap();
    /// assert_eq!((blame.made(), blame.owner()), (Made::At(1), Some(&nvme0)));
    ///
    /// // A crash cut the last append short: the versions before it.
    /// let (history, recovery) = History::<ResourceSet>::from_journal_bytes(
    ///     &bytes[..bytes.len() - 3],
    ///     Retention::unbounded(),
    /// )?;
    /// assert!(recovery.is_torn_tail());
    /// assert_eq!(history.latest().generation(), 1);
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn from_journal_bytes(
        bytes: &[u8],
        retention: Retention,
    ) -> Result<(History<S>, Recovery), DecodeError> {
        let mut records = replay::<S>(bytes)?;
        let base = (records.base().clone(), None);
        let versions = iter::once(base).chain(records.by_ref().map(|r| (r.state, r.label)));
        let history = History::from_versions(retention, versions)
            .expect("a replay hands out states of one shape, each at a generation above the last");
        let (_, recovery) = records.finish();
        Ok((history, recovery))
    }

    /// [`from_journal_bytes`](Self::from_journal_bytes) of the journal at
    /// `path`, read as [`Journal::read`](crate::Journal::read) reads it:
    /// without a lock and without changing the file (a torn tail stays),
    /// so a journal that `read` accepts gives its history, and the same
    /// recovery. Fails if the file cannot be read or its header is invalid
    /// ([`JournalError::Decode`](crate::JournalError::Decode)).
    ///
    /// Time: as `from_journal_bytes`, plus reading the file.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, History, Journal, Made, Owner, ResourceSet, Retention};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("vm.journal");
    /// let mut vm = ResourceSet::x86_64();
    /// let mut journal = Journal::create(&path, &vm)?;
    /// for device in ["virtio-net0", "virtio-blk0", "nvme0"] {
    ///     let owner = Owner::new(device).unwrap();
    ///     vm.owned_by(&owner)
    ///         .allocate("mmio32", 0x4000, 0x4000, AllocPolicy::FirstMatch)?;
    ///     journal.append_labeled(&vm, &format!("hot-plug {device}"))?;
    /// }
    ///
    /// // Which hot-plug took this BAR? Keep the last two versions only.
    /// let (history, recovery) =
    ///     History::<ResourceSet>::from_journal(&path, Retention::unbounded().max_versions(2))?;
    /// assert!(recovery.is_clean());
    /// let blame = history.blame(Some("mmio32"), 0xd000_9000).unwrap();
    /// assert_eq!(
    ///     blame.to_string(),
    ///     r#"mmio32 0xd0008000..=0xd000bfff (16 KiB) nvme0: made at generation 3 "hot-plug nvme0""#
    /// );
    /// // Older than the versions kept: made at or before the oldest.
    /// assert_eq!(
    ///     history.blame(Some("mmio32"), 0xd000_0000).unwrap().made(),
    ///     Made::AtOrBefore(2)
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn from_journal(
        path: impl AsRef<std::path::Path>,
        retention: Retention,
    ) -> Result<(History<S>, Recovery), super::JournalError> {
        let bytes = super::file::read_journal_file(path.as_ref())?;
        History::from_journal_bytes(&bytes, retention).map_err(super::JournalError::Decode)
    }
}
