// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The reference models of `AddressAllocator` and `IdAllocator`: plain
//! ordered maps searched by brute force, with an owner per allocation (or
//! per id) and a count of successful mutations (the generation).

use std::collections::{BTreeMap, BTreeSet};

use vm_allocator::{AllocPolicy, Error, Owner};

// ---------------------------------------------------------------------------
// Reference model of AddressAllocator
// ---------------------------------------------------------------------------

/// What an `AddressAllocator` should be: the space, its allocations, their
/// owners and the number of successful mutations.
///
/// `==` compares everything, generation included (what a file holds);
/// [`same_state`](Self::same_state) is the allocators' `==`, which ignores
/// the generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressModel {
    /// First address of the space.
    pub base: u64,
    /// Last address of the space.
    pub end: u64,
    /// start -> end of each allocation (inclusive).
    pub allocs: BTreeMap<u64, u64>,
    /// start -> owner of the allocations that have one.
    pub owners: BTreeMap<u64, Owner>,
    /// Successful mutations since the allocator was made.
    pub generation: u64,
}

/// An allocation or a run of ids with its owner's name:
/// `(first, last, owner)`.
pub type Item<T> = (T, T, Option<String>);

/// The name of an owner, if any.
pub fn name_of(owner: Option<&Owner>) -> Option<String> {
    owner.map(|o| o.as_str().to_owned())
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

pub(crate) fn align_up(x: u64, align: u64) -> Option<u64> {
    x.checked_add(align - 1).map(|y| y / align * align)
}

pub(crate) fn align_down(x: u64, align: u64) -> u64 {
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
            owners: BTreeMap::new(),
            generation: 0,
        })
    }

    /// Number of addresses in the space.
    pub fn size(&self) -> u64 {
        self.end - self.base + 1
    }

    /// The allocations, in order.
    pub fn runs(&self) -> Vec<(u64, u64)> {
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
        self.allocate_owned(r, None)
    }

    /// `owned_by(owner).allocate_with` (or plain for `None`).
    pub fn allocate_owned(
        &mut self,
        r: &Request,
        owner: Option<Owner>,
    ) -> Result<(u64, u64), Error> {
        let (start, end) = self.decide(r)?;
        self.allocs.insert(start, end);
        if let Some(owner) = owner {
            self.owners.insert(start, owner);
        }
        self.generation += 1;
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
            self.owners.remove(&start);
            self.generation += 1;
            Ok(())
        } else {
            Err(Error::ResourceNotAvailable)
        }
    }

    /// The owner of the allocation containing `addr`, if any.
    pub fn owner_at(&self, addr: u64) -> Option<&Owner> {
        let (start, _) = self.containing(addr)?;
        self.owners.get(&start)
    }

    /// `set_owner`: only an exact allocation; the previous owner. Giving the
    /// owner it has (by name) changes nothing.
    pub fn set_owner(
        &mut self,
        start: u64,
        end: u64,
        owner: Option<Owner>,
    ) -> Result<Option<Owner>, Error> {
        if self.allocs.get(&start) != Some(&end) {
            return Err(Error::ResourceNotAvailable);
        }
        let old = self.owners.get(&start).cloned();
        if old == owner {
            return Ok(old);
        }
        match owner {
            Some(owner) => self.owners.insert(start, owner),
            None => self.owners.remove(&start),
        };
        self.generation += 1;
        Ok(old)
    }

    /// The allocations of the owner named `name`, in order.
    pub fn allocations_of(&self, name: &str) -> Vec<(u64, u64)> {
        self.owners
            .iter()
            .filter(|(_, o)| o.as_str() == name)
            .map(|(&s, _)| (s, self.allocs[&s]))
            .collect()
    }

    /// `free_owner`: frees them all in one mutation (none if there are none).
    pub fn free_owner(&mut self, name: &str) -> Vec<(u64, u64)> {
        let freed = self.allocations_of(name);
        for &(s, _) in &freed {
            self.allocs.remove(&s);
            self.owners.remove(&s);
        }
        if !freed.is_empty() {
            self.generation += 1;
        }
        freed
    }

    /// Every allocation with its owner, in order.
    pub fn allocations(&self) -> Vec<Item<u64>> {
        self.items()
            .map(|(s, e, o)| (s, e, o.map(str::to_owned)))
            .collect()
    }

    /// Every allocation with its owner's name, in order, without copying.
    pub fn items(&self) -> impl Iterator<Item = (u64, u64, Option<&str>)> + '_ {
        self.allocs
            .iter()
            .map(|(&s, &e)| (s, e, self.owners.get(&s).map(|o| o.as_str())))
    }

    /// The same allocations without owners (`without_owners()`).
    pub fn without_owners(&self) -> AddressModel {
        AddressModel {
            owners: BTreeMap::new(),
            ..self.clone()
        }
    }

    /// Equal as the allocators' `==` sees it: everything but the generation.
    pub fn same_state(&self, other: &AddressModel) -> bool {
        (self.base, self.end, &self.allocs, &self.owners)
            == (other.base, other.end, &other.allocs, &other.owners)
    }

    /// The key by which allocators are ordered: space, then allocations
    /// with their owners (no owner first).
    pub fn order_key(&self) -> ((u64, u64), Vec<Item<u64>>) {
        ((self.base, self.end), self.allocations())
    }
}

