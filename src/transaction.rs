// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! All-or-nothing batches of operations.

use core::fmt;
use core::ops::{Deref, RangeInclusive as IdRange};

use crate::{
    AddressAllocator, AllocPolicy, Constraint, IdAllocator, OwnedBy, Owner, RangeInclusive,
    ResourceSet, SetError, Versioned,
};

/// A batch of operations on an allocator or a [`ResourceSet`] that takes
/// effect entirely or not at all: a hot-plug that needs several BARs and
/// vectors never leaves half of them behind.
///
/// Operations run on the state itself while the transaction keeps the
/// state it started from (an O(1) snapshot). If a step fails, the state is
/// restored at once (generation included) and every later step, and
/// [`commit`](Self::commit), return that step's error: its index (counted
/// from 0) and what went wrong. Dropping a transaction without committing
/// it (an early `?` return, a panic) also restores the state.
///
/// Steps move the generation as their operations do (by one for each
/// successful mutation; a step that changes nothing, such as setting the
/// owner an allocation has already, does not move it); a rolled-back
/// transaction leaves the generation as it was.
///
/// ```rust
/// use vm_allocator::{AllocPolicy, Owner, ResourceSet, SetError, TransactionError};
///
/// let mut vm = ResourceSet::x86_64();
/// let gpu = Owner::new("gpu0").unwrap();
/// let before = vm.clone();
///
/// let mut tx = vm.transaction();
/// tx.owned_by(&gpu)
///     .allocate("mmio32", 0x1000_0000, 0x1000_0000, AllocPolicy::FirstMatch)
///     .unwrap();
/// tx.owned_by(&gpu).allocate_ids("msi_gsi", 8, 8).unwrap();
/// // A 4 GiB BAR does not fit below 4 GiB: the whole hot-plug fails.
/// let err = tx
///     .owned_by(&gpu)
///     .allocate("mmio32", 1 << 32, 1 << 32, AllocPolicy::FirstMatch)
///     .unwrap_err();
/// assert_eq!(err.step(), 2);
/// assert!(matches!(err.error(), SetError::Pool { .. }));
/// assert!(tx.commit().is_err());
/// assert_eq!(vm, before);
/// assert_eq!(vm.generation(), before.generation());
/// ```
pub struct Transaction<'a, S: Versioned> {
    target: &'a mut S,
    /// The state before the first step; `None` once committed.
    saved: Option<S>,
    steps: usize,
    failed: Option<TransactionError<S::Error>>,
}

/// Why a transaction failed: which step, and its error.
///
/// # Examples
///
/// ```rust
/// use std::error::Error as _;
/// use vm_allocator::{Error, IdAllocator, TransactionError};
///
/// let mut gsi = IdAllocator::new(5, 6)?;
/// let mut tx = gsi.transaction();
/// tx.allocate_id()?;
/// tx.allocate_id()?;
/// let err: TransactionError<Error> = tx.allocate_id().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "step #2 failed, nothing was changed: the requested resource is not available"
/// );
/// assert!(err.source().is_some());
/// drop(tx);
/// assert_eq!(gsi.used(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TransactionError<E> {
    step: usize,
    error: E,
}

impl<E> TransactionError<E> {
    /// The index of the step that failed, counted from 0.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut slots = IdAllocator::new(0, 31)?;
    /// let mut tx = slots.transaction();
    /// tx.allocate_id_at(3).unwrap();
    /// let err = tx.allocate_id_at(3).unwrap_err();
    /// assert_eq!(err.step(), 1);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn step(&self) -> usize {
        self.step
    }

    /// What went wrong in that step.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Error, IdAllocator};
    ///
    /// let mut slots = IdAllocator::new(0, 31)?;
    /// let mut tx = slots.transaction();
    /// let err = tx.allocate_id_at(32).unwrap_err();
    /// assert_eq!(err.error(), &Error::OutOfRange(32));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn error(&self) -> &E {
        &self.error
    }

    /// The error of the step.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{ResourceSet, SetError};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let mut tx = vm.transaction();
    /// let err = tx.allocate_id("gsi").unwrap_err();
    /// // Hand the underlying error to code that expects a `SetError`.
    /// let inner: SetError = err.into_error();
    /// assert_eq!(inner, SetError::NoSuchPool("gsi".into()));
    /// ```
    pub fn into_error(self) -> E {
        self.error
    }
}

