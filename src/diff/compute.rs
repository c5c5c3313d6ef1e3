// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Computing a diff between two states.

use alloc::format;
use alloc::vec::Vec;

use super::labels::{labels, Label};
use super::sealed::Sealed;
use super::{Change, Diff, DiffError, PoolDiff};
use crate::engine::Side;
use crate::escape::quoted;
use crate::format::FileKind;
use crate::{AddressAllocator, IdAllocator, Owner, Pool, PoolKind, RangeInclusive, ResourceSet};

/// What changed between two address allocators of one space.
pub(super) fn address_pool_diff(
    name: Option<Owner>,
    older: &AddressAllocator,
    newer: &AddressAllocator,
) -> PoolDiff {
    let mut freed = Vec::new();
    let mut allocated = Vec::new();
    older.tree().diff(newer.tree(), |side, span, owner| {
        let change = Change::new(
            RangeInclusive::from_parts(span.start, span.end),
            owner.cloned(),
        );
        match side {
            Side::Left => freed.push(change),
            Side::Right => allocated.push(change),
        }
    });
    PoolDiff::from_parts(
        name,
        PoolKind::Addresses,
        (older.generation(), newer.generation()),
        None,
        freed,
        allocated,
    )
}

/// What changed between two id allocators of one range: ids whose label
/// (free, or allocated with an owner) differs.
pub(super) fn id_pool_diff(
    name: Option<Owner>,
    older: &IdAllocator,
    newer: &IdAllocator,
) -> PoolDiff {
    let (older_runs, older_owners) = older.trees();
    let (newer_runs, newer_owners) = newer.trees();
    // Ids can only differ where the runs or the owner spans the two trees
    // do not share disagree: a run that grew by one id is one dirty id, not
    // the whole run.
    let mut dirty = Vec::new();
    // The id set reports the ids in one and not the other, skipping the
    // subtrees both share.
    older_runs.diff(newer_runs, |_, first, last| {
        dirty.push((u64::from(first), u64::from(last)));
    });
    let (mut only_a, mut only_b) = (Vec::new(), Vec::new());
    older_owners.diff(newer_owners, |side, s, owner| match side {
        Side::Left => only_a.push((s.start, s.end, owner)),
        Side::Right => only_b.push((s.start, s.end, owner)),
    });
    dirty.extend(disagreements(&only_a, &only_b));
    dirty.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(dirty.len());
    for (start, end) in dirty {
        match merged.last_mut() {
            Some(last) if start <= last.1 + 1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    let mut freed = Vec::new();
    let mut allocated = Vec::new();
    for (x, y) in merged {
        let before = labels(older, x, y);
        let after = labels(newer, x, y);
        let (mut i, mut j) = (0, 0);
        let mut at = x;
        while at <= y {
            let (_, a_end, a) = before[i];
            let (_, b_end, b) = after[j];
            let to = a_end.min(b_end);
            if a != b {
                if let Label::Allocated(owner) = a {
                    push_joined(&mut freed, at, to, owner);
                }
                if let Label::Allocated(owner) = b {
                    push_joined(&mut allocated, at, to, owner);
                }
            }
            if a_end == to {
                i += 1;
            }
            if b_end == to {
                j += 1;
            }
            at = to + 1;
        }
    }
    PoolDiff::from_parts(
        name,
        PoolKind::Ids,
        (older.generation(), newer.generation()),
        Some((older.next_id(), newer.next_id())),
        freed,
        allocated,
    )
}

/// A span of ids and its owner, as the engine's diff reports it.
type Labelled<'a> = (u64, u64, Option<&'a Owner>);

/// The intervals where two sorted lists of disjoint spans disagree: an id
/// in one list and not the other, or in both with different owners.
///
/// Time: O((a + b) log (a + b)).
fn disagreements(a: &[Labelled<'_>], b: &[Labelled<'_>]) -> Vec<(u64, u64)> {
    // Ids stay below 2^32, so one past an end never overflows.
    let mut points: Vec<u64> = a
        .iter()
        .chain(b)
        .flat_map(|&(start, end, _)| [start, end + 1])
        .collect();
    points.sort_unstable();
    points.dedup();
    let (mut i, mut j) = (0, 0);
    let mut out: Vec<(u64, u64)> = Vec::new();
    for w in points.windows(2) {
        let (from, to) = (w[0], w[1] - 1);
        while i < a.len() && a[i].1 < from {
            i += 1;
        }
        while j < b.len() && b[j].1 < from {
            j += 1;
        }
        let in_a = (i < a.len() && a[i].0 <= from).then(|| a[i].2);
        let in_b = (j < b.len() && b[j].0 <= from).then(|| b[j].2);
        if in_a != in_b {
            match out.last_mut() {
                Some(last) if last.1 + 1 == from => last.1 = to,
                _ => out.push((from, to)),
            }
        }
    }
    out
}

/// Appends the ids `first..=last` with `owner`, extending the last change
/// when it ends just before with the same owner (changes stay maximal).
fn push_joined(changes: &mut Vec<Change>, first: u64, last: u64, owner: Option<&Owner>) {
    if let Some(prev) = changes.last_mut() {
        if prev.range.end() + 1 == first && prev.owner.as_ref() == owner {
            prev.range = RangeInclusive::from_parts(prev.range.start(), last);
            return;
        }
    }
    changes.push(Change::new(
        RangeInclusive::from_parts(first, last),
        owner.cloned(),
    ));
}

fn shape(what: alloc::string::String) -> DiffError {
    DiffError::ShapeMismatch { what }
}

impl Sealed for AddressAllocator {
    const KIND: FileKind = FileKind::AddressAllocator;

    fn diff_to(&self, newer: &Self) -> Result<Diff, DiffError> {
        if self.space() != newer.space() {
            return Err(shape(format!(
                "the spaces {:#x}..={:#x} and {:#x}..={:#x} differ",
                self.base(),
                self.end(),
                newer.base(),
                newer.end()
            )));
        }
        Ok(Diff::from_parts(
            FileKind::AddressAllocator,
            (self.generation(), newer.generation()),
            alloc::vec![address_pool_diff(None, self, newer)],
        ))
    }

    fn apply_diff(&self, diff: &Diff) -> Result<Self, DiffError> {
        super::apply::apply_address(self, diff)
    }

    fn file_checksum(&self) -> u32 {
        crate::format::checksum(self)
    }
}

impl Sealed for IdAllocator {
    const KIND: FileKind = FileKind::IdAllocator;

    fn diff_to(&self, newer: &Self) -> Result<Diff, DiffError> {
        if (self.range_base(), self.range_end()) != (newer.range_base(), newer.range_end()) {
            return Err(shape(format!(
                "the id ranges {}..={} and {}..={} differ",
                self.range_base(),
                self.range_end(),
                newer.range_base(),
                newer.range_end()
            )));
        }
        Ok(Diff::from_parts(
            FileKind::IdAllocator,
            (self.generation(), newer.generation()),
            alloc::vec![id_pool_diff(None, self, newer)],
        ))
    }

    fn apply_diff(&self, diff: &Diff) -> Result<Self, DiffError> {
        super::apply::apply_ids(self, diff)
    }

    fn file_checksum(&self) -> u32 {
        crate::format::checksum(self)
    }
}

impl Sealed for ResourceSet {
    const KIND: FileKind = FileKind::ResourceSet;

    fn diff_to(&self, newer: &Self) -> Result<Diff, DiffError> {
        if self.len() != newer.len() {
            return Err(shape(format!(
                "the sets have {} and {} pools",
                self.len(),
                newer.len()
            )));
        }
        let mut pools = Vec::new();
        for (i, (a, b)) in self.entries().iter().zip(newer.entries()).enumerate() {
            if a.name != b.name {
                return Err(shape(format!(
                    "pool #{i} is named {} in one and {} in the other",
                    quoted(a.name.as_str()),
                    quoted(b.name.as_str())
                )));
            }
            if !a.pool.same_shape(&b.pool) {
                return Err(shape(format!(
                    "pool {} has another kind, range or space in each",
                    quoted(a.name.as_str())
                )));
            }
            let name = Some(a.name.clone());
            let pool = match (&a.pool, &b.pool) {
                (Pool::Ids(x), Pool::Ids(y)) => id_pool_diff(name, x, y),
                (Pool::Addresses(x), Pool::Addresses(y)) => address_pool_diff(name, x, y),
                _ => unreachable!("same_shape checked the kinds"),
            };
            let moved = pool.generations.0 != pool.generations.1
                || pool.next_ids.is_some_and(|(x, y)| x != y)
                || !pool.freed.is_empty()
                || !pool.allocated.is_empty();
            if moved {
                pools.push(pool);
            }
        }
        Ok(Diff::from_parts(
            FileKind::ResourceSet,
            (self.generation(), newer.generation()),
            pools,
        ))
    }

    fn apply_diff(&self, diff: &Diff) -> Result<Self, DiffError> {
        super::apply::apply_set(self, diff)
    }

    fn file_checksum(&self) -> u32 {
        crate::format::checksum(self)
    }
}
