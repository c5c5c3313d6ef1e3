// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The versioned resource state: snapshots of a whole set, diffs, deltas
//! and transactions, with 0.1.4 (or a plain comparison) beside them where
//! there is an equivalent. Run with `cargo bench --bench versioned`.
//!
//! The set has Firecracker's six pools (legacy GSIs, MSI GSIs, MMIO below
//! 4 GiB, MMIO above, the region past it, system memory); `n` allocations
//! are spread over them: page-sized ones in the three address pools that
//! can hold them, and ids in the MSI pool.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use vm_allocator::layout::x86_64 as fc;
use vm_allocator::{AllocPolicy, Delta, Diff, Owner, ResourceSet};

mod common;

use common::set_with;

const PAGE: u64 = 0x1000;
const SIZES: [u64; 3] = [1_000, 10_000, 100_000];

/// The same allocations as 0.1.4 allocators, one per pool.
fn upstream_with(n: u64) -> Vec<UpstreamPool> {
    let mut ids = upstream::IdAllocator::new(fc::MSI_GSI_FIRST, u32::MAX - 1).unwrap();
    let mut pools: Vec<upstream::AddressAllocator> = [
        (fc::MMIO32_START, fc::MMIO32_SIZE),
        (fc::MMIO64_START, fc::MMIO64_SIZE),
        (fc::PAST_MMIO64_START, fc::PAST_MMIO64_SIZE),
    ]
    .iter()
    .map(|&(base, size)| upstream::AddressAllocator::new(base, size).unwrap())
    .collect();
    let mut next = [0u64; 3];
    for i in 0..n {
        match (i % 4) as usize {
            3 => {
                ids.allocate_id().unwrap();
            }
            p => {
                let base = [fc::MMIO32_START, fc::MMIO64_START, fc::PAST_MMIO64_START][p];
                // ExactMatch at the FirstMatch address: 0.1.4's FirstMatch is O(n).
                pools[p]
                    .allocate(
                        PAGE,
                        PAGE,
                        upstream::AllocPolicy::ExactMatch(base + next[p] * PAGE),
                    )
                    .unwrap();
                next[p] += 1;
            }
        }
    }
    let mut out = vec![
        UpstreamPool::Ids(
            upstream::IdAllocator::new(fc::LEGACY_GSI_FIRST, fc::LEGACY_GSI_LAST).unwrap(),
        ),
        UpstreamPool::Ids(ids),
    ];
    out.extend(pools.into_iter().map(UpstreamPool::Addresses));
    out.push(UpstreamPool::Addresses(
        upstream::AddressAllocator::new(fc::SYSTEM_MEMORY_START, fc::SYSTEM_MEMORY_SIZE).unwrap(),
    ));
    out
}

/// 0.1.4's pools, held only to be cloned (0.1.4's snapshot is a deep copy).
#[derive(Clone)]
#[allow(dead_code)]
enum UpstreamPool {
    Ids(upstream::IdAllocator),
    Addresses(upstream::AddressAllocator),
}

