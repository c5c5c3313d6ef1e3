// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! What owners cost: heap bytes per live allocation with and without owner
//! tags, file bytes per allocation in each format version, and the size of
//! a delta of ten changes.
//!
//! Run with `cargo run --release --example state_sizes`. A counting global
//! allocator measures the live heap before and after building each state.

use vm_allocator::{AddressAllocator, AllocPolicy, Delta, IdAllocator, Owner};

#[path = "../tests/support/counting.rs"]
mod counting;

use counting::heap_of;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

#[path = "../benches/common/mod.rs"]
mod common;

use common::{BASE, PAGE, SPACE};

/// `n` packed pages; with `owners`, each owned by one of them in turn.
fn pages(n: u64, owners: &[Owner]) -> AddressAllocator {
    let mut a = AddressAllocator::new(BASE, SPACE).unwrap();
    for i in 0..n {
        match owners.get(i as usize % owners.len().max(1)) {
            Some(owner) => a
                .owned_by(owner)
                .allocate(PAGE, PAGE, AllocPolicy::FirstMatch),
            None => a.allocate(PAGE, PAGE, AllocPolicy::FirstMatch),
        }
        .unwrap();
    }
    a
}

fn main() {
    let owners: Vec<Owner> = (0..16)
        .map(|i| Owner::new(&format!("virtio-blk{i}")).unwrap())
        .collect();

    println!("| packed pages | n | heap B/alloc | file v1 B/alloc | file v2 B/alloc |");
    println!("|---|---|---|---|---|");
    for n in [1_000u64, 10_000, 100_000, 1_000_000] {
        for (label, tags) in [("untagged", &owners[..0]), ("16 owners", &owners[..])] {
            let (heap, a) = heap_of(|| pages(n, tags));
            let v1 = a.to_bytes_version(1).map_or_else(
                |_| "–".to_string(),
                |b| format!("{:.2}", b.len() as f64 / n as f64),
            );
            let v2 = a.to_bytes().len() as f64 / n as f64;
            println!(
                "| {label} | {n} | {:.1} | {v1} | {v2:.2} |",
                heap as f64 / n as f64
            );
        }
    }

    // Ids with owners: MSI vectors handed out in blocks of 4 per device.
    println!();
    println!("| ids | n | heap B/id | file v2 B/id |");
    println!("|---|---|---|---|");
    for n in [1_000u32, 100_000] {
        for (label, tags) in [
            ("untagged", &owners[..0]),
            ("16 owners, blocks of 4", &owners[..]),
        ] {
            let (heap, ids) = heap_of(|| {
                let mut ids = IdAllocator::new(0, u32::MAX - 1).unwrap();
                for i in 0..n / 4 {
                    match tags.get(i as usize % tags.len().max(1)) {
                        Some(owner) => ids.owned_by(owner).allocate_ids(4, 4),
                        None => ids.allocate_ids(4, 4),
                    }
                    .unwrap();
                }
                ids
            });
            println!(
                "| {label} | {n} | {:.1} | {:.2} |",
                heap as f64 / f64::from(n),
                ids.to_bytes().len() as f64 / f64::from(n)
            );
        }
    }

    // A delta of ten changes against a large state.
    println!();
    for n in [1_000u64, 100_000, 1_000_000] {
        let older = pages(n, &owners);
        let mut newer = older.clone();
        let gpu = Owner::new("gpu0").unwrap();
        for _ in 0..5 {
            newer
                .owned_by(&gpu)
                .allocate(PAGE, PAGE, AllocPolicy::LastMatch)
                .unwrap();
        }
        let victims: Vec<_> = newer.iter().step_by((n / 5) as usize).take(5).collect();
        for r in victims {
            newer.free(&r).unwrap();
        }
        let delta = Delta::between(&older, &newer).unwrap();
        assert_eq!(delta.diff().len(), 10);
        println!(
            "a delta of 10 changes at {n} allocations: {} bytes (the full state: {} bytes)",
            delta.to_bytes().len(),
            newer.to_bytes().len()
        );
    }
}
