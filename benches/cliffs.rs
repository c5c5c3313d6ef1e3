// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! No cliffs: every address-edit pattern in every layout, side by side
//! with vm-allocator 0.1.4 (where it finishes) and a std `BTreeMap<u64,
//! u64>` inserting and removing the same key, in one run.
//!
//! Each measurement is one allocation and its free, so the state is the
//! same before every iteration. Rows: operation x layout x n.
//!
//! Operations (size and alignment, policy, window):
//! - `first_page`, `last_page`: a 4 KiB page, FirstMatch / LastMatch;
//! - `exact_page`: a 4 KiB page, ExactMatch at a free page of the layout
//!   (the middle of the huge gap in `huge_gap`);
//! - `first_gib`, `last_gib`: 1 GiB at 1 GiB alignment;
//! - `first_window`, `last_window`: a page, FirstMatch at or above the
//!   allocation a quarter of the way in / LastMatch below the one three
//!   quarters in (`Constraint` bounds).
//!
//! Layouts, in a space of 2^48 from 0 (`gib_blocks`: 2^62):
//! - `packed`: `n` pages packed from 4 GiB;
//! - `every_other`: `n` pages at every other page from 4 GiB, so one huge
//!   free region above them (the setup);
//! - `huge_gap`: `n / 2` pages packed from 4 GiB and `n / 2` packed up to
//!   the end of the space, so the huge gap lies inside the tree;
//! - `gib_blocks`: `n` blocks of 1 GiB at every other GiB.
//!
//! Competitors, benched one after the other for each row: `ours`,
//! `btreemap` (insert + remove of the start our allocation gets) and
//! `upstream` (0.1.4; no windows, and its First/LastMatch are O(n): run up
//! to 100k). `yardstick/btreemap_random`: a `BTreeMap` of `n` random page
//! keys, insert + remove of random keys, the yardstick of issue 16.
//!
//! `scripts/cliff_table.py` runs this several times and prints the table
//! of BENCHMARKS.md from the minimum of the runs.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

use vm_allocator::{AddressAllocator, AllocPolicy, Constraint, RangeInclusive};

#[path = "../tests/support/rng.rs"]
mod rng;

const PAGE: u64 = 0x1000;
const GIB: u64 = 1 << 30;
const BASE: u64 = 1 << 32;
const SIZES: [u64; 3] = [1_000, 100_000, 1_000_000];
/// Largest n at which 0.1.4 is measured (its First/LastMatch walk the
/// tree, and building a million nodes takes seconds).
const UPSTREAM_MAX: u64 = 100_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    Packed,
    EveryOther,
    HugeGap,
    GibBlocks,
}

const LAYOUTS: [Layout; 4] = [
    Layout::Packed,
    Layout::EveryOther,
    Layout::HugeGap,
    Layout::GibBlocks,
];

impl Layout {
    fn name(self) -> &'static str {
        match self {
            Layout::Packed => "packed",
            Layout::EveryOther => "every_other",
            Layout::HugeGap => "huge_gap",
            Layout::GibBlocks => "gib_blocks",
        }
    }

    /// The last value of the space (which starts at 0).
    fn space_end(self) -> u64 {
        match self {
            Layout::GibBlocks => (1 << 62) - 1,
            _ => (1 << 48) - 1,
        }
    }

    /// The allocations, in increasing order.
    fn ranges(self, n: u64) -> Vec<(u64, u64)> {
        match self {
            Layout::Packed => (0..n).map(|i| page(BASE + i * PAGE)).collect(),
            Layout::EveryOther => (0..n).map(|i| page(BASE + 2 * i * PAGE)).collect(),
            Layout::HugeGap => {
                let low = n / 2;
                let top = self.space_end() + 1 - (n - low) * PAGE;
                (0..low)
                    .map(|i| page(BASE + i * PAGE))
                    .chain((0..n - low).map(|i| page(top + i * PAGE)))
                    .collect()
            }
            Layout::GibBlocks => (0..n)
                .map(|i| {
                    let start = BASE + 2 * i * GIB;
                    (start, start + GIB - 1)
                })
                .collect(),
        }
    }

    /// A free page for ExactMatch: in the middle of the allocations, or of
    /// the huge gap, or right after packed ones.
    fn exact_at(self, n: u64) -> u64 {
        match self {
            Layout::Packed => BASE + (n + 7) * PAGE,
            Layout::EveryOther => BASE + (2 * (n / 2) + 1) * PAGE,
            Layout::HugeGap => {
                let low_end = BASE + (n / 2) * PAGE;
                let top = self.space_end() + 1 - (n - n / 2) * PAGE;
                (low_end + (top - low_end) / 2) & !(PAGE - 1)
            }
            Layout::GibBlocks => BASE + (2 * (n / 2) + 1) * GIB,
        }
    }

    /// The start of the allocation at `fraction` of them (a window
    /// bound).
    fn at(self, n: u64, fraction: f64) -> u64 {
        let ranges = self.ranges(n);
        ranges[(ranges.len() as f64 * fraction) as usize].0
    }
}

