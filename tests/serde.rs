// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Validated serde: round trips under serde_json, postcard, bincode 1.3.3 and
//! bitcode, the flat shape, and rejection of tampered states in every format.

#![cfg(feature = "serde")]

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use vm_allocator::{
    AddressAllocator, AllocPolicy, IdAllocator, Owner, Pool, RangeInclusive, ResourceSet,
};

#[path = "support/codec.rs"]
mod codec;

use codec::{Codec, CODECS};

fn range(start: u64, end: u64) -> RangeInclusive {
    RangeInclusive::new(start, end).unwrap()
}

fn address_states() -> Vec<(&'static str, AddressAllocator)> {
    let empty = AddressAllocator::new(0x1000, 0x10000).unwrap();

    let mut small = AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap();
    small
        .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    small
        .allocate(0x4000, 0x4000, AllocPolicy::LastMatch)
        .unwrap();
    small
        .allocate(0x10, 0x10, AllocPolicy::ExactMatch(0xd800_0000))
        .unwrap();

    // 10k allocations of varied sizes with varied gaps.
    let mut next = 0x1_0000_0000u64;
    let large = AddressAllocator::from_allocations(
        range(0x1_0000_0000, 0x10_0000_0000 - 1),
        (0..10_000u64).map(|i| {
            let start = next + (i % 3) * 0x1000;
            let end = start + 0x1000 * (1 + i % 5) - 1;
            next = end + 1;
            range(start, end)
        }),
    )
    .unwrap();

    let mut top = AddressAllocator::new(1, u64::MAX).unwrap();
    top.allocate(1, 1, AllocPolicy::ExactMatch(u64::MAX))
        .unwrap();
    top.allocate(1, 1, AllocPolicy::ExactMatch(1)).unwrap();

    let mut bottom = AddressAllocator::new(0, u64::MAX).unwrap();
    bottom
        .allocate(0x1000, 0x1000, AllocPolicy::ExactMatch(0))
        .unwrap();
    bottom.allocate(0x1000, 1, AllocPolicy::LastMatch).unwrap();

    let mut full = AddressAllocator::new(0x100, 0x100).unwrap();
    full.allocate(0x100, 1, AllocPolicy::FirstMatch).unwrap();

    vec![
        ("empty", empty),
        ("small", small),
        ("large", large),
        ("top of u64", top),
        ("bottom of u64", bottom),
        ("full", full),
    ]
}

fn id_states() -> Vec<(&'static str, IdAllocator)> {
    let empty = IdAllocator::new(5, 23).unwrap();

    let mut small = IdAllocator::new(5, 23).unwrap();
    for _ in 0..6 {
        small.allocate_id().unwrap();
    }
    small.free_id(6).unwrap();
    small.free_id(10).unwrap(); // the highest id handed out stays 10

    // 10k runs: every other id of 0..20k allocated.
    let mut large = IdAllocator::new(0, 100_000).unwrap();
    for _ in 0..20_000 {
        large.allocate_id().unwrap();
    }
    for id in (1..20_000).step_by(2) {
        large.free_id(id).unwrap();
    }

    let mut whole = IdAllocator::new(0, u32::MAX).unwrap();
    whole.allocate_id_at(u32::MAX).unwrap(); // next id 2^32
    whole.allocate_id().unwrap();

    let mut last = IdAllocator::new(u32::MAX, u32::MAX).unwrap();
    last.allocate_id().unwrap();

    vec![
        ("empty", empty),
        ("small", small),
        ("large", large),
        ("whole u32 range", whole),
        ("last id", last),
    ]
}

#[test]
fn json_shape_is_flat_and_sorted() {
    let mut mmio = AddressAllocator::new(0x1000, 0x10000).unwrap();
    mmio.allocate(0x1000, 0x1000, AllocPolicy::LastMatch)
        .unwrap();
    mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    assert_eq!(
        serde_json::to_string(&mmio).unwrap(),
        r#"{"space":{"start":4096,"end":69631},"generation":2,"allocations":[[4096,8191,null],[65536,69631,null]]}"#
    );

    let ids = &id_states()[1].1;
    assert_eq!(
        serde_json::to_string(ids).unwrap(),
        r#"{"range_base":5,"range_end":23,"next_id":11,"generation":8,"allocated":[[5,5,null],[7,9,null]]}"#
    );
    assert_eq!(
        serde_json::to_string(&range(1, 2)).unwrap(),
        r#"{"start":1,"end":2}"#
    );
}

fn round_trip<T>(codec: Codec, name: &str, value: &T) -> T
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let bytes = codec.encode(value);
    let back: T = codec
        .decode(&bytes)
        .unwrap_or_else(|e| panic!("{codec:?} {name}: {e}"));
    assert_eq!(&back, value, "{codec:?} {name}");
    // One state, one encoding.
    assert_eq!(codec.encode(&back), bytes, "{codec:?} {name}");
    back
}

#[test]
fn address_allocators_round_trip_in_every_format() {
    for codec in CODECS {
        for (name, state) in address_states() {
            let mut back = round_trip(codec, name, &state);
            back.check_invariants().unwrap();
            // The restored allocator carries on exactly as the original.
            let mut original = state.clone();
            for policy in [AllocPolicy::FirstMatch, AllocPolicy::LastMatch] {
                assert_eq!(
                    back.allocate(0x100, 0x100, policy),
                    original.allocate(0x100, 0x100, policy),
                    "{codec:?} {name}"
                );
            }
        }
    }
}

#[test]
fn id_allocators_round_trip_in_every_format() {
    for codec in CODECS {
        for (name, state) in id_states() {
            let mut back = round_trip(codec, name, &state);
            back.check_invariants().unwrap();
            let mut original = state.clone();
            assert_eq!(
                back.allocate_id(),
                original.allocate_id(),
                "{codec:?} {name}"
            );
            // The highest id ever handed out survives: freeing above it is
            // NeverAllocated, below it AlreadyReleased.
            for id in [state.range_base(), state.range_end()] {
                assert_eq!(back.free_id(id), original.free_id(id), "{codec:?} {name}");
            }
        }
    }
}

/// Regression: the runs of an `IdAllocator` with owners were written as a
/// sequence of unknown length, which bincode and postcard refuse to write
/// and on which bitcode panics.
#[test]
fn id_allocators_with_owners_encode_in_every_format() {
    let net0 = Owner::new("virtio-net0").unwrap();
    let mut ids = IdAllocator::new(5, 23).unwrap();
    ids.allocate_id().unwrap();
    ids.owned_by(&net0).allocate_ids(2, 1).unwrap();
    ids.allocate_id().unwrap();
    for codec in CODECS {
        let encoded = std::panic::catch_unwind(|| codec.encode(&ids));
        let bytes = encoded.unwrap_or_else(|_| panic!("{codec:?} could not encode it"));
        let back: IdAllocator = codec.decode(&bytes).unwrap();
        assert_eq!(back, ids, "{codec:?}");
        assert_eq!(back.ids_of("virtio-net0").collect::<Vec<_>>(), [6..=7]);
    }
}

#[test]
fn ranges_round_trip_in_every_format() {
    for codec in CODECS {
        for r in [range(0, 0), range(1, u64::MAX), range(0, u64::MAX - 1)] {
            round_trip(codec, "range", &r);
        }
    }
}

#[test]
fn states_round_trip_through_a_json_value_with_sorted_keys() {
    // serde_json::Value sorts keys: the lists arrive before the parameters.
    for (name, state) in address_states() {
        let value = serde_json::to_value(&state).unwrap();
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["allocations", "generation", "space"]);
        let back: AddressAllocator = serde_json::from_value(value).unwrap();
        assert_eq!(back, state, "{name}");
        back.check_invariants().unwrap();
    }
    for (name, state) in id_states() {
        let value = serde_json::to_value(&state).unwrap();
        let back: IdAllocator = serde_json::from_value(value).unwrap();
        assert_eq!(back, state, "{name}");
        back.check_invariants().unwrap();
    }
}

