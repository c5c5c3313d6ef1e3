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
    let mut all = Stats::default();
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
        assert!(total.journal_same_as_live > 5, "{kind:?}: {total:?}");
        all.add(total);
    }
    // A byte budget that trims a journal's history is rarer (a set's
    // state alone is often above the budget): counted over all kinds.
    assert!(all.journal_byte_trims > 5, "{all:?}");
}

// ---------------------------------------------------------------------------
// From a journal.
// The journal's history against the same life recorded live: versions,
// labels, generations, blame; with retention; torn and damaged journals;
// the errors of `Journal::read`.

#[cfg(feature = "std")]
mod from_a_journal {
    use super::*;

    /// A VM's life: each step the state after it and its label (a journal
    /// label is a name, so never empty), as a VMM would record it live and
    /// append it to its journal. The set starts at generation 0; every step
    /// moves it.
    fn vm_life() -> Vec<(ResourceSet, Option<String>)> {
        let mut vm = ResourceSet::x86_64();
        let mut life = vec![(vm.clone(), None)];
        let plug = |vm: &mut ResourceSet, name: &str, bar: u64| {
            let owner = Owner::new(name).unwrap();
            let mut tx = vm.transaction();
            tx.owned_by(&owner).allocate_id("legacy_gsi").unwrap();
            tx.owned_by(&owner).allocate_ids("msi_gsi", 4, 4).unwrap();
            tx.owned_by(&owner)
                .allocate("mmio32", bar, bar, AllocPolicy::FirstMatch)
                .unwrap();
            tx.commit().unwrap();
        };
        for (i, name) in ["serial0", "virtio-blk0", "virtio-net0", "nvme0"]
            .iter()
            .enumerate()
        {
            plug(&mut vm, name, PAGE << i);
            life.push((vm.clone(), Some(format!("hot-plug {name}"))));
        }
        vm.free_owner("virtio-blk0");
        life.push((vm.clone(), Some("unplug virtio-blk0".into())));
        vm.allocate_id("legacy_gsi").unwrap(); // no owner, no label
        life.push((vm.clone(), None));
        plug(&mut vm, "gpu0", 2 * PAGE); // into virtio-blk0's BAR
        life.push((vm.clone(), Some("hot-plug gpu0".into())));
        let bar = vm
            .addresses("mmio32")
            .unwrap()
            .allocation_containing(0xd000_2000);
        vm.set_owner("mmio32", &bar.unwrap(), Some(Owner::new("gpu1").unwrap()))
            .unwrap();
        life.push((vm.clone(), Some("give the BAR to gpu1".into())));
        life
    }

    /// The journal of `life`, in `dir`, appended with the file API.
    fn journal_file(
        dir: &std::path::Path,
        life: &[(ResourceSet, Option<String>)],
    ) -> std::path::PathBuf {
        let path = dir.join("vm.journal");
        let mut journal = vm_allocator::Journal::create(&path, &life[0].0).unwrap();
        for (state, label) in &life[1..] {
            match label {
                Some(label) => journal.append_labeled(state, label).unwrap(),
                None => journal.append(state).unwrap(),
            }
        }
        path
    }

    /// `life` recorded live, version by version, as `retention` says.
    fn recorded_live(
        life: &[(ResourceSet, Option<String>)],
        retention: Retention,
    ) -> History<ResourceSet> {
        let mut history = History::with_retention(life[0].0.clone(), retention);
        for (state, label) in &life[1..] {
            match label {
                Some(label) => history.record_labeled(state, label).unwrap(),
                None => history.record(state).unwrap(),
            }
        }
        history
    }

