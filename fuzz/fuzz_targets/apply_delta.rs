// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! A fuzzed delta applied to a fuzzed state: an error or a valid state,
//! never a panic.
//!
//! The state is one of a generated pair (`StatePair`: an id allocator, an
//! address allocator or a resource set, and a later state of it). The
//! delta is either the pair's own delta file with its body edited by
//! byte-level mutations and framed again with a correct checksum (so that
//! it names the right base state and its edited changes reach
//! `Delta::apply` and `Diff::apply`), or any bytes framed as a delta file.
//!
//! Both `Delta::apply` and `Diff::apply` (of the decoded delta's diff) run
//! on the older state, the newer state and, for a set, the older state
//! without owners. Whatever they accept must be a valid state that
//! round-trips through its file; `Delta::apply` must give exactly the
//! state its checksum and generation name. Unedited, the delta must turn
//! the older state into the newer one exactly, and refuse the newer one
//! unless they are the same.

#![no_main]

use std::fmt::Debug;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use vm_allocator::{AddressAllocator, Delta, IdAllocator, ResourceSet, StatePair, Versioned};
use vm_allocator_fuzz::{mutate, seal, unseal, AnyPair, Mutation};

#[derive(Arbitrary, Debug)]
enum Input {
    /// The pair's own delta, edited.
    Edited {
        pair: AnyPair,
        mutations: Vec<Mutation>,
    },
    /// Any bytes as the body of a delta file.
    Raw { pair: AnyPair, body: Vec<u8> },
}

/// What the target needs of a state beyond `Versioned`.
trait State: Versioned {
    fn check(&self);
    fn file(&self) -> Vec<u8>;
    fn decode(bytes: &[u8]) -> Self;
    fn others(&self) -> Vec<Self>;
}

macro_rules! state {
    ($ty:ty) => {
        impl State for $ty {
            fn check(&self) {
                self.check_invariants().unwrap();
            }

            fn file(&self) -> Vec<u8> {
                self.to_bytes()
            }

            fn decode(bytes: &[u8]) -> Self {
                <$ty>::from_bytes(bytes).expect("the file of a valid state")
            }

            fn others(&self) -> Vec<Self> {
                vec![self.without_owners()]
            }
        }
    };
}

state!(IdAllocator);
state!(AddressAllocator);
state!(ResourceSet);

fuzz_target!(|input: Input| {
    match input {
        Input::Edited { pair, mutations } => match pair {
            AnyPair::Ids(p) => edited(&p, &mutations),
            AnyPair::Addresses(p) => edited(&p, &mutations),
            AnyPair::Set(p) => edited(&p, &mutations),
        },
        Input::Raw { pair, body } => {
            let Ok(delta) = Delta::from_bytes(&seal(2, 4, &body)) else {
                return;
            };
            match pair {
                AnyPair::Ids(p) => apply_everywhere(&delta, &p),
                AnyPair::Addresses(p) => apply_everywhere(&delta, &p),
                AnyPair::Set(p) => apply_everywhere(&delta, &p),
            }
        }
    }
});

fn edited<S: State>(pair: &StatePair<S>, mutations: &[Mutation]) {
    let delta = Delta::between(&pair.older, &pair.newer).expect("a pair has one shape");
    let file = delta.to_bytes();
    let read = Delta::from_bytes(&file).expect("our own delta file");
    assert_eq!(read, delta);
    // Unedited: exactly the newer state, from the older one only.
    let newer = delta.apply(&pair.older).expect("the delta of the pair");
    assert_eq!(newer, pair.newer);
    assert_eq!(newer.generation(), pair.newer.generation());
    let same = pair.older == pair.newer && pair.older.generation() == pair.newer.generation();
    if !same {
        assert!(delta.apply(&pair.newer).is_err());
    }
    if mutations.is_empty() {
        return;
    }
    let (version, kind, body) = unseal(&file).expect("our own file");
    let mut body = body.to_vec();
    mutate(&mut body, mutations);
    if let Ok(delta) = Delta::from_bytes(&seal(version, kind, &body)) {
        apply_everywhere(&delta, pair);
    }
}

/// `Delta::apply` and `Diff::apply` of `delta` on every state of `pair`
/// (and variants): errors, or valid states.
fn apply_everywhere<S: State>(delta: &Delta, pair: &StatePair<S>) {
    let mut states = vec![pair.older.clone(), pair.newer.clone()];
    states.extend(pair.older.others());
    for state in &states {
        if let Ok(result) = delta.apply(state) {
            let file = accepted(&result);
            let checksum = u32::from_le_bytes(file[file.len() - 4..].try_into().unwrap());
            assert_eq!(checksum, delta.target_checksum());
            assert_eq!(result.generation(), delta.target_generation());
        }
        if let Ok(result) = delta.diff().apply(state) {
            accepted(&result);
            assert_eq!(result.generation(), delta.target_generation());
        }
    }
}

/// Checks a state a diff produced; returns its file.
fn accepted<S: State + Debug>(result: &S) -> Vec<u8> {
    result.check();
    let file = result.file();
    let back = S::decode(&file);
    assert_eq!(&back, result);
    assert_eq!(back.file(), file);
    file
}
