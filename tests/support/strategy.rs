// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! proptest strategies for the shared [`Action`]s of `support`.
//!
//! The fuzz target decodes the same types with `arbitrary`; here they are
//! built field by field so that proptest shrinks a failure to a short,
//! readable list of actions, and so that the mix leans towards what finds
//! bugs: boundaries, small alignments, frees of real allocations.

use proptest::prelude::*;
use proptest::strategy::Union;

use crate::support::*;

/// An address space: touching 0, touching `u64::MAX`, anywhere, or wide.
pub fn space() -> impl Strategy<Value = SpaceSel> {
    prop_oneof![
        1 => (0u16..64).prop_map(SpaceSel::AtZero),
        3 => (0u16..4096).prop_map(SpaceSel::AtZero),
        1 => (0u16..64).prop_map(SpaceSel::AtMax),
        3 => (0u16..4096).prop_map(SpaceSel::AtMax),
        3 => (any::<u64>(), 0u16..4096).prop_map(|(base, len)| SpaceSel::At { base, len }),
        1 => (any::<u64>(), 0u8..=64).prop_map(|(base, bits)| SpaceSel::Wide { base, bits }),
    ]
}

/// An id range: at 0, ending at `u32::MAX`, anywhere, or wide.
pub fn id_range() -> impl Strategy<Value = IdRangeSel> {
    prop_oneof![
        3 => (0u16..300).prop_map(IdRangeSel::AtZero),
        3 => (0u16..300).prop_map(IdRangeSel::AtMax),
        2 => (any::<u32>(), 0u16..300).prop_map(|(base, len)| IdRangeSel::At { base, len }),
        1 => (any::<u32>(), 0u8..=32).prop_map(|(base, bits)| IdRangeSel::Wide { base, bits }),
    ]
}

fn addr() -> BoxedStrategy<AddrSel> {
    let delta = prop_oneof![3 => Just(0i8), 2 => -2i8..=2, 1 => any::<i8>()];
    prop_oneof![
        2 => (0u16..700).prop_map(AddrSel::Offset),
        1 => (0u8..4).prop_map(AddrSel::Below),
        2 => (0u16..700).prop_map(AddrSel::FromEnd),
        1 => (0u8..4).prop_map(AddrSel::Above),
        1 => any::<u16>().prop_map(AddrSel::Fraction),
        3 => (any::<u8>(), delta.clone()).prop_map(|(idx, delta)| AddrSel::AllocStart { idx, delta }),
        2 => (any::<u8>(), delta.clone()).prop_map(|(idx, delta)| AddrSel::AllocEnd { idx, delta }),
        3 => (any::<u8>(), delta.clone()).prop_map(|(idx, delta)| AddrSel::GapStart { idx, delta }),
        2 => (any::<u8>(), delta).prop_map(|(idx, delta)| AddrSel::GapEnd { idx, delta }),
        1 => any::<u64>().prop_map(AddrSel::Raw),
    ]
    .boxed()
}

fn size() -> BoxedStrategy<SizeSel> {
    prop_oneof![
        10 => (1u8..=4).prop_map(SizeSel::Small),
        4 => (5u8..=40).prop_map(SizeSel::Small),
        1 => Just(SizeSel::Small(0)),
        3 => (0u8..10).prop_map(SizeSel::Pow),
        1 => any::<u8>().prop_map(SizeSel::Pow),
        1 => (0u8..3).prop_map(SizeSel::SpaceMinus),
        1 => any::<u64>().prop_map(SizeSel::Raw),
    ]
    .boxed()
}

fn align() -> BoxedStrategy<AlignSel> {
    prop_oneof![
        12 => (0u8..6).prop_map(AlignSel::Pow),
        2 => (6u8..12).prop_map(AlignSel::Pow),
        1 => (12u8..64).prop_map(AlignSel::Pow),
        1 => any::<u64>().prop_map(AlignSel::Raw),
        1 => Just(AlignSel::Raw(0)),
    ]
    .boxed()
}

