// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The two rules of generations that a user meets at the edges:
//!
//! - Adding or removing a pool of a set is layout, not a mutation: a layout
//!   built pool by pool is the same state, at the same generation, as the
//!   one `ResourceSet::x86_64()` (or `aarch64()`) builds, so deltas made
//!   from one apply to the other.
//! - Generations count modulo 2^64: the mutation after `u64::MAX` gives 0,
//!   on every kind of state, through transactions, files and deltas, and
//!   nothing fails or panics.

use vm_allocator::layout::{aarch64, x86_64};
use vm_allocator::{
    AddressAllocator, AddressAllocatorBuilder, AllocPolicy, Delta, Diff, DiffError, IdAllocator,
    IdAllocatorBuilder, Owner, RangeInclusive, ResourceSet, ResourceSetBuilder,
};

fn owner(name: &str) -> Owner {
    Owner::new(name).unwrap()
}

/// `ResourceSet::x86_64()`, pool by pool from the layout's constants, as a
/// destination that does not use the constructor builds it.
fn x86_64_by_hand() -> ResourceSet {
    use x86_64::*;
    let mut vm = ResourceSet::new();
    vm.add_id_pool(LEGACY_GSI, LEGACY_GSI_FIRST, LEGACY_GSI_LAST)
        .unwrap();
    vm.add_id_pool(MSI_GSI, MSI_GSI_FIRST, MSI_GSI_LAST)
        .unwrap();
    vm.add_address_pool(MMIO32, MMIO32_START, MMIO32_SIZE)
        .unwrap();
    vm.add_address_pool(MMIO64, MMIO64_START, MMIO64_SIZE)
        .unwrap();
    vm.add_address_pool(PAST_MMIO64, PAST_MMIO64_START, PAST_MMIO64_SIZE)
        .unwrap();
    vm.add_address_pool(SYSTEM_MEMORY, SYSTEM_MEMORY_START, SYSTEM_MEMORY_SIZE)
        .unwrap();
    vm.add_address_pool(PIO, 0, PIO_SIZE).unwrap();
    vm
}

/// `ResourceSet::aarch64()`, pool by pool.
fn aarch64_by_hand() -> ResourceSet {
    use aarch64::*;
    let mut vm = ResourceSet::new();
    vm.add_id_pool(SPI, SPI_FIRST, SPI_LAST).unwrap();
    vm.add_id_pool(MSI_GSI, MSI_GSI_FIRST, MSI_GSI_LAST)
        .unwrap();
    vm.add_address_pool(MMIO32, MMIO32_START, MMIO32_SIZE)
        .unwrap();
    vm.add_address_pool(MMIO64, MMIO64_START, MMIO64_SIZE)
        .unwrap();
    vm.add_address_pool(PAST_MMIO64, PAST_MMIO64_START, PAST_MMIO64_SIZE)
        .unwrap();
    vm.add_address_pool(SYSTEM_MEMORY, SYSTEM_MEMORY_START, SYSTEM_MEMORY_SIZE)
        .unwrap();
    vm
}

/// A boot on the x86_64 layout: devices with a GSI, MSI vectors and BARs.
fn boot_x86_64(vm: &mut ResourceSet) {
    for (name, bar) in [("virtio-net0", 0x4000), ("virtio-blk0", 0x1000)] {
        let o = owner(name);
        vm.owned_by(&o).allocate_id(x86_64::LEGACY_GSI).unwrap();
        vm.owned_by(&o)
            .allocate(x86_64::MMIO32, bar, bar, AllocPolicy::FirstMatch)
            .unwrap();
    }
    let nvme = owner("nvme0");
    vm.owned_by(&nvme)
        .allocate_ids(x86_64::MSI_GSI, 8, 8)
        .unwrap();
    vm.owned_by(&nvme)
        .allocate(x86_64::MMIO64, 1 << 20, 1 << 20, AllocPolicy::FirstMatch)
        .unwrap();
    vm.owned_by(&owner("serial0"))
        .allocate(x86_64::PIO, 8, 1, AllocPolicy::ExactMatch(0x3f8))
        .unwrap();
}

#[test]
fn a_layout_built_by_hand_is_the_constructors_state_at_its_generation() {
    for (by_hand, constructed) in [
        (x86_64_by_hand(), ResourceSet::x86_64()),
        (aarch64_by_hand(), ResourceSet::aarch64()),
    ] {
        assert_eq!(by_hand, constructed);
        assert_eq!((by_hand.generation(), constructed.generation()), (0, 0));
        // The same file, byte for byte: the generation is in it.
        assert_eq!(by_hand.to_bytes(), constructed.to_bytes());
        for (_, pool) in by_hand.pools() {
            assert_eq!(pool.generation(), 0);
        }
    }
}

