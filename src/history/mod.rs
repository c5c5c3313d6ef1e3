// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Versions of a state, kept: [`History`], and [`Blame`].

mod births;
mod blame;
mod error;
mod ledger;
mod tracked;

use alloc::boxed::Box;
use alloc::collections::vec_deque::{self, VecDeque};
use core::fmt;
use core::iter::{Enumerate, FusedIterator};

use crate::{Diff, Versioned};
use births::Births;
use ledger::Ledger;

pub use blame::{Blame, Made};
pub use error::HistoryError;
pub(crate) use tracked::Tracked;

/// How many versions a [`History`] keeps: the last N, at most so many
/// bytes, both, or everything (the default).
///
/// After each recorded version the history drops its oldest versions while
/// it keeps more than `max_versions`, or while it retains more than
/// `max_bytes` ([`History::retained_bytes`]). The latest version is always
/// kept, even alone above the byte budget.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{History, IdAllocator, Retention};
///
/// let retention = Retention::unbounded().max_versions(3).max_bytes(1 << 20);
/// assert_eq!(
///     (retention.version_limit(), retention.byte_limit()),
///     (Some(3), Some(1 << 20))
/// );
///
/// let mut gsi = IdAllocator::new(5, 23)?;
/// let mut history = History::with_retention(gsi.clone(), retention);
/// for _ in 0..5 {
///     gsi.allocate_id()?;
///     history.record(&gsi).unwrap();
/// }
/// let kept: Vec<u64> = history.versions().map(|v| v.generation()).collect();
/// assert_eq!(kept, [3, 4, 5]);
/// # Ok::<(), vm_allocator::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Retention {
    max_versions: Option<usize>,
    max_bytes: Option<usize>,
}

impl Retention {
    /// Keep every version.
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::Retention;
    ///
    /// assert_eq!(Retention::unbounded(), Retention::default());
    /// assert_eq!(Retention::unbounded().version_limit(), None);
    /// ```
    pub const fn unbounded() -> Retention {
        Retention {
            max_versions: None,
            max_bytes: None,
        }
    }

    /// Keep at most the last `versions` versions (0 counts as 1: the
    /// latest is always kept).
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::Retention;
    ///
    /// assert_eq!(
    ///     Retention::unbounded().max_versions(100).version_limit(),
    ///     Some(100)
    /// );
    /// assert_eq!(
    ///     Retention::unbounded().max_versions(0).version_limit(),
    ///     Some(1)
    /// );
    /// ```
    pub const fn max_versions(self, versions: usize) -> Retention {
        Retention {
            max_versions: Some(if versions == 0 { 1 } else { versions }),
            ..self
        }
    }

    /// Retain at most `bytes` ([`History::retained_bytes`]), dropping the
    /// oldest versions first; the latest is kept whatever its size.
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::Retention;
    ///
    /// assert_eq!(
    ///     Retention::unbounded().max_bytes(64 << 20).byte_limit(),
    ///     Some(64 << 20)
    /// );
    /// ```
    pub const fn max_bytes(self, bytes: usize) -> Retention {
        Retention {
            max_bytes: Some(bytes),
            ..self
        }
    }

    /// The most versions kept, if bounded.
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::Retention;
    ///
    /// assert_eq!(
    ///     Retention::unbounded().max_bytes(1 << 20).version_limit(),
    ///     None
    /// );
    /// ```
    pub const fn version_limit(&self) -> Option<usize> {
        self.max_versions
    }

    /// The most bytes retained, if bounded.
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::Retention;
    ///
    /// assert_eq!(Retention::unbounded().max_versions(8).byte_limit(), None);
    /// ```
    pub const fn byte_limit(&self) -> Option<usize> {
        self.max_bytes
    }
}