fn policy() -> BoxedStrategy<PolicySel> {
    prop_oneof![
        4 => Just(PolicySel::First),
        3 => Just(PolicySel::Last),
        4 => addr().prop_map(PolicySel::ExactAligned),
        1 => addr().prop_map(PolicySel::Exact),
    ]
    .boxed()
}

fn bounds() -> BoxedStrategy<BoundsSel> {
    (
        proptest::option::of(addr()),
        proptest::option::of(addr()),
        proptest::option::weighted(0.3, (addr(), addr())),
    )
        .prop_map(|(min, max, within)| BoundsSel { min, max, within })
        .boxed()
}

fn free_sel() -> BoxedStrategy<FreeSel> {
    let small = || 0u8..4;
    prop_oneof![
        12 => any::<u8>().prop_map(FreeSel::Alloc),
        1 => (any::<u8>(), small(), small()).prop_map(|(idx, trim_start, trim_end)| {
            FreeSel::Sub { idx, trim_start, trim_end }
        }),
        1 => (any::<u8>(), small(), small()).prop_map(|(idx, grow_start, grow_end)| {
            FreeSel::Super { idx, grow_start, grow_end }
        }),
        1 => (any::<u8>(), -3i8..=3).prop_map(|(idx, delta)| FreeSel::Shift { idx, delta }),
        1 => any::<u8>().prop_map(FreeSel::Pair),
        1 => any::<u8>().prop_map(FreeSel::Gap),
        1 => (addr(), 0u16..64).prop_map(|(start, len)| FreeSel::Raw { start, len }),
    ]
    .boxed()
}

fn id() -> BoxedStrategy<IdSel> {
    prop_oneof![
        3 => (0u16..320).prop_map(IdSel::Offset),
        1 => (0u8..3).prop_map(IdSel::Below),
        2 => (0u16..320).prop_map(IdSel::FromEnd),
        1 => (0u8..3).prop_map(IdSel::Above),
        1 => any::<u16>().prop_map(IdSel::Fraction),
        5 => (any::<u8>(), prop_oneof![3 => Just(0i8), 1 => -2i8..=2])
            .prop_map(|(idx, delta)| IdSel::Allocated { idx, delta }),
        2 => (-2i8..=1).prop_map(IdSel::NextId),
        1 => any::<u32>().prop_map(IdSel::Raw),
    ]
    .boxed()
}

fn count() -> BoxedStrategy<CountSel> {
    prop_oneof![
        8 => (1u8..=17).prop_map(CountSel::Small),
        1 => Just(CountSel::Small(0)),
        1 => any::<u8>().prop_map(CountSel::Pow),
        1 => any::<u32>().prop_map(CountSel::Raw),
    ]
    .boxed()
}

fn id_align() -> BoxedStrategy<IdAlignSel> {
    prop_oneof![
        8 => (0u8..5).prop_map(IdAlignSel::Pow),
        1 => any::<u8>().prop_map(IdAlignSel::Pow),
        1 => any::<u32>().prop_map(IdAlignSel::Raw),
    ]
    .boxed()
}

fn owner_sel() -> BoxedStrategy<OwnerSel> {
    prop_oneof![
        3 => Just(OwnerSel::Net0),
        2 => Just(OwnerSel::Net0Again),
        2 => Just(OwnerSel::Pci),
        1 => Just(OwnerSel::Gpu),
        1 => Just(OwnerSel::Long),
    ]
    .boxed()
}

/// No owner with weight `none`, one of the handful with weight `some`.
fn owner(none: u32, some: u32) -> BoxedStrategy<Option<OwnerSel>> {
    let mut arms = vec![
        (none, Just(None).boxed()),
        (some, owner_sel().prop_map(Some).boxed()),
    ];
    arms.retain(|(w, _)| *w > 0);
    Union::new_weighted(arms).boxed()
}

/// How often an allocation carries an owner, out of 10 (at most 10).
#[derive(Clone, Copy, Debug)]
pub struct Owners(pub u32);

