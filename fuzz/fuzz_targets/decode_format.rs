// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Arbitrary bytes into the on-disk format's readers (both allocators,
//! resource sets and deltas, format versions 1 and 2): each either refuses
//! them or returns a valid state whose encoding in the file's version is
//! exactly the input (the format is canonical), and the listing agrees with
//! the typed readers.
//!
//! Random bytes rarely carry a correct checksum, so every input is also
//! tried as the body of a well-framed file of each kind in each version.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vm_allocator::format::{self, DecodeError, DecodeErrorKind, Field, MAGIC};
use vm_allocator::{AddressAllocator, Delta, IdAllocator, ResourceSet};

fuzz_target!(|data: &[u8]| {
    check(data);
    for version in [1u16, 2] {
        for kind in [1, 2, 3, 4] {
            check(&seal(version, kind, data));
        }
    }
});

/// The format version of a file that opened (its bytes 8 and 9).
fn version_of(data: &[u8]) -> u16 {
    u16::from_le_bytes([data[8], data[9]])
}

/// Decodes `data` as a `$ty`; if that succeeds, checks the state with
/// `$check` and that writing it in the file's version gives `data` again.
macro_rules! typed {
    ($data:expr, $ty:ty, $check:expr) => {{
        let decoded = <$ty>::from_bytes($data);
        if let Ok(state) = &decoded {
            $check(state);
            let again = state
                .to_bytes_version(version_of($data))
                .expect("a state read from a version fits in it");
            assert_eq!(
                again,
                $data,
                concat!("accepted a non-canonical ", stringify!($ty), " file")
            );
        }
        decoded.map(|_| ())
    }};
}

fn check(data: &[u8]) {
    let typed: [Result<(), DecodeError>; 4] = [
        typed!(data, IdAllocator, |a: &IdAllocator| a.check_invariants().unwrap()),
        typed!(data, AddressAllocator, |a: &AddressAllocator| a
            .check_invariants()
            .unwrap()),
        typed!(data, ResourceSet, |s: &ResourceSet| s.check_invariants().unwrap()),
        typed!(data, Delta, |_: &Delta| ()),
    ];
    // A file is of one kind at most.
    let accepted = typed.iter().filter(|r| r.is_ok()).count();
    assert!(accepted <= 1, "{typed:?}");
    match format::dump(data) {
        Ok(_) => assert_eq!(accepted, 1, "listed but no reader accepts it"),
        Err(e) => {
            assert_eq!(accepted, 0, "a reader accepts what the listing refuses: {e:?}");
            // Every reader refuses it too. One says the same; the others
            // may say "wrong kind", and all do for a kind the listing calls
            // unknown.
            let errors: Vec<DecodeError> = typed.into_iter().map(|r| r.unwrap_err()).collect();
            if let (Field::Kind, DecodeErrorKind::UnknownKind { found }) = (e.field, e.kind) {
                for typed in &errors {
                    let wrong =
                        matches!(typed.kind, DecodeErrorKind::WrongKind { found: f, .. } if f == found);
                    assert!(wrong, "{e:?} / {typed:?}");
                }
            } else {
                assert!(errors.contains(&e), "{e:?} / {errors:?}");
            }
        }
    }
}

/// A file of format `version` and `kind` around `body`, framed as
/// FORMAT.md says.
fn seal(version: u16, kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    out.push(kind);
    let mut len = body.len() as u64;
    while len >= 0x80 {
        out.push(len as u8 | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend_from_slice(body);
    let crc = crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// CRC-32C, bit by bit (reflected polynomial 0x82f63b78).
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0x82f6_3b78 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}