    /// The same versions (generations, labels, changes, states) and the same
    /// blame, shown and exact, for every value around every allocation.
    #[track_caller]
    fn assert_same_history(got: &History<ResourceSet>, want: &History<ResourceSet>) {
        let show = |h: &History<ResourceSet>| -> Vec<_> {
            h.versions()
                .map(|v| (v.generation(), v.label().map(String::from), v.changes()))
                .collect()
        };
        assert_eq!(show(got), show(want));
        for (a, b) in got.versions().zip(want.versions()) {
            assert_eq!(a.state(), b.state());
            assert_eq!(a.state().generation(), b.state().generation());
        }
        let mut blamed = 0;
        for (pool, p) in want.latest().pools() {
            let ends: Vec<(u64, u64)> = match p {
                vm_allocator::Pool::Ids(ids) => {
                    ids.iter().map(|i| (u64::from(i), u64::from(i))).collect()
                }
                vm_allocator::Pool::Addresses(a) => {
                    a.iter().map(|r| (r.start(), r.end())).collect()
                }
            };
            for (first, last) in ends {
                for value in [first.wrapping_sub(1), first, last, last.wrapping_add(1)] {
                    let (a, b) = (got.blame(Some(pool), value), want.blame(Some(pool), value));
                    assert_eq!(a, b, "blame({pool}, {value:#x})");
                    assert_eq!(a.map(|b| b.to_string()), b.map(|b| b.to_string()));
                    blamed += 1;
                }
            }
        }
        assert!(blamed > 20, "{blamed} blames");
    }

    #[test]
    fn a_history_from_a_journal_is_the_history_recorded_live() {
        let dir = tempfile::tempdir().unwrap();
        let life = vm_life();
        let path = journal_file(dir.path(), &life);
        let (history, recovery) =
            History::<ResourceSet>::from_journal(&path, Retention::unbounded()).unwrap();
        assert!(recovery.is_clean(), "{recovery}");
        assert_eq!(recovery.records, life.len() as u64 - 1);
        let live = recorded_live(&life, Retention::unbounded());
        assert_same_history(&history, &live);
        history.check_invariants().unwrap();
        // The generations are the set's: 0, then one per mutation.
        let generations: Vec<u64> = history.versions().map(|v| v.generation()).collect();
        assert_eq!(generations, [0, 3, 6, 9, 12, 13, 14, 17, 18]);
        // The questions the journal answers.
        let blame = history.blame(Some("msi_gsi"), 30).unwrap();
        assert_eq!(blame.owner().unwrap().as_str(), "gpu0");
        assert_eq!(
            (blame.made(), blame.label()),
            (Made::At(17), Some("hot-plug gpu0"))
        );
        let blame = history.blame(Some("mmio32"), 0xd000_3fff).unwrap();
        assert_eq!(blame.owner().unwrap().as_str(), "gpu1");
        assert_eq!(
            (blame.made(), blame.label()),
            (Made::At(18), Some("give the BAR to gpu1"))
        );
        let gsi = history.latest().ids("legacy_gsi").unwrap();
        let unowned = gsi.iter().find(|&id| gsi.owner_at(id).is_none()).unwrap();
        let blame = history
            .blame(Some("legacy_gsi"), u64::from(unowned))
            .unwrap();
        assert_eq!(
            (blame.owner(), blame.made(), blame.label()),
            (None, Made::At(14), None)
        );
        assert_eq!(
            history.blame(Some("legacy_gsi"), 5).unwrap().to_string(),
            r#"legacy_gsi 5 serial0: made at generation 3 "hot-plug serial0""#
        );
        // The bytes give the same history as the path.
        let bytes = std::fs::read(&path).unwrap();
        let (from_bytes, again) =
            History::<ResourceSet>::from_journal_bytes(&bytes, Retention::unbounded()).unwrap();
        assert_eq!(again, recovery);
        assert_same_history(&from_bytes, &history);
    }

    #[test]
    fn a_history_from_a_journal_keeps_what_its_retention_says() {
        let dir = tempfile::tempdir().unwrap();
        let life = vm_life();
        let path = journal_file(dir.path(), &life);
        for versions in [1, 2, 3, 5, 9, 100] {
            let retention = Retention::unbounded().max_versions(versions);
            let (history, _) = History::<ResourceSet>::from_journal(&path, retention).unwrap();
            assert_eq!(history.versions().len(), versions.min(life.len()));
            assert_eq!(history.retention(), retention);
            assert_same_history(&history, &recorded_live(&life, retention));
            history.check_invariants().unwrap();
        }
        // Three versions: serial0's GSI is older than the oldest kept.
        let (history, _) =
            History::<ResourceSet>::from_journal(&path, Retention::unbounded().max_versions(3))
                .unwrap();
        assert_eq!(history.oldest().generation(), 14);
        let blame = history.blame(Some("legacy_gsi"), 5).unwrap();
        assert_eq!((blame.made(), blame.label()), (Made::AtOrBefore(14), None));
        // A byte budget keeps the newest versions that fit, and the latest
        // always.
        let (all, _) = History::<ResourceSet>::from_journal(&path, Retention::unbounded()).unwrap();
        let budget = all.retained_bytes() - 1;
        let (history, _) =
            History::<ResourceSet>::from_journal(&path, Retention::unbounded().max_bytes(budget))
                .unwrap();
        assert!(history.retained_bytes() <= budget);
        assert_eq!(history.versions().len(), life.len() - 1);
        history.check_invariants().unwrap();
        let (history, _) =
            History::<ResourceSet>::from_journal(&path, Retention::unbounded().max_bytes(1))
                .unwrap();
        assert_eq!(history.versions().len(), 1);
        assert_eq!(history.latest(), &life.last().unwrap().0);
    }