/// Calls on an address allocator (or pool); `owners` of 10 allocations
/// carry an owner.
pub fn addr_step(owners: Owners) -> BoxedStrategy<AddrStep> {
    let o = || owner(10 - owners.0, owners.0);
    let owner_weight = owners.0.max(1);
    prop_oneof![
        20 => (size(), align(), policy(), o())
            .prop_map(|(size, align, policy, owner)| AddrStep::Allocate { size, align, policy, owner }),
        8 => (size(), align(), policy(), bounds(), o()).prop_map(|(size, align, policy, bounds, owner)| {
            AddrStep::AllocateWith { size, align, policy, bounds, owner }
        }),
        12 => free_sel().prop_map(AddrStep::Free),
        owner_weight => (free_sel(), owner(1, 4))
            .prop_map(|(range, owner)| AddrStep::SetOwner { range, owner }),
        owner_weight.div_ceil(2) => owner_sel().prop_map(AddrStep::FreeOwner),
    ]
    .boxed()
}

/// Calls on an id allocator (or pool).
pub fn id_step(owners: Owners) -> BoxedStrategy<IdStep> {
    let o = || owner(10 - owners.0, owners.0);
    let owner_weight = owners.0.max(1);
    let span = || prop_oneof![4 => 0i8..8, 1 => any::<i8>()];
    prop_oneof![
        8 => o().prop_map(IdStep::AllocateId),
        5 => (id(), o()).prop_map(|(id, owner)| IdStep::AllocateIdAt { id, owner }),
        5 => (count(), id_align(), o())
            .prop_map(|(count, align, owner)| IdStep::AllocateIds { count, align, owner }),
        9 => id().prop_map(IdStep::FreeId),
        4 => (id(), span()).prop_map(|(first, span)| IdStep::FreeIds { first, span }),
        owner_weight => (id(), span(), owner(1, 4))
            .prop_map(|(first, span, owner)| IdStep::SetOwner { first, span, owner }),
        owner_weight.div_ceil(2) => owner_sel().prop_map(IdStep::FreeOwner),
    ]
    .boxed()
}

/// Operations on the address allocator.
pub fn address_op() -> BoxedStrategy<Op> {
    address_op_with(Owners(3))
}

/// Operations on the address allocator, `owners` of 10 allocations owned.
pub fn address_op_with(owners: Owners) -> BoxedStrategy<Op> {
    prop_oneof![
        44 => addr_step(owners).prop_map(Op::Addr),
        4 => (any::<u8>(), size(), align(), any::<bool>(), owner(10 - owners.0, owners.0))
            .prop_map(|(count, size, align, last, owner)| Op::Fill { count, size, align, last, owner }),
        1 => (any::<u8>(), 0u8..4).prop_map(|(stride, offset)| Op::FreeEvery { stride, offset }),
        4 => addr().prop_map(Op::Query),
    ]
    .boxed()
}

/// Operations on the id allocator.
pub fn id_op() -> BoxedStrategy<Op> {
    id_op_with(Owners(3))
}

/// Operations on the id allocator, `owners` of 10 allocations owned.
pub fn id_op_with(owners: Owners) -> BoxedStrategy<Op> {
    prop_oneof![
        36 => id_step(owners).prop_map(Op::Id),
        1 => (any::<u8>(), owner(10 - owners.0, owners.0))
            .prop_map(|(count, owner)| Op::FillIds { count, owner }),
        1 => (any::<u8>(), 0u8..4).prop_map(|(stride, offset)| Op::FreeIdsEvery { stride, offset }),
        3 => id().prop_map(Op::QueryId),
    ]
    .boxed()
}

/// A pool for a call of `kind`: mostly one of that kind, sometimes any
/// pool (`WrongKind`) or a missing one (`NoSuchPool`).
fn pool(kind: fn(u8) -> PoolSel) -> BoxedStrategy<PoolSel> {
    prop_oneof![
        24 => any::<u8>().prop_map(kind),
        1 => any::<u8>().prop_map(PoolSel::Any),
        1 => Just(PoolSel::Missing),
    ]
    .boxed()
}

