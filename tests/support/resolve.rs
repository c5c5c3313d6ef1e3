// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Turning selectors into concrete calls, and making each call on an
//! allocator, a resource set, a transaction and a model, with results in
//! one comparable form ([`Value`]).

use vm_allocator::{
    AddressAllocator, AllocPolicy, Constraint, Error, IdAllocator, Owner, RangeInclusive,
    ResourceSet, SetError, Transaction,
};

use super::{
    name_of, same, AddrSel, AddrStep, AddressModel, AlignSel, CountSel, FreeSel, IdAlignSel,
    IdModel, IdSel, IdStep, OwnerSel, PolicySel, Request, SizeSel, MAX_ID_BLOCK,
};

// ---------------------------------------------------------------------------
// Resolving selectors
// ---------------------------------------------------------------------------

fn nth<T: Copy>(items: &[T], idx: u8) -> Option<T> {
    if items.is_empty() {
        None
    } else {
        Some(items[usize::from(idx) % items.len()])
    }
}

fn nth_alloc(m: &AddressModel, idx: u8) -> Option<(u64, u64)> {
    if m.allocs.is_empty() {
        return None;
    }
    m.allocs
        .iter()
        .nth(usize::from(idx) % m.allocs.len())
        .map(|(&s, &e)| (s, e))
}

impl AddrSel {
    /// The address this selects in `m`.
    pub fn resolve(self, m: &AddressModel) -> u64 {
        let shift = |x: u64, d: i8| x.wrapping_add_signed(d.into());
        match self {
            AddrSel::Offset(n) => m.base.wrapping_add(n.into()),
            AddrSel::Below(n) => m.base.wrapping_sub(1 + u64::from(n)),
            AddrSel::FromEnd(n) => m.end.wrapping_sub(n.into()),
            AddrSel::Above(n) => m.end.wrapping_add(1 + u64::from(n)),
            AddrSel::Fraction(n) => {
                m.base + ((u128::from(m.size() - 1) * u128::from(n)) >> 16) as u64
            }
            AddrSel::AllocStart { idx, delta } => {
                shift(nth_alloc(m, idx).map_or(m.base, |a| a.0), delta)
            }
            AddrSel::AllocEnd { idx, delta } => {
                shift(nth_alloc(m, idx).map_or(m.end, |a| a.1), delta)
            }
            AddrSel::GapStart { idx, delta } => {
                shift(nth(&m.gaps(), idx).map_or(m.base, |g| g.0), delta)
            }
            AddrSel::GapEnd { idx, delta } => {
                shift(nth(&m.gaps(), idx).map_or(m.end, |g| g.1), delta)
            }
            AddrSel::Raw(a) => a,
        }
    }
}

impl SizeSel {
    /// The size this selects in `m`.
    pub fn resolve(self, m: &AddressModel) -> u64 {
        match self {
            SizeSel::Small(n) => n.into(),
            SizeSel::Pow(e) => 1 << (e % 64),
            SizeSel::SpaceMinus(n) => m.size().wrapping_sub(n.into()),
            SizeSel::Raw(n) => n,
        }
    }
}

impl AlignSel {
    /// The alignment this selects.
    pub fn resolve(self) -> u64 {
        match self {
            AlignSel::Pow(e) => 1 << (e % 64),
            AlignSel::Raw(a) => a,
        }
    }
}

impl PolicySel {
    /// The policy this selects in `m` for alignment `align`.
    pub fn resolve(self, m: &AddressModel, align: u64) -> AllocPolicy {
        match self {
            PolicySel::First => AllocPolicy::FirstMatch,
            PolicySel::Last => AllocPolicy::LastMatch,
            PolicySel::Exact(a) => AllocPolicy::ExactMatch(a.resolve(m)),
            PolicySel::ExactAligned(a) => {
                let a = a.resolve(m);
                let a = if align.is_power_of_two() {
                    super::models::align_down(a, align)
                } else {
                    a
                };
                AllocPolicy::ExactMatch(a)
            }
        }
    }
}

