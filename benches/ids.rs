// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Id allocation, ours against vm-allocator 0.1.4's and against a plain
//! `BTreeSet<u32>` free list (pop_first + insert), measured in one run.
//!
//! "Scattered free ids" states allocate `2k` ids and free every other one
//! (the even ids), leaving `k` free ids below the highest allocated one.
//! Run with `cargo bench --bench ids`.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};

/// The id allocator a plain `BTreeSet<u32>` gives: a counter and the set of
/// freed ids below it, smallest first (0.1.4's design without its checks).
#[derive(Clone)]
struct FreeList {
    next: u32,
    free: BTreeSet<u32>,
}

impl FreeList {
    fn new() -> FreeList {
        FreeList {
            next: 0,
            free: BTreeSet::new(),
        }
    }

    fn allocate(&mut self) -> u32 {
        match self.free.pop_first() {
            Some(id) => id,
            None => {
                self.next += 1;
                self.next - 1
            }
        }
    }

    fn free(&mut self, id: u32) {
        assert!(self.free.insert(id));
    }
}

const RANGE_END: u32 = u32::MAX - 1;
/// Numbers of scattered free ids.
const FREE: [u32; 3] = [10, 1_000, 100_000];

fn ours_scattered(free: u32) -> vm_allocator::IdAllocator {
    let mut a = vm_allocator::IdAllocator::new(0, RANGE_END).unwrap();
    for _ in 0..2 * free {
        a.allocate_id().unwrap();
    }
    for id in (0..2 * free).step_by(2) {
        a.free_id(id).unwrap();
    }
    a
}

fn upstream_scattered(free: u32) -> upstream::IdAllocator {
    let mut a = upstream::IdAllocator::new(0, RANGE_END).unwrap();
    for _ in 0..2 * free {
        a.allocate_id().unwrap();
    }
    for id in (0..2 * free).step_by(2) {
        a.free_id(id).unwrap();
    }
    a
}

fn list_scattered(free: u32) -> FreeList {
    let mut a = FreeList::new();
    for _ in 0..2 * free {
        a.allocate();
    }
    for id in (0..2 * free).step_by(2) {
        a.free(id);
    }
    a
}

/// Allocate n ids into an empty allocator.
fn sequential(c: &mut Criterion) {
    let mut group = c.benchmark_group("id_sequential");
    for n in [1_000u32, 100_000] {
        group.bench_with_input(BenchmarkId::new("ours", n), &n, |b, &n| {
            b.iter_with_large_drop(|| {
                let mut a = vm_allocator::IdAllocator::new(0, RANGE_END).unwrap();
                for _ in 0..n {
                    black_box(a.allocate_id().unwrap());
                }
                a
            })
        });
        group.bench_with_input(BenchmarkId::new("upstream", n), &n, |b, &n| {
            b.iter_with_large_drop(|| {
                let mut a = upstream::IdAllocator::new(0, RANGE_END).unwrap();
                for _ in 0..n {
                    black_box(a.allocate_id().unwrap());
                }
                a
            })
        });
        group.bench_with_input(BenchmarkId::new("btreeset", n), &n, |b, &n| {
            b.iter_with_large_drop(|| {
                let mut a = FreeList::new();
                for _ in 0..n {
                    black_box(a.allocate());
                }
                a
            })
        });
    }
    group.finish();
}

/// `new(0, 1 << 20)`, allocate 4096 ids, free every other one, allocate
/// 2048 again (they come back smallest first).
fn fragment_then_refill(c: &mut Criterion) {
    let mut group = c.benchmark_group("id_fragment_refill");
    group.bench_function("ours", |b| {
        b.iter_with_large_drop(|| {
            let mut a = vm_allocator::IdAllocator::new(0, 1 << 20).unwrap();
            for _ in 0..4096 {
                a.allocate_id().unwrap();
            }
            for id in (0..4096).step_by(2) {
                a.free_id(id).unwrap();
            }
            for _ in 0..2048 {
                black_box(a.allocate_id().unwrap());
            }
            assert_eq!(a.used(), 4096);
            a
        })
    });
    group.bench_function("upstream", |b| {
        b.iter_with_large_drop(|| {
            let mut a = upstream::IdAllocator::new(0, 1 << 20).unwrap();
            for _ in 0..4096 {
                a.allocate_id().unwrap();
            }
            for id in (0..4096).step_by(2) {
                a.free_id(id).unwrap();
            }
            for _ in 0..2048 {
                black_box(a.allocate_id().unwrap());
            }
            a
        })
    });
    group.bench_function("btreeset", |b| {
        b.iter_with_large_drop(|| {
            let mut a = FreeList::new();
            for _ in 0..4096 {
                a.allocate();
            }
            for id in (0..4096).step_by(2) {
                a.free(id);
            }
            for _ in 0..2048 {
                black_box(a.allocate());
            }
            a
        })
    });
    group.finish();
}