impl<E: fmt::Display> fmt::Display for TransactionError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "step #{} failed, nothing was changed: {}",
            self.step, self.error
        )
    }
}

impl<E: core::error::Error + 'static> core::error::Error for TransactionError<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl<'a, S: Versioned> Transaction<'a, S> {
    /// Starts a transaction on `state`. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Transaction};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let mut tx = Transaction::new(&mut gsi);
    /// tx.step(|ids| ids.allocate_id_at(9))?;
    /// tx.commit()?;
    /// assert!(gsi.is_allocated(9));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(state: &'a mut S) -> Self {
        let saved = state.clone();
        Transaction {
            target: state,
            saved: Some(saved),
            steps: 0,
            failed: None,
        }
    }

    /// Runs one step: `op` on the state. On failure the state is restored
    /// to what it was before the transaction and the error names this step.
    ///
    /// ```rust
    /// use vm_allocator::{Error, IdAllocator};
    ///
    /// let mut ids = IdAllocator::new(0, 7).unwrap();
    /// let mut tx = ids.transaction();
    /// tx.step(|ids| ids.allocate_ids(4, 4)).unwrap();
    /// let err = tx.step(|ids| ids.allocate_ids(8, 8)).unwrap_err();
    /// assert_eq!((err.step(), *err.error()), (1, Error::ResourceNotAvailable));
    /// drop(tx);
    /// assert_eq!(ids.used(), 0);
    /// ```
    ///
    /// Time: that of `op`; while the transaction lasts, the first edit of a
    /// node shared with the saved state copies it (O(log n) per path).
    pub fn step<T>(
        &mut self,
        op: impl FnOnce(&mut S) -> Result<T, S::Error>,
    ) -> Result<T, TransactionError<S::Error>> {
        if let Some(failed) = &self.failed {
            return Err(failed.clone());
        }
        let step = self.steps;
        self.steps += 1;
        match op(self.target) {
            Ok(value) => Ok(value),
            Err(error) => {
                self.restore();
                let failed = TransactionError { step, error };
                self.failed = Some(failed.clone());
                Err(failed)
            }
        }
    }

    /// Number of steps run so far, the failed one included; steps tried
    /// after a failure are not run and not counted.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut gsi = IdAllocator::new(5, 6)?;
    /// let mut tx = gsi.transaction();
    /// tx.allocate_ids(2, 1).unwrap();
    /// assert!(tx.allocate_id().is_err()); // step 1 fails
    /// assert!(tx.allocate_id().is_err()); // not run, not counted
    /// assert_eq!(tx.steps(), 2);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Keeps every step's effect; fails, having changed nothing, if a step
    /// failed. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy};
    ///
    /// let mut mmio = AddressAllocator::new(0xd000_0000, 0x10_0000)?;
    /// let mut tx = mmio.transaction();
    /// tx.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
    ///     .unwrap();
    /// tx.allocate(0x4000, 0x4000, AllocPolicy::FirstMatch)
    ///     .unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!((mmio.len(), mmio.generation()), (2, 2));
    ///
    /// // After a failed step, commit reports it and keeps nothing.
    /// let mut tx = mmio.transaction();
    /// tx.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
    ///     .unwrap();
    /// assert!(tx
    ///     .allocate(0x100_0000, 0x1000, AllocPolicy::FirstMatch)
    ///     .is_err());
    /// assert_eq!(tx.commit().unwrap_err().step(), 1);
    /// assert_eq!(mmio.len(), 2);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn commit(mut self) -> Result<(), TransactionError<S::Error>> {
        if let Some(failed) = self.failed.take() {
            return Err(failed);
        }
        self.saved = None;
        Ok(())
    }

    /// Undoes every step. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::ResourceSet;
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let mut tx = vm.transaction();
    /// tx.allocate_id("legacy_gsi").unwrap();
    /// assert_eq!(tx.ids("legacy_gsi").unwrap().used(), 1); // the state so far
    /// tx.rollback();
    /// assert_eq!(vm.ids("legacy_gsi").unwrap().used(), 0);
    /// assert_eq!(vm.generation(), 0);
    /// ```
    pub fn rollback(self) {}

    fn restore(&mut self) {
        if let Some(saved) = &self.saved {
            *self.target = saved.clone();
        }
    }
}

