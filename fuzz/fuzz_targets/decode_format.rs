// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Arbitrary bytes into the on-disk format's readers: each either refuses
//! them or returns a valid state whose encoding is exactly the input (the
//! format is canonical), and the listing agrees with the typed readers.
//!
//! Random bytes rarely carry a correct checksum, so every input is also
//! tried as the body of a well-framed file of each kind.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vm_allocator::format::{self, ErrorKind, FORMAT_VERSION, MAGIC};
use vm_allocator::{AddressAllocator, IdAllocator};

fuzz_target!(|data: &[u8]| {
    check(data);
    for kind in [1, 2] {
        check(&seal(kind, data));
    }
});

fn check(data: &[u8]) {
    let ids = IdAllocator::from_bytes(data);
    if let Ok(a) = &ids {
        a.check_invariants().unwrap();
        assert_eq!(
            a.to_bytes(),
            data,
            "accepted a non-canonical IdAllocator file"
        );
    }
    let addresses = AddressAllocator::from_bytes(data);
    if let Ok(a) = &addresses {
        a.check_invariants().unwrap();
        assert_eq!(
            a.to_bytes(),
            data,
            "accepted a non-canonical AddressAllocator file"
        );
    }
    // A file is of one kind at most.
    assert!(ids.is_err() || addresses.is_err());
    match format::dump(data) {
        Ok(_) => assert!(ids.is_ok() || addresses.is_ok()),
        Err(e) => {
            // Both readers refuse it too. One says the same; the other may
            // say "wrong kind", and both do for a kind the listing calls
            // unknown.
            let (ids, addresses) = (ids.unwrap_err(), addresses.unwrap_err());
            if let ErrorKind::UnknownKind { found } = e.kind {
                for typed in [ids, addresses] {
                    let wrong =
                        matches!(typed.kind, ErrorKind::WrongKind { found: f, .. } if f == found);
                    assert!(wrong, "{e:?} / {typed:?}");
                }
            } else {
                assert!(
                    ids == e || addresses == e,
                    "{e:?} / {ids:?} / {addresses:?}"
                );
            }
        }
    }
}

/// A file of `kind` around `body`, framed as FORMAT.md says.
fn seal(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
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
