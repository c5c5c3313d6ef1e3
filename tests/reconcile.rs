// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `reconcile`, `adopt` and `from_claims` against a naive model of the
//! rules of issue 14, on small spaces: every address and every id is
//! looked at one by one, every claim compared with every other claim and
//! every allocation. States are lone id and address allocators and sets
//! of up to three pools; claims name unknown pools, pools of the other
//! kind, no pool, ranges outside, inside, across and equal to
//! allocations, with and without owners.

use std::collections::BTreeMap;

use proptest::prelude::*;
use vm_allocator::{
    AddressAllocator, AddressAllocatorBuilder, Claim, Finding, FindingKind, IdAllocator,
    IdAllocatorBuilder, Owner, Pool, PoolKind, RangeInclusive, ResourceSet, ResourceSetBuilder,
};

// ---------------------------------------------------------------------------
// The model.

/// A claim as the model sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct MClaim {
    pool: Option<String>,
    start: u64,
    end: u64,
    owner: Option<String>,
    kind: Option<PoolKind>,
}

impl MClaim {
    fn real(&self) -> Claim {
        let mut c = match self.kind {
            None => Claim::new(self.start, self.end).unwrap(),
            Some(PoolKind::Ids) => Claim::ids(self.start as u32..=self.end as u32).unwrap(),
            Some(PoolKind::Addresses) => {
                Claim::addresses(RangeInclusive::new(self.start, self.end).unwrap())
            }
        };
        if let Some(pool) = &self.pool {
            c = c.in_pool(pool);
        }
        if let Some(owner) = &self.owner {
            c = c.with_owner(Owner::new(owner).unwrap());
        }
        c
    }

    fn of(c: &Claim) -> MClaim {
        MClaim {
            pool: c.pool().map(String::from),
            start: c.start(),
            end: c.end(),
            owner: c.owner().map(|o| o.as_str().to_string()),
            kind: c.kind(),
        }
    }

    fn overlaps(&self, start: u64, end: u64) -> bool {
        self.start <= end && start <= self.end
    }
}

/// A finding as the model sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct MFinding {
    kind: FindingKind,
    pool: Option<String>,
    start: u64,
    end: u64,
    claim: Option<MClaim>,
    allocation: Option<(u64, u64, Option<String>)>,
    other: Option<MClaim>,
}

impl MFinding {
    fn of(f: &Finding) -> MFinding {
        MFinding {
            kind: f.kind(),
            pool: f.pool().map(String::from),
            start: f.start(),
            end: f.end(),
            claim: f.claim().map(MClaim::of),
            allocation: f.allocation().map(|a| {
                (
                    a.range().start(),
                    a.range().end(),
                    a.owner().map(|o| o.as_str().to_string()),
                )
            }),
            other: f.other_claim().map(MClaim::of),
        }
    }
}

/// A pool of the model: every id with its owner, or every allocation.
#[derive(Clone, Debug)]
enum MPool {
    Ids {
        base: u64,
        end: u64,
        /// Allocated ids and their owners.
        ids: BTreeMap<u64, Option<String>>,
        next_id: u64,
    },
    Addresses {
        base: u64,
        end: u64,
        /// Disjoint, sorted.
        allocations: Vec<(u64, u64, Option<String>)>,
    },
}

impl MPool {
    fn kind(&self) -> PoolKind {
        match self {
            MPool::Ids { .. } => PoolKind::Ids,
            MPool::Addresses { .. } => PoolKind::Addresses,
        }
    }

    fn space(&self) -> (u64, u64) {
        match self {
            MPool::Ids { base, end, .. } | MPool::Addresses { base, end, .. } => (*base, *end),
        }
    }

    fn real(&self, generation: u64) -> Pool {
        match self {
            MPool::Ids {
                base,
                end,
                ids,
                next_id,
            } => {
                let mut b = IdAllocatorBuilder::new(*base as u32, *end as u32)
                    .unwrap()
                    .with_next_id(*next_id)
                    .unwrap()
                    .generation(generation);
                for (first, last, owner) in runs(ids) {
                    b.push(
                        first as u32..=last as u32,
                        owner.map(|o| Owner::new(&o).unwrap()),
                    )
                    .unwrap();
                }
                Pool::Ids(b.finish().unwrap())
            }
            MPool::Addresses {
                base,
                end,
                allocations,
            } => {
                let mut b = AddressAllocatorBuilder::new(RangeInclusive::new(*base, *end).unwrap())
                    .generation(generation);
                for (s, e, owner) in allocations {
                    b.push(
                        RangeInclusive::new(*s, *e).unwrap(),
                        owner.as_deref().map(|o| Owner::new(o).unwrap()),
                    )
                    .unwrap();
                }
                Pool::Addresses(b.finish().unwrap())
            }
        }
    }

    /// Why `c` lies outside this pool, if it does (kind, then space).
    fn refuses(&self, c: &MClaim) -> bool {
        let (base, end) = self.space();
        c.kind.is_some_and(|k| k != self.kind()) || c.start < base || c.end > end
    }

