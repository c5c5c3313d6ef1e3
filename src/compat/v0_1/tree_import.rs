// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Reading 0.1.x's interval tree in order, with bounded depth.
//!
//! A node is written key first, then its subtrees, so the recursion holds
//! each node's key until its left subtree has been read and then hands it
//! on: the nodes come out in order without the tree ever being built.

use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::node_state::Allocated;
use super::MAX_TREE_DEPTH;
use crate::serde_impl::{build_addresses, next_field, state_error, FieldSeed, RawRange, Seen};
use crate::{AddressAllocator, RangeInclusive, StateError};

/// How errors name the state being loaded.
pub(super) const WHAT: &str = "vm-allocator 0.1 AddressAllocator";

const TREE_FIELDS: &[&str] = &["root"];
const NODE_FIELDS: &[&str] = &["key", "node_state", "left", "right", "height"];
const NODE: &str = "struct InnerNode { key, node_state, left, right, height }";

/// The tree's nodes, checked as they come out in order.
#[derive(Debug, Default)]
pub(super) struct InOrder {
    /// Nodes so far: the in-order position of the next one.
    count: u64,
    first: Option<RangeInclusive>,
    last: Option<(RangeInclusive, Allocated)>,
    /// The keys of the allocated nodes, kept until the space is known.
    allocated: Vec<RangeInclusive>,
}

impl InOrder {
    /// Takes the next node in order: its key must be a valid range that
    /// starts after the previous node ends.
    fn push<E: de::Error>(&mut self, key: RawRange, state: Allocated) -> Result<(), E> {
        let position = self.count;
        let RawRange { start, end } = key;
        let range = RangeInclusive::new(start, end).map_err(|_| {
            E::custom(format_args!(
                "invalid {WHAT}: interval tree node #{position} ({state}) has the key \
                 {start:#x}-{end:#x}, which is not a valid range"
            ))
        })?;
        if let Some((last, last_state)) = self.last.filter(|(last, _)| start <= last.end()) {
            return Err(E::custom(format_args!(
                "invalid {WHAT}: interval tree node #{position} {start:#x}-{end:#x} ({state}) \
                 starts at or before the end of node #{} {:#x}-{:#x} ({last_state}); \
                 keys in order must be sorted and disjoint",
                position - 1,
                last.start(),
                last.end(),
            )));
        }
        self.first.get_or_insert(range);
        self.last = Some((range, state));
        self.count += 1;
        if state.0 {
            self.allocated.push(range);
        }
        Ok(())
    }

    /// Checks that every node lies inside `space` and builds the allocator
    /// from the allocated nodes.
    pub(super) fn finish<E: de::Error>(self, space: RawRange) -> Result<AddressAllocator, E> {
        let RawRange { start, end } = space;
        let valid = RangeInclusive::new(start, end)
            .map_err(|_| state_error(WHAT, StateError::InvalidSpace { start, end }))?;
        // The keys are sorted: if any lies outside the space, the first or
        // the last does.
        let outside = match (self.first, self.last) {
            (Some(first), _) if first.start() < valid.start() => Some((0, first)),
            (_, Some((last, _))) if last.end() > valid.end() => Some((self.count - 1, last)),
            _ => None,
        };
        if let Some((position, key)) = outside {
            return Err(E::custom(format_args!(
                "invalid {WHAT}: interval tree node #{position} {:#x}-{:#x} lies outside the \
                 address space {start:#x}-{end:#x}",
                key.start(),
                key.end(),
            )));
        }
        let allocations = self
            .allocated
            .into_iter()
            .map(|r| Ok((r.start(), r.end(), Ok(None))));
        build_addresses(WHAT, (start, end), 0, allocations)
    }
}

/// Reads an `IntervalTree { root }`, feeding its nodes to `nodes`.
pub(super) struct Tree<'a> {
    pub(super) nodes: &'a mut InOrder,
}

impl<'de> DeserializeSeed<'de> for Tree<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_struct("IntervalTree", TREE_FIELDS, self)
    }
}

