// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! What keeping versions costs: a `History` of 10,000 versions of a
//! 100k-allocation resource set, each one allocation apart, with and
//! without owners.
//!
//! Run with `cargo run --release --example history_sizes`. For each case it
//! prints, per version recorded after the first:
//!
//! - `retained_bytes`: what `History::retained_bytes` grew by (each heap
//!   block the versions reach, counted once);
//! - the heap: what the process's live heap grew by, measured by a
//!   counting global allocator: the retained blocks plus the history's own
//!   bookkeeping (its list of versions, its count of blocks, its blame
//!   index);
//! - the yardstick: the heap of one clone of the same allocations held by
//!   vm-allocator 0.1.4's allocators, which is what keeping a version costs
//!   there (a deep copy).

use vm_allocator::{History, ResourceSet};

#[path = "../tests/support/counting.rs"]
mod counting;

use counting::{heap_of, measure};

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

#[path = "../benches/common/mod.rs"]
mod common;

use common::{allocate_nth, devices, set_with};

const N: u64 = 100_000;
const VERSIONS: u64 = 10_000;

fn main() {
    println!("| set of {N} allocations, {VERSIONS} versions one allocation apart | retained_bytes per version | heap per version | 0.1.4: one deep copy |");
    println!("|---|---|---|---|");
    let yardstick = upstream_copy_bytes(N);
    for tagged in [false, true] {
        let devices = devices();
        let devices = tagged.then_some(&devices[..]);
        let mut set = set_with(N, tagged);
        let (history, heap) = measure(|| {
            let mut history = History::new(set.clone());
            let first = history.retained_bytes();
            for i in N..N + VERSIONS {
                allocate_nth(&mut set, i, devices);
                history.record(&set).unwrap();
            }
            (history, first)
        });
        let (history, first) = history;
        let per_version = (history.retained_bytes() - first) as f64 / VERSIONS as f64;
        // Everything allocated meanwhile and still live: the versions'
        // new blocks (the live set shares the latest one's) and the
        // history's bookkeeping, the first version's included.
        let heap_per_version = heap.retained as f64 / VERSIONS as f64;
        println!(
            "| {} | {per_version:.0} B | {heap_per_version:.0} B | {yardstick} B |",
            if tagged {
                "owned by 16 devices"
            } else {
                "no owners"
            }
        );
        check(&history);
    }
}

/// Every kept version is there, and blame finds what each made.
fn check(history: &History<ResourceSet>) {
    assert_eq!(history.versions().len() as u64, VERSIONS + 1);
    let latest = history.latest();
    for (name, pool) in latest.pools() {
        let Some(ids) = pool.as_ids().filter(|ids| ids.used() > 0) else {
            continue;
        };
        // The last id handed out came with the latest version.
        let last = ids.runs().next_back().unwrap();
        let blame = history.blame(Some(name), u64::from(*last.end())).unwrap();
        assert_eq!(blame.generation(), latest.generation());
    }
}

/// Heap bytes of one clone of the set's allocations as 0.1.4 allocators.
fn upstream_copy_bytes(n: u64) -> usize {
    use common::PAGE;
    use vm_allocator::layout::x86_64 as fc;
    let mut ids = upstream::IdAllocator::new(fc::MSI_GSI_FIRST, u32::MAX - 1).unwrap();
    let bases = [fc::MMIO32_START, fc::MMIO64_START, fc::PAST_MMIO64_START];
    let sizes = [fc::MMIO32_SIZE, fc::MMIO64_SIZE, fc::PAST_MMIO64_SIZE];
    let mut pools: Vec<upstream::AddressAllocator> = bases
        .iter()
        .zip(sizes)
        .map(|(&base, size)| upstream::AddressAllocator::new(base, size).unwrap())
        .collect();
    let mut next = [0u64; 3];
    for i in 0..n {
        match (i % 4) as usize {
            3 => {
                ids.allocate_id().unwrap();
            }
            p => {
                // ExactMatch at the FirstMatch address: 0.1.4's FirstMatch is O(n).
                let at = bases[p] + next[p] * PAGE;
                pools[p]
                    .allocate(PAGE, PAGE, upstream::AllocPolicy::ExactMatch(at))
                    .unwrap();
                next[p] += 1;
            }
        }
    }
    let (bytes, copy) = heap_of(|| (ids.clone(), pools.clone()));
    drop(copy);
    bytes
}
