// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `Versionize` for the state types: round trips inside a versioned VMM
//! struct through a `VersionMap`, and rejection of corrupted bytes.

#![cfg(feature = "versionize")]

use versionize::{VersionMap, Versionize, VersionizeError, VersionizeResult};
use versionize_derive::Versionize;
use vm_allocator::{
    AddressAllocator, AllocPolicy, Delta, IdAllocator, Owner, RangeInclusive, ResourceSet,
};

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

// ---------------------------------------------------------------------------
// Owners, generations, resource sets and deltas
// ---------------------------------------------------------------------------

/// A Firecracker-style VMM state that keeps its resources as one set, and
/// the delta it sends at the final pause of a migration.
#[derive(Clone, Debug, PartialEq, Versionize)]
struct VmState {
    resources: ResourceSet,
    last_delta: Delta,
    gsi: IdAllocator,
    mmio: AddressAllocator,
}

fn owner(name: &str) -> Owner {
    Owner::new(name).unwrap()
}

/// A set with owners in several pools, and the delta from an earlier
/// snapshot of it.
fn vm_state() -> VmState {
    let net0 = owner("virtio-net0");
    let mut vm = ResourceSet::x86_64();
    vm.owned_by(&net0).allocate_id("legacy_gsi").unwrap();
    vm.owned_by(&net0)
        .allocate("mmio32", 0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    let early = vm.clone();
    let blk0 = owner("virtio-blk0");
    vm.owned_by(&blk0).allocate_ids("msi_gsi", 4, 4).unwrap();
    vm.owned_by(&blk0)
        .allocate("mmio64", 1 << 20, 1 << 20, AllocPolicy::LastMatch)
        .unwrap();
    let spare = vm.allocate_id("legacy_gsi").unwrap();
    vm.free_id("legacy_gsi", spare).unwrap();
    let last_delta = Delta::between(&early, &vm).unwrap();

    let mut gsi = IdAllocator::new(5, 23).unwrap();
    gsi.owned_by(&net0).allocate_ids(2, 1).unwrap();
    gsi.allocate_id().unwrap();
    gsi.free_id(5).unwrap();
    let mut mmio = AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap();
    mmio.owned_by(&blk0)
        .allocate(0x4000, 0x4000, AllocPolicy::LastMatch)
        .unwrap();
    mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    VmState {
        resources: vm,
        last_delta,
        gsi,
        mmio,
    }
}

fn fresh_version_map() -> VersionMap {
    VersionMap::new()
}

#[test]
fn sets_and_deltas_round_trip_with_owners_and_generations() {
    let original = vm_state();
    let mut bytes = Vec::new();
    original
        .serialize(&mut bytes, &fresh_version_map(), 1)
        .unwrap();
    let restored = VmState::deserialize(&mut &bytes[..], &fresh_version_map(), 1).unwrap();
    assert_eq!(restored, original);
    assert_eq!(
        restored.resources.generation(),
        original.resources.generation()
    );
    for ((name, a), (_, b)) in restored.resources.pools().zip(original.resources.pools()) {
        assert_eq!(a.generation(), b.generation(), "{name}");
    }
    restored.resources.check_invariants().unwrap();
    assert_eq!(restored.gsi.generation(), 3);
    assert_eq!(restored.mmio.generation(), 2);
    assert_eq!(restored.gsi.owner_at(6).unwrap(), "virtio-net0");
    assert_eq!(restored.mmio.owner_at(0xdfff_c000).unwrap(), "virtio-blk0");
    // Owners repeated in several pools are shared, as the file holds them.
    let gsi = restored.resources.ids("legacy_gsi").unwrap();
    let mmio = restored.resources.addresses("mmio32").unwrap();
    let net0 = mmio.owner_at(0xd000_0000).unwrap();
    assert_eq!(net0, "virtio-net0");
    assert!(Owner::ptr_eq(gsi.owner_at(5).unwrap(), net0));
    assert!(!gsi.is_allocated(6));

    // The restored delta still applies to the state it was made from, and
    // only to it.
    let mut early = ResourceSet::x86_64();
    early
        .owned_by(&owner("virtio-net0"))
        .allocate_id("legacy_gsi")
        .unwrap();
    early
        .owned_by(&owner("virtio-net0"))
        .allocate("mmio32", 0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    let applied = restored.last_delta.apply(&early).unwrap();
    assert_eq!(applied, original.resources);
    assert_eq!(applied.generation(), original.resources.generation());
    assert!(restored.last_delta.apply(&original.resources).is_err());
}

#[test]
fn sets_and_deltas_are_their_canonical_file_in_a_byte_vector() {
    let state = vm_state();
    let bytes = save(&state.resources, 1);
    let file = state.resources.to_bytes();
    assert_eq!(bytes[..8], (file.len() as u64).to_le_bytes());
    assert_eq!(bytes[8..], file[..]);
    let bytes = save(&state.last_delta, 1);
    let file = state.last_delta.to_bytes();
    assert_eq!(bytes[..8], (file.len() as u64).to_le_bytes());
    assert_eq!(bytes[8..], file[..]);
}

#[test]
fn corrupted_sets_and_deltas_are_rejected_with_the_reason() {
    let state = vm_state();
    let mut bytes = save(&state.resources, 1);
    let last = bytes.len() - 6;
    bytes[last] ^= 0x40;
    let e = deserialize_error::<ResourceSet>(&bytes);
    assert!(e.starts_with("ResourceSet: "), "{e}");
    assert!(e.contains("checksum"), "{e}");

    let bytes = save(&state.last_delta, 1);
    let e = deserialize_error::<Delta>(&bytes[..bytes.len() - 1]);
    assert!(e.starts_with("Delta: the length prefix says"), "{e}");

    // A set's file is not a delta's, nor an allocator's.
    let e = deserialize_error::<Delta>(&save(&state.resources, 1));
    assert!(e.starts_with("Delta: kind"), "{e}");
    let e = deserialize_error::<IdAllocator>(&save(&state.resources, 1));
    assert!(e.starts_with("IdAllocator: kind"), "{e}");
}

/// Files of format version 1, released before owners, generations and
/// resource sets existed (and pinned by `snapshots/SHA256SUMS`).
const V1_GSI: &[u8] = include_bytes!("../snapshots/v1/x86_64_legacy_gsi.bin");
const V1_MMIO: &[u8] = include_bytes!("../snapshots/v1/x86_64_mmio32.bin");
const V1_PIO: &[u8] = include_bytes!("../snapshots/v1/x86_64_pio.bin");

/// `file` as `Versionize` wrote a state before version 2: the version 1
/// file in a byte vector.
fn old_envelope(file: &[u8]) -> Vec<u8> {
    assert_eq!(file[8..10], 1u16.to_le_bytes(), "not a version 1 file");
    let mut bytes = (file.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(file);
    bytes
}

#[test]
fn versionize_data_written_before_version_2_still_loads() {
    // Each allocator on its own.
    let gsi: IdAllocator = load(&old_envelope(V1_GSI), 2).unwrap();
    assert_eq!(gsi.runs().collect::<Vec<_>>(), [5..=5, 7..=8, 20..=20]);
    assert_eq!((gsi.generation(), gsi.has_owners()), (0, false));
    let mmio: AddressAllocator = load(&old_envelope(V1_MMIO), 2).unwrap();
    assert_eq!(mmio.len(), 7);
    assert_eq!(mmio, AddressAllocator::from_bytes(V1_MMIO).unwrap());

    // A whole device manager state of app version 2 as an older build
    // wrote it: three version 1 files and a range.
    let window = RangeInclusive::new(0xd000_0000, 0xdfff_ffff).unwrap();
    let mut bytes = old_envelope(V1_GSI);
    bytes.extend_from_slice(&old_envelope(V1_MMIO));
    bytes.extend_from_slice(&window.start().to_le_bytes());
    bytes.extend_from_slice(&window.end().to_le_bytes());
    bytes.extend_from_slice(&old_envelope(V1_PIO));
    let restored: DeviceManagerState = load(&bytes, 2).unwrap();
    assert_eq!(restored.gsi, gsi);
    assert_eq!(restored.mmio, mmio);
    assert_eq!(restored.window, window);
    assert_eq!(restored.pio.len(), 10);
    assert!(restored.pio.is_allocated(0x3f8));

    // It carries on, and is saved again in the current version.
    let mut carried = restored.clone();
    assert_eq!(carried.gsi.allocate_id().unwrap(), 6);
    let again: DeviceManagerState = load(&save(&carried, 2), 2).unwrap();
    assert_eq!(again, carried);
    assert_eq!(again.gsi.generation(), 1);
    assert_eq!(save(&again.gsi, 2)[8..], again.gsi.to_bytes()[..]);
}
