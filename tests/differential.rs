// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Differential tests against vm-allocator 0.1.4 (the `upstream`
//! dev-dependency): random sequences on both, every result compared, error
//! variants included, and after every step the whole state of 0.1.4 (read
//! through its serde representation) compared with ours.
//!
//! `AddressAllocator` sequences steer clear of 0.1.4's bugs (see
//! `tests/regressions.rs`), so that any difference is ours:
//! - every size, alignment, base and space size is even, so no one-byte
//!   free node ever exists (0.1.4 never coalesces those), no allocation
//!   starts at address 1 or ends at `u64::MAX - 1` (0.1.4's `free` fails
//!   with Underflow / Overflow there), and an `ExactMatch` start is never
//!   the last byte of a gap;
//! - `ExactMatch` is never asked at an allocated address (0.1.4 hands it out
//!   again), and only real allocations or ranges that are neither an
//!   allocation nor a free gap are freed (0.1.4 frees a free gap);
//! - requests whose answer ends at `u64::MAX` are skipped (0.1.4 computes
//!   `start + size` and overflows), and so are LastMatch requests whose answer is
//!   exactly a free gap starting at address 0 (0.1.4 computes `end - size`
//!   and underflows).
//!
//! The `IdAllocator` of 0.1.4 is correct, so its sequences are unrestricted.

mod support;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::Value;
use support::{check_address, check_ids, AddrSel, AddressModel, IdModel, IdSel, Request};
use vm_allocator::{AddressAllocator, AllocPolicy, Error, IdAllocator, NodeState, RangeInclusive};

/// Our `Error` for one of 0.1.4's: the variants correspond one to one.
fn to_ours(e: upstream::Error) -> Error {
    use upstream::Error as U;
    let range = |r: upstream::RangeInclusive| RangeInclusive::new(r.start(), r.end()).unwrap();
    match e {
        U::Overflow => Error::Overflow,
        U::OutOfRange(id) => Error::OutOfRange(id),
        U::AlreadyReleased(id) => Error::AlreadyReleased(id),
        U::NeverAllocated(id) => Error::NeverAllocated(id),
        U::ResourceNotAvailable => Error::ResourceNotAvailable,
        U::InvalidRange(a, b) => Error::InvalidRange(a, b),
        U::InvalidAlignment => Error::InvalidAlignment,
        U::Overlap(a, b) => Error::Overlap(range(a), range(b)),
        U::InvalidStateTransition(r, state) => Error::InvalidStateTransition(
            range(r),
            // 0.1.4 does not export its NodeState; its Debug names the variant.
            if format!("{state:?}") == "Free" {
                NodeState::Free
            } else {
                NodeState::Allocated
            },
        ),
        U::UnalignedAddress => Error::UnalignedAddress,
        U::Underflow => Error::Underflow,
        U::InvalidSize(size) => Error::InvalidSize(size),
    }
}

fn upstream_policy(p: AllocPolicy) -> upstream::AllocPolicy {
    match p {
        AllocPolicy::FirstMatch => upstream::AllocPolicy::FirstMatch,
        AllocPolicy::LastMatch => upstream::AllocPolicy::LastMatch,
        AllocPolicy::ExactMatch(a) => upstream::AllocPolicy::ExactMatch(a),
    }
}

/// The nodes of 0.1.4's interval tree, in address order:
/// `(start, end, allocated)`.
fn upstream_nodes(a: &upstream::AddressAllocator) -> Vec<(u64, u64, bool)> {
    fn walk(node: &Value, out: &mut Vec<(u64, u64, bool)>) {
        if node.is_null() {
            return;
        }
        walk(&node["left"], out);
        let key = &node["key"];
        out.push((
            key["start"].as_u64().unwrap(),
            key["end"].as_u64().unwrap(),
            node["node_state"] == "Allocated",
        ));
        walk(&node["right"], out);
    }
    let json = serde_json::to_value(a).unwrap();
    let mut nodes = Vec::new();
    walk(&json["interval_tree"]["root"], &mut nodes);
    nodes
}

