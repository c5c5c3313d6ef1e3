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
