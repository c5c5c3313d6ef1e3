// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The on-disk format, versions 1 and 2: round trips of every kind,
//! canonical form, the examples of FORMAT.md, the version 1 refusals, and
//! every way a reader must reject hostile bytes, each with its exact error
//! (offset, field, kind, pool).
//!
//! Tampered files are re-sealed with a correct body length and checksum (by
//! an implementation of the CRC written from FORMAT.md alone), so that what
//! rejects them is the check under test, not the checksum.
//!
//! `support/spec_reader.rs` is a second reader written from FORMAT.md alone;
//! the last part of this file requires it to report the same error as the
//! crate for every forged or mutated file of every kind and version.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use proptest::prelude::*;
use vm_allocator::format::{
    self, DecodeError, DecodeErrorKind, EncodeError, Field, FileKind, Unfit, FORMAT_VERSION, MAGIC,
    MAX_FILE_SIZE, SUPPORTED_VERSIONS, WRITABLE_VERSIONS,
};
use vm_allocator::{
    AddressAllocator, AddressAllocatorBuilder, AllocPolicy, Delta, IdAllocator, IdAllocatorBuilder,
    NameError, Owner, Pool, PoolKind, RangeInclusive, ResourceSet, ResourceSetBuilder, StateError,
};

#[path = "support/spec_reader.rs"]
mod spec;

#[path = "support/rng.rs"]
mod rng;

#[path = "support/journals.rs"]
mod journals;

use spec::{crc32c, Slot};

// ---------------------------------------------------------------------------
// Measuring what a decoder allocates.

/// Counts the bytes the current thread has allocated and not freed, and the
/// peak of that count, so a test can bound what a decoder allocates.
struct CountingAllocator;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn note_alloc(size: usize) {
    // try_with: the thread's counters may already be gone while it exits.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + size;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn note_free(size: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(size)));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counters are plain thread-local cells that never allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_free(layout.size());
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_free(layout.size());
        note_alloc(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Runs `f` and returns its result with the most bytes it had allocated at
/// any moment (on this thread).
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let result = f();
    let peak = PEAK.with(Cell::get) - base;
    (result, peak)
}

// ---------------------------------------------------------------------------
// Building files by hand, from FORMAT.md alone.

const ID: u8 = 1;
const ADDRESS: u8 = 2;
const SET: u8 = 3;
const DELTA: u8 = 4;

fn varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
    out
}

/// A body made of the given varints.
fn body(values: &[u64]) -> Vec<u8> {
    values.iter().flat_map(|&v| varint(v)).collect()
}

/// A piece of a version 2 body.
#[derive(Clone, Copy)]
enum P<'a> {
    /// A varint.
    V(u64),
    /// Raw bytes (kind bytes, checksums).
    B(&'a [u8]),
    /// A name: its length, then its bytes.
    N(&'a str),
}

use P::{B, N, V};

fn parts(pieces: &[P]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in pieces {
        match p {
            V(v) => out.extend(varint(*v)),
            B(b) => out.extend_from_slice(b),
            N(s) => {
                out.extend(varint(s.len() as u64));
                out.extend_from_slice(s.as_bytes());
            }
        }
    }
    out
}

/// A complete file of `version` and kind byte `kind` around `body`.
fn seal_version(version: u16, kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    out.push(kind);
    out.extend(varint(body.len() as u64));
    out.extend_from_slice(body);
    let crc = crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// A version 1 file.
fn seal(kind: u8, body: &[u8]) -> Vec<u8> {
    seal_version(1, kind, body)
}

/// A version 2 file.
fn seal2(kind: u8, body: &[u8]) -> Vec<u8> {
    seal_version(2, kind, body)
}

/// The body of a well-formed file, and where it starts.
fn body_of(file: &[u8]) -> (usize, Vec<u8>) {
    let mut len = 0u64;
    let mut pos = 11;
    for shift in (0..).step_by(7) {
        let b = file[pos];
        pos += 1;
        len |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
    }
    (pos, file[pos..pos + len as usize].to_vec())
}

fn version_of(file: &[u8]) -> u16 {
    u16::from_le_bytes([file[8], file[9]])
}

/// `file` with its body changed by `tamper` and sealed again.
fn reseal(file: &[u8], tamper: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let (_, mut b) = body_of(file);
    tamper(&mut b);
    seal_version(version_of(file), file[10], &b)
}

fn err(offset: usize, field: Field, kind: DecodeErrorKind) -> DecodeError {
    DecodeError::new(offset, field, kind)
}

fn state(e: StateError) -> DecodeErrorKind {
    DecodeErrorKind::InvalidState(e)
}

fn r(start: u64, end: u64) -> RangeInclusive {
    RangeInclusive::new(start, end).unwrap()
}

fn owner(name: &str) -> Owner {
    Owner::new(name).unwrap()
}

/// Decodes `bytes` as kind `kind` and re-encodes the result in the file's
/// version, checking the invariants of what was decoded.
fn decode_as(bytes: &[u8], kind: u8) -> Result<Vec<u8>, DecodeError> {
    let again = |version: u16| move |e: EncodeError| panic!("re-encoding in {version}: {e}");
    match kind {
        ID => IdAllocator::from_bytes(bytes).map(|a| {
            a.check_invariants().unwrap();
            let v = version_of(bytes);
            a.to_bytes_version(v).unwrap_or_else(again(v))
        }),
        ADDRESS => AddressAllocator::from_bytes(bytes).map(|a| {
            a.check_invariants().unwrap();
            let v = version_of(bytes);
            a.to_bytes_version(v).unwrap_or_else(again(v))
        }),
        SET => ResourceSet::from_bytes(bytes).map(|s| {
            s.check_invariants().unwrap();
            let v = version_of(bytes);
            s.to_bytes_version(v).unwrap_or_else(again(v))
        }),
        _ => Delta::from_bytes(bytes).map(|d| {
            let v = version_of(bytes);
            d.to_bytes_version(v).unwrap_or_else(again(v))
        }),
    }
}

/// Decodes `bytes` with the reader of the kind its kind byte names (the
/// id allocator's for any other byte).
fn decode_any(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    match bytes.get(10) {
        Some(&k @ (ADDRESS | SET | DELTA)) => decode_as(bytes, k),
        _ => decode_as(bytes, ID),
    }
}

// ---------------------------------------------------------------------------
// Sample states.

fn gsi() -> IdAllocator {
    let mut a = IdAllocator::new(5, 23).unwrap();
    a.allocate_ids(3, 1).unwrap();
    a.allocate_id_at(9).unwrap();
    a
}

fn mmio() -> AddressAllocator {
    let mut a = AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap();
    a.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch).unwrap();
    a.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch).unwrap();
    a.allocate(0x4000, 0x4000, AllocPolicy::LastMatch).unwrap();
    a
}

fn packed_pages(n: u64) -> AddressAllocator {
    let mut a = AddressAllocator::new(1 << 32, 1 << 40).unwrap();
    for _ in 0..n {
        a.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch).unwrap();
    }
    a
}

/// Ids with a body longer than 127 bytes (a two-byte body length).
fn big_ids() -> IdAllocator {
    let mut a = IdAllocator::new(0, 10_000).unwrap();
    for id in (0..200).map(|i| i * 7) {
        a.allocate_id_at(id).unwrap();
    }
    a
}

/// The legacy GSIs of FORMAT.md: 5..=7 without an owner, 8 for serial0 and
/// 9 for virtio-net0 (the runs touch).
fn tagged_gsi() -> IdAllocator {
    let mut a = IdAllocator::new(5, 23).unwrap();
    a.allocate_ids(3, 1).unwrap();
    a.owned_by(&owner("serial0")).allocate_id().unwrap();
    a.owned_by(&owner("virtio-net0")).allocate_id().unwrap();
    a
}

/// The port I/O space of FORMAT.md.
fn tagged_pio() -> AddressAllocator {
    let mut a = AddressAllocator::new(0, 0x10000).unwrap();
    a.allocate(1, 1, AllocPolicy::ExactMatch(0x60)).unwrap();
    a.owned_by(&owner("serial1"))
        .allocate(8, 1, AllocPolicy::ExactMatch(0x2f8))
        .unwrap();
    a.owned_by(&owner("serial0"))
        .allocate(8, 1, AllocPolicy::ExactMatch(0x3f8))
        .unwrap();
    a
}

