// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Model tests of the span tree against a `BTreeMap` of spans.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::{Fit, Side, Span, SpanTree, SpanTreeBuilder};

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

proptest! {
    /// Walks from both ends, interleaved as `steps` says, over the whole
    /// tree and over the spans overlapping a range, against a sorted list.
    #[test]
    fn iteration_from_both_ends_and_ranges_match_a_sorted_list(
        starts in proptest::collection::btree_set(0u64..3000, 0..600),
        steps in proptest::collection::vec(any::<bool>(), 0..700),
        first in 0u64..9100,
        len in 0u64..3000,
    ) {
        let spans: Vec<Span> = starts.iter().map(|&a| Span::new(a * 3, a * 3 + 1)).collect();
        let mut tree = SpanTree::new();
        for &s in &spans {
            tree.insert(s);
        }
        let last = first + len;
        let expected: Vec<Span> = spans.iter().copied().filter(|s| s.end >= first && s.start <= last).collect();
        for (mut walk, want) in [
            (tree.iter(), spans.clone()),
            (tree.iter_overlapping(first, last), expected.clone()),
        ] {
            let (mut front, mut back) = (0, want.len());
            for &from_back in &steps {
                prop_assert_eq!(walk.len(), back - front);
                let got = if from_back { walk.next_back() } else { walk.next() };
                let expect = if front == back {
                    None
                } else if from_back {
                    back -= 1;
                    Some(want[back])
                } else {
                    front += 1;
                    Some(want[front - 1])
                };
                prop_assert_eq!(got, expect);
            }
        }
        let tagged: Vec<Span> = tree.iter_tagged_overlapping(first, last).rev().map(|(s, _)| s).collect();
        prop_assert!(tagged.iter().rev().eq(expected.iter()));
        prop_assert_eq!(tree.iter_overlapping(last, first).count(), usize::from(first == last) * expected.len());
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

/// Spans with owners: start -> (end, owner number).
type TaggedModel = BTreeMap<u64, (u64, Option<u8>)>;

fn owner(n: u8) -> crate::Owner {
    // A fresh handle each time: equal names must compare equal whether or
    // not they share a pointer.
    crate::Owner::new(["net0", "blk0", "gpu", "pci 0000:00:03.0"][usize::from(n % 4)]).unwrap()
}

fn tagged_entries(tree: &SpanTree) -> Vec<(u64, u64, Option<alloc::string::String>)> {
    tree.iter_tagged()
        .map(|(s, t)| {
            (
                s.start,
                s.end,
                t.map(|o| alloc::string::String::from(o.as_str())),
            )
        })
        .collect()
}

fn model_entries(model: &TaggedModel) -> Vec<(u64, u64, Option<alloc::string::String>)> {
    model
        .iter()
        .map(|(&a, &(b, t))| {
            (
                a,
                b,
                t.map(|n| alloc::string::String::from(owner(n).as_str())),
            )
        })
        .collect()
}

/// What `SpanTree::diff` must report, computed naively.
fn naive_diff(
    a: &[(u64, u64, Option<alloc::string::String>)],
    b: &[(u64, u64, Option<alloc::string::String>)],
) -> Vec<(Side, u64, u64, Option<alloc::string::String>)> {
    let mut out: Vec<_> = a
        .iter()
        .filter(|x| !b.contains(x))
        .map(|(s, e, t)| (Side::Left, *s, *e, t.clone()))
        .chain(
            b.iter()
                .filter(|x| !a.contains(x))
                .map(|(s, e, t)| (Side::Right, *s, *e, t.clone())),
        )
        .collect();
    out.sort_by_key(|&(side, s, _, _)| (s, side == Side::Right));
    out
}

fn diff_of(a: &SpanTree, b: &SpanTree) -> Vec<(Side, u64, u64, Option<alloc::string::String>)> {
    let mut out = Vec::new();
    a.diff(b, |side, s, t| {
        out.push((
            side,
            s.start,
            s.end,
            t.map(|o| alloc::string::String::from(o.as_str())),
        ))
    });
    out
}

#[derive(Clone, Debug)]
enum TaggedOp {
    Insert(u64, u64, Option<u8>),
    Remove(usize),
    Replace(usize, u64, u64),
    SetTag(usize, Option<u8>),
    Carve(u64, u64, u64),
    Snapshot,
    Restore(usize),
    Diff(usize),
}

fn tagged_op() -> impl Strategy<Value = TaggedOp> {
    prop_oneof![
        6 => (0..SPACE, 0u64..8, proptest::option::of(0u8..4))
            .prop_map(|(a, l, t)| TaggedOp::Insert(a, (a + l).min(SPACE - 1), t)),
        3 => any::<usize>().prop_map(TaggedOp::Remove),
        2 => (any::<usize>(), 0u64..4, 0u64..4).prop_map(|(i, a, b)| TaggedOp::Replace(i, a, b)),
        3 => (any::<usize>(), proptest::option::of(0u8..4)).prop_map(|(i, t)| TaggedOp::SetTag(i, t)),
        3 => (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(i, a, b)| TaggedOp::Carve(i, a, b)),
        1 => Just(TaggedOp::Snapshot),
        1 => any::<usize>().prop_map(TaggedOp::Restore),
        2 => any::<usize>().prop_map(TaggedOp::Diff),
    ]
}

fn overlaps_tagged(model: &TaggedModel, a: u64, b: u64) -> bool {
    model.iter().any(|(&s, &(e, _))| s <= b && a <= e)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn tagged_tree_matches_model(ops in proptest::collection::vec(tagged_op(), 1..400)) {
        let mut tree = SpanTree::new();
        let mut model = TaggedModel::new();
        let mut snapshots: Vec<(SpanTree, TaggedModel)> = Vec::new();
        for op in ops {
            match op {
                TaggedOp::Insert(a, b, t) => {
                    if !overlaps_tagged(&model, a, b) {
                        tree.insert_tagged(Span::new(a, b), t.map(owner));
                        model.insert(a, (b, t));
                    }
                }
                TaggedOp::Remove(i) => {
                    if !model.is_empty() {
                        let (&a, &(_, t)) = model.iter().nth(i % model.len()).unwrap();
                        let removed = tree.remove(a);
                        prop_assert_eq!(removed, t.map(owner));
                        model.remove(&a);
                    }
                }
                TaggedOp::Replace(i, grow_left, grow_right) => {
                    if !model.is_empty() {
                        let (&a, &(b, t)) = model.iter().nth(i % model.len()).unwrap();
                        let mut rest = model.clone();
                        rest.remove(&a);
                        let (na, nb) = (a.saturating_sub(grow_left), (b + grow_right).min(SPACE));
                        if !overlaps_tagged(&rest, na, nb) {
                            tree.replace(a, Span::new(na, nb));
                            rest.insert(na, (nb, t));
                            model = rest;
                        }
                    }
                }
                TaggedOp::SetTag(i, t) => {
                    if !model.is_empty() {
                        let (&a, &(b, old)) = model.iter().nth(i % model.len()).unwrap();
                        prop_assert_eq!(tree.set_tag(a, t.map(owner)), old.map(owner));
                        model.insert(a, (b, t));
                    }
                }
                TaggedOp::Carve(i, x, y) => {
                    if !model.is_empty() {
                        let (&s, &(e, t)) = model.iter().nth((i % model.len() as u64) as usize).unwrap();
                        let len = e - s + 1;
                        let (p, q) = (s + x % len, s + y % len);
                        let (first, last) = (p.min(q), p.max(q));
                        tree.carve(Span::new(s, e), first, last);
                        model.remove(&s);
                        if first > s {
                            model.insert(s, (first - 1, t));
                        }
                        if last < e {
                            model.insert(last + 1, (e, t));
                        }
                    }
                }
                TaggedOp::Snapshot => snapshots.push((tree.clone(), model.clone())),
                TaggedOp::Restore(i) => {
                    if !snapshots.is_empty() {
                        let (t, m) = snapshots[i % snapshots.len()].clone();
                        tree = t;
                        model = m;
                    }
                }
                TaggedOp::Diff(i) => {
                    let (other, other_model) = match snapshots.len() {
                        0 => (SpanTree::new(), TaggedModel::new()),
                        n => snapshots[i % n].clone(),
                    };
                    let want = naive_diff(&model_entries(&other_model), &model_entries(&model));
                    prop_assert_eq!(diff_of(&other, &tree), want.clone());
                    // The same against a copy that shares nothing.
                    let mut rebuilt = SpanTreeBuilder::new();
                    for (s, t) in other.iter_tagged() {
                        rebuilt.push(s, t.cloned());
                    }
                    let rebuilt = rebuilt.finish();
                    rebuilt.check_invariants().unwrap();
                    prop_assert_eq!(diff_of(&rebuilt, &tree), want);
                }
            }
            tree.check_invariants().unwrap();
            prop_assert_eq!(tagged_entries(&tree), model_entries(&model));
            prop_assert_eq!(
                tree.tagged(),
                model.values().filter(|(_, t)| t.is_some()).count() as u64
            );
            for (t, m) in &snapshots {
                prop_assert_eq!(tagged_entries(t), model_entries(m));
            }
        }
    }

    #[test]
    fn diff_of_a_clone_edited_a_little_reports_exactly_the_edits(
        n in 1usize..3000,
        edits in proptest::collection::vec((any::<usize>(), any::<bool>()), 0..12),
    ) {
        let mut older = SpanTree::new();
        for i in 0..n as u64 {
            older.insert(Span::new(i * 4, i * 4 + 1));
        }
        let mut newer = older.clone();
        let mut model: BTreeMap<u64, u64> = (0..n as u64).map(|i| (i * 4, i * 4 + 1)).collect();
        let before = model.clone();
        for (i, add) in edits {
            let slot = (i % (n + 10)) as u64;
            if add {
                let span = Span::new(slot * 4 + 2, slot * 4 + 2);
                if newer.overlap(span).is_none() {
                    newer.insert(span);
                    model.insert(span.start, span.end);
                }
            } else if model.remove(&(slot * 4)).is_some() {
                newer.remove(slot * 4);
            }
        }
        let mut got = Vec::new();
        older.diff(&newer, |side, s, _| got.push((side, s.start, s.end)));
        let mut want: Vec<_> = before
            .iter()
            .filter(|(a, b)| model.get(a) != Some(b))
            .map(|(&a, &b)| (Side::Left, a, b))
            .chain(
                model
                    .iter()
                    .filter(|(a, b)| before.get(a) != Some(b))
                    .map(|(&a, &b)| (Side::Right, a, b)),
            )
            .collect();
        want.sort_by_key(|&(side, s, _)| (s, side == Side::Right));
        prop_assert_eq!(got, want);
    }
}

/// Fits computed from the free intervals of a sorted list of spans: an
/// independent reference for trees over the whole `u64` space.
fn wide_fit(spans: &BTreeMap<u64, u64>, fit: &Fit, last: bool) -> Option<u64> {
    // The free intervals inside the window, in increasing order.
    let mut free = Vec::new();
    let mut from = Some(fit.lo);
    for (&start, &end) in spans.range(..=fit.hi) {
        let Some(lo) = from else { break };
        if end < lo {
            continue;
        }
        if start > lo {
            free.push((lo, start - 1));
        }
        from = end.checked_add(1);
    }
    if let Some(lo) = from {
        free.push((lo, fit.hi));
    }
    let align = 1u128 << fit.align_log2;
    let fits = |&(a, b): &(u64, u64)| -> Option<u64> {
        let (a, b, size) = (u128::from(a), u128::from(b), u128::from(fit.size));
        if last {
            let start = (b + 1).checked_sub(size)? / align * align;
            (start >= a).then_some(start as u64)
        } else {
            let start = a.div_ceil(align) * align;
            (start + size - 1 <= b).then_some(start as u64)
        }
    };
    if last {
        free.iter().rev().find_map(fits)
    } else {
        free.iter().find_map(fits)
    }
}

/// Places that make huge gaps, highly aligned gaps and gaps at the ends of
/// the space.
fn wide_point() -> impl Strategy<Value = u64> {
    prop_oneof![
        (0u64..64).prop_map(|p| (1 << 32) + (p << 12)),
        (0u64..64).prop_map(|p| (1 << 47) - (p << 12)),
        (0u64..16, 0u32..63).prop_map(|(p, b)| (p << b) | (1 << 12)),
        (0u64..8).prop_map(|p| u64::MAX - (p << 12)),
        any::<u64>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Edits with spans and windows anywhere in the `u64` space: gaps that
    /// lead many alignment classes at once grow, shrink, split and merge,
    /// with snapshots keeping the old nodes shared.
    #[test]
    fn wide_tree_matches_model(
        ops in proptest::collection::vec(
            prop_oneof![
                4 => (wide_point(), 0u64..3).prop_map(|(a, pages)| (0u8, a, pages, 0, 0)),
                3 => (any::<u64>()).prop_map(|i| (1u8, i, 0, 0, 0)),
                3 => (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(i, x, y)| (2u8, i, x, y, 0)),
                1 => Just((3u8, 0, 0, 0, 0)),
                4 => (wide_point(), wide_point(), 0u64..4, 0u64..64).prop_map(|(a, b, s, k)| (4u8, a, b, s, k)),
            ],
            1..200,
        ),
    ) {
        let mut tree = SpanTree::new();
        let mut model: BTreeMap<u64, u64> = BTreeMap::new();
        let mut snapshots: Vec<(SpanTree, BTreeMap<u64, u64>)> = Vec::new();
        for (kind, a, b, c, d) in ops {
            match kind {
                0 => {
                    let end = a.saturating_add((b << 12).saturating_sub(1));
                    let span = Span::new(a, end);
                    let free = model.range(..=end).next_back().is_none_or(|(_, &e)| e < a);
                    prop_assert_eq!(tree.overlap(span).is_none(), free);
                    if free {
                        tree.insert(span);
                        model.insert(a, end);
                    }
                }
                1 if !model.is_empty() => {
                    let (&s, _) = model.iter().nth((a % model.len() as u64) as usize).unwrap();
                    tree.remove(s);
                    model.remove(&s);
                }
                2 if !model.is_empty() => {
                    let (&s, &e) = model.iter().nth((a % model.len() as u64) as usize).unwrap();
                    let len = (e - s).saturating_add(1);
                    let (p, q) = (s + b % len, s + c % len);
                    let (first, last) = (p.min(q), p.max(q));
                    tree.carve(Span::new(s, e), first, last);
                    model.remove(&s);
                    if first > s {
                        model.insert(s, first - 1);
                    }
                    if last < e {
                        model.insert(last + 1, e);
                    }
                }
                3 => snapshots.push((tree.clone(), model.clone())),
                4 => {
                    let size = match c {
                        0 => 1,
                        1 => 0x1000,
                        2 => 1 << (d / 2),
                        _ => (a ^ b) >> (d % 64),
                    }
                    .max(1);
                    let fit = Fit { size, align_log2: d as u32, lo: a.min(b), hi: a.max(b) };
                    prop_assert_eq!(tree.first_fit(&fit), wide_fit(&model, &fit, false), "first {:?}", fit);
                    prop_assert_eq!(tree.last_fit(&fit), wide_fit(&model, &fit, true), "last {:?}", fit);
                }
                _ => {}
            }
            tree.check_invariants().unwrap();
            prop_assert!(tree.iter().map(|s| (s.start, s.end)).eq(model.iter().map(|(&a, &b)| (a, b))));
        }
        for (t, m) in &snapshots {
            t.check_invariants().unwrap();
            prop_assert!(t.iter().map(|s| (s.start, s.end)).eq(m.iter().map(|(&a, &b)| (a, b))));
        }
    }
}
