// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The reference model of a `ResourceSet`: named pool models in order and a
//! count of successful set mutations; and the calls on a set.

use vm_allocator::{AddressAllocator, IdAllocator, PoolKind, ResourceSet, SetError, Transaction};

use super::{
    check_address, check_ids, queried_names, same, AddrCall, AddressModel, IdCall, IdModel,
    IdRangeSel, PoolSel, SetOp, SpaceSel, Value,
};

/// The set's pool on the scenario's address space.
pub const SPACE_POOL: &str = "space";
/// The set's pool on the scenario's id range.
pub const IDS_POOL: &str = "ids";
/// A name no pool has.
pub const MISSING_POOL: &str = "gpu_bars";

/// The model of one pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolModel {
    /// An id pool.
    Ids(IdModel),
    /// An address pool.
    Addresses(AddressModel),
}

impl PoolModel {
    /// What the pool hands out.
    pub fn kind(&self) -> PoolKind {
        match self {
            PoolModel::Ids(_) => PoolKind::Ids,
            PoolModel::Addresses(_) => PoolKind::Addresses,
        }
    }

    /// The pool's generation.
    pub fn generation(&self) -> u64 {
        match self {
            PoolModel::Ids(m) => m.generation,
            PoolModel::Addresses(m) => m.generation,
        }
    }

    /// True if an allocation has an owner.
    pub fn has_owners(&self) -> bool {
        match self {
            PoolModel::Ids(m) => !m.owners.is_empty(),
            PoolModel::Addresses(m) => !m.owners.is_empty(),
        }
    }

    /// Equal but for the generation.
    pub fn same_state(&self, other: &PoolModel) -> bool {
        match (self, other) {
            (PoolModel::Ids(a), PoolModel::Ids(b)) => a.same_state(b),
            (PoolModel::Addresses(a), PoolModel::Addresses(b)) => a.same_state(b),
            _ => false,
        }
    }

    /// Same kind and range or space.
    pub fn same_shape(&self, other: &PoolModel) -> bool {
        match (self, other) {
            (PoolModel::Ids(a), PoolModel::Ids(b)) => (a.base, a.end) == (b.base, b.end),
            (PoolModel::Addresses(a), PoolModel::Addresses(b)) => {
                (a.base, a.end) == (b.base, b.end)
            }
            _ => false,
        }
    }
}

/// What a `ResourceSet` should be: its pools in order, and the number of
/// successful mutations of the set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetModel {
    /// `(name, pool)` in the order they were added.
    pub pools: Vec<(String, PoolModel)>,
    /// Successful mutations of the set.
    pub generation: u64,
}

impl SetModel {
    /// `ResourceSet::x86_64()`, from the table in the documentation of
    /// `layout::x86_64` (not from its constants): empty, at generation 0.
    pub fn x86_64() -> SetModel {
        let ids = |base, end| PoolModel::Ids(IdModel::new(base, end).expect("a valid range"));
        let addresses = |base, size| {
            PoolModel::Addresses(AddressModel::new(base, size).expect("a valid space"))
        };
        let pools = vec![
            ("legacy_gsi", ids(5, 23)),
            ("msi_gsi", ids(24, 4095)),
            ("mmio32", addresses(0xd000_0000, 0xfec0_0000 - 0xd000_0000)),
            ("mmio64", addresses(256 << 30, 256 << 30)),
            ("past_mmio64", addresses(512 << 30, 512 << 30)),
            ("system_memory", addresses(0x9_fc00, 0xe_0000 - 0x9_fc00)),
            ("pio", addresses(0, 0x1_0000)),
        ];
        SetModel {
            pools: pools
                .into_iter()
                .map(|(name, pool)| (name.to_owned(), pool))
                .collect(),
            generation: 0,
        }
    }

    /// `add_pool` of a new name: layout, not a mutation (the generation
    /// stays).
    pub fn add_pool(&mut self, name: &str, pool: PoolModel) {
        assert!(self.pool(name).is_none(), "the model adds {name:?} twice");
        self.pools.push((name.to_owned(), pool));
    }

