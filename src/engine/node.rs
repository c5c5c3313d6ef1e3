// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Nodes of the span tree and the edits that keep them balanced.
//!
//! Invariants (checked by `SpanTree::check_invariants`):
//! - every leaf is at the same depth; spans live only in leaves;
//! - spans are sorted and disjoint: each span ends before the next starts;
//! - a leaf holds 1..=`LEAF_CAP` spans and a branch 1..=`BRANCH_CAP`
//!   children; outside the root and the first and last node of each level,
//!   a leaf holds at least `LEAF_MIN` spans and a branch `BRANCH_MIN`
//!   children (the edge nodes are exempt so that filling the space in order
//!   leaves full nodes behind instead of half-full ones); a root branch has at
//!   least two children;
//! - every node's summary equals what its contents give, and so do the
//!   free-gap capacities of every node except a root leaf (nothing reads
//!   those, so a tree of one leaf never pays for them; see `caps`): its
//!   big gap is one of its largest gaps (`(0, 0)` when it has none), and
//!   its table holds, per class, the maximum over all its other gaps and
//!   which parts attain it; a leaf has a table iff it has a gap besides
//!   the big one, a branch whenever it has one (and may keep a table of
//!   zeros once they are gone);
//! - in a leaf, the other gaps are its open gaps but the big one; the
//!   table counts the gaps attaining each maximum;
//! - in a branch, the big gap belongs to one part (`big_part`): a gap
//!   between two children, or a child whose own big gap it is. A part
//!   brings to the table its gap, or all of a child's capacities, except
//!   what the big gap is: nothing for the gap, the child's table for the
//!   child (see `caps::Part`); the table records which parts attain each
//!   maximum;
//! - a leaf other than the root tracks its open gaps: bit `j` of its gap
//!   bits is set iff spans `j` and `j + 1` do not touch;
//! - a leaf's fence `b` is the start of its span `b * LEAF_FENCE`;
//! - a branch keeps copies of what it reads most of its children: the first
//!   and last value of each child (and `u64::MAX` as the first value of
//!   each unused slot) and the largest gap inside each child (its class-0
//!   capacity), so that routing and pruning a search never touch a child
//!   that is not entered.

use alloc::vec::Vec;
use arrayvec::ArrayVec;
use core::mem;
use triomphe::Arc;

use super::caps::{
    self, gap_classes, BranchTable, Caps, Holders, LeafTable, Part, Rest, ALL_CLASSES, CLASSES,
    GAP_BIT,
};
use super::config::{BRANCH_CAP, BRANCH_MIN, LEAF_CAP, LEAF_FENCE, LEAF_MIN};
use super::tags::{Tag, Tags};
use super::Span;
use crate::owner::Owner;

/// What a node knows about its whole subtree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Start of the first span.
    pub(crate) first: u64,
    /// End of the last span.
    pub(crate) last: u64,
    /// Number of spans.
    pub(crate) count: u64,
    /// Number of values covered by the spans (modulo 2^64: the allocators
    /// never cover the whole `u64` space).
    pub(crate) covered: u64,
    /// Number of spans with an owner.
    pub(crate) tagged: u64,
}

impl Summary {
    const EMPTY: Summary = Summary {
        first: 0,
        last: 0,
        count: 0,
        covered: 0,
        tagged: 0,
    };
}

/// The gap strictly between two neighbouring spans, as `(start, len)`.
#[inline]
pub(crate) fn gap_between(left_end: u64, right_start: u64) -> (u64, u64) {
    (left_end.wrapping_add(1), right_start - left_end - 1)
}

/// Whether a node lies at the left or right edge of its level.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Edges {
    pub(crate) left: bool,
    pub(crate) right: bool,
}

impl Edges {
    /// The edges of child `i` out of `n`.
    fn child(self, i: usize, n: usize) -> Edges {
        Edges {
            left: self.left && i == 0,
            right: self.right && i + 1 == n,
        }
    }

    fn any(self) -> bool {
        self.left || self.right
    }
}

/// Where a subtree sits in the tree: whether it is the root, its edges, and
/// the nearest span ends outside it, so that a leaf can tell whether an edit
/// reaches a neighbouring leaf.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Place {
    pub(crate) is_root: bool,
    pub(crate) edges: Edges,
    /// End of the last span before the subtree.
    pub(crate) before: Option<u64>,
    /// Start of the first span after the subtree.
    pub(crate) after: Option<u64>,
}

impl Place {
    pub(crate) const ROOT: Place = Place {
        is_root: true,
        edges: Edges {
            left: true,
            right: true,
        },
        before: None,
        after: None,
    };
}

/// A range-set edit reached a span in a neighbouring leaf; nothing changed.
#[cfg(test)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CrossesLeaf;

/// A node: a leaf of spans or a branch of nodes, shared copy-on-write.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Leaf(Arc<Leaf>),
    Branch(Arc<Branch>),
}

/// Up to `LEAF_CAP` sorted, disjoint spans.
#[derive(Clone, Debug)]
pub(crate) struct Leaf {
    len: usize,
    spans: [Span; LEAF_CAP],
    /// `fences[b]`: the start of span `b * LEAF_FENCE`, for every block of
    /// `LEAF_FENCE` spans that holds one (the rest is unused).
    fences: [u64; FENCES],
    /// Bit `j` is set when spans `j` and `j + 1` do not touch (a leaf of
    /// packed allocations has none). Like the capacities, a root leaf stops
    /// tracking them (`gaps_tracked`), and rebuilds them when it needs them.
    open_gaps: u128,
    gaps_tracked: bool,
    /// Number of values the spans cover (the rest of the leaf's summary
    /// is read from its spans).
    covered: u64,
    /// A largest open gap, as `(start, len)`; `(0, 0)` when there is none
    /// (stale in a root leaf).
    big: (u64, u64),
    /// Capacities of the other open gaps, when there is one (absent or
    /// stale in a root leaf).
    table: Option<Arc<LeafTable>>,
    /// Classes of the table whose maximum changed during the current edit
    /// (for the parent; not part of the invariants).
    rest_changed: u64,
    /// The owners of the spans, if any has one.
    tags: Tags,
}

/// What `Leaf::gaps_leave` saw, for `Leaf::gaps_enter`.
#[derive(Clone, Copy)]
struct Before {
    /// Classes of the table whose maximum fell back to the second largest.
    changed: u64,
    /// Classes of the table that lost their last attaining gap.
    stale: u64,
    /// True if the big gap left.
    big_left: bool,
}

/// What an edit changed in a node's capacities, for its parent.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Change {
    /// The node's big gap before the edit.
    pub(crate) old_big: (u64, u64),
    /// A superset of the classes whose maximum in the node's table
    /// changed.
    pub(crate) rest: u64,
}

/// Number of fences of a leaf.
const FENCES: usize = LEAF_CAP / LEAF_FENCE;
const _: () = assert!(LEAF_CAP.is_multiple_of(LEAF_FENCE));
// The gap bits of a leaf fit one `u128`.
const _: () = assert!(LEAF_CAP <= 128);

