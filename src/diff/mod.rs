// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! What changed between two states: [`Diff`], and its file form [`Delta`].

mod apply;
mod compute;
mod delta;
mod error;
mod labels;

use alloc::vec::Vec;
use core::fmt;

use crate::escape_name;
use crate::format::FileKind;
use crate::{AddressAllocator, IdAllocator, Owner, PoolKind, RangeInclusive, ResourceSet};

pub use delta::Delta;
pub use error::DiffError;

/// A state that has a generation and can be diffed, saved, restored and
/// kept in a [`History`](crate::History) as a whole: [`IdAllocator`],
/// [`AddressAllocator`] and [`ResourceSet`].
///
/// The trait is sealed; it lets generic code (such as
/// [`Diff::between`], [`Transaction`](crate::Transaction) and
/// [`History`](crate::History)) take any of
/// them.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{Diff, IdAllocator, ResourceSet, Versioned};
///
/// // Generic code over any state: how far did it move since a snapshot?
/// fn changes_since<S: Versioned>(snapshot: &S, now: &S) -> usize {
///     Diff::between(snapshot, now).map_or(0, |d| d.len())
/// }
/// let mut gsi = IdAllocator::new(5, 23)?;
/// let before = gsi.clone();
/// gsi.allocate_id()?;
/// assert_eq!(changes_since(&before, &gsi), 1);
/// assert_eq!(
///     changes_since(&ResourceSet::x86_64(), &ResourceSet::x86_64()),
///     0
/// );
/// # Ok::<(), vm_allocator::Error>(())
/// ```
pub trait Versioned:
    sealed::Sealed + crate::history::Tracked + Clone + PartialEq + fmt::Debug
{
    /// What its operations fail with ([`Error`](crate::Error) for the
    /// allocators, [`SetError`](crate::SetError) for a set).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, Error, ResourceSet, SetError, Versioned};
    ///
    /// fn error_of<S: Versioned>(_: &S, e: S::Error) -> String {
    ///     e.to_string()
    /// }
    /// let mmio = AddressAllocator::new(0, 0x1000)?;
    /// assert_eq!(
    ///     error_of(&mmio, Error::Underflow),
    ///     "management operations on the resource underflowed"
    /// );
    /// let set = ResourceSet::new();
    /// assert_eq!(
    ///     error_of(&set, SetError::NoSuchPool("pio".into())),
    ///     r#"no pool is named "pio""#
    /// );
    /// # Ok::<(), Error>(())
    /// ```
    type Error: Clone + fmt::Debug + fmt::Display;

    /// The state's generation (see [`IdAllocator::generation`]).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, ResourceSet, Versioned};
    ///
    /// fn generation_of<S: Versioned>(state: &S) -> u64 {
    ///     state.generation()
    /// }
    /// let mut vm = ResourceSet::x86_64();
    /// vm.allocate_id("legacy_gsi")?;
    /// assert_eq!(generation_of(&vm), 1);
    /// assert_eq!(generation_of(&IdAllocator::new(0, 1).unwrap()), 0);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    fn generation(&self) -> u64;
}

pub(crate) mod sealed {
    use super::{Diff, DiffError};

    /// What the diff layer (and a journal) needs of a state; not nameable
    /// outside.
    pub trait Sealed: Sized + crate::format::JournalState {
        /// What its files hold.
        const KIND: crate::format::FileKind;
        /// The diff from `self` (older) to `newer`.
        fn diff_to(&self, newer: &Self) -> Result<Diff, DiffError>;
        /// `self` with `diff` applied.
        fn apply_diff(&self, diff: &Diff) -> Result<Self, DiffError>;
        /// The checksum of its current-version file.
        fn file_checksum(&self) -> u32;
    }
}

impl Versioned for IdAllocator {
    type Error = crate::Error;

    fn generation(&self) -> u64 {
        IdAllocator::generation(self)
    }
}

impl Versioned for AddressAllocator {
    type Error = crate::Error;

