// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Random operation sequences and the reference models they are checked
//! against, shared by the proptest suite (`tests/model.rs`) and the cargo-fuzz
//! target `ops` (`fuzz/fuzz_targets/ops.rs`).
//!
//! A [`Scenario`] is an address space, an id range and a list of [`Action`]s.
//! [`run`] plays it on the real allocators and on [`AddressModel`] /
//! [`IdModel`], compares every result (the `Ok` value or the exact `Error`),
//! then the whole state of the live allocators and of every snapshot, and
//! stops at the first difference with a message naming the action.
//!
//! Numbers inside actions are *selectors* resolved against the current state
//! (the start of the third allocation, the end of the space plus one, ...),
//! so random input lands on the boundaries where allocators go wrong rather
//! than on addresses nobody uses.
//!
//! This file needs only `vm_allocator` and `arbitrary`: the proptest
//! strategies live in `strategy.rs`, which the fuzz target does not include.

// Each includer uses a different part of this module.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::Arbitrary;
use vm_allocator::{AddressAllocator, AllocPolicy, Constraint, Error, IdAllocator, RangeInclusive};

/// Most snapshots kept at once; taking one more forgets the oldest.
pub const MAX_SNAPSHOTS: usize = 4;
/// Most allocations (or id runs) whose boundaries are probed after an action.
pub const PROBED: usize = 24;
/// Most allocations one `Fill` makes.
pub const MAX_FILL: usize = 64;
/// Most ids one successful `allocate_ids` may take (see [`CountSel::resolve`]).
pub const MAX_ID_BLOCK: u32 = 256;

// ---------------------------------------------------------------------------
// Scenarios and actions
// ---------------------------------------------------------------------------

/// A starting state and the actions to play on it.
#[derive(Debug, Clone, Arbitrary)]
pub struct Scenario {
    /// The address space of the `AddressAllocator`.
    pub space: SpaceSel,
    /// The id range of the `IdAllocator`.
    pub ids: IdRangeSel,
    /// What to do, in order.
    pub actions: Vec<Action>,
}

/// An address space. Sizes are small so the models can search by brute
/// force, but bases vary over the whole `u64` range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum SpaceSel {
    /// `[0, last]`: touches address 0.
    AtZero(u16),
    /// `[u64::MAX - last, u64::MAX]`: touches the highest address.
    AtMax(u16),
    /// `len + 1` addresses from `base`, moved down if they would pass `u64::MAX`.
    At {
        /// First address (before moving down).
        base: u64,
        /// Size minus one.
        len: u16,
    },
    /// `2^(bits % 65)` addresses from `base` (`u64::MAX` addresses for 64),
    /// moved down as needed: allocations are sparse in these.
    Wide {
        /// First address (before moving down).
        base: u64,
        /// log2 of the size.
        bits: u8,
    },
}

impl SpaceSel {
    /// The `(base, size)` to pass to `AddressAllocator::new`; always valid.
    pub fn base_and_size(self) -> (u64, u64) {
        let (base, size) = match self {
            SpaceSel::AtZero(last) => (0, u64::from(last) + 1),
            SpaceSel::AtMax(last) => (u64::MAX - u64::from(last), u64::from(last) + 1),
            SpaceSel::At { base, len } => (base, u64::from(len) + 1),
            SpaceSel::Wide { base, bits } => match bits % 65 {
                64 => (base, u64::MAX),
                b => (base, 1u64 << b),
            },
        };
        // The last address, base + size - 1, must not pass u64::MAX.
        (base.min(u64::MAX - (size - 1)), size)
    }
}

/// An id range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum IdRangeSel {
    /// `[0, last]`.
    AtZero(u16),
    /// `[u32::MAX - last, u32::MAX]`: exhaustion reports `Overflow`.
    AtMax(u16),
    /// `len + 1` ids from `base`, moved down if they would pass `u32::MAX`.
    At {
        /// First id (before moving down).
        base: u32,
        /// Number of ids minus one.
        len: u16,
    },
    /// `2^(bits % 33)` ids from `base`, moved down as needed.
    Wide {
        /// First id (before moving down).
        base: u32,
        /// log2 of the number of ids.
        bits: u8,
    },
}

impl IdRangeSel {
    /// The `(range_base, range_end)` to pass to `IdAllocator::new`; always valid.
    pub fn bounds(self) -> (u32, u32) {
        let (base, last) = match self {
            IdRangeSel::AtZero(last) => (0, u64::from(last)),
            IdRangeSel::AtMax(last) => (u64::from(u32::MAX - u32::from(last)), u64::from(last)),
            IdRangeSel::At { base, len } => (u64::from(base), u64::from(len)),
            IdRangeSel::Wide { base, bits } => (u64::from(base), (1u64 << (bits % 33)) - 1),
        };
        let base = base.min(u64::from(u32::MAX) - last);
        (base as u32, (base + last) as u32)
    }
}

/// One step of a scenario.
#[derive(Debug, Clone, Arbitrary)]
pub enum Action {
    /// An operation on the live allocators.
    Op(Op),
    /// Keep a clone of the live allocators (and of their models).
    Snapshot,
    /// Apply an operation to a kept clone instead of the live allocators.
    MutateSnapshot {
        /// Which snapshot (modulo their number).
        slot: u8,
        /// The operation.
        op: Op,
    },
    /// Make a kept clone the live allocators (the clone stays kept).
    Restore {
        /// Which snapshot (modulo their number).
        slot: u8,
    },
    /// Forget a kept clone.
    DropSnapshot {
        /// Which snapshot (modulo their number).
        slot: u8,
    },
    /// Check `AddressAllocator::new` on raw arguments (the live state stays).
    NewAddress {
        /// First address.
        base: u64,
        /// Number of addresses.
        size: u64,
    },
    /// Check `IdAllocator::new` on raw arguments (the live state stays).
    NewIds {
        /// First id.
        base: u32,
        /// Last id.
        end: u32,
    },
    /// Start over with fresh allocators on another space and id range.
    Reset {
        /// The new address space.
        space: SpaceSel,
        /// The new id range.
        ids: IdRangeSel,
    },
}

