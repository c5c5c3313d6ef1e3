// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Reconciling a resource set with the devices' claims, adopting them, and
//! building a state from them, beside what a VMM does by hand today:
//! allocating each range again (Firecracker rebuilds its GSI allocators
//! so). Run with `cargo bench --bench reconcile`.
//!
//! The set has Firecracker's six pools; `n` allocations are spread over
//! them: page-sized ones in the three address pools that hold them, and
//! single ids in the MSI pool, owned by one of 16 devices. The claims are
//! one per allocation (for ids, one per run of ids with one owner): all
//! of them ("matching"), or with 1% of them changed ("1% damaged"): a
//! quarter dropped (unexpected), a quarter given another owner, a quarter
//! cut short (bounds; for ids another owner), a quarter moved to free
//! space (missing, and unexpected where they were).

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use vm_allocator::layout::x86_64 as fc;
use vm_allocator::{
    AllocPolicy, Claim, FindingKind, Owner, Pool, RangeInclusive, Report, ResourceSet,
};

use common::{six_pools, PAGE};

const SIZES: [u64; 2] = [10_000, 100_000];

/// The six pools with `n` allocations owned by 16 devices.
fn set_with(n: u64) -> ResourceSet {
    common::set_with(n, true)
}

/// One claim per allocation of `set` (per run of ids with one owner).
fn claims_of(set: &ResourceSet) -> Vec<Claim> {
    let mut claims = Vec::new();
    for (name, pool) in set.pools() {
        let items: Vec<(u64, u64, Option<Owner>)> = match pool {
            Pool::Ids(ids) => ids
                .allocations()
                .map(|a| {
                    let r = a.ids();
                    ((*r.start()).into(), (*r.end()).into(), a.owner().cloned())
                })
                .collect(),
            Pool::Addresses(a) => a
                .allocations()
                .map(|x| (x.range().start(), x.range().end(), x.owner().cloned()))
                .collect(),
        };
        for (start, end, owner) in items {
            let claim = Claim::new(start, end).unwrap().in_pool(name);
            claims.push(match owner {
                Some(o) => claim.with_owner(o),
                None => claim,
            });
        }
    }
    claims
}

/// Where a moved claim goes: free space far above the allocations.
fn moved(claim: &Claim) -> Claim {
    shifted(claim, 512 << 20, 1 << 20)
}

/// `claim` moved up by `addresses` (or `ids`): into free space, for the
/// sizes here (the allocations take 100 MiB of each pool and 25,000 ids).
fn shifted(claim: &Claim, addresses: u64, ids: u64) -> Claim {
    let shift = if claim.pool() == Some(fc::MSI_GSI) {
        ids
    } else {
        addresses
    };
    let c = Claim::new(claim.start() + shift, claim.end() + shift)
        .unwrap()
        .in_pool(claim.pool().unwrap());
    match claim.owner() {
        Some(o) => c.with_owner(o.clone()),
        None => c,
    }
}

/// `claims` with 1% changed (every 100th).
fn damaged(claims: &[Claim]) -> Vec<Claim> {
    let other = Owner::new("someone-else").unwrap();
    let mut out = Vec::with_capacity(claims.len());
    for (i, claim) in claims.iter().enumerate() {
        if i % 100 != 0 {
            out.push(claim.clone());
            continue;
        }
        let pool = claim.pool().unwrap();
        match (i / 100) % 4 {
            0 => {} // dropped
            1 => out.push(
                Claim::new(claim.start(), claim.end())
                    .unwrap()
                    .in_pool(pool)
                    .with_owner(other.clone()),
            ),
            2 if claim.end() > claim.start() => out.push(
                Claim::new(
                    claim.start(),
                    claim.start() + (claim.end() - claim.start()) / 2,
                )
                .unwrap()
                .in_pool(pool)
                .with_owner(other.clone()),
            ),
            2 => out.push(
                Claim::new(claim.start(), claim.end())
                    .unwrap()
                    .in_pool(pool)
                    .with_owner(other.clone()),
            ),
            _ => out.push(moved(claim)),
        }
    }
    out
}

/// What a VMM does by hand: allocates each claim exactly, with its owner.
fn allocate_each(set: &mut ResourceSet, claims: &[Claim]) {
    for claim in claims {
        let pool = claim.pool().unwrap();
        let owner = claim.owner().unwrap();
        let mut view = set.owned_by(owner);
        if pool == fc::MSI_GSI || pool == fc::LEGACY_GSI {
            view.allocate_id_at(pool, claim.start() as u32).unwrap();
        } else {
            let size = claim.end() - claim.start() + 1;
            view.allocate(pool, size, 1, AllocPolicy::ExactMatch(claim.start()))
                .unwrap();
        }
    }
}