    fn generation(&self) -> u64 {
        AddressAllocator::generation(self)
    }
}

impl Versioned for ResourceSet {
    type Error = crate::SetError;

    fn generation(&self) -> u64 {
        ResourceSet::generation(self)
    }
}

/// An allocated or freed range with its owner.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{Change, Diff, IdAllocator, Owner};
///
/// let mut gsi = IdAllocator::new(5, 23)?;
/// let before = gsi.clone();
/// let rtc = Owner::new("rtc").unwrap();
/// gsi.owned_by(&rtc).allocate_id_at(8)?;
/// let diff = Diff::between(&before, &gsi).unwrap();
/// let added: &Change = &diff.pools()[0].allocated()[0];
/// assert_eq!((added.range().start(), added.range().end()), (8, 8));
/// assert_eq!(added.owner(), Some(&rtc));
/// # Ok::<(), vm_allocator::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Change {
    range: RangeInclusive,
    owner: Option<Owner>,
}

impl Change {
    pub(crate) fn new(range: RangeInclusive, owner: Option<Owner>) -> Change {
        Change { range, owner }
    }

    /// The range: addresses, or for an id pool the ids.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Diff};
    ///
    /// let mut mmio = AddressAllocator::new(0xd000_0000, 0x10_0000)?;
    /// let bar = mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)?;
    /// let before = mmio.clone();
    /// mmio.free(&bar)?;
    /// let diff = Diff::between(&before, &mmio).unwrap();
    /// assert_eq!(diff.pools()[0].freed()[0].range(), bar);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn range(&self) -> RangeInclusive {
        self.range
    }

    /// Its owner (before it was freed, or once allocated).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Diff, Owner};
    ///
    /// let mut mmio = AddressAllocator::new(0xd000_0000, 0x10_0000)?;
    /// let net0 = Owner::new("virtio-net0").unwrap();
    /// mmio.owned_by(&net0)
    ///     .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)?;
    /// let before = mmio.clone();
    /// mmio.free_owner("virtio-net0");
    /// // A freed range keeps the owner it had.
    /// let diff = Diff::between(&before, &mmio).unwrap();
    /// assert_eq!(diff.pools()[0].freed()[0].owner(), Some(&net0));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn owner(&self) -> Option<&Owner> {
        self.owner.as_ref()
    }
}

/// What changed in one allocator (one pool of a set, or a lone allocator).
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{Diff, PoolDiff, PoolKind, ResourceSet};
///
/// let mut vm = ResourceSet::x86_64();
/// let before = vm.clone();
/// vm.allocate_id("legacy_gsi")?;
/// vm.allocate_ids("msi_gsi", 2, 2)?;
/// let diff = Diff::between(&before, &vm).unwrap();
/// let changed: Vec<(&str, usize)> = diff
///     .pools()
///     .iter()
///     .map(|p: &PoolDiff| (p.name().unwrap(), p.allocated().len()))
///     .collect();
/// assert_eq!(changed, [("legacy_gsi", 1), ("msi_gsi", 1)]);
/// assert!(diff.pools().iter().all(|p| p.kind() == PoolKind::Ids));
/// # Ok::<(), vm_allocator::SetError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PoolDiff {
    name: Option<Owner>,
    kind: PoolKind,
    generations: (u64, u64),
    next_ids: Option<(u64, u64)>,
    freed: Vec<Change>,
    allocated: Vec<Change>,
}

