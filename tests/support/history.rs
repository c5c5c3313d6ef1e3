// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `History` against its model: the proptest suite `tests/history.rs` and
//! the fuzz target `history` play the same [`HistoryScenario`]s.
//!
//! The model is the obvious one: a `Vec` of cloned states and their
//! labels, with the retention applied by dropping from the front (bytes
//! counted from scratch by `History::recount_bytes`), a diff between two
//! versions computed by `Diff::between` on the model's own clones, and
//! `blame` computed by walking back from the latest version, one version at
//! a time, while the allocation that holds the value is still there as it
//! is now.
//!
//! After every action the runner compares the whole history with the
//! model (versions, generations, labels, change counts, states, retained
//! bytes), runs `History::check_invariants`, and blames a handful of
//! values around the latest version's allocations.

// Each includer uses a different part of it.
#![allow(dead_code)]

use arbitrary::Arbitrary;
use vm_allocator::format::{self, JournalWriter};
use vm_allocator::{
    AddressAllocator, AllocPolicy, Diff, History, HistoryError, IdAllocator, Made, Owner, PoolKind,
    RangeInclusive, ResourceSet, Retention, Versioned,
};

// ---------------------------------------------------------------------------
// Scenarios and actions
// ---------------------------------------------------------------------------

/// A kind of state, a retention, and what to do.
#[derive(Debug, Clone)]
pub struct HistoryScenario {
    /// What the history keeps versions of.
    pub kind: Kind,
    /// Its retention from the start.
    pub retention: RetentionSel,
    /// What to do, in order.
    pub actions: Vec<HistoryAction>,
}

/// Actions are read until the input runs out (up to [`MAX_ACTIONS`]),
/// rather than each behind a "one more?" byte: random input then makes
/// long scenarios, not mostly empty ones.
impl<'a> Arbitrary<'a> for HistoryScenario {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let kind = u.arbitrary()?;
        let retention = u.arbitrary()?;
        let mut actions = Vec::new();
        while !u.is_empty() && actions.len() < MAX_ACTIONS {
            actions.push(u.arbitrary()?);
        }
        Ok(HistoryScenario {
            kind,
            retention,
            actions,
        })
    }
}

/// The state kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum Kind {
    /// An `IdAllocator` of 2^20 ids.
    Ids,
    /// An `AddressAllocator` of 16 MiB.
    Addresses,
    /// A `ResourceSet` with an id pool and two address pools.
    Set,
}

/// A retention: `None` fields are unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub struct RetentionSel {
    /// At most this many versions (0 counts as 1).
    pub versions: Option<u8>,
    /// At most `bytes * 256` bytes.
    pub bytes: Option<u8>,
}

impl RetentionSel {
    /// The retention it stands for.
    pub fn retention(self) -> Retention {
        let mut r = Retention::unbounded();
        if let Some(v) = self.versions {
            r = r.max_versions(usize::from(v));
        }
        if let Some(b) = self.bytes {
            r = r.max_bytes(usize::from(b) * 256);
        }
        r
    }
}

/// One step.
#[derive(Debug, Clone, Arbitrary)]
pub enum HistoryAction {
    /// Change the live state (not recorded yet).
    Edit(Edit),
    /// `record` the live state, or `record_labeled` with one of [`LABELS`].
    Record {
        /// The label, modulo the number of labels.
        label: Option<u8>,
    },
    /// Record a state that is not above the latest version: a kept version
    /// (`back` from the latest), which must be refused.
    RecordOlder {
        /// How far back.
        back: u8,
    },
    /// Record a state of another shape, at a generation above the latest,
    /// which must be refused.
    RecordOtherShape,
    /// The live state becomes a clone of a kept version (`back` from the
    /// latest), then moves above the latest generation by freeing and
    /// allocating again: later versions share nodes with an older one, not
    /// with the one before.
    Revert {
        /// How far back.
        back: u8,
    },
    /// The live state becomes a copy decoded from its bytes: it shares
    /// nothing with any version.
    Reload,
    /// A new retention.
    SetRetention(RetentionSel),
    /// `blame` one value.
    Blame(ValueSel),
    /// `diff` two generations.
    Diff {
        /// The older one (a kept version's, or a random generation).
        from: GenSel,
        /// The newer one.
        to: GenSel,
    },
    /// `get` one generation.
    Get(GenSel),
}

/// A generation: mostly a kept one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum GenSel {
    /// The generation of the kept version `i` (modulo their number).
    Kept(u8),
    /// Any generation.
    Raw(u64),
}

/// A change to the live state; `pool` is taken modulo the number of pools
/// (one for a lone allocator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum Edit {
    /// Addresses: `size` units at alignment `2^(align % 4)` units, first or
    /// last fit. Ids: `allocate_ids(size % 4 + 1, 2^(align % 3))`.
    Allocate {
        /// Pool.
        pool: u8,
        /// Size (see above).
        size: u8,
        /// Alignment (see above).
        align: u8,
        /// Last fit instead of first.
        last: bool,
        /// Owner.
        owner: Option<u8>,
    },
    /// Addresses: one unit at unit `at`. Ids: `allocate_id_at(at)`.
    AllocateAt {
        /// Pool.
        pool: u8,
        /// Where (modulo the pool's size in units).
        at: u32,
        /// Owner.
        owner: Option<u8>,
    },
    /// Up to `count` one-unit First-fit allocations (`allocate_id` for
    /// ids): enough to grow trees past one node.
    Fill {
        /// Pool.
        pool: u8,
        /// How many.
        count: u8,
        /// Owner.
        owner: Option<u8>,
    },
    /// Free allocation `which` (for ids, the id).
    Free {
        /// Pool.
        pool: u8,
        /// Which (modulo their number).
        which: u16,
    },
    /// Free allocation `which` and allocate it again, with its owner.
    Again {
        /// Pool.
        pool: u8,
        /// Which (modulo their number).
        which: u16,
    },
    /// Give allocation `which` (for ids, the id) another owner.
    SetOwner {
        /// Pool.
        pool: u8,
        /// Which (modulo their number).
        which: u16,
        /// The new owner.
        owner: Option<u8>,
    },
    /// Free everything an owner holds.
    FreeOwner(u8),
}

