// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Alignment-aware free-gap summaries, kept up to date edit by edit.
//!
//! Pruning a search by "largest free gap >= size" is not enough once
//! alignment comes in: a gap can be large enough yet hold no aligned start,
//! and pruning by `size + align - 1` instead skips gaps that do fit. So every
//! subtree keeps, for each power-of-two alignment `2^k`, the longest aligned
//! run any of its gaps can hold: `max[k] = max over gaps of (gap end + 1 -
//! align_up(gap start, 2^k))`. A request of `size` at alignment `2^k` fits
//! in the subtree iff `max[k] >= size`, exactly, so every search descends
//! only into subtrees that hold an answer.
//!
//! A maximum is cheap to raise but costly to lower: lowering it means finding
//! the next largest part. So each class also records which parts attain its
//! maximum: a leaf counts its gaps that do ([`LeafTable`]), a branch keeps a
//! bit per child and per gap between children ([`BranchTable`]). An edit that
//! removes a part that is not the only one attaining a maximum then changes
//! nothing, and only the classes whose maximum really moved are handed up to
//! the parent: in the usual case an edit touches no class at all above the
//! leaf, and at worst O(64) per node.
//!
//! Most nodes need no table at all: a node with no gap inside has no
//! capacity, and a node whose gaps are those of a single gap (one gap in a
//! leaf; in a branch, one gap between children, or one child whose own
//! capacities are those of one gap) has that gap's capacities, computed on
//! the fly ([`Caps::Gap`]). Only the others keep a table, behind an `Arc` of
//! its own: packed allocations with one free region, the usual shape of a
//! VMM's pools, keep small nodes, copy little when a snapshot is alive and
//! update O(1) capacity per level.

/// Number of alignment classes: alignments `2^0` to `2^63`.
pub(crate) const CLASSES: usize = 64;

/// Every class.
pub(crate) const ALL_CLASSES: u64 = u64::MAX;

/// A mask with the low `k` bits set.
fn low_bits(k: u32) -> u64 {
    if k >= 64 {
        u64::MAX
    } else {
        (1u64 << k) - 1
    }
}

/// The largest size the gap `[start, start + len - 1]` holds at alignment `2^k`.
#[inline]
pub(crate) fn gap_cap(start: u64, len: u64, k: u32) -> u64 {
    // Distance from `start` up to the next multiple of 2^k.
    let skip = start.wrapping_neg() & low_bits(k);
    len.saturating_sub(skip)
}

/// Classes `lo..=hi` in which a gap holds `value` (> 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Step {
    lo: usize,
    hi: usize,
    value: u64,
}

/// The capacity of the gap `(start, len)` as a step function of the class,
/// in increasing class order; classes past the last step hold nothing.
///
/// `gap_cap(k) = len - (-start mod 2^k)` only drops where `-start` has a set
/// bit, so a gap has one step per set bit below its length: usually one or
/// two, since gaps between allocations are aligned.
fn steps(start: u64, len: u64) -> impl Iterator<Item = Step> {
    let mut pending = start.wrapping_neg();
    let mut skipped = 0u64;
    let mut lo = 0usize;
    let mut done = len == 0;
    core::iter::from_fn(move || {
        if done {
            return None;
        }
        let hi = if pending == 0 {
            CLASSES - 1
        } else {
            pending.trailing_zeros() as usize
        };
        let step = Step {
            lo,
            hi,
            value: len - skipped,
        };
        if pending == 0 || hi == CLASSES - 1 {
            done = true;
            return Some(step);
        }
        let bit = pending & pending.wrapping_neg();
        // The bits of `pending` sum to at most `pending`: no overflow.
        skipped += bit;
        pending ^= bit;
        lo = hi + 1;
        done = skipped >= len;
        Some(step)
    })
}

/// The classes of `mask`, lowest first.
#[inline]
pub(crate) fn classes(mut mask: u64) -> impl Iterator<Item = usize> {
    core::iter::from_fn(move || {
        if mask == 0 {
            return None;
        }
        let k = mask.trailing_zeros() as usize;
        mask &= mask - 1;
        Some(k)
    })
}

/// The per-class maxima of a set of gaps, from scratch: O(steps + 64).
#[cfg(test)]
fn maxima(gaps: impl Iterator<Item = (u64, u64)>) -> [u64; CLASSES] {
    // Record each step at its last class, then take suffix maxima: every
    // step's value holds at all classes below its last one too, as far as
    // the maximum is concerned (capacities only drop as k grows).
    let mut max = [0u64; CLASSES];
    let mut any = false;
    for (start, len) in gaps {
        for step in steps(start, len) {
            any = true;
            if max[step.hi] < step.value {
                max[step.hi] = step.value;
            }
        }
    }
    if any {
        for k in (0..CLASSES - 1).rev() {
            if max[k] < max[k + 1] {
                max[k] = max[k + 1];
            }
        }
    }
    max
}

/// The classes of `step` in which it attains `max`: a suffix of the step,
/// since `max` does not increase and is at least the step's value there.
#[inline]
fn attained(max: &[u64; CLASSES], step: Step) -> core::ops::Range<usize> {
    let from = step.lo + max[step.lo..=step.hi].partition_point(|&m| m > step.value);
    from..step.hi + 1
}