/// The resource set of FORMAT.md: a GSI pool and an MMIO pool, one
/// allocation each for virtio-net0, at the example's generation, 4. Built
/// pool by pool it is at 2 (adding a pool is not a mutation), so the
/// builder sets the generation the example states.
fn small_set() -> ResourceSet {
    let mut set = ResourceSet::new();
    set.add_id_pool("gsi", 5, 23).unwrap();
    set.add_address_pool("mmio", 0xd000_0000, 0x1000_0000)
        .unwrap();
    let net = owner("virtio-net0");
    set.owned_by(&net).allocate_id("gsi").unwrap();
    set.owned_by(&net)
        .allocate("mmio", 0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    assert_eq!(set.generation(), 2);
    let mut builder = ResourceSetBuilder::new().generation(4);
    for (name, pool) in set.pools() {
        builder.push(name, pool.clone()).unwrap();
    }
    builder.finish().unwrap()
}

/// An x86_64 VM with a few tagged devices.
fn x86_set() -> ResourceSet {
    let mut vm = ResourceSet::x86_64();
    for (i, name) in ["virtio-net0", "virtio-blk0", "serial0"].iter().enumerate() {
        let o = owner(name);
        vm.owned_by(&o).allocate_id("legacy_gsi").unwrap();
        vm.owned_by(&o)
            .allocate("mmio32", 0x1000 << i, 0x1000, AllocPolicy::FirstMatch)
            .unwrap();
    }
    vm.owned_by(&owner("nvme0"))
        .allocate_ids("msi_gsi", 32, 32)
        .unwrap();
    vm.allocate("pio", 8, 1, AllocPolicy::ExactMatch(0x3f8))
        .unwrap();
    vm
}

fn id_delta() -> Delta {
    let older = tagged_gsi();
    let mut newer = older.clone();
    newer.free_id(8).unwrap();
    newer
        .owned_by(&owner("virtio-blk0"))
        .allocate_id_at(8)
        .unwrap();
    newer.allocate_id_at(12).unwrap();
    Delta::between(&older, &newer).unwrap()
}

fn address_delta() -> Delta {
    let older = tagged_pio();
    let mut newer = older.clone();
    newer.free(&r(0x60, 0x60)).unwrap();
    newer
        .owned_by(&owner("pci"))
        .allocate(8, 1, AllocPolicy::ExactMatch(0xcf8))
        .unwrap();
    Delta::between(&older, &newer).unwrap()
}

fn set_delta() -> Delta {
    let older = x86_set();
    let mut newer = older.clone();
    newer.free_owner("virtio-blk0");
    newer
        .owned_by(&owner("gpu0"))
        .allocate("mmio64", 1 << 30, 1 << 30, AllocPolicy::FirstMatch)
        .unwrap();
    newer.allocate_id("legacy_gsi").unwrap();
    Delta::between(&older, &newer).unwrap()
}

/// Files of every kind and version, small and large.
fn sample_files() -> Vec<Vec<u8>> {
    vec![
        gsi().to_bytes_version(1).unwrap(),
        mmio().to_bytes_version(1).unwrap(),
        IdAllocator::new(0, u32::MAX)
            .unwrap()
            .to_bytes_version(1)
            .unwrap(),
        AddressAllocator::new(1, u64::MAX)
            .unwrap()
            .to_bytes_version(1)
            .unwrap(),
        big_ids().to_bytes_version(1).unwrap(),
        packed_pages(100).to_bytes_version(1).unwrap(),
        gsi().to_bytes(),
        tagged_gsi().to_bytes(),
        tagged_pio().to_bytes(),
        big_ids().to_bytes(),
        small_set().to_bytes(),
        x86_set().to_bytes(),
        ResourceSet::new().to_bytes(),
        id_delta().to_bytes(),
        address_delta().to_bytes(),
        set_delta().to_bytes(),
    ]
}

// ---------------------------------------------------------------------------
// Round trips and canonical form.

#[test]
fn hand_sealed_files_match_the_writer() {
    // The writer agrees with a reading of FORMAT.md: same frame, same CRC.
    let ids = gsi();
    assert_eq!(
        ids.to_bytes_version(1).unwrap(),
        seal(ID, &body(&[5, 23, 5, 2, 0, 2, 0, 0]))
    );
    assert_eq!(
        ids.to_bytes(),
        seal2(ID, &body(&[0, 2, 5, 23, 5, 2, 0, 2, 0, 1, 0, 0]))
    );
    let addresses = mmio();
    let items = [0, 0xfff, 0, 0xfff, 0xfff_a000, 0x3fff];
    let mut v1 = vec![0xd000_0000, 0xdfff_ffff, 3];
    v1.extend(items);
    assert_eq!(
        addresses.to_bytes_version(1).unwrap(),
        seal(ADDRESS, &body(&v1))
    );
    let mut v2 = vec![0, 3, 0xd000_0000, 0xdfff_ffff, 3];
    for pair in items.chunks(2) {
        v2.extend([pair[0], pair[1], 0]);
    }
    assert_eq!(addresses.to_bytes(), seal2(ADDRESS, &body(&v2)));
    assert_eq!(
        tagged_gsi().to_bytes(),
        seal2(
            ID,
            &parts(&[
                V(2),
                N("serial0"),
                N("virtio-net0"),
                V(3),
                V(5),
                V(23),
                V(5),
                V(3),
                V(0),
                V(2),
                V(0),
                V(0),
                V(0),
                V(1),
                V(0),
                V(0),
                V(2)
            ])
        )
    );
    assert_eq!(crc32c(b"123456789"), 0xe306_9283);
}

#[test]
fn round_trips_keep_every_field_in_both_versions() {
    for a in [
        IdAllocator::new(0, 0).unwrap(),
        IdAllocator::new(u32::MAX, u32::MAX).unwrap(),
        gsi(),
        big_ids(),
    ] {
        assert_eq!(IdAllocator::from_bytes(&a.to_bytes()).unwrap(), a);
        let v1 = a.to_bytes_version(1).unwrap();
        assert_eq!(version_of(&v1), 1);
        assert_eq!(IdAllocator::from_bytes(&v1).unwrap(), a);
    }
    // next_id survives even when every id has been freed again.
    let mut freed = IdAllocator::new(100, 200).unwrap();
    freed.allocate_id_at(150).unwrap();
    freed.free_id(150).unwrap();
    for bytes in [freed.to_bytes(), freed.to_bytes_version(1).unwrap()] {
        let mut back = IdAllocator::from_bytes(&bytes).unwrap();
        assert_eq!(back, freed);
        assert_eq!(
            back.free_id(150).unwrap_err(),
            vm_allocator::Error::AlreadyReleased(150)
        );
        assert_eq!(
            back.free_id(151).unwrap_err(),
            vm_allocator::Error::NeverAllocated(151)
        );
    }
    // Every id of the full u32 range, and an allocation ending at u64::MAX.
    let mut full = IdAllocator::new(0, u32::MAX).unwrap();
    full.allocate_id_at(u32::MAX).unwrap();
    full.allocate_id_at(0).unwrap();
    assert_eq!(IdAllocator::from_bytes(&full.to_bytes()).unwrap(), full);
    let top = AddressAllocator::from_allocations(r(1, u64::MAX), [r(1, 1), r(u64::MAX, u64::MAX)])
        .unwrap();
    assert_eq!(AddressAllocator::from_bytes(&top.to_bytes()).unwrap(), top);
    assert_eq!(
        AddressAllocator::from_bytes(&top.to_bytes_version(1).unwrap()).unwrap(),
        top
    );
}

#[test]
fn version_2_keeps_owners_and_generations_version_1_reads_generation_0() {
    let a = tagged_gsi();
    let back = IdAllocator::from_bytes(&a.to_bytes()).unwrap();
    assert_eq!(back, a);
    assert_eq!(back.generation(), a.generation());
    assert_eq!(back.owner_at(9), Some(&owner("virtio-net0")));
    let plain = gsi();
    assert_ne!(plain.generation(), 0);
    let back = IdAllocator::from_bytes(&plain.to_bytes_version(1).unwrap()).unwrap();
    assert_eq!((back.generation(), &back), (0, &plain));

    let p = tagged_pio();
    let back = AddressAllocator::from_bytes(&p.to_bytes()).unwrap();
    assert_eq!((back.generation(), &back), (p.generation(), &p));
    assert_eq!(back.owner_at(0x3f8), Some(&owner("serial0")));
    let plain = mmio();
    let back = AddressAllocator::from_bytes(&plain.to_bytes_version(1).unwrap()).unwrap();
    assert_eq!((back.generation(), &back), (0, &plain));
    // An extreme generation.
    let mut b = IdAllocatorBuilder::new(0, 9).unwrap().generation(u64::MAX);
    b.push(3..=4, Some(owner("x"))).unwrap();
    let a = b.finish().unwrap();
    assert_eq!(
        IdAllocator::from_bytes(&a.to_bytes()).unwrap().generation(),
        u64::MAX
    );
}

#[test]
fn sets_and_deltas_round_trip() {
    for set in [
        ResourceSet::new(),
        ResourceSet::x86_64(),
        ResourceSet::aarch64(),
        small_set(),
        x86_set(),
    ] {
        let bytes = set.to_bytes();
        let back = ResourceSet::from_bytes(&bytes).unwrap();
        back.check_invariants().unwrap();
        assert_eq!(back, set);
        assert_eq!(back.generation(), set.generation());
        assert_eq!(back.to_bytes(), bytes);
    }
    for delta in [id_delta(), address_delta(), set_delta()] {
        let bytes = delta.to_bytes();
        let back = Delta::from_bytes(&bytes).unwrap();
        assert_eq!(back, delta);
        assert_eq!(back.to_bytes(), bytes);
    }
    // A decoded delta still applies to the state it names, and only to it.
    let older = x86_set();
    let delta = Delta::from_bytes(&set_delta().to_bytes()).unwrap();
    let newer = delta.apply(&older).unwrap();
    assert!(newer.addresses("mmio64").unwrap().len() == 1);
    assert!(delta.apply(&newer).is_err());
}

#[test]
fn version_1_refuses_owners_sets_and_deltas() {
    let e = tagged_gsi().to_bytes_version(1).unwrap_err();
    assert_eq!(
        e,
        EncodeError::DoesNotFit {
            version: 1,
            what: Unfit::Owner {
                range: r(8, 8),
                owner: owner("serial0")
            }
        }
    );
    assert_eq!(
        e.to_string(),
        "format version 1 cannot hold the owner of the allocation 0x8..=0x8 (\"serial0\"); \
         without_owners() drops owners explicitly"
    );
    let e = tagged_pio().to_bytes_version(1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "format version 1 cannot hold the owner of the allocation 0x2f8..=0x2ff (\"serial1\"); \
         without_owners() drops owners explicitly"
    );
    // Dropping the owners makes it fit.
    let plain = tagged_pio().without_owners();
    assert_eq!(
        AddressAllocator::from_bytes(&plain.to_bytes_version(1).unwrap()).unwrap(),
        plain
    );
    for set in [ResourceSet::new(), small_set()] {
        let e = set.to_bytes_version(1).unwrap_err();
        assert_eq!(
            e,
            EncodeError::DoesNotFit {
                version: 1,
                what: Unfit::ResourceSet
            }
        );
        assert_eq!(e.to_string(), "format version 1 cannot hold a resource set");
    }
    for delta in [id_delta(), address_delta(), set_delta()] {
        let e = delta.to_bytes_version(1).unwrap_err();
        assert_eq!(
            e,
            EncodeError::DoesNotFit {
                version: 1,
                what: Unfit::Delta
            }
        );
        assert_eq!(e.to_string(), "format version 1 cannot hold a delta");
    }
    // Versions this crate does not write.
    for version in [0u16, 3, u16::MAX] {
        let e = gsi().to_bytes_version(version).unwrap_err();
        assert_eq!(
            e,
            EncodeError::UnsupportedVersion {
                version,
                supported: WRITABLE_VERSIONS
            }
        );
        assert_eq!(
            e.to_string(),
            format!("cannot write format version {version}; this crate writes [1, 2]")
        );
    }
}

#[test]
fn packed_pages_take_three_bytes_each_in_version_1_and_four_in_version_2() {
    for n in [1_000u64, 10_000] {
        let pages = packed_pages(n);
        let bytes = pages.to_bytes_version(1).unwrap();
        let overhead = bytes.len() as u64 - 3 * n;
        assert!(overhead <= 32, "{n} pages: {} bytes", bytes.len());
        let bytes = pages.to_bytes();
        let overhead = bytes.len() as u64 - 4 * n;
        assert!(overhead <= 40, "{n} pages: {} bytes", bytes.len());
    }
}

#[test]
fn equal_states_give_equal_bytes_whatever_the_history() {
    let mut a = AddressAllocator::new(0, 0x10_0000).unwrap();
    let x = a.allocate(0x1000, 0x1000, AllocPolicy::LastMatch).unwrap();
    a.allocate(0x2000, 0x1000, AllocPolicy::FirstMatch).unwrap();
    a.free(&x).unwrap();
    let mut b = AddressAllocator::new(0, 0x10_0000).unwrap();
    b.allocate(0x2000, 0x1000, AllocPolicy::ExactMatch(0))
        .unwrap();
    // Version 1 does not store the generation; version 2 does.
    assert_eq!(
        a.to_bytes_version(1).unwrap(),
        b.to_bytes_version(1).unwrap()
    );
    assert_ne!(a.generation(), b.generation());
    assert_ne!(a.to_bytes(), b.to_bytes());

    let mut c = IdAllocator::new(0, 99).unwrap();
    c.allocate_ids(4, 1).unwrap();
    c.free_id(2).unwrap();
    let mut d = IdAllocator::new(0, 99).unwrap();
    for id in [3, 0, 1] {
        d.allocate_id_at(id).unwrap();
    }
    assert_eq!(
        c.to_bytes_version(1).unwrap(),
        d.to_bytes_version(1).unwrap()
    );
    // Same owners and generation: the same version 2 bytes.
    let o = owner("dev");
    let mut e = IdAllocator::new(0, 99).unwrap();
    e.owned_by(&o).allocate_ids(2, 1).unwrap();
    let mut f = IdAllocatorBuilder::new(0, 99)
        .unwrap()
        .with_next_id(2)
        .unwrap()
        .generation(e.generation());
    f.push(0..=1, Some(owner("dev"))).unwrap();
    assert_eq!(e.to_bytes(), f.finish().unwrap().to_bytes());
}

// ---------------------------------------------------------------------------
// Random states of every kind.

const NAMES: [&str; 7] = ["a", "ab", "b", "gpu", "net0", "virtio-net0", "é"];

/// An owner from a selector: none half of the time.
fn pick_owner(sel: u8) -> Option<Owner> {
    let i = usize::from(sel);
    (i < NAMES.len()).then(|| owner(NAMES[i]))
}

fn owner_sel() -> impl Strategy<Value = u8> {
    0u8..14
}

/// Random address allocators, including allocations at the very top of the
/// u64 space; with owners and a generation when `tagged`.
fn address_allocators(tagged: bool) -> impl Strategy<Value = AddressAllocator> {
    let value = prop_oneof![0u64..0x20, 0u64..0x10_0000, any::<u64>()];
    (
        any::<u64>(),
        value.clone(),
        prop::collection::vec((value.clone(), value, owner_sel()), 0..40),
        prop_oneof![Just(0u64), any::<u64>()],
    )
        .prop_map(move |(start, extent, items, generation)| {
            let end = start.saturating_add(extent).max(start);
            let space = RangeInclusive::new(start, end)
                .unwrap_or_else(|_| RangeInclusive::new(1, u64::MAX).unwrap());
            let mut builder = AddressAllocatorBuilder::new(space);
            if tagged {
                builder = builder.generation(generation);
            }
            let mut cursor = Some(space.start());
            for (gap, len_minus_one, sel) in items {
                let Some(start) = cursor.and_then(|c| c.checked_add(gap)) else {
                    break;
                };
                let Some(end) = start.checked_add(len_minus_one) else {
                    break;
                };
                if end > space.end() {
                    break;
                }
                let o = if tagged { pick_owner(sel) } else { None };
                builder.push(r(start, end), o).unwrap();
                cursor = end.checked_add(1);
            }
            builder.finish().unwrap()
        })
}

/// Random id allocators built by allocating (with owners when `tagged`)
/// and freeing ids.
fn id_allocators(tagged: bool) -> impl Strategy<Value = IdAllocator> {
    (
        any::<u32>(),
        prop_oneof![0u32..64, any::<u32>()],
        prop::collection::vec((0u8..3, any::<u32>(), owner_sel()), 0..60),
    )
        .prop_map(move |(base, extent, ops)| {
            let end = base.saturating_add(extent);
            let mut a = IdAllocator::new(base, end).unwrap();
            for (op, pick, sel) in ops {
                let id = (base + pick % (end - base).saturating_add(1).max(1)).min(end);
                let o = if tagged { pick_owner(sel) } else { None };
                match (op, o) {
                    (0, None) => {
                        let _ = a.allocate_id_at(id);
                    }
                    (0, Some(o)) => {
                        let _ = a.owned_by(&o).allocate_id_at(id);
                    }
                    (1, _) => {
                        let _ = a.free_id(id);
                    }
                    (_, o) => {
                        let _ = a.set_owner(id..=id, o);
                    }
                }
            }
            a
        })
}

/// A small edit of a resource set, for deltas.
fn edit_set(set: &mut ResourceSet, ops: &[(u8, u32, u8)]) {
    let names: Vec<(String, PoolKind)> = set
        .pools()
        .map(|(n, p)| (n.to_string(), p.kind()))
        .collect();
    if names.is_empty() {
        return;
    }
    for &(op, pick, sel) in ops {
        let (name, kind) = &names[pick as usize % names.len()];
        let o = pick_owner(sel);
        match (kind, op % 3) {
            (PoolKind::Ids, 0) => {
                let _ = match &o {
                    Some(o) => set.owned_by(o).allocate_id(name),
                    None => set.allocate_id(name),
                };
            }
            (PoolKind::Ids, 1) => {
                let base = set.ids(name).unwrap().range_base();
                let _ = set.free_id(name, base + pick % 8);
            }
            (PoolKind::Addresses, 0) => {
                let size = 1u64 << (pick % 16);
                let _ = match &o {
                    Some(o) => set
                        .owned_by(o)
                        .allocate(name, size, size, AllocPolicy::FirstMatch),
                    None => set.allocate(name, size, size, AllocPolicy::LastMatch),
                };
            }
            (PoolKind::Addresses, 1) => {
                let a = set.addresses(name).unwrap();
                if let Some(x) = a.iter().nth(pick as usize % (a.len() as usize).max(1)) {
                    let _ = set.free(name, &x);
                }
            }
            _ => {
                if let Some(o) = o {
                    set.free_owner(&o);
                }
            }
        }
    }
}

fn set_ops() -> impl Strategy<Value = Vec<(u8, u32, u8)>> {
    prop::collection::vec((any::<u8>(), any::<u32>(), owner_sel()), 0..24)
}

/// Random resource sets: a layout, or a few random pools, then edits.
fn resource_sets() -> impl Strategy<Value = ResourceSet> {
    (
        0u8..3,
        id_allocators(true),
        address_allocators(true),
        set_ops(),
    )
        .prop_map(|(layout, ids, addresses, ops)| {
            let mut set = match layout {
                0 => ResourceSet::x86_64(),
                1 => ResourceSet::aarch64(),
                _ => {
                    let mut b = ResourceSetBuilder::new().generation(ids.generation());
                    b.push("ids", ids).unwrap();
                    b.push("addresses", addresses).unwrap();
                    b.finish().unwrap()
                }
            };
            edit_set(&mut set, &ops);
            set
        })
}

/// Random deltas of every base kind.
fn deltas() -> impl Strategy<Value = Delta> {
    prop_oneof![
        (
            id_allocators(true),
            prop::collection::vec((0u8..3, any::<u32>(), owner_sel()), 0..16)
        )
            .prop_map(|(older, ops)| {
                let mut newer = older.clone();
                let (base, end) = (older.range_base(), older.range_end());
                for (op, pick, sel) in ops {
                    let id = (base + pick % (end - base).saturating_add(1).max(1)).min(end);
                    match (op, pick_owner(sel)) {
                        (0, Some(o)) => {
                            let _ = newer.owned_by(&o).allocate_id_at(id);
                        }
                        (0, None) => {
                            let _ = newer.allocate_id_at(id);
                        }
                        (1, _) => {
                            let _ = newer.free_id(id);
                        }
                        (_, o) => {
                            let _ = newer.set_owner(id..=id, o);
                        }
                    }
                }
                Delta::between(&older, &newer).unwrap()
            }),
        (
            address_allocators(true),
            prop::collection::vec((0u8..2, any::<u64>(), owner_sel()), 0..16)
        )
            .prop_map(|(older, ops)| {
                let mut newer = older.clone();
                for (op, pick, sel) in ops {
                    if op == 0 {
                        let size = 1 + pick % 0x100;
                        let _ = match pick_owner(sel) {
                            Some(o) => {
                                newer
                                    .owned_by(&o)
                                    .allocate(size, 1, AllocPolicy::FirstMatch)
                            }
                            None => newer.allocate(size, 1, AllocPolicy::LastMatch),
                        };
                    } else if let Some(x) = newer.iter().nth(pick as usize % 8) {
                        newer.free(&x).unwrap();
                    }
                }
                Delta::between(&older, &newer).unwrap()
            }),
        (resource_sets(), set_ops()).prop_map(|(older, ops)| {
            let mut newer = older.clone();
            edit_set(&mut newer, &ops);
            Delta::between(&older, &newer).unwrap()
        }),
    ]
}

/// Valid files of every kind and version (version 1 for the states that fit).
fn valid_files() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        id_allocators(false).prop_map(|a| a.to_bytes_version(1).unwrap()),
        address_allocators(false).prop_map(|a| a.to_bytes_version(1).unwrap()),
        id_allocators(true).prop_map(|a| a.to_bytes()),
        address_allocators(true).prop_map(|a| a.to_bytes()),
        resource_sets().prop_map(|s| s.to_bytes()),
        deltas().prop_map(|d| d.to_bytes()),
    ]
}

/// A small change to a file: flip, set, insert or remove bytes of the body,
/// or cut it short.
#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    let m = prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Mutation::Set(i, x)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Mutation::Insert(i, x)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
    ];
    prop::collection::vec(m, 1..4)
}

fn mutate(body: &mut Vec<u8>, mutations: &[Mutation]) {
    for m in mutations {
        let n = body.len();
        match *m {
            Mutation::Flip(i, x) if n > 0 => body[i % n] ^= x,
            Mutation::Set(i, x) if n > 0 => body[i % n] = x,
            Mutation::Insert(i, x) => body.insert(i % (n + 1), x),
            Mutation::Remove(i) if n > 0 => {
                body.remove(i % n);
            }
            Mutation::Truncate(i) => body.truncate(i % (n + 1)),
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn address_allocators_round_trip(a in address_allocators(true)) {
        let bytes = a.to_bytes();
        let back = AddressAllocator::from_bytes(&bytes).unwrap();
        back.check_invariants().unwrap();
        prop_assert_eq!(&back, &a);
        prop_assert_eq!(back.generation(), a.generation());
        prop_assert_eq!(back.to_bytes(), bytes);
        // Version 1 where it fits.
        match a.to_bytes_version(1) {
            Ok(v1) => {
                prop_assert!(!a.has_owners());
                let back = AddressAllocator::from_bytes(&v1).unwrap();
                prop_assert_eq!(&back, &a);
                prop_assert_eq!(back.to_bytes_version(1).unwrap(), v1);
            }
            Err(e) => {
                prop_assert!(a.has_owners());
                let fits = matches!(e, EncodeError::DoesNotFit { version: 1, what: Unfit::Owner { .. } });
                prop_assert!(fits, "{}", e);
            }
        }
    }

    #[test]
    fn id_allocators_round_trip(a in id_allocators(true)) {
        let bytes = a.to_bytes();
        let back = IdAllocator::from_bytes(&bytes).unwrap();
        back.check_invariants().unwrap();
        prop_assert_eq!(&back, &a);
        prop_assert_eq!(back.generation(), a.generation());
        prop_assert_eq!(back.to_bytes(), bytes);
        match a.to_bytes_version(1) {
            Ok(v1) => {
                prop_assert!(!a.has_owners());
                let back = IdAllocator::from_bytes(&v1).unwrap();
                prop_assert_eq!(&back, &a);
                prop_assert_eq!(back.to_bytes_version(1).unwrap(), v1);
            }
            Err(e) => {
                prop_assert!(a.has_owners());
                let fits = matches!(e, EncodeError::DoesNotFit { version: 1, what: Unfit::Owner { .. } });
                prop_assert!(fits, "{}", e);
            }
        }
    }

    #[test]
    fn resource_sets_round_trip(set in resource_sets()) {
        let bytes = set.to_bytes();
        let back = ResourceSet::from_bytes(&bytes).unwrap();
        back.check_invariants().unwrap();
        prop_assert_eq!(&back, &set);
        prop_assert_eq!(back.generation(), set.generation());
        prop_assert_eq!(back.to_bytes(), bytes);
    }

    #[test]
    fn deltas_round_trip(delta in deltas()) {
        let bytes = delta.to_bytes();
        let back = Delta::from_bytes(&bytes).unwrap();
        prop_assert_eq!(&back, &delta);
        prop_assert_eq!(back.to_bytes(), bytes);
    }

    /// Whatever is done to a body of any kind and version, a decoder either
    /// refuses it or accepts exactly the canonical encoding of a valid
    /// state (in the file's version).
    #[test]
    fn mutated_bodies_are_refused_or_canonical(
        file in valid_files(),
        changes in mutations(),
    ) {
        let tampered = reseal(&file, |b| mutate(b, &changes));
        if let Ok(again) = decode_as(&tampered, tampered[10]) {
            prop_assert_eq!(again, tampered);
        }
    }

    /// Arbitrary bodies inside a sound frame never panic, and what is
    /// accepted is canonical.
    #[test]
    fn arbitrary_bodies_are_refused_or_canonical(
        version in 1u16..=2,
        kind in 1u8..=4,
        raw in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let file = seal_version(version, kind, &raw);
        if let Ok(bytes) = decode_as(&file, kind) {
            prop_assert_eq!(bytes, file);
        }
    }
}

// ---------------------------------------------------------------------------
// FORMAT.md

/// The example blocks of FORMAT.md: each `vmalloc-hex` block with the
/// `vmalloc-dump` or `vmalloc-error` block after it.
fn format_md_examples() -> Vec<(Vec<u8>, String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/FORMAT.md")).unwrap();
    let mut blocks: Vec<(String, String)> = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(info) = line.strip_prefix("```") {
            let mut content = String::new();
            for inner in lines.by_ref() {
                if inner.starts_with("```") {
                    break;
                }
                content.push_str(inner);
                content.push('\n');
            }
            blocks.push((info.trim().to_string(), content));
        }
    }
    let mut examples = Vec::new();
    let mut i = 0;
    while i < blocks.len() {
        if blocks[i].0 != "vmalloc-hex" {
            assert!(
                !blocks[i].0.starts_with("vmalloc-"),
                "{} block without a vmalloc-hex block before it",
                blocks[i].0
            );
            i += 1;
            continue;
        }
        let bytes: Vec<u8> = blocks[i]
            .1
            .lines()
            .flat_map(|l| l.split('#').next().unwrap().split_whitespace())
            .map(|tok| {
                assert_eq!(tok.len(), 2, "bad hex token {tok:?} in FORMAT.md");
                u8::from_str_radix(tok, 16).unwrap()
            })
            .collect();
        let (what, expected) = blocks
            .get(i + 1)
            .expect("a hex block ends FORMAT.md")
            .clone();
        examples.push((bytes, what, expected));
        i += 2;
    }
    examples
}

#[test]
fn format_md_examples_decode_as_stated() {
    let examples = format_md_examples();
    let count = |what: &str, version: u16| {
        examples
            .iter()
            .filter(|e| e.1 == what && e.0.get(8..10) == Some(&version.to_le_bytes()[..]))
            .count()
    };
    // Both versions, accepted and rejected; every kind of version 2.
    assert!(count("vmalloc-dump", 1) >= 4 && count("vmalloc-error", 1) >= 10);
    assert!(count("vmalloc-dump", 2) >= 7 && count("vmalloc-error", 2) >= 15);
    let mut kinds_listed = std::collections::BTreeSet::new();
    for (bytes, what, expected) in examples {
        let spec = spec::read(&bytes, None);
        match what.as_str() {
            "vmalloc-dump" => {
                assert_eq!(format::dump(&bytes).unwrap(), expected);
                assert_eq!(decode_any(&bytes).unwrap(), bytes, "re-encoding");
                let spec = spec.unwrap();
                kinds_listed.insert((spec.version, spec.kind));
            }
            "vmalloc-error" => {
                let e = format::dump(&bytes).unwrap_err();
                assert_eq!(format!("{e}\n"), expected);
                assert_eq!(spec.unwrap_err(), e, "the spec reader disagrees");
                // A typed reader of the file's kind says the same.
                if matches!(bytes.get(10), Some(1..=4)) && e.field != Field::Kind {
                    assert_eq!(decode_any(&bytes).unwrap_err(), e);
                }
            }
            other => panic!("a vmalloc-hex block followed by a {other:?} block"),
        }
    }
    let all: Vec<(u16, u8)> = vec![(1, 1), (1, 2), (2, 1), (2, 2), (2, 3), (2, 4)];
    assert_eq!(kinds_listed.into_iter().collect::<Vec<_>>(), all);
}

#[test]
fn format_md_examples_are_the_files_of_the_writer() {
    // The accepted examples of version 2 are what the crate writes for the
    // states they describe.
    let examples = format_md_examples();
    let written = [
        IdAllocator::new(0, 31).unwrap().to_bytes(),
        tagged_gsi().to_bytes(),
        tagged_pio().to_bytes(),
        small_set().to_bytes(),
        {
            let older = tagged_gsi();
            let mut newer = older.clone();
            newer.free_id(8).unwrap();
            newer.owned_by(&owner("virtio-blk0")).allocate_id().unwrap();
            Delta::between(&older, &newer).unwrap().to_bytes()
        },
        {
            let older = tagged_pio();
            let mut newer = older.clone();
            newer.free(&r(0x60, 0x60)).unwrap();
            newer
                .allocate(8, 1, AllocPolicy::ExactMatch(0xcf8))
                .unwrap();
            Delta::between(&older, &newer).unwrap().to_bytes()
        },
        {
            let older = small_set();
            let mut newer = older.clone();
            newer
                .owned_by(&owner("virtio-blk0"))
                .allocate("mmio", 0x4000, 0x4000, AllocPolicy::FirstMatch)
                .unwrap();
            newer.free_owner("virtio-net0");
            Delta::between(&older, &newer).unwrap().to_bytes()
        },
    ];
    for file in written {
        assert!(
            examples.iter().any(|(bytes, _, _)| *bytes == file),
            "FORMAT.md lacks the file {file:02x?}"
        );
    }
}

#[test]
fn format_md_states_the_crate_constants() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/FORMAT.md")).unwrap();
    let magic: Vec<String> = MAGIC.iter().map(|b| format!("{b:02x}")).collect();
    assert!(text.contains(&format!("| 0 | 8 | magic | `{}` |", magic.join(" "))));
    assert!(text.contains(&format!(
        "`format::FORMAT_VERSION` (version {FORMAT_VERSION})"
    )));
    assert!(text.contains(&format!(
        "`format::SUPPORTED_VERSIONS` (`{SUPPORTED_VERSIONS:?}`)"
    )));
    assert_eq!(MAX_FILE_SIZE, 1 << 30);
    assert!(text.contains("at most 2^30 bytes (1 GiB)"));
    assert_eq!(vm_allocator::MAX_NAME_LEN, 64);
    assert!(text.contains("| length | `varint`, 1 ≤ L ≤ 64 |"));
}