/// An operation on one of the two allocators.
#[derive(Debug, Clone, Arbitrary)]
pub enum Op {
    /// `AddressAllocator::allocate`.
    Allocate {
        /// Size.
        size: SizeSel,
        /// Alignment.
        align: AlignSel,
        /// Policy.
        policy: PolicySel,
    },
    /// `AddressAllocator::allocate_with`, with minimum/maximum bounds.
    AllocateWith {
        /// Size.
        size: SizeSel,
        /// Alignment.
        align: AlignSel,
        /// Policy.
        policy: PolicySel,
        /// Bounds added to the constraint.
        bounds: BoundsSel,
    },
    /// Up to [`MAX_FILL`] First or LastMatch allocations of one shape,
    /// stopping at the first error: grows the tree quickly.
    Fill {
        /// How many (modulo `MAX_FILL + 1`).
        count: u8,
        /// Size of each.
        size: SizeSel,
        /// Alignment of each.
        align: AlignSel,
        /// LastMatch instead of FirstMatch.
        last: bool,
    },
    /// `AddressAllocator::free`.
    Free(FreeSel),
    /// Free every `stride`-th allocation: fragments the space.
    FreeEvery {
        /// Distance between freed allocations (`stride % 8 + 2`).
        stride: u8,
        /// Index of the first one freed.
        offset: u8,
    },
    /// `is_allocated` and `allocation_containing` of one address.
    Query(AddrSel),
    /// `IdAllocator::allocate_id`.
    AllocateId,
    /// Up to [`MAX_FILL`] `allocate_id` calls, stopping at the first error.
    FillIds(u8),
    /// `IdAllocator::allocate_id_at`.
    AllocateIdAt(IdSel),
    /// `IdAllocator::allocate_ids`.
    AllocateIds {
        /// Number of ids.
        count: CountSel,
        /// Alignment of the first id.
        align: IdAlignSel,
    },
    /// `IdAllocator::free_id`.
    FreeId(IdSel),
    /// `IdAllocator::free_ids(first..=first + span)`; a negative span gives
    /// an inverted (empty) range when it is not -0.
    FreeIds {
        /// First id.
        first: IdSel,
        /// `last - first`, wrapping.
        span: i8,
    },
    /// Free every `stride`-th allocated id.
    FreeIdsEvery {
        /// Distance between freed ids (`stride % 8 + 2`).
        stride: u8,
        /// Index of the first one freed.
        offset: u8,
    },
    /// `IdAllocator::is_allocated` of one id.
    QueryId(IdSel),
}

/// A size.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum SizeSel {
    /// That many (0 is invalid).
    Small(u8),
    /// `2^(e % 64)`.
    Pow(u8),
    /// The size of the space minus `n` (wrapping; 0 is invalid).
    SpaceMinus(u8),
    /// Any value.
    Raw(u64),
}

/// An alignment.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum AlignSel {
    /// `2^(e % 64)`, huge ones included.
    Pow(u8),
    /// Any value: zero and non powers of two are invalid.
    Raw(u64),
}

/// An allocation policy.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum PolicySel {
    /// `FirstMatch`.
    First,
    /// `LastMatch`.
    Last,
    /// `ExactMatch` at the address, aligned or not.
    Exact(AddrSel),
    /// `ExactMatch` at the address rounded down to the alignment (when the
    /// alignment is valid), so that it is usually accepted.
    ExactAligned(AddrSel),
}

/// Bounds added to a constraint, in this order: minimum, maximum, window.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct BoundsSel {
    /// `with_min_address`.
    pub min: Option<AddrSel>,
    /// `with_max_address`.
    pub max: Option<AddrSel>,
    /// `within(RangeInclusive::new(a, b))`, skipped when that range is invalid.
    pub within: Option<(AddrSel, AddrSel)>,
}

/// An address, relative to the space or to the current allocations.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum AddrSel {
    /// `base + n`, wrapping (may lie past the end).
    Offset(u16),
    /// `base - 1 - n`, wrapping: below the space.
    Below(u8),
    /// `end - n`, wrapping.
    FromEnd(u16),
    /// `end + 1 + n`, wrapping: above the space.
    Above(u8),
    /// `base + size * n / 2^16`: anywhere in a wide space.
    Fraction(u16),
    /// Start of allocation `idx` (modulo their number; `base` if none) + delta.
    AllocStart {
        /// Which allocation.
        idx: u8,
        /// Added, wrapping.
        delta: i8,
    },
    /// End of allocation `idx` (`end` if none) + delta.
    AllocEnd {
        /// Which allocation.
        idx: u8,
        /// Added, wrapping.
        delta: i8,
    },
    /// Start of free gap `idx` (`base` if none) + delta.
    GapStart {
        /// Which gap.
        idx: u8,
        /// Added, wrapping.
        delta: i8,
    },
    /// End of free gap `idx` (`end` if none) + delta.
    GapEnd {
        /// Which gap.
        idx: u8,
        /// Added, wrapping.
        delta: i8,
    },
    /// Any value.
    Raw(u64),
}

/// A range to free.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum FreeSel {
    /// Exactly allocation `idx` (modulo their number).
    Alloc(u8),
    /// Allocation `idx` shrunk at either end.
    Sub {
        /// Which allocation.
        idx: u8,
        /// Added to the start.
        trim_start: u8,
        /// Subtracted from the end.
        trim_end: u8,
    },
    /// Allocation `idx` grown at either end.
    Super {
        /// Which allocation.
        idx: u8,
        /// Subtracted from the start.
        grow_start: u8,
        /// Added to the end.
        grow_end: u8,
    },
    /// Allocation `idx` moved by `delta`.
    Shift {
        /// Which allocation.
        idx: u8,
        /// Added to both ends.
        delta: i8,
    },
    /// From the start of allocation `idx` to the end of the next one.
    Pair(u8),
    /// Exactly free gap `idx`: 0.1.4 wrongly accepted this.
    Gap(u8),
    /// `[start, start + len]`.
    Raw {
        /// First address.
        start: AddrSel,
        /// Length minus one.
        len: u16,
    },
}