#[test]
fn a_destination_built_by_hand_applies_a_delta_from_the_constructor() {
    // The source booted from the constructor and sends a delta from its
    // empty layout; the destination built its base pool by pool.
    let base = ResourceSet::x86_64();
    let mut source = base.clone();
    boot_x86_64(&mut source);
    let delta = Delta::from_bytes(&Delta::between(&base, &source).unwrap().to_bytes()).unwrap();
    assert_eq!(delta.base_generation(), 0);

    let destination = x86_64_by_hand();
    let restored = delta.apply(&destination).unwrap();
    assert_eq!(restored, source);
    assert_eq!(restored.generation(), source.generation());
    assert_eq!(restored.to_bytes(), source.to_bytes());

    // And the other way: a delta from a base built by hand applies to the
    // constructor's state.
    let mut source = x86_64_by_hand();
    boot_x86_64(&mut source);
    let delta = Delta::between(&x86_64_by_hand(), &source).unwrap();
    assert_eq!(delta.apply(&ResourceSet::x86_64()).unwrap(), source);

    // A plain diff, too.
    let diff = Diff::between(&base, &source).unwrap();
    assert_eq!(diff.generations(), (0, source.generation()));
    assert_eq!(diff.apply(&x86_64_by_hand()).unwrap(), source);
}

