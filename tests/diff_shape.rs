// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! What `Diff::pools()` lists and what `Diff::is_empty()` means, where the
//! two part: `pools()` lists every allocator that changed in anything
//! `apply` restores (allocations, generation, next id), and always the one
//! allocator of a lone allocator's diff; `is_empty()` is true when no range
//! changed hands. Equal states are told by `==`, not by `is_empty()`.

use vm_allocator::layout::x86_64;
use vm_allocator::{AddressAllocator, AllocPolicy, Delta, Diff, IdAllocator, ResourceSet};

#[test]
fn a_set_diff_lists_pools_whose_generation_moved_without_changes() {
    let mut vm = ResourceSet::x86_64();
    vm.allocate_id(x86_64::LEGACY_GSI).unwrap();
    let before = vm.clone();

    // Nothing happened: nothing listed.
    let diff = Diff::between(&before, &vm).unwrap();
    assert!(diff.is_empty());
    assert!(diff.pools().is_empty());

    // A port range allocated and freed again: no range changed hands,
    // but the pool (and the set) moved two generations.
    let com1 = vm
        .allocate(x86_64::PIO, 8, 1, AllocPolicy::ExactMatch(0x3f8))
        .unwrap();
    vm.free(x86_64::PIO, &com1).unwrap();
    let diff = Diff::between(&before, &vm).unwrap();
    assert!(diff.is_empty());
    assert_eq!(diff.len(), 0);
    assert_eq!(diff.changes().count(), 0);
    assert_eq!(diff.to_string(), "");
    assert_eq!(diff.generations(), (1, 3));
    assert_eq!(diff.pools().len(), 1);
    let pio = &diff.pools()[0];
    assert_eq!(pio.name(), Some(x86_64::PIO));
    assert_eq!(pio.generations(), (0, 2));
    assert!(pio.allocated().is_empty() && pio.freed().is_empty());
    assert_eq!(pio.next_ids(), None);
    // The states are equal (generations are not compared) ...
    assert_eq!(before, vm);
    // ... and the diff, and its delta, restore the generations exactly.
    let replayed = diff.apply(&before).unwrap();
    assert_eq!(replayed.generation(), 3);
    assert_eq!(replayed.pool(x86_64::PIO).unwrap().generation(), 2);
    let delta = Delta::from_bytes(&Delta::between(&before, &vm).unwrap().to_bytes()).unwrap();
    assert!(delta.diff().is_empty());
    assert_eq!(delta.diff().pools().len(), 1);
    assert_eq!(delta.apply(&before).unwrap().to_bytes(), vm.to_bytes());
}

#[test]
fn an_id_pool_listed_for_its_next_id_is_not_an_equal_state() {
    let mut vm = ResourceSet::x86_64();
    let before = vm.clone();
    let gsi = vm.allocate_id(x86_64::LEGACY_GSI).unwrap();
    vm.free_id(x86_64::LEGACY_GSI, gsi).unwrap();
    let diff = Diff::between(&before, &vm).unwrap();
    assert!(diff.is_empty());
    let pool = &diff.pools()[0];
    assert_eq!(pool.name(), Some(x86_64::LEGACY_GSI));
    assert_eq!(pool.next_ids(), Some((5, 6)));
    // 0.1.4's bookkeeping: 5 was handed out once, so the states differ.
    assert_ne!(before, vm);
    assert_eq!(diff.apply(&before).unwrap(), vm);
}

#[test]
fn a_lone_allocators_diff_always_lists_its_allocator() {
    let ids = IdAllocator::new(5, 23).unwrap();
    let diff = Diff::between(&ids, &ids).unwrap();
    assert!(diff.is_empty());
    assert_eq!(diff.pools().len(), 1);
    assert_eq!(diff.pools()[0].name(), None);
    assert_eq!(diff.pools()[0].generations(), (0, 0));
    assert_eq!(diff.apply(&ids).unwrap(), ids);

    let mmio = AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap();
    let diff = Diff::between(&mmio, &mmio).unwrap();
    assert!(diff.is_empty());
    assert_eq!(diff.pools().len(), 1);
    assert_eq!(diff.pools()[0].next_ids(), None);

    // Not empty as soon as a range changes hands.
    let mut later = mmio.clone();
    later
        .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    let diff = Diff::between(&mmio, &later).unwrap();
    assert!(!diff.is_empty());
    assert_eq!((diff.len(), diff.pools().len()), (1, 1));
}