/// The bits below `j`.
#[inline]
fn bits_below(j: usize) -> u128 {
    if j >= 128 {
        u128::MAX
    } else {
        (1u128 << j) - 1
    }
}

/// The open gaps of a leaf, as `(start, len)`, from its gap bits.
#[inline]
fn open_gaps_of(
    spans: &[Span; LEAF_CAP],
    open: u128,
) -> impl Iterator<Item = (u64, u64)> + Clone + '_ {
    let mut open = open;
    core::iter::from_fn(move || {
        if open == 0 {
            return None;
        }
        let j = open.trailing_zeros() as usize;
        open &= open - 1;
        Some(gap_between(spans[j].end, spans[j + 1].start))
    })
}

/// The table of a leaf's gaps besides the big one, made if there is none.
#[inline]
fn rest_table(table: &mut Option<Arc<LeafTable>>) -> &mut LeafTable {
    Arc::make_mut(table.get_or_insert_with(|| Arc::new(LeafTable::EMPTY)))
}

/// The children of a branch, inline so that copying a shared branch is one
/// allocation; one spare slot holds a new child until the branch splits.
type Children = ArrayVec<Node, { BRANCH_CAP + 1 }>;

/// Up to `BRANCH_CAP` children, all of the same height, in span order.
#[derive(Clone, Debug)]
pub(crate) struct Branch {
    children: Children,
    /// `firsts[i]`, `lasts[i]`: the first and last value of child `i`
    /// (`firsts` holds `u64::MAX` past the last child).
    firsts: [u64; BRANCH_CAP],
    lasts: [u64; BRANCH_CAP],
    /// `largest[i]`: the largest gap inside child `i` (its class-0 capacity).
    largest: [u64; BRANCH_CAP],
    summary: Summary,
    /// A largest gap strictly inside this branch, as `(start, len)`;
    /// `(0, 0)` when there is none.
    big: (u64, u64),
    /// The part that holds it: child `i`, the gap after child `j`
    /// (`GAP_BIT + j`), or `NO_PART`.
    big_part: usize,
    /// Capacities of all other gaps strictly inside this branch, when there
    /// is one (see `caps`).
    table: Option<Arc<BranchTable>>,
}

/// `Branch::big_part` of a branch without gaps.
const NO_PART: usize = usize::MAX;

impl Node {
    #[inline]
    pub(crate) fn summary(&self) -> Summary {
        match self {
            Node::Leaf(leaf) => leaf.summary(),
            Node::Branch(branch) => branch.summary,
        }
    }

    /// The largest gap strictly inside this node, as `(start, len)`.
    #[inline]
    pub(crate) fn big(&self) -> (u64, u64) {
        match self {
            Node::Leaf(leaf) => leaf.big,
            Node::Branch(branch) => branch.big,
        }
    }

    /// Capacities of the gaps strictly inside this node (stale for a root
    /// leaf, which nobody asks).
    #[inline]
    pub(crate) fn caps(&self) -> Caps<'_> {
        match self {
            Node::Leaf(leaf) => leaf.caps(),
            Node::Branch(branch) => branch.caps(),
        }
    }

    /// Number of entries: spans of a leaf, children of a branch.
    pub(crate) fn len(&self) -> usize {
        match self {
            Node::Leaf(leaf) => leaf.len,
            Node::Branch(branch) => branch.children.len(),
        }
    }

    /// True if this child must be merged or rebalanced after an edit.
    fn underflows(&self, edges: Edges) -> bool {
        let min = match self {
            Node::Leaf(_) => LEAF_MIN,
            Node::Branch(_) => BRANCH_MIN,
        };
        self.len() == 0 || (self.len() < min && !edges.any())
    }

    /// Runs `edit` on the leaf that holds `key`, then restores every
    /// invariant on the way back up: a node that overflowed splits, one that
    /// underflowed is merged with or rebalanced against a neighbour, and
    /// every summary on the path is brought up to date. Returns the edit's
    /// result, the new right sibling of this node if it split, and what
    /// changed in this node's capacities.
    ///
    /// Time: O(log n) nodes; each costs O(1) plus O(1) per class of its
    /// table that changed, and O(node size) when it splits or merges.
    pub(crate) fn edit<R, F>(
        &mut self,
        key: u64,
        place: Place,
        edit: &mut F,
    ) -> (R, Option<Node>, Change)
    where
        F: FnMut(&mut Leaf, Place) -> (R, Option<Arc<Leaf>>),
    {
        match self {
            Node::Leaf(leaf) => {
                let leaf = Arc::make_mut(leaf);
                if place.is_root {
                    leaf.stop_tracking_gaps();
                }
                leaf.rest_changed = 0;
                let old_big = leaf.big;
                let (result, sibling) = edit(leaf, place);
                // A leaf that has (or, having split, is about to get) a
                // parent keeps its capacities; a lone root leaf does not.
                if sibling.is_some() && !leaf.gaps_tracked {
                    leaf.rebuild_caps();
                }
                let rest = mem::take(&mut leaf.rest_changed);
                (result, sibling.map(Node::Leaf), Change { old_big, rest })
            }
            Node::Branch(branch) => {
                let (result, sibling, change) = Arc::make_mut(branch).edit(key, place, edit);
                (result, sibling.map(|s| Node::Branch(Arc::new(s))), change)
            }
        }
    }
}

impl Leaf {
    /// An empty leaf.
    pub(crate) fn new() -> Leaf {
        Leaf {
            len: 0,
            spans: [Span::ZERO; LEAF_CAP],
            fences: [0; FENCES],
            open_gaps: 0,
            gaps_tracked: true,
            covered: 0,
            big: (0, 0),
            table: None,
            rest_changed: 0,
            tags: Tags::NONE,
        }
    }

    /// A leaf holding `spans` (sorted, disjoint, at most `LEAF_CAP`) owned
    /// as `tags` says, with its summary and capacities computed.
    pub(crate) fn from_spans(spans: &[Span], tags: Tags) -> Leaf {
        let mut leaf = Leaf::new();
        leaf.spans[..spans.len()].copy_from_slice(spans);
        leaf.len = spans.len();
        leaf.tags = tags;
        leaf.recompute();
        leaf
    }

    /// The unused span slots, for a builder to fill before it
    /// [`commit`](Self::commit)s the first `n` of them.
    #[inline]
    pub(crate) fn spare(&mut self) -> &mut [Span] {
        &mut self.spans[self.len..]
    }

    /// Takes the first `n` spare slots, filled with spans without an owner
    /// that are sorted, disjoint and after the leaf's spans; the builder
    /// then [`seal`](Self::seal)s the leaf.
    #[inline]
    pub(crate) fn commit(&mut self, n: usize) {
        debug_assert!(self.len + n <= LEAF_CAP);
        self.len += n;
    }

    /// Appends one span owned by `tag`, after the leaf's spans; the builder
    /// then [`seal`](Self::seal)s the leaf.
    #[inline(always)]
    pub(crate) fn append_one(&mut self, span: Span, tag: Tag) {
        debug_assert!(self.len == 0 || self.spans[self.len - 1].end < span.start);
        if tag.is_some() {
            self.tags.set(self.len, tag);
        }
        self.spans[self.len] = span;
        self.len += 1;
    }