/// A value to blame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub struct ValueSel {
    /// The pool: modulo the number of pools, or past them a pool that does
    /// not exist (or, for a lone allocator, a name, and for a set none).
    pub pool: u8,
    /// Which allocation of the latest version (modulo their number).
    pub which: u16,
    /// Where: its start, its end, its middle, just past it, just before
    /// it; or `raw`.
    pub at: u8,
    /// A value anywhere.
    pub raw: u64,
}

/// The labels versions are recorded with.
pub const LABELS: [&str; 4] = ["boot", "hot-plug nvme0", "", "a\"b\u{2028}\u{202e}c\\"];

/// The owners of allocations: two handles of one name that are not
/// pointer-equal, and a name that needs escaping.
pub fn owners() -> Vec<Owner> {
    ["net0", "blk0", "net0", "gpu\u{200b}0"]
        .iter()
        .map(|n| Owner::new(n).unwrap())
        .collect()
}

// ---------------------------------------------------------------------------
// The three kinds of state, through one interface
// ---------------------------------------------------------------------------

/// An allocation: `(first, last, owner)`.
pub type Alloc = (u64, u64, Option<Owner>);

/// One call on a pool; allocations carry the owner given with it.
#[derive(Debug, Clone, Copy)]
pub enum Call {
    /// `allocate_ids(count, align)`.
    AllocateIds(u32, u32),
    /// `allocate_id_at(id)`.
    AllocateIdAt(u32),
    /// `allocate_id()`.
    AllocateId,
    /// `free_ids(first..=last)`.
    FreeIds(u32, u32),
    /// `allocate(size, align, policy)`.
    Allocate(u64, u64, AllocPolicy),
    /// `free(first..=last)`.
    Free(u64, u64),
}

/// What the runner does to a state of any kind.
pub trait Subject: Versioned {
    /// The starting state.
    fn start() -> Self;
    /// The pools: their names (`None` for a lone allocator) and kinds.
    fn pools() -> Vec<(Option<&'static str>, PoolKind)>;
    /// A state of another shape.
    fn other_shape() -> Self;
    /// Makes `call` on `pool` (allocations owned by `owner`); false if the
    /// allocator refused it (nothing changed).
    fn call(&mut self, pool: Option<&str>, call: Call, owner: Option<&Owner>) -> bool;
    /// Gives `first..=last` (an allocation, or allocated ids) of `pool` to
    /// `owner`.
    fn set_owner(&mut self, pool: Option<&str>, first: u64, last: u64, owner: Option<Owner>);
    /// The pool, to read.
    fn pool(&self, pool: Option<&str>) -> PoolRef<'_>;
    /// Frees everything `owner` holds.
    fn free_owner(&mut self, owner: &str);
    /// The state decoded from its own bytes.
    fn reload(&self) -> Self;
}

/// One pool, to read.
pub enum PoolRef<'a> {
    /// Ids.
    Ids(&'a IdAllocator),
    /// Addresses.
    Addresses(&'a AddressAllocator),
}

impl PoolRef<'_> {
    /// The allocations: for addresses each allocation, for ids each id.
    pub fn allocations(&self) -> Vec<Alloc> {
        match self {
            PoolRef::Ids(ids) => ids
                .iter()
                .map(|id| (u64::from(id), u64::from(id), ids.owner_at(id).cloned()))
                .collect(),
            PoolRef::Addresses(a) => a
                .allocations()
                .map(|x| (x.range().start(), x.range().end(), x.owner().cloned()))
                .collect(),
        }
    }

    /// What holds `value`: the reference definition of blame's holder,
    /// from the public API.
    pub fn holder(&self, value: u64) -> Option<Alloc> {
        match self {
            PoolRef::Ids(ids) => {
                let id = u32::try_from(value).ok()?;
                ids.is_allocated(id)
                    .then(|| (value, value, ids.owner_at(id).cloned()))
            }
            PoolRef::Addresses(a) => {
                let r = a.allocation_containing(value)?;
                Some((r.start(), r.end(), a.owner_at(value).cloned()))
            }
        }
    }
}

/// The id range of an id pool.
const ID_LAST: u32 = (1 << 20) - 1;
/// The address space of an address pool, and its unit.
const SPACE: u64 = 1 << 24;
const UNIT: u64 = 0x100;

fn range(first: u64, last: u64) -> RangeInclusive {
    RangeInclusive::new(first, last).unwrap()
}

fn id_call(ids: &mut IdAllocator, call: Call, owner: Option<&Owner>) -> bool {
    let done = match (call, owner) {
        (Call::AllocateIds(n, a), Some(o)) => ids.owned_by(o).allocate_ids(n, a).map(drop),
        (Call::AllocateIds(n, a), None) => ids.allocate_ids(n, a).map(drop),
        (Call::AllocateIdAt(id), Some(o)) => ids.owned_by(o).allocate_id_at(id).map(drop),
        (Call::AllocateIdAt(id), None) => ids.allocate_id_at(id).map(drop),
        (Call::AllocateId, Some(o)) => ids.owned_by(o).allocate_id().map(drop),
        (Call::AllocateId, None) => ids.allocate_id().map(drop),
        (Call::FreeIds(a, b), _) => ids.free_ids(a..=b),
        (Call::Allocate(..) | Call::Free(..), _) => return false,
    };
    done.is_ok()
}

fn address_call(a: &mut AddressAllocator, call: Call, owner: Option<&Owner>) -> bool {
    let done = match (call, owner) {
        (Call::Allocate(size, align, p), Some(o)) => {
            a.owned_by(o).allocate(size, align, p).map(drop)
        }
        (Call::Allocate(size, align, p), None) => a.allocate(size, align, p).map(drop),
        (Call::Free(first, last), _) => a.free(&range(first, last)),
        _ => return false,
    };
    done.is_ok()
}

impl Subject for IdAllocator {
    fn start() -> Self {
        IdAllocator::new(0, ID_LAST).unwrap()
    }
    fn pools() -> Vec<(Option<&'static str>, PoolKind)> {
        vec![(None, PoolKind::Ids)]
    }
    fn other_shape() -> Self {
        IdAllocator::new(1, ID_LAST).unwrap()
    }
    fn call(&mut self, _: Option<&str>, call: Call, owner: Option<&Owner>) -> bool {
        id_call(self, call, owner)
    }
    fn set_owner(&mut self, _: Option<&str>, first: u64, last: u64, owner: Option<Owner>) {
        IdAllocator::set_owner(self, first as u32..=last as u32, owner).unwrap();
    }
    fn pool(&self, _: Option<&str>) -> PoolRef<'_> {
        PoolRef::Ids(self)
    }
    fn free_owner(&mut self, owner: &str) {
        IdAllocator::free_owner(self, owner);
    }
    fn reload(&self) -> Self {
        IdAllocator::from_bytes(&self.to_bytes()).unwrap()
    }
}