/// Versions of an [`IdAllocator`](crate::IdAllocator),
/// [`AddressAllocator`](crate::AddressAllocator) or
/// [`ResourceSet`](crate::ResourceSet), kept as they were recorded, by
/// generation.
///
/// Recording a version keeps a clone of the state: O(1), and the clone
/// shares every node with the version before except those the edits in
/// between copied, so a version one allocation apart from the last costs
/// the few nodes of one path (see [`retained_bytes`](Self::retained_bytes)).
/// Any kept version can be read back ([`get`](Self::get)) and diffed with
/// any other ([`diff`](Self::diff)), and [`blame`](Self::blame) says which
/// version made the allocation that holds an address or an id now.
/// A [`Retention`] bounds what is kept, by count or by bytes. A journal
/// gives a history too: its base state, then the state after each record
/// with the record's label ([`from_journal_bytes`](Self::from_journal_bytes),
/// and with `std`, `from_journal` of a path).
///
/// Generations are strictly increasing: a state whose generation is not
/// above the latest version's is refused. Versions need not be one
/// mutation apart; each is compared with the one before.
///
/// ```rust
/// use vm_allocator::{AllocPolicy, History, Made, Owner, ResourceSet};
///
/// let mut vm = ResourceSet::x86_64();
/// let mut history = History::new(vm.clone());
///
/// let net0 = Owner::new("virtio-net0").unwrap();
/// vm.owned_by(&net0).allocate_id("legacy_gsi")?;
/// vm.owned_by(&net0)
///     .allocate("mmio32", 0x4000, 0x4000, AllocPolicy::FirstMatch)?;
/// history.record_labeled(&vm, "hot-plug virtio-net0").unwrap();
///
/// let nvme0 = Owner::new("nvme0").unwrap();
/// vm.owned_by(&nvme0)
///     .allocate("mmio32", 0x4000, 0x4000, AllocPolicy::FirstMatch)?;
/// history.record_labeled(&vm, "hot-plug nvme0").unwrap();
///
/// // Which hot-plug took this BAR, and when?
/// let blame = history.blame(Some("mmio32"), 0xd000_5000).unwrap();
/// assert_eq!(blame.owner(), Some(&nvme0));
/// assert_eq!(
///     (blame.made(), blame.label()),
///     (Made::At(3), Some("hot-plug nvme0"))
/// );
///
/// // Any two versions, diffed; any version, read back.
/// assert_eq!(history.diff(0, 3).unwrap().len(), 3);
/// assert!(history
///     .get(2)
///     .unwrap()
///     .addresses("mmio32")
///     .unwrap()
///     .is_allocated(0xd000_0000));
/// assert_eq!(history.get(1), None); // never recorded
/// # Ok::<(), vm_allocator::SetError>(())
/// ```
#[derive(Clone)]
pub struct History<S> {
    /// The kept versions, oldest first.
    versions: VecDeque<Kept<S>>,
    /// The sequence number of `versions[0]`: versions are numbered 0, 1,
    /// ... in the order they were recorded.
    first_seq: u64,
    retention: Retention,
    /// The blocks the kept versions reach.
    ledger: Ledger,
    /// Bytes of the kept labels.
    label_bytes: usize,
    /// When each allocation of the latest version was made.
    births: Births,
}

/// One kept version.
#[derive(Clone)]
struct Kept<S> {
    state: S,
    label: Option<Box<str>>,
    /// Changes from the version recorded before it.
    changes: usize,
}

