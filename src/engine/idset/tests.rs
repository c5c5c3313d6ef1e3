// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Model tests of the id set (tiny nodes: two-word leaves of 128 ids, four
//! slots per inner node, thirteen levels).
//!
//! Two reference models play the same actions: a `BTreeSet<u32>` of ids,
//! where every answer is found by brute force, for small ranges anywhere in
//! the space; and a plain list of runs, for ranges of up to 2^32 ids.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Debug;

use proptest::prelude::*;

use super::node::{span, Node, LEAF_IDS, SPACE, TOP};
use super::{IdSet, IdSetBuilder, Root, Seek, Trie};
use crate::engine::Side;

/// What both models answer. The provided methods derive answers from the
/// runs in the plainest way.
trait Model: Clone + Debug + Default {
    fn insert(&mut self, first: u32, last: u32);
    fn remove(&mut self, first: u32, last: u32);
    fn contains(&self, x: u32) -> bool;
    fn count(&self) -> u64;
    /// The maximal runs in increasing order.
    fn runs(&self) -> Vec<(u32, u32)>;

    fn run_containing(&self, x: u32) -> Option<(u32, u32)> {
        self.runs().into_iter().find(|&(a, b)| a <= x && x <= b)
    }

    fn next_present(&self, x: u32) -> Option<u32> {
        self.runs()
            .into_iter()
            .find(|&(_, b)| b >= x)
            .map(|(a, _)| a.max(x))
    }

    fn first_absent(&self, lo: u32, hi: u32) -> Option<u32> {
        let x = match self.run_containing(lo) {
            None => Some(lo),
            Some((_, b)) => b.checked_add(1),
        };
        x.filter(|&x| x <= hi)
    }

    /// The lowest fit starts at the aligned-up start of the window or of a
    /// gap: try each.
    fn first_fit(&self, count: u64, align_log2: u32, lo: u32, hi: u32) -> Option<u32> {
        let runs = self.runs();
        let mask = (1u64 << align_log2) - 1;
        let free = |s: u64| {
            let e = s + count - 1;
            !runs
                .iter()
                .any(|&(a, b)| u64::from(a) <= e && s <= u64::from(b))
        };
        core::iter::once(u64::from(lo))
            .chain(runs.iter().map(|&(_, b)| u64::from(b) + 1))
            .map(|x| (x.max(lo.into()) + mask) & !mask)
            .filter(|&s| s + count - 1 <= u64::from(hi) && free(s))
            .min()
            .map(|s| s as u32)
    }

    fn overlapping(&self, lo: u32, hi: u32) -> Vec<(u32, u32)> {
        self.runs()
            .into_iter()
            .filter(|&(a, b)| a <= hi && lo <= b)
            .collect()
    }

    /// `self - other` and `other - self` as maximal ranges: cut the space at
    /// every run boundary of either and classify each piece.
    fn diff(&self, other: &Self) -> Vec<(Side, u32, u32)> {
        let mut cuts = BTreeSet::new();
        cuts.insert(0u64);
        cuts.insert(SPACE);
        for (a, b) in self.runs().into_iter().chain(other.runs()) {
            cuts.insert(u64::from(a));
            cuts.insert(u64::from(b) + 1);
        }
        let cuts: Vec<u64> = cuts.into_iter().collect();
        let mut out: Vec<(Side, u32, u32)> = Vec::new();
        for pair in cuts.windows(2) {
            let (a, b) = (pair[0] as u32, (pair[1] - 1) as u32);
            let side = match (self.contains(a), other.contains(a)) {
                (true, false) => Side::Left,
                (false, true) => Side::Right,
                _ => continue,
            };
            match out.last_mut() {
                Some((s, _, end)) if *s == side && u64::from(*end) + 1 == u64::from(a) => *end = b,
                _ => out.push((side, a, b)),
            }
        }
        out
    }
}

/// Every id, one by one.
#[derive(Clone, Debug, Default)]
struct Ids(BTreeSet<u32>);