impl FreeSel {
    /// The `(start, end)` this selects in `m`; may be inverted.
    pub fn resolve(self, m: &AddressModel) -> (u64, u64) {
        let alloc = |idx| nth_alloc(m, idx).unwrap_or((m.base, m.end));
        match self {
            FreeSel::Alloc(idx) => alloc(idx),
            FreeSel::Sub {
                idx,
                trim_start,
                trim_end,
            } => {
                let (s, e) = alloc(idx);
                (
                    s.saturating_add(trim_start.into()),
                    e.saturating_sub(trim_end.into()),
                )
            }
            FreeSel::Super {
                idx,
                grow_start,
                grow_end,
            } => {
                let (s, e) = alloc(idx);
                (
                    s.saturating_sub(grow_start.into()),
                    e.saturating_add(grow_end.into()),
                )
            }
            FreeSel::Shift { idx, delta } => {
                let (s, e) = alloc(idx);
                (
                    s.wrapping_add_signed(delta.into()),
                    e.wrapping_add_signed(delta.into()),
                )
            }
            FreeSel::Pair(idx) => {
                let (s, _) = alloc(idx);
                let (_, e) = alloc(idx.wrapping_add(1));
                (s, e)
            }
            FreeSel::Gap(idx) => nth(&m.gaps(), idx).unwrap_or((m.base, m.end)),
            FreeSel::Raw { start, len } => {
                let s = start.resolve(m);
                (s, s.saturating_add(len.into()))
            }
        }
    }
}

impl IdSel {
    /// The id this selects in `m`.
    pub fn resolve(self, m: &IdModel) -> u32 {
        match self {
            IdSel::Offset(n) => m.base.wrapping_add(n.into()),
            IdSel::Below(n) => m.base.wrapping_sub(1 + u32::from(n)),
            IdSel::FromEnd(n) => m.end.wrapping_sub(n.into()),
            IdSel::Above(n) => m.end.wrapping_add(1 + u32::from(n)),
            IdSel::Fraction(n) => {
                m.base + ((u64::from(m.end - m.base) * u64::from(n)) >> 16) as u32
            }
            IdSel::Allocated { idx, delta } => {
                let id = if m.allocated.is_empty() {
                    m.base
                } else {
                    let i = usize::from(idx) % m.allocated.len();
                    *m.allocated.iter().nth(i).expect("index below the length")
                };
                id.wrapping_add_signed(delta.into())
            }
            // next_id <= u32::MAX + 1; truncation wraps that to 0, like the delta.
            IdSel::NextId(delta) => (m.next_id as u32).wrapping_add_signed(delta.into()),
            IdSel::Raw(id) => id,
        }
    }
}

impl CountSel {
    /// The count this selects in `m`.
    ///
    /// The model keeps one set entry per id, so a count that could succeed
    /// is kept below [`MAX_ID_BLOCK`]; counts larger than the whole range
    /// stay as they are (they must fail).
    pub fn resolve(self, m: &IdModel) -> u32 {
        let n = match self {
            CountSel::Small(n) => n.into(),
            CountSel::Pow(e) => 1 << (e % 32),
            CountSel::Raw(n) => n,
        };
        if n > MAX_ID_BLOCK && u64::from(n) <= m.size() {
            n % MAX_ID_BLOCK + 1
        } else {
            n
        }
    }
}

impl IdAlignSel {
    /// The alignment this selects.
    pub fn resolve(self) -> u32 {
        match self {
            IdAlignSel::Pow(e) => 1 << (e % 32),
            IdAlignSel::Raw(a) => a,
        }
    }
}

// ---------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------

/// What a call returned, in a form the allocators and the models both give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `()`.
    Unit,
    /// An address range.
    Range(u64, u64),
    /// An id.
    Id(u32),
    /// A block of ids.
    Ids(u32, u32),
    /// An owner's name (`set_owner`'s previous owner).
    Owner(Option<String>),
    /// What an allocator's `free_owner` freed.
    Freed(Vec<(u64, u64)>),
    /// What an id allocator's `free_owner` freed.
    FreedIds(Vec<(u32, u32)>),
    /// What a set's `free_owner` freed: `(pool, first, last)`.
    FreedInSet(Vec<(String, u64, u64)>),
}

