// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Validated serde: round trips under serde_json, postcard, bincode 1.3.3 and
//! bitcode, the flat shape, and rejection of tampered states in every format.

#![cfg(feature = "serde")]

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use vm_allocator::{
    AddressAllocator, AllocPolicy, IdAllocator, Owner, Pool, RangeInclusive, ResourceSet,
};

/// A serde format under test.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Codec {
    Json,
    Postcard,
    Bincode,
    Bitcode,
}

const CODECS: [Codec; 4] = [Codec::Json, Codec::Postcard, Codec::Bincode, Codec::Bitcode];

impl Codec {
    fn encode<T: Serialize>(self, value: &T) -> Vec<u8> {
        match self {
            Codec::Json => serde_json::to_vec(value).unwrap(),
            Codec::Postcard => postcard::to_allocvec(value).unwrap(),
            Codec::Bincode => bincode::serialize(value).unwrap(),
            Codec::Bitcode => bitcode::serialize(value).unwrap(),
        }
    }

    fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, String> {
        match self {
            Codec::Json => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
            Codec::Postcard => postcard::from_bytes(bytes).map_err(|e| e.to_string()),
            Codec::Bincode => bincode::deserialize(bytes).map_err(|e| e.to_string()),
            Codec::Bitcode => bitcode::deserialize(bytes).map_err(|e| e.to_string()),
        }
    }

    /// Postcard reduces custom errors to a code; bitcode keeps their text
    /// only in debug builds.
    fn keeps_messages(self) -> bool {
        match self {
            Codec::Postcard => false,
            Codec::Bitcode => cfg!(debug_assertions),
            Codec::Json | Codec::Bincode => true,
        }
    }
}

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
    assert_eq!(ids.ranges().collect::<Vec<_>>(), [5..=6]);
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