    #[test]
    fn a_history_from_a_torn_or_damaged_journal_stops_where_the_journal_does() {
        use vm_allocator::Journal;
        let dir = tempfile::tempdir().unwrap();
        let life = vm_life();
        let path = journal_file(dir.path(), &life);
        let whole = std::fs::read(&path).unwrap();
        // Where each record starts.
        let starts: Vec<usize> = vm_allocator::format::replay::<ResourceSet>(&whole)
            .unwrap()
            .map(|r| r.offset)
            .collect();

        // A crash cut the last append short: every acknowledged version.
        for cut in [1, 5, whole.len() - starts[starts.len() - 1] - 1] {
            std::fs::write(&path, &whole[..whole.len() - cut]).unwrap();
            let (history, recovery) =
                History::<ResourceSet>::from_journal(&path, Retention::unbounded()).unwrap();
            assert!(recovery.is_torn_tail(), "{recovery}");
            // As `Journal::read` reports it, and without cutting the tail off.
            let (state, read) = Journal::<ResourceSet>::read(&path).unwrap();
            assert_eq!(recovery, read);
            assert_eq!(history.latest(), &state);
            assert_eq!(
                std::fs::metadata(&path).unwrap().len() as usize,
                whole.len() - cut
            );
            assert_same_history(
                &history,
                &recorded_live(&life[..life.len() - 1], Retention::unbounded()),
            );
        }

        // Damage in the fourth record: the three before it, and the report.
        let mut damaged = whole.clone();
        damaged[starts[3] + 3] ^= 0x40;
        std::fs::write(&path, &damaged).unwrap();
        let (history, recovery) =
            History::<ResourceSet>::from_journal(&path, Retention::unbounded()).unwrap();
        assert!(recovery.is_corrupt(), "{recovery}");
        assert_eq!(recovery.records, 3);
        assert_eq!(recovery, Journal::<ResourceSet>::read(&path).unwrap().1);
        assert_same_history(&history, &recorded_live(&life[..4], Retention::unbounded()));
    }

    #[test]
    fn a_history_from_a_journal_fails_only_where_reading_the_journal_does() {
        use vm_allocator::{Journal, JournalError};
        let dir = tempfile::tempdir().unwrap();
        let life = vm_life();
        let path = journal_file(dir.path(), &life);
        let from =
            |p: &std::path::Path| History::<ResourceSet>::from_journal(p, Retention::unbounded());

        // No file.
        let missing = dir.path().join("none");
        assert!(
            matches!(from(&missing), Err(JournalError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound)
        );
        // A state file, a journal of another kind, a header cut short: the
        // error `Journal::read` gives.
        let state = dir.path().join("vm.vmalloc");
        life[0].0.write_to_path(&state).unwrap();
        let ids = dir.path().join("ids.journal");
        Journal::create(&ids, &IdAllocator::new(0, 9).unwrap()).unwrap();
        let cut = dir.path().join("cut.journal");
        std::fs::write(&cut, &std::fs::read(&path).unwrap()[..40]).unwrap();
        for file in [&state, &ids, &cut] {
            let (Err(JournalError::Decode(got)), Err(JournalError::Decode(want))) =
                (from(file), Journal::<ResourceSet>::read(file))
            else {
                panic!("{} is read", file.display());
            };
            assert_eq!(got, want);
        }
        // Held by a writer: read all the same, as `read` does.
        let (_writer, _) = Journal::<ResourceSet>::open(&path).unwrap();
        assert_eq!(from(&path).unwrap().0.latest(), &life.last().unwrap().0);
    }
}