/// `(start, end)` of a range.
pub fn to_pair(r: RangeInclusive) -> (u64, u64) {
    (r.start(), r.end())
}

fn range(r: RangeInclusive) -> Value {
    Value::Range(r.start(), r.end())
}

fn ids(r: std::ops::RangeInclusive<u32>) -> Value {
    Value::Ids(*r.start(), *r.end())
}

fn previous(owner: Option<Owner>) -> Value {
    Value::Owner(name_of(owner.as_ref()))
}

fn freed(ranges: Vec<RangeInclusive>) -> Value {
    Value::Freed(ranges.into_iter().map(to_pair).collect())
}

fn freed_ids(runs: Vec<std::ops::RangeInclusive<u32>>) -> Value {
    Value::FreedIds(runs.into_iter().map(|r| (*r.start(), *r.end())).collect())
}

fn freed_in_set(items: Vec<(String, RangeInclusive)>) -> Value {
    Value::FreedInSet(
        items
            .into_iter()
            .map(|(pool, r)| (pool, r.start(), r.end()))
            .collect(),
    )
}

/// A transaction step's error as `(step, error)`.
type TxResult<T, E> = Result<T, (usize, E)>;

/// A concrete call on an `AddressAllocator`.
#[derive(Debug, Clone)]
pub enum AddrCall {
    /// `allocate`, owned or not.
    Allocate {
        /// Size.
        size: u64,
        /// Alignment.
        align: u64,
        /// Policy.
        policy: AllocPolicy,
        /// Owner.
        owner: Option<Owner>,
    },
    /// `allocate_with`, owned or not.
    AllocateWith {
        /// The constraint.
        constraint: Constraint,
        /// The same, for the model.
        request: Request,
        /// Owner.
        owner: Option<Owner>,
    },
    /// `free`.
    Free(RangeInclusive),
    /// `set_owner`.
    SetOwner(RangeInclusive, Option<Owner>),
    /// `free_owner`.
    FreeOwner(Owner),
}

/// `RangeInclusive::new(start, end)`, or `None` after checking that it
/// refuses an inverted range as it should.
fn range_or_refusal(start: u64, end: u64) -> Result<Option<RangeInclusive>, String> {
    match RangeInclusive::new(start, end) {
        Ok(r) => {
            same("RangeInclusive::new", to_pair(r), (start, end))?;
            Ok(Some(r))
        }
        // Not a range; nothing to call. RangeInclusive::new must say why.
        Err(e) => {
            same("RangeInclusive::new", e, Error::InvalidRange(start, end))?;
            // Documented: inverted, or the whole u64 space.
            if start <= end && (start, end) != (0, u64::MAX) {
                return Err(format!("RangeInclusive::new({start:#x}, {end:#x}) refused"));
            }
            Ok(None)
        }
    }
}

