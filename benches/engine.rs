// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The range engine under the address allocator, measured side by side with
//! vm-allocator 0.1.4 and a plain `std::collections::BTreeMap<u64, u64>`
//! (start -> end) in one run:
//!
//! - `churn_*`: one allocation and its free at a random position, in a state
//!   of `n` pages at random page slots of a region twice as large (half the
//!   slots free). FirstMatch asks for the lowest fit at or above a random
//!   free slot (`with_min_address`), LastMatch for the highest fit ending at
//!   or below it (`with_max_address`), ExactMatch for the slot itself: each
//!   lands on that slot. The BTreeMap holds the same keys and inserts and
//!   removes the same key. 0.1.4 has no address bounds: only ExactMatch.
//! - `in_place_*`: one allocation and its free with no clone alive, in a
//!   state of `n` packed pages, for every policy (the states of
//!   `benches/allocators.rs`).
//! - `clone_then_*`: one allocation on a fresh clone of the packed state (a
//!   snapshot alive: ours copies the shared path, 0.1.4 edits a deep copy
//!   made outside the timing).
//! - `fill_first_match`, `clone`, `encode`, `decode`: up to 1M pages.
//! - `crc32c`: the checksum of the format over an encoded state, through the
//!   `crc` crate (what `src/format/frame.rs` uses) and through the
//!   hardware-accelerated `crc32c` crate, to size what the decode and
//!   encode times owe to it.
//!
//! Run with `cargo bench --bench engine`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};

mod common;

use common::{ours_with, upstream_first_match_fill, upstream_with, BASE, PAGE, SPACE};
use vm_allocator::{AddressAllocator, AllocPolicy, Constraint};

const SIZES: [u64; 4] = [1_000, 10_000, 100_000, 1_000_000];
/// Where 0.1.4 is measured on a fresh clone (a deep copy per iteration).
const CLONE_SIZES: [u64; 3] = [1_000, 10_000, 100_000];

#[path = "../tests/support/rng.rs"]
mod rng;

use rng::Rng;

/// Shuffles `items` in place (Fisher-Yates).
fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i as u64 + 1) as usize);
    }
}

/// `n` taken and `n` free page addresses, interleaved at random over `2n`
/// slots from `BASE`; both lists shuffled.
fn random_slots(n: u64) -> (Vec<u64>, Vec<u64>) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ n);
    let mut slots: Vec<u64> = (0..2 * n).map(|s| BASE + s * PAGE).collect();
    shuffle(&mut rng, &mut slots);
    let free = slots.split_off(n as usize);
    (slots, free)
}

fn ours_at(taken: &[u64]) -> AddressAllocator {
    let mut a = AddressAllocator::new(BASE, SPACE).unwrap();
    for &at in taken {
        a.allocate(PAGE, PAGE, AllocPolicy::ExactMatch(at)).unwrap();
    }
    a
}

fn upstream_at(taken: &[u64]) -> upstream::AddressAllocator {
    let mut a = upstream::AddressAllocator::new(BASE, SPACE).unwrap();
    for &at in taken {
        a.allocate(PAGE, PAGE, upstream::AllocPolicy::ExactMatch(at))
            .unwrap();
    }
    a
}

/// The positions of a shuffled list, round and round.
struct Cycle<'a> {
    items: &'a [u64],
    next: usize,
}

impl Cycle<'_> {
    fn new(items: &[u64]) -> Cycle<'_> {
        Cycle { items, next: 0 }
    }

    #[inline]
    fn take(&mut self) -> u64 {
        let x = self.items[self.next];
        self.next += 1;
        if self.next == self.items.len() {
            self.next = 0;
        }
        x
    }
}

/// A value built on first use.
struct Lazy<T, F: FnOnce() -> T> {
    value: std::cell::OnceCell<T>,
    init: std::cell::Cell<Option<F>>,
}

impl<T, F: FnOnce() -> T> Lazy<T, F> {
    fn new(init: F) -> Self {
        Lazy {
            value: std::cell::OnceCell::new(),
            init: std::cell::Cell::new(Some(init)),
        }
    }

    fn get(&self) -> &T {
        self.value
            .get_or_init(|| (self.init.take().expect("initialised once"))())
    }
}

/// The constraint that makes `policy` land on the free page at `at`.
#[inline]
fn landing_on(policy: &str, at: u64) -> Constraint {
    match policy {
        "first" => Constraint::new(PAGE, PAGE, AllocPolicy::FirstMatch)
            .unwrap()
            .with_min_address(at),
        "last" => Constraint::new(PAGE, PAGE, AllocPolicy::LastMatch)
            .unwrap()
            .with_max_address(at + (PAGE - 1)),
        _ => Constraint::new(PAGE, PAGE, AllocPolicy::ExactMatch(at)).unwrap(),
    }
}