impl<'de> Visitor<'de> for Tree<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct IntervalTree { root }")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let root = Subtree {
            depth: 1,
            nodes: self.nodes,
            must_be_empty: false,
        };
        seq.next_element_seed(root)?
            .ok_or_else(|| de::Error::invalid_length(0, &"struct IntervalTree { root }"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = Seen::default();
        while let Some(i) = map.next_key_seed(FieldSeed(TREE_FIELDS))? {
            seen.first_time(i, TREE_FIELDS)?;
            map.next_value_seed(Subtree {
                depth: 1,
                nodes: &mut *self.nodes,
                must_be_empty: false,
            })?;
        }
        if !seen.has(0) {
            return Err(de::Error::missing_field(TREE_FIELDS[0]));
        }
        Ok(())
    }
}

/// Reads an `Option<Box<InnerNode>>` whose node, if any, is at `depth` (the
/// root is at depth 1).
struct Subtree<'a> {
    depth: u32,
    nodes: &'a mut InOrder,
    /// Set for a right subtree given before its parent could be placed in
    /// order: only an empty one can be read then.
    must_be_empty: bool,
}

impl<'de> DeserializeSeed<'de> for Subtree<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Subtree<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an optional interval tree node")
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.must_be_empty {
            return Err(de::Error::custom(format_args!(
                "invalid {WHAT}: an interval tree node (with {} nodes before it in order) \
                 gives a non-empty `right` before its `key`, `node_state` and `left`, so it \
                 cannot be read in order",
                self.nodes.count,
            )));
        }
        if self.depth > MAX_TREE_DEPTH {
            return Err(de::Error::custom(format_args!(
                "invalid {WHAT}: the interval tree is deeper than {MAX_TREE_DEPTH} levels \
                 (a node at depth {} with {} nodes before it in order); 0.1.x never builds \
                 trees taller than 50",
                self.depth, self.nodes.count,
            )));
        }
        let node = Node {
            depth: self.depth,
            nodes: self.nodes,
        };
        deserializer.deserialize_struct("InnerNode", NODE_FIELDS, node)
    }
}

/// Reads one `InnerNode` at `depth`: its left subtree, then itself, then its
/// right subtree go to `nodes`. In a map, a non-empty `right` must come after
/// `key`, `node_state` and `left`.
struct Node<'a> {
    depth: u32,
    nodes: &'a mut InOrder,
}

impl Node<'_> {
    fn child(&mut self) -> Subtree<'_> {
        Subtree {
            depth: self.depth + 1,
            nodes: self.nodes,
            must_be_empty: false,
        }
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(NODE)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let key: RawRange = next_field(&mut seq, 0, &NODE)?;
        let state: Allocated = next_field(&mut seq, 1, &NODE)?;
        seq.next_element_seed(self.child())?
            .ok_or_else(|| de::Error::invalid_length(2, &NODE))?;
        self.nodes.push(key, state)?;
        seq.next_element_seed(self.child())?
            .ok_or_else(|| de::Error::invalid_length(3, &NODE))?;
        // The height is part of the shape but trusted for nothing.
        let _height: u64 = next_field(&mut seq, 4, &NODE)?;
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let mut seen = Seen::default();
        let mut key: Option<RawRange> = None;
        let mut state: Option<Allocated> = None;
        let mut placed = false;
        while let Some(i) = map.next_key_seed(FieldSeed(NODE_FIELDS))? {
            seen.first_time(i, NODE_FIELDS)?;
            match i {
                0 => key = Some(map.next_value()?),
                1 => state = Some(map.next_value()?),
                2 => map.next_value_seed(self.child())?,
                3 => match (key, state, seen.has(2)) {
                    (Some(key), Some(state), true) => {
                        self.nodes.push(key, state)?;
                        placed = true;
                        map.next_value_seed(self.child())?;
                    }
                    _ => {
                        let mut early = self.child();
                        early.must_be_empty = true;
                        map.next_value_seed(early)?;
                    }
                },
                _ => {
                    map.next_value::<u64>()?;
                }
            }
        }
        if let Some(missing) = (0..NODE_FIELDS.len()).find(|&i| !seen.has(i)) {
            return Err(de::Error::missing_field(NODE_FIELDS[missing]));
        }
        match (placed, key, state) {
            // An empty right subtree came early: the node follows its left.
            (false, Some(key), Some(state)) => self.nodes.push(key, state),
            _ => Ok(()),
        }
    }
}
