// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Arbitrary bytes into the flat serde shapes of `RangeInclusive`,
//! `AddressAllocator`, `IdAllocator`, `ResourceSet`, `Pool` and `Owner` under
//! bincode 1.3.3, postcard,
//! serde_json and bitcode. Each input is refused or gives a valid state, and
//! a valid state encodes and decodes back to itself.
//!
//! The first byte picks the format and the type, so every mutation of the
//! rest stays with one decoder.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vm_allocator::{AddressAllocator, IdAllocator, Owner, Pool, RangeInclusive, ResourceSet};

/// Decodes `$bytes` as `$ty` with `$decode`; if that succeeds, checks the
/// state with `$check` and that `$encode` then `$decode` gives it back.
macro_rules! round_trip {
    ($bytes:expr, $ty:ty, $check:expr, $encode:path, $decode:path) => {{
        let decoded: Result<$ty, _> = $decode($bytes);
        if let Ok(value) = decoded {
            $check(&value);
            let encoded = $encode(&value).expect("encoding a valid state");
            let back: $ty = $decode(&encoded).expect("decoding our own encoding");
            assert_eq!(back, value);
        }
    }};
}

/// Runs `round_trip!` for `$ty` under the format `$format`.
macro_rules! in_format {
    ($format:expr, $bytes:expr, $ty:ty, $check:expr) => {
        match $format {
            0 => round_trip!(
                $bytes,
                $ty,
                $check,
                bincode::serialize,
                bincode::deserialize
            ),
            1 => round_trip!(
                $bytes,
                $ty,
                $check,
                postcard::to_allocvec,
                postcard::from_bytes
            ),
            2 => round_trip!(
                $bytes,
                $ty,
                $check,
                serde_json::to_vec,
                serde_json::from_slice
            ),
            _ => round_trip!(
                $bytes,
                $ty,
                $check,
                bitcode::serialize,
                bitcode::deserialize
            ),
        }
    };
}

fn check_range(r: &RangeInclusive) {
    assert!(r.start() <= r.end() && r.len() > 0);
}

fn check_addresses(a: &AddressAllocator) {
    a.check_invariants().unwrap();
}

fn check_ids(a: &IdAllocator) {
    a.check_invariants().unwrap();
}

fn check_set(s: &ResourceSet) {
    s.check_invariants().unwrap();
}

fn check_pool(p: &Pool) {
    match p {
        Pool::Ids(ids) => ids.check_invariants().unwrap(),
        Pool::Addresses(a) => a.check_invariants().unwrap(),
    }
}

fn check_owner(o: &Owner) {
    assert_eq!(Owner::new(o.as_str()).as_ref(), Ok(o));
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let format = selector % 4;
    match (selector / 4) % 6 {
        0 => in_format!(format, bytes, AddressAllocator, check_addresses),
        1 => in_format!(format, bytes, IdAllocator, check_ids),
        2 => in_format!(format, bytes, ResourceSet, check_set),
        3 => in_format!(format, bytes, Owner, check_owner),
        4 => in_format!(format, bytes, RangeInclusive, check_range),
        _ => in_format!(format, bytes, Pool, check_pool),
    }
});