    /// The findings of this pool for the claims that are not outside.
    fn check(&self, name: Option<&str>, claims: &[MClaim]) -> Vec<MFinding> {
        let pool = name.map(String::from);
        let finding = |kind, start, end, claim: Option<&MClaim>, allocation| MFinding {
            kind,
            pool: pool.clone(),
            start,
            end,
            claim: claim.cloned(),
            allocation,
            other: None,
        };
        let mut sorted: Vec<&MClaim> = claims.iter().collect();
        sorted.sort_by_key(|c| (c.start, c.end)); // stable
        let mut out = Vec::new();
        let mut kept: Vec<&MClaim> = Vec::new();
        for i in 0..sorted.len() {
            let c = sorted[i];
            match (0..i).find(|&j| sorted[j].overlaps(c.start, c.end)) {
                Some(j) => {
                    let o = sorted[j];
                    let mut f = finding(
                        FindingKind::Conflict,
                        c.start.max(o.start),
                        c.end.min(o.end),
                        Some(c),
                        None,
                    );
                    f.other = Some(o.clone());
                    out.push(f);
                }
                None => kept.push(c),
            }
        }
        match self {
            MPool::Addresses { allocations, .. } => {
                for &c in &kept {
                    let over: Vec<_> = allocations
                        .iter()
                        .filter(|(s, e, _)| c.overlaps(*s, *e))
                        .collect();
                    if over.is_empty() {
                        out.push(finding(FindingKind::Missing, c.start, c.end, Some(c), None));
                    } else if over.len() == 1 && over[0].0 == c.start && over[0].1 == c.end {
                        let (s, e, o) = over[0].clone();
                        if c.owner.is_some() && c.owner != o {
                            out.push(finding(FindingKind::Owner, s, e, Some(c), Some((s, e, o))));
                        }
                    } else {
                        for (s, e, o) in over {
                            out.push(finding(
                                FindingKind::Bounds,
                                (*s).max(c.start),
                                (*e).min(c.end),
                                Some(c),
                                Some((*s, *e, o.clone())),
                            ));
                        }
                    }
                }
                for (s, e, o) in allocations {
                    if !kept.iter().any(|c| c.overlaps(*s, *e)) {
                        out.push(finding(
                            FindingKind::Unexpected,
                            *s,
                            *e,
                            None,
                            Some((*s, *e, o.clone())),
                        ));
                    }
                }
            }
            MPool::Ids { ids, .. } => {
                for &c in &kept {
                    // Label every id of the claim, then cut maximal runs.
                    let mut missing: Vec<u64> = Vec::new();
                    let mut wrong: Vec<(u64, Option<String>)> = Vec::new();
                    for id in c.start..=c.end {
                        match ids.get(&id) {
                            None => missing.push(id),
                            Some(o) if c.owner.is_some() && *o != c.owner => {
                                wrong.push((id, o.clone()))
                            }
                            Some(_) => {}
                        }
                    }
                    for (s, e, _) in runs_of(missing.iter().map(|&id| (id, ()))) {
                        out.push(finding(FindingKind::Missing, s, e, Some(c), None));
                    }
                    for (s, e, o) in runs_of(wrong.into_iter()) {
                        out.push(finding(FindingKind::Owner, s, e, Some(c), Some((s, e, o))));
                    }
                }
                let uncovered = ids
                    .iter()
                    .filter(|(id, _)| !kept.iter().any(|c| c.overlaps(**id, **id)))
                    .map(|(id, o)| (*id, o.clone()));
                for (s, e, o) in runs_of(uncovered) {
                    out.push(finding(
                        FindingKind::Unexpected,
                        s,
                        e,
                        None,
                        Some((s, e, o)),
                    ));
                }
            }
        }
        out.sort_by_key(|f| (f.start, f.kind, f.end)); // stable
        out
    }

    /// The pool holding exactly `claims` (none outside or in conflict),
    /// as adopt must leave it: addresses take the claim's owner or, if
    /// it has none, that of an equal allocation; ids the claim's owner
    /// or, if it has none, their own.
    fn adopted(&self, claims: &[MClaim]) -> MPool {
        match self {
            MPool::Addresses {
                base,
                end,
                allocations,
            } => {
                let mut new: Vec<_> = claims
                    .iter()
                    .map(|c| {
                        let kept = allocations
                            .iter()
                            .find(|(s, e, _)| (*s, *e) == (c.start, c.end))
                            .and_then(|(_, _, o)| o.clone());
                        (c.start, c.end, c.owner.clone().or(kept))
                    })
                    .collect();
                new.sort();
                MPool::Addresses {
                    base: *base,
                    end: *end,
                    allocations: new,
                }
            }
            MPool::Ids {
                base,
                end,
                ids,
                next_id,
            } => {
                let mut new = BTreeMap::new();
                let mut next = *next_id;
                for c in claims {
                    for id in c.start..=c.end {
                        let own = ids.get(&id).cloned().flatten();
                        new.insert(id, c.owner.clone().or(own));
                    }
                    next = next.max(c.end + 1);
                }
                MPool::Ids {
                    base: *base,
                    end: *end,
                    ids: new,
                    next_id: next,
                }
            }
        }
    }