/// An id, relative to the range or to the current allocations.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum IdSel {
    /// `range_base + n`, wrapping.
    Offset(u16),
    /// `range_base - 1 - n`, wrapping.
    Below(u8),
    /// `range_end - n`, wrapping.
    FromEnd(u16),
    /// `range_end + 1 + n`, wrapping.
    Above(u8),
    /// `range_base + ids * n / 2^16`.
    Fraction(u16),
    /// Allocated id `idx` (modulo their number; `range_base` if none) + delta.
    Allocated {
        /// Which allocated id.
        idx: u8,
        /// Added, wrapping.
        delta: i8,
    },
    /// One past the highest id ever allocated, + delta: the boundary between
    /// `AlreadyReleased` and `NeverAllocated`.
    NextId(i8),
    /// Any value.
    Raw(u32),
}

/// A number of ids.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum CountSel {
    /// That many (0 is invalid).
    Small(u8),
    /// `2^(e % 32)`.
    Pow(u8),
    /// Any value.
    Raw(u32),
}

/// An id alignment.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum IdAlignSel {
    /// `2^(e % 32)`.
    Pow(u8),
    /// Any value: zero and non powers of two are invalid.
    Raw(u32),
}

// ---------------------------------------------------------------------------
// Reference model of AddressAllocator
// ---------------------------------------------------------------------------

/// What an `AddressAllocator` should be: the space and its allocations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressModel {
    /// First address of the space.
    pub base: u64,
    /// Last address of the space.
    pub end: u64,
    /// start -> end of each allocation (inclusive).
    pub allocs: BTreeMap<u64, u64>,
}

/// An allocation request as the model sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    /// Size.
    pub size: u64,
    /// Alignment.
    pub align: u64,
    /// Policy.
    pub policy: AllocPolicy,
    /// Lowest address the allocation may use.
    pub min: u64,
    /// Highest address the allocation may use.
    pub max: u64,
}

impl Request {
    /// An unbounded request.
    pub fn new(size: u64, align: u64, policy: AllocPolicy) -> Self {
        Request {
            size,
            align,
            policy,
            min: 0,
            max: u64::MAX,
        }
    }
}

fn align_up(x: u64, align: u64) -> Option<u64> {
    x.checked_add(align - 1).map(|y| y / align * align)
}

fn align_down(x: u64, align: u64) -> u64 {
    x / align * align
}

impl AddressModel {
    /// The space of `AddressAllocator::new(base, size)`, or its error.
    pub fn new(base: u64, size: u64) -> Result<Self, Error> {
        if size == 0 {
            return Err(Error::Underflow);
        }
        let end = base.checked_add(size - 1).ok_or(Error::Overflow)?;
        Ok(AddressModel {
            base,
            end,
            allocs: BTreeMap::new(),
        })
    }

    /// Number of addresses in the space.
    pub fn size(&self) -> u64 {
        self.end - self.base + 1
    }

    /// The allocations, in order.
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        self.allocs.iter().map(|(&s, &e)| (s, e)).collect()
    }

    /// The maximal free ranges of the space, in order.
    pub fn gaps(&self) -> Vec<(u64, u64)> {
        let mut gaps = Vec::new();
        let mut next = Some(self.base); // first address not yet accounted for
        for (&s, &e) in &self.allocs {
            if let Some(n) = next {
                if n < s {
                    gaps.push((n, s - 1));
                }
            }
            next = e.checked_add(1);
        }
        if let Some(n) = next {
            if n <= self.end {
                gaps.push((n, self.end));
            }
        }
        gaps
    }

    /// Number of allocated addresses.
    pub fn used(&self) -> u64 {
        self.allocs.iter().map(|(&s, &e)| e - s + 1).sum()
    }

    /// The allocation that shares an address with `[start, end]`, if any.
    ///
    /// Allocations are disjoint, so only the one with the highest start at
    /// or below `end` can reach `start`.
    pub fn overlapping(&self, start: u64, end: u64) -> Option<(u64, u64)> {
        self.allocs
            .range(..=end)
            .next_back()
            .filter(|(_, &e)| e >= start)
            .map(|(&s, &e)| (s, e))
    }

    /// The allocation containing `addr`, if any.
    pub fn containing(&self, addr: u64) -> Option<(u64, u64)> {
        self.overlapping(addr, addr)
    }

    /// `Constraint::new`'s checks, in its documented order.
    pub fn validate(size: u64, align: u64, policy: AllocPolicy) -> Result<(), Error> {
        if size == 0 {
            return Err(Error::InvalidSize(0));
        }
        if !align.is_power_of_two() {
            return Err(Error::InvalidAlignment);
        }
        if let AllocPolicy::ExactMatch(start) = policy {
            if start % align != 0 {
                return Err(Error::UnalignedAddress);
            }
        }
        Ok(())
    }

    /// What `allocate_with` must answer, without changing the model.
    pub fn decide(&self, r: &Request) -> Result<(u64, u64), Error> {
        Self::validate(r.size, r.align, r.policy)?;
        let lo = self.base.max(r.min);
        let hi = self.end.min(r.max);
        let start = match r.policy {
            AllocPolicy::ExactMatch(start) => {
                if start < lo || start > hi {
                    return Err(Error::ResourceNotAvailable);
                }
                let end = start.checked_add(r.size - 1).ok_or(Error::Overflow)?;
                if end > hi || self.overlapping(start, end).is_some() {
                    return Err(Error::ResourceNotAvailable);
                }
                start
            }
            AllocPolicy::FirstMatch => self
                .lowest_fit(r.size, r.align, lo, hi)
                .ok_or(Error::ResourceNotAvailable)?,
            AllocPolicy::LastMatch => self
                .highest_fit(r.size, r.align, lo, hi)
                .ok_or(Error::ResourceNotAvailable)?,
        };
        Ok((start, start + (r.size - 1)))
    }

    /// `allocate_with`: decides, then records the allocation.
    pub fn allocate(&mut self, r: &Request) -> Result<(u64, u64), Error> {
        let (start, end) = self.decide(r)?;
        self.allocs.insert(start, end);
        Ok((start, end))
    }

    /// The lowest aligned `a` in `[lo, hi]` with `[a, a + size - 1]` free and
    /// inside `[lo, hi]`.
    ///
    /// Scans the aligned candidates upwards. When a candidate overlaps the
    /// allocation `[s, e]`, every candidate up to `e` does too (they all reach
    /// past `s`), so the scan resumes at the first aligned address after `e`.
    pub fn lowest_fit(&self, size: u64, align: u64, lo: u64, hi: u64) -> Option<u64> {
        let mut a = align_up(lo, align)?;
        loop {
            let end = a.checked_add(size - 1)?;
            if end > hi {
                return None; // later candidates end even higher
            }
            match self.overlapping(a, end) {
                None => return Some(a),
                Some((_, e)) => a = align_up(e.checked_add(1)?, align)?,
            }
        }
    }

    /// The highest aligned `a` in `[lo, hi]` with `[a, a + size - 1]` free and
    /// inside `[lo, hi]`.
    ///
    /// Scans the aligned candidates downwards. When a candidate overlaps the
    /// allocation `[s, e]`, so does every lower candidate that still reaches
    /// `s`, so the scan resumes at the highest aligned `a <= s - size`.
    pub fn highest_fit(&self, size: u64, align: u64, lo: u64, hi: u64) -> Option<u64> {
        let mut a = align_down(hi.checked_sub(size - 1)?, align);
        loop {
            if a < lo {
                return None;
            }
            match self.overlapping(a, a + (size - 1)) {
                None => return Some(a),
                Some((s, _)) => a = align_down(s.checked_sub(size)?, align),
            }
        }
    }

    /// `free`: only an exact allocation may be freed.
    pub fn free(&mut self, start: u64, end: u64) -> Result<(), Error> {
        if self.allocs.get(&start) == Some(&end) {
            self.allocs.remove(&start);
            Ok(())
        } else {
            Err(Error::ResourceNotAvailable)
        }
    }

    /// The key by which allocators are ordered: space, then allocations.
    pub fn order_key(&self) -> ((u64, u64), Vec<(u64, u64)>) {
        ((self.base, self.end), self.ranges())
    }
}

