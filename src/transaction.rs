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
/// tx.owned_by(&gpu).allocate("mmio32", 0x1000_0000, 0x1000_0000, AllocPolicy::FirstMatch).unwrap();
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
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TransactionError<E> {
    step: usize,
    error: E,
}

impl<E> TransactionError<E> {
    /// The index of the step that failed, counted from 0.
    pub fn step(&self) -> usize {
        self.step
    }

    /// What went wrong in that step.
    pub fn error(&self) -> &E {
        &self.error
    }

    /// The error of the step.
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
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Keeps every step's effect; fails, having changed nothing, if a step
    /// failed. Time: O(1).
    pub fn commit(mut self) -> Result<(), TransactionError<S::Error>> {
        if let Some(failed) = self.failed.take() {
            return Err(failed);
        }
        self.saved = None;
        Ok(())
    }

    /// Undoes every step. Time: O(1).
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
    pub fn owned_by<'b>(&'b mut self, owner: &'b Owner) -> OwnedBy<'b, Self> {
        OwnedBy::new(self, owner)
    }
}

impl ResourceSet {
    /// Starts an all-or-nothing batch of operations on the set (see
    /// [`Transaction`]). Time: O(1).
    pub fn transaction(&mut self) -> Transaction<'_, ResourceSet> {
        Transaction::new(self)
    }
}

impl AddressAllocator {
    /// Starts an all-or-nothing batch of operations on the allocator (see
    /// [`Transaction`]). Time: O(1).
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
    pub fn allocate_with(
        &mut self,
        pool: &str,
        constraint: Constraint,
    ) -> SetResult<RangeInclusive> {
        self.step(|s| s.allocate_with(pool, constraint))
    }

    /// A step: [`ResourceSet::free`].
    pub fn free(&mut self, pool: &str, range: &RangeInclusive) -> SetResult<()> {
        self.step(|s| s.free(pool, range))
    }

    /// A step: [`ResourceSet::allocate_id`].
    pub fn allocate_id(&mut self, pool: &str) -> SetResult<u32> {
        self.step(|s| s.allocate_id(pool))
    }

    /// A step: [`ResourceSet::allocate_id_at`].
    pub fn allocate_id_at(&mut self, pool: &str, id: u32) -> SetResult<u32> {
        self.step(|s| s.allocate_id_at(pool, id))
    }

    /// A step: [`ResourceSet::allocate_ids`].
    pub fn allocate_ids(&mut self, pool: &str, count: u32, align: u32) -> SetResult<IdRange<u32>> {
        self.step(|s| s.allocate_ids(pool, count, align))
    }

    /// A step: [`ResourceSet::free_id`].
    pub fn free_id(&mut self, pool: &str, id: u32) -> SetResult<u32> {
        self.step(|s| s.free_id(pool, id))
    }

    /// A step: [`ResourceSet::free_ids`].
    pub fn free_ids(&mut self, pool: &str, ids: IdRange<u32>) -> SetResult<()> {
        self.step(|s| s.free_ids(pool, ids))
    }
}

impl<'a> OwnedBy<'_, Transaction<'a, ResourceSet>> {
    /// A step: [`ResourceSet::allocate`] on behalf of this view's owner.
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
    pub fn allocate_id(&mut self, pool: &str) -> SetResult<u32> {
        let owner = self.owner();
        self.target().step(|s| s.owned_by(owner).allocate_id(pool))
    }

    /// A step: [`ResourceSet::allocate_id_at`] on behalf of this view's owner.
    pub fn allocate_id_at(&mut self, pool: &str, id: u32) -> SetResult<u32> {
        let owner = self.owner();
        self.target()
            .step(|s| s.owned_by(owner).allocate_id_at(pool, id))
    }

    /// A step: [`ResourceSet::allocate_ids`] on behalf of this view's owner.
    pub fn allocate_ids(&mut self, pool: &str, count: u32, align: u32) -> SetResult<IdRange<u32>> {
        let owner = self.owner();
        self.target()
            .step(|s| s.owned_by(owner).allocate_ids(pool, count, align))
    }
}

impl Transaction<'_, AddressAllocator> {
    /// A step: [`AddressAllocator::allocate`].
    pub fn allocate(
        &mut self,
        size: u64,
        alignment: u64,
        policy: AllocPolicy,
    ) -> AllocResult<RangeInclusive> {
        self.step(|a| a.allocate(size, alignment, policy))
    }

    /// A step: [`AddressAllocator::allocate_with`].
    pub fn allocate_with(&mut self, constraint: Constraint) -> AllocResult<RangeInclusive> {
        self.step(|a| a.allocate_with(constraint))
    }

    /// A step: [`AddressAllocator::free`].
    pub fn free(&mut self, range: &RangeInclusive) -> AllocResult<()> {
        self.step(|a| a.free(range))
    }
}

impl<'a> OwnedBy<'_, Transaction<'a, AddressAllocator>> {
    /// A step: [`AddressAllocator::allocate`] on behalf of this view's owner.
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
    pub fn allocate_with(&mut self, constraint: Constraint) -> AllocResult<RangeInclusive> {
        let owner = self.owner();
        self.target()
            .step(|a| a.owned_by(owner).allocate_with(constraint))
    }
}

impl Transaction<'_, IdAllocator> {
    /// A step: [`IdAllocator::allocate_id`].
    pub fn allocate_id(&mut self) -> AllocResult<u32> {
        self.step(|ids| ids.allocate_id())
    }

    /// A step: [`IdAllocator::allocate_id_at`].
    pub fn allocate_id_at(&mut self, id: u32) -> AllocResult<u32> {
        self.step(|ids| ids.allocate_id_at(id))
    }

    /// A step: [`IdAllocator::allocate_ids`].
    pub fn allocate_ids(&mut self, count: u32, align: u32) -> AllocResult<IdRange<u32>> {
        self.step(|ids| ids.allocate_ids(count, align))
    }

    /// A step: [`IdAllocator::free_id`].
    pub fn free_id(&mut self, id: u32) -> AllocResult<u32> {
        self.step(|ids| ids.free_id(id))
    }

    /// A step: [`IdAllocator::free_ids`].
    pub fn free_ids(&mut self, ids: IdRange<u32>) -> AllocResult<()> {
        self.step(|a| a.free_ids(ids))
    }
}

impl<'a> OwnedBy<'_, Transaction<'a, IdAllocator>> {
    /// A step: [`IdAllocator::allocate_id`] on behalf of this view's owner.
    pub fn allocate_id(&mut self) -> AllocResult<u32> {
        let owner = self.owner();
        self.target().step(|ids| ids.owned_by(owner).allocate_id())
    }

    /// A step: [`IdAllocator::allocate_id_at`] on behalf of this view's owner.
    pub fn allocate_id_at(&mut self, id: u32) -> AllocResult<u32> {
        let owner = self.owner();
        self.target()
            .step(|ids| ids.owned_by(owner).allocate_id_at(id))
    }

    /// A step: [`IdAllocator::allocate_ids`] on behalf of this view's owner.
    pub fn allocate_ids(&mut self, count: u32, align: u32) -> AllocResult<IdRange<u32>> {
        let owner = self.owner();
        self.target()
            .step(|ids| ids.owned_by(owner).allocate_ids(count, align))
    }
}
