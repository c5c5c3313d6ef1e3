// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The owners of allocated ids, beside the runs of an `IdAllocator`.
//!
//! Owners are kept apart from the runs: a tree of spans of ids that share
//! one owner, maximal (two spans that touch have different owners), each
//! inside the allocated ids. An allocator with no owners has an empty tree
//! and pays nothing for it.

#[cfg(any(test, fuzzing, vm_allocator_check))]
use crate::engine::idset::{IdSet, Seek};
use crate::engine::{Span, SpanTree, TaggedSpans};
use crate::Owner;

/// Maximal spans of allocated ids with one owner.
#[derive(Clone, Debug, Default)]
pub(crate) struct IdOwners(SpanTree);

impl IdOwners {
    pub(crate) const fn new() -> IdOwners {
        IdOwners(SpanTree::new())
    }

    /// Wraps a tree a validating builder made.
    pub(crate) fn from_tree(tree: SpanTree) -> IdOwners {
        IdOwners(tree)
    }

    pub(crate) fn tree(&self) -> &SpanTree {
        &self.0
    }

    /// True if no id has an owner. Time: O(1).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.len() == 0
    }

    /// The owner of `id`. Time: O(log n).
    pub(crate) fn owner_at(&self, id: u64) -> Option<&Owner> {
        self.0.containing_entry(id).and_then(|(_, owner)| owner)
    }

    /// True if every id of `first..=last` has exactly `owner` (or, for
    /// `None`, no owner). Time: O(log n).
    pub(crate) fn all_owned_by(&self, first: u64, last: u64, owner: Option<&Owner>) -> bool {
        match owner {
            None => self.0.overlap(Span::new(first, last)).is_none(),
            Some(owner) => self
                .0
                .containing_entry(first)
                .is_some_and(|(s, o)| s.end >= last && o == Some(owner)),
        }
    }

    /// Gives the ids `first..=last`, which have no owner, to `owner`,
    /// merging with touching spans of the same owner. Time: O(log n).
    pub(crate) fn tag(&mut self, first: u64, last: u64, owner: Owner) {
        let (mut first, mut last) = (first, last);
        if let Some(before) = first.checked_sub(1) {
            if let Some((span, Some(o))) = self.0.containing_entry(before) {
                if *o == owner {
                    self.0.remove(span.start);
                    first = span.start;
                }
            }
        }
        if let Some(after) = last.checked_add(1) {
            if let Some((span, Some(o))) = self.0.containing_entry(after) {
                if *o == owner {
                    self.0.remove(span.start);
                    last = span.end;
                }
            }
        }
        self.0.insert_tagged(Span::new(first, last), Some(owner));
    }

    /// Takes the owner away from every id of `first..=last`.
    /// Time: O((k + 1) log n), k = spans touched.
    #[inline]
    pub(crate) fn untag(&mut self, first: u64, last: u64) {
        if !self.is_empty() {
            self.untag_spans(first, last);
        }
    }

    /// `untag` of an allocator with owners.
    fn untag_spans(&mut self, first: u64, last: u64) {
        // Spans overlapping the range, from the last one down.
        while let Some(span) = self.0.overlap(Span::new(first, last)) {
            self.0
                .carve(span, span.start.max(first), span.end.min(last));
        }
    }

    /// Every span with its owner, in increasing order.
    pub(crate) fn iter(&self) -> TaggedSpans<'_> {
        self.0.iter_tagged()
    }

    /// Checks that the spans are maximal, all owned, and inside `runs`.
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn check_invariants(&self, runs: &IdSet) -> Result<(), alloc::string::String> {
        use alloc::format;
        self.0.check_invariants()?;
        let mut previous: Option<(Span, &Owner)> = None;
        for (span, owner) in self.0.iter_tagged() {
            let owner = owner.ok_or_else(|| format!("owner span {span:?} has no owner"))?;
            let run = u32::try_from(span.start)
                .ok()
                .and_then(|start| runs.run_containing(start));
            if run.is_none_or(|(_, end)| u64::from(end) < span.end) {
                return Err(format!(
                    "owner span {span:?} is not inside one allocated run"
                ));
            }
            if let Some((p, o)) = previous {
                if p.end + 1 == span.start && o == owner {
                    return Err(format!(
                        "owner spans {p:?} and {span:?} touch with one owner"
                    ));
                }
            }
            previous = Some((span, owner));
        }
        Ok(())
    }
}