fn page(start: u64) -> (u64, u64) {
    (start, start + PAGE - 1)
}

#[derive(Clone, Copy, Debug)]
enum Op {
    FirstPage,
    LastPage,
    ExactPage,
    FirstGib,
    LastGib,
    FirstWindow,
    LastWindow,
}

const OPS: [Op; 7] = [
    Op::FirstPage,
    Op::LastPage,
    Op::ExactPage,
    Op::FirstGib,
    Op::LastGib,
    Op::FirstWindow,
    Op::LastWindow,
];

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::FirstPage => "first_page",
            Op::LastPage => "last_page",
            Op::ExactPage => "exact_page",
            Op::FirstGib => "first_gib",
            Op::LastGib => "last_gib",
            Op::FirstWindow => "first_window",
            Op::LastWindow => "last_window",
        }
    }

    fn constraint(self, layout: Layout, n: u64) -> Constraint {
        let c = |size, align, policy| Constraint::new(size, align, policy).unwrap();
        match self {
            Op::FirstPage => c(PAGE, PAGE, AllocPolicy::FirstMatch),
            Op::LastPage => c(PAGE, PAGE, AllocPolicy::LastMatch),
            Op::ExactPage => c(PAGE, PAGE, AllocPolicy::ExactMatch(layout.exact_at(n))),
            Op::FirstGib => c(GIB, GIB, AllocPolicy::FirstMatch),
            Op::LastGib => c(GIB, GIB, AllocPolicy::LastMatch),
            Op::FirstWindow => {
                c(PAGE, PAGE, AllocPolicy::FirstMatch).with_min_address(layout.at(n, 0.25))
            }
            Op::LastWindow => {
                c(PAGE, PAGE, AllocPolicy::LastMatch).with_max_address(layout.at(n, 0.75) - 1)
            }
        }
    }

    /// 0.1.4's request, if it has one (it has no windows).
    fn upstream(self, layout: Layout, n: u64) -> Option<(u64, u64, upstream::AllocPolicy)> {
        use upstream::AllocPolicy as P;
        Some(match self {
            Op::FirstPage => (PAGE, PAGE, P::FirstMatch),
            Op::LastPage => (PAGE, PAGE, P::LastMatch),
            Op::ExactPage => (PAGE, PAGE, P::ExactMatch(layout.exact_at(n))),
            Op::FirstGib => (GIB, GIB, P::FirstMatch),
            Op::LastGib => (GIB, GIB, P::LastMatch),
            Op::FirstWindow | Op::LastWindow => return None,
        })
    }
}

/// The three competitors' states of one layout and size, built on first
/// use and kept for every operation.
struct States {
    ours: AddressAllocator,
    map: BTreeMap<u64, u64>,
    upstream: Option<upstream::AddressAllocator>,
}

