// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! What [`History::blame`](crate::History::blame) answers.

use core::fmt;

use crate::{escape_name, Owner, PoolKind, RangeInclusive, Size};

/// When the allocation that holds a value was made, as far as the kept
/// versions tell.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{History, IdAllocator, Made};
///
/// let mut gsi = IdAllocator::new(5, 23)?;
/// gsi.allocate_id()?; // 5, before the history starts
/// let mut history = History::new(gsi.clone());
/// gsi.allocate_id()?; // 6
/// history.record(&gsi).unwrap();
/// assert_eq!(history.blame(None, 6).unwrap().made(), Made::At(2));
/// // The history starts at generation 1: 5 is at least that old.
/// assert_eq!(history.blame(None, 5).unwrap().made(), Made::AtOrBefore(1));
/// # Ok::<(), vm_allocator::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Made {
    /// Made by the version at this generation: absent (or different) in the
    /// kept version before it, present as it is now in every kept version
    /// since.
    At(u64),
    /// Present as it is now in every kept version, from the oldest one,
    /// at this generation: made then or earlier.
    AtOrBefore(u64),
}

impl Made {
    /// The generation, exact or not.
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::Made;
    ///
    /// assert_eq!(Made::At(7).generation(), 7);
    /// assert_eq!(Made::AtOrBefore(3).generation(), 3);
    /// ```
    pub fn generation(self) -> u64 {
        match self {
            Made::At(g) | Made::AtOrBefore(g) => g,
        }
    }
}

/// The allocation that holds a value in the latest version of a
/// [`History`](crate::History), and the version that made it.
///
/// `Display` shows it on one line, names through [`escape_name`]:
///
/// ```rust
/// use vm_allocator::{AllocPolicy, History, Owner, ResourceSet};
///
/// let mut vm = ResourceSet::x86_64();
/// let mut history = History::new(vm.clone());
/// let nvme0 = Owner::new("nvme0").unwrap();
/// vm.owned_by(&nvme0)
///     .allocate("mmio32", 0x4000, 0x4000, AllocPolicy::FirstMatch)?;
/// vm.owned_by(&nvme0).allocate_ids("msi_gsi", 4, 4)?;
/// history.record_labeled(&vm, "hot-plug nvme0").unwrap();
///
/// let bar = history.blame(Some("mmio32"), 0xd000_1234).unwrap();
/// assert_eq!(
///     bar.to_string(),
///     r#"mmio32 0xd0000000..=0xd0003fff (16 KiB) nvme0: made at generation 2 "hot-plug nvme0""#
/// );
/// let vector = history.blame(Some("msi_gsi"), 25).unwrap();
/// assert_eq!(
///     vector.to_string(),
///     r#"msi_gsi 25 nvme0: made at generation 2 "hot-plug nvme0""#
/// );
/// # Ok::<(), vm_allocator::SetError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Blame<'a> {
    pub(super) pool: Option<&'a str>,
    pub(super) pool_kind: PoolKind,
    pub(super) range: RangeInclusive,
    pub(super) owner: Option<&'a Owner>,
    pub(super) made: Made,
    pub(super) label: Option<&'a str>,
}

impl<'a> Blame<'a> {
    /// The pool, or `None` for a lone allocator.
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{History, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// vm.allocate_id("legacy_gsi")?;
    /// let history = History::new(vm);
    /// assert_eq!(
    ///     history.blame(Some("legacy_gsi"), 5).unwrap().pool(),
    ///     Some("legacy_gsi")
    /// );
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn pool(&self) -> Option<&'a str> {
        self.pool
    }

    /// What the pool hands out.
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, History, PoolKind, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// vm.allocate("pio", 8, 1, AllocPolicy::ExactMatch(0x3f8))?;
    /// let history = History::new(vm);
    /// assert_eq!(
    ///     history.blame(Some("pio"), 0x3fa).unwrap().pool_kind(),
    ///     PoolKind::Addresses
    /// );
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn pool_kind(&self) -> PoolKind {
        self.pool_kind
    }

