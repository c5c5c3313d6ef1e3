// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Migration both ways with vm-allocator 0.1.4 (dependency `upstream`).
//!
//! States built by 0.1.4 load into ours with identical allocations; ours,
//! written in the 0.1.x shape, load into 0.1.4, which then answers every
//! further call exactly as ours does. Forged 0.1.x states that 0.1.4 accepts
//! (and then misbehaves on) are rejected with an error naming the culprit.
//!
//! The random operations avoid 0.1.4's known bugs: one alignment per
//! allocator with sizes and bases multiple of it (its First/LastMatch can
//! give up on an unaligned free node), ExactMatch only on free space, frees
//! only of live allocations, nothing at address 1.

#![cfg(feature = "serde")]

#[path = "support/rng.rs"]
mod rng;

use rng::Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use vm_allocator::compat::v0_1::{MAX_TREE_DEPTH, V01};
use vm_allocator::{AddressAllocator, AllocPolicy, IdAllocator, Owner, RangeInclusive};

#[path = "support/codec.rs"]
mod codec;

use codec::{Codec, CODECS};

fn range(start: u64, end: u64) -> RangeInclusive {
    RangeInclusive::new(start, end).unwrap()
}

/// An answer of either crate, comparable across them.
fn answer<E: std::fmt::Debug>(r: Result<(u64, u64), E>) -> Result<(u64, u64), String> {
    r.map_err(|e| format!("{e:?}"))
}

/// A 0.1.4 address allocator and ours, driven by the same calls.
struct AddressPair {
    up: upstream::AddressAllocator,
    ours: AddressAllocator,
    unit: u64,
}

impl AddressPair {
    fn new(rng: &mut Rng) -> AddressPair {
        let unit = [2, 0x10, 0x1000][rng.below(3) as usize];
        let base = unit * rng.below(16);
        let size = unit * (64 + rng.below(512));
        AddressPair {
            up: upstream::AddressAllocator::new(base, size).unwrap(),
            ours: AddressAllocator::new(base, size).unwrap(),
            unit,
        }
    }

    /// One random call on both; every answer must be the same.
    fn step(&mut self, rng: &mut Rng) {
        let size = self.unit * (1 + rng.below(8));
        let live: Vec<RangeInclusive> = self.ours.iter().collect();
        let choice = rng.below(100);
        let (up, ours) = if choice < 45 {
            let (up_policy, policy) = if choice < 25 {
                (upstream::AllocPolicy::FirstMatch, AllocPolicy::FirstMatch)
            } else {
                (upstream::AllocPolicy::LastMatch, AllocPolicy::LastMatch)
            };
            (
                self.up
                    .allocate(size, self.unit, up_policy)
                    .map(|r| (r.start(), r.end())),
                self.ours
                    .allocate(size, self.unit, policy)
                    .map(|r| (r.start(), r.end())),
            )
        } else if choice < 60 {
            let units = (self.ours.end() - self.ours.base() + 1) / self.unit;
            let start = self.ours.base() + self.unit * rng.below(units);
            let exact = AllocPolicy::ExactMatch(start);
            // Only where the range is free: 0.1.4 double-allocates otherwise.
            if self.ours.clone().allocate(size, self.unit, exact).is_err() {
                return;
            }
            (
                self.up
                    .allocate(size, self.unit, upstream::AllocPolicy::ExactMatch(start))
                    .map(|r| (r.start(), r.end())),
                self.ours
                    .allocate(size, self.unit, exact)
                    .map(|r| (r.start(), r.end())),
            )
        } else {
            if live.is_empty() {
                return;
            }
            let r = live[rng.below(live.len() as u64) as usize];
            let up_r = upstream::RangeInclusive::new(r.start(), r.end()).unwrap();
            (
                self.up.free(&up_r).map(|()| (r.start(), r.end())),
                self.ours.free(&r).map(|()| (r.start(), r.end())),
            )
        };
        assert_eq!(answer(up), answer(ours), "choice {choice}, size {size:#x}");
    }
}

/// A 0.1.4 id allocator and ours, driven by the same calls.
struct IdPair {
    up: upstream::IdAllocator,
    ours: IdAllocator,
}

impl IdPair {
    fn new(rng: &mut Rng) -> IdPair {
        let (base, end) =
            [(0, 40), (5, 23), (u32::MAX - 30, u32::MAX), (100, 100)][rng.below(4) as usize];
        IdPair {
            up: upstream::IdAllocator::new(base, end).unwrap(),
            ours: IdAllocator::new(base, end).unwrap(),
        }
    }

    fn step(&mut self, rng: &mut Rng) {
        let (up, ours) = if rng.below(10) < 6 {
            (self.up.allocate_id(), self.ours.allocate_id())
        } else {
            let low = u64::from(self.ours.range_base()).saturating_sub(2);
            let high = (u64::from(self.ours.range_end()) + 2).min(u32::MAX.into());
            let id = (low + rng.below(high - low + 1)) as u32;
            (self.up.free_id(id), self.ours.free_id(id))
        };
        let widen = |r: Result<u32, String>| r.map(|id| (u64::from(id), 0));
        assert_eq!(
            widen(up.map_err(|e| format!("{e:?}"))),
            widen(ours.map_err(|e| format!("{e:?}")))
        );
    }

    fn assert_same_ids(&self) {
        for id in self.ours.range_base()..=self.ours.range_end() {
            assert_eq!(
                self.up.is_allocated(id),
                self.ours.is_allocated(id),
                "id {id}"
            );
        }
    }
}