impl Subject for AddressAllocator {
    fn start() -> Self {
        AddressAllocator::new(0, SPACE).unwrap()
    }
    fn pools() -> Vec<(Option<&'static str>, PoolKind)> {
        vec![(None, PoolKind::Addresses)]
    }
    fn other_shape() -> Self {
        AddressAllocator::new(0, SPACE * 2).unwrap()
    }
    fn call(&mut self, _: Option<&str>, call: Call, owner: Option<&Owner>) -> bool {
        address_call(self, call, owner)
    }
    fn set_owner(&mut self, _: Option<&str>, first: u64, last: u64, owner: Option<Owner>) {
        AddressAllocator::set_owner(self, &range(first, last), owner).unwrap();
    }
    fn pool(&self, _: Option<&str>) -> PoolRef<'_> {
        PoolRef::Addresses(self)
    }
    fn free_owner(&mut self, owner: &str) {
        AddressAllocator::free_owner(self, owner);
    }
    fn reload(&self) -> Self {
        AddressAllocator::from_bytes(&self.to_bytes()).unwrap()
    }
}

impl Subject for ResourceSet {
    fn start() -> Self {
        let mut set = ResourceSet::new();
        set.add_id_pool("gsi", 0, ID_LAST).unwrap();
        set.add_address_pool("mmio", 0, SPACE).unwrap();
        set.add_address_pool("pio", SPACE, SPACE).unwrap();
        set
    }
    fn pools() -> Vec<(Option<&'static str>, PoolKind)> {
        vec![
            (Some("gsi"), PoolKind::Ids),
            (Some("mmio"), PoolKind::Addresses),
            (Some("pio"), PoolKind::Addresses),
        ]
    }
    fn other_shape() -> Self {
        let mut set = Self::start();
        set.remove_pool("pio").unwrap();
        set
    }
    fn call(&mut self, pool: Option<&str>, call: Call, owner: Option<&Owner>) -> bool {
        let p = pool.unwrap();
        let done = match (call, owner) {
            (Call::AllocateIds(n, a), Some(o)) => self.owned_by(o).allocate_ids(p, n, a).map(drop),
            (Call::AllocateIds(n, a), None) => self.allocate_ids(p, n, a).map(drop),
            (Call::AllocateIdAt(id), Some(o)) => self.owned_by(o).allocate_id_at(p, id).map(drop),
            (Call::AllocateIdAt(id), None) => self.allocate_id_at(p, id).map(drop),
            (Call::AllocateId, Some(o)) => self.owned_by(o).allocate_id(p).map(drop),
            (Call::AllocateId, None) => self.allocate_id(p).map(drop),
            (Call::FreeIds(a, b), _) => self.free_ids(p, a..=b),
            (Call::Allocate(size, align, policy), Some(o)) => {
                self.owned_by(o).allocate(p, size, align, policy).map(drop)
            }
            (Call::Allocate(size, align, policy), None) => {
                self.allocate(p, size, align, policy).map(drop)
            }
            (Call::Free(first, last), _) => self.free(p, &range(first, last)),
        };
        done.is_ok()
    }
    fn set_owner(&mut self, pool: Option<&str>, first: u64, last: u64, owner: Option<Owner>) {
        let p = pool.unwrap();
        match Subject::pool(self, Some(p)) {
            PoolRef::Ids(_) => self
                .set_id_owner(p, first as u32..=last as u32, owner)
                .unwrap(),
            PoolRef::Addresses(_) => {
                ResourceSet::set_owner(self, p, &range(first, last), owner).unwrap();
            }
        }
    }
    fn pool(&self, pool: Option<&str>) -> PoolRef<'_> {
        match ResourceSet::pool(self, pool.unwrap()).unwrap() {
            vm_allocator::Pool::Ids(ids) => PoolRef::Ids(ids),
            vm_allocator::Pool::Addresses(a) => PoolRef::Addresses(a),
        }
    }
    fn free_owner(&mut self, owner: &str) {
        ResourceSet::free_owner(self, owner);
    }
    fn reload(&self) -> Self {
        ResourceSet::from_bytes(&self.to_bytes()).unwrap()
    }
}

