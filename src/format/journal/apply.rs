// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! What a journal needs of each kind of state, and the rules a record
//! must meet to apply to the state before it (FORMAT.md 13.8, steps A1 to
//! A12). Every change goes through the allocators' own checked edits, so
//! a record can only ever give a valid state.

use alloc::vec::Vec;
use core::fmt;

use super::super::delta::PoolOffsets;
use super::super::set::pool_kind_byte;
use super::super::state::FileState;
use super::super::varint::Reader;
use super::super::{DecodeError, DecodeErrorKind, Field, FileKind, FORMAT_VERSION};
use crate::diff::{Change, PoolDiff};
use crate::{AddressAllocator, Diff, IdAllocator, Pool, ResourceSet};

/// What a journal needs of a kind of state: its file body and listing, and
/// applying a record's changes by the rules of FORMAT.md. Implemented by
/// the three kinds of state; reached through
/// [`Versioned`](crate::Versioned), never named outside the crate.
pub trait JournalState: Sized + Clone {
    /// The kind of its files.
    const JOURNAL_KIND: FileKind;

    /// Appends its version 2 body.
    fn encode_state(&self, out: &mut Vec<u8>);

    /// A guess of its body's size.
    fn state_hint(&self) -> usize;

    /// Decodes the version 2 body `bytes[start..]`.
    fn decode_state(bytes: &[u8], start: usize) -> Result<Self, DecodeError>;

    /// Lists it as `format::dump` does.
    fn list_state(&self, f: &mut dyn fmt::Write) -> fmt::Result;

    /// Applies the changes of a record, whose fields start at `offsets`;
    /// on an error the state is left part-way and must be dropped.
    fn apply_record(&mut self, diff: &Diff, offsets: &[PoolOffsets]) -> Result<(), DecodeError>;
}

macro_rules! file_state {
    () => {
        fn encode_state(&self, out: &mut Vec<u8>) {
            self.encode_body(FORMAT_VERSION, out);
        }

        fn state_hint(&self) -> usize {
            self.body_hint()
        }

        fn decode_state(bytes: &[u8], start: usize) -> Result<Self, DecodeError> {
            Self::decode_body(FORMAT_VERSION, Reader::new(bytes, start))
        }

        fn list_state(&self, f: &mut dyn fmt::Write) -> fmt::Result {
            self.list(FORMAT_VERSION, f)
        }
    };
}

impl JournalState for IdAllocator {
    const JOURNAL_KIND: FileKind = FileKind::IdAllocator;
    file_state!();

    fn apply_record(&mut self, diff: &Diff, offsets: &[PoolOffsets]) -> Result<(), DecodeError> {
        apply_ids(self, &diff.pools()[0], &offsets[0])?;
        self.set_generation(diff.generations().1);
        Ok(())
    }
}

impl JournalState for AddressAllocator {
    const JOURNAL_KIND: FileKind = FileKind::AddressAllocator;
    file_state!();

    fn apply_record(&mut self, diff: &Diff, offsets: &[PoolOffsets]) -> Result<(), DecodeError> {
        apply_addresses(self, &diff.pools()[0], &offsets[0])?;
        self.set_generation(diff.generations().1);
        Ok(())
    }
}

impl JournalState for ResourceSet {
    const JOURNAL_KIND: FileKind = FileKind::ResourceSet;
    file_state!();