    fn emptied(&self) -> MPool {
        match self {
            MPool::Ids { base, end, .. } => MPool::Ids {
                base: *base,
                end: *end,
                ids: BTreeMap::new(),
                next_id: *base,
            },
            MPool::Addresses { base, end, .. } => MPool::Addresses {
                base: *base,
                end: *end,
                allocations: Vec::new(),
            },
        }
    }
}

/// Maximal runs of consecutive keys with equal values.
fn runs_of<V: PartialEq + Clone>(items: impl Iterator<Item = (u64, V)>) -> Vec<(u64, u64, V)> {
    let mut out: Vec<(u64, u64, V)> = Vec::new();
    for (id, v) in items {
        match out.last_mut() {
            Some((_, e, w)) if *e + 1 == id && *w == v => *e = id,
            _ => out.push((id, id, v)),
        }
    }
    out
}

fn runs(ids: &BTreeMap<u64, Option<String>>) -> Vec<(u64, u64, Option<String>)> {
    runs_of(ids.iter().map(|(id, o)| (*id, o.clone())))
}

/// A state of the model: a lone allocator, or a set of named pools.
#[derive(Clone, Debug)]
enum MState {
    Lone(MPool),
    Set(Vec<(String, MPool)>),
}

/// The model's report: outside claims in the order given, then pool by
/// pool.
fn model_reconcile(state: &MState, claims: &[MClaim]) -> Vec<MFinding> {
    let outside = |c: &MClaim| MFinding {
        kind: FindingKind::Outside,
        pool: c.pool.clone(),
        start: c.start,
        end: c.end,
        claim: Some(c.clone()),
        allocation: None,
        other: None,
    };
    let mut out = Vec::new();
    match state {
        MState::Lone(pool) => {
            let mut inside = Vec::new();
            for c in claims {
                if c.pool.is_some() || pool.refuses(c) {
                    out.push(outside(c));
                } else {
                    inside.push(c.clone());
                }
            }
            out.extend(pool.check(None, &inside));
        }
        MState::Set(pools) => {
            let mut inside: Vec<Vec<MClaim>> = vec![Vec::new(); pools.len()];
            for c in claims {
                let at = c
                    .pool
                    .as_ref()
                    .and_then(|name| pools.iter().position(|(n, _)| n == name));
                match at {
                    Some(i) if !pools[i].1.refuses(c) => inside[i].push(c.clone()),
                    _ => out.push(outside(c)),
                }
            }
            for ((name, pool), claims) in pools.iter().zip(&inside) {
                out.extend(pool.check(Some(name), claims));
            }
        }
    }
    out
}

/// The claims that are neither outside nor in conflict, in the order
/// given: what adopt accepts.
fn adoptable(state: &MState, claims: &[MClaim]) -> Vec<MClaim> {
    let pool_of = |c: &MClaim| -> Option<usize> {
        match state {
            MState::Lone(pool) => (c.pool.is_none() && !pool.refuses(c)).then_some(0),
            MState::Set(pools) => {
                let i = pools.iter().position(|(n, _)| Some(n) == c.pool.as_ref())?;
                (!pools[i].1.refuses(c)).then_some(i)
            }
        }
    };
    let mut keep = vec![false; claims.len()];
    let mut inside: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, c) in claims.iter().enumerate() {
        if let Some(p) = pool_of(c) {
            inside.entry(p).or_default().push(i);
        }
    }
    for (_, mut indices) in inside {
        indices.sort_by_key(|&i| (claims[i].start, claims[i].end));
        for k in 0..indices.len() {
            let c = &claims[indices[k]];
            keep[indices[k]] = !(0..k).any(|j| claims[indices[j]].overlaps(c.start, c.end));
        }
    }
    claims
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(c, _)| c.clone())
        .collect()
}

// ---------------------------------------------------------------------------
// Comparing a real state with the model.

fn pool_matches(real: &Pool, model: &MPool) -> Result<(), TestCaseError> {
    match (real, model) {
        (
            Pool::Ids(ids),
            MPool::Ids {
                ids: m, next_id, ..
            },
        ) => {
            let got: Vec<_> = ids
                .allocations()
                .map(|a| {
                    (
                        u64::from(*a.ids().start()),
                        u64::from(*a.ids().end()),
                        a.owner().map(|o| o.as_str().to_string()),
                    )
                })
                .collect();
            prop_assert_eq!(got, runs(m));
            // The next id shows in which error freeing a free id gives.
            let mut probe = ids.clone();
            let base = u64::from(ids.range_base());
            let end = u64::from(ids.range_end());
            for id in base..=end {
                if !m.contains_key(&id) {
                    let never = matches!(
                        probe.free_id(id as u32),
                        Err(vm_allocator::Error::NeverAllocated(_))
                    );
                    prop_assert_eq!(never, id >= *next_id, "next id {}", next_id);
                }
            }
            ids.check_invariants().map_err(TestCaseError::fail)?;
        }
        (Pool::Addresses(a), MPool::Addresses { allocations, .. }) => {
            let got: Vec<_> = a
                .allocations()
                .map(|x| {
                    (
                        x.range().start(),
                        x.range().end(),
                        x.owner().map(|o| o.as_str().to_string()),
                    )
                })
                .collect();
            prop_assert_eq!(&got, allocations);
            a.check_invariants().map_err(TestCaseError::fail)?;
        }
        _ => prop_assert!(false, "kinds differ"),
    }
    Ok(())
}