impl<S: Versioned> Drop for Transaction<'_, S> {
    fn drop(&mut self) {
        if let Some(saved) = self.saved.take() {
            *self.target = saved;
        }
    }
}

/// The state as the steps so far left it.
impl<S: Versioned> Deref for Transaction<'_, S> {
    type Target = S;

    fn deref(&self) -> &S {
        self.target
    }
}

impl<S: Versioned> fmt::Debug for Transaction<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("steps", &self.steps)
            .field("failed", &self.failed)
            .field("state", &self.target)
            .finish()
    }
}

impl<'a, S: Versioned> Transaction<'a, S> {
    /// Returns a view whose allocations carry `owner`.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Owner};
    ///
    /// let mut msi = IdAllocator::new(24, 4095)?;
    /// let nvme = Owner::new("nvme0")?;
    /// let mut tx = msi.transaction();
    /// tx.owned_by(&nvme).allocate_ids(4, 4)?;
    /// tx.allocate_id()?; // no owner
    /// tx.commit()?;
    /// assert_eq!(msi.ids_of("nvme0").collect::<Vec<_>>(), [24..=27]);
    /// assert_eq!(msi.owner_at(28), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn owned_by<'b>(&'b mut self, owner: &'b Owner) -> OwnedBy<'b, Self> {
        OwnedBy::new(self, owner)
    }
}

impl ResourceSet {
    /// Starts an all-or-nothing batch of operations on the set (see
    /// [`Transaction`]). Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Owner, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let net0 = Owner::new("virtio-net0").unwrap();
    /// let mut tx = vm.transaction();
    /// tx.owned_by(&net0).allocate_id("legacy_gsi").unwrap();
    /// tx.owned_by(&net0)
    ///     .allocate("mmio32", 0x1000, 0x1000, AllocPolicy::FirstMatch)
    ///     .unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!(vm.allocations_of("virtio-net0").count(), 2);
    /// assert_eq!(vm.generation(), 2);
    /// ```
    pub fn transaction(&mut self) -> Transaction<'_, ResourceSet> {
        Transaction::new(self)
    }
}

impl AddressAllocator {
    /// Starts an all-or-nothing batch of operations on the allocator (see
    /// [`Transaction`]). Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy};
    ///
    /// let mut mmio = AddressAllocator::new(0xd000_0000, 0x10_0000)?;
    /// let before = mmio.clone();
    /// {
    ///     let mut tx = mmio.transaction();
    ///     tx.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
    ///         .unwrap();
    ///     // Dropped without a commit: undone.
    /// }
    /// assert_eq!(mmio, before);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn transaction(&mut self) -> Transaction<'_, AddressAllocator> {
        Transaction::new(self)
    }
}

impl IdAllocator {
    /// Starts an all-or-nothing batch of operations on the allocator (see
    /// [`Transaction`]). Time: O(1).
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Owner};
    ///
    /// let mut msi = IdAllocator::new(24, 31).unwrap();
    /// let nvme = Owner::new("nvme0").unwrap();
    /// let mut tx = msi.transaction();
    /// let admin = tx.owned_by(&nvme).allocate_id().unwrap();
    /// let queues = tx.owned_by(&nvme).allocate_ids(4, 4).unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!((admin, queues), (24, 28..=31));
    /// ```
    pub fn transaction(&mut self) -> Transaction<'_, IdAllocator> {
        Transaction::new(self)
    }
}

type SetResult<T> = Result<T, TransactionError<SetError>>;
type AllocResult<T> = Result<T, TransactionError<crate::Error>>;

