// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! When each allocation of the latest version was made, for `blame`.
//!
//! For each pool, the ranges of the latest version that some recorded diff
//! allocated, and that no later diff freed, each with the sequence number
//! of the version whose diff allocated it (see `History`). Recording a
//! version takes the diff from the previous one: its freed ranges leave,
//! its allocated ranges enter. For an address pool the ranges are whole
//! allocations; for an id pool, runs of ids (a run that is later partly
//! freed keeps its other ids).
//!
//! Only versions after the oldest kept one are named: when the oldest
//! version leaves, the ranges the next one made are forgotten, since the
//! history can no longer tell whether they are older.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::{Diff, Owner, RangeInclusive};

/// The made-at index of every pool that changed since the oldest version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Births {
    pools: Vec<(Option<Owner>, Runs)>,
}

impl Births {
    /// Takes in `diff`, from the latest version to the one numbered `seq`.
    /// Time: O(k log m), k changes, m ranges indexed.
    pub(crate) fn record(&mut self, diff: &Diff, seq: u64) {
        for pool in diff.pools() {
            let runs = self.pool_mut(pool.name_owner());
            // The freed ranges first: an allocated one may overlap them.
            for change in pool.freed() {
                runs.remove(change.range());
            }
            for change in pool.allocated() {
                runs.insert(change.range(), seq);
            }
        }
    }

    /// Forgets, among the ranges `diff` allocates, those made by a version
    /// numbered `up_to` or less. Time: O(k log m).
    pub(crate) fn forget(&mut self, diff: &Diff, up_to: u64) {
        for pool in diff.pools() {
            let runs = self.pool_mut(pool.name_owner());
            for change in pool.allocated() {
                runs.forget(change.range(), up_to);
            }
        }
        self.pools.retain(|(_, runs)| !runs.0.is_empty());
    }

    /// The version that made `value` of `pool`, if an indexed range holds
    /// it. Time: O(p + log m).
    pub(crate) fn made(&self, pool: Option<&str>, value: u64) -> Option<u64> {
        let (_, runs) = self
            .pools
            .iter()
            .find(|(name, _)| name.as_ref().map(Owner::as_str) == pool)?;
        runs.get(value)
    }

    /// Checks that every indexed range lies inside what holds its ends in
    /// `latest` (for an address pool: is exactly that allocation), made by
    /// a version numbered `first..last`.
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn check<S: super::Tracked>(
        &self,
        latest: &S,
        seqs: core::ops::Range<u64>,
    ) -> Result<(), alloc::string::String> {
        for (pool, start, end, seq) in self.entries() {
            let (Some(a), Some(b)) = (latest.holder(pool, start), latest.holder(pool, end)) else {
                return Err(alloc::format!(
                    "the blame index holds {start:#x}..={end:#x} of {pool:?}, not all allocated"
                ));
            };
            let exact = a.range.start() == start && b.range.end() == end;
            if a.kind == crate::PoolKind::Addresses && (a.range != b.range || !exact) {
                return Err(alloc::format!(
                    "the blame index holds {start:#x}..={end:#x} of {pool:?}, not an allocation"
                ));
            }
            if !seqs.contains(&seq) {
                return Err(alloc::format!(
                    "the blame index names version #{seq}, not a kept one after the oldest ({seqs:?})"
                ));
            }
        }
        Ok(())
    }

    /// Every indexed range with its version, by pool.
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn entries(&self) -> Vec<(Option<&str>, u64, u64, u64)> {
        let mut out: Vec<_> = self
            .pools
            .iter()
            .flat_map(|(name, runs)| {
                let name = name.as_ref().map(Owner::as_str);
                runs.0
                    .iter()
                    .map(move |(&start, &(end, seq))| (name, start, end, seq))
            })
            .collect();
        out.sort_unstable();
        out
    }

