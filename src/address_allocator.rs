// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Allocation of address ranges (MMIO, PIO, memory) from an address space.

use alloc::string::String;
use core::cmp::Ordering;
use core::fmt;

use crate::engine::{Fit, Span, SpanTree, Spans};
use crate::{AllocPolicy, Constraint, Error, RangeInclusive, Result};

/// An address space allocator.
///
/// Hands out aligned ranges of an address space by [`AllocPolicy`] and takes
/// them back. The allocations live in a persistent tree, so `clone` is O(1)
/// and the clone and the original never see each other's changes.
///
/// # Example
///
/// ```rust
/// use vm_allocator::{AddressAllocator, AllocPolicy, RangeInclusive};
///
/// // The 32-bit MMIO hole of a typical x86_64 VM.
/// let mut mmio = AddressAllocator::new(0xd000_0000, 0x2000_0000).unwrap();
/// let bar = mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch).unwrap();
/// assert_eq!(bar, RangeInclusive::new(0xd000_0000, 0xd000_0fff).unwrap());
///
/// let snapshot = mmio.clone(); // O(1)
/// mmio.free(&bar).unwrap();
/// assert!(snapshot.is_allocated(0xd000_0000));
/// assert!(!mmio.is_allocated(0xd000_0000));
/// ```
#[derive(Clone)]
pub struct AddressAllocator {
    space: RangeInclusive,
    allocations: SpanTree,
}

impl AddressAllocator {
    /// Creates an allocator for the `size` addresses starting at `base`.
    ///
    /// Fails with [`Error::Underflow`] for a zero size and [`Error::Overflow`]
    /// when the space would run past `u64::MAX`.
    pub fn new(base: u64, size: u64) -> Result<Self> {
        let end = base
            .checked_add(size.checked_sub(1).ok_or(Error::Underflow)?)
            .ok_or(Error::Overflow)?;
        Ok(AddressAllocator {
            space: RangeInclusive::new(base, end)?,
            allocations: SpanTree::new(),
        })
    }

    /// Allocates `size` addresses aligned to `alignment`, placed by `policy`,
    /// and returns the allocated range.
    ///
    /// When the `ExactMatch` policy is used, the start address must be
    /// aligned to `alignment`.
    ///
    /// Errors: those of [`Constraint::new`]; [`Error::ResourceNotAvailable`]
    /// when no free aligned range fits, or, for `ExactMatch`, when the range
    /// is not inside the space or any address of it is allocated;
    /// [`Error::Overflow`] when an `ExactMatch` range would run past `u64::MAX`.
    ///
    /// Time: O(log n) for every policy and alignment, n = live allocations.
    pub fn allocate(
        &mut self,
        size: u64,
        alignment: u64,
        policy: AllocPolicy,
    ) -> Result<RangeInclusive> {
        self.allocate_with(Constraint::new(size, alignment, policy)?)
    }