// ---------------------------------------------------------------------------
// The runner
// ---------------------------------------------------------------------------

/// What a scenario exercised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Versions recorded.
    pub recorded: usize,
    /// Records refused (not above, or another shape).
    pub refused: usize,
    /// Versions dropped by the retention.
    pub dropped: usize,
    /// Blames answered `Made::At`.
    pub blamed_at: usize,
    /// Blames answered `Made::AtOrBefore`.
    pub blamed_at_or_before: usize,
    /// Blames of a value nothing holds, or of no such pool.
    pub blamed_nothing: usize,
    /// Blames whose allocation the oldest and the latest version hold the
    /// same while some version between does not: where presence is not
    /// monotone.
    pub blamed_non_monotone: usize,
    /// Diffs computed between two kept versions.
    pub diffs: usize,
    /// The most versions kept at once.
    pub most_versions: usize,
    /// The most allocations in one pool of the latest version.
    pub most_allocations: usize,
    /// Histories from a journal that the byte budget made drop versions.
    pub journal_byte_trims: usize,
    /// Histories from a journal compared with the scenario's own history.
    pub journal_same_as_live: usize,
}

impl Stats {
    /// The sum of both.
    pub fn add(&mut self, other: Stats) {
        self.recorded += other.recorded;
        self.refused += other.refused;
        self.dropped += other.dropped;
        self.blamed_at += other.blamed_at;
        self.blamed_at_or_before += other.blamed_at_or_before;
        self.blamed_nothing += other.blamed_nothing;
        self.blamed_non_monotone += other.blamed_non_monotone;
        self.diffs += other.diffs;
        self.most_versions = self.most_versions.max(other.most_versions);
        self.most_allocations = self.most_allocations.max(other.most_allocations);
        self.journal_byte_trims += other.journal_byte_trims;
        self.journal_same_as_live += other.journal_same_as_live;
    }
}

/// Plays `scenario` on a history of the kind it names; the error names the
/// first action after which the history and the model differ.
pub fn run_history(scenario: &HistoryScenario) -> Result<(), String> {
    run_history_counting(scenario).map(drop)
}

/// [`run_history`], returning what the scenario exercised.
pub fn run_history_counting(scenario: &HistoryScenario) -> Result<Stats, String> {
    match scenario.kind {
        Kind::Ids => Runner::<IdAllocator>::play(scenario),
        Kind::Addresses => Runner::<AddressAllocator>::play(scenario),
        Kind::Set => Runner::<ResourceSet>::play(scenario),
    }
}

/// Plays `scenario` and panics with the difference and a reproducer.
pub fn run_history_or_panic(scenario: &HistoryScenario) {
    if let Err(e) = run_history(scenario) {
        panic!("{e}\n\nreproducer:\n{scenario:#?}");
    }
}

/// Most actions of a scenario played (the fuzzer may send more).
pub const MAX_ACTIONS: usize = 256;

struct Runner<S: Subject> {
    live: S,
    history: History<S>,
    /// The model: the kept versions and their labels, oldest first.
    model: Vec<(S, Option<String>)>,
    retention: RetentionSel,
    /// Every version recorded, from the first, with its label: what a
    /// journal of the scenario holds.
    recorded: Vec<(S, Option<String>)>,
    /// The scenario's first retention, and whether it ever changed.
    first_retention: RetentionSel,
    retention_changed: bool,
    owners: Vec<Owner>,
    stats: std::cell::Cell<Stats>,
}

impl<S: Subject> Runner<S> {
    fn play(scenario: &HistoryScenario) -> Result<Stats, String> {
        let live = S::start();
        let mut runner = Runner {
            history: History::with_retention(live.clone(), scenario.retention.retention()),
            model: vec![(live.clone(), None)],
            recorded: vec![(live.clone(), None)],
            live,
            retention: scenario.retention,
            first_retention: scenario.retention,
            retention_changed: false,
            owners: owners(),
            stats: Default::default(),
        };
        runner.compare().map_err(|e| format!("at the start: {e}"))?;
        for (i, action) in scenario.actions.iter().take(MAX_ACTIONS).enumerate() {
            runner
                .step(action)
                .and_then(|()| runner.compare())
                .map_err(|e| format!("action #{i} {action:?}: {e}"))?;
        }
        runner
            .rebuild()
            .map_err(|e| format!("at the end, rebuilt from the versions: {e}"))?;
        runner
            .read_back_from_a_journal()
            .map_err(|e| format!("at the end, from a journal of the versions: {e}"))?;
        Ok(runner.stats.get())
    }

    /// `History::from_versions` of the kept versions answers as the
    /// history does.
    fn rebuild(&self) -> Result<(), String> {
        let rebuilt =
            History::from_versions(self.retention.retention(), self.model.clone()).unwrap();
        rebuilt.check_invariants()?;
        let show = |h: &History<S>| -> Vec<_> {
            h.versions()
                .map(|v| (v.generation(), v.label().map(String::from), v.changes()))
                .collect()
        };
        same("versions", show(&rebuilt), show(&self.history))?;
        same(
            "retained_bytes",
            rebuilt.retained_bytes(),
            self.history.retained_bytes(),
        )?;
        let latest = self.history.latest();
        for (name, _) in S::pools() {
            for (first, last, _) in latest.pool(name).allocations() {
                for value in [first, last] {
                    same(
                        &format!("blame({name:?}, {value:#x})"),
                        rebuilt.blame(name, value),
                        self.history.blame(name, value),
                    )?;
                }
            }
        }
        Ok(())
    }