// ---------------------------------------------------------------------------
// Header and frame.

#[test]
fn bad_magic_says_what_was_found() {
    let e = IdAllocator::from_bytes(b"PK\x03\x04 not ours").unwrap_err();
    assert_eq!(
        e,
        err(
            0,
            Field::Magic,
            DecodeErrorKind::BadMagic {
                found: *b"PK\x03\x04 not",
                found_len: 8
            }
        )
    );
    assert_eq!(
        e.to_string(),
        "magic at byte 0: not a vm-allocator file: found 50 4b 03 04 20 6e 6f 74, expected 89 56 4d 41 0d 0a 1a 0a"
    );
    // Short input that is not a prefix of the magic.
    let e = AddressAllocator::from_bytes(b"{}").unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::BadMagic {
            found: *b"{}\0\0\0\0\0\0",
            found_len: 2
        }
    );
    // A newline conversion (CR LF -> LF) is caught by the magic.
    for mut mangled in [gsi().to_bytes(), gsi().to_bytes_version(1).unwrap()] {
        mangled.remove(4);
        let e = IdAllocator::from_bytes(&mangled).unwrap_err();
        assert_eq!((e.offset, e.field), (0, Field::Magic));
        assert!(matches!(
            e.kind,
            DecodeErrorKind::BadMagic { found_len: 8, .. }
        ));
    }
}

#[test]
fn unsupported_versions_name_the_supported_ones() {
    for version in [0u16, 3, 0x0100, 0x0201, u16::MAX] {
        let mut file = gsi().to_bytes();
        file[8..10].copy_from_slice(&version.to_le_bytes());
        let e = IdAllocator::from_bytes(&file).unwrap_err();
        assert_eq!(
            e,
            err(
                8,
                Field::Version,
                DecodeErrorKind::UnsupportedVersion {
                    found: version,
                    supported: &[1, 2]
                }
            )
        );
        assert_eq!(
            e.to_string(),
            format!("format version at byte 8: unsupported format version {version}; this reader supports 1, 2")
        );
    }
}

#[test]
fn wrong_kind_is_refused_after_the_checksum() {
    let e = IdAllocator::from_bytes(&mmio().to_bytes()).unwrap_err();
    assert_eq!(
        e,
        err(
            10,
            Field::Kind,
            DecodeErrorKind::WrongKind {
                expected: FileKind::IdAllocator,
                found: 2
            }
        )
    );
    assert_eq!(
        e.to_string(),
        "kind at byte 10: the file holds an AddressAllocator (2), not an IdAllocator"
    );
    let e = AddressAllocator::from_bytes(&gsi().to_bytes()).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::WrongKind {
            expected: FileKind::AddressAllocator,
            found: 1
        }
    );
    let e = ResourceSet::from_bytes(&id_delta().to_bytes()).unwrap_err();
    assert_eq!(
        e,
        err(
            10,
            Field::Kind,
            DecodeErrorKind::WrongKind {
                expected: FileKind::ResourceSet,
                found: 4
            }
        )
    );
    let e = Delta::from_bytes(&small_set().to_bytes()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "kind at byte 10: the file holds a ResourceSet (3), not a Delta"
    );
    // Kinds no version knows, and the kinds version 1 does not hold.
    for (version, kind) in [
        (1u16, 0u8),
        (1, 3),
        (1, 4),
        (1, 0xff),
        (2, 0),
        (2, 5),
        (2, 0xff),
    ] {
        let file = seal_version(version, kind, &[]);
        let e = AddressAllocator::from_bytes(&file).unwrap_err();
        assert_eq!(
            e,
            err(
                10,
                Field::Kind,
                DecodeErrorKind::WrongKind {
                    expected: FileKind::AddressAllocator,
                    found: kind
                }
            )
        );
        assert_eq!(
            format::dump(&file).unwrap_err(),
            err(
                10,
                Field::Kind,
                DecodeErrorKind::UnknownKind { found: kind }
            )
        );
    }
    let e = ResourceSet::from_bytes(&seal(SET, &[0, 0, 0])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "kind at byte 10: kind 3 (ResourceSet) does not exist in this file's format version"
    );
    // A damaged kind byte is damage, not a wrong kind.
    let mut file = gsi().to_bytes();
    file[10] = 2;
    let e = AddressAllocator::from_bytes(&file).unwrap_err();
    assert_eq!(e.field, Field::Checksum);
}

#[test]
fn every_single_bit_flip_is_caught() {
    for file in sample_files() {
        let (body_offset, b) = body_of(&file);
        let body_end = body_offset + b.len();
        for i in 0..file.len() {
            for bit in 0..8 {
                let mut damaged = file.clone();
                damaged[i] ^= 1 << bit;
                let e = decode_any(&damaged).expect_err("a flipped bit was accepted");
                if i >= body_offset {
                    // In the body or the checksum: exactly a mismatch.
                    let stored = u32::from_le_bytes(damaged[body_end..].try_into().unwrap());
                    assert_eq!(
                        e,
                        err(
                            body_end,
                            Field::Checksum,
                            DecodeErrorKind::ChecksumMismatch {
                                stored,
                                computed: crc32c(&damaged[..body_end])
                            }
                        ),
                        "byte {i} bit {bit}"
                    );
                }
                assert_eq!(
                    spec::read(&damaged, None).unwrap_err(),
                    format::dump(&damaged).unwrap_err()
                );
            }
        }
    }
}

/// The error for `file` cut to `len` bytes, derived from FORMAT.md.
fn expected_truncation(file: &[u8], len: usize) -> DecodeError {
    let (body_offset, b) = body_of(file);
    let body_end = body_offset + b.len();
    let (offset, field, needed, available) = match len {
        0..=7 => (0, Field::Magic, 8, len),
        8..=9 => (8, Field::Version, 2, len - 8),
        10 => (10, Field::Kind, 1, 0),
        l if l < body_offset => (11, Field::BodyLength, l - 11 + 1, l - 11),
        l if l < body_end => (body_offset, Field::Body, b.len(), l - body_offset),
        l => (body_end, Field::Checksum, 4, l - body_end),
    };
    err(
        offset,
        field,
        DecodeErrorKind::Truncated {
            needed: needed as u64,
            available: available as u64,
        },
    )
}

#[test]
fn every_prefix_is_truncated_at_the_right_field() {
    for file in sample_files() {
        for len in 0..file.len() {
            let prefix = &file[..len];
            assert_eq!(
                decode_any(prefix).unwrap_err(),
                expected_truncation(&file, len),
                "prefix of {len} of {} bytes",
                file.len()
            );
            assert_eq!(
                format::dump(prefix).unwrap_err(),
                expected_truncation(&file, len)
            );
        }
    }
    // The two-byte body length is cut in its middle by one prefix.
    let big = big_ids().to_bytes();
    assert_eq!(body_of(&big).0, 13);
    assert_eq!(
        IdAllocator::from_bytes(&big[..12]).unwrap_err().field,
        Field::BodyLength
    );
}

#[test]
fn every_body_prefix_is_truncated_at_the_first_missing_field() {
    // The body cut short and sealed again: the first field the body ends
    // inside (or the first count whose items cannot fit) is reported.
    for file in sample_files() {
        let (_, b) = body_of(&file);
        for len in 0..b.len() {
            let cut = reseal(&file, |b| b.truncate(len));
            let e = decode_any(&cut).unwrap_err();
            assert!(
                matches!(
                    e.kind,
                    DecodeErrorKind::Truncated { .. } | DecodeErrorKind::CountTooLarge { .. }
                ),
                "{len}: {e}"
            );
            assert_eq!(spec::read(&cut, Some(kind_of(&cut))).unwrap_err(), e);
        }
    }
}

fn kind_of(file: &[u8]) -> FileKind {
    FileKind::from_byte(file[10]).unwrap()
}

#[test]
fn trailing_bytes_after_the_checksum_or_the_items() {
    for file in [gsi().to_bytes(), gsi().to_bytes_version(1).unwrap()] {
        for extra in 1..4u64 {
            let mut file = file.clone();
            let end = file.len();
            file.extend((0..extra).map(|i| i as u8));
            assert_eq!(
                IdAllocator::from_bytes(&file).unwrap_err(),
                err(
                    end,
                    Field::EndOfFile,
                    DecodeErrorKind::TrailingBytes { count: extra }
                )
            );
        }
    }
    // Inside the body, behind a correct checksum, in every kind.
    for file in sample_files() {
        let file = reseal(&file, |b| b.extend_from_slice(&[0, 0]));
        let (body_offset, b) = body_of(&file);
        assert_eq!(
            decode_any(&file).unwrap_err(),
            err(
                body_offset + b.len() - 2,
                Field::EndOfBody,
                DecodeErrorKind::TrailingBytes { count: 2 }
            )
        );
    }
    let file = reseal(&gsi().to_bytes_version(1).unwrap(), |b| b.push(0x7f));
    assert_eq!(
        IdAllocator::from_bytes(&file).unwrap_err(),
        err(
            20,
            Field::EndOfBody,
            DecodeErrorKind::TrailingBytes { count: 1 }
        )
    );
}

#[test]
fn body_length_limits() {
    // Overlong: 8 written as 88 00.
    let mut file = gsi().to_bytes_version(1).unwrap();
    file.splice(11..12, [0x88, 0x00]);
    assert_eq!(
        IdAllocator::from_bytes(&file).unwrap_err(),
        err(11, Field::BodyLength, DecodeErrorKind::OverlongVarint)
    );
    for version in [1u8, 2] {
        // Beyond the file size limit: refused as a value before anything else.
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&[version, 0, ID]);
        file.extend(varint(1 << 60));
        assert_eq!(
            IdAllocator::from_bytes(&file).unwrap_err(),
            err(
                11,
                Field::BodyLength,
                DecodeErrorKind::ValueOutOfRange {
                    value: 1 << 60,
                    max: 1 << 30
                }
            )
        );
        // Over 64 bits.
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&[version, 0, ID]);
        file.extend_from_slice(&[0xff; 10]);
        assert_eq!(
            IdAllocator::from_bytes(&file).unwrap_err(),
            err(11, Field::BodyLength, DecodeErrorKind::VarintTooLarge)
        );
    }
}

#[test]
fn files_over_the_size_limit_are_refused_unread() {
    // Zeroed memory from the allocator: the pages are never touched.
    let huge = vec![0u8; MAX_FILE_SIZE + 1];
    let expected = err(
        0,
        Field::File,
        DecodeErrorKind::FileTooLarge {
            size: MAX_FILE_SIZE as u64 + 1,
            max: MAX_FILE_SIZE as u64,
        },
    );
    let (e, peak) = measure(|| AddressAllocator::from_bytes(&huge).unwrap_err());
    assert_eq!(e, expected);
    assert_eq!(peak, 0);
    assert_eq!(Delta::from_bytes(&huge).unwrap_err(), expected);
    assert_eq!(spec::read(&huge, None).unwrap_err(), expected);
}

// ---------------------------------------------------------------------------
// Body fields of both versions.

#[test]
fn overlong_varints_are_refused_in_every_field() {
    for file in sample_files() {
        let spans = spec::read(&file, None).unwrap().spans;
        let (body_offset, _) = body_of(&file);
        for s in spans {
            if matches!(s.slot, Slot::Byte | Slot::U32) {
                continue;
            }
            // Append an empty 7-bit group to the varint at the field's start
            // (for a name, its length).
            let file = reseal(&file, |b| {
                let mut end = s.offset - body_offset;
                while b[end] & 0x80 != 0 {
                    end += 1;
                }
                b[end] |= 0x80;
                b.insert(end + 1, 0x00);
            });
            // The body length may have grown by a byte.
            let (new_offset, b) = body_of(&file);
            let shift = new_offset - body_offset;
            // A 10-byte varint cannot grow: an 11th byte is over 64 bits.
            let at = s.offset - body_offset;
            let length = b[at..].iter().position(|x| x & 0x80 == 0).unwrap() + 1;
            let expected = if length > 10 {
                DecodeErrorKind::VarintTooLarge
            } else {
                DecodeErrorKind::OverlongVarint
            };
            let mut expected = err(s.offset + shift, s.field, expected);
            if let Some(p) = s.pool {
                expected = expected.in_pool(p);
            }
            assert_eq!(decode_any(&file).unwrap_err(), expected, "{}", s.field);
        }
    }
}

#[test]
fn varints_over_64_bits_are_refused() {
    let mut b = body(&[0x1000]);
    b.extend_from_slice(&[0xff; 9]);
    b.push(0x02);
    b.push(0);
    assert_eq!(
        AddressAllocator::from_bytes(&seal(ADDRESS, &b)).unwrap_err(),
        err(14, Field::SpaceEnd, DecodeErrorKind::VarintTooLarge)
    );
    // The 10th byte with its high bit set is over 64 bits too.
    let mut b = body(&[0, 0]);
    b.extend_from_slice(&[0xff; 9]);
    b.push(0x81);
    assert_eq!(
        AddressAllocator::from_bytes(&seal2(ADDRESS, &b)).unwrap_err(),
        err(14, Field::SpaceStart, DecodeErrorKind::VarintTooLarge)
    );
}

#[test]
fn u32_fields_refuse_larger_values() {
    let too_big = 1u64 << 32;
    let cases: [(&[u64], usize, Field, u64); 5] = [
        (&[too_big, 0, 0, 0], 12, Field::RangeBase, u32::MAX.into()),
        (&[0, too_big, 0, 0], 13, Field::RangeEnd, u32::MAX.into()),
        (&[0, 9, too_big + 1, 0], 14, Field::NextId, too_big),
        (
            &[0, 9, 10, 1, too_big, 0],
            16,
            Field::RunStart { index: 0 },
            u32::MAX.into(),
        ),
        (
            &[0, 9, 10, 1, 0, too_big],
            17,
            Field::RunLength { index: 0 },
            u32::MAX.into(),
        ),
    ];
    for (values, offset, field, max) in cases {
        let value = *values.iter().max().unwrap();
        assert_eq!(
            IdAllocator::from_bytes(&seal(ID, &body(values))).unwrap_err(),
            err(
                offset,
                field,
                DecodeErrorKind::ValueOutOfRange { value, max }
            ),
            "{field}"
        );
        // Version 2: the owner count and the generation come first.
        let mut v2 = vec![0, 0];
        v2.extend_from_slice(values);
        if values.len() > 4 {
            v2.push(0);
        }
        assert_eq!(
            IdAllocator::from_bytes(&seal2(ID, &body(&v2))).unwrap_err(),
            err(
                offset + 2,
                field,
                DecodeErrorKind::ValueOutOfRange { value, max }
            ),
            "{field}"
        );
    }
}

#[test]
fn huge_counts_are_refused_before_any_allocation() {
    // (version, kind, the pieces before the count, its field, m)
    let cases: Vec<(u16, u8, Vec<u8>, Field, u64)> = vec![
        (1, ADDRESS, body(&[0, 0xffff]), Field::AllocationCount, 2),
        (1, ID, body(&[0, 0xffff, 0]), Field::RunCount, 2),
        (
            2,
            ADDRESS,
            body(&[0, 0, 0, 0xffff]),
            Field::AllocationCount,
            3,
        ),
        (2, ID, body(&[0, 0, 0, 0xffff, 0]), Field::RunCount, 3),
        (2, ID, vec![], Field::OwnerCount, 2),
        (2, SET, vec![], Field::OwnerCount, 2),
        (2, SET, body(&[0, 0]), Field::PoolCount, 2),
        (2, DELTA, vec![], Field::OwnerCount, 2),
        (
            2,
            DELTA,
            parts(&[V(0), B(&[3]), V(0), B(&[0; 4]), V(1), B(&[0; 4])]),
            Field::ChangedPoolCount,
            2,
        ),
        (
            2,
            DELTA,
            parts(&[V(0), B(&[2]), V(0), B(&[0; 4]), V(1), B(&[0; 4])]),
            Field::FreedCount,
            3,
        ),
        (
            2,
            DELTA,
            parts(&[
                V(0),
                B(&[1]),
                V(0),
                B(&[0; 4]),
                V(1),
                B(&[0; 4]),
                V(0),
                V(1),
                V(0),
            ]),
            Field::AllocatedCount,
            3,
        ),
    ];
    for (version, kind, prefix, field, m) in cases {
        for count in [7u64, 1 << 20, 1 << 60, u64::MAX] {
            let mut b = prefix.clone();
            b.extend(varint(count));
            b.extend([0; 6]); // room for 6 / m items
            let file = seal_version(version, kind, &b);
            let (e, peak) = measure(|| decode_as(&file, kind).unwrap_err());
            assert_eq!(
                e,
                err(
                    12 + prefix.len(),
                    field,
                    DecodeErrorKind::CountTooLarge { count, max: 6 / m }
                ),
                "{field} {count}"
            );
            assert_eq!(spec::read(&file, None).unwrap_err(), e);
            assert!(peak <= 256, "refusing a count allocated {peak} bytes");
        }
    }
    // Inside a pool of a set: the count of the pool's record.
    let mut b = parts(&[V(0), V(0), V(1), N("gsi"), B(&[1]), V(0), V(0), V(9), V(0)]);
    let at = 12 + b.len();
    b.extend(varint(1 << 60));
    let file = seal2(SET, &b);
    let (e, peak) = measure(|| ResourceSet::from_bytes(&file).unwrap_err());
    assert_eq!(
        e,
        err(
            at,
            Field::RunCount,
            DecodeErrorKind::CountTooLarge {
                count: 1 << 60,
                max: 0
            }
        )
        .in_pool(0)
    );
    assert!(peak <= 256, "{peak}");
    // A count the body could hold but does not: the first missing field is
    // truncated.
    let file = seal(ADDRESS, &body(&[0, 0xffff, 2, 0, 0xfff, 0]));
    assert_eq!(
        AddressAllocator::from_bytes(&file).unwrap_err(),
        err(
            21,
            Field::AllocationLength { index: 1 },
            DecodeErrorKind::Truncated {
                needed: 1,
                available: 0
            }
        )
    );
}