    /// The pool named `name`.
    pub fn pool(&self, name: &str) -> Option<&PoolModel> {
        self.pools.iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }

    /// Names of the pools of `kind` (every pool for `None`), in order.
    pub fn names(&self, kind: Option<PoolKind>) -> Vec<&str> {
        self.pools
            .iter()
            .filter(|(_, p)| kind.is_none_or(|k| p.kind() == k))
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// What the owner named `name` holds: `(pool, first, last)` in pool
    /// order, then address order (ids as maximal runs).
    pub fn allocations_of(&self, name: &str) -> Vec<(String, u64, u64)> {
        let mut out = Vec::new();
        for (pool, p) in &self.pools {
            match p {
                PoolModel::Ids(m) => out.extend(
                    m.ids_of(name)
                        .into_iter()
                        .map(|(a, b)| (pool.clone(), a.into(), b.into())),
                ),
                PoolModel::Addresses(m) => out.extend(
                    m.allocations_of(name)
                        .into_iter()
                        .map(|(a, b)| (pool.clone(), a, b)),
                ),
            }
        }
        out
    }

    /// `free_owner`: everything the owner holds, in one set mutation (and
    /// one per pool touched); nothing if it holds nothing.
    pub fn free_owner(&mut self, name: &str) -> Vec<(String, u64, u64)> {
        let freed = self.allocations_of(name);
        if freed.is_empty() {
            return freed;
        }
        for (_, p) in &mut self.pools {
            match p {
                PoolModel::Ids(m) => drop(m.free_owner(name)),
                PoolModel::Addresses(m) => drop(m.free_owner(name)),
            }
        }
        self.generation += 1;
        freed
    }

    /// Makes a call on the model.
    pub fn call(&mut self, c: &SetCall) -> Result<Value, SetError> {
        if let PoolCall::Addr(AddrCall::FreeOwner(o)) | PoolCall::Id(IdCall::FreeOwner(o)) = &c.call
        {
            return Ok(Value::FreedInSet(self.free_owner(o)));
        }
        let Some((_, pool)) = self.pools.iter_mut().find(|(n, _)| *n == c.pool) else {
            return Err(SetError::NoSuchPool(c.pool.clone()));
        };
        let before = pool.generation();
        let result = match (pool, &c.call) {
            (PoolModel::Addresses(m), PoolCall::Addr(call)) => call.model(m),
            (PoolModel::Ids(m), PoolCall::Id(call)) => call.model(m),
            (_, call) => {
                return Err(SetError::WrongKind {
                    pool: c.pool.clone(),
                    expected: call.kind(),
                })
            }
        };
        match result {
            Ok(value) => {
                let after = self.pool(&c.pool).expect("found above").generation();
                if after != before {
                    self.generation += 1;
                }
                Ok(value)
            }
            Err(error) => Err(SetError::Pool {
                pool: c.pool.clone(),
                error,
            }),
        }
    }

    /// True if any allocation has an owner.
    pub fn has_owners(&self) -> bool {
        self.pools.iter().any(|(_, p)| p.has_owners())
    }

    /// Equal as the sets' `==` sees it: names, order and pools, ignoring
    /// every generation.
    pub fn same_state(&self, other: &SetModel) -> bool {
        self.pools.len() == other.pools.len()
            && self
                .pools
                .iter()
                .zip(&other.pools)
                .all(|((a, p), (b, q))| a == b && p.same_state(q))
    }

    /// Same names, order, kinds, ranges and spaces.
    pub fn same_shape(&self, other: &SetModel) -> bool {
        self.pools.len() == other.pools.len()
            && self
                .pools
                .iter()
                .zip(&other.pools)
                .all(|((a, p), (b, q))| a == b && p.same_shape(q))
    }

    /// The same set without owners (`without_owners()`).
    pub fn without_owners(&self) -> SetModel {
        let pools = self
            .pools
            .iter()
            .map(|(n, p)| {
                let p = match p {
                    PoolModel::Ids(m) => PoolModel::Ids(m.without_owners()),
                    PoolModel::Addresses(m) => PoolModel::Addresses(m.without_owners()),
                };
                (n.clone(), p)
            })
            .collect();
        SetModel {
            pools,
            generation: self.generation,
        }
    }
}

/// The set of a scenario and its model: the x86_64 layout, then an address
/// pool on the scenario's space and an id pool on its id range.
pub fn scenario_set(space: SpaceSel, ids: IdRangeSel) -> Result<(ResourceSet, SetModel), String> {
    let (base, size) = space.base_and_size();
    let (first, last) = ids.bounds();
    let mut set = ResourceSet::x86_64();
    let mut model = SetModel::x86_64();
    check_set(&set, &model, Some(0)).map_err(|e| format!("ResourceSet::x86_64(): {e}"))?;
    set.add_address_pool(SPACE_POOL, base, size)
        .map_err(|e| format!("add_address_pool({base:#x}, {size:#x}): {e:?}"))?;
    set.add_id_pool(IDS_POOL, first, last)
        .map_err(|e| format!("add_id_pool({first}, {last}): {e:?}"))?;
    model.add_pool(
        SPACE_POOL,
        PoolModel::Addresses(AddressModel::new(base, size).expect("a valid space")),
    );
    model.add_pool(
        IDS_POOL,
        PoolModel::Ids(IdModel::new(first, last).expect("a valid range")),
    );
    Ok((set, model))
}

/// A call on one pool of a set.
#[derive(Debug, Clone)]
pub enum PoolCall {
    /// On an address pool.
    Addr(AddrCall),
    /// On an id pool.
    Id(IdCall),
}

impl PoolCall {
    /// The kind of pool it needs.
    pub fn kind(&self) -> PoolKind {
        match self {
            PoolCall::Addr(_) => PoolKind::Addresses,
            PoolCall::Id(_) => PoolKind::Ids,
        }
    }
}

/// A concrete call on a set: the pool's name and the call.
#[derive(Debug, Clone)]
pub struct SetCall {
    /// The pool's name.
    pub pool: String,
    /// The call.
    pub call: PoolCall,
}

impl SetCall {
    /// Makes the call on `s`.
    pub fn call(&self, s: &mut ResourceSet) -> Result<Value, SetError> {
        match &self.call {
            PoolCall::Addr(c) => c.call_set(s, &self.pool),
            PoolCall::Id(c) => c.call_set(s, &self.pool),
        }
    }