impl Model for Ids {
    fn insert(&mut self, first: u32, last: u32) {
        for x in first..=last {
            assert!(self.0.insert(x));
        }
    }
    fn remove(&mut self, first: u32, last: u32) {
        for x in first..=last {
            assert!(self.0.remove(&x));
        }
    }
    fn contains(&self, x: u32) -> bool {
        self.0.contains(&x)
    }
    fn count(&self) -> u64 {
        self.0.len() as u64
    }
    fn runs(&self) -> Vec<(u32, u32)> {
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for &x in &self.0 {
            match runs.last_mut() {
                Some((_, b)) if u64::from(*b) + 1 == u64::from(x) => *b = x,
                _ => runs.push((x, x)),
            }
        }
        runs
    }
}

/// Runs as a map from first to last id, merged and split by hand.
#[derive(Clone, Debug, Default)]
struct Runs(BTreeMap<u32, u32>);

impl Model for Runs {
    fn insert(&mut self, first: u32, last: u32) {
        let (mut a, mut b) = (first, last);
        if let Some((&s, &e)) = self.0.range(..a).next_back() {
            assert!(e < a);
            if u64::from(e) + 1 == u64::from(a) {
                self.0.remove(&s);
                a = s;
            }
        }
        if let Some(next) = b.checked_add(1) {
            if let Some(e) = self.0.remove(&next) {
                b = e;
            }
        }
        assert!(self.0.range(a..=b).next().is_none());
        self.0.insert(a, b);
    }
    fn remove(&mut self, first: u32, last: u32) {
        let (&s, &e) = self.0.range(..=first).next_back().unwrap();
        assert!(e >= last);
        self.0.remove(&s);
        if s < first {
            self.0.insert(s, first - 1);
        }
        if last < e {
            self.0.insert(last + 1, e);
        }
    }
    fn contains(&self, x: u32) -> bool {
        self.0.range(..=x).next_back().is_some_and(|(_, &e)| e >= x)
    }
    fn count(&self) -> u64 {
        self.0.iter().map(|(&a, &b)| u64::from(b - a) + 1).sum()
    }
    fn runs(&self) -> Vec<(u32, u32)> {
        self.0.iter().map(|(&a, &b)| (a, b)).collect()
    }
}

#[derive(Clone, Debug)]
enum Action {
    /// Insert the free ids from the first free one at or after `at`, at most
    /// `len`, up to the next id in the set.
    Insert {
        at: u32,
        len: u64,
    },
    /// Remove ids from the first one in the set at or after `at`, at most
    /// `len`, up to the end of its run.
    Remove {
        at: u32,
        len: u64,
    },
    Snapshot,
    Restore(usize),
    /// Compare with a snapshot (shared history) and with a copy of it built
    /// apart.
    Diff(usize),
    Probe(u32),
    FirstAbsent(u32, u32),
    Fit {
        count: u64,
        align_log2: u32,
        lo: u32,
        hi: u32,
    },
    Overlapping(u32, u32),
    /// `insert_first_absent(lo, hi)`.
    TakeFirst(u32, u32),
    /// `insert_if_absent`.
    InsertIfAbsent(u32),
    /// `remove_if_present` of the first id in the set at or after the id
    /// (`true`), or of the id itself.
    RemoveIfPresent(u32, bool),
}

/// Ids near the places where things go wrong: 0, u32::MAX, leaf and node
/// boundaries, and anywhere.
fn id() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => 0u32..700,
        2 => (u32::MAX - 700)..=u32::MAX,
        1 => ((1u32 << 20) - 300)..((1u32 << 20) + 300),
        1 => ((1u32 << 31) - 300)..((1u32 << 31) + 300),
        1 => any::<u32>(),
    ]
}

fn window() -> impl Strategy<Value = (u32, u32)> {
    (id(), id()).prop_map(|(a, b)| (a.min(b), a.max(b)))
}

