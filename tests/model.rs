// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Long random sequences of every operation, clones mutated independently
//! included, checked step by step against the reference models of
//! `support` (the same actions and models the fuzz target `ops` uses).
//!
//! `PROPTEST_CASES` sets the number of sequences per suite. A failure prints
//! the action that diverged and the minimal scenario, which can be pasted
//! into a test and replayed with `support::run_or_panic`.

#[path = "support/strategy.rs"]
mod strategy;
mod support;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use strategy::{Extras, Owners};
use support::*;
use vm_allocator::{
    AddressAllocator, AllocPolicy, Delta, Diff, DiffError, IdAllocator, Owner, RangeInclusive,
    ResourceSet, SetError,
};

fn check(scenario: &Scenario) -> Result<(), TestCaseError> {
    run(scenario).map_err(TestCaseError::fail)
}

/// `cases` scenarios per suite unless `PROPTEST_CASES` says otherwise.
fn config(cases: u32) -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(cases),
        // A shrink step replays a whole scenario; keep shrinking bounded.
        max_shrink_iters: 4096,
        // Generation draws many numbers per action; XorShift is cheaper than
        // the default ChaCha and just as good for finding bugs.
        rng_algorithm: RngAlgorithm::XorShift,
        ..Config::default()
    }
}

/// Owners on most allocations, re-owned and freed by owner often, on both
/// allocators, and round trips.
fn owner_scenarios() -> impl Strategy<Value = Scenario> {
    let op = prop_oneof![
        strategy::address_op_with(Owners(8)),
        strategy::id_op_with(Owners(8)),
    ];
    let extras = Extras {
        round_trip: 2,
        ..Extras::default()
    };
    strategy::scenario(strategy::actions(op.boxed(), extras), 50..200)
}

/// The set alone, with set transactions, diffs and round trips.
fn set_scenarios() -> impl Strategy<Value = Scenario> {
    let extras = Extras {
        diff: 3,
        transaction: 4,
        round_trip: 1,
        reset: 1,
    };
    strategy::scenario(strategy::actions(strategy::set_op_as_op(), extras), 50..200)
}

/// Every operation, and diffs often.
fn diff_scenarios() -> impl Strategy<Value = Scenario> {
    let extras = Extras {
        diff: 12,
        reset: 1,
        ..Extras::default()
    };
    strategy::scenario(strategy::actions(strategy::any_op(), extras), 30..120)
}

/// Every operation, and transactions often.
fn transaction_scenarios() -> impl Strategy<Value = Scenario> {
    let extras = Extras {
        diff: 1,
        transaction: 25,
        ..Extras::default()
    };
    strategy::scenario(strategy::actions(strategy::any_op(), extras), 30..120)
}

/// Every operation, and round trips often.
fn round_trip_scenarios() -> impl Strategy<Value = Scenario> {
    let extras = Extras {
        transaction: 2,
        round_trip: 15,
        reset: 1,
        ..Extras::default()
    };
    strategy::scenario(strategy::actions(strategy::any_op(), extras), 30..120)
}

proptest! {
    #![proptest_config(config(256))]

    /// Address allocator only: allocate, allocate_with, free, owners,
    /// queries, snapshots.
    #[test]
    fn address_allocator_matches_model(
        s in strategy::scenario(strategy::action(strategy::address_op()), 100..300)
    ) {
        check(&s)?;
    }

    /// Id allocator only: every id operation, owners and snapshots.
    #[test]
    fn id_allocator_matches_model(
        s in strategy::scenario(strategy::action(strategy::id_op()), 100..300)
    ) {
        check(&s)?;
    }
}