    fn pool_mut(&mut self, name: Option<&Owner>) -> &mut Runs {
        let i = match self.pools.iter().position(|(n, _)| n.as_ref() == name) {
            Some(i) => i,
            None => {
                self.pools.push((name.cloned(), Runs::default()));
                self.pools.len() - 1
            }
        };
        &mut self.pools[i].1
    }
}

/// Disjoint ranges, by first value: `start -> (end, seq)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Runs(BTreeMap<u64, (u64, u64)>);

impl Runs {
    /// The starts of the ranges that overlap `range`, in order.
    fn overlapping(&self, range: RangeInclusive) -> Vec<u64> {
        let (first, last) = (range.start(), range.end());
        let before = self
            .0
            .range(..first)
            .next_back()
            .filter(|(_, &(end, _))| end >= first)
            .map(|(&start, _)| start);
        before
            .into_iter()
            .chain(self.0.range(first..=last).map(|(&start, _)| start))
            .collect()
    }

    /// Takes `range` out, keeping what overlapping ranges hold outside it.
    fn remove(&mut self, range: RangeInclusive) {
        let (first, last) = (range.start(), range.end());
        for start in self.overlapping(range) {
            let Some((end, seq)) = self.0.remove(&start) else {
                continue;
            };
            if start < first {
                self.0.insert(start, (first - 1, seq));
            }
            if end > last {
                self.0.insert(last + 1, (end, seq));
            }
        }
    }

    /// Puts in `range`, made by version `seq`.
    fn insert(&mut self, range: RangeInclusive, seq: u64) {
        self.remove(range);
        self.0.insert(range.start(), (range.end(), seq));
    }

    /// Drops the ranges overlapping `range` made by version `up_to` or
    /// before.
    fn forget(&mut self, range: RangeInclusive, up_to: u64) {
        for start in self.overlapping(range) {
            if self.0.get(&start).is_some_and(|&(_, seq)| seq <= up_to) {
                self.0.remove(&start);
            }
        }
    }

    /// The version of the range holding `value`.
    fn get(&self, value: u64) -> Option<u64> {
        self.0
            .range(..=value)
            .next_back()
            .filter(|(_, &(end, _))| end >= value)
            .map(|(_, &(_, seq))| seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(a: u64, b: u64) -> RangeInclusive {
        RangeInclusive::from_parts(a, b)
    }

    #[test]
    fn removing_a_range_keeps_what_sticks_out() {
        let mut runs = Runs::default();
        runs.insert(r(10, 20), 1);
        runs.insert(r(30, 40), 2);
        runs.remove(r(15, 35));
        let left: Vec<_> = runs.0.iter().map(|(&s, &v)| (s, v)).collect();
        assert_eq!(left, [(10, (14, 1)), (36, (40, 2))]);
        assert_eq!(runs.get(14), Some(1));
        assert_eq!(runs.get(15), None);
        assert_eq!(runs.get(36), Some(2));
    }

    #[test]
    fn inserting_replaces_what_it_covers() {
        let mut runs = Runs::default();
        runs.insert(r(0, 9), 1);
        runs.insert(r(5, 5), 2);
        assert_eq!(
            (runs.get(4), runs.get(5), runs.get(6)),
            (Some(1), Some(2), Some(1))
        );
        runs.insert(r(u64::MAX - 1, u64::MAX), 3);
        assert_eq!(runs.get(u64::MAX), Some(3));
        runs.remove(r(u64::MAX, u64::MAX));
        assert_eq!(
            (runs.get(u64::MAX - 1), runs.get(u64::MAX)),
            (Some(3), None)
        );
    }

    #[test]
    fn forgetting_drops_only_old_ranges() {
        let mut runs = Runs::default();
        runs.insert(r(0, 3), 1);
        runs.insert(r(4, 7), 2);
        runs.forget(r(0, 7), 1);
        assert_eq!((runs.get(0), runs.get(4)), (None, Some(2)));
    }
}