#[test]
fn decoding_allocates_a_small_multiple_of_the_input() {
    let pages = packed_pages(10_000);
    let mut set = ResourceSet::x86_64();
    let o = owner("dev");
    for _ in 0..2_000 {
        set.owned_by(&o)
            .allocate("mmio64", 0x1000, 0x1000, AllocPolicy::FirstMatch)
            .unwrap();
        set.allocate_id("msi_gsi").unwrap();
    }
    let mut emptied = set.clone();
    emptied.free_owner("dev");
    let delta = Delta::between(&set, &emptied).unwrap();
    for file in [
        pages.to_bytes_version(1).unwrap(),
        pages.to_bytes(),
        big_ids().to_bytes_version(1).unwrap(),
        big_ids().to_bytes(),
        mmio().to_bytes(),
        set.to_bytes(),
        delta.to_bytes(),
    ] {
        let (result, peak) = measure(|| decode_any(&file).map(|_| ()));
        result.unwrap();
        // The tree holds 16 bytes per item and takes 2 or more bytes of
        // input per item, a delta 32 bytes per change of 3 bytes or more;
        // small files pay for a few tree nodes. (The re-encoding counts
        // too: its output is the size of the input.)
        assert!(
            peak <= 16 * file.len() + 16384,
            "{} bytes in, {peak} bytes allocated",
            file.len()
        );
    }
    // Bodies that fail half-way release everything they built.
    let mut values = vec![1 << 32, (1 << 33) - 1, 10_000];
    for _ in 0..9_999 {
        values.extend([0, 0xfff]);
    }
    values.extend([1 << 33, 0xfff]); // the last one lies past the space
    let file = seal(ADDRESS, &body(&values));
    let before = LIVE.with(Cell::get);
    let e = AddressAllocator::from_bytes(&file).unwrap_err();
    assert_eq!(e.field, Field::AllocationStart { index: 9_999 });
    assert!(matches!(
        e.kind,
        DecodeErrorKind::InvalidState(StateError::OutOfRange { .. })
    ));
    assert_eq!(LIVE.with(Cell::get), before);
    // A set whose last pool fails after the others were built.
    let file = reseal(&set.to_bytes(), |b| {
        let n = b.len();
        b[n - 1] = 0x7f; // pio's allocation owner: no such name
    });
    let before = LIVE.with(Cell::get);
    let e = ResourceSet::from_bytes(&file).unwrap_err();
    assert_eq!(e.pool, Some(6));
    assert_eq!(LIVE.with(Cell::get), before);
}

// ---------------------------------------------------------------------------
// Invalid states behind a correct checksum: version 1.

#[test]
fn address_spaces_must_be_valid() {
    // Inverted.
    assert_eq!(
        AddressAllocator::from_bytes(&seal(ADDRESS, &body(&[0x2000, 0x1000, 0]))).unwrap_err(),
        err(
            14,
            Field::SpaceEnd,
            state(StateError::InvalidSpace {
                start: 0x2000,
                end: 0x1000
            })
        )
    );
    // The whole u64 space.
    assert_eq!(
        AddressAllocator::from_bytes(&seal(ADDRESS, &body(&[0, u64::MAX, 0]))).unwrap_err(),
        err(
            13,
            Field::SpaceEnd,
            state(StateError::InvalidSpace {
                start: 0,
                end: u64::MAX
            })
        )
    );
    // The rule comes after the header and before the count: a bad space
    // with a count that is too large reports the space ...
    assert_eq!(
        AddressAllocator::from_bytes(&seal(ADDRESS, &body(&[0x2000, 0x1000, 99]))).unwrap_err(),
        err(
            14,
            Field::SpaceEnd,
            state(StateError::InvalidSpace {
                start: 0x2000,
                end: 0x1000
            })
        )
    );
    // ... and with the space end cut short, the truncation.
    assert_eq!(
        AddressAllocator::from_bytes(&seal(ADDRESS, &[0x80, 0x40, 0x80])).unwrap_err(),
        err(
            14,
            Field::SpaceEnd,
            DecodeErrorKind::Truncated {
                needed: 2,
                available: 1
            }
        )
    );
}

#[test]
fn allocations_outside_the_space_are_refused() {
    let space = [0x1000, 0xffff];
    // Starts past the end.
    let file = seal(ADDRESS, &body(&[space[0], space[1], 1, 0xf000, 0]));
    assert_eq!(
        AddressAllocator::from_bytes(&file).unwrap_err(),
        err(
            18,
            Field::AllocationStart { index: 0 },
            state(StateError::OutOfRange {
                index: 0,
                start: 0x10000,
                end: 0x10000,
                space_start: 0x1000,
                space_end: 0xffff
            })
        )
    );
    // Starts inside, ends past the end; the second allocation is the bad one.
    let file = seal(
        ADDRESS,
        &body(&[space[0], space[1], 2, 0, 0xfff, 0, 0xf000]),
    );
    assert_eq!(
        AddressAllocator::from_bytes(&file).unwrap_err(),
        err(
            21,
            Field::AllocationStart { index: 1 },
            state(StateError::OutOfRange {
                index: 1,
                start: 0x2000,
                end: 0x11000,
                space_start: 0x1000,
                space_end: 0xffff
            })
        )
    );
    // The item's fields are read before its rule: a bad item followed by
    // a missing field of the same item is a truncation (version 2: the
    // owner is missing).
    let file = seal2(ADDRESS, &body(&[0, 0, space[0], space[1], 1, 0xf000, 0]));
    assert_eq!(
        AddressAllocator::from_bytes(&file).unwrap_err(),
        err(
            24,
            Field::AllocationOwner { index: 0 },
            DecodeErrorKind::Truncated {
                needed: 1,
                available: 0
            }
        )
    );
}

#[test]
fn errors_name_the_right_item_anywhere_in_a_long_list() {
    // Packed pages with one bad allocation at `bad`: past the space end, or
    // cut short. Items are decoded in batches; the index must not drift.
    for bad in [0u64, 1, 63, 64, 65, 127, 128, 199] {
        let mut values = vec![0, (1 << 20) - 1, 200];
        for i in 0..200 {
            let gap = if i == bad { 1 << 20 } else { 0 };
            values.extend([gap, 0xfff]);
        }
        let file = seal(ADDRESS, &body(&values));
        let prefix = body(&values[..3 + 2 * bad as usize]).len();
        let (body_offset, _) = body_of(&file);
        let e = AddressAllocator::from_bytes(&file).unwrap_err();
        assert_eq!(
            (e.offset, e.field),
            (body_offset + prefix, Field::AllocationStart { index: bad }),
            "{bad}"
        );
        assert!(
            matches!(e.kind, DecodeErrorKind::InvalidState(StateError::OutOfRange { index, .. }) if index == bad),
            "{bad}: {e}"
        );
        // The same list, with item `bad` last and its length cut short.
        let mut declared = values[..3 + 2 * bad as usize].to_vec();
        declared[2] = bad + 1;
        declared.push(0);
        let mut b = body(&declared);
        b.extend_from_slice(&[0x80, 0x80]); // a length that never ends
        let file = seal(ADDRESS, &b);
        let e = AddressAllocator::from_bytes(&file).unwrap_err();
        assert_eq!(e.field, Field::AllocationLength { index: bad }, "{bad}");
        assert!(
            matches!(
                e.kind,
                DecodeErrorKind::Truncated {
                    needed: 3,
                    available: 2
                }
            ),
            "{e}"
        );
    }
}

#[test]
fn unsorted_overlapping_and_inverted_allocations_cannot_be_expressed() {
    // Every position is a distance past the previous allocation's end, and
    // every length is stored minus one: a writer that wraps a "negative"
    // delta produces a delta that runs past u64::MAX.
    let space = [0x1000u64, 0xffff];
    let first = [0x1000u64, 0xfff]; // 0x2000..=0x2fff, cursor 0x3000 after it
    let cases = [
        // Unsorted: 0x1000..=0x1fff after 0x2000..=0x2fff.
        ("unsorted", 0x1000u64.wrapping_sub(0x3000), 0xfff, true),
        // Overlapping: 0x2800..=0x37ff.
        ("overlap", 0x2800u64.wrapping_sub(0x3000), 0xfff, true),
        // Inverted: 0x4000..=0x3fff - 0x10.
        ("inverted", 0x1000, 0u64.wrapping_sub(0x11), false),
    ];
    for (what, gap, len_minus_one, bad_gap) in cases {
        let file = seal(
            ADDRESS,
            &body(&[
                space[0],
                space[1],
                2,
                first[0],
                first[1],
                gap,
                len_minus_one,
            ]),
        );
        let e = AddressAllocator::from_bytes(&file).unwrap_err();
        let (offset, field, value) = if bad_gap {
            (22, Field::AllocationStart { index: 1 }, gap)
        } else {
            (24, Field::AllocationLength { index: 1 }, len_minus_one)
        };
        assert_eq!(
            e,
            err(offset, field, DecodeErrorKind::Overflow { value }),
            "{what}"
        );
    }
    // Nothing can follow an allocation that ends at u64::MAX.
    let file = seal(ADDRESS, &body(&[1, u64::MAX, 2, u64::MAX - 1, 0, 0, 0]));
    let e = AddressAllocator::from_bytes(&file).unwrap_err();
    assert_eq!(
        e,
        err(
            35,
            Field::AllocationStart { index: 1 },
            DecodeErrorKind::Overflow { value: 0 }
        )
    );
}

#[test]
fn id_ranges_and_next_id_must_be_valid() {
    assert_eq!(
        IdAllocator::from_bytes(&seal(ID, &body(&[10, 9, 0, 0]))).unwrap_err(),
        err(
            13,
            Field::RangeEnd,
            state(StateError::InvalidIdRange { base: 10, end: 9 })
        )
    );
    // The header is read in full before its rules: an inverted range with
    // a truncated or overlong next id reports the next id.
    assert_eq!(
        IdAllocator::from_bytes(&seal(ID, &[10, 9, 0x80])).unwrap_err(),
        err(
            14,
            Field::NextId,
            DecodeErrorKind::Truncated {
                needed: 2,
                available: 1
            }
        )
    );
    assert_eq!(
        IdAllocator::from_bytes(&seal(ID, &[10, 9, 0x80, 0x00, 0])).unwrap_err(),
        err(14, Field::NextId, DecodeErrorKind::OverlongVarint)
    );
    assert_eq!(
        IdAllocator::from_bytes(&seal(ID, &body(&[10, 9, 1 << 40, 0]))).unwrap_err(),
        err(
            14,
            Field::NextId,
            DecodeErrorKind::ValueOutOfRange {
                value: 1 << 40,
                max: 1 << 32
            }
        )
    );
    // Both rules fail: the range is reported (rules in order).
    assert_eq!(
        IdAllocator::from_bytes(&seal(ID, &body(&[10, 9, 100, 0]))).unwrap_err(),
        err(
            13,
            Field::RangeEnd,
            state(StateError::InvalidIdRange { base: 10, end: 9 })
        )
    );
    // Header rules come before the count: a range rule beats a bad count.
    assert_eq!(
        IdAllocator::from_bytes(&seal(ID, &body(&[10, 9, 0, 127]))).unwrap_err(),
        err(
            13,
            Field::RangeEnd,
            state(StateError::InvalidIdRange { base: 10, end: 9 })
        )
    );
    // next_id may be range_end + 1, not more.
    assert!(IdAllocator::from_bytes(&seal(ID, &body(&[5, 23, 19, 0]))).is_ok());
    assert_eq!(
        IdAllocator::from_bytes(&seal(ID, &body(&[5, 23, 20, 0]))).unwrap_err(),
        err(
            14,
            Field::NextId,
            state(StateError::NextIdOutOfRange {
                next_id: 25,
                base: 5,
                end: 23
            })
        )
    );
    // The top of the u32 range.
    let top = seal(
        ID,
        &body(&[0, u32::MAX.into(), 1 << 32, 1, u32::MAX.into(), 0]),
    );
    let a = IdAllocator::from_bytes(&top).unwrap();
    assert!(a.is_allocated(u32::MAX));
    assert_eq!(a.to_bytes_version(1).unwrap(), top);
}

#[test]
fn ids_outside_the_range_or_above_next_id_are_refused() {
    // Run past the range end.
    let file = seal(ID, &body(&[5, 23, 19, 1, 10, 9]));
    assert_eq!(
        IdAllocator::from_bytes(&file).unwrap_err(),
        err(
            16,
            Field::RunStart { index: 0 },
            state(StateError::OutOfRange {
                index: 0,
                start: 15,
                end: 24,
                space_start: 5,
                space_end: 23
            })
        )
    );
    // Second run at or above next_id.
    let file = seal(ID, &body(&[5, 23, 5, 2, 0, 0, 3, 0]));
    assert_eq!(
        IdAllocator::from_bytes(&file).unwrap_err(),
        err(
            18,
            Field::RunStart { index: 1 },
            state(StateError::AboveNextId {
                index: 1,
                end: 10,
                next_id: 10
            })
        )
    );
    // Both rules fail: out of range first.
    let file = seal(ID, &body(&[5, 23, 5, 1, 30, 0]));
    assert!(matches!(
        IdAllocator::from_bytes(&file).unwrap_err().kind,
        DecodeErrorKind::InvalidState(StateError::OutOfRange { .. })
    ));
    // A freed-everything state is valid: no runs, next_id above the base.
    let file = seal(ID, &body(&[5, 23, 5, 0]));
    let mut a = IdAllocator::from_bytes(&file).unwrap();
    assert_eq!(
        a.free_id(7).unwrap_err(),
        vm_allocator::Error::AlreadyReleased(7)
    );
}

#[test]
fn touching_runs_cannot_be_expressed_in_version_1() {
    // Runs 5..=6 and 7..=8: the second run's gap would be 7 - (6 + 2) = -1.
    // Gap 0 already means "one free id between": 8..=9, not touching.
    let file = seal(ID, &body(&[5, 23, 6, 2, 0, 1, 0, 1]));
    let a = IdAllocator::from_bytes(&file).unwrap();
    assert_eq!(a.runs().collect::<Vec<_>>(), vec![5..=6, 8..=9]);
    // A wrapped -1 is out of the u32 range of the field ...
    let file = seal(ID, &body(&[5, 23, 6, 2, 0, 1, u64::MAX, 1]));
    assert_eq!(
        IdAllocator::from_bytes(&file).unwrap_err(),
        err(
            18,
            Field::RunStart { index: 1 },
            DecodeErrorKind::ValueOutOfRange {
                value: u64::MAX,
                max: u32::MAX.into()
            }
        )
    );
    // ... and a -1 wrapped in 32 bits lands past the range end.
    let file = seal(ID, &body(&[5, 23, 6, 2, 0, 1, u32::MAX.into(), 1]));
    let e = IdAllocator::from_bytes(&file).unwrap_err();
    assert_eq!((e.offset, e.field), (18, Field::RunStart { index: 1 }));
    assert!(matches!(
        e.kind,
        DecodeErrorKind::InvalidState(StateError::OutOfRange { index: 1, .. })
    ));
}

// ---------------------------------------------------------------------------
// Version 2: the owner table.

/// A version 2 id allocator body around an owner table: range 5..=23, next
/// id 10, with `runs` as (gap, length - 1, owner) triples.
fn ids_v2(table: &[u8], runs: &[[u64; 3]]) -> Vec<u8> {
    let mut b = table.to_vec();
    b.extend(body(&[1, 5, 23, 5, runs.len() as u64]));
    for run in runs {
        b.extend(body(run));
    }
    seal2(ID, &b)
}

#[test]
fn owner_tables_are_read_as_the_spec_says() {
    let table = |names: &[&[u8]]| {
        let mut t = varint(names.len() as u64);
        for n in names {
            t.extend(varint(n.len() as u64));
            t.extend_from_slice(n);
        }
        t
    };
    let name_error = |index: u64, kind: DecodeErrorKind| err(13, Field::OwnerName { index }, kind);
    let one = |name: &[u8]| ids_v2(&table(&[name]), &[[0, 0, 1]]);
    // Valid names: 64 bytes, any UTF-8 without control characters.
    for ok in [
        "x".repeat(64).as_bytes(),
        "é".as_bytes(),
        "a b".as_bytes(),
        "\u{a0}\u{10ffff}".as_bytes(),
    ] {
        let a = IdAllocator::from_bytes(&one(ok)).unwrap();
        assert_eq!(a.owner_at(5).unwrap().as_bytes(), ok);
    }
    // Lengths.
    assert_eq!(
        IdAllocator::from_bytes(&one(b"")).unwrap_err(),
        name_error(0, DecodeErrorKind::InvalidName(NameError::Empty))
    );
    assert_eq!(
        IdAllocator::from_bytes(&one("x".repeat(65).as_bytes())).unwrap_err(),
        name_error(0, DecodeErrorKind::ValueOutOfRange { value: 65, max: 64 })
    );
    // A length over 64 is refused before the bytes are looked at.
    assert_eq!(
        IdAllocator::from_bytes(&seal2(ID, &body(&[1, u64::MAX]))).unwrap_err(),
        name_error(
            0,
            DecodeErrorKind::ValueOutOfRange {
                value: u64::MAX,
                max: 64
            }
        )
    );
    // Bytes missing: placed at the name, with what the body still holds.
    assert_eq!(
        IdAllocator::from_bytes(&seal2(ID, &[1, 10, b'a', b'b'])).unwrap_err(),
        name_error(
            0,
            DecodeErrorKind::Truncated {
                needed: 10,
                available: 2
            }
        )
    );
    // The length itself cut short or overlong.
    assert_eq!(
        IdAllocator::from_bytes(&seal2(ID, &[1, 0x81, 0x81])).unwrap_err(),
        name_error(
            0,
            DecodeErrorKind::Truncated {
                needed: 3,
                available: 2
            }
        )
    );
    assert_eq!(
        IdAllocator::from_bytes(&seal2(ID, &[1, 0x81, 0x00, b'a'])).unwrap_err(),
        name_error(0, DecodeErrorKind::OverlongVarint)
    );
    // UTF-8: `at` is the length of the longest UTF-8 prefix.
    let utf8_cases: [(&[u8], usize); 10] = [
        (b"\x80", 0),             // a lone continuation byte
        (b"ab\xc3", 2),           // a character cut short
        (b"a\xc3\x28", 1),        // a bad continuation
        (b"\xc0\x80", 0),         // overlong NUL
        (b"\xe0\x80\x80", 0),     // overlong 3-byte
        (b"x\xed\xa0\x80", 1),    // a surrogate
        (b"\xf4\x90\x80\x80", 0), // above U+10FFFF
        (b"\xf5\x80\x80\x80", 0), // never a first byte
        (b"ok\xff", 2),
        (b"\xe2\x82\xac\xe2\x82", 3), // the euro sign, then a cut one
    ];
    for (bytes, at) in utf8_cases {
        assert_eq!(
            IdAllocator::from_bytes(&one(bytes)).unwrap_err(),
            name_error(0, DecodeErrorKind::InvalidUtf8 { at }),
            "{bytes:02x?}"
        );
    }
    // Control characters: C0, DEL and C1, at their byte offset.
    let control_cases: [(&str, usize); 5] = [
        ("\0", 0),
        ("net\n0", 3),
        ("tab\there", 3),
        ("é\u{7f}", 2),
        ("ab\u{85}", 2),
    ];
    for (name, offset) in control_cases {
        assert_eq!(
            IdAllocator::from_bytes(&one(name.as_bytes())).unwrap_err(),
            name_error(
                0,
                DecodeErrorKind::InvalidName(NameError::ControlCharacter { offset })
            ),
            "{name:?}"
        );
    }
    // Order: strictly increasing bytes; the later name is reported, and it
    // is checked after its own rules.
    let order_cases: [(&[&[u8]], u64); 4] = [
        (&[b"b", b"a"], 1),
        (&[b"a", b"a"], 1),
        (&[b"ab", b"a"], 1),
        (&[b"a", b"b", b"\xc3\xa9", b"c"], 3), // "é" is c3 a9, after "c"
    ];
    for (names, index) in order_cases {
        let t = table(names);
        let runs: Vec<[u64; 3]> = (0..names.len() as u64).map(|i| [0, 0, i + 1]).collect();
        let file = ids_v2(&t, &runs);
        let offset = 13
            + names[..index as usize]
                .iter()
                .map(|n| n.len() + 1)
                .sum::<usize>();
        assert_eq!(
            IdAllocator::from_bytes(&file).unwrap_err(),
            err(
                offset,
                Field::OwnerName { index },
                DecodeErrorKind::UnsortedOwners
            ),
            "{names:?}"
        );
    }
    // A bad later name is refused by its own rules before the order.
    let t = table(&[b"b", b"\x80"]);
    assert_eq!(
        IdAllocator::from_bytes(&ids_v2(&t, &[])).unwrap_err(),
        err(
            15,
            Field::OwnerName { index: 1 },
            DecodeErrorKind::InvalidUtf8 { at: 0 }
        )
    );
    // "a" < "ab" < "b".
    let t = table(&[b"a", b"ab", b"b"]);
    let a = IdAllocator::from_bytes(&ids_v2(&t, &[[0, 0, 3], [0, 0, 1], [0, 0, 2]])).unwrap();
    assert_eq!(a.owner_at(5).unwrap().as_str(), "b");
    assert_eq!(a.owner_at(7).unwrap().as_str(), "ab");
}