/// The ids 0.1.4 considers allocated: handed out (below `next_id`) and not
/// freed since.
fn upstream_ids(a: &upstream::IdAllocator) -> Vec<u32> {
    let json = serde_json::to_value(a).unwrap();
    let base = json["range_base"].as_u64().unwrap();
    let end = json["range_end"].as_u64().unwrap();
    let next = json["next_id"].as_u64().unwrap_or(end + 1);
    let freed: Vec<u64> = json["freed_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    (base..next)
        .filter(|id| !freed.contains(id))
        .map(|id| id as u32)
        .collect()
}

// ---------------------------------------------------------------------------
// AddressAllocator
// ---------------------------------------------------------------------------

/// An operation; sizes and alignments are even by construction.
#[derive(Debug, Clone)]
enum AddrOp {
    /// `allocate(2 * half_size, 2^align_log2, policy)`, `align_log2 >= 1`.
    Allocate {
        half_size: u64,
        align_log2: u32,
        policy: PolicyChoice,
    },
    /// Free allocation `idx` (modulo their number).
    Free(u8),
    /// Free `[start, start + 2 * half_len - 1]` (start made even), unless it
    /// is an allocation or a free gap.
    FreeOther { start: AddrSel, half_len: u64 },
}

#[derive(Debug, Clone)]
enum PolicyChoice {
    First,
    Last,
    /// ExactMatch at the address rounded down to the alignment.
    Exact(AddrSel),
}

/// Why 0.1.4 cannot be asked `r` on the state `m`, if it cannot.
fn upstream_cannot(m: &AddressModel, r: &Request) -> Option<&'static str> {
    if let AllocPolicy::ExactMatch(at) = r.policy {
        if m.containing(at).is_some() {
            return Some("ExactMatch at an allocated address");
        }
    }
    match m.decide(r) {
        Ok((_, u64::MAX)) => Some("the answer ends at u64::MAX"),
        // 0.1.4's LastMatch computes `gap end - size` and underflows on a
        // free gap that starts at 0 and is exactly `size` long.
        Ok((0, end)) if r.policy == AllocPolicy::LastMatch && m.gaps()[0] == (0, end) => {
            Some("LastMatch of exactly the free gap at address 0")
        }
        _ => None,
    }
}

struct AddrPair {
    ours: AddressAllocator,
    theirs: upstream::AddressAllocator,
    model: AddressModel,
    /// Requests asked of both.
    compared: usize,
    /// Requests 0.1.4 cannot be asked (see `upstream_cannot`).
    skipped: usize,
    /// Successful allocations.
    allocated: usize,
}

impl AddrPair {
    fn new(base: u64, size: u64) -> Self {
        AddrPair {
            ours: AddressAllocator::new(base, size).unwrap(),
            theirs: upstream::AddressAllocator::new(base, size).unwrap(),
            model: AddressModel::new(base, size).unwrap(),
            compared: 0,
            skipped: 0,
            allocated: 0,
        }
    }

    fn free(&mut self, start: u64, end: u64) -> Result<(), String> {
        let ours = self.ours.free(&RangeInclusive::new(start, end).unwrap());
        let theirs = self
            .theirs
            .free(&upstream::RangeInclusive::new(start, end).unwrap())
            .map_err(to_ours);
        self.compared += 1;
        if ours != theirs {
            return Err(format!(
                "free({start:#x}..={end:#x}): ours {ours:?}, 0.1.4 {theirs:?}"
            ));
        }
        if ours.is_ok() {
            self.model.free(start, end).unwrap();
        }
        Ok(())
    }

