// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The `Arbitrary` implementations (feature `arbitrary`): 10 000 generated
//! values of every state type are valid, round-trip through `to_bytes` /
//! `from_bytes` (both format versions where they fit) and through serde
//! (each value in one of JSON, postcard, bincode and bitcode, in turn),
//! and deltas and diffs of generated pairs give the newer
//! state back. The spread the documentation promises is measured: empty,
//! full, fragmented and tagged states, spaces at 0 and ending at
//! `u64::MAX`, ids at `u32::MAX`, multi-level trees, every kind of pair.
//!
//! Inputs are SplitMix64 noise of random lengths (short ones included, so
//! that running out of input is exercised too).

#![cfg(all(feature = "arbitrary", feature = "serde"))]

#[path = "support/codec.rs"]
mod codec;
#[path = "support/rng.rs"]
mod rng;

use arbitrary::{Arbitrary, Unstructured};
use codec::{Codec, CODECS};
use rng::Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;
use vm_allocator::compat::v0_1::V01;
use vm_allocator::format::{self, FileKind};
use vm_allocator::{
    AddressAllocator, AllocPolicy, Constraint, Delta, Diff, IdAllocator, Owner, Pool, PoolKind,
    RangeInclusive, ResourceSet, StatePair,
};

const VALUES: u64 = 10_000;

/// The input of value number `i`: noise of a length anywhere from 0 to
/// 8 KiB, mostly short.
fn input(seed: u64, i: u64) -> Vec<u8> {
    let mut rng = Rng(seed ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let len = match rng.below(4) {
        0 => rng.below(32),
        1 => rng.below(256),
        2 => rng.below(2048),
        _ => rng.below(8192),
    };
    (0..len).map(|_| rng.next() as u8).collect()
}

/// `VALUES` generated values of `T` (each from its own input), numbered.
fn values<T: for<'a> Arbitrary<'a>>(seed: u64) -> impl Iterator<Item = (u64, T)> {
    (0..VALUES).map(move |i| {
        let data = input(seed, i);
        let value = T::arbitrary(&mut Unstructured::new(&data)).expect("generation never fails");
        (i, value)
    })
}

/// The serde format value number `i` goes through: each in turn (all four
/// for every value would make this file take minutes in a debug build).
fn codec_of(i: u64) -> Codec {
    CODECS[(i % 4) as usize]
}

/// `value` decodes from its serde form in `codec` as itself, and encodes
/// again to the same bytes.
fn serde_round_trip<T>(value: &T, codec: Codec)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    {
        let bytes = codec.encode(value);
        let back: T = codec
            .decode(&bytes)
            .unwrap_or_else(|e| panic!("{codec:?}: {e}\n{value:?}"));
        assert_eq!(&back, value, "{codec:?}");
        assert_eq!(
            codec.encode(&back),
            bytes,
            "{codec:?}: not the same bytes again"
        );
    }
}

/// A file's bytes decode as `T` to `value`, which encodes to them again;
/// every eighth file is listed too.
fn file_round_trip<T>(
    i: u64,
    value: &T,
    to_bytes: impl Fn(&T) -> Vec<u8>,
    decode: impl Fn(&[u8]) -> T,
) where
    T: PartialEq + std::fmt::Debug,
{
    let bytes = to_bytes(value);
    let back = decode(&bytes);
    assert_eq!(&back, value);
    assert_eq!(to_bytes(&back), bytes, "not the same bytes again");
    if i.is_multiple_of(8) {
        format::dump(&bytes).expect("a listing of a valid file");
    }
}

