// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! One view of every pool of a state, whatever its kind: a lone allocator
//! is one pool without a name, a resource set its pools in order.

use vm_allocator::{AddressAllocator, Diff, IdAllocator, Owner, Pool, PoolKind};

use crate::load::State;

/// One pool of a state.
#[derive(Clone, Copy, Debug)]
pub struct PoolView<'a> {
    /// The pool's name; `None` for a lone allocator.
    pub name: Option<&'a str>,
    pub pool: PoolRef<'a>,
}

/// The allocator of a pool.
#[derive(Clone, Copy, Debug)]
pub enum PoolRef<'a> {
    Ids(&'a IdAllocator),
    Addresses(&'a AddressAllocator),
}

/// One allocation (for ids, a maximal run of ids with one owner).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Item<'a> {
    pub start: u64,
    pub end: u64,
    pub owner: Option<&'a Owner>,
}

impl Item<'_> {
    /// Its size: addresses, or ids.
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }
}

/// How the free part of a pool is split.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gaps {
    /// Number of maximal free ranges.
    pub count: u64,
    /// The size of the largest.
    pub largest: u64,
}

/// The pools of a state (none for a delta), in order.
pub fn pools(state: &State) -> Vec<PoolView<'_>> {
    match state {
        State::Ids(ids) => vec![PoolView {
            name: None,
            pool: PoolRef::Ids(ids),
        }],
        State::Addresses(a) => vec![PoolView {
            name: None,
            pool: PoolRef::Addresses(a),
        }],
        State::Set(set) => set
            .pools()
            .map(|(name, pool)| PoolView {
                name: Some(name),
                pool: match pool {
                    Pool::Ids(ids) => PoolRef::Ids(ids),
                    Pool::Addresses(a) => PoolRef::Addresses(a),
                },
            })
            .collect(),
        State::Delta(_) => Vec::new(),
    }
}

impl<'a> PoolView<'a> {
    pub fn kind(&self) -> PoolKind {
        match self.pool {
            PoolRef::Ids(_) => PoolKind::Ids,
            PoolRef::Addresses(_) => PoolKind::Addresses,
        }
    }

    /// The first id or address of the pool.
    pub fn start(&self) -> u64 {
        match self.pool {
            PoolRef::Ids(ids) => ids.range_base().into(),
            PoolRef::Addresses(a) => a.base(),
        }
    }

    /// The last id or address of the pool.
    pub fn end(&self) -> u64 {
        match self.pool {
            PoolRef::Ids(ids) => ids.range_end().into(),
            PoolRef::Addresses(a) => a.end(),
        }
    }

    /// Number of ids or addresses (a space never covers all of `u64`).
    pub fn total(&self) -> u64 {
        self.end() - self.start() + 1
    }

    pub fn used(&self) -> u64 {
        match self.pool {
            PoolRef::Ids(ids) => ids.used(),
            PoolRef::Addresses(a) => a.used(),
        }
    }

    pub fn free(&self) -> u64 {
        self.total() - self.used()
    }

    pub fn generation(&self) -> u64 {
        match self.pool {
            PoolRef::Ids(ids) => ids.generation(),
            PoolRef::Addresses(a) => a.generation(),
        }
    }

    /// For an id pool, one past the highest id ever handed out.
    ///
    /// The library has no getter for it; a diff from the empty allocator
    /// of the same range reports it. Time: O(n).
    pub fn next_id(&self) -> Option<u64> {
        let PoolRef::Ids(ids) = self.pool else {
            return None;
        };
        let empty = IdAllocator::new(ids.range_base(), ids.range_end()).ok()?;
        let diff = Diff::between(&empty, ids).ok()?;
        diff.pools().first()?.next_ids().map(|(_, after)| after)
    }

    /// The allocations in increasing order, with their owners.
    pub fn items(&self) -> Box<dyn Iterator<Item = Item<'a>> + 'a> {
        match self.pool {
            PoolRef::Ids(ids) => Box::new(ids.allocations().map(|a| Item {
                start: (*a.ids().start()).into(),
                end: (*a.ids().end()).into(),
                owner: a.owner(),
            })),
            PoolRef::Addresses(a) => Box::new(a.allocations().map(|a| Item {
                start: a.range().start(),
                end: a.range().end(),
                owner: a.owner(),
            })),
        }
    }

    /// Number of allocations as `items` lists them.
    pub fn count(&self) -> usize {
        match self.pool {
            PoolRef::Ids(_) => self.items().count(),
            PoolRef::Addresses(a) => a.len() as usize,
        }
    }

    /// The free ranges: how many, and the largest. Time: O(n).
    pub fn gaps(&self) -> Gaps {
        let mut gaps = Gaps::default();
        let mut add = |len: u64| {
            gaps.count += 1;
            gaps.largest = gaps.largest.max(len);
        };
        // The next id or address not yet seen; u128 so that one past the
        // end of the u64 space exists.
        let mut cursor = u128::from(self.start());
        for item in self.items() {
            if u128::from(item.start) > cursor {
                add((u128::from(item.start) - cursor) as u64);
            }
            cursor = u128::from(item.end) + 1;
        }
        let end = u128::from(self.end());
        if cursor <= end {
            add((end - cursor + 1) as u64);
        }
        gaps
    }

    /// A label for people: the pool's name (shown by the rule of
    /// `human::name`), or what the lone allocator is.
    pub fn label(&self) -> String {
        match (self.name, self.kind()) {
            (Some(name), _) => crate::human::name(name),
            (None, PoolKind::Ids) => "id allocator".to_string(),
            (None, PoolKind::Addresses) => "address allocator".to_string(),
        }
    }
}