#[test]
fn owner_references_and_unused_owners() {
    let t = parts(&[V(2), N("a"), N("b")]);
    // A reference above the table's size.
    assert_eq!(
        IdAllocator::from_bytes(&ids_v2(&t, &[[0, 0, 3]])).unwrap_err(),
        err(
            24,
            Field::RunOwner { index: 0 },
            DecodeErrorKind::ValueOutOfRange { value: 3, max: 2 }
        )
    );
    // Any reference into an empty table.
    assert_eq!(
        IdAllocator::from_bytes(&ids_v2(&[0], &[[0, 0, 1]])).unwrap_err(),
        err(
            20,
            Field::RunOwner { index: 0 },
            DecodeErrorKind::ValueOutOfRange { value: 1, max: 0 }
        )
    );
    // The first unused name (by position) is reported, after the items.
    assert_eq!(
        IdAllocator::from_bytes(&ids_v2(&t, &[[0, 0, 0]])).unwrap_err(),
        err(
            13,
            Field::OwnerName { index: 0 },
            DecodeErrorKind::UnusedOwner
        )
    );
    assert_eq!(
        IdAllocator::from_bytes(&ids_v2(&t, &[[0, 0, 1]])).unwrap_err(),
        err(
            15,
            Field::OwnerName { index: 1 },
            DecodeErrorKind::UnusedOwner
        )
    );
    // The end of the body is checked before unused owners ...
    let file = reseal(&ids_v2(&t, &[[0, 0, 1]]), |b| b.push(0));
    assert_eq!(
        IdAllocator::from_bytes(&file).unwrap_err(),
        err(
            25,
            Field::EndOfBody,
            DecodeErrorKind::TrailingBytes { count: 1 }
        )
    );
    // ... and every item before either.
    assert_eq!(
        IdAllocator::from_bytes(&ids_v2(&t, &[[0, 0, 1], [20, 0, 0]])).unwrap_err(),
        err(
            25,
            Field::RunStart { index: 1 },
            state(StateError::OutOfRange {
                index: 1,
                start: 26,
                end: 26,
                space_start: 5,
                space_end: 23
            })
        )
    );
    // Address allocators: the same table rules.
    let file = seal2(
        ADDRESS,
        &parts(&[V(1), N("a"), V(0), V(0), V(0xffff), V(1), V(0), V(0), V(2)]),
    );
    assert_eq!(
        AddressAllocator::from_bytes(&file).unwrap_err(),
        err(
            23,
            Field::AllocationOwner { index: 0 },
            DecodeErrorKind::ValueOutOfRange { value: 2, max: 1 }
        )
    );
    let file = seal2(
        ADDRESS,
        &parts(&[V(1), N("a"), V(0), V(0), V(0xffff), V(1), V(0), V(0), V(0)]),
    );
    assert_eq!(
        AddressAllocator::from_bytes(&file).unwrap_err(),
        err(
            13,
            Field::OwnerName { index: 0 },
            DecodeErrorKind::UnusedOwner
        )
    );
}

#[test]
fn runs_of_version_2_touch_only_with_different_owners() {
    let t = parts(&[V(2), N("a"), N("b")]);
    // 5..=5 a, 6..=6 b, 7..=7 none, 8..=8 a: every neighbour differs.
    let file = ids_v2(&t, &[[0, 0, 1], [0, 0, 2], [0, 0, 0], [0, 0, 1]]);
    let a = IdAllocator::from_bytes(&file).unwrap();
    assert_eq!(a.runs().collect::<Vec<_>>(), vec![5..=8]);
    assert_eq!(a.to_bytes(), file);
    for (runs, index, start) in [
        (&[[0, 0, 1], [0, 0, 1]][..], 1u64, 6u64),
        (&[[0, 0, 1], [0, 0, 2], [0, 0, 0], [0, 1, 0]][..], 3, 8),
    ] {
        let file = ids_v2(&t, runs);
        let offset = 12 + t.len() + 5 + 3 * index as usize;
        assert_eq!(
            IdAllocator::from_bytes(&file).unwrap_err(),
            err(
                offset,
                Field::RunStart { index },
                state(StateError::TouchingRuns { index, start })
            )
        );
    }
    // Touching and at the next id: the next id rule comes first.
    let file = ids_v2(&t, &[[4, 0, 1], [0, 0, 1]]);
    assert!(matches!(
        IdAllocator::from_bytes(&file).unwrap_err().kind,
        DecodeErrorKind::InvalidState(StateError::AboveNextId { index: 1, .. })
    ));
    // A generation of 64 bits, and one over.
    let mut b = vec![0];
    b.extend(varint(u64::MAX));
    b.extend(body(&[0, 9, 0, 0]));
    assert_eq!(
        IdAllocator::from_bytes(&seal2(ID, &b))
            .unwrap()
            .generation(),
        u64::MAX
    );
    let mut b = vec![0];
    b.extend([0xff; 9]);
    b.push(0x02);
    assert_eq!(
        IdAllocator::from_bytes(&seal2(ID, &b)).unwrap_err(),
        err(13, Field::Generation, DecodeErrorKind::VarintTooLarge)
    );
}

// ---------------------------------------------------------------------------
// Version 2: resource sets.

/// A set body: no owners, generation 1, then `pools` as raw bytes.
fn set_file(count: u64, pools: &[u8]) -> Vec<u8> {
    let mut b = body(&[0, 1, count]);
    b.extend_from_slice(pools);
    seal2(SET, &b)
}

#[test]
fn resource_sets_are_read_as_the_spec_says() {
    let gsi_pool = parts(&[N("gsi"), B(&[1]), V(0), V(5), V(23), V(0), V(0)]);
    let pio_pool = parts(&[N("pio"), B(&[2]), V(0), V(0), V(0xffff), V(0)]);
    let mut two = gsi_pool.clone();
    two.extend(&pio_pool);
    let set = ResourceSet::from_bytes(&set_file(2, &two)).unwrap();
    assert_eq!(set.len(), 2);
    assert_eq!(set.generation(), 1);
    // Pools keep their order: not sorted by name.
    let mut two_reversed = pio_pool.clone();
    two_reversed.extend(&gsi_pool);
    let set = ResourceSet::from_bytes(&set_file(2, &two_reversed)).unwrap();
    let names: Vec<&str> = set.pools().map(|(n, _)| n).collect();
    assert_eq!(names, ["pio", "gsi"]);
    // No pools.
    assert!(ResourceSet::from_bytes(&set_file(0, &[]))
        .unwrap()
        .is_empty());

    // Pool names: their errors carry no pool.
    let file = set_file(1, &parts(&[V(0), V(0)]));
    assert_eq!(
        ResourceSet::from_bytes(&file).unwrap_err(),
        err(
            15,
            Field::PoolName { index: 0 },
            DecodeErrorKind::InvalidName(NameError::Empty)
        )
    );
    let file = set_file(1, &parts(&[N("a\u{1b}"), B(&[1])]));
    assert_eq!(
        ResourceSet::from_bytes(&file).unwrap_err(),
        err(
            15,
            Field::PoolName { index: 0 },
            DecodeErrorKind::InvalidName(NameError::ControlCharacter { offset: 1 })
        )
    );
    // Kind bytes.
    for kind in [0u8, 3, 4, 0xff] {
        let file = set_file(1, &parts(&[N("gsi"), B(&[kind]), V(0), V(0)]));
        assert_eq!(
            ResourceSet::from_bytes(&file).unwrap_err(),
            err(
                19,
                Field::PoolKind { index: 0 },
                DecodeErrorKind::UnknownPoolKind { found: kind }
            )
        );
    }
    let file = set_file(1, &parts(&[N("g")]));
    assert_eq!(
        ResourceSet::from_bytes(&file).unwrap_err(),
        err(
            17,
            Field::PoolKind { index: 0 },
            DecodeErrorKind::Truncated {
                needed: 1,
                available: 0
            }
        )
    );
    // Errors in a pool's record carry the pool.
    let mut bad = gsi_pool.clone();
    bad.extend(parts(&[N("ids"), B(&[1]), V(0), V(9), V(3), V(0), V(0)]));
    assert_eq!(
        ResourceSet::from_bytes(&set_file(2, &bad)).unwrap_err(),
        err(
            32,
            Field::RangeEnd,
            state(StateError::InvalidIdRange { base: 9, end: 3 })
        )
        .in_pool(1)
    );
    let mut bad = gsi_pool.clone();
    bad.extend(parts(&[
        N("pio"),
        B(&[2]),
        V(0),
        V(0),
        V(0xffff),
        V(2),
        V(0),
        V(0),
        V(0),
    ]));
    bad.extend([0x80, 0x80, 0x80]);
    assert_eq!(
        ResourceSet::from_bytes(&set_file(2, &bad)).unwrap_err(),
        err(
            39,
            Field::AllocationStart { index: 1 },
            DecodeErrorKind::Truncated {
                needed: 4,
                available: 3
            }
        )
        .in_pool(1)
    );
    // Two pools with one name: after the second pool's record, at its name,
    // without a pool ...
    let mut dup = gsi_pool.clone();
    dup.extend(parts(&[N("gsi"), B(&[2]), V(0), V(0), V(0xffff), V(0)]));
    assert_eq!(
        ResourceSet::from_bytes(&set_file(2, &dup)).unwrap_err(),
        err(
            25,
            Field::PoolName { index: 1 },
            state(StateError::DuplicatePool {
                index: 1,
                previous: 0
            })
        )
    );
    // ... so an error in that record is reported instead.
    let mut dup = gsi_pool.clone();
    dup.extend(parts(&[N("gsi"), B(&[2]), V(0), V(9), V(3), V(0)]));
    assert_eq!(
        ResourceSet::from_bytes(&set_file(2, &dup)).unwrap_err(),
        err(
            32,
            Field::SpaceEnd,
            state(StateError::InvalidSpace { start: 9, end: 3 })
        )
        .in_pool(1)
    );
    // One owner table for every pool: an owner used only by a later pool
    // is used, and an unused one is found after the last pool.
    let pools = parts(&[
        N("gsi"),
        B(&[1]),
        V(0),
        V(5),
        V(23),
        V(1),
        V(1),
        V(0),
        V(0),
        V(2),
    ]);
    let mut b = parts(&[V(2), N("a"), N("b"), V(0), V(1)]);
    b.extend(&pools);
    let set = ResourceSet::from_bytes(&seal2(SET, &b)).unwrap_err();
    assert_eq!(
        set,
        err(
            13,
            Field::OwnerName { index: 0 },
            DecodeErrorKind::UnusedOwner
        )
    );
    let mut b = parts(&[V(2), N("a"), N("b"), V(0), V(2)]);
    b.extend(&pools);
    b.extend(parts(&[
        N("pio"),
        B(&[2]),
        V(0),
        V(0),
        V(0xffff),
        V(1),
        V(0),
        V(0),
        V(1),
    ]));
    let set = ResourceSet::from_bytes(&seal2(SET, &b)).unwrap();
    assert_eq!(set.ids("gsi").unwrap().owner_at(5).unwrap().as_str(), "b");
    assert_eq!(
        set.addresses("pio").unwrap().owner_at(0).unwrap().as_str(),
        "a"
    );
    // Trailing bytes after the last pool.
    let file = reseal(&set_file(2, &two), |b| b.push(1));
    assert_eq!(
        ResourceSet::from_bytes(&file).unwrap_err(),
        err(
            36,
            Field::EndOfBody,
            DecodeErrorKind::TrailingBytes { count: 1 }
        )
    );
}

// ---------------------------------------------------------------------------
// Version 2: deltas.

/// A delta body: `table`, base kind, generations 3 -> 4 and checksums 0,
/// then `rest`.
fn delta_file(table: &[u8], base_kind: u8, rest: &[u8]) -> Vec<u8> {
    let mut b = table.to_vec();
    b.extend(parts(&[
        B(&[base_kind]),
        V(3),
        B(&[0; 4]),
        V(4),
        B(&[0; 4]),
    ]));
    b.extend_from_slice(rest);
    seal2(DELTA, &b)
}

#[test]
fn delta_headers_are_read_as_the_spec_says() {
    for kind in [0u8, 4, 5, 0xff] {
        assert_eq!(
            Delta::from_bytes(&delta_file(&[0], kind, &[])).unwrap_err(),
            err(
                13,
                Field::BaseKind,
                DecodeErrorKind::UnknownKind { found: kind }
            )
        );
    }
    assert_eq!(
        Delta::from_bytes(&seal2(DELTA, &[0])).unwrap_err(),
        err(
            13,
            Field::BaseKind,
            DecodeErrorKind::Truncated {
                needed: 1,
                available: 0
            }
        )
    );
    assert_eq!(
        Delta::from_bytes(&seal2(DELTA, &[0, 1, 3, 0, 0])).unwrap_err(),
        err(
            15,
            Field::BaseChecksum,
            DecodeErrorKind::Truncated {
                needed: 4,
                available: 2
            }
        )
    );
    assert_eq!(
        Delta::from_bytes(&seal2(DELTA, &[0, 1, 3, 0, 0, 0, 0, 4, 9])).unwrap_err(),
        err(
            20,
            Field::TargetChecksum,
            DecodeErrorKind::Truncated {
                needed: 4,
                available: 1
            }
        )
    );
    assert_eq!(
        Delta::from_bytes(&seal2(DELTA, &[0, 2, 0x80])).unwrap_err(),
        err(
            14,
            Field::BaseGeneration,
            DecodeErrorKind::Truncated {
                needed: 2,
                available: 1
            }
        )
    );
    // Checksums and generations are taken as they are.
    let mut b = parts(&[V(0), B(&[2])]);
    b.extend(varint(u64::MAX));
    b.extend([0xde, 0xad, 0xbe, 0xef]);
    b.extend(varint(0));
    b.extend([1, 2, 3, 4]);
    b.extend([0, 0]);
    let d = Delta::from_bytes(&seal2(DELTA, &b)).unwrap();
    assert_eq!(
        (
            d.base_generation(),
            d.base_checksum(),
            d.target_generation(),
            d.target_checksum()
        ),
        (u64::MAX, 0xefbe_adde, 0, 0x0403_0201)
    );
    assert!(d.diff().is_empty());
    assert_eq!(d.kind(), FileKind::AddressAllocator);
}

#[test]
fn delta_lists_are_read_as_the_spec_says() {
    // Offsets: the body starts at 12; no owners (1 byte), the header ends
    // at 12 + 1 + 11 = 24.
    let t = [0u8];
    // Ids: next ids, bounded by 2^32.
    let file = delta_file(&t, ID, &body(&[(1 << 32) + 1, 0, 0, 0]));
    assert_eq!(
        Delta::from_bytes(&file).unwrap_err(),
        err(
            24,
            Field::NextId,
            DecodeErrorKind::ValueOutOfRange {
                value: (1 << 32) + 1,
                max: 1 << 32
            }
        )
    );
    let file = delta_file(&t, ID, &body(&[0, (1 << 32) + 1, 0, 0]));
    assert_eq!(
        Delta::from_bytes(&file).unwrap_err(),
        err(
            25,
            Field::NextIdAfter,
            DecodeErrorKind::ValueOutOfRange {
                value: (1 << 32) + 1,
                max: 1 << 32
            }
        )
    );
    // Overflow of the gap and of the length, with cursor 0.
    let file = delta_file(&t, ADDRESS, &body(&[2, u64::MAX, 0, 0, 0, 0, 0]));
    assert_eq!(
        Delta::from_bytes(&file).unwrap_err(),
        err(
            37,
            Field::FreedStart { index: 1 },
            DecodeErrorKind::Overflow { value: 0 }
        )
    );
    let file = delta_file(&t, ADDRESS, &body(&[0, 1, 5, u64::MAX, 0]));
    assert_eq!(
        Delta::from_bytes(&file).unwrap_err(),
        err(
            27,
            Field::AllocatedLength { index: 0 },
            DecodeErrorKind::Overflow { value: u64::MAX }
        )
    );
    // The whole space.
    let file = delta_file(&t, ADDRESS, &body(&[1, 0, u64::MAX, 0, 0]));
    assert_eq!(
        Delta::from_bytes(&file).unwrap_err(),
        err(
            26,
            Field::FreedLength { index: 0 },
            DecodeErrorKind::ValueOutOfRange {
                value: u64::MAX,
                max: u64::MAX - 1
            }
        )
    );
    // Address ranges may end at 2^64 - 1 and touch with one owner.
    let file = delta_file(&t, ADDRESS, &body(&[2, 5, 0, 0, 0, u64::MAX - 6, 0, 0]));
    let d = Delta::from_bytes(&file).unwrap();
    assert_eq!(d.diff().pools()[0].freed()[1].range(), r(6, u64::MAX));
    // Ids: the end bounded by 2^32 - 1 (the value is the end), the gap
    // not bounded on its own.
    let file = delta_file(&t, ID, &body(&[0, 0, 1, 1 << 40, 0, 0]));
    assert_eq!(
        Delta::from_bytes(&file).unwrap_err(),
        err(
            33,
            Field::FreedLength { index: 0 },
            DecodeErrorKind::ValueOutOfRange {
                value: 1 << 40,
                max: u32::MAX.into()
            }
        )
    );
    // Ids: touching ranges with the same owner, in either list.
    let table = parts(&[V(1), N("a")]);
    for (lists, offset, field) in [
        (
            body(&[0, 0, 2, 3, 0, 1, 0, 0, 1, 0]),
            32,
            Field::FreedStart { index: 1 },
        ),
        (
            body(&[0, 0, 0, 2, 3, 0, 0, 0, 0, 0]),
            33,
            Field::AllocatedStart { index: 1 },
        ),
    ] {
        let file = delta_file(&table, ID, &lists);
        assert_eq!(
            Delta::from_bytes(&file).unwrap_err(),
            err(offset, field, DecodeErrorKind::MergeableRuns)
        );
    }
    // With different owners they may touch.
    let file = delta_file(&table, ID, &body(&[0, 0, 2, 3, 0, 1, 0, 0, 0, 0]));
    assert_eq!(Delta::from_bytes(&file).unwrap().diff().len(), 2);
    // Owner references.
    let file = delta_file(&table, ID, &body(&[0, 0, 1, 3, 0, 2, 0]));
    assert_eq!(
        Delta::from_bytes(&file).unwrap_err(),
        err(
            31,
            Field::FreedOwner { index: 0 },
            DecodeErrorKind::ValueOutOfRange { value: 2, max: 1 }
        )
    );
    let file = delta_file(&table, ID, &body(&[0, 0, 1, 3, 0, 0, 0]));
    assert_eq!(
        Delta::from_bytes(&file).unwrap_err(),
        err(
            13,
            Field::OwnerName { index: 0 },
            DecodeErrorKind::UnusedOwner
        )
    );
    let file = reseal(
        &delta_file(&table, ID, &body(&[0, 0, 1, 3, 0, 0, 0])),
        |b| b.push(0),
    );
    assert_eq!(
        Delta::from_bytes(&file).unwrap_err(),
        err(
            33,
            Field::EndOfBody,
            DecodeErrorKind::TrailingBytes { count: 1 }
        )
    );
}

