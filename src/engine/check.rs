// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The invariant checker that tests and fuzz targets run after every edit.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::caps::{brute_force, brute_second, Caps, Holders, CLASSES, GAP_BIT};
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

/// The capacities of a subtree as its contents give them.
struct Expected {
    /// Per class, the maximum over all its gaps.
    all: [u64; CLASSES],
    /// Per class, the maximum over its gaps but the big one.
    rest: [u64; CLASSES],
}

/// Per class, the maximum of two tables.
fn pointwise_max(a: &[u64; CLASSES], b: &[u64; CLASSES]) -> [u64; CLASSES] {
    core::array::from_fn(|k| a[k].max(b[k]))
}

/// Checks, bottom-up, that every stored summary, copy and capacity equals
/// what the contents give (a root leaf's capacities may be stale); returns
/// the node's capacities.
fn check_summaries(node: &Node, is_root: bool) -> Result<Expected, String> {
    let (summary, expected) = match node {
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
            let all = brute_force(gaps.iter().copied()).0;
            let big = leaf.caps().big;
            let others: Vec<(u64, u64)> = gaps.iter().copied().filter(|g| *g != big).collect();
            let (rest, ties) = brute_force(others.iter().copied());
            if leaf.tracks_gaps() {
                let what = || format!("the leaf starting at {at:#x}");
                check_big(big, &gaps, others.len(), &all, what)?;
                check_caps(leaf.caps(), &all, what)?;
                match (leaf.table(), others.is_empty()) {
                    (Some(table), false) => {
                        if table.max() != &rest {
                            return Err(format!(
                                "the leaf starting at {at:#x} keeps {:?} for its other gaps, \
                                 they give {rest:?}",
                                table.max()
                            ));
                        }
                        let base = table.base();
                        if let Some(g) = others
                            .iter()
                            .find(|g| (g.0.trailing_zeros() as usize) < base)
                        {
                            return Err(format!(
                                "the leaf starting at {at:#x} keeps classes from {base} on, its gap {g:?} \
                                 is less aligned"
                            ));
                        }
                        if let Some(k) =
                            (base..CLASSES).find(|&k| u32::from(table.ties(k)) != ties[k])
                        {
                            return Err(format!(
                                "the leaf starting at {at:#x} counts {} gaps attaining class {k}, its contents {}",
                                table.ties(k),
                                ties[k]
                            ));
                        }
                        for (k, &max) in rest.iter().enumerate().skip(base) {
                            if let Some((value, count)) = table.second(k) {
                                let want = brute_second(others.iter().copied(), k, max);
                                if (value, u32::from(count)) != want {
                                    return Err(format!(
                                        "the leaf starting at {at:#x} keeps {:?} as the second of class {k}, \
                                         its contents {want:?}",
                                        (value, count)
                                    ));
                                }
                            }
                        }
                    }
                    (None, true) => {}
                    (table, _) => {
                        return Err(format!(
                            "the leaf starting at {at:#x} has {} gaps and {} table",
                            gaps.len(),
                            if table.is_some() { "a" } else { "no" }
                        ))
                    }
                }
            }
            (summary, Expected { all, rest })
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
                if copies != (s.first, s.last, tables[i].all[0]) {
                    return Err(format!(
                        "a branch keeps (first, last, largest gap) = {copies:?} for its child {i}, \
                         which has {:?}",
                        (s.first, s.last, tables[i].all[0])
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
            let mut all = [0u64; CLASSES];
            for table in tables.iter().map(|t| &t.all).chain(&gap_tables) {
                all = pointwise_max(&all, table);
            }
            let at = children[0].summary().first;
            let what = || format!("the branch starting at {at:#x}");
            let big = branch.caps().big;
            // The big gap: which part holds it, and what each part brings
            // to the table besides it.
            let zero = [0u64; CLASSES];
            let mut brought: Vec<&[u64; CLASSES]> = tables.iter().map(|t| &t.all).collect();
            brought.extend(gap_tables.iter());
            match branch.big_part() {
                None if all[0] == 0 && big == (0, 0) => {}
                Some(p) if p < children.len() && children[p].caps().big == big => {
                    brought[p] = &tables[p].rest;
                }
                Some(p)
                    if p >= GAP_BIT
                        && p - GAP_BIT < gaps.len()
                        && gaps[p - GAP_BIT] == big
                        && big.1 > 0 =>
                {
                    brought[children.len() + p - GAP_BIT] = &zero;
                }
                part => {
                    return Err(format!(
                        "{} says part {part:?} holds its big gap {big:?}",
                        what()
                    ))
                }
            }
            if big.1 != all[0] {
                return Err(format!(
                    "{} has a big gap {big:?}, its largest gap is {} long",
                    what(),
                    all[0]
                ));
            }
            let mut rest = [0u64; CLASSES];
            for table in &brought {
                rest = pointwise_max(&rest, table);
            }
            check_caps(branch.caps(), &all, what)?;
            match branch.table() {
                None if rest[0] == 0 => {}
                None => return Err(format!("{} has other gaps and no table", what())),
                Some(table) => {
                    if table.max() != &rest {
                        return Err(format!(
                            "{} keeps {:?} for its other gaps, they give {rest:?}",
                            what(),
                            table.max()
                        ));
                    }
                    for k in 0..CLASSES {
                        let mut holders: Holders = 0;
                        if rest[k] > 0 {
                            for (i, part) in brought.iter().enumerate() {
                                let bit = if i < children.len() {
                                    i
                                } else {
                                    GAP_BIT + i - children.len()
                                };
                                if part[k] == rest[k] {
                                    holders |= 1 << bit;
                                }
                            }
                        }
                        if table.holders(k) != holders {
                            return Err(format!(
                                "a branch records parts {:#x} attaining class {k}, its contents {holders:#x}",
                                table.holders(k)
                            ));
                        }
                        if let Some(second) = table.second(k) {
                            let mut want: (u64, Holders) = (0, 0);
                            for (i, part) in brought.iter().enumerate() {
                                let bit = if i < children.len() {
                                    i
                                } else {
                                    GAP_BIT + i - children.len()
                                };
                                let value = part[k];
                                if value == 0 || value >= rest[k] {
                                    continue;
                                }
                                if value > want.0 {
                                    want = (value, 1 << bit);
                                } else if value == want.0 {
                                    want.1 |= 1 << bit;
                                }
                            }
                            if second != want {
                                return Err(format!(
                                    "a branch keeps {second:?} as the second of class {k}, its contents {want:?}"
                                ));
                            }
                        }
                    }
                }
            }
            (summary_of(children), Expected { all, rest })
        }
    };
    finish(node, summary, expected)
}

/// Checks that `big` is one of `gaps` and a largest one, and that `others`
/// are the rest.
fn check_big(
    big: (u64, u64),
    gaps: &[(u64, u64)],
    others: usize,
    all: &[u64; CLASSES],
    what: impl Fn() -> String,
) -> Result<(), String> {
    let found = gaps.contains(&big) || (big == (0, 0) && gaps.is_empty());
    if !found || big.1 != all[0] || others + usize::from(!gaps.is_empty()) != gaps.len() {
        return Err(format!(
            "{} has a big gap {big:?}, not a largest of its gaps {gaps:?}",
            what()
        ));
    }
    Ok(())
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
fn finish(node: &Node, summary: Summary, expected: Expected) -> Result<Expected, String> {
    if node.summary() != summary {
        return Err(format!(
            "stale summary: stored {:?}, contents give {summary:?}",
            node.summary()
        ));
    }
    Ok(expected)
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