    fn apply(&mut self, op: &AddrOp) -> Result<(), String> {
        match *op {
            AddrOp::Allocate {
                half_size,
                align_log2,
                ref policy,
            } => {
                let (size, align) = (2 * half_size, 1u64 << align_log2);
                let policy = match policy {
                    PolicyChoice::First => AllocPolicy::FirstMatch,
                    PolicyChoice::Last => AllocPolicy::LastMatch,
                    PolicyChoice::Exact(at) => {
                        AllocPolicy::ExactMatch(at.resolve(&self.model) / align * align)
                    }
                };
                let request = Request::new(size, align, policy);
                if upstream_cannot(&self.model, &request).is_some() {
                    self.skipped += 1;
                    return Ok(());
                }
                let ours = self.ours.allocate(size, align, policy);
                let theirs = self
                    .theirs
                    .allocate(size, align, upstream_policy(policy))
                    .map(|r| RangeInclusive::new(r.start(), r.end()).unwrap())
                    .map_err(to_ours);
                self.compared += 1;
                if ours != theirs {
                    return Err(format!(
                        "allocate({size:#x}, {align:#x}, {policy:?}): ours {ours:?}, 0.1.4 {theirs:?}"
                    ));
                }
                if ours.is_ok() {
                    self.model.allocate(&request).unwrap();
                    self.allocated += 1;
                }
                Ok(())
            }
            AddrOp::Free(idx) => {
                let ranges = self.model.runs();
                match ranges.get(usize::from(idx) % ranges.len().max(1)) {
                    Some(&(s, e)) => self.free(s, e),
                    None => Ok(()),
                }
            }
            AddrOp::FreeOther { start, half_len } => {
                let s = start.resolve(&self.model) & !1;
                let Some(e) = s.checked_add(2 * half_len - 1) else {
                    return Ok(());
                };
                if self.model.allocs.get(&s) == Some(&e) || self.model.gaps().contains(&(s, e)) {
                    self.skipped += 1;
                    return Ok(());
                }
                self.free(s, e)
            }
        }
    }

    /// 0.1.4's nodes must be our allocations plus the maximal free gaps.
    fn check(&self) -> Result<(), String> {
        check_address(&self.ours, &self.model, None)?;
        let mut expected: Vec<(u64, u64, bool)> = self
            .model
            .runs()
            .into_iter()
            .map(|(s, e)| (s, e, true))
            .chain(self.model.gaps().into_iter().map(|(s, e)| (s, e, false)))
            .collect();
        expected.sort();
        let nodes = upstream_nodes(&self.theirs);
        if nodes != expected {
            return Err(format!(
                "0.1.4's tree holds {nodes:x?}, our allocations and gaps are {expected:x?}"
            ));
        }
        Ok(())
    }
}

/// An even space: touching 0, touching `u64::MAX`, or anywhere.
fn even_space() -> impl Strategy<Value = (u64, u64)> {
    let size = (1u64..=2048).prop_map(|h| 2 * h);
    prop_oneof![
        size.clone().prop_map(|s| (0, s)),
        size.clone().prop_map(|s| (s.wrapping_neg(), s)),
        (any::<u64>(), size).prop_map(|(b, s)| ((b & !1).min(s.wrapping_neg()), s)),
    ]
}

fn addr_sel() -> impl Strategy<Value = AddrSel> {
    let delta = prop_oneof![Just(0i8), -4i8..=4];
    prop_oneof![
        (0u16..4096).prop_map(AddrSel::Offset),
        (0u16..4096).prop_map(AddrSel::FromEnd),
        (0u8..4).prop_map(AddrSel::Below),
        (0u8..4).prop_map(AddrSel::Above),
        (any::<u8>(), delta.clone()).prop_map(|(idx, delta)| AddrSel::AllocStart { idx, delta }),
        (any::<u8>(), delta.clone()).prop_map(|(idx, delta)| AddrSel::AllocEnd { idx, delta }),
        (any::<u8>(), delta.clone()).prop_map(|(idx, delta)| AddrSel::GapStart { idx, delta }),
        (any::<u8>(), delta).prop_map(|(idx, delta)| AddrSel::GapEnd { idx, delta }),
    ]
}