/// Calls `f(lo, hi, value)` for each step of the capacity of the gap
/// `(start, len)`: the gap holds `value` in classes `lo..=hi` (see
/// `steps`; a tighter loop for the hot paths).
#[inline(always)]
fn for_each_step(start: u64, len: u64, mut f: impl FnMut(usize, usize, u64)) {
    let mut pending = start.wrapping_neg();
    let mut value = len;
    let mut lo = 0;
    while value > 0 {
        if pending == 0 {
            f(lo, CLASSES - 1, value);
            return;
        }
        let hi = pending.trailing_zeros() as usize;
        f(lo, hi, value);
        // One class up, the aligned start moves up by 2^hi.
        let bit = pending & pending.wrapping_neg();
        value = value.saturating_sub(bit);
        pending ^= bit;
        lo = hi + 1;
    }
}

/// Classes in which a leaf table also tracks the largest capacity below
/// the maximum (alignments up to 4 GiB; above, gaps are rare and a lost
/// maximum is found again by a rebuild).
const SECOND: usize = 32;

/// The capacities of the gaps of a leaf besides its big gap.
///
/// Invariants: `max` is the per-class maximum over those gaps (so it never
/// increases with `k`). Every gap's start is a multiple of `2^base`, so
/// each gap holds the same in classes `0..=base`, and so does `max`; the
/// rest is kept for classes `base..` only: `ties[k]` is the number of gaps
/// attaining `max[k]` when it is non-zero, else 0; for each class `k` of
/// `known`, `second[k]` is the largest capacity below `max[k]` (0 if none)
/// and `second_ties[k]` the number of gaps attaining it (0 if none), so
/// that a class whose last gap attaining the maximum leaves falls back to
/// it without a rescan; other classes do not know it (after a rebuild, or
/// once it was used).
#[derive(Clone, Debug)]
pub(crate) struct LeafTable {
    max: [u64; CLASSES],
    ties: [u8; CLASSES],
    second: [u64; SECOND],
    second_ties: [u8; SECOND],
    known: u64,
    base: usize,
}

// A leaf has at most LEAF_CAP - 1 gaps: the tie counts must hold them.
const _: () = assert!(super::config::LEAF_CAP <= 256);

impl LeafTable {
    /// A table of no gap.
    pub(crate) const EMPTY: LeafTable = LeafTable {
        max: [0; CLASSES],
        ties: [0; CLASSES],
        second: [0; SECOND],
        second_ties: [0; SECOND],
        known: (1 << SECOND) - 1,
        base: CLASSES - 1,
    };

    /// The table of `gaps`. Time: O(steps + 64).
    pub(crate) fn of(gaps: impl Iterator<Item = (u64, u64)> + Clone) -> LeafTable {
        let mut table = LeafTable::EMPTY;
        table.rebuild(gaps, &mut 0);
        table
    }

    /// The per-class maxima.
    #[inline]
    pub(crate) fn max(&self) -> &[u64; CLASSES] {
        &self.max
    }

    /// The largest gap, unless the edit under way took out the last gap
    /// attaining it (then `settle` finds it again).
    #[inline]
    pub(crate) fn largest(&self) -> Option<u64> {
        let base = self.base;
        (self.ties[base] > 0 || self.max[base] == 0).then_some(self.max[base])
    }

    /// The classes from which the ties and seconds are kept.
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn base(&self) -> usize {
        self.base
    }

    /// The number of gaps attaining `max[k]`, for `k >= base`.
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn ties(&self, k: usize) -> u8 {
        self.ties[k]
    }

    /// The largest capacity below `max[k]` and the number of gaps attaining
    /// it, for `k >= base`, if the table knows them.
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn second(&self, k: usize) -> Option<(u64, u8)> {
        (k < SECOND && self.known >> k & 1 != 0).then(|| (self.second[k], self.second_ties[k]))
    }

    /// Makes room for a gap whose start is a multiple of `2^t` only: the
    /// classes `t..base` become kept, as copies of class `base`.
    #[cold]
    fn lower_base(&mut self, t: usize) {
        let base = self.base;
        for k in t..base {
            self.ties[k] = self.ties[base];
            if k < SECOND {
                if base < SECOND {
                    self.second[k] = self.second[base];
                    self.second_ties[k] = self.second_ties[base];
                    self.known = self.known & !(1 << k) | (self.known >> base & 1) << k;
                } else {
                    self.known &= !(1 << k);
                }
            }
        }
        self.base = t;
    }

    /// After the classes from `base` on changed as `mine` says: classes
    /// below the base follow it.
    #[inline]
    fn follow_base(&mut self, mine: u64, changed: &mut u64) {
        let base = self.base;
        if mine >> base & 1 != 0 {
            let value = self.max[base];
            self.max[..base].fill(value);
            *changed |= mine | low_mask(base);
        } else {
            *changed |= mine;
        }
    }

