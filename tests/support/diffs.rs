// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Naive diffs of two models, naive application of a diff to a model, and
//! [`Subject`]: what the runner needs of each kind of state (the two
//! allocators and the set) to diff, transact and encode them generically.

use std::collections::BTreeSet;

use vm_allocator::format::{DecodeError, EncodeError, FileKind, Unfit};
use vm_allocator::{
    AddressAllocator, ChangeKind, Diff, DiffError, Error, IdAllocator, Owner, PoolKind,
    RangeInclusive, ResourceSet, SetError, Versioned,
};

use super::{
    check_address, check_ids, check_set, join_runs, name_of, AddressModel, IdModel, Item,
    PoolModel, SetModel,
};

/// One allocator's changes, as a [`vm_allocator::PoolDiff`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolDiffModel {
    /// The pool's name (`None` for a lone allocator).
    pub name: Option<String>,
    /// What the pool hands out.
    pub kind: PoolKind,
    /// Generations before and after.
    pub generations: (u64, u64),
    /// For ids, the next never-allocated id before and after.
    pub next_ids: Option<(u64, u64)>,
    /// Freed ranges with their old owners, in order.
    pub freed: Vec<Item<u64>>,
    /// Allocated ranges with their new owners, in order.
    pub allocated: Vec<Item<u64>>,
}

/// A whole diff, as [`Diff`] holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffModel {
    /// The kind of state.
    pub kind: FileKind,
    /// Generations of the older and newer state.
    pub generations: (u64, u64),
    /// The pools that moved, in pool order.
    pub pools: Vec<PoolDiffModel>,
}

/// One line of `Diff::changes`: kind, pool, pool kind, first, last, owner.
pub type ChangeItem = (
    ChangeKind,
    Option<String>,
    PoolKind,
    u64,
    u64,
    Option<String>,
);

fn items(changes: &[vm_allocator::Change]) -> Vec<Item<u64>> {
    changes
        .iter()
        .map(|c| (c.range().start(), c.range().end(), name_of(c.owner())))
        .collect()
}

impl DiffModel {
    /// The content of a real diff, to compare with a model's.
    pub fn of(d: &Diff) -> DiffModel {
        DiffModel {
            kind: d.kind(),
            generations: d.generations(),
            pools: d
                .pools()
                .iter()
                .map(|p| PoolDiffModel {
                    name: p.name().map(str::to_owned),
                    kind: p.kind(),
                    generations: p.generations(),
                    next_ids: p.next_ids(),
                    freed: items(p.freed()),
                    allocated: items(p.allocated()),
                })
                .collect(),
        }
    }

    /// Number of changes.
    pub fn len(&self) -> usize {
        self.pools
            .iter()
            .map(|p| p.freed.len() + p.allocated.len())
            .sum()
    }

    /// What `Diff::changes` lists: pool order, then address order, a freed
    /// range before an allocated one at the same start.
    pub fn changes(&self) -> Vec<ChangeItem> {
        let mut out = Vec::new();
        for p in &self.pools {
            let mut pool: Vec<ChangeItem> = p
                .freed
                .iter()
                .map(|(s, e, o)| (ChangeKind::Freed, *s, *e, o))
                .chain(
                    p.allocated
                        .iter()
                        .map(|(s, e, o)| (ChangeKind::Allocated, *s, *e, o)),
                )
                .map(|(k, s, e, o)| (k, p.name.clone(), p.kind, s, e, o.clone()))
                .collect();
            // Stable: freed before allocated on one start (Freed < Allocated).
            pool.sort_by_key(|c| (c.3, c.0));
            out.extend(pool);
        }
        out
    }
}

/// The changes from `older` to `newer` (same space): allocations (with
/// their owners) only in one of them.
pub fn address_pool_diff(
    name: Option<String>,
    older: &AddressModel,
    newer: &AddressModel,
) -> PoolDiffModel {
    let (a, b) = (older.allocations(), newer.allocations());
    let (sa, sb): (BTreeSet<_>, BTreeSet<_>) = (a.iter().collect(), b.iter().collect());
    PoolDiffModel {
        name,
        kind: PoolKind::Addresses,
        generations: (older.generation, newer.generation),
        next_ids: None,
        freed: a.iter().filter(|x| !sb.contains(x)).cloned().collect(),
        allocated: b.iter().filter(|x| !sa.contains(x)).cloned().collect(),
    }
}

