// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The states the benchmarks (and the heap-usage example) measure: `n`
//! page-sized, page-aligned allocations packed from the start of a 1 TiB
//! space at 4 GiB, ours and vm-allocator 0.1.4's.

#![allow(dead_code)] // each bench uses a part

pub const PAGE: u64 = 0x1000;
pub const BASE: u64 = 1 << 32;
pub const SPACE: u64 = 1 << 40;
pub const SIZES: [u64; 3] = [1_000, 10_000, 100_000];

/// Ours, filled with FirstMatch.
pub fn ours_with(n: u64) -> vm_allocator::AddressAllocator {
    let mut a = vm_allocator::AddressAllocator::new(BASE, SPACE).unwrap();
    for _ in 0..n {
        a.allocate(PAGE, PAGE, vm_allocator::AllocPolicy::FirstMatch)
            .unwrap();
    }
    a
}

/// 0.1.4's, with the same allocations. Its FirstMatch is O(n) (a 100k fill
/// takes over a minute), so the state is built with ExactMatch instead.
pub fn upstream_with(n: u64) -> upstream::AddressAllocator {
    let mut a = upstream::AddressAllocator::new(BASE, SPACE).unwrap();
    for i in 0..n {
        a.allocate(
            PAGE,
            PAGE,
            upstream::AllocPolicy::ExactMatch(BASE + i * PAGE),
        )
        .unwrap();
    }
    a
}

/// 0.1.4 filling `n` pages with FirstMatch, as a user would (O(n) a call).
pub fn upstream_first_match_fill(n: u64) -> upstream::AddressAllocator {
    let mut a = upstream::AddressAllocator::new(BASE, SPACE).unwrap();
    for _ in 0..n {
        a.allocate(PAGE, PAGE, upstream::AllocPolicy::FirstMatch)
            .unwrap();
    }
    a
}

// ---------------------------------------------------------------------------
// A resource set as a VMM holds one (`benches/versioned.rs`,
// `benches/history.rs`, `examples/history_sizes.rs`).

use vm_allocator::layout::x86_64 as fc;
use vm_allocator::{AllocPolicy, Owner, ResourceSet};

/// Firecracker's six pools, without the PIO pool of `ResourceSet::x86_64`.
pub fn six_pools() -> ResourceSet {
    let mut set = ResourceSet::new();
    set.add_id_pool(fc::LEGACY_GSI, fc::LEGACY_GSI_FIRST, fc::LEGACY_GSI_LAST)
        .unwrap();
    set.add_id_pool(fc::MSI_GSI, fc::MSI_GSI_FIRST, u32::MAX - 1)
        .unwrap();
    set.add_address_pool(fc::MMIO32, fc::MMIO32_START, fc::MMIO32_SIZE)
        .unwrap();
    set.add_address_pool(fc::MMIO64, fc::MMIO64_START, fc::MMIO64_SIZE)
        .unwrap();
    set.add_address_pool(fc::PAST_MMIO64, fc::PAST_MMIO64_START, fc::PAST_MMIO64_SIZE)
        .unwrap();
    set.add_address_pool(
        fc::SYSTEM_MEMORY,
        fc::SYSTEM_MEMORY_START,
        fc::SYSTEM_MEMORY_SIZE,
    )
    .unwrap();
    set
}

/// The sixteen devices that own allocations in a tagged set.
pub fn devices() -> Vec<Owner> {
    (0..16)
        .map(|i| Owner::new(&format!("device{i}")).unwrap())
        .collect()
}

/// Makes allocation number `i` of [`set_with`]: a page in the MMIO32,
/// MMIO64 and past-MMIO64 pools in turn, then an MSI GSI; owned by
/// `devices[i % 16]` when `devices` is given. Returns the pool.
pub fn allocate_nth(set: &mut ResourceSet, i: u64, devices: Option<&[Owner]>) -> &'static str {
    let pool = match i % 4 {
        0 => fc::MMIO32,
        1 => fc::MMIO64,
        2 => fc::PAST_MMIO64,
        _ => fc::MSI_GSI,
    };
    match (pool, devices) {
        (fc::MSI_GSI, Some(d)) => {
            set.owned_by(&d[(i % 16) as usize])
                .allocate_id(pool)
                .unwrap();
        }
        (fc::MSI_GSI, None) => {
            set.allocate_id(pool).unwrap();
        }
        (_, Some(d)) => {
            set.owned_by(&d[(i % 16) as usize])
                .allocate(pool, PAGE, PAGE, AllocPolicy::FirstMatch)
                .unwrap();
        }
        (_, None) => {
            set.allocate(pool, PAGE, PAGE, AllocPolicy::FirstMatch)
                .unwrap();
        }
    }
    pool
}

/// The six pools with `n` allocations (see [`allocate_nth`]), owned by one
/// of 16 devices when `tagged`.
pub fn set_with(n: u64, tagged: bool) -> ResourceSet {
    let mut set = six_pools();
    let devices = devices();
    let devices = tagged.then_some(&devices[..]);
    for i in 0..n {
        allocate_nth(&mut set, i, devices);
    }
    set
}