// ---------------------------------------------------------------------------
// Reference model of IdAllocator
// ---------------------------------------------------------------------------

/// What an `IdAllocator` should be: its range, the allocated ids, their
/// owners, one past the highest id ever allocated and the number of
/// successful mutations.
///
/// `==` compares everything, generation included;
/// [`same_state`](Self::same_state) ignores the generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdModel {
    /// First id of the range.
    pub base: u32,
    /// Last id of the range.
    pub end: u32,
    /// The allocated ids.
    pub allocated: BTreeSet<u32>,
    /// The owner of each allocated id that has one.
    pub owners: BTreeMap<u32, Owner>,
    /// One past the highest id ever allocated (`base` before the first).
    pub next_id: u64,
    /// Successful mutations since the allocator was made.
    pub generation: u64,
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
            owners: BTreeMap::new(),
            next_id: base.into(),
            generation: 0,
        })
    }

    /// Number of ids in the range.
    pub fn size(&self) -> u64 {
        u64::from(self.end) - u64::from(self.base) + 1
    }

    fn in_range(&self, id: u32) -> bool {
        self.base <= id && id <= self.end
    }

    /// Records the allocation of `first..=last` with `owner`: one mutation.
    fn record(&mut self, first: u32, last: u32, owner: Option<Owner>) {
        self.allocated.extend(first..=last);
        if let Some(owner) = owner {
            for id in first..=last {
                self.owners.insert(id, owner.clone());
            }
        }
        self.next_id = self.next_id.max(u64::from(last) + 1);
        self.generation += 1;
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
        self.allocate_id_owned(None)
    }

    /// `owned_by(owner).allocate_id` (or plain for `None`).
    pub fn allocate_id_owned(&mut self, owner: Option<Owner>) -> Result<u32, Error> {
        match self.first_missing(self.base, self.end) {
            Some(id) => {
                self.record(id, id, owner);
                Ok(id)
            }
            None if self.end == u32::MAX => Err(Error::Overflow),
            None => Err(Error::ResourceNotAvailable),
        }
    }

    /// `allocate_id_at`.
    pub fn allocate_id_at(&mut self, id: u32) -> Result<u32, Error> {
        self.allocate_id_at_owned(id, None)
    }

    /// `owned_by(owner).allocate_id_at` (or plain for `None`).
    pub fn allocate_id_at_owned(&mut self, id: u32, owner: Option<Owner>) -> Result<u32, Error> {
        if !self.in_range(id) {
            return Err(Error::OutOfRange(id));
        }
        if self.allocated.contains(&id) {
            return Err(Error::ResourceNotAvailable);
        }
        self.record(id, id, owner);
        Ok(id)
    }

    /// `allocate_ids`: the lowest free block of `count` ids whose first is a
    /// multiple of `align`.
    pub fn allocate_ids(
        &mut self,
        count: u32,
        align: u32,
    ) -> Result<std::ops::RangeInclusive<u32>, Error> {
        self.allocate_ids_owned(count, align, None)
    }

    /// `owned_by(owner).allocate_ids` (or plain for `None`).
    pub fn allocate_ids_owned(
        &mut self,
        count: u32,
        align: u32,
        owner: Option<Owner>,
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
                    self.record(first as u32, last as u32, owner);
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
        self.owners.remove(&id);
        self.generation += 1;
        Ok(id)
    }

    /// Why `free_ids(first..=last)` (or `set_owner` of those ids) fails.
    fn check_allocated(&self, first: u32, last: u32) -> Result<(), Error> {
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
        Ok(())
    }

    /// `free_ids`: all or nothing.
    pub fn free_ids(&mut self, first: u32, last: u32) -> Result<(), Error> {
        self.check_allocated(first, last)?;
        for id in first..=last {
            self.allocated.remove(&id);
            self.owners.remove(&id);
        }
        self.generation += 1;
        Ok(())
    }

    /// `set_owner(first..=last, owner)`: all allocated, or the error of
    /// `free_ids`; giving every id the owner it has changes nothing.
    pub fn set_owner(&mut self, first: u32, last: u32, owner: Option<Owner>) -> Result<(), Error> {
        self.check_allocated(first, last)?;
        if (first..=last).all(|id| self.owners.get(&id) == owner.as_ref()) {
            return Ok(());
        }
        for id in first..=last {
            match &owner {
                Some(owner) => self.owners.insert(id, owner.clone()),
                None => self.owners.remove(&id),
            };
        }
        self.generation += 1;
        Ok(())
    }

    /// The owner of `id`, if it is allocated and has one.
    pub fn owner_at(&self, id: u32) -> Option<&Owner> {
        self.owners.get(&id)
    }

    /// The ids of the owner named `name`, as maximal runs.
    pub fn ids_of(&self, name: &str) -> Vec<(u32, u32)> {
        let ids = self
            .owners
            .iter()
            .filter(|(_, o)| o.as_str() == name)
            .map(|(&id, _)| (id, ()));
        join_runs(ids)
            .into_iter()
            .map(|(a, b, ())| (a, b))
            .collect()
    }

    /// `free_owner`: frees the owner's ids in one mutation (none if there
    /// are none) and returns them as maximal runs.
    pub fn free_owner(&mut self, name: &str) -> Vec<(u32, u32)> {
        let freed = self.ids_of(name);
        for &(a, b) in &freed {
            for id in a..=b {
                self.allocated.remove(&id);
                self.owners.remove(&id);
            }
        }
        if !freed.is_empty() {
            self.generation += 1;
        }
        freed
    }

    /// The allocated ids with their owners: maximal runs of consecutive ids
    /// with one owner (or none), in order.
    pub fn allocations(&self) -> Vec<Item<u32>> {
        self.items()
            .into_iter()
            .map(|(a, b, o)| (a, b, o.map(str::to_owned)))
            .collect()
    }

    /// The same, with borrowed names.
    pub fn items(&self) -> Vec<(u32, u32, Option<&str>)> {
        join_runs(
            self.allocated
                .iter()
                .map(|&id| (id, self.owners.get(&id).map(|o| o.as_str()))),
        )
    }

    /// The same ids without owners (`without_owners()`).
    pub fn without_owners(&self) -> IdModel {
        IdModel {
            owners: BTreeMap::new(),
            ..self.clone()
        }
    }

    /// Equal as the allocators' `==` sees it: everything but the generation.
    pub fn same_state(&self, other: &IdModel) -> bool {
        (
            self.base,
            self.end,
            self.next_id,
            &self.allocated,
            &self.owners,
        ) == (
            other.base,
            other.end,
            other.next_id,
            &other.allocated,
            &other.owners,
        )
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

/// Joins `(id, label)` pairs, in increasing id order, into maximal runs of
/// consecutive ids with equal labels.
pub fn join_runs<L: PartialEq>(ids: impl IntoIterator<Item = (u32, L)>) -> Vec<(u32, u32, L)> {
    let mut runs: Vec<(u32, u32, L)> = Vec::new();
    for (id, label) in ids {
        match runs.last_mut() {
            Some((_, last, l)) if u64::from(*last) + 1 == u64::from(id) && *l == label => {
                *last = id;
            }
            _ => runs.push((id, id, label)),
        }
    }
    runs
}