    /// Computes the summary, gap bits, fences and capacities of a leaf
    /// filled with [`commit`](Self::commit) and
    /// [`append_one`](Self::append_one). Time: O(len).
    pub(crate) fn seal(&mut self) {
        self.recompute();
    }

    /// A leaf holding one span.
    fn single(span: Span, tag: Tag) -> Leaf {
        let mut tags = Tags::NONE;
        tags.set(0, tag);
        Leaf::from_spans(&[span], tags)
    }

    pub(crate) fn spans(&self) -> &[Span] {
        &self.spans[..self.len]
    }

    /// The owner of span `i`.
    #[inline]
    pub(crate) fn tag(&self, i: usize) -> Option<&Owner> {
        self.tags.get(i)
    }

    /// The owners of the spans.
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn tags(&self) -> &Tags {
        &self.tags
    }

    /// The capacities of the gaps between the spans (stale in a root leaf).
    #[inline]
    pub(crate) fn caps(&self) -> Caps<'_> {
        Caps {
            big: self.big,
            rest: match &self.table {
                Some(table) => Rest::Table(table.max()),
                None => Rest::Empty,
            },
        }
    }

    /// The table of capacities as shared, if the leaf keeps one (a
    /// history counts its bytes).
    pub(crate) fn table_arc(&self) -> Option<&Arc<LeafTable>> {
        self.table.as_ref()
    }

    /// True if some span has an owner.
    pub(crate) fn has_tags(&self) -> bool {
        self.tags.count() > 0
    }

    /// Bytes of the column of owners on the heap (0 without one).
    pub(crate) fn tags_heap_bytes(&self) -> usize {
        self.tags.heap_bytes()
    }

    /// The table of capacities, if the leaf keeps one.
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn table(&self) -> Option<&LeafTable> {
        self.table.as_deref()
    }

    /// The first open gap of length `len`.
    fn open_gap_of_len(&self, len: u64) -> Option<(u64, u64)> {
        open_gaps_of(&self.spans, self.open_gaps).find(|gap| gap.1 == len)
    }

    /// The open gaps but the big one.
    fn other_gaps(&self) -> impl Iterator<Item = (u64, u64)> + Clone + '_ {
        let big = self.big.0;
        open_gaps_of(&self.spans, self.open_gaps).filter(move |gap| gap.0 != big)
    }

    /// True if the gap bits and capacities are maintained (every leaf but a
    /// root leaf).
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn tracks_gaps(&self) -> bool {
        self.gaps_tracked
    }

    /// Sets the owner of the span that starts at `start`, returning the old one.
    pub(crate) fn set_tag(&mut self, start: u64, tag: Tag) -> Tag {
        let pos = self.index_of(start);
        self.tags.set(pos, tag)
    }

    /// Number of spans whose start satisfies `below` (true for a prefix of
    /// the spans): counts the fences that do, then the spans of the last
    /// such block. Both counts read adjacent cache lines in no particular
    /// order, where a bisection waits for one line per step.
    #[inline]
    fn count_starts(&self, below: impl Fn(u64) -> bool) -> usize {
        let blocks = self.len.div_ceil(LEAF_FENCE);
        let b = self.fences[..blocks].iter().filter(|&&f| below(f)).count();
        let Some(block) = b.checked_sub(1) else {
            return 0;
        };
        let from = block * LEAF_FENCE;
        let to = (from + LEAF_FENCE).min(self.len);
        from + self.spans[from..to]
            .iter()
            .filter(|s| below(s.start))
            .count()
    }

    /// Number of spans starting at or before `x`.
    #[inline]
    pub(crate) fn count_at_or_before(&self, x: u64) -> usize {
        self.count_starts(|start| start <= x)
    }

    /// Number of spans starting before `x`: where a span starting at `x`
    /// goes.
    #[inline]
    pub(crate) fn count_before(&self, x: u64) -> usize {
        self.count_starts(|start| start < x)
    }

    /// Index of the last span starting at or before `x`.
    #[inline]
    pub(crate) fn floor_index(&self, x: u64) -> Option<usize> {
        self.count_at_or_before(x).checked_sub(1)
    }

    /// Brings the fences of the blocks from the one of span `pos` on up
    /// to date, after the spans from `pos` on moved or changed.
    #[inline]
    fn refresh_fences(&mut self, pos: usize) {
        for b in pos / LEAF_FENCE..self.len.div_ceil(LEAF_FENCE) {
            self.fences[b] = self.spans[b * LEAF_FENCE].start;
        }
    }

    /// True if the fences match the spans (for the invariant checker).
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn fences_match(&self) -> bool {
        (0..self.len.div_ceil(LEAF_FENCE))
            .all(|b| self.fences[b] == self.spans[b * LEAF_FENCE].start)
    }

    fn index_of(&self, start: u64) -> usize {
        let i = self.count_before(start);
        debug_assert!(
            i < self.len && self.spans[i].start == start,
            "no span at {start:#x}"
        );
        i
    }

    /// Recomputes the summary, gap bits and capacities from the spans.
    /// Time: O(len).
    fn recompute(&mut self) {
        let spans = &self.spans[..self.len];
        let covered = spans.iter().fold(0u64, |sum, s| {
            sum.wrapping_add(s.len_minus_one().wrapping_add(1))
        });
        // The gap bits a word at a time, each word in a register.
        let mut words = [0u64; 2];
        let gaps = spans.len().saturating_sub(1);
        for (w, word) in words.iter_mut().enumerate() {
            let (from, to) = (64 * w, gaps.min(64 * w + 64));
            let mut bits = 0u64;
            for j in from..to {
                bits |= u64::from(spans[j].end.wrapping_add(1) != spans[j + 1].start) << (j - from);
            }
            *word = bits;
        }
        self.covered = covered;
        self.open_gaps = u128::from(words[0]) | u128::from(words[1]) << 64;
        self.gaps_tracked = true;
        self.refresh_fences(0);
        self.rebuild_caps();
    }

    /// A root leaf needs neither gap bits nor capacities until it gets a
    /// parent; stop maintaining them.
    pub(crate) fn stop_tracking_gaps(&mut self) {
        self.gaps_tracked = false;
    }

    fn rebuild_gap_bits(&mut self) {
        let mut words = [0u64; 2];
        for (j, pair) in self.spans().windows(2).enumerate() {
            words[j / 64] |= u64::from(pair[0].end + 1 != pair[1].start) << (j % 64);
        }
        self.open_gaps = u128::from(words[0]) | u128::from(words[1]) << 64;
        self.gaps_tracked = true;
    }

    /// Re-reads whether gap `j` (between spans `j` and `j + 1`) is open;
    /// out-of-range indices are ignored.
    #[inline]
    fn mark_gap(&mut self, j: usize) {
        if j + 1 < self.len {
            let bit = 1u128 << j;
            if self.spans[j].end + 1 == self.spans[j + 1].start {
                self.open_gaps &= !bit;
            } else {
                self.open_gaps |= bit;
            }
        }
    }

    /// Updates the gap bits after span `pos` was inserted.
    fn gaps_after_insert(&mut self, pos: usize) {
        if !self.gaps_tracked {
            return;
        }
        let low = self.open_gaps & bits_below(pos);
        self.open_gaps = low | ((self.open_gaps & !bits_below(pos)) << 1);
        if pos > 0 {
            self.mark_gap(pos - 1);
        }
        self.mark_gap(pos);
    }

    /// Updates the gap bits after span `pos` was removed.
    fn gaps_after_remove(&mut self, pos: usize) {
        if !self.gaps_tracked {
            return;
        }
        let low = self.open_gaps & bits_below(pos);
        self.open_gaps = low | ((self.open_gaps >> 1) & !bits_below(pos));
        self.open_gaps &= bits_below(self.len.saturating_sub(1));
        if pos > 0 {
            self.mark_gap(pos - 1);
        }
    }

    /// Updates the gap bits after span `pos` changed its bounds.
    fn gaps_after_change(&mut self, pos: usize) {
        if !self.gaps_tracked {
            return;
        }
        if pos > 0 {
            self.mark_gap(pos - 1);
        }
        self.mark_gap(pos);
    }

    /// Takes gaps `lo..hi` (gap `j` lies between spans `j` and `j + 1`;
    /// those past the last span are ignored) out of the capacities, before
    /// an edit changes them; returns what `gaps_enter` needs after the edit.
    #[inline]
    fn gaps_leave(&mut self, lo: usize, hi: usize) -> Before {
        let mut before = Before {
            changed: 0,
            stale: 0,
            big_left: false,
        };
        if !self.gaps_tracked {
            return before;
        }
        let hi = hi.min(self.len.saturating_sub(1));
        for j in lo..hi {
            if self.open_gaps >> j & 1 == 0 {
                continue;
            }
            let (start, len) = gap_between(self.spans[j].end, self.spans[j + 1].start);
            if start == self.big.0 {
                before.big_left = true;
            } else {
                // A gap besides the big one: the table exists.
                let table = Arc::make_mut(self.table.as_mut().expect("a second gap"));
                table.remove_gap(start, len, &mut before.changed, &mut before.stale);
            }
        }
        before
    }

    /// Puts gaps `lo..hi` into the capacities after an edit, choosing the
    /// big gap again if it left or a larger one came, and brings the table
    /// to the form the number of gaps calls for, recording the classes that
    /// changed. The gap bits must be up to date.
    #[inline]
    fn gaps_enter(&mut self, lo: usize, hi: usize, before: Before) {
        if !self.gaps_tracked {
            return;
        }
        let hi = hi.min(self.len.saturating_sub(1));
        let mut entering = [(0u64, 0u64); 3];
        let mut n = 0;
        for j in lo..hi {
            if self.open_gaps >> j & 1 != 0 {
                entering[n] = gap_between(self.spans[j].end, self.spans[j + 1].start);
                n += 1;
            }
        }
        let entering = &entering[..n];
        let mut stale = before.stale;
        let mut changed = before.changed;
        if before.big_left || self.big.1 == 0 {
            let Some(rest) = self.table.as_ref().map_or(Some(0), |table| table.largest()) else {
                // The largest of the other gaps left too: nothing tells
                // which is largest now.
                self.rebuild_caps();
                return;
            };
            let best = (0..n).fold(None, |best: Option<usize>, i| match best {
                Some(b) if entering[b].1 >= entering[i].1 => Some(b),
                _ => Some(i),
            });
            match best {
                Some(b) if entering[b].1 >= rest => {
                    self.big = entering[b];
                    for (i, &(start, len)) in entering.iter().enumerate() {
                        if i != b {
                            rest_table(&mut self.table).add_gap(start, len, &mut changed);
                        }
                    }
                }
                _ if rest > 0 => {
                    // The largest of the other gaps becomes the big one.
                    let big = self
                        .open_gap_of_len(rest)
                        .expect("a gap attains the maximum");
                    self.big = big;
                    let table = rest_table(&mut self.table);
                    table.remove_gap(big.0, big.1, &mut changed, &mut stale);
                    for &(start, len) in entering {
                        table.add_gap(start, len, &mut changed);
                    }
                }
                _ => self.big = (0, 0),
            }
        } else {
            for &(start, len) in entering {
                if len > self.big.1 {
                    let (old_start, old_len) = mem::replace(&mut self.big, (start, len));
                    rest_table(&mut self.table).add_gap(old_start, old_len, &mut changed);
                } else {
                    rest_table(&mut self.table).add_gap(start, len, &mut changed);
                }
            }
        }
        let several = self.open_gaps & self.open_gaps.wrapping_sub(1) != 0;
        if !several {
            // One gap or none: no table.
            if let Some(table) = self.table.take() {
                // Every class it held (classes in the middle of this edit's
                // updates may be out of order).
                changed |= table
                    .max()
                    .iter()
                    .enumerate()
                    .fold(0, |mask, (k, &m)| mask | u64::from(m > 0) << k);
            }
        } else if stale != 0 {
            let big = self.big.0;
            let table = Arc::make_mut(self.table.as_mut().expect("a second gap"));
            table.settle(
                stale,
                open_gaps_of(&self.spans, self.open_gaps).filter(move |gap| gap.0 != big),
                &mut changed,
            );
        }
        self.rest_changed |= changed;
    }

    /// What the leaf knows about its spans.
    #[inline]
    pub(crate) fn summary(&self) -> Summary {
        let spans = self.spans();
        match (spans.first(), spans.last()) {
            (Some(first), Some(last)) => Summary {
                first: first.start,
                last: last.end,
                count: spans.len() as u64,
                covered: self.covered,
                tagged: self.tags.count() as u64,
            },
            _ => Summary::EMPTY,
        }
    }

    /// Recomputes the capacities from scratch (and the gap bits, if they
    /// were not tracked). Time: O(open gaps + 64).
    fn rebuild_caps(&mut self) {
        if !self.gaps_tracked {
            self.rebuild_gap_bits();
        }
        let mut big = (0u64, 0u64);
        for gap in open_gaps_of(&self.spans, self.open_gaps) {
            if gap.1 > big.1 {
                big = gap;
            }
        }
        self.big = big;
        let several = self.open_gaps & self.open_gaps.wrapping_sub(1) != 0;
        self.table = several.then(|| Arc::new(LeafTable::of(self.other_gaps())));
        self.rest_changed = ALL_CLASSES;
    }

    /// Inserts `span` owned by `tag`, which overlaps no span; returns the
    /// new right sibling if the leaf had to split.
    pub(crate) fn insert(&mut self, span: Span, tag: Tag, edges: Edges) -> Option<Arc<Leaf>> {
        let pos = self.count_before(span.start);
        if self.len < LEAF_CAP {
            self.insert_at(pos, span, tag);
            return None;
        }
        // Full. Filling the space in order appends at an edge leaf: split
        // there so that the full leaf stays full.
        if edges.right && pos == self.len {
            return Some(Arc::new(Leaf::single(span, tag)));
        }
        if edges.left && pos == 0 {
            let mut full = Arc::new(Leaf::single(span, tag));
            let moved = Arc::make_mut(&mut full);
            mem::swap(self, moved);
            if !moved.gaps_tracked {
                moved.rebuild_caps(); // it was a root leaf
            }
            return Some(full);
        }
        let mid = LEAF_CAP / 2;
        let right_tags = self.tags.split_off(mid, self.len);
        let mut right = Arc::new(Leaf::from_spans(&self.spans[mid..self.len], right_tags));
        self.len = mid;
        self.recompute();
        if pos <= mid {
            self.insert_at(pos, span, tag);
        } else {
            Arc::make_mut(&mut right).insert_at(pos - mid, span, tag);
        }
        Some(right)
    }

    #[inline]
    fn insert_at(&mut self, pos: usize, span: Span, tag: Tag) {
        // The gap the new span lands in leaves; the two around it enter.
        let before = self.gaps_leave(pos.saturating_sub(1), pos);
        if pos < self.len {
            self.spans.copy_within(pos..self.len, pos + 1);
        }
        self.tags.insert(pos, self.len, tag);
        self.spans[pos] = span;
        self.len += 1;
        self.refresh_fences(pos);
        self.gaps_after_insert(pos);
        self.gaps_enter(pos.saturating_sub(1), pos + 1, before);
        self.covered = self
            .covered
            .wrapping_add(span.len_minus_one().wrapping_add(1));
    }

    /// Removes the span that starts at `start`, returning its owner.
    pub(crate) fn remove(&mut self, start: u64) -> Tag {
        let pos = self.index_of(start);
        let span = self.spans[pos];
        // The gaps on both sides leave; the one they merge into enters.
        let before = self.gaps_leave(pos.saturating_sub(1), pos + 1);
        self.spans.copy_within(pos + 1..self.len, pos);
        let tag = self.tags.remove(pos, self.len);
        self.len -= 1;
        self.refresh_fences(pos);
        self.gaps_after_remove(pos);
        self.gaps_enter(pos.saturating_sub(1), pos, before);
        self.covered = self
            .covered
            .wrapping_sub(span.len_minus_one().wrapping_add(1));
        tag
    }

    /// Replaces the span that starts at `start` with `span`.
    #[cfg(test)] // `SpanTree::replace` and `fill` only
    pub(crate) fn replace(&mut self, start: u64, span: Span) {
        let pos = self.index_of(start);
        let before = self.gaps_leave(pos.saturating_sub(1), pos + 1);
        let old = mem::replace(&mut self.spans[pos], span);
        self.refresh_fences(pos);
        self.gaps_after_change(pos);
        self.gaps_enter(pos.saturating_sub(1), pos + 1, before);
        self.covered = self
            .covered
            .wrapping_sub(old.len_minus_one())
            .wrapping_add(span.len_minus_one());
    }

    /// Adds the free values `first..=last`, merging with the spans they
    /// touch. Fails, changing nothing, if a touched span lies in another leaf.
    #[cfg(test)] // `SpanTree::replace` and `fill` only
    pub(crate) fn fill(
        &mut self,
        first: u64,
        last: u64,
        place: Place,
    ) -> (Result<(), CrossesLeaf>, Option<Arc<Leaf>>) {
        // Spans merge here, which owners would forbid: only untagged trees fill.
        debug_assert_eq!(self.tags.count(), 0);
        let pos = self.count_before(first);
        let touches_left = match pos {
            0 => {
                if first > 0 && place.before == Some(first - 1) {
                    return (Err(CrossesLeaf), None);
                }
                false
            }
            _ => self.spans[pos - 1].end + 1 == first,
        };
        let touches_right = if pos == self.len {
            if last < u64::MAX && place.after == Some(last + 1) {
                return (Err(CrossesLeaf), None);
            }
            false
        } else {
            self.spans[pos].start == last + 1
        };
        match (touches_left, touches_right) {
            (false, false) => {
                return (
                    Ok(()),
                    self.insert(Span::new(first, last), None, place.edges),
                )
            }
            (true, true) => {
                // The filled gap and the one after it leave; the latter
                // comes back unchanged after the merged span.
                let before = self.gaps_leave(pos - 1, pos + 1);
                self.spans[pos - 1].end = self.spans[pos].end;
                if pos + 1 < self.len {
                    self.spans.copy_within(pos + 1..self.len, pos);
                }
                self.tags.remove(pos, self.len);
                self.len -= 1;
                self.refresh_fences(pos);
                self.gaps_after_remove(pos);
                self.gaps_enter(pos - 1, pos, before);
            }
            (true, false) => {
                let before = self.gaps_leave(pos - 1, pos);
                self.spans[pos - 1].end = last;
                self.gaps_after_change(pos - 1);
                self.gaps_enter(pos - 1, pos, before);
            }
            (false, true) => {
                let before = self.gaps_leave(pos.saturating_sub(1), pos);
                self.spans[pos].start = first;
                self.refresh_fences(pos);
                self.gaps_after_change(pos);
                self.gaps_enter(pos.saturating_sub(1), pos, before);
            }
        }
        self.covered = self.covered.wrapping_add(last - first + 1);
        (Ok(()), None)
    }

    /// Removes the values `first..=last` from the span that starts at
    /// `start` and contains them (what is left keeps the span's owner);
    /// returns the new right sibling if the leaf had to split to keep both
    /// remaining pieces.
    pub(crate) fn carve(
        &mut self,
        start: u64,
        first: u64,
        last: u64,
        edges: Edges,
    ) -> Option<Arc<Leaf>> {
        let pos = self.index_of(start);
        let span = self.spans[pos];
        debug_assert!(span.start <= first && last <= span.end);
        let keeps_left = span.start != first;
        let keeps_right = span.end != last;
        if !keeps_left && !keeps_right {
            self.remove(start);
            return None;
        }
        // Only the gap on the side that moves changes.
        let (lo, hi) = if keeps_left {
            (pos, pos + 1)
        } else {
            (pos.saturating_sub(1), pos)
        };
        let before = self.gaps_leave(lo, hi);
        if keeps_left {
            self.spans[pos].end = first - 1;
        } else {
            self.spans[pos].start = last + 1;
            self.refresh_fences(pos);
        }
        self.gaps_after_change(pos);
        self.gaps_enter(lo, hi, before);
        if !(keeps_left && keeps_right) {
            self.covered = self.covered.wrapping_sub(last - first + 1);
            return None;
        }
        // Keep the left piece in place, insert the right one.
        self.covered = self.covered.wrapping_sub(span.end - first + 1);
        let right = Span::new(last + 1, span.end);
        let tag = self.tags.get(pos).cloned();
        if self.len < LEAF_CAP {
            self.insert_at(pos + 1, right, tag);
            return None;
        }
        self.insert(right, tag, edges)
    }

    /// Moves all of `right`'s spans to the end of this leaf.
    fn absorb(&mut self, right: &Leaf) {
        self.spans[self.len..self.len + right.len].copy_from_slice(right.spans());
        self.tags.append(self.len, &right.tags, right.len);
        self.len += right.len;
        self.recompute();
    }

    /// Evens out the spans of two neighbouring leaves.
    fn rebalance(left: &mut Leaf, right: &mut Leaf) {
        let total = left.len + right.len;
        let mut all: Vec<Span> = Vec::with_capacity(total);
        all.extend_from_slice(left.spans());
        all.extend_from_slice(right.spans());
        // Both together may not fit in one leaf's column: place each owner
        // straight into its new slot.
        let mid = total / 2;
        let (mut left_tags, mut right_tags) = (Tags::NONE, Tags::NONE);
        let owners = (0..left.len)
            .map(|i| left.tag(i))
            .chain((0..right.len).map(|i| right.tag(i)));
        for (i, owner) in owners.enumerate() {
            if let Some(owner) = owner {
                match i.checked_sub(mid) {
                    None => left_tags.set(i, Some(owner.clone())),
                    Some(j) => right_tags.set(j, Some(owner.clone())),
                };
            }
        }
        *left = Leaf::from_spans(&all[..mid], left_tags);
        *right = Leaf::from_spans(&all[mid..], right_tags);
    }

    /// True if the gap bits match the spans or are not tracked (for the
    /// invariant checker).
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn gap_bits_match(&self) -> bool {
        if !self.gaps_tracked {
            return true;
        }
        let mut expected = 0u128;
        for (j, pair) in self.spans().windows(2).enumerate() {
            if pair[0].end + 1 != pair[1].start {
                expected |= 1 << j;
            }
        }
        expected == self.open_gaps
    }
}