impl<S: Versioned> History<S> {
    /// A history whose first version is `state`, keeping every version.
    ///
    /// Time: O(blocks of `state`) to count its bytes: O(n / node size).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{History, IdAllocator};
    ///
    /// let gsi = IdAllocator::new(5, 23)?;
    /// let history = History::new(gsi.clone());
    /// assert_eq!(history.latest(), &gsi);
    /// assert_eq!(history.versions().len(), 1);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn new(state: S) -> History<S> {
        History::with_retention(state, Retention::unbounded())
    }

    /// A history whose first version is `state`, keeping what `retention`
    /// says.
    ///
    /// Time: as [`new`](Self::new).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{History, ResourceSet, Retention};
    ///
    /// let history = History::with_retention(
    ///     ResourceSet::x86_64(),
    ///     Retention::unbounded().max_versions(64),
    /// );
    /// assert_eq!(history.retention().version_limit(), Some(64));
    /// ```
    pub fn with_retention(state: S, retention: Retention) -> History<S> {
        let mut ledger = Ledger::default();
        ledger.add(&state);
        History {
            versions: VecDeque::from([Kept {
                state,
                label: None,
                changes: 0,
            }]),
            first_seq: 0,
            retention,
            ledger,
            label_bytes: 0,
            births: Births::default(),
        }
    }

    /// A history of `versions`, oldest first, each with its label, kept as
    /// `retention` says. ([`from_journal_bytes`](Self::from_journal_bytes)
    /// and, with `std`, `from_journal` build one from a journal's records.)
    ///
    /// Fails with [`HistoryError::Empty`] if there is none, and otherwise
    /// as [`record`](Self::record) fails for the first version it refuses.
    ///
    /// Time: as `new` for the first version and `record` for each other.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{History, HistoryError, IdAllocator, Retention};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let mut versions = vec![(gsi.clone(), Some("boot".to_string()))];
    /// for _ in 0..3 {
    ///     gsi.allocate_id()?;
    ///     versions.push((gsi.clone(), None));
    /// }
    /// let history = History::from_versions(Retention::unbounded(), versions.clone()).unwrap();
    /// let labels: Vec<_> = history
    ///     .versions()
    ///     .map(|v| (v.generation(), v.label()))
    ///     .collect();
    /// assert_eq!(labels, [(0, Some("boot")), (1, None), (2, None), (3, None)]);
    ///
    /// versions.swap(1, 2);
    /// let err = History::from_versions(Retention::unbounded(), versions).unwrap_err();
    /// assert_eq!(
    ///     err,
    ///     HistoryError::NotAbove {
    ///         latest: 2,
    ///         found: 1
    ///     }
    /// );
    /// let none: Vec<(IdAllocator, Option<&str>)> = Vec::new();
    /// assert_eq!(
    ///     History::from_versions(Retention::unbounded(), none).unwrap_err(),
    ///     HistoryError::Empty
    /// );
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn from_versions<L: AsRef<str>>(
        retention: Retention,
        versions: impl IntoIterator<Item = (S, Option<L>)>,
    ) -> Result<History<S>, HistoryError> {
        let mut versions = versions.into_iter();
        let (first, label) = versions.next().ok_or(HistoryError::Empty)?;
        let mut history = History::with_retention(first, retention);
        if let Some(label) = label {
            history.label_bytes = label.as_ref().len();
            history.versions[0].label = Some(label.as_ref().into());
        }
        for (state, label) in versions {
            history.push(&state, label.as_ref().map(AsRef::as_ref))?;
        }
        Ok(history)
    }

    /// Keeps `state` as the latest version.
    ///
    /// Fails if its generation is not above the latest version's
    /// ([`HistoryError::NotAbove`]), or if it is not of the same shape
    /// ([`HistoryError::ShapeMismatch`]: another range or space, other
    /// pools); the history is then unchanged. Then drops the oldest
    /// versions that the [`Retention`] no longer allows.
    ///
    /// Time: O(1) to keep the clone, plus the diff with the latest version
    /// (O(k (log n + node size)) for a state edited k times since, O(n) for
    /// one that shares nothing with it), plus O(log B) per new heap block
    /// and per reference out of one (B blocks kept; after k edits, O(k log
    /// n) blocks are new); the same again for each version dropped.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{History, HistoryError, IdAllocator};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let mut history = History::new(gsi.clone());
    /// let older = gsi.clone();
    /// gsi.allocate_id()?;
    /// history.record(&gsi).unwrap();
    /// assert_eq!(history.latest().generation(), 1);
    /// // An older state is refused, saying why.
    /// assert_eq!(
    ///     history.record(&older),
    ///     Err(HistoryError::NotAbove {
    ///         latest: 1,
    ///         found: 0
    ///     })
    /// );
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn record(&mut self, state: &S) -> Result<(), HistoryError> {
        self.push(state, None)
    }

    /// [`record`](Self::record), with a label for the version (shown by
    /// [`versions`](Self::versions) and [`blame`](Self::blame)).
    ///
    /// Time: as `record`, plus O(label length).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, History, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let mut history = History::new(vm.clone());
    /// vm.allocate("mmio32", 0x1000, 0x1000, AllocPolicy::FirstMatch)?;
    /// history.record_labeled(&vm, "hot-plug nvme0").unwrap();
    /// assert_eq!(
    ///     history.versions().last().unwrap().label(),
    ///     Some("hot-plug nvme0")
    /// );
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn record_labeled(&mut self, state: &S, label: &str) -> Result<(), HistoryError> {
        self.push(state, Some(label))
    }

    fn push(&mut self, state: &S, label: Option<&str>) -> Result<(), HistoryError> {
        let latest = self.latest();
        if state.generation() <= latest.generation() {
            return Err(HistoryError::NotAbove {
                latest: latest.generation(),
                found: state.generation(),
            });
        }
        let diff = Diff::between(latest, state).map_err(HistoryError::ShapeMismatch)?;
        let seq = self.first_seq + self.versions.len() as u64;
        self.births.record(&diff, seq);
        self.ledger.add(state);
        self.label_bytes += label.map_or(0, str::len);
        self.versions.push_back(Kept {
            state: state.clone(),
            label: label.map(Box::from),
            changes: diff.len(),
        });
        self.retain();
        Ok(())
    }

    /// Drops the oldest versions while the retention asks for it; returns
    /// how many.
    fn retain(&mut self) -> usize {
        let mut dropped = 0;
        while self.versions.len() > 1 && self.over_budget() {
            self.drop_oldest();
            dropped += 1;
        }
        dropped
    }

    fn over_budget(&self) -> bool {
        let Retention {
            max_versions,
            max_bytes,
        } = self.retention;
        max_versions.is_some_and(|max| self.versions.len() > max)
            || max_bytes.is_some_and(|max| self.retained_bytes() > max)
    }

    fn drop_oldest(&mut self) {
        let Some(old) = self.versions.pop_front() else {
            return;
        };
        self.first_seq += 1;
        // What the new oldest version made is now as old as the history
        // goes: blame says "at or before" for it.
        if let Some(next) = self.versions.front() {
            if let Ok(diff) = Diff::between(&old.state, &next.state) {
                self.births.forget(&diff, self.first_seq);
            }
        }
        self.ledger.remove(&old.state);
        self.label_bytes -= old.label.as_deref().map_or(0, str::len);
    }

    /// Keeps what `retention` says from now on, dropping the oldest
    /// versions it does not allow at once; returns how many were dropped.
    ///
    /// Time: as dropping versions in [`record`](Self::record).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{History, IdAllocator, Retention};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let mut history = History::new(gsi.clone());
    /// for _ in 0..4 {
    ///     gsi.allocate_id()?;
    ///     history.record(&gsi).unwrap();
    /// }
    /// assert_eq!(
    ///     history.set_retention(Retention::unbounded().max_versions(2)),
    ///     3
    /// );
    /// assert_eq!(history.oldest().generation(), 3);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn set_retention(&mut self, retention: Retention) -> usize {
        self.retention = retention;
        self.retain()
    }

    /// What the history keeps.
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{History, IdAllocator, Retention};
    ///
    /// let history = History::new(IdAllocator::new(0, 7)?);
    /// assert_eq!(history.retention(), Retention::unbounded());
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// The latest version.
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{History, IdAllocator};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let mut history = History::new(gsi.clone());
    /// gsi.allocate_id()?;
    /// history.record(&gsi).unwrap();
    /// assert!(history.latest().is_allocated(5));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn latest(&self) -> &S {
        &self.versions[self.versions.len() - 1].state
    }

    /// The oldest version kept.
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{History, IdAllocator};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let mut history = History::new(gsi.clone());
    /// gsi.allocate_id()?;
    /// history.record(&gsi).unwrap();
    /// assert_eq!(history.oldest().used(), 0);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn oldest(&self) -> &S {
        &self.versions[0].state
    }

    /// The kept version at `generation`, if any.
    ///
    /// Time: O(log V), V = versions kept (a binary search).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{History, IdAllocator};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let mut history = History::new(gsi.clone());
    /// gsi.allocate_id()?;
    /// gsi.allocate_id()?;
    /// history.record(&gsi).unwrap();
    /// assert_eq!(history.get(2).unwrap().used(), 2);
    /// assert_eq!(history.get(0).unwrap().used(), 0);
    /// assert_eq!(history.get(1), None); // never recorded
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn get(&self, generation: u64) -> Option<&S> {
        self.index_of(generation).map(|i| &self.versions[i].state)
    }

    fn index_of(&self, generation: u64) -> Option<usize> {
        self.versions
            .binary_search_by_key(&generation, |kept| kept.state.generation())
            .ok()
    }

    /// The kept versions, oldest first, with their generations, labels and
    /// numbers of changes.
    ///
    /// Time: O(1) per step.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{History, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let mut history = History::new(vm.clone());
    /// vm.allocate_id("legacy_gsi")?;
    /// vm.allocate_ids("msi_gsi", 4, 4)?;
    /// history.record_labeled(&vm, "hot-plug net0").unwrap();
    /// let lines: Vec<String> = history
    ///     .versions()
    ///     .map(|v| format!("{} {:?} {:?}", v.generation(), v.label(), v.changes()))
    ///     .collect();
    /// assert_eq!(lines, ["0 None None", r#"2 Some("hot-plug net0") Some(2)"#]);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn versions(&self) -> Versions<'_, S> {
        Versions(self.versions.iter().enumerate())
    }

    /// What changed from the kept version at generation `from` to the one
    /// at `to` (either may be the newer one).
    ///
    /// Fails with [`HistoryError::NotKept`] if either is not kept.
    ///
    /// Time: O(k (log n + node size)) for versions k changes apart (they
    /// share every node those changes did not copy); O(n) for versions
    /// recorded from states loaded apart.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{History, HistoryError, IdAllocator};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let mut history = History::new(gsi.clone());
    /// for _ in 0..3 {
    ///     gsi.allocate_id()?;
    ///     history.record(&gsi).unwrap();
    /// }
    /// assert_eq!(history.diff(1, 3).unwrap().to_string(), "+ 6..=7 (2 ids)\n");
    /// assert_eq!(history.diff(3, 1).unwrap().to_string(), "- 6..=7 (2 ids)\n");
    /// assert_eq!(
    ///     history.diff(1, 9).unwrap_err(),
    ///     HistoryError::NotKept {
    ///         generation: 9,
    ///         oldest: 0,
    ///         latest: 3
    ///     }
    /// );
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn diff(&self, from: u64, to: u64) -> Result<Diff, HistoryError> {
        let older = self.get(from).ok_or_else(|| self.not_kept(from))?;
        let newer = self.get(to).ok_or_else(|| self.not_kept(to))?;
        Diff::between(older, newer).map_err(HistoryError::ShapeMismatch)
    }

    fn not_kept(&self, generation: u64) -> HistoryError {
        HistoryError::NotKept {
            generation,
            oldest: self.oldest().generation(),
            latest: self.latest().generation(),
        }
    }

    /// Which version made the allocation that holds `value` in `pool` now.
    ///
    /// `pool` names a pool of a set, and is `None` for a lone allocator.
    /// "The allocation that holds it now" is, in the latest version, the
    /// allocation containing the address `value` (its range and owner), or
    /// for an id pool the id `value` with its owner. It was made by the
    /// earliest kept version from which it is present, with that range and
    /// owner, in every kept version up to the latest: [`Made::At`] that
    /// version's generation, with its label, or [`Made::AtOrBefore`] the
    /// oldest version's generation if even the oldest version holds it.
    /// An allocation freed and made again the same is new from where it was
    /// made again; one whose owner changed is new from the change; versions
    /// are all the history sees, so a free and an allocation between two
    /// recorded versions that leave the same allocation are not seen.
    ///
    /// `None` if no such pool exists (or a pool is named for a lone
    /// allocator, or none for a set), or if nothing holds `value` in the
    /// latest version.
    ///
    /// Time: O(log n + log m), and O(p) to find a set's pool; m is the
    /// number of allocations made since the oldest version kept and still
    /// held. Not a scan of the versions: recording a version indexes what
    /// its diff allocated and frees, so the index always holds, for each
    /// allocation of the latest version made after the oldest kept version,
    /// the version that made it.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, History, Made};
    ///
    /// let mut mmio = AddressAllocator::new(0xd000_0000, 0x10_0000)?;
    /// let bar = mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)?;
    /// let mut history = History::new(mmio.clone());
    /// // Freed and taken again in one later version: made again there.
    /// mmio.free(&bar)?;
    /// history.record_labeled(&mmio, "unplug").unwrap();
    /// mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)?;
    /// history.record_labeled(&mmio, "plug").unwrap();
    /// let blame = history.blame(None, bar.start()).unwrap();
    /// assert_eq!((blame.made(), blame.label()), (Made::At(3), Some("plug")));
    /// assert_eq!(history.blame(None, bar.end() + 1), None); // free
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn blame(&self, pool: Option<&str>, value: u64) -> Option<Blame<'_>> {
        let holder = self.latest().holder(pool, value)?;
        let made = self
            .births
            .made(pool, value)
            .and_then(|seq| seq.checked_sub(self.first_seq))
            .and_then(|i| usize::try_from(i).ok())
            .filter(|&i| i > 0)
            .and_then(|i| self.versions.get(i));
        let (made, label) = match made {
            Some(kept) => (Made::At(kept.state.generation()), kept.label.as_deref()),
            None => (Made::AtOrBefore(self.oldest().generation()), None),
        };
        Some(Blame {
            pool: holder.pool.map(|p| p.as_str()),
            pool_kind: holder.kind,
            range: holder.range,
            owner: holder.owner,
            made,
            label,
        })
    }

    /// Bytes the history keeps alive: every heap block that a kept version
    /// reaches, counted once however many versions share it, plus the
    /// labels.
    ///
    /// A block is one heap allocation: a node of a tree (with what it owns
    /// outright, such as a leaf's column of owners), a table of free-gap
    /// capacities, an owner's name, a set's list of pools; its bytes are
    /// its size as allocated, reference count included. Blocks that the
    /// caller's own states share with the history count too: they are what
    /// the history would keep alive alone. Not counted: the history's own
    /// bookkeeping, about 60 bytes per kept version plus 40 per block and
    /// per allocation it indexes for blame.
    ///
    /// Time: O(1). The count is kept as versions come and go: recording
    /// one walks only its blocks that no kept version reached before,
    /// stopping at every block already counted (after k edits, O(k log n)
    /// new blocks, since a clone shares everything the edits did not copy);
    /// dropping one walks only the blocks that it alone reached.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, History};
    ///
    /// let mut mmio = AddressAllocator::new(0, 1 << 40)?;
    /// for _ in 0..10_000 {
    ///     mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)?;
    /// }
    /// let mut history = History::new(mmio.clone());
    /// let one = history.retained_bytes();
    /// mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)?;
    /// history.record(&mmio).unwrap();
    /// // The second version shares all but one path of nodes.
    /// let more = history.retained_bytes() - one;
    /// assert!(more > 0 && more < one / 20, "{more} of {one}");
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn retained_bytes(&self) -> usize {
        self.ledger.bytes() + self.label_bytes
    }

    /// Checks the history's bookkeeping against a recount from scratch:
    /// generations, retained bytes, and the blame index (rebuilt from the
    /// diffs of the kept versions). Only in builds of this repository
    /// (tests, fuzzing), never in the published crate.
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), alloc::string::String> {
        use alloc::format;
        for pair in self
            .versions
            .iter()
            .collect::<alloc::vec::Vec<_>>()
            .windows(2)
        {
            let (a, b) = (pair[0].state.generation(), pair[1].state.generation());
            if a >= b {
                return Err(format!("generation {b} is kept after {a}"));
            }
        }
        let (blocks, bytes) = Ledger::recount(self.versions.iter().map(|k| &k.state));
        if (blocks, bytes) != (self.ledger.blocks(), self.ledger.bytes()) {
            return Err(format!(
                "the ledger holds {} blocks of {} bytes, the versions reach {blocks} of {bytes}",
                self.ledger.blocks(),
                self.ledger.bytes()
            ));
        }
        let labels: usize = self
            .versions()
            .filter_map(|v| v.label())
            .map(str::len)
            .sum();
        if labels != self.label_bytes {
            return Err(format!(
                "labels take {labels} bytes, counted {}",
                self.label_bytes
            ));
        }
        let mut births = Births::default();
        for (i, pair) in self
            .versions
            .iter()
            .collect::<alloc::vec::Vec<_>>()
            .windows(2)
            .enumerate()
        {
            let diff = Diff::between(&pair[0].state, &pair[1].state).map_err(|e| format!("{e}"))?;
            if diff.len() != pair[1].changes {
                return Err(format!(
                    "version #{} counts {} changes, not {}",
                    i + 1,
                    pair[1].changes,
                    diff.len()
                ));
            }
            births.record(&diff, self.first_seq + i as u64 + 1);
        }
        if births.entries() != self.births.entries() {
            return Err(format!(
                "the blame index holds {:?}, the kept versions give {:?}",
                self.births.entries(),
                births.entries()
            ));
        }
        let seqs = self.first_seq + 1..self.first_seq + self.versions.len() as u64;
        self.births.check(self.latest(), seqs)?;
        if self.versions.len() > 1 && self.over_budget() {
            return Err(alloc::string::String::from(
                "the history keeps more than its retention allows",
            ));
        }
        Ok(())
    }

    /// The bytes that a history keeping exactly `versions` (states and
    /// labels) would retain, counted from scratch: the reference that
    /// tests compare [`retained_bytes`](Self::retained_bytes) with. Only in
    /// builds of this repository (tests, fuzzing).
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    #[doc(hidden)]
    pub fn recount_bytes<'a>(versions: impl IntoIterator<Item = (&'a S, Option<&'a str>)>) -> usize
    where
        S: 'a,
    {
        let versions: alloc::vec::Vec<_> = versions.into_iter().collect();
        let labels: usize = versions.iter().filter_map(|(_, l)| *l).map(str::len).sum();
        Ledger::recount(versions.iter().map(|(s, _)| *s)).1 + labels
    }
}