#[test]
fn address_states_of_0_1_4_load_with_identical_allocations() {
    for seed in 1..=24u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut pair = AddressPair::new(&mut rng);
        for _ in 0..250 {
            pair.step(&mut rng);
        }
        for codec in CODECS {
            let bytes = codec.encode(&pair.up);
            let V01(loaded) = codec
                .decode::<V01<AddressAllocator>>(&bytes)
                .unwrap_or_else(|e| panic!("{codec:?} seed {seed}: {e}"));
            assert_eq!(loaded, pair.ours, "{codec:?} seed {seed}");
            loaded.check_invariants().unwrap();
        }
    }
}

#[test]
fn address_states_written_in_0_1_shape_keep_allocating_in_0_1_4_as_in_ours() {
    for seed in 1..=24u64 {
        let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let mut pair = AddressPair::new(&mut rng);
        for _ in 0..250 {
            pair.step(&mut rng);
        }
        for codec in CODECS {
            let bytes = codec.encode(&V01(pair.ours.clone()));
            let up: upstream::AddressAllocator = codec
                .decode(&bytes)
                .unwrap_or_else(|e| panic!("{codec:?} seed {seed}: {e}"));
            let mut migrated = AddressPair {
                up,
                ours: pair.ours.clone(),
                unit: pair.unit,
            };
            let mut after = Rng(seed);
            for _ in 0..250 {
                migrated.step(&mut after);
            }
            // And back again: 0.1.4's state after all that is ours.
            let V01(back) = codec
                .decode::<V01<AddressAllocator>>(&codec.encode(&migrated.up))
                .unwrap();
            assert_eq!(back, migrated.ours, "{codec:?} seed {seed}");
        }
    }
}

#[test]
fn id_states_of_0_1_4_load_and_migrate_back_exactly() {
    for seed in 1..=40u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut pair = IdPair::new(&mut rng);
        for _ in 0..rng.below(120) {
            pair.step(&mut rng);
        }
        for codec in CODECS {
            // 0.1.4 → ours: the same ids and the same highest id handed out.
            let V01(loaded) = codec
                .decode::<V01<IdAllocator>>(&codec.encode(&pair.up))
                .unwrap_or_else(|e| panic!("{codec:?} seed {seed}: {e}"));
            assert_eq!(loaded, pair.ours, "{codec:?} seed {seed}");
            loaded.check_invariants().unwrap();

            // Ours → 0.1.4, which then answers every call as ours does.
            let up: upstream::IdAllocator = codec
                .decode(&codec.encode(&V01(pair.ours.clone())))
                .unwrap_or_else(|e| panic!("{codec:?} seed {seed}: {e}"));
            let mut migrated = IdPair {
                up,
                ours: pair.ours.clone(),
            };
            migrated.assert_same_ids();
            let mut after = Rng(seed);
            for _ in 0..150 {
                migrated.step(&mut after);
            }
            migrated.assert_same_ids();
        }
    }
}

#[test]
fn ids_reserved_out_of_order_migrate_to_0_1_4() {
    // allocate_id_at and allocate_ids have no 0.1.x counterpart: the ids
    // skipped below the highest one become 0.1.x's freed ids.
    let mut ours = IdAllocator::new(32, 255).unwrap();
    ours.allocate_id_at(40).unwrap();
    ours.allocate_ids(4, 4).unwrap(); // 32..=35
    ours.allocate_id_at(100).unwrap();
    let json = serde_json::to_value(V01(ours.clone())).unwrap();
    assert_eq!(json["next_id"], 101);
    assert_eq!(json["freed_ids"].as_array().unwrap().len(), 101 - 32 - 6);
    let mut migrated = IdPair {
        up: serde_json::from_value(json).unwrap(),
        ours,
    };
    migrated.assert_same_ids();
    let mut rng = Rng(7);
    for _ in 0..300 {
        migrated.step(&mut rng);
    }
    migrated.assert_same_ids();
}

#[test]
fn fresh_id_allocators_migrate_both_ways() {
    // Nothing handed out yet: next_id is the base, here 0 (found by fuzzing).
    for (base, end) in [(0, 0), (0, u32::MAX), (7, 9)] {
        let up = upstream::IdAllocator::new(base, end).unwrap();
        let ours = IdAllocator::new(base, end).unwrap();
        for codec in CODECS {
            let V01(loaded) = codec
                .decode::<V01<IdAllocator>>(&codec.encode(&up))
                .unwrap();
            assert_eq!(loaded, ours, "{codec:?}");
            let mut back: upstream::IdAllocator =
                codec.decode(&codec.encode(&V01(ours.clone()))).unwrap();
            assert_eq!(back.allocate_id().unwrap(), base);
        }
    }
}

#[test]
fn exhausted_id_allocators_migrate_both_ways() {
    // next_id None in 0.1.x: u32::MAX was handed out.
    let mut up = upstream::IdAllocator::new(u32::MAX - 3, u32::MAX).unwrap();
    let mut ours = IdAllocator::new(u32::MAX - 3, u32::MAX).unwrap();
    for _ in 0..4 {
        assert_eq!(up.allocate_id().unwrap(), ours.allocate_id().unwrap());
    }
    up.free_id(u32::MAX - 2).unwrap();
    ours.free_id(u32::MAX - 2).unwrap();
    let json = serde_json::to_string(&V01(ours.clone())).unwrap();
    assert_eq!(
        json,
        r#"{"range_base":4294967292,"next_id":null,"range_end":4294967295,"freed_ids":[4294967293]}"#
    );
    assert_eq!(serde_json::to_string(&up).unwrap(), json);
    let mut migrated: upstream::IdAllocator = serde_json::from_str(&json).unwrap();
    assert_eq!(migrated.allocate_id().unwrap(), ours.allocate_id().unwrap());
    assert_eq!(
        format!("{:?}", migrated.allocate_id().unwrap_err()),
        format!("{:?}", ours.allocate_id().unwrap_err())
    );
}