// ---------------------------------------------------------------------------
// Reference model of IdAllocator
// ---------------------------------------------------------------------------

/// What an `IdAllocator` should be: its range, the allocated ids and one past
/// the highest id ever allocated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdModel {
    /// First id of the range.
    pub base: u32,
    /// Last id of the range.
    pub end: u32,
    /// The allocated ids.
    pub allocated: BTreeSet<u32>,
    /// One past the highest id ever allocated (`base` before the first).
    pub next_id: u64,
}

impl IdModel {
    /// The range of `IdAllocator::new(base, end)`, or its error.
    pub fn new(base: u32, end: u32) -> Result<Self, Error> {
        if end < base {
            return Err(Error::InvalidRange(base.into(), end.into()));
        }
        Ok(IdModel {
            base,
            end,
            allocated: BTreeSet::new(),
            next_id: base.into(),
        })
    }

    /// Number of ids in the range.
    pub fn size(&self) -> u64 {
        u64::from(self.end) - u64::from(self.base) + 1
    }

    fn in_range(&self, id: u32) -> bool {
        self.base <= id && id <= self.end
    }

    fn record(&mut self, first: u32, last: u32) {
        self.allocated.extend(first..=last);
        self.next_id = self.next_id.max(u64::from(last) + 1);
    }

    /// The first id of `first..=last` that is not allocated, if any.
    fn first_missing(&self, first: u32, last: u32) -> Option<u32> {
        let mut expected = u64::from(first);
        for &id in self.allocated.range(first..=last) {
            if u64::from(id) != expected {
                break;
            }
            expected += 1;
        }
        (expected <= u64::from(last)).then_some(expected as u32)
    }

    /// Why freeing the in-range, unallocated `id` fails.
    fn not_allocated(&self, id: u32) -> Error {
        if u64::from(id) >= self.next_id {
            Error::NeverAllocated(id)
        } else {
            Error::AlreadyReleased(id)
        }
    }

    /// `allocate_id`: the smallest free id; when none is free, `Overflow` if
    /// the range ends at `u32::MAX`, else `ResourceNotAvailable`.
    pub fn allocate_id(&mut self) -> Result<u32, Error> {
        match self.first_missing(self.base, self.end) {
            Some(id) => {
                self.record(id, id);
                Ok(id)
            }
            None if self.end == u32::MAX => Err(Error::Overflow),
            None => Err(Error::ResourceNotAvailable),
        }
    }

    /// `allocate_id_at`.
    pub fn allocate_id_at(&mut self, id: u32) -> Result<u32, Error> {
        if !self.in_range(id) {
            return Err(Error::OutOfRange(id));
        }
        if self.allocated.contains(&id) {
            return Err(Error::ResourceNotAvailable);
        }
        self.record(id, id);
        Ok(id)
    }

    /// `allocate_ids`: the lowest free block of `count` ids whose first is a
    /// multiple of `align`.
    pub fn allocate_ids(
        &mut self,
        count: u32,
        align: u32,
    ) -> Result<std::ops::RangeInclusive<u32>, Error> {
        if count == 0 {
            return Err(Error::InvalidSize(0));
        }
        if !align.is_power_of_two() {
            return Err(Error::InvalidAlignment);
        }
        let (count, align, end) = (u64::from(count), u64::from(align), u64::from(self.end));
        // Same scan as AddressModel::lowest_fit, over the set of ids.
        let mut first = align_up(self.base.into(), align).ok_or(Error::ResourceNotAvailable)?;
        loop {
            let last = first + count - 1;
            if last > end {
                return Err(Error::ResourceNotAvailable);
            }
            let taken = self
                .allocated
                .range(first as u32..=last as u32)
                .next_back()
                .copied();
            match taken {
                None => {
                    self.record(first as u32, last as u32);
                    return Ok(first as u32..=last as u32);
                }
                Some(t) => {
                    first = align_up(u64::from(t) + 1, align).ok_or(Error::ResourceNotAvailable)?
                }
            }
        }
    }

