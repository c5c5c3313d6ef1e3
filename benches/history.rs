// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Keeping versions: a `History` of a 100k-allocation resource set (the
//! six pools of `benches/common`), each version one allocation apart.
//! Run with `cargo bench --bench history`; the bytes each version keeps
//! are printed by `cargo run --release --example history_sizes`.
//!
//! - `history_record`: one change to the set and `record`, with 10,000
//!   versions kept (so each record also drops the oldest version); beside
//!   it the change alone.
//! - `history_get`: `get` of a kept generation, 100 to 10,000 versions: a
//!   binary search.
//! - `history_blame`: `blame` of a value the latest version made and of one
//!   as old as the oldest version, 10,000 versions; the yardstick walks the
//!   versions back one by one, as a caller without `blame` would.
//! - `history_diff`: `diff` of two kept versions 10 and 9,999 versions
//!   apart.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use vm_allocator::layout::x86_64 as fc;
use vm_allocator::{AllocPolicy, History, Made, ResourceSet, Retention};

mod common;

use common::{allocate_nth, set_with, PAGE};

const N: u64 = 100_000;

/// The set with `N` allocations and a history of it `versions` versions
/// long, each one allocation apart (continuing the set's own pattern).
fn history_of(versions: u64) -> (ResourceSet, History<ResourceSet>) {
    let mut set = set_with(N, false);
    let mut history = History::new(set.clone());
    for i in N..N + versions - 1 {
        allocate_nth(&mut set, i, None);
        history.record(&set).unwrap();
    }
    (set, history)
}

/// One change: a page allocated at the top of MMIO64, or freed again.
fn toggle(set: &mut ResourceSet, page: &mut Option<vm_allocator::RangeInclusive>) {
    match page.take() {
        Some(r) => set.free(fc::MMIO64, &r).unwrap(),
        None => {
            *page = Some(
                set.allocate(fc::MMIO64, PAGE, PAGE, AllocPolicy::LastMatch)
                    .unwrap(),
            )
        }
    }
}

fn record(c: &mut Criterion) {
    let mut group = c.benchmark_group("history_record");
    let (mut set, mut history) = history_of(10_000);
    history.set_retention(Retention::unbounded().max_versions(10_000));
    let mut page = None;
    group.bench_function(BenchmarkId::new("change_and_record", N), |b| {
        b.iter(|| {
            toggle(&mut set, &mut page);
            history.record(black_box(&set)).unwrap();
        })
    });
    assert_eq!(history.versions().len(), 10_000);
    // The yardstick: the change and a snapshot of the set (a clone, which
    // makes the next change copy its path, as a kept version does).
    let mut set = set_with(N, false);
    let mut page = None;
    group.bench_function(BenchmarkId::new("change_and_clone", N), |b| {
        b.iter_with_large_drop(|| {
            toggle(&mut set, &mut page);
            set.clone()
        })
    });
    group.finish();
}

fn get(c: &mut Criterion) {
    let mut group = c.benchmark_group("history_get");
    for versions in [100u64, 1_000, 10_000] {
        let (_, history) = history_of(versions);
        let generations: Vec<u64> = history.versions().map(|v| v.generation()).collect();
        let mut i = 0usize;
        group.bench_with_input(BenchmarkId::from_parameter(versions), &versions, |b, _| {
            b.iter(|| {
                // A stride through the versions, so no two lookups in a row
                // follow the same path.
                i = (i + 7_919) % generations.len();
                black_box(history.get(black_box(generations[i])).unwrap());
            })
        });
    }
    group.finish();
}

fn blame(c: &mut Criterion) {
    let mut group = c.benchmark_group("history_blame");
    let (set, history) = history_of(10_000);
    let latest = set.ids(fc::MSI_GSI).unwrap();
    let newest = u64::from(*latest.runs().next_back().unwrap().end());
    let oldest = u64::from(fc::MSI_GSI_FIRST);
    let mmio = set.addresses(fc::MMIO64).unwrap();
    let bar = mmio.iter().next_back().unwrap().start();
    let made = |pool, value| history.blame(Some(pool), value).unwrap().made();
    assert!(matches!(made(fc::MSI_GSI, newest), Made::At(_)));
    assert!(matches!(made(fc::MMIO64, bar), Made::At(_)));
    assert!(matches!(made(fc::MSI_GSI, oldest), Made::AtOrBefore(_)));
    for (name, pool, value) in [
        ("made_by_the_latest_id", fc::MSI_GSI, newest),
        ("made_by_the_latest_address", fc::MMIO64, bar),
        ("older_than_every_version", fc::MSI_GSI, oldest),
    ] {
        group.bench_function(BenchmarkId::new(name, 10_000), |b| {
            b.iter(|| black_box(history.blame(Some(pool), black_box(value)).unwrap()))
        });
    }
    // The yardstick: walking back from the latest version while the id is
    // held as it is now.
    group.bench_function(
        BenchmarkId::new("walk_back_older_than_every_version", 10_000),
        |b| {
            b.iter(|| {
                let versions: Vec<_> = history.versions().collect();
                let held = |s: &ResourceSet| {
                    let ids = s.ids(fc::MSI_GSI).unwrap();
                    ids.is_allocated(oldest as u32)
                        .then(|| ids.owner_at(oldest as u32).cloned())
                };
                let now = held(versions.last().unwrap().state());
                let mut i = versions.len() - 1;
                while i > 0 && held(versions[i - 1].state()) == now {
                    i -= 1;
                }
                black_box(versions[i].generation())
            })
        },
    );
    group.finish();
}

fn diff(c: &mut Criterion) {
    let mut group = c.benchmark_group("history_diff");
    let (_, history) = history_of(10_000);
    let generations: Vec<u64> = history.versions().map(|v| v.generation()).collect();
    let last = generations.len() - 1;
    for from in [last - 10, 0] {
        let (a, b_) = (generations[from], generations[last]);
        // Ids handed out in order join one run: fewer changes than versions.
        let changes = history.diff(a, b_).unwrap().len();
        println!("versions {} apart: {changes} changes", last - from);
        group.bench_with_input(
            BenchmarkId::new("versions_apart", last - from),
            &from,
            |b, _| b.iter(|| black_box(history.diff(a, b_).unwrap())),
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = record, get, blame, diff
}
criterion_main!(benches);
