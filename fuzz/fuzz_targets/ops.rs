// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Random operation sequences on both allocators, snapshots included,
//! checked step by step against the reference models: the same `Scenario`,
//! actions and models as the proptest suite in `tests/model.rs`.
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