#[test]
fn json_fields_may_come_in_any_order() {
    let json =
        r#"{"allocations":[[4096,8191,null]],"space":{"end":65535,"start":4096},"generation":4}"#;
    let a: AddressAllocator = serde_json::from_str(json).unwrap();
    assert_eq!(a.iter().collect::<Vec<_>>(), [range(0x1000, 0x1fff)]);
    assert_eq!(a.generation(), 4);

    let json =
        r#"{"next_id":8,"allocated":[[5,6,null]],"generation":9,"range_end":23,"range_base":5}"#;
    let ids: IdAllocator = serde_json::from_str(json).unwrap();
    assert_eq!(ids.runs().collect::<Vec<_>>(), [5..=6]);
    assert_eq!(ids.generation(), 9);
    // next_id 8 was kept: 7 was handed out once, 8 never.
    let mut ids2 = ids.clone();
    assert_eq!(
        ids2.free_id(7).unwrap_err(),
        vm_allocator::Error::AlreadyReleased(7)
    );
    assert_eq!(
        ids2.free_id(8).unwrap_err(),
        vm_allocator::Error::NeverAllocated(8)
    );

    // Structs as JSON arrays take the sequence path.
    let json = r#"[[4096,65535],4,[[4096,8191,null]]]"#;
    let b = serde_json::from_str::<AddressAllocator>(json).unwrap();
    assert_eq!((&b, b.generation()), (&a, 4));
}

fn json_error<T: DeserializeOwned + std::fmt::Debug>(json: &str) -> String {
    serde_json::from_str::<T>(json).unwrap_err().to_string()
}

