// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Conformance tests.
//!
//! (a) The behavioural unit tests of vm-allocator 0.1.4 (`src/lib.rs`,
//!     `src/address_allocator.rs`, `src/id_allocator.rs`, and the one test
//!     of its interval tree that goes through the allocator), ported to the
//!     public API: same inputs, same expected answers. Where 0.1.4 looked at
//!     private fields, the same fact is checked through behaviour. Where its
//!     expectation was one of its bugs, the fixed answer is asserted and a
//!     comment says why.
//! (b) A generic suite of properties every pool must have, run on
//!     `IdAllocator` and `AddressAllocator` alike (an id is a one-long range).

#[path = "support/rng.rs"]
mod rng;

use rng::Rng;
use vm_allocator::{
    AddressAllocator, AllocPolicy, Constraint, Error, IdAllocator, RangeInclusive,
    DEFAULT_CONSTRAINT_ALIGN,
};

fn range(start: u64, end: u64) -> RangeInclusive {
    RangeInclusive::new(start, end).unwrap()
}

// ---------------------------------------------------------------------------
// (a) 0.1.4's src/lib.rs tests
// ---------------------------------------------------------------------------

mod upstream_lib {
    use super::*;

    #[test]
    fn test_new_range() {
        assert_eq!(
            RangeInclusive::new(2, 1).unwrap_err(),
            Error::InvalidRange(2, 1)
        );
        assert_eq!(
            RangeInclusive::new(0, u64::MAX).unwrap_err(),
            Error::InvalidRange(0, u64::MAX)
        );
    }

    #[test]
    fn test_range_overlaps() {
        let range_a = range(1, 4);
        let range_b = range(4, 6);
        let range_c = range(2, 3);
        let range_e = range(5, 6);

        assert!(range_a.overlaps(&range_b));
        assert!(range_b.overlaps(&range_a));
        assert!(range_a.overlaps(&range_c));
        assert!(range_c.overlaps(&range_a));
        assert!(!range_a.overlaps(&range_e));
        assert!(!range_e.overlaps(&range_a));

        assert_eq!(range_a.len(), 4);
    }

    #[test]
    fn test_range_contain() {
        let range_a = range(2, 6);
        assert!(range_a.contains(&range(2, 3)));
        assert!(range_a.contains(&range(3, 4)));
        assert!(range_a.contains(&range(5, 6)));
        assert!(!range_a.contains(&range(1, 2)));
        assert!(!range_a.contains(&range(1, 3)));
        assert!(!range_a.contains(&range(1, 7)));
        assert!(!range_a.contains(&range(7, 8)));
        assert!(!range_a.contains(&range(6, 7)));
        assert!(!range_a.contains(&range(7, 8)));
    }

    #[test]
    fn test_range_ord() {
        let range_a = range(1, 4);
        let range_b = range(1, 4);
        let range_c = range(1, 3);
        let range_d = range(1, 5);

        assert_eq!(range_a, range_b);
        assert_eq!(range_b, range_a);
        assert!(range_a > range_c);
        assert!(range_c < range_a);
        assert!(range_a < range_d);
        assert!(range_d > range_a);
    }

    #[test]
    fn test_getters() {
        let range = range(3, 5);
        assert_eq!(range.start(), 3);
        assert_eq!(range.end(), 5);
    }

    #[test]
    fn test_range_upper_bound() {
        let range = RangeInclusive::new(0, u64::MAX);
        assert_eq!(range.unwrap_err(), Error::InvalidRange(0, u64::MAX));
    }

    #[test]
    fn constraint_getter() {
        let bad_constraint = Constraint::new(0x1000, 0x1000, AllocPolicy::ExactMatch(0xC));
        assert_eq!(bad_constraint.unwrap_err(), Error::UnalignedAddress);
        let constraint = Constraint::new(0x1000, 0x1000, AllocPolicy::default()).unwrap();
        assert_eq!(constraint.align(), 0x1000);
        assert_eq!(constraint.size(), 0x1000);
    }

