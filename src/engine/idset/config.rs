// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Node sizes of the id set.
//!
//! Unit tests and fuzzing use tiny nodes (two-word leaves, four-way inner
//! nodes, thirteen levels) so that every structural path (new nodes, nodes
//! that fill up or empty into markers, the root growing and shrinking, the
//! partial top level) runs on a handful of small ids; so does any build with
//! `--cfg vm_allocator_small_nodes`.

/// 64-bit words in a leaf (a power of two, at most 64). 64 words cover 4096
/// ids in 512 bytes, so ids below 2^18 sit two levels deep.
#[cfg(not(any(test, fuzzing, vm_allocator_small_nodes)))]
pub(crate) const LEAF_WORDS: usize = 64;
/// Slots of an inner node (a power of two, 2 to 64).
#[cfg(not(any(test, fuzzing, vm_allocator_small_nodes)))]
pub(crate) const FANOUT: usize = 64;

#[cfg(any(test, fuzzing, vm_allocator_small_nodes))]
pub(crate) const LEAF_WORDS: usize = 2;
#[cfg(any(test, fuzzing, vm_allocator_small_nodes))]
pub(crate) const FANOUT: usize = 4;

const _: () = assert!(LEAF_WORDS.is_power_of_two() && LEAF_WORDS <= 64);
const _: () = assert!(FANOUT.is_power_of_two() && FANOUT >= 2 && FANOUT <= 64);
