// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! proptest strategies for the shared [`Action`]s of `support`.
//!
//! The fuzz target decodes the same types with `arbitrary`; here they are
//! built field by field so that proptest shrinks a failure to a short,
//! readable list of actions, and so that the mix leans towards what finds
//! bugs: boundaries, small alignments, frees of real allocations.

use proptest::prelude::*;

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

/// Operations on the address allocator.
pub fn address_op() -> BoxedStrategy<Op> {
    prop_oneof![
        20 => (size(), align(), policy())
            .prop_map(|(size, align, policy)| Op::Allocate { size, align, policy }),
        8 => (size(), align(), policy(), bounds()).prop_map(|(size, align, policy, bounds)| {
            Op::AllocateWith { size, align, policy, bounds }
        }),
        4 => (any::<u8>(), size(), align(), any::<bool>())
            .prop_map(|(count, size, align, last)| Op::Fill { count, size, align, last }),
        12 => free_sel().prop_map(Op::Free),
        1 => (any::<u8>(), 0u8..4).prop_map(|(stride, offset)| Op::FreeEvery { stride, offset }),
        4 => addr().prop_map(Op::Query),
    ]
    .boxed()
}

/// Operations on the id allocator.
pub fn id_op() -> BoxedStrategy<Op> {
    prop_oneof![
        8 => Just(Op::AllocateId),
        1 => any::<u8>().prop_map(Op::FillIds),
        5 => id().prop_map(Op::AllocateIdAt),
        5 => (count(), id_align()).prop_map(|(count, align)| Op::AllocateIds { count, align }),
        9 => id().prop_map(Op::FreeId),
        4 => (id(), prop_oneof![4 => 0i8..8, 1 => any::<i8>()])
            .prop_map(|(first, span)| Op::FreeIds { first, span }),
        1 => (any::<u8>(), 0u8..4).prop_map(|(stride, offset)| Op::FreeIdsEvery { stride, offset }),
        3 => id().prop_map(Op::QueryId),
    ]
    .boxed()
}

/// Actions built on `op`, with snapshots, restores and mutated snapshots.
pub fn action(op: BoxedStrategy<Op>) -> impl Strategy<Value = Action> {
    prop_oneof![
        85 => op.clone().prop_map(Action::Op),
        3 => Just(Action::Snapshot),
        6 => (any::<u8>(), op).prop_map(|(slot, op)| Action::MutateSnapshot { slot, op }),
        2 => any::<u8>().prop_map(|slot| Action::Restore { slot }),
        1 => any::<u8>().prop_map(|slot| Action::DropSnapshot { slot }),
    ]
}

/// Everything, including constructor checks and resets to other spaces.
pub fn any_action() -> impl Strategy<Value = Action> {
    let op = prop_oneof![address_op(), id_op()].boxed();
    prop_oneof![
        95 => action(op),
        1 => (any::<u64>(), prop_oneof![Just(0u64), any::<u64>()])
            .prop_map(|(base, size)| Action::NewAddress { base, size }),
        1 => (any::<u32>(), any::<u32>()).prop_map(|(base, end)| Action::NewIds { base, end }),
        1 => (space(), id_range()).prop_map(|(space, ids)| Action::Reset { space, ids }),
    ]
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
