// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Journals: appending a one-change record to a journal of a state of
//! 100k allocations (without the flush, which is the disk's time, not
//! ours), and opening a journal of 10,000 records over such a state (and
//! reading it back as a `History` of its 10,001 versions).
//! Run with `cargo bench --bench journal`.
//!
//! The states are those of `benches/common/mod.rs` (100k packed pages),
//! and a set of Firecracker's six pools with 100k allocations spread over
//! them, each owned by one of 16 devices (`benches/versioned.rs`). Each
//! record is the page (or id) one allocation or one free takes: the state
//! keeps its size.

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use vm_allocator::format::{self, JournalWriter};
use vm_allocator::layout::x86_64 as fc;
use vm_allocator::{
    AddressAllocator, AllocPolicy, History, Journal, Owner, ResourceSet, Retention, Versioned,
};

use common::{ours_with, PAGE};

const N: u64 = 100_000;
const RECORDS: u64 = 10_000;

/// Firecracker's six pools with `n` allocations, each owned by one of 16
/// devices.
fn set_with(n: u64) -> ResourceSet {
    common::set_with(n, true)
}

/// One change: a page allocated (even steps) or freed again (odd steps).
fn page_change(a: &mut AddressAllocator, step: u64) {
    if step.is_multiple_of(2) {
        a.allocate(PAGE, PAGE, AllocPolicy::FirstMatch).unwrap();
    } else {
        let first = a.iter().next().unwrap();
        a.free(&first).unwrap();
    }
}

/// One change of the set: an owned page of MMIO64 allocated, or freed.
fn set_change(set: &mut ResourceSet, step: u64) {
    let nvme = Owner::new("nvme0").unwrap();
    if step.is_multiple_of(2) {
        set.owned_by(&nvme)
            .allocate(fc::MMIO64, PAGE, PAGE, AllocPolicy::LastMatch)
            .unwrap();
    } else {
        let last = set
            .addresses(fc::MMIO64)
            .unwrap()
            .iter()
            .next_back()
            .unwrap();
        set.free(fc::MMIO64, &last).unwrap();
    }
}

/// Times `append` of states that `change` makes one change apart, the
/// change itself untimed.
fn time_appends<S: Versioned>(
    iters: u64,
    state: &mut S,
    change: fn(&mut S, u64),
    mut append: impl FnMut(&S),
) -> Duration {
    let mut total = Duration::ZERO;
    for i in 0..iters {
        change(state, i);
        let start = Instant::now();
        append(black_box(state));
        total += start.elapsed();
    }
    total
}

fn append(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("journal_append_one_change_100k");

    // The bytes of one record, without I/O.
    let mut pages = ours_with(N);
    let (mut writer, _) = JournalWriter::start(&pages, 1);
    let mut out = Vec::new();
    group.bench_function("address/encode", |b| {
        b.iter_custom(|iters| {
            time_appends(iters, &mut pages, page_change, |s| {
                out.clear();
                writer.append_to(s, None, &mut out).unwrap();
            })
        })
    });
    page_change(&mut pages, 0);
    out.clear();
    writer.append_to(&pages, None, &mut out).unwrap();
    eprintln!("address: a one-change record takes {} bytes", out.len());

    // To the file: one write, no flush.
    let mut pages = ours_with(N);
    let mut journal = Journal::create(dir.path().join("pages"), &pages).unwrap();
    group.bench_function("address/append_buffered", |b| {
        b.iter_custom(|iters| {
            time_appends(iters, &mut pages, page_change, |s| {
                journal.append_buffered(s).unwrap()
            })
        })
    });

    let mut set = set_with(N);
    let (mut writer, _) = JournalWriter::start(&set, 1);
    group.bench_function("set/encode", |b| {
        b.iter_custom(|iters| {
            time_appends(iters, &mut set, set_change, |s| {
                out.clear();
                writer.append_to(s, None, &mut out).unwrap();
            })
        })
    });
    set_change(&mut set, 0);
    out.clear();
    writer
        .append_to(&set, Some("hot-plug nvme0"), &mut out)
        .unwrap();
    eprintln!(
        "set: a one-change record with a label takes {} bytes",
        out.len()
    );

    let mut set = set_with(N);
    let mut journal = Journal::create(dir.path().join("set"), &set).unwrap();
    group.bench_function("set/append_buffered", |b| {
        b.iter_custom(|iters| {
            time_appends(iters, &mut set, set_change, |s| {
                journal.append_buffered(s).unwrap()
            })
        })
    });
    // The yardstick: what a VMM without a journal writes for every change.
    let pages = ours_with(N);
    group.bench_function("address/to_bytes_of_the_whole_state", |b| {
        b.iter(|| black_box(&pages).to_bytes())
    });
    group.finish();
}

/// A journal file of `RECORDS` one-change records over `base`.
fn journal_file<S: Versioned>(path: &std::path::Path, mut base: S, change: fn(&mut S, u64)) -> u64 {
    let mut journal = Journal::create(path, &base).unwrap();
    for i in 0..RECORDS {
        // Allocate twice, free once: the state grows slowly.
        change(
            &mut base,
            i / 3 * 2 + u64::from(i % 3 != 2) - u64::from(i % 3 == 2),
        );
        journal.append_buffered(&base).unwrap();
    }
    journal.sync().unwrap();
    journal.len()
}

fn open(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("journal_open_10k_records_over_100k");
    group.sample_size(20);

    let pages = dir.path().join("pages");
    let len = journal_file(&pages, ours_with(N), page_change);
    eprintln!("address: {RECORDS} records over {N} allocations: {len} bytes");
    group.bench_function("address/open", |b| {
        b.iter(|| Journal::<AddressAllocator>::open(&pages).unwrap())
    });
    let bytes = std::fs::read(&pages).unwrap();
    group.bench_function("address/replay", |b| {
        b.iter(|| {
            format::replay::<AddressAllocator>(black_box(&bytes))
                .unwrap()
                .finish()
        })
    });
    group.bench_function("address/history_from_journal_bytes", |b| {
        b.iter(|| {
            History::<AddressAllocator>::from_journal_bytes(
                black_box(&bytes),
                Retention::unbounded(),
            )
            .unwrap()
        })
    });
    let (history, _) =
        History::<AddressAllocator>::from_journal_bytes(&bytes, Retention::unbounded()).unwrap();
    eprintln!(
        "address: the history of {} versions retains {} bytes",
        history.versions().len(),
        history.retained_bytes()
    );

    let set = dir.path().join("set");
    let len = journal_file(&set, set_with(N), set_change);
    eprintln!("set: {RECORDS} records over {N} allocations: {len} bytes");
    group.bench_function("set/open", |b| {
        b.iter(|| Journal::<ResourceSet>::open(&set).unwrap())
    });
    let bytes = std::fs::read(&set).unwrap();
    group.bench_function("set/history_from_journal_bytes", |b| {
        b.iter(|| {
            History::<ResourceSet>::from_journal_bytes(black_box(&bytes), Retention::unbounded())
                .unwrap()
        })
    });
    let (history, _) =
        History::<ResourceSet>::from_journal_bytes(&bytes, Retention::unbounded()).unwrap();
    eprintln!(
        "set: the history of {} versions retains {} bytes",
        history.versions().len(),
        history.retained_bytes()
    );
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = append, open
}
criterion_main!(benches);