/// Calls on the resource set, to pools of both kinds.
pub fn set_op(owners: Owners) -> BoxedStrategy<SetOp> {
    prop_oneof![
        1 => (pool(PoolSel::Addresses), addr_step(owners))
            .prop_map(|(pool, step)| SetOp::Addr { pool, step }),
        1 => (pool(PoolSel::Ids), id_step(owners)).prop_map(|(pool, step)| SetOp::Id { pool, step }),
    ]
    .boxed()
}

/// Operations on the set.
pub fn set_op_as_op() -> BoxedStrategy<Op> {
    set_op(Owners(4)).prop_map(Op::Set).boxed()
}

/// Address calls that usually succeed (small First/LastMatch allocations,
/// frees and re-owning of real allocations), and sometimes any call: most
/// transactions then get through several steps before one fails.
fn tx_addr_step() -> BoxedStrategy<AddrStep> {
    let policy = prop_oneof![Just(PolicySel::First), Just(PolicySel::Last)];
    prop_oneof![
        8 => ((1u8..=8).prop_map(SizeSel::Small), (0u8..4).prop_map(AlignSel::Pow), policy, owner(1, 1))
            .prop_map(|(size, align, policy, owner)| AddrStep::Allocate { size, align, policy, owner }),
        3 => any::<u8>().prop_map(|idx| AddrStep::Free(FreeSel::Alloc(idx))),
        2 => (any::<u8>(), owner(1, 3))
            .prop_map(|(idx, owner)| AddrStep::SetOwner { range: FreeSel::Alloc(idx), owner }),
        1 => owner_sel().prop_map(AddrStep::FreeOwner),
        1 => addr_step(Owners(4)),
    ]
    .boxed()
}

/// Id calls that usually succeed, and sometimes any call.
fn tx_id_step() -> BoxedStrategy<IdStep> {
    let allocated = || any::<u8>().prop_map(|idx| IdSel::Allocated { idx, delta: 0 });
    prop_oneof![
        6 => owner(1, 1).prop_map(IdStep::AllocateId),
        2 => ((1u8..=4).prop_map(CountSel::Small), (0u8..3).prop_map(IdAlignSel::Pow), owner(1, 1))
            .prop_map(|(count, align, owner)| IdStep::AllocateIds { count, align, owner }),
        3 => allocated().prop_map(IdStep::FreeId),
        2 => (allocated(), owner(1, 3))
            .prop_map(|(first, owner)| IdStep::SetOwner { first, span: 0, owner }),
        1 => owner_sel().prop_map(IdStep::FreeOwner),
        1 => id_step(Owners(4)),
    ]
    .boxed()
}

/// Set calls that usually succeed, and sometimes any call.
fn tx_set_op() -> BoxedStrategy<SetOp> {
    prop_oneof![
        3 => (any::<u8>(), tx_addr_step())
            .prop_map(|(n, step)| SetOp::Addr { pool: PoolSel::Addresses(n), step }),
        3 => (any::<u8>(), tx_id_step()).prop_map(|(n, step)| SetOp::Id { pool: PoolSel::Ids(n), step }),
        1 => set_op(Owners(4)),
    ]
    .boxed()
}

/// Transactions on either allocator or the set, of 0 to `MAX_TX_STEPS`
/// steps, ending every way.
pub fn transaction() -> BoxedStrategy<Action> {
    fn steps<T: std::fmt::Debug>(s: BoxedStrategy<T>) -> impl Strategy<Value = Vec<T>> {
        proptest::collection::vec(s, 0..=MAX_TX_STEPS)
    }
    let tx = prop_oneof![
        2 => steps(tx_addr_step()).prop_map(Tx::Addresses),
        2 => steps(tx_id_step()).prop_map(Tx::Ids),
        3 => steps(tx_set_op()).prop_map(Tx::Set),
    ];
    let end = prop_oneof![
        4 => Just(TxEnd::Commit),
        1 => Just(TxEnd::Rollback),
        1 => Just(TxEnd::Drop),
        2 => any::<bool>().prop_map(|mutate| TxEnd::Fail { mutate }),
    ];
    (tx, end)
        .prop_map(|(tx, end)| Action::Transaction { tx, end })
        .boxed()
}

