// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `History` and `blame` against the model of `support/history.rs` (the
//! same scenarios the fuzz target `history` plays): random records,
//! edits between them, reverts to older versions, reloads that share
//! nothing, retention by count and by bytes, and every query compared
//! after every step. Then the cases the model tests are built around,
//! spelled out.
//!
//! `PROPTEST_CASES` sets the number of scenarios per suite.

#[path = "support/history.rs"]
mod support;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm};
use support::*;
use vm_allocator::{
    AddressAllocator, AllocPolicy, History, HistoryError, IdAllocator, Made, Owner, ResourceSet,
    Retention,
};

/// `cases` scenarios unless `PROPTEST_CASES` says otherwise.
fn config(cases: u32) -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(cases),
        max_shrink_iters: 4096,
        rng_algorithm: RngAlgorithm::XorShift,
        ..Config::default()
    }
}

fn owner() -> impl Strategy<Value = Option<u8>> {
    prop::option::weighted(0.7, 0..4u8)
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<u8>(), any::<u8>(), any::<u8>(), any::<bool>(), owner()).prop_map(
            |(pool, size, align, last, owner)| Edit::Allocate { pool, size, align, last, owner }
        ),
        2 => (any::<u8>(), any::<u32>(), owner())
            .prop_map(|(pool, at, owner)| Edit::AllocateAt { pool, at, owner }),
        1 => (any::<u8>(), 0..200u8, owner())
            .prop_map(|(pool, count, owner)| Edit::Fill { pool, count, owner }),
        3 => (any::<u8>(), any::<u16>()).prop_map(|(pool, which)| Edit::Free { pool, which }),
        2 => (any::<u8>(), any::<u16>()).prop_map(|(pool, which)| Edit::Again { pool, which }),
        2 => (any::<u8>(), any::<u16>(), owner())
            .prop_map(|(pool, which, owner)| Edit::SetOwner { pool, which, owner }),
        1 => (0..4u8).prop_map(Edit::FreeOwner),
    ]
}

fn retention() -> impl Strategy<Value = RetentionSel> {
    (
        prop::option::weighted(0.4, 0..12u8),
        prop::option::weighted(0.3, any::<u8>()),
    )
        .prop_map(|(versions, bytes)| RetentionSel { versions, bytes })
}

fn generation() -> impl Strategy<Value = GenSel> {
    prop_oneof![
        4 => any::<u8>().prop_map(GenSel::Kept),
        1 => prop_oneof![0..64u64, any::<u64>()].prop_map(GenSel::Raw),
    ]
}

fn action() -> impl Strategy<Value = HistoryAction> {
    prop_oneof![
        14 => edit().prop_map(HistoryAction::Edit),
        5 => prop::option::weighted(0.5, 0..4u8).prop_map(|label| HistoryAction::Record { label }),
        1 => any::<u8>().prop_map(|back| HistoryAction::RecordOlder { back }),
        1 => Just(HistoryAction::RecordOtherShape),
        1 => (0..8u8).prop_map(|back| HistoryAction::Revert { back }),
        1 => Just(HistoryAction::Reload),
        1 => retention().prop_map(HistoryAction::SetRetention),
        3 => (any::<u8>(), any::<u16>(), any::<u8>(), any::<u64>())
            .prop_map(|(pool, which, at, raw)| HistoryAction::Blame(ValueSel { pool, which, at, raw })),
        2 => (generation(), generation()).prop_map(|(from, to)| HistoryAction::Diff { from, to }),
        1 => generation().prop_map(HistoryAction::Get),
    ]
}