/// The changes from `older` to `newer` (same range), id by id: each id is
/// free or allocated with an owner (or none); an id whose label differs is
/// freed with its old owner and/or allocated with its new one; the changes
/// are maximal runs of consecutive ids with one owner.
pub fn id_pool_diff(name: Option<String>, older: &IdModel, newer: &IdModel) -> PoolDiffModel {
    let label = |m: &IdModel, id: u32| {
        m.allocated
            .contains(&id)
            .then(|| name_of(m.owners.get(&id)))
    };
    let mut freed = Vec::new();
    let mut allocated = Vec::new();
    for &id in older.allocated.union(&newer.allocated) {
        let (a, b) = (label(older, id), label(newer, id));
        if a != b {
            if let Some(owner) = a {
                freed.push((id, owner));
            }
            if let Some(owner) = b {
                allocated.push((id, owner));
            }
        }
    }
    let widen = |runs: Vec<(u32, u32, Option<String>)>| {
        runs.into_iter()
            .map(|(a, b, o)| (u64::from(a), u64::from(b), o))
            .collect()
    };
    PoolDiffModel {
        name,
        kind: PoolKind::Ids,
        generations: (older.generation, newer.generation),
        next_ids: Some((older.next_id, newer.next_id)),
        freed: widen(join_runs(freed)),
        allocated: widen(join_runs(allocated)),
    }
}

fn owner(name: &Option<String>) -> Option<Owner> {
    name.as_deref()
        .map(|n| Owner::new(n).expect("a name the model holds"))
}

fn not_allocated(pool: &Option<String>, (s, e, o): &Item<u64>) -> DiffError {
    DiffError::NotAllocated {
        pool: pool.clone(),
        range: RangeInclusive::new(*s, *e).expect("a change is a range"),
        owner: owner(o),
    }
}

fn not_free(pool: &Option<String>, (s, e, _): &Item<u64>) -> DiffError {
    DiffError::NotFree {
        pool: pool.clone(),
        range: RangeInclusive::new(*s, *e).expect("a change is a range"),
    }
}

fn shape_mismatch() -> DiffError {
    DiffError::ShapeMismatch {
        what: String::new(),
    }
}

/// The same error, with the prose of a shape mismatch dropped: only the
/// variant is compared.
pub fn normalize(e: DiffError) -> DiffError {
    match e {
        DiffError::ShapeMismatch { .. } => shape_mismatch(),
        e => e,
    }
}

/// Applies one pool's changes to an address model, in the documented
/// order: every freed range must be allocated with exactly its owner, then
/// every allocated range must be inside the space and free.
pub fn apply_address_pool(m: &mut AddressModel, p: &PoolDiffModel) -> Result<(), DiffError> {
    for item in &p.freed {
        let (s, e, o) = item;
        if m.allocs.get(s) != Some(e) || name_of(m.owners.get(s)) != *o {
            return Err(not_allocated(&p.name, item));
        }
        m.allocs.remove(s);
        m.owners.remove(s);
    }
    for item in &p.allocated {
        let (s, e, o) = item;
        if *s < m.base || *e > m.end || m.overlapping(*s, *e).is_some() {
            return Err(not_free(&p.name, item));
        }
        m.allocs.insert(*s, *e);
        if let Some(o) = owner(o) {
            m.owners.insert(*s, o);
        }
    }
    m.generation = p.generations.1;
    Ok(())
}

