// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The journal reader (FORMAT.md section 13) on hostile bytes: journals of
//! generated states with a record's body edited and every checksum made
//! again (so that the edit reaches the record's rules, not just its
//! checksum), the same journals edited byte by byte without resealing (torn
//! tails, damage, records out of place), and any bytes after a sound
//! header. `vm_allocator_fuzz::check_journal` checks every reader's answer:
//! valid states, generations that move up, diffs that are those of the
//! states, a journal that writes again byte for byte up to where it ends,
//! and agreement with the listing.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use vm_allocator::format::JournalWriter;
use vm_allocator_fuzz::{check_journal, edit_record, journal_of_pair, mutate, AnyPair, Mutation};

#[derive(Arbitrary, Debug)]
enum Input {
    /// A record's body edited, the journal sealed again.
    Record {
        pair: AnyPair,
        label: bool,
        record: usize,
        mutations: Vec<Mutation>,
    },
    /// The journal edited byte by byte.
    Bytes {
        pair: AnyPair,
        label: bool,
        mutations: Vec<Mutation>,
    },
    /// Any bytes after the header of a generated state.
    After { pair: AnyPair, bytes: Vec<u8> },
}

fuzz_target!(|input: Input| {
    match input {
        Input::Record {
            pair,
            label,
            record,
            mutations,
        } => {
            let journal = journal(&pair, label);
            check_journal(&journal);
            check_journal(&edit_record(&journal, record, &mutations));
        }
        Input::Bytes {
            pair,
            label,
            mutations,
        } => {
            let mut journal = journal(&pair, label);
            mutate(&mut journal, &mutations);
            check_journal(&journal);
        }
        Input::After { pair, bytes } => {
            let mut journal = match &pair {
                AnyPair::Ids(p) => JournalWriter::start(&p.older, 1).1,
                AnyPair::Addresses(p) => JournalWriter::start(&p.older, 1).1,
                AnyPair::Set(p) => JournalWriter::start(&p.older, 1).1,
            };
            journal.extend_from_slice(&bytes);
            check_journal(&journal);
        }
    }
});

fn journal(pair: &AnyPair, label: bool) -> Vec<u8> {
    match pair {
        AnyPair::Ids(p) => journal_of_pair(p, 7, label),
        AnyPair::Addresses(p) => journal_of_pair(p, 7, label),
        AnyPair::Set(p) => journal_of_pair(p, 7, label),
    }
}