    /// `History::from_journal_bytes` of a journal of every version
    /// recorded (written by `JournalWriter`, with the first retention)
    /// keeps the last versions, as many as the retention allows, and
    /// answers as a history that recorded those versions live, and as the
    /// scenario's own history when that keeps the same versions (as it
    /// must with the retention unchanged and no byte budget). Then the
    /// same journal with its last record torn.
    fn read_back_from_a_journal(&self) -> Result<(), String> {
        // The journal, and what it holds: a label it cannot hold (the
        // empty one: a label is a name) is left out.
        let (mut writer, mut bytes) = JournalWriter::start(&self.recorded[0].0, 0x5eed);
        let mut journaled = vec![self.recorded[0].clone()];
        let mut ends = Vec::new();
        for (state, label) in &self.recorded[1..] {
            let label = label.clone().filter(|l| Owner::new(l).is_ok());
            ends.push(bytes.len());
            writer
                .append_to(state, label.as_deref(), &mut bytes)
                .map_err(|e| format!("the journal refused version {}: {e}", state.generation()))?;
            journaled.push((state.clone(), label));
        }
        let retention = self.first_retention.retention();
        let (got, recovery) = History::<S>::from_journal_bytes(&bytes, retention)
            .map_err(|e| format!("from_journal_bytes: {e}"))?;
        same("recovery", recovery.is_clean(), true)?;
        got.check_invariants()?;
        let first = journaled.len() - got.versions().len();
        let oldest = |i: usize| journaled[i].0.generation();
        same(
            "the oldest version",
            got.oldest().generation(),
            oldest(first),
        )?;

        // As many as the retention allows: one more would break it.
        let count_over = retention
            .version_limit()
            .is_some_and(|max| journaled.len() - first + 1 > max);
        if first > 0 && !count_over {
            let Some(max) = retention.byte_limit() else {
                return Err(format!("dropped {first} versions with room for more"));
            };
            let decoded: Vec<S> = format::replay::<S>(&bytes)
                .map(|r| {
                    let base = r.base().clone();
                    std::iter::once(base).chain(r.map(|r| r.state)).collect()
                })
                .unwrap();
            let with_one_more = decoded[first - 1..]
                .iter()
                .zip(&journaled[first - 1..])
                .map(|(s, (_, l))| (s, l.as_deref()));
            if History::<S>::recount_bytes(with_one_more) <= max {
                return Err(format!(
                    "dropped version {} with room for it",
                    oldest(first - 1)
                ));
            }
            self.count(|s| s.journal_byte_trims += 1);
        }

        // The same answers as a history that recorded them live.
        let live = History::from_versions(Retention::unbounded(), journaled[first..].to_vec())
            .map_err(|e| format!("{e}"))?;
        same_history("recorded live", &got, &live)?;
        // And as the scenario's own history, whenever both keep the same
        // versions: always if the retention never changed and has no byte
        // budget.
        let generations =
            |h: &History<S>| -> Vec<u64> { h.versions().map(|v| v.generation()).collect() };
        let same_versions = generations(&got) == generations(&self.history);
        if !same_versions && !self.retention_changed && retention.byte_limit().is_none() {
            return Err(format!(
                "kept {:?}, the scenario's history {:?}",
                generations(&got),
                generations(&self.history)
            ));
        }
        if same_versions {
            let labels_kept = |h: &History<S>| -> Vec<_> {
                h.versions()
                    .map(|v| (v.generation(), v.label().filter(|l| Owner::new(l).is_ok())))
                    .map(|(g, l)| (g, l.map(String::from)))
                    .collect()
            };
            same("versions", labels_kept(&got), labels_kept(&self.history))?;
            let shown = |b: Option<vm_allocator::Blame<'_>>| {
                b.map(|b| {
                    let label = b.label().filter(|l| Owner::new(l).is_ok());
                    (
                        b.range(),
                        b.owner().cloned(),
                        b.made(),
                        label.map(String::from),
                    )
                })
            };
            for_each_end(self.history.latest(), |pool, value| {
                same(
                    &format!("blame({pool:?}, {value:#x})"),
                    shown(got.blame(pool, value)),
                    shown(self.history.blame(pool, value)),
                )
            })?;
            self.count(|s| s.journal_same_as_live += 1);
        }

