// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Model tests of the span tree against a `BTreeMap` of spans.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::{Fit, Span, SpanTree};

/// The obviously-correct reference: start -> end.
#[derive(Clone, Default)]
struct Model(BTreeMap<u64, u64>);

impl Model {
    fn overlaps(&self, s: Span) -> bool {
        self.0.iter().any(|(&a, &b)| a <= s.end && s.start <= b)
    }
    /// Range-set fill: add [a, b] and merge touching spans.
    fn fill(&mut self, a: u64, b: u64) {
        let (mut a, mut b) = (a, b);
        if let Some((&s, &e)) = self.0.range(..a).next_back() {
            if e + 1 == a {
                self.0.remove(&s);
                a = s;
            }
        }
        if let Some(&e) = self.0.get(&(b + 1)) {
            self.0.remove(&(b + 1));
            b = e;
        }
        self.0.insert(a, b);
    }
    fn floor(&self, x: u64) -> Option<Span> {
        self.0
            .range(..=x)
            .next_back()
            .map(|(&a, &b)| Span::new(a, b))
    }
    fn is_free(&self, x: u64) -> bool {
        !self.0.iter().any(|(&a, &b)| a <= x && x <= b)
    }
    fn run_free(&self, start: u64, size: u64) -> bool {
        (start..start + size).all(|x| self.is_free(x))
    }
    fn first_fit(&self, f: &Fit) -> Option<u64> {
        let align = 1u64 << f.align_log2;
        (f.lo..=f.hi)
            .filter(|x| x % align == 0 && x + f.size - 1 <= f.hi)
            .find(|&x| self.run_free(x, f.size))
    }
    fn last_fit(&self, f: &Fit) -> Option<u64> {
        let align = 1u64 << f.align_log2;
        (f.lo..=f.hi)
            .rev()
            .filter(|x| x % align == 0 && x + f.size - 1 <= f.hi)
            .find(|&x| self.run_free(x, f.size))
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u64, u64),
    Remove(usize),
    Replace(usize, u64, u64),
    Snapshot,
    Restore(usize),
    Fit {
        size: u64,
        align_log2: u32,
        lo: u64,
        hi: u64,
    },
    Floor(u64),
    Fill(u64, u64),
    Carve(u64, u64, u64),
}

const SPACE: u64 = 300;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..SPACE, 0u64..8).prop_map(|(a, l)| Op::Insert(a, (a + l).min(SPACE - 1))),
        3 => any::<usize>().prop_map(Op::Remove),
        2 => (any::<usize>(), 0u64..4, 0u64..4).prop_map(|(i, a, b)| Op::Replace(i, a, b)),
        1 => Just(Op::Snapshot),
        1 => any::<usize>().prop_map(Op::Restore),
        4 => (1u64..24, 0u32..6, 0..SPACE, 0..SPACE).prop_map(|(size, align_log2, a, b)| Op::Fit {
            size,
            align_log2,
            lo: a.min(b),
            hi: a.max(b),
        }),
        2 => (0..SPACE).prop_map(Op::Floor),
        4 => (0..SPACE, 0u64..6).prop_map(|(a, l)| Op::Fill(a, (a + l).min(SPACE - 1))),
        3 => (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(i, a, b)| Op::Carve(i, a, b)),
    ]
}