#[test]
fn large_states_migrate_both_ways() {
    let mut up = upstream::AddressAllocator::new(0, 1 << 40).unwrap();
    let mut ours = AddressAllocator::new(0, 1 << 40).unwrap();
    // ExactMatch: 0.1.4's First/LastMatch are O(n), far too slow here.
    for start in (0..20_000u64).map(|i| i * 0x1000) {
        let a = up
            .allocate(0x1000, 0x1000, upstream::AllocPolicy::ExactMatch(start))
            .unwrap();
        let b = ours
            .allocate(0x1000, 0x1000, AllocPolicy::ExactMatch(start))
            .unwrap();
        assert_eq!((a.start(), a.end()), (b.start(), b.end()));
    }
    for start in (0..20_000u64).step_by(2).map(|i| i * 0x1000) {
        up.free(&upstream::RangeInclusive::new(start, start + 0xfff).unwrap())
            .unwrap();
        ours.free(&range(start, start + 0xfff)).unwrap();
    }
    for codec in [Codec::Bincode, Codec::Bitcode] {
        let V01(loaded) = codec
            .decode::<V01<AddressAllocator>>(&codec.encode(&up))
            .unwrap();
        assert_eq!(loaded, ours, "{codec:?}");
        let mut back: upstream::AddressAllocator =
            codec.decode(&codec.encode(&V01(ours.clone()))).unwrap();
        let a = back
            .allocate(0x1000, 0x1000, upstream::AllocPolicy::LastMatch)
            .unwrap();
        let b = ours
            .clone()
            .allocate(0x1000, 0x1000, AllocPolicy::LastMatch)
            .unwrap();
        assert_eq!((a.start(), a.end()), (b.start(), b.end()));
    }
}

/// Checks that a 0.1.x tree, as JSON, is a valid AVL tree whose nodes tile
/// `space` in order, and returns its height.
fn check_avl(node: &serde_json::Value, tiles: &mut Vec<(u64, u64, bool)>) -> u64 {
    if node.is_null() {
        return 0;
    }
    let left = check_avl(&node["left"], tiles);
    let key = &node["key"];
    tiles.push((
        key["start"].as_u64().unwrap(),
        key["end"].as_u64().unwrap(),
        node["node_state"] == "Allocated",
    ));
    let right = check_avl(&node["right"], tiles);
    assert!(left.abs_diff(right) <= 1, "unbalanced: {left} vs {right}");
    let height = 1 + left.max(right);
    assert_eq!(node["height"].as_u64().unwrap(), height);
    height
}

#[test]
fn written_trees_are_balanced_tilings_with_correct_heights() {
    let mut states = vec![AddressAllocator::new(0x1000, 0x10000).unwrap()];
    let mut full = AddressAllocator::new(0x1000, 0x1000).unwrap();
    full.allocate(0x1000, 1, AllocPolicy::FirstMatch).unwrap();
    states.push(full);
    let mut top = AddressAllocator::new(1 << 63, 1 << 63).unwrap();
    top.allocate(0x10, 0x10, AllocPolicy::LastMatch).unwrap();
    states.push(top);
    for n in [1u64, 2, 3, 7, 100, 5000] {
        let mut a = AddressAllocator::new(0, 1 << 32).unwrap();
        for i in 0..n {
            a.allocate(
                0x1000,
                0x1000,
                AllocPolicy::ExactMatch(i * 0x3000 + (i % 2) * 0x1000),
            )
            .unwrap();
        }
        states.push(a);
    }
    for state in states {
        let json = serde_json::to_value(V01(state.clone())).unwrap();
        assert_eq!(json["address_space"]["start"], state.base());
        let mut tiles = Vec::new();
        let height = check_avl(&json["interval_tree"]["root"], &mut tiles);
        assert!(height <= 50, "0.1.4 refuses trees taller than 50");
        let mut expected_start = state.base();
        for &(start, end, _) in &tiles {
            assert_eq!(start, expected_start);
            expected_start = end.wrapping_add(1);
        }
        assert_eq!(tiles.last().unwrap().1, state.end());
        let allocated: Vec<RangeInclusive> = tiles
            .iter()
            .filter(|t| t.2)
            .map(|&(s, e, _)| range(s, e))
            .collect();
        assert_eq!(allocated, state.iter().collect::<Vec<_>>());
        // Free tiles are maximal: no two in a row.
        assert!(tiles.windows(2).all(|w| w[0].2 || w[1].2));
    }
}

#[test]
fn a_hole_left_by_0_1_4_becomes_free_space() {
    // 0.1.4 deletes the node, then fails with Underflow: the range belongs to
    // no node and is lost to it.
    let mut up = upstream::AddressAllocator::new(0, 0x10000).unwrap();
    let r = up
        .allocate(0x10, 1, upstream::AllocPolicy::ExactMatch(1))
        .unwrap();
    assert_eq!(format!("{:?}", up.free(&r).unwrap_err()), "Underflow");
    assert!(up
        .allocate(0x10, 1, upstream::AllocPolicy::ExactMatch(1))
        .is_err());

    for codec in CODECS {
        let V01(mut loaded) = codec
            .decode::<V01<AddressAllocator>>(&codec.encode(&up))
            .unwrap();
        assert!(loaded.is_empty());
        assert_eq!(loaded.available(), 0x10000);
        assert_eq!(
            loaded
                .allocate(0x10, 1, AllocPolicy::ExactMatch(1))
                .unwrap(),
            range(1, 0x10)
        );
    }
}