/// A kept version, as [`History::versions`] lists it.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{History, IdAllocator, Version};
///
/// let mut gsi = IdAllocator::new(5, 23)?;
/// let mut history = History::new(gsi.clone());
/// gsi.allocate_id()?;
/// history.record_labeled(&gsi, "rtc").unwrap();
/// let latest: Version<'_, IdAllocator> = history.versions().next_back().unwrap();
/// assert_eq!(
///     (latest.generation(), latest.label(), latest.changes()),
///     (1, Some("rtc"), Some(1))
/// );
/// assert!(latest.state().is_allocated(5));
/// # Ok::<(), vm_allocator::Error>(())
/// ```
#[derive(Debug)]
pub struct Version<'a, S> {
    state: &'a S,
    label: Option<&'a str>,
    changes: Option<usize>,
}

impl<S> Clone for Version<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for Version<'_, S> {}

impl<'a, S: Versioned> Version<'a, S> {
    /// The state's generation.
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{History, ResourceSet};
    ///
    /// let history = History::new(ResourceSet::x86_64());
    /// assert_eq!(history.versions().next().unwrap().generation(), 0);
    /// ```
    pub fn generation(&self) -> u64 {
        self.state.generation()
    }

    /// The state as recorded.
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{History, ResourceSet};
    ///
    /// let history = History::new(ResourceSet::x86_64());
    /// assert_eq!(history.versions().next().unwrap().state(), history.latest());
    /// ```
    pub fn state(&self) -> &'a S {
        self.state
    }

    /// The label it was recorded with, if any.
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{History, IdAllocator};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let mut history = History::new(gsi.clone());
    /// gsi.allocate_id()?;
    /// history.record_labeled(&gsi, "boot").unwrap();
    /// let labels: Vec<_> = history.versions().map(|v| v.label()).collect();
    /// assert_eq!(labels, [None, Some("boot")]);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn label(&self) -> Option<&'a str> {
        self.label
    }

    /// The number of changes (ranges allocated or freed, as [`Diff::len`]
    /// counts them) from the kept version before it; `None` for the oldest
    /// kept version.
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{History, IdAllocator};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let mut history = History::new(gsi.clone());
    /// gsi.allocate_id_at(7)?;
    /// gsi.allocate_id_at(9)?;
    /// history.record(&gsi).unwrap();
    /// let changes: Vec<_> = history.versions().map(|v| v.changes()).collect();
    /// assert_eq!(changes, [None, Some(2)]);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn changes(&self) -> Option<usize> {
        self.changes
    }
}