        // Torn in its last record: the versions before it.
        if let Some(&end) = ends.last() {
            let torn = &bytes[..end + (bytes.len() - end) / 2];
            let (got, recovery) = History::<S>::from_journal_bytes(torn, retention)
                .map_err(|e| format!("from_journal_bytes of a torn journal: {e}"))?;
            same("torn tail", recovery.is_torn_tail(), true)?;
            same(
                "records before the tear",
                recovery.records,
                ends.len() as u64 - 1,
            )?;
            same(
                "latest before the tear",
                got.latest(),
                &journaled[ends.len() - 1].0,
            )?;
        }
        Ok(())
    }

    fn count(&self, f: impl FnOnce(&mut Stats)) {
        let mut stats = self.stats.get();
        f(&mut stats);
        self.stats.set(stats);
    }

    fn step(&mut self, action: &HistoryAction) -> Result<(), String> {
        match *action {
            HistoryAction::Edit(edit) => {
                self.edit(edit);
                Ok(())
            }
            HistoryAction::Record { label } => {
                let label = label.map(|l| LABELS[usize::from(l) % LABELS.len()]);
                self.record(label)
            }
            HistoryAction::RecordOlder { back } => {
                let i = self.back(back);
                let older = self.model[i].0.clone();
                let latest = self.model.last().unwrap().0.generation();
                let got = self.history.record(&older);
                let want = Err(HistoryError::NotAbove {
                    latest,
                    found: older.generation(),
                });
                self.count(|s| s.refused += 1);
                same("recording an older version", got, want)
            }
            HistoryAction::RecordOtherShape => {
                let mut other = S::other_shape();
                let above = self.model.last().unwrap().0.generation() + 1;
                while other.generation() < above {
                    bump(&mut other);
                }
                self.count(|s| s.refused += 1);
                match self.history.record_labeled(&other, "other") {
                    Err(HistoryError::ShapeMismatch(_)) => Ok(()),
                    got => Err(format!("recording another shape gave {got:?}")),
                }
            }
            HistoryAction::Revert { back } => {
                let i = self.back(back);
                self.live = self.model[i].0.clone();
                let above = self.model.last().unwrap().0.generation() + 1;
                while self.live.generation() < above {
                    bump(&mut self.live);
                }
                Ok(())
            }
            HistoryAction::Reload => {
                self.live = self.live.reload();
                Ok(())
            }
            HistoryAction::SetRetention(sel) => {
                self.retention = sel;
                self.retention_changed = true;
                let dropped = self.history.set_retention(sel.retention());
                let before = self.model.len();
                self.apply_retention();
                self.count(|s| s.dropped += dropped);
                same("versions dropped", dropped, before - self.model.len())
            }
            HistoryAction::Blame(sel) => self.blame(sel),
            HistoryAction::Diff { from, to } => {
                let (from, to) = (self.generation(from), self.generation(to));
                let got = self.history.diff(from, to);
                let find = |g| self.model.iter().find(|(s, _)| s.generation() == g);
                let want = match (find(from), find(to)) {
                    (Some(a), Some(b)) => {
                        self.count(|s| s.diffs += 1);
                        Ok(Diff::between(&a.0, &b.0).unwrap())
                    }
                    (None, _) => Err(self.not_kept(from)),
                    (Some(_), None) => Err(self.not_kept(to)),
                };
                same("diff", got, want)
            }
            HistoryAction::Get(sel) => {
                let g = self.generation(sel);
                let want = self.model.iter().find(|(s, _)| s.generation() == g);
                same(
                    &format!("get({g})"),
                    self.history.get(g),
                    want.map(|(s, _)| s),
                )
            }
        }
    }

    fn record(&mut self, label: Option<&str>) -> Result<(), String> {
        let got = match label {
            Some(label) => self.history.record_labeled(&self.live, label),
            None => self.history.record(&self.live),
        };
        let latest = self.model.last().unwrap().0.generation();
        if self.live.generation() <= latest {
            let want = Err(HistoryError::NotAbove {
                latest,
                found: self.live.generation(),
            });
            self.count(|s| s.refused += 1);
            return same("recording", got, want);
        }
        same("recording", got, Ok(()))?;
        self.model
            .push((self.live.clone(), label.map(String::from)));
        self.recorded
            .push((self.live.clone(), label.map(String::from)));
        let before = self.model.len();
        self.apply_retention();
        let (kept, dropped) = (self.model.len(), before - self.model.len());
        self.count(|s| {
            s.recorded += 1;
            s.dropped += dropped;
            s.most_versions = s.most_versions.max(kept);
        });
        Ok(())
    }

    /// Drops the model's oldest versions as the retention says.
    fn apply_retention(&mut self) {
        let r = self.retention.retention();
        while self.model.len() > 1 {
            let bytes =
                History::<S>::recount_bytes(self.model.iter().map(|(s, l)| (s, l.as_deref())));
            let over = r.version_limit().is_some_and(|max| self.model.len() > max)
                || r.byte_limit().is_some_and(|max| bytes > max);
            if !over {
                break;
            }
            self.model.remove(0);
        }
    }

    /// The index of the kept version `back` from the latest.
    fn back(&self, back: u8) -> usize {
        self.model.len() - 1 - usize::from(back) % self.model.len()
    }

    fn generation(&self, sel: GenSel) -> u64 {
        match sel {
            GenSel::Kept(i) => self.model[usize::from(i) % self.model.len()].0.generation(),
            GenSel::Raw(g) => g,
        }
    }

    fn not_kept(&self, generation: u64) -> HistoryError {
        HistoryError::NotKept {
            generation,
            oldest: self.model[0].0.generation(),
            latest: self.model.last().unwrap().0.generation(),
        }
    }

    fn pool_of(pool: u8) -> (Option<&'static str>, PoolKind) {
        let pools = S::pools();
        pools[usize::from(pool) % pools.len()]
    }

    fn owner(&self, owner: Option<u8>) -> Option<Owner> {
        owner.map(|o| self.owners[usize::from(o) % self.owners.len()].clone())
    }

    /// Makes `edit` on the live state; a call the allocator refuses changes
    /// nothing, and is not what this suite checks.
    fn edit(&mut self, edit: Edit) {
        match edit {
            Edit::Allocate {
                pool,
                size,
                align,
                last,
                owner,
            } => {
                let (name, kind) = Self::pool_of(pool);
                let call = match kind {
                    PoolKind::Ids => Call::AllocateIds(u32::from(size % 4) + 1, 1 << (align % 3)),
                    PoolKind::Addresses => {
                        let policy = if last {
                            AllocPolicy::LastMatch
                        } else {
                            AllocPolicy::FirstMatch
                        };
                        Call::Allocate(
                            (u64::from(size % 64) + 1) * UNIT,
                            UNIT << (align % 4),
                            policy,
                        )
                    }
                };
                let owner = self.owner(owner);
                self.live.call(name, call, owner.as_ref());
            }
            Edit::AllocateAt { pool, at, owner } => {
                let (name, kind) = Self::pool_of(pool);
                let call = match (kind, self.live.pool(name)) {
                    (PoolKind::Ids, _) => Call::AllocateIdAt(at % (ID_LAST + 1)),
                    (_, PoolRef::Addresses(a)) => {
                        let start = a.base() + u64::from(at) % (SPACE / UNIT) * UNIT;
                        Call::Allocate(UNIT, UNIT, AllocPolicy::ExactMatch(start))
                    }
                    (_, PoolRef::Ids(_)) => unreachable!("the pool's kind is Addresses"),
                };
                let owner = self.owner(owner);
                self.live.call(name, call, owner.as_ref());
            }
            Edit::Fill { pool, count, owner } => {
                let (name, kind) = Self::pool_of(pool);
                let call = match kind {
                    PoolKind::Ids => Call::AllocateId,
                    PoolKind::Addresses => Call::Allocate(UNIT, UNIT, AllocPolicy::FirstMatch),
                };
                let owner = self.owner(owner);
                for _ in 0..count {
                    if !self.live.call(name, call, owner.as_ref()) {
                        break;
                    }
                }
            }
            Edit::Free { pool, which } => {
                let (name, _) = Self::pool_of(pool);
                if let Some((first, last, _)) = self.pick(name, which) {
                    self.live
                        .call(name, free_call(&self.live, name, first, last), None);
                }
            }
            Edit::Again { pool, which } => {
                let (name, _) = Self::pool_of(pool);
                if let Some(alloc) = self.pick(name, which) {
                    again(&mut self.live, name, &alloc);
                }
            }
            Edit::SetOwner { pool, which, owner } => {
                let (name, _) = Self::pool_of(pool);
                let owner = self.owner(owner);
                if let Some((first, last, _)) = self.pick(name, which) {
                    self.live.set_owner(name, first, last, owner);
                }
            }
            Edit::FreeOwner(o) => {
                let name = self.owners[usize::from(o) % self.owners.len()].clone();
                self.live.free_owner(&name);
            }
        }
    }

    /// Allocation `which` of a pool of the live state.
    fn pick(&self, pool: Option<&str>, which: u16) -> Option<Alloc> {
        let all = self.live.pool(pool).allocations();
        (!all.is_empty()).then(|| all[usize::from(which) % all.len()].clone())
    }

    fn blame(&self, sel: ValueSel) -> Result<(), String> {
        let pools = S::pools();
        let p = usize::from(sel.pool) % (pools.len() + 1);
        // Past the pools: a pool that does not exist (or a name for a lone
        // allocator, none for a set).
        let pool = match pools.get(p) {
            Some(&(name, _)) => name,
            None if pools[0].0.is_none() => Some("mmio"),
            None => [None, Some("nope")][usize::from(sel.which) % 2],
        };
        let latest = &self.model.last().unwrap().0;
        let value = match pools.get(p) {
            Some(_) => {
                let all = latest.pool(pool).allocations();
                if all.is_empty() || sel.at % 6 == 5 {
                    sel.raw
                } else {
                    let (first, last, _) = all[usize::from(sel.which) % all.len()];
                    match sel.at % 6 {
                        0 => first,
                        1 => last,
                        2 => first + (last - first) / 2,
                        3 => last.wrapping_add(1),
                        _ => first.wrapping_sub(1),
                    }
                }
            }
            None => sel.raw,
        };
        self.check_blame(pool, value)
    }

    /// Compares `blame(pool, value)` with the model's scan.
    fn check_blame(&self, pool: Option<&str>, value: u64) -> Result<(), String> {
        let got = self.history.blame(pool, value);
        let known = S::pools().iter().any(|&(name, _)| name == pool);
        let holder = |s: &S| known.then(|| s.pool(pool).holder(value)).flatten();
        let latest = &self.model.last().unwrap().0;
        let what = || format!("blame({pool:?}, {value:#x})");
        let Some(now) = holder(latest) else {
            self.count(|s| s.blamed_nothing += 1);
            return same(&what(), got.map(|b| b.to_string()), None);
        };
        let Some(blame) = got else {
            return Err(format!("{}: nothing, the model finds {now:?}", what()));
        };
        // Walk back while the same allocation is there.
        let mut i = self.model.len() - 1;
        while i > 0 && holder(&self.model[i - 1].0).as_ref() == Some(&now) {
            i -= 1;
        }
        let (made, label) = if i == 0 {
            self.count(|s| s.blamed_at_or_before += 1);
            (Made::AtOrBefore(self.model[0].0.generation()), None)
        } else {
            let oldest_holds = holder(&self.model[0].0).as_ref() == Some(&now);
            self.count(|s| {
                s.blamed_at += 1;
                s.blamed_non_monotone += usize::from(oldest_holds);
            });
            (
                Made::At(self.model[i].0.generation()),
                self.model[i].1.as_deref(),
            )
        };
        let kind = S::pools()
            .iter()
            .find(|&&(name, _)| name == pool)
            .unwrap()
            .1;
        same_lazy(
            what,
            (
                blame.pool(),
                blame.pool_kind(),
                (blame.range().start(), blame.range().end()),
                blame.owner().cloned(),
                blame.made(),
                blame.label(),
            ),
            (pool, kind, (now.0, now.1), now.2.clone(), made, label),
        )?;
        // One line, whatever the names and labels hold.
        let line = blame.to_string();
        if line.contains(['\n', '\u{2028}', '\u{202e}']) {
            return Err(format!("{}: shown as {line:?}", what()));
        }
        Ok(())
    }

    /// The whole history against the model, and a few blames.
    fn compare(&self) -> Result<(), String> {
        self.history.check_invariants()?;
        let got: Vec<_> = self
            .history
            .versions()
            .map(|v| (v.generation(), v.label().map(String::from), v.changes()))
            .collect();
        let want: Vec<_> = self
            .model
            .iter()
            .enumerate()
            .map(|(i, (s, l))| {
                let changes =
                    (i > 0).then(|| Diff::between(&self.model[i - 1].0, s).unwrap().len());
                (s.generation(), l.clone(), changes)
            })
            .collect();
        same("versions", got, want)?;
        for (v, (s, _)) in self.history.versions().zip(&self.model) {
            if v.state() != s {
                return Err(format!(
                    "version {} differs from the model's",
                    s.generation()
                ));
            }
        }
        same(
            "latest",
            self.history.latest(),
            &self.model.last().unwrap().0,
        )?;
        same("oldest", self.history.oldest(), &self.model[0].0)?;
        let bytes = History::<S>::recount_bytes(self.model.iter().map(|(s, l)| (s, l.as_deref())));
        same("retained_bytes", self.history.retained_bytes(), bytes)?;
        // Blame the ends of a few allocations of each pool.
        let latest = &self.model.last().unwrap().0;
        for (name, _) in S::pools() {
            let all = latest.pool(name).allocations();
            self.count(|s| s.most_allocations = s.most_allocations.max(all.len()));
            let step = (all.len() / 8).max(1);
            for (first, last, _) in all.iter().step_by(step) {
                self.check_blame(name, *first)?;
                self.check_blame(name, *last)?;
            }
        }
        Ok(())
    }
}

