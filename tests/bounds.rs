// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Resource bounds of every decoder (PRODUCT.md §4): an input that claims a
//! huge count or length fails with an error without allocating more than a
//! small multiple of its own size, and deeply nested input fails without
//! deep recursion.
//!
//! The decoders: the file format (`from_bytes`, `read_from` and
//! `format::dump`) in versions 1 and 2 for every kind (id allocator, address
//! allocator, resource set, delta); journals (`format::replay`,
//! `format::dump`, `Journal::read`, and `History::from_journal_bytes` with
//! a byte budget the size of the input), whose headers and records claim huge
//! counts and lengths, and the densest honest journals; serde under postcard, bincode 1.3.3,
//! bitcode and serde_json for every state type with a `Deserialize`;
//! `Versionize`; and the import of vm-allocator 0.1.x (`compat::v0_1`).
//!
//! **The bound**: the peak heap of the decoding thread (what is live at
//! once, above what was live before) is at most `FACTOR` × the input's
//! length + `SLACK`. The densest valid file packs one allocation in 2 bytes
//! (version 1: gap 0, length - 1 = 0) and the densest serde form in 7
//! (postcard); the state such an input decodes to holds each allocation in
//! a tree entry of 16 to 24 bytes plus its share of the nodes, so a correct
//! decoder of *valid* input already needs about 10 to 20 times the input
//! (measured below). 64× leaves room for that, and for a growing vector's
//! doubling, but not for anything allocated from a number read from the
//! input: a claim of 2^60 items, or of a 1 GiB body in a 40-byte file, must
//! cost nothing. `SLACK` covers what does not grow with the input: an
//! error's message, an empty tree's root, a reader's first buffer.
//!
//! JSON declares no counts or lengths, only what it holds: its hostile
//! lists (a million items, in every order of the fields) are measured in
//! `tests/serde_memory.rs`; here JSON is fed nesting.
//!
//! Nesting: the decoders run on a thread with a 256 KiB stack, on input
//! nested 100 000 deep (JSON brackets) or 10 000 deep (0.1.x's interval
//! tree, in every format). A decoder that recursed with the input would
//! overflow that stack and abort the test binary.
//!
//! Counting is per thread (`tests/support/counting.rs`), so the tests of
//! this file run in parallel without disturbing each other.

#![cfg(feature = "std")]

use std::fmt::Debug;

use vm_allocator::format::{self, MAGIC};
use vm_allocator::{AddressAllocator, Delta, History, IdAllocator, ResourceSet, Retention};

#[path = "support/counting.rs"]
mod counting;

#[cfg(feature = "serde")]
#[path = "support/codec.rs"]
mod codec;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// The peak heap may be this many times the input's length ...
const FACTOR: usize = 64;
/// ... plus this many bytes.
const SLACK: usize = 16 * 1024;

/// The stack of the threads that decode nested input.
const SMALL_STACK: usize = 256 * 1024;

/// Runs `decode` on `input_len` bytes of input, checks the bound and
/// returns the result, printing the heap it took.
fn within_bound<T, E>(
    what: &str,
    input_len: usize,
    decode: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    let (result, heap) = counting::measure(decode);
    let limit = FACTOR * input_len + SLACK;
    println!(
        "{what}: {input_len} input bytes, peak heap {} bytes ({:.2}x), {} bytes allocated in all",
        heap.peak,
        heap.peak as f64 / input_len.max(1) as f64,
        heap.total
    );
    assert!(
        heap.peak <= limit,
        "{what}: peak heap {} bytes for {input_len} input bytes (limit {limit})",
        heap.peak
    );
    result
}

/// As [`within_bound`], for input that must be refused; returns the error.
fn refused<T: Debug, E: Debug>(
    what: &str,
    input_len: usize,
    decode: impl FnOnce() -> Result<T, E>,
) -> E {
    within_bound(what, input_len, decode).expect_err(what)
}

// ---------------------------------------------------------------------
// The file format
// ---------------------------------------------------------------------

/// A huge count: far more items than any input holds.
const HUGE: u64 = 1 << 60;

fn varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A body of varints.
fn varints(values: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    for &v in values {
        varint(v, &mut out);
    }
    out
}

fn crc32c(bytes: &[u8]) -> u32 {
    crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(bytes)
}