/// The kept versions of a [`History`], oldest first (see
/// [`History::versions`]).
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{History, IdAllocator, Versions};
///
/// let mut gsi = IdAllocator::new(5, 23)?;
/// let mut history = History::new(gsi.clone());
/// gsi.allocate_id()?;
/// history.record(&gsi).unwrap();
/// let versions: Versions<'_, IdAllocator> = history.versions();
/// assert_eq!(versions.len(), 2);
/// let newest_first: Vec<u64> = history.versions().rev().map(|v| v.generation()).collect();
/// assert_eq!(newest_first, [1, 0]);
/// # Ok::<(), vm_allocator::Error>(())
/// ```
pub struct Versions<'a, S>(Enumerate<vec_deque::Iter<'a, Kept<S>>>);

impl<S> Clone for Versions<'_, S> {
    fn clone(&self) -> Self {
        Versions(self.0.clone())
    }
}

impl<S> fmt::Debug for Versions<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Versions")
            .field("remaining", &self.0.len())
            .finish()
    }
}

fn version<S>((i, kept): (usize, &Kept<S>)) -> Version<'_, S> {
    Version {
        state: &kept.state,
        label: kept.label.as_deref(),
        changes: (i > 0).then_some(kept.changes),
    }
}

impl<'a, S> Iterator for Versions<'a, S> {
    type Item = Version<'a, S>;

    fn next(&mut self) -> Option<Version<'a, S>> {
        self.0.next().map(version)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<S> DoubleEndedIterator for Versions<'_, S> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(version)
    }
}

impl<S> ExactSizeIterator for Versions<'_, S> {}

impl<S> FusedIterator for Versions<'_, S> {}

impl<'a, S: Versioned> IntoIterator for &'a History<S> {
    type Item = Version<'a, S>;
    type IntoIter = Versions<'a, S>;

    fn into_iter(self) -> Versions<'a, S> {
        self.versions()
    }
}

/// The kept generations and labels, the retention and the bytes retained
/// (not the states).
impl<S: Versioned> fmt::Debug for History<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Generations<'a, S>(&'a History<S>);
        impl<S: Versioned> fmt::Debug for Generations<'_, S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list()
                    .entries(self.0.versions().map(|v| (v.generation(), v.label())))
                    .finish()
            }
        }
        f.debug_struct("History")
            .field("versions", &Generations(self))
            .field("retention", &self.retention)
            .field("retained_bytes", &self.retained_bytes())
            .finish()
    }
}
