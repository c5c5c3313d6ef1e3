// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Random operation sequences on both allocators and a resource set, with
//! owners, snapshots, diffs and deltas, transactions and round trips
//! through every encoding, checked step by step against the reference
//! models (generations included): the same `Scenario`, actions and models
//! as the proptest suites in `tests/model.rs`.
//!
//! A failure panics with the diverging action and the whole scenario;
//! `cargo fuzz fmt ops <crash file>` prints the scenario again.

#![no_main]

#[path = "../../tests/support/mod.rs"]
mod support;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|scenario: support::Scenario| {
    support::run_or_panic(&scenario);
});