#[derive(Serialize, Deserialize)]
struct UpstreamVmm {
    gsi: upstream::IdAllocator,
    mmio: upstream::AddressAllocator,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Vmm {
    #[serde(with = "vm_allocator::compat::v0_1::id_allocator")]
    gsi: IdAllocator,
    #[serde(with = "vm_allocator::compat::v0_1::address_allocator")]
    mmio: AddressAllocator,
}

#[test]
fn a_vmm_switches_crates_with_one_attribute_per_field() {
    let mut old = UpstreamVmm {
        gsi: upstream::IdAllocator::new(5, 23).unwrap(),
        mmio: upstream::AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap(),
    };
    for _ in 0..4 {
        old.gsi.allocate_id().unwrap();
        old.mmio
            .allocate(0x1000, 0x1000, upstream::AllocPolicy::FirstMatch)
            .unwrap();
    }
    old.gsi.free_id(6).unwrap();
    for codec in CODECS {
        let new: Vmm = codec.decode(&codec.encode(&old)).unwrap();
        assert_eq!(new.gsi.runs().collect::<Vec<_>>(), [5..=5, 7..=8]);
        assert_eq!(new.mmio.len(), 4);
        // And back to a host still on 0.1.x.
        let mut older: UpstreamVmm = codec.decode(&codec.encode(&new)).unwrap();
        assert_eq!(older.gsi.allocate_id().unwrap(), 6);
        let r = older
            .mmio
            .allocate(0x1000, 0x1000, upstream::AllocPolicy::FirstMatch)
            .unwrap();
        assert_eq!(r.start(), 0xd000_4000);
    }
}

// --- Owners, which 0.1.x cannot hold --------------------------------------

/// A GSI allocator whose first owned ids are 6..=7, of virtio-blk0, and an
/// MMIO allocator whose first owned allocation is 0xd0001000..=0xd0001fff,
/// of virtio-net0.
fn tagged_states() -> (IdAllocator, AddressAllocator) {
    let net0 = Owner::new("virtio-net0").unwrap();
    let blk0 = Owner::new("virtio-blk0").unwrap();
    let mut gsi = IdAllocator::new(5, 23).unwrap();
    gsi.allocate_id().unwrap();
    gsi.owned_by(&blk0).allocate_ids(2, 1).unwrap();
    gsi.owned_by(&net0).allocate_id().unwrap();
    gsi.allocate_id().unwrap();
    let mut mmio = AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap();
    mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    mmio.owned_by(&net0)
        .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    mmio.owned_by(&blk0)
        .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    (gsi, mmio)
}

const GSI_REFUSED: &str = r#"ids 6..=7 have the owner "virtio-blk0", which vm-allocator 0.1.x cannot hold; call without_owners() first to drop owners explicitly"#;
const MMIO_REFUSED: &str = r#"the allocation 0xd0001000..=0xd0001fff has the owner "virtio-net0", which vm-allocator 0.1.x cannot hold; call without_owners() first to drop owners explicitly"#;

/// `value` cannot be written in `codec`, for a reason containing
/// `expected`.
fn assert_refused<T: Serialize>(codec: Codec, value: &T, expected: &str) {
    let e = codec.try_encode(value).expect_err(&format!(
        "{codec:?} wrote a state with owners in the 0.1.x shape"
    ));
    if codec.keeps_messages() {
        assert!(e.contains(expected), "{codec:?}: `{e}` lacks `{expected}`");
    }
}

#[test]
fn states_with_owners_are_refused_in_the_0_1_shape_naming_the_first_owner() {
    let (gsi, mmio) = tagged_states();
    for codec in CODECS {
        // The wrapper.
        assert_refused(codec, &V01(gsi.clone()), GSI_REFUSED);
        assert_refused(codec, &V01(mmio.clone()), MMIO_REFUSED);
        // The serde(with) functions, field by field.
        let vmm = Vmm {
            gsi: gsi.clone(),
            mmio: mmio.without_owners(),
        };
        assert_refused(codec, &vmm, GSI_REFUSED);
        let vmm = Vmm {
            gsi: gsi.without_owners(),
            mmio: mmio.clone(),
        };
        assert_refused(codec, &vmm, MMIO_REFUSED);
    }
    // One owned id among many is enough.
    let mut ids = IdAllocator::new(0, 1000).unwrap();
    ids.allocate_ids(500, 1).unwrap();
    ids.set_owner(400..=400, Some(Owner::new("late").unwrap()))
        .unwrap();
    assert_refused(
        Codec::Json,
        &V01(ids),
        r#"ids 400..=400 have the owner "late""#,
    );
}

#[test]
fn states_without_owners_migrate_to_0_1_4_after_the_explicit_step() {
    let (gsi, mmio) = tagged_states();
    let (gsi, mmio) = (gsi.without_owners(), mmio.without_owners());
    assert!(!gsi.has_owners() && !mmio.has_owners());
    for codec in CODECS {
        // The wrapper, into 0.1.4.
        let mut up_gsi: upstream::IdAllocator =
            codec.decode(&codec.encode(&V01(gsi.clone()))).unwrap();
        for id in 5..=23 {
            assert_eq!(
                up_gsi.is_allocated(id),
                gsi.is_allocated(id),
                "{codec:?} {id}"
            );
        }
        assert_eq!(up_gsi.allocate_id().unwrap(), 10);
        let mut up_mmio: upstream::AddressAllocator =
            codec.decode(&codec.encode(&V01(mmio.clone()))).unwrap();
        let r = up_mmio
            .allocate(0x1000, 0x1000, upstream::AllocPolicy::FirstMatch)
            .unwrap();
        assert_eq!(r.start(), 0xd000_3000);

        // The serde(with) functions, and back: the same allocations, at
        // generation 0 (0.1.x has no generation).
        let vmm = Vmm {
            gsi: gsi.clone(),
            mmio: mmio.clone(),
        };
        let back: Vmm = codec.decode(&codec.encode(&vmm)).unwrap();
        assert_eq!(back, vmm, "{codec:?}");
        assert_eq!((back.gsi.generation(), back.mmio.generation()), (0, 0));
        let older: UpstreamVmm = codec.decode(&codec.encode(&vmm)).unwrap();
        assert!(older.gsi.is_allocated(6) && !older.gsi.is_allocated(10));
    }
}

// --- Forged 0.1.x states ---------------------------------------------------

#[derive(Clone, Copy, Serialize)]
#[serde(rename = "RangeInclusive")]
struct RawRange {
    start: u64,
    end: u64,
}

#[derive(Clone, Copy, Serialize)]
enum NodeState {
    Free,
    Allocated,
}

#[derive(Serialize)]
#[serde(rename = "InnerNode")]
struct RawNode {
    key: RawRange,
    node_state: NodeState,
    left: Option<Box<RawNode>>,
    right: Option<Box<RawNode>>,
    height: u64,
}

#[derive(Serialize)]
#[serde(rename = "IntervalTree")]
struct RawTree {
    root: Option<Box<RawNode>>,
}

#[derive(Serialize)]
#[serde(rename = "AddressAllocator")]
struct RawAddress {
    address_space: RawRange,
    interval_tree: RawTree,
}

#[derive(Serialize)]
#[serde(rename = "IdAllocator")]
struct RawIds {
    range_base: u32,
    next_id: Option<u32>,
    range_end: u32,
    freed_ids: Vec<u32>,
}

/// The balanced tree whose in-order nodes are `nodes`, sorted or not.
fn tree(nodes: &[(u64, u64, NodeState)]) -> Option<Box<RawNode>> {
    if nodes.is_empty() {
        return None;
    }
    let mid = nodes.len() / 2;
    let (start, end, node_state) = nodes[mid];
    let left = tree(&nodes[..mid]);
    let right = tree(&nodes[mid + 1..]);
    let height = 1 + left
        .as_ref()
        .map_or(0, |n| n.height)
        .max(right.as_ref().map_or(0, |n| n.height));
    Some(Box::new(RawNode {
        key: RawRange { start, end },
        node_state,
        left,
        right,
        height,
    }))
}

fn forged_address(space: (u64, u64), nodes: &[(u64, u64, NodeState)]) -> RawAddress {
    RawAddress {
        address_space: RawRange {
            start: space.0,
            end: space.1,
        },
        interval_tree: RawTree { root: tree(nodes) },
    }
}

/// `forged` is rejected by ours with an error containing `expected`, in
/// every format, and through a JSON value with sorted keys.
fn assert_rejected<T: DeserializeOwned>(forged: &impl Serialize, expected: &str) {
    for codec in CODECS {
        let Err(e) = codec.decode::<T>(&codec.encode(forged)) else {
            panic!("{codec:?} accepted a state that should fail with `{expected}`");
        };
        if codec.keeps_messages() {
            assert!(e.contains(expected), "{codec:?}: `{e}` lacks `{expected}`");
        }
    }
    let sorted = serde_json::to_value(forged).unwrap();
    let Err(e) = serde_json::from_value::<T>(sorted) else {
        panic!("sorted JSON accepted a state that should fail with `{expected}`");
    };
    assert!(
        e.to_string().contains(expected),
        "sorted JSON: `{e}` lacks `{expected}`"
    );
}

/// 0.1.4 accepts `forged` in every format.
fn assert_upstream_accepts<T: DeserializeOwned>(forged: &impl Serialize) -> T {
    let mut accepted = None;
    for codec in CODECS {
        accepted = Some(
            codec
                .decode::<T>(&codec.encode(forged))
                .unwrap_or_else(|e| panic!("0.1.4 rejects it in {codec:?}: {e}")),
        );
    }
    accepted.unwrap()
}

use NodeState::{Allocated, Free};

#[test]
fn a_free_range_stretched_over_an_allocated_one_is_rejected() {
    let forged = forged_address(
        (0, 0xffff),
        &[
            (0, 0x1fff, Free),
            (0x1000, 0x1fff, Allocated),
            (0x2000, 0xffff, Free),
        ],
    );
    assert_rejected::<V01<AddressAllocator>>(
        &forged,
        "interval tree node #1 0x1000-0x1fff (Allocated) starts at or before the end of \
         node #0 0x0-0x1fff (Free)",
    );
    // 0.1.4 takes it and hands out the allocated range again.
    let mut up: upstream::AddressAllocator = assert_upstream_accepts(&forged);
    let again = up
        .allocate(0x2000, 0x1000, upstream::AllocPolicy::FirstMatch)
        .unwrap();
    assert_eq!((again.start(), again.end()), (0, 0x1fff));
}

#[test]
fn overlapping_allocations_are_rejected() {
    let forged = forged_address(
        (0, 0xffff),
        &[
            (0, 0xfff, Free),
            (0x1000, 0x2fff, Allocated),
            (0x2000, 0x3fff, Allocated),
            (0x4000, 0xffff, Free),
        ],
    );
    assert_rejected::<V01<AddressAllocator>>(
        &forged,
        "node #2 0x2000-0x3fff (Allocated) starts at or before the end of node #1 \
         0x1000-0x2fff (Allocated)",
    );
    assert_upstream_accepts::<upstream::AddressAllocator>(&forged);
}

#[test]
fn an_allocation_outside_the_address_space_is_rejected() {
    let forged = forged_address(
        (0, 0xffff),
        &[(0, 0xffff, Free), (0x10000, 0x10fff, Allocated)],
    );
    assert_rejected::<V01<AddressAllocator>>(
        &forged,
        "interval tree node #1 0x10000-0x10fff lies outside the address space 0x0-0xffff",
    );
    let forged = forged_address(
        (0x1000, 0xffff),
        &[(0, 0xfff, Free), (0x1000, 0xffff, Free)],
    );
    assert_rejected::<V01<AddressAllocator>>(
        &forged,
        "interval tree node #0 0x0-0xfff lies outside the address space 0x1000-0xffff",
    );
    assert_upstream_accepts::<upstream::AddressAllocator>(&forged);
}

#[test]
fn inverted_ranges_are_rejected() {
    let forged = forged_address(
        (0, 0xffff),
        &[
            (0, 0x1fff, Free),
            (0x3000, 0x2000, Allocated),
            (0x4000, 0xffff, Free),
        ],
    );
    assert_rejected::<V01<AddressAllocator>>(
        &forged,
        "interval tree node #1 (Allocated) has the key 0x3000-0x2000, which is not a valid range",
    );
    assert_upstream_accepts::<upstream::AddressAllocator>(&forged);

    let forged = forged_address((0x2000, 0x1000), &[(0x1000, 0x2000, Free)]);
    assert_rejected::<V01<AddressAllocator>>(
        &forged,
        "address space 0x2000-0x1000 is not a valid range",
    );
    assert_upstream_accepts::<upstream::AddressAllocator>(&forged);
}

#[test]
fn an_unsorted_tree_is_rejected() {
    let forged = forged_address(
        (0, 0xffff),
        &[
            (0x8000, 0xffff, Free),
            (0x1000, 0x1fff, Allocated),
            (0, 0xfff, Free),
        ],
    );
    assert_rejected::<V01<AddressAllocator>>(
        &forged,
        "interval tree node #1 0x1000-0x1fff (Allocated) starts at or before the end of \
         node #0 0x8000-0xffff (Free)",
    );
    assert_upstream_accepts::<upstream::AddressAllocator>(&forged);
}

#[test]
fn heights_are_not_trusted_and_an_empty_tree_is_all_free() {
    let mut forged = forged_address(
        (0, 0xffff),
        &[
            (0, 0xfff, Free),
            (0x1000, 0x1fff, Allocated),
            (0x2000, 0xffff, Free),
        ],
    );
    forged.interval_tree.root.as_mut().unwrap().height = u64::MAX;
    for codec in CODECS {
        let V01(a) = codec
            .decode::<V01<AddressAllocator>>(&codec.encode(&forged))
            .unwrap();
        assert_eq!(a.iter().collect::<Vec<_>>(), [range(0x1000, 0x1fff)]);
    }
    let empty = forged_address((0, 0xffff), &[]);
    for codec in CODECS {
        let V01(a) = codec
            .decode::<V01<AddressAllocator>>(&codec.encode(&empty))
            .unwrap();
        assert!(a.is_empty());
        assert_eq!(a.space(), range(0, 0xffff));
    }
}

/// A chain of `depth` nodes, each the left child of the one before, with
/// sorted keys.
fn left_chain(depth: u64) -> RawAddress {
    let mut node: Option<Box<RawNode>> = None;
    for i in 0..depth {
        node = Some(Box::new(RawNode {
            key: RawRange {
                start: i * 0x10,
                end: i * 0x10 + 0xf,
            },
            node_state: if i % 2 == 0 { Allocated } else { Free },
            left: node,
            right: None,
            height: i + 1,
        }));
    }
    RawAddress {
        address_space: RawRange {
            start: 0,
            end: u64::MAX - 1,
        },
        interval_tree: RawTree { root: node },
    }
}

#[test]
fn trees_up_to_the_depth_limit_load_and_deeper_ones_are_rejected() {
    let depth = u64::from(MAX_TREE_DEPTH);
    for codec in [Codec::Json, Codec::Bincode, Codec::Bitcode] {
        let V01(a) = codec
            .decode::<V01<AddressAllocator>>(&codec.encode(&left_chain(depth)))
            .unwrap();
        assert_eq!(a.len(), depth / 2);
    }
    assert_rejected::<V01<AddressAllocator>>(
        &left_chain(depth + 1),
        "the interval tree is deeper than 64 levels (a node at depth 65 with 0 nodes before it in order)",
    );
}

/// `left_chain(depth)` in bincode 1.3.3 (fixed-width integers), by hand:
/// the space, each node's `Some` tag, key and state from the root down,
/// the last node's empty left child, then each node's empty right child
/// and height from the bottom up.
fn bincode_left_chain(depth: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(depth as usize * 30 + 33);
    bytes.extend_from_slice(&0u64.to_le_bytes());
    bytes.extend_from_slice(&(u64::MAX - 1).to_le_bytes());
    for i in (0..depth).rev() {
        bytes.push(1);
        bytes.extend_from_slice(&(i * 0x10).to_le_bytes());
        bytes.extend_from_slice(&(i * 0x10 + 0xf).to_le_bytes());
        bytes.extend_from_slice(&u32::from(i % 2 == 0).to_le_bytes());
    }
    bytes.push(0);
    for i in 0..depth {
        bytes.push(0);
        bytes.extend_from_slice(&(i + 1).to_le_bytes());
    }
    bytes
}

#[test]
fn hand_built_bincode_chains_are_what_bincode_writes() {
    for depth in [1, 2, 5] {
        assert_eq!(
            bincode_left_chain(depth),
            bincode::serialize(&left_chain(depth)).unwrap()
        );
    }
}

/// Appends `v` as a postcard varint.
fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// `left_chain(depth)` in postcard, by hand, in the order of
/// [`bincode_left_chain`], with varints.
fn postcard_left_chain(depth: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(depth as usize * 12 + 16);
    varint(0, &mut bytes);
    varint(u64::MAX - 1, &mut bytes);
    for i in (0..depth).rev() {
        bytes.push(1);
        varint(i * 0x10, &mut bytes);
        varint(i * 0x10 + 0xf, &mut bytes);
        varint(u64::from(i % 2 == 0), &mut bytes);
    }
    bytes.push(0);
    for i in 0..depth {
        bytes.push(0);
        varint(i + 1, &mut bytes);
    }
    bytes
}

#[test]
fn hand_built_postcard_chains_are_what_postcard_writes() {
    for depth in [1, 2, 5, 200] {
        assert_eq!(
            postcard_left_chain(depth),
            postcard::to_allocvec(&left_chain(depth)).unwrap()
        );
    }
}

#[test]
fn deep_chains_fail_cleanly_in_every_format() {
    // Deep enough to overflow a recursive reader's stack, in the formats
    // whose bytes are easy to build by hand.
    let bytes = postcard_left_chain(1_000_000);
    assert!(postcard::from_bytes::<V01<AddressAllocator>>(&bytes).is_err());
    let bytes = postcard_left_chain(u64::from(MAX_TREE_DEPTH));
    let V01(a) = postcard::from_bytes::<V01<AddressAllocator>>(&bytes).unwrap();
    assert_eq!(a.len(), u64::from(MAX_TREE_DEPTH) / 2);
    // Every format, as deep as the writer's own recursion allows here.
    for codec in CODECS {
        let Err(e) = codec.decode::<V01<AddressAllocator>>(&codec.encode(&left_chain(500))) else {
            panic!("{codec:?} accepted a chain 500 deep");
        };
        if codec.keeps_messages() {
            assert!(
                e.contains("the interval tree is deeper than 64 levels (a node at depth 65"),
                "{codec:?}: {e}"
            );
        }
    }
}

#[test]
fn a_million_deep_chain_is_an_error_not_a_stack_overflow() {
    const DEPTH: usize = 1_000_000;
    let expected = "the interval tree is deeper than 64 levels";

    let bytes = bincode_left_chain(DEPTH as u64);
    let e = bincode::deserialize::<V01<AddressAllocator>>(&bytes).unwrap_err();
    assert!(e.to_string().contains(expected), "{e}");

    let node = r#"{"key":{"start":0,"end":1},"node_state":"Free","left":"#;
    let close = r#","right":null,"height":1}"#;
    let json = format!(
        r#"{{"address_space":{{"start":0,"end":65535}},"interval_tree":{{"root":{}null{}}}}}"#,
        node.repeat(DEPTH),
        close.repeat(DEPTH)
    );
    let e = serde_json::from_str::<V01<AddressAllocator>>(&json).unwrap_err();
    assert!(e.to_string().contains(expected), "{e}");
}

#[test]
fn tree_fields_may_come_in_any_order_that_keeps_nodes_in_order() {
    let json = r#"{"interval_tree":{"root":{"height":2,"left":{"height":1,
        "key":{"end":4095,"start":0},"left":null,"node_state":"Allocated","right":null},
        "key":{"start":4096,"end":65535},"node_state":"Free","right":null}},
        "address_space":{"start":0,"end":65535}}"#;
    let V01(a) = serde_json::from_str::<V01<AddressAllocator>>(json).unwrap();
    assert_eq!(a.iter().collect::<Vec<_>>(), [range(0, 0xfff)]);

    // An empty `right` may come first; a non-empty one cannot.
    let json = r#"{"address_space":{"start":0,"end":65535},"interval_tree":{"root":
        {"right":null,"key":{"start":4096,"end":65535},"node_state":"Free","height":2,
         "left":{"right":null,"left":null,"key":{"start":0,"end":4095},"node_state":"Allocated","height":1}}}}"#;
    let V01(b) = serde_json::from_str::<V01<AddressAllocator>>(json).unwrap();
    assert_eq!(b, a);
    let json = r#"{"address_space":{"start":0,"end":65535},"interval_tree":{"root":
        {"right":{"key":{"start":4096,"end":65535},"node_state":"Free","left":null,"right":null,"height":1},
         "key":{"start":0,"end":4095},"node_state":"Allocated","left":null,"height":2}}}"#;
    let e = serde_json::from_str::<V01<AddressAllocator>>(json).unwrap_err();
    assert!(
        e.to_string()
            .contains("gives a non-empty `right` before its `key`"),
        "{e}"
    );

    let json = r#"{"address_space":{"start":0,"end":65535},"interval_tree":{"root":
        {"key":{"start":0,"end":65535},"node_state":"Free","left":null,"right":null}}}"#;
    let e = serde_json::from_str::<V01<AddressAllocator>>(json).unwrap_err();
    assert!(e.to_string().contains("missing field `height`"), "{e}");

    let json = r#"{"address_space":{"start":0,"end":65535},"interval_tree":{"root":null},"x":1}"#;
    let e = serde_json::from_str::<V01<AddressAllocator>>(json).unwrap_err();
    assert!(e.to_string().contains("unknown field `x`"), "{e}");
}