fn churn(c: &mut Criterion) {
    for policy in ["first", "last", "exact"] {
        let mut group = c.benchmark_group(format!("churn_{policy}"));
        for n in SIZES {
            // States are built on first use, so that a filtered run builds
            // only what it measures.
            let slots = Lazy::new(|| random_slots(n));
            let mut ours = None;
            group.bench_with_input(BenchmarkId::new("ours", n), &n, |b, _| {
                let (taken, free) = slots.get();
                let ours = ours.get_or_insert_with(|| {
                    let mut ours = ours_at(taken);
                    // Every policy lands on the slot it is pointed at.
                    for &at in free.iter().take(100) {
                        let r = ours.allocate_with(landing_on(policy, at)).unwrap();
                        assert_eq!(r.start(), at);
                        ours.free(&r).unwrap();
                    }
                    ours
                });
                let mut positions = Cycle::new(free);
                b.iter(|| {
                    let at = positions.take();
                    let r = ours.allocate_with(landing_on(policy, at)).unwrap();
                    ours.free(black_box(&r)).unwrap();
                })
            });
            drop(ours);

            let mut map = None;
            group.bench_with_input(BenchmarkId::new("btreemap", n), &n, |b, _| {
                let (taken, free) = slots.get();
                let map = map.get_or_insert_with(|| {
                    taken
                        .iter()
                        .map(|&s| (s, s + PAGE - 1))
                        .collect::<BTreeMap<u64, u64>>()
                });
                let mut positions = Cycle::new(free);
                b.iter(|| {
                    let at = positions.take();
                    map.insert(at, at + (PAGE - 1));
                    black_box(map.remove(black_box(&at)));
                })
            });
            drop(map);

            if policy == "exact" {
                let mut up = None;
                group.bench_with_input(BenchmarkId::new("upstream", n), &n, |b, _| {
                    let (taken, free) = slots.get();
                    let up = up.get_or_insert_with(|| upstream_at(taken));
                    let mut positions = Cycle::new(free);
                    b.iter(|| {
                        let at = positions.take();
                        let r = up
                            .allocate(PAGE, PAGE, upstream::AllocPolicy::ExactMatch(at))
                            .unwrap();
                        up.free(black_box(&r)).unwrap();
                    })
                });
            }
        }
        group.finish();
    }
}

/// The packed-state policies: ours, 0.1.4's, and the name of the group.
fn packed_policies(n: u64) -> [(&'static str, AllocPolicy, upstream::AllocPolicy); 3] {
    let at = BASE + (n + 7) * PAGE;
    [
        (
            "first",
            AllocPolicy::FirstMatch,
            upstream::AllocPolicy::FirstMatch,
        ),
        (
            "last",
            AllocPolicy::LastMatch,
            upstream::AllocPolicy::LastMatch,
        ),
        (
            "exact",
            AllocPolicy::ExactMatch(at),
            upstream::AllocPolicy::ExactMatch(at),
        ),
    ]
}

/// The packed states of `benches/common`, built once per run on first use.
fn packed(n: u64) -> &'static (AddressAllocator, upstream::AddressAllocator) {
    static STATES: [OnceLock<(AddressAllocator, upstream::AddressAllocator)>; SIZES.len()] =
        [const { OnceLock::new() }; SIZES.len()];
    let i = SIZES.iter().position(|&m| m == n).expect("a measured size");
    STATES[i].get_or_init(|| (ours_with(n), upstream_with(n)))
}

fn in_place(c: &mut Criterion) {
    for which in 0..3 {
        let name = packed_policies(0)[which].0;
        let mut group = c.benchmark_group(format!("in_place_{name}"));
        for n in SIZES {
            let (_, ours_policy, up_policy) = packed_policies(n)[which];
            let mut ours = None;
            group.bench_with_input(BenchmarkId::new("ours", n), &n, |b, &n| {
                let ours = ours.get_or_insert_with(|| {
                    let mut ours = packed(n).0.clone();
                    // Unshare the path once, outside the timing.
                    let r = ours.allocate(PAGE, PAGE, ours_policy).unwrap();
                    ours.free(&r).unwrap();
                    ours
                });
                b.iter(|| {
                    let r = ours.allocate(PAGE, PAGE, ours_policy).unwrap();
                    ours.free(black_box(&r)).unwrap();
                })
            });
            drop(ours);
            // 0.1.4's FirstMatch walks every allocation: 2.5 ms at 100k.
            if name == "first" && n > 10_000 {
                continue;
            }
            let mut up = None;
            group.bench_with_input(BenchmarkId::new("upstream", n), &n, |b, &n| {
                let up = up.get_or_insert_with(|| packed(n).1.clone());
                b.iter(|| {
                    let r = up.allocate(PAGE, PAGE, up_policy).unwrap();
                    up.free(black_box(&r)).unwrap();
                })
            });
        }
        group.finish();
    }
}

fn clone_then_allocate(c: &mut Criterion) {
    for which in 0..3 {
        let name = packed_policies(0)[which].0;
        let mut group = c.benchmark_group(format!("clone_then_{name}"));
        for n in SIZES {
            let (_, ours_policy, up_policy) = packed_policies(n)[which];
            group.bench_with_input(BenchmarkId::new("ours", n), &n, |b, &n| {
                let ours = &packed(n).0;
                b.iter_batched_ref(
                    || ours.clone(),
                    |a| black_box(a.allocate(PAGE, PAGE, ours_policy).unwrap()),
                    BatchSize::PerIteration,
                )
            });
            // A deep copy per iteration: 0.1.4 is measured up to 100k (and
            // its FirstMatch up to 10k).
            if !CLONE_SIZES.contains(&n) || (name == "first" && n > 10_000) {
                continue;
            }
            group.bench_with_input(BenchmarkId::new("upstream", n), &n, |b, &n| {
                let up = &packed(n).1;
                b.iter_batched_ref(
                    || up.clone(),
                    |a| black_box(a.allocate(PAGE, PAGE, up_policy).unwrap()),
                    BatchSize::PerIteration,
                )
            });
        }
        group.finish();
    }
}