/// Applies one pool's changes to an id model: freed ids must be allocated
/// with exactly the owner named, allocated ones in the range and free, and
/// the next id must lie above every allocated id and within
/// `base..=end + 1`.
pub fn apply_id_pool(m: &mut IdModel, p: &PoolDiffModel) -> Result<(), DiffError> {
    for item in &p.freed {
        let (s, e, o) = item;
        let ok = (*s..=*e).all(|id| {
            let id = id as u32;
            m.allocated.contains(&id) && name_of(m.owners.get(&id)) == *o
        });
        if !ok {
            return Err(not_allocated(&p.name, item));
        }
        for id in *s..=*e {
            m.allocated.remove(&(id as u32));
            m.owners.remove(&(id as u32));
        }
    }
    for item in &p.allocated {
        let (s, e, o) = item;
        let fits = *s >= u64::from(m.base)
            && *e <= u64::from(m.end)
            && m.allocated.range(*s as u32..=*e as u32).next().is_none();
        if !fits {
            return Err(not_free(&p.name, item));
        }
        for id in *s..=*e {
            m.allocated.insert(id as u32);
            if let Some(o) = owner(o) {
                m.owners.insert(id as u32, o);
            }
        }
    }
    if let Some((_, next)) = p.next_ids {
        let fits = next >= u64::from(m.base)
            && next <= u64::from(m.end) + 1
            && m.allocated.last().is_none_or(|&h| u64::from(h) < next);
        if !fits {
            return Err(DiffError::InvalidNextId {
                pool: p.name.clone(),
                next_id: next,
            });
        }
        m.next_id = next;
    }
    m.generation = p.generations.1;
    Ok(())
}

/// What the runner needs of a kind of state: its model, how to compare and
/// diff them, and its encodings.
pub trait Subject: Versioned {
    /// Its model.
    type Model: Clone + PartialEq + std::fmt::Debug;
    /// What to call it in messages.
    const WHAT: &'static str;
    /// The kind of its files and diffs.
    const FILE_KIND: FileKind;

    /// Compares the state with its model (generation included).
    fn check(&self, m: &Self::Model) -> Result<(), String>;
    /// True if two models have the same shape (can be diffed).
    fn same_shape(a: &Self::Model, b: &Self::Model) -> bool;
    /// True if two models are equal as the states' `==` sees it.
    fn same_state(a: &Self::Model, b: &Self::Model) -> bool;
    /// The model's generation.
    fn model_generation(m: &Self::Model) -> u64;
    /// Sets the model's generation.
    fn set_model_generation(m: &mut Self::Model, generation: u64);
    /// The naive diff of two models of the same shape.
    fn model_diff(older: &Self::Model, newer: &Self::Model) -> DiffModel;
    /// `diff` applied to the model, or the error `Diff::apply` must give.
    fn model_apply(m: &Self::Model, diff: &DiffModel) -> Result<Self::Model, DiffError>;
    /// The model without owners.
    fn model_without_owners(m: &Self::Model) -> Self::Model;
    /// What format version 1 cannot hold in it, if anything.
    fn v1_refusal(m: &Self::Model) -> Option<Unfit>;

    /// `to_bytes()`.
    fn encode(&self) -> Vec<u8>;
    /// `to_bytes_version(version)`.
    fn encode_version(&self, version: u16) -> Result<Vec<u8>, EncodeError>;
    /// `from_bytes(bytes)`.
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError>;
    /// `without_owners()`.
    fn drop_owners(&self) -> Self;
    /// serde_json's encoding.
    fn to_json(&self) -> String;
    /// Decoded from serde_json.
    fn from_json(json: &str) -> Result<Self, String>;
    /// The same state at another generation, made by editing its JSON.
    fn with_generation(&self, generation: u64) -> Self;
}

/// The serde_json methods of `Subject`, on a concrete type (the fuzz crate
/// does not depend on serde, so no generic bound can name its traits).
macro_rules! json_methods {
    () => {
        fn to_json(&self) -> String {
            serde_json::to_string(self).expect("states serialise")
        }
        fn from_json(json: &str) -> Result<Self, String> {
            serde_json::from_str(json).map_err(|e| e.to_string())
        }
        fn with_generation(&self, generation: u64) -> Self {
            let mut v = serde_json::to_value(self).expect("states serialise");
            v["generation"] = serde_json::Value::from(generation);
            serde_json::from_value(v).expect("any generation is valid")
        }
    };
}

/// The diff of a lone allocator: one unnamed pool.
fn lone_diff(kind: FileKind, pool: PoolDiffModel) -> DiffModel {
    DiffModel {
        kind,
        generations: pool.generations,
        pools: vec![pool],
    }
}

