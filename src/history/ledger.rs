// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The bytes a history keeps alive: every heap block its versions reach,
//! each counted once however many versions share it.
//!
//! The ledger counts, for every block that some kept version reaches, its
//! references from kept versions and from other blocks it tracks (each
//! referring block counts once per walk of it, see `engine::heap`).
//! Adding a version walks it from the top and stops at every block already
//! tracked: all that such a block refers to is tracked too, and unchanged,
//! since a block that a version reaches is never edited (an edit copies a
//! shared node first). Removing a version walks it the same way and goes on
//! only below the blocks whose count drops to zero, which are the blocks
//! only that version held. Both walks see exactly the same references of a
//! block, so the counts stay exact, and each costs O(1) map operation per
//! block it reaches.
//!
//! A block's address is its identity only while it is alive: a tracked
//! block is, since the version that reaches it is kept, and it leaves the
//! ledger before that version is dropped. The map is a `BTreeMap` so that
//! the crate needs only `alloc`.

use alloc::collections::btree_map::{BTreeMap, Entry};

use super::tracked::Tracked;

/// The blocks the kept versions reach.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ledger {
    blocks: BTreeMap<usize, Held>,
    bytes: usize,
}

/// One tracked block. Eight bytes, so that the ledger costs little per
/// version: no block comes near 4 GiB (the largest are a leaf, about
/// 2.3 KiB, and a set's list of pools), nor 2^32 references.
#[derive(Clone, Copy, Debug)]
struct Held {
    refs: u32,
    bytes: u32,
}

impl Ledger {
    /// Counts `state`, about to be kept. Time: O(log B) for each block of
    /// `state` that no kept version reaches and each reference out of one,
    /// B = blocks tracked.
    pub(crate) fn add<S: Tracked>(&mut self, state: &S) {
        let (blocks, bytes) = (&mut self.blocks, &mut self.bytes);
        state.walk_heap(&mut |block| match blocks.entry(block.addr) {
            Entry::Occupied(mut held) => {
                held.get_mut().refs += 1;
                false
            }
            Entry::Vacant(slot) => {
                let held = slot.insert(Held {
                    refs: 1,
                    bytes: u32::try_from(block.bytes).unwrap_or(u32::MAX),
                });
                *bytes += held.bytes as usize;
                true
            }
        });
    }

    /// Stops counting `state`, a kept version about to be dropped. Time:
    /// O(log B) for each block that only `state` reaches and each reference
    /// out of one.
    pub(crate) fn remove<S: Tracked>(&mut self, state: &S) {
        let (blocks, bytes) = (&mut self.blocks, &mut self.bytes);
        state.walk_heap(&mut |block| {
            let Entry::Occupied(mut held) = blocks.entry(block.addr) else {
                debug_assert!(false, "a kept version reaches an untracked block");
                return false;
            };
            held.get_mut().refs -= 1;
            if held.get().refs > 0 {
                return false;
            }
            *bytes -= held.remove().bytes as usize;
            true
        });
    }

    /// Bytes of the tracked blocks. Time: O(1).
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Number of tracked blocks. Time: O(1).
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn blocks(&self) -> usize {
        self.blocks.len()
    }

    /// The blocks and bytes `states` reach, each block once, counted from
    /// scratch: what the ledger of exactly these versions must hold.
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn recount<'a, S: Tracked + 'a>(
        states: impl IntoIterator<Item = &'a S>,
    ) -> (usize, usize) {
        let mut seen = alloc::collections::BTreeSet::new();
        let mut bytes = 0;
        for state in states {
            state.walk_heap(&mut |block| {
                let new = seen.insert(block.addr);
                if new {
                    bytes += block.bytes;
                }
                new
            });
        }
        (seen.len(), bytes)
    }
}