proptest! {
    #![proptest_config(config(128))]

    /// Both allocators and the set interleaved, constructor checks, resets
    /// to new spaces, diffs, transactions and round trips.
    #[test]
    fn both_allocators_match_models(
        s in strategy::scenario(strategy::any_action(), 100..300)
    ) {
        check(&s)?;
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// Owners on most allocations, re-owned and freed by owner often;
    /// generations checked after every step.
    #[test]
    fn owners_and_generations_match_models(s in owner_scenarios()) {
        check(&s)?;
    }

    /// The set alone: calls to every pool (and to missing ones and ones
    /// of the wrong kind), set transactions, set diffs and deltas.
    #[test]
    fn resource_set_matches_model(s in set_scenarios()) {
        check(&s)?;
    }

    /// Diffs and deltas between snapshots and the live state, sharing
    /// history or rebuilt from their encodings, applied to every kept state.
    #[test]
    fn diffs_and_deltas_match_models(s in diff_scenarios()) {
        check(&s)?;
    }

    /// Transactions on both allocators and the set, committed, rolled back,
    /// dropped, failing by themselves or on purpose.
    #[test]
    fn transactions_match_models(s in transaction_scenarios()) {
        check(&s)?;
    }

    /// Every encoding of every state: the current format, version 1 (or its
    /// refusal), serde_json, without owners.
    #[test]
    fn round_trips_keep_everything(s in round_trip_scenarios()) {
        check(&s)?;
    }
}

/// Sums what `count` scenarios drawn from `strategy` exercised, on a fixed
/// seed.
fn exercised(strategy: impl Strategy<Value = Scenario>, count: usize) -> Stats {
    let rng = TestRng::deterministic_rng(RngAlgorithm::XorShift);
    let mut runner = TestRunner::new_with_rng(config(1), rng);
    let mut total = Stats::default();
    for _ in 0..count {
        let scenario = strategy.new_tree(&mut runner).unwrap().current();
        match run_counting(&scenario) {
            Ok(stats) => total.add(&stats),
            Err(e) => panic!("{e}\n\nreproducer:\n{scenario:#?}"),
        }
    }
    total
}

/// The suites' strategies reach every feature: a runner or a strategy that
/// stops exercising one (compares nothing, never commits, never diffs
/// anything) fails here. Measured on a fixed seed.
#[test]
fn suites_exercise_every_feature() {
    let any = exercised(strategy::scenario(strategy::any_action(), 100..300), 12);
    let owners = exercised(owner_scenarios(), 12);
    let set = exercised(set_scenarios(), 12);
    let diffs = exercised(diff_scenarios(), 12);
    let txs = exercised(transaction_scenarios(), 12);
    let trips = exercised(round_trip_scenarios(), 12);
    let report = format!(
        "any: {any:#?}\nowners: {owners:#?}\nset: {set:#?}\ndiffs: {diffs:#?}\n\
         transactions: {txs:#?}\nround trips: {trips:#?}"
    );
    let checks = [
        ("owned allocations", owners.owned_allocations > 200),
        ("owners set", owners.owner_sets > 20),
        ("owners freed", owners.owners_freed > 20),
        ("set calls", set.set_calls_ok > 300),
        ("set: no such pool", set.set_no_such_pool > 10),
        ("set: wrong kind", set.set_wrong_kind > 10),
        ("set: owned allocations", set.owned_allocations > 50),
        ("set: owners freed", set.owners_freed > 5),
        ("diffs sharing history", diffs.diffs_shared > 10),
        ("diffs sharing nothing", diffs.diffs_rebuilt > 10),
        ("diffs of other shapes", diffs.shape_mismatches > 3),
        ("deltas applied", diffs.deltas_applied > 50),
        ("deltas refused", diffs.deltas_refused > 50),
        ("diffs refused", diffs.diffs_refused > 50),
        ("set diffs", set.diffs_shared + set.diffs_rebuilt > 5),
        ("transactions committed", txs.tx_committed > 20),
        ("transactions failed", txs.tx_failed > 20),
        ("transactions failed on purpose", txs.tx_forced > 20),
        ("transactions abandoned", txs.tx_abandoned > 3),
        ("set transactions", set.tx_committed + set.tx_failed > 10),
        ("round trips", trips.round_trips > 100),
        ("version 1 refusals", trips.v1_refusals > 30),
        (
            "everything together",
            any.diffs_shared + any.tx_committed + any.round_trips > 30,
        ),
    ];
    for (what, ok) in checks {
        assert!(ok, "too few {what}:\n{report}");
    }
}

/// A hand-written scenario through every kind of action passes, and a broken
/// runner (one that compares nothing) cannot pass silently: every kind of
/// check must also reject a model that disagrees.
#[test]
fn runner_detects_a_wrong_answer() {
    use OwnerSel::*;
    let alloc = |size, owner| {
        Op::Addr(AddrStep::Allocate {
            size: SizeSel::Small(size),
            align: AlignSel::Pow(4),
            policy: PolicySel::First,
            owner,
        })
    };
    let scenario = Scenario {
        space: SpaceSel::AtZero(0xff),
        ids: IdRangeSel::AtMax(7),
        actions: vec![
            Action::Op(alloc(16, Some(Net0))),
            Action::Snapshot,
            Action::Op(Op::FillIds {
                count: 4,
                owner: Some(Pci),
            }),
            Action::Op(Op::Id(IdStep::AllocateId(None))),
            Action::Op(Op::Id(IdStep::AllocateIdAt {
                id: IdSel::NextId(0),
                owner: Some(Net0Again),
            })),
            Action::MutateSnapshot {
                slot: 0,
                op: Op::Addr(AddrStep::Free(FreeSel::Alloc(0))),
            },
            Action::Op(Op::Set(SetOp::Id {
                pool: PoolSel::Ids(0),
                step: IdStep::AllocateId(Some(Net0Again)),
            })),
            Action::Op(Op::Set(SetOp::Addr {
                pool: PoolSel::Addresses(0),
                step: AddrStep::Allocate {
                    size: SizeSel::Small(0x10),
                    align: AlignSel::Pow(4),
                    policy: PolicySel::Last,
                    owner: Some(Gpu),
                },
            })),
            Action::Op(Op::Set(SetOp::Addr {
                pool: PoolSel::Missing,
                step: AddrStep::Free(FreeSel::Alloc(0)),
            })),
            Action::Op(Op::Set(SetOp::Id {
                pool: PoolSel::Addresses(1),
                step: IdStep::AllocateId(None),
            })),
            // The same owner by name through another handle: no change.
            Action::Op(Op::Addr(AddrStep::SetOwner {
                range: FreeSel::Alloc(0),
                owner: Some(Net0Again),
            })),
            Action::Diff {
                slot: 0,
                rebuild: Rebuild::Shared,
                reverse: false,
            },
            Action::Diff {
                slot: 0,
                rebuild: Rebuild::BothFromBytes,
                reverse: true,
            },
            Action::Transaction {
                tx: Tx::Set(vec![
                    SetOp::Id {
                        pool: PoolSel::Ids(1),
                        step: IdStep::AllocateIds {
                            count: CountSel::Small(4),
                            align: IdAlignSel::Pow(2),
                            owner: Some(Long),
                        },
                    },
                    SetOp::Addr {
                        pool: PoolSel::Addresses(4),
                        step: AddrStep::Allocate {
                            size: SizeSel::Small(8),
                            align: AlignSel::Pow(3),
                            policy: PolicySel::First,
                            owner: Some(Long),
                        },
                    },
                ]),
                end: TxEnd::Commit,
            },
            Action::Transaction {
                tx: Tx::Ids(vec![IdStep::FreeOwner(Pci)]),
                end: TxEnd::Fail { mutate: true },
            },
            Action::Transaction {
                tx: Tx::Addresses(vec![AddrStep::FreeOwner(Net0)]),
                end: TxEnd::Drop,
            },
            Action::RoundTrip,
            Action::Op(Op::Id(IdStep::FreeOwner(Net0))),
            Action::Op(Op::Set(SetOp::Addr {
                pool: PoolSel::Ids(0),
                step: AddrStep::FreeOwner(Long),
            })),
            Action::Restore { slot: 0 },
            Action::Op(Op::Query(AddrSel::Offset(0))),
        ],
    };
    let stats = run_counting(&scenario).unwrap();
    assert_eq!(
        (
            stats.owned_allocations,
            stats.owner_sets,
            stats.owners_freed,
            stats.set_no_such_pool,
            stats.set_wrong_kind,
        ),
        (8, 1, 2, 1, 1),
        "{stats:#?}"
    );
    assert!(
        stats.diffs_shared == 3 && stats.diffs_rebuilt == 3,
        "{stats:#?}"
    );
    assert_eq!(
        (stats.tx_committed, stats.tx_forced, stats.tx_abandoned),
        (1, 1, 1),
        "{stats:#?}"
    );
    assert_eq!((stats.round_trips, stats.v1_refusals), (3, 3), "{stats:#?}");

    let fresh = || {
        let mut runner = Runner::new(scenario.space, scenario.ids).unwrap();
        runner.step(&Action::Op(alloc(16, Some(Net0)))).unwrap();
        runner.step(&Action::Op(alloc(16, None))).unwrap();
        runner
            .step(&Action::Op(Op::Id(IdStep::AllocateId(Some(Pci)))))
            .unwrap();
        runner.step(&Action::Snapshot).unwrap();
        runner
    };
    let rejects = |runner: &mut Runner, action: Option<Action>, expected: &str| {
        let err = match action {
            Some(action) => runner.step(&action).unwrap_err(),
            None => runner.check().unwrap_err(),
        };
        assert!(err.contains(expected), "expected {expected:?} in: {err}");
    };

    // The model believes an extra allocation exists.
    let mut runner = fresh();
    runner.live.addr_model.allocs.insert(0x40, 0x4f);
    rejects(&mut runner, None, "iter()");
    // ... or another owner.
    let mut runner = fresh();
    runner.live.addr_model.owners.insert(0x10, Pci.owner());
    rejects(&mut runner, None, "allocations()");
    let mut runner = fresh();
    runner.live.id_model.owners.clear();
    rejects(&mut runner, None, "allocations()");
    // ... or another generation, of an allocator or of the set.
    let mut runner = fresh();
    runner.live.id_model.generation += 1;
    rejects(&mut runner, None, "generation()");
    let mut runner = fresh();
    runner.snapshots[0].addr_model.generation -= 1;
    rejects(&mut runner, None, "snapshot 0 changed: generation()");
    let mut runner = fresh();
    runner.live.set_model.generation += 1;
    rejects(&mut runner, None, "set generation()");
    // An operation answers what the model does not.
    let mut runner = fresh();
    runner.live.addr_model.allocs.remove(&0x10);
    rejects(&mut runner, Some(Action::Op(alloc(1, None))), "Allocate");
    // A diff lists what the models say did not change.
    let mut runner = fresh();
    runner.snapshots[0].addr_model.owners.clear();
    rejects(
        &mut runner,
        Some(Action::Diff {
            slot: 0,
            rebuild: Rebuild::Shared,
            reverse: false,
        }),
        "address allocator: Diff::between",
    );
    // A transaction's step answers what the model does not.
    let mut runner = fresh();
    runner.live.id_model.allocated.insert(u32::MAX - 6);
    rejects(
        &mut runner,
        Some(Action::Transaction {
            tx: Tx::Ids(vec![IdStep::AllocateId(None)]),
            end: TxEnd::Commit,
        }),
        "step AllocateId",
    );
    // A round trip decodes what the model does not hold.
    let mut runner = fresh();
    runner.live.addr_model.owners.clear();
    rejects(
        &mut runner,
        Some(Action::RoundTrip),
        "address allocator: from_bytes(to_bytes())",
    );
    // A set call answers what the model does not.
    let mut runner = fresh();
    match &mut runner.live.set_model.pools[0] {
        (name, PoolModel::Ids(m)) if name == "legacy_gsi" => m.allocated.insert(5),
        pool => panic!("the first pool is {pool:?}"),
    };
    rejects(
        &mut runner,
        Some(Action::Op(Op::Set(SetOp::Id {
            pool: PoolSel::Ids(0),
            step: IdStep::AllocateId(None),
        }))),
        "set SetCall",
    );
    // A snapshot changed behind the runner's back is noticed.
    let mut runner = fresh();
    runner.snapshots[0].ids.allocate_id().unwrap();
    rejects(&mut runner, None, "snapshot 0 changed");
    let mut runner = fresh();
    runner.snapshots[0].set.allocate_id("legacy_gsi").unwrap();
    rejects(&mut runner, None, "snapshot 0 changed: set");
}

/// The owner handles: one name twice through handles that are equal but
/// not pointer-equal, and names up to the longest allowed.
#[test]
fn owner_selectors_cover_equal_handles_and_long_names() {
    let (a, b) = (OwnerSel::Net0.owner(), OwnerSel::Net0Again.owner());
    assert!(a == b && !a.ptr_eq(&b));
    assert!(a.ptr_eq(&OwnerSel::Net0.owner()));
    assert_eq!(OwnerSel::Long.owner().len(), vm_allocator::MAX_NAME_LEN);
    assert!(!OwnerSel::Gpu.owner().is_ascii());
    assert!(OWNER_NAMES.iter().all(|n| *n != NOBODY));
}

/// `owned_by(..).allocate` on a set must report a missing pool, or one of
/// the other kind, as `allocate` does, whatever the constraint: the pool
/// is named first.
#[test]
fn set_owned_allocate_checks_the_pool_first() {
    let mut set = ResourceSet::x86_64();
    let net0 = Owner::new("net0").unwrap();
    let missing = SetError::NoSuchPool("gpu_bars".to_owned());
    assert_eq!(
        set.allocate("gpu_bars", 0, 1, AllocPolicy::FirstMatch),
        Err(missing.clone())
    );
    assert_eq!(
        set.owned_by(&net0)
            .allocate("gpu_bars", 0, 1, AllocPolicy::FirstMatch),
        Err(missing)
    );
    let wrong_kind = SetError::WrongKind {
        pool: "msi_gsi".to_owned(),
        expected: vm_allocator::PoolKind::Addresses,
    };
    assert_eq!(
        set.allocate("msi_gsi", 0x1000, 3, AllocPolicy::FirstMatch),
        Err(wrong_kind.clone())
    );
    assert_eq!(
        set.owned_by(&net0)
            .allocate("msi_gsi", 0x1000, 3, AllocPolicy::FirstMatch),
        Err(wrong_kind)
    );
}

/// A diff records no space or id range: applying it to another state at
/// the same generation where the changes fit succeeds (as `Diff::apply`
/// documents), while a change outside the state's space is refused, and a
/// delta refuses any state but its base.
#[test]
fn diffs_check_changes_and_deltas_check_the_whole_base() {
    let older = AddressAllocator::new(0x1000, 0x1000).unwrap();
    let mut newer = older.clone();
    newer
        .allocate(0x100, 0x100, AllocPolicy::ExactMatch(0x1000))
        .unwrap();
    let diff = Diff::between(&older, &newer).unwrap();
    let roomy = AddressAllocator::new(0, 0x10000).unwrap();
    assert!(diff.apply(&roomy).is_ok());
    let narrow = AddressAllocator::new(0x4000, 0x1000).unwrap();
    assert!(matches!(
        diff.apply(&narrow),
        Err(DiffError::NotFree { .. })
    ));
    assert!(matches!(
        Delta::between(&older, &newer).unwrap().apply(&roomy),
        Err(DiffError::ChecksumMismatch { .. })
    ));
    let older = IdAllocator::new(0, 15).unwrap();
    let mut newer = older.clone();
    newer.allocate_id().unwrap();
    let other = IdAllocator::new(0, 99).unwrap();
    assert!(Diff::between(&older, &newer).unwrap().apply(&other).is_ok());
    assert!(matches!(
        Delta::between(&older, &newer).unwrap().apply(&other),
        Err(DiffError::ChecksumMismatch { .. })
    ));
}

const PAGE: u64 = 0x1000;
const PAGES: u64 = 20_000;

/// 20k page allocations with FirstMatch, free every other one, allocate them
/// again: the addresses are known in advance, so this runs at full size.
#[test]
fn twenty_thousand_pages_first_match() {
    let base = 0x1_0000_0000;
    let mut a = AddressAllocator::new(base, (PAGES + 3) * PAGE).unwrap();
    let mut model = AddressModel::new(base, (PAGES + 3) * PAGE).unwrap();
    let page = |i: u64| RangeInclusive::new(base + i * PAGE, base + (i + 1) * PAGE - 1).unwrap();
    for i in 0..PAGES {
        assert_eq!(
            a.allocate(PAGE, PAGE, AllocPolicy::FirstMatch).unwrap(),
            page(i)
        );
        model.allocs.insert(page(i).start(), page(i).end());
        model.generation += 1;
    }
    a.check_invariants().unwrap();
    let full = a.clone();

    for i in (1..PAGES).step_by(2) {
        a.free(&page(i)).unwrap();
        model.free(page(i).start(), page(i).end()).unwrap();
    }
    a.check_invariants().unwrap();
    check_address(&a, &model, Some(0)).unwrap();
    assert_eq!(a.len(), PAGES / 2);
    // A freed page cannot be freed twice, a kept one is still there.
    assert!(a.free(&page(1)).is_err());
    assert!(a.is_allocated(page(2).start()) && !a.is_allocated(page(3).end()));
    // Two pages never fit in a one-page hole: they go to the first two-page
    // hole, the freed last page and the free page after it.
    let two = a.allocate(2 * PAGE, PAGE, AllocPolicy::FirstMatch).unwrap();
    assert_eq!(two.start(), page(PAGES - 1).start());
    a.free(&two).unwrap();
    model.generation += 2;

    for i in (1..PAGES).step_by(2) {
        assert_eq!(
            a.allocate(PAGE, PAGE, AllocPolicy::FirstMatch).unwrap(),
            page(i)
        );
        model.allocs.insert(page(i).start(), page(i).end());
        model.generation += 1;
    }
    a.check_invariants().unwrap();
    check_address(&a, &model, Some(1)).unwrap();
    assert_eq!(a, full);
    assert_eq!(a.used(), PAGES * PAGE);
    assert_eq!(a.available(), 3 * PAGE);

    // The clone taken when full was never touched by all of the above.
    full.check_invariants().unwrap();
    assert_eq!(full.iter().count() as u64, PAGES);
    assert!(full.iter().enumerate().all(|(i, r)| r == page(i as u64)));
}

/// The same at full size with LastMatch and a snapshot mutated on the side.
#[test]
fn twenty_thousand_pages_last_match_with_snapshot() {
    let base = 0xc000_0000;
    let size = PAGES * PAGE;
    let mut a = AddressAllocator::new(base, size).unwrap();
    let page = |i: u64| RangeInclusive::new(base + i * PAGE, base + (i + 1) * PAGE - 1).unwrap();
    for i in (0..PAGES).rev() {
        assert_eq!(
            a.allocate(PAGE, PAGE, AllocPolicy::LastMatch).unwrap(),
            page(i)
        );
    }
    assert_eq!(
        a.allocate(1, 1, AllocPolicy::LastMatch).unwrap_err(),
        vm_allocator::Error::ResourceNotAvailable
    );
    let mut side = a.clone();
    for i in (0..PAGES).step_by(2) {
        a.free(&page(i)).unwrap();
    }
    for i in (1..PAGES).step_by(2) {
        side.free(&page(i)).unwrap();
    }
    // Each sees only its own frees; LastMatch refills from the top.
    assert!(a.iter().eq((1..PAGES).step_by(2).map(page)));
    assert!(side.iter().eq((0..PAGES).step_by(2).map(page)));
    assert_eq!(
        a.allocate(PAGE, PAGE, AllocPolicy::LastMatch).unwrap(),
        page(PAGES - 2)
    );
    assert_eq!(
        side.allocate(PAGE, PAGE, AllocPolicy::LastMatch).unwrap(),
        page(PAGES - 1)
    );
    a.check_invariants().unwrap();
    side.check_invariants().unwrap();
}

/// 20k ids one by one, free every other, allocate again: smallest first.
#[test]
fn twenty_thousand_ids() {
    let n = 20_000u32;
    let mut ids = IdAllocator::new(32, 32 + n - 1).unwrap();
    // The model's own allocate_id is a linear scan: fill it directly.
    let mut model = IdModel::new(32, 32 + n - 1).unwrap();
    for i in 0..n {
        assert_eq!(ids.allocate_id().unwrap(), 32 + i);
    }
    model.allocated.extend(32..32 + n);
    model.next_id = u64::from(32 + n);
    model.generation = u64::from(n);
    assert_eq!(ids.runs().collect::<Vec<_>>(), vec![32..=32 + n - 1]);
    let full = ids.clone();
    for i in (0..n).step_by(2) {
        assert_eq!(ids.free_id(32 + i).unwrap(), 32 + i);
        model.free_id(32 + i).unwrap();
    }
    check_ids(&ids, &model, Some(0)).unwrap();
    assert_eq!(ids.runs().count() as u32, n / 2);
    // Freed below the highest id ever handed out: AlreadyReleased.
    assert_eq!(
        ids.free_id(32).unwrap_err(),
        vm_allocator::Error::AlreadyReleased(32)
    );
    for i in (0..n).step_by(2) {
        assert_eq!(ids.allocate_id().unwrap(), 32 + i);
        model.allocated.insert(32 + i);
        model.generation += 1;
    }
    check_ids(&ids, &model, Some(1)).unwrap();
    assert_eq!(ids, full);
    assert_eq!(
        ids.allocate_id().unwrap_err(),
        vm_allocator::Error::ResourceNotAvailable
    );
}