/// A lone allocator's diff applied: the generation, then its one pool.
fn lone_apply<M: Clone>(
    m: &M,
    generation: u64,
    diff: &DiffModel,
    kind: PoolKind,
    apply: impl FnOnce(&mut M, &PoolDiffModel) -> Result<(), DiffError>,
) -> Result<M, DiffError> {
    if diff.generations.0 != generation {
        return Err(DiffError::GenerationMismatch {
            pool: None,
            expected: diff.generations.0,
            found: generation,
        });
    }
    let [pool] = diff.pools.as_slice() else {
        return Err(shape_mismatch());
    };
    if pool.kind != kind || pool.name.is_some() {
        return Err(shape_mismatch());
    }
    let mut out = m.clone();
    apply(&mut out, pool)?;
    Ok(out)
}

fn first_owned<T: Copy + Into<u64>>(items: Vec<Item<T>>) -> Option<Unfit> {
    items.into_iter().find_map(|(s, e, o)| {
        o.map(|o| Unfit::Owner {
            range: RangeInclusive::new(s.into(), e.into()).expect("an allocation is a range"),
            owner: Owner::new(&o).expect("a name the model holds"),
        })
    })
}

impl Subject for AddressAllocator {
    type Model = AddressModel;
    const WHAT: &'static str = "address allocator";
    const FILE_KIND: FileKind = FileKind::AddressAllocator;

    fn check(&self, m: &AddressModel) -> Result<(), String> {
        check_address(self, m, None)
    }
    fn same_shape(a: &AddressModel, b: &AddressModel) -> bool {
        (a.base, a.end) == (b.base, b.end)
    }
    fn same_state(a: &AddressModel, b: &AddressModel) -> bool {
        a.same_state(b)
    }
    fn model_generation(m: &AddressModel) -> u64 {
        m.generation
    }
    fn set_model_generation(m: &mut AddressModel, generation: u64) {
        m.generation = generation;
    }
    fn model_diff(older: &AddressModel, newer: &AddressModel) -> DiffModel {
        lone_diff(Self::FILE_KIND, address_pool_diff(None, older, newer))
    }
    fn model_apply(m: &AddressModel, diff: &DiffModel) -> Result<AddressModel, DiffError> {
        lone_apply(
            m,
            m.generation,
            diff,
            PoolKind::Addresses,
            apply_address_pool,
        )
    }
    fn model_without_owners(m: &AddressModel) -> AddressModel {
        m.without_owners()
    }
    fn v1_refusal(m: &AddressModel) -> Option<Unfit> {
        first_owned(m.allocations())
    }
    fn encode(&self) -> Vec<u8> {
        self.to_bytes()
    }
    fn encode_version(&self, version: u16) -> Result<Vec<u8>, EncodeError> {
        self.to_bytes_version(version)
    }
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::from_bytes(bytes)
    }
    fn drop_owners(&self) -> Self {
        self.without_owners()
    }
    json_methods!();
}

impl Subject for IdAllocator {
    type Model = IdModel;
    const WHAT: &'static str = "id allocator";
    const FILE_KIND: FileKind = FileKind::IdAllocator;

    fn check(&self, m: &IdModel) -> Result<(), String> {
        check_ids(self, m, None)
    }
    fn same_shape(a: &IdModel, b: &IdModel) -> bool {
        (a.base, a.end) == (b.base, b.end)
    }
    fn same_state(a: &IdModel, b: &IdModel) -> bool {
        a.same_state(b)
    }
    fn model_generation(m: &IdModel) -> u64 {
        m.generation
    }
    fn set_model_generation(m: &mut IdModel, generation: u64) {
        m.generation = generation;
    }
    fn model_diff(older: &IdModel, newer: &IdModel) -> DiffModel {
        lone_diff(Self::FILE_KIND, id_pool_diff(None, older, newer))
    }
    fn model_apply(m: &IdModel, diff: &DiffModel) -> Result<IdModel, DiffError> {
        lone_apply(m, m.generation, diff, PoolKind::Ids, apply_id_pool)
    }
    fn model_without_owners(m: &IdModel) -> IdModel {
        m.without_owners()
    }
    fn v1_refusal(m: &IdModel) -> Option<Unfit> {
        first_owned(m.allocations())
    }
    fn encode(&self) -> Vec<u8> {
        self.to_bytes()
    }
    fn encode_version(&self, version: u16) -> Result<Vec<u8>, EncodeError> {
        self.to_bytes_version(version)
    }
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::from_bytes(bytes)
    }
    fn drop_owners(&self) -> Self {
        self.without_owners()
    }
    json_methods!();
}

