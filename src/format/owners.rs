// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The owner table at the start of every version 2 body.
//!
//! Each distinct owner name is stored once, in a table sorted by its bytes;
//! items refer to it by position plus one (0: no owner). Sorted and with
//! every name used, the table has one spelling for each state.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use super::sink::Sink;
use super::varint::{self, Reader, MIN_NAME_BYTES};
use super::{DecodeError, DecodeErrorKind, Field};
use crate::Owner;

/// The table a writer builds from the owners of a state.
pub(super) struct OwnerTable<'a> {
    /// The distinct names, sorted.
    names: Vec<&'a str>,
    /// The last owner looked up and its item value: items with the same
    /// owner tend to follow each other.
    last: Option<(&'a Owner, u64)>,
}

impl<'a> OwnerTable<'a> {
    /// The table of every owner in `owners`. Time: O(n log k), k = names.
    pub(super) fn new(owners: impl Iterator<Item = &'a Owner>) -> Self {
        let mut names: BTreeSet<&'a str> = BTreeSet::new();
        let mut last: Option<&'a Owner> = None;
        for owner in owners {
            // Skip the search for a run of one owner.
            if last.is_some_and(|l| l.ptr_eq(owner)) {
                continue;
            }
            last = Some(owner);
            names.insert(owner.as_str());
        }
        OwnerTable {
            names: names.into_iter().collect(),
            last: None,
        }
    }

    /// Writes the table.
    pub(super) fn write(&self, out: &mut impl Sink) {
        varint::write(out, self.names.len() as u64);
        for name in &self.names {
            varint::write(out, name.len() as u64);
            out.put(name.as_bytes());
        }
    }

    /// The item value of `owner`: 0 for none, else its position plus one.
    #[inline]
    pub(super) fn value(&mut self, owner: Option<&'a Owner>) -> u64 {
        let Some(owner) = owner else {
            return 0;
        };
        if let Some((last, value)) = self.last {
            if last.ptr_eq(owner) {
                return value;
            }
        }
        let i = self
            .names
            .binary_search(&owner.as_str())
            .expect("every owner is in the table");
        let value = i as u64 + 1;
        self.last = Some((owner, value));
        value
    }
}

/// The table a reader decoded, and which names the items used.
pub(super) struct DecodedOwners {
    owners: Vec<Owner>,
    /// Offset of each name's first byte, for errors.
    offsets: Vec<usize>,
    used: Vec<bool>,
}

impl DecodedOwners {
    /// A table with no names (version 1 bodies).
    pub(super) fn empty() -> Self {
        DecodedOwners {
            owners: Vec::new(),
            offsets: Vec::new(),
            used: Vec::new(),
        }
    }

    /// Reads the table: the count, then each name, which must follow the
    /// naming rules and come after the one before it.
    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let count = r.count_of(Field::OwnerCount, MIN_NAME_BYTES)?;
        let mut table = DecodedOwners::empty();
        let mut previous: Option<&str> = None;
        for index in 0..count {
            let offset = r.pos();
            let field = Field::OwnerName { index };
            let name = r.name(field)?;
            if previous.is_some_and(|p| p >= name) {
                return Err(DecodeError::new(
                    offset,
                    field,
                    DecodeErrorKind::UnsortedOwners,
                ));
            }
            previous = Some(name);
            table
                .owners
                .push(Owner::new(name).expect("the reader checked the name"));
            table.offsets.push(offset);
            table.used.push(false);
        }
        Ok(table)
    }

    /// Reads an item's owner: 0 for none, else a position in the table
    /// plus one.
    #[inline(always)]
    pub(super) fn item(
        &mut self,
        r: &mut Reader<'_>,
        field: Field,
    ) -> Result<Option<Owner>, DecodeError> {
        // Most items have no owner: their 0 byte is read inline, in the
        // decoding loop, and only an owned item makes a call.
        if r.skip_zero() {
            return Ok(None);
        }
        self.owned_item(r, field)
    }

    /// `item` for a byte that is not 0: an owner, or an error.
    #[inline(never)]
    fn owned_item(
        &mut self,
        r: &mut Reader<'_>,
        field: Field,
    ) -> Result<Option<Owner>, DecodeError> {
        let value = r.varint_at_most(field, self.owners.len() as u64)?;
        Ok(value.checked_sub(1).map(|i| {
            let i = i as usize;
            self.used[i] = true;
            self.owners[i].clone()
        }))
    }

    /// Checks that every name was used by some item.
    pub(super) fn finish(&self) -> Result<(), DecodeError> {
        match self.used.iter().position(|&u| !u) {
            Some(i) => Err(DecodeError::new(
                self.offsets[i],
                Field::OwnerName { index: i as u64 },
                DecodeErrorKind::UnusedOwner,
            )),
            None => Ok(()),
        }
    }
}