/// Folds part `bit` of value `value` into `best`, the largest two values
/// and the parts bringing each.
#[inline]
fn offer(best: &mut [(u64, Holders); 2], value: u64, bit: Holders) {
    if value == 0 {
        return;
    }
    if value > best[0].0 {
        best[1] = best[0];
        best[0] = (value, bit);
    } else if value == best[0].0 {
        best[0].1 |= bit;
    } else if value > best[1].0 {
        best[1] = (value, bit);
    } else if value == best[1].0 {
        best[1].1 |= bit;
    }
}

impl Branch {
    /// A branch over `children` (same height, in order, at most
    /// `BRANCH_CAP`, capacities up to date).
    pub(crate) fn from_children(children: impl IntoIterator<Item = Node>) -> Branch {
        let mut branch = Branch {
            children: children.into_iter().collect(),
            firsts: [0; BRANCH_CAP],
            lasts: [0; BRANCH_CAP],
            largest: [0; BRANCH_CAP],
            summary: Summary::EMPTY,
            big: (0, 0),
            big_part: NO_PART,
            table: None,
        };
        branch.recompute();
        branch
    }

    pub(crate) fn children(&self) -> &[Node] {
        &self.children
    }

    /// The table of capacities as shared, if the branch keeps one (a
    /// history counts its bytes).
    pub(crate) fn table_arc(&self) -> Option<&Arc<BranchTable>> {
        self.table.as_ref()
    }