    /// `free_id`.
    pub fn free_id(&mut self, id: u32) -> Result<u32, Error> {
        if !self.in_range(id) {
            return Err(Error::OutOfRange(id));
        }
        if !self.allocated.remove(&id) {
            return Err(self.not_allocated(id));
        }
        Ok(id)
    }

    /// `free_ids`: all or nothing.
    pub fn free_ids(&mut self, first: u32, last: u32) -> Result<(), Error> {
        if first > last {
            return Err(Error::InvalidRange(first.into(), last.into()));
        }
        for id in [first, last] {
            if !self.in_range(id) {
                return Err(Error::OutOfRange(id));
            }
        }
        if let Some(id) = self.first_missing(first, last) {
            return Err(self.not_allocated(id));
        }
        for id in first..=last {
            self.allocated.remove(&id);
        }
        Ok(())
    }

    /// The allocated ids as maximal runs of consecutive ids.
    pub fn runs(&self) -> Vec<std::ops::RangeInclusive<u32>> {
        let mut runs: Vec<std::ops::RangeInclusive<u32>> = Vec::new();
        for &id in &self.allocated {
            match runs.last_mut() {
                Some(run) if u64::from(*run.end()) + 1 == u64::from(id) => {
                    *run = *run.start()..=id;
                }
                _ => runs.push(id..=id),
            }
        }
        runs
    }
}

// ---------------------------------------------------------------------------
// Resolving selectors
// ---------------------------------------------------------------------------

fn nth<T: Copy>(items: &[T], idx: u8) -> Option<T> {
    if items.is_empty() {
        None
    } else {
        Some(items[usize::from(idx) % items.len()])
    }
}

fn nth_alloc(m: &AddressModel, idx: u8) -> Option<(u64, u64)> {
    if m.allocs.is_empty() {
        return None;
    }
    m.allocs
        .iter()
        .nth(usize::from(idx) % m.allocs.len())
        .map(|(&s, &e)| (s, e))
}

impl AddrSel {
    /// The address this selects in `m`.
    pub fn resolve(self, m: &AddressModel) -> u64 {
        let shift = |x: u64, d: i8| x.wrapping_add_signed(d.into());
        match self {
            AddrSel::Offset(n) => m.base.wrapping_add(n.into()),
            AddrSel::Below(n) => m.base.wrapping_sub(1 + u64::from(n)),
            AddrSel::FromEnd(n) => m.end.wrapping_sub(n.into()),
            AddrSel::Above(n) => m.end.wrapping_add(1 + u64::from(n)),
            AddrSel::Fraction(n) => {
                m.base + ((u128::from(m.size() - 1) * u128::from(n)) >> 16) as u64
            }
            AddrSel::AllocStart { idx, delta } => {
                shift(nth_alloc(m, idx).map_or(m.base, |a| a.0), delta)
            }
            AddrSel::AllocEnd { idx, delta } => {
                shift(nth_alloc(m, idx).map_or(m.end, |a| a.1), delta)
            }
            AddrSel::GapStart { idx, delta } => {
                shift(nth(&m.gaps(), idx).map_or(m.base, |g| g.0), delta)
            }
            AddrSel::GapEnd { idx, delta } => {
                shift(nth(&m.gaps(), idx).map_or(m.end, |g| g.1), delta)
            }
            AddrSel::Raw(a) => a,
        }
    }
}

impl SizeSel {
    /// The size this selects in `m`.
    pub fn resolve(self, m: &AddressModel) -> u64 {
        match self {
            SizeSel::Small(n) => n.into(),
            SizeSel::Pow(e) => 1 << (e % 64),
            SizeSel::SpaceMinus(n) => m.size().wrapping_sub(n.into()),
            SizeSel::Raw(n) => n,
        }
    }
}

impl AlignSel {
    /// The alignment this selects.
    pub fn resolve(self) -> u64 {
        match self {
            AlignSel::Pow(e) => 1 << (e % 64),
            AlignSel::Raw(a) => a,
        }
    }
}

impl PolicySel {
    /// The policy this selects in `m` for alignment `align`.
    pub fn resolve(self, m: &AddressModel, align: u64) -> AllocPolicy {
        match self {
            PolicySel::First => AllocPolicy::FirstMatch,
            PolicySel::Last => AllocPolicy::LastMatch,
            PolicySel::Exact(a) => AllocPolicy::ExactMatch(a.resolve(m)),
            PolicySel::ExactAligned(a) => {
                let a = a.resolve(m);
                let a = if align.is_power_of_two() {
                    align_down(a, align)
                } else {
                    a
                };
                AllocPolicy::ExactMatch(a)
            }
        }
    }
}

impl FreeSel {
    /// The `(start, end)` this selects in `m`; may be inverted.
    pub fn resolve(self, m: &AddressModel) -> (u64, u64) {
        let alloc = |idx| nth_alloc(m, idx).unwrap_or((m.base, m.end));
        match self {
            FreeSel::Alloc(idx) => alloc(idx),
            FreeSel::Sub {
                idx,
                trim_start,
                trim_end,
            } => {
                let (s, e) = alloc(idx);
                (
                    s.saturating_add(trim_start.into()),
                    e.saturating_sub(trim_end.into()),
                )
            }
            FreeSel::Super {
                idx,
                grow_start,
                grow_end,
            } => {
                let (s, e) = alloc(idx);
                (
                    s.saturating_sub(grow_start.into()),
                    e.saturating_add(grow_end.into()),
                )
            }
            FreeSel::Shift { idx, delta } => {
                let (s, e) = alloc(idx);
                (
                    s.wrapping_add_signed(delta.into()),
                    e.wrapping_add_signed(delta.into()),
                )
            }
            FreeSel::Pair(idx) => {
                let (s, _) = alloc(idx);
                let (_, e) = alloc(idx.wrapping_add(1));
                (s, e)
            }
            FreeSel::Gap(idx) => nth(&m.gaps(), idx).unwrap_or((m.base, m.end)),
            FreeSel::Raw { start, len } => {
                let s = start.resolve(m);
                (s, s.saturating_add(len.into()))
            }
        }
    }
}

