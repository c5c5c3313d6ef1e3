// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Heap bytes per live allocation (and per allocated id), ours and
//! vm-allocator 0.1.4's.
//!
//! Run with `cargo run --release --example memory_usage`. A counting global
//! allocator measures the live heap before and after building each state,
//! for 1k to 1M allocations.

#[path = "../tests/support/counting.rs"]
mod counting;

use counting::heap_of;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

#[path = "../benches/common/mod.rs"]
mod common;

use common::{ours_with, upstream_with, BASE, PAGE, SPACE};

#[path = "../tests/support/rng.rs"]
mod rng;

use rng::Rng;

fn main() {
    println!("| state | n | ours (B/alloc) | 0.1.4 (B/alloc) |");
    println!("|---|---|---|---|");
    for n in [1_000u64, 10_000, 100_000, 1_000_000] {
        // Packed pages, allocated in order (FirstMatch).
        let (ours, a) = heap_of(|| ours_with(n));
        let (theirs, b) = heap_of(|| upstream_with(n));
        assert_eq!(a.len(), n);
        println!(
            "| packed pages, in order | {n} | {:.1} | {:.1} |",
            ours as f64 / n as f64,
            theirs as f64 / n as f64
        );
        // The same state decoded from its bytes (a restored snapshot).
        let (ours_bytes, up_bytes) = (a.to_bytes(), bincode::serialize(&b).unwrap());
        drop((a, b));
        let (ours, a) =
            heap_of(|| vm_allocator::AddressAllocator::from_bytes(&ours_bytes).unwrap());
        let (theirs, b) =
            heap_of(|| bincode::deserialize::<upstream::AddressAllocator>(&up_bytes).unwrap());
        println!(
            "| packed pages, decoded | {n} | {:.1} | {:.1} |",
            ours as f64 / n as f64,
            theirs as f64 / n as f64
        );
        drop((a, b));

        // Pages at random page slots of a region 4x larger (ExactMatch).
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut slots: Vec<u64> = (0..4 * n).collect();
        for i in (1..slots.len()).rev() {
            slots.swap(i, (rng.next() % (i as u64 + 1)) as usize);
        }
        slots.truncate(n as usize);
        let (ours, a) = heap_of(|| {
            let mut a = vm_allocator::AddressAllocator::new(BASE, SPACE).unwrap();
            for &s in &slots {
                a.allocate(
                    PAGE,
                    PAGE,
                    vm_allocator::AllocPolicy::ExactMatch(BASE + s * PAGE),
                )
                .unwrap();
            }
            a
        });
        let (theirs, b) = heap_of(|| {
            let mut a = upstream::AddressAllocator::new(BASE, SPACE).unwrap();
            for &s in &slots {
                a.allocate(
                    PAGE,
                    PAGE,
                    upstream::AllocPolicy::ExactMatch(BASE + s * PAGE),
                )
                .unwrap();
            }
            a
        });
        println!(
            "| pages at random slots | {n} | {:.1} | {:.1} |",
            ours as f64 / n as f64,
            theirs as f64 / n as f64
        );
        drop((a, b));
    }

    ids();
}

/// Heap bytes per allocated id, ours and 0.1.4's (which stores only the
/// ids freed below its counter, so a packed state costs it nothing).
fn ids() {
    println!();
    println!("| id state | n | ours (B/id) | 0.1.4 (B/id) |");
    println!("|---|---|---|---|");
    for n in [1_000u32, 10_000, 100_000] {
        // n ids handed out in order.
        let (ours, a) = heap_of(|| {
            let mut a = vm_allocator::IdAllocator::new(0, u32::MAX - 1).unwrap();
            for _ in 0..n {
                a.allocate_id().unwrap();
            }
            a
        });
        let (theirs, b) = heap_of(|| {
            let mut a = upstream::IdAllocator::new(0, u32::MAX - 1).unwrap();
            for _ in 0..n {
                a.allocate_id().unwrap();
            }
            a
        });
        print_row("packed from 0", n, ours, Some(theirs));
        drop((a, b));

        // 2n ids handed out, every other one freed: n ids left.
        let (ours, a) = heap_of(|| {
            let mut a = vm_allocator::IdAllocator::new(0, u32::MAX - 1).unwrap();
            for _ in 0..2 * n {
                a.allocate_id().unwrap();
            }
            for id in (0..2 * n).step_by(2) {
                a.free_id(id).unwrap();
            }
            a
        });
        let (theirs, b) = heap_of(|| {
            let mut a = upstream::IdAllocator::new(0, u32::MAX - 1).unwrap();
            for _ in 0..2 * n {
                a.allocate_id().unwrap();
            }
            for id in (0..2 * n).step_by(2) {
                a.free_id(id).unwrap();
            }
            a
        });
        print_row("every other of 2n", n, ours, Some(theirs));
        drop((a, b));

        // n ids at random among 4n (0.1.4 cannot place a given id).
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let (ours, a) = heap_of(|| {
            let mut a = vm_allocator::IdAllocator::new(0, u32::MAX - 1).unwrap();
            while a.used() < u64::from(n) {
                let _ = a.allocate_id_at((rng.next() % (4 * u64::from(n))) as u32);
            }
            a
        });
        print_row("random among 4n", n, ours, None);
        drop(a);

        // n ids at random over the whole u32 space.
        let (ours, a) = heap_of(|| {
            let mut a = vm_allocator::IdAllocator::new(0, u32::MAX - 1).unwrap();
            while a.used() < u64::from(n) {
                let _ = a.allocate_id_at((rng.next() % u64::from(u32::MAX)) as u32);
            }
            a
        });
        print_row("random over 2^32", n, ours, None);
        drop(a);
    }
}

fn print_row(state: &str, n: u32, ours: usize, theirs: Option<usize>) {
    let per_id = |bytes: usize| bytes as f64 / f64::from(n);
    let theirs = theirs.map_or(String::from("–"), |b| format!("{:.2}", per_id(b)));
    println!("| {state} | {n} | {:.2} | {theirs} |", per_id(ours));
}