fn snapshot(c: &mut Criterion) {
    let mut group = c.benchmark_group("set_snapshot_six_pools");
    for n in SIZES {
        let ours = set_with(n, false);
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

/// Ten changes in the set: five allocations and five frees, in three pools.
fn ten_changes(set: &mut ResourceSet) {
    let gpu = Owner::new("gpu0").unwrap();
    for _ in 0..3 {
        set.owned_by(&gpu)
            .allocate(fc::MMIO64, PAGE, PAGE, AllocPolicy::LastMatch)
            .unwrap();
    }
    set.owned_by(&gpu).allocate_ids(fc::MSI_GSI, 2, 2).unwrap();
    set.allocate(fc::MMIO32, PAGE, PAGE, AllocPolicy::LastMatch)
        .unwrap();
    let pool = set.addresses(fc::PAST_MMIO64).unwrap();
    let stride = (pool.len() as usize / 5).max(1);
    let victims: Vec<_> = pool.iter().step_by(stride).take(5).collect();
    for r in victims {
        set.free(fc::PAST_MMIO64, &r).unwrap();
    }
}

fn diff(c: &mut Criterion) {
    let mut group = c.benchmark_group("diff_ten_changes");
    for n in SIZES {
        let older = set_with(n, true);
        let mut newer = older.clone();
        ten_changes(&mut newer);
        assert_eq!(Diff::between(&older, &newer).unwrap().len(), 10);
        group.bench_with_input(BenchmarkId::new("shared_history", n), &n, |b, _| {
            b.iter(|| black_box(Diff::between(&older, &newer).unwrap()))
        });
        // Loaded from files: nothing is shared.
        let older_loaded = ResourceSet::from_bytes(&older.to_bytes()).unwrap();
        let newer_loaded = ResourceSet::from_bytes(&newer.to_bytes()).unwrap();
        group.bench_with_input(BenchmarkId::new("loaded_independently", n), &n, |b, _| {
            b.iter(|| black_box(Diff::between(&older_loaded, &newer_loaded).unwrap()))
        });
        // The yardstick: comparing the two sorted lists of allocations, as a
        // VMM would without a diff.
        let lists = |s: &ResourceSet| -> Vec<Vec<(u64, u64)>> {
            s.pools()
                .map(|(_, p)| match p {
                    vm_allocator::Pool::Ids(ids) => ids
                        .runs()
                        .map(|r| (u64::from(*r.start()), u64::from(*r.end())))
                        .collect(),
                    vm_allocator::Pool::Addresses(a) => {
                        a.iter().map(|r| (r.start(), r.end())).collect()
                    }
                })
                .collect()
        };
        let (a, b_) = (lists(&older), lists(&newer));
        group.bench_with_input(BenchmarkId::new("naive_vec_compare", n), &n, |b, _| {
            b.iter(|| {
                let mut changes = 0;
                for (x, y) in a.iter().zip(&b_) {
                    changes += x.iter().filter(|r| y.binary_search(r).is_err()).count();
                    changes += y.iter().filter(|r| x.binary_search(r).is_err()).count();
                }
                black_box(changes)
            })
        });
    }
    group.finish();
}

fn delta(c: &mut Criterion) {
    let mut group = c.benchmark_group("delta_ten_changes");
    for n in SIZES {
        let older = set_with(n, true);
        let mut newer = older.clone();
        ten_changes(&mut newer);
        let delta = Delta::between(&older, &newer).unwrap();
        let bytes = delta.to_bytes();
        eprintln!(
            "delta of 10 changes at n = {n}: {} bytes (full state {} bytes)",
            bytes.len(),
            newer.to_bytes().len()
        );
        group.bench_with_input(BenchmarkId::new("make_and_encode", n), &n, |b, _| {
            b.iter(|| black_box(Delta::between(&older, &newer).unwrap().to_bytes()))
        });
        group.bench_with_input(BenchmarkId::new("decode_and_apply", n), &n, |b, _| {
            b.iter(|| black_box(Delta::from_bytes(&bytes).unwrap().apply(&older).unwrap()))
        });
    }
    group.finish();
}

/// Eight page allocations in `mmio64`, plain or in one transaction, on a
/// state no snapshot shares (decoded from bytes for each batch).
fn transaction(c: &mut Criterion) {
    let mut group = c.benchmark_group("eight_allocations");
    for n in SIZES {
        let bytes = set_with(n, false).to_bytes();
        let fresh = || ResourceSet::from_bytes(&bytes).unwrap();
        group.bench_with_input(BenchmarkId::new("plain", n), &n, |b, _| {
            b.iter_batched_ref(
                fresh,
                |set| {
                    for _ in 0..8 {
                        black_box(
                            set.allocate(fc::MMIO64, PAGE, PAGE, AllocPolicy::FirstMatch)
                                .unwrap(),
                        );
                    }
                },
                BatchSize::LargeInput,
            )
        });
        group.bench_with_input(BenchmarkId::new("transaction", n), &n, |b, _| {
            b.iter_batched_ref(
                fresh,
                |set| {
                    let mut tx = set.transaction();
                    for _ in 0..8 {
                        black_box(
                            tx.allocate(fc::MMIO64, PAGE, PAGE, AllocPolicy::FirstMatch)
                                .unwrap(),
                        );
                    }
                    tx.commit().unwrap();
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = snapshot, diff, delta, transaction
}
criterion_main!(benches);
