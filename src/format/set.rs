// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The body of a [`ResourceSet`] file (version 2): the owner table shared
//! by every pool, the generation, then each pool as its name, its kind and
//! the record of its allocator.

use core::fmt;

use super::error::Unfit;
use super::owners::{DecodedOwners, OwnerTable};
use super::sink::Sink;
use super::state::FileState;
use super::varint::{self, Reader, MIN_NAME_BYTES};
use super::{address, id, DecodeError, DecodeErrorKind, Field, FileKind};
use crate::escape_name;
use crate::validate::ResourceSetBuilder;
use crate::{Pool, PoolKind, ResourceSet, StateError};

/// The kind byte of an id pool.
pub(super) const IDS: u8 = 1;
/// The kind byte of an address pool.
pub(super) const ADDRESSES: u8 = 2;

pub(super) fn pool_kind_byte(kind: PoolKind) -> u8 {
    match kind {
        PoolKind::Ids => IDS,
        PoolKind::Addresses => ADDRESSES,
    }
}

impl FileState for ResourceSet {
    const KIND: FileKind = FileKind::ResourceSet;

    fn fits(&self, version: u16) -> Result<(), Unfit> {
        if version >= 2 {
            Ok(())
        } else {
            Err(Unfit::ResourceSet)
        }
    }

    fn body_hint(&self) -> usize {
        self.pools()
            .map(|(_, pool)| match pool {
                Pool::Ids(ids) => ids.body_hint(),
                Pool::Addresses(a) => a.body_hint(),
            })
            .fold(16, usize::saturating_add)
    }

    fn encode_body<S: Sink>(&self, _version: u16, out: &mut S) {
        let owners =
            self.pools()
                .flat_map(|(_, pool)| -> alloc::boxed::Box<dyn Iterator<Item = _>> {
                    match pool {
                        Pool::Ids(ids) => {
                            alloc::boxed::Box::new(ids.allocations().filter_map(|a| a.owner()))
                        }
                        Pool::Addresses(a) => {
                            alloc::boxed::Box::new(a.allocations().filter_map(|a| a.owner()))
                        }
                    }
                });
        let mut table = OwnerTable::new(owners);
        table.write(out);
        varint::write(out, self.generation());
        varint::write(out, self.len() as u64);
        for (name, pool) in self.pools() {
            varint::write(out, name.len() as u64);
            out.put(name.as_bytes());
            out.byte(pool_kind_byte(pool.kind()));
            match pool {
                Pool::Ids(ids) => id::write_record(ids, &mut table, out),
                Pool::Addresses(a) => address::write_record(a, &mut table, out),
            }
        }
    }

    fn decode_body(_version: u16, mut r: Reader<'_>) -> Result<Self, DecodeError> {
        let mut owners = DecodedOwners::read(&mut r)?;
        let generation = r.varint(Field::Generation)?;
        let count = r.count_of(Field::PoolCount, MIN_NAME_BYTES)?;
        let mut builder = ResourceSetBuilder::new().generation(generation);
        for index in 0..count {
            let name_offset = r.pos();
            let name_field = Field::PoolName { index };
            let name = r.name(name_field)?;
            let kind_offset = r.pos();
            let kind = r.byte(Field::PoolKind { index })?;
            let pool: Pool = match kind {
                IDS => id::read_record(&mut r, &mut owners)
                    .map_err(|e| e.in_pool(index))?
                    .into(),
                ADDRESSES => address::read_record(&mut r, &mut owners)
                    .map_err(|e| e.in_pool(index))?
                    .into(),
                found => {
                    return Err(DecodeError::new(
                        kind_offset,
                        Field::PoolKind { index },
                        DecodeErrorKind::UnknownPoolKind { found },
                    ))
                }
            };
            builder.push(name, pool).map_err(|e: StateError| {
                DecodeError::new(name_offset, name_field, DecodeErrorKind::InvalidState(e))
            })?;
        }
        r.finish(Field::EndOfBody)?;
        owners.finish()?;
        builder.finish().map_err(|e| {
            DecodeError::new(r.pos(), Field::EndOfBody, DecodeErrorKind::InvalidState(e))
        })
    }

    fn list(&self, version: u16, f: &mut dyn fmt::Write) -> fmt::Result {
        writeln!(f, "generation: {}", self.generation())?;
        writeln!(f, "pools: {}", self.len())?;
        for (i, (name, pool)) in self.pools().enumerate() {
            writeln!(f, "pool #{i} {}: {} pool", escape_name(name), pool.kind())?;
            let mut indented = Indented {
                out: &mut *f,
                line_start: true,
            };
            match pool {
                Pool::Ids(ids) => id::list(ids, version, &mut indented)?,
                Pool::Addresses(a) => address::list(a, version, &mut indented)?,
            }
        }
        Ok(())
    }
}

/// Writes through to `out`, two spaces in from the left.
pub(super) struct Indented<'a> {
    pub(super) out: &'a mut dyn fmt::Write,
    pub(super) line_start: bool,
}

impl fmt::Write for Indented<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for piece in s.split_inclusive('\n') {
            if self.line_start {
                self.out.write_str("  ")?;
            }
            self.out.write_str(piece)?;
            self.line_start = piece.ends_with('\n');
        }
        Ok(())
    }
}