/// A file with a correct frame and checksum around `body`.
fn file(version: u16, kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    out.push(kind);
    varint(body.len() as u64, &mut out);
    out.extend_from_slice(body);
    let crc = crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

const ID: u8 = 1;
const ADDRESS: u8 = 2;
const SET: u8 = 3;
const DELTA: u8 = 4;

/// Decodes `bytes` as the kind `kind` with every file decoder (`from_bytes`,
/// `read_from`, `format::dump` and, with the feature, `Versionize`), each
/// within the bound; returns whether `from_bytes` accepted it.
fn every_file_decoder(what: &str, kind: u8, bytes: &[u8]) -> bool {
    macro_rules! each {
        ($ty:ty) => {{
            let ok = within_bound(&format!("{what}: from_bytes"), bytes.len(), || {
                <$ty>::from_bytes(bytes)
            })
            .is_ok();
            let read = within_bound(&format!("{what}: read_from"), bytes.len(), || {
                <$ty>::read_from(bytes)
            });
            assert_eq!(read.is_ok(), ok, "{what}: read_from and from_bytes agree");
            #[cfg(feature = "versionize")]
            {
                let mut prefixed = (bytes.len() as u64).to_le_bytes().to_vec();
                prefixed.extend_from_slice(bytes);
                let v = within_bound(&format!("{what}: Versionize"), prefixed.len(), || {
                    <$ty as versionize::Versionize>::deserialize(
                        &mut &prefixed[..],
                        &versionize::VersionMap::new(),
                        1,
                    )
                });
                assert_eq!(v.is_ok(), ok, "{what}: Versionize and from_bytes agree");
            }
            ok
        }};
    }
    let ok = match kind {
        ID => each!(IdAllocator),
        ADDRESS => each!(AddressAllocator),
        SET => each!(ResourceSet),
        _ => each!(Delta),
    };
    let dump = within_bound(&format!("{what}: format::dump"), bytes.len(), || {
        format::dump(bytes)
    });
    assert_eq!(dump.is_ok(), ok, "{what}: dump and from_bytes agree");
    ok
}

/// Some bytes after a huge count, so that the input does not end right there.
const TAIL: [u8; 16] = [0; 16];

/// The bodies of version 1 and 2 that claim a huge count or length, by kind.
fn hostile_bodies() -> Vec<(&'static str, u16, u8, Vec<u8>)> {
    let with_tail = |mut body: Vec<u8>| {
        body.extend_from_slice(&TAIL);
        body
    };
    // Delta headers: base kind, base generation and checksum, target
    // generation and checksum.
    let delta_head = |kind: u8| {
        let mut b = varints(&[0]); // no owners
        b.push(kind);
        varint(0, &mut b);
        b.extend_from_slice(&[1, 2, 3, 4]);
        varint(1, &mut b);
        b.extend_from_slice(&[5, 6, 7, 8]);
        b
    };
    let mut cases = vec![
        (
            "v1 id allocator, 2^60 runs",
            1,
            ID,
            with_tail(varints(&[0, u32::MAX.into(), 1 << 32, HUGE])),
        ),
        (
            "v1 address allocator, 2^60 allocations",
            1,
            ADDRESS,
            with_tail(varints(&[0, 1 << 63, HUGE])),
        ),
        (
            "v2 id allocator, 2^60 runs",
            2,
            ID,
            with_tail(varints(&[0, 0, 0, u32::MAX.into(), 1 << 32, HUGE])),
        ),
        (
            "v2 address allocator, 2^60 allocations",
            2,
            ADDRESS,
            with_tail(varints(&[0, 0, 0, 1 << 63, HUGE])),
        ),
        (
            "v2 owner table of 2^60 names",
            2,
            ADDRESS,
            with_tail(varints(&[HUGE])),
        ),
        (
            "v2 owner name of 2^60 bytes",
            2,
            ID,
            with_tail(varints(&[1, HUGE])),
        ),
        (
            "v2 set, 2^60 pools",
            2,
            SET,
            with_tail(varints(&[0, 0, HUGE])),
        ),
        (
            "v2 set, pool name of 2^60 bytes",
            2,
            SET,
            with_tail(varints(&[0, 0, 1, HUGE])),
        ),
        {
            let mut b = varints(&[0, 0, 1, 4]);
            b.extend_from_slice(b"mmio");
            b.push(ADDRESS);
            varint(0, &mut b);
            varint(0, &mut b);
            varint(1 << 63, &mut b);
            varint(HUGE, &mut b);
            ("v2 set, a pool of 2^60 allocations", 2, SET, with_tail(b))
        },
        {
            let mut b = varints(&[0, 0, 1, 3]);
            b.extend_from_slice(b"gsi");
            b.push(ID);
            b.extend_from_slice(&varints(&[0, 0, u32::MAX.into(), 1 << 32, HUGE]));
            ("v2 set, a pool of 2^60 id runs", 2, SET, with_tail(b))
        },
        {
            let mut b = delta_head(ADDRESS);
            varint(HUGE, &mut b);
            (
                "v2 delta of addresses, 2^60 freed ranges",
                2,
                DELTA,
                with_tail(b),
            )
        },
        {
            let mut b = delta_head(ADDRESS);
            b.extend_from_slice(&varints(&[0, HUGE]));
            (
                "v2 delta of addresses, 2^60 allocated ranges",
                2,
                DELTA,
                with_tail(b),
            )
        },
        {
            let mut b = delta_head(ID);
            b.extend_from_slice(&varints(&[0, 4, HUGE]));
            ("v2 delta of ids, 2^60 freed ranges", 2, DELTA, with_tail(b))
        },
        {
            let mut b = delta_head(SET);
            varint(HUGE, &mut b);
            (
                "v2 delta of a set, 2^60 changed pools",
                2,
                DELTA,
                with_tail(b),
            )
        },
        {
            let mut b = delta_head(SET);
            b.extend_from_slice(&varints(&[1, 4]));
            b.extend_from_slice(b"mmio");
            b.push(ADDRESS);
            b.extend_from_slice(&varints(&[0, 1, HUGE]));
            (
                "v2 delta of a set, a pool with 2^60 freed ranges",
                2,
                DELTA,
                with_tail(b),
            )
        },
        {
            let mut b = varints(&[HUGE]);
            b.extend_from_slice(&TAIL);
            ("v2 delta, owner table of 2^60 names", 2, DELTA, b)
        },
    ];
    // Counts just above what the body could hold.
    for (version, kind, head) in [
        (1, ADDRESS, varints(&[0, 1 << 40])),
        (2, ADDRESS, varints(&[0, 0, 0, 1 << 40])),
        (1, ID, varints(&[0, u32::MAX.into(), 1 << 32])),
        (2, ID, varints(&[0, 0, 0, u32::MAX.into(), 1 << 32])),
    ] {
        let mut b = head;
        varint(1 << 12, &mut b);
        b.extend_from_slice(&[0; 4096]);
        let what = match (version, kind) {
            (1, ADDRESS) => "v1 address allocator, 4096 allocations in 4096 bytes",
            (2, ADDRESS) => "v2 address allocator, 4096 allocations in 4096 bytes",
            (1, _) => "v1 id allocator, 4096 runs in 4096 bytes",
            _ => "v2 id allocator, 4096 runs in 4096 bytes",
        };
        cases.push((what, version, kind, b));
    }
    cases
}

#[test]
fn files_claiming_huge_counts_are_refused_within_the_bound() {
    for (what, version, kind, body) in hostile_bodies() {
        let bytes = file(version, kind, &body);
        assert!(!every_file_decoder(what, kind, &bytes), "{what}: refused");
    }
}

#[test]
fn files_claiming_huge_lengths_are_refused_within_the_bound() {
    for version in [1u16, 2] {
        for kind in [ID, ADDRESS, SET, DELTA] {
            // A body length of 2^30 (the limit) and of 2^30 + 1, then 32 bytes.
            for claim in [1u64 << 30, (1 << 30) + 1] {
                let mut bytes = MAGIC.to_vec();
                bytes.extend_from_slice(&version.to_le_bytes());
                bytes.push(kind);
                varint(claim, &mut bytes);
                bytes.extend_from_slice(&[0; 32]);
                let what = format!("v{version} kind {kind}, a body of {claim} bytes in 32");
                assert!(!every_file_decoder(&what, kind, &bytes), "{what}: refused");
            }
        }
    }
}

#[cfg(feature = "versionize")]
#[test]
fn versionize_length_prefixes_reserve_nothing() {
    use versionize::{VersionMap, Versionize};
    let map = VersionMap::new();
    let file = AddressAllocator::new(0x1000, 0x1000).unwrap().to_bytes();
    for claim in [1u64 << 30, (1 << 30) + 1, u64::MAX] {
        let mut bytes = claim.to_le_bytes().to_vec();
        bytes.extend_from_slice(&file);
        let what = format!(
            "Versionize, a length prefix of {claim} before {} bytes",
            file.len()
        );
        refused(&what, bytes.len(), || {
            AddressAllocator::deserialize(&mut &bytes[..], &map, 1)
        });
        refused(&what, bytes.len(), || {
            ResourceSet::deserialize(&mut &bytes[..], &map, 1)
        });
        refused(&what, bytes.len(), || {
            Delta::deserialize(&mut &bytes[..], &map, 1)
        });
    }
    // A range is two u64: nothing to claim, and short input is an error.
    refused("Versionize, a range cut short", 9, || {
        vm_allocator::RangeInclusive::deserialize(&mut &[0u8; 9][..], &map, 1)
    });
}

/// The densest valid files: what honest input costs, for the bound's
/// factor; they must decode.
#[test]
fn the_densest_valid_files_decode_within_the_bound() {
    const N: u64 = 100_000;
    let dense = |head: &[u64], per_item: &[u64]| {
        let mut b = varints(head);
        varint(N, &mut b);
        for _ in 0..N {
            b.extend_from_slice(&varints(per_item));
        }
        b
    };
    let cases = [
        (
            "v1 address allocator, packed bytes",
            1,
            ADDRESS,
            dense(&[0, 1 << 40], &[0, 0]),
        ),
        (
            "v2 address allocator, packed bytes",
            2,
            ADDRESS,
            dense(&[0, 0, 0, 1 << 40], &[0, 0, 0]),
        ),
        (
            "v1 id allocator, runs of one id",
            1,
            ID,
            dense(&[0, u32::MAX.into(), 1 << 32], &[0, 0]),
        ),
        (
            "v2 id allocator, runs of one id",
            2,
            ID,
            dense(&[0, 0, 0, u32::MAX.into(), 1 << 32], &[1, 0, 0]),
        ),
    ];
    for (what, version, kind, body) in cases {
        let bytes = file(version, kind, &body);
        assert!(every_file_decoder(what, kind, &bytes), "{what}: accepted");
    }
}

// ---------------------------------------------------------------------
// Journals (FORMAT.md section 13)
// ---------------------------------------------------------------------

const JOURNAL_MAGIC: [u8; 8] = [0x89, b'V', b'M', b'J', b'\r', b'\n', 0x1a, b'\n'];

/// A journal header of `kind` around the state body `state` (journal id 1).
fn journal_header(kind: u8, state: &[u8]) -> Vec<u8> {
    let mut body = 1u64.to_le_bytes().to_vec();
    body.extend_from_slice(state);
    let mut out = JOURNAL_MAGIC.to_vec();
    out.extend_from_slice(&2u16.to_le_bytes());
    out.push(kind);
    varint(body.len() as u64, &mut out);
    out.extend_from_slice(&body);
    let crc = crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Appends a record around `body`, chained to the 4 bytes before it.
fn push_record(out: &mut Vec<u8>, body: &[u8]) {
    let start = out.len();
    let mut len = Vec::new();
    varint(body.len() as u64, &mut len);
    out.extend_from_slice(&len);
    out.extend_from_slice(body);
    out.extend(len.iter().rev());
    let crc = crc32c(&out[start - 4..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Reads `bytes` with every journal reader of `kind` (`format::replay`
/// to its end, `format::dump`, `Journal::read` of a file), each within the
/// bound; returns the records `replay` read, or `None` for a refused
/// header.
fn every_journal_decoder(what: &str, kind: u8, bytes: &[u8]) -> Option<u64> {
    use vm_allocator::Journal;
    fn records<S: vm_allocator::Versioned>(bytes: &[u8]) -> Option<u64> {
        let replay = format::replay::<S>(bytes).ok()?;
        Some(replay.finish().1.records)
    }
    let read = within_bound(&format!("{what}: replay"), bytes.len(), || {
        Ok::<_, ()>(match kind {
            ID => records::<IdAllocator>(bytes),
            ADDRESS => records::<AddressAllocator>(bytes),
            _ => records::<ResourceSet>(bytes),
        })
    })
    .unwrap();
    let dump = within_bound(&format!("{what}: format::dump"), bytes.len(), || {
        format::dump(bytes)
    });
    assert_eq!(
        dump.is_ok(),
        read.is_some(),
        "{what}: dump and replay agree"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    std::fs::write(&path, bytes).unwrap();
    let file = within_bound(&format!("{what}: Journal::read"), bytes.len(), || {
        Ok::<_, ()>(match kind {
            ID => Journal::<IdAllocator>::read(&path)
                .map(|r| r.1.records)
                .ok(),
            ADDRESS => Journal::<AddressAllocator>::read(&path)
                .map(|r| r.1.records)
                .ok(),
            _ => Journal::<ResourceSet>::read(&path)
                .map(|r| r.1.records)
                .ok(),
        })
    })
    .unwrap();
    assert_eq!(file, read, "{what}: Journal::read and replay agree");
    // Kept as versions, within a byte budget the size of the input: the
    // versions it keeps stay within it, and the history's bookkeeping
    // within the bound.
    fn history<S: vm_allocator::Versioned>(bytes: &[u8]) -> Option<u64> {
        let budget = Retention::unbounded().max_bytes(bytes.len());
        let (history, recovery) = History::<S>::from_journal_bytes(bytes, budget).ok()?;
        assert!(history.retained_bytes() <= bytes.len() || history.versions().len() == 1);
        Some(recovery.records)
    }
    let versions = within_bound(
        &format!("{what}: History::from_journal_bytes"),
        bytes.len(),
        || {
            Ok::<_, ()>(match kind {
                ID => history::<IdAllocator>(bytes),
                ADDRESS => history::<AddressAllocator>(bytes),
                _ => history::<ResourceSet>(bytes),
            })
        },
    )
    .unwrap();
    assert_eq!(
        versions, read,
        "{what}: History::from_journal_bytes and replay agree"
    );
    read
}

#[test]
fn journals_claiming_huge_counts_are_refused_within_the_bound() {
    // A base state that claims too much: the header is refused.
    for (what, version, kind, body) in hostile_bodies() {
        if version != 2 || kind == DELTA {
            continue;
        }
        let bytes = journal_header(kind, &body);
        let what = format!("journal header, {what}");
        assert_eq!(every_journal_decoder(&what, kind, &bytes), None, "{what}");
    }
    // A sound record that claims too much: the journal ends before it.
    let empty_ids = varints(&[0, 0, 0, u32::MAX.into(), 0, 0]);
    let empty_set = varints(&[0, 0, 0]);
    let records: Vec<(&str, u8, &[u8], Vec<u8>)> = vec![
        ("a label of 2^60 bytes", ID, &empty_ids, varints(&[HUGE])),
        (
            "an owner table of 2^60 names",
            ID,
            &empty_ids,
            varints(&[0, HUGE]),
        ),
        (
            "2^60 freed ids",
            ID,
            &empty_ids,
            varints(&[0, 0, 1, 0, 0, HUGE]),
        ),
        (
            "2^60 allocated ids",
            ID,
            &empty_ids,
            varints(&[0, 0, 1, 0, 0, 0, HUGE]),
        ),
        (
            "2^60 changed pools",
            SET,
            &empty_set,
            varints(&[0, 0, 1, HUGE]),
        ),
        (
            "a pool name of 2^60 bytes",
            SET,
            &empty_set,
            varints(&[0, 0, 1, 1, HUGE]),
        ),
    ];
    for (what, kind, state, body) in records {
        let mut bytes = journal_header(kind, state);
        let mut body = body;
        body.extend_from_slice(&TAIL);
        push_record(&mut bytes, &body);
        let what = format!("journal record, {what}");
        assert_eq!(
            every_journal_decoder(&what, kind, &bytes),
            Some(0),
            "{what}"
        );
    }
    // A record whose length claims 2^30 bytes (or more) in a small file.
    for claim in [1u64 << 30, (1 << 30) + 1, u64::MAX] {
        let mut bytes = journal_header(ID, &empty_ids);
        varint(claim, &mut bytes);
        bytes.extend_from_slice(&[0x80; 64]);
        let what = format!("journal record of {claim} bytes in 64");
        assert_eq!(every_journal_decoder(&what, ID, &bytes), Some(0), "{what}");
    }
}

/// The densest valid journals: a record per id or per page, many of them.
#[test]
fn the_densest_valid_journals_replay_within_the_bound() {
    use vm_allocator::format::JournalWriter;
    use vm_allocator::AllocPolicy;
    const N: u64 = 50_000;
    let mut ids = IdAllocator::new(0, u32::MAX - 1).unwrap();
    let (mut writer, mut bytes) = JournalWriter::start(&ids, 1);
    for _ in 0..N {
        ids.allocate_id().unwrap();
        writer.append_to(&ids, None, &mut bytes).unwrap();
    }
    let read = every_journal_decoder("a journal of 50,000 ids, one a record", ID, &bytes);
    assert_eq!(read, Some(N));
    let mut pages = AddressAllocator::new(1 << 32, 1 << 40).unwrap();
    let (mut writer, mut bytes) = JournalWriter::start(&pages, 1);
    for _ in 0..N {
        pages
            .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
            .unwrap();
        writer.append_to(&pages, None, &mut bytes).unwrap();
    }
    let read = every_journal_decoder("a journal of 50,000 pages, one a record", ADDRESS, &bytes);
    assert_eq!(read, Some(N));
}

// ---------------------------------------------------------------------
// serde
// ---------------------------------------------------------------------

#[cfg(feature = "serde")]
mod serde_bounds {
    use super::*;

    use serde::de::DeserializeOwned;
    use serde::ser::{SerializeSeq, SerializeTuple};
    use serde::{Serialize, Serializer};
    use vm_allocator::compat::v0_1::V01;
    use vm_allocator::{layout, AllocPolicy, Owner, Pool, RangeInclusive};

    use super::codec::{self, Codec};

    /// A sequence that declares `self.0` elements and holds `self.1`.
    struct Claim<T>(u64, Vec<T>);

    impl<T: Serialize> Serialize for Claim<T> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(self.0 as usize))?;
            for x in &self.1 {
                seq.serialize_element(x)?;
            }
            seq.end()
        }
    }

    /// A string declared `self.0` bytes long holding the bytes `self.1`, as postcard
    /// and bincode write a string: its length, then its bytes.
    struct ClaimStr(u64, &'static [u8]);

    impl Serialize for ClaimStr {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut t = s.serialize_tuple(1 + self.1.len())?;
            // postcard writes a `u64` and a `usize` as the same varint, and
            // bincode both as 8 bytes.
            t.serialize_element(&self.0)?;
            for b in self.1 {
                t.serialize_element(b)?;
            }
            t.end()
        }
    }

    /// `Some(ClaimStr)`: an owner whose name claims a huge length.
    struct SomeClaimStr(ClaimStr);

    impl Serialize for SomeClaimStr {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            // postcard and bincode write `Some` as the byte 1, then the value.
            let mut t = s.serialize_tuple(2)?;
            t.serialize_element(&1u8)?;
            t.serialize_element(&self.0)?;
            t.end()
        }
    }

    #[derive(Serialize)]
    struct Space {
        start: u64,
        end: u64,
    }

    #[derive(Serialize)]
    struct Addresses<I> {
        space: Space,
        generation: u64,
        allocations: Claim<I>,
    }

    #[derive(Serialize)]
    struct Ids<I> {
        range_base: u32,
        range_end: u32,
        next_id: u64,
        generation: u64,
        allocated: Claim<I>,
    }

    #[derive(Serialize)]
    enum PoolShape<I, A> {
        Ids(Ids<I>),
        Addresses(Addresses<A>),
    }

    #[derive(Serialize)]
    struct Entry<N, I, A> {
        name: N,
        pool: PoolShape<I, A>,
    }

    #[derive(Serialize)]
    struct Set<E> {
        generation: u64,
        pools: Claim<E>,
    }

    #[derive(Serialize)]
    struct IdsV01 {
        range_base: u32,
        next_id: Option<u32>,
        range_end: u32,
        freed_ids: Claim<u32>,
    }

    type Item = (u64, u64, Option<&'static str>);
    type IdItem = (u32, u32, Option<&'static str>);

    fn addresses<I>(claim: u64, items: Vec<I>) -> Addresses<I> {
        Addresses {
            space: Space {
                start: 0,
                end: 1 << 40,
            },
            generation: 0,
            allocations: Claim(claim, items),
        }
    }

    fn ids<I>(claim: u64, items: Vec<I>) -> Ids<I> {
        Ids {
            range_base: 0,
            range_end: u32::MAX,
            next_id: 1 << 32,
            generation: 0,
            allocated: Claim(claim, items),
        }
    }

    /// Decodes `bytes` as `T` under `codec` within the bound; it must be
    /// refused.
    fn refuse<T: DeserializeOwned + Debug>(what: &str, codec: Codec, bytes: &[u8]) {
        let what = format!("{what} ({codec:?})");
        refused(&what, bytes.len(), || codec.decode::<T>(bytes));
    }

    /// The hostile inputs of postcard and bincode, crafted through their
    /// serializers: every list and string claims 2^60 elements and holds
    /// one or a few.
    #[test]
    fn binary_serde_claiming_huge_counts_is_refused_within_the_bound() {
        let item: Item = (0, 0, None);
        let id_item: IdItem = (0, 0, None);
        let owner = || SomeClaimStr(ClaimStr(HUGE, b"net0"));
        for codec in [Codec::Postcard, Codec::Bincode] {
            let enc = |v: &dyn erased::Ser| v.encode(codec);
            refuse::<AddressAllocator>(
                "AddressAllocator, 2^60 allocations",
                codec,
                &enc(&addresses(HUGE, vec![item; 2])),
            );
            refuse::<AddressAllocator>(
                "AddressAllocator, an owner of 2^60 bytes",
                codec,
                &enc(&addresses(1, vec![(0u64, 0u64, owner())])),
            );
            refuse::<IdAllocator>(
                "IdAllocator, 2^60 runs",
                codec,
                &enc(&ids(HUGE, vec![id_item; 2])),
            );
            refuse::<IdAllocator>(
                "IdAllocator, an owner of 2^60 bytes",
                codec,
                &enc(&ids(1, vec![(0u32, 0u32, owner())])),
            );
            refuse::<Pool>(
                "Pool, 2^60 allocations",
                codec,
                &enc(&PoolShape::<IdItem, Item>::Addresses(addresses(
                    HUGE,
                    vec![item],
                ))),
            );
            refuse::<Pool>(
                "Pool, 2^60 id runs",
                codec,
                &enc(&PoolShape::<IdItem, Item>::Ids(ids(HUGE, vec![id_item]))),
            );
            type E = Entry<&'static str, IdItem, Item>;
            refuse::<ResourceSet>(
                "ResourceSet, 2^60 pools",
                codec,
                &enc(&Set::<E> {
                    generation: 0,
                    pools: Claim(HUGE, vec![]),
                }),
            );
            refuse::<ResourceSet>(
                "ResourceSet, a pool of 2^60 allocations",
                codec,
                &enc(&Set {
                    generation: 0,
                    pools: Claim(
                        1,
                        vec![Entry {
                            name: "mmio",
                            pool: PoolShape::<IdItem, Item>::Addresses(addresses(HUGE, vec![item])),
                        }],
                    ),
                }),
            );
            refuse::<ResourceSet>(
                "ResourceSet, a pool name of 2^60 bytes",
                codec,
                &enc(&Set {
                    generation: 0,
                    pools: Claim(
                        1,
                        vec![Entry {
                            name: ClaimStr(HUGE, b"mmio"),
                            pool: PoolShape::<IdItem, Item>::Addresses(addresses(0, vec![])),
                        }],
                    ),
                }),
            );
            refuse::<Owner>("Owner of 2^60 bytes", codec, &enc(&ClaimStr(HUGE, b"net0")));
            // 0.1.x: the freed ids claim 2^60 entries.
            refuse::<V01<IdAllocator>>(
                "0.1.x IdAllocator, 2^60 freed ids",
                codec,
                &enc(&IdsV01 {
                    range_base: 0,
                    next_id: Some(u32::MAX),
                    range_end: u32::MAX,
                    freed_ids: Claim(HUGE, vec![1, 2, 3]),
                }),
            );
        }
        // A range has nothing to claim.
        for codec in codec::CODECS {
            refuse::<RangeInclusive>("RangeInclusive, cut short", codec, &[0xff; 3]);
        }
    }

    /// What bitcode itself may take beyond the bound, whatever it decodes
    /// into: its column buffers. Measured: up to 29 808 bytes for a 23-byte
    /// input decoded into a plain `#[derive(Deserialize)]` struct (and
    /// 329 160 bytes when a derived `Vec` reserves from a raised length,
    /// which our decoders never do).
    const BITCODE_SLACK: usize = 64 * 1024;

    /// bitcode's layout is its own (columns of lengths and values): the
    /// hostile inputs are real encodings with their lengths raised, or cut
    /// short after a large length.
    #[test]
    fn bitcode_claiming_huge_counts_is_refused_within_the_bound() {
        let mut big = AddressAllocator::new(0, 1 << 40).unwrap();
        for i in 0..10_000u64 {
            big.allocate(1, 1, AllocPolicy::ExactMatch(2 * i)).unwrap();
        }
        let full = bitcode::serialize(&big).unwrap();
        // Cut short: the lengths still claim 10 000 items.
        for cut in [8, 16, 32, 64, 256] {
            let bytes = &full[..cut.min(full.len())];
            refuse::<AddressAllocator>(
                &format!("AddressAllocator of 10 000 allocations, first {cut} bytes"),
                Codec::Bitcode,
                bytes,
            );
        }
        // Every byte in turn raised (a length or a packing at its most) in
        // the encoding of a small state of each type.
        let mut small = AddressAllocator::new(0x1000, 0x10_0000).unwrap();
        let net0 = Owner::new("net0").unwrap();
        small
            .owned_by(&net0)
            .allocate(0x1000, 0x1000, AllocPolicy::ExactMatch(0x2000))
            .unwrap();
        let mut gsi = IdAllocator::new(5, 23).unwrap();
        gsi.allocate_id().unwrap();
        let mut set = ResourceSet::x86_64();
        set.allocate_ids(layout::x86_64::LEGACY_GSI, 2, 1).unwrap();
        each_byte_raised("AddressAllocator", &small, true);
        each_byte_raised("IdAllocator", &gsi, false);
        each_byte_raised("ResourceSet", &set, false);
        each_byte_raised("Pool", &Pool::Addresses(small.clone()), false);
        each_byte_raised("V01<IdAllocator>", &V01(gsi.clone()), false);
        each_byte_raised("V01<AddressAllocator>", &V01(small.without_owners()), false);
    }

    /// The same shape as our `AddressAllocator`, derived: what bitcode
    /// itself takes for the same bytes.
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct DerivedAddresses {
        space: (u64, u64),
        generation: u64,
        allocations: Vec<(u64, u64, Option<String>)>,
    }

    /// Decodes `value`'s encoding with each byte in turn raised, within the
    /// bound plus [`BITCODE_SLACK`]; with `derived`, measures the same bytes
    /// decoded as [`DerivedAddresses`] too, for comparison.
    fn each_byte_raised<T: serde::Serialize + DeserializeOwned + Debug>(
        what: &str,
        value: &T,
        derived: bool,
    ) {
        let bytes = bitcode::serialize(value).unwrap();
        let (mut worst, mut derived_worst) = (0, 0);
        for i in 0..bytes.len() {
            for raised in [0x01, 0x7f, 0x80, 0xfe, 0xff] {
                let mut b = bytes.clone();
                b[i] = raised;
                let (_, heap) = counting::measure(|| bitcode::deserialize::<T>(&b).map(drop));
                worst = worst.max(heap.peak);
                if derived {
                    let (_, heap) = counting::measure(|| {
                        bitcode::deserialize::<DerivedAddresses>(&b).map(drop)
                    });
                    derived_worst = derived_worst.max(heap.peak);
                }
                assert!(
                    heap.peak <= FACTOR * b.len() + SLACK + BITCODE_SLACK,
                    "{what}: byte {i} set to {raised:#x}: peak heap {} for {} bytes",
                    heap.peak,
                    b.len()
                );
            }
        }
        println!(
            "{what} (Bitcode), each byte raised: {} input bytes, worst peak heap {worst} bytes",
            bytes.len()
        );
        if derived {
            println!(
                "  the same bytes as a derived struct of the same shape: {derived_worst} bytes"
            );
        }
    }

    /// Type-erased `Serialize`, to encode the shapes above with one closure.
    mod erased {
        use crate::codec::Codec;

        pub trait Ser {
            fn encode(&self, codec: Codec) -> Vec<u8>;
        }

        impl<T: serde::Serialize> Ser for T {
            fn encode(&self, codec: Codec) -> Vec<u8> {
                codec.encode(self)
            }
        }
    }

    // -----------------------------------------------------------------
    // Nesting
    // -----------------------------------------------------------------

    /// Runs `f` on a thread with a small stack.
    fn on_small_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
        std::thread::Builder::new()
            .stack_size(SMALL_STACK)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    /// `[[[[...` 100 000 deep, and the same inside a field whose value is
    /// skipped, and inside every list: refused on a small stack.
    #[test]
    fn deeply_nested_json_is_refused_on_a_small_stack() {
        const DEPTH: usize = 100_000;
        let brackets = "[".repeat(DEPTH);
        let inputs = [
            brackets.clone(),
            format!(r#"{{"unknown":{brackets}"#),
            format!(r#"{{"space":{{"start":0,"end":9}},"generation":0,"allocations":{brackets}"#),
            format!(
                r#"{{"range_base":0,"range_end":9,"next_id":0,"generation":0,"allocated":{brackets}"#
            ),
            format!(r#"{{"generation":0,"pools":{brackets}"#),
            format!(r#"{{"generation":0,"pools":[{{"name":"a","pool":{{"Ids":{brackets}"#),
            format!(
                r#"{{"address_space":{{"start":0,"end":9}},"interval_tree":{{"root":{brackets}"#
            ),
            format!(r#"{{"range_base":0,"next_id":0,"range_end":9,"freed_ids":{brackets}"#),
        ];
        for (n, json) in inputs.into_iter().enumerate() {
            on_small_stack(move || {
                let len = json.len();
                let bytes = json.as_bytes();
                let what = format!("JSON nested {DEPTH} deep, input #{n}");
                macro_rules! each {
                    ($($ty:ty),*) => {$(
                        refused(&format!("{what} as {}", stringify!($ty)), len, || {
                            serde_json::from_slice::<$ty>(bytes)
                        });
                    )*};
                }
                each!(
                    AddressAllocator,
                    IdAllocator,
                    ResourceSet,
                    Pool,
                    Owner,
                    RangeInclusive,
                    V01<AddressAllocator>,
                    V01<IdAllocator>
                );
            });
        }
    }

    /// 0.1.x's interval tree is the one recursive shape: a chain of left
    /// children 10 000 deep, in every format, is refused on a small stack.
    #[test]
    fn a_deep_0_1_interval_tree_is_refused_on_a_small_stack() {
        #[derive(Serialize)]
        enum NodeState {
            Free,
            #[allow(dead_code)]
            Allocated,
        }

        #[derive(Serialize)]
        struct InnerNode {
            key: Space,
            node_state: NodeState,
            left: Option<Box<InnerNode>>,
            right: Option<Box<InnerNode>>,
            height: u64,
        }

        #[derive(Serialize)]
        struct IntervalTree {
            root: Option<Box<InnerNode>>,
        }

        #[derive(Serialize)]
        struct Allocator {
            address_space: Space,
            interval_tree: IntervalTree,
        }

        const DEPTH: u64 = 10_000;
        // Building, encoding and dropping the chain recurse: a large stack.
        let encodings = std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(|| {
                let mut root = None;
                for i in 0..DEPTH {
                    root = Some(Box::new(InnerNode {
                        key: Space {
                            start: DEPTH - i,
                            end: DEPTH - i,
                        },
                        node_state: NodeState::Free,
                        left: root,
                        right: None,
                        height: i + 1,
                    }));
                }
                let tree = Allocator {
                    address_space: Space {
                        start: 0,
                        end: DEPTH + 1,
                    },
                    interval_tree: IntervalTree { root },
                };
                codec::CODECS.map(|codec| (codec, codec.encode(&tree)))
            })
            .unwrap()
            .join()
            .unwrap();
        for (codec, bytes) in encodings {
            on_small_stack(move || {
                let what = format!("0.1.x interval tree {DEPTH} deep ({codec:?})");
                let e = refused(&what, bytes.len(), || {
                    codec.decode::<V01<AddressAllocator>>(&bytes)
                });
                if codec.keeps_messages() {
                    assert!(e.contains("deep"), "{what}: {e}");
                }
            });
        }
    }
}