/// Two histories keep the same versions (states, generations, labels,
/// changes) and blame every end of every allocation of their latest
/// version the same.
fn same_history<S: Subject>(what: &str, got: &History<S>, want: &History<S>) -> Result<(), String> {
    let show = |h: &History<S>| -> Vec<_> {
        h.versions()
            .map(|v| (v.generation(), v.label().map(String::from), v.changes()))
            .collect()
    };
    same(&format!("{what}: versions"), show(got), show(want))?;
    for (a, b) in got.versions().zip(want.versions()) {
        if a.state() != b.state() {
            return Err(format!("{what}: version {} differs", b.generation()));
        }
    }
    for_each_end(want.latest(), |pool, value| {
        same(
            &format!("{what}: blame({pool:?}, {value:#x})"),
            got.blame(pool, value),
            want.blame(pool, value),
        )
    })
}

/// Calls `f` with the first and the last value of every allocation of
/// every pool of `state`.
fn for_each_end<S: Subject>(
    state: &S,
    mut f: impl FnMut(Option<&str>, u64) -> Result<(), String>,
) -> Result<(), String> {
    for (name, _) in S::pools() {
        for (first, last, _) in state.pool(name).allocations() {
            f(name, first)?;
            f(name, last)?;
        }
    }
    Ok(())
}