impl IdSel {
    /// The id this selects in `m`.
    pub fn resolve(self, m: &IdModel) -> u32 {
        match self {
            IdSel::Offset(n) => m.base.wrapping_add(n.into()),
            IdSel::Below(n) => m.base.wrapping_sub(1 + u32::from(n)),
            IdSel::FromEnd(n) => m.end.wrapping_sub(n.into()),
            IdSel::Above(n) => m.end.wrapping_add(1 + u32::from(n)),
            IdSel::Fraction(n) => {
                m.base + ((u64::from(m.end - m.base) * u64::from(n)) >> 16) as u32
            }
            IdSel::Allocated { idx, delta } => {
                let id = if m.allocated.is_empty() {
                    m.base
                } else {
                    let i = usize::from(idx) % m.allocated.len();
                    *m.allocated.iter().nth(i).expect("index below the length")
                };
                id.wrapping_add_signed(delta.into())
            }
            // next_id <= u32::MAX + 1; truncation wraps that to 0, like the delta.
            IdSel::NextId(delta) => (m.next_id as u32).wrapping_add_signed(delta.into()),
            IdSel::Raw(id) => id,
        }
    }
}

impl CountSel {
    /// The count this selects in `m`.
    ///
    /// The model keeps one set entry per id, so a count that could succeed
    /// is kept below [`MAX_ID_BLOCK`]; counts larger than the whole range
    /// stay as they are (they must fail).
    pub fn resolve(self, m: &IdModel) -> u32 {
        let n = match self {
            CountSel::Small(n) => n.into(),
            CountSel::Pow(e) => 1 << (e % 32),
            CountSel::Raw(n) => n,
        };
        if n > MAX_ID_BLOCK && u64::from(n) <= m.size() {
            n % MAX_ID_BLOCK + 1
        } else {
            n
        }
    }
}

impl IdAlignSel {
    /// The alignment this selects.
    pub fn resolve(self) -> u32 {
        match self {
            IdAlignSel::Pow(e) => 1 << (e % 32),
            IdAlignSel::Raw(a) => a,
        }
    }
}

// ---------------------------------------------------------------------------
// Playing a scenario
// ---------------------------------------------------------------------------

/// The two allocators and their models.
#[derive(Debug, Clone)]
pub struct Pools {
    /// The real address allocator.
    pub addr: AddressAllocator,
    /// Its model.
    pub addr_model: AddressModel,
    /// The real id allocator.
    pub ids: IdAllocator,
    /// Its model.
    pub id_model: IdModel,
}

/// `Err` with a message when `real != model`.
fn same<T: PartialEq + std::fmt::Debug>(what: &str, real: T, model: T) -> Result<(), String> {
    if real == model {
        Ok(())
    } else {
        Err(format!(
            "{what}: allocator gave {real:?}, model expects {model:?}"
        ))
    }
}

fn to_pair(r: RangeInclusive) -> (u64, u64) {
    (r.start(), r.end())
}

impl Pools {
    /// Fresh allocators on the selected space and id range.
    pub fn new(space: SpaceSel, ids: IdRangeSel) -> Result<Self, String> {
        let (base, size) = space.base_and_size();
        let (first, last) = ids.bounds();
        let addr = AddressAllocator::new(base, size)
            .map_err(|e| format!("AddressAllocator::new({base:#x}, {size:#x}): {e:?}"))?;
        let ids = IdAllocator::new(first, last)
            .map_err(|e| format!("IdAllocator::new({first}, {last}): {e:?}"))?;
        Ok(Pools {
            addr,
            addr_model: AddressModel::new(base, size).expect("a valid space"),
            ids,
            id_model: IdModel::new(first, last).expect("a valid range"),
        })
    }