#[test]
fn json_rejects_unknown_duplicate_and_missing_fields() {
    let space = r#""space":{"start":4096,"end":65535},"generation":0"#;
    let cases: &[(&str, &str)] = &[
        (
            &format!(r#"{{{space},"allocations":[],"extra":1}}"#),
            "unknown field `extra`",
        ),
        (
            &format!(r#"{{{space},{space},"allocations":[]}}"#),
            "duplicate field `space`",
        ),
        (
            &format!(r#"{{{space},"generation":1,"allocations":[]}}"#),
            "duplicate field `generation`",
        ),
        (
            r#"{"allocations":[],"allocations":[]}"#,
            "duplicate field `allocations`",
        ),
        (&format!("{{{space}}}"), "missing field `allocations`"),
        (
            r#"{"allocations":[],"generation":0}"#,
            "missing field `space`",
        ),
        (
            r#"{"allocations":[],"space":{"start":4096,"end":65535}}"#,
            "missing field `generation`",
        ),
        (
            r#"{"space":{"start":1},"generation":0,"allocations":[]}"#,
            "missing field `end`",
        ),
        (
            r#"{"space":{"start":1,"end":2,"start":1},"generation":0,"allocations":[]}"#,
            "duplicate field `start`",
        ),
    ];
    for (json, expected) in cases {
        let e = json_error::<AddressAllocator>(json);
        assert!(e.contains(expected), "{json}: {e}");
    }

    let cases: &[(&str, &str)] = &[
        (
            r#"{"range_base":5,"range_end":23,"next_id":5,"generation":0,"allocated":[],"gsi":1}"#,
            "unknown field `gsi`",
        ),
        (
            r#"{"range_base":5,"range_end":23,"next_id":5,"next_id":5,"generation":0,"allocated":[]}"#,
            "duplicate field `next_id`",
        ),
        (
            r#"{"range_base":5,"range_end":23,"generation":0,"allocated":[]}"#,
            "missing field `next_id`",
        ),
        (
            r#"{"range_base":5,"range_end":23,"next_id":5,"allocated":[]}"#,
            "missing field `generation`",
        ),
        (
            r#"{"range_base":5,"range_end":23,"next_id":5,"generation":0}"#,
            "missing field `allocated`",
        ),
    ];
    for (json, expected) in cases {
        let e = json_error::<IdAllocator>(json);
        assert!(e.contains(expected), "{json}: {e}");
    }
}

/// Regression: an unknown variant of `Pool` was reported as an unknown
/// field.
#[test]
fn json_names_an_unknown_pool_variant_as_a_variant() {
    let e = json_error::<Pool>(r#"{"Irqs":{"range_base":5}}"#);
    assert!(
        e.starts_with("unknown variant `Irqs`, expected `Ids` or `Addresses`"),
        "{e}"
    );
}

/// Regression: an error inside a pool of a set did not say which pool.
#[test]
fn errors_inside_a_pool_name_the_pool() {
    let ids = r#"{"range_base":5,"range_end":23,"next_id":12,"generation":0,"allocated":[[5,8,null],[7,9,null]]}"#;
    let space = r#"{"space":{"start":0,"end":65535},"generation":0,"allocations":[[0,1,""]]}"#;
    let json = format!(r#"{{"generation":0,"pools":[{{"name":"gsi","pool":{{"Ids":{ids}}}}}]}}"#);
    let e = json_error::<ResourceSet>(&json);
    assert!(
        e.contains("invalid IdAllocator of pool #0 \"gsi\": allocation #1 starts at 0x7"),
        "{e}"
    );
    // The name may come after the pool: the position still says which.
    let json = format!(
        r#"{{"generation":0,"pools":[{{"name":"gsi","pool":{{"Ids":{{"range_base":5,"range_end":23,"next_id":5,"generation":0,"allocated":[]}}}}}},{{"pool":{{"Addresses":{space}}},"name":"pio"}}]}}"#
    );
    let e = json_error::<ResourceSet>(&json);
    assert!(
        e.contains("invalid AddressAllocator of pool #1: allocation #0 0x0-0x1 has an invalid owner \"\": the name is empty"),
        "{e}"
    );
}

/// Regression: a name repeated in several pools of a set was held once per
/// pool after deserialising (the binary format holds it once per set).
#[test]
fn owners_are_shared_across_the_pools_of_a_set() {
    let mut vm = ResourceSet::x86_64();
    let net0 = Owner::new("virtio-net0").unwrap();
    let gsi = vm.owned_by(&net0).allocate_id("legacy_gsi").unwrap();
    let bar = vm
        .owned_by(&net0)
        .allocate("mmio32", 0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    for codec in CODECS {
        let back: ResourceSet = codec.decode(&codec.encode(&vm)).unwrap();
        let a = back.ids("legacy_gsi").unwrap().owner_at(gsi).unwrap();
        let b = back
            .addresses("mmio32")
            .unwrap()
            .owner_at(bar.start())
            .unwrap();
        assert!(Owner::ptr_eq(a, b), "{codec:?}");
    }
}

/// The flat shape, written by hand so that any state can be forged.
#[derive(Serialize)]
#[serde(rename = "RangeInclusive")]
struct RawRange {
    start: u64,
    end: u64,
}

#[derive(Serialize)]
#[serde(rename = "AddressAllocator")]
struct RawAddress {
    space: RawRange,
    generation: u64,
    allocations: Vec<(u64, u64, Option<String>)>,
}

#[derive(Serialize)]
#[serde(rename = "IdAllocator")]
struct RawIds {
    range_base: u32,
    range_end: u32,
    next_id: u64,
    generation: u64,
    allocated: Vec<(u32, u32, Option<String>)>,
}

/// A forged address allocator at generation 0, without owners.
fn raw_address(space: (u64, u64), allocations: &[(u64, u64)]) -> RawAddress {
    RawAddress {
        space: RawRange {
            start: space.0,
            end: space.1,
        },
        generation: 0,
        allocations: allocations.iter().map(|&(a, b)| (a, b, None)).collect(),
    }
}

#[test]
fn forged_shapes_encode_exactly_like_real_states() {
    let state = &address_states()[1].1;
    let allocations: Vec<(u64, u64)> = state.iter().map(|r| (r.start(), r.end())).collect();
    let raw = raw_address((state.base(), state.end()), &allocations);
    let ids = &id_states()[1].1;
    let mut raw = raw;
    raw.generation = state.generation();
    let raw_ids = RawIds {
        range_base: 5,
        range_end: 23,
        next_id: 11,
        generation: 8,
        allocated: vec![(5, 5, None), (7, 9, None)],
    };
    for codec in CODECS {
        assert_eq!(codec.encode(&raw), codec.encode(state), "{codec:?}");
        assert_eq!(codec.encode(&raw_ids), codec.encode(ids), "{codec:?}");
    }
}

/// Decodes `forged` in every format, and through a sorted JSON value (lists
/// first), expecting an error that contains `expected`.
fn assert_rejected<T, F>(forged: &F, expected: &str)
where
    T: DeserializeOwned + std::fmt::Debug,
    F: Serialize,
{
    for codec in CODECS {
        let e = codec
            .decode::<T>(&codec.encode(forged))
            .expect_err(&format!(
                "{codec:?} accepted a state that should fail with {expected}"
            ));
        if codec.keeps_messages() {
            assert!(e.contains(expected), "{codec:?}: `{e}` lacks `{expected}`");
        }
    }
    let value = serde_json::to_value(forged).unwrap();
    let e = serde_json::from_value::<T>(value).unwrap_err().to_string();
    assert!(
        e.contains(expected),
        "sorted JSON: `{e}` lacks `{expected}`"
    );
}

#[test]
fn tampered_address_allocators_are_rejected_in_every_format() {
    /// The space, the allocations, and the expected error.
    type Case<'a> = ((u64, u64), &'a [(u64, u64)], &'a str);
    let space = (0x1000, 0xffff);
    let cases: &[Case] = &[
        (
            space,
            &[(0x1000, 0x1fff), (0x1800, 0x27ff)],
            "allocation #1 starts at 0x1800, not after the previous one's end 0x1fff",
        ),
        (
            space,
            &[(0x1000, 0x1fff), (0x1000, 0x1fff)],
            "allocation #1 starts at 0x1000, not after the previous one's end 0x1fff",
        ),
        (
            space,
            &[(0x4000, 0x4fff), (0x1000, 0x1fff)],
            "allocation #1 starts at 0x1000, not after the previous one's end 0x4fff",
        ),
        (
            space,
            &[(0x1000, 0x1fff), (0x3000, 0x2fff)],
            "allocation #1 0x3000-0x2fff ends before it starts",
        ),
        (
            space,
            &[(0x1000, 0x1fff), (0xf000, 0x10fff)],
            "allocation #1 0xf000-0x10fff lies outside 0x1000-0xffff",
        ),
        (
            space,
            &[(0x0, 0xfff), (0x1000, 0x1fff)],
            "allocation #0 0x0-0xfff lies outside 0x1000-0xffff",
        ),
        (
            (0x2000, 0x1000),
            &[],
            "address space 0x2000-0x1000 is not a valid range",
        ),
        (
            (0, u64::MAX),
            &[(0, 0xfff)],
            "address space 0x0-0xffffffffffffffff is not a valid range",
        ),
    ];
    for (space, allocations, expected) in cases {
        assert_rejected::<AddressAllocator, _>(&raw_address(*space, allocations), expected);
    }
}

#[test]
fn tampered_id_allocators_are_rejected_in_every_format() {
    let raw = |range_base, range_end, next_id, allocated: &[(u32, u32)]| RawIds {
        range_base,
        range_end,
        next_id,
        generation: 0,
        allocated: allocated.iter().map(|&(a, b)| (a, b, None)).collect(),
    };
    let cases = [
        (
            raw(5, 23, 12, &[(3, 6)]),
            "allocation #0 0x3-0x6 lies outside 0x5-0x17",
        ),
        (
            raw(5, 23, 12, &[(5, 6), (20, 30)]),
            "allocation #1 0x14-0x1e lies outside",
        ),
        (
            raw(5, 23, 12, &[(5, 6), (10, 12)]),
            "id run #1 ends at 12, at or above the next never-allocated id 12",
        ),
        (
            raw(5, 23, 12, &[(5, 6), (7, 8)]),
            "id run #1 starting at 7 touches the previous run",
        ),
        (
            raw(5, 23, 12, &[(8, 9), (5, 6)]),
            "allocation #1 starts at 0x5, not after the previous one's end 0x9",
        ),
        (
            raw(5, 23, 12, &[(5, 8), (8, 9)]),
            "allocation #1 starts at 0x8, not after the previous one's end 0x8",
        ),
        (
            raw(5, 23, 12, &[(7, 6)]),
            "allocation #0 0x7-0x6 ends before it starts",
        ),
        (raw(5, 23, 25, &[]), "next id 25 is outside 5..=24"),
        (raw(5, 23, 4, &[]), "next id 4 is outside 5..=24"),
        (
            raw(5, u32::MAX, 1 << 33, &[]),
            "next id 8589934592 is outside",
        ),
        (raw(23, 5, 23, &[]), "id range 23..=5 is inverted"),
    ];
    for (forged, expected) in &cases {
        assert_rejected::<IdAllocator, _>(forged, expected);
    }

    // Ids are written as u32; JSON may hold any integer there, which is
    // refused as outside the range, with its position, in either order.
    for json in [
        r#"{"range_base":5,"range_end":23,"next_id":12,"generation":0,"allocated":[[5,6,null],[7,4294967296,null]]}"#,
        r#"{"allocated":[[5,6,null],[7,4294967296,null]],"generation":0,"next_id":12,"range_base":5,"range_end":23}"#,
    ] {
        let e = json_error::<IdAllocator>(json);
        assert!(
            e.contains("invalid IdAllocator: allocation #1 0x7-0x100000000 lies outside 0x5-0x17"),
            "{e}"
        );
    }
    let json = r#"{"allocated":[[18446744073709551615,18446744073709551615,null]],"generation":0,"next_id":12,"range_base":5,"range_end":23}"#;
    let e = json_error::<IdAllocator>(json);
    assert!(
        e.contains("allocation #0 0xffffffffffffffff-0xffffffffffffffff lies outside 0x5-0x17"),
        "{e}"
    );
    let e = json_error::<IdAllocator>(
        r#"{"allocated":[[-1,2,null]],"generation":0,"next_id":12,"range_base":5,"range_end":23}"#,
    );
    assert!(
        e.contains("invalid type: integer `-1`, expected an unsigned integer"),
        "{e}"
    );
}

#[test]
fn invalid_ranges_are_rejected_in_every_format() {
    assert_rejected::<RangeInclusive, _>(
        &RawRange { start: 2, end: 1 },
        "invalid RangeInclusive 0x2-0x1: start is after end",
    );
    assert_rejected::<RangeInclusive, _>(
        &RawRange {
            start: 0,
            end: u64::MAX,
        },
        "invalid RangeInclusive 0x0-0xffffffffffffffff: it is the whole u64 space",
    );
}

#[test]
fn truncated_bytes_are_rejected_in_every_format() {
    let mmio = &address_states()[1].1;
    let ids = &id_states()[1].1;
    for codec in CODECS {
        let bytes = codec.encode(mmio);
        for cut in 0..bytes.len() {
            if let Ok(a) = codec.decode::<AddressAllocator>(&bytes[..cut]) {
                panic!("{codec:?}: {cut} of {} bytes decoded to {a:?}", bytes.len());
            }
        }
        let bytes = codec.encode(ids);
        for cut in 0..bytes.len() {
            if let Ok(a) = codec.decode::<IdAllocator>(&bytes[..cut]) {
                panic!("{codec:?}: {cut} of {} bytes decoded to {a:?}", bytes.len());
            }
        }
    }
}

#[test]
fn a_huge_declared_length_is_an_error_not_an_allocation() {
    // bincode: the space and the generation, then a list that claims 2^64 - 1
    // allocations.
    let mut bytes = bincode::serialize(&(
        RawRange {
            start: 0x1000,
            end: 0xffff,
        },
        0u64,
    ))
    .unwrap();
    bytes.extend_from_slice(&u64::MAX.to_le_bytes());
    bytes.extend_from_slice(&bincode::serialize(&(0x1000u64, 0x1fffu64, None::<String>)).unwrap());
    let e = bincode::deserialize::<AddressAllocator>(&bytes).unwrap_err();
    assert!(e.to_string().contains("io error"), "{e}");

    // postcard: a varint length of 2^32 with one run behind it.
    let mut bytes = postcard::to_allocvec(&(5u32, 23u32, 12u64, 0u64)).unwrap();
    bytes.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x10, 5, 6, 0]);
    assert!(postcard::from_bytes::<IdAllocator>(&bytes).is_err());
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Vmm {
    gsi: IdAllocator,
    mmio: AddressAllocator,
}

#[test]
fn states_embedded_in_a_vmm_struct_round_trip_and_are_validated() {
    let mut vmm = Vmm {
        gsi: IdAllocator::new(5, 23).unwrap(),
        mmio: AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap(),
    };
    for _ in 0..3 {
        vmm.gsi.allocate_id().unwrap();
        vmm.mmio
            .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
            .unwrap();
    }
    vmm.gsi.free_id(6).unwrap();
    for codec in CODECS {
        let back: Vmm = codec.decode(&codec.encode(&vmm)).unwrap();
        assert_eq!(back, vmm, "{codec:?}");
    }

    #[derive(Serialize)]
    struct RawVmm {
        gsi: RawIds,
        mmio: RawAddress,
    }
    let forged = RawVmm {
        gsi: RawIds {
            range_base: 5,
            range_end: 23,
            next_id: 8,
            generation: 0,
            allocated: vec![(5, 5, None), (7, 7, None)],
        },
        mmio: raw_address(
            (0xd000_0000, 0xdfff_ffff),
            &[(0xd000_0000, 0xd000_1fff), (0xd000_1000, 0xd000_1fff)],
        ),
    };
    assert_rejected::<Vmm, _>(
        &forged,
        "invalid AddressAllocator: allocation #1 starts at 0xd0001000",
    );
}

// ---------------------------------------------------------------------------
// Owners, generations and resource sets
// ---------------------------------------------------------------------------

fn owner(name: &str) -> Owner {
    Owner::new(name).unwrap()
}

/// Address allocators with owners, at generations other than their number
/// of allocations.
fn owned_address_states() -> Vec<(&'static str, AddressAllocator)> {
    let net0 = owner("virtio-net0");
    let blk0 = owner("virtio-blk0");

    let mut mmio = AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap();
    // Two touching allocations of one owner stay two allocations.
    mmio.owned_by(&net0)
        .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    mmio.owned_by(&net0)
        .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    mmio.owned_by(&blk0)
        .allocate(0x4000, 0x4000, AllocPolicy::LastMatch)
        .unwrap();
    let bar = mmio
        .owned_by(&blk0)
        .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    mmio.set_owner(&bar, Some(owner("pci 0000:00:03.0")))
        .unwrap();
    let gone = mmio.allocate(0x10, 0x10, AllocPolicy::LastMatch).unwrap();
    mmio.free(&gone).unwrap();

    // 10k allocations, each owned by one of three devices or by none.
    let devices = [owner("nvme0"), owner("nvme1"), owner("gpu0")];
    let mut large = AddressAllocator::new(1 << 32, 1 << 40).unwrap();
    for i in 0..10_000usize {
        let size = 0x1000 * (1 + (i as u64) % 3);
        match devices.get(i % 4) {
            Some(device) => large
                .owned_by(device)
                .allocate(size, 0x1000, AllocPolicy::FirstMatch),
            None => large.allocate(size, 0x1000, AllocPolicy::FirstMatch),
        }
        .unwrap();
    }

    // An owner on the last address of u64.
    let mut top = AddressAllocator::new(1, u64::MAX).unwrap();
    top.owned_by(&owner("firmware"))
        .allocate(1, 1, AllocPolicy::ExactMatch(u64::MAX))
        .unwrap();
    top.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();

    vec![("mmio", mmio), ("large", large), ("top of u64", top)]
}

/// Id allocators with owners: touching runs of different owners, owned and
/// untagged ids in one run, the whole u32 range.
fn owned_id_states() -> Vec<(&'static str, IdAllocator)> {
    let net0 = owner("virtio-net0");
    let blk0 = owner("virtio-blk0");

    let mut gsi = IdAllocator::new(5, 23).unwrap();
    gsi.owned_by(&net0).allocate_id().unwrap(); // 5
    gsi.owned_by(&blk0).allocate_ids(2, 1).unwrap(); // 6..=7
    gsi.allocate_id().unwrap(); // 8
    gsi.owned_by(&net0).allocate_id_at(12).unwrap();
    gsi.owned_by(&net0).allocate_id_at(13).unwrap(); // joins 12
    gsi.allocate_id_at(16).unwrap();
    gsi.free_id(16).unwrap(); // next id stays 17

    let mut msi = IdAllocator::new(24, 4095).unwrap();
    let devices = [owner("nvme0"), owner("nvme1"), owner("gpu0")];
    for i in 0..800usize {
        match devices.get(i % 4) {
            Some(device) => msi.owned_by(device).allocate_ids(4, 4),
            None => msi.allocate_ids(2, 1),
        }
        .unwrap();
    }
    for id in (100..2000).step_by(7) {
        let _ = msi.free_id(id);
    }

    let mut whole = IdAllocator::new(0, u32::MAX).unwrap();
    whole
        .owned_by(&owner("last"))
        .allocate_id_at(u32::MAX)
        .unwrap();
    whole.owned_by(&owner("first")).allocate_id().unwrap();

    vec![("gsi", gsi), ("msi", msi), ("whole u32 range", whole)]
}

/// A VM's resource set with owners in several pools.
fn set_state() -> ResourceSet {
    let net0 = owner("virtio-net0");
    let blk0 = owner("virtio-blk0");
    let mut vm = ResourceSet::x86_64();
    for device in [&net0, &blk0] {
        let mut dev = vm.owned_by(device);
        dev.allocate_id("legacy_gsi").unwrap();
        dev.allocate_ids("msi_gsi", 4, 4).unwrap();
        dev.allocate("mmio32", 0x1000, 0x1000, AllocPolicy::FirstMatch)
            .unwrap();
        dev.allocate("mmio64", 1 << 20, 1 << 20, AllocPolicy::LastMatch)
            .unwrap();
    }
    vm.allocate_id("legacy_gsi").unwrap();
    vm.allocate("pio", 8, 1, AllocPolicy::ExactMatch(0x3f8))
        .unwrap();
    vm.free_id("legacy_gsi", 7).unwrap();
    vm
}

/// The owners of an address allocator, in order.
fn address_owners(a: &AddressAllocator) -> Vec<(RangeInclusive, Option<String>)> {
    a.allocations()
        .map(|x| (x.range(), x.owner().map(|o| o.to_string())))
        .collect()
}

/// The owners of an id allocator, run by run.
fn id_owners(ids: &IdAllocator) -> Vec<(std::ops::RangeInclusive<u32>, Option<String>)> {
    ids.allocations()
        .map(|x| (x.ids(), x.owner().map(|o| o.to_string())))
        .collect()
}

/// Every owner of `a` named like an earlier one is the same handle.
fn assert_address_owners_shared(a: &AddressAllocator, context: &str) {
    let mut seen: Vec<&Owner> = Vec::new();
    for x in a.allocations() {
        if let Some(o) = x.owner() {
            match seen.iter().find(|s| s.as_str() == o.as_str()) {
                Some(s) => assert!(s.ptr_eq(o), "{context}: {o} held twice"),
                None => seen.push(o),
            }
        }
    }
}

fn assert_id_owners_shared(ids: &IdAllocator, context: &str) {
    let mut seen: Vec<&Owner> = Vec::new();
    for x in ids.allocations() {
        if let Some(o) = x.owner() {
            match seen.iter().find(|s| s.as_str() == o.as_str()) {
                Some(s) => assert!(s.ptr_eq(o), "{context}: {o} held twice"),
                None => seen.push(o),
            }
        }
    }
}

#[test]
fn owned_address_allocators_round_trip_with_owners_and_generation() {
    for codec in CODECS {
        for (name, state) in owned_address_states() {
            let context = format!("{codec:?} {name}");
            let back = round_trip(codec, name, &state);
            back.check_invariants().unwrap();
            assert_eq!(back.generation(), state.generation(), "{context}");
            assert_eq!(address_owners(&back), address_owners(&state), "{context}");
            assert_address_owners_shared(&back, &context);
        }
    }
    // Sharing, spelled out: the two touching allocations of virtio-net0.
    let mmio = &owned_address_states()[0].1;
    for codec in CODECS {
        let back: AddressAllocator = codec.decode(&codec.encode(mmio)).unwrap();
        let a = back.owner_at(0xd000_0000).unwrap();
        let b = back.owner_at(0xd000_1000).unwrap();
        assert!(Owner::ptr_eq(a, b), "{codec:?}");
        assert!(back.owner_at(0xd000_2000).is_none());
    }
}

#[test]
fn owned_id_allocators_round_trip_with_owners_and_generation() {
    for codec in CODECS {
        for (name, state) in owned_id_states() {
            let context = format!("{codec:?} {name}");
            let mut back = round_trip(codec, name, &state);
            back.check_invariants().unwrap();
            assert_eq!(back.generation(), state.generation(), "{context}");
            assert_eq!(id_owners(&back), id_owners(&state), "{context}");
            assert_id_owners_shared(&back, &context);
            // It carries on as the original, owners included.
            let mut original = state.clone();
            let more = owner("later");
            assert_eq!(
                back.owned_by(&more).allocate_id(),
                original.owned_by(&more).allocate_id(),
                "{context}"
            );
            assert_eq!(back, original, "{context}");
        }
    }
    let gsi = &owned_id_states()[0].1;
    assert_eq!(
        id_owners(gsi)[..3],
        [
            (5..=5, Some("virtio-net0".to_string())),
            (6..=7, Some("virtio-blk0".to_string())),
            (8..=8, None),
        ]
    );
    for codec in CODECS {
        let back: IdAllocator = codec.decode(&codec.encode(gsi)).unwrap();
        assert!(Owner::ptr_eq(
            back.owner_at(5).unwrap(),
            back.owner_at(13).unwrap()
        ));
    }
}

#[test]
fn resource_sets_round_trip_with_owners_and_generations() {
    let vm = set_state();
    for codec in CODECS {
        let back = round_trip(codec, "x86_64", &vm);
        back.check_invariants().unwrap();
        assert_eq!(back.generation(), vm.generation(), "{codec:?}");
        for ((name, pool), (back_name, back_pool)) in vm.pools().zip(back.pools()) {
            assert_eq!(name, back_name);
            assert_eq!(
                pool.generation(),
                back_pool.generation(),
                "{codec:?} {name}"
            );
            match (pool, back_pool) {
                (Pool::Ids(a), Pool::Ids(b)) => assert_eq!(id_owners(a), id_owners(b)),
                (Pool::Addresses(a), Pool::Addresses(b)) => {
                    assert_eq!(address_owners(a), address_owners(b))
                }
                _ => panic!("{codec:?} {name}: the pool changed kind"),
            }
        }
    }
    // Empty sets, and sets of one kind, too.
    for set in [ResourceSet::new(), ResourceSet::aarch64()] {
        for codec in CODECS {
            round_trip(codec, "set", &set);
        }
    }
}

#[test]
fn pools_and_owners_round_trip_on_their_own() {
    let vm = set_state();
    for codec in CODECS {
        for (name, pool) in vm.pools() {
            let back: Pool = codec.decode(&codec.encode(pool)).unwrap();
            assert_eq!(&back, pool, "{codec:?} {name}");
            assert_eq!(back.generation(), pool.generation(), "{codec:?} {name}");
        }
        for name in ["virtio-net0", "pci 0000:00:03.0", &"é".repeat(32)] {
            round_trip(codec, name, &owner(name));
        }
    }
    assert_eq!(
        serde_json::to_string(&owner("virtio-net0")).unwrap(),
        r#""virtio-net0""#
    );
}

#[test]
fn json_shapes_with_owners_and_sets() {
    let gsi = &owned_id_states()[0].1;
    assert_eq!(
        serde_json::to_string(gsi).unwrap(),
        r#"{"range_base":5,"range_end":23,"next_id":17,"generation":7,"allocated":[[5,5,"virtio-net0"],[6,7,"virtio-blk0"],[8,8,null],[12,13,"virtio-net0"]]}"#
    );
    let mut vm = ResourceSet::new();
    vm.add_id_pool("gsi", 5, 23).unwrap();
    vm.add_address_pool("pio", 0, 0x10000).unwrap();
    vm.owned_by(&owner("serial0"))
        .allocate("pio", 8, 1, AllocPolicy::ExactMatch(0x3f8))
        .unwrap();
    vm.allocate_id("gsi").unwrap();
    assert_eq!(
        serde_json::to_string(&vm).unwrap(),
        r#"{"generation":2,"pools":[{"name":"gsi","pool":{"Ids":{"range_base":5,"range_end":23,"next_id":6,"generation":1,"allocated":[[5,5,null]]}}},{"name":"pio","pool":{"Addresses":{"space":{"start":0,"end":65535},"generation":1,"allocations":[[1016,1023,"serial0"]]}}}]}"#
    );
}

#[test]
fn owned_states_round_trip_through_a_json_value_with_sorted_keys() {
    for (name, state) in owned_address_states() {
        let back: AddressAllocator =
            serde_json::from_value(serde_json::to_value(&state).unwrap()).unwrap();
        assert_eq!(
            (&back, back.generation()),
            (&state, state.generation()),
            "{name}"
        );
        assert_address_owners_shared(&back, name);
    }
    for (name, state) in owned_id_states() {
        let back: IdAllocator =
            serde_json::from_value(serde_json::to_value(&state).unwrap()).unwrap();
        assert_eq!(
            (&back, back.generation()),
            (&state, state.generation()),
            "{name}"
        );
        assert_id_owners_shared(&back, name);
    }
    let vm = set_state();
    let value = serde_json::to_value(&vm).unwrap();
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["generation", "pools"]);
    let back: ResourceSet = serde_json::from_value(value).unwrap();
    assert_eq!((&back, back.generation()), (&vm, vm.generation()));
    let gsi = back.ids("legacy_gsi").unwrap();
    let mmio = back.addresses("mmio32").unwrap();
    assert!(Owner::ptr_eq(
        gsi.owner_at(5).unwrap(),
        mmio.owner_at(0xd000_0000).unwrap()
    ));
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct VmmWithOwners {
    gsi: IdAllocator,
    mmio: AddressAllocator,
    vm: ResourceSet,
    device: Owner,
    pools: Vec<Pool>,
}

#[test]
fn owners_and_generations_survive_inside_a_vmm_struct() {
    let vmm = VmmWithOwners {
        gsi: owned_id_states()[0].1.clone(),
        mmio: owned_address_states()[0].1.clone(),
        vm: set_state(),
        device: owner("virtio-net0"),
        pools: set_state().pools().map(|(_, p)| p.clone()).collect(),
    };
    for codec in CODECS {
        let back: VmmWithOwners = codec.decode(&codec.encode(&vmm)).unwrap();
        assert_eq!(back, vmm, "{codec:?}");
        assert_eq!(back.gsi.generation(), vmm.gsi.generation());
        assert_eq!(back.mmio.generation(), vmm.mmio.generation());
        assert_eq!(back.vm.generation(), vmm.vm.generation());
        assert_eq!(id_owners(&back.gsi), id_owners(&vmm.gsi));
        assert_eq!(address_owners(&back.mmio), address_owners(&vmm.mmio));
        assert_eq!(codec.encode(&back), codec.encode(&vmm), "{codec:?}");
    }
}

#[test]
fn truncated_owned_states_and_sets_are_rejected_in_every_format() {
    let ids = &owned_id_states()[0].1;
    let mmio = &owned_address_states()[0].1;
    let mut vm = ResourceSet::new();
    vm.add_id_pool("gsi", 5, 23).unwrap();
    vm.add_address_pool("pio", 0, 0x10000).unwrap();
    vm.owned_by(&owner("serial0"))
        .allocate("pio", 8, 1, AllocPolicy::ExactMatch(0x3f8))
        .unwrap();
    for codec in CODECS {
        let bytes = codec.encode(ids);
        for cut in 0..bytes.len() {
            assert!(
                codec.decode::<IdAllocator>(&bytes[..cut]).is_err(),
                "{codec:?} {cut}"
            );
        }
        let bytes = codec.encode(mmio);
        for cut in 0..bytes.len() {
            assert!(
                codec.decode::<AddressAllocator>(&bytes[..cut]).is_err(),
                "{codec:?} {cut}"
            );
        }
        let bytes = codec.encode(&vm);
        for cut in 0..bytes.len() {
            assert!(
                codec.decode::<ResourceSet>(&bytes[..cut]).is_err(),
                "{codec:?} {cut}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Tampered owners, runs, lists and sets
// ---------------------------------------------------------------------------

/// A forged address allocator whose items carry owners.
fn raw_owned_address(space: (u64, u64), allocations: &[(u64, u64, Option<&str>)]) -> RawAddress {
    RawAddress {
        space: RawRange {
            start: space.0,
            end: space.1,
        },
        generation: 3,
        allocations: allocations
            .iter()
            .map(|&(a, b, o)| (a, b, o.map(String::from)))
            .collect(),
    }
}

/// Runs of ids and the names of their owners.
type OwnedRuns<'a> = &'a [(u32, u32, Option<&'a str>)];

/// A forged id allocator of 5..=23 whose next id is 20.
fn raw_owned_ids(allocated: &[(u32, u32, Option<&str>)]) -> RawIds {
    RawIds {
        range_base: 5,
        range_end: 23,
        next_id: 20,
        generation: 3,
        allocated: allocated
            .iter()
            .map(|&(a, b, o)| (a, b, o.map(String::from)))
            .collect(),
    }
}

/// Invalid owner names and the reason each is refused; messages show a
/// name by the rule of `escape_name`, between double quotes.
fn bad_names() -> Vec<(String, String)> {
    let long = "x".repeat(65);
    let huge = "y".repeat(1 << 20);
    vec![
        (String::new(), r#""": the name is empty"#.to_string()),
        (
            long.clone(),
            format!(r#""{long}": the name is 65 bytes long, over the limit of 64"#),
        ),
        (
            "net\n0".to_string(),
            r#""net\u{a}0": the name holds a control character at byte 3"#.to_string(),
        ),
        (
            "\u{7f}del".to_string(),
            r#""\u{7f}del": the name holds a control character at byte 0"#.to_string(),
        ),
        (
            "é\u{85}".to_string(),
            r#""é\u{85}": the name holds a control character at byte 2"#.to_string(),
        ),
        // A huge name is cut short in the message.
        (
            huge.clone(),
            format!(
                r#""{}"... (1048576 bytes): the name is 1048576 bytes long, over the limit of 64"#,
                &huge[..128]
            ),
        ),
    ]
}

#[test]
fn invalid_owner_names_are_rejected_in_every_format() {
    let space = (0x1000, 0xffff);
    for (name, why) in bad_names() {
        let forged = raw_owned_address(
            space,
            &[
                (0x1000, 0x1fff, Some("virtio-net0")),
                (0x2000, 0x2fff, Some(&name)),
            ],
        );
        assert_rejected::<AddressAllocator, _>(
            &forged,
            &format!(
                "invalid AddressAllocator: allocation #1 0x2000-0x2fff has an invalid owner {why}"
            ),
        );
        let forged = raw_owned_ids(&[(5, 6, None), (8, 9, Some(&name))]);
        assert_rejected::<IdAllocator, _>(
            &forged,
            &format!("invalid IdAllocator: allocation #1 0x8-0x9 has an invalid owner {why}"),
        );
        assert_rejected::<Owner, _>(&name, &format!("invalid owner {why}"));
    }
}

#[test]
fn a_bad_owner_is_reported_in_order_among_the_other_errors() {
    // Whether the list comes before its space or after, the first bad item
    // in the list is the one reported.
    let space = (0x1000, 0xffff);
    let forged = raw_owned_address(
        space,
        &[
            (0x1000, 0x1fff, None),
            (0x10000, 0x10fff, Some("fine")),
            (0x20000, 0x20fff, Some("")),
        ],
    );
    assert_rejected::<AddressAllocator, _>(
        &forged,
        "invalid AddressAllocator: allocation #1 0x10000-0x10fff lies outside 0x1000-0xffff",
    );
    let forged = raw_owned_address(
        space,
        &[
            (0x1000, 0x1fff, None),
            (0x2000, 0x2fff, Some("")),
            (0x10000, 0x10fff, Some("fine")),
        ],
    );
    assert_rejected::<AddressAllocator, _>(
        &forged,
        r#"invalid AddressAllocator: allocation #1 0x2000-0x2fff has an invalid owner "": the name is empty"#,
    );
    // The owner is judged before the bounds of its own item.
    let forged = raw_owned_ids(&[(5, 6, None), (30, 40, Some("a\tb"))]);
    assert_rejected::<IdAllocator, _>(
        &forged,
        r#"allocation #1 0x1e-0x28 has an invalid owner "a\u{9}b": the name holds a control character at byte 1"#,
    );
}

#[test]
fn touching_runs_need_different_owners() {
    let cases: &[(OwnedRuns, &str)] = &[
        (
            &[(5, 6, Some("net0")), (7, 8, Some("net0"))],
            "invalid IdAllocator: id run #1 starting at 7 touches the previous run and has the same owner",
        ),
        (
            &[(5, 6, None), (7, 8, Some("net0")), (9, 9, Some("net0"))],
            "id run #2 starting at 9 touches the previous run and has the same owner",
        ),
        (
            &[(5, 6, None), (7, 8, None)],
            "id run #1 starting at 7 touches the previous run and has the same owner",
        ),
    ];
    for (runs, expected) in cases {
        assert_rejected::<IdAllocator, _>(&raw_owned_ids(runs), expected);
    }

    // Touching runs of different owners (or of an owner and none) are the
    // canonical form of ids that change hands there.
    let runs: &[(u32, u32, Option<&str>)] = &[
        (5, 6, Some("net0")),
        (7, 8, Some("blk0")),
        (9, 9, None),
        (10, 12, Some("net0")),
        (15, 15, Some("net0")),
    ];
    let forged = raw_owned_ids(runs);
    let expected: Vec<_> = runs
        .iter()
        .map(|&(a, b, o)| (a..=b, o.map(String::from)))
        .collect();
    for codec in CODECS {
        let ids: IdAllocator = codec.decode(&codec.encode(&forged)).unwrap();
        ids.check_invariants().unwrap();
        assert_eq!(id_owners(&ids), expected, "{codec:?}");
        assert_eq!(ids.runs().collect::<Vec<_>>(), [5..=12, 15..=15]);
        assert_eq!(ids.generation(), 3);
        assert_eq!(codec.encode(&ids), codec.encode(&forged), "{codec:?}");
    }
    let ids: IdAllocator = serde_json::from_value(serde_json::to_value(&forged).unwrap()).unwrap();
    assert_eq!(id_owners(&ids), expected);
}

#[test]
fn lists_before_their_parameters_are_checked_against_the_real_space() {
    // A serde_json::Value sorts the keys: the list comes first.
    let value = serde_json::to_value(raw_address((0x1000, 0xffff), &[])).unwrap();
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(keys[0], "allocations");
    let value = serde_json::to_value(raw_owned_ids(&[])).unwrap();
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(keys[0], "allocated");

    // assert_rejected decodes each in every format and through the sorted
    // value, expecting the same error.
    /// The space, the one allocation, and the expected error.
    type Case<'a> = ((u64, u64), (u64, u64), &'a str);
    let cases: &[Case] = &[
        // Outside the real space, inside any placeholder a decoder might
        // hold the list in.
        (
            (0x1000, 0xffff),
            (0x10000, 0x10fff),
            "allocation #0 0x10000-0x10fff lies outside 0x1000-0xffff",
        ),
        (
            (0x1000, 0xffff),
            (0x0, 0xfff),
            "allocation #0 0x0-0xfff lies outside 0x1000-0xffff",
        ),
        // At u64::MAX, outside every space that does not end there.
        (
            (0x1000, 0xffff),
            (u64::MAX, u64::MAX),
            "allocation #0 0xffffffffffffffff-0xffffffffffffffff lies outside 0x1000-0xffff",
        ),
        (
            (0, u64::MAX - 1),
            (u64::MAX - 0xfff, u64::MAX),
            "allocation #0 0xfffffffffffff000-0xffffffffffffffff lies outside 0x0-0xfffffffffffffffe",
        ),
        (
            (1, u64::MAX),
            (0, 0),
            "allocation #0 0x0-0x0 lies outside 0x1-0xffffffffffffffff",
        ),
        (
            (0x1000, 0xffff),
            (0, u64::MAX),
            "allocation #0 0x0-0xffffffffffffffff lies outside 0x1000-0xffff",
        ),
    ];
    for &(space, item, expected) in cases {
        let forged = raw_address(space, &[item]);
        assert_rejected::<AddressAllocator, _>(
            &forged,
            &format!("invalid AddressAllocator: {expected}"),
        );
    }

    // Inside the real space, it loads: up to u64::MAX where the space ends
    // there.
    let forged = raw_owned_address(
        (1, u64::MAX),
        &[(1, 1, None), (u64::MAX, u64::MAX, Some("top"))],
    );
    let a: AddressAllocator =
        serde_json::from_value(serde_json::to_value(&forged).unwrap()).unwrap();
    assert_eq!(
        a.iter().collect::<Vec<_>>(),
        [range(1, 1), range(u64::MAX, u64::MAX)]
    );
    assert_eq!(a.owner_at(u64::MAX).unwrap(), "top");
    assert_eq!(a.generation(), 3);

    // Ids: the real range and the real next id.
    let cases: &[(OwnedRuns, &str)] = &[
        (
            &[(u32::MAX, u32::MAX, None)],
            "allocation #0 0xffffffff-0xffffffff lies outside 0x5-0x17",
        ),
        (
            &[(5, 6, None), (24, 30, None)],
            "allocation #1 0x18-0x1e lies outside 0x5-0x17",
        ),
        (
            &[(0, 4, None)],
            "allocation #0 0x0-0x4 lies outside 0x5-0x17",
        ),
        (
            &[(5, 6, None), (19, 20, Some("net0"))],
            "id run #1 ends at 20, at or above the next never-allocated id 20",
        ),
    ];
    for (runs, expected) in cases {
        assert_rejected::<IdAllocator, _>(
            &raw_owned_ids(runs),
            &format!("invalid IdAllocator: {expected}"),
        );
    }
}

#[derive(Serialize)]
#[serde(rename = "ResourceSet")]
struct RawSet {
    generation: u64,
    pools: Vec<RawEntry>,
}

#[derive(Serialize)]
#[serde(rename = "PoolEntry")]
struct RawEntry {
    name: String,
    pool: RawPool,
}

/// `Pool`, and a variant it does not have.
#[derive(Serialize)]
#[serde(rename = "Pool")]
enum RawPool {
    Ids(RawIds),
    Addresses(RawAddress),
    Irqs(u32),
}

fn entry(name: &str, pool: RawPool) -> RawEntry {
    RawEntry {
        name: name.to_string(),
        pool,
    }
}

fn raw_gsi() -> RawPool {
    RawPool::Ids(raw_owned_ids(&[(5, 6, Some("net0"))]))
}

fn raw_pio() -> RawPool {
    RawPool::Addresses(raw_owned_address(
        (0, 0xffff),
        &[(0x3f8, 0x3ff, Some("serial0"))],
    ))
}

#[test]
fn forged_sets_encode_exactly_like_real_sets() {
    let mut vm = ResourceSet::new();
    vm.add_id_pool("gsi", 5, 23).unwrap();
    vm.add_address_pool("pio", 0, 0x10000).unwrap();
    vm.owned_by(&owner("net0"))
        .allocate_ids("gsi", 2, 1)
        .unwrap();
    vm.owned_by(&owner("serial0"))
        .allocate("pio", 8, 1, AllocPolicy::ExactMatch(0x3f8))
        .unwrap();
    let forged = RawSet {
        generation: 2, // two allocations; adding pools counts nothing
        pools: vec![
            entry(
                "gsi",
                RawPool::Ids(RawIds {
                    generation: 1,
                    next_id: 7,
                    ..raw_owned_ids(&[(5, 6, Some("net0"))])
                }),
            ),
            entry(
                "pio",
                RawPool::Addresses(RawAddress {
                    generation: 1,
                    ..raw_owned_address((0, 0xffff), &[(0x3f8, 0x3ff, Some("serial0"))])
                }),
            ),
        ],
    };
    for codec in CODECS {
        assert_eq!(codec.encode(&forged), codec.encode(&vm), "{codec:?}");
    }
}

#[test]
fn tampered_sets_are_rejected_in_every_format() {
    let long = "p".repeat(65);
    let cases: Vec<(RawSet, String)> = vec![
        (
            RawSet {
                generation: 1,
                pools: vec![entry("gsi", raw_gsi()), entry("pio", raw_pio()), entry("gsi", raw_gsi())],
            },
            "invalid ResourceSet: pool #2 has the same name as pool #0".to_string(),
        ),
        (
            RawSet {
                generation: 1,
                pools: vec![entry("gsi", raw_gsi()), entry("", raw_pio())],
            },
            "invalid ResourceSet: pool #1 has an invalid name: the name is empty".to_string(),
        ),
        (
            RawSet {
                generation: 1,
                pools: vec![entry(&long, raw_gsi())],
            },
            "invalid ResourceSet: pool #0 has an invalid name: the name is 65 bytes long, over the limit of 64".to_string(),
        ),
        (
            RawSet {
                generation: 1,
                pools: vec![entry("pio", raw_pio()), entry("mmio\t32", raw_pio())],
            },
            "invalid ResourceSet: pool #1 has an invalid name: the name holds a control character at byte 4".to_string(),
        ),
        // Errors inside a pool name the pool.
        (
            RawSet {
                generation: 1,
                pools: vec![
                    entry("gsi", raw_gsi()),
                    entry(
                        "pio",
                        RawPool::Addresses(raw_owned_address(
                            (0, 0xffff),
                            &[(0x3f8, 0x3ff, None), (0x3f0, 0x3f8, None)],
                        )),
                    ),
                ],
            },
            r#"invalid AddressAllocator of pool #1 "pio": allocation #1 starts at 0x3f0, not after the previous one's end 0x3ff"#.to_string(),
        ),
        (
            RawSet {
                generation: 1,
                pools: vec![entry(
                    "gsi",
                    RawPool::Ids(raw_owned_ids(&[(5, 6, Some("net0")), (7, 7, Some("net0"))])),
                )],
            },
            r#"invalid IdAllocator of pool #0 "gsi": id run #1 starting at 7 touches the previous run and has the same owner"#.to_string(),
        ),
        (
            RawSet {
                generation: 1,
                pools: vec![entry("gsi", RawPool::Ids(raw_owned_ids(&[(5, 6, Some(""))])))],
            },
            r#"invalid IdAllocator of pool #0 "gsi": allocation #0 0x5-0x6 has an invalid owner "": the name is empty"#.to_string(),
        ),
        (
            RawSet {
                generation: 1,
                pools: vec![entry(
                    "pio",
                    RawPool::Addresses(raw_owned_address((0x1000, 0xffff), &[(u64::MAX, u64::MAX, None)])),
                )],
            },
            r#"invalid AddressAllocator of pool #0 "pio": allocation #0 0xffffffffffffffff-0xffffffffffffffff lies outside 0x1000-0xffff"#.to_string(),
        ),
        // A pool with a bad name and bad contents: the contents are read
        // first, and the message does not repeat the bad name.
        (
            RawSet {
                generation: 1,
                pools: vec![entry("", RawPool::Ids(raw_owned_ids(&[(5, 30, None)])))],
            },
            "invalid IdAllocator of pool #0: allocation #0 0x5-0x1e lies outside 0x5-0x17".to_string(),
        ),
    ];
    for (forged, expected) in &cases {
        assert_rejected::<ResourceSet, _>(forged, expected);
    }
}

#[test]
fn unknown_pool_variants_are_rejected_in_every_format() {
    let forged = RawSet {
        generation: 1,
        pools: vec![entry("gsi", raw_gsi()), entry("irqs", RawPool::Irqs(5))],
    };
    for codec in CODECS {
        let e = codec
            .decode::<ResourceSet>(&codec.encode(&forged))
            .unwrap_err();
        let expected = match codec {
            Codec::Json => "unknown variant `Irqs`, expected `Ids` or `Addresses`",
            _ => "invalid value: integer `2`, expected a variant index, one of 0 (`Ids`), 1 (`Addresses`)",
        };
        if codec.keeps_messages() {
            assert!(e.contains(expected), "{codec:?}: `{e}` lacks `{expected}`");
        }
        let e = codec
            .decode::<Pool>(&codec.encode(&RawPool::Irqs(5)))
            .unwrap_err();
        if codec.keeps_messages() {
            assert!(e.contains(expected), "{codec:?}: `{e}` lacks `{expected}`");
        }
    }
    let e = serde_json::from_value::<ResourceSet>(serde_json::to_value(&forged).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown variant `Irqs`, expected `Ids` or `Addresses`"),
        "{e}"
    );
    // A variant given as a bare string has no allocator.
    let e = json_error::<Pool>(r#""Ids""#);
    assert!(
        e.contains("invalid type: unit variant, expected newtype variant"),
        "{e}"
    );
}

#[test]
fn json_sets_reject_unknown_duplicate_and_missing_fields() {
    let gsi = r#"{"name":"gsi","pool":{"Ids":{"range_base":5,"range_end":23,"next_id":5,"generation":0,"allocated":[]}}}"#;
    let cases: Vec<(String, &str)> = vec![
        (r#"{"generation":0}"#.to_string(), "missing field `pools`"),
        (r#"{"pools":[]}"#.to_string(), "missing field `generation`"),
        (
            r#"{"generation":0,"pools":[],"pools":[]}"#.to_string(),
            "duplicate field `pools`",
        ),
        (
            r#"{"generation":0,"generation":0,"pools":[]}"#.to_string(),
            "duplicate field `generation`",
        ),
        (
            r#"{"generation":0,"pools":[],"layout":"x86_64"}"#.to_string(),
            "unknown field `layout`, expected `generation` or `pools`",
        ),
        (
            r#"{"generation":0,"pools":[{"name":"gsi"}]}"#.to_string(),
            "missing field `pool`",
        ),
        (
            r#"{"generation":0,"pools":[{"pool":{"Addresses":{"space":{"start":0,"end":1},"generation":0,"allocations":[]}}}]}"#.to_string(),
            "missing field `name`",
        ),
        (
            format!(r#"{{"generation":0,"pools":[{}]}}"#, gsi.replace(r#""name":"gsi","#, r#""name":"gsi","name":"gsi","#)),
            "duplicate field `name`",
        ),
        (
            format!(r#"{{"generation":0,"pools":[{}]}}"#, gsi.replace(r#""name":"gsi","#, r#""name":"gsi","kind":"ids","#)),
            "unknown field `kind`, expected `name` or `pool`",
        ),
        (
            format!(r#"{{"generation":0,"pools":[{}]}}"#, gsi.replace(r#""generation":0,"allocated""#, r#""allocated""#)),
            "missing field `generation`",
        ),
        (
            format!(r#"{{"generation":0,"pools":[{}]}}"#, gsi.replace(r#""allocated":[]"#, r#""allocated":[],"owners":[]"#)),
            "unknown field `owners`",
        ),
    ];
    for (json, expected) in &cases {
        let e = json_error::<ResourceSet>(json);
        assert!(e.contains(expected), "{json}: {e}");
    }
    // And the valid one loads.
    let vm: ResourceSet =
        serde_json::from_str(&format!(r#"{{"pools":[{gsi}],"generation":9}}"#)).unwrap();
    assert_eq!((vm.len(), vm.generation()), (1, 9));
}

#[test]
fn huge_declared_lengths_in_sets_and_names_are_errors() {
    // bincode: a set that claims 2^64 - 1 pools, then one.
    let mut bytes = 0u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(&u64::MAX.to_le_bytes());
    bytes.extend_from_slice(&bincode::serialize(&entry("gsi", raw_gsi())).unwrap());
    let e = bincode::deserialize::<ResourceSet>(&bytes).unwrap_err();
    assert!(e.to_string().contains("io error"), "{e}");

    // bincode: an owner name that claims 2^63 bytes. The length sits after
    // the space (16 bytes), the generation (8), the list's length (8), the
    // item's bounds (16) and the `Some` tag (1).
    let forged = raw_owned_address((0, 0xffff), &[(0x10, 0x1f, Some("net0"))]);
    let mut bytes = bincode::serialize(&forged).unwrap();
    assert_eq!(bytes[49..57], 4u64.to_le_bytes());
    assert!(bincode::deserialize::<AddressAllocator>(&bytes).is_ok());
    bytes[49..57].copy_from_slice(&(1u64 << 63).to_le_bytes());
    let e = bincode::deserialize::<AddressAllocator>(&bytes).unwrap_err();
    assert!(e.to_string().contains("io error"), "{e}");

    // postcard: a pool name that claims 2^32 bytes, after the generation
    // and the number of pools.
    let forged = RawSet {
        generation: 0,
        pools: vec![entry("g", raw_gsi())],
    };
    let bytes = postcard::to_allocvec(&forged).unwrap();
    assert_eq!(bytes[..4], [0, 1, 1, b'g']);
    assert!(postcard::from_bytes::<ResourceSet>(&bytes).is_ok());
    let mut huge = vec![0, 1, 0x80, 0x80, 0x80, 0x80, 0x10];
    huge.extend_from_slice(&bytes[3..]);
    assert!(postcard::from_bytes::<ResourceSet>(&huge).is_err());
}