impl PoolDiff {
    /// The pool's name, or `None` for a lone allocator.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Diff, IdAllocator, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let before = vm.clone();
    /// vm.allocate_id("legacy_gsi")?;
    /// assert_eq!(
    ///     Diff::between(&before, &vm).unwrap().pools()[0].name(),
    ///     Some("legacy_gsi")
    /// );
    ///
    /// let gsi = IdAllocator::new(5, 23).unwrap();
    /// assert_eq!(Diff::between(&gsi, &gsi).unwrap().pools()[0].name(), None);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.name.as_ref().map(Owner::as_str)
    }

    /// What the pool hands out.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Diff, PoolKind, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let before = vm.clone();
    /// vm.allocate("pio", 8, 1, AllocPolicy::ExactMatch(0x3f8))?;
    /// assert_eq!(
    ///     Diff::between(&before, &vm).unwrap().pools()[0].kind(),
    ///     PoolKind::Addresses
    /// );
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn kind(&self) -> PoolKind {
        self.kind
    }

    /// The allocator's generation before and after.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Diff, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// vm.allocate_id("legacy_gsi")?;
    /// let before = vm.clone();
    /// vm.allocate_id("legacy_gsi")?;
    /// vm.allocate_id("msi_gsi")?;
    /// let diff = Diff::between(&before, &vm).unwrap();
    /// assert_eq!(diff.pools()[0].generations(), (1, 2)); // legacy_gsi
    /// assert_eq!(diff.pools()[1].generations(), (0, 1)); // msi_gsi
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn generations(&self) -> (u64, u64) {
        self.generations
    }

    /// For an id pool, one past the highest id ever handed out, before and
    /// after (see [`IdAllocator::from_allocations`]).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Diff, IdAllocator};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let before = gsi.clone();
    /// gsi.allocate_id_at(9)?;
    /// // Ids 5..=8 now count as released, as in 0.1.4.
    /// assert_eq!(
    ///     Diff::between(&before, &gsi).unwrap().pools()[0].next_ids(),
    ///     Some((5, 10))
    /// );
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn next_ids(&self) -> Option<(u64, u64)> {
        self.next_ids
    }

    /// What was freed, in increasing order. A range whose owner changed is
    /// freed (with the old owner) and allocated again (with the new one).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Diff, IdAllocator, Owner};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// gsi.allocate_id()?;
    /// let before = gsi.clone();
    /// // A new owner: freed with the old one, allocated with the new one.
    /// gsi.set_owner(5..=5, Some(Owner::new("rtc").unwrap()))?;
    /// let diff = Diff::between(&before, &gsi).unwrap();
    /// let pool = &diff.pools()[0];
    /// assert_eq!(pool.freed()[0].owner(), None);
    /// assert_eq!(pool.allocated()[0].owner().unwrap().as_str(), "rtc");
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn freed(&self) -> &[Change] {
        &self.freed
    }

    /// What was allocated, in increasing order.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Diff, IdAllocator};
    ///
    /// let mut msi = IdAllocator::new(24, 4095)?;
    /// let before = msi.clone();
    /// msi.allocate_ids(4, 4)?;
    /// msi.allocate_id_at(40)?;
    /// msi.allocate_id()?; // 28: joins the run 24..=27
    /// let diff = Diff::between(&before, &msi).unwrap();
    /// let ranges: Vec<(u64, u64)> = diff.pools()[0]
    ///     .allocated()
    ///     .iter()
    ///     .map(|c| (c.range().start(), c.range().end()))
    ///     .collect();
    /// assert_eq!(ranges, [(24, 28), (40, 40)]);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn allocated(&self) -> &[Change] {
        &self.allocated
    }
}

/// Whether a change allocates or frees.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{ChangeKind, Diff, IdAllocator};
///
/// let mut gsi = IdAllocator::new(5, 23)?;
/// let irq = gsi.allocate_id()?;
/// let before = gsi.clone();
/// gsi.free_id(irq)?;
/// gsi.allocate_id_at(9)?;
/// let kinds: Vec<ChangeKind> = Diff::between(&before, &gsi)
///     .unwrap()
///     .changes()
///     .map(|c| c.kind)
///     .collect();
/// assert_eq!(kinds, [ChangeKind::Freed, ChangeKind::Allocated]);
/// # Ok::<(), vm_allocator::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChangeKind {
    /// The range was freed (`-`).
    Freed,
    /// The range was allocated (`+`).
    Allocated,
}

