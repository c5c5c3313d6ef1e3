// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The invariant checker that tests and fuzz targets run after every edit.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::caps::{gap_cap, Caps};
use super::config::{BRANCH_CAP, BRANCH_MIN, LEAF_CAP, LEAF_MIN};
use super::node::{gap_between, Node, Summary};
use super::SpanTree;

impl SpanTree {
    /// Checks every invariant listed in `node.rs` and says which one broke
    /// where. Time: O(n).
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let Some(root) = self.root.as_ref() else {
            return Ok(());
        };
        if let Node::Branch(branch) = root {
            if branch.children().len() < 2 {
                return Err(String::from("the root branch has a single child"));
            }
        }
        // Level by level, left to right, so that edge nodes are known.
        let mut level: Vec<&Node> = vec![root];
        for depth in 0.. {
            let is_leaf_level = matches!(level[0], Node::Leaf(_));
            let last = level.len() - 1;
            for (j, node) in level.iter().enumerate() {
                if matches!(node, Node::Leaf(_)) != is_leaf_level {
                    return Err(format!("leaves at different depths (depth {depth})"));
                }
                let (len, cap, min) = match node {
                    Node::Leaf(leaf) => (leaf.spans().len(), LEAF_CAP, LEAF_MIN),
                    Node::Branch(branch) => (branch.children().len(), BRANCH_CAP, BRANCH_MIN),
                };
                let exempt = depth == 0 || j == 0 || j == last;
                if len == 0 || len > cap || (len < min && !exempt) {
                    return Err(format!(
                        "node {j} of {} at depth {depth} holds {len} entries (min {min}, cap {cap})",
                        last + 1
                    ));
                }
            }
            if is_leaf_level {
                break;
            }
            level = level
                .iter()
                .flat_map(|node| match node {
                    Node::Branch(branch) => branch.children().iter(),
                    Node::Leaf(_) => [].iter(),
                })
                .collect();
        }
        check_summaries(root, true)?;
        let mut prev_end: Option<u64> = None;
        let mut count = 0u64;
        for span in self.iter() {
            if span.start > span.end {
                return Err(format!("inverted span {span:?}"));
            }
            if prev_end.is_some_and(|end| end >= span.start) {
                return Err(format!(
                    "span {span:?} does not start after the previous span"
                ));
            }
            prev_end = Some(span.end);
            count += 1;
        }
        if count != self.len() {
            return Err(format!(
                "iteration yields {count} spans, the summary says {}",
                self.len()
            ));
        }
        Ok(())
    }
}

/// Checks, bottom-up, that every stored summary and capacity equals what
/// the contents give (a root leaf's capacities may be stale); returns the
/// node's inner capacities.
fn check_summaries(node: &Node, is_root: bool) -> Result<Caps, String> {
    let expected = match node {
        Node::Leaf(leaf) => {
            let spans = leaf.spans();
            if !is_root && !leaf.gap_bits_match() {
                return Err(format!(
                    "stale open-gap bits in the leaf starting at {:#x}",
                    spans[0].start
                ));
            }
            if let Err(why) = leaf.tags().check(spans.len()) {
                return Err(format!("{why} (leaf starting at {:#x})", spans[0].start));
            }
            if let Some(pair) = spans.windows(2).find(|p| p[0].end >= p[1].start) {
                return Err(format!(
                    "leaf spans {:?} and {:?} are unsorted or overlap",
                    pair[0], pair[1]
                ));
            }
            let summary = Summary {
                first: spans[0].start,
                last: spans[spans.len() - 1].end,
                count: spans.len() as u64,
                covered: spans
                    .iter()
                    .fold(0u64, |a, s| a.wrapping_add(s.end - s.start + 1)),
                tagged: (0..spans.len()).filter(|&i| leaf.tag(i).is_some()).count() as u64,
            };
            let caps = brute_caps(spans.windows(2).map(|w| gap_between(w[0].end, w[1].start)));
            (summary, caps)
        }
        Node::Branch(branch) => {
            let children = branch.children();
            for child in children {
                check_summaries(child, false)?;
            }
            if let Some(pair) = children
                .windows(2)
                .find(|p| p[0].summary().last >= p[1].summary().first)
            {
                return Err(format!(
                    "sibling subtrees ending at {:#x} and starting at {:#x} are unsorted or overlap",
                    pair[0].summary().last,
                    pair[1].summary().first
                ));
            }
            let mut caps = brute_caps(
                children
                    .windows(2)
                    .map(|w| gap_between(w[0].summary().last, w[1].summary().first)),
            );
            let mut count = 0;
            let mut covered = 0u64;
            let mut tagged = 0;
            for child in children {
                caps.raise(child.inner_caps());
                count += child.summary().count;
                covered = covered.wrapping_add(child.summary().covered);
                tagged += child.summary().tagged;
            }
            if *branch.caps() != caps {
                return Err(format!(
                    "stale branch capacities: stored {:?}, contents give {caps:?}",
                    branch.caps()
                ));
            }
            let summary = Summary {
                first: children[0].summary().first,
                last: children[children.len() - 1].summary().last,
                count,
                covered,
                tagged,
            };
            (summary, caps)
        }
    };
    let (summary, caps) = expected;
    if !is_root && *node.inner_caps() != caps {
        return Err(format!(
            "stale capacities: stored {:?}, contents give {caps:?}",
            node.inner_caps()
        ));
    }
    if *node.summary() != summary {
        return Err(format!(
            "stale summary: stored {:?}, contents give {summary:?}",
            node.summary()
        ));
    }
    Ok(caps)
}

/// Capacities computed class by class, independently of `Caps::from_gaps`.
fn brute_caps(gaps: impl Iterator<Item = (u64, u64)> + Clone) -> Caps {
    let mut caps = Caps::EMPTY;
    for k in 0..64u32 {
        let best = gaps
            .clone()
            .map(|(start, len)| gap_cap(start, len, k))
            .max()
            .unwrap_or(0);
        caps.set(k, best);
    }
    caps
}
