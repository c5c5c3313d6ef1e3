// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Ids as a line of labels: free, or allocated with an owner (or none).
//!
//! Diffing id allocators compares labels id by id, not runs: allocating
//! id 7 between the runs 5..=6 and 8..=9 merges them into one run, yet the
//! change is the one id. Only the intervals where the trees differ are
//! labelled, so the cost follows the changes.

use alloc::vec::Vec;

use crate::{IdAllocator, Owner};

/// What an id is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Label<'a> {
    Free,
    Allocated(Option<&'a Owner>),
}

/// A stretch of ids with one label.
pub(super) type Segment<'a> = (u64, u64, Label<'a>);

/// The labels of the ids `x..=y` of `ids`, in order, covering `x..=y`.
///
/// Time: O(d + log o + k), k = segments.
pub(super) fn labels(ids: &IdAllocator, x: u64, y: u64) -> Vec<Segment<'_>> {
    let (runs, owners) = ids.trees();
    let mut out = Vec::new();
    let mut owned = owners.iter_tagged_from(x).peekable();
    // The first id not labelled yet; ids are below 2^32, so no overflow.
    let mut cursor = x;
    // Ids are `u32`, so `x` and `y` are too.
    let runs = runs
        .runs_overlapping(x as u32, y as u32)
        .map(|(first, last)| (u64::from(first), u64::from(last)));
    for (start, end) in runs {
        if start > y {
            break;
        }
        let (from, to) = (start.max(x), end.min(y));
        if from > cursor {
            out.push((cursor, from - 1, Label::Free));
        }
        let mut at = from;
        while let Some(&(span, owner)) = owned.peek() {
            if span.start > to {
                break;
            }
            if span.end < at {
                owned.next();
                continue;
            }
            let (a, b) = (span.start.max(at), span.end.min(to));
            if a > at {
                out.push((at, a - 1, Label::Allocated(None)));
            }
            out.push((a, b, Label::Allocated(owner)));
            at = b + 1;
            if span.end > to {
                break;
            }
            owned.next();
        }
        if at <= to {
            out.push((at, to, Label::Allocated(None)));
        }
        cursor = to + 1;
    }
    if cursor <= y {
        out.push((cursor, y, Label::Free));
    }
    out
}
