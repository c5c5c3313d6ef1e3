// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The one rule for range types (crate docs, "Ranges of ids and of
//! addresses"): calls on ids speak `core::ops::RangeInclusive<u32>`, calls
//! on addresses the crate's `RangeInclusive`, and answers that may come
//! from pools of either kind (a set's `allocations_of` and `free_owner`,
//! diffs and deltas) give the crate's `RangeInclusive` for both, ids
//! widened exactly. `TryFrom` converts both ways without loss.

use core::ops::RangeInclusive as IdRange;

use vm_allocator::layout::x86_64;
use vm_allocator::{
    AllocPolicy, Diff, Error, IdAllocator, Owner, PoolKind, RangeInclusive, ResourceSet,
};

fn owner(name: &str) -> Owner {
    Owner::new(name).unwrap()
}

fn widen(ids: IdRange<u32>) -> RangeInclusive {
    RangeInclusive::new(u64::from(*ids.start()), u64::from(*ids.end())).unwrap()
}

/// A VM where one device holds ids in two pools (two runs in one of them)
/// and addresses in two more.
fn vm_with_nvme() -> (ResourceSet, Vec<(&'static str, IdRange<u32>)>) {
    let mut vm = ResourceSet::x86_64();
    let nvme = owner("nvme0");
    let gsi = vm.owned_by(&nvme).allocate_id(x86_64::LEGACY_GSI).unwrap();
    let first = vm
        .owned_by(&nvme)
        .allocate_ids(x86_64::MSI_GSI, 8, 8)
        .unwrap();
    vm.allocate_ids(x86_64::MSI_GSI, 1, 1).unwrap(); // someone else's
    let second = vm
        .owned_by(&nvme)
        .allocate_ids(x86_64::MSI_GSI, 4, 4)
        .unwrap();
    vm.owned_by(&nvme)
        .allocate(x86_64::MMIO32, 0x4000, 0x4000, AllocPolicy::FirstMatch)
        .unwrap();
    vm.owned_by(&nvme)
        .allocate(x86_64::MMIO64, 1 << 20, 1 << 20, AllocPolicy::FirstMatch)
        .unwrap();
    let ids = vec![
        (x86_64::LEGACY_GSI, gsi..=gsi),
        (x86_64::MSI_GSI, first),
        (x86_64::MSI_GSI, second),
    ];
    (vm, ids)
}

#[test]
fn set_wide_answers_give_id_runs_widened_exactly() {
    let (mut vm, ids) = vm_with_nvme();
    assert_eq!(ids[1].1, 24..=31);
    assert_eq!(ids[2].1, 36..=39);

    let held: Vec<(String, RangeInclusive)> = vm
        .allocations_of("nvme0")
        .map(|(pool, range)| (pool.to_owned(), range))
        .collect();
    // The id pools' entries are exactly the id methods' blocks, widened,
    // and what the pool itself lists for the owner.
    let id_entries: Vec<(&str, RangeInclusive)> = held
        .iter()
        .filter(|(pool, _)| vm.pool(pool).unwrap().kind() == PoolKind::Ids)
        .map(|(pool, range)| (pool.as_str(), *range))
        .collect();
    let expected: Vec<(&str, RangeInclusive)> = ids
        .iter()
        .map(|(pool, block)| (*pool, widen(block.clone())))
        .collect();
    assert_eq!(id_entries, expected);
    let from_pool: Vec<IdRange<u32>> = vm.ids(x86_64::MSI_GSI).unwrap().ids_of("nvme0").collect();
    assert_eq!(from_pool, [ids[1].1.clone(), ids[2].1.clone()]);
    // Every entry converts back to the block the id methods gave.
    for ((_, range), (_, block)) in id_entries.iter().zip(&ids) {
        assert_eq!(IdRange::<u32>::try_from(*range).unwrap(), *block);
        assert_eq!(RangeInclusive::try_from(block.clone()).unwrap(), *range);
    }

    // free_owner answers what allocations_of listed, in the same order.
    let before = vm.clone();
    let freed = vm.free_owner("nvme0");
    assert_eq!(freed, held);

    // A diff gives the same ranges for the same runs.
    let diff = Diff::between(&vm, &before).unwrap();
    let allocated: Vec<(&str, RangeInclusive)> =
        diff.changes().map(|c| (c.pool.unwrap(), c.range)).collect();
    assert_eq!(allocated.len(), held.len());
    for (pool, range) in &held {
        assert!(allocated.contains(&(pool.as_str(), *range)));
    }

    // And the converted ranges are what the id calls take: the device
    // comes back exactly.
    for (pool, range) in &freed {
        match vm.pool(pool).unwrap().kind() {
            PoolKind::Ids => {
                let block = IdRange::<u32>::try_from(*range).unwrap();
                for id in block {
                    vm.owned_by(&owner("nvme0"))
                        .allocate_id_at(pool, id)
                        .unwrap();
                }
            }
            PoolKind::Addresses => {
                vm.owned_by(&owner("nvme0"))
                    .allocate(pool, range.len(), 1, AllocPolicy::ExactMatch(range.start()))
                    .unwrap();
            }
        }
    }
    assert_eq!(vm, before);
}

#[test]
fn the_conversions_are_exact_at_the_edges_and_refuse_the_rest() {
    // The whole id space and its ends.
    let all = RangeInclusive::try_from(0..=u32::MAX).unwrap();
    assert_eq!((all.start(), all.end()), (0, u64::from(u32::MAX)));
    assert_eq!(IdRange::<u32>::try_from(all).unwrap(), 0..=u32::MAX);
    let last = RangeInclusive::new(u64::from(u32::MAX), u64::from(u32::MAX)).unwrap();
    assert_eq!(IdRange::<u32>::try_from(last).unwrap(), u32::MAX..=u32::MAX);

    // A range reaching past u32::MAX holds no block of ids.
    let across = RangeInclusive::new(u64::from(u32::MAX), 1 << 32).unwrap();
    assert_eq!(
        IdRange::<u32>::try_from(across),
        Err(Error::InvalidRange(u64::from(u32::MAX), 1 << 32))
    );
    let bar = RangeInclusive::new(0xd000_0000_0000, 0xd000_0000_0fff).unwrap();
    assert!(IdRange::<u32>::try_from(bar).is_err());

    // An empty block has no RangeInclusive: inverted, or used up by an
    // iterator (its bounds still read 5..=5).
    assert_eq!(
        RangeInclusive::try_from(IdRange::new(5u32, 4)),
        Err(Error::InvalidRange(5, 4))
    );
    let mut used = 5..=5u32;
    assert_eq!(used.next(), Some(5));
    assert_eq!(
        RangeInclusive::try_from(used),
        Err(Error::InvalidRange(5, 5))
    );
}

#[test]
fn an_id_allocators_own_answers_stay_id_blocks() {
    let mut msi = IdAllocator::new(24, 4095).unwrap();
    let nvme = owner("nvme0");
    let block: IdRange<u32> = msi.owned_by(&nvme).allocate_ids(4, 4).unwrap();
    let runs: Vec<IdRange<u32>> = msi.ids_of("nvme0").collect();
    assert_eq!(runs, std::slice::from_ref(&block));
    let freed: Vec<IdRange<u32>> = msi.free_owner("nvme0");
    assert_eq!(freed, [block]);
}
