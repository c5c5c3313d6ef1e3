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

use super::caps::{first_fit_in, last_fit_in, Caps};
use super::node::{gap_between, Node};

/// The inner capacities a root node knows about itself.
fn root_caps(root: &Node) -> Option<&Caps> {
    match root {
        Node::Branch(branch) => Some(branch.caps()),
        Node::Leaf(_) => None,
    }
}
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

    /// False if no gap strictly inside `node` can hold the request; `caps`
    /// are the node's inner capacities when known (not for a root leaf).
    fn may_fit_inside(&self, node: &Node, caps: Option<&Caps>) -> bool {
        let s = node.summary();
        // Inner gaps lie in [first + 1, last - 1].
        s.last > self.lo
            && s.first < self.hi
            && caps.is_none_or(|c| c.fits(self.size, self.align_log2))
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
        if let Some(x) = first_inside(root, root_caps(root), fit) {
            return Some(x);
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
        if let Some(x) = last_inside(root, root_caps(root), fit) {
            return Some(x);
        }
        if s.first > fit.lo {
            return last_fit_in(fit.lo, min(s.first - 1, fit.hi), fit.size, fit.align_log2);
        }
        None
    }
}

/// First fit among the gaps strictly inside `node`.
fn first_inside(node: &Node, caps: Option<&Caps>, fit: &Fit) -> Option<u64> {
    if !fit.may_fit_inside(node, caps) {
        return None;
    }
    match node {
        Node::Leaf(leaf) => {
            let spans = leaf.spans();
            // Skip the spans that end before the window.
            let from = spans.partition_point(|s| s.end < fit.lo).saturating_sub(1);
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
        Node::Branch(branch) => {
            let children = branch.children();
            for (i, child) in children.iter().enumerate() {
                if child.summary().first >= fit.hi {
                    break; // this child and every later gap lie past the window
                }
                if let Some(x) = first_inside(child, Some(child.inner_caps()), fit) {
                    return Some(x);
                }
                let Some(next) = children.get(i + 1) else {
                    break;
                };
                let gap = gap_between(child.summary().last, next.summary().first);
                if let Some(x) = fit.first_in_gap(gap) {
                    return Some(x);
                }
            }
            None
        }
    }
}

/// Last fit among the gaps strictly inside `node`.
fn last_inside(node: &Node, caps: Option<&Caps>, fit: &Fit) -> Option<u64> {
    if !fit.may_fit_inside(node, caps) {
        return None;
    }
    match node {
        Node::Leaf(leaf) => {
            let spans = leaf.spans();
            // Skip the spans that start after the window.
            let to = (spans.partition_point(|s| s.start <= fit.hi) + 1).min(spans.len());
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
        Node::Branch(branch) => {
            let children = branch.children();
            for (i, child) in children.iter().enumerate().rev() {
                if child.summary().last <= fit.lo {
                    break; // this child and every earlier gap lie before the window
                }
                if let Some(x) = last_inside(child, Some(child.inner_caps()), fit) {
                    return Some(x);
                }
                if i == 0 {
                    break;
                }
                let gap = gap_between(children[i - 1].summary().last, child.summary().first);
                if let Some(x) = fit.last_in_gap(gap) {
                    return Some(x);
                }
            }
            None
        }
    }
}