    /// Allocates the range that `constraint` describes, honouring its
    /// minimum and maximum address as well as its size, alignment and policy.
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Constraint};
    ///
    /// // Allocate a 64-bit BAR, but keep it below 1 TiB.
    /// let mut mmio64 = AddressAllocator::new(1 << 32, 1 << 46).unwrap();
    /// let c = Constraint::new(1 << 30, 1 << 30, AllocPolicy::LastMatch)
    ///     .unwrap()
    ///     .with_max_address((1 << 40) - 1);
    /// let bar = mmio64.allocate_with(c).unwrap();
    /// assert_eq!(bar.end(), (1 << 40) - 1);
    /// ```
    ///
    /// Time: O(log n).
    pub fn allocate_with(&mut self, constraint: Constraint) -> Result<RangeInclusive> {
        let lo = self.space.start().max(constraint.min_address());
        let hi = self.space.end().min(constraint.max_address());
        let size = constraint.size();
        let start = match constraint.policy() {
            AllocPolicy::ExactMatch(start) => {
                if start < lo || start > hi {
                    return Err(Error::ResourceNotAvailable);
                }
                let end = start.checked_add(size - 1).ok_or(Error::Overflow)?;
                if end > hi || self.allocations.overlap(Span::new(start, end)).is_some() {
                    return Err(Error::ResourceNotAvailable);
                }
                start
            }
            policy => {
                if lo > hi {
                    return Err(Error::ResourceNotAvailable);
                }
                let fit = Fit {
                    size,
                    align_log2: constraint.align_log2(),
                    lo,
                    hi,
                };
                let found = if policy == AllocPolicy::LastMatch {
                    self.allocations.last_fit(&fit)
                } else {
                    self.allocations.first_fit(&fit)
                };
                found.ok_or(Error::ResourceNotAvailable)?
            }
        };
        let range = RangeInclusive::from_parts(start, start + (size - 1));
        self.allocations
            .insert(Span::new(range.start(), range.end()));
        Ok(range)
    }

    /// Frees `key`, which must be exactly a range this allocator handed out
    /// (or restored) and has not freed since; otherwise fails with
    /// [`Error::ResourceNotAvailable`] and changes nothing.
    ///
    /// Time: O(log n).
    pub fn free(&mut self, key: &RangeInclusive) -> Result<()> {
        match self.allocations.floor(key.start()) {
            Some(span) if span.start == key.start() && span.end == key.end() => {
                self.allocations.remove(span.start);
                Ok(())
            }
            _ => Err(Error::ResourceNotAvailable),
        }
    }

    /// First address of the allocator.
    pub fn base(&self) -> u64 {
        self.space.start()
    }

    /// Last address of the allocator.
    pub fn end(&self) -> u64 {
        self.space.end()
    }

    /// The managed address space.
    pub fn space(&self) -> RangeInclusive {
        self.space
    }

    /// Number of live allocations. Time: O(1).
    pub fn len(&self) -> u64 {
        self.allocations.len()
    }

    /// True if nothing is allocated. Time: O(1).
    pub fn is_empty(&self) -> bool {
        self.allocations.len() == 0
    }

    /// Number of allocated addresses. Time: O(1).
    pub fn used(&self) -> u64 {
        self.allocations.covered()
    }

    /// Number of free addresses. Time: O(1).
    pub fn available(&self) -> u64 {
        self.space.len() - self.allocations.covered()
    }

    /// True if `address` lies inside a live allocation. Time: O(log n).
    pub fn is_allocated(&self, address: u64) -> bool {
        self.allocations.containing(address).is_some()
    }

    /// The live allocation that contains `address`, if any. Time: O(log n).
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy};
    ///
    /// let mut pio = AddressAllocator::new(0x0, 0x10000).unwrap();
    /// let r = pio.allocate(0x8, 0x8, AllocPolicy::ExactMatch(0x3f8)).unwrap();
    /// assert_eq!(pio.allocation_containing(0x3fc), Some(r));
    /// assert_eq!(pio.allocation_containing(0x400), None);
    /// ```
    pub fn allocation_containing(&self, address: u64) -> Option<RangeInclusive> {
        self.allocations
            .containing(address)
            .map(|s| RangeInclusive::from_parts(s.start, s.end))
    }

    /// The live allocations in increasing address order. Time: O(1) per item.
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy};
    ///
    /// let mut a = AddressAllocator::new(0x1000, 0x10000).unwrap();
    /// let high = a.allocate(0x100, 0x100, AllocPolicy::LastMatch).unwrap();
    /// let low = a.allocate(0x100, 0x100, AllocPolicy::FirstMatch).unwrap();
    /// assert_eq!(a.iter().collect::<Vec<_>>(), vec![low, high]);
    /// ```
    pub fn iter(&self) -> Allocations<'_> {
        Allocations(self.allocations.iter())
    }

    /// Checks the allocator's internal invariants; for tests and fuzzing.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> core::result::Result<(), String> {
        self.allocations.check_invariants()?;
        if let Some(outside) = self.allocations.iter().find(|s| {
            !self
                .space
                .contains(&RangeInclusive::from_parts(s.start, s.end))
        }) {
            return Err(alloc::format!(
                "allocation {:#x}-{:#x} lies outside the space {:?}",
                outside.start,
                outside.end,
                self.space
            ));
        }
        Ok(())
    }

    /// Builds an allocator from parts a decoder has fully validated: the
    /// allocations are sorted, disjoint and inside `space`. Time: O(n).
    pub(crate) fn from_validated(
        space: RangeInclusive,
        allocations: impl IntoIterator<Item = RangeInclusive>,
    ) -> Self {
        AddressAllocator {
            space,
            allocations: SpanTree::from_sorted(
                allocations
                    .into_iter()
                    .map(|r| Span::new(r.start(), r.end())),
            ),
        }
    }
}

/// The live allocations of an [`AddressAllocator`], in increasing order.
#[derive(Clone, Debug)]
pub struct Allocations<'a>(Spans<'a>);

impl Iterator for Allocations<'_> {
    type Item = RangeInclusive;

    fn next(&mut self) -> Option<RangeInclusive> {
        self.0
            .next()
            .map(|s| RangeInclusive::from_parts(s.start, s.end))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<'a> IntoIterator for &'a AddressAllocator {
    type Item = RangeInclusive;
    type IntoIter = Allocations<'a>;

    fn into_iter(self) -> Allocations<'a> {
        self.iter()
    }
}

impl fmt::Debug for AddressAllocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddressAllocator")
            .field("space", &self.space)
            .field("allocations", &DebugList(self))
            .finish()
    }
}

struct DebugList<'a>(&'a AddressAllocator);

impl fmt::Debug for DebugList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

/// Two allocators are equal when they manage the same space and hold the same
/// allocations, however they got there.
impl PartialEq for AddressAllocator {
    fn eq(&self, other: &Self) -> bool {
        self.space == other.space
            && self.len() == other.len()
            && (self.allocations.ptr_eq(&other.allocations) || self.iter().eq(other.iter()))
    }
}

impl Eq for AddressAllocator {}

/// Orders by space, then by the sorted list of allocations.
impl PartialOrd for AddressAllocator {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AddressAllocator {
    fn cmp(&self, other: &Self) -> Ordering {
        self.space
            .cmp(&other.space)
            .then_with(|| self.iter().cmp(other.iter()))
    }
}
