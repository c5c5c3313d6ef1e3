// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Applying a diff to the state it was made from.
//!
//! Every change is checked against the state before it is made, on a clone
//! (O(1)), so a diff that does not fit leaves the state untouched.

use alloc::string::String;

use super::{DiffError, PoolDiff};
use crate::escape::quoted;
use crate::format::FileKind;
use crate::{AddressAllocator, Diff, IdAllocator, Pool, PoolKind, ResourceSet};

fn check_kind(diff: &Diff, found: FileKind) -> Result<(), DiffError> {
    if diff.kind != found {
        return Err(DiffError::WrongKind {
            expected: diff.kind,
            found,
        });
    }
    Ok(())
}

fn check_generation(pool: Option<String>, expected: u64, found: u64) -> Result<(), DiffError> {
    if expected != found {
        return Err(DiffError::GenerationMismatch {
            pool,
            expected,
            found,
        });
    }
    Ok(())
}

/// The one pool change of a lone allocator's diff.
fn only_pool(diff: &Diff, kind: PoolKind) -> Result<&PoolDiff, DiffError> {
    match diff.pools.as_slice() {
        [pool] if pool.kind == kind && pool.name.is_none() => Ok(pool),
        _ => Err(DiffError::ShapeMismatch {
            what: String::from("a lone allocator's diff holds exactly one unnamed change list"),
        }),
    }
}

pub(super) fn apply_address(
    state: &AddressAllocator,
    diff: &Diff,
) -> Result<AddressAllocator, DiffError> {
    check_kind(diff, FileKind::AddressAllocator)?;
    check_generation(None, diff.generations.0, state.generation())?;
    let pool = only_pool(diff, PoolKind::Addresses)?;
    let mut out = state.clone();
    apply_address_pool(&mut out, pool)?;
    out.set_generation(diff.generations.1);
    Ok(out)
}

pub(super) fn apply_ids(state: &IdAllocator, diff: &Diff) -> Result<IdAllocator, DiffError> {
    check_kind(diff, FileKind::IdAllocator)?;
    check_generation(None, diff.generations.0, state.generation())?;
    let pool = only_pool(diff, PoolKind::Ids)?;
    let mut out = state.clone();
    apply_id_pool(&mut out, pool)?;
    out.set_generation(diff.generations.1);
    Ok(out)
}

pub(super) fn apply_set(state: &ResourceSet, diff: &Diff) -> Result<ResourceSet, DiffError> {
    check_kind(diff, FileKind::ResourceSet)?;
    check_generation(None, diff.generations.0, state.generation())?;
    let mut out = state.clone();
    for change in &diff.pools {
        let name = change
            .name_owner()
            .ok_or_else(|| DiffError::ShapeMismatch {
                what: String::from("a change of a resource set names no pool"),
            })?;
        let label = || Some(String::from(name.as_str()));
        let entry = out
            .entries_mut()
            .iter_mut()
            .find(|e| e.name == *name)
            .ok_or_else(|| DiffError::ShapeMismatch {
                what: alloc::format!("the set has no pool named {}", quoted(name.as_str())),
            })?;
        if entry.pool.kind() != change.kind {
            return Err(DiffError::ShapeMismatch {
                what: alloc::format!(
                    "pool {} is not an {} pool",
                    quoted(name.as_str()),
                    change.kind
                ),
            });
        }
        check_generation(label(), change.generations.0, entry.pool.generation())?;
        match &mut entry.pool {
            Pool::Ids(ids) => {
                apply_id_pool(ids, change)?;
                ids.set_generation(change.generations.1);
            }
            Pool::Addresses(a) => {
                apply_address_pool(a, change)?;
                a.set_generation(change.generations.1);
            }
        }
    }
    out.set_generation(diff.generations.1);
    Ok(out)
}

fn label(pool: &PoolDiff) -> Option<String> {
    pool.name().map(String::from)
}

fn apply_address_pool(a: &mut AddressAllocator, pool: &PoolDiff) -> Result<(), DiffError> {
    for c in &pool.freed {
        if !a.remove_exact(c.range, c.owner.as_ref()) {
            return Err(DiffError::NotAllocated {
                pool: label(pool),
                range: c.range,
                owner: c.owner.clone(),
            });
        }
    }
    for c in &pool.allocated {
        if !a.insert_free(c.range, c.owner.clone()) {
            return Err(DiffError::NotFree {
                pool: label(pool),
                range: c.range,
            });
        }
    }
    Ok(())
}

fn apply_id_pool(ids: &mut IdAllocator, pool: &PoolDiff) -> Result<(), DiffError> {
    for c in &pool.freed {
        if !ids.remove_labelled(c.range.start(), c.range.end(), c.owner.as_ref()) {
            return Err(DiffError::NotAllocated {
                pool: label(pool),
                range: c.range,
                owner: c.owner.clone(),
            });
        }
    }
    for c in &pool.allocated {
        if !ids.insert_labelled(c.range.start(), c.range.end(), c.owner.clone()) {
            return Err(DiffError::NotFree {
                pool: label(pool),
                range: c.range,
            });
        }
    }
    if let Some((_, next_id)) = pool.next_ids {
        if !ids.set_next_id_checked(next_id) {
            return Err(DiffError::InvalidNextId {
                pool: label(pool),
                next_id,
            });
        }
    }
    Ok(())
}
