// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! What changed between two states: [`Diff`], and its file form [`Delta`].

mod apply;
mod compute;
mod delta;
mod error;
mod labels;

use alloc::vec::Vec;
use core::fmt;

use crate::format::FileKind;
use crate::{AddressAllocator, IdAllocator, Owner, PoolKind, RangeInclusive, ResourceSet};

pub use delta::Delta;
pub use error::DiffError;

/// A state that has a generation and can be diffed, saved and restored as
/// a whole: [`IdAllocator`], [`AddressAllocator`] and [`ResourceSet`].
///
/// The trait is sealed; it lets generic code (such as
/// [`Diff::between`] and [`Transaction`](crate::Transaction)) take any of
/// them.
pub trait Versioned: sealed::Sealed + Clone + PartialEq + fmt::Debug {
    /// What its operations fail with ([`Error`](crate::Error) for the
    /// allocators, [`SetError`](crate::SetError) for a set).
    type Error: Clone + fmt::Debug + fmt::Display;

    /// The state's generation (see [`IdAllocator::generation`]).
    fn generation(&self) -> u64;
}

pub(crate) mod sealed {
    use super::{Diff, DiffError};

    /// What the diff layer needs of a state; not nameable outside.
    pub trait Sealed: Sized {
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
    pub fn range(&self) -> RangeInclusive {
        self.range
    }

    /// Its owner (before it was freed, or once allocated).
    pub fn owner(&self) -> Option<&Owner> {
        self.owner.as_ref()
    }
}

/// What changed in one allocator (one pool of a set, or a lone allocator).
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
    pub fn name(&self) -> Option<&str> {
        self.name.as_ref().map(Owner::as_str)
    }

    /// What the pool hands out.
    pub fn kind(&self) -> PoolKind {
        self.kind
    }

    /// The allocator's generation before and after.
    pub fn generations(&self) -> (u64, u64) {
        self.generations
    }

    /// For an id pool, one past the highest id ever handed out, before and
    /// after (see [`IdAllocator::from_allocated`]).
    pub fn next_ids(&self) -> Option<(u64, u64)> {
        self.next_ids
    }

    /// What was freed, in increasing order. A range whose owner changed is
    /// freed (with the old owner) and allocated again (with the new one).
    pub fn freed(&self) -> &[Change] {
        &self.freed
    }

    /// What was allocated, in increasing order.
    pub fn allocated(&self) -> &[Change] {
        &self.allocated
    }
}

/// Whether a change allocates or frees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChangeKind {
    /// The range was freed (`-`).
    Freed,
    /// The range was allocated (`+`).
    Allocated,
}

/// One change, as [`Diff::changes`] lists them.
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
/// vm.owned_by(&net0).allocate("mmio32", 0x4000, 0x4000, AllocPolicy::FirstMatch).unwrap();
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
    pub fn apply<S: Versioned>(&self, state: &S) -> Result<S, DiffError> {
        state.apply_diff(self)
    }

    /// What kind of state it is a diff of.
    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// The generations of the older and the newer state.
    pub fn generations(&self) -> (u64, u64) {
        self.generations
    }

    /// The allocators that changed (for a lone allocator, always that one),
    /// in pool order.
    pub fn pools(&self) -> &[PoolDiff] {
        &self.pools
    }

    /// True if nothing was allocated or freed (the generations may still
    /// differ).
    pub fn is_empty(&self) -> bool {
        self.pools
            .iter()
            .all(|p| p.freed.is_empty() && p.allocated.is_empty())
    }

    /// Number of changes (allocated and freed ranges).
    pub fn len(&self) -> usize {
        self.pools
            .iter()
            .map(|p| p.freed.len() + p.allocated.len())
            .sum()
    }

    /// Every change, in pool order, then address order (on one address,
    /// freed before allocated).
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
            write!(f, " {pool}")?;
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
            write!(f, " {owner}")?;
        }
        Ok(())
    }
}

/// One line per change.
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