fn states(layout: Layout, n: u64) -> &'static States {
    static STATES: [[OnceLock<States>; SIZES.len()]; LAYOUTS.len()] =
        [const { [const { OnceLock::new() }; SIZES.len()] }; LAYOUTS.len()];
    let l = LAYOUTS.iter().position(|&x| x == layout).unwrap();
    let s = SIZES.iter().position(|&x| x == n).unwrap();
    STATES[l][s].get_or_init(|| {
        let ranges = layout.ranges(n);
        let space = RangeInclusive::new(0, layout.space_end()).unwrap();
        let ours = AddressAllocator::from_allocations(
            space,
            ranges
                .iter()
                .map(|&(a, b)| RangeInclusive::new(a, b).unwrap()),
        )
        .unwrap();
        let map = ranges.iter().copied().collect();
        let upstream = (n <= UPSTREAM_MAX).then(|| {
            let mut up = upstream::AddressAllocator::new(0, layout.space_end() + 1).unwrap();
            for &(a, b) in &ranges {
                up.allocate(b - a + 1, PAGE, upstream::AllocPolicy::ExactMatch(a))
                    .unwrap();
            }
            up
        });
        States {
            ours,
            map,
            upstream,
        }
    })
}

fn cliffs(c: &mut Criterion) {
    for op in OPS {
        let mut group = c.benchmark_group(format!("cliff_{}", op.name()));
        for n in SIZES {
            for layout in LAYOUTS {
                let constraint = op.constraint(layout, n);
                // Ours, on a private copy (unshared on the first edit,
                // outside the timing).
                let mut ours = states(layout, n).ours.clone();
                let landed = ours
                    .allocate_with(constraint)
                    .unwrap_or_else(|e| panic!("{} in {} at {n}: {e}", op.name(), layout.name()));
                ours.free(&landed).unwrap();
                group.bench_function(
                    BenchmarkId::new(format!("ours_{}", layout.name()), n),
                    |b| {
                        b.iter(|| {
                            let r = ours.allocate_with(black_box(constraint)).unwrap();
                            ours.free(black_box(&r)).unwrap();
                        })
                    },
                );
                drop(ours);

                // The map, inserting and removing the key ours got.
                let mut map = states(layout, n).map.clone();
                let (key, end) = (landed.start(), landed.end());
                group.bench_function(
                    BenchmarkId::new(format!("btreemap_{}", layout.name()), n),
                    |b| {
                        b.iter(|| {
                            map.insert(black_box(key), end);
                            black_box(map.remove(black_box(&key)));
                        })
                    },
                );
                drop(map);

                let Some((size, align, policy)) = op.upstream(layout, n) else {
                    continue;
                };
                let Some(up) = &states(layout, n).upstream else {
                    continue;
                };
                let mut up = up.clone();
                // 0.1.4 must land where ours does to be compared.
                let Ok(r) = up.allocate(size, align, policy) else {
                    eprintln!("0.1.4 refuses {} in {} at {n}", op.name(), layout.name());
                    continue;
                };
                assert_eq!(
                    (r.start(), r.end()),
                    (landed.start(), landed.end()),
                    "{} {} {n}",
                    op.name(),
                    layout.name()
                );
                up.free(&r).unwrap();
                group.bench_function(
                    BenchmarkId::new(format!("upstream_{}", layout.name()), n),
                    |b| {
                        b.iter(|| {
                            let r = up.allocate(size, align, policy).unwrap();
                            up.free(black_box(&r)).unwrap();
                        })
                    },
                );
            }
        }
        group.finish();
    }
}

/// Issue 16's yardstick: insert + remove of random keys in a `BTreeMap`
/// of `n` keys at random page slots of a region twice as large.
fn yardstick(c: &mut Criterion) {
    let mut group = c.benchmark_group("cliff_yardstick");
    for n in SIZES {
        let mut rng = rng::Rng(0x5eed ^ n);
        let mut slots: Vec<u64> = (0..2 * n).map(|s| BASE + s * PAGE).collect();
        for i in (1..slots.len()).rev() {
            slots.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let free = slots.split_off(n as usize);
        let mut map: BTreeMap<u64, u64> = slots.iter().map(|&s| (s, s + PAGE - 1)).collect();
        let mut next = 0;
        group.bench_function(BenchmarkId::new("btreemap_random", n), |b| {
            b.iter(|| {
                let at = free[next];
                next = (next + 1) % free.len();
                map.insert(at, at + PAGE - 1);
                black_box(map.remove(black_box(&at)));
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(400))
        .sample_size(10);
    targets = yardstick, cliffs
}
criterion_main!(benches);