    /// Takes the gap `(start, len)` out; classes whose maximum fell back to
    /// the second largest go to `changed`, classes whose last attaining
    /// gap left with no known second to `stale`, for `settle`.
    #[inline]
    pub(crate) fn remove_gap(&mut self, start: u64, len: u64, changed: &mut u64, stale: &mut u64) {
        debug_assert!(len > 0);
        let base = self.base;
        let mut mine = 0u64;
        for_each_step(start, len, |lo, hi, value| {
            for k in lo.max(base)..=hi.min(SECOND - 1) {
                let bit = 1u64 << k;
                if value == self.max[k] {
                    self.ties[k] -= 1;
                    if self.ties[k] == 0 {
                        if self.known & bit != 0 {
                            // The second largest takes over.
                            self.max[k] = self.second[k];
                            self.ties[k] = self.second_ties[k];
                            self.known &= !bit;
                            mine |= bit;
                        } else {
                            *stale |= bit;
                        }
                    }
                } else if self.known & bit != 0 && value == self.second[k] {
                    self.second_ties[k] -= 1;
                    if self.second_ties[k] == 0 {
                        self.known &= !bit;
                    }
                }
            }
            // Past the tracked classes only maxima matter: the gap attains
            // them on a suffix of the step, if at all.
            for k in (lo.max(base).max(SECOND)..=hi).rev() {
                if value != self.max[k] {
                    break;
                }
                self.ties[k] -= 1;
                if self.ties[k] == 0 {
                    *stale |= 1 << k;
                }
            }
        });
        self.follow_base(mine, changed);
    }

    /// Puts the gap `(start, len)` in; classes whose maximum grew are added
    /// to `changed`.
    #[inline]
    pub(crate) fn add_gap(&mut self, start: u64, len: u64, changed: &mut u64) {
        debug_assert!(len > 0);
        let t = (start.trailing_zeros() as usize).min(CLASSES - 1);
        if t < self.base {
            self.lower_base(t);
        }
        let base = self.base;
        let mut mine = 0u64;
        for_each_step(start, len, |lo, hi, value| {
            for k in lo.max(base)..=hi.min(SECOND - 1) {
                let bit = 1u64 << k;
                let max = self.max[k];
                if value > max {
                    if self.ties[k] > 0 || max == 0 {
                        self.second[k] = max;
                        self.second_ties[k] = self.ties[k];
                        self.known |= bit;
                    } else {
                        // The class lost its maximum in this edit and waits
                        // for `settle`: what lies below is unknown.
                        self.known &= !bit;
                    }
                    self.max[k] = value;
                    self.ties[k] = 1;
                    mine |= bit;
                } else if value == max {
                    self.ties[k] += 1;
                } else if self.known & bit != 0 {
                    let second = self.second[k];
                    if value > second {
                        self.second[k] = value;
                        self.second_ties[k] = 1;
                    } else if value == second {
                        self.second_ties[k] += 1;
                    }
                }
            }
            // Past the tracked classes, the classes where the maximum is
            // below or at the value are a suffix of the step.
            for k in (lo.max(base).max(SECOND)..=hi).rev() {
                let max = self.max[k];
                if max > value {
                    break;
                }
                if max < value {
                    self.max[k] = value;
                    self.ties[k] = 1;
                    mine |= 1 << k;
                } else {
                    self.ties[k] += 1;
                }
            }
        });
        self.follow_base(mine, changed);
    }

    /// Recomputes the capacities from `gaps` (all the gaps of the table)
    /// if a class of `stale` lost every attaining gap with no second known.
    /// Time: O(steps + 64) then, which is less than scanning the gaps once
    /// per such class.
    #[inline]
    pub(crate) fn settle(
        &mut self,
        stale: u64,
        gaps: impl Iterator<Item = (u64, u64)> + Clone,
        changed: &mut u64,
    ) {
        let lost = classes(stale).any(|k| self.ties[k] == 0 && self.max[k] != 0);
        if lost {
            self.rebuild(gaps, changed);
        }
    }

    /// Recomputes the maxima, their ties and the seconds from `gaps`.
    /// Classes whose maximum changed are added to `changed`. Time: O(steps
    /// + classes the steps span + 64).
    pub(crate) fn rebuild(
        &mut self,
        gaps: impl Iterator<Item = (u64, u64)> + Clone,
        changed: &mut u64,
    ) {
        // Each step at its last class, then suffix maxima (see `maxima`).
        let mut max = [0u64; CLASSES];
        let mut base = CLASSES - 1;
        for (start, len) in gaps.clone() {
            base = base.min(start.trailing_zeros() as usize);
            for_each_step(start, len, |_, hi, value| {
                if max[hi] < value {
                    max[hi] = value;
                }
            });
        }
        for k in (0..CLASSES - 1).rev() {
            if max[k] < max[k + 1] {
                max[k] = max[k + 1];
            }
        }
        // (No early stop: classes that fell back to their second largest
        // since the last rebuild may leave the old maxima out of order.)
        for (k, (&new, &old)) in max.iter().zip(self.max.iter()).enumerate() {
            if new != old {
                *changed |= 1 << k;
            }
        }
        self.max = max;
        self.ties = [0; CLASSES];
        self.base = base;
        if max[0] == 0 {
            self.known = (1 << SECOND) - 1; // no gap: nothing below
            self.second = [0; SECOND];
            self.second_ties = [0; SECOND];
            return;
        }
        self.known = (1 << SECOND) - 1;
        self.second = [0; SECOND];
        self.second_ties = [0; SECOND];
        for (start, len) in gaps {
            for_each_step(start, len, |lo, hi, value| {
                for k in lo.max(base)..=hi.min(SECOND - 1) {
                    let max = self.max[k];
                    if value == max {
                        self.ties[k] += 1;
                    } else if value > self.second[k] {
                        self.second[k] = value;
                        self.second_ties[k] = 1;
                    } else if value == self.second[k] {
                        self.second_ties[k] += 1;
                    }
                }
                // Past the tracked classes, a step attains the maximum on a
                // suffix of its classes, if at all: walk it from the top.
                for k in (lo.max(base).max(SECOND)..=hi).rev() {
                    if self.max[k] != value {
                        break;
                    }
                    self.ties[k] += 1;
                }
            });
        }
    }
}