fn actions(max_len: u64) -> impl Strategy<Value = Action> {
    let len = prop_oneof![4 => 1u64..20, 2 => 1u64..300, 1 => 1..=max_len];
    prop_oneof![
        8 => (id(), len.clone()).prop_map(|(at, len)| Action::Insert { at, len }),
        5 => (id(), len).prop_map(|(at, len)| Action::Remove { at, len }),
        1 => Just(Action::Snapshot),
        1 => any::<usize>().prop_map(Action::Restore),
        1 => any::<usize>().prop_map(Action::Diff),
        2 => id().prop_map(Action::Probe),
        2 => window().prop_map(|(lo, hi)| Action::FirstAbsent(lo, hi)),
        4 => (
            prop_oneof![4 => 1u64..=8, 2 => 1u64..=300, 1 => 1u64..=SPACE],
            prop_oneof![3 => 0u32..=3, 2 => 0u32..=9, 1 => 0u32..32],
            window(),
        )
            .prop_map(|(count, align_log2, (lo, hi))| Action::Fit {
                count,
                align_log2,
                lo,
                hi
            }),
        2 => window().prop_map(|(lo, hi)| Action::Overlapping(lo, hi)),
        4 => window().prop_map(|(lo, hi)| Action::TakeFirst(lo, hi)),
        3 => id().prop_map(Action::InsertIfAbsent),
        3 => (id(), any::<bool>()).prop_map(|(at, present)| Action::RemoveIfPresent(at, present)),
    ]
}

/// Everything the set says must match the model.
fn assert_same<M: Model>(set: &IdSet, model: &M) {
    set.check_invariants().unwrap();
    let runs = model.runs();
    assert_eq!(set.runs().collect::<Vec<_>>(), runs);
    let mut back: Vec<(u32, u32)> = set.runs().rev().collect();
    back.reverse();
    assert_eq!(back, runs);
    assert_eq!(set.runs().len(), runs.len());
    assert_eq!(set.run_count(), runs.len() as u64);
    assert_eq!(set.count(), model.count());
    assert_eq!(set.first(), runs.first().copied());
    // Both ends at once, meeting in the middle.
    let mut it = set.runs();
    let mut mixed = Vec::new();
    let mut tail = Vec::new();
    loop {
        assert_eq!(it.len(), runs.len() - mixed.len() - tail.len());
        let Some(run) = it.next() else { break };
        mixed.push(run);
        let Some(run) = it.next_back() else { break };
        tail.push(run);
    }
    assert_eq!(it.next(), None);
    assert_eq!(it.next_back(), None);
    tail.reverse();
    mixed.extend(tail);
    assert_eq!(mixed, runs);
}

fn diff_of(a: &IdSet, b: &IdSet) -> Vec<(Side, u32, u32)> {
    let mut out = Vec::new();
    a.diff(b, |side, first, last| out.push((side, first, last)));
    out
}