#[test]
fn deltas_of_sets_are_read_as_the_spec_says() {
    let t = [0u8];
    let gsi = parts(&[
        N("gsi"),
        B(&[1]),
        V(0),
        V(1),
        V(5),
        V(6),
        V(0),
        V(1),
        V(5),
        V(0),
        V(0),
    ]);
    let mut two = gsi.clone();
    two.extend(parts(&[N("pio"), B(&[2]), V(2), V(3), V(0), V(0)]));
    let mut rest = varint(2);
    rest.extend(&two);
    let d = Delta::from_bytes(&delta_file(&t, SET, &rest)).unwrap();
    assert_eq!(d.diff().pools().len(), 2);
    assert_eq!(d.diff().pools()[1].generations(), (2, 3));
    // A pool changed twice: found at the name, before its kind byte.
    let mut rest = varint(2);
    rest.extend(&gsi);
    rest.extend(parts(&[N("gsi")]));
    assert_eq!(
        Delta::from_bytes(&delta_file(&t, SET, &rest)).unwrap_err(),
        err(
            39,
            Field::PoolName { index: 1 },
            DecodeErrorKind::DuplicatePool { previous: 0 }
        )
    );
    // Kind bytes.
    let mut rest = varint(1);
    rest.extend(parts(&[N("gsi"), B(&[7])]));
    assert_eq!(
        Delta::from_bytes(&delta_file(&t, SET, &rest)).unwrap_err(),
        err(
            29,
            Field::PoolKind { index: 0 },
            DecodeErrorKind::UnknownPoolKind { found: 7 }
        )
    );
    // Errors in a pool's changes carry the pool, its generations included.
    let mut rest = varint(2);
    rest.extend(&gsi);
    rest.extend(parts(&[N("pio"), B(&[2])]));
    rest.push(0x80);
    assert_eq!(
        Delta::from_bytes(&delta_file(&t, SET, &rest)).unwrap_err(),
        err(
            44,
            Field::BaseGeneration,
            DecodeErrorKind::Truncated {
                needed: 2,
                available: 1
            }
        )
        .in_pool(1)
    );
    let mut rest = varint(1);
    rest.extend(parts(&[N("gsi"), B(&[1]), V(0), V(1), V(5), V(6), V(1)]));
    rest.extend([0x80, 0x80, 0x80]);
    let e = Delta::from_bytes(&delta_file(&t, SET, &rest)).unwrap_err();
    assert_eq!(
        e,
        err(
            35,
            Field::FreedStart { index: 0 },
            DecodeErrorKind::Truncated {
                needed: 4,
                available: 3
            }
        )
        .in_pool(0)
    );
    assert_eq!(
        e.to_string(),
        "pool #0 freed #0 start at byte 35: truncated: needs 4 bytes, only 3 available"
    );
}

// ---------------------------------------------------------------------------
// Messages and the listing.

/// A caller may build any error with any values (the fields are public):
/// `Display` clamps what it indexes and never panics or overflows.
#[test]
fn messages_never_panic_whatever_values_a_caller_builds() {
    let extremes = [
        DecodeErrorKind::BadMagic {
            found: [0xff; 8],
            found_len: 200,
        },
        DecodeErrorKind::BadMagic {
            found: [0x89; 8],
            found_len: u8::MAX,
        },
        DecodeErrorKind::FileTooLarge {
            size: u64::MAX,
            max: 0,
        },
        DecodeErrorKind::UnsupportedVersion {
            found: u16::MAX,
            supported: &[],
        },
        DecodeErrorKind::WrongKind {
            expected: FileKind::Delta,
            found: u8::MAX,
        },
        DecodeErrorKind::UnknownKind { found: 0 },
        DecodeErrorKind::ChecksumMismatch {
            stored: u32::MAX,
            computed: 0,
        },
        DecodeErrorKind::Truncated {
            needed: 0,
            available: u64::MAX,
        },
        DecodeErrorKind::TrailingBytes { count: u64::MAX },
        DecodeErrorKind::ValueOutOfRange {
            value: 0,
            max: u64::MAX,
        },
        DecodeErrorKind::Overflow { value: u64::MAX },
        DecodeErrorKind::CountTooLarge {
            count: u64::MAX,
            max: u64::MAX,
        },
        DecodeErrorKind::InvalidUtf8 { at: usize::MAX },
        DecodeErrorKind::UnknownPoolKind { found: u8::MAX },
        DecodeErrorKind::DuplicatePool { previous: u64::MAX },
    ];
    for kind in extremes {
        let message = kind.to_string();
        assert!(!message.is_empty(), "{kind:?}");
        let err = DecodeError::new(usize::MAX, Field::Checksum, kind).in_pool(u64::MAX);
        assert!(err.to_string().contains(&message), "{err}");
    }
    // Only the bytes that exist are shown, however long the caller says
    // the magic it found was.
    let long = DecodeErrorKind::BadMagic {
        found: [0xab; 8],
        found_len: 200,
    };
    assert_eq!(long.to_string().matches("ab").count(), 8, "{long}");
}

#[test]
fn every_error_kind_has_a_message_with_the_place() {
    let cases = [
        (
            DecodeErrorKind::FileTooLarge { size: 5, max: 4 },
            "file at byte 0: the input is 5 bytes, over the limit of 4",
        ),
        (
            DecodeErrorKind::Truncated {
                needed: 4,
                available: 1,
            },
            "file at byte 0: truncated: needs 4 bytes, only 1 available",
        ),
        (
            DecodeErrorKind::TrailingBytes { count: 3 },
            "file at byte 0: 3 trailing bytes",
        ),
        (
            DecodeErrorKind::VarintTooLarge,
            "file at byte 0: varint value does not fit in 64 bits",
        ),
        (
            DecodeErrorKind::ValueOutOfRange {
                value: 0x100,
                max: 0xff,
            },
            "file at byte 0: value 0x100 is out of range (at most 0xff)",
        ),
        (
            DecodeErrorKind::BadMagic {
                found: [0; 8],
                found_len: 0,
            },
            "file at byte 0: not a vm-allocator file: found nothing, expected 89 56 4d 41 0d 0a 1a 0a",
        ),
        (
            DecodeErrorKind::UnsupportedVersion {
                found: 7,
                supported: &[1, 2],
            },
            "file at byte 0: unsupported format version 7; this reader supports 1, 2",
        ),
        (
            DecodeErrorKind::InvalidUtf8 { at: 3 },
            "file at byte 0: the name is not valid UTF-8 (byte 3 of the name)",
        ),
        (
            DecodeErrorKind::InvalidName(NameError::Empty),
            "file at byte 0: invalid name: the name is empty",
        ),
        (
            DecodeErrorKind::UnusedOwner,
            "file at byte 0: no allocation has this owner",
        ),
        (
            DecodeErrorKind::UnknownPoolKind { found: 9 },
            "file at byte 0: unknown pool kind 9",
        ),
        (
            DecodeErrorKind::DuplicatePool { previous: 2 },
            "file at byte 0: the pool was changed already by change #2",
        ),
        (
            DecodeErrorKind::MergeableRuns,
            "file at byte 0: the range touches the previous one and has the same owner (ranges must be maximal)",
        ),
        (
            DecodeErrorKind::UnsortedOwners,
            "file at byte 0: the owner name is not after the previous one (the table must be sorted, without duplicates)",
        ),
    ];
    for (kind, message) in cases {
        assert_eq!(err(0, Field::File, kind).to_string(), message);
    }
    assert_eq!(
        err(
            5,
            Field::RunOwner { index: 1 },
            DecodeErrorKind::OverlongVarint
        )
        .in_pool(3)
        .to_string(),
        "pool #3 run #1 owner at byte 5: non-canonical varint: longer than its value needs"
    );
    let fields = [
        (Field::AllocationLength { index: 4 }, "allocation #4 length"),
        (Field::RunLength { index: 2 }, "run #2 length"),
        (Field::EndOfBody, "end of body"),
        (Field::Body, "body"),
        (Field::RangeBase, "range base"),
        (Field::RunCount, "run count"),
        (Field::SpaceStart, "space start"),
        (Field::OwnerName { index: 1 }, "owner name #1"),
        (Field::PoolKind { index: 0 }, "pool #0 kind"),
        (Field::ChangedPoolCount, "changed pool count"),
        (Field::AllocatedOwner { index: 7 }, "allocated #7 owner"),
    ];
    for (field, name) in fields {
        assert_eq!(field.to_string(), name);
    }
    // The state error is the source.
    let e = IdAllocator::from_bytes(&seal(ID, &body(&[10, 9, 0, 0]))).unwrap_err();
    let source = std::error::Error::source(&e).unwrap();
    assert_eq!(source.to_string(), "id range 10..=9 is inverted");
    assert!(
        std::error::Error::source(&err(0, Field::File, DecodeErrorKind::OverlongVarint)).is_none()
    );
}

#[test]
fn dump_lists_every_item() {
    let bytes = packed_pages(3).to_bytes_version(1).unwrap();
    let (body_offset, b) = body_of(&bytes);
    let crc = crc32c(&bytes[..bytes.len() - 4]);
    assert_eq!(
        format::dump(&bytes).unwrap(),
        format!(
            "vm-allocator state file\n\
             format version: 1\n\
             kind: AddressAllocator (2)\n\
             body: {} bytes at offset {body_offset}\n\
             checksum: CRC-32C {crc:#010x}\n\
             space: 0x100000000..=0x100ffffffff (0x10000000000 addresses)\n\
             allocations: 3 (0x3000 addresses used, 0xffffffd000 free)\n\
             #0 0x100000000..=0x100000fff (0x1000)\n\
             #1 0x100001000..=0x100001fff (0x1000)\n\
             #2 0x100002000..=0x100002fff (0x1000)\n",
            b.len()
        )
    );
    let bytes = packed_pages(1).to_bytes();
    assert!(format::dump(&bytes)
        .unwrap()
        .contains("format version: 2\nkind: AddressAllocator (2)\n"));
    // It validates like the typed readers.
    let bad = seal(ADDRESS, &body(&[0x1000, 0xffff, 1, 0xf000, 0]));
    assert_eq!(
        format::dump(&bad).unwrap_err(),
        AddressAllocator::from_bytes(&bad).unwrap_err()
    );
}

// ---------------------------------------------------------------------------
// The second reader: the same error as the crate for every input.

/// What the crate's state holds, in the spec reader's terms.
fn ids_content(a: &IdAllocator, version: u16) -> (u64, u64, u64, Vec<spec::Item>) {
    let runs = a
        .allocations()
        .map(|x| {
            (
                u64::from(*x.ids().start()),
                u64::from(*x.ids().end()),
                x.owner().map(|o| o.to_string()),
            )
        })
        .collect();
    let generation = if version == 1 { 0 } else { a.generation() };
    (
        generation,
        a.range_base().into(),
        a.range_end().into(),
        runs,
    )
}

fn addresses_content(a: &AddressAllocator, version: u16) -> spec::Addresses {
    spec::Addresses {
        generation: if version == 1 { 0 } else { a.generation() },
        start: a.space().start(),
        end: a.space().end(),
        allocations: a
            .allocations()
            .map(|x| {
                (
                    x.range().start(),
                    x.range().end(),
                    x.owner().map(|o| o.to_string()),
                )
            })
            .collect(),
    }
}

fn same_ids(spec: &spec::Ids, a: &IdAllocator, version: u16) -> bool {
    (spec.generation, spec.base, spec.end, spec.runs.clone()) == ids_content(a, version)
}

fn same_pool(spec: &spec::Pool, pool: &Pool) -> bool {
    match (spec, pool) {
        (spec::Pool::Ids(s), Pool::Ids(a)) => same_ids(s, a, 2),
        (spec::Pool::Addresses(s), Pool::Addresses(a)) => *s == addresses_content(a, 2),
        _ => false,
    }
}

fn delta_content(d: &Delta) -> spec::DeltaFile {
    let items = |list: &[vm_allocator::Change]| -> Vec<spec::Item> {
        list.iter()
            .map(|c| {
                (
                    c.range().start(),
                    c.range().end(),
                    c.owner().map(|o| o.to_string()),
                )
            })
            .collect()
    };
    spec::DeltaFile {
        base_kind: d.kind().byte(),
        base_generation: d.base_generation(),
        base_checksum: d.base_checksum(),
        target_generation: d.target_generation(),
        target_checksum: d.target_checksum(),
        pools: d
            .diff()
            .pools()
            .iter()
            .map(|p| spec::Changes {
                name: p.name().map(str::to_string),
                ids: p.kind() == PoolKind::Ids,
                generations: p.generations(),
                next_ids: p.next_ids(),
                freed: items(p.freed()),
                allocated: items(p.allocated()),
            })
            .collect(),
    }
}

/// Compares what the crate's reader of one kind and the spec reader made
/// of `bytes`: the same error, or states that `same` finds equal.
fn compare<T: std::fmt::Debug>(
    what: &str,
    bytes: &[u8],
    ours: Result<T, DecodeError>,
    theirs: Result<spec::Decoded, DecodeError>,
    same: impl FnOnce(&T, &spec::Content) -> bool,
) -> Result<(), String> {
    match (&ours, &theirs) {
        (Ok(a), Ok(d)) if same(a, &d.content) => Ok(()),
        (Err(a), Err(b)) if a == b => Ok(()),
        _ => Err(format!(
            "{what}: the crate says {ours:?}, the spec reader {:?}\nfile: {bytes:02x?}",
            theirs.map(|d| d.content)
        )),
    }
}

/// Checks that the crate and the spec reader agree on `bytes`: the listing
/// reader and the reader of each kind give the same error, or both accept
/// the same state. Returns the number of comparisons made.
fn agree(bytes: &[u8]) -> Result<usize, String> {
    compare(
        "listing",
        bytes,
        format::dump(bytes).map(|_| ()),
        spec::read(bytes, None),
        |_, _| true,
    )?;
    let version = bytes
        .get(8..10)
        .map_or(0, |v| u16::from_le_bytes([v[0], v[1]]));
    compare(
        "ids",
        bytes,
        IdAllocator::from_bytes(bytes),
        spec::read(bytes, Some(FileKind::IdAllocator)),
        |a, content| matches!(content, spec::Content::Ids(s) if same_ids(s, a, version)),
    )?;
    compare(
        "addresses",
        bytes,
        AddressAllocator::from_bytes(bytes),
        spec::read(bytes, Some(FileKind::AddressAllocator)),
        |a, content| *content == spec::Content::Addresses(addresses_content(a, version)),
    )?;
    compare(
        "set",
        bytes,
        ResourceSet::from_bytes(bytes),
        spec::read(bytes, Some(FileKind::ResourceSet)),
        |set, content| match content {
            spec::Content::Set { generation, pools } => {
                *generation == set.generation()
                    && pools.len() == set.len()
                    && pools
                        .iter()
                        .zip(set.pools())
                        .all(|((sn, sp), (n, p))| sn == n && same_pool(sp, p))
            }
            _ => false,
        },
    )?;
    compare(
        "delta",
        bytes,
        Delta::from_bytes(bytes),
        spec::read(bytes, Some(FileKind::Delta)),
        |delta, content| *content == spec::Content::Delta(delta_content(delta)),
    )?;
    Ok(5)
}

/// One way to forge a file from a valid one, aimed at one field (a span of
/// the spec reader) where it needs one. `sel` and `raw` pick the variant.
#[derive(Clone, Debug)]
enum Forge {
    /// Replace the field with a value chosen for its slot.
    Replace { field: usize, sel: u8, raw: u64 },
    /// Replace the field, then cut the body `keep` bytes after it: a
    /// forged value followed by a truncated field.
    ReplaceCut {
        field: usize,
        sel: u8,
        raw: u64,
        keep: usize,
    },
    /// Cut the body inside or at the end of the field.
    CutIn { field: usize, keep: usize },
    /// Insert bytes before the field.
    Insert { field: usize, bytes: Vec<u8> },
    /// Remove the field.
    Delete { field: usize },
    /// Store the field twice.
    Repeat { field: usize },
    /// Swap the field with the next one.
    Swap { field: usize },
    /// Byte-level changes of the body, sealed again.
    Bytes(Vec<Mutation>),
    /// Another version, sealed again.
    Version(u16),
    /// Another kind byte, sealed again.
    Kind(u8),
    /// Byte-level changes of the whole file, not sealed again.
    Raw(Vec<Mutation>),
}

fn forges() -> impl Strategy<Value = Forge> {
    let field = any::<usize>();
    prop_oneof![
        6 => (field, any::<u8>(), any::<u64>())
            .prop_map(|(field, sel, raw)| Forge::Replace { field, sel, raw }),
        2 => (field, any::<u8>(), any::<u64>(), 0usize..3)
            .prop_map(|(field, sel, raw, keep)| Forge::ReplaceCut { field, sel, raw, keep }),
        2 => (field, 0usize..12).prop_map(|(field, keep)| Forge::CutIn { field, keep }),
        1 => (field, prop::collection::vec(any::<u8>(), 1..4))
            .prop_map(|(field, bytes)| Forge::Insert { field, bytes }),
        1 => field.prop_map(|field| Forge::Delete { field }),
        1 => field.prop_map(|field| Forge::Repeat { field }),
        1 => field.prop_map(|field| Forge::Swap { field }),
        1 => mutations().prop_map(Forge::Bytes),
        1 => prop_oneof![Just(1u16), Just(2), Just(0), Just(3)].prop_map(Forge::Version),
        1 => (0u8..6).prop_map(Forge::Kind),
        1 => mutations().prop_map(Forge::Raw),
    ]
}

