// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The on-disk format: round trips, canonical form, the examples of
//! FORMAT.md, and every way a reader must reject hostile bytes, each with its
//! exact error (offset, field, kind).
//!
//! Tampered files are re-sealed with a correct body length and checksum (by
//! an implementation of the CRC written from FORMAT.md alone), so that what
//! rejects them is the check under test, not the checksum.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use vm_allocator::format::{
    self, DecodeError, ErrorKind, Field, FileKind, FORMAT_VERSION, MAGIC, MAX_FILE_SIZE,
    SUPPORTED_VERSIONS,
};
use vm_allocator::{AddressAllocator, AllocPolicy, IdAllocator, RangeInclusive, StateError};

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
/// any moment (on this thread) and how long it took.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize, Duration) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let started = Instant::now();
    let result = f();
    let elapsed = started.elapsed();
    let peak = PEAK.with(Cell::get) - base;
    (result, peak, elapsed)
}

// ---------------------------------------------------------------------------
// Building files by hand, from FORMAT.md alone.

/// CRC-32C, bit by bit, from the parameters in FORMAT.md.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    crc ^ 0xffff_ffff
}

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

fn seal(kind: u8, body: &[u8]) -> Vec<u8> {
    seal_version(1, kind, body)
}

const ID: u8 = 1;
const ADDRESS: u8 = 2;

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

/// `file` with its body changed by `tamper` and sealed again.
fn reseal(file: &[u8], tamper: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let (_, mut b) = body_of(file);
    tamper(&mut b);
    seal_version(u16::from_le_bytes([file[8], file[9]]), file[10], &b)
}

fn err(offset: usize, field: Field, kind: ErrorKind) -> DecodeError {
    DecodeError::new(offset, field, kind)
}

fn state(e: StateError) -> ErrorKind {
    ErrorKind::InvalidState(e)
}

fn r(start: u64, end: u64) -> RangeInclusive {
    RangeInclusive::new(start, end).unwrap()
}