/// What the three state kinds share here.
trait State: Clone + PartialEq + std::fmt::Debug {
    fn reconcile(&self, claims: &[Claim]) -> vm_allocator::Report;
    fn adopt(&mut self, claims: &[Claim])
        -> Result<vm_allocator::Report, vm_allocator::AdoptError>;
    fn from_claims(layout: &Self, claims: &[Claim]) -> Result<Self, vm_allocator::AdoptError>;
    fn generation(&self) -> u64;
    /// Each pool with its generation.
    fn pools(&self) -> Vec<(Pool, u64)>;
}

impl State for IdAllocator {
    fn reconcile(&self, claims: &[Claim]) -> vm_allocator::Report {
        IdAllocator::reconcile(self, claims)
    }
    fn adopt(
        &mut self,
        claims: &[Claim],
    ) -> Result<vm_allocator::Report, vm_allocator::AdoptError> {
        IdAllocator::adopt(self, claims)
    }
    fn from_claims(layout: &Self, claims: &[Claim]) -> Result<Self, vm_allocator::AdoptError> {
        IdAllocator::from_claims(layout, claims)
    }
    fn generation(&self) -> u64 {
        IdAllocator::generation(self)
    }
    fn pools(&self) -> Vec<(Pool, u64)> {
        vec![(Pool::Ids(self.clone()), self.generation())]
    }
}

impl State for AddressAllocator {
    fn reconcile(&self, claims: &[Claim]) -> vm_allocator::Report {
        AddressAllocator::reconcile(self, claims)
    }
    fn adopt(
        &mut self,
        claims: &[Claim],
    ) -> Result<vm_allocator::Report, vm_allocator::AdoptError> {
        AddressAllocator::adopt(self, claims)
    }
    fn from_claims(layout: &Self, claims: &[Claim]) -> Result<Self, vm_allocator::AdoptError> {
        AddressAllocator::from_claims(layout, claims)
    }
    fn generation(&self) -> u64 {
        AddressAllocator::generation(self)
    }
    fn pools(&self) -> Vec<(Pool, u64)> {
        vec![(Pool::Addresses(self.clone()), self.generation())]
    }
}

impl State for ResourceSet {
    fn reconcile(&self, claims: &[Claim]) -> vm_allocator::Report {
        ResourceSet::reconcile(self, claims)
    }
    fn adopt(
        &mut self,
        claims: &[Claim],
    ) -> Result<vm_allocator::Report, vm_allocator::AdoptError> {
        ResourceSet::adopt(self, claims)
    }
    fn from_claims(layout: &Self, claims: &[Claim]) -> Result<Self, vm_allocator::AdoptError> {
        ResourceSet::from_claims(layout, claims)
    }
    fn generation(&self) -> u64 {
        ResourceSet::generation(self)
    }
    fn pools(&self) -> Vec<(Pool, u64)> {
        ResourceSet::pools(self)
            .map(|(_, p)| (p.clone(), p.generation()))
            .collect()
    }
}

fn model_pools(state: &MState) -> Vec<&MPool> {
    match state {
        MState::Lone(p) => vec![p],
        MState::Set(pools) => pools.iter().map(|(_, p)| p).collect(),
    }
}

/// The claims each pool keeps once outside claims are set aside.
fn claims_per_pool(state: &MState, claims: &[MClaim]) -> Vec<Vec<MClaim>> {
    match state {
        MState::Lone(_) => vec![claims.to_vec()],
        MState::Set(pools) => pools
            .iter()
            .map(|(name, _)| {
                claims
                    .iter()
                    .filter(|c| c.pool.as_deref() == Some(name))
                    .cloned()
                    .collect()
            })
            .collect(),
    }
}