fn addr_op() -> impl Strategy<Value = AddrOp> {
    let half_size = prop_oneof![
        12 => 1u64..=8,
        3 => 9u64..=64,
        1 => (0u32..63).prop_map(|e| 1u64 << e),
    ];
    let align_log2 = prop_oneof![8 => 1u32..=4, 2 => 5u32..=10, 1 => 11u32..64];
    let policy = prop_oneof![
        3 => Just(PolicyChoice::First),
        3 => Just(PolicyChoice::Last),
        2 => (any::<u8>(), 0i8..=16)
            .prop_map(|(idx, delta)| PolicyChoice::Exact(AddrSel::GapStart { idx, delta })),
        1 => addr_sel().prop_map(PolicyChoice::Exact),
    ];
    prop_oneof![
        12 => (half_size, align_log2, policy).prop_map(|(half_size, align_log2, policy)| {
            AddrOp::Allocate { half_size, align_log2, policy }
        }),
        4 => any::<u8>().prop_map(AddrOp::Free),
        1 => (addr_sel(), 1u64..=32).prop_map(|(start, half_len)| AddrOp::FreeOther { start, half_len }),
    ]
}

// ---------------------------------------------------------------------------
// IdAllocator
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum IdOp {
    Allocate,
    Fill(u8),
    Free(IdSel),
    IsAllocated(IdSel),
}

struct IdPair {
    ours: IdAllocator,
    theirs: upstream::IdAllocator,
    model: IdModel,
}

impl IdPair {
    fn allocate(&mut self) -> Result<bool, String> {
        let ours = self.ours.allocate_id();
        let theirs = self.theirs.allocate_id().map_err(to_ours);
        if ours != theirs {
            return Err(format!("allocate_id(): ours {ours:?}, 0.1.4 {theirs:?}"));
        }
        if let Ok(id) = ours {
            self.model.allocate_id_at(id).unwrap();
        }
        Ok(ours.is_ok())
    }

    fn apply(&mut self, op: &IdOp) -> Result<(), String> {
        match *op {
            IdOp::Allocate => self.allocate().map(drop),
            IdOp::Fill(n) => {
                for _ in 0..n % 33 {
                    if !self.allocate()? {
                        break;
                    }
                }
                Ok(())
            }
            IdOp::Free(sel) => {
                let id = sel.resolve(&self.model);
                let ours = self.ours.free_id(id);
                let theirs = self.theirs.free_id(id).map_err(to_ours);
                if ours != theirs {
                    return Err(format!("free_id({id}): ours {ours:?}, 0.1.4 {theirs:?}"));
                }
                if ours.is_ok() {
                    self.model.free_id(id).unwrap();
                }
                Ok(())
            }
            IdOp::IsAllocated(sel) => {
                let id = sel.resolve(&self.model);
                let (ours, theirs) = (self.ours.is_allocated(id), self.theirs.is_allocated(id));
                if ours != theirs {
                    return Err(format!("is_allocated({id}): ours {ours}, 0.1.4 {theirs}"));
                }
                Ok(())
            }
        }
    }

    fn check(&self) -> Result<(), String> {
        check_ids(&self.ours, &self.model, None)?;
        let theirs = upstream_ids(&self.theirs);
        let ours: Vec<u32> = self.ours.iter().collect();
        if ours != theirs {
            return Err(format!("allocated ids: ours {ours:?}, 0.1.4 {theirs:?}"));
        }
        // is_allocated agrees everywhere in and just around the range.
        let (base, end) = (self.model.base, self.model.end);
        for id in base.saturating_sub(2)..=end.saturating_add(2) {
            if self.ours.is_allocated(id) != self.theirs.is_allocated(id) {
                return Err(format!("is_allocated({id}) differs"));
            }
        }
        Ok(())
    }
}