/// The changes a report calls for, made by hand with the set's public
/// calls: free, allocate exactly with an owner, set an owner.
fn fix_by_hand(set: &mut ResourceSet, report: &Report) {
    let mut freed = std::collections::HashSet::new();
    for f in report.iter() {
        let pool = f.pool().unwrap();
        let ids = pool == fc::MSI_GSI;
        let mut free = |set: &mut ResourceSet, r: RangeInclusive| {
            if freed.insert((pool, r.start())) {
                if ids {
                    set.free_ids(pool, r.start() as u32..=r.end() as u32)
                        .unwrap();
                } else {
                    set.free(pool, &r).unwrap();
                }
            }
        };
        match f.kind() {
            FindingKind::Unexpected => free(set, f.allocation().unwrap().range()),
            FindingKind::Bounds => free(set, f.allocation().unwrap().range()),
            FindingKind::Owner => {
                let owner = f.claim().unwrap().owner().cloned();
                let r = f.allocation().unwrap().range();
                if ids {
                    set.set_id_owner(pool, r.start() as u32..=r.end() as u32, owner)
                        .unwrap();
                } else {
                    set.set_owner(pool, &r, owner).unwrap();
                }
            }
            _ => {}
        }
    }
    for f in report.iter() {
        if matches!(f.kind(), FindingKind::Missing | FindingKind::Bounds) {
            allocate_each(set, std::slice::from_ref(f.claim().unwrap()));
        }
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("reconcile");
    for &n in &SIZES {
        let set = set_with(n);
        let claims = claims_of(&set);
        assert_eq!(claims.len() as u64, n);
        let bad = damaged(&claims);
        assert!(set.reconcile(&claims).is_consistent());
        let report = set.reconcile(&bad);
        assert!(report.len() as u64 >= n / 100);

        g.bench_with_input(BenchmarkId::new("matching", n), &n, |b, _| {
            b.iter(|| black_box(set.reconcile(black_box(&claims))))
        });
        g.bench_with_input(BenchmarkId::new("1% damaged", n), &n, |b, _| {
            b.iter(|| black_box(set.reconcile(black_box(&bad))))
        });
        // A restored state shares nothing with another: decoded anew for
        // each run (outside the time), so that edits copy no node.
        let file = set.to_bytes();
        let restored = || ResourceSet::from_bytes(&file).unwrap();
        let mut fixed = restored();
        fix_by_hand(&mut fixed, &report);
        assert!(fixed.reconcile(&bad).is_consistent());
        g.bench_with_input(BenchmarkId::new("adopt 1% damaged", n), &n, |b, _| {
            b.iter_batched(
                restored,
                |mut s| {
                    s.adopt(black_box(&bad)).unwrap();
                    s
                },
                BatchSize::LargeInput,
            )
        });
        // The same number of changes (1% of n) made by hand: exact
        // allocations with an owner, on the same set, in free space.
        let by_hand: Vec<Claim> = claims
            .iter()
            .step_by(100)
            .map(|c| shifted(c, 256 << 20, 1 << 19))
            .collect();
        g.bench_with_input(BenchmarkId::new("1% fixed by hand", n), &n, |b, _| {
            b.iter_batched(
                restored,
                |mut s| {
                    fix_by_hand(&mut s, black_box(&report));
                    s
                },
                BatchSize::LargeInput,
            )
        });
        g.bench_with_input(BenchmarkId::new("1% plain allocations", n), &n, |b, _| {
            b.iter_batched(
                restored,
                |mut s| {
                    allocate_each(&mut s, black_box(&by_hand));
                    s
                },
                BatchSize::LargeInput,
            )
        });
        g.bench_with_input(BenchmarkId::new("from_claims", n), &n, |b, _| {
            let layout = six_pools();
            b.iter(|| black_box(ResourceSet::from_claims(&layout, black_box(&claims)).unwrap()))
        });
        g.bench_with_input(BenchmarkId::new("all plain allocations", n), &n, |b, _| {
            b.iter_batched(
                six_pools,
                |mut s| {
                    allocate_each(&mut s, black_box(&claims));
                    s
                },
                BatchSize::LargeInput,
            )
        });
        // The same by hand with vm-allocator 0.1.4, for the address
        // claims (0.1.4 cannot allocate a given id).
        let address_claims: Vec<&Claim> = claims
            .iter()
            .filter(|c| c.pool() != Some(fc::MSI_GSI))
            .collect();
        g.bench_with_input(
            BenchmarkId::new("address claims by hand, 0.1.4", n),
            &n,
            |b, _| {
                b.iter(|| {
                    let mut pools = [
                        (fc::MMIO32, fc::MMIO32_START, fc::MMIO32_SIZE),
                        (fc::MMIO64, fc::MMIO64_START, fc::MMIO64_SIZE),
                        (fc::PAST_MMIO64, fc::PAST_MMIO64_START, fc::PAST_MMIO64_SIZE),
                    ]
                    .map(|(name, base, size)| {
                        (name, upstream::AddressAllocator::new(base, size).unwrap())
                    });
                    for c in &address_claims {
                        let (_, a) = pools
                            .iter_mut()
                            .find(|(name, _)| Some(*name) == c.pool())
                            .unwrap();
                        a.allocate(
                            c.end() - c.start() + 1,
                            PAGE,
                            upstream::AllocPolicy::ExactMatch(c.start()),
                        )
                        .unwrap();
                    }
                    black_box(pools)
                })
            },
        );
        g.bench_with_input(BenchmarkId::new("address claims by hand", n), &n, |b, _| {
            b.iter_batched(
                six_pools,
                |mut s| {
                    for c in &address_claims {
                        let size = c.end() - c.start() + 1;
                        s.owned_by(c.owner().unwrap())
                            .allocate(
                                c.pool().unwrap(),
                                size,
                                PAGE,
                                AllocPolicy::ExactMatch(c.start()),
                            )
                            .unwrap();
                    }
                    s
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = bench
}
criterion_main!(benches);