fn fill(c: &mut Criterion) {
    let mut group = c.benchmark_group("fill_first_match");
    group.sample_size(10);
    for n in SIZES {
        group.bench_with_input(BenchmarkId::new("ours", n), &n, |b, &n| {
            b.iter_with_large_drop(|| ours_with(n))
        });
        group.bench_with_input(BenchmarkId::new("btreemap", n), &n, |b, &n| {
            b.iter_with_large_drop(|| {
                let mut map = BTreeMap::new();
                for i in 0..n {
                    let at = BASE + i * PAGE;
                    map.insert(at, at + (PAGE - 1));
                }
                map
            })
        });
        // 0.1.4's FirstMatch is O(n): 0.7 s for 10k, minutes for 100k.
        if n <= 1_000 {
            group.bench_with_input(BenchmarkId::new("upstream", n), &n, |b, &n| {
                b.iter_with_large_drop(|| upstream_first_match_fill(n))
            });
        }
    }
    group.finish();
}

fn snapshot(c: &mut Criterion) {
    let mut group = c.benchmark_group("clone");
    for n in SIZES {
        group.bench_with_input(BenchmarkId::new("ours", n), &n, |b, &n| {
            let ours = &packed(n).0;
            b.iter_with_large_drop(|| black_box(ours).clone())
        });
        if CLONE_SIZES.contains(&n) {
            group.bench_with_input(BenchmarkId::new("upstream", n), &n, |b, &n| {
                let up = &packed(n).1;
                b.iter_with_large_drop(|| black_box(up).clone())
            });
        }
    }
    group.finish();
}

fn encode_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for n in SIZES {
        group.throughput(Throughput::Elements(n));
        let mut reported = false;
        group.bench_with_input(BenchmarkId::new("ours", n), &n, |b, &n| {
            let (ours, up) = packed(n);
            if !std::mem::replace(&mut reported, true) {
                let (our_len, up_len) = (ours.to_bytes().len(), bincode::serialize(up).unwrap().len());
                eprintln!(
                    "size at n = {n}: ours {our_len} B = {:.2} B/allocation, 0.1.4+bincode {up_len} B = {:.2} B/allocation",
                    our_len as f64 / n as f64,
                    up_len as f64 / n as f64,
                );
            }
            b.iter(|| black_box(ours.to_bytes()))
        });
        group.bench_with_input(BenchmarkId::new("upstream_bincode", n), &n, |b, &n| {
            let up = &packed(n).1;
            b.iter(|| black_box(bincode::serialize(up).unwrap()))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("decode");
    for n in SIZES {
        group.throughput(Throughput::Elements(n));
        group.bench_with_input(BenchmarkId::new("ours_validated", n), &n, |b, &n| {
            let ours = &packed(n).0;
            let bytes = ours.to_bytes();
            assert_eq!(&AddressAllocator::from_bytes(&bytes).unwrap(), ours);
            b.iter_with_large_drop(|| AddressAllocator::from_bytes(black_box(&bytes)).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("upstream_bincode", n), &n, |b, &n| {
            let bytes = bincode::serialize(&packed(n).1).unwrap();
            b.iter_with_large_drop(|| {
                bincode::deserialize::<upstream::AddressAllocator>(black_box(&bytes)).unwrap()
            })
        });
    }
    group.finish();
}

/// The format's checksum over an encoded state: the `crc` crate as
/// `src/format/frame.rs` configures it, and the `crc32c` crate (SSE 4.2 or
/// ARMv8 CRC instructions, detected at run time, software otherwise).
fn checksum(c: &mut Criterion) {
    static TABLE16: crc::Crc<u32, crc::Table<16>> =
        crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);
    let mut group = c.benchmark_group("crc32c");
    for n in SIZES {
        let bytes = Lazy::new(|| {
            let bytes = packed(n).0.to_bytes();
            assert_eq!(TABLE16.checksum(&bytes), crc32c::crc32c(&bytes));
            bytes
        });
        group.throughput(Throughput::Bytes(3 * n));
        group.bench_with_input(BenchmarkId::new("crc_table16", n), &n, |b, _| {
            let bytes = bytes.get();
            b.iter(|| TABLE16.checksum(black_box(bytes)))
        });
        group.bench_with_input(BenchmarkId::new("crc32c_hw", n), &n, |b, _| {
            let bytes = bytes.get();
            b.iter(|| crc32c::crc32c(black_box(bytes)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    targets = churn, in_place, clone_then_allocate, fill, snapshot, encode_decode, checksum
}
criterion_main!(benches);