    /// The `Constraint` doc example of 0.1.4.
    #[test]
    fn constraint_doc_example() {
        let constraint =
            Constraint::new(0x4, DEFAULT_CONSTRAINT_ALIGN, AllocPolicy::FirstMatch).unwrap();
        assert_eq!(constraint.size(), 0x4);
        assert_eq!(constraint.align(), 0x4);
        assert_eq!(
            Constraint::new(0x4, 0x3, AllocPolicy::LastMatch).unwrap_err(),
            Error::InvalidAlignment
        );
        assert_eq!(
            Constraint::new(0x4, 0x4, AllocPolicy::ExactMatch(0x3)).unwrap_err(),
            Error::UnalignedAddress
        );
    }

    /// The crate doc example of 0.1.4: a device manager reserving an id and
    /// a page of MMIO per device.
    #[test]
    fn device_manager_doc_example() {
        use std::collections::HashMap;

        const FIRST_ADDR_PAST_32BITS: u64 = 1 << 32;
        const MEM_32BIT_GAP_SIZE: u64 = 768 << 20;
        const MMIO_MEM_START: u64 = FIRST_ADDR_PAST_32BITS - MEM_32BIT_GAP_SIZE;
        const PAGE_SIZE: u64 = 0x1000;

        let mut id_allocator = IdAllocator::new(0, 100).unwrap();
        let mut mmio_allocator = AddressAllocator::new(MMIO_MEM_START, MEM_32BIT_GAP_SIZE).unwrap();
        let mut slots = HashMap::new();
        for i in 0..3u64 {
            let mmio_range = mmio_allocator
                .allocate(PAGE_SIZE, PAGE_SIZE, AllocPolicy::FirstMatch)
                .unwrap();
            assert_eq!(mmio_range.start(), MMIO_MEM_START + i * PAGE_SIZE);
            let id = id_allocator.allocate_id().unwrap();
            assert_eq!(u64::from(id), i);
            slots.insert(id, mmio_range);
        }
        let mmio_range = slots.remove(&1).unwrap();
        id_allocator.free_id(1).unwrap();
        mmio_allocator.free(&mmio_range).unwrap();
        // The freed slot is the first handed out again.
        assert_eq!(id_allocator.allocate_id().unwrap(), 1);
        assert_eq!(
            mmio_allocator
                .allocate(PAGE_SIZE, PAGE_SIZE, AllocPolicy::FirstMatch)
                .unwrap(),
            mmio_range
        );
    }
}

// ---------------------------------------------------------------------------
// (a) 0.1.4's src/address_allocator.rs tests
// ---------------------------------------------------------------------------

mod upstream_address_allocator {
    use super::*;

    #[test]
    fn test_regression_exact_match_length_check() {
        let mut pool = AddressAllocator::new(0x0, 0x2000).unwrap();
        let res = pool
            .allocate(0x1000, 0x1000, AllocPolicy::ExactMatch(0x1000))
            .unwrap();
        assert_eq!(
            pool.allocate(0x0, 0x1000, AllocPolicy::FirstMatch)
                .unwrap_err(),
            Error::InvalidSize(0x0)
        );
        assert_eq!(
            pool.allocate(0x1000, 0x1000, AllocPolicy::ExactMatch(0x3))
                .unwrap_err(),
            Error::UnalignedAddress
        );
        assert_eq!(res, range(0x1000, 0x1FFF));
        let res = pool
            .allocate(0x1000, 0x1000, AllocPolicy::ExactMatch(0x0))
            .unwrap();
        assert_eq!(res, range(0x0, 0x0FFF));
    }

    #[test]
    fn test_new_fails_overflow() {
        assert_eq!(
            AddressAllocator::new(u64::MAX, 0x100).unwrap_err(),
            Error::Overflow
        );
    }

    #[test]
    fn test_new_fails_size_zero() {
        assert_eq!(
            AddressAllocator::new(0x1000, 0x0).unwrap_err(),
            Error::Underflow
        );
    }

    #[test]
    fn test_allocate_fails_alignment_zero() {
        let mut pool = AddressAllocator::new(0x1000, 0x10000).unwrap();
        assert_eq!(
            pool.allocate(0x100, 0, AllocPolicy::FirstMatch)
                .unwrap_err(),
            Error::InvalidAlignment
        );
    }