fn play<M: Model>(actions: Vec<Action>) {
    let mut set = IdSet::new();
    let mut model = M::default();
    let mut snapshots: Vec<(IdSet, M)> = Vec::new();
    for action in actions {
        match action {
            Action::Insert { at, len } => {
                if let Some(first) = model.first_absent(at, u32::MAX) {
                    let mut last = (u64::from(first) + len - 1).min(SPACE - 1);
                    if let Some(next) = model.next_present(first) {
                        last = last.min(u64::from(next) - 1);
                    }
                    set.insert_range(first, last as u32);
                    model.insert(first, last as u32);
                }
            }
            Action::Remove { at, len } => {
                if let Some(first) = model.next_present(at) {
                    let (_, end) = model.run_containing(first).unwrap();
                    let last = (u64::from(first) + len - 1).min(end.into()) as u32;
                    set.remove_range(first, last);
                    model.remove(first, last);
                }
            }
            Action::Snapshot => snapshots.push((set.clone(), model.clone())),
            Action::Restore(i) => {
                if !snapshots.is_empty() {
                    (set, model) = snapshots[i % snapshots.len()].clone();
                }
            }
            Action::Diff(i) => {
                let (snap, snap_model) = match snapshots.len() {
                    0 => (IdSet::new(), M::default()),
                    n => snapshots[i % n].clone(),
                };
                let apart = IdSet::from_sorted_runs(snap_model.runs());
                assert_same(&apart, &snap_model);
                let want = model.diff(&snap_model);
                assert_eq!(diff_of(&set, &snap), want);
                assert_eq!(diff_of(&set, &apart), want);
                let flipped: Vec<_> = want
                    .iter()
                    .map(|&(side, a, b)| match side {
                        Side::Left => (Side::Right, a, b),
                        Side::Right => (Side::Left, a, b),
                    })
                    .collect();
                assert_eq!(diff_of(&snap, &set), flipped);
                assert_eq!(diff_of(&apart, &set), flipped);
                assert!(diff_of(&set, &set.clone()).is_empty());
            }
            Action::Probe(x) => {
                assert_eq!(set.contains(x), model.contains(x), "contains {x}");
                assert_eq!(set.run_containing(x), model.run_containing(x), "run of {x}");
            }
            Action::FirstAbsent(lo, hi) => {
                assert_eq!(set.first_absent(lo, hi), model.first_absent(lo, hi));
            }
            Action::Fit {
                count,
                align_log2,
                lo,
                hi,
            } => {
                assert_eq!(
                    set.first_fit(count, align_log2, lo, hi),
                    model.first_fit(count, align_log2, lo, hi),
                    "first_fit({count}, {align_log2}, {lo}, {hi}) in {model:?}"
                );
            }
            Action::TakeFirst(lo, hi) => {
                let want = model.first_absent(lo, hi);
                assert_eq!(set.insert_first_absent(lo, hi), want);
                if let Some(id) = want {
                    model.insert(id, id);
                }
            }
            Action::InsertIfAbsent(id) => {
                let absent = !model.contains(id);
                assert_eq!(set.insert_if_absent(id), absent);
                if absent {
                    model.insert(id, id);
                }
            }
            Action::RemoveIfPresent(at, pick_present) => {
                let id = match model.next_present(at) {
                    Some(id) if pick_present => id,
                    _ => at,
                };
                let present = model.contains(id);
                assert_eq!(set.remove_if_present(id), present);
                if present {
                    model.remove(id, id);
                }
            }
            Action::Overlapping(lo, hi) => {
                let want = model.overlapping(lo, hi);
                let got = set.runs_overlapping(lo, hi);
                assert_eq!(got.len(), want.len());
                assert_eq!(got.clone().collect::<Vec<_>>(), want);
                let mut back: Vec<_> = got.rev().collect();
                back.reverse();
                assert_eq!(back, want);
            }
        }
        assert_same(&set, &model);
        // Snapshots never change when the live set does (nor it when a
        // restored copy of a snapshot does).
        for (snap, snap_model) in &snapshots {
            assert_same(snap, snap_model);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Small ranges anywhere, against every id one by one.
    #[test]
    fn matches_a_btreeset_of_ids(actions in proptest::collection::vec(actions(300), 1..120)) {
        play::<Ids>(actions);
    }

    /// Ranges of up to 2^32 ids, against a list of runs.
    #[test]
    fn matches_a_list_of_runs(actions in proptest::collection::vec(actions(SPACE), 1..120)) {
        play::<Runs>(actions);
    }

    /// The brute-force answer of the model agrees with the search on a
    /// crowded small space, for every count, alignment and window.
    #[test]
    fn first_fit_matches_brute_force(
        taken in proptest::collection::btree_set(0u32..600, 0..400),
        count in 1u64..40,
        align_log2 in 0u32..7,
        lo in 0u32..620,
        span in 0u32..620,
    ) {
        let hi = lo.saturating_add(span);
        let set = IdSet::from_sorted_runs(Ids(taken.clone()).runs());
        let align = 1u64 << align_log2;
        let want = (u64::from(lo)..=u64::from(hi))
            .filter(|s| s % align == 0 && s + count - 1 <= u64::from(hi))
            .find(|&s| (s..s + count).all(|x| !taken.contains(&(x as u32))))
            .map(|s| s as u32);
        prop_assert_eq!(set.first_fit(count, align_log2, lo, hi), want);
    }

    /// The builder gives the set that inserting the runs one by one gives.
    #[test]
    fn builder_matches_inserts(
        cuts in proptest::collection::btree_set(any::<u32>(), 0..40),
        small in proptest::collection::btree_set(0u32..2000, 0..200),
    ) {
        for cuts in [cuts, small] {
            // Pair up the cut points into runs that do not touch.
            let cuts: Vec<u32> = cuts.into_iter().collect();
            let runs: Vec<(u32, u32)> = cuts
                .chunks(2)
                .map(|c| (c[0], *c.last().unwrap()))
                .scan(None::<u32>, |prev, (a, b)| {
                    let ok = prev.is_none_or(|p| u64::from(a) > u64::from(p) + 1);
                    if ok { *prev = Some(b); }
                    Some(ok.then_some((a, b)))
                })
                .flatten()
                .collect();
            let built = IdSet::from_sorted_runs(runs.iter().copied());
            let mut grown = IdSet::new();
            let mut model = Runs::default();
            for &(a, b) in &runs {
                grown.insert_range(a, b);
                model.insert(a, b);
            }
            assert_same(&built, &model);
            assert_same(&grown, &model);
            prop_assert!(diff_of(&built, &grown).is_empty());
        }
    }
}

/// Every node of the tree, for structural checks.
fn nodes(set: &Trie) -> usize {
    fn walk(node: &Node) -> usize {
        match node {
            Node::Leaf(_) => 1,
            Node::Inner(inner) => 1 + inner.nodes().map(walk).sum::<usize>(),
        }
    }
    match &set.root {
        Root::Node(node) => walk(node),
        _ => 0,
    }
}

fn root_ptr(set: &Trie) -> *const () {
    match &set.root {
        Root::Node(Node::Leaf(leaf)) => triomphe::Arc::as_ptr(leaf).cast(),
        Root::Node(Node::Inner(inner)) => triomphe::Arc::as_ptr(inner).cast(),
        _ => core::ptr::null(),
    }
}

#[test]
fn the_whole_space_is_one_marker() {
    let mut set = Trie::new();
    set.insert_range(0, u32::MAX);
    set.check_invariants().unwrap();
    assert_eq!((set.count(), set.run_count(), nodes(&set)), (SPACE, 1, 0));
    assert_eq!(set.first_absent(0, u32::MAX), None);
    assert_eq!(set.first_fit(1, 0, 0, u32::MAX), None);
    assert_eq!(set.run_containing(12345), Some((0, u32::MAX)));
    // Carving out one id builds one path of nodes, not the space.
    set.remove_range(1 << 31, 1 << 31);
    set.check_invariants().unwrap();
    assert_eq!((set.count(), set.run_count()), (SPACE - 1, 2));
    assert!(nodes(&set) <= TOP as usize + 1);
    assert_eq!(set.first_absent(0, u32::MAX), Some(1 << 31));
    assert_eq!(set.first_fit(1, 31, 0, u32::MAX), Some(1 << 31));
    assert_eq!(set.first_fit(2, 0, 0, u32::MAX), None);
    assert_eq!(set.run_containing(0), Some((0, (1 << 31) - 1)));
    assert_eq!(
        set.run_containing(u32::MAX),
        Some(((1 << 31) + 1, u32::MAX))
    );
    set.insert_range(1 << 31, 1 << 31);
    assert_eq!(nodes(&set), 0);
    set.remove_range(0, u32::MAX);
    set.check_invariants().unwrap();
    assert_eq!((set.count(), set.height), (0, 0));
}

#[test]
fn sparse_ids_over_the_whole_space_stay_small() {
    let mut set = Trie::new();
    let ids = [0u32, 1 << 20, 1 << 31, u32::MAX - 1];
    for &id in &ids {
        set.insert_range(id, id);
        set.check_invariants().unwrap();
    }
    // One path per id at most: no node for the empty space between them.
    assert!(nodes(&set) <= ids.len() * (TOP as usize + 1));
    assert_eq!(
        IdSet::from_trie(set.clone()).runs().collect::<Vec<_>>(),
        ids.iter().map(|&i| (i, i)).collect::<Vec<_>>()
    );
    assert_eq!(set.first_fit(1 << 30, 30, 0, u32::MAX), Some(1 << 30));
    assert_eq!(set.first_fit(3, 0, u32::MAX - 2, u32::MAX), None);
    assert_eq!(set.first_absent(u32::MAX - 1, u32::MAX), Some(u32::MAX));
    // Taking them out again lowers the root back.
    for &id in ids.iter().rev() {
        set.remove_range(id, id);
        set.check_invariants().unwrap();
    }
    assert_eq!((set.height, nodes(&set)), (0, 0));
}

#[test]
fn root_height_follows_the_largest_id() {
    let mut set = Trie::new();
    set.insert_range(5, 5);
    assert_eq!(set.height, 0);
    let far = span(3) as u32 + 7;
    set.insert_range(far, far);
    assert_eq!(set.height, 4);
    set.check_invariants().unwrap();
    set.remove_range(far, far);
    assert_eq!(set.height, 0);
    set.check_invariants().unwrap();
    // A full first leaf is a marker at height 0.
    set.insert_range(0, 4);
    set.insert_range(6, LEAF_IDS as u32 - 1);
    assert!(matches!(set.root, Root::Full));
    assert_eq!(set.height, 0);
    set.check_invariants().unwrap();
}

#[test]
fn edits_without_a_clone_copy_nothing() {
    let mut set = Trie::new();
    set.insert_range(0, 10);
    set.insert_range(1000, 1000);
    let before = root_ptr(&set);
    for x in [20u32, 30, 999] {
        set.insert_range(x, x);
        assert_eq!(root_ptr(&set), before);
    }
    set.remove_range(5, 5);
    assert_eq!(root_ptr(&set), before);
    // With a clone alive the first edit copies the path; the clone keeps
    // the old root.
    let snapshot = set.clone();
    assert!(snapshot.ptr_eq(&set));
    set.remove_range(6, 6);
    assert_ne!(root_ptr(&set), before);
    assert_eq!(root_ptr(&snapshot), before);
    assert!(snapshot.contains(6) && !set.contains(6));
    assert_eq!(
        diff_of(
            &IdSet::from_trie(snapshot.clone()),
            &IdSet::from_trie(set.clone())
        ),
        vec![(Side::Left, 6, 6)],
        "the diff names the one edit"
    );
    // The path is now private: further edits copy nothing.
    let after = root_ptr(&set);
    set.remove_range(7, 7);
    assert_eq!(root_ptr(&set), after);
}

#[test]
fn first_fit_skips_a_fragmented_region_for_large_blocks() {
    // Every other id taken over many leaves, then free space.
    let mut builder = IdSetBuilder::new();
    for i in 0..5000u32 {
        builder.push(2 * i, 2 * i);
    }
    let set = builder.finish();
    set.check_invariants().unwrap();
    assert_eq!(set.run_count(), 5000);
    assert_eq!(set.first_fit(1, 0, 0, u32::MAX), Some(1));
    assert_eq!(set.first_fit(2, 0, 0, u32::MAX), Some(9999));
    assert_eq!(set.first_fit(4, 2, 0, u32::MAX), Some(10_000));
    assert_eq!(set.first_fit(32, 5, 0, u32::MAX), Some(10_016));
    assert_eq!(set.first_fit(1 << 20, 0, 0, u32::MAX), Some(9999));
    assert_eq!(set.first_fit(1 << 20, 20, 0, u32::MAX), Some(1 << 20));
    assert_eq!(set.first_fit(3, 0, 0, 10_000), None);
    assert_eq!(set.first_fit(3, 0, 0, 10_001), Some(9999));
}

#[test]
fn runs_overlapping_takes_whole_runs() {
    let set = IdSet::from_sorted_runs([(0, 9), (20, 29), (40, 40), (u32::MAX - 3, u32::MAX)]);
    let got = |lo, hi| set.runs_overlapping(lo, hi).collect::<Vec<_>>();
    assert_eq!(got(5, 20), vec![(0, 9), (20, 29)]);
    assert_eq!(got(10, 19), vec![]);
    assert_eq!(got(30, 39), vec![]);
    assert_eq!(got(29, 40), vec![(20, 29), (40, 40)]);
    assert_eq!(got(41, u32::MAX), vec![(u32::MAX - 3, u32::MAX)]);
    assert_eq!(set.runs_overlapping(0, u32::MAX).len(), 4);
    assert_eq!(
        set.runs_overlapping(9, 20).rev().collect::<Vec<_>>(),
        vec![(20, 29), (0, 9)]
    );
}

#[test]
fn debug_shows_the_runs() {
    let set = IdSet::from_sorted_runs([(1, 2), (7, 7)]);
    assert_eq!(
        alloc::format!("{set:?}"),
        "IdSet { count: 3, runs: [1..=2, 7..=7] }"
    );
}

#[test]
fn a_free_region_before_a_leaf_holds_the_first_fit() {
    // The window starts in empty slots; the first leaf after it starts with
    // an all-free word. The fit is at the aligned start of the window, not
    // at that word.
    let leaf_start = 1u32 << 31;
    let set = IdSet::from_sorted_runs([(58, 58), (leaf_start + 70, leaf_start + 75)]);
    let lo = (1 << 20) + 3;
    assert_eq!(set.first_fit(2, 2, lo, u32::MAX), Some((1 << 20) + 4));
    assert_eq!(set.first_fit(64, 6, lo, u32::MAX), Some((1 << 20) + 64));
    assert_eq!(set.first_fit(2, 2, lo, (1 << 20) + 4), None);
    assert_eq!(
        set.first_fit(4, 2, leaf_start - 3, u32::MAX),
        Some(leaf_start)
    );
    assert_eq!(
        set.first_fit(8, 3, leaf_start + 1, u32::MAX),
        Some(leaf_start + 8)
    );
}

#[test]
fn failed_edits_with_a_clone_alive_copy_nothing() {
    // Ids in several leaves, so that edits walk inner nodes.
    let mut set = IdSet::from_sorted_runs([(3, 9), (300, 300), (5000, 5010)]);
    let snapshot = set.clone();
    assert!(!set.remove_if_present(4000));
    assert!(!set.remove_if_present(10));
    assert!(!set.insert_if_absent(300));
    assert!(!set.insert_if_absent(5005));
    assert!(
        set.ptr_eq(&snapshot),
        "a failed edit copied the shared root"
    );
    assert!(set.remove_if_present(300));
    assert!(!set.ptr_eq(&snapshot));
    assert!(snapshot.contains(300) && !set.contains(300));
    set.check_invariants().unwrap();
    snapshot.check_invariants().unwrap();
}

#[test]
fn removing_the_last_id_of_a_slot_lowers_the_root() {
    // Two leaves under a root of height 1; emptying the second one through
    // the one-walk removal leaves everything in slot 0.
    let far = LEAF_IDS as u32 + 3;
    let mut set = Trie::from_sorted_runs([(5, 5), (far, far)]);
    assert_eq!(set.height, 1);
    assert!(set.remove_if_present(far));
    set.check_invariants().unwrap();
    assert_eq!(set.height, 0);
    // And back up, then down through the single-id insert and removal.
    assert!(set.insert_if_absent(far));
    assert_eq!(set.height, 1);
    assert!(set.remove_if_present(5));
    set.check_invariants().unwrap();
    assert!(set.remove_if_present(far));
    set.check_invariants().unwrap();
    assert_eq!((set.height, set.count()), (0, 0));
}

/// Actions around a frontier: ids handed out smallest first, freed near the
/// top or anywhere, with snapshots and diffs in between.
fn frontier_actions() -> impl Strategy<Value = Action> {
    let near = prop_oneof![3 => 0u32..64, 1 => 0u32..5000];
    prop_oneof![
        10 => (0u32..8).prop_map(|lo| Action::TakeFirst(lo, u32::MAX)),
        3 => (near.clone(), any::<bool>()).prop_map(|(at, present)| Action::RemoveIfPresent(at, present)),
        2 => (near.clone(), 1u64..40).prop_map(|(at, len)| Action::Remove { at, len }),
        2 => (near.clone(), 1u64..40).prop_map(|(at, len)| Action::Insert { at, len }),
        2 => near.clone().prop_map(Action::InsertIfAbsent),
        1 => Just(Action::Snapshot),
        1 => any::<usize>().prop_map(Action::Restore),
        2 => any::<usize>().prop_map(Action::Diff),
        2 => near.clone().prop_map(Action::Probe),
        1 => (near.clone(), near).prop_map(|(a, b)| Action::Overlapping(a.min(b), a.max(b))),
        2 => (1u64..9, 0u32..4, 0u32..64).prop_map(|(count, align_log2, lo)| Action::Fit {
            count,
            align_log2,
            lo,
            hi: u32::MAX,
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Allocation in order moves the frontier; frees below it split the
    /// ids kept apart into the trie; every answer matches the model.
    #[test]
    fn frontier_matches_a_btreeset_of_ids(actions in proptest::collection::vec(frontier_actions(), 1..300)) {
        play::<Ids>(actions);
    }
}

#[test]
fn ids_in_order_stay_out_of_the_trie_until_one_below_is_freed() {
    let mut set = IdSet::new();
    for id in 5..10_005u32 {
        assert_eq!(set.insert_first_absent(5, u32::MAX), Some(id));
    }
    set.check_invariants().unwrap();
    assert_eq!(nodes(set.trie()), 0, "no node for ids handed out in order");
    assert_eq!(set.runs().collect::<Vec<_>>(), vec![(5, 10_004)]);
    assert_eq!((set.count(), set.run_count()), (10_000, 1));

    // Freeing the last id moves the frontier back; freeing one in the
    // middle puts the ids above it into the trie.
    let before = set.clone();
    assert!(set.remove_if_present(10_004));
    assert_eq!(nodes(set.trie()), 0);
    assert!(set.remove_if_present(700));
    set.check_invariants().unwrap();
    assert!(nodes(set.trie()) > 0);
    assert_eq!(
        set.runs().collect::<Vec<_>>(),
        vec![(5, 699), (701, 10_003)]
    );
    assert_eq!(
        diff_of(&before, &set),
        vec![(Side::Left, 700, 700), (Side::Left, 10_004, 10_004)]
    );
    assert_eq!(
        diff_of(&set, &before),
        vec![(Side::Right, 700, 700), (Side::Right, 10_004, 10_004)]
    );

    // The smallest free id comes back, then in-order allocation resumes
    // at the frontier again.
    assert_eq!(set.insert_first_absent(5, u32::MAX), Some(700));
    assert_eq!(set.insert_first_absent(5, u32::MAX), Some(10_004));
    set.check_invariants().unwrap();
    assert!(diff_of(&before, &set).is_empty());
    assert!(before.runs().eq(set.runs()));

    // Built from its runs, or grown one by one, the set is the same.
    let built = IdSet::from_sorted_runs(set.runs());
    built.check_invariants().unwrap();
    assert!(built.runs().eq(set.runs()));
    assert!(diff_of(&built, &set).is_empty());
    let mut grown = IdSet::new();
    for (first, last) in set.runs() {
        for id in first..=last {
            grown.insert_range(id, id);
        }
    }
    grown.check_invariants().unwrap();
    assert!(grown.runs().eq(set.runs()));
    assert!(diff_of(&grown, &built).is_empty());
}

#[test]
fn ids_below_the_ones_apart_join_them_or_go_to_the_trie() {
    let mut set = IdSet::from_sorted_runs([(100, 199), (300, 300)]);
    set.insert_range(90, 99); // joins the run apart from below
    set.check_invariants().unwrap();
    set.insert_range(10, 20); // apart from it: everything goes to the trie
    set.check_invariants().unwrap();
    assert_eq!(
        set.runs().collect::<Vec<_>>(),
        vec![(10, 20), (90, 199), (300, 300)]
    );
    assert_eq!(set.first_fit(10, 0, 0, u32::MAX), Some(0));
    assert_eq!(set.first_fit(10, 0, 10, u32::MAX), Some(21));
    assert_eq!(set.first_fit(100, 0, 10, u32::MAX), Some(200));
}