impl Transaction<'_, ResourceSet> {
    /// A step: [`ResourceSet::allocate`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let mut tx = vm.transaction();
    /// let bar0 = tx
    ///     .allocate("mmio32", 0x1000, 0x1000, AllocPolicy::FirstMatch)
    ///     .unwrap();
    /// let bar1 = tx
    ///     .allocate("mmio32", 0x1000, 0x1000, AllocPolicy::FirstMatch)
    ///     .unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!(bar1.start(), bar0.end() + 1);
    /// ```
    pub fn allocate(
        &mut self,
        pool: &str,
        size: u64,
        alignment: u64,
        policy: AllocPolicy,
    ) -> SetResult<RangeInclusive> {
        self.step(|s| s.allocate(pool, size, alignment, policy))
    }

    /// A step: [`ResourceSet::allocate_with`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Constraint, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let c = Constraint::new(0x1000, 0x1000, AllocPolicy::FirstMatch)
    ///     .unwrap()
    ///     .with_min_address(0xe000_0000);
    /// let mut tx = vm.transaction();
    /// let bar = tx.allocate_with("mmio32", c).unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!(bar.start(), 0xe000_0000);
    /// ```
    pub fn allocate_with(
        &mut self,
        pool: &str,
        constraint: Constraint,
    ) -> SetResult<RangeInclusive> {
        self.step(|s| s.allocate_with(pool, constraint))
    }

    /// A step: [`ResourceSet::free`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let old = vm
    ///     .allocate("mmio32", 0x1000, 0x1000, AllocPolicy::FirstMatch)
    ///     .unwrap();
    /// // Move a BAR: free the old range and take a bigger one, or neither.
    /// let mut tx = vm.transaction();
    /// tx.free("mmio32", &old).unwrap();
    /// let new = tx
    ///     .allocate("mmio32", 0x4000, 0x4000, AllocPolicy::FirstMatch)
    ///     .unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!(
    ///     vm.addresses("mmio32").unwrap().iter().collect::<Vec<_>>(),
    ///     [new]
    /// );
    /// ```
    pub fn free(&mut self, pool: &str, range: &RangeInclusive) -> SetResult<()> {
        self.step(|s| s.free(pool, range))
    }

    /// A step: [`ResourceSet::allocate_id`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::ResourceSet;
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let mut tx = vm.transaction();
    /// assert_eq!(tx.allocate_id("legacy_gsi").unwrap(), 5);
    /// assert_eq!(tx.allocate_id("msi_gsi").unwrap(), 24);
    /// tx.commit().unwrap();
    /// assert_eq!(vm.generation(), 2);
    /// ```
    pub fn allocate_id(&mut self, pool: &str) -> SetResult<u32> {
        self.step(|s| s.allocate_id(pool))
    }

    /// A step: [`ResourceSet::allocate_id_at`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::ResourceSet;
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let mut tx = vm.transaction();
    /// tx.allocate_id_at("legacy_gsi", 9).unwrap();
    /// let err = tx.allocate_id_at("legacy_gsi", 9).unwrap_err();
    /// assert_eq!(err.step(), 1);
    /// drop(tx);
    /// assert!(!vm.ids("legacy_gsi").unwrap().is_allocated(9));
    /// ```
    pub fn allocate_id_at(&mut self, pool: &str, id: u32) -> SetResult<u32> {
        self.step(|s| s.allocate_id_at(pool, id))
    }

    /// A step: [`ResourceSet::allocate_ids`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::ResourceSet;
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let mut tx = vm.transaction();
    /// assert_eq!(tx.allocate_ids("msi_gsi", 4, 4).unwrap(), 24..=27);
    /// tx.commit().unwrap();
    /// assert_eq!(vm.ids("msi_gsi").unwrap().used(), 4);
    /// ```
    pub fn allocate_ids(&mut self, pool: &str, count: u32, align: u32) -> SetResult<IdRange<u32>> {
        self.step(|s| s.allocate_ids(pool, count, align))
    }

    /// A step: [`ResourceSet::free_id`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::ResourceSet;
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let gsi = vm.allocate_id("legacy_gsi").unwrap();
    /// let mut tx = vm.transaction();
    /// assert_eq!(tx.free_id("legacy_gsi", gsi).unwrap(), 5);
    /// tx.commit().unwrap();
    /// assert_eq!(vm.ids("legacy_gsi").unwrap().used(), 0);
    /// ```
    pub fn free_id(&mut self, pool: &str, id: u32) -> SetResult<u32> {
        self.step(|s| s.free_id(pool, id))
    }

    /// A step: [`ResourceSet::free_ids`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::ResourceSet;
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let vectors = vm.allocate_ids("msi_gsi", 8, 8).unwrap();
    /// let mut tx = vm.transaction();
    /// tx.free_ids("msi_gsi", vectors).unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!(vm.ids("msi_gsi").unwrap().used(), 0);
    /// ```
    pub fn free_ids(&mut self, pool: &str, ids: IdRange<u32>) -> SetResult<()> {
        self.step(|s| s.free_ids(pool, ids))
    }
}

