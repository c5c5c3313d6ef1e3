// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Any generated state (from the `Arbitrary` impls: id and address
//! allocators, resource sets, deltas, pools, owners, ranges) goes to bytes
//! and back: through its file in version 2 and, where it fits, version 1
//! (the same bytes again, the same state, the generation kept in version
//! 2; version 1 refuses exactly the states with owners, sets and deltas),
//! through `format::dump`, through serde under serde_json, postcard,
//! bincode 1.3.3 and bitcode (the same value, and the same bytes again),
//! and, for the allocators, through the shape of vm-allocator 0.1.x (the
//! state without its owners).

#![no_main]

use std::fmt::Debug;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;
use vm_allocator::compat::v0_1::V01;
use vm_allocator::format;
use vm_allocator::{
    AddressAllocator, Delta, IdAllocator, Owner, Pool, RangeInclusive, ResourceSet,
};
use vm_allocator_fuzz::codec::CODECS;

#[derive(Arbitrary, Debug)]
enum Any {
    Ids(IdAllocator),
    Addresses(AddressAllocator),
    Set(ResourceSet),
    Delta(Delta),
    Pool(Pool),
    Owner(Owner),
    Range(RangeInclusive),
}

/// Checks the files of `$value` (of type `$ty`), which fits in version 1
/// exactly when `$fits_v1`.
macro_rules! files {
    ($value:expr, $ty:ty, $fits_v1:expr) => {{
        let value: &$ty = $value;
        let bytes = value.to_bytes();
        let back = <$ty>::from_bytes(&bytes).expect("from_bytes(to_bytes())");
        assert_eq!(&back, value);
        assert_eq!(back.to_bytes(), bytes, "the same bytes again");
        assert_eq!(value.to_bytes_version(2).unwrap(), bytes);
        format::dump(&bytes).expect("a listing of a valid file");
        match value.to_bytes_version(1) {
            Ok(v1) => {
                assert!($fits_v1, "version 1 holds it");
                let back = <$ty>::from_bytes(&v1).expect("from_bytes of version 1");
                assert_eq!(&back, value);
                assert_eq!(back.to_bytes_version(1).unwrap(), v1);
            }
            Err(_) => assert!(!$fits_v1, "version 1 refuses it"),
        }
        back
    }};
}

fuzz_target!(|any: Any| match any {
    Any::Ids(a) => {
        a.check_invariants().unwrap();
        let back = files!(&a, IdAllocator, !a.has_owners());
        assert_eq!(back.generation(), a.generation());
        serde_everywhere(&a, |b: &IdAllocator| {
            assert_eq!(b.generation(), a.generation())
        });
        // 0.1.x lists every free id below the next one: small ranges only.
        if u64::from(a.range_end() - a.range_base()) < 1 << 16 {
            v01(&a.without_owners());
        }
    }
    Any::Addresses(a) => {
        a.check_invariants().unwrap();
        let back = files!(&a, AddressAllocator, !a.has_owners());
        assert_eq!(back.generation(), a.generation());
        serde_everywhere(&a, |b: &AddressAllocator| {
            assert_eq!(b.generation(), a.generation())
        });
        v01(&a.without_owners());
    }
    Any::Set(s) => {
        s.check_invariants().unwrap();
        let back = files!(&s, ResourceSet, false);
        assert_eq!(back.generation(), s.generation());
        serde_everywhere(&s, |b: &ResourceSet| {
            assert_eq!(b.generation(), s.generation())
        });
    }
    Any::Delta(d) => {
        files!(&d, Delta, false);
    }
    Any::Pool(p) => serde_everywhere(&p, |b: &Pool| assert_eq!(b.generation(), p.generation())),
    Any::Owner(o) => {
        assert_eq!(Owner::new(o.as_str()).as_ref(), Ok(&o));
        serde_everywhere(&o, |_| ());
    }
    Any::Range(r) => serde_everywhere(&r, |_| ()),
});

/// `value` through serde in every format: itself again (`same` checks
/// what equality does not), and the same bytes again.
fn serde_everywhere<T>(value: &T, same: impl Fn(&T))
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    for codec in CODECS {
        let bytes = codec.encode(value);
        let back: T = codec
            .decode(&bytes)
            .unwrap_or_else(|e| panic!("{codec:?}: {e}"));
        assert_eq!(&back, value, "{codec:?}");
        same(&back);
        assert_eq!(
            codec.encode(&back),
            bytes,
            "{codec:?}: the same bytes again"
        );
    }
}

/// An allocator without owners through the 0.1.x shape in JSON and
/// bincode: itself again.
fn v01<T>(value: &T)
where
    T: Clone + PartialEq + Debug,
    V01<T>: Serialize + DeserializeOwned,
{
    for codec in [CODECS[0], CODECS[2]] {
        let bytes = codec.encode(&V01(value.clone()));
        let V01(back): V01<T> = codec
            .decode(&bytes)
            .unwrap_or_else(|e| panic!("{codec:?}: {e}"));
        assert_eq!(&back, value, "{codec:?}");
    }
}
