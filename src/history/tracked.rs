// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! What a [`History`](super::History) needs of a state beyond
//! [`Versioned`](crate::Versioned): the heap blocks it reaches, and what
//! holds a value now. One impl per kind of state.

use core::mem::size_of;

use triomphe::Arc;

use crate::engine::{arc_bytes, Block, Visit};
use crate::set::Entry;
use crate::{AddressAllocator, IdAllocator, Owner, Pool, PoolKind, RangeInclusive, ResourceSet};

/// The allocation that holds a value in a state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Holder<'a> {
    /// The pool, in a set.
    pub pool: Option<&'a Owner>,
    /// What the pool hands out.
    pub kind: PoolKind,
    /// For addresses the whole allocation, for ids the id itself.
    pub range: RangeInclusive,
    /// Its owner.
    pub owner: Option<&'a Owner>,
}

/// What a history needs of a state; not nameable outside the crate (a
/// supertrait of [`Versioned`](crate::Versioned)).
pub trait Tracked {
    /// Hands the heap blocks the state reaches to `visit`, from the top
    /// down, going on into a block's references only if `visit` says so
    /// (see `engine::heap`). The state's own struct is not a block: its
    /// owner holds it.
    fn walk_heap(&self, visit: &mut Visit<'_>);

    /// The allocation that holds `value` in `pool` (`None` for a lone
    /// allocator), if any. Time: O(log n), and O(p) for a set's pool.
    fn holder(&self, pool: Option<&str>, value: u64) -> Option<Holder<'_>>;
}

impl Tracked for IdAllocator {
    fn walk_heap(&self, visit: &mut Visit<'_>) {
        let (ids, owners) = self.trees();
        ids.walk_heap(visit);
        owners.walk_heap(visit);
    }

    fn holder(&self, pool: Option<&str>, value: u64) -> Option<Holder<'_>> {
        match pool {
            None => id_holder(self, None, value),
            Some(_) => None,
        }
    }
}

impl Tracked for AddressAllocator {
    fn walk_heap(&self, visit: &mut Visit<'_>) {
        self.tree().walk_heap(visit);
    }

    fn holder(&self, pool: Option<&str>, value: u64) -> Option<Holder<'_>> {
        match pool {
            None => address_holder(self, None, value),
            Some(_) => None,
        }
    }
}

impl Tracked for ResourceSet {
    fn walk_heap(&self, visit: &mut Visit<'_>) {
        let pools: &Arc<alloc::vec::Vec<Entry>> = self.shared_entries();
        // The vector's buffer belongs to the shared block: count them as one.
        let buffer = pools.capacity() * size_of::<Entry>();
        let block = Block {
            addr: Block::of_arc(pools, 0).addr,
            bytes: arc_bytes::<alloc::vec::Vec<Entry>>() + buffer,
        };
        if !visit(block) {
            return;
        }
        for entry in pools.iter() {
            visit(entry.name.heap_block());
            match &entry.pool {
                Pool::Ids(ids) => ids.walk_heap(visit),
                Pool::Addresses(addresses) => addresses.walk_heap(visit),
            }
        }
    }

    fn holder(&self, pool: Option<&str>, value: u64) -> Option<Holder<'_>> {
        let name = pool?;
        let entry = self.entries().iter().find(|e| e.name.as_str() == name)?;
        match &entry.pool {
            Pool::Ids(ids) => id_holder(ids, Some(&entry.name), value),
            Pool::Addresses(addresses) => address_holder(addresses, Some(&entry.name), value),
        }
    }
}

fn id_holder<'a>(ids: &'a IdAllocator, pool: Option<&'a Owner>, value: u64) -> Option<Holder<'a>> {
    let id = u32::try_from(value).ok()?;
    ids.is_allocated(id).then(|| Holder {
        pool,
        kind: PoolKind::Ids,
        range: RangeInclusive::from_parts(value, value),
        owner: ids.owner_at(id),
    })
}

fn address_holder<'a>(
    addresses: &'a AddressAllocator,
    pool: Option<&'a Owner>,
    value: u64,
) -> Option<Holder<'a>> {
    let range = addresses.allocation_containing(value)?;
    Some(Holder {
        pool,
        kind: PoolKind::Addresses,
        range,
        owner: addresses.owner_at(value),
    })
}