impl<'a> OwnedBy<'_, Transaction<'a, ResourceSet>> {
    /// A step: [`ResourceSet::allocate`] on behalf of this view's owner.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Owner, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let gpu = Owner::new("gpu0").unwrap();
    /// let mut tx = vm.transaction();
    /// let bar = tx
    ///     .owned_by(&gpu)
    ///     .allocate("mmio64", 1 << 30, 1 << 30, AllocPolicy::FirstMatch)
    ///     .unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!(
    ///     vm.addresses("mmio64").unwrap().owner_at(bar.start()),
    ///     Some(&gpu)
    /// );
    /// ```
    pub fn allocate(
        &mut self,
        pool: &str,
        size: u64,
        alignment: u64,
        policy: AllocPolicy,
    ) -> SetResult<RangeInclusive> {
        let owner = self.owner();
        self.target()
            .step(|s| s.owned_by(owner).allocate(pool, size, alignment, policy))
    }

    /// A step: [`ResourceSet::allocate_with`] on behalf of this view's owner.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Constraint, Owner, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let gpu = Owner::new("gpu0").unwrap();
    /// let c = Constraint::new(0x1000, 0x1000, AllocPolicy::LastMatch).unwrap();
    /// let mut tx = vm.transaction();
    /// let bar = tx.owned_by(&gpu).allocate_with("mmio32", c).unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!(bar.end(), 0xfebf_ffff);
    /// assert_eq!(vm.allocations_of("gpu0").count(), 1);
    /// ```
    pub fn allocate_with(
        &mut self,
        pool: &str,
        constraint: Constraint,
    ) -> SetResult<RangeInclusive> {
        let owner = self.owner();
        self.target()
            .step(|s| s.owned_by(owner).allocate_with(pool, constraint))
    }

    /// A step: [`ResourceSet::allocate_id`] on behalf of this view's owner.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Owner, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let rtc = Owner::new("rtc").unwrap();
    /// let mut tx = vm.transaction();
    /// let gsi = tx.owned_by(&rtc).allocate_id("legacy_gsi").unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!(vm.ids("legacy_gsi").unwrap().owner_at(gsi), Some(&rtc));
    /// ```
    pub fn allocate_id(&mut self, pool: &str) -> SetResult<u32> {
        let owner = self.owner();
        self.target().step(|s| s.owned_by(owner).allocate_id(pool))
    }

    /// A step: [`ResourceSet::allocate_id_at`] on behalf of this view's owner.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Owner, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let serial = Owner::new("serial0").unwrap();
    /// let mut tx = vm.transaction();
    /// tx.owned_by(&serial)
    ///     .allocate_id_at("legacy_gsi", 4 + 1)
    ///     .unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!(vm.free_owner("serial0").len(), 1);
    /// ```
    pub fn allocate_id_at(&mut self, pool: &str, id: u32) -> SetResult<u32> {
        let owner = self.owner();
        self.target()
            .step(|s| s.owned_by(owner).allocate_id_at(pool, id))
    }

    /// A step: [`ResourceSet::allocate_ids`] on behalf of this view's owner.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Owner, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let nvme = Owner::new("nvme0").unwrap();
    /// let mut tx = vm.transaction();
    /// assert_eq!(
    ///     tx.owned_by(&nvme).allocate_ids("msi_gsi", 8, 8).unwrap(),
    ///     24..=31
    /// );
    /// tx.commit().unwrap();
    /// assert_eq!(vm.ids("msi_gsi").unwrap().ids_of("nvme0").count(), 1);
    /// ```
    pub fn allocate_ids(&mut self, pool: &str, count: u32, align: u32) -> SetResult<IdRange<u32>> {
        let owner = self.owner();
        self.target()
            .step(|s| s.owned_by(owner).allocate_ids(pool, count, align))
    }
}

