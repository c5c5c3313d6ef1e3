// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Acting on a report: the edits that make a pool hold exactly its
//! claims, and the error of a refused adoption.
//!
//! All or nothing without a copy: every claim is checked (none outside,
//! none in conflict) before anything changes, and once they are, the
//! edits the findings call for cannot fail (they free allocations the
//! sweep saw, and allocate disjoint claims inside the space into what
//! the frees left). So the state is edited in place, and a state no
//! snapshot shares copies no node. The asserts say so.

use alloc::vec::Vec;
use core::fmt;

use super::report::{Finding, FindingKind};
use crate::{AddressAllocator, IdAllocator, Owner, RangeInclusive};

/// Why [`adopt`](crate::ResourceSet::adopt) (or `from_claims`) refused the
/// claims: the first outside or conflicting claim, in the report's order.
/// Nothing was changed.
///
/// # Examples
///
/// ```rust
/// use std::error::Error as _;
/// use vm_allocator::{Claim, FindingKind, ResourceSet};
///
/// let mut vm = ResourceSet::x86_64();
/// let before = vm.clone();
/// let claims = [
///     Claim::new(5, 5)?.in_pool("legacy_gsi"),
///     Claim::new(5, 6)?.in_pool("legacy_gsi"),
/// ];
/// let err = vm.adopt(&claims).unwrap_err();
/// assert_eq!(err.finding().kind(), FindingKind::Conflict);
/// assert_eq!(
///     err.to_string(),
///     "cannot adopt the claims, nothing was changed: conflict legacy_gsi 5..=5 (1 id): \
///      claim 5..=6 by any owner; overlaps claim 5..=5 by any owner"
/// );
/// assert!(err.source().is_none());
/// assert_eq!((vm.generation(), &vm), (before.generation(), &before));
/// # Ok::<(), vm_allocator::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AdoptError {
    // Boxed: a `Result` of a finding-sized error would be large.
    finding: alloc::boxed::Box<Finding>,
}

impl AdoptError {
    pub(crate) fn new(finding: Finding) -> AdoptError {
        AdoptError {
            finding: alloc::boxed::Box::new(finding),
        }
    }

    /// The first outside or conflict finding of the report.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, FindingKind, IdAllocator};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let err = gsi.adopt(&[Claim::new(24, 24)?]).unwrap_err();
    /// assert_eq!(err.finding().kind(), FindingKind::Outside);
    /// assert_eq!(err.finding().start(), 24);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn finding(&self) -> &Finding {
        &self.finding
    }

    /// The finding, taken out of the error.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, IdAllocator};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// let finding = gsi.adopt(&[Claim::new(0, 0)?]).unwrap_err().into_finding();
    /// assert_eq!(finding.claim().map(|c| c.end()), Some(0));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn into_finding(self) -> Finding {
        *self.finding
    }
}

impl fmt::Display for AdoptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot adopt the claims, nothing was changed: {}",
            self.finding
        )
    }
}

impl core::error::Error for AdoptError {}

/// Makes an address pool hold exactly its claims, given the pool's
/// findings (none of them outside or conflict): frees the unexpected
/// allocations and those a claim overlaps without equalling them,
/// allocates the missing and the mis-bounded claims with the claim's
/// owner, and gives the claim's owner to the allocations of another.
///
/// The edits are one mutation: the generation moves by one if there was
/// anything to do.
pub(super) fn apply_addresses(a: &mut AddressAllocator, findings: &[Finding]) {
    let mut frees: Vec<(RangeInclusive, Option<&Owner>)> = Vec::new();
    let mut allocs: Vec<(RangeInclusive, Option<&Owner>)> = Vec::new();
    let mut owners: Vec<(RangeInclusive, Option<&Owner>)> = Vec::new();
    for finding in findings {
        let claimed = finding.claim().map(|c| {
            // A remaining claim lies inside the space: a valid range.
            (RangeInclusive::from_parts(c.start(), c.end()), c.owner())
        });
        let found = finding.allocation().map(|a| (a.range(), a.owner()));
        match (finding.kind(), claimed, found) {
            (FindingKind::Missing, Some(claim), _) => allocs.push(claim),
            (FindingKind::Bounds, Some(claim), Some(allocation)) => {
                frees.push(allocation);
                allocs.push(claim);
            }
            (FindingKind::Owner, Some((_, owner)), Some((range, _))) => owners.push((range, owner)),
            (FindingKind::Unexpected, _, Some(allocation)) => frees.push(allocation),
            _ => {}
        }
    }
    if frees.is_empty() && allocs.is_empty() && owners.is_empty() {
        return;
    }
    // An allocation that two claims overlap, and a claim that overlaps two
    // allocations, appear once per bounds finding.
    frees.sort_unstable_by_key(|(r, _)| *r);
    frees.dedup_by_key(|(r, _)| *r);
    allocs.sort_unstable_by_key(|(r, _)| *r);
    allocs.dedup_by_key(|(r, _)| *r);
    let generation = a.generation();
    for (range, owner) in frees {
        let freed = a.remove_exact(range, owner);
        assert!(freed, "adopt: {range:?} is an allocation of the state");
    }
    for (range, owner) in allocs {
        let allocated = a.insert_free(range, owner.cloned());
        assert!(allocated, "adopt: {range:?} is free and inside the space");
    }
    for (range, owner) in owners {
        let set = a.set_owner(&range, owner.cloned());
        assert!(
            set.is_ok(),
            "adopt: {range:?} is an allocation of the state"
        );
    }
    a.set_generation(generation);
    a.bump();
}

/// Makes an id pool hold exactly its claims, given the pool's findings
/// (none of them outside or conflict): frees the unexpected ids,
/// allocates the missing ones with the claim's owner (one past the
/// highest of them becomes the next id if it is higher), and gives the
/// claim's owner to the ids of another.
///
/// The edits are one mutation: the generation moves by one if there was
/// anything to do.
pub(super) fn apply_ids(ids: &mut IdAllocator, findings: &[Finding]) {
    let changes = findings.iter().any(|f| {
        matches!(
            f.kind(),
            FindingKind::Missing | FindingKind::Owner | FindingKind::Unexpected
        )
    });
    if !changes {
        return;
    }
    let generation = ids.generation();
    let mut next_id = ids.next_id();
    for finding in findings
        .iter()
        .filter(|f| f.kind() == FindingKind::Unexpected)
    {
        let owner = finding.allocation().and_then(|a| a.owner());
        let freed = ids.remove_labelled(finding.start(), finding.end(), owner);
        assert!(
            freed,
            "adopt: ids {}..={} are allocated",
            finding.start(),
            finding.end()
        );
    }
    for finding in findings {
        let Some(claim) = finding.claim() else {
            continue;
        };
        match finding.kind() {
            FindingKind::Missing => {
                let owner = claim.owner().cloned();
                let allocated = ids.insert_labelled(finding.start(), finding.end(), owner);
                assert!(
                    allocated,
                    "adopt: ids {}..={} are free",
                    finding.start(),
                    finding.end()
                );
                next_id = next_id.max(finding.end() + 1);
            }
            FindingKind::Owner => {
                // Ids of an id pool's finding are `u32`.
                let run = finding.start() as u32..=finding.end() as u32;
                let set = ids.set_owner(run, claim.owner().cloned());
                assert!(
                    set.is_ok(),
                    "adopt: ids {}..={} are allocated",
                    finding.start(),
                    finding.end()
                );
            }
            _ => {}
        }
    }
    let moved = ids.set_next_id_checked(next_id);
    assert!(moved, "adopt: {next_id} is above every allocated id");
    ids.set_generation(generation);
    ids.bump();
}