    fn apply_record(&mut self, diff: &Diff, offsets: &[PoolOffsets]) -> Result<(), DecodeError> {
        let mut previous: Option<usize> = None;
        for (index, (change, at)) in diff.pools().iter().zip(offsets).enumerate() {
            let index = index as u64;
            let name = change.name().unwrap_or_default();
            let name_error = |kind| DecodeError::new(at.name, Field::PoolName { index }, kind);
            // A1: the pool exists; A2: pools in the set's order.
            let position = self
                .entries()
                .iter()
                .position(|e| e.name.as_str() == name)
                .ok_or(name_error(DecodeErrorKind::NoSuchPool))?;
            if previous.is_some_and(|p| p >= position) {
                return Err(name_error(DecodeErrorKind::PoolOutOfOrder));
            }
            previous = Some(position);
            let entry = &mut self.entries_mut()[position];
            // A3: of the pool's kind.
            let expected = pool_kind_byte(entry.pool.kind());
            let found = pool_kind_byte(change.kind());
            if expected != found {
                return Err(DecodeError::new(
                    at.kind,
                    Field::PoolKind { index },
                    DecodeErrorKind::WrongPoolKind { expected, found },
                ));
            }
            // A4: from the pool's generation.
            let (before, after) = change.generations();
            if entry.pool.generation() != before {
                return Err(DecodeError::new(
                    at.base_generation,
                    Field::BaseGeneration,
                    DecodeErrorKind::GenerationMismatch {
                        expected: entry.pool.generation(),
                        found: before,
                    },
                )
                .in_pool(index));
            }
            // A5: a pool listed is a pool changed.
            let moved = before != after
                || change.next_ids().is_some_and(|(x, y)| x != y)
                || !change.freed().is_empty()
                || !change.allocated().is_empty();
            if !moved {
                return Err(name_error(DecodeErrorKind::UnchangedPool));
            }
            match &mut entry.pool {
                Pool::Ids(ids) => {
                    apply_ids(ids, change, at).map_err(|e| e.in_pool(index))?;
                    ids.set_generation(after);
                }
                Pool::Addresses(a) => {
                    apply_addresses(a, change, at).map_err(|e| e.in_pool(index))?;
                    a.set_generation(after);
                }
            }
        }
        self.set_generation(diff.generations().1);
        Ok(())
    }
}

/// A6 to A10 for an id allocator.
fn apply_ids(
    ids: &mut IdAllocator,
    change: &PoolDiff,
    at: &PoolOffsets,
) -> Result<(), DecodeError> {
    let (before, after) = change.next_ids().expect("an id allocator's changes");
    if ids.next_id() != before {
        return Err(DecodeError::new(
            at.next_id,
            Field::NextId,
            DecodeErrorKind::NextIdMismatch {
                expected: ids.next_id(),
                found: before,
            },
        ));
    }
    for (index, c) in change.freed().iter().enumerate() {
        let r = c.range();
        if !ids.remove_labelled(r.start(), r.end(), c.owner()) {
            return Err(DecodeError::new(
                at.freed[index],
                Field::FreedStart {
                    index: index as u64,
                },
                DecodeErrorKind::NotAllocated,
            ));
        }
    }
    for (index, c) in change.allocated().iter().enumerate() {
        let r = c.range();
        let error = |kind| {
            DecodeError::new(
                at.allocated[index],
                Field::AllocatedStart {
                    index: index as u64,
                },
                kind,
            )
        };
        // Ids freed and allocated again with the same owner do not change.
        let freed = change.freed();
        let first = freed.partition_point(|f| f.range().end() < r.start());
        let again = freed[first..]
            .iter()
            .take_while(|f| f.range().start() <= r.end())
            .any(|f| f.owner() == c.owner());
        if again {
            return Err(error(DecodeErrorKind::NoOpChange));
        }
        if !ids.insert_labelled(r.start(), r.end(), c.owner().cloned()) {
            return Err(error(DecodeErrorKind::NotFree));
        }
    }
    if !ids.set_next_id_checked(after) {
        return Err(DecodeError::new(
            at.next_id_after,
            Field::NextIdAfter,
            DecodeErrorKind::InvalidNextId,
        ));
    }
    Ok(())
}

/// A7 to A9 for an address allocator.
fn apply_addresses(
    a: &mut AddressAllocator,
    change: &PoolDiff,
    at: &PoolOffsets,
) -> Result<(), DecodeError> {
    for (index, c) in change.freed().iter().enumerate() {
        if !a.remove_exact(c.range(), c.owner()) {
            return Err(DecodeError::new(
                at.freed[index],
                Field::FreedStart {
                    index: index as u64,
                },
                DecodeErrorKind::NotAllocated,
            ));
        }
    }
    for (index, c) in change.allocated().iter().enumerate() {
        let error = |kind| {
            DecodeError::new(
                at.allocated[index],
                Field::AllocatedStart {
                    index: index as u64,
                },
                kind,
            )
        };
        // An allocation freed and made again as it was does not change.
        let freed = change.freed();
        let again = freed
            .binary_search_by_key(&c.range().start(), |f| f.range().start())
            .is_ok_and(|i| same(&freed[i], c));
        if again {
            return Err(error(DecodeErrorKind::NoOpChange));
        }
        if !a.insert_free(c.range(), c.owner().cloned()) {
            return Err(error(DecodeErrorKind::NotFree));
        }
    }
    Ok(())
}

fn same(x: &Change, y: &Change) -> bool {
    x.range() == y.range() && x.owner() == y.owner()
}