/// The capacities of the gaps strictly inside a branch other than its big
/// gap: those inside its children and those between neighbouring children.
///
/// Invariants: `max` is the per-class maximum over what the parts bring
/// (see [`Part`]), so it never increases with `k`; bit `i` of `holders[k]`
/// is set iff child `i` brings `max[k] > 0`, and bit `GAP_BIT + i` iff the
/// gap between child `i` and child `i + 1` does. For each class `k` of
/// `known`, `second[k]` is the largest value below `max[k]` a part brings
/// (0 if none) and `second_holders[k]` the parts bringing it (none if 0):
/// a class whose last holder drops below it falls back to it without a
/// rescan. A class forgets its second when it falls back to it, and learns
/// one again when a part rises above its maximum (the old maximum becomes
/// the second).
#[derive(Clone, Debug)]
pub(crate) struct BranchTable {
    max: [u64; CLASSES],
    holders: [Holders; CLASSES],
    second: [u64; CLASSES],
    second_holders: [Holders; CLASSES],
    known: u64,
}

/// A set of parts of a branch, one bit each.
pub(crate) type Holders = u64;

/// The first holder bit of the gaps between children.
pub(crate) const GAP_BIT: usize = super::config::BRANCH_CAP;

// Children and the gaps between them must fit the holder bits.
const _: () = assert!(2 * super::config::BRANCH_CAP - 1 <= Holders::BITS as usize);

impl BranchTable {
    /// A table of no part.
    pub(crate) const EMPTY: BranchTable = BranchTable {
        max: [0; CLASSES],
        holders: [0; CLASSES],
        second: [0; CLASSES],
        second_holders: [0; CLASSES],
        known: ALL_CLASSES,
    };