impl AddrStep {
    /// The call this selects in `m`, or `None` when there is nothing to call
    /// (an inverted range, an invalid constraint), once the constructor's
    /// refusal has been checked against the model.
    pub fn resolve(&self, m: &AddressModel) -> Result<Option<AddrCall>, String> {
        Ok(match *self {
            AddrStep::Allocate {
                size,
                align,
                policy,
                owner,
            } => {
                let (size, align) = (size.resolve(m), align.resolve());
                Some(AddrCall::Allocate {
                    size,
                    align,
                    policy: policy.resolve(m, align),
                    owner: OwnerSel::resolve(owner),
                })
            }
            AddrStep::AllocateWith {
                size,
                align,
                policy,
                bounds,
                owner,
            } => {
                let (size, align) = (size.resolve(m), align.resolve());
                let policy = policy.resolve(m, align);
                let mut request = Request::new(size, align, policy);
                let constraint = Constraint::new(size, align, policy);
                same(
                    &format!("Constraint::new({size:#x}, {align:#x}, {policy:?})"),
                    constraint.map(|_| ()),
                    AddressModel::validate(size, align, policy),
                )?;
                let Ok(mut c) = constraint else {
                    return Ok(None);
                };
                if let Some(min) = bounds.min {
                    let min = min.resolve(m);
                    c = c.with_min_address(min);
                    request.min = request.min.max(min);
                }
                if let Some(max) = bounds.max {
                    let max = max.resolve(m);
                    c = c.with_max_address(max);
                    request.max = request.max.min(max);
                }
                if let Some((a, b)) = bounds.within {
                    let (a, b) = (a.resolve(m), b.resolve(m));
                    if let Ok(window) = RangeInclusive::new(a, b) {
                        c = c.within(window);
                        request.min = request.min.max(a);
                        request.max = request.max.min(b);
                    }
                }
                same(
                    "constraint bounds",
                    (
                        c.size(),
                        c.align(),
                        c.policy(),
                        c.min_address(),
                        c.max_address(),
                    ),
                    (size, align, policy, request.min, request.max),
                )?;
                Some(AddrCall::AllocateWith {
                    constraint: c,
                    request,
                    owner: OwnerSel::resolve(owner),
                })
            }
            AddrStep::Free(sel) => {
                let (start, end) = sel.resolve(m);
                range_or_refusal(start, end)?.map(AddrCall::Free)
            }
            AddrStep::SetOwner { range, owner } => {
                let (start, end) = range.resolve(m);
                range_or_refusal(start, end)?
                    .map(|r| AddrCall::SetOwner(r, OwnerSel::resolve(owner)))
            }
            AddrStep::FreeOwner(owner) => Some(AddrCall::FreeOwner(owner.owner())),
        })
    }
}

impl AddrCall {
    /// Makes the call on `a`.
    pub fn call(&self, a: &mut AddressAllocator) -> Result<Value, Error> {
        match self {
            AddrCall::Allocate {
                size,
                align,
                policy,
                owner: None,
            } => a.allocate(*size, *align, *policy).map(range),
            AddrCall::Allocate {
                size,
                align,
                policy,
                owner: Some(o),
            } => a.owned_by(o).allocate(*size, *align, *policy).map(range),
            AddrCall::AllocateWith {
                constraint,
                owner: None,
                ..
            } => a.allocate_with(*constraint).map(range),
            AddrCall::AllocateWith {
                constraint,
                owner: Some(o),
                ..
            } => a.owned_by(o).allocate_with(*constraint).map(range),
            AddrCall::Free(r) => a.free(r).map(|()| Value::Unit),
            AddrCall::SetOwner(r, owner) => a.set_owner(r, owner.clone()).map(previous),
            AddrCall::FreeOwner(o) => Ok(freed(a.free_owner(o))),
        }
    }

    /// Makes the call on the model.
    pub fn model(&self, m: &mut AddressModel) -> Result<Value, Error> {
        match self {
            AddrCall::Allocate {
                size,
                align,
                policy,
                owner,
            } => m
                .allocate_owned(&Request::new(*size, *align, *policy), owner.clone())
                .map(|(s, e)| Value::Range(s, e)),
            AddrCall::AllocateWith { request, owner, .. } => m
                .allocate_owned(request, owner.clone())
                .map(|(s, e)| Value::Range(s, e)),
            AddrCall::Free(r) => m.free(r.start(), r.end()).map(|()| Value::Unit),
            AddrCall::SetOwner(r, owner) => {
                m.set_owner(r.start(), r.end(), owner.clone()).map(previous)
            }
            AddrCall::FreeOwner(o) => Ok(Value::Freed(m.free_owner(o))),
        }
    }