impl Transaction<'_, AddressAllocator> {
    /// A step: [`AddressAllocator::allocate`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy};
    ///
    /// let mut pio = AddressAllocator::new(0, 0x10000)?;
    /// let mut tx = pio.transaction();
    /// tx.allocate(8, 1, AllocPolicy::ExactMatch(0x3f8)).unwrap();
    /// tx.allocate(8, 1, AllocPolicy::ExactMatch(0x2f8)).unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!(pio.len(), 2);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn allocate(
        &mut self,
        size: u64,
        alignment: u64,
        policy: AllocPolicy,
    ) -> AllocResult<RangeInclusive> {
        self.step(|a| a.allocate(size, alignment, policy))
    }

    /// A step: [`AddressAllocator::allocate_with`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Constraint};
    ///
    /// let mut mmio = AddressAllocator::new(0xc000_0000, 0x4000_0000)?;
    /// let c = Constraint::new(0x1000, 0x1000, AllocPolicy::FirstMatch)?.with_min_address(0xe000_0000);
    /// let mut tx = mmio.transaction();
    /// assert_eq!(tx.allocate_with(c).unwrap().start(), 0xe000_0000);
    /// tx.commit().unwrap();
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn allocate_with(&mut self, constraint: Constraint) -> AllocResult<RangeInclusive> {
        self.step(|a| a.allocate_with(constraint))
    }

    /// A step: [`AddressAllocator::free`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Error};
    ///
    /// let mut mmio = AddressAllocator::new(0xd000_0000, 0x10_0000)?;
    /// let bar = mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)?;
    /// let mut tx = mmio.transaction();
    /// tx.free(&bar).unwrap();
    /// let err = tx.free(&bar).unwrap_err();
    /// assert_eq!((err.step(), *err.error()), (1, Error::ResourceNotAvailable));
    /// drop(tx);
    /// assert!(mmio.is_allocated(bar.start())); // undone
    /// # Ok::<(), Error>(())
    /// ```
    pub fn free(&mut self, range: &RangeInclusive) -> AllocResult<()> {
        self.step(|a| a.free(range))
    }
}

impl<'a> OwnedBy<'_, Transaction<'a, AddressAllocator>> {
    /// A step: [`AddressAllocator::allocate`] on behalf of this view's owner.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Owner};
    ///
    /// let mut pio = AddressAllocator::new(0, 0x10000)?;
    /// let serial = Owner::new("serial0").unwrap();
    /// let mut tx = pio.transaction();
    /// tx.owned_by(&serial)
    ///     .allocate(8, 1, AllocPolicy::ExactMatch(0x3f8))
    ///     .unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!(pio.owner_at(0x3f8), Some(&serial));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn allocate(
        &mut self,
        size: u64,
        alignment: u64,
        policy: AllocPolicy,
    ) -> AllocResult<RangeInclusive> {
        let owner = self.owner();
        self.target()
            .step(|a| a.owned_by(owner).allocate(size, alignment, policy))
    }

    /// A step: [`AddressAllocator::allocate_with`] on behalf of this view's owner.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Constraint, Owner};
    ///
    /// let mut mmio = AddressAllocator::new(0xd000_0000, 0x10_0000)?;
    /// let gpu = Owner::new("gpu0").unwrap();
    /// let c = Constraint::new(0x1000, 0x1000, AllocPolicy::LastMatch)?;
    /// let mut tx = mmio.transaction();
    /// let bar = tx.owned_by(&gpu).allocate_with(c).unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!(mmio.owner_at(bar.start()), Some(&gpu));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn allocate_with(&mut self, constraint: Constraint) -> AllocResult<RangeInclusive> {
        let owner = self.owner();
        self.target()
            .step(|a| a.owned_by(owner).allocate_with(constraint))
    }
}

