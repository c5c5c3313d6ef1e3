// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! A VMM's state as vm-allocator 0.1.4 held it, for the suites that read
//! what 0.1.4 wrote (`upgrade.rs`, `cli.rs`): GSIs 5..=23 with 5, 7 and 8
//! taken (6 freed), and an MMIO window with a page at its start and 16 KiB
//! at its end.

/// The GSIs.
pub fn gsi() -> upstream::IdAllocator {
    let mut gsi = upstream::IdAllocator::new(5, 23).unwrap();
    for _ in 0..4 {
        gsi.allocate_id().unwrap();
    }
    gsi.free_id(6).unwrap();
    gsi
}

/// The MMIO window `0xd000_0000..=0xdfff_ffff`.
pub fn mmio() -> upstream::AddressAllocator {
    let mut mmio = upstream::AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap();
    mmio.allocate(
        0x1000,
        0x1000,
        upstream::AllocPolicy::ExactMatch(0xd000_0000),
    )
    .unwrap();
    mmio.allocate(
        0x4000,
        0x4000,
        upstream::AllocPolicy::ExactMatch(0xdfff_c000),
    )
    .unwrap();
    mmio
}