/// One change, as [`Diff::changes`] lists them.
///
/// `Display` gives one line: the sign, the pool, the range and the owner,
/// the names shown by [`escape_name`](crate::escape_name) (FORMAT.md
/// 6.1.1), so that no name can fake a line or hide what it holds.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{ChangeKind, ChangeRef, Diff, Owner, PoolKind, ResourceSet};
///
/// let mut vm = ResourceSet::x86_64();
/// let before = vm.clone();
/// vm.owned_by(&Owner::new("rtc").unwrap())
///     .allocate_id("legacy_gsi")?;
/// let diff = Diff::between(&before, &vm).unwrap();
/// let change: ChangeRef<'_> = diff.changes().next().unwrap();
/// assert_eq!(change.kind, ChangeKind::Allocated);
/// assert_eq!(
///     (change.pool, change.pool_kind),
///     (Some("legacy_gsi"), PoolKind::Ids)
/// );
/// assert_eq!(change.range.start(), 5);
/// assert_eq!(change.owner.map(|o| o.as_str()), Some("rtc"));
/// assert_eq!(change.to_string(), "+ legacy_gsi 5..=5 (1 id) rtc");
///
/// // A name with a line separator stays on its line.
/// let before = vm.clone();
/// vm.owned_by(&Owner::new("rtc\u{2028}+ legacy_gsi 6..=6 (1 id)").unwrap())
///     .allocate_id("legacy_gsi")?;
/// let diff = Diff::between(&before, &vm).unwrap();
/// assert_eq!(
///     diff.to_string(),
///     "+ legacy_gsi 6..=6 (1 id) rtc\\u{2028}+ legacy_gsi 6..=6 (1 id)\n"
/// );
/// # Ok::<(), vm_allocator::SetError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChangeRef<'a> {
    /// Allocated or freed.
    pub kind: ChangeKind,
    /// The pool, or `None` for a lone allocator.
    pub pool: Option<&'a str>,
    /// What the pool hands out.
    pub pool_kind: PoolKind,
    /// The range: addresses, or for an id pool the ids.
    pub range: RangeInclusive,
    /// Its owner.
    pub owner: Option<&'a Owner>,
}

/// What changed between two states of the same shape (two
/// [`IdAllocator`]s of one range, two [`AddressAllocator`]s of one space,
/// or two [`ResourceSet`]s with the same pools): what was allocated and
/// what was freed, with owners, and the generations.
///
/// [`between`](Self::between) computes it, [`apply`](Self::apply) replays
/// it; [`Delta`] is its file form. `Display` prints one line per change
/// (`+` allocated, `-` freed, the pool, the range in hex, its size, the
/// owner).
///
/// Time of `between`: O(k (log n + node size)) for two states that share
/// history (one cloned from the other and edited k times; subtrees still
/// shared are skipped whole), O(n) for states loaded independently.
///
/// ```rust
/// use vm_allocator::{AllocPolicy, Diff, Owner, ResourceSet};
///
/// let mut vm = ResourceSet::x86_64();
/// let before = vm.clone();
/// let net0 = Owner::new("virtio-net0").unwrap();
/// vm.owned_by(&net0)
///     .allocate("mmio32", 0x4000, 0x4000, AllocPolicy::FirstMatch)
///     .unwrap();
/// vm.owned_by(&net0).allocate_ids("msi_gsi", 4, 4).unwrap();
///
/// let diff = Diff::between(&before, &vm).unwrap();
/// assert_eq!(
///     diff.to_string(),
///     "+ msi_gsi 24..=27 (4 ids) virtio-net0\n\
///      + mmio32 0xd0000000..=0xd0003fff (16 KiB) virtio-net0\n"
/// );
/// assert_eq!(diff.apply(&before).unwrap(), vm);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Diff {
    kind: FileKind,
    generations: (u64, u64),
    pools: Vec<PoolDiff>,
}