/// The call that frees `first..=last` of `pool`.
fn free_call<S: Subject>(state: &S, pool: Option<&str>, first: u64, last: u64) -> Call {
    match state.pool(pool) {
        PoolRef::Ids(_) => Call::FreeIds(first as u32, last as u32),
        PoolRef::Addresses(_) => Call::Free(first, last),
    }
}

/// Frees `alloc` of `pool` and allocates it again with its owner: the
/// state is as it was, two generations on.
fn again<S: Subject>(state: &mut S, pool: Option<&str>, alloc: &Alloc) {
    let (first, last, owner) = alloc;
    assert!(state.call(pool, free_call(state, pool, *first, *last), None));
    match state.pool(pool) {
        PoolRef::Ids(_) => {
            for id in *first as u32..=*last as u32 {
                assert!(state.call(pool, Call::AllocateIdAt(id), owner.as_ref()));
            }
        }
        PoolRef::Addresses(_) => {
            let call = Call::Allocate(last - first + 1, 1, AllocPolicy::ExactMatch(*first));
            assert!(state.call(pool, call, owner.as_ref()));
        }
    }
}

/// Moves a state's generation up, leaving it as it was.
fn bump<S: Subject>(state: &mut S) {
    for (pool, kind) in S::pools() {
        if let Some(alloc) = state.pool(pool).allocations().first().cloned() {
            return again(state, pool, &alloc);
        }
        let call = match kind {
            PoolKind::Ids => Call::AllocateId,
            PoolKind::Addresses => Call::Allocate(UNIT, UNIT, AllocPolicy::FirstMatch),
        };
        if state.call(pool, call, None) {
            let (first, last, _) = state.pool(pool).allocations()[0].clone();
            assert!(state.call(pool, free_call(state, pool, first, last), None));
            return;
        }
    }
    unreachable!("every pool is empty and refuses an allocation");
}

fn same<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "{what}: the history gave {got:?}, the model expects {want:?}"
        ))
    }
}

fn same_lazy<T: PartialEq + std::fmt::Debug>(
    what: impl FnOnce() -> String,
    got: T,
    want: T,
) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        same(&what(), got, want)
    }
}
