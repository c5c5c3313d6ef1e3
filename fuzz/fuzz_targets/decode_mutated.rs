// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Structure-aware decoding: a valid state of any kind (an id or address
//! allocator, a resource set or a delta, from their `Arbitrary`) encoded
//! by one of the encoders whose decoder is under test — the file format
//! in version 1 or 2, serde under JSON, postcard, bincode 1.3.3 and
//! bitcode, the 0.1.x shape under JSON and bincode — then edited by a few
//! byte-level mutations and decoded again.
//!
//! A file's edits go into its body, and the file is framed again with the
//! right length and checksum (as the same or another kind), so that they
//! reach the validation of counts, gaps, owners, pools and changes instead
//! of stopping at the checksum, as random bytes do in `decode_format`. The
//! checks are those of `decode_format` (`check_file`): a refusal, or a
//! valid state whose encoding is exactly the input. A serde or 0.1.x
//! encoding must decode to an error or a valid state that encodes and
//! decodes back to itself.

#![no_main]

use std::fmt::Debug;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;
use vm_allocator::compat::v0_1::V01;
use vm_allocator::{AddressAllocator, IdAllocator, ResourceSet};
use vm_allocator_fuzz::{check_file, mutate, seal, unseal, AnyState, Mutation, SerdeFormat};

/// How the state is encoded before it is edited.
#[derive(Arbitrary, Debug)]
enum Encoding {
    /// Its file, in version 1 when the state fits there, else 2.
    File {
        /// Version 1 rather than 2.
        v1: bool,
        /// Frame the body as another kind (modulo 5; 0 keeps the kind).
        as_kind: u8,
    },
    /// Serde (a delta, which has no serde form, goes as a file).
    Serde(SerdeFormat),
    /// The shape of vm-allocator 0.1.x (allocators only; sets and
    /// deltas, and id allocators of more than 2^16 ids, go as a file).
    V01 {
        /// bincode rather than JSON.
        bincode: bool,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    state: AnyState,
    encoding: Encoding,
    mutations: Vec<Mutation>,
}

fuzz_target!(|input: Input| {
    let Input {
        state,
        encoding,
        mutations,
    } = input;
    match (&state, encoding) {
        (AnyState::Ids(s), Encoding::Serde(f)) => serde_case(s, f, &mutations, check_ids),
        (AnyState::Addresses(s), Encoding::Serde(f)) => {
            serde_case(s, f, &mutations, check_addresses)
        }
        (AnyState::Set(s), Encoding::Serde(f)) => serde_case(s, f, &mutations, check_set),
        (AnyState::Addresses(s), Encoding::V01 { bincode }) => {
            let format = if bincode {
                SerdeFormat::Bincode
            } else {
                SerdeFormat::Json
            };
            serde_case(&V01(s.without_owners()), format, &mutations, |v| {
                check_addresses(&v.0)
            })
        }
        (AnyState::Ids(s), Encoding::V01 { bincode })
            if u64::from(s.range_end() - s.range_base()) < 1 << 16 =>
        {
            let format = if bincode {
                SerdeFormat::Bincode
            } else {
                SerdeFormat::Json
            };
            serde_case(&V01(s.without_owners()), format, &mutations, |v| {
                check_ids(&v.0)
            })
        }
        (_, Encoding::File { v1, as_kind }) => file_case(&state, v1, as_kind, &mutations),
        _ => file_case(&state, false, 0, &mutations),
    }
});

fn file_case(state: &AnyState, v1: bool, as_kind: u8, mutations: &[Mutation]) {
    let file = v1
        .then(|| state.to_bytes_version(1))
        .flatten()
        .or_else(|| state.to_bytes_version(2))
        .expect("every state fits in version 2");
    // Unchanged, the file is accepted as itself.
    check_file(&file);
    let (version, kind, body) = unseal(&file).expect("our own file");
    let mut body = body.to_vec();
    mutate(&mut body, mutations);
    let kind = match as_kind % 5 {
        0 => kind,
        k => k,
    };
    check_file(&seal(version, kind, &body));
}

/// Encodes `value` in `format`, edits the bytes and decodes them: an
/// error, or a valid value (`check`) that goes through `format` again as
/// itself. Unedited, the value comes back as it was.
fn serde_case<T>(value: &T, format: SerdeFormat, mutations: &[Mutation], check: impl Fn(&T))
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let codec = format.codec();
    let mut bytes = codec.encode(value);
    let unedited: T = codec.decode(&bytes).expect("our own encoding decodes");
    assert_eq!(&unedited, value);
    mutate(&mut bytes, mutations);
    if let Ok(decoded) = codec.decode::<T>(&bytes) {
        check(&decoded);
        let again: T = codec
            .decode(&codec.encode(&decoded))
            .expect("decoding our own encoding");
        assert_eq!(again, decoded);
    }
}

fn check_ids(a: &IdAllocator) {
    a.check_invariants().unwrap();
}

fn check_addresses(a: &AddressAllocator) {
    a.check_invariants().unwrap();
}

fn check_set(s: &ResourceSet) {
    s.check_invariants().unwrap();
}
