// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Every iterator walked from both ends, interleaved at random, and every
//! range query, against the forward walk filtered by hand.

use proptest::prelude::*;
use vm_allocator::{AddressAllocator, AllocPolicy, IdAllocator, Owner};

/// Walks `iter` taking from the front or the back as `steps` says, then
/// drains the front; returns the items in forward order, checking the
/// length the iterator reports at every step.
fn walk_both_ends<T, I>(mut iter: I, steps: &[bool], exact: bool) -> Vec<T>
where
    I: DoubleEndedIterator<Item = T>,
{
    let (mut front, mut back) = (Vec::new(), Vec::new());
    for &from_back in steps {
        let left = iter.size_hint();
        let item = if from_back {
            iter.next_back()
        } else {
            iter.next()
        };
        match item {
            Some(item) if from_back => back.push(item),
            Some(item) => front.push(item),
            None => {
                assert_eq!(left.0, 0, "no item but {left:?} announced");
                // Fused: it stays empty from both ends.
                assert!(iter.next().is_none() && iter.next_back().is_none());
                break;
            }
        }
        if exact {
            assert_eq!(left.1, Some(left.0), "not exact");
        }
    }
    front.extend(iter.by_ref());
    front.extend(back.into_iter().rev());
    front
}

fn owner(n: u8) -> Owner {
    Owner::new(&format!("dev{n}")).unwrap()
}

#[derive(Clone, Debug)]
enum IdOp {
    Block {
        count: u32,
        align: u32,
        tag: Option<u8>,
    },
    At {
        id: u32,
        tag: Option<u8>,
    },
    Free {
        id: u32,
    },
}

fn id_op() -> impl Strategy<Value = IdOp> {
    prop_oneof![
        (1u32..40, 0u32..4, proptest::option::of(0u8..3)).prop_map(|(count, a, tag)| IdOp::Block {
            count,
            align: 1 << a,
            tag
        }),
        (0u32..1200, proptest::option::of(0u8..3)).prop_map(|(id, tag)| IdOp::At { id, tag }),
        (0u32..1200).prop_map(|id| IdOp::Free { id }),
    ]
}

fn ids_from(ops: &[IdOp]) -> IdAllocator {
    let mut ids = IdAllocator::new(0, 1199).unwrap();
    for op in ops {
        // Errors (no room, taken, free) leave the allocator as it was.
        let _ = match *op {
            IdOp::Block {
                count,
                align,
                tag: Some(t),
            } => ids.owned_by(&owner(t)).allocate_ids(count, align).map(drop),
            IdOp::Block {
                count,
                align,
                tag: None,
            } => ids.allocate_ids(count, align).map(drop),
            IdOp::At { id, tag: Some(t) } => ids.owned_by(&owner(t)).allocate_id_at(id).map(drop),
            IdOp::At { id, tag: None } => ids.allocate_id_at(id).map(drop),
            IdOp::Free { id } => ids.free_id(id).map(drop),
        };
    }
    ids
}

#[derive(Clone, Debug)]
enum AddrOp {
    Alloc {
        size: u64,
        first: bool,
        tag: Option<u8>,
    },
    Exact {
        at: u64,
        size: u64,
    },
    Free {
        at: u64,
    },
}

fn addr_op() -> impl Strategy<Value = AddrOp> {
    prop_oneof![
        (1u64..0x400, any::<bool>(), proptest::option::of(0u8..3))
            .prop_map(|(size, first, tag)| AddrOp::Alloc { size, first, tag }),
        (0u64..0x10000, 1u64..0x200).prop_map(|(at, size)| AddrOp::Exact { at, size }),
        (0u64..0x10000).prop_map(|at| AddrOp::Free { at }),
    ]
}