/// Regression: an unknown `NodeState` was reported as an unknown field.
#[test]
fn an_unknown_node_state_is_named_as_a_variant() {
    let json = r#"{"address_space":{"start":0,"end":65535},"interval_tree":{"root":
        {"key":{"start":0,"end":65535},"node_state":"Reserved","left":null,"right":null,"height":1}}}"#;
    let e = serde_json::from_str::<V01<AddressAllocator>>(json).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("unknown variant `Reserved`, expected `Free` or `Allocated`"),
        "{e}"
    );
}

fn forged_ids(range_base: u32, next_id: Option<u32>, range_end: u32, freed: &[u32]) -> RawIds {
    RawIds {
        range_base,
        next_id,
        range_end,
        freed_ids: freed.to_vec(),
    }
}

#[test]
fn a_freed_id_at_or_above_next_id_is_rejected() {
    let forged = forged_ids(5, Some(8), 23, &[6, 9]);
    assert_rejected::<V01<IdAllocator>>(
        &forged,
        "freed_ids #1 = 9 is at or above next_id 8, so it was never handed out",
    );
    assert_rejected::<V01<IdAllocator>>(
        &forged_ids(5, Some(8), 23, &[8]),
        "freed_ids #0 = 8 is at or above next_id 8",
    );
    // 0.1.4 takes it and hands out 9 twice.
    let mut up: upstream::IdAllocator = assert_upstream_accepts(&forged);
    let handed: Vec<u32> = (0..4).map(|_| up.allocate_id().unwrap()).collect();
    assert_eq!(handed, [6, 9, 8, 9]);
}

