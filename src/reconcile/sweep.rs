// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The rules of one pool: conflicts among its claims, then one sweep
//! over the claims (sorted) and the allocations (in order) together.
//!
//! Claims that remain after the conflicts are disjoint and sorted, and so
//! are allocations: each sweep walks both once, O(n + c), after the
//! O(c log c) sort of the claims.

use alloc::vec::Vec;

use super::report::{Allocated, Finding, FindingKind, PoolRef};
use crate::{AddressAllocator, Allocation, Claim, IdAllocator, Owner};

/// Sorts `claims` by `(start, end)` (ties keep their order), reports every
/// claim that overlaps an earlier one as a conflict with the first such
/// claim, and returns the others: disjoint, in increasing order.
///
/// A claim's earlier claims count whether or not they are conflicts
/// themselves: of `0..=10`, `5..=20` and `15..=25`, the second conflicts
/// with the first and the third with the second, and only the first
/// remains.
///
/// Time: O(c log c).
pub(super) fn split_conflicts<'c>(
    pool: &PoolRef<'_>,
    claims: Vec<&'c Claim>,
    out: &mut Vec<Finding>,
) -> Vec<&'c Claim> {
    let claims = sorted(claims);
    let mut remaining = Vec::with_capacity(claims.len());
    // reach[j]: the highest end among claims[..=j], which never decreases.
    let mut reach: Vec<u64> = Vec::with_capacity(claims.len());
    for &claim in &claims {
        // Every earlier claim starts at or before this one, so it overlaps
        // this one exactly when it ends at or after this one's start; the
        // first such claim is the first whose reach gets there (its end is
        // that reach). Most claims overlap none: the last reach says so.
        let overlapped = reach.last().is_some_and(|&r| r >= claim.start());
        if overlapped {
            let first = reach.partition_point(|&r| r < claim.start());
            let other = claims[first];
            let overlap = (claim.start(), claim.end().min(other.end()));
            out.push(
                Finding::in_pool(pool, FindingKind::Conflict, overlap, Some(claim), None)
                    .with_other_claim(other),
            );
        } else {
            remaining.push(claim);
        }
        let highest = reach.last().map_or(claim.end(), |&r| r.max(claim.end()));
        reach.push(highest);
    }
    remaining
}

/// `claims` sorted by `(start, end)`, claims with the same bounds in the
/// order given. Time: O(c log c), O(c) if they are sorted already.
fn sorted(claims: Vec<&Claim>) -> Vec<&Claim> {
    if claims.is_sorted_by_key(|c| (c.start(), c.end())) {
        return claims;
    }
    // Sorting the keys beside their positions touches no claim, and the
    // position breaks ties as a stable sort would.
    let mut keys: Vec<(u64, u64, usize)> = claims
        .iter()
        .enumerate()
        .map(|(i, c)| (c.start(), c.end(), i))
        .collect();
    keys.sort_unstable();
    keys.into_iter().map(|(_, _, i)| claims[i]).collect()
}

/// The findings of an address pool for its remaining `claims` (disjoint,
/// sorted): for each claim, owner, missing or bounds; then every
/// allocation that no claim overlaps, unexpected.
///
/// - An allocation that a claim overlaps only in part is not unexpected:
///   it is a bounds finding of that claim.
/// - An allocation that two claims overlap gives a bounds finding for
///   each, each span the intersection with that claim.
///
/// Time: O(n + c).
pub(super) fn check_addresses(
    pool: &PoolRef<'_>,
    addresses: &AddressAllocator,
    claims: &[&Claim],
    out: &mut Vec<Finding>,
) {
    let found = |a: &Allocation<'_>| Allocated::new(a.range().start(), a.range().end(), a.owner());
    let unexpected = |a: &Allocation<'_>| {
        let span = (a.range().start(), a.range().end());
        Finding::in_pool(pool, FindingKind::Unexpected, span, None, Some(found(a)))
    };
    let mut allocations = addresses.allocations().peekable();
    // Whether the allocation at the front overlaps a claim already seen
    // (it reaches past that claim's end).
    let mut front_claimed = false;
    let mut overlapping: Vec<Allocation<'_>> = Vec::new();
    for &claim in claims {
        while let Some(a) = allocations.next_if(|a| a.range().end() < claim.start()) {
            if !front_claimed {
                out.push(unexpected(&a));
            }
            front_claimed = false;
        }
        overlapping.clear();
        while let Some(&a) = allocations.peek() {
            if a.range().start() > claim.end() {
                break;
            }
            overlapping.push(a);
            if a.range().end() > claim.end() {
                // It may overlap the next claim too: leave it at the front.
                front_claimed = true;
                break;
            }
            allocations.next();
            front_claimed = false;
        }
        match overlapping.as_slice() {
            [] => out.push(Finding::in_pool(
                pool,
                FindingKind::Missing,
                (claim.start(), claim.end()),
                Some(claim),
                None,
            )),
            [a] if a.range().start() == claim.start() && a.range().end() == claim.end() => {
                if let Some(owner) = claim.owner() {
                    if a.owner() != Some(owner) {
                        let span = (a.range().start(), a.range().end());
                        out.push(Finding::in_pool(
                            pool,
                            FindingKind::Owner,
                            span,
                            Some(claim),
                            Some(found(a)),
                        ));
                    }
                }
            }
            all => {
                for a in all {
                    let span = (
                        a.range().start().max(claim.start()),
                        a.range().end().min(claim.end()),
                    );
                    out.push(Finding::in_pool(
                        pool,
                        FindingKind::Bounds,
                        span,
                        Some(claim),
                        Some(found(a)),
                    ));
                }
            }
        }
    }
    for a in allocations {
        if !front_claimed {
            out.push(unexpected(&a));
        }
        front_claimed = false;
    }
}