    /// Makes the call as a step of a set's transaction.
    pub fn call_tx(
        &self,
        tx: &mut Transaction<'_, ResourceSet>,
    ) -> Result<Value, (usize, SetError)> {
        match &self.call {
            PoolCall::Addr(c) => c.call_set_tx(tx, &self.pool),
            PoolCall::Id(c) => c.call_set_tx(tx, &self.pool),
        }
    }
}

impl PoolSel {
    /// The pool name this selects in `m`.
    pub fn resolve(self, m: &SetModel) -> String {
        let nth = |kind: Option<PoolKind>, n: u8| {
            let names = m.names(kind);
            if names.is_empty() {
                MISSING_POOL.to_owned()
            } else {
                names[usize::from(n) % names.len()].to_owned()
            }
        };
        match self {
            PoolSel::Ids(n) => nth(Some(PoolKind::Ids), n),
            PoolSel::Addresses(n) => nth(Some(PoolKind::Addresses), n),
            PoolSel::Any(n) => nth(None, n),
            PoolSel::Missing => MISSING_POOL.to_owned(),
        }
    }
}

impl SetOp {
    /// The call this selects in `m`, or `None` when there is nothing to
    /// call. Selectors resolve against the pool's model, or against a
    /// stand-in when the pool is missing or of the other kind (the call
    /// must then fail whatever its arguments).
    pub fn resolve(&self, m: &SetModel) -> Result<Option<SetCall>, String> {
        match self {
            SetOp::Addr { pool, step } => {
                let name = pool.resolve(m);
                let stand_in;
                let pool_model = match m.pool(&name) {
                    Some(PoolModel::Addresses(a)) => a,
                    _ => {
                        stand_in = AddressModel::new(0, 0x1_0000).expect("a valid space");
                        &stand_in
                    }
                };
                let Some(call) = step.resolve(pool_model)? else {
                    return Ok(None);
                };
                Ok(Some(SetCall {
                    pool: name,
                    call: PoolCall::Addr(call),
                }))
            }
            SetOp::Id { pool, step } => {
                let name = pool.resolve(m);
                let stand_in;
                let pool_model = match m.pool(&name) {
                    Some(PoolModel::Ids(ids)) => ids,
                    _ => {
                        stand_in = IdModel::new(0, 255).expect("a valid range");
                        &stand_in
                    }
                };
                Ok(Some(SetCall {
                    pool: name,
                    call: PoolCall::Id(step.resolve(pool_model)),
                }))
            }
        }
    }
}

/// Compares a `ResourceSet` with its model: the set's own queries, then
/// every pool as `check_address` / `check_ids` do.
pub fn check_set(s: &ResourceSet, m: &SetModel, probe: Option<usize>) -> Result<(), String> {
    s.check_invariants()
        .map_err(|e| format!("set invariant broken: {e}"))?;
    same("set generation()", s.generation(), m.generation)?;
    same("set len()", s.len(), m.pools.len())?;
    same("set is_empty()", s.is_empty(), m.pools.is_empty())?;
    same(
        "set pools()",
        s.pools()
            .map(|(n, p)| (n.to_owned(), p.kind()))
            .collect::<Vec<_>>(),
        m.pools.iter().map(|(n, p)| (n.clone(), p.kind())).collect(),
    )?;
    for (name, pm) in &m.pools {
        let pool = s
            .pool(name)
            .ok_or_else(|| format!("set pool({name:?}) is None"))?;
        let prefix = |e: String| format!("pool {name:?}: {e}");
        same("generation()", pool.generation(), pm.generation()).map_err(prefix)?;
        same("has_owners()", pool.has_owners(), pm.has_owners()).map_err(prefix)?;
        match pm {
            PoolModel::Addresses(am) => {
                same("ids() of an address pool", s.ids(name), None).map_err(prefix)?;
                let a: &AddressAllocator = s
                    .addresses(name)
                    .ok_or_else(|| prefix("addresses() is None".into()))?;
                same("as_addresses()", pool.as_addresses(), Some(a)).map_err(prefix)?;
                check_address(a, am, probe).map_err(prefix)?;
            }
            PoolModel::Ids(im) => {
                same("addresses() of an id pool", s.addresses(name), None).map_err(prefix)?;
                let ids: &IdAllocator =
                    s.ids(name).ok_or_else(|| prefix("ids() is None".into()))?;
                same("as_ids()", pool.as_ids(), Some(ids)).map_err(prefix)?;
                check_ids(ids, im, probe).map_err(prefix)?;
            }
        }
    }
    same("set pool(missing)", s.pool(MISSING_POOL), None)?;
    for name in queried_names() {
        super::same_lazy(
            || format!("set allocations_of({name:?})"),
            s.allocations_of(name)
                .map(|(pool, r)| (pool.to_owned(), r.start(), r.end()))
                .collect::<Vec<_>>(),
            m.allocations_of(name),
        )?;
    }
    same("set has_owners()", s.has_owners(), m.has_owners())
}

/// The cheap part of `check_set`: the set's and every pool's generation.
pub fn check_set_light(s: &ResourceSet, m: &SetModel) -> Result<(), String> {
    same("set generation()", s.generation(), m.generation)?;
    same(
        "pool generations",
        s.pools().map(|(_, p)| p.generation()).collect::<Vec<_>>(),
        m.pools.iter().map(|(_, p)| p.generation()).collect(),
    )
}
