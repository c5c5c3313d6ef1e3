// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Random operation sequences and the reference models they are checked
//! against, shared by the proptest suite (`tests/model.rs`) and the cargo-fuzz
//! target `ops` (`fuzz/fuzz_targets/ops.rs`).
//!
//! A [`Scenario`] is an address space, an id range and a list of [`Action`]s.
//! [`run`] plays it on the real allocators, on a `ResourceSet` and on the
//! reference models ([`AddressModel`], [`IdModel`], [`SetModel`]), compares
//! every result (the `Ok` value or the exact error), then the whole state of
//! the live allocators and of every snapshot (owners and generations
//! included), and stops at the first difference with a message naming the
//! action.
//!
//! Beyond single operations, actions diff a snapshot against the live state
//! and replay the diff and its delta file ([`Action::Diff`]), run all-or-
//! nothing batches ([`Action::Transaction`]) and encode the live state in
//! every form it has ([`Action::RoundTrip`]); each is checked against what
//! the models say, never against the library's own answer.
//!
//! Numbers inside actions are *selectors* resolved against the current state
//! (the start of the third allocation, the end of the space plus one, ...),
//! so random input lands on the boundaries where allocators go wrong rather
//! than on addresses nobody uses. Owners are chosen among a handful of names
//! ([`OwnerSel`]), one of them twice through handles that are not
//! pointer-equal.
//!
//! The files, by concern:
//! - `actions.rs`: the scenario, its actions and their selectors (the types
//!   the fuzzer decodes with `arbitrary`);
//! - `models.rs`: the reference models of both allocators;
//! - `sets.rs`: the reference model of a resource set;
//! - `resolve.rs`: turning selectors into concrete calls, and making each
//!   call on an allocator, a set, a transaction and a model;
//! - `checks.rs`: comparing a state with its model;
//! - `diffs.rs`: the naive diff of two models, and applying one to a model;
//! - `runner.rs`: playing a scenario.
//!
//! This module needs only `vm_allocator`, `arbitrary` and `serde_json`: the
//! proptest strategies live in `strategy.rs`, which the fuzz target does not
//! include.

// Each includer uses a different part of this module.
#![allow(dead_code)]

mod actions;
mod checks;
mod diffs;
mod models;
mod resolve;
mod runner;
mod sets;

pub use actions::*;
pub use checks::*;
pub use diffs::*;
pub use models::*;
pub use resolve::*;
pub use runner::*;
pub use sets::*;

/// Most snapshots kept at once; taking one more forgets the oldest.
pub const MAX_SNAPSHOTS: usize = 4;
/// Most allocations (or id runs) whose boundaries are probed after an action.
pub const PROBED: usize = 24;
/// Most allocations one `Fill` makes.
pub const MAX_FILL: usize = 64;
/// Most ids one successful `allocate_ids` may take (see [`CountSel::resolve`]).
pub const MAX_ID_BLOCK: u32 = 256;
/// Most steps of one transaction (more are ignored).
pub const MAX_TX_STEPS: usize = 8;

/// `Err` with a message when `real != model`.
pub fn same<T: PartialEq + std::fmt::Debug>(what: &str, real: T, model: T) -> Result<(), String> {
    if real == model {
        Ok(())
    } else {
        Err(format!(
            "{what}: allocator gave {real:?}, model expects {model:?}"
        ))
    }
}

/// [`same`], building the description only when they differ.
pub fn same_lazy<T: PartialEq + std::fmt::Debug>(
    what: impl FnOnce() -> String,
    real: T,
    model: T,
) -> Result<(), String> {
    if real == model {
        Ok(())
    } else {
        same(&what(), real, model)
    }
}

/// Plays `scenario`; the error names the first action whose result or
/// resulting state differs from the models.
pub fn run(scenario: &Scenario) -> Result<(), String> {
    run_counting(scenario).map(drop)
}

/// Plays `scenario` and returns what it exercised.
pub fn run_counting(scenario: &Scenario) -> Result<Stats, String> {
    let mut runner =
        Runner::new(scenario.space, scenario.ids).map_err(|e| format!("initial state: {e}"))?;
    for (i, action) in scenario.actions.iter().enumerate() {
        runner
            .step(action)
            .map_err(|e| format!("action #{i} {action:?}: {e}"))?;
    }
    runner.check().map_err(|e| format!("at the end: {e}"))?;
    Ok(runner.stats)
}

/// Plays `scenario` and panics with the difference and a reproducer.
pub fn run_or_panic(scenario: &Scenario) {
    if let Err(e) = run(scenario) {
        panic!("{e}\n\nreproducer:\n{scenario:#?}");
    }
}