    /// The table of `parts`, each with its holder bit. Time: O(steps of
    /// their gaps + 64 per table among them).
    pub(crate) fn of<'a>(parts: impl Iterator<Item = (Holders, Part<'a>)> + Clone) -> BranchTable {
        // A part is a gap, a table, or both: split it so.
        fn split(part: Part<'_>) -> ((u64, u64), Option<&'_ [u64; CLASSES]>) {
            match part {
                Part::Nothing => ((0, 0), None),
                Part::Gap(start, len) => ((start, len), None),
                Part::Full(caps) => (caps.big, caps.rest.table()),
                Part::Rest(rest) => ((0, 0), rest.table()),
            }
        }
        // Each gap's steps at their last class, then suffix maxima (see
        // `maxima`), then the tables.
        let mut max = [0u64; CLASSES];
        for (_, part) in parts.clone() {
            let ((start, len), _) = split(part);
            for step in steps(start, len) {
                if max[step.hi] < step.value {
                    max[step.hi] = step.value;
                }
            }
        }
        for k in (0..CLASSES - 1).rev() {
            if max[k] < max[k + 1] {
                max[k] = max[k + 1];
            }
        }
        for (_, part) in parts.clone() {
            if let (_, Some(table)) = split(part) {
                for (m, &value) in max.iter_mut().zip(table) {
                    if value == 0 {
                        break; // it only drops as k grows
                    }
                    if *m < value {
                        *m = value;
                    }
                }
            }
        }
        let mut holders = [0; CLASSES];
        for (bit, part) in parts {
            let ((start, len), table) = split(part);
            for step in steps(start, len) {
                for k in attained(&max, step) {
                    holders[k] |= bit;
                }
            }
            if let Some(table) = table {
                for ((h, &m), &value) in holders.iter_mut().zip(&max).zip(table) {
                    if value == 0 {
                        break;
                    }
                    if value == m {
                        *h |= bit;
                    }
                }
            }
        }
        BranchTable {
            max,
            holders,
            second: [0; CLASSES],
            second_holders: [0; CLASSES],
            known: 0,
        }
    }

    /// The per-class maxima.
    #[inline]
    pub(crate) fn max(&self) -> &[u64; CLASSES] {
        &self.max
    }

    /// The parts attaining `max[k]`.
    #[inline]
    pub(crate) fn holders(&self, k: usize) -> Holders {
        self.holders[k]
    }

    /// The largest value below `max[k]` and the parts bringing it, if the
    /// table knows them.
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn second(&self, k: usize) -> Option<(u64, Holders)> {
        (self.known >> k & 1 != 0).then(|| (self.second[k], self.second_holders[k]))
    }

    /// Part `bit`, which does not attain `max[k]`, now brings `value`: the
    /// second of class `k`, if known, follows.
    #[inline]
    fn update_second(&mut self, k: usize, bit: Holders, value: u64) {
        let kbit = 1u64 << k;
        if self.known & kbit == 0 {
            return;
        }
        let (second, holders) = (self.second[k], self.second_holders[k]);
        if value > second {
            self.second[k] = value;
            self.second_holders[k] = bit;
        } else if value == second {
            if value > 0 {
                self.second_holders[k] |= bit;
            }
        } else if holders & bit != 0 {
            // It brought the second and brings less now.
            self.second_holders[k] = holders & !bit;
            if holders == bit {
                self.known &= !kbit;
            }
        }
    }

    /// Records that part `bit` now brings `value` in class `k`; a class that
    /// grew goes to `changed`, one whose every holder left to `stale`.
    #[inline]
    pub(crate) fn update(
        &mut self,
        k: usize,
        bit: Holders,
        value: u64,
        changed: &mut u64,
        stale: &mut u64,
    ) {
        let kbit = 1u64 << k;
        let (max, holders) = (self.max[k], self.holders[k]);
        if value > max {
            if holders != bit {
                // The old maximum, without this part, is the second now
                // (unknown if the class lost every holder in this edit).
                let others = holders & !bit;
                if others != 0 || max == 0 {
                    self.second[k] = max;
                    self.second_holders[k] = others;
                    self.known |= kbit;
                } else {
                    self.known &= !kbit;
                }
            }
            self.max[k] = value;
            self.holders[k] = bit;
            *changed |= kbit;
        } else if value == max {
            if value > 0 {
                self.holders[k] |= bit;
                if self.known & kbit != 0 && self.second_holders[k] & bit != 0 {
                    self.second_holders[k] &= !bit;
                    if self.second_holders[k] == 0 {
                        self.known &= !kbit;
                    }
                }
            }
        } else if holders & bit != 0 {
            let rest = holders & !bit;
            self.holders[k] = rest;
            if rest != 0 {
                // Others still hold the maximum: this part may bring the
                // second now.
                self.update_second(k, bit, value);
            } else if self.known & kbit != 0 {
                // It held the class alone: it keeps it, lower, or the second
                // takes over.
                let second = self.second[k];
                if value > second {
                    self.max[k] = value;
                    self.holders[k] = bit;
                } else {
                    let joins = if value == second && value > 0 { bit } else { 0 };
                    self.max[k] = second;
                    self.holders[k] = self.second_holders[k] | joins;
                    self.known &= !kbit;
                }
                *changed |= kbit;
            } else {
                *stale |= kbit;
            }
        } else {
            self.update_second(k, bit, value);
        }
    }

    /// Records that part `bit` now brings what `part` gives in the classes
    /// of `mask`.
    #[inline]
    pub(crate) fn update_classes(
        &mut self,
        mask: u64,
        bit: Holders,
        part: Part<'_>,
        changed: &mut u64,
        stale: &mut u64,
    ) {
        for k in classes(mask) {
            self.update(k, bit, part.get(k), changed, stale);
        }
    }

    /// Records that part `bit` now brings at least the capacities of the
    /// gap `(start, len)` (what it brought, or the gap's, whichever is
    /// larger): no class goes stale.
    pub(crate) fn raise_gap(&mut self, bit: Holders, start: u64, len: u64, changed: &mut u64) {
        for_each_step(start, len, |lo, hi, value| {
            for k in lo..=hi {
                // What the part brings is the larger of what it brought
                // and the gap's: an update only where the gap's is larger
                // than what the table says it brought (the maximum or the
                // second it holds; less than the second, or unknown, if
                // neither), which never lowers anything.
                let brought = if self.holders[k] & bit != 0 {
                    self.max[k]
                } else if self.known >> k & 1 != 0 && self.second_holders[k] & bit != 0 {
                    self.second[k]
                } else {
                    0
                };
                if value > brought {
                    self.update(k, bit, value, changed, &mut 0);
                }
            }
        });
    }

    /// Sets class `k` from scratch (for classes that lost every holder):
    /// its maximum and holders, and its second and its holders.
    pub(crate) fn set_class(&mut self, k: usize, best: [(u64, Holders); 2]) {
        self.max[k] = best[0].0;
        self.holders[k] = best[0].1;
        self.second[k] = best[1].0;
        self.second_holders[k] = best[1].1;
        self.known |= 1 << k;
    }
}

/// The capacities of the gaps a node keeps apart from its big gap.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Rest<'a> {
    /// No other gap.
    Empty,
    /// A table's per-class maxima.
    Table(&'a [u64; CLASSES]),
}

impl<'a> Rest<'a> {
    /// The largest size one of these gaps holds at alignment `2^k`.
    #[inline]
    pub(crate) fn get(&self, k: usize) -> u64 {
        match *self {
            Rest::Empty => 0,
            Rest::Table(max) => max[k],
        }
    }

    /// The table, if any.
    #[inline]
    fn table(self) -> Option<&'a [u64; CLASSES]> {
        match self {
            Rest::Empty => None,
            Rest::Table(max) => Some(max),
        }
    }

    /// The classes below the first one without capacity.
    #[inline]
    pub(crate) fn nonzero_classes(&self) -> u64 {
        match *self {
            Rest::Empty => 0,
            Rest::Table(max) => low_mask(max.partition_point(|&m| m > 0)),
        }
    }
}