    #[test]
    fn test_allocate_fails_alignment_non_power_of_two() {
        let mut pool = AddressAllocator::new(0x1000, 0x10000).unwrap();
        assert_eq!(
            pool.allocate(0x100, 200, AllocPolicy::FirstMatch)
                .unwrap_err(),
            Error::InvalidAlignment
        );
    }

    #[test]
    fn test_allocate_fails_not_enough_space() {
        let mut pool = AddressAllocator::new(0x1000, 0x1000).unwrap();
        assert_eq!(
            pool.allocate(0x800, 0x100, AllocPolicy::LastMatch).unwrap(),
            range(0x1800, 0x1FFF)
        );
        assert_eq!(
            pool.allocate(0x900, 0x100, AllocPolicy::FirstMatch)
                .unwrap_err(),
            Error::ResourceNotAvailable
        );
        assert_eq!(
            pool.allocate(0x400, 0x100, AllocPolicy::FirstMatch)
                .unwrap(),
            range(0x1000, 0x13FF)
        );
    }

    #[test]
    fn test_allocate_with_alignment_first_ok() {
        let mut pool = AddressAllocator::new(0x1000, 0x1000).unwrap();
        assert_eq!(
            pool.allocate(0x110, 0x100, AllocPolicy::FirstMatch)
                .unwrap(),
            range(0x1000, 0x110F)
        );
        assert_eq!(
            pool.allocate(0x100, 0x100, AllocPolicy::FirstMatch)
                .unwrap(),
            range(0x1200, 0x12FF)
        );
        assert_eq!(
            pool.allocate(0x10, 0x100, AllocPolicy::FirstMatch).unwrap(),
            range(0x1300, 0x130F)
        );
    }

    #[test]
    fn test_allocate_with_alignment_last_ok() {
        let mut pool_reverse = AddressAllocator::new(0x1000, 0x10000).unwrap();
        assert_eq!(
            pool_reverse
                .allocate(0x110, 0x100, AllocPolicy::LastMatch)
                .unwrap(),
            range(0x10E00, 0x10F0F)
        );
        assert_eq!(
            pool_reverse
                .allocate(0x100, 0x100, AllocPolicy::LastMatch)
                .unwrap(),
            range(0x10D00, 0x10DFF)
        );
        assert_eq!(
            pool_reverse
                .allocate(0x10, 0x100, AllocPolicy::LastMatch)
                .unwrap(),
            range(0x10C00, 0x10C0F)
        );
    }

    #[test]
    fn test_allocate_address_not_enough_space() {
        let mut pool = AddressAllocator::new(0x1000, 0x1000).unwrap();
        // First range is [0x1000:0x17FF]
        assert_eq!(
            pool.allocate(0x800, 0x100, AllocPolicy::FirstMatch)
                .unwrap(),
            range(0x1000, 0x17FF)
        );
        // Second range is [0x1A00:0x1BFF]
        assert_eq!(
            pool.allocate(0x200, 0x100, AllocPolicy::ExactMatch(0x1A00))
                .unwrap(),
            range(0x1A00, 0x1BFF)
        );
        // There is 0x200 between the first 2 ranges.
        // We ask for an available address but the range is too big
        assert_eq!(
            pool.allocate(0x800, 0x100, AllocPolicy::ExactMatch(0x1800))
                .unwrap_err(),
            Error::ResourceNotAvailable
        );
        // We ask for an available address, with a small enough range
        assert_eq!(
            pool.allocate(0x100, 0x100, AllocPolicy::ExactMatch(0x1800))
                .unwrap(),
            range(0x1800, 0x18FF)
        );
    }

    #[test]
    fn test_tree_allocate_address_free_and_realloc() {
        let mut pool = AddressAllocator::new(0x1000, 0x1000).unwrap();
        assert_eq!(
            pool.allocate(0x800, 0x100, AllocPolicy::FirstMatch)
                .unwrap(),
            range(0x1000, 0x17FF)
        );

        // 0.1.4 ignored this result; it must succeed.
        pool.free(&range(0x1000, 0x17FF)).unwrap();
        assert_eq!(
            pool.allocate(0x800, 0x100, AllocPolicy::FirstMatch)
                .unwrap(),
            range(0x1000, 0x17FF)
        );
    }