/// One `allocate_id` + `free_id` with k scattered free ids (the smallest
/// free id is handed out and given back).
fn churn(c: &mut Criterion) {
    let mut group = c.benchmark_group("id_churn");
    for k in FREE {
        let mut ours = ours_scattered(k);
        let mut up = upstream_scattered(k);
        let mut list = list_scattered(k);
        group.bench_with_input(BenchmarkId::new("ours", k), &k, |b, _| {
            b.iter(|| {
                let id = ours.allocate_id().unwrap();
                ours.free_id(black_box(id)).unwrap();
            })
        });
        group.bench_with_input(BenchmarkId::new("upstream", k), &k, |b, _| {
            b.iter(|| {
                let id = up.allocate_id().unwrap();
                up.free_id(black_box(id)).unwrap();
            })
        });
        group.bench_with_input(BenchmarkId::new("btreeset", k), &k, |b, _| {
            b.iter(|| {
                let id = list.allocate();
                list.free(black_box(id));
            })
        });
        assert_eq!(ours.available(), u64::from(RANGE_END) + 1 - u64::from(k));
    }
    group.finish();
}

/// The churn above with a snapshot alive: taken once and kept (only the
/// first edit copies the shared path), or taken before every operation
/// (every edit copies it). 0.1.4's clone is a deep copy: see `id_churn`
/// for its in-place number.
fn churn_with_snapshot(c: &mut Criterion) {
    let mut group = c.benchmark_group("id_churn_snapshot");
    for k in FREE {
        let mut ours = ours_scattered(k);
        let kept = ours.clone();
        group.bench_with_input(BenchmarkId::new("kept", k), &k, |b, _| {
            b.iter(|| {
                let id = ours.allocate_id().unwrap();
                ours.free_id(black_box(id)).unwrap();
            })
        });
        assert_eq!(kept, ours);
        group.bench_with_input(BenchmarkId::new("fresh_each_time", k), &k, |b, _| {
            b.iter_batched_ref(
                || ours.clone(),
                |a| {
                    let id = a.allocate_id().unwrap();
                    a.free_id(black_box(id)).unwrap();
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// `allocate_id_at` of a free id in the middle of k scattered free ids,
/// then `free_id` (0.1.4 has no `allocate_id_at`; the free list removes
/// and re-inserts the id).
fn allocate_at(c: &mut Criterion) {
    let mut group = c.benchmark_group("id_allocate_at");
    for k in FREE {
        let mut ours = ours_scattered(k);
        let mut list = list_scattered(k);
        let mid = k / 2 * 2;
        group.bench_with_input(BenchmarkId::new("ours", k), &k, |b, _| {
            b.iter(|| {
                ours.allocate_id_at(black_box(mid)).unwrap();
                ours.free_id(black_box(mid)).unwrap();
            })
        });
        group.bench_with_input(BenchmarkId::new("btreeset", k), &k, |b, _| {
            b.iter(|| {
                assert!(list.free.remove(black_box(&mid)));
                list.free(black_box(mid));
            })
        });
    }
    group.finish();
}

/// `allocate_ids(n, n)` + `free_ids` for n = 4 and 32, after n ids packed
/// from 0 and after k scattered free ids (no block fits among them: the
/// search must get past them).
fn aligned_blocks(c: &mut Criterion) {
    let mut group = c.benchmark_group("id_aligned_block");
    for block in [4u32, 32] {
        for k in [1_000u32, 100_000] {
            let mut packed = vm_allocator::IdAllocator::new(0, RANGE_END).unwrap();
            for _ in 0..k {
                packed.allocate_id().unwrap();
            }
            let mut scattered = ours_scattered(k);
            for (name, a) in [("packed", &mut packed), ("scattered", &mut scattered)] {
                group.bench_with_input(
                    BenchmarkId::new(format!("{name}_{block}"), k),
                    &k,
                    |b, _| {
                        b.iter(|| {
                            let ids = a.allocate_ids(block, block).unwrap();
                            a.free_ids(black_box(ids)).unwrap();
                        })
                    },
                );
            }
        }
    }
    group.finish();
}

/// `Diff::between` two id allocators ten changes apart (five ids
/// allocated, five freed) among k scattered free ids: the newer one a clone
/// of the older one edited (they share every untouched node), or both
/// loaded from bytes (nothing shared).
fn diff(c: &mut Criterion) {
    use vm_allocator::{Diff, IdAllocator};
    let mut group = c.benchmark_group("id_diff_ten_changes");
    for k in [1_000u32, 100_000] {
        let older = ours_scattered(k);
        let mut newer = older.clone();
        for i in 0..5 {
            newer.allocate_id().unwrap();
            newer.free_id(2 * k - 1 - 4 * i).unwrap();
        }
        assert_eq!(Diff::between(&older, &newer).unwrap().len(), 10);
        group.bench_with_input(BenchmarkId::new("shared_history", k), &k, |b, _| {
            b.iter(|| black_box(Diff::between(&older, &newer).unwrap()))
        });
        let older_loaded = IdAllocator::from_bytes(&older.to_bytes()).unwrap();
        let newer_loaded = IdAllocator::from_bytes(&newer.to_bytes()).unwrap();
        assert_eq!(
            Diff::between(&older_loaded, &newer_loaded).unwrap().len(),
            10
        );
        group.bench_with_input(BenchmarkId::new("loaded_independently", k), &k, |b, _| {
            b.iter(|| black_box(Diff::between(&older_loaded, &newer_loaded).unwrap()))
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = sequential, fragment_then_refill, churn, churn_with_snapshot, allocate_at, aligned_blocks, diff
}
criterion_main!(benches);
