// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Heap bytes per live allocation, ours and vm-allocator 0.1.4's.
//!
//! Run with `cargo run --release --example memory_usage`. A counting global
//! allocator measures the live heap before and after building each state.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers every call to the system allocator and only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[path = "../benches/common/mod.rs"]
mod common;

use common::{ours_with, upstream_with, BASE, PAGE, SPACE};

/// Heap bytes held by what `build` returns.
fn heap_of<T>(build: impl FnOnce() -> T) -> (usize, T) {
    let before = LIVE.load(Ordering::Relaxed);
    let value = build();
    (LIVE.load(Ordering::Relaxed) - before, value)
}

#[path = "../tests/support/rng.rs"]
mod rng;

use rng::Rng;

fn main() {
    println!("| state | n | ours (B/alloc) | 0.1.4 (B/alloc) |");
    println!("|---|---|---|---|");
    for n in [1_000u64, 10_000, 100_000] {
        // Packed pages, allocated in order (FirstMatch).
        let (ours, a) = heap_of(|| ours_with(n));
        let (theirs, b) = heap_of(|| upstream_with(n));
        assert_eq!(a.len(), n);
        println!(
            "| packed pages, in order | {n} | {:.1} | {:.1} |",
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
}