/// The classes in which the gap `(start, len)` holds something: a
/// superset of those where its capacities and any others differ, when the
/// others' mask is or-ed in.
#[inline]
pub(crate) fn gap_classes(start: u64, len: u64) -> u64 {
    if len == 0 {
        return 0;
    }
    // Class k holds something while the bits of -start below k, which only
    // grow with k, add up to less than the length: bisect for the first
    // class where they do not.
    let pending = start.wrapping_neg();
    let (mut lo, mut hi) = (0usize, CLASSES);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if pending & low_bits(mid as u32) < len {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    low_mask(lo)
}

/// The capacities of a node: what its parent and searches read. A node
/// keeps its largest gap (`big`, as `(start, len)`, `len` 0 when it has no
/// gap) apart, as two numbers, and the per-class maxima of all its other
/// gaps (`rest`) in a table: an edit of the big gap, the one that leads
/// most classes, then changes two numbers instead of a class per
/// alignment it leads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caps<'a> {
    pub(crate) big: (u64, u64),
    pub(crate) rest: Rest<'a>,
}

impl Caps<'_> {
    /// The largest size a gap holds at alignment `2^k`.
    #[inline]
    pub(crate) fn get(&self, k: usize) -> u64 {
        gap_cap(self.big.0, self.big.1, k as u32).max(self.rest.get(k))
    }

    /// The largest gap (the capacity at alignment 1).
    #[inline]
    pub(crate) fn largest(&self) -> u64 {
        self.big.1
    }

    /// True if some gap holds `size` units at alignment `2^k`.
    #[inline]
    pub(crate) fn fits(&self, size: u64, k: u32) -> bool {
        gap_cap(self.big.0, self.big.1, k) >= size || self.rest.get(k as usize) >= size
    }

    /// The classes below the first one without capacity.
    #[inline]
    pub(crate) fn nonzero_classes(&self) -> u64 {
        gap_classes(self.big.0, self.big.1) | self.rest.nonzero_classes()
    }
}

/// What one part of a branch (a child, or a gap between two children)
/// brings to the branch's table of other gaps.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Part<'a> {
    /// Nothing: the part is the branch's big gap, or has no gap.
    Nothing,
    /// A gap between children.
    Gap(u64, u64),
    /// All of a child's gaps.
    Full(Caps<'a>),
    /// A child's gaps but its big gap, which is the branch's.
    Rest(Rest<'a>),
}

impl Part<'_> {
    /// The part's capacity in class `k`.
    #[inline]
    pub(crate) fn get(&self, k: usize) -> u64 {
        match *self {
            Part::Nothing => 0,
            Part::Gap(start, len) => gap_cap(start, len, k as u32),
            Part::Full(caps) => caps.get(k),
            Part::Rest(rest) => rest.get(k),
        }
    }

    /// The classes below the first one without capacity.
    #[inline]
    pub(crate) fn nonzero_classes(&self) -> u64 {
        match *self {
            Part::Nothing => 0,
            Part::Gap(start, len) => gap_classes(start, len),
            Part::Full(caps) => caps.nonzero_classes(),
            Part::Rest(rest) => rest.nonzero_classes(),
        }
    }
}

/// The classes below `k`.
#[inline]
pub(crate) fn low_mask(k: usize) -> u64 {
    if k >= CLASSES {
        ALL_CLASSES
    } else {
        (1 << k) - 1
    }
}

/// The lowest aligned start for `size` units in `[lo, hi]`, if any.
#[inline]
pub(crate) fn first_fit_in(lo: u64, hi: u64, size: u64, k: u32) -> Option<u64> {
    let mask = low_bits(k);
    let start = lo.checked_add(mask)? & !mask;
    let last = start.checked_add(size - 1)?;
    (last <= hi).then_some(start)
}

/// The highest aligned start for `size` units in `[lo, hi]`, if any.
#[inline]
pub(crate) fn last_fit_in(lo: u64, hi: u64, size: u64, k: u32) -> Option<u64> {
    if hi - lo < size - 1 {
        return None;
    }
    let start = (hi - (size - 1)) & !low_bits(k);
    (start >= lo).then_some(start)
}

/// The per-class maxima and tie counts of `gaps`, class by class, for the
/// invariant checker: independent of the step functions above.
#[cfg(any(test, fuzzing, vm_allocator_check))]
pub(crate) fn brute_force(
    gaps: impl Iterator<Item = (u64, u64)> + Clone,
) -> ([u64; CLASSES], [u32; CLASSES]) {
    let mut max = [0u64; CLASSES];
    let mut ties = [0u32; CLASSES];
    for k in 0..CLASSES {
        for (start, len) in gaps.clone() {
            let cap = gap_cap(start, len, k as u32);
            if cap > max[k] {
                (max[k], ties[k]) = (cap, 1);
            } else if cap == max[k] && cap > 0 {
                ties[k] += 1;
            }
        }
    }
    (max, ties)
}

