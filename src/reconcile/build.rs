// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Building a pool from its claims alone (`from_claims`), through the
//! validating builders every way in goes through.

use crate::{
    AddressAllocator, AddressAllocatorBuilder, Claim, IdAllocator, IdAllocatorBuilder, Owner,
    RangeInclusive,
};

/// An address allocator of the space of `layout` holding exactly
/// `claims` (sorted, disjoint, inside the space), at generation 0.
///
/// Time: O(c).
pub(super) fn addresses(layout: &AddressAllocator, claims: &[&Claim]) -> AddressAllocator {
    let mut builder = AddressAllocatorBuilder::new(layout.space());
    for claim in claims {
        // Inside the space: a valid range.
        let range = RangeInclusive::from_parts(claim.start(), claim.end());
        let pushed = builder.push(range, claim.owner().cloned());
        assert!(
            pushed.is_ok(),
            "from_claims: claims are sorted, disjoint and inside"
        );
    }
    builder
        .finish()
        .expect("from_claims: the claims were checked")
}

/// An id allocator of the range of `layout` holding exactly `claims`
/// (sorted, disjoint, inside the range), at generation 0; the next id is
/// one past the highest claimed id. Claims that touch with one owner
/// make one run, as the builder wants runs.
///
/// Time: O(c).
pub(super) fn ids(layout: &IdAllocator, claims: &[&Claim]) -> IdAllocator {
    let mut builder = IdAllocatorBuilder::new(layout.range_base(), layout.range_end())
        .expect("the range of an allocator");
    let mut run: Option<(u64, u64, Option<&Owner>)> = None;
    let mut push = |(first, last, owner): (u64, u64, Option<&Owner>)| {
        // Inside the `u32` range of the layout.
        let pushed = builder.push(first as u32..=last as u32, owner.cloned());
        assert!(
            pushed.is_ok(),
            "from_claims: claims are sorted, disjoint and inside"
        );
    };
    for claim in claims {
        run = match run {
            Some((first, last, owner)) if last + 1 == claim.start() && owner == claim.owner() => {
                Some((first, claim.end(), owner))
            }
            Some(previous) => {
                push(previous);
                Some((claim.start(), claim.end(), claim.owner()))
            }
            None => Some((claim.start(), claim.end(), claim.owner())),
        };
    }
    if let Some(last) = run {
        push(last);
    }
    builder
        .finish()
        .expect("from_claims: the claims were checked")
}
