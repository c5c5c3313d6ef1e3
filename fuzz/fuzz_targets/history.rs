// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! A `History` of each kind of state driven by random scenarios: edits
//! between records, records refused (older, another shape), reverts to
//! older versions, reloads that share nothing, retention by count and by
//! bytes, and `get`, `diff` and `blame` compared with the model after every
//! step (the same scenarios and model as `tests/history.rs`).
//!
//! A failure panics with the diverging action and the whole scenario;
//! `cargo fuzz fmt history <crash file>` prints the scenario again.

#![no_main]

#[path = "../../tests/support/history.rs"]
mod history;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|scenario: history::HistoryScenario| {
    history::run_history_or_panic(&scenario);
});