    /// The first value of each child.
    #[inline]
    pub(crate) fn firsts(&self) -> &[u64] {
        &self.firsts[..self.children.len()]
    }

    /// True if every slot of `firsts` past the last child holds
    /// `u64::MAX` (for the invariant checker).
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn unused_firsts_are_max(&self) -> bool {
        self.firsts[self.children.len()..]
            .iter()
            .all(|&f| f == u64::MAX)
    }

    /// The last value of each child.
    #[inline]
    pub(crate) fn lasts(&self) -> &[u64] {
        &self.lasts[..self.children.len()]
    }

    /// The largest gap inside each child.
    #[inline]
    pub(crate) fn largest(&self) -> &[u64] {
        &self.largest[..self.children.len()]
    }

    /// Capacities of all gaps strictly inside this branch.
    #[inline]
    pub(crate) fn caps(&self) -> Caps<'_> {
        Caps {
            big: self.big,
            rest: match &self.table {
                Some(table) => Rest::Table(table.max()),
                None => Rest::Empty,
            },
        }
    }

    /// The table of capacities, if the branch keeps one.
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn table(&self) -> Option<&BranchTable> {
        self.table.as_deref()
    }

    /// The part that holds the big gap: child `i`, the gap after child `j`
    /// as `GAP_BIT + j`, or `None` (for the invariant checker).
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn big_part(&self) -> Option<usize> {
        (self.big_part != NO_PART).then_some(self.big_part)
    }

    /// What part `p` (child `p`, or the gap after child `p - GAP_BIT`)
    /// brings to the table.
    #[inline]
    pub(crate) fn part(&self, p: usize) -> Part<'_> {
        if p < GAP_BIT {
            let caps = self.children[p].caps();
            if p == self.big_part {
                Part::Rest(caps.rest)
            } else {
                Part::Full(caps)
            }
        } else {
            let (start, len) = self.gap(p - GAP_BIT);
            if len == 0 || p == self.big_part {
                Part::Nothing
            } else {
                Part::Gap(start, len)
            }
        }
    }

    /// Every part's holder bit and what it brings.
    fn parts(&self) -> impl Iterator<Item = (Holders, Part<'_>)> + Clone {
        let n = self.children.len();
        (0..n)
            .chain(GAP_BIT..GAP_BIT + n.saturating_sub(1))
            .map(move |p| (1 << p, self.part(p)))
    }

    /// Chooses the big gap and builds the table from scratch, from the
    /// copies of the children's bounds and largest gaps: a child is read
    /// only if its largest gap leads or is not empty.
    fn recompute_caps(&mut self) {
        let n = self.children.len();
        let (mut big, mut big_part) = ((0u64, 0u64), NO_PART);
        // Parts with a gap: (count, whether one of them can bring more than
        // its largest gap to the table).
        let mut with_gaps = 0;
        for i in 0..n {
            if self.largest[i] > 0 {
                with_gaps += 1;
                if self.largest[i] > big.1 {
                    (big, big_part) = (self.children[i].caps().big, i);
                }
            }
            if i + 1 < n {
                let gap = self.gap(i);
                if gap.1 > 0 {
                    with_gaps += 1;
                    if gap.1 > big.1 {
                        (big, big_part) = (gap, GAP_BIT + i);
                    }
                }
            }
        }
        self.big = big;
        self.big_part = big_part;
        let lone_child_has_more = with_gaps == 1
            && big_part < GAP_BIT
            && !matches!(self.children[big_part].caps().rest, Rest::Empty);
        self.table =
            (with_gaps > 1 || lone_child_has_more).then(|| Arc::new(BranchTable::of(self.parts())));
    }

    /// Index of the child to search for a span starting at `x`: the last
    /// child whose first span starts at or before `x`, else the first.
    #[inline]
    pub(crate) fn route(&self, x: u64) -> usize {
        // Bisect every slot, the unused ones holding u64::MAX: a fixed
        // number of steps over two cache lines, without waiting for the
        // number of children.
        let below = self.firsts.partition_point(|&first| first <= x);
        below.min(self.children.len()).saturating_sub(1)
    }

    /// The gap between child `i` and child `i + 1`, as `(start, len)`.
    #[inline]
    pub(crate) fn gap(&self, i: usize) -> (u64, u64) {
        gap_between(self.lasts[i], self.firsts[i + 1])
    }

    /// Recomputes the copies, the summary and the capacities from the
    /// children. Time: O(BRANCH_CAP * 64) at worst; children and gaps without
    /// capacity are skipped.
    pub(crate) fn recompute(&mut self) {
        let n = self.children.len();
        let mut summary = Summary::EMPTY;
        for (i, child) in self.children.iter().enumerate() {
            let s = child.summary();
            self.firsts[i] = s.first;
            self.lasts[i] = s.last;
            self.largest[i] = child.caps().largest();
            summary.count += s.count;
            summary.covered = summary.covered.wrapping_add(s.covered);
            summary.tagged += s.tagged;
        }
        self.firsts[n..].fill(u64::MAX);
        if n > 0 {
            summary.first = self.firsts[0];
            summary.last = self.lasts[n - 1];
        }
        self.summary = summary;
        self.recompute_caps();
    }

    /// The table, made (empty) if there is none.
    #[inline]
    fn table_mut(&mut self) -> &mut BranchTable {
        Arc::make_mut(
            self.table
                .get_or_insert_with(|| Arc::new(BranchTable::EMPTY)),
        )
    }

    /// Records in the table what part `p` brings now, in the classes of
    /// `mask` (a superset of those where it changed).
    #[inline]
    fn update_part(&mut self, p: usize, mask: u64, changed: &mut u64, stale: &mut u64) {
        if mask == 0 {
            return;
        }
        // The part is read from the children and the copies, never from
        // the table: take the table out meanwhile.
        let mut table = self.table.take();
        let part = self.part(p);
        if table.is_none() && part.nonzero_classes() == 0 {
            return; // nothing held, nothing brought
        }
        let t = Arc::make_mut(table.get_or_insert_with(|| Arc::new(BranchTable::EMPTY)));
        t.update_classes(mask, 1 << p, part, changed, stale);
        self.table = table;
    }

    /// Brings the summary up to date after child `i` changed in place:
    /// `old` is its summary before, `change` what changed in its
    /// capacities. Returns what changed in this branch's.
    ///
    /// Time: O(1) plus O(1) per class of a part that changed, and
    /// O(BRANCH_CAP) per class whose maximum lost every part attaining it.
    fn refresh(&mut self, i: usize, old: &Summary, change: Change) -> Change {
        let n = self.children.len();
        let new = self.children[i].summary();
        self.summary.count = self.summary.count - old.count + new.count;
        self.summary.tagged = self.summary.tagged - old.tagged + new.tagged;
        self.summary.covered = self
            .summary
            .covered
            .wrapping_sub(old.covered)
            .wrapping_add(new.covered);

        // The gaps next to the child change only if its ends moved.
        let moved_first = mem::replace(&mut self.firsts[i], new.first) != new.first;
        let moved_last = mem::replace(&mut self.lasts[i], new.last) != new.last;
        self.summary.first = self.firsts[0];
        self.summary.last = self.lasts[n - 1];
        let moved_left = moved_first && i > 0;
        let moved_right = moved_last && i + 1 < n;
        let child_big = self.children[i].big();
        if change.rest == 0 && child_big == change.old_big && !moved_left && !moved_right {
            return Change {
                old_big: self.big,
                rest: 0,
            };
        }
        self.refresh_caps(i, old, change, child_big, moved_left, moved_right)
    }

    /// The part of `refresh` for an edit that changed capacities.
    #[inline(never)]
    fn refresh_caps(
        &mut self,
        i: usize,
        old: &Summary,
        change: Change,
        child_big: (u64, u64),
        moved_left: bool,
        moved_right: bool,
    ) -> Change {
        let old_big = self.big;
        let mut out = Change { old_big, rest: 0 };
        let child_big_moved = child_big != change.old_big;
        self.largest[i] = child_big.1;
        let old_left = moved_left.then(|| gap_between(self.lasts[i - 1], old.first));
        let old_right = moved_right.then(|| gap_between(old.last, self.firsts[i + 1]));
        let left = if i > 0 { GAP_BIT + i - 1 } else { NO_PART };
        let right = GAP_BIT + i;

        // 1. The big gap: the old one if its part did not change, or the
        // largest of what the changed parts hold now.
        let old_part = self.big_part;
        let part_changed =
            old_part == i || (moved_left && old_part == left) || (moved_right && old_part == right);
        let (mut big, mut big_part) = if part_changed {
            ((0, 0), NO_PART)
        } else {
            (old_big, old_part)
        };
        if child_big.1 > big.1 || (old_part == i && child_big.1 == big.1 && child_big.1 > 0) {
            (big, big_part) = (child_big, i);
        }
        for (moved, j) in [(moved_left, left), (moved_right, right)] {
            if moved {
                let gap = self.gap(j - GAP_BIT);
                if gap.1 > big.1 || (old_part == j && gap.1 == big.1 && gap.1 > 0) {
                    (big, big_part) = (gap, j);
                }
            }
        }
        self.big = big;
        self.big_part = big_part;

        // 2. What each part brings to the table now: the child, the gaps
        // beside it that moved, and the part that held the big gap.
        let (mut changed, mut stale) = (0u64, 0u64);
        let old_full = old_part != i;
        let new_full = big_part != i;
        let mut mask = change.rest;
        if old_full && (child_big_moved || !new_full) {
            mask |= gap_classes(change.old_big.0, change.old_big.1);
        }
        if new_full && (child_big_moved || !old_full) {
            mask |= gap_classes(child_big.0, child_big.1);
        }
        self.update_part(i, mask, &mut changed, &mut stale);
        for (old_gap, j) in [(old_left, left), (old_right, right)] {
            if let Some((start, len)) = old_gap {
                let mut mask = gap_classes(self.gap(j - GAP_BIT).0, self.gap(j - GAP_BIT).1);
                if old_part != j {
                    mask |= gap_classes(start, len);
                }
                self.update_part(j, mask, &mut changed, &mut stale);
            }
        }
        if old_part != NO_PART && !part_changed && big_part != old_part {
            // The old big gap is one of the others now.
            self.table_mut()
                .raise_gap(1 << old_part, old_big.0, old_big.1, &mut changed);
        }
        if stale != 0 {
            self.settle(stale, &mut changed);
        }

        // 3. If a gap of another part is larger now, it becomes the big
        // one.
        if let Some(max) = self.table.as_ref().map(|table| table.max()[0]) {
            if max > self.big.1 {
                self.swap_big(&mut changed);
            }
        }
        // A table that holds nothing now stays: the gap that emptied it
        // often comes back (a huge gap split by an allocation and joined by
        // its free), and making a table costs more than keeping one.
        out.rest = changed;
        out
    }

    /// Makes the largest gap of the table's parts the big one; the old big
    /// gap joins the others.
    #[cold]
    fn swap_big(&mut self, changed: &mut u64) {
        let table = self.table.as_ref().expect("a table");
        let p = table.holders(0).trailing_zeros() as usize;
        let (old_big, old_part) = (self.big, self.big_part);
        let big = if p < GAP_BIT {
            self.children[p].caps().big
        } else {
            self.gap(p - GAP_BIT)
        };
        self.big = big;
        self.big_part = p;
        let mut stale = 0;
        // Part p now brings its table only (a child) or nothing (a gap).
        self.update_part(p, gap_classes(big.0, big.1), changed, &mut stale);
        if old_part != NO_PART {
            self.table_mut()
                .raise_gap(1 << old_part, old_big.0, old_big.1, changed);
        }
        if stale != 0 {
            self.settle(stale, changed);
        }
    }

    /// Recomputes the classes of `stale` that lost every part attaining
    /// their maximum, reading only the parts that hold any gap at all.
    fn settle(&mut self, stale: u64, changed: &mut u64) {
        let Some(table) = self.table.as_deref() else {
            return;
        };
        let lost = caps::classes(stale)
            .filter(|&k| table.holders(k) == 0 && table.max()[k] != 0)
            .fold(0u64, |mask, k| mask | 1 << k);
        if lost == 0 {
            return;
        }
        let n = self.children.len();
        let top = 64 - lost.leading_zeros() as usize;
        let mut best = [[(0u64, 0); 2]; CLASSES];
        let best = &mut best[..top];
        for j in 0..n.saturating_sub(1) {
            if let Part::Gap(start, len) = self.part(GAP_BIT + j) {
                for k in caps::classes(lost) {
                    offer(
                        &mut best[k],
                        caps::gap_cap(start, len, k as u32),
                        1 << (GAP_BIT + j),
                    );
                }
            }
        }
        for j in 0..n {
            if self.largest[j] > 0 {
                let part = self.part(j);
                for k in caps::classes(lost) {
                    offer(&mut best[k], part.get(k), 1 << j);
                }
            }
        }
        let table = Arc::make_mut(self.table.as_mut().expect("a table"));
        for k in caps::classes(lost) {
            table.set_class(k, best[k]);
        }
        *changed |= lost;
    }

    fn edit<R, F>(&mut self, key: u64, place: Place, edit: &mut F) -> (R, Option<Branch>, Change)
    where
        F: FnMut(&mut Leaf, Place) -> (R, Option<Arc<Leaf>>),
    {
        let i = self.route(key);
        let n = self.children.len();
        let child_place = Place {
            is_root: false,
            edges: place.edges.child(i, n),
            before: match i {
                0 => place.before,
                _ => Some(self.lasts[i - 1]),
            },
            after: match i + 1 < n {
                true => Some(self.firsts[i + 1]),
                false => place.after,
            },
        };
        let old = self.children[i].summary();
        let old_big = self.big;
        let (result, sibling, change) = self.children[i].edit(key, child_place, edit);
        let all = Change {
            old_big,
            rest: ALL_CLASSES,
        };
        if let Some(sibling) = sibling {
            return (result, self.adopt(i, sibling, place.edges), all);
        }
        if self.children[i].underflows(child_place.edges) {
            self.fix_underflow(i);
            self.recompute();
            return (result, None, all);
        }
        let change = self.refresh(i, &old, change);
        (result, None, change)
    }

    /// Inserts `sibling`, split off child `i`, after it; splits this branch
    /// if it overflows and returns the new right half.
    fn adopt(&mut self, i: usize, sibling: Node, edges: Edges) -> Option<Branch> {
        self.children.insert(i + 1, sibling);
        if self.children.len() <= BRANCH_CAP {
            self.recompute();
            return None;
        }
        // Over full. At an edge, keep the full side full (see `Leaf::insert`):
        // the small new node sits at the very end or the very start.
        let total = self.children.len();
        let mid = if edges.right && i + 2 == total {
            total - 1
        } else if edges.left && i == 0 && self.children[0].len() == 1 {
            1
        } else {
            total / 2
        };
        let right: Children = self.children.drain(mid..).collect();
        self.recompute();
        Some(Branch::from_children(right))
    }

    /// Merges or rebalances child `i`, which is empty or below its minimum,
    /// with a neighbour.
    fn fix_underflow(&mut self, i: usize) {
        let n = self.children.len();
        if self.children[i].len() == 0 {
            // Only a node at the edge of its level empties. Next to a full
            // neighbour it takes half of it instead of going: allocating
            // and freeing at the edge of a full node then moves spans
            // once, not on every call.
            let j = if i > 0 { i - 1 } else { i + 1 };
            let spare = j < n
                && match &self.children[j] {
                    Node::Leaf(leaf) => leaf.len >= 2 * LEAF_MIN,
                    Node::Branch(branch) => branch.children.len() >= 2 * BRANCH_MIN,
                };
            if !spare {
                self.children.remove(i);
                return;
            }
            let (head, tail) = self.children.split_at_mut(i.max(j));
            match (&mut head[i.min(j)], &mut tail[0]) {
                (Node::Leaf(a), Node::Leaf(b)) => {
                    Leaf::rebalance(Arc::make_mut(a), Arc::make_mut(b));
                }
                (Node::Branch(a), Node::Branch(b)) => {
                    Branch::rebalance(Arc::make_mut(a), Arc::make_mut(b));
                }
                _ => unreachable!("siblings always have the same height"),
            }
            return;
        }
        let left = if i + 1 < n {
            i
        } else if i > 0 {
            i - 1
        } else {
            return; // an only child: our own parent rebalances us
        };
        let (head, tail) = self.children.split_at_mut(left + 1);
        let merged = match (&mut head[left], &mut tail[0]) {
            (Node::Leaf(a), Node::Leaf(b)) => {
                if a.len + b.len <= LEAF_CAP {
                    Arc::make_mut(a).absorb(b);
                    true
                } else {
                    Leaf::rebalance(Arc::make_mut(a), Arc::make_mut(b));
                    false
                }
            }
            (Node::Branch(a), Node::Branch(b)) => {
                if a.children.len() + b.children.len() <= BRANCH_CAP {
                    let moved = b.children.clone();
                    let a = Arc::make_mut(a);
                    a.children.extend(moved);
                    a.recompute();
                    true
                } else {
                    Branch::rebalance(Arc::make_mut(a), Arc::make_mut(b));
                    false
                }
            }
            _ => unreachable!("siblings always have the same height"),
        };
        if merged {
            self.children.remove(left + 1);
        }
    }

    /// Evens out the children of two neighbouring branches.
    fn rebalance(left: &mut Branch, right: &mut Branch) {
        let mut all: Vec<Node> = left.children.drain(..).collect();
        all.extend(right.children.drain(..));
        let mid = all.len() / 2;
        right.children = all.drain(mid..).collect();
        left.children = all.into_iter().collect();
        left.recompute();
        right.recompute();
    }

    /// Takes the only child out of a branch (to shrink the tree's height).
    pub(crate) fn into_only_child(self) -> Node {
        debug_assert_eq!(self.children.len(), 1);
        self.children.into_iter().next().expect("one child")
    }
}
