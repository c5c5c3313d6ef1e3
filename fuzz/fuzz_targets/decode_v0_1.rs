// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Arbitrary bytes into the vm-allocator 0.1.x import
//! (`compat::v0_1::V01`) under bincode 1.3.3 and serde_json. Each input is
//! refused (never a stack overflow, however deep the tree claims to be) or
//! gives a valid state, and a valid state written back in the 0.1.x shape
//! loads again as itself. (The 0.1.x shape under bitcode, Firecracker's
//! encoder, is tested in `tests/compat.rs` and `tests/firecracker.rs` but
//! not fuzzed yet.)
//!
//! The first byte picks the format and the type.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vm_allocator::compat::v0_1::V01;
use vm_allocator::{AddressAllocator, IdAllocator};

/// Decodes `$bytes` as `V01<$ty>` with `$decode`; if that succeeds, checks
/// the state's invariants and that `$encode` then `$decode` gives it back.
macro_rules! round_trip {
    ($bytes:expr, $ty:ty, $encode:path, $decode:path) => {{
        let decoded: Result<V01<$ty>, _> = $decode($bytes);
        if let Ok(V01(value)) = decoded {
            value.check_invariants().unwrap();
            let encoded = $encode(&V01(value.clone())).expect("encoding a valid state");
            let V01(back): V01<$ty> = $decode(&encoded).expect("decoding our own encoding");
            assert_eq!(back, value);
        }
    }};
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    match selector % 4 {
        0 => round_trip!(
            bytes,
            AddressAllocator,
            bincode::serialize,
            bincode::deserialize
        ),
        1 => round_trip!(bytes, IdAllocator, bincode::serialize, bincode::deserialize),
        2 => round_trip!(
            bytes,
            AddressAllocator,
            serde_json::to_vec,
            serde_json::from_slice
        ),
        _ => round_trip!(
            bytes,
            IdAllocator,
            serde_json::to_vec,
            serde_json::from_slice
        ),
    }
});