    /// Makes the call as a step of `tx`, through its own methods where it
    /// has them.
    pub fn call_tx(&self, tx: &mut Transaction<'_, AddressAllocator>) -> TxResult<Value, Error> {
        let result = match self {
            AddrCall::Allocate {
                size,
                align,
                policy,
                owner: None,
            } => tx.allocate(*size, *align, *policy).map(range),
            AddrCall::Allocate {
                size,
                align,
                policy,
                owner: Some(o),
            } => tx.owned_by(o).allocate(*size, *align, *policy).map(range),
            AddrCall::AllocateWith {
                constraint,
                owner: None,
                ..
            } => tx.allocate_with(*constraint).map(range),
            AddrCall::AllocateWith {
                constraint,
                owner: Some(o),
                ..
            } => tx.owned_by(o).allocate_with(*constraint).map(range),
            AddrCall::Free(r) => tx.free(r).map(|()| Value::Unit),
            AddrCall::SetOwner(r, owner) => {
                tx.step(|a| a.set_owner(r, owner.clone()).map(previous))
            }
            AddrCall::FreeOwner(o) => tx.step(|a| Ok(freed(a.free_owner(o)))),
        };
        result.map_err(|e| (e.step(), *e.error()))
    }

    /// Makes the call on the address pool `pool` of `s` (`free_owner` acts
    /// on every pool).
    pub fn call_set(&self, s: &mut ResourceSet, pool: &str) -> Result<Value, SetError> {
        match self {
            AddrCall::Allocate {
                size,
                align,
                policy,
                owner: None,
            } => s.allocate(pool, *size, *align, *policy).map(range),
            AddrCall::Allocate {
                size,
                align,
                policy,
                owner: Some(o),
            } => s
                .owned_by(o)
                .allocate(pool, *size, *align, *policy)
                .map(range),
            AddrCall::AllocateWith {
                constraint,
                owner: None,
                ..
            } => s.allocate_with(pool, *constraint).map(range),
            AddrCall::AllocateWith {
                constraint,
                owner: Some(o),
                ..
            } => s.owned_by(o).allocate_with(pool, *constraint).map(range),
            AddrCall::Free(r) => s.free(pool, r).map(|()| Value::Unit),
            AddrCall::SetOwner(r, owner) => s.set_owner(pool, r, owner.clone()).map(previous),
            AddrCall::FreeOwner(o) => Ok(freed_in_set(s.free_owner(o))),
        }
    }

    /// Makes the call as a step of a set's transaction.
    pub fn call_set_tx(
        &self,
        tx: &mut Transaction<'_, ResourceSet>,
        pool: &str,
    ) -> TxResult<Value, SetError> {
        let result = match self {
            AddrCall::Allocate {
                size,
                align,
                policy,
                owner: None,
            } => tx.allocate(pool, *size, *align, *policy).map(range),
            AddrCall::Allocate {
                size,
                align,
                policy,
                owner: Some(o),
            } => tx
                .owned_by(o)
                .allocate(pool, *size, *align, *policy)
                .map(range),
            AddrCall::AllocateWith {
                constraint,
                owner: None,
                ..
            } => tx.allocate_with(pool, *constraint).map(range),
            AddrCall::AllocateWith {
                constraint,
                owner: Some(o),
                ..
            } => tx.owned_by(o).allocate_with(pool, *constraint).map(range),
            AddrCall::Free(r) => tx.free(pool, r).map(|()| Value::Unit),
            AddrCall::SetOwner(r, owner) => {
                tx.step(|s| s.set_owner(pool, r, owner.clone()).map(previous))
            }
            AddrCall::FreeOwner(o) => tx.step(|s| Ok(freed_in_set(s.free_owner(o)))),
        };
        result.map_err(|e| (e.step(), e.error().clone()))
    }
}

/// A concrete call on an `IdAllocator`.
#[derive(Debug, Clone)]
pub enum IdCall {
    /// `allocate_id`, owned or not.
    AllocateId(Option<Owner>),
    /// `allocate_id_at`, owned or not.
    AllocateIdAt(u32, Option<Owner>),
    /// `allocate_ids(count, align)`, owned or not.
    AllocateIds(u32, u32, Option<Owner>),
    /// `free_id`.
    FreeId(u32),
    /// `free_ids(first..=last)`.
    FreeIds(u32, u32),
    /// `set_owner(first..=last, owner)`.
    SetOwner(u32, u32, Option<Owner>),
    /// `free_owner`.
    FreeOwner(Owner),
}

