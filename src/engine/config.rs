// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Node sizes of the span tree.
//!
//! Unit tests and fuzzing use tiny nodes so that splits, merges, borrowing
//! and height changes happen after a handful of operations; so does any
//! build with `--cfg vm_allocator_small_nodes` (CI runs the integration
//! suites that way too).

/// Most spans a leaf holds. 128 spans of 16 bytes keep a leaf's table of
/// capacities (about 600 bytes, only in leaves with two gaps or more) under
/// a fifth of the leaf, and the gap bits in one `u128`.
#[cfg(not(any(test, fuzzing, vm_allocator_small_nodes)))]
pub(crate) const LEAF_CAP: usize = 128;
/// Most children a branch holds. Edits cost the same with 24 as with 32
/// (`benches/cliffs.rs`, within noise) and 15-25% less than with 16, while
/// the branches an edit copies stay small: a `History` version one
/// allocation apart retains 3,969 bytes with 24, 4,449 with 32
/// (`examples/history_sizes.rs`).
#[cfg(not(any(test, fuzzing, vm_allocator_small_nodes)))]
pub(crate) const BRANCH_CAP: usize = 24;

#[cfg(any(test, fuzzing, vm_allocator_small_nodes))]
pub(crate) const LEAF_CAP: usize = 4;
#[cfg(any(test, fuzzing, vm_allocator_small_nodes))]
pub(crate) const BRANCH_CAP: usize = 4;

/// A leaf keeps the start of every `LEAF_FENCE`-th span apart, so that a
/// lookup reads those (two cache lines) and then one block of `LEAF_FENCE`
/// spans instead of bisecting all of them, one cache miss per step.
#[cfg(not(any(test, fuzzing, vm_allocator_small_nodes)))]
pub(crate) const LEAF_FENCE: usize = 8;
#[cfg(any(test, fuzzing, vm_allocator_small_nodes))]
pub(crate) const LEAF_FENCE: usize = 2;

/// Fewest spans a leaf holds unless it is the root or the first or last leaf.
pub(crate) const LEAF_MIN: usize = LEAF_CAP / 2;
/// Fewest children a branch holds unless it is the root or the first or last
/// branch of its level.
pub(crate) const BRANCH_MIN: usize = BRANCH_CAP / 2;