/// A run of allocated ids with one owner, in `u64`.
type Run<'a> = (u64, u64, Option<&'a Owner>);

/// The findings of an id pool for its remaining `claims` (disjoint,
/// sorted). Ids have no allocation bounds: the sweep walks the maximal
/// runs of ids that share an owner ([`IdAllocator::allocations`]) and
/// cuts them at the claims' ends.
///
/// - missing: each maximal run of free ids inside a claim;
/// - owner: for a claim with an owner, each maximal run of ids inside it
///   whose owner differs (none included), split where the ids' owner
///   changes;
/// - unexpected: each maximal run of allocated ids outside every claim,
///   split where the owner changes. A run that a claim covers in part is
///   cut: the part outside is unexpected, the part inside is the claim's.
///
/// Time: O(n + c), n = runs of ids with one owner.
pub(super) fn check_ids(
    pool: &PoolRef<'_>,
    ids: &IdAllocator,
    claims: &[&Claim],
    out: &mut Vec<Finding>,
) {
    let mut runs = ids.allocations().map(|a| -> Run<'_> {
        let ids = a.ids();
        ((*ids.start()).into(), (*ids.end()).into(), a.owner())
    });
    let unexpected = |(first, last, owner): Run<'_>| {
        let allocated = Allocated::new(first, last, owner);
        Finding::in_pool(
            pool,
            FindingKind::Unexpected,
            (first, last),
            None,
            Some(allocated),
        )
    };
    // What is left of the run at the front. Claims lie inside the `u32`
    // range of ids, so `claim.end() + 1` cannot overflow.
    let mut front = runs.next();
    for &claim in claims {
        while let Some((first, last, owner)) = front {
            if first >= claim.start() {
                break;
            }
            out.push(unexpected((first, last.min(claim.start() - 1), owner)));
            if last >= claim.start() {
                front = Some((claim.start(), last, owner));
                break;
            }
            front = runs.next();
        }
        let mut free_from = claim.start();
        while let Some((first, last, owner)) = front {
            if first > claim.end() {
                break;
            }
            if first > free_from {
                out.push(missing(pool, claim, (free_from, first - 1)));
            }
            let upto = last.min(claim.end());
            if let Some(wanted) = claim.owner() {
                if owner != Some(wanted) {
                    out.push(Finding::in_pool(
                        pool,
                        FindingKind::Owner,
                        (first, upto),
                        Some(claim),
                        Some(Allocated::new(first, upto, owner)),
                    ));
                }
            }
            free_from = upto + 1;
            if last > claim.end() {
                front = Some((claim.end() + 1, last, owner));
                break;
            }
            front = runs.next();
        }
        if free_from <= claim.end() {
            out.push(missing(pool, claim, (free_from, claim.end())));
        }
    }
    while let Some(run) = front {
        out.push(unexpected(run));
        front = runs.next();
    }
}

fn missing(pool: &PoolRef<'_>, claim: &Claim, span: (u64, u64)) -> Finding {
    Finding::in_pool(pool, FindingKind::Missing, span, Some(claim), None)
}