impl Transaction<'_, IdAllocator> {
    /// A step: [`IdAllocator::allocate_id`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let mut tx = gsi.transaction();
    /// assert_eq!(tx.allocate_id().unwrap(), 5);
    /// assert_eq!(tx.allocate_id().unwrap(), 6);
    /// tx.commit().unwrap();
    /// assert_eq!(gsi.used(), 2);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn allocate_id(&mut self) -> AllocResult<u32> {
        self.step(|ids| ids.allocate_id())
    }

    /// A step: [`IdAllocator::allocate_id_at`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let mut tx = gsi.transaction();
    /// tx.allocate_id_at(9).unwrap();
    /// tx.allocate_id_at(12).unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!(gsi.iter().collect::<Vec<_>>(), [9, 12]);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn allocate_id_at(&mut self, id: u32) -> AllocResult<u32> {
        self.step(|ids| ids.allocate_id_at(id))
    }

    /// A step: [`IdAllocator::allocate_ids`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut msi = IdAllocator::new(24, 31)?;
    /// let mut tx = msi.transaction();
    /// assert_eq!(tx.allocate_ids(4, 4).unwrap(), 24..=27);
    /// assert!(tx.allocate_ids(8, 8).is_err()); // no room: all undone
    /// drop(tx);
    /// assert_eq!(msi.used(), 0);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn allocate_ids(&mut self, count: u32, align: u32) -> AllocResult<IdRange<u32>> {
        self.step(|ids| ids.allocate_ids(count, align))
    }

    /// A step: [`IdAllocator::free_id`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let irq = gsi.allocate_id()?;
    /// let mut tx = gsi.transaction();
    /// assert_eq!(tx.free_id(irq).unwrap(), irq);
    /// tx.commit().unwrap();
    /// assert!(!gsi.is_allocated(irq));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn free_id(&mut self, id: u32) -> AllocResult<u32> {
        self.step(|ids| ids.free_id(id))
    }

    /// A step: [`IdAllocator::free_ids`].
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut msi = IdAllocator::new(24, 4095)?;
    /// let old = msi.allocate_ids(4, 4)?;
    /// // Grow a vector block: free 4, take 8, or neither.
    /// let mut tx = msi.transaction();
    /// tx.free_ids(old).unwrap();
    /// let new = tx.allocate_ids(8, 8).unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!(msi.runs().collect::<Vec<_>>(), [new]);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn free_ids(&mut self, ids: IdRange<u32>) -> AllocResult<()> {
        self.step(|a| a.free_ids(ids))
    }
}

impl<'a> OwnedBy<'_, Transaction<'a, IdAllocator>> {
    /// A step: [`IdAllocator::allocate_id`] on behalf of this view's owner.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Owner};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let rtc = Owner::new("rtc").unwrap();
    /// let mut tx = gsi.transaction();
    /// let irq = tx.owned_by(&rtc).allocate_id().unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!(gsi.owner_at(irq), Some(&rtc));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn allocate_id(&mut self) -> AllocResult<u32> {
        let owner = self.owner();
        self.target().step(|ids| ids.owned_by(owner).allocate_id())
    }

    /// A step: [`IdAllocator::allocate_id_at`] on behalf of this view's owner.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Owner};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let serial = Owner::new("serial0").unwrap();
    /// let mut tx = gsi.transaction();
    /// tx.owned_by(&serial).allocate_id_at(4 + 1).unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!(gsi.ids_of("serial0").collect::<Vec<_>>(), [5..=5]);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn allocate_id_at(&mut self, id: u32) -> AllocResult<u32> {
        let owner = self.owner();
        self.target()
            .step(|ids| ids.owned_by(owner).allocate_id_at(id))
    }

    /// A step: [`IdAllocator::allocate_ids`] on behalf of this view's owner.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{IdAllocator, Owner};
    ///
    /// let mut msi = IdAllocator::new(24, 4095)?;
    /// let nvme = Owner::new("nvme0").unwrap();
    /// let mut tx = msi.transaction();
    /// let queues = tx.owned_by(&nvme).allocate_ids(8, 8).unwrap();
    /// tx.commit().unwrap();
    /// assert_eq!(msi.ids_of("nvme0").collect::<Vec<_>>(), [queues]);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn allocate_ids(&mut self, count: u32, align: u32) -> AllocResult<IdRange<u32>> {
        let owner = self.owner();
        self.target()
            .step(|ids| ids.owned_by(owner).allocate_ids(count, align))
    }
}