impl IdStep {
    /// The call this selects in `m`.
    pub fn resolve(&self, m: &IdModel) -> IdCall {
        let span = |first: IdSel, span: i8| {
            let first = first.resolve(m);
            (first, first.wrapping_add_signed(span.into()))
        };
        match *self {
            IdStep::AllocateId(owner) => IdCall::AllocateId(OwnerSel::resolve(owner)),
            IdStep::AllocateIdAt { id, owner } => {
                IdCall::AllocateIdAt(id.resolve(m), OwnerSel::resolve(owner))
            }
            IdStep::AllocateIds {
                count,
                align,
                owner,
            } => IdCall::AllocateIds(count.resolve(m), align.resolve(), OwnerSel::resolve(owner)),
            IdStep::FreeId(id) => IdCall::FreeId(id.resolve(m)),
            IdStep::FreeIds { first, span: s } => {
                let (first, last) = span(first, s);
                IdCall::FreeIds(first, last)
            }
            IdStep::SetOwner {
                first,
                span: s,
                owner,
            } => {
                let (first, last) = span(first, s);
                IdCall::SetOwner(first, last, OwnerSel::resolve(owner))
            }
            IdStep::FreeOwner(owner) => IdCall::FreeOwner(owner.owner()),
        }
    }
}

impl IdCall {
    /// Makes the call on `a`.
    pub fn call(&self, a: &mut IdAllocator) -> Result<Value, Error> {
        match self {
            IdCall::AllocateId(None) => a.allocate_id().map(Value::Id),
            IdCall::AllocateId(Some(o)) => a.owned_by(o).allocate_id().map(Value::Id),
            IdCall::AllocateIdAt(id, None) => a.allocate_id_at(*id).map(Value::Id),
            IdCall::AllocateIdAt(id, Some(o)) => a.owned_by(o).allocate_id_at(*id).map(Value::Id),
            IdCall::AllocateIds(n, align, None) => a.allocate_ids(*n, *align).map(ids),
            IdCall::AllocateIds(n, align, Some(o)) => {
                a.owned_by(o).allocate_ids(*n, *align).map(ids)
            }
            IdCall::FreeId(id) => a.free_id(*id).map(Value::Id),
            IdCall::FreeIds(first, last) => a.free_ids(*first..=*last).map(|()| Value::Unit),
            IdCall::SetOwner(first, last, owner) => a
                .set_owner(*first..=*last, owner.clone())
                .map(|()| Value::Unit),
            IdCall::FreeOwner(o) => Ok(freed_ids(a.free_owner(o))),
        }
    }

    /// Makes the call on the model.
    pub fn model(&self, m: &mut IdModel) -> Result<Value, Error> {
        match self {
            IdCall::AllocateId(owner) => m.allocate_id_owned(owner.clone()).map(Value::Id),
            IdCall::AllocateIdAt(id, owner) => {
                m.allocate_id_at_owned(*id, owner.clone()).map(Value::Id)
            }
            IdCall::AllocateIds(n, align, owner) => {
                m.allocate_ids_owned(*n, *align, owner.clone()).map(ids)
            }
            IdCall::FreeId(id) => m.free_id(*id).map(Value::Id),
            IdCall::FreeIds(first, last) => m.free_ids(*first, *last).map(|()| Value::Unit),
            IdCall::SetOwner(first, last, owner) => m
                .set_owner(*first, *last, owner.clone())
                .map(|()| Value::Unit),
            IdCall::FreeOwner(o) => Ok(Value::FreedIds(m.free_owner(o))),
        }
    }