fn decode_any(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    match bytes.get(10) {
        Some(&ID) => IdAllocator::from_bytes(bytes).map(|a| a.to_bytes()),
        _ => AddressAllocator::from_bytes(bytes).map(|a| a.to_bytes()),
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

/// A file with a body longer than 127 bytes (a two-byte body length).
fn big_id_file() -> Vec<u8> {
    let mut a = IdAllocator::new(0, 10_000).unwrap();
    for id in (0..200).map(|i| i * 7) {
        a.allocate_id_at(id).unwrap();
    }
    a.to_bytes()
}

fn sample_files() -> Vec<Vec<u8>> {
    vec![
        gsi().to_bytes(),
        mmio().to_bytes(),
        IdAllocator::new(0, u32::MAX).unwrap().to_bytes(),
        AddressAllocator::new(1, u64::MAX).unwrap().to_bytes(),
        big_id_file(),
        packed_pages(100).to_bytes(),
    ]
}

// ---------------------------------------------------------------------------
// Round trips and canonical form.

#[test]
fn hand_sealed_files_match_the_writer() {
    // The writer agrees with a reading of FORMAT.md: same frame, same CRC.
    let ids = gsi();
    assert_eq!(ids.to_bytes(), seal(ID, &body(&[5, 23, 5, 2, 0, 2, 0, 0])));
    let addresses = mmio();
    assert_eq!(
        addresses.to_bytes(),
        seal(
            ADDRESS,
            &body(&[
                0xd000_0000,
                0xdfff_ffff,
                3,
                0,
                0xfff,
                0,
                0xfff,
                0xfff_a000,
                0x3fff
            ])
        )
    );
    assert_eq!(crc32c(b"123456789"), 0xe306_9283);
}

#[test]
fn round_trips_keep_every_field() {
    for a in [
        IdAllocator::new(0, 0).unwrap(),
        IdAllocator::new(u32::MAX, u32::MAX).unwrap(),
        gsi(),
    ] {
        assert_eq!(IdAllocator::from_bytes(&a.to_bytes()).unwrap(), a);
    }
    // next_id survives even when every id has been freed again.
    let mut freed = IdAllocator::new(100, 200).unwrap();
    freed.allocate_id_at(150).unwrap();
    freed.free_id(150).unwrap();
    let mut back = IdAllocator::from_bytes(&freed.to_bytes()).unwrap();
    assert_eq!(back, freed);
    assert_eq!(
        back.free_id(150).unwrap_err(),
        vm_allocator::Error::AlreadyReleased(150)
    );
    assert_eq!(
        back.free_id(151).unwrap_err(),
        vm_allocator::Error::NeverAllocated(151)
    );
    // Every id of the full u32 range, and an allocation ending at u64::MAX.
    let mut full = IdAllocator::new(0, u32::MAX).unwrap();
    full.allocate_id_at(u32::MAX).unwrap();
    full.allocate_id_at(0).unwrap();
    assert_eq!(IdAllocator::from_bytes(&full.to_bytes()).unwrap(), full);
    let top = AddressAllocator::from_allocations(r(1, u64::MAX), [r(1, 1), r(u64::MAX, u64::MAX)])
        .unwrap();
    assert_eq!(AddressAllocator::from_bytes(&top.to_bytes()).unwrap(), top);
}

#[test]
fn packed_pages_take_three_bytes_each() {
    for n in [1_000u64, 10_000] {
        let bytes = packed_pages(n).to_bytes();
        let overhead = bytes.len() as u64 - 3 * n;
        assert!(overhead <= 32, "{n} pages: {} bytes", bytes.len());
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
    assert_eq!(a.to_bytes(), b.to_bytes());

    let mut c = IdAllocator::new(0, 99).unwrap();
    c.allocate_ids(4, 1).unwrap();
    c.free_id(2).unwrap();
    let mut d = IdAllocator::new(0, 99).unwrap();
    for id in [3, 0, 1] {
        d.allocate_id_at(id).unwrap();
    }
    assert_eq!(c.to_bytes(), d.to_bytes());
}

/// Random address allocators, including allocations at the very top of the
/// u64 space.
fn address_allocators() -> impl Strategy<Value = AddressAllocator> {
    let value = prop_oneof![0u64..0x20, 0u64..0x10_0000, any::<u64>()];
    (
        any::<u64>(),
        value.clone(),
        prop::collection::vec((value.clone(), value), 0..40),
    )
        .prop_map(|(start, extent, items)| {
            let end = start.saturating_add(extent).max(start);
            let space = RangeInclusive::new(start, end)
                .unwrap_or_else(|_| RangeInclusive::new(1, u64::MAX).unwrap());
            let mut list = Vec::new();
            let mut cursor = Some(space.start());
            for (gap, len_minus_one) in items {
                let Some(start) = cursor.and_then(|c| c.checked_add(gap)) else {
                    break;
                };
                let Some(end) = start.checked_add(len_minus_one) else {
                    break;
                };
                if end > space.end() {
                    break;
                }
                list.push(RangeInclusive::new(start, end).unwrap());
                cursor = end.checked_add(1);
            }
            AddressAllocator::from_allocations(space, list).unwrap()
        })
}

/// Random id allocators built by allocating and freeing ids.
fn id_allocators() -> impl Strategy<Value = IdAllocator> {
    (
        any::<u32>(),
        prop_oneof![0u32..64, any::<u32>()],
        prop::collection::vec((any::<bool>(), any::<u32>()), 0..60),
    )
        .prop_map(|(base, extent, ops)| {
            let end = base.saturating_add(extent);
            let mut a = IdAllocator::new(base, end).unwrap();
            for (alloc, pick) in ops {
                let id = base + pick % (end - base).saturating_add(1).max(1);
                if alloc {
                    let _ = a.allocate_id_at(id.min(end));
                } else {
                    let _ = a.free_id(id.min(end));
                }
            }
            a
        })
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
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn address_allocators_round_trip(a in address_allocators()) {
        let bytes = a.to_bytes();
        let back = AddressAllocator::from_bytes(&bytes).unwrap();
        back.check_invariants().unwrap();
        prop_assert_eq!(&back, &a);
        prop_assert_eq!(back.to_bytes(), bytes);
    }

    #[test]
    fn id_allocators_round_trip(a in id_allocators()) {
        let bytes = a.to_bytes();
        let back = IdAllocator::from_bytes(&bytes).unwrap();
        back.check_invariants().unwrap();
        prop_assert_eq!(&back, &a);
        prop_assert_eq!(back.to_bytes(), bytes);
    }

    /// Whatever is done to a body, a decoder either refuses it or accepts
    /// exactly the canonical encoding of a valid state.
    #[test]
    fn accepted_bodies_are_canonical(
        a in address_allocators(),
        ids in id_allocators(),
        changes in mutations(),
    ) {
        for file in [a.to_bytes(), ids.to_bytes()] {
            let tampered = reseal(&file, |b| mutate(b, &changes));
            if file[10] == ID {
                if let Ok(back) = IdAllocator::from_bytes(&tampered) {
                    back.check_invariants().unwrap();
                    prop_assert_eq!(back.to_bytes(), tampered);
                }
            } else if let Ok(back) = AddressAllocator::from_bytes(&tampered) {
                back.check_invariants().unwrap();
                prop_assert_eq!(back.to_bytes(), tampered);
            }
        }
    }

    /// Arbitrary bodies inside a sound frame never panic, and what is
    /// accepted is canonical.
    #[test]
    fn arbitrary_bodies_are_refused_or_canonical(
        kind in prop_oneof![Just(ID), Just(ADDRESS)],
        raw in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let file = seal(kind, &raw);
        if let Ok(bytes) = decode_any(&file) {
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
    let accepted = examples.iter().filter(|e| e.1 == "vmalloc-dump").count();
    let rejected = examples.iter().filter(|e| e.1 == "vmalloc-error").count();
    assert!(accepted >= 4 && rejected >= 8, "{accepted} / {rejected}");
    for (bytes, what, expected) in examples {
        match what.as_str() {
            "vmalloc-dump" => {
                assert_eq!(format::dump(&bytes).unwrap(), expected);
                assert_eq!(decode_any(&bytes).unwrap(), bytes, "re-encoding");
            }
            "vmalloc-error" => {
                let e = format::dump(&bytes).unwrap_err();
                assert_eq!(format!("{e}\n"), expected);
                // A typed reader of the file's kind says the same.
                if matches!(bytes.get(10), Some(&ID) | Some(&ADDRESS)) {
                    assert_eq!(decode_any(&bytes).unwrap_err(), e);
                }
            }
            other => panic!("a vmalloc-hex block followed by a {other:?} block"),
        }
    }
}

#[test]
fn format_md_states_the_crate_constants() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/FORMAT.md")).unwrap();
    let magic: Vec<String> = MAGIC.iter().map(|b| format!("{b:02x}")).collect();
    assert!(text.contains(&format!("| 0 | 8 | magic | `{}` |", magic.join(" "))));
    assert!(text.contains(&format!("version {FORMAT_VERSION}")));
    assert!(text.contains(&format!(
        "`format::SUPPORTED_VERSIONS` (`{SUPPORTED_VERSIONS:?}`)"
    )));
    assert_eq!(MAX_FILE_SIZE, 1 << 30);
    assert!(text.contains("at most 2^30 bytes (1 GiB)"));
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
            ErrorKind::BadMagic {
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
        ErrorKind::BadMagic {
            found: *b"{}\0\0\0\0\0\0",
            found_len: 2
        }
    );
    // A newline conversion (CR LF -> LF) is caught by the magic.
    let mut mangled = gsi().to_bytes();
    mangled.remove(4);
    let e = IdAllocator::from_bytes(&mangled).unwrap_err();
    assert_eq!((e.offset, e.field), (0, Field::Magic));
    assert!(matches!(e.kind, ErrorKind::BadMagic { found_len: 8, .. }));
}

#[test]
fn unsupported_versions_name_the_supported_ones() {
    for version in [0u16, 2, 0x0100, u16::MAX] {
        let mut file = gsi().to_bytes();
        file[8..10].copy_from_slice(&version.to_le_bytes());
        let e = IdAllocator::from_bytes(&file).unwrap_err();
        assert_eq!(
            e,
            err(
                8,
                Field::Version,
                ErrorKind::UnsupportedVersion {
                    found: version,
                    supported: &[1]
                }
            )
        );
        assert_eq!(
            e.to_string(),
            format!("format version at byte 8: unsupported format version {version}; this reader supports 1")
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
            ErrorKind::WrongKind {
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
        ErrorKind::WrongKind {
            expected: FileKind::AddressAllocator,
            found: 1
        }
    );
    for kind in [0u8, 3, 0xff] {
        let file = seal(kind, &[]);
        let e = AddressAllocator::from_bytes(&file).unwrap_err();
        assert_eq!(
            e,
            err(
                10,
                Field::Kind,
                ErrorKind::WrongKind {
                    expected: FileKind::AddressAllocator,
                    found: kind
                }
            )
        );
        assert_eq!(
            format::dump(&file).unwrap_err(),
            err(10, Field::Kind, ErrorKind::UnknownKind { found: kind })
        );
    }
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
                            ErrorKind::ChecksumMismatch {
                                stored,
                                computed: crc32c(&damaged[..body_end])
                            }
                        ),
                        "byte {i} bit {bit}"
                    );
                }
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
        ErrorKind::Truncated {
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
    let big = big_id_file();
    assert_eq!(body_of(&big).0, 13);
    assert_eq!(
        IdAllocator::from_bytes(&big[..12]).unwrap_err().field,
        Field::BodyLength
    );
}

#[test]
fn trailing_bytes_after_the_checksum_or_the_items() {
    for extra in 1..4u64 {
        let mut file = gsi().to_bytes();
        let end = file.len();
        file.extend((0..extra).map(|i| i as u8));
        assert_eq!(
            IdAllocator::from_bytes(&file).unwrap_err(),
            err(
                end,
                Field::EndOfFile,
                ErrorKind::TrailingBytes { count: extra }
            )
        );
    }
    // Inside the body, behind a correct checksum.
    let file = reseal(&mmio().to_bytes(), |b| b.extend_from_slice(&[0, 0]));
    let (body_offset, b) = body_of(&file);
    assert_eq!(
        AddressAllocator::from_bytes(&file).unwrap_err(),
        err(
            body_offset + b.len() - 2,
            Field::EndOfBody,
            ErrorKind::TrailingBytes { count: 2 }
        )
    );
    let file = reseal(&gsi().to_bytes(), |b| b.push(0x7f));
    assert_eq!(
        IdAllocator::from_bytes(&file).unwrap_err(),
        err(20, Field::EndOfBody, ErrorKind::TrailingBytes { count: 1 })
    );
}

#[test]
fn body_length_limits() {
    // Overlong: 8 written as 88 00.
    let mut file = gsi().to_bytes();
    file.splice(11..12, [0x88, 0x00]);
    assert_eq!(
        IdAllocator::from_bytes(&file).unwrap_err(),
        err(11, Field::BodyLength, ErrorKind::OverlongVarint)
    );
    // Beyond the file size limit: refused as a value before anything else.
    let mut file = MAGIC.to_vec();
    file.extend_from_slice(&[1, 0, ID]);
    file.extend(varint(1 << 60));
    assert_eq!(
        IdAllocator::from_bytes(&file).unwrap_err(),
        err(
            11,
            Field::BodyLength,
            ErrorKind::ValueOutOfRange {
                value: 1 << 60,
                max: 1 << 30
            }
        )
    );
    // Over 64 bits.
    let mut file = MAGIC.to_vec();
    file.extend_from_slice(&[1, 0, ID]);
    file.extend_from_slice(&[0xff; 10]);
    assert_eq!(
        IdAllocator::from_bytes(&file).unwrap_err(),
        err(11, Field::BodyLength, ErrorKind::VarintTooLarge)
    );
}

#[test]
fn files_over_the_size_limit_are_refused_unread() {
    // Zeroed memory from the allocator: the pages are never touched.
    let huge = vec![0u8; MAX_FILE_SIZE + 1];
    let (e, _, elapsed) = measure(|| AddressAllocator::from_bytes(&huge).unwrap_err());
    assert_eq!(
        e,
        err(
            0,
            Field::File,
            ErrorKind::FileTooLarge {
                size: MAX_FILE_SIZE as u64 + 1,
                max: MAX_FILE_SIZE as u64
            }
        )
    );
    assert!(elapsed < Duration::from_millis(50), "{elapsed:?}");
}

// ---------------------------------------------------------------------------
// Body fields.

/// The offsets and fields of the varints of a canonical body, in order.
fn body_fields(file: &[u8]) -> Vec<(usize, Field)> {
    let (body_offset, b) = body_of(file);
    let header: &[Field] = if file[10] == ID {
        &[
            Field::RangeBase,
            Field::RangeEnd,
            Field::NextId,
            Field::RunCount,
        ]
    } else {
        &[Field::SpaceStart, Field::SpaceEnd, Field::AllocationCount]
    };
    let mut fields = Vec::new();
    let mut pos = 0;
    let mut index = 0u64;
    while pos < b.len() {
        let n = fields.len();
        let field = if n < header.len() {
            header[n]
        } else {
            let item = (n - header.len()) % 2 == 0;
            let f = match (file[10], item) {
                (ID, true) => Field::RunStart { index },
                (ID, false) => Field::RunLength { index },
                (_, true) => Field::AllocationStart { index },
                (_, false) => Field::AllocationLength { index },
            };
            if !item {
                index += 1;
            }
            f
        };
        fields.push((body_offset + pos, field));
        while b[pos] & 0x80 != 0 {
            pos += 1;
        }
        pos += 1;
    }
    fields
}

#[test]
fn overlong_varints_are_refused_in_every_field() {
    for file in sample_files() {
        let (body_offset, _) = body_of(&file);
        for (offset, field) in body_fields(&file) {
            // Append an empty 7-bit group to the varint at `offset`.
            let file = reseal(&file, |b| {
                let mut end = offset - body_offset;
                while b[end] & 0x80 != 0 {
                    end += 1;
                }
                b[end] |= 0x80;
                b.insert(end + 1, 0x00);
            });
            // The body length may have grown by a byte.
            let shift = body_of(&file).0 - body_offset;
            // A 10-byte varint cannot grow: an 11th byte is over 64 bits.
            let (_, b) = body_of(&file);
            let at = offset + shift - body_of(&file).0;
            let length = b[at..].iter().position(|x| x & 0x80 == 0).unwrap() + 1;
            let expected = if length > 10 {
                ErrorKind::VarintTooLarge
            } else {
                ErrorKind::OverlongVarint
            };
            assert_eq!(
                decode_any(&file).unwrap_err(),
                err(offset + shift, field, expected),
                "{field}"
            );
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
        err(14, Field::SpaceEnd, ErrorKind::VarintTooLarge)
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
            err(offset, field, ErrorKind::ValueOutOfRange { value, max }),
            "{field}"
        );
    }
}

#[test]
fn huge_counts_are_refused_before_any_allocation() {
    for (kind, prefix, field) in [
        (ADDRESS, vec![0u64, 0xffff], Field::AllocationCount),
        (ID, vec![0, 0xffff, 0], Field::RunCount),
    ] {
        for count in [3u64, 1 << 20, 1 << 60, u64::MAX] {
            let mut values = prefix.clone();
            values.push(count);
            values.extend([0, 0, 0, 0]); // room for 2 items
            let file = seal(kind, &body(&values));
            let offset = 12 + body(&prefix).len();
            let (e, peak, elapsed) = measure(|| decode_any(&file).unwrap_err());
            assert_eq!(
                e,
                err(offset, field, ErrorKind::CountTooLarge { count, max: 2 }),
                "{count}"
            );
            assert!(peak <= 64, "refusing a count allocated {peak} bytes");
            assert!(elapsed < Duration::from_millis(20), "{elapsed:?}");
        }
    }
    // A count the body could hold but does not: the first missing field is
    // truncated.
    let file = seal(ADDRESS, &body(&[0, 0xffff, 2, 0, 0xfff, 0]));
    assert_eq!(
        AddressAllocator::from_bytes(&file).unwrap_err(),
        err(
            21,
            Field::AllocationLength { index: 1 },
            ErrorKind::Truncated {
                needed: 1,
                available: 0
            }
        )
    );
}

#[test]
fn decoding_allocates_a_small_multiple_of_the_input() {
    for file in [
        packed_pages(10_000).to_bytes(),
        big_id_file(),
        mmio().to_bytes(),
    ] {
        let (result, peak, _) = measure(|| decode_any(&file));
        result.unwrap();
        // The tree holds 16 bytes per item and takes 2 or more bytes of
        // input per item; small files pay for one tree node.
        assert!(
            peak <= 16 * file.len() + 8192,
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
        ErrorKind::InvalidState(StateError::OutOfRange { .. })
    ));
    assert_eq!(LIVE.with(Cell::get), before);
}

// ---------------------------------------------------------------------------
// Invalid states behind a correct checksum.

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
            matches!(e.kind, ErrorKind::InvalidState(StateError::OutOfRange { index, .. }) if index == bad),
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
                ErrorKind::Truncated {
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
            err(offset, field, ErrorKind::Overflow { value }),
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
            ErrorKind::Overflow { value: 0 }
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
    assert_eq!(a.to_bytes(), top);
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
    // A freed-everything state is valid: no runs, next_id above the base.
    let file = seal(ID, &body(&[5, 23, 5, 0]));
    let mut a = IdAllocator::from_bytes(&file).unwrap();
    assert_eq!(
        a.free_id(7).unwrap_err(),
        vm_allocator::Error::AlreadyReleased(7)
    );
}

#[test]
fn touching_runs_cannot_be_expressed() {
    // Runs 5..=6 and 7..=8: the second run's gap would be 7 - (6 + 2) = -1.
    // Gap 0 already means "one free id between": 8..=9, not touching.
    let file = seal(ID, &body(&[5, 23, 6, 2, 0, 1, 0, 1]));
    let a = IdAllocator::from_bytes(&file).unwrap();
    assert_eq!(a.ranges().collect::<Vec<_>>(), vec![5..=6, 8..=9]);
    // A wrapped -1 is out of the u32 range of the field ...
    let file = seal(ID, &body(&[5, 23, 6, 2, 0, 1, u64::MAX, 1]));
    assert_eq!(
        IdAllocator::from_bytes(&file).unwrap_err(),
        err(
            18,
            Field::RunStart { index: 1 },
            ErrorKind::ValueOutOfRange {
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
        ErrorKind::InvalidState(StateError::OutOfRange { index: 1, .. })
    ));
}

// ---------------------------------------------------------------------------
// Messages and the listing.

#[test]
fn every_error_kind_has_a_message_with_the_place() {
    let cases = [
        (
            ErrorKind::FileTooLarge { size: 5, max: 4 },
            "file at byte 0: the input is 5 bytes, over the limit of 4",
        ),
        (
            ErrorKind::Truncated {
                needed: 4,
                available: 1,
            },
            "file at byte 0: truncated: needs 4 bytes, only 1 available",
        ),
        (
            ErrorKind::TrailingBytes { count: 3 },
            "file at byte 0: 3 trailing bytes",
        ),
        (
            ErrorKind::VarintTooLarge,
            "file at byte 0: varint value does not fit in 64 bits",
        ),
        (
            ErrorKind::ValueOutOfRange {
                value: 0x100,
                max: 0xff,
            },
            "file at byte 0: value 0x100 is out of range (at most 0xff)",
        ),
        (
            ErrorKind::BadMagic {
                found: [0; 8],
                found_len: 0,
            },
            "file at byte 0: not a vm-allocator file: found nothing, expected 89 56 4d 41 0d 0a 1a 0a",
        ),
        (
            ErrorKind::UnsupportedVersion {
                found: 7,
                supported: &[1, 2],
            },
            "file at byte 0: unsupported format version 7; this reader supports 1, 2",
        ),
    ];
    for (kind, message) in cases {
        assert_eq!(err(0, Field::File, kind).to_string(), message);
    }
    let fields = [
        (Field::AllocationLength { index: 4 }, "allocation #4 length"),
        (Field::RunLength { index: 2 }, "run #2 length"),
        (Field::EndOfBody, "end of body"),
        (Field::Body, "body"),
        (Field::RangeBase, "range base"),
        (Field::RunCount, "run count"),
        (Field::SpaceStart, "space start"),
    ];
    for (field, name) in fields {
        assert_eq!(field.to_string(), name);
    }
    // The state error is the source.
    let e = IdAllocator::from_bytes(&seal(ID, &body(&[10, 9, 0, 0]))).unwrap_err();
    let source = std::error::Error::source(&e).unwrap();
    assert_eq!(source.to_string(), "id range 10..=9 is inverted");
    assert!(std::error::Error::source(&err(0, Field::File, ErrorKind::OverlongVarint)).is_none());
}

#[test]
fn dump_lists_every_item() {
    let bytes = packed_pages(3).to_bytes();
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
    // It validates like the typed readers.
    let bad = seal(ADDRESS, &body(&[0x1000, 0xffff, 1, 0xf000, 0]));
    assert_eq!(
        format::dump(&bad).unwrap_err(),
        AddressAllocator::from_bytes(&bad).unwrap_err()
    );
}
