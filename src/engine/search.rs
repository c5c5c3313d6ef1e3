// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! First-fit and last-fit searches for free space.
//!
//! Free space is everything between spans. A search walks gaps in address
//! order (or reverse) and enters a subtree only when its summary says the
//! subtree holds a gap that fits at the requested alignment. A subtree that
//! lies wholly inside the window and passes that test always yields an
//! answer, so only the (at most two per level) subtrees cut by the window's
//! ends can be entered in vain: O(log n) nodes in all.

use core::cmp::{max, min};

use super::caps::{first_fit_in, last_fit_in};
use super::node::{gap_between, Branch, Leaf, Node};
use super::{Fit, SpanTree};

/// Clips the gap `(start, len)` to the window; `None` if nothing is left.
#[inline]
fn clip((start, len): (u64, u64), fit: &Fit) -> Option<(u64, u64)> {
    if len == 0 {
        return None;
    }
    let lo = max(start, fit.lo);
    let hi = min(start + (len - 1), fit.hi);
    (lo <= hi).then_some((lo, hi))
}

impl Fit {
    fn first_in_gap(&self, gap: (u64, u64)) -> Option<u64> {
        let (lo, hi) = clip(gap, self)?;
        first_fit_in(lo, hi, self.size, self.align_log2)
    }

    fn last_in_gap(&self, gap: (u64, u64)) -> Option<u64> {
        let (lo, hi) = clip(gap, self)?;
        last_fit_in(lo, hi, self.size, self.align_log2)
    }

    /// False if no gap strictly inside child `i` of `branch` can hold the
    /// request. Reads the child itself only if its largest gap is large
    /// enough.
    #[inline]
    fn may_fit_in_child(&self, branch: &Branch, i: usize) -> bool {
        // Inner gaps lie in [first + 1, last - 1].
        branch.lasts()[i] > self.lo
            && branch.firsts()[i] < self.hi
            && branch.largest()[i] >= self.size
            && branch.children()[i].caps().fits(self.size, self.align_log2)
    }

    /// False if no gap strictly inside the root can hold the request; a
    /// root leaf keeps no capacities and is scanned.
    fn may_fit_in_root(&self, root: &Node) -> bool {
        let s = root.summary();
        s.last > self.lo
            && s.first < self.hi
            && match root {
                Node::Branch(branch) => branch.caps().fits(self.size, self.align_log2),
                Node::Leaf(_) => true,
            }
    }
}

impl SpanTree {
    /// The lowest start of a free, aligned run for `fit`. Time: O(log n).
    pub(crate) fn first_fit(&self, fit: &Fit) -> Option<u64> {
        debug_assert!(fit.size > 0 && fit.lo <= fit.hi && fit.align_log2 < 64);
        let Some(root) = self.root.as_ref() else {
            return first_fit_in(fit.lo, fit.hi, fit.size, fit.align_log2);
        };
        let s = root.summary();
        if s.first > fit.lo {
            if let Some(x) =
                first_fit_in(fit.lo, min(s.first - 1, fit.hi), fit.size, fit.align_log2)
            {
                return Some(x);
            }
        }
        if fit.may_fit_in_root(root) {
            if let Some(x) = first_inside(root, fit) {
                return Some(x);
            }
        }
        if s.last < fit.hi {
            return first_fit_in(max(s.last + 1, fit.lo), fit.hi, fit.size, fit.align_log2);
        }
        None
    }

    /// The highest start of a free, aligned run for `fit`. Time: O(log n).
    pub(crate) fn last_fit(&self, fit: &Fit) -> Option<u64> {
        debug_assert!(fit.size > 0 && fit.lo <= fit.hi && fit.align_log2 < 64);
        let Some(root) = self.root.as_ref() else {
            return last_fit_in(fit.lo, fit.hi, fit.size, fit.align_log2);
        };
        let s = root.summary();
        if s.last < fit.hi {
            if let Some(x) = last_fit_in(max(s.last + 1, fit.lo), fit.hi, fit.size, fit.align_log2)
            {
                return Some(x);
            }
        }
        if fit.may_fit_in_root(root) {
            if let Some(x) = last_inside(root, fit) {
                return Some(x);
            }
        }
        if s.first > fit.lo {
            return last_fit_in(fit.lo, min(s.first - 1, fit.hi), fit.size, fit.align_log2);
        }
        None
    }
}

/// First fit among the gaps strictly inside `node`, which may hold one.
fn first_inside(node: &Node, fit: &Fit) -> Option<u64> {
    match node {
        Node::Leaf(leaf) => first_in_leaf(leaf, fit),
        Node::Branch(branch) => {
            let n = branch.children().len();
            // Children that end at or before the window hold nothing in it;
            // the gap after the last of them may.
            let from = branch
                .lasts()
                .partition_point(|&last| last <= fit.lo)
                .saturating_sub(1);
            for i in from..n {
                if branch.firsts()[i] >= fit.hi {
                    break; // this child and every later gap lie past the window
                }
                if fit.may_fit_in_child(branch, i) {
                    if let Some(x) = first_inside(&branch.children()[i], fit) {
                        return Some(x);
                    }
                }
                if i + 1 == n {
                    break;
                }
                if let Some(x) = fit.first_in_gap(branch.gap(i)) {
                    return Some(x);
                }
            }
            None
        }
    }
}

fn first_in_leaf(leaf: &Leaf, fit: &Fit) -> Option<u64> {
    let spans = leaf.spans();
    // Skip the spans that end before the window: all before the last span
    // that starts at or before it.
    let from = leaf.count_at_or_before(fit.lo).saturating_sub(2);
    for pair in spans[from..].windows(2) {
        if pair[0].end >= fit.hi {
            break;
        }
        if let Some(x) = fit.first_in_gap(gap_between(pair[0].end, pair[1].start)) {
            return Some(x);
        }
    }
    None
}

/// Last fit among the gaps strictly inside `node`, which may hold one.
fn last_inside(node: &Node, fit: &Fit) -> Option<u64> {
    match node {
        Node::Leaf(leaf) => last_in_leaf(leaf, fit),
        Node::Branch(branch) => {
            let n = branch.children().len();
            // Children that start at or after the window's end hold nothing
            // in it; the gap before the first of them may.
            let to = branch
                .firsts()
                .partition_point(|&first| first < fit.hi)
                .min(n - 1);
            for i in (0..=to).rev() {
                if branch.lasts()[i] <= fit.lo {
                    break; // this child and every earlier gap lie before the window
                }
                if fit.may_fit_in_child(branch, i) {
                    if let Some(x) = last_inside(&branch.children()[i], fit) {
                        return Some(x);
                    }
                }
                if i == 0 {
                    break;
                }
                if let Some(x) = fit.last_in_gap(branch.gap(i - 1)) {
                    return Some(x);
                }
            }
            None
        }
    }
}

fn last_in_leaf(leaf: &Leaf, fit: &Fit) -> Option<u64> {
    let spans = leaf.spans();
    // Skip the spans that start after the window.
    let to = (leaf.count_at_or_before(fit.hi) + 1).min(spans.len());
    for pair in spans[..to].windows(2).rev() {
        if pair[1].start <= fit.lo {
            break;
        }
        if let Some(x) = fit.last_in_gap(gap_between(pair[0].end, pair[1].start)) {
            return Some(x);
        }
    }
    None
}