impl Subject for ResourceSet {
    type Model = SetModel;
    const WHAT: &'static str = "resource set";
    const FILE_KIND: FileKind = FileKind::ResourceSet;

    fn check(&self, m: &SetModel) -> Result<(), String> {
        check_set(self, m, None)
    }
    fn same_shape(a: &SetModel, b: &SetModel) -> bool {
        a.same_shape(b)
    }
    fn same_state(a: &SetModel, b: &SetModel) -> bool {
        a.same_state(b)
    }
    fn model_generation(m: &SetModel) -> u64 {
        m.generation
    }
    fn set_model_generation(m: &mut SetModel, generation: u64) {
        m.generation = generation;
    }
    /// Every pool whose generation, next id or allocations moved.
    fn model_diff(older: &SetModel, newer: &SetModel) -> DiffModel {
        let pools = older
            .pools
            .iter()
            .zip(&newer.pools)
            .map(|((name, a), (_, b))| {
                let name = Some(name.clone());
                match (a, b) {
                    (PoolModel::Ids(a), PoolModel::Ids(b)) => id_pool_diff(name, a, b),
                    (PoolModel::Addresses(a), PoolModel::Addresses(b)) => {
                        address_pool_diff(name, a, b)
                    }
                    _ => unreachable!("diffed models have the same shape"),
                }
            })
            .filter(|p| {
                p.generations.0 != p.generations.1
                    || p.next_ids.is_some_and(|(x, y)| x != y)
                    || !p.freed.is_empty()
                    || !p.allocated.is_empty()
            })
            .collect();
        DiffModel {
            kind: Self::FILE_KIND,
            generations: (older.generation, newer.generation),
            pools,
        }
    }
    fn model_apply(m: &SetModel, diff: &DiffModel) -> Result<SetModel, DiffError> {
        if diff.generations.0 != m.generation {
            return Err(DiffError::GenerationMismatch {
                pool: None,
                expected: diff.generations.0,
                found: m.generation,
            });
        }
        let mut out = m.clone();
        for p in &diff.pools {
            let name = p.name.clone().ok_or_else(shape_mismatch)?;
            let (_, pool) = out
                .pools
                .iter_mut()
                .find(|(n, _)| *n == name)
                .ok_or_else(shape_mismatch)?;
            if pool.kind() != p.kind {
                return Err(shape_mismatch());
            }
            if pool.generation() != p.generations.0 {
                return Err(DiffError::GenerationMismatch {
                    pool: Some(name),
                    expected: p.generations.0,
                    found: pool.generation(),
                });
            }
            match pool {
                PoolModel::Ids(m) => apply_id_pool(m, p)?,
                PoolModel::Addresses(m) => apply_address_pool(m, p)?,
            }
        }
        out.generation = diff.generations.1;
        Ok(out)
    }
    fn model_without_owners(m: &SetModel) -> SetModel {
        m.without_owners()
    }
    fn v1_refusal(_: &SetModel) -> Option<Unfit> {
        Some(Unfit::ResourceSet)
    }
    fn encode(&self) -> Vec<u8> {
        self.to_bytes()
    }
    fn encode_version(&self, version: u16) -> Result<Vec<u8>, EncodeError> {
        self.to_bytes_version(version)
    }
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::from_bytes(bytes)
    }
    fn drop_owners(&self) -> Self {
        self.without_owners()
    }
    json_methods!();
}

/// The errors a forced failure in a transaction returns.
pub trait Forced: Clone + PartialEq + std::fmt::Debug {
    /// A distinctive error no real step gives.
    fn forced() -> Self;
}

impl Forced for Error {
    fn forced() -> Self {
        Error::InvalidRange(0xf0_0d, 0xf0_0c)
    }
}

impl Forced for SetError {
    fn forced() -> Self {
        SetError::NoSuchPool("forced failure".to_owned())
    }
}