fn id_range() -> impl Strategy<Value = (u32, u32)> {
    prop_oneof![
        (0u32..200).prop_map(|n| (0, n)),
        (0u32..200).prop_map(|n| (u32::MAX - n, u32::MAX)),
        (any::<u32>(), 0u32..200).prop_map(|(b, n)| (b.min(u32::MAX - n), b.min(u32::MAX - n) + n)),
    ]
}

fn id_sel() -> impl Strategy<Value = IdSel> {
    prop_oneof![
        (0u16..220).prop_map(IdSel::Offset),
        (0u16..220).prop_map(IdSel::FromEnd),
        (0u8..3).prop_map(IdSel::Below),
        (0u8..3).prop_map(IdSel::Above),
        (any::<u8>(), -1i8..=1).prop_map(|(idx, delta)| IdSel::Allocated { idx, delta }),
        (-2i8..=1).prop_map(IdSel::NextId),
    ]
}

fn id_op() -> impl Strategy<Value = IdOp> {
    prop_oneof![
        6 => Just(IdOp::Allocate),
        1 => any::<u8>().prop_map(IdOp::Fill),
        6 => id_sel().prop_map(IdOp::Free),
        2 => id_sel().prop_map(IdOp::IsAllocated),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        ..ProptestConfig::default()
    })]

    #[test]
    fn address_allocator_agrees_with_0_1_4(
        (base, size) in even_space(),
        ops in proptest::collection::vec(addr_op(), 50..250),
    ) {
        let mut pair = AddrPair::new(base, size);
        pair.check().map_err(TestCaseError::fail)?;
        for (i, op) in ops.iter().enumerate() {
            pair.apply(op)
                .and_then(|()| pair.check())
                .map_err(|e| TestCaseError::fail(format!("op #{i} {op:?}: {e}")))?;
        }
        prop_assert_eq!(pair.compared + pair.skipped > 0, !ops.is_empty());
    }

    #[test]
    fn id_allocator_agrees_with_0_1_4(
        (base, end) in id_range(),
        ops in proptest::collection::vec(id_op(), 50..250),
    ) {
        let mut pair = IdPair {
            ours: IdAllocator::new(base, end).unwrap(),
            theirs: upstream::IdAllocator::new(base, end).unwrap(),
            model: IdModel::new(base, end).unwrap(),
        };
        for (i, op) in ops.iter().enumerate() {
            pair.apply(op)
                .and_then(|()| pair.check())
                .map_err(|e| TestCaseError::fail(format!("op #{i} {op:?}: {e}")))?;
        }
    }

    /// Constructors give the same answer for any arguments.
    #[test]
    fn constructors_agree_with_0_1_4(base: u64, size in prop_oneof![Just(0u64), any::<u64>(), 1u64..4096], a: u32, b: u32) {
        let ours = AddressAllocator::new(base, size).map(|x| (x.base(), x.end()));
        let theirs = upstream::AddressAllocator::new(base, size)
            .map(|x| (x.base(), x.end()))
            .map_err(to_ours);
        prop_assert_eq!(ours, theirs);
        let ours = IdAllocator::new(a, b).map(|_| ());
        let theirs = upstream::IdAllocator::new(a, b).map(|_| ()).map_err(to_ours);
        prop_assert_eq!(ours, theirs);
    }
}

/// The filters above must leave most requests in: measured on a fixed seed,
/// so a change that makes the differential test compare nothing fails here.
#[test]
fn most_address_requests_are_compared() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut compared, mut skipped, mut allocated) = (0, 0, 0);
    for _ in 0..32 {
        let (base, size) = even_space().new_tree(&mut runner).unwrap().current();
        let ops = proptest::collection::vec(addr_op(), 200)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let mut pair = AddrPair::new(base, size);
        for op in &ops {
            pair.apply(op).unwrap();
        }
        pair.check().unwrap();
        compared += pair.compared;
        skipped += pair.skipped;
        allocated += pair.allocated;
    }
    assert!(
        compared > 3 * skipped && allocated > compared / 3,
        "compared {compared}, skipped {skipped}, allocated {allocated}"
    );
}
