// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The common traits the Rust API guidelines ask for (C-COMMON-TRAITS,
//! C-GOOD-ERR), checked at compile time, and the behaviour that makes them
//! useful: equal states compare and hash equal whatever their history, and
//! the order agrees with equality.

use std::collections::hash_map::DefaultHasher;
use std::error::Error as StdError;
use std::fmt::{Debug, Display};
use std::hash::{Hash, Hasher};

use vm_allocator::format::{DecodeError, EncodeError, ReadError};
use vm_allocator::{
    AddressAllocator, AllocPolicy, DiffError, Error, IdAllocator, NameError, Owner, ResourceSet,
    SetError, StateError, TransactionError,
};

/// What both allocators and the set implement alike.
fn state_traits<T>()
where
    T: Clone + Debug + PartialEq + Eq + Hash + PartialOrd + Ord + Send + Sync,
{
}

/// What every error implements.
fn error_traits<E: StdError + Display + Debug + Send + Sync + 'static>() {}

fn hash_of<T: Hash>(value: &T) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

#[test]
fn both_allocators_implement_the_same_common_traits() {
    state_traits::<AddressAllocator>();
    state_traits::<IdAllocator>();

    // `IntoIterator for &_` on both: a `for` loop over a reference.
    let mut mmio = AddressAllocator::new(0x1000, 0x10000).unwrap();
    mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    let mut ranges = 0;
    for _range in &mmio {
        ranges += 1;
    }
    assert_eq!(ranges, 1);

    let mut gsi = IdAllocator::new(5, 23).unwrap();
    gsi.allocate_id().unwrap();
    gsi.allocate_id().unwrap();
    let ids: Vec<_> = (&gsi).into_iter().collect();
    assert_eq!(ids.len(), gsi.iter().count());
    assert!(!ids.is_empty());
}

#[test]
fn error_types_are_errors_with_hash_where_they_are_values() {
    error_traits::<Error>();
    error_traits::<DecodeError>();
    error_traits::<EncodeError>();
    error_traits::<ReadError>();
    error_traits::<StateError>();
    error_traits::<SetError>();
    error_traits::<DiffError>();
    error_traits::<NameError>();
    error_traits::<TransactionError<Error>>();
    fn hashable<T: Hash + Eq + Clone>() {}
    hashable::<Error>();
    hashable::<DecodeError>();
    hashable::<EncodeError>();
    hashable::<StateError>();
    hashable::<SetError>();
    hashable::<DiffError>();
    hashable::<NameError>();

    // A read error made from a decode error keeps it as its source.
    let decode = IdAllocator::from_bytes(b"not a file").unwrap_err();
    let read = ReadError::from(decode);
    let source = read.source().expect("the decode error");
    assert_eq!(source.to_string(), decode.to_string());
}

#[test]
fn equal_states_hash_equal_whatever_their_history() {
    // The same ids, reached two ways.
    let mut a = IdAllocator::new(0, 99).unwrap();
    for _ in 0..10 {
        a.allocate_id().unwrap();
    }
    a.free_id(3).unwrap();
    let mut b = IdAllocator::new(0, 99).unwrap();
    for id in [9, 8, 7, 6, 5, 4, 2, 1, 0] {
        b.allocate_id_at(id).unwrap();
    }
    // Equality compares the assignments, not the generation (a made 11
    // changes, b 9).
    assert_ne!(a.generation(), b.generation());
    assert_eq!(a, b);
    assert_eq!(hash_of(&a), hash_of(&b));
    assert_eq!(a.cmp(&b), std::cmp::Ordering::Equal);

    let mut c = b.clone();
    c.allocate_id_at(50).unwrap();
    assert_ne!(b, c);
    assert_ne!(b.cmp(&c), std::cmp::Ordering::Equal);
    assert_eq!(b.cmp(&c), c.cmp(&b).reverse());

    // Addresses, and owners are part of the state.
    let mut x = AddressAllocator::new(0, 0xffff).unwrap();
    x.allocate(0x100, 0x100, AllocPolicy::ExactMatch(0x1000))
        .unwrap();
    let mut y = AddressAllocator::new(0, 0xffff).unwrap();
    y.allocate(0x200, 0x100, AllocPolicy::ExactMatch(0x4000))
        .unwrap();
    y.free(&vm_allocator::RangeInclusive::new(0x4000, 0x41ff).unwrap())
        .unwrap();
    y.allocate(0x100, 0x100, AllocPolicy::ExactMatch(0x1000))
        .unwrap();
    assert_eq!(x, y);
    assert_eq!(hash_of(&x), hash_of(&y));

    let owner = Owner::new("virtio-net0").unwrap();
    let mut z = AddressAllocator::new(0, 0xffff).unwrap();
    z.owned_by(&owner)
        .allocate(0x100, 0x100, AllocPolicy::ExactMatch(0x1000))
        .unwrap();
    assert_ne!(x, z);
    assert_ne!(x.cmp(&z), std::cmp::Ordering::Equal);

    // Sets too.
    let s = ResourceSet::x86_64();
    let t = s.clone();
    assert_eq!(s, t);
    assert_eq!(hash_of(&s), hash_of(&t));
}