    #[test]
    fn test_allow_range_size_one_left() {
        let mut pool = AddressAllocator::new(1, 1000).unwrap();
        assert_eq!(
            pool.allocate(10, 2, AllocPolicy::FirstMatch).unwrap(),
            range(2, 11)
        );
        assert_eq!(
            pool.allocate(1, 1, AllocPolicy::FirstMatch).unwrap(),
            range(1, 1)
        );
    }

    #[test]
    fn test_allocate_address_fail_free_and_realloc() {
        let mut pool = AddressAllocator::new(0x0, 0x1000).unwrap();
        //First allocation fails
        assert_eq!(
            pool.allocate(0x2000, 0x100, AllocPolicy::FirstMatch)
                .unwrap_err(),
            Error::ResourceNotAvailable
        );
        // We try to free a range that was not allocated.
        assert_eq!(
            pool.free(&range(0x1200, 0x3200)).unwrap_err(),
            Error::ResourceNotAvailable
        );
        // Now we try an allocation that should succeed.
        assert_eq!(
            pool.allocate(0x4FE, 0x100, AllocPolicy::ExactMatch(0x500))
                .unwrap(),
            range(0x500, 0x9FD)
        );
        assert!(pool.free(&range(0x500, 0x9FD)).is_ok());
    }

    /// 0.1.4's `test_integer_wrapping` (an interval-tree test, here through
    /// the allocator). 0.1.4 expected `Overflow`, but `[2^63, u64::MAX]`
    /// lies inside the space `[1, u64::MAX]` and overflows nothing: 0.1.4
    /// computed `start + size`, one past the end. The allocation succeeds.
    #[test]
    fn test_integer_wrapping() {
        let mut pool = AddressAllocator::new(1, u64::MAX).unwrap();
        assert_eq!(pool.end(), u64::MAX);
        assert_eq!(
            pool.allocate(
                0x8000000000000000,
                0x8000000000000000,
                AllocPolicy::ExactMatch(0x8000000000000000)
            ),
            Ok(range(0x8000000000000000, u64::MAX))
        );
        // One more address past the end does overflow.
        let mut pool = AddressAllocator::new(1, u64::MAX).unwrap();
        assert_eq!(
            pool.allocate(
                0x8000000000000001,
                1,
                AllocPolicy::ExactMatch(0x8000000000000000)
            ),
            Err(Error::Overflow)
        );
    }
}

// ---------------------------------------------------------------------------
// (a) 0.1.4's src/id_allocator.rs tests
// ---------------------------------------------------------------------------

mod upstream_id_allocator {
    use super::*;

    #[test]
    fn test_slot_id_allocation() {
        let faulty_allocator = IdAllocator::new(23, 5);
        assert_eq!(faulty_allocator.unwrap_err(), Error::InvalidRange(23, 5));
        let mut legacy_irq_allocator = IdAllocator::new(5, 23).unwrap();
        assert_eq!(legacy_irq_allocator.range_base(), 5);
        assert_eq!(legacy_irq_allocator.range_end(), 23);

        let id = legacy_irq_allocator.allocate_id().unwrap();
        assert_eq!(id, 5);
        // 0.1.4 checked `next_id == 6`: 6 has never been handed out.
        assert_eq!(
            legacy_irq_allocator.clone().free_id(6),
            Err(Error::NeverAllocated(6))
        );

        for _ in 1..19 {
            assert!(legacy_irq_allocator.allocate_id().is_ok());
        }

        assert_eq!(
            legacy_irq_allocator.allocate_id().unwrap_err(),
            Error::ResourceNotAvailable
        );
    }

    #[test]
    fn test_u32_overflow() {
        let mut allocator = IdAllocator::new(u32::MAX - 1, u32::MAX).unwrap();
        assert_eq!(allocator.allocate_id().unwrap(), u32::MAX - 1);
        assert_eq!(allocator.allocate_id().unwrap(), u32::MAX);
        let res = allocator.allocate_id();
        assert!(res.is_err());
        assert_eq!(res.unwrap_err(), Error::Overflow);
    }