impl Diff {
    /// The diff from `older` to `newer`, which must have the same shape.
    ///
    /// Fails with [`DiffError::ShapeMismatch`] otherwise.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Diff, DiffError, IdAllocator};
    ///
    /// let older = IdAllocator::new(0, 31)?;
    /// let mut newer = older.clone();
    /// newer.allocate_ids(2, 2)?;
    /// assert_eq!(
    ///     Diff::between(&older, &newer).unwrap().to_string(),
    ///     "+ 0..=1 (2 ids)\n"
    /// );
    ///
    /// // Different ranges are not two states of one allocator.
    /// let other = IdAllocator::new(0, 63)?;
    /// let err = Diff::between(&older, &other).unwrap_err();
    /// assert!(matches!(err, DiffError::ShapeMismatch { .. }));
    /// assert!(err
    ///     .to_string()
    ///     .starts_with("the states do not have the same shape"));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn between<S: Versioned>(older: &S, newer: &S) -> Result<Diff, DiffError> {
        older.diff_to(newer)
    }

    /// `state` with this diff applied: the newer state exactly (owners,
    /// next ids and generations included).
    ///
    /// `state` must be the older state: of the same kind (and, for a set,
    /// with the changed pools, of their kinds), at the diff's first
    /// generation, holding every freed range with its owner and none of the
    /// allocated ones inside its space or range; otherwise the error says
    /// what does not match and `state` is untouched. A diff does not record
    /// the spaces or ranges themselves, so another state that passes all
    /// these checks takes it too; a [`Delta`] names its base state by
    /// checksum and refuses every other.
    ///
    /// Time: O(k log n), k = changes.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Diff, DiffError, IdAllocator};
    ///
    /// let older = IdAllocator::new(0, 31)?;
    /// let mut newer = older.clone();
    /// newer.allocate_id()?;
    /// let diff = Diff::between(&older, &newer).unwrap();
    /// let replayed = diff.apply(&older).unwrap();
    /// assert_eq!(
    ///     (replayed.clone(), replayed.generation()),
    ///     (newer.clone(), 1)
    /// );
    /// // The newer state is at the wrong generation to take it again.
    /// let err = diff.apply(&newer).unwrap_err();
    /// assert!(matches!(
    ///     err,
    ///     DiffError::GenerationMismatch {
    ///         expected: 0,
    ///         found: 1,
    ///         ..
    ///     }
    /// ));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn apply<S: Versioned>(&self, state: &S) -> Result<S, DiffError> {
        state.apply_diff(self)
    }

    /// What kind of state it is a diff of.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::format::FileKind;
    /// use vm_allocator::{Diff, ResourceSet};
    ///
    /// let vm = ResourceSet::x86_64();
    /// assert_eq!(
    ///     Diff::between(&vm, &vm).unwrap().kind(),
    ///     FileKind::ResourceSet
    /// );
    /// ```
    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// The generations of the older and the newer state.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Diff, IdAllocator};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// gsi.allocate_id()?;
    /// let before = gsi.clone();
    /// gsi.allocate_id()?;
    /// gsi.allocate_id()?;
    /// assert_eq!(Diff::between(&before, &gsi).unwrap().generations(), (1, 3));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn generations(&self) -> (u64, u64) {
        self.generations
    }

    /// The allocators that changed in anything [`apply`](Self::apply)
    /// restores, in pool order: their allocations, their generation, or
    /// (for ids) their next id. A set's pools that did not change at all
    /// are left out; a lone allocator's diff always holds its one
    /// allocator, changed or not.
    ///
    /// So a pool can be listed with nothing allocated or freed (a range
    /// allocated and freed again moved its generation), and `pools()` can
    /// be non-empty while [`is_empty`](Self::is_empty) is true: always for
    /// a lone allocator's diff, and for a set's when a pool's generation or
    /// next id moved without any range changing hands.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Diff, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let before = vm.clone();
    /// vm.allocate("mmio64", 0x1000, 0x1000, AllocPolicy::FirstMatch)?;
    /// vm.allocate_id("legacy_gsi")?;
    /// let diff = Diff::between(&before, &vm).unwrap();
    /// // Only the pools that changed, in the set's order.
    /// let names: Vec<_> = diff.pools().iter().map(|p| p.name().unwrap()).collect();
    /// assert_eq!(names, ["legacy_gsi", "mmio64"]);
    ///
    /// // A port range taken and given back: no allocation changed, but the
    /// // pool's generation did, and applying the diff restores it.
    /// let before = vm.clone();
    /// let com1 = vm.allocate("pio", 8, 1, AllocPolicy::ExactMatch(0x3f8))?;
    /// vm.free("pio", &com1)?;
    /// let diff = Diff::between(&before, &vm).unwrap();
    /// assert!(diff.is_empty());
    /// assert_eq!(diff.pools().len(), 1);
    /// assert_eq!(
    ///     (diff.pools()[0].name(), diff.pools()[0].generations()),
    ///     (Some("pio"), (0, 2))
    /// );
    /// assert_eq!(
    ///     diff.apply(&before)
    ///         .unwrap()
    ///         .pool("pio")
    ///         .unwrap()
    ///         .generation(),
    ///     2
    /// );
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn pools(&self) -> &[PoolDiff] {
        &self.pools
    }

    /// True if nothing was allocated or freed: no range changed hands, so
    /// [`len`](Self::len) is 0 and `Display` prints nothing.
    ///
    /// The two states may still differ in their generations and, for ids,
    /// in their next id; [`pools`](Self::pools) lists the allocators where
    /// those moved. To ask whether two states are the same, compare them
    /// with `==` (which ignores generations, not next ids).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Diff, IdAllocator};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let before = gsi.clone();
    /// assert!(Diff::between(&before, &gsi).unwrap().is_empty());
    /// // A failed call changes nothing; a successful one shows.
    /// assert!(gsi.free_id(5).is_err());
    /// assert!(Diff::between(&before, &gsi).unwrap().is_empty());
    /// gsi.allocate_id()?;
    /// assert!(!Diff::between(&before, &gsi).unwrap().is_empty());
    ///
    /// // Id 5 handed out and taken back: no id changed hands, but the next
    /// // id and the generation moved, and the states are not equal.
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let before = gsi.clone();
    /// gsi.allocate_id()?;
    /// gsi.free_id(5)?;
    /// let diff = Diff::between(&before, &gsi).unwrap();
    /// assert!(diff.is_empty());
    /// assert_eq!(diff.pools()[0].next_ids(), Some((5, 6)));
    /// assert_ne!(before, gsi);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.pools
            .iter()
            .all(|p| p.freed.is_empty() && p.allocated.is_empty())
    }

    /// Number of changes (allocated and freed ranges).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Diff, IdAllocator};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// gsi.allocate_id_at(7)?;
    /// let before = gsi.clone();
    /// gsi.free_id(7)?;
    /// gsi.allocate_ids(2, 1)?; // 5 and 6: one run
    /// assert_eq!(Diff::between(&before, &gsi).unwrap().len(), 2);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.pools
            .iter()
            .map(|p| p.freed.len() + p.allocated.len())
            .sum()
    }

    /// Every change, in pool order, then address order (on one address,
    /// freed before allocated).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{ChangeKind, Diff, Owner, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let net0 = Owner::new("virtio-net0").unwrap();
    /// vm.owned_by(&net0).allocate_id("legacy_gsi")?;
    /// let before = vm.clone();
    /// vm.free_owner("virtio-net0");
    /// vm.allocate_ids("msi_gsi", 4, 4)?;
    /// let lines: Vec<String> = Diff::between(&before, &vm)
    ///     .unwrap()
    ///     .changes()
    ///     .map(|c| c.to_string())
    ///     .collect();
    /// assert_eq!(
    ///     lines,
    ///     [
    ///         "- legacy_gsi 5..=5 (1 id) virtio-net0",
    ///         "+ msi_gsi 24..=27 (4 ids)"
    ///     ]
    /// );
    /// let freed = Diff::between(&before, &vm)
    ///     .unwrap()
    ///     .changes()
    ///     .filter(|c| c.kind == ChangeKind::Freed)
    ///     .count();
    /// assert_eq!(freed, 1);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn changes(&self) -> impl Iterator<Item = ChangeRef<'_>> + '_ {
        self.pools.iter().flat_map(|p| {
            merge_by_start(
                p.freed
                    .iter()
                    .map(move |c| p.change_ref(ChangeKind::Freed, c)),
                p.allocated
                    .iter()
                    .map(move |c| p.change_ref(ChangeKind::Allocated, c)),
            )
        })
    }

    pub(crate) fn from_parts(
        kind: FileKind,
        generations: (u64, u64),
        pools: Vec<PoolDiff>,
    ) -> Diff {
        Diff {
            kind,
            generations,
            pools,
        }
    }
}