/// The largest capacity of `gaps` in class `k` below `max`, and the number
/// of gaps attaining it (`(0, 0)` if none), for the invariant checker.
#[cfg(any(test, fuzzing, vm_allocator_check))]
pub(crate) fn brute_second(
    gaps: impl Iterator<Item = (u64, u64)>,
    k: usize,
    max: u64,
) -> (u64, u32) {
    let mut best = (0u64, 0u32);
    for (start, len) in gaps {
        let cap = gap_cap(start, len, k as u32);
        if cap >= max || cap == 0 {
            continue;
        }
        if cap > best.0 {
            best = (cap, 1);
        } else if cap == best.0 {
            best.1 += 1;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn brute_cap(start: u64, len: u64, k: u32) -> u64 {
        // Largest size s such that an aligned start fits: try the first aligned start.
        match start.checked_add(low_bits(k)) {
            Some(x) => {
                let x = x & !low_bits(k);
                let end = start + (len - 1);
                if x <= end {
                    end - x + 1
                } else {
                    0
                }
            }
            None => 0,
        }
    }

    const SAMPLES: [(u64, u64); 10] = [
        (0u64, 1u64),
        (0, 4096),
        (1, 4095),
        (0x1800, 0x2000),
        (0x1234_5678, 0x10_0000),
        (u64::MAX, 1),
        (u64::MAX - 0xfff, 0x1000),
        (1u64 << 63, 1),
        ((1u64 << 63) - 1, 2),
        (3, u64::MAX - 3),
    ];

    #[test]
    fn single_gap_caps_match_brute_force() {
        for &(start, len) in &SAMPLES {
            let max = maxima(core::iter::once((start, len)));
            let mut covered = 0;
            for step in steps(start, len) {
                assert_eq!(step.lo, covered, "steps are contiguous");
                covered = step.hi + 1;
                for k in step.lo..=step.hi {
                    assert_eq!(step.value, brute_cap(start, len, k as u32));
                }
            }
            for k in 0..64 {
                assert_eq!(
                    max[k as usize],
                    brute_cap(start, len, k),
                    "gap {start:#x}+{len:#x} k={k}"
                );
                assert_eq!(gap_cap(start, len, k), brute_cap(start, len, k));
                if k as usize >= covered {
                    assert_eq!(gap_cap(start, len, k), 0);
                }
            }
        }
    }

    #[test]
    fn caps_of_many_gaps_are_the_pointwise_maximum() {
        let gaps = [
            (0x1001u64, 0x1000u64),
            (0x4000, 0x800),
            (0x7ff0, 0x30),
            (0x1_0000_0000, 1),
        ];
        let caps = LeafTable::of(gaps.iter().copied());
        for k in 0..64 {
            let want = gaps.iter().map(|&(s, l)| brute_cap(s, l, k)).max().unwrap();
            assert_eq!(caps.max()[k as usize], want, "k={k}");
        }
        for k in 1..64 {
            assert!(caps.max()[k] <= caps.max()[k - 1]);
        }
    }

    #[test]
    fn fits_in_window() {
        assert_eq!(first_fit_in(0x1001, 0x2fff, 0x1000, 12), Some(0x2000));
        assert_eq!(first_fit_in(0x1001, 0x2ffe, 0x1000, 12), None);
        assert_eq!(last_fit_in(0x1001, 0x2fff, 0x1000, 12), Some(0x2000));
        assert_eq!(last_fit_in(0, u64::MAX, 1, 0), Some(u64::MAX));
        assert_eq!(first_fit_in(u64::MAX, u64::MAX, 1, 1), None);
        assert_eq!(first_fit_in(u64::MAX, u64::MAX, 1, 0), Some(u64::MAX));
        assert_eq!(last_fit_in(5, 5, 2, 0), None);
    }

    fn assert_leaf_caps(caps: &LeafTable, gaps: &[(u64, u64)]) {
        let (max, ties) = brute_force(gaps.iter().copied());
        assert_eq!(caps.max(), &max);
        assert!(gaps
            .iter()
            .all(|g| g.0.trailing_zeros() as usize >= caps.base()));
        for (k, &want) in ties.iter().enumerate().skip(caps.base()) {
            assert_eq!(u32::from(caps.ties(k)), want, "ties of class {k}");
            if let Some((value, ties)) = caps.second(k) {
                let want = brute_second(gaps.iter().copied(), k, max[k]);
                assert_eq!((value, u32::from(ties)), want, "second of class {k}");
            }
        }
    }

    /// Gaps that share alignments and lengths, so that maxima tie often.
    fn gap() -> impl Strategy<Value = (u64, u64)> {
        prop_oneof![
            (0u64..64, 1u64..4).prop_map(|(s, l)| (s << 12, l << 12)),
            (0u64..64, 1u64..0x3000).prop_map(|(s, l)| ((s << 12) + 0x800, l)),
            (any::<u64>(), 1u64..8).prop_map(|(s, l)| (s, l.min(s.wrapping_neg().max(1)))),
            (0u32..64).prop_map(|b| (1u64 << b, 1u64 << (b / 2))),
        ]
    }

    proptest! {
        #[test]
        fn leaf_caps_follow_gaps_in_and_out(
            initial in proptest::collection::vec(gap(), 0..12),
            edits in proptest::collection::vec((any::<bool>(), gap(), any::<usize>()), 0..40),
        ) {
            let mut gaps: Vec<(u64, u64)> = initial;
            let mut caps = LeafTable::of(gaps.iter().copied());
            assert_leaf_caps(&caps, &gaps);
            for (add, gap, which) in edits {
                let before = *caps.max();
                let (mut changed, mut stale) = (0, 0);
                if add || gaps.is_empty() {
                    caps.add_gap(gap.0, gap.1, &mut changed);
                    gaps.push(gap);
                } else {
                    let (start, len) = gaps.swap_remove(which % gaps.len());
                    caps.remove_gap(start, len, &mut changed, &mut stale);
                }
                caps.settle(stale, gaps.iter().copied(), &mut changed);
                assert_leaf_caps(&caps, &gaps);
                for k in (0..CLASSES).filter(|&k| before[k] != caps.max()[k]) {
                    prop_assert!(changed & (1 << k) != 0, "class {} moved unreported", k);
                }
            }
        }

        #[test]
        fn branch_caps_follow_part_updates(
            children in proptest::collection::vec(proptest::collection::vec(gap(), 0..4), 1..5),
            edits in proptest::collection::vec((any::<usize>(), any::<bool>(), proptest::collection::vec(gap(), 0..4)), 0..20),
        ) {
            // Parts: children (tables of their own gaps) and, between each
            // pair, a gap of their own.
            let mut tables: Vec<[u64; CLASSES]> =
                children.iter().map(|g| maxima(g.iter().copied())).collect();
            let between: Vec<(u64, u64)> = (0..tables.len().saturating_sub(1))
                .map(|i| (((i as u64) << 20) + 0x1000, 0x1000 << i))
                .collect();
            let parts = |tables: &[[u64; CLASSES]]| -> Vec<(Holders, Part<'static>)> {
                // Leaked so that the parts outlive the loop: tests only.
                let tables: &'static [[u64; CLASSES]] = alloc::boxed::Box::leak(tables.to_vec().into_boxed_slice());
                tables
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (1 << i, Part::Rest(Rest::Table(t))))
                    .chain(between.iter().enumerate().map(|(i, &(s, l))| (1 << (GAP_BIT + i), Part::Gap(s, l))))
                    .collect()
            };
            let mut caps = BranchTable::of(parts(&tables).into_iter());
            for (which, raise, new_gaps) in edits {
                let i = which % tables.len();
                let (mut changed, mut stale) = (0, 0);
                let before = *caps.max();
                if raise {
                    // Part i brings its gaps and the new ones.
                    for &(start, len) in &new_gaps {
                        caps.raise_gap(1 << i, start, len, &mut changed);
                    }
                    let more = maxima(new_gaps.iter().copied());
                    for k in 0..CLASSES {
                        tables[i][k] = tables[i][k].max(more[k]);
                    }
                } else {
                    let new = maxima(new_gaps.iter().copied());
                    let mask = (0..CLASSES)
                        .filter(|&k| new[k] != tables[i][k])
                        .fold(0u64, |m, k| m | 1 << k);
                    tables[i] = new;
                    caps.update_classes(mask, 1 << i, Part::Rest(Rest::Table(&tables[i])), &mut changed, &mut stale);
                }
                // The two largest values of class k and their parts.
                let top2 = |k: usize| {
                    let mut best = [(0u64, 0 as Holders); 2];
                    let values = tables.iter().map(|t| t[k]).chain(
                        between.iter().map(|&(s, l)| gap_cap(s, l, k as u32)),
                    );
                    let bits = (0..tables.len()).chain(GAP_BIT..GAP_BIT + between.len());
                    for (value, bit) in values.zip(bits) {
                        if value == 0 {
                            continue;
                        }
                        if value > best[0].0 {
                            best[1] = best[0];
                            best[0] = (value, 1 << bit);
                        } else if value == best[0].0 {
                            best[0].1 |= 1 << bit;
                        } else if value > best[1].0 {
                            best[1] = (value, 1 << bit);
                        } else if value == best[1].0 {
                            best[1].1 |= 1 << bit;
                        }
                    }
                    best
                };
                for k in classes(stale) {
                    if caps.holders(k) != 0 {
                        continue;
                    }
                    caps.set_class(k, top2(k));
                    changed |= 1 << k;
                }
                let fresh = BranchTable::of(parts(&tables).into_iter());
                prop_assert_eq!(caps.max(), fresh.max());
                for (k, &was) in before.iter().enumerate() {
                    prop_assert_eq!(caps.holders(k), fresh.holders(k), "holders of class {}", k);
                    if let Some(second) = caps.second(k) {
                        prop_assert_eq!(second, top2(k)[1], "second of class {}", k);
                    }
                    if was != caps.max()[k] {
                        prop_assert!(changed & (1 << k) != 0, "class {} moved unreported", k);
                    }
                }
            }
        }

        #[test]
        fn caps_of_one_gap_match_its_table(gap in gap()) {
            let table = maxima(core::iter::once(gap));
            let caps = Caps { big: gap, rest: Rest::Empty };
            let nonzero = caps.nonzero_classes();
            for (k, &want) in table.iter().enumerate() {
                prop_assert_eq!(caps.get(k), want, "class {}", k);
                prop_assert_eq!(caps.fits(want.max(1), k as u32), want > 0, "class {}", k);
                prop_assert_eq!(nonzero & (1 << k) != 0, want != 0, "class {}", k);
            }
            prop_assert_eq!(caps.largest(), table[0]);
            prop_assert_eq!(Rest::Table(&table).nonzero_classes(), nonzero);
            prop_assert_eq!(gap_classes(gap.0, gap.1), nonzero);
        }
    }
}