/// A diff between a snapshot and the live state, sharing history or not.
pub fn diff() -> BoxedStrategy<Action> {
    let rebuild = prop_oneof![
        4 => Just(Rebuild::Shared),
        1 => Just(Rebuild::OlderFromBytes),
        1 => Just(Rebuild::NewerFromBytes),
        1 => Just(Rebuild::BothFromBytes),
        1 => Just(Rebuild::BothFromJson),
    ];
    (any::<u8>(), rebuild, prop::bool::weighted(0.2))
        .prop_map(|(slot, rebuild, reverse)| Action::Diff {
            slot,
            rebuild,
            reverse,
        })
        .boxed()
}

/// How often each of the actions beyond operations and snapshots comes,
/// against 100 for operations and snapshots.
#[derive(Clone, Copy, Debug, Default)]
pub struct Extras {
    /// `Action::Diff`.
    pub diff: u32,
    /// `Action::Transaction`.
    pub transaction: u32,
    /// `Action::RoundTrip`.
    pub round_trip: u32,
    /// `Action::Reset` and the constructor checks.
    pub reset: u32,
}

/// Actions built on `op`, with snapshots, restores, mutated snapshots and
/// the `extras`.
pub fn actions(op: BoxedStrategy<Op>, extras: Extras) -> BoxedStrategy<Action> {
    let mut arms: Vec<(u32, BoxedStrategy<Action>)> = vec![
        (85, op.clone().prop_map(Action::Op).boxed()),
        (3, Just(Action::Snapshot).boxed()),
        (
            6,
            (any::<u8>(), op)
                .prop_map(|(slot, op)| Action::MutateSnapshot { slot, op })
                .boxed(),
        ),
        (
            2,
            any::<u8>()
                .prop_map(|slot| Action::Restore { slot })
                .boxed(),
        ),
        (
            1,
            any::<u8>()
                .prop_map(|slot| Action::DropSnapshot { slot })
                .boxed(),
        ),
        (extras.diff, diff()),
        (extras.transaction, transaction()),
        (extras.round_trip, Just(Action::RoundTrip).boxed()),
        (
            extras.reset,
            (any::<u64>(), prop_oneof![Just(0u64), any::<u64>()])
                .prop_map(|(base, size)| Action::NewAddress { base, size })
                .boxed(),
        ),
        (
            extras.reset,
            (any::<u32>(), any::<u32>())
                .prop_map(|(base, end)| Action::NewIds { base, end })
                .boxed(),
        ),
        (
            extras.reset,
            (space(), id_range())
                .prop_map(|(space, ids)| Action::Reset { space, ids })
                .boxed(),
        ),
    ];
    arms.retain(|(w, _)| *w > 0);
    Union::new_weighted(arms).boxed()
}

/// Actions built on `op`, with snapshots, restores and mutated snapshots.
pub fn action(op: BoxedStrategy<Op>) -> BoxedStrategy<Action> {
    actions(op, Extras::default())
}

/// Operations on both allocators and the set.
pub fn any_op() -> BoxedStrategy<Op> {
    prop_oneof![3 => address_op(), 3 => id_op(), 2 => set_op_as_op()].boxed()
}

/// Everything: every operation, constructor checks, resets to other spaces,
/// diffs, transactions and round trips.
pub fn any_action() -> BoxedStrategy<Action> {
    actions(
        any_op(),
        Extras {
            diff: 2,
            transaction: 2,
            round_trip: 1,
            reset: 1,
        },
    )
}

/// A scenario of `len` actions drawn from `action`.
pub fn scenario(
    action: impl Strategy<Value = Action>,
    len: std::ops::Range<usize>,
) -> impl Strategy<Value = Scenario> {
    (space(), id_range(), proptest::collection::vec(action, len)).prop_map(
        |(space, ids, actions)| Scenario {
            space,
            ids,
            actions,
        },
    )
}