    #[test]
    fn test_slot_id_free() {
        let mut legacy_irq_allocator = IdAllocator::new(5, 23).unwrap();
        assert_eq!(
            legacy_irq_allocator.free_id(3).unwrap_err(),
            Error::OutOfRange(3)
        );
        // 0.1.4 checked that no id was recorded as freed.
        assert_eq!(legacy_irq_allocator.used(), 0);

        for _ in 1..10 {
            let _id = legacy_irq_allocator.allocate_id().unwrap();
        }

        let irq = 10;
        legacy_irq_allocator.free_id(irq).unwrap();
        // 0.1.4 checked its set of freed ids; the same fact, observably:
        assert!(!legacy_irq_allocator.is_allocated(irq));
        assert_eq!(
            legacy_irq_allocator.free_id(10).unwrap_err(),
            Error::AlreadyReleased(10)
        );
        let irq = 9;
        legacy_irq_allocator.free_id(irq).unwrap();
        // Two freed ids, 9 the smallest.
        assert_eq!(legacy_irq_allocator.used(), 9 - 2);
        assert_eq!(
            legacy_irq_allocator.iter().collect::<Vec<_>>(),
            vec![5, 6, 7, 8, 11, 12, 13]
        );

        let irq = legacy_irq_allocator.allocate_id().unwrap();
        assert_eq!(irq, 9);
        assert!(legacy_irq_allocator.is_allocated(irq));
        assert_eq!(legacy_irq_allocator.used(), 9 - 1);
        assert_eq!(
            legacy_irq_allocator.free_id(21).unwrap_err(),
            Error::NeverAllocated(21)
        );
    }

    #[test]
    fn test_free_id_never_allocated_boundary() {
        let mut allocator = IdAllocator::new(5, 23).unwrap();

        assert_eq!(allocator.free_id(5).unwrap_err(), Error::NeverAllocated(5));
        assert_eq!(allocator.used(), 0);

        for _ in 0..3 {
            allocator.allocate_id().unwrap();
        }
        // 0.1.4 checked `next_id == 8`.
        assert_eq!(allocator.free_id(8).unwrap_err(), Error::NeverAllocated(8));
        assert_eq!(allocator.used(), 3);
    }

    #[test]
    fn test_is_allocated() {
        let mut allocator = IdAllocator::new(5, 23).unwrap();

        assert!(!allocator.is_allocated(4));
        assert!(!allocator.is_allocated(24));

        assert!(!allocator.is_allocated(10));

        let id = allocator.allocate_id().unwrap();
        assert_eq!(id, 5);
        assert!(allocator.is_allocated(5));
        assert!(!allocator.is_allocated(6));

        allocator.free_id(5).unwrap();
        assert!(!allocator.is_allocated(5));

        let id = allocator.allocate_id().unwrap();
        assert_eq!(id, 5);
        assert!(allocator.is_allocated(5));
    }

    #[test]
    fn test_is_allocated_full_range() {
        let mut allocator = IdAllocator::new(u32::MAX - 1, u32::MAX).unwrap();

        assert!(!allocator.is_allocated(u32::MAX - 1));
        assert!(!allocator.is_allocated(u32::MAX));

        assert_eq!(allocator.allocate_id().unwrap(), u32::MAX - 1);
        assert!(allocator.is_allocated(u32::MAX - 1));
        assert!(!allocator.is_allocated(u32::MAX));

        assert_eq!(allocator.allocate_id().unwrap(), u32::MAX);
        // 0.1.4 checked `next_id.is_none()`: the whole range was handed out.
        assert_eq!(allocator.available(), 0);
        assert!(allocator.is_allocated(u32::MAX));

        allocator.free_id(u32::MAX).unwrap();
        assert!(!allocator.is_allocated(u32::MAX));
        assert!(allocator.is_allocated(u32::MAX - 1));
    }

    #[test]
    fn test_is_allocated_with_freed() {
        let mut allocator = IdAllocator::new(5, 23).unwrap();
        allocator.allocate_id().unwrap();
        allocator.allocate_id().unwrap();

        // 0.1.4 checked `next_id == Some(7)`.
        assert_eq!(allocator.clone().free_id(7), Err(Error::NeverAllocated(7)));

        assert!(allocator.is_allocated(6));
        assert!(!allocator.is_allocated(7));

        allocator.free_id(5).unwrap();
        assert!(!allocator.is_allocated(5));
        assert!(allocator.is_allocated(6));
        assert!(!allocator.is_allocated(7));
    }