fn scenario(kind: Kind) -> impl Strategy<Value = HistoryScenario> {
    (retention(), prop::collection::vec(action(), 1..200)).prop_map(move |(retention, actions)| {
        HistoryScenario {
            kind,
            retention,
            actions,
        }
    })
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn id_histories_match_the_model(s in scenario(Kind::Ids)) {
        run_history(&s).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn address_histories_match_the_model(s in scenario(Kind::Addresses)) {
        run_history(&s).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn set_histories_match_the_model(s in scenario(Kind::Set)) {
        run_history(&s).map_err(TestCaseError::fail)?;
    }
}

// ---------------------------------------------------------------------------
// The cases the model is built around.

const PAGE: u64 = 0x1000;

/// Freed in one version and made again, the same, in a later one: blame
/// names the later one, though the oldest and the latest version hold the
/// same allocation (presence is not monotone over versions).
#[test]
fn an_allocation_made_again_is_blamed_on_where_it_was_made_again() {
    let net0 = Owner::new("net0").unwrap();
    let mut mmio = AddressAllocator::new(0, 1 << 20).unwrap();
    let bar = mmio
        .owned_by(&net0)
        .allocate(PAGE, PAGE, AllocPolicy::FirstMatch)
        .unwrap();
    let mut history = History::new(mmio.clone());
    for i in 0..6 {
        mmio.allocate(PAGE, PAGE, AllocPolicy::LastMatch).unwrap();
        match i {
            2 => mmio.free(&bar).unwrap(),
            4 => {
                let again = mmio
                    .owned_by(&net0)
                    .allocate(PAGE, PAGE, AllocPolicy::ExactMatch(bar.start()))
                    .unwrap();
                assert_eq!(again, bar);
            }
            _ => {}
        }
        history.record_labeled(&mmio, &format!("step {i}")).unwrap();
    }
    assert_eq!(history.oldest().allocation_containing(0), Some(bar));
    let blame = history.blame(None, 0x10).unwrap();
    assert_eq!(blame.made(), Made::At(8));
    assert_eq!(blame.label(), Some("step 4"));
    assert_eq!(blame.range(), bar);
    assert_eq!(blame.owner(), Some(&net0));
}

/// A new owner makes a new allocation; the other ids of a block keep the
/// version that made them.
#[test]
fn a_new_owner_is_a_new_allocation() {
    let (a, b) = (Owner::new("a").unwrap(), Owner::new("b").unwrap());
    let mut msi = IdAllocator::new(24, 4095).unwrap();
    let mut history = History::new(msi.clone());
    msi.owned_by(&a).allocate_ids(4, 4).unwrap(); // 24..=27
    history.record_labeled(&msi, "plug a").unwrap();
    msi.set_owner(25..=25, Some(b.clone())).unwrap();
    history.record_labeled(&msi, "give 25 to b").unwrap();
    let at = |id| {
        let blame = history.blame(None, id).unwrap();
        (blame.made(), blame.label(), blame.owner().cloned())
    };
    assert_eq!(at(24), (Made::At(1), Some("plug a"), Some(a.clone())));
    assert_eq!(at(25), (Made::At(2), Some("give 25 to b"), Some(b)));
    assert_eq!(at(27), (Made::At(1), Some("plug a"), Some(a)));
    assert_eq!(history.blame(None, 28), None);
    assert_eq!(history.blame(None, 1 << 40), None);
}

/// Once the version that made an allocation is dropped, blame can only say
/// "at or before" the oldest version left.
#[test]
fn dropping_the_maker_leaves_at_or_before() {
    let mut gsi = IdAllocator::new(5, 23).unwrap();
    let mut history = History::with_retention(gsi.clone(), Retention::unbounded().max_versions(3));
    let mut labels = Vec::new();
    for i in 0..5 {
        gsi.allocate_id().unwrap();
        labels.push(format!("gsi {}", 5 + i));
        history.record_labeled(&gsi, &labels[i]).unwrap();
    }
    // Kept: generations 3, 4, 5 (ids 5..=9).
    assert_eq!(history.oldest().generation(), 3);
    assert_eq!(history.blame(None, 5).unwrap().made(), Made::AtOrBefore(3));
    assert_eq!(history.blame(None, 7).unwrap().made(), Made::AtOrBefore(3));
    assert_eq!(history.blame(None, 7).unwrap().label(), None);
    assert_eq!(history.blame(None, 8).unwrap().made(), Made::At(4));
    assert_eq!(history.blame(None, 9).unwrap().label(), Some("gsi 9"));
    history.check_invariants().unwrap();
}

/// Versions that share nodes with an older version rather than the one
/// before count each node once, and the count survives dropping them.
#[test]
fn a_revert_shares_nodes_with_an_older_version() {
    let mut mmio = AddressAllocator::new(0, 1 << 30).unwrap();
    for _ in 0..2_000 {
        mmio.allocate(PAGE, PAGE, AllocPolicy::FirstMatch).unwrap();
    }
    let base = mmio.clone();
    let mut history = History::new(base.clone());
    let alone = history.retained_bytes();
    // Rewrite everything: a version that shares nothing with the first.
    let mut rewritten = AddressAllocator::from_bytes(&mmio.to_bytes()).unwrap();
    rewritten
        .allocate(PAGE, PAGE, AllocPolicy::LastMatch)
        .unwrap();
    history.record(&rewritten).unwrap();
    assert!(history.retained_bytes() >= 2 * alone);
    // Back to the first version's nodes, two generations on.
    let mut reverted = base.clone();
    for _ in 0..2 {
        let r = reverted
            .allocate(PAGE, PAGE, AllocPolicy::LastMatch)
            .unwrap();
        reverted.free(&r).unwrap();
    }
    let before = history.retained_bytes();
    history.record(&reverted).unwrap();
    // Only the copied paths are new.
    assert!(history.retained_bytes() - before < alone / 10);
    history.check_invariants().unwrap();
    assert_eq!(
        history.retained_bytes(),
        History::recount_bytes([(&base, None), (&rewritten, None), (&reverted, None)])
    );
    // Dropping the first version keeps the blocks the third shares with it.
    history.set_retention(Retention::unbounded().max_versions(2));
    history.check_invariants().unwrap();
    assert_eq!(
        history.retained_bytes(),
        History::recount_bytes([(&rewritten, None), (&reverted, None)])
    );
    history.set_retention(Retention::unbounded().max_versions(1));
    assert_eq!(
        history.retained_bytes(),
        History::recount_bytes([(&reverted, None)])
    );
}

/// The byte budget drops the oldest versions until the rest fit, and never
/// the latest.
#[test]
fn a_byte_budget_keeps_the_newest_versions_that_fit() {
    let mut mmio = AddressAllocator::new(0, 1 << 40).unwrap();
    for _ in 0..5_000 {
        mmio.allocate(PAGE, PAGE, AllocPolicy::FirstMatch).unwrap();
    }
    let base = History::new(mmio.clone()).retained_bytes();
    // Room for the state and about as much again in versions.
    let budget = 2 * base;
    let mut history =
        History::with_retention(mmio.clone(), Retention::unbounded().max_bytes(budget));
    for _ in 0..200 {
        mmio.allocate(PAGE, PAGE, AllocPolicy::LastMatch).unwrap();
        history.record(&mmio).unwrap();
        assert!(history.retained_bytes() <= budget || history.versions().len() == 1);
    }
    let kept = history.versions().len();
    assert!(kept > 1 && kept < 201, "{kept} versions kept");
    history.check_invariants().unwrap();
    // One version more would not fit.
    let older = history.oldest().generation() - 1;
    assert_eq!(history.get(older), None);
    // A budget below the latest alone keeps the latest.
    history.set_retention(Retention::unbounded().max_bytes(1));
    assert_eq!(history.versions().len(), 1);
    assert_eq!(history.latest(), &mmio);
}

#[test]
fn versions_must_move_up_and_keep_their_shape() {
    let mut vm = ResourceSet::x86_64();
    vm.allocate_id("legacy_gsi").unwrap();
    let mut history = History::new(vm.clone());
    assert_eq!(
        history.record(&ResourceSet::x86_64()),
        Err(HistoryError::NotAbove {
            latest: 1,
            found: 0
        })
    );
    let mut other = ResourceSet::aarch64();
    while other.generation() < 5 {
        other.allocate_id("spi").unwrap();
    }
    let err = history.record_labeled(&other, "wrong").unwrap_err();
    assert!(matches!(err, HistoryError::ShapeMismatch(_)), "{err:?}");
    assert!(err
        .to_string()
        .starts_with("cannot record the state: the states do not have the same shape"));
    assert_eq!(history.versions().len(), 1);
    assert_eq!(
        history.retained_bytes(),
        History::recount_bytes([(&vm, None)])
    );
}

#[test]
fn blame_shows_names_and_labels_escaped() {
    let mut vm = ResourceSet::new();
    vm.add_address_pool("mmio\u{2028}x", 0, 1 << 20).unwrap();
    let mut history = History::new(vm.clone());
    let fake = Owner::new("net0\u{202e}").unwrap();
    vm.owned_by(&fake)
        .allocate("mmio\u{2028}x", PAGE, PAGE, AllocPolicy::FirstMatch)
        .unwrap();
    history.record_labeled(&vm, "plug\n+ fake line").unwrap();
    let blame = history.blame(Some("mmio\u{2028}x"), 0).unwrap();
    assert_eq!(
        blame.to_string(),
        r#"mmio\u{2028}x 0x0..=0xfff (4 KiB) net0\u{202e}: made at generation 1 "plug\u{a}+ fake line""#
    );
    // The exact strings stay available.
    assert_eq!(blame.label(), Some("plug\n+ fake line"));
    assert_eq!(blame.pool(), Some("mmio\u{2028}x"));
}

/// Blame of a lone allocator takes no pool; of a set, a pool that exists.
#[test]
fn blame_needs_the_right_pool() {
    let mut gsi = IdAllocator::new(5, 23).unwrap();
    gsi.allocate_id().unwrap();
    let history = History::new(gsi);
    assert!(history.blame(None, 5).is_some());
    assert_eq!(history.blame(Some("gsi"), 5), None);

    let mut vm = ResourceSet::x86_64();
    vm.allocate_id("legacy_gsi").unwrap();
    let history = History::new(vm);
    assert!(history.blame(Some("legacy_gsi"), 5).is_some());
    assert_eq!(history.blame(None, 5), None);
    assert_eq!(history.blame(Some("msi_gsi"), 5), None);
    assert_eq!(history.blame(Some("nope"), 5), None);
}

/// The suites reach what they are for: versions dropped by both limits,
/// blames of every answer (and allocations the oldest and latest version
/// hold alike that were freed between), trees of many nodes.
#[test]
fn the_scenarios_reach_every_case() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    for kind in [Kind::Ids, Kind::Addresses, Kind::Set] {
        let mut total = Stats::default();
        for _ in 0..32 {
            let s = scenario(kind).new_tree(&mut runner).unwrap().current();
            total.add(run_history_counting(&s).unwrap());
        }
        println!("{kind:?}: {total:?}");
        assert!(total.recorded > 250, "{kind:?}: {total:?}");
        assert!(total.refused > 50, "{kind:?}: {total:?}");
        assert!(total.dropped > 100, "{kind:?}: {total:?}");
        assert!(total.blamed_at > 500, "{kind:?}: {total:?}");
        assert!(total.blamed_at_or_before > 500, "{kind:?}: {total:?}");
        assert!(total.blamed_nothing > 50, "{kind:?}: {total:?}");
        assert!(total.blamed_non_monotone > 5, "{kind:?}: {total:?}");
        assert!(total.diffs > 50, "{kind:?}: {total:?}");
        assert!(total.most_versions > 10, "{kind:?}: {total:?}");
        assert!(total.most_allocations > 300, "{kind:?}: {total:?}");
    }
}