impl PoolDiff {
    pub(crate) fn from_parts(
        name: Option<Owner>,
        kind: PoolKind,
        generations: (u64, u64),
        next_ids: Option<(u64, u64)>,
        freed: Vec<Change>,
        allocated: Vec<Change>,
    ) -> PoolDiff {
        PoolDiff {
            name,
            kind,
            generations,
            next_ids,
            freed,
            allocated,
        }
    }

    pub(crate) fn name_owner(&self) -> Option<&Owner> {
        self.name.as_ref()
    }

    fn change_ref<'a>(&'a self, kind: ChangeKind, c: &'a Change) -> ChangeRef<'a> {
        ChangeRef {
            kind,
            pool: self.name(),
            pool_kind: self.kind,
            range: c.range,
            owner: c.owner.as_ref(),
        }
    }
}

/// Merges two sequences sorted by range start; on a tie `a` comes first.
fn merge_by_start<'a>(
    a: impl Iterator<Item = ChangeRef<'a>>,
    b: impl Iterator<Item = ChangeRef<'a>>,
) -> impl Iterator<Item = ChangeRef<'a>> {
    let mut a = a.peekable();
    let mut b = b.peekable();
    core::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if y.range.start() < x.range.start() => b.next(),
        (Some(_), _) => a.next(),
        (None, _) => b.next(),
    })
}