    /// 0.1.4 tested its private `id_in_range`; the public face of that check
    /// is `free_id`'s `OutOfRange`.
    #[test]
    fn test_id_sanity_checks() {
        let mut legacy_irq_allocator = IdAllocator::new(5, 23).unwrap();

        assert_eq!(legacy_irq_allocator.free_id(4), Err(Error::OutOfRange(4)));
        assert_eq!(
            legacy_irq_allocator.free_id(6),
            Err(Error::NeverAllocated(6))
        );
        assert_eq!(legacy_irq_allocator.free_id(25), Err(Error::OutOfRange(25)));
    }
}

// ---------------------------------------------------------------------------
// (b) Properties every pool has
// ---------------------------------------------------------------------------

/// A pool of units (ids, or addresses) allocated as ranges `(first, last)`.
trait Pool: Clone + std::fmt::Debug {
    /// Spaces worth testing: at 0, at the top of the unit type, elsewhere.
    const SPACES: &'static [(u64, u64)];
    fn make(first: u64, last: u64) -> Self;
    /// The lowest free block of `len` units starting at a multiple of `align`.
    fn allocate_lowest(&mut self, len: u64, align: u64) -> Result<(u64, u64), Error>;
    /// Exactly one unit.
    fn allocate_at(&mut self, unit: u64) -> Result<(u64, u64), Error>;
    fn free(&mut self, r: (u64, u64)) -> Result<(), Error>;
    fn is_allocated(&self, unit: u64) -> bool;
    /// The allocated units as `(first, last)` ranges, in order.
    fn allocations(&self) -> Vec<(u64, u64)>;
    fn used(&self) -> u64;
    fn available(&self) -> u64;
    fn check_invariants(&self) -> Result<(), String>;
}

impl Pool for IdAllocator {
    const SPACES: &'static [(u64, u64)] = &[
        (0, 63),
        (u32::MAX as u64 - 63, u32::MAX as u64),
        (1000, 1063),
        (7, 7),
    ];
    fn make(first: u64, last: u64) -> Self {
        IdAllocator::new(first as u32, last as u32).unwrap()
    }
    fn allocate_lowest(&mut self, len: u64, align: u64) -> Result<(u64, u64), Error> {
        self.allocate_ids(len as u32, align as u32)
            .map(|r| (u64::from(*r.start()), u64::from(*r.end())))
    }
    fn allocate_at(&mut self, unit: u64) -> Result<(u64, u64), Error> {
        self.allocate_id_at(unit as u32)
            .map(|id| (u64::from(id), u64::from(id)))
    }
    fn free(&mut self, (first, last): (u64, u64)) -> Result<(), Error> {
        self.free_ids(first as u32..=last as u32)
    }
    fn is_allocated(&self, unit: u64) -> bool {
        IdAllocator::is_allocated(self, unit as u32)
    }
    fn allocations(&self) -> Vec<(u64, u64)> {
        self.iter()
            .map(|id| (u64::from(id), u64::from(id)))
            .collect()
    }
    fn used(&self) -> u64 {
        IdAllocator::used(self)
    }
    fn available(&self) -> u64 {
        IdAllocator::available(self)
    }
    fn check_invariants(&self) -> Result<(), String> {
        IdAllocator::check_invariants(self)
    }
}

impl Pool for AddressAllocator {
    const SPACES: &'static [(u64, u64)] =
        &[(0, 63), (u64::MAX - 63, u64::MAX), (0x1000, 0x103f), (7, 7)];
    fn make(first: u64, last: u64) -> Self {
        AddressAllocator::new(first, last - first + 1).unwrap()
    }
    fn allocate_lowest(&mut self, len: u64, align: u64) -> Result<(u64, u64), Error> {
        self.allocate(len, align, AllocPolicy::FirstMatch)
            .map(|r| (r.start(), r.end()))
    }
    fn allocate_at(&mut self, unit: u64) -> Result<(u64, u64), Error> {
        self.allocate(1, 1, AllocPolicy::ExactMatch(unit))
            .map(|r| (r.start(), r.end()))
    }
    fn free(&mut self, (first, last): (u64, u64)) -> Result<(), Error> {
        AddressAllocator::free(self, &range(first, last))
    }
    fn is_allocated(&self, unit: u64) -> bool {
        AddressAllocator::is_allocated(self, unit)
    }
    fn allocations(&self) -> Vec<(u64, u64)> {
        self.iter().map(|r| (r.start(), r.end())).collect()
    }
    fn used(&self) -> u64 {
        AddressAllocator::used(self)
    }
    fn available(&self) -> u64 {
        AddressAllocator::available(self)
    }
    fn check_invariants(&self) -> Result<(), String> {
        AddressAllocator::check_invariants(self)
    }
}

