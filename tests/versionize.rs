// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `Versionize` for the state types: round trips inside a versioned VMM
//! struct through a `VersionMap`, and rejection of corrupted bytes.

#![cfg(feature = "versionize")]

use versionize::{VersionMap, Versionize, VersionizeError, VersionizeResult};
use versionize_derive::Versionize;
use vm_allocator::{AddressAllocator, AllocPolicy, IdAllocator, RangeInclusive};

/// A device manager's state as a Firecracker-style VMM versions it: version
/// 2 added the PIO allocator.
#[derive(Clone, Debug, PartialEq, Versionize)]
struct DeviceManagerState {
    gsi: IdAllocator,
    mmio: AddressAllocator,
    window: RangeInclusive,
    #[version(start = 2, default_fn = "default_pio")]
    pio: AddressAllocator,
}

impl DeviceManagerState {
    fn default_pio(_source_version: u16) -> AddressAllocator {
        AddressAllocator::new(0, 0x10000).unwrap()
    }
}

fn state() -> DeviceManagerState {
    let mut gsi = IdAllocator::new(5, 23).unwrap();
    for _ in 0..4 {
        gsi.allocate_id().unwrap();
    }
    gsi.free_id(6).unwrap();
    let mut mmio = AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap();
    for _ in 0..3 {
        mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
            .unwrap();
    }
    let mut pio = AddressAllocator::new(0, 0x10000).unwrap();
    pio.allocate(8, 1, AllocPolicy::ExactMatch(0x3f8)).unwrap();
    DeviceManagerState {
        gsi,
        mmio,
        window: RangeInclusive::new(0xd000_0000, 0xdfff_ffff).unwrap(),
        pio,
    }
}

fn version_map() -> VersionMap {
    let mut map = VersionMap::new();
    map.new_version()
        .set_type_version(DeviceManagerState::type_id(), 2);
    map
}

fn save(value: &impl Versionize, app_version: u16) -> Vec<u8> {
    let mut bytes = Vec::new();
    value
        .serialize(&mut bytes, &version_map(), app_version)
        .unwrap();
    bytes
}

fn load<T: Versionize>(bytes: &[u8], app_version: u16) -> VersionizeResult<T> {
    T::deserialize(&mut &bytes[..], &version_map(), app_version)
}

#[test]
fn states_round_trip_through_a_version_map() {
    let original = state();
    let bytes = save(&original, 2);
    let restored: DeviceManagerState = load(&bytes, 2).unwrap();
    assert_eq!(restored, original);
    restored.gsi.check_invariants().unwrap();
    restored.mmio.check_invariants().unwrap();

    // The restored allocators carry on as the originals.
    let (mut a, mut b) = (restored, original);
    assert_eq!(a.gsi.allocate_id(), b.gsi.allocate_id());
    assert_eq!(
        a.mmio.allocate(0x1000, 0x1000, AllocPolicy::LastMatch),
        b.mmio.allocate(0x1000, 0x1000, AllocPolicy::LastMatch)
    );
}

#[test]
fn an_older_app_version_leaves_out_the_newer_field() {
    let original = state();
    let bytes = save(&original, 1);
    assert!(bytes.len() < save(&original, 2).len());
    let restored: DeviceManagerState = load(&bytes, 1).unwrap();
    assert_eq!(restored.gsi, original.gsi);
    assert_eq!(restored.mmio, original.mmio);
    assert_eq!(restored.pio, DeviceManagerState::default_pio(1));
}

#[test]
fn allocators_are_their_canonical_file_in_a_byte_vector() {
    let s = state();
    let bytes = save(&s.mmio, 1);
    let file = s.mmio.to_bytes();
    assert_eq!(bytes[..8], (file.len() as u64).to_le_bytes());
    assert_eq!(bytes[8..], file[..]);
    // The same bytes as versionize's own Vec<u8>.
    assert_eq!(save(&file, 1), bytes);
    assert_eq!(save(&s.window, 1).len(), 16);
}

fn deserialize_error<T: Versionize + std::fmt::Debug>(bytes: &[u8]) -> String {
    match load::<T>(bytes, 2).unwrap_err() {
        VersionizeError::Deserialize(message) => message,
        other => panic!("expected a Deserialize error, got {other:?}"),
    }
}

#[test]
fn corrupted_bytes_are_rejected_with_the_reason() {
    let s = state();

    // A flipped bit in the allocator's file: its checksum catches it.
    let mut bytes = save(&s.mmio, 2);
    bytes[20] ^= 0x10;
    let e = deserialize_error::<AddressAllocator>(&bytes);
    assert!(e.starts_with("AddressAllocator: "), "{e}");
    assert!(e.contains("checksum"), "{e}");

    // Truncated: the length prefix promises more than there is.
    let bytes = save(&s.gsi, 2);
    let e = deserialize_error::<IdAllocator>(&bytes[..bytes.len() - 3]);
    assert!(e.contains("only"), "{e}");
    let e = deserialize_error::<IdAllocator>(&bytes[..5]);
    assert!(e.contains("length prefix"), "{e}");

    // A length beyond any valid file is refused before anything is read.
    let mut bytes = u64::MAX.to_le_bytes().to_vec();
    bytes.extend_from_slice(&[0; 16]);
    let e = deserialize_error::<IdAllocator>(&bytes);
    assert!(e.contains("more than the format's limit"), "{e}");

    // An id allocator's file is not an address allocator's.
    let e = deserialize_error::<AddressAllocator>(&save(&s.gsi, 2));
    assert!(e.starts_with("AddressAllocator: kind"), "{e}");

    // An inverted range.
    let mut bytes = 0x2000u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(&0x1000u64.to_le_bytes());
    let e = deserialize_error::<RangeInclusive>(&bytes);
    assert_eq!(e, "RangeInclusive: the range 0x2000-0x1000 is not valid");

    // A corrupted field inside the VMM struct fails the whole struct.
    let mut bytes = save(&s, 2);
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    assert!(load::<DeviceManagerState>(&bytes, 2).is_err());
}