impl fmt::Display for ChangeRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.kind {
            ChangeKind::Allocated => '+',
            ChangeKind::Freed => '-',
        };
        write!(f, "{sign}")?;
        if let Some(pool) = self.pool {
            write!(f, " {}", escape_name(pool))?;
        }
        let (start, end) = (self.range.start(), self.range.end());
        match self.pool_kind {
            PoolKind::Ids => {
                let n = self.range.len();
                let unit = if n == 1 { "id" } else { "ids" };
                write!(f, " {start}..={end} ({n} {unit})")?;
            }
            PoolKind::Addresses => {
                write!(f, " {start:#x}..={end:#x} ({})", Size(self.range.len()))?;
            }
        }
        if let Some(owner) = self.owner {
            write!(f, " {}", owner.escaped())?;
        }
        Ok(())
    }
}

/// One line per change (see [`ChangeRef`]).
impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for change in self.changes() {
            writeln!(f, "{change}")?;
        }
        Ok(())
    }
}

/// A size in the largest binary unit that divides it exactly (`16 KiB`,
/// `2 MiB`), else in bytes.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::Size;
///
/// assert_eq!(Size(0x4000).to_string(), "16 KiB");
/// assert_eq!(Size(2 << 20).to_string(), "2 MiB");
/// assert_eq!(Size(1 << 40).to_string(), "1 TiB");
/// assert_eq!(Size(0x1800).to_string(), "6 KiB");
/// assert_eq!(Size(1000).to_string(), "1000 B");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        let n = self.0;
        for (i, unit) in UNITS.iter().enumerate().rev() {
            let scale = 1u64 << (10 * (i + 1));
            if n >= scale && n.is_multiple_of(scale) {
                return write!(f, "{} {unit}", n / scale);
            }
        }
        write!(f, "{n} B")
    }
}
