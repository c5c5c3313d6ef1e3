// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Histories of states of every kind, and their journals, for the tests of
//! journals (`journal.rs`, `format.rs`, `bounds.rs`): each state made from
//! the one before by a few random edits (owners, frees, owner changes),
//! with a label now and then.
//!
//! Include it with `#[path = "support/journals.rs"] mod journals;` beside
//! `support/rng.rs` as `mod rng`.

// Each includer uses a different part of it.
#![allow(dead_code)]

use crate::rng::Rng;
use vm_allocator::format::JournalWriter;
use vm_allocator::{
    AddressAllocator, AllocPolicy, IdAllocator, Owner, RangeInclusive, ResourceSet, Versioned,
};

pub fn owner(rng: &mut Rng) -> Option<Owner> {
    let names = ["serial0", "virtio-net0", "nvme0", "gpu0", "virtio-blk0"];
    rng.chance(60)
        .then(|| Owner::new(names[rng.below(names.len() as u64) as usize]).unwrap())
}

/// One random edit of an id allocator; false if it failed (no change).
pub fn edit_ids(ids: &mut IdAllocator, rng: &mut Rng) -> bool {
    let who = owner(rng);
    let span = ids.range_end() - ids.range_base() + 1;
    match rng.below(6) {
        0 | 1 => match &who {
            Some(o) => ids.owned_by(o).allocate_id().is_ok(),
            None => ids.allocate_id().is_ok(),
        },
        2 => {
            let at = ids.range_base() + rng.below(u64::from(span)) as u32;
            match &who {
                Some(o) => ids.owned_by(o).allocate_id_at(at).is_ok(),
                None => ids.allocate_id_at(at).is_ok(),
            }
        }
        3 => ids
            .allocate_ids(1 + rng.below(4) as u32, 1 << rng.below(3))
            .is_ok(),
        4 => {
            let at = ids.range_base() + rng.below(u64::from(span)) as u32;
            ids.free_id(at).is_ok()
        }
        _ => {
            let at = ids.range_base() + rng.below(u64::from(span)) as u32;
            ids.set_owner(at..=at, who).is_ok()
        }
    }
}

pub fn edit_addresses(a: &mut AddressAllocator, rng: &mut Rng) -> bool {
    let who = owner(rng);
    let size = 0x1000 << rng.below(3);
    match rng.below(5) {
        0 | 1 => {
            let policy = if rng.chance(50) {
                AllocPolicy::FirstMatch
            } else {
                AllocPolicy::LastMatch
            };
            match &who {
                Some(o) => a.owned_by(o).allocate(size, 0x1000, policy).is_ok(),
                None => a.allocate(size, 0x1000, policy).is_ok(),
            }
        }
        2 => {
            let n = a.len();
            if n == 0 {
                return false;
            }
            let pick = a.iter().nth(rng.below(n) as usize).unwrap();
            a.free(&pick).is_ok()
        }
        3 => {
            let n = a.len();
            if n == 0 {
                return false;
            }
            let pick = a.iter().nth(rng.below(n) as usize).unwrap();
            a.set_owner(&pick, who).is_ok()
        }
        _ => {
            let at = a.base() + rng.below(64) * 0x1000;
            a.allocate(0x1000, 0x1000, AllocPolicy::ExactMatch(at))
                .is_ok()
        }
    }
}

pub fn edit_set(vm: &mut ResourceSet, rng: &mut Rng) -> bool {
    let who = owner(rng);
    let pools = ["legacy_gsi", "msi_gsi", "mmio32", "mmio64", "pio"];
    let pool = pools[rng.below(pools.len() as u64) as usize];
    match (pool, rng.below(3)) {
        ("legacy_gsi" | "msi_gsi", 0) => match &who {
            Some(o) => vm.owned_by(o).allocate_id(pool).is_ok(),
            None => vm.allocate_id(pool).is_ok(),
        },
        ("legacy_gsi" | "msi_gsi", 1) => vm.allocate_ids(pool, 2, 2).is_ok(),
        ("legacy_gsi" | "msi_gsi", _) => {
            let first = vm.ids(pool).unwrap().iter().next();
            first.is_some_and(|id| vm.free_id(pool, id).is_ok())
        }
        (_, 0 | 1) => match &who {
            Some(o) => vm
                .owned_by(o)
                .allocate(pool, 0x1000, 0x1000, AllocPolicy::FirstMatch)
                .is_ok(),
            None => vm
                .allocate(pool, 0x1000, 0x1000, AllocPolicy::LastMatch)
                .is_ok(),
        },
        _ => match who {
            Some(o) => !vm.free_owner(o.as_str()).is_empty(),
            None => {
                let first = vm.addresses(pool).unwrap().iter().next();
                first.is_some_and(|r: RangeInclusive| vm.free(pool, &r).is_ok())
            }
        },
    }
}

/// `n` states, each made from the one before by one to three edits that
/// moved its generation, with a label now and then.
pub fn history<S: Versioned>(
    mut state: S,
    n: usize,
    seed: u64,
    edit: fn(&mut S, &mut Rng) -> bool,
) -> Vec<(S, Option<String>)> {
    let mut rng = Rng(seed);
    let mut out = vec![(state.clone(), None)];
    while out.len() <= n {
        let before = state.generation();
        for _ in 0..1 + rng.below(3) {
            edit(&mut state, &mut rng);
        }
        if state.generation() > before {
            let label = rng.chance(30).then(|| format!("step {}", out.len()));
            out.push((state.clone(), label));
        }
    }
    out
}

/// The journal of `states` (the first is the base).
pub fn journal_of<S: Versioned>(states: &[(S, Option<String>)], id: u64) -> (Vec<u8>, Vec<usize>) {
    let (mut writer, mut bytes) = JournalWriter::start(&states[0].0, id);
    let mut ends = vec![bytes.len()];
    for (state, label) in &states[1..] {
        writer
            .append_to(state, label.as_deref(), &mut bytes)
            .unwrap();
        ends.push(bytes.len());
    }
    (bytes, ends)
}