fn assert_same(tree: &SpanTree, model: &Model) {
    tree.check_invariants().unwrap();
    let spans: Vec<(u64, u64)> = tree.iter().map(|s| (s.start, s.end)).collect();
    let want: Vec<(u64, u64)> = model.0.iter().map(|(&a, &b)| (a, b)).collect();
    assert_eq!(spans, want);
    assert_eq!(tree.len(), want.len() as u64);
    assert_eq!(
        tree.covered(),
        want.iter().map(|(a, b)| b - a + 1).sum::<u64>()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn tree_matches_model(ops in proptest::collection::vec(op(), 1..400)) {
        let mut tree = SpanTree::new();
        let mut model = Model::default();
        let mut snapshots: Vec<(SpanTree, Model)> = Vec::new();
        for op in ops {
            match op {
                Op::Insert(a, b) => {
                    let span = Span::new(a, b);
                    prop_assert_eq!(tree.overlap(span).is_some(), model.overlaps(span));
                    if !model.overlaps(span) {
                        tree.insert(span);
                        model.0.insert(a, b);
                    }
                }
                Op::Remove(i) => {
                    if !model.0.is_empty() {
                        let (&a, _) = model.0.iter().nth(i % model.0.len()).unwrap();
                        tree.remove(a);
                        model.0.remove(&a);
                    }
                }
                Op::Replace(i, grow_left, grow_right) => {
                    if !model.0.is_empty() {
                        let (&a, &b) = model.0.iter().nth(i % model.0.len()).unwrap();
                        let mut rest = model.clone();
                        rest.0.remove(&a);
                        let new = Span::new(a.saturating_sub(grow_left), (b + grow_right).min(SPACE));
                        if !rest.overlaps(new) {
                            tree.replace(a, new);
                            rest.0.insert(new.start, new.end);
                            model = rest;
                        }
                    }
                }
                Op::Snapshot => snapshots.push((tree.clone(), model.clone())),
                Op::Restore(i) => {
                    if !snapshots.is_empty() {
                        let (t, m) = snapshots[i % snapshots.len()].clone();
                        tree = t;
                        model = m;
                    }
                }
                Op::Fit { size, align_log2, lo, hi } => {
                    let fit = Fit { size, align_log2, lo, hi };
                    prop_assert_eq!(tree.first_fit(&fit), model.first_fit(&fit), "first {:?}", fit);
                    prop_assert_eq!(tree.last_fit(&fit), model.last_fit(&fit), "last {:?}", fit);
                }
                Op::Fill(a, b) => {
                    if !model.overlaps(Span::new(a, b)) {
                        tree.fill(a, b);
                        model.fill(a, b);
                    }
                }
                Op::Carve(i, x, y) => {
                    if !model.0.is_empty() {
                        let (&s, &e) = model.0.iter().nth((i % model.0.len() as u64) as usize).unwrap();
                        let len = e - s + 1;
                        let (p, q) = (s + x % len, s + y % len);
                        let (first, last) = (p.min(q), p.max(q));
                        tree.carve(Span::new(s, e), first, last);
                        model.0.remove(&s);
                        if first > s {
                            model.0.insert(s, first - 1);
                        }
                        if last < e {
                            model.0.insert(last + 1, e);
                        }
                    }
                }
                Op::Floor(x) => {
                    prop_assert_eq!(tree.floor(x), model.floor(x));
                    prop_assert_eq!(tree.containing(x), model.floor(x).filter(|s| s.end >= x));
                }
            }
            assert_same(&tree, &model);
            // Snapshots never change when the live tree does.
            for (t, m) in &snapshots {
                assert_same(t, m);
            }
        }
    }

    #[test]
    fn bulk_build_matches_incremental(starts in proptest::collection::btree_set(0u64..5000, 0..300)) {
        let spans: Vec<Span> = starts.iter().map(|&a| Span::new(a * 3, a * 3 + 1)).collect();
        let built = SpanTree::from_sorted(spans.iter().copied());
        built.check_invariants().unwrap();
        let mut grown = SpanTree::new();
        for &s in &spans {
            grown.insert(s);
        }
        prop_assert!(built.iter().eq(grown.iter()));
        prop_assert_eq!(built.len(), spans.len() as u64);
    }
}

#[test]
fn ascending_and_descending_fills_keep_nodes_full() {
    let mut up = SpanTree::new();
    let mut down = SpanTree::new();
    for i in 0..1000u64 {
        up.insert(Span::new(i * 2, i * 2));
        down.insert(Span::new(10_000 - i * 2, 10_000 - i * 2));
        up.check_invariants().unwrap();
        down.check_invariants().unwrap();
    }
    for i in (0..1000u64).step_by(3) {
        up.remove(i * 2);
        up.check_invariants().unwrap();
    }
}

#[test]
fn fits_at_the_ends_of_the_u64_space() {
    let mut tree = SpanTree::new();
    let all = |size, align_log2| Fit {
        size,
        align_log2,
        lo: 0,
        hi: u64::MAX,
    };
    assert_eq!(tree.first_fit(&all(1, 0)), Some(0));
    assert_eq!(tree.last_fit(&all(1, 0)), Some(u64::MAX));
    assert_eq!(tree.last_fit(&all(1 << 63, 63)), Some(1 << 63));
    tree.insert(Span::new(u64::MAX - 1, u64::MAX));
    tree.insert(Span::new(0, 0));
    assert_eq!(tree.last_fit(&all(1, 0)), Some(u64::MAX - 2));
    assert_eq!(tree.first_fit(&all(1, 0)), Some(1));
    assert_eq!(
        tree.first_fit(&all(1 << 63, 63)),
        Some(1 << 63).filter(|_| false).or(None)
    );
    tree.remove(u64::MAX - 1);
    assert_eq!(tree.first_fit(&all(1 << 63, 63)), Some(1 << 63));
    tree.check_invariants().unwrap();
}

#[test]
fn misaligned_gaps_do_not_hide_the_lowest_aligned_fit() {
    // Thousands of page-sized gaps that start half a page off, then one
    // aligned gap near the end: the search must find it without a scan.
    let mut tree = SpanTree::new();
    let page = 0x1000u64;
    for i in 0..5000u64 {
        let base = i * 4 * page;
        tree.insert(Span::new(base, base + page + page / 2 - 1));
        tree.insert(Span::new(base + 2 * page + page / 2, base + 4 * page - 1));
    }
    let fit = Fit {
        size: page,
        align_log2: 12,
        lo: 0,
        hi: 5000 * 4 * page - 1,
    };
    assert_eq!(tree.first_fit(&fit), None);
    tree.remove(4000 * 4 * page + 2 * page + page / 2);
    tree.insert(Span::new(
        4000 * 4 * page + 3 * page,
        4000 * 4 * page + 4 * page - 1,
    ));
    assert_eq!(tree.first_fit(&fit), Some(4000 * 4 * page + 2 * page));
    assert_eq!(tree.last_fit(&fit), Some(4000 * 4 * page + 2 * page));
    tree.check_invariants().unwrap();
}
