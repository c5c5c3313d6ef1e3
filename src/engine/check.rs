// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The invariant checker that tests and fuzz targets run after every edit.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::caps::{brute_force, Caps, CLASSES, GAP_BIT};
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

/// Checks, bottom-up, that every stored summary, copy and capacity equals
/// what the contents give (a root leaf's capacities may be stale); returns
/// the node's inner capacities.
fn check_summaries(node: &Node, is_root: bool) -> Result<[u64; CLASSES], String> {
    let (summary, max) = match node {
        Node::Leaf(leaf) => {
            let spans = leaf.spans();
            let at = spans[0].start;
            if !is_root && !leaf.tracks_gaps() {
                return Err(format!(
                    "the leaf starting at {at:#x} does not track its gaps"
                ));
            }
            if !leaf.fences_match() {
                return Err(format!("stale fences in the leaf starting at {at:#x}"));
            }
            if !leaf.gap_bits_match() {
                return Err(format!(
                    "stale open-gap bits in the leaf starting at {at:#x}"
                ));
            }
            if let Err(why) = leaf.tags().check(spans.len()) {
                return Err(format!("{why} (leaf starting at {at:#x})"));
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
            let gaps: Vec<(u64, u64)> = spans
                .windows(2)
                .map(|w| gap_between(w[0].end, w[1].start))
                .filter(|&(_, len)| len > 0)
                .collect();
            let (max, ties) = brute_force(gaps.iter().copied());
            if leaf.tracks_gaps() {
                check_caps(leaf.caps(), &max, || {
                    format!("the leaf starting at {at:#x}")
                })?;
                match (leaf.table(), gaps.len()) {
                    (Some(table), 2..) => {
                        if let Some(k) = (0..CLASSES).find(|&k| u32::from(table.ties(k)) != ties[k])
                        {
                            return Err(format!(
                                "the leaf starting at {at:#x} counts {} gaps attaining class {k}, its contents {}",
                                table.ties(k),
                                ties[k]
                            ));
                        }
                    }
                    (None, 0 | 1) => {}
                    (table, n) => {
                        return Err(format!(
                            "the leaf starting at {at:#x} has {n} gaps and {} table",
                            if table.is_some() { "a" } else { "no" }
                        ))
                    }
                }
            }
            (summary, max)
        }
        Node::Branch(branch) => {
            let children = branch.children();
            let mut tables = Vec::with_capacity(children.len());
            for child in children {
                tables.push(check_summaries(child, false)?);
            }
            for (i, child) in children.iter().enumerate() {
                let s = child.summary();
                let copies = (branch.firsts()[i], branch.lasts()[i], branch.largest()[i]);
                if copies != (s.first, s.last, tables[i][0]) {
                    return Err(format!(
                        "a branch keeps (first, last, largest gap) = {copies:?} for its child {i}, \
                         which has {:?}",
                        (s.first, s.last, tables[i][0])
                    ));
                }
            }
            if !branch.unused_firsts_are_max() {
                return Err(String::from(
                    "a branch keeps a first value past its last child",
                ));
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
            let gaps: Vec<(u64, u64)> = children
                .windows(2)
                .map(|w| gap_between(w[0].summary().last, w[1].summary().first))
                .collect();
            let gap_tables: Vec<[u64; CLASSES]> = gaps
                .iter()
                .map(|&gap| brute_force(core::iter::once(gap)).0)
                .collect();
            let mut max = [0u64; CLASSES];
            for table in tables.iter().chain(&gap_tables) {
                for k in 0..CLASSES {
                    max[k] = max[k].max(table[k]);
                }
            }
            let at = children[0].summary().first;
            check_caps(branch.caps(), &max, || {
                format!("the branch starting at {at:#x}")
            })?;
            // A table exactly when no single gap (or none) describes them.
            let parts: Vec<Caps<'_>> = children
                .iter()
                .zip(&tables)
                .filter(|(_, t)| t[0] > 0)
                .map(|(c, _)| c.caps())
                .chain(
                    gaps.iter()
                        .filter(|g| g.1 > 0)
                        .map(|&(start, len)| Caps::Gap(start, len)),
                )
                .collect();
            let needs_table = parts.len() > 1 || matches!(parts.first(), Some(Caps::Table(_)));
            let Some(table) = branch.table() else {
                if needs_table {
                    return Err(format!(
                        "the branch starting at {at:#x} has no table for {} parts with gaps",
                        parts.len()
                    ));
                }
                let same = match (branch.caps(), parts.first()) {
                    (Caps::Empty, None) => true,
                    (Caps::Gap(a, b), Some(&Caps::Gap(c, d))) => (a, b) == (c, d),
                    _ => false,
                };
                if !same {
                    return Err(format!(
                        "the branch starting at {at:#x} describes its gaps as {:?}, its parts as {:?}",
                        branch.caps(),
                        parts
                    ));
                }
                return finish(node, summary_of(children), max);
            };
            if !needs_table {
                return Err(format!(
                    "the branch starting at {at:#x} keeps a table for one gap or none"
                ));
            }
            for k in 0..CLASSES {
                let mut holders = 0u32;
                if max[k] > 0 {
                    for (i, table) in tables.iter().enumerate() {
                        if table[k] == max[k] {
                            holders |= 1 << i;
                        }
                    }
                    for (i, table) in gap_tables.iter().enumerate() {
                        if table[k] == max[k] {
                            holders |= 1 << (GAP_BIT + i);
                        }
                    }
                }
                if table.holders(k) != holders {
                    return Err(format!(
                        "a branch records parts {:#x} attaining class {k}, its contents {holders:#x}",
                        table.holders(k)
                    ));
                }
            }
            (summary_of(children), max)
        }
    };
    finish(node, summary, max)
}

/// The summary a branch over `children` must have.
fn summary_of(children: &[Node]) -> Summary {
    let mut count = 0;
    let mut covered = 0u64;
    let mut tagged = 0;
    for child in children {
        count += child.summary().count;
        covered = covered.wrapping_add(child.summary().covered);
        tagged += child.summary().tagged;
    }
    Summary {
        first: children[0].summary().first,
        last: children[children.len() - 1].summary().last,
        count,
        covered,
        tagged,
    }
}

/// Checks the stored summary of `node`; returns its capacities.
fn finish(node: &Node, summary: Summary, max: [u64; CLASSES]) -> Result<[u64; CLASSES], String> {
    if *node.summary() != summary {
        return Err(format!(
            "stale summary: stored {:?}, contents give {summary:?}",
            node.summary()
        ));
    }
    Ok(max)
}

/// Checks that `caps` give `max` in every class.
fn check_caps(
    caps: Caps<'_>,
    max: &[u64; CLASSES],
    what: impl Fn() -> String,
) -> Result<(), String> {
    if let Some(k) = (0..CLASSES).find(|&k| caps.get(k) != max[k]) {
        return Err(format!(
            "stale capacities in {}: class {k} holds {}, the contents give {} ({caps:?})",
            what(),
            caps.get(k),
            max[k]
        ));
    }
    Ok(())
}