/// The varint forms of a forged value for a field whose value is `v`.
fn forged_varint(v: u64, sel: u8, raw: u64) -> Vec<u8> {
    let value = match sel % 17 {
        0 => 0,
        1 => 1,
        2 => v.saturating_add(1),
        3 => v.saturating_sub(1),
        4 => u32::MAX.into(),
        5 => 1 << 32,
        6 => (1 << 32) + 1,
        7 => u64::MAX,
        8 => u64::MAX - 1,
        9 => raw,
        10 => raw % 64,
        11 => 64,
        12 => 65,
        13 => v.saturating_add(raw % 8),
        14 => {
            // Overlong: one or more empty groups after the value.
            let mut b = varint(v);
            for _ in 0..=raw % 2 {
                *b.last_mut().unwrap() |= 0x80;
                b.push(0);
            }
            return b;
        }
        15 => {
            // Over 64 bits.
            let mut b = vec![0xff; 9];
            b.push(2 + (raw % 254) as u8);
            return b;
        }
        _ => {
            // A varint that never ends (the rest of the body is read as it).
            return vec![0x80 | (raw as u8)];
        }
    };
    varint(value)
}

/// A forged name.
fn forged_name(sel: u8, raw: u64, previous: Option<&[u8]>) -> Vec<u8> {
    let with_len = |bytes: &[u8]| {
        let mut b = varint(bytes.len() as u64);
        b.extend_from_slice(bytes);
        b
    };
    let bad_utf8: [&[u8]; 6] = [
        b"\x80",
        b"a\xc3",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"\xc1\xbf",
        b"ab\xe2\x82",
    ];
    let control: [&str; 4] = ["\0", "a\nb", "x\u{7f}", "\u{9f}"];
    match sel % 12 {
        0 => vec![0],
        1 => with_len("y".repeat(65).as_bytes()),
        2 => with_len("y".repeat(64).as_bytes()),
        3 => with_len(bad_utf8[raw as usize % bad_utf8.len()]),
        4 => with_len(control[raw as usize % control.len()].as_bytes()),
        5 => previous.map(with_len).unwrap_or_else(|| with_len(b"dup")),
        6 => with_len(b"!"),
        7 => with_len("~~".as_bytes()),
        8 => {
            // A length that claims more or other bytes than follow.
            varint(raw % 70)
        }
        9 => with_len(&raw.to_le_bytes()[..1 + (raw % 8) as usize]),
        10 => {
            let mut b = vec![0x81, 0x00];
            b.push(b'z');
            b
        }
        _ => with_len("é".as_bytes()),
    }
}

/// The bytes that replace a field of `slot` whose current bytes are `old`.
fn forged_field(slot: Slot, old: &[u8], sel: u8, raw: u64, previous: Option<&[u8]>) -> Vec<u8> {
    let value = || {
        let mut v = 0u64;
        for (i, b) in old.iter().enumerate().take(10) {
            v |= u64::from(b & 0x7f) << (7 * i);
        }
        v
    };
    match slot {
        Slot::Varint => forged_varint(value(), sel, raw),
        Slot::Count => match sel % 8 {
            0 => varint(value() + 1),
            1 => varint(value() + 2),
            2 => varint(value().saturating_sub(1)),
            3 => varint(0),
            4 => varint(1 << 60),
            5 => varint(u64::MAX),
            6 => varint(value() + raw % 5),
            _ => forged_varint(value(), sel / 8, raw),
        },
        Slot::OwnerRef => match sel % 6 {
            0 => varint(0),
            1 => varint(value() + 1),
            2 => varint(value() + 2),
            3 => varint(value().saturating_sub(1)),
            4 => varint(raw % 8),
            _ => forged_varint(value(), sel / 6, raw),
        },
        Slot::Byte => vec![[0u8, 1, 2, 3, 4, 5, 0xff, raw as u8][usize::from(sel % 8)]],
        Slot::U32 => raw.to_le_bytes()[..if sel.is_multiple_of(8) { 3 } else { 4 }].to_vec(),
        Slot::Name => forged_name(sel, raw, previous),
    }
}

/// `file` (a valid file) forged by `forge`.
fn apply_forge(file: &[u8], forge: &Forge) -> Vec<u8> {
    let decoded = spec::read(file, None).expect("forging starts from a valid file");
    let spans = &decoded.spans;
    let body_offset = decoded.body_offset;
    let pick = |field: usize| spans.get(field % spans.len().max(1)).copied();
    let rel = |s: &spec::Span| (s.offset - body_offset, s.offset - body_offset + s.len);
    let (field, sel, raw, cut) = match *forge {
        Forge::Replace { field, sel, raw } => (field, sel, raw, None),
        Forge::ReplaceCut {
            field,
            sel,
            raw,
            keep,
        } => (field, sel, raw, Some(keep)),
        _ => (0, 0, 0, None),
    };
    match forge {
        Forge::Replace { .. } | Forge::ReplaceCut { .. } => match pick(field) {
            Some(s) => reseal(file, |b| {
                let (from, to) = rel(&s);
                // The name before this one, for duplicates.
                let previous = spans
                    .iter()
                    .rev()
                    .find(|p| p.slot == Slot::Name && p.offset < s.offset)
                    .map(|p| {
                        let (f, t) = rel(p);
                        b[f..t].to_vec()
                    })
                    .map(|n| n[1..].to_vec());
                let new = forged_field(s.slot, &b[from..to], sel, raw, previous.as_deref());
                let end = from + new.len();
                b.splice(from..to, new);
                if let Some(keep) = cut {
                    b.truncate(end + keep);
                }
            }),
            None => file.to_vec(),
        },
        Forge::CutIn { field, keep } => match pick(*field) {
            Some(s) => reseal(file, |b| {
                let (from, to) = rel(&s);
                b.truncate((from + keep).min(to));
            }),
            None => reseal(file, |b| b.truncate(*keep % (b.len() + 1))),
        },
        Forge::Insert { field, bytes } => {
            let at = pick(*field).map_or(0, |s| rel(&s).0);
            reseal(file, |b| {
                b.splice(at..at, bytes.iter().copied());
            })
        }
        Forge::Delete { field } => match pick(*field) {
            Some(s) => reseal(file, |b| {
                b.drain(rel(&s).0..rel(&s).1);
            }),
            None => file.to_vec(),
        },
        Forge::Repeat { field } => match pick(*field) {
            Some(s) => reseal(file, |b| {
                let (from, to) = rel(&s);
                let copy = b[from..to].to_vec();
                b.splice(to..to, copy);
            }),
            None => file.to_vec(),
        },
        Forge::Swap { field } => {
            let i = field % spans.len().max(1);
            match (spans.get(i), spans.get(i + 1)) {
                (Some(a), Some(c)) => reseal(file, |b| {
                    let (af, at) = rel(a);
                    let (cf, ct) = rel(c);
                    let mut swapped = b[cf..ct].to_vec();
                    swapped.extend_from_slice(&b[at..cf]);
                    swapped.extend_from_slice(&b[af..at]);
                    b.splice(af..ct, swapped);
                }),
                _ => file.to_vec(),
            }
        }
        Forge::Bytes(m) => reseal(file, |b| mutate(b, m)),
        Forge::Version(v) => {
            let (_, b) = body_of(file);
            seal_version(*v, file[10], &b)
        }
        Forge::Kind(k) => {
            let (_, b) = body_of(file);
            seal_version(version_of(file), *k, &b)
        }
        Forge::Raw(m) => {
            let mut f = file.to_vec();
            mutate(&mut f, m);
            f
        }
    }
}

#[test]
fn spec_reader_agrees_on_every_forged_field_of_the_samples() {
    // Every field of every sample file replaced by every kind of forged
    // value, cut, removed and repeated; the file re-sealed so that the
    // check under test is reached.
    let mut comparisons = 0usize;
    let mut files = 0usize;
    let mut rejected = 0usize;
    let mut samples = sample_files();
    // Files of a few dozen fields: every field of each is forged.
    samples.retain(|f| spec::read(f, None).unwrap().spans.len() <= 80);
    samples.extend(
        format_md_examples()
            .into_iter()
            .filter_map(|(bytes, what, _)| (what == "vmalloc-dump").then_some(bytes)),
    );
    for file in &samples {
        comparisons += agree(file).unwrap();
        let spans = spec::read(file, None).unwrap().spans.len();
        let mut forged = Vec::new();
        for field in 0..spans {
            // Every variant of forged_field, each with a small and a large
            // raw value.
            for sel in 0..68u8 {
                let raw = if sel % 2 == 0 { 3 } else { 0x1_0000_0001 };
                forged.push(Forge::Replace { field, sel, raw });
                // The same value with what follows it cut short: a rule of
                // this field against a truncation of the next.
                if sel < 34 {
                    forged.push(Forge::ReplaceCut {
                        field,
                        sel,
                        raw,
                        keep: usize::from(sel % 3 == 0),
                    });
                }
            }
            for keep in 0..10 {
                forged.push(Forge::CutIn { field, keep });
            }
            forged.push(Forge::Delete { field });
            forged.push(Forge::Repeat { field });
            forged.push(Forge::Swap { field });
            for byte in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                forged.push(Forge::Insert {
                    field,
                    bytes: vec![byte],
                });
            }
        }
        for v in [0u16, 1, 2, 3] {
            forged.push(Forge::Version(v));
        }
        for k in 0..6 {
            forged.push(Forge::Kind(k));
        }
        for forge in &forged {
            let bytes = apply_forge(file, forge);
            comparisons += agree(&bytes).unwrap_or_else(|e| panic!("{forge:?}: {e}"));
            files += 1;
            rejected += usize::from(format::dump(&bytes).is_err());
        }
    }
    eprintln!(
        "spec reader sweep: {files} forged files, {rejected} rejected, {comparisons} comparisons"
    );
    assert!(files > 30_000, "{files}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Random valid files of every kind and version, forged at a random
    /// field: the crate and the spec reader report the same error.
    #[test]
    fn spec_reader_agrees_on_forged_files(
        file in valid_files(),
        forge in forges(),
        then in prop::option::of(forges()),
    ) {
        agree(&file).map_err(TestCaseError::fail)?;
        let mut forged = apply_forge(&file, &forge);
        agree(&forged).map_err(TestCaseError::fail)?;
        // A second forgery on top, where the first left a readable file.
        if let Some(then) = then {
            if spec::read(&forged, None).is_ok() {
                forged = apply_forge(&forged, &then);
                agree(&forged).map_err(TestCaseError::fail)?;
            }
        }
    }

    /// Arbitrary bytes in a sound frame of any version and kind.
    #[test]
    fn spec_reader_agrees_on_arbitrary_bodies(
        version in 0u16..=3,
        kind in 0u8..=5,
        raw in prop::collection::vec(any::<u8>(), 0..48),
    ) {
        agree(&seal_version(version, kind, &raw)).map_err(TestCaseError::fail)?;
    }
}

// ---------------------------------------------------------------------------
// Journals (section 13): the examples of FORMAT.md, and the second reader's
// agreement on forged and mutated journals.

use vm_allocator::format::{DiscardCause, JournalWriter, JOURNAL_MAGIC};
use vm_allocator::Versioned;

/// The journal examples of FORMAT.md: each `journal-hex` block with the
/// `journal-listing` or `journal-error` block after it.
fn format_md_journal_examples() -> Vec<(Vec<u8>, String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/FORMAT.md")).unwrap();
    let mut blocks: Vec<(String, String)> = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(info) = line.strip_prefix("```") {
            let mut content = String::new();
            for inner in lines.by_ref() {
                if inner.starts_with("```") {
                    break;
                }
                content.push_str(inner);
                content.push('\n');
            }
            blocks.push((info.trim().to_string(), content));
        }
    }
    let mut examples = Vec::new();
    for (i, (info, content)) in blocks.iter().enumerate() {
        if info.starts_with("journal-") && info != "journal-hex" {
            assert_eq!(
                blocks[i - 1].0,
                "journal-hex",
                "{info} without a journal-hex block before it"
            );
            continue;
        }
        if info != "journal-hex" {
            continue;
        }
        let bytes: Vec<u8> = content
            .lines()
            .flat_map(|l| l.split('#').next().unwrap().split_whitespace())
            .map(|tok| u8::from_str_radix(tok, 16).unwrap())
            .collect();
        let (what, expected) = blocks
            .get(i + 1)
            .expect("a journal-hex block ends FORMAT.md")
            .clone();
        examples.push((bytes, what, expected));
    }
    examples
}

/// What the crate's state is, in the spec reader's terms.
trait SpecState: Versioned {
    fn same(&self, content: &spec::Content) -> bool;
}

impl SpecState for IdAllocator {
    fn same(&self, content: &spec::Content) -> bool {
        matches!(content, spec::Content::Ids(s) if same_ids(s, self, 2) && s.next_id == next_id_of(self))
    }
}

/// The next id of an id allocator, from its file (the field is not public).
fn next_id_of(a: &IdAllocator) -> u64 {
    match spec::read(&a.to_bytes(), None).unwrap().content {
        spec::Content::Ids(s) => s.next_id,
        _ => unreachable!(),
    }
}

impl SpecState for AddressAllocator {
    fn same(&self, content: &spec::Content) -> bool {
        *content == spec::Content::Addresses(addresses_content(self, 2))
    }
}

impl SpecState for ResourceSet {
    fn same(&self, content: &spec::Content) -> bool {
        match content {
            spec::Content::Set { generation, pools } => {
                *generation == self.generation()
                    && pools.len() == self.len()
                    && pools.iter().zip(self.pools()).all(|((sn, sp), (n, p))| {
                        sn == n && same_pool(sp, p) && next_ids_agree(sp, p)
                    })
            }
            _ => false,
        }
    }
}

fn next_ids_agree(spec: &spec::Pool, pool: &Pool) -> bool {
    match (spec, pool) {
        (spec::Pool::Ids(s), Pool::Ids(a)) => s.next_id == next_id_of(a),
        _ => true,
    }
}

fn cause_of(cause: DiscardCause) -> spec::Cause {
    match cause {
        DiscardCause::TornTail => spec::Cause::TornTail,
        DiscardCause::InvalidRecord => spec::Cause::InvalidRecord,
        DiscardCause::Damage { last_record } => spec::Cause::Damage { last_record },
        other => panic!("FORMAT.md names no cause {other:?}"),
    }
}

/// The crate's journal reader of `S` and the spec reader on `bytes`: the
/// same error, or the same base state, the same records (offset, size,
/// label, generation, state after) and the same end (kept, discarded, the
/// failed record's error and offset, the cause). Returns the records read.
fn agree_journal_as<S: SpecState>(bytes: &[u8], kind: FileKind) -> Result<usize, String> {
    let ours = format::replay::<S>(bytes);
    let theirs = spec::read_journal(bytes, Some(kind));
    let (mut replay, spec) = match (ours, theirs) {
        (Err(a), Err(b)) if a == b => return Ok(0),
        (Ok(r), Ok(s)) => (r, s),
        (ours, theirs) => {
            return Err(format!(
                "{kind}: the crate says {:?}, the spec reader {:?}\njournal: {bytes:02x?}",
                ours.err(),
                theirs.map(|j| j.ended)
            ))
        }
    };
    let fail = |what: &str| format!("{kind}: {what} differ\njournal: {bytes:02x?}");
    if !replay.base().same(&spec.base) || replay.header().id != spec.id {
        return Err(fail("base states"));
    }
    let mut n = 0;
    for (record, theirs) in replay.by_ref().zip(&spec.records) {
        let same = record.offset == theirs.offset
            && record.len == theirs.len
            && record.label == theirs.label.as_deref()
            && record.generation == theirs.generation
            && record.state.same(&theirs.state);
        if !same {
            return Err(fail(&format!("record #{n}")));
        }
        n += 1;
    }
    let (_, recovery) = replay.finish();
    let ended = recovery.discard.map(|d| spec::Ended {
        error: d.error,
        offset: d.offset,
        cause: cause_of(d.cause),
    });
    if n != spec.records.len()
        || recovery.records as usize != n
        || recovery.len != spec.kept
        || recovery.discarded != spec.discarded
        || ended != spec.ended
    {
        return Err(format!(
            "{kind}: the crate ends with {recovery:?}, the spec reader with {:?} after {} records\njournal: {bytes:02x?}",
            spec.ended,
            spec.records.len()
        ));
    }
    Ok(n)
}

/// Both readers agree on `bytes` as a journal of every kind, and as what
/// `format::dump` reads. Returns the records read.
fn agree_journal(bytes: &[u8]) -> Result<usize, String> {
    let mut n = agree_journal_as::<IdAllocator>(bytes, FileKind::IdAllocator)?;
    n += agree_journal_as::<AddressAllocator>(bytes, FileKind::AddressAllocator)?;
    n += agree_journal_as::<ResourceSet>(bytes, FileKind::ResourceSet)?;
    match (format::dump(bytes), spec::read(bytes, None)) {
        (Ok(_), Ok(_)) => {}
        (Err(a), Err(b)) if a == b => {}
        (a, b) => return Err(format!("listing: {a:?} / {:?}", b.map(|d| d.kind))),
    }
    Ok(n)
}

/// Writes a journal again from what a replay of `bytes` read (its id,
/// base, states and labels): the bytes it kept.
fn rewrite_journal<S: Versioned>(bytes: &[u8]) -> Vec<u8> {
    let mut replay = format::replay::<S>(bytes).unwrap();
    let (mut writer, mut out) = JournalWriter::start(replay.base(), replay.header().id);
    for record in replay.by_ref() {
        writer
            .append_to(&record.state, record.label, &mut out)
            .unwrap();
    }
    out
}

fn rewrite_any(bytes: &[u8]) -> Vec<u8> {
    match bytes[10] {
        1 => rewrite_journal::<IdAllocator>(bytes),
        2 => rewrite_journal::<AddressAllocator>(bytes),
        _ => rewrite_journal::<ResourceSet>(bytes),
    }
}

#[test]
fn format_md_journal_examples_read_as_stated() {
    let examples = format_md_journal_examples();
    let listed = examples.iter().filter(|e| e.1 == "journal-listing").count();
    let refused = examples.iter().filter(|e| e.1 == "journal-error").count();
    assert!(
        listed >= 5 && refused >= 4,
        "{listed} listings, {refused} errors"
    );
    let mut causes = std::collections::BTreeSet::new();
    for (bytes, what, expected) in examples {
        agree_journal(&bytes).unwrap();
        match what.as_str() {
            "journal-listing" => {
                assert_eq!(format::dump(&bytes).unwrap(), expected);
                let journal = spec::read_journal(&bytes, None).unwrap();
                causes.insert(format!("{:?}", journal.ended.map(|e| e.cause)));
                // Canonical: written again, the bytes kept.
                assert_eq!(rewrite_any(&bytes), bytes[..journal.kept]);
            }
            "journal-error" => {
                let e = if bytes.starts_with(&JOURNAL_MAGIC) {
                    format::dump(&bytes).unwrap_err()
                } else {
                    format::replay::<IdAllocator>(&bytes).err().unwrap()
                };
                assert_eq!(format!("{e}\n"), expected);
                assert_eq!(spec::read_journal(&bytes, None).unwrap_err(), e);
            }
            other => panic!("a journal-hex block followed by a {other:?} block"),
        }
    }
    // A whole journal, a torn tail, damage, and an invalid record.
    assert_eq!(causes.len(), 4, "{causes:?}");
}