fn space_from(ops: &[AddrOp]) -> AddressAllocator {
    let mut a = AddressAllocator::new(0, 0x10000).unwrap();
    for op in ops {
        let _ = match *op {
            AddrOp::Alloc { size, first, tag } => {
                let policy = if first {
                    AllocPolicy::FirstMatch
                } else {
                    AllocPolicy::LastMatch
                };
                match tag {
                    Some(t) => a.owned_by(&owner(t)).allocate(size, 1, policy).map(drop),
                    None => a.allocate(size, 1, policy).map(drop),
                }
            }
            AddrOp::Exact { at, size } => {
                a.allocate(size, 1, AllocPolicy::ExactMatch(at)).map(drop)
            }
            AddrOp::Free { at } => match a.allocation_containing(at) {
                Some(r) => a.free(&r),
                None => Ok(()),
            },
        };
    }
    a
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256)
    ))]

    #[test]
    fn id_iterators_from_both_ends_and_in_ranges(
        ops in proptest::collection::vec(id_op(), 0..120),
        steps in proptest::collection::vec(any::<bool>(), 0..200),
        lo in 0u32..1300,
        span in 0u32..400,
    ) {
        let ids = ids_from(&ops);
        let all: Vec<u32> = ids.iter().collect();
        let runs: Vec<_> = ids.runs().collect();
        let allocations: Vec<_> = ids.allocations().map(|a| (a.ids(), a.owner().cloned())).collect();
        prop_assert_eq!(all.len() as u64, ids.used());
        prop_assert_eq!(walk_both_ends(ids.iter(), &steps, true), all.clone());
        prop_assert_eq!(walk_both_ends(ids.runs(), &steps, true), runs.clone());
        let both = walk_both_ends(ids.allocations(), &steps, false);
        prop_assert_eq!(both.into_iter().map(|a| (a.ids(), a.owner().cloned())).collect::<Vec<_>>(), allocations.clone());
        // The allocations cover exactly the allocated ids, owners as asked.
        let covered: Vec<u32> = allocations.iter().flat_map(|(r, _)| r.clone()).collect();
        prop_assert_eq!(&covered, &all);
        for (r, o) in &allocations {
            for id in r.clone() {
                prop_assert_eq!(ids.owner_at(id), o.as_ref());
            }
        }

        let hi = lo.saturating_add(span);
        let inside: Vec<u32> = all.iter().copied().filter(|&i| lo <= i && i <= hi).collect();
        prop_assert_eq!(walk_both_ends(ids.range(lo..=hi), &steps, true), inside.clone());
        prop_assert_eq!(ids.range(lo..=hi).count(), inside.len());
        let clipped: Vec<_> = runs
            .iter()
            .filter(|r| *r.start() <= hi && *r.end() >= lo)
            .map(|r| *r.start().max(&lo)..=*r.end().min(&hi))
            .collect();
        prop_assert_eq!(walk_both_ends(ids.runs_in(lo..=hi), &steps, true), clipped);
        // Empty and open windows.
        prop_assert_eq!(ids.range(lo..lo).count(), 0);
        prop_assert_eq!(ids.range(hi..=lo).count(), usize::from(lo == hi) * inside.len());
        prop_assert_eq!(ids.range(lo..).collect::<Vec<_>>(), all.iter().copied().filter(|&i| i >= lo).collect::<Vec<_>>());
    }

    #[test]
    fn address_iterators_from_both_ends_and_in_ranges(
        ops in proptest::collection::vec(addr_op(), 0..300),
        steps in proptest::collection::vec(any::<bool>(), 0..400),
        first in 0u64..0x11000,
        span in 0u64..0x3000,
    ) {
        let a = space_from(&ops);
        let all: Vec<_> = a.iter().collect();
        prop_assert_eq!(all.len() as u64, a.len());
        prop_assert_eq!(walk_both_ends(a.iter(), &steps, true), all.clone());
        let owned: Vec<_> = a.allocations().map(|x| (x.range(), x.owner().cloned())).collect();
        let both = walk_both_ends(a.allocations(), &steps, true);
        prop_assert_eq!(both.into_iter().map(|x| (x.range(), x.owner().cloned())).collect::<Vec<_>>(), owned.clone());

        let last = first + span;
        let overlapping: Vec<_> = all.iter().copied().filter(|r| r.start() <= last && r.end() >= first).collect();
        prop_assert_eq!(walk_both_ends(a.range(first..=last), &steps, true), overlapping.clone());
        let with_owners: Vec<_> = owned.iter().filter(|(r, _)| r.start() <= last && r.end() >= first).cloned().collect();
        let got: Vec<_> = a.allocations_in(first..=last).rev().map(|x| (x.range(), x.owner().cloned())).collect();
        prop_assert_eq!(got.into_iter().rev().collect::<Vec<_>>(), with_owners);
        prop_assert_eq!(a.range(first..first).count(), 0);
        prop_assert_eq!(a.range(..).len(), all.len());
    }
}