    /// Applies `op` to the allocator and to its model, comparing every result.
    pub fn apply(&mut self, op: &Op) -> Result<(), String> {
        let m = &self.addr_model;
        match *op {
            Op::Allocate {
                size,
                align,
                policy,
            } => {
                let (size, align) = (size.resolve(m), align.resolve());
                let policy = policy.resolve(m, align);
                let real = self.addr.allocate(size, align, policy).map(to_pair);
                let model = self.addr_model.allocate(&Request::new(size, align, policy));
                same(
                    &format!("allocate({size:#x}, {align:#x}, {policy:?})"),
                    real,
                    model,
                )
            }
            Op::AllocateWith {
                size,
                align,
                policy,
                bounds,
            } => {
                let (size, align) = (size.resolve(m), align.resolve());
                let policy = policy.resolve(m, align);
                let mut request = Request::new(size, align, policy);
                let constraint = Constraint::new(size, align, policy);
                same(
                    &format!("Constraint::new({size:#x}, {align:#x}, {policy:?})"),
                    constraint.map(|_| ()),
                    AddressModel::validate(size, align, policy),
                )?;
                let Ok(mut c) = constraint else {
                    return Ok(());
                };
                if let Some(min) = bounds.min {
                    let min = min.resolve(m);
                    c = c.with_min_address(min);
                    request.min = request.min.max(min);
                }
                if let Some(max) = bounds.max {
                    let max = max.resolve(m);
                    c = c.with_max_address(max);
                    request.max = request.max.min(max);
                }
                if let Some((a, b)) = bounds.within {
                    let (a, b) = (a.resolve(m), b.resolve(m));
                    if let Ok(window) = RangeInclusive::new(a, b) {
                        c = c.within(window);
                        request.min = request.min.max(a);
                        request.max = request.max.min(b);
                    }
                }
                same(
                    "constraint bounds",
                    (
                        c.size(),
                        c.align(),
                        c.policy(),
                        c.min_address(),
                        c.max_address(),
                    ),
                    (size, align, policy, request.min, request.max),
                )?;
                let real = self.addr.allocate_with(c).map(to_pair);
                let model = self.addr_model.allocate(&request);
                same(&format!("allocate_with({c:?})"), real, model)
            }
            Op::Fill {
                count,
                size,
                align,
                last,
            } => {
                let (size, align) = (size.resolve(m), align.resolve());
                let policy = if last {
                    AllocPolicy::LastMatch
                } else {
                    AllocPolicy::FirstMatch
                };
                for i in 0..usize::from(count) % (MAX_FILL + 1) {
                    let real = self.addr.allocate(size, align, policy).map(to_pair);
                    let model = self.addr_model.allocate(&Request::new(size, align, policy));
                    let stop = model.is_err();
                    same(
                        &format!("fill #{i}: allocate({size:#x}, {align:#x}, {policy:?})"),
                        real,
                        model,
                    )?;
                    if stop {
                        break;
                    }
                }
                Ok(())
            }
            Op::Free(sel) => {
                let (start, end) = sel.resolve(m);
                self.free_range(start, end)
            }
            Op::FreeEvery { stride, offset } => {
                let victims: Vec<(u64, u64)> = self
                    .addr_model
                    .ranges()
                    .into_iter()
                    .skip(offset.into())
                    .step_by(usize::from(stride % 8) + 2)
                    .collect();
                victims
                    .into_iter()
                    .try_for_each(|(s, e)| self.free_range(s, e))
            }
            Op::Query(sel) => {
                let a = sel.resolve(m);
                same(
                    &format!("allocation_containing({a:#x})"),
                    self.addr.allocation_containing(a).map(to_pair),
                    m.containing(a),
                )?;
                same(
                    &format!("is_allocated({a:#x})"),
                    self.addr.is_allocated(a),
                    m.containing(a).is_some(),
                )
            }
            Op::AllocateId => same(
                "allocate_id()",
                self.ids.allocate_id(),
                self.id_model.allocate_id(),
            ),
            Op::FillIds(count) => {
                for i in 0..usize::from(count) % (MAX_FILL + 1) {
                    let model = self.id_model.allocate_id();
                    let stop = model.is_err();
                    same(
                        &format!("fill #{i}: allocate_id()"),
                        self.ids.allocate_id(),
                        model,
                    )?;
                    if stop {
                        break;
                    }
                }
                Ok(())
            }
            Op::AllocateIdAt(sel) => {
                let id = sel.resolve(&self.id_model);
                same(
                    &format!("allocate_id_at({id})"),
                    self.ids.allocate_id_at(id),
                    self.id_model.allocate_id_at(id),
                )
            }
            Op::AllocateIds { count, align } => {
                let (count, align) = (count.resolve(&self.id_model), align.resolve());
                same(
                    &format!("allocate_ids({count}, {align})"),
                    self.ids.allocate_ids(count, align),
                    self.id_model.allocate_ids(count, align),
                )
            }
            Op::FreeId(sel) => {
                let id = sel.resolve(&self.id_model);
                same(
                    &format!("free_id({id})"),
                    self.ids.free_id(id),
                    self.id_model.free_id(id),
                )
            }
            Op::FreeIds { first, span } => {
                let first = first.resolve(&self.id_model);
                let last = first.wrapping_add_signed(span.into());
                same(
                    &format!("free_ids({first}..={last})"),
                    self.ids.free_ids(first..=last),
                    self.id_model.free_ids(first, last),
                )
            }
            Op::FreeIdsEvery { stride, offset } => {
                let victims: Vec<u32> = self
                    .id_model
                    .allocated
                    .iter()
                    .copied()
                    .skip(offset.into())
                    .step_by(usize::from(stride % 8) + 2)
                    .collect();
                victims.into_iter().try_for_each(|id| {
                    same(
                        &format!("free_id({id})"),
                        self.ids.free_id(id),
                        self.id_model.free_id(id),
                    )
                })
            }
            Op::QueryId(sel) => {
                let id = sel.resolve(&self.id_model);
                same(
                    &format!("is_allocated({id})"),
                    self.ids.is_allocated(id),
                    self.id_model.allocated.contains(&id),
                )
            }
        }
    }

    fn free_range(&mut self, start: u64, end: u64) -> Result<(), String> {
        match RangeInclusive::new(start, end) {
            Ok(r) => same(
                &format!("free({start:#x}..={end:#x})"),
                self.addr.free(&r),
                self.addr_model.free(start, end),
            ),
            // Not a range; nothing to free. RangeInclusive::new must say why.
            Err(e) => same("RangeInclusive::new", e, Error::InvalidRange(start, end)),
        }
    }

    /// Compares the whole state with the models and checks the invariants.
    /// `probe` rotates which allocations get their boundaries probed.
    pub fn check(&self, probe: Option<usize>) -> Result<(), String> {
        check_address(&self.addr, &self.addr_model, probe)?;
        check_ids(&self.ids, &self.id_model, probe)
    }
}

/// Compares an `AddressAllocator` with its model.
pub fn check_address(
    a: &AddressAllocator,
    m: &AddressModel,
    probe: Option<usize>,
) -> Result<(), String> {
    a.check_invariants()
        .map_err(|e| format!("address allocator invariant broken: {e}"))?;
    same("base()", a.base(), m.base)?;
    same("end()", a.end(), m.end)?;
    same("space()", to_pair(a.space()), (m.base, m.end))?;
    let real: Vec<(u64, u64)> = a.iter().map(to_pair).collect();
    same("iter()", &real, &m.ranges())?;
    same(
        "(&allocator).into_iter()",
        a.into_iter().map(to_pair).collect::<Vec<_>>(),
        real.clone(),
    )?;
    let n = real.len() as u64;
    same("len()", a.len(), n)?;
    same("is_empty()", a.is_empty(), n == 0)?;
    let (lo, hi) = a.iter().size_hint();
    if lo as u64 > n || hi.is_some_and(|h| (h as u64) < n) {
        return Err(format!("iter().size_hint() {:?} excludes {n}", (lo, hi)));
    }
    let used = m.used();
    same("used()", a.used(), used)?;
    same("available()", a.available(), m.size() - used)?;
    let Some(probe) = probe else {
        return Ok(());
    };
    // Lookups at the boundaries of some allocations and of the space.
    let mut points = vec![
        m.base,
        m.end,
        m.base.wrapping_sub(1),
        m.end.wrapping_add(1),
        0,
        u64::MAX,
    ];
    let stride = real.len() / PROBED + 1;
    for &(s, e) in real.iter().skip(probe % stride).step_by(stride) {
        points.extend([s, e, s.wrapping_sub(1), e.wrapping_add(1)]);
    }
    for p in points {
        same(
            &format!("allocation_containing({p:#x})"),
            a.allocation_containing(p).map(to_pair),
            m.containing(p),
        )?;
        same(
            &format!("is_allocated({p:#x})"),
            a.is_allocated(p),
            m.containing(p).is_some(),
        )?;
    }
    Ok(())
}

