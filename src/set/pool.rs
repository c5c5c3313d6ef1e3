// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! One pool of a resource set: an id allocator or an address allocator.

use core::fmt;

use crate::{AddressAllocator, IdAllocator};

/// What a pool hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PoolKind {
    /// Integer ids ([`IdAllocator`]).
    Ids,
    /// Ranges of an address space ([`AddressAllocator`]).
    Addresses,
}

impl fmt::Display for PoolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PoolKind::Ids => "id",
            PoolKind::Addresses => "address",
        })
    }
}

/// The allocator of one pool of a [`ResourceSet`](crate::ResourceSet).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Pool {
    /// A pool of ids.
    Ids(IdAllocator),
    /// A pool of address space.
    Addresses(AddressAllocator),
}

impl Pool {
    /// What the pool hands out.
    pub fn kind(&self) -> PoolKind {
        match self {
            Pool::Ids(_) => PoolKind::Ids,
            Pool::Addresses(_) => PoolKind::Addresses,
        }
    }

    /// The id allocator, if this is an id pool.
    pub fn as_ids(&self) -> Option<&IdAllocator> {
        match self {
            Pool::Ids(ids) => Some(ids),
            Pool::Addresses(_) => None,
        }
    }

    /// The address allocator, if this is an address pool.
    pub fn as_addresses(&self) -> Option<&AddressAllocator> {
        match self {
            Pool::Addresses(a) => Some(a),
            Pool::Ids(_) => None,
        }
    }

    /// The allocator's generation.
    pub fn generation(&self) -> u64 {
        match self {
            Pool::Ids(ids) => ids.generation(),
            Pool::Addresses(a) => a.generation(),
        }
    }

    /// True if any allocation has an owner.
    pub fn has_owners(&self) -> bool {
        match self {
            Pool::Ids(ids) => ids.has_owners(),
            Pool::Addresses(a) => a.has_owners(),
        }
    }

    /// The same pool without owners.
    pub(crate) fn without_owners(&self) -> Pool {
        match self {
            Pool::Ids(ids) => Pool::Ids(ids.without_owners()),
            Pool::Addresses(a) => Pool::Addresses(a.without_owners()),
        }
    }

    /// True if both pools hand out the same kind of thing from the same
    /// range or space (whatever they hold).
    pub(crate) fn same_shape(&self, other: &Pool) -> bool {
        match (self, other) {
            (Pool::Ids(a), Pool::Ids(b)) => {
                a.range_base() == b.range_base() && a.range_end() == b.range_end()
            }
            (Pool::Addresses(a), Pool::Addresses(b)) => a.space() == b.space(),
            _ => false,
        }
    }

    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn check_invariants(&self) -> Result<(), alloc::string::String> {
        match self {
            Pool::Ids(ids) => ids.check_invariants(),
            Pool::Addresses(a) => a.check_invariants(),
        }
    }
}

impl From<IdAllocator> for Pool {
    fn from(ids: IdAllocator) -> Pool {
        Pool::Ids(ids)
    }
}

impl From<AddressAllocator> for Pool {
    fn from(addresses: AddressAllocator) -> Pool {
        Pool::Addresses(addresses)
    }
}