#[test]
fn adding_and_removing_pools_leaves_the_generation() {
    let mut vm = ResourceSet::x86_64();
    vm.allocate_id(x86_64::LEGACY_GSI).unwrap();
    assert_eq!(vm.generation(), 1);

    // A pool that already holds allocations keeps its own generation.
    let mut slots = IdAllocator::new(0, 31).unwrap();
    slots.allocate_ids(4, 1).unwrap();
    slots.allocate_id().unwrap();
    vm.add_pool("kvm_slots", slots).unwrap();
    assert_eq!(vm.generation(), 1);
    assert_eq!(vm.pool("kvm_slots").unwrap().generation(), 2);

    vm.add_address_pool("ivshmem", 1 << 40, 1 << 30).unwrap();
    let removed = vm.remove_pool(x86_64::PIO).unwrap();
    assert_eq!(removed.generation(), 0);
    assert_eq!(vm.generation(), 1);

    // A failed layout change changes nothing either.
    assert!(vm.add_id_pool("kvm_slots", 0, 1).is_err());
    assert!(vm.remove_pool(x86_64::PIO).is_err());
    assert_eq!(vm.generation(), 1);

    // Mutations of any pool, old or new, count.
    vm.allocate_id("kvm_slots").unwrap();
    vm.allocate("ivshmem", 0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    assert_eq!(vm.generation(), 3);
}

#[test]
fn sets_built_either_way_count_the_same_mutations() {
    let mut by_hand = x86_64_by_hand();
    let mut constructed = ResourceSet::x86_64();
    for vm in [&mut by_hand, &mut constructed] {
        boot_x86_64(vm);
    }
    // Seven successful allocations, nothing for the seven pools.
    assert_eq!(by_hand.generation(), 7);
    assert_eq!(constructed.generation(), 7);
    assert_eq!(by_hand.to_bytes(), constructed.to_bytes());
}

// ----- u64::MAX -----

fn space() -> RangeInclusive {
    RangeInclusive::new(0, 0xffff).unwrap()
}

fn ids_at(generation: u64) -> IdAllocator {
    IdAllocatorBuilder::new(5, 23)
        .unwrap()
        .generation(generation)
        .finish()
        .unwrap()
}

fn addresses_at(generation: u64) -> AddressAllocator {
    AddressAllocatorBuilder::new(space())
        .generation(generation)
        .finish()
        .unwrap()
}

fn set_at(generation: u64) -> ResourceSet {
    let mut builder = ResourceSetBuilder::new().generation(generation);
    builder.push("gsi", ids_at(generation)).unwrap();
    builder.push("pio", addresses_at(generation)).unwrap();
    builder.finish().unwrap()
}

#[test]
fn the_mutation_after_u64_max_gives_generation_0() {
    let mut ids = ids_at(u64::MAX);
    assert!(ids.free_id(5).is_err()); // a failure counts nothing
    assert_eq!(ids.generation(), u64::MAX);
    assert_eq!(ids.allocate_id().unwrap(), 5);
    assert_eq!(ids.generation(), 0);
    ids.free_id(5).unwrap();
    assert_eq!(ids.generation(), 1);

    let mut addresses = addresses_at(u64::MAX);
    assert!(addresses
        .allocate(0x2_0000, 1, AllocPolicy::FirstMatch)
        .is_err());
    assert_eq!(addresses.generation(), u64::MAX);
    addresses
        .owned_by(&owner("serial0"))
        .allocate(8, 1, AllocPolicy::ExactMatch(0x3f8))
        .unwrap();
    assert_eq!(addresses.generation(), 0);

    // A set at u64::MAX whose pools are at u64::MAX: both wrap, and the
    // set still sees its pool move.
    let mut vm = set_at(u64::MAX);
    vm.allocate_id("gsi").unwrap();
    assert_eq!(vm.generation(), 0);
    assert_eq!(vm.pool("gsi").unwrap().generation(), 0);
    assert_eq!(vm.pool("pio").unwrap().generation(), u64::MAX);
    vm.owned_by(&owner("rtc")).allocate_id("gsi").unwrap();
    let mut vm = ResourceSet::from_bytes(&vm.to_bytes()).unwrap();
    assert_eq!(vm.generation(), 1);
    assert_eq!(vm.free_owner("rtc").len(), 1);
    assert_eq!(vm.generation(), 2);

    // From u64::MAX - 1, two steps: u64::MAX, then 0.
    let mut near = set_at(u64::MAX - 1);
    near.allocate("pio", 8, 1, AllocPolicy::FirstMatch).unwrap();
    assert_eq!(near.generation(), u64::MAX);
    near.allocate("pio", 8, 1, AllocPolicy::FirstMatch).unwrap();
    assert_eq!(near.generation(), 0);
    assert_eq!(near.pool("pio").unwrap().generation(), 0);
}

#[test]
fn generation_u64_max_survives_files_and_wraps_through_transactions() {
    let vm = set_at(u64::MAX);
    // The file holds the whole varint and reads it back.
    let loaded = ResourceSet::from_bytes(&vm.to_bytes()).unwrap();
    assert_eq!(loaded.generation(), u64::MAX);
    assert_eq!(loaded.pool("gsi").unwrap().generation(), u64::MAX);
    assert_eq!(
        IdAllocator::from_bytes(&ids_at(u64::MAX).to_bytes())
            .unwrap()
            .generation(),
        u64::MAX
    );

    // A rolled-back transaction leaves u64::MAX; a committed one wraps.
    let mut state = loaded.clone();
    let mut tx = state.transaction();
    tx.allocate_id("gsi").unwrap();
    tx.rollback();
    assert_eq!(state.generation(), u64::MAX);
    let mut tx = state.transaction();
    tx.allocate_id("gsi").unwrap();
    tx.allocate("pio", 8, 1, AllocPolicy::ExactMatch(0x3f8))
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(state.generation(), 1);
    assert_eq!(state.pool("pio").unwrap().generation(), 0);
}

#[test]
fn deltas_cross_the_wrap() {
    let older = set_at(u64::MAX);
    let mut newer = older.clone();
    newer
        .owned_by(&owner("virtio-net0"))
        .allocate_id("gsi")
        .unwrap();
    assert_eq!(newer.generation(), 0);

    let delta = Delta::from_bytes(&Delta::between(&older, &newer).unwrap().to_bytes()).unwrap();
    assert_eq!(
        (delta.base_generation(), delta.target_generation()),
        (u64::MAX, 0)
    );
    let restored = delta
        .apply(&ResourceSet::from_bytes(&older.to_bytes()).unwrap())
        .unwrap();
    assert_eq!((&restored, restored.generation()), (&newer, 0));

    // A fresh state at generation 0 is not the wrapped one: a delta from
    // the wrapped state refuses it by its checksum.
    let mut later = newer.clone();
    later.allocate_id("gsi").unwrap();
    let onwards = Delta::between(&newer, &later).unwrap();
    assert_eq!(onwards.base_generation(), 0);
    let fresh = set_at(0);
    assert!(matches!(
        onwards.apply(&fresh),
        Err(DiffError::ChecksumMismatch { .. })
    ));
    assert_eq!(onwards.apply(&newer).unwrap(), later);
}