/// What every pool must satisfy at any time: allocations sorted, disjoint,
/// inside the space, `is_allocated` agreeing with them, and
/// `used + available` equal to the size of the space.
fn check_sane<P: Pool>(pool: &P, (first, last): (u64, u64)) {
    pool.check_invariants().unwrap();
    let allocations = pool.allocations();
    for w in allocations.windows(2) {
        assert!(
            w[0].1 < w[1].0,
            "{:?} and {:?} overlap or are unsorted",
            w[0],
            w[1]
        );
    }
    for &(s, e) in &allocations {
        assert!(
            first <= s && s <= e && e <= last,
            "({s}, {e}) outside the space"
        );
        assert!(pool.is_allocated(s) && pool.is_allocated(e));
    }
    let used: u64 = allocations.iter().map(|(s, e)| e - s + 1).sum();
    assert_eq!(pool.used(), used);
    assert_eq!(pool.used() + pool.available(), last - first + 1);
    for unit in [first.wrapping_sub(1), last.wrapping_add(1)] {
        if !(first..=last).contains(&unit) {
            assert!(!pool.is_allocated(unit));
        }
    }
}

/// Allocating one unit at a time takes the units in increasing order until
/// the pool is full, then fails; freeing them all, in any order, empties it.
fn fill_then_empty<P: Pool>() {
    for &(first, last) in P::SPACES {
        let mut pool = P::make(first, last);
        check_sane(&pool, (first, last));
        for unit in first..=last {
            assert_eq!(pool.allocate_lowest(1, 1), Ok((unit, unit)));
            check_sane(&pool, (first, last));
        }
        assert_eq!(pool.available(), 0);
        assert_eq!(pool.allocate_lowest(1, 1), Err(Error::ResourceNotAvailable));
        let mut units: Vec<u64> = (first..=last).collect();
        let mut rng = Rng(first | 1);
        while !units.is_empty() {
            let unit = units.swap_remove(rng.below(units.len() as u64) as usize);
            pool.free((unit, unit)).unwrap();
            assert!(!pool.is_allocated(unit));
            check_sane(&pool, (first, last));
        }
        assert_eq!(pool.used(), 0);
    }
}

/// A freed block is handed out again by the next request of its size.
fn freed_space_is_reusable<P: Pool>() {
    for &(first, last) in P::SPACES.iter().filter(|(f, l)| l - f >= 31) {
        let mut pool = P::make(first, last);
        let blocks: Vec<(u64, u64)> = (0..8)
            .map(|_| pool.allocate_lowest(4, 1).unwrap())
            .collect();
        for (i, &b) in blocks.iter().enumerate() {
            assert_eq!(b, (first + 4 * i as u64, first + 4 * i as u64 + 3));
        }
        pool.free(blocks[3]).unwrap();
        pool.free(blocks[5]).unwrap();
        check_sane(&pool, (first, last));
        assert_eq!(pool.allocate_lowest(4, 1), Ok(blocks[3]));
        assert_eq!(
            pool.allocate_lowest(2, 1),
            Ok((blocks[5].0, blocks[5].0 + 1))
        );
        // Freeing a block again, or a range that is not allocated, fails and
        // changes nothing.
        let before = pool.allocations();
        pool.free(blocks[5]).unwrap_err();
        pool.free((blocks[5].1, blocks[5].1)).unwrap_err();
        assert_eq!(pool.allocations(), before);
        check_sane(&pool, (first, last));
    }
}