#[test]
fn format_md_journal_examples_are_the_bytes_of_the_writer() {
    let examples = format_md_journal_examples();
    let mut gsi = tagged_gsi();
    let (mut writer, mut first) = JournalWriter::start(&gsi, 1);
    gsi.owned_by(&owner("virtio-blk0")).allocate_id().unwrap();
    writer
        .append_to(&gsi, Some("virtio-blk0"), &mut first)
        .unwrap();
    gsi.free_id(8).unwrap();
    writer.append_to(&gsi, None, &mut first).unwrap();
    let mut set = small_set();
    let (mut writer, mut second) = JournalWriter::start(&set, 2);
    let nvme = owner("nvme0");
    let mut tx = set.transaction();
    tx.owned_by(&nvme).allocate_id("gsi").unwrap();
    tx.owned_by(&nvme)
        .allocate("mmio", 0x4000, 0x4000, AllocPolicy::FirstMatch)
        .unwrap();
    tx.commit().unwrap();
    writer
        .append_to(&set, Some("hot-plug nvme0"), &mut second)
        .unwrap();
    for journal in [first, second] {
        assert!(
            examples.iter().any(|(bytes, _, _)| *bytes == journal),
            "FORMAT.md lacks the journal {journal:02x?}"
        );
    }
}

/// Journals of small states of every kind, from seeded histories.
fn sample_journals() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for seed in 1..=3 {
        let ids = journals::history(
            IdAllocator::new(5, 60).unwrap(),
            6,
            seed,
            journals::edit_ids,
        );
        out.push(journals::journal_of(&ids, seed).0);
        let a = journals::history(
            AddressAllocator::new(0x1000, 0x10_0000).unwrap(),
            6,
            seed,
            journals::edit_addresses,
        );
        out.push(journals::journal_of(&a, seed).0);
        let sets = journals::history(ResourceSet::x86_64(), 4, seed, journals::edit_set);
        out.push(journals::journal_of(&sets, seed).0);
    }
    out
}

/// The journal `bytes` (read whole by the spec reader) with its header
/// body and its record bodies changed by `tamper`, every frame and checksum
/// made again, so that what is under test is past the checksums.
fn rebuild(bytes: &[u8], tamper: impl FnOnce(&mut Vec<u8>, &mut Vec<Vec<u8>>)) -> Vec<u8> {
    let journal = spec::read_journal(bytes, None).unwrap();
    let mut header_body =
        bytes[journal.body_offset..journal.body_offset + journal.body_len].to_vec();
    let mut bodies: Vec<Vec<u8>> = journal
        .records
        .iter()
        .map(|r| {
            let (len, at) = spec_varint(bytes, r.offset);
            bytes[at..at + len as usize].to_vec()
        })
        .collect();
    tamper(&mut header_body, &mut bodies);
    let mut out = seal_journal_header(bytes[8], bytes[10], &header_body);
    for body in &bodies {
        push_record(&mut out, body);
    }
    out
}

fn spec_varint(bytes: &[u8], at: usize) -> (u64, usize) {
    let mut value = 0;
    let mut i = 0;
    loop {
        let b = bytes[at + i];
        value |= u64::from(b & 0x7f) << (7 * i);
        i += 1;
        if b < 0x80 {
            return (value, at + i);
        }
    }
}

fn seal_journal_header(version: u8, kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = JOURNAL_MAGIC.to_vec();
    out.extend([version, 0, kind]);
    out.extend(varint(body.len() as u64));
    out.extend_from_slice(body);
    let crc = crc32c(&out);
    out.extend(crc.to_le_bytes());
    out
}

/// Appends a record frame around `body`, chained to the 4 bytes before it.
fn push_record(out: &mut Vec<u8>, body: &[u8]) {
    let start = out.len();
    let len = varint(body.len() as u64);
    out.extend(&len);
    out.extend_from_slice(body);
    out.extend(len.iter().rev());
    let crc = crc32c(&out[start - 4..]);
    out.extend(crc.to_le_bytes());
}

/// `bytes` with field `field` of one record body forged by `forge` (one of
/// the forges of state files), every checksum made again.
fn forge_record_field(bytes: &[u8], field: usize, forge: &Forge) -> Vec<u8> {
    let journal = spec::read_journal(bytes, None).unwrap();
    if journal.spans.is_empty() {
        return bytes.to_vec();
    }
    let (k, span) = journal.spans[field % journal.spans.len()];
    let record = &journal.records[k as usize];
    let (_, body_at) = spec_varint(bytes, record.offset);
    let rel = span.offset - body_at;
    rebuild(bytes, |_, bodies| {
        let body = &mut bodies[k as usize];
        let (from, to) = (rel, rel + span.len);
        match forge {
            Forge::Replace { sel, raw, .. } => {
                let new = forged_field(span.slot, &body[from..to], *sel, *raw, None);
                body.splice(from..to, new);
            }
            Forge::CutIn { keep, .. } => body.truncate((from + keep).min(to)),
            Forge::Insert { bytes, .. } => {
                body.splice(from..from, bytes.iter().copied());
            }
            Forge::Delete { .. } => {
                body.drain(from..to);
            }
            Forge::Repeat { .. } => {
                let copy = body[from..to].to_vec();
                body.splice(to..to, copy);
            }
            _ => {}
        }
    })
}

#[test]
fn spec_reader_agrees_on_every_forged_field_of_sample_journals() {
    let (mut files, mut records) = (0usize, 0usize);
    let mut seen = std::collections::BTreeMap::new();
    for journal in sample_journals() {
        records += agree_journal(&journal).unwrap();
        let spans = spec::read_journal(&journal, None).unwrap().spans.len();
        let mut forged: Vec<Vec<u8>> = Vec::new();
        for field in 0..spans {
            // Every variant of forged_field, with a small or a large raw
            // value.
            for sel in 0..34u8 {
                let raw = if sel % 2 == 0 { 3 } else { 0x1_0000_0001 };
                forged.push(forge_record_field(
                    &journal,
                    field,
                    &Forge::Replace { field, sel, raw },
                ));
            }
            for keep in 0..4 {
                forged.push(forge_record_field(
                    &journal,
                    field,
                    &Forge::CutIn { field, keep },
                ));
            }
            forged.push(forge_record_field(
                &journal,
                field,
                &Forge::Delete { field },
            ));
            forged.push(forge_record_field(
                &journal,
                field,
                &Forge::Repeat { field },
            ));
            for byte in [0x00, 0x80, 0xff] {
                forged.push(forge_record_field(
                    &journal,
                    field,
                    &Forge::Insert {
                        field,
                        bytes: vec![byte],
                    },
                ));
            }
        }
        // Whole records: left out, repeated, swapped; the header's version,
        // kind and base state.
        let n = spec::read_journal(&journal, None).unwrap().records.len();
        for k in 0..n {
            forged.push(rebuild(&journal, |_, b| {
                b.remove(k);
            }));
            forged.push(rebuild(&journal, |_, b| {
                let copy = b[k].clone();
                b.insert(k, copy);
            }));
            if k + 1 < n {
                forged.push(rebuild(&journal, |_, b| b.swap(k, k + 1)));
            }
        }
        for cut in 0..journal.len() {
            forged.push(journal[..cut].to_vec());
        }
        for at in 0..journal.len() {
            let mut flipped = journal.clone();
            flipped[at] ^= 1 << (at % 8);
            forged.push(flipped);
        }
        for version in [1, 3] {
            let mut other = journal.clone();
            other[8] = version;
            forged.push(other);
        }
        for kind in 0..5u8 {
            let mut with_kind = journal.clone();
            with_kind[10] = kind;
            // Sealed again: the kind is checked after the checksum.
            let (len, at) = spec_varint(&with_kind, 11);
            let end = at + len as usize;
            let crc = crc32c(&with_kind[..end]);
            with_kind[end..end + 4].copy_from_slice(&crc.to_le_bytes());
            forged.push(with_kind);
        }
        forged.push(rebuild(&journal, |header, _| {
            header.truncate(header.len() - 1)
        }));
        forged.push(rebuild(&journal, |header, _| header.push(0)));
        for bytes in &forged {
            records += agree_journal(bytes).unwrap_or_else(|e| panic!("{e}"));
            files += 1;
            let why = match spec::read_journal(bytes, None) {
                Ok(j) => j.ended.map(|e| {
                    let kind = format!("{:?}", e.error.kind);
                    let kind = kind.split([' ', '(']).next().unwrap().to_string();
                    format!("{:?} {kind}", e.cause)
                        .split(" {")
                        .next()
                        .unwrap()
                        .to_string()
                        + ""
                }),
                Err(e) => Some(format!("header {:?}", e.field)),
            };
            *seen
                .entry(why.unwrap_or_else(|| "whole".into()))
                .or_insert(0usize) += 1;
        }
    }
    eprintln!("spec reader sweep of journals: {files} forged journals, {records} records read");
    eprintln!("how they ended: {seen:#?}");
    assert!(files > 20_000, "{files}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Journals of random histories, mutated at random (and sealed again
    /// or not): both readers agree.
    #[test]
    fn spec_reader_agrees_on_mutated_journals(
        seed in any::<u64>(),
        kind in 0u8..3,
        steps in 1usize..8,
        mutations in mutations(),
        reseal_record in prop::option::of(any::<usize>()),
    ) {
        let journal = match kind {
            0 => journals::journal_of(&journals::history(IdAllocator::new(0, 40).unwrap(), steps, seed, journals::edit_ids), seed).0,
            1 => journals::journal_of(&journals::history(AddressAllocator::new(0, 0x4_0000).unwrap(), steps, seed, journals::edit_addresses), seed).0,
            _ => journals::journal_of(&journals::history(ResourceSet::x86_64(), steps, seed, journals::edit_set), seed).0,
        };
        agree_journal(&journal).map_err(TestCaseError::fail)?;
        let mutated = match reseal_record {
            // A record's body mutated, every checksum made again.
            Some(k) => rebuild(&journal, |_, bodies| {
                let n = bodies.len();
                mutate(&mut bodies[k % n], &mutations);
            }),
            None => {
                let mut raw = journal.clone();
                mutate(&mut raw, &mutations);
                raw
            }
        };
        agree_journal(&mutated).map_err(TestCaseError::fail)?;
    }
}

#[test]
fn journal_records_are_checked_against_the_set_as_the_spec_says() {
    // The set of 12.2 (gsi: 5 for virtio-net0, next id 6, generation 1;
    // mmio: 0xd0000000..=0xd0000fff for virtio-net0, generation 1; the
    // set at generation 4), and one record after it.
    let (_, header) = JournalWriter::start(&small_set(), 2);
    let net = B(&[
        0x01, 0x0b, b'v', b'i', b'r', b't', b'i', b'o', b'-', b'n', b'e', b't', b'0',
    ]);
    let gsi_moved = [N("gsi"), B(&[1]), V(1), V(2), V(6), V(6), V(0), V(0)];
    let mmio_moved = [N("mmio"), B(&[2]), V(1), V(2), V(0), V(0)];
    let page = [V(0xd000_0000), V(0xfff), V(1)];
    type Case<'a> = (Vec<P<'a>>, usize, Field, Option<u64>, DecodeErrorKind);
    let cases: Vec<Case> = vec![
        // A1: the generation must move up.
        (
            vec![V(0), V(0), V(4), V(0)],
            2,
            Field::Generation,
            None,
            DecodeErrorKind::GenerationNotAbove { previous: 4 },
        ),
        // A2: a pool the set does not have.
        (
            vec![
                V(0),
                V(0),
                V(5),
                V(1),
                N("pio"),
                B(&[2]),
                V(0),
                V(1),
                V(0),
                V(0),
            ],
            4,
            Field::PoolName { index: 0 },
            None,
            DecodeErrorKind::NoSuchPool,
        ),
        // A3: pools in the set's order.
        (
            [V(0), V(0), V(5), V(2)]
                .into_iter()
                .chain(mmio_moved.iter().copied())
                .chain(gsi_moved.iter().copied())
                .collect(),
            4 + 10,
            Field::PoolName { index: 1 },
            None,
            DecodeErrorKind::PoolOutOfOrder,
        ),
        // A4: of the pool's kind.
        (
            vec![
                V(0),
                V(0),
                V(5),
                V(1),
                N("gsi"),
                B(&[2]),
                V(1),
                V(2),
                V(0),
                V(0),
            ],
            8,
            Field::PoolKind { index: 0 },
            None,
            DecodeErrorKind::WrongPoolKind {
                expected: 1,
                found: 2,
            },
        ),
        // A5: from the pool's generation.
        (
            vec![
                V(0),
                V(0),
                V(5),
                V(1),
                N("gsi"),
                B(&[1]),
                V(0),
                V(2),
                V(6),
                V(6),
                V(0),
                V(0),
            ],
            9,
            Field::BaseGeneration,
            Some(0),
            DecodeErrorKind::GenerationMismatch {
                expected: 1,
                found: 0,
            },
        ),
        // A6: a pool listed changes.
        (
            vec![
                V(0),
                V(0),
                V(5),
                V(1),
                N("gsi"),
                B(&[1]),
                V(1),
                V(1),
                V(6),
                V(6),
                V(0),
                V(0),
            ],
            4,
            Field::PoolName { index: 0 },
            None,
            DecodeErrorKind::UnchangedPool,
        ),
        // A7: from the pool's next id.
        (
            vec![
                V(0),
                V(0),
                V(5),
                V(1),
                N("gsi"),
                B(&[1]),
                V(1),
                V(2),
                V(7),
                V(7),
                V(0),
                V(0),
            ],
            11,
            Field::NextId,
            Some(0),
            DecodeErrorKind::NextIdMismatch {
                expected: 6,
                found: 7,
            },
        ),
        // A9: freed and allocated again as it was.
        (
            [V(0), net, V(5), V(1), N("mmio"), B(&[2]), V(1), V(2), V(1)]
                .into_iter()
                .chain(page.iter().copied())
                .chain([V(1)])
                .chain(page.iter().copied())
                .collect(),
            13 + 21,
            Field::AllocatedStart { index: 0 },
            Some(0),
            DecodeErrorKind::NoOpChange,
        ),
        // A10: allocated where it is taken.
        (
            [
                V(0),
                net,
                V(5),
                V(1),
                N("mmio"),
                B(&[2]),
                V(1),
                V(2),
                V(0),
                V(1),
            ]
            .into_iter()
            .chain([V(0xd000_0800), V(0xff), V(1)])
            .collect(),
            13 + 13,
            Field::AllocatedStart { index: 0 },
            Some(0),
            DecodeErrorKind::NotFree,
        ),
        // A11: the next id must stay above every allocated id.
        (
            vec![
                V(0),
                V(0),
                V(5),
                V(1),
                N("gsi"),
                B(&[1]),
                V(1),
                V(2),
                V(6),
                V(5),
                V(0),
                V(0),
            ],
            12,
            Field::NextIdAfter,
            Some(0),
            DecodeErrorKind::InvalidNextId,
        ),
        // B4: one pool twice.
        (
            [V(0), V(0), V(5), V(2)]
                .into_iter()
                .chain(gsi_moved.iter().copied())
                .chain(gsi_moved.iter().copied())
                .collect(),
            4 + 11,
            Field::PoolName { index: 1 },
            None,
            DecodeErrorKind::DuplicatePool { previous: 0 },
        ),
    ];
    for (i, (pieces, at, field, pool, kind)) in cases.into_iter().enumerate() {
        let body = parts(&pieces);
        let mut journal = header.clone();
        push_record(&mut journal, &body);
        agree_journal(&journal).unwrap();
        let (_, recovery) = format::replay::<ResourceSet>(&journal).unwrap().finish();
        let discard = recovery
            .discard
            .unwrap_or_else(|| panic!("case {i}: accepted"));
        let body_at = header.len() + varint(body.len() as u64).len();
        let mut expected = err(body_at + at, field, kind).in_record(0);
        if let Some(p) = pool {
            expected = expected.in_pool(p);
        }
        assert_eq!(discard.error, expected, "case {i}: {}", discard.error);
        assert_eq!(discard.cause, DiscardCause::InvalidRecord);
    }
}

/// Long runs of short items (packed pages, page-sized gaps), which the
/// decoder reads a batch at a time: every item is kept, both versions give
/// the same allocator, and an item made to leave the space or to overflow
/// in the middle of a run is refused where the spec reader places it.
#[test]
fn long_runs_of_short_items_decode_alike_and_fail_in_place() {
    let n = 1000u64;
    // Items (gap, length - 1): packed pages, runs with page gaps, a few
    // short values.
    let items: Vec<(u64, u64)> = (0..n)
        .map(|i| match i % 7 {
            0 => (0x1000, 0xfff),
            1 => (i % 128, 0),
            2 => (0x3fff, 0x3fff),
            _ => (0, 0xfff),
        })
        .collect();
    let end: u64 = items.iter().map(|&(g, l)| g + l + 1).sum::<u64>() - 1;
    let v1 = |space_end: u64, items: &[(u64, u64)]| {
        let mut b = body(&[0, space_end, items.len() as u64]);
        for &(g, l) in items {
            b.extend(body(&[g, l]));
        }
        seal(ADDRESS, &b)
    };
    let v2 = |space_end: u64, items: &[(u64, u64)]| {
        let mut b = body(&[0, 7, 0, space_end, items.len() as u64]);
        for &(g, l) in items {
            b.extend(body(&[g, l, 0]));
        }
        seal2(ADDRESS, &b)
    };
    let one = AddressAllocator::from_bytes(&v1(end, &items)).unwrap();
    let two = AddressAllocator::from_bytes(&v2(end, &items)).unwrap();
    assert_eq!(one.len(), n);
    assert!(one.iter().eq(two.iter()));
    assert_eq!(two.generation(), 7);
    agree(&v1(end, &items)).unwrap();
    agree(&v2(end, &items)).unwrap();
    // The space ends one value short: the last item leaves it.
    for file in [v1(end - 1, &items), v2(end - 1, &items)] {
        let e = AddressAllocator::from_bytes(&file).unwrap_err();
        assert_eq!(e.field, Field::AllocationStart { index: n - 1 });
        agree(&file).unwrap();
    }
    // An item in the middle of a run overflows u64 (its gap reaches past
    // the end of the space and of the integers).
    let mut wild = items.clone();
    wild[500] = (u64::MAX - 3, 0);
    for file in [v1(u64::MAX, &wild), v2(u64::MAX, &wild)] {
        assert!(AddressAllocator::from_bytes(&file).is_err());
        agree(&file).unwrap();
    }
    // An item in the middle of a run ends past the space.
    let mut long = items.clone();
    long[333] = (0, 1 << 40);
    for file in [v1(end, &long), v2(end, &long)] {
        let e = AddressAllocator::from_bytes(&file).unwrap_err();
        assert_eq!(e.field, Field::AllocationStart { index: 333 });
        agree(&file).unwrap();
    }
}