#[test]
fn freed_ids_outside_the_range_are_rejected() {
    for (freed, expected) in [
        (&[3][..], "freed_ids #0 = 3 is outside the id range 5..=23"),
        (&[6, 30], "freed_ids #1 = 30 is outside the id range 5..=23"),
    ] {
        let forged = forged_ids(5, Some(24), 23, freed);
        assert_rejected::<V01<IdAllocator>>(&forged, expected);
        assert_upstream_accepts::<upstream::IdAllocator>(&forged);
    }
    // 0.1.4 takes it and hands out an id outside its own range.
    let mut up: upstream::IdAllocator = assert_upstream_accepts(&forged_ids(5, Some(24), 23, &[3]));
    assert_eq!(up.allocate_id().unwrap(), 3);
}

#[test]
fn unsorted_or_repeated_freed_ids_are_rejected() {
    assert_rejected::<V01<IdAllocator>>(
        &forged_ids(5, Some(20), 23, &[9, 7]),
        "freed_ids #1 = 7 is not above the previous freed id 9",
    );
    assert_rejected::<V01<IdAllocator>>(
        &forged_ids(5, Some(20), 23, &[7, 7]),
        "freed_ids #1 = 7 is not above the previous freed id 7",
    );
}

#[test]
fn a_bad_range_or_next_id_is_rejected() {
    let cases = [
        (forged_ids(23, Some(23), 5, &[]), "id range 23..=5 is inverted"),
        (forged_ids(5, Some(30), 23, &[]), "next id 30 is outside 5..=24"),
        (forged_ids(5, Some(4), 23, &[]), "next id 4 is outside 5..=24"),
        (
            forged_ids(5, None, 23, &[]),
            "next_id is None, which 0.1.x only reaches after handing out u32::MAX, but range_end is 23",
        ),
    ];
    for (forged, expected) in &cases {
        assert_rejected::<V01<IdAllocator>>(forged, expected);
        assert_upstream_accepts::<upstream::IdAllocator>(forged);
    }
}

#[test]
fn id_fields_may_come_in_any_order() {
    let json = r#"{"freed_ids":[6,8],"range_end":23,"next_id":10,"range_base":5}"#;
    let V01(ids) = serde_json::from_str::<V01<IdAllocator>>(json).unwrap();
    assert_eq!(ids.runs().collect::<Vec<_>>(), [5..=5, 7..=7, 9..=9]);
    let json = r#"{"freed_ids":[6,30],"range_end":23,"next_id":10,"range_base":5}"#;
    let e = serde_json::from_str::<V01<IdAllocator>>(json).unwrap_err();
    assert!(
        e.to_string()
            .contains("freed_ids #1 = 30 is outside the id range"),
        "{e}"
    );
    let json = r#"{"range_base":5,"next_id":10,"range_end":23,"freed_ids":[],"freed_ids":[]}"#;
    let e = serde_json::from_str::<V01<IdAllocator>>(json).unwrap_err();
    assert!(e.to_string().contains("duplicate field `freed_ids`"), "{e}");
}