/// The lowest-fit request returns the lowest aligned free block, as a brute
/// force search over `is_allocated` finds it.
fn lowest_fit_is_lowest<P: Pool>() {
    for &(first, last) in P::SPACES {
        let mut pool = P::make(first, last);
        let mut rng = Rng(last | 1);
        for _ in 0..(last - first + 1) / 3 {
            let unit = first + rng.below(last - first + 1);
            if pool.is_allocated(unit) {
                assert_eq!(pool.allocate_at(unit), Err(Error::ResourceNotAvailable));
            } else {
                assert_eq!(pool.allocate_at(unit), Ok((unit, unit)));
            }
        }
        check_sane(&pool, (first, last));
        for len in 1..=4 {
            for align in [1, 2, 4, 8] {
                let expected = (first..=last)
                    .filter(|s| s % align == 0)
                    .find(|&s| match s.checked_add(len - 1) {
                        Some(e) if e <= last => (s..=e).all(|u| !pool.is_allocated(u)),
                        _ => false,
                    })
                    .map(|s| (s, s + len - 1))
                    .ok_or(Error::ResourceNotAvailable);
                let mut probe = pool.clone();
                assert_eq!(
                    probe.allocate_lowest(len, align),
                    expected,
                    "len {len} align {align}"
                );
                check_sane(&probe, (first, last));
            }
        }
    }
}

/// A clone is a snapshot: changes to it and to the original never show in
/// the other.
fn clone_is_independent<P: Pool>() {
    for &(first, last) in P::SPACES.iter().filter(|(f, l)| l - f >= 15) {
        let mut original = P::make(first, last);
        for _ in 0..6 {
            original.allocate_lowest(2, 1).unwrap();
        }
        let frozen = original.allocations();
        let mut copy = original.clone();
        original.free((first, first + 1)).unwrap();
        original.allocate_at(last).unwrap();
        copy.free((first + 2, first + 3)).unwrap();
        copy.allocate_lowest(3, 1).unwrap();
        let mut expected_original = frozen.clone();
        expected_original.retain(|r| r.0 != first);
        let mut expected_copy = frozen.clone();
        expected_copy.retain(|r| r.0 != first + 2);
        assert!(!original.is_allocated(first) && original.is_allocated(first + 2));
        assert!(copy.is_allocated(first) && !copy.is_allocated(first + 2));
        assert!(original.is_allocated(last) && !copy.is_allocated(last));
        assert_eq!(copy.used(), 6 * 2 - 2 + 3);
        assert_eq!(original.used(), 6 * 2 - 2 + 1);
        // An untouched clone still holds exactly the state it was taken from.
        let untouched = copy.clone();
        copy.free((first, first + 1)).unwrap();
        assert_eq!(untouched.used(), 6 * 2 - 2 + 3);
        assert!(untouched.is_allocated(first));
        check_sane(&original, (first, last));
        check_sane(&copy, (first, last));
        check_sane(&untouched, (first, last));
    }
}

/// Requests outside the space fail and change nothing.
fn outside_the_space_fails<P: Pool>() {
    for &(first, last) in P::SPACES {
        let mut pool = P::make(first, last);
        for unit in [first.wrapping_sub(1), last.wrapping_add(1)] {
            if !(first..=last).contains(&unit) {
                assert!(pool.allocate_at(unit).is_err());
            }
        }
        assert_eq!(
            pool.allocate_lowest(last - first + 2, 1),
            Err(Error::ResourceNotAvailable)
        );
        assert_eq!(pool.used(), 0);
        check_sane(&pool, (first, last));
    }
}

macro_rules! conformance_suite {
    ($name:ident, $pool:ty) => {
        mod $name {
            use super::*;

            #[test]
            fn fill_then_empty() {
                super::fill_then_empty::<$pool>();
            }
            #[test]
            fn freed_space_is_reusable() {
                super::freed_space_is_reusable::<$pool>();
            }
            #[test]
            fn lowest_fit_is_lowest() {
                super::lowest_fit_is_lowest::<$pool>();
            }
            #[test]
            fn clone_is_independent() {
                super::clone_is_independent::<$pool>();
            }
            #[test]
            fn outside_the_space_fails() {
                super::outside_the_space_fails::<$pool>();
            }
        }
    };
}

conformance_suite!(id_pool, IdAllocator);
conformance_suite!(address_pool, AddressAllocator);
