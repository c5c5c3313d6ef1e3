// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Allocator operations, ours and vm-allocator 0.1.4's, measured in one run.
//!
//! Every state holds `n` page-sized, page-aligned allocations packed from the
//! start of a 1 TiB space (what a VMM's MMIO or memory-slot pool looks like
//! after boot). Run with `cargo bench --bench allocators`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};

mod common;

use common::{ours_with, upstream_first_match_fill, upstream_with, BASE, PAGE, SIZES};

fn one_allocation(c: &mut Criterion) {
    for (name, ours_policy, up_policy) in [
        (
            "first_match",
            vm_allocator::AllocPolicy::FirstMatch,
            upstream::AllocPolicy::FirstMatch,
        ),
        (
            "last_match",
            vm_allocator::AllocPolicy::LastMatch,
            upstream::AllocPolicy::LastMatch,
        ),
    ] {
        let mut group = c.benchmark_group(format!("alloc_{name}"));
        for n in SIZES {
            let ours = ours_with(n);
            let up = upstream_with(n);
            // One allocation in a state with n live ones; the state is a fresh
            // clone each time (for ours the path shared with the original is
            // copied). One clone per batch, so that freed memory is reused
            // as in a running VMM rather than faulted in fresh every time.
            group.bench_with_input(BenchmarkId::new("ours", n), &n, |b, _| {
                b.iter_batched_ref(
                    || ours.clone(),
                    |a| black_box(a.allocate(PAGE, PAGE, ours_policy).unwrap()),
                    BatchSize::PerIteration,
                )
            });
            group.bench_with_input(BenchmarkId::new("upstream", n), &n, |b, _| {
                b.iter_batched_ref(
                    || up.clone(),
                    |a| black_box(a.allocate(PAGE, PAGE, up_policy).unwrap()),
                    BatchSize::PerIteration,
                )
            });
        }
        group.finish();
    }

    let mut group = c.benchmark_group("alloc_exact_match");
    for n in SIZES {
        let ours = ours_with(n);
        let up = upstream_with(n);
        let at = BASE + (n + 7) * PAGE;
        group.bench_with_input(BenchmarkId::new("ours", n), &n, |b, _| {
            b.iter_batched_ref(
                || ours.clone(),
                |a| {
                    black_box(
                        a.allocate(PAGE, PAGE, vm_allocator::AllocPolicy::ExactMatch(at))
                            .unwrap(),
                    )
                },
                BatchSize::PerIteration,
            )
        });
        group.bench_with_input(BenchmarkId::new("upstream", n), &n, |b, _| {
            b.iter_batched_ref(
                || up.clone(),
                |a| {
                    black_box(
                        a.allocate(PAGE, PAGE, upstream::AllocPolicy::ExactMatch(at))
                            .unwrap(),
                    )
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();

    // No clone alive: the allocation and the free edit the tree in place.
    let mut group = c.benchmark_group("alloc_first_match_then_free_in_place");
    for n in SIZES {
        let mut ours = ours_with(n);
        group.bench_with_input(BenchmarkId::new("ours", n), &n, |b, _| {
            b.iter(|| {
                let r = ours
                    .allocate(PAGE, PAGE, vm_allocator::AllocPolicy::FirstMatch)
                    .unwrap();
                ours.free(black_box(&r)).unwrap();
            })
        });
    }
    group.finish();
}

fn free_and_reallocate_middle(c: &mut Criterion) {
    let mut group = c.benchmark_group("free_then_first_match_middle");
    for n in SIZES {
        let mut ours = ours_with(n);
        let mut up = upstream_with(n);
        let mid = BASE + (n / 2) * PAGE;
        let ours_mid = vm_allocator::RangeInclusive::new(mid, mid + PAGE - 1).unwrap();
        let up_mid = upstream::RangeInclusive::new(mid, mid + PAGE - 1).unwrap();
        group.bench_with_input(BenchmarkId::new("ours", n), &n, |b, _| {
            b.iter(|| {
                ours.free(&ours_mid).unwrap();
                let r = ours
                    .allocate(PAGE, PAGE, vm_allocator::AllocPolicy::FirstMatch)
                    .unwrap();
                assert_eq!(r, ours_mid);
            })
        });
        group.bench_with_input(BenchmarkId::new("upstream", n), &n, |b, _| {
            b.iter(|| {
                up.free(&up_mid).unwrap();
                let r = up
                    .allocate(PAGE, PAGE, upstream::AllocPolicy::FirstMatch)
                    .unwrap();
                assert_eq!(r, up_mid);
            })
        });
    }
    group.finish();
}

fn snapshot(c: &mut Criterion) {
    let mut group = c.benchmark_group("clone");
    for n in SIZES {
        let ours = ours_with(n);
        let up = upstream_with(n);
        group.bench_with_input(BenchmarkId::new("ours", n), &n, |b, _| {
            b.iter_with_large_drop(|| black_box(&ours).clone())
        });
        group.bench_with_input(BenchmarkId::new("upstream", n), &n, |b, _| {
            b.iter_with_large_drop(|| black_box(&up).clone())
        });
    }
    group.finish();
}

fn fill(c: &mut Criterion) {
    let mut group = c.benchmark_group("fill_first_match");
    group.sample_size(10);
    for n in SIZES {
        group.bench_with_input(BenchmarkId::new("ours", n), &n, |b, &n| {
            b.iter_with_large_drop(|| ours_with(n))
        });
        // 0.1.4 needs over a minute for 100k: measured up to 10k only.
        if n <= 10_000 {
            group.bench_with_input(BenchmarkId::new("upstream", n), &n, |b, &n| {
                b.iter_with_large_drop(|| upstream_first_match_fill(n))
            });
        }
    }
    group.finish();
}

fn id_cycles(c: &mut Criterion) {
    // Free one id in the middle of n allocated ones and allocate again (the
    // smallest free id is the one just freed).
    let mut group = c.benchmark_group("id_free_then_allocate");
    for n in SIZES {
        let n = n as u32;
        let mut ours = vm_allocator::IdAllocator::new(0, u32::MAX - 1).unwrap();
        let mut up = upstream::IdAllocator::new(0, u32::MAX - 1).unwrap();
        for _ in 0..n {
            ours.allocate_id().unwrap();
            up.allocate_id().unwrap();
        }
        group.bench_with_input(BenchmarkId::new("ours", n), &n, |b, &n| {
            b.iter(|| {
                ours.free_id(black_box(n / 2)).unwrap();
                assert_eq!(ours.allocate_id().unwrap(), n / 2);
            })
        });
        group.bench_with_input(BenchmarkId::new("upstream", n), &n, |b, &n| {
            b.iter(|| {
                up.free_id(black_box(n / 2)).unwrap();
                assert_eq!(up.allocate_id().unwrap(), n / 2);
            })
        });
    }
    group.finish();

    // Allocate the next id and free it again (a device plugged and unplugged).
    let mut group = c.benchmark_group("id_allocate_then_free");
    for n in SIZES {
        let n = n as u32;
        let mut ours = vm_allocator::IdAllocator::new(0, u32::MAX - 1).unwrap();
        let mut up = upstream::IdAllocator::new(0, u32::MAX - 1).unwrap();
        for _ in 0..n {
            ours.allocate_id().unwrap();
            up.allocate_id().unwrap();
        }
        group.bench_with_input(BenchmarkId::new("ours", n), &n, |b, _| {
            b.iter(|| {
                let id = ours.allocate_id().unwrap();
                ours.free_id(black_box(id)).unwrap();
            })
        });
        group.bench_with_input(BenchmarkId::new("upstream", n), &n, |b, _| {
            b.iter(|| {
                let id = up.allocate_id().unwrap();
                up.free_id(black_box(id)).unwrap();
            })
        });
    }
    group.finish();

    // Hand out n fresh ids, then free them all (a VM booting and shutting down).
    let mut group = c.benchmark_group("id_allocate_then_free_all");
    for n in [1_000u32, 10_000] {
        group.bench_with_input(BenchmarkId::new("ours", n), &n, |b, &n| {
            b.iter(|| {
                let mut a = vm_allocator::IdAllocator::new(0, u32::MAX - 1).unwrap();
                for _ in 0..n {
                    a.allocate_id().unwrap();
                }
                for id in 0..n {
                    a.free_id(id).unwrap();
                }
                a
            })
        });
        group.bench_with_input(BenchmarkId::new("upstream", n), &n, |b, &n| {
            b.iter(|| {
                let mut a = upstream::IdAllocator::new(0, u32::MAX - 1).unwrap();
                for _ in 0..n {
                    a.allocate_id().unwrap();
                }
                for id in 0..n {
                    a.free_id(id).unwrap();
                }
                a
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = one_allocation, free_and_reallocate_middle, snapshot, fill, id_cycles
}
criterion_main!(benches);