/// Counts what a spread test saw, and checks that each case came often
/// enough.
#[derive(Default)]
struct Spread(Vec<(&'static str, u64)>);

impl Spread {
    fn note(&mut self, what: &'static str, seen: bool) {
        match self.0.iter_mut().find(|(w, _)| *w == what) {
            Some((_, n)) => *n += u64::from(seen),
            None => self.0.push((what, u64::from(seen))),
        }
    }

    /// Every case came in at least `per_mille` ‰ of `VALUES` values.
    fn check(&self, per_mille: u64) {
        println!("{:?}", self.0);
        for &(what, n) in &self.0 {
            assert!(
                n * 1000 >= per_mille * VALUES,
                "{what}: {n} of {VALUES} values, expected at least {per_mille} ‰"
            );
        }
    }
}

#[test]
fn address_allocators_are_valid_and_round_trip() {
    let mut spread = Spread::default();
    for (i, a) in values::<AddressAllocator>(1) {
        a.check_invariants().unwrap();
        file_round_trip(i, &a, AddressAllocator::to_bytes, |b| {
            AddressAllocator::from_bytes(b).unwrap()
        });
        let back = AddressAllocator::from_bytes(&a.to_bytes()).unwrap();
        assert_eq!(back.generation(), a.generation());
        match a.to_bytes_version(1) {
            Ok(v1) => {
                assert!(!a.has_owners());
                assert_eq!(AddressAllocator::from_bytes(&v1).unwrap(), a);
            }
            Err(_) => assert!(a.has_owners()),
        }
        serde_round_trip(&a, codec_of(i));
        // The 0.1.x shape, in the formats 0.1.x state is found in.
        if i % 8 < 2 {
            let codec = [Codec::Json, Codec::Bincode][(i % 2) as usize];
            let V01(back): V01<AddressAllocator> = codec
                .decode(&codec.encode(&V01(a.without_owners())))
                .unwrap();
            assert_eq!(back, a.without_owners());
        }
        let space = a.space();
        let gaps = a
            .iter()
            .zip(a.iter().skip(1))
            .any(|(x, y)| y.start() > x.end() + 1);
        spread.note("empty", a.is_empty());
        spread.note("full", a.available() == 0);
        spread.note(
            "fragmented (gaps between allocations)",
            gaps && a.len() >= 3,
        );
        spread.note("tagged", a.has_owners());
        spread.note("tagged with several owners", {
            let mut owners: Vec<&Owner> = a.allocations().filter_map(|x| x.owner()).collect();
            owners.dedup();
            owners.len() >= 2
        });
        spread.note("space at 0", space.start() == 0);
        spread.note("space ending at u64::MAX", space.end() == u64::MAX);
        spread.note("allocation at 0", a.is_allocated(0));
        spread.note("allocation of u64::MAX", a.is_allocated(u64::MAX));
        spread.note("more than one leaf (129+ allocations)", a.len() > 128);
        spread.note("generation 0", a.generation() == 0);
        spread.note("generation u64::MAX", a.generation() == u64::MAX);
    }
    spread.check(5);
}

#[test]
fn id_allocators_are_valid_and_round_trip() {
    let mut spread = Spread::default();
    for (i, ids) in values::<IdAllocator>(2) {
        ids.check_invariants().unwrap();
        file_round_trip(i, &ids, IdAllocator::to_bytes, |b| {
            IdAllocator::from_bytes(b).unwrap()
        });
        let back = IdAllocator::from_bytes(&ids.to_bytes()).unwrap();
        assert_eq!(back.generation(), ids.generation());
        match ids.to_bytes_version(1) {
            Ok(v1) => {
                assert!(!ids.has_owners());
                assert_eq!(IdAllocator::from_bytes(&v1).unwrap(), ids);
            }
            Err(_) => assert!(ids.has_owners()),
        }
        serde_round_trip(&ids, codec_of(i));
        // 0.1.x keeps every free id below the next one: small ranges only.
        let range = u64::from(ids.range_end()) - u64::from(ids.range_base()) + 1;
        if i % 8 < 2 && range <= 4096 {
            let codec = [Codec::Json, Codec::Bincode][(i % 2) as usize];
            let V01(back): V01<IdAllocator> = codec
                .decode(&codec.encode(&V01(ids.without_owners())))
                .unwrap();
            assert_eq!(back, ids.without_owners());
        }
        let runs: Vec<_> = ids.runs().collect();
        spread.note("empty", ids.used() == 0);
        spread.note("full", ids.available() == 0);
        spread.note("fragmented", runs.len() >= 3);
        spread.note("tagged", ids.has_owners());
        spread.note("range at 0", ids.range_base() == 0);
        spread.note("range ending at u32::MAX", ids.range_end() == u32::MAX);
        spread.note("u32::MAX allocated", ids.is_allocated(u32::MAX));
        spread.note(
            "whole u32 range",
            ids.range_base() == 0 && ids.range_end() == u32::MAX,
        );
        spread.note("every id handed out once (allocate_id fails)", {
            let mut probe = ids.clone();
            probe.allocate_id().is_err()
        });
        spread.note("more than one leaf (129+ runs)", runs.len() > 128);
    }
    spread.check(5);
}

#[test]
fn resource_sets_are_valid_and_round_trip() {
    let mut spread = Spread::default();
    for (i, set) in values::<ResourceSet>(3) {
        set.check_invariants().unwrap();
        file_round_trip(i, &set, ResourceSet::to_bytes, |b| {
            ResourceSet::from_bytes(b).unwrap()
        });
        let back = ResourceSet::from_bytes(&set.to_bytes()).unwrap();
        assert_eq!(back.generation(), set.generation());
        assert!(set.to_bytes_version(1).is_err());
        serde_round_trip(&set, codec_of(i));
        spread.note("empty", set.is_empty());
        spread.note("x86_64 layout", set.pool("legacy_gsi").is_some());
        spread.note("aarch64 layout", set.pool("spi").is_some());
        spread.note("both kinds of pool", {
            let kinds: Vec<PoolKind> = set.pools().map(|(_, p)| p.kind()).collect();
            kinds.contains(&PoolKind::Ids) && kinds.contains(&PoolKind::Addresses)
        });
        spread.note("tagged", set.has_owners());
        spread.note("a pool with allocations", {
            set.pools().any(|(_, p)| match p {
                Pool::Ids(ids) => ids.used() > 0,
                Pool::Addresses(a) => !a.is_empty(),
            })
        });
    }
    spread.check(5);
}

/// Checks a pair: its diff and delta give the newer state from the older
/// one, the delta file round-trips, and every other state is refused.
fn check_pair<S>(i: u64, pair: &StatePair<S>, spread: &mut Spread)
where
    S: vm_allocator::Versioned,
{
    let diff = Diff::between(&pair.older, &pair.newer).unwrap();
    let applied = diff.apply(&pair.older).unwrap();
    assert_eq!(applied, pair.newer);
    assert_eq!(applied.generation(), pair.newer.generation());
    let made = Delta::between(&pair.older, &pair.newer).unwrap();
    let bytes = made.to_bytes();
    let delta = Delta::from_bytes(&bytes).unwrap();
    assert_eq!(delta, made);
    assert_eq!(delta.to_bytes(), bytes);
    if i.is_multiple_of(8) {
        format::dump(&bytes).unwrap();
    }
    let applied = delta.apply(&pair.older).unwrap();
    assert_eq!(applied, pair.newer);
    assert_eq!(applied.generation(), pair.newer.generation());
    assert_eq!(delta.diff(), &diff);
    if pair.older != pair.newer || pair.older.generation() != pair.newer.generation() {
        assert!(delta.apply(&pair.newer).is_err());
    }
    spread.note("empty diff", diff.is_empty());
    spread.note("diff of 1 to 4 changes", (1..=4).contains(&diff.len()));
    spread.note("diff of 5 or more changes", diff.len() >= 5);
    spread.note(
        "owners in the diff",
        diff.changes().any(|c| c.owner.is_some()),
    );
}

#[test]
fn pairs_diffs_and_deltas_are_valid_and_apply() {
    // VALUES pairs, of each kind in turn.
    let mut spread = Spread::default();
    for i in 0..VALUES {
        let data = input(4, i);
        let mut u = Unstructured::new(&data);
        match i % 3 {
            0 => {
                let pair = StatePair::<AddressAllocator>::arbitrary(&mut u).unwrap();
                pair.older.check_invariants().unwrap();
                pair.newer.check_invariants().unwrap();
                check_pair(i, &pair, &mut spread);
            }
            1 => {
                let pair = StatePair::<IdAllocator>::arbitrary(&mut u).unwrap();
                pair.older.check_invariants().unwrap();
                pair.newer.check_invariants().unwrap();
                check_pair(i, &pair, &mut spread);
            }
            _ => {
                let pair = StatePair::<ResourceSet>::arbitrary(&mut u).unwrap();
                pair.older.check_invariants().unwrap();
                pair.newer.check_invariants().unwrap();
                check_pair(i, &pair, &mut spread);
            }
        }
    }
    spread.check(20);

    let mut kinds = [0u64; 3];
    for (i, delta) in values::<Delta>(7) {
        file_round_trip(i, &delta, Delta::to_bytes, |b| {
            Delta::from_bytes(b).unwrap()
        });
        kinds[match delta.kind() {
            FileKind::IdAllocator => 0,
            FileKind::AddressAllocator => 1,
            _ => 2,
        }] += 1;
    }
    assert!(kinds.iter().all(|&n| n * 5 >= VALUES), "{kinds:?}");
    for (_, diff) in values::<Diff>(8) {
        // A diff lists its changes in order, each range once.
        for pool in diff.pools() {
            for list in [pool.freed(), pool.allocated()] {
                for w in list.windows(2) {
                    assert!(w[0].range().end() < w[1].range().start(), "{diff:?}");
                }
            }
        }
        assert_eq!(diff.to_string().lines().count(), diff.len());
    }
}

#[test]
fn small_values_are_valid() {
    let mut exact = 0;
    for (i, owner) in values::<Owner>(9) {
        assert_eq!(Owner::new(owner.as_str()).as_ref(), Ok(&owner));
        serde_round_trip(&owner, codec_of(i));
    }
    for (i, range) in values::<RangeInclusive>(10) {
        assert_eq!(RangeInclusive::new(range.start(), range.end()), Ok(range));
        serde_round_trip(&range, codec_of(i));
    }
    for (_, c) in values::<Constraint>(11) {
        assert!(c.size() > 0 && c.align().is_power_of_two());
        if let AllocPolicy::ExactMatch(at) = c.policy() {
            assert_eq!(at % c.align(), 0);
            exact += 1;
        }
        // Any valid constraint can be asked of an allocator.
        let _ = AddressAllocator::new(0, 1 << 20).unwrap().allocate_with(c);
    }
    assert!(exact > 0);
    for (i, pool) in values::<Pool>(12) {
        serde_round_trip(&pool, codec_of(i));
    }
    // The names cover the edges of the rules.
    let names: Vec<Owner> = values::<Owner>(13).map(|(_, o)| o).collect();
    assert!(names.iter().any(|o| o.len() == 1));
    assert!(names.iter().any(|o| o.len() == vm_allocator::MAX_NAME_LEN));
    assert!(names.iter().any(|o| !o.is_ascii()));
}

/// What a VMM does: derive `Arbitrary` on its own state holding ours.
#[derive(Debug, Arbitrary)]
struct DeviceManagerState {
    gsi: IdAllocator,
    mmio: AddressAllocator,
    vm: ResourceSet,
    owners: Vec<Owner>,
    last_change: Option<Delta>,
}

impl DeviceManagerState {
    /// Every part is valid.
    fn check(&self) {
        self.gsi.check_invariants().unwrap();
        self.mmio.check_invariants().unwrap();
        self.vm.check_invariants().unwrap();
        for owner in &self.owners {
            assert_eq!(Owner::new(owner.as_str()).as_ref(), Ok(owner));
        }
        if let Some(delta) = &self.last_change {
            assert_eq!(&Delta::from_bytes(&delta.to_bytes()).unwrap(), delta);
        }
    }
}

#[test]
fn a_vmm_derives_arbitrary_on_a_struct_holding_our_types() {
    let (lower, upper) = DeviceManagerState::size_hint(0);
    assert!(lower > 0 && upper.is_none(), "{lower} {upper:?}"); // a Vec has no bound
    let mut filled = 0;
    for i in 0..1_000 {
        let data = input(14, i);
        let state =
            DeviceManagerState::arbitrary_take_rest(Unstructured::new(&data)).expect("generated");
        state.check();
        filled += u64::from(!state.mmio.is_empty() && !state.vm.is_empty());
        assert_eq!(
            ResourceSet::from_bytes(&state.vm.to_bytes()).unwrap(),
            state.vm
        );
    }
    // The later fields get input too: the first does not eat everything.
    assert!(filled > 100, "{filled}");
}