/// Compares an `IdAllocator` with its model.
pub fn check_ids(a: &IdAllocator, m: &IdModel, probe: Option<usize>) -> Result<(), String> {
    a.check_invariants()
        .map_err(|e| format!("id allocator invariant broken: {e}"))?;
    same("range_base()", a.range_base(), m.base)?;
    same("range_end()", a.range_end(), m.end)?;
    let runs: Vec<_> = a.ranges().collect();
    let model_runs = m.runs();
    same("ranges()", &runs, &model_runs)?;
    same(
        "iter()",
        a.iter().collect::<Vec<u32>>(),
        m.allocated.iter().copied().collect(),
    )?;
    let used = m.allocated.len() as u64;
    same("used()", a.used(), used)?;
    same("available()", a.available(), m.size() - used)?;
    let Some(probe) = probe else {
        return Ok(());
    };
    let mut points = vec![
        m.base,
        m.end,
        m.base.wrapping_sub(1),
        m.end.wrapping_add(1),
        0,
        u32::MAX,
        m.next_id as u32,
    ];
    let stride = runs.len() / PROBED + 1;
    for run in runs.iter().skip(probe % stride).step_by(stride) {
        let (s, e) = (*run.start(), *run.end());
        points.extend([s, e, s.wrapping_sub(1), e.wrapping_add(1)]);
    }
    for p in points {
        same(
            &format!("is_allocated({p})"),
            a.is_allocated(p),
            m.allocated.contains(&p),
        )?;
    }
    Ok(())
}

/// The live pools, the kept snapshots, and how many actions ran.
#[derive(Debug)]
pub struct Runner {
    /// What the actions change.
    pub live: Pools,
    /// Clones kept by `Action::Snapshot`, oldest first.
    pub snapshots: Vec<Pools>,
    steps: usize,
}

impl Runner {
    /// Fresh allocators on the scenario's space and id range.
    pub fn new(space: SpaceSel, ids: IdRangeSel) -> Result<Self, String> {
        let runner = Runner {
            live: Pools::new(space, ids)?,
            snapshots: Vec::new(),
            steps: 0,
        };
        runner.check()?;
        Ok(runner)
    }

    /// Plays one action, then checks everything.
    pub fn step(&mut self, action: &Action) -> Result<(), String> {
        self.steps += 1;
        match action {
            Action::Op(op) => self.live.apply(op)?,
            Action::Snapshot => {
                if self.snapshots.len() == MAX_SNAPSHOTS {
                    self.snapshots.remove(0);
                }
                self.snapshots.push(self.live.clone());
            }
            Action::MutateSnapshot { slot, op } => {
                if let Some(i) = self.slot(*slot) {
                    self.snapshots[i].apply(op)?;
                }
            }
            Action::Restore { slot } => {
                if let Some(i) = self.slot(*slot) {
                    self.live = self.snapshots[i].clone();
                }
            }
            Action::DropSnapshot { slot } => {
                if let Some(i) = self.slot(*slot) {
                    self.snapshots.remove(i);
                }
            }
            Action::NewAddress { base, size } => same(
                &format!("AddressAllocator::new({base:#x}, {size:#x})"),
                AddressAllocator::new(*base, *size).map(|a| to_pair(a.space())),
                AddressModel::new(*base, *size).map(|m| (m.base, m.end)),
            )?,
            Action::NewIds { base, end } => same(
                &format!("IdAllocator::new({base}, {end})"),
                IdAllocator::new(*base, *end).map(|a| (a.range_base(), a.range_end(), a.used())),
                IdModel::new(*base, *end).map(|m| (m.base, m.end, 0)),
            )?,
            Action::Reset { space, ids } => self.live = Pools::new(*space, *ids)?,
        }
        self.check()
    }

    fn slot(&self, slot: u8) -> Option<usize> {
        (!self.snapshots.is_empty()).then(|| usize::from(slot) % self.snapshots.len())
    }

    /// Checks the live pools (probing lookups), every snapshot, and that
    /// equality and ordering between live and snapshot allocators agree with
    /// their models.
    pub fn check(&self) -> Result<(), String> {
        self.live.check(Some(self.steps))?;
        for (i, snap) in self.snapshots.iter().enumerate() {
            snap.check(None)
                .map_err(|e| format!("snapshot {i} changed: {e}"))?;
            let live = &self.live;
            same(
                &format!("live address allocator == snapshot {i}"),
                live.addr == snap.addr,
                live.addr_model == snap.addr_model,
            )?;
            same(
                &format!("live address allocator cmp snapshot {i}"),
                live.addr.cmp(&snap.addr),
                live.addr_model
                    .order_key()
                    .cmp(&snap.addr_model.order_key()),
            )?;
            same(
                &format!("live id allocator == snapshot {i}"),
                live.ids == snap.ids,
                live.id_model == snap.id_model,
            )?;
        }
        Ok(())
    }
}

/// Plays `scenario`; the error names the first action whose result or
/// resulting state differs from the models.
pub fn run(scenario: &Scenario) -> Result<(), String> {
    let mut runner =
        Runner::new(scenario.space, scenario.ids).map_err(|e| format!("initial state: {e}"))?;
    for (i, action) in scenario.actions.iter().enumerate() {
        runner
            .step(action)
            .map_err(|e| format!("action #{i} {action:?}: {e}"))?;
    }
    Ok(())
}

/// Plays `scenario` and panics with the difference and a reproducer.
pub fn run_or_panic(scenario: &Scenario) {
    if let Err(e) = run(scenario) {
        panic!("{e}\n\nreproducer:\n{scenario:#?}");
    }
}
