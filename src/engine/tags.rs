// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The owners of a leaf's spans.
//!
//! A leaf whose spans have no owner carries no column at all (one `None`
//! pointer), so untagged allocations cost nothing extra; the first tagged
//! span brings a column of `LEAF_CAP` slots (8 bytes each), and the column
//! goes away again with the last tag.

use alloc::boxed::Box;

use super::config::LEAF_CAP;
use crate::owner::Owner;

/// The owner of one span, if any.
pub(crate) type Tag = Option<Owner>;

/// The owners of the spans of one leaf, slot `i` for span `i`.
///
/// Invariants: a column exists only while some slot holds an owner;
/// `count` is the number of such slots; slots at or past the leaf's length
/// are empty.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tags(Option<Box<Column>>);

#[derive(Clone, Debug)]
struct Column {
    owners: [Tag; LEAF_CAP],
    count: usize,
}

impl Column {
    fn new() -> Box<Column> {
        Box::new(Column {
            owners: core::array::from_fn(|_| None),
            count: 0,
        })
    }
}

impl Tags {
    /// No owner on any span.
    pub(crate) const NONE: Tags = Tags(None);

    /// The owner of span `i`.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&Owner> {
        self.0.as_ref().and_then(|c| c.owners[i].as_ref())
    }

    /// Bytes of the column on the heap (0 without one).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.0
            .as_ref()
            .map_or(0, |_| core::mem::size_of::<Column>())
    }

    /// Number of spans with an owner.
    #[inline]
    pub(crate) fn count(&self) -> usize {
        self.0.as_ref().map_or(0, |c| c.count)
    }

    /// Sets the owner of span `i`, returning the old one.
    pub(crate) fn set(&mut self, i: usize, tag: Tag) -> Tag {
        if tag.is_none() && self.0.is_none() {
            return None;
        }
        let column = self.0.get_or_insert_with(Column::new);
        let old = core::mem::replace(&mut column.owners[i], tag);
        column.count =
            column.count + usize::from(column.owners[i].is_some()) - usize::from(old.is_some());
        self.drop_if_empty();
        old
    }

    /// Opens slot `pos` in a leaf of `len` spans (before the insertion) and
    /// puts `tag` there.
    #[inline]
    pub(crate) fn insert(&mut self, pos: usize, len: usize, tag: Tag) {
        if let Some(column) = self.0.as_mut() {
            column.owners[pos..=len].rotate_right(1);
        } else if tag.is_none() {
            return;
        }
        self.set(pos, tag);
    }

    /// Closes slot `pos` of a leaf of `len` spans (before the removal),
    /// returning its owner.
    #[inline]
    pub(crate) fn remove(&mut self, pos: usize, len: usize) -> Tag {
        let column = self.0.as_mut()?;
        let old = column.owners[pos].take();
        column.owners[pos..len].rotate_left(1);
        if old.is_some() {
            column.count -= 1;
            self.drop_if_empty();
        }
        old
    }

    /// Keeps the slots below `at` of a leaf of `len` spans and returns the
    /// others, moved down to start at 0.
    pub(crate) fn split_off(&mut self, at: usize, len: usize) -> Tags {
        let Some(column) = self.0.as_mut() else {
            return Tags::NONE;
        };
        let mut right = Tags::NONE;
        for i in at..len {
            if let Some(owner) = column.owners[i].take() {
                column.count -= 1;
                right.set(i - at, Some(owner));
            }
        }
        self.drop_if_empty();
        right
    }

    /// Copies the first `other_len` slots of `other` after the first `len`
    /// slots of this column.
    pub(crate) fn append(&mut self, len: usize, other: &Tags, other_len: usize) {
        if other.count() == 0 {
            return;
        }
        for i in 0..other_len {
            if let Some(owner) = other.get(i) {
                self.set(len + i, Some(owner.clone()));
            }
        }
    }

    fn drop_if_empty(&mut self) {
        if self.0.as_ref().is_some_and(|c| c.count == 0) {
            self.0 = None;
        }
    }

    /// Checks the invariants above for a leaf of `len` spans.
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn check(&self, len: usize) -> Result<(), &'static str> {
        let Some(column) = self.0.as_ref() else {
            return Ok(());
        };
        let counted = column.owners[..len].iter().filter(|o| o.is_some()).count();
        if counted != column.count {
            return Err("the owner count of a leaf is stale");
        }
        if column.count == 0 {
            return Err("a leaf keeps an owner column with no owner in it");
        }
        if column.owners[len..].iter().any(|o| o.is_some()) {
            return Err("a leaf holds an owner past its last span");
        }
        Ok(())
    }
}