    /// What holds the value in the latest version: for an address pool the
    /// whole allocation, for an id pool the id itself.
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, History, IdAllocator};
    ///
    /// let mut mmio = AddressAllocator::new(0x1000, 0x10000)?;
    /// let bar = mmio.allocate(0x2000, 0x1000, AllocPolicy::FirstMatch)?;
    /// assert_eq!(History::new(mmio).blame(None, 0x2fff).unwrap().range(), bar);
    ///
    /// let mut msi = IdAllocator::new(24, 4095)?;
    /// msi.allocate_ids(4, 4)?;
    /// let id = History::new(msi).blame(None, 25).unwrap().range();
    /// assert_eq!((id.start(), id.end()), (25, 25));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn range(&self) -> RangeInclusive {
        self.range
    }

    /// Its owner in the latest version.
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{History, IdAllocator, Owner};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let rtc = Owner::new("rtc").unwrap();
    /// gsi.owned_by(&rtc).allocate_id_at(8)?;
    /// assert_eq!(
    ///     History::new(gsi).blame(None, 8).unwrap().owner(),
    ///     Some(&rtc)
    /// );
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn owner(&self) -> Option<&'a Owner> {
        self.owner
    }

    /// The version that made it, exactly or at the latest.
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, History, Made};
    ///
    /// let mut mmio = AddressAllocator::new(0, 0x10000)?;
    /// let mut history = History::new(mmio.clone());
    /// mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)?;
    /// history.record(&mmio).unwrap();
    /// assert_eq!(history.blame(None, 0x10).unwrap().made(), Made::At(1));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn made(&self) -> Made {
        self.made
    }

    /// The generation of [`made`](Self::made), exact or not.
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
    /// gsi.allocate_id()?;
    /// history.record(&gsi).unwrap();
    /// // Both ids came with the version at generation 2.
    /// assert_eq!(history.blame(None, 5).unwrap().generation(), 2);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn generation(&self) -> u64 {
        self.made.generation()
    }

    /// The label recorded with the version that made it; `None` if that
    /// version has none, or if the allocation is as old as the oldest
    /// version kept ([`Made::AtOrBefore`]: its maker is not known).
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{History, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// vm.allocate_id("legacy_gsi")?;
    /// let mut history = History::new(vm.clone());
    /// vm.allocate_id("legacy_gsi")?;
    /// history.record_labeled(&vm, "hot-plug rtc").unwrap();
    /// assert_eq!(
    ///     history.blame(Some("legacy_gsi"), 6).unwrap().label(),
    ///     Some("hot-plug rtc")
    /// );
    /// assert_eq!(history.blame(Some("legacy_gsi"), 5).unwrap().label(), None);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub fn label(&self) -> Option<&'a str> {
        self.label
    }
}

/// `POOL RANGE (SIZE) OWNER: made at generation G "LABEL"`: the pool, size
/// and owner only when there are; an id alone, without a size; "made at or
/// before generation G" when the oldest kept version already held it.
impl fmt::Display for Blame<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(pool) = self.pool {
            write!(f, "{} ", escape_name(pool))?;
        }
        let (start, end) = (self.range.start(), self.range.end());
        match self.pool_kind {
            PoolKind::Ids => write!(f, "{start}")?,
            PoolKind::Addresses => {
                write!(f, "{start:#x}..={end:#x} ({})", Size(self.range.len()))?;
            }
        }
        if let Some(owner) = self.owner {
            write!(f, " {}", owner.escaped())?;
        }
        match self.made {
            Made::At(g) => write!(f, ": made at generation {g}")?,
            Made::AtOrBefore(g) => write!(f, ": made at or before generation {g}")?,
        }
        if let Some(label) = self.label {
            write!(f, " \"{}\"", escape_name(label))?;
        }
        Ok(())
    }
}