/// Every property of reconcile, adopt and from_claims on `state`.
fn check_all<S: State>(state: &S, model: &MState, claims: &[MClaim]) -> Result<(), TestCaseError> {
    let real_claims: Vec<Claim> = claims.iter().map(MClaim::real).collect();
    let expected = model_reconcile(model, claims);

    // Reconcile.
    let report = state.reconcile(&real_claims);
    let got: Vec<MFinding> = report.findings().iter().map(MFinding::of).collect();
    prop_assert_eq!(&got, &expected);
    prop_assert_eq!(report.is_consistent(), expected.is_empty());
    let text = report.to_string();
    prop_assert_eq!(text.lines().count(), report.len());

    // Adopt.
    let refused = expected
        .iter()
        .find(|f| matches!(f.kind, FindingKind::Outside | FindingKind::Conflict));
    let mut adopted = state.clone();
    let result = adopted.adopt(&real_claims);
    match refused {
        Some(first) => {
            let err = result.expect_err("adopt refuses outside and conflicting claims");
            prop_assert_eq!(&MFinding::of(err.finding()), first);
            prop_assert_eq!(&adopted, state);
            prop_assert_eq!(adopted.generation(), state.generation());
            // from_claims names the same claim: it does not depend on
            // what the state holds.
            let err = S::from_claims(state, &real_claims).expect_err("refused");
            prop_assert_eq!(&MFinding::of(err.finding()), first);
        }
        None => {
            let acted_on = result.expect("adopt of claims without outside or conflict");
            prop_assert_eq!(&acted_on, &report);
            prop_assert!(adopted.reconcile(&real_claims).is_consistent());
            let moved = u64::from(!expected.is_empty());
            prop_assert_eq!(adopted.generation(), state.generation().wrapping_add(moved));
            let per_pool = claims_per_pool(model, claims);
            let before = state.pools();
            let after = adopted.pools();
            let mpools = model_pools(model);
            for (i, (pool, generation)) in after.iter().enumerate() {
                let want = mpools[i].adopted(&per_pool[i]);
                pool_matches(pool, &want)?;
                let name = match model {
                    MState::Lone(_) => None,
                    MState::Set(pools) => Some(pools[i].0.clone()),
                };
                let changed = expected.iter().any(|f| f.pool == name);
                prop_assert_eq!(*generation, before[i].1.wrapping_add(u64::from(changed)));
            }
            // Adopting again changes nothing.
            let mut again = adopted.clone();
            prop_assert!(again.adopt(&real_claims).unwrap().is_consistent());
            prop_assert_eq!(again.generation(), adopted.generation());

            // From the claims alone.
            let built = S::from_claims(state, &real_claims).expect("the claims adopt");
            prop_assert_eq!(built.generation(), 0);
            for (i, (pool, generation)) in built.pools().iter().enumerate() {
                let want = mpools[i].emptied().adopted(&per_pool[i]);
                pool_matches(pool, &want)?;
                prop_assert_eq!(*generation, 0);
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Strategies.

const OWNERS: [Option<&str>; 4] = [None, Some("a"), Some("b"), Some("c")];

fn owner(i: u8) -> Option<String> {
    OWNERS[usize::from(i) % OWNERS.len()].map(String::from)
}

/// Segments `(gap, len, owner)` laid out from `base`, kept inside
/// `base..=end`.
fn layout_segments(
    base: u64,
    end: u64,
    segments: &[(u8, u8, u8)],
) -> Vec<(u64, u64, Option<String>)> {
    let mut out = Vec::new();
    let mut at = base;
    for &(gap, len, o) in segments {
        let Some(start) = at.checked_add(u64::from(gap)) else {
            break;
        };
        let Some(last) = start.checked_add(u64::from(len)) else {
            break;
        };
        if last > end {
            break;
        }
        out.push((start, last, owner(o)));
        match last.checked_add(1) {
            Some(next) => at = next,
            None => break,
        }
    }
    out
}

/// Where a space starts: at 0, low, or so that it ends at the top.
fn base_of(sel: u8, size: u64, top: u64) -> u64 {
    match sel % 4 {
        0 => 0,
        1 => 5,
        2 => 1000,
        _ => top - (size - 1),
    }
}

#[derive(Clone, Debug)]
struct PoolSeed {
    ids: bool,
    base: u8,
    size: u8,
    segments: Vec<(u8, u8, u8)>,
    next_extra: u8,
}

fn pool_seed() -> impl Strategy<Value = PoolSeed> {
    (
        any::<bool>(),
        any::<u8>(),
        1u8..48,
        prop::collection::vec((0u8..4, 0u8..5, any::<u8>()), 0..10),
        0u8..3,
    )
        .prop_map(|(ids, base, size, segments, next_extra)| PoolSeed {
            ids,
            base,
            size,
            segments,
            next_extra,
        })
}

fn model_pool(seed: &PoolSeed) -> MPool {
    let size = u64::from(seed.size);
    if seed.ids {
        let base = base_of(seed.base, size, u64::from(u32::MAX));
        let end = base + size - 1;
        let mut ids = BTreeMap::new();
        for (s, e, o) in layout_segments(base, end, &seed.segments) {
            for id in s..=e {
                ids.insert(id, o.clone());
            }
        }
        let highest = ids.keys().next_back().map_or(base, |&h| h + 1);
        let next_id = (highest + u64::from(seed.next_extra)).min(end + 1);
        MPool::Ids {
            base,
            end,
            ids,
            next_id,
        }
    } else {
        let base = base_of(seed.base, size, u64::MAX);
        let end = base + (size - 1);
        MPool::Addresses {
            base,
            end,
            allocations: layout_segments(base, end, &seed.segments),
        }
    }
}

/// How a claim is made, resolved against a state.
#[derive(Clone, Debug)]
struct ClaimSeed {
    /// 0: copy an allocation; 1: near an allocation; else anywhere near
    /// the space.
    how: u8,
    pick: u8,
    a: i8,
    b: u8,
    owner: u8,
    pool: u8,
    kind: u8,
}

fn claim_seed() -> impl Strategy<Value = ClaimSeed> {
    (
        0u8..4,
        any::<u8>(),
        -4i8..8,
        0u8..12,
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
    )
        .prop_map(|(how, pick, a, b, owner, pool, kind)| ClaimSeed {
            how,
            pick,
            a,
            b,
            owner,
            pool,
            kind,
        })
}

/// Allocations (or runs of ids) of a pool, as ranges to aim claims at.
fn targets(pool: &MPool) -> Vec<(u64, u64)> {
    match pool {
        MPool::Ids { ids, .. } => runs(ids).into_iter().map(|(s, e, _)| (s, e)).collect(),
        MPool::Addresses { allocations, .. } => {
            allocations.iter().map(|(s, e, _)| (*s, *e)).collect()
        }
    }
}

fn resolve_claim(seed: &ClaimSeed, pool: &MPool, pool_name: Option<String>) -> MClaim {
    let (base, end) = pool.space();
    let aims = targets(pool);
    let shift = |x: u64, by: i64| -> u64 {
        if by < 0 {
            x.saturating_sub(by.unsigned_abs())
        } else {
            x.saturating_add(by as u64)
        }
    };
    let (start, last) = match (seed.how, aims.is_empty()) {
        (0, false) => aims[usize::from(seed.pick) % aims.len()],
        (1, false) => {
            let (s, e) = aims[usize::from(seed.pick) % aims.len()];
            let start = shift(s, i64::from(seed.a) / 2);
            let last = shift(e, i64::from(seed.b as i8 - 4) / 2);
            (start.min(last), start.max(last))
        }
        _ => {
            let start = shift(base, i64::from(seed.pick % 56) - 4);
            (start, start.saturating_add(u64::from(seed.b % 6)))
        }
    };
    let _ = end;
    let kind = match seed.kind % 8 {
        0 | 2 => Some(pool.kind()),
        1 => Some(match pool.kind() {
            PoolKind::Ids => PoolKind::Addresses,
            PoolKind::Addresses => PoolKind::Ids,
        }),
        _ => None,
    };
    // An id claim made by `Claim::ids` holds `u32` ids.
    let kind = match kind {
        Some(PoolKind::Ids) if last > u64::from(u32::MAX) => None,
        // `Claim::addresses` takes a valid `RangeInclusive`.
        Some(PoolKind::Addresses) if start == 0 && last == u64::MAX => None,
        k => k,
    };
    MClaim {
        pool: pool_name,
        start,
        end: last,
        owner: owner(seed.owner),
        kind,
    }
}

const NAMES: [&str; 3] = ["p0", "p1", "p2"];

fn set_of(model: &[(String, MPool)], generation: u64) -> ResourceSet {
    let mut b = ResourceSetBuilder::new().generation(generation);
    for (i, (name, pool)) in model.iter().enumerate() {
        b.push(name, pool.real(i as u64 * 3)).unwrap();
    }
    b.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn lone_id_allocators_agree_with_the_model(
        mut seed in pool_seed(),
        claims in prop::collection::vec(claim_seed(), 0..8),
        generation in prop_oneof![Just(0u64), Just(7), Just(u64::MAX)],
        named in prop::collection::vec(any::<bool>(), 8),
    ) {
        seed.ids = true;
        let pool = model_pool(&seed);
        let Pool::Ids(real) = pool.real(generation) else { unreachable!() };
        let claims: Vec<MClaim> = claims
            .iter()
            .zip(&named)
            .map(|(c, &named)| {
                let name = (named && c.pool % 5 == 0).then(|| "p0".to_string());
                resolve_claim(c, &pool, name)
            })
            .collect();
        let model = MState::Lone(pool);
        check_all(&real, &model, &claims)?;
        check_all(&real, &model, &adoptable(&model, &claims))?;
    }

    #[test]
    fn lone_address_allocators_agree_with_the_model(
        mut seed in pool_seed(),
        claims in prop::collection::vec(claim_seed(), 0..8),
        generation in prop_oneof![Just(0u64), Just(7), Just(u64::MAX)],
        named in prop::collection::vec(any::<bool>(), 8),
    ) {
        seed.ids = false;
        let pool = model_pool(&seed);
        let Pool::Addresses(real) = pool.real(generation) else { unreachable!() };
        let claims: Vec<MClaim> = claims
            .iter()
            .zip(&named)
            .map(|(c, &named)| {
                let name = (named && c.pool % 5 == 0).then(|| "p0".to_string());
                resolve_claim(c, &pool, name)
            })
            .collect();
        let model = MState::Lone(pool);
        check_all(&real, &model, &claims)?;
        check_all(&real, &model, &adoptable(&model, &claims))?;
    }

    #[test]
    fn sets_agree_with_the_model(
        seeds in prop::collection::vec(pool_seed(), 0..4),
        claims in prop::collection::vec(claim_seed(), 0..12),
        generation in prop_oneof![Just(0u64), Just(7), Just(u64::MAX)],
    ) {
        let pools: Vec<(String, MPool)> = seeds
            .iter()
            .zip(NAMES)
            .map(|(s, name)| (name.to_string(), model_pool(s)))
            .collect();
        let real = set_of(&pools, generation);
        let claims: Vec<MClaim> = claims
            .iter()
            .map(|c| {
                if pools.is_empty() {
                    let fallback = MPool::Ids { base: 0, end: 9, ids: BTreeMap::new(), next_id: 0 };
                    return resolve_claim(c, &fallback, Some("p0".to_string()));
                }
                let target = &pools[usize::from(c.pool) % pools.len()].1;
                // Mostly the pool aimed at; sometimes another, none, or an unknown one.
                let name = match c.pool / 64 {
                    0 | 1 => Some(NAMES[usize::from(c.pool) % pools.len()].to_string()),
                    2 => Some(NAMES[usize::from(c.pool / 3) % NAMES.len()].to_string()),
                    _ if c.pool % 2 == 0 => None,
                    _ => Some("nope".to_string()),
                };
                resolve_claim(c, target, name)
            })
            .collect();
        let model = MState::Set(pools);
        check_all(&real, &model, &claims)?;
        check_all(&real, &model, &adoptable(&model, &claims))?;
    }
}

// ---------------------------------------------------------------------------
// Edge cases, named.

fn gsi_with(allocated: &[(u32, u32, Option<&str>)]) -> IdAllocator {
    let mut b = IdAllocatorBuilder::new(0, 63).unwrap();
    for &(s, e, o) in allocated {
        b.push(s..=e, o.map(|o| Owner::new(o).unwrap())).unwrap();
    }
    b.finish().unwrap()
}

fn kinds(report: &vm_allocator::Report) -> Vec<(FindingKind, u64, u64)> {
    report
        .iter()
        .map(|f| (f.kind(), f.start(), f.end()))
        .collect()
}

#[test]
fn an_id_claim_over_part_of_a_run_cuts_it() {
    let gsi = gsi_with(&[(4, 11, Some("net0"))]);
    let claim = Claim::new(6, 13)
        .unwrap()
        .with_owner(Owner::new("net0").unwrap());
    let report = gsi.reconcile(&[claim]);
    assert_eq!(
        kinds(&report),
        [
            (FindingKind::Unexpected, 4, 5),
            (FindingKind::Missing, 12, 13),
        ]
    );
}

#[test]
fn owner_findings_of_ids_split_where_the_owner_changes() {
    let gsi = gsi_with(&[
        (4, 5, Some("a")),
        (6, 7, None),
        (8, 9, Some("b")),
        (10, 11, Some("c")),
    ]);
    let claim = Claim::new(4, 11)
        .unwrap()
        .with_owner(Owner::new("c").unwrap());
    let report = gsi.reconcile(&[claim]);
    assert_eq!(
        kinds(&report),
        [
            (FindingKind::Owner, 4, 5),
            (FindingKind::Owner, 6, 7),
            (FindingKind::Owner, 8, 9),
        ]
    );
    assert_eq!(
        report.to_string(),
        "owner 4..=5 (2 ids): claim 4..=11 by c; allocated to a\n\
         owner 6..=7 (2 ids): claim 4..=11 by c; allocated without owner\n\
         owner 8..=9 (2 ids): claim 4..=11 by c; allocated to b\n"
    );
}

#[test]
fn an_allocation_two_claims_overlap_has_a_bounds_finding_for_each() {
    let a = AddressAllocator::from_allocations(
        RangeInclusive::new(0, 0xffff).unwrap(),
        [RangeInclusive::new(0x1000, 0x2fff).unwrap()],
    )
    .unwrap();
    let claims = [
        Claim::new(0x1000, 0x1fff).unwrap(),
        Claim::new(0x2000, 0x2fff).unwrap(),
    ];
    let report = a.reconcile(&claims);
    assert_eq!(
        kinds(&report),
        [
            (FindingKind::Bounds, 0x1000, 0x1fff),
            (FindingKind::Bounds, 0x2000, 0x2fff),
        ]
    );
    // Partly overlapped, so not unexpected; adopt splits it in two.
    let mut b = a.clone();
    b.adopt(&claims).unwrap();
    assert_eq!(b.len(), 2);
    assert!(b.reconcile(&claims).is_consistent());
}

#[test]
fn conflicts_count_earlier_claims_that_conflict_themselves() {
    let a = AddressAllocator::new(0, 100).unwrap();
    let claims = [
        Claim::new(15, 25).unwrap(),
        Claim::new(0, 10).unwrap(),
        Claim::new(5, 20).unwrap(),
    ];
    let report = a.reconcile(&claims);
    let conflicts: Vec<_> = report
        .iter()
        .filter(|f| f.kind() == FindingKind::Conflict)
        .map(|f| {
            (
                f.start(),
                f.end(),
                f.claim().unwrap().start(),
                f.other_claim().unwrap().start(),
            )
        })
        .collect();
    // (5, 20) overlaps (0, 10); (15, 25) overlaps (5, 20), the first
    // earlier claim it overlaps, though that one is a conflict itself.
    assert_eq!(conflicts, [(5, 10, 5, 0), (15, 20, 15, 5)]);
    assert_eq!(report.count(FindingKind::Missing), 1);
}

#[test]
fn claims_at_the_ends_of_u64_and_u32() {
    let top = AddressAllocator::new(u64::MAX - 0xfff, 0x1000).unwrap();
    let report = top.reconcile(&[
        Claim::new(u64::MAX - 7, u64::MAX).unwrap(),
        Claim::new(0, u64::MAX).unwrap(),
    ]);
    assert_eq!(
        kinds(&report),
        [
            (FindingKind::Outside, 0, u64::MAX),
            (FindingKind::Missing, u64::MAX - 7, u64::MAX),
        ]
    );
    assert!(report.to_string().contains("(16 EiB)"));
    let ids = IdAllocator::new(u32::MAX - 3, u32::MAX).unwrap();
    let claims = [Claim::ids(u32::MAX - 1..=u32::MAX).unwrap()];
    let built = IdAllocator::from_claims(&ids, &claims).unwrap();
    assert_eq!(built.runs().collect::<Vec<_>>(), [u32::MAX - 1..=u32::MAX]);
    assert!(
        ids.reconcile(&[Claim::new(0, u64::from(u32::MAX) + 1).unwrap()])
            .findings()[0]
            .kind()
            == FindingKind::Outside
    );
}

#[test]
fn names_in_reports_and_errors_are_escaped() {
    let mut set = ResourceSet::new();
    set.add_id_pool("gsi\u{2028}", 0, 9).unwrap();
    let fake = Owner::new("net0\u{202e}").unwrap();
    let claims = [
        Claim::new(1, 1)
            .unwrap()
            .in_pool("gsi\u{2028}")
            .with_owner(fake),
        Claim::new(1, 1).unwrap().in_pool("x\u{2029}"),
    ];
    let report = set.reconcile(&claims);
    let text = report.to_string();
    assert_eq!(
        text,
        "outside x\\u{2029} 0x1..=0x1: claim 0x1..=0x1 by any owner; no pool is named \"x\\u{2029}\"\n\
         missing gsi\\u{2028} 1..=1 (1 id): claim 1..=1 by net0\\u{202e}; not allocated\n"
    );
    let err = set.adopt(&claims).unwrap_err();
    assert!(err.to_string().contains("x\\u{2029}"));
}

#[test]
fn from_claims_ignores_what_the_layout_holds() {
    let mut layout = ResourceSet::x86_64();
    layout.allocate_id("legacy_gsi").unwrap();
    let built = ResourceSet::from_claims(&layout, &[]).unwrap();
    assert_eq!(built, ResourceSet::x86_64());
    assert_eq!(built.generation(), 0);
    let claims = [Claim::new(9, 9).unwrap().in_pool("legacy_gsi")];
    let built = ResourceSet::from_claims(&layout, &claims).unwrap();
    assert_eq!(
        built.ids("legacy_gsi").unwrap().iter().collect::<Vec<_>>(),
        [9]
    );
}

#[test]
fn outside_findings_say_why() {
    let vm = ResourceSet::x86_64();
    let claims = [
        Claim::new(5, 5).unwrap().in_pool("gsi"),
        Claim::ids(5..=5).unwrap().in_pool("pio"),
        Claim::addresses(RangeInclusive::new(5, 5).unwrap()).in_pool("legacy_gsi"),
        Claim::new(2, 2).unwrap().in_pool("legacy_gsi"),
        Claim::new(0x3f8, 0x1_0007).unwrap().in_pool("pio"),
        Claim::new(0, 0).unwrap(),
    ];
    assert_eq!(
        vm.reconcile(&claims).to_string(),
        "outside gsi 0x5..=0x5: claim 0x5..=0x5 by any owner; no pool is named \"gsi\"\n\
         outside pio 0x5..=0x5 (1 B): claim 0x5..=0x5 by any owner; \"pio\" is an address pool, the claim is of ids\n\
         outside legacy_gsi 5..=5 (1 id): claim 5..=5 by any owner; \"legacy_gsi\" is an id pool, the claim is of addresses\n\
         outside legacy_gsi 2..=2 (1 id): claim 2..=2 by any owner; outside the ids 5..=23\n\
         outside pio 0x3f8..=0x10007 (64528 B): claim 0x3f8..=0x10007 by any owner; outside the addresses 0x0..=0xffff\n\
         outside 0x0..=0x0: claim 0x0..=0x0 by any owner; the claim names no pool\n"
    );
    let gsi = IdAllocator::new(5, 23).unwrap();
    let claims = [
        Claim::new(5, 5).unwrap().in_pool("legacy_gsi"),
        Claim::addresses(RangeInclusive::new(5, 5).unwrap()),
    ];
    assert_eq!(
        gsi.reconcile(&claims).to_string(),
        "outside legacy_gsi 5..=5 (1 id): claim 5..=5 by any owner; a lone allocator has no pool \"legacy_gsi\"\n\
         outside 5..=5 (1 id): claim 5..=5 by any owner; the allocator is an id allocator, the claim is of addresses\n"
    );
}
