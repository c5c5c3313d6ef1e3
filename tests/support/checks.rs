// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Comparing an allocator with its model: every query, the owners and the
//! generation, and the internal invariants.

use vm_allocator::{AddressAllocator, IdAllocator};

use super::{
    name_of, same, same_lazy, to_pair, AddressModel, IdModel, Item, NOBODY, OWNER_NAMES, PROBED,
};

/// The owner names whose allocations are listed after every step: every
/// name an owner may have, and one no owner has.
pub fn queried_names() -> impl Iterator<Item = &'static str> {
    OWNER_NAMES.into_iter().chain([NOBODY])
}

/// The allocations of an `AddressAllocator` with their owners' names.
pub fn address_items(a: &AddressAllocator) -> Vec<Item<u64>> {
    a.allocations()
        .map(|x| (x.range().start(), x.range().end(), name_of(x.owner())))
        .collect()
}

/// The allocated ids of an `IdAllocator` with their owners' names.
pub fn id_items(a: &IdAllocator) -> Vec<Item<u32>> {
    a.allocations()
        .map(|x| (*x.ids().start(), *x.ids().end(), name_of(x.owner())))
        .collect()
}

/// Compares an `AddressAllocator` with its model.
pub fn check_address(
    a: &AddressAllocator,
    m: &AddressModel,
    probe: Option<usize>,
) -> Result<(), String> {
    a.check_invariants()
        .map_err(|e| format!("address allocator invariant broken: {e}"))?;
    same("base()", a.base(), m.base)?;
    same("end()", a.end(), m.end)?;
    same("space()", to_pair(a.space()), (m.base, m.end))?;
    same("generation()", a.generation(), m.generation)?;
    let real: Vec<(u64, u64)> = a.iter().map(to_pair).collect();
    same("iter()", &real, &m.runs())?;
    same(
        "(&allocator).into_iter()",
        a.into_iter().map(to_pair).collect::<Vec<_>>(),
        real.clone(),
    )?;
    let items = a.allocations().map(|x| {
        (
            x.range().start(),
            x.range().end(),
            x.owner().map(|o| o.as_str()),
        )
    });
    if !items.eq(m.items()) {
        same("allocations()", address_items(a), m.allocations())?;
    }
    let (lo, hi) = a.allocations().size_hint();
    if lo > real.len() || hi.is_some_and(|h| h < real.len()) {
        return Err(format!(
            "allocations().size_hint() {:?} excludes {}",
            (lo, hi),
            real.len()
        ));
    }
    same("has_owners()", a.has_owners(), !m.owners.is_empty())?;
    for name in queried_names() {
        same_lazy(
            || format!("allocations_of({name:?})"),
            a.allocations_of(name).map(to_pair).collect::<Vec<_>>(),
            m.allocations_of(name),
        )?;
    }
    let n = real.len() as u64;
    same("len()", a.len(), n)?;
    same("is_empty()", a.is_empty(), n == 0)?;
    let (lo, hi) = a.iter().size_hint();
    if lo as u64 > n || hi.is_some_and(|h| (h as u64) < n) {
        return Err(format!("iter().size_hint() {:?} excludes {n}", (lo, hi)));
    }
    let used = m.used();
    same("used()", a.used(), used)?;
    same("available()", a.available(), m.size() - used)?;
    let Some(probe) = probe else {
        return Ok(());
    };
    // Lookups at the boundaries of some allocations and of the space.
    let mut points = vec![
        m.base,
        m.end,
        m.base.wrapping_sub(1),
        m.end.wrapping_add(1),
        0,
        u64::MAX,
    ];
    let stride = real.len() / PROBED + 1;
    for &(s, e) in real.iter().skip(probe % stride).step_by(stride) {
        points.extend([s, e, s.wrapping_sub(1), e.wrapping_add(1)]);
    }
    for p in points {
        let containing = m.containing(p);
        same_lazy(
            || format!("allocation_containing({p:#x})"),
            a.allocation_containing(p).map(to_pair),
            containing,
        )?;
        same_lazy(
            || format!("is_allocated({p:#x})"),
            a.is_allocated(p),
            containing.is_some(),
        )?;
        same_lazy(|| format!("owner_at({p:#x})"), a.owner_at(p), m.owner_at(p))?;
    }
    Ok(())
}

/// Compares an `IdAllocator` with its model.
pub fn check_ids(a: &IdAllocator, m: &IdModel, probe: Option<usize>) -> Result<(), String> {
    a.check_invariants()
        .map_err(|e| format!("id allocator invariant broken: {e}"))?;
    same("range_base()", a.range_base(), m.base)?;
    same("range_end()", a.range_end(), m.end)?;
    same("generation()", a.generation(), m.generation)?;
    let runs: Vec<_> = a.runs().collect();
    let model_runs = m.runs();
    same("ranges()", &runs, &model_runs)?;
    same(
        "iter()",
        a.iter().collect::<Vec<u32>>(),
        m.allocated.iter().copied().collect(),
    )?;
    let items = a.allocations().map(|x| {
        (
            *x.ids().start(),
            *x.ids().end(),
            x.owner().map(|o| o.as_str()),
        )
    });
    if !items.eq(m.items()) {
        same("allocations()", id_items(a), m.allocations())?;
    }
    same("has_owners()", a.has_owners(), !m.owners.is_empty())?;
    for name in queried_names() {
        same_lazy(
            || format!("ids_of({name:?})"),
            a.ids_of(name)
                .map(|r| (*r.start(), *r.end()))
                .collect::<Vec<_>>(),
            m.ids_of(name),
        )?;
    }
    let used = m.allocated.len() as u64;
    same("used()", a.used(), used)?;
    same("available()", a.available(), m.size() - used)?;
    let Some(probe) = probe else {
        return Ok(());
    };
    let mut points = vec![
        m.base,
        m.end,
        m.base.wrapping_sub(1),
        m.end.wrapping_add(1),
        0,
        u32::MAX,
        m.next_id as u32,
    ];
    let stride = runs.len() / PROBED + 1;
    for run in runs.iter().skip(probe % stride).step_by(stride) {
        let (s, e) = (*run.start(), *run.end());
        points.extend([s, e, s.wrapping_sub(1), e.wrapping_add(1)]);
    }
    for p in points {
        same_lazy(
            || format!("is_allocated({p})"),
            a.is_allocated(p),
            m.allocated.contains(&p),
        )?;
        same_lazy(|| format!("owner_at({p})"), a.owner_at(p), m.owner_at(p))?;
    }
    Ok(())
}

/// The cheap part of `check_address`, for a state no action touched since
/// its last full check: generation, size and count.
pub fn check_address_light(a: &AddressAllocator, m: &AddressModel) -> Result<(), String> {
    same("generation()", a.generation(), m.generation)?;
    same("len()", a.len(), m.allocs.len() as u64)?;
    same("used()", a.used(), m.used())
}

/// The cheap part of `check_ids`.
pub fn check_ids_light(a: &IdAllocator, m: &IdModel) -> Result<(), String> {
    same("generation()", a.generation(), m.generation)?;
    same("used()", a.used(), m.allocated.len() as u64)?;
    same("has_owners()", a.has_owners(), !m.owners.is_empty())
}