    /// Makes the call as a step of `tx`, through its own methods where it
    /// has them.
    pub fn call_tx(&self, tx: &mut Transaction<'_, IdAllocator>) -> TxResult<Value, Error> {
        let result = match self {
            IdCall::AllocateId(None) => tx.allocate_id().map(Value::Id),
            IdCall::AllocateId(Some(o)) => tx.owned_by(o).allocate_id().map(Value::Id),
            IdCall::AllocateIdAt(id, None) => tx.allocate_id_at(*id).map(Value::Id),
            IdCall::AllocateIdAt(id, Some(o)) => tx.owned_by(o).allocate_id_at(*id).map(Value::Id),
            IdCall::AllocateIds(n, align, None) => tx.allocate_ids(*n, *align).map(ids),
            IdCall::AllocateIds(n, align, Some(o)) => {
                tx.owned_by(o).allocate_ids(*n, *align).map(ids)
            }
            IdCall::FreeId(id) => tx.free_id(*id).map(Value::Id),
            IdCall::FreeIds(first, last) => tx.free_ids(*first..=*last).map(|()| Value::Unit),
            IdCall::SetOwner(first, last, owner) => tx.step(|a| {
                a.set_owner(*first..=*last, owner.clone())
                    .map(|()| Value::Unit)
            }),
            IdCall::FreeOwner(o) => tx.step(|a| Ok(freed_ids(a.free_owner(o)))),
        };
        result.map_err(|e| (e.step(), *e.error()))
    }

    /// Makes the call on the id pool `pool` of `s` (`free_owner` acts on
    /// every pool).
    pub fn call_set(&self, s: &mut ResourceSet, pool: &str) -> Result<Value, SetError> {
        match self {
            IdCall::AllocateId(None) => s.allocate_id(pool).map(Value::Id),
            IdCall::AllocateId(Some(o)) => s.owned_by(o).allocate_id(pool).map(Value::Id),
            IdCall::AllocateIdAt(id, None) => s.allocate_id_at(pool, *id).map(Value::Id),
            IdCall::AllocateIdAt(id, Some(o)) => {
                s.owned_by(o).allocate_id_at(pool, *id).map(Value::Id)
            }
            IdCall::AllocateIds(n, align, None) => s.allocate_ids(pool, *n, *align).map(ids),
            IdCall::AllocateIds(n, align, Some(o)) => {
                s.owned_by(o).allocate_ids(pool, *n, *align).map(ids)
            }
            IdCall::FreeId(id) => s.free_id(pool, *id).map(Value::Id),
            IdCall::FreeIds(first, last) => s.free_ids(pool, *first..=*last).map(|()| Value::Unit),
            IdCall::SetOwner(first, last, owner) => s
                .set_id_owner(pool, *first..=*last, owner.clone())
                .map(|()| Value::Unit),
            IdCall::FreeOwner(o) => Ok(freed_in_set(s.free_owner(o))),
        }
    }

    /// Makes the call as a step of a set's transaction.
    pub fn call_set_tx(
        &self,
        tx: &mut Transaction<'_, ResourceSet>,
        pool: &str,
    ) -> TxResult<Value, SetError> {
        let result = match self {
            IdCall::AllocateId(None) => tx.allocate_id(pool).map(Value::Id),
            IdCall::AllocateId(Some(o)) => tx.owned_by(o).allocate_id(pool).map(Value::Id),
            IdCall::AllocateIdAt(id, None) => tx.allocate_id_at(pool, *id).map(Value::Id),
            IdCall::AllocateIdAt(id, Some(o)) => {
                tx.owned_by(o).allocate_id_at(pool, *id).map(Value::Id)
            }
            IdCall::AllocateIds(n, align, None) => tx.allocate_ids(pool, *n, *align).map(ids),
            IdCall::AllocateIds(n, align, Some(o)) => {
                tx.owned_by(o).allocate_ids(pool, *n, *align).map(ids)
            }
            IdCall::FreeId(id) => tx.free_id(pool, *id).map(Value::Id),
            IdCall::FreeIds(first, last) => tx.free_ids(pool, *first..=*last).map(|()| Value::Unit),
            IdCall::SetOwner(first, last, owner) => tx.step(|s| {
                s.set_id_owner(pool, *first..=*last, owner.clone())
                    .map(|()| Value::Unit)
            }),
            IdCall::FreeOwner(o) => tx.step(|s| Ok(freed_in_set(s.free_owner(o)))),
        };
        result.map_err(|e| (e.step(), e.error().clone()))
    }
}
