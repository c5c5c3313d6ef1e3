// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! A `History` of each kind of state driven by random scenarios: edits
//! between records, records refused (older, another shape), reverts to
//! older versions, reloads that share nothing, retention by count and by
//! bytes, and `get`, `diff` and `blame` compared with the model after every
//! step (the same scenarios and model as `tests/history.rs`). At the end,
//! a journal of every version recorded (written by `JournalWriter`), read
//! back by `History::from_journal_bytes`, must keep the versions and give
//! the blame of a history that recorded them live, whole and torn.
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
