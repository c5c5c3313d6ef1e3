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
use support::*;
use vm_allocator::{AddressAllocator, AllocPolicy, IdAllocator, RangeInclusive};

fn check(scenario: &Scenario) -> Result<(), TestCaseError> {
    run(scenario).map_err(TestCaseError::fail)
}

proptest! {
    #![proptest_config(ProptestConfig {
        // A shrink step replays a whole scenario; keep shrinking bounded.
        max_shrink_iters: 4096,
        // Generation draws many numbers per action; XorShift is cheaper than
        // the default ChaCha and just as good for finding bugs.
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        ..ProptestConfig::default()
    })]

    /// Address allocator only: allocate, allocate_with, free, queries,
    /// snapshots.
    #[test]
    fn address_allocator_matches_model(
        s in strategy::scenario(strategy::action(strategy::address_op()), 100..300)
    ) {
        check(&s)?;
    }

    /// Id allocator only: every id operation and snapshots.
    #[test]
    fn id_allocator_matches_model(
        s in strategy::scenario(strategy::action(strategy::id_op()), 100..300)
    ) {
        check(&s)?;
    }

    /// Both allocators interleaved, constructor checks, resets to new spaces.
    #[test]
    fn both_allocators_match_models(
        s in strategy::scenario(strategy::any_action(), 100..300)
    ) {
        check(&s)?;
    }
}

/// A hand-written scenario through every kind of action, so a broken runner
/// (one that compares nothing) cannot pass silently: it must also reject a
/// model that disagrees.
#[test]
fn runner_detects_a_wrong_answer() {
    let scenario = Scenario {
        space: SpaceSel::AtZero(0xff),
        ids: IdRangeSel::AtMax(3),
        actions: vec![
            Action::Op(Op::Allocate {
                size: SizeSel::Small(16),
                align: AlignSel::Pow(4),
                policy: PolicySel::First,
            }),
            Action::Snapshot,
            Action::Op(Op::FillIds(4)),
            Action::Op(Op::AllocateId),
            Action::MutateSnapshot {
                slot: 0,
                op: Op::Free(FreeSel::Alloc(0)),
            },
            Action::Restore { slot: 0 },
            Action::Op(Op::Query(AddrSel::Offset(0))),
        ],
    };
    run(&scenario).unwrap();

    // The same allocator, but the model believes an extra allocation exists.
    let mut runner = Runner::new(scenario.space, scenario.ids).unwrap();
    runner.live.addr_model.allocs.insert(0x40, 0x4f);
    let err = runner.check().unwrap_err();
    assert!(err.contains("iter()"), "{err}");

    // A snapshot changed behind the runner's back is noticed.
    let mut runner = Runner::new(scenario.space, scenario.ids).unwrap();
    runner.step(&Action::Snapshot).unwrap();
    runner.snapshots[0].ids.allocate_id().unwrap();
    let err = runner.check().unwrap_err();
    assert!(err.starts_with("snapshot 0 changed"), "{err}");
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
    }
    a.check_invariants().unwrap();
    let full = a.clone();

    for i in (1..PAGES).step_by(2) {
        a.free(&page(i)).unwrap();
        model.allocs.remove(&page(i).start());
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

    for i in (1..PAGES).step_by(2) {
        assert_eq!(
            a.allocate(PAGE, PAGE, AllocPolicy::FirstMatch).unwrap(),
            page(i)
        );
        model.allocs.insert(page(i).start(), page(i).end());
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
    assert_eq!(ids.ranges().collect::<Vec<_>>(), vec![32..=32 + n - 1]);
    let full = ids.clone();
    for i in (0..n).step_by(2) {
        assert_eq!(ids.free_id(32 + i).unwrap(), 32 + i);
        model.free_id(32 + i).unwrap();
    }
    check_ids(&ids, &model, Some(0)).unwrap();
    assert_eq!(ids.ranges().count() as u32, n / 2);
    // Freed below the highest id ever handed out: AlreadyReleased.
    assert_eq!(
        ids.free_id(32).unwrap_err(),
        vm_allocator::Error::AlreadyReleased(32)
    );
    for i in (0..n).step_by(2) {
        assert_eq!(ids.allocate_id().unwrap(), 32 + i);
        model.allocated.insert(32 + i);
    }
    check_ids(&ids, &model, Some(1)).unwrap();
    assert_eq!(ids, full);
    assert_eq!(
        ids.allocate_id().unwrap_err(),
        vm_allocator::Error::ResourceNotAvailable
    );
}
