// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Playing a scenario: the live state, the snapshots, and each action
//! checked against the models.

use vm_allocator::format::{EncodeError, WRITABLE_VERSIONS};
use vm_allocator::{
    AddressAllocator, AllocPolicy, Delta, Diff, DiffError, IdAllocator, ResourceSet, SetError,
    Transaction,
};

use super::{
    check_address, check_address_light, check_ids, check_ids_light, check_set, check_set_light,
    normalize, same, scenario_set, to_pair, Action, AddrCall, AddressModel, DiffModel, Forced,
    IdCall, IdModel, IdRangeSel, Op, OwnerSel, Rebuild, SetModel, SpaceSel, Subject, Tx, TxEnd,
    Value, MAX_FILL, MAX_SNAPSHOTS, MAX_TX_STEPS,
};

/// Every this many actions, every state is checked in full; in between,
/// in full only what the action may have changed (and cheaply the rest).
pub const FULL_CHECK_EVERY: usize = 16;

/// Which parts of the state an action may have changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Touched {
    /// The address allocators (live and kept).
    pub addr: bool,
    /// The id allocators.
    pub ids: bool,
    /// The sets.
    pub set: bool,
}

impl Touched {
    /// Everything.
    pub const ALL: Touched = Touched {
        addr: true,
        ids: true,
        set: true,
    };
    /// Nothing.
    pub const NONE: Touched = Touched {
        addr: false,
        ids: false,
        set: false,
    };

    /// What `op` may change.
    pub fn by(op: &Op) -> Touched {
        match op {
            Op::Addr(_) | Op::Fill { .. } | Op::FreeEvery { .. } | Op::Query(_) => Touched {
                addr: true,
                ..Touched::NONE
            },
            Op::Id(_) | Op::FillIds { .. } | Op::FreeIdsEvery { .. } | Op::QueryId(_) => Touched {
                ids: true,
                ..Touched::NONE
            },
            Op::Set(_) => Touched {
                set: true,
                ..Touched::NONE
            },
        }
    }
}

/// The two allocators, the set, and their models.
#[derive(Debug, Clone)]
pub struct Pools {
    /// The real address allocator.
    pub addr: AddressAllocator,
    /// Its model.
    pub addr_model: AddressModel,
    /// The real id allocator.
    pub ids: IdAllocator,
    /// Its model.
    pub id_model: IdModel,
    /// The real resource set.
    pub set: ResourceSet,
    /// Its model.
    pub set_model: SetModel,
}

/// What a run exercised: lets a test check that the strategies reach every
/// feature, so that a runner which compares nothing cannot pass unnoticed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Successful allocations with an owner (allocators and set).
    pub owned_allocations: usize,
    /// Successful `set_owner` / `set_id_owner` calls.
    pub owner_sets: usize,
    /// `free_owner` calls that freed something.
    pub owners_freed: usize,
    /// Successful calls on the set.
    pub set_calls_ok: usize,
    /// Set calls refused with `NoSuchPool`.
    pub set_no_such_pool: usize,
    /// Set calls refused with `WrongKind`.
    pub set_wrong_kind: usize,
    /// Non-empty diffs between states that share history.
    pub diffs_shared: usize,
    /// Non-empty diffs between states that share nothing.
    pub diffs_rebuilt: usize,
    /// Diffs of states of other shapes, refused.
    pub shape_mismatches: usize,
    /// Deltas applied (through their bytes) to the state they name.
    pub deltas_applied: usize,
    /// Deltas refused by another state.
    pub deltas_refused: usize,
    /// Diffs refused by another state.
    pub diffs_refused: usize,
    /// Diffs accepted by another state (the one they name, or one that
    /// happens to fit).
    pub diffs_reapplied: usize,
    /// Transactions committed after at least one step.
    pub tx_committed: usize,
    /// Transactions in which a step failed by itself.
    pub tx_failed: usize,
    /// Transactions failed on purpose.
    pub tx_forced: usize,
    /// Transactions rolled back or dropped after successful steps.
    pub tx_abandoned: usize,
    /// States encoded and decoded.
    pub round_trips: usize,
    /// States format version 1 refused.
    pub v1_refusals: usize,
}

impl Stats {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Stats) {
        let Stats {
            owned_allocations,
            owner_sets,
            owners_freed,
            set_calls_ok,
            set_no_such_pool,
            set_wrong_kind,
            diffs_shared,
            diffs_rebuilt,
            shape_mismatches,
            deltas_applied,
            deltas_refused,
            diffs_refused,
            diffs_reapplied,
            tx_committed,
            tx_failed,
            tx_forced,
            tx_abandoned,
            round_trips,
            v1_refusals,
        } = *other;
        self.owned_allocations += owned_allocations;
        self.owner_sets += owner_sets;
        self.owners_freed += owners_freed;
        self.set_calls_ok += set_calls_ok;
        self.set_no_such_pool += set_no_such_pool;
        self.set_wrong_kind += set_wrong_kind;
        self.diffs_shared += diffs_shared;
        self.diffs_rebuilt += diffs_rebuilt;
        self.shape_mismatches += shape_mismatches;
        self.deltas_applied += deltas_applied;
        self.deltas_refused += deltas_refused;
        self.diffs_refused += diffs_refused;
        self.diffs_reapplied += diffs_reapplied;
        self.tx_committed += tx_committed;
        self.tx_failed += tx_failed;
        self.tx_forced += tx_forced;
        self.tx_abandoned += tx_abandoned;
        self.round_trips += round_trips;
        self.v1_refusals += v1_refusals;
    }

    fn tally<E>(&mut self, owned: bool, set_owner: bool, result: &Result<Value, E>) {
        match result {
            Ok(Value::Range(..) | Value::Id(_) | Value::Ids(..)) if owned => {
                self.owned_allocations += 1
            }
            Ok(Value::Freed(v)) if !v.is_empty() => self.owners_freed += 1,
            Ok(Value::FreedIds(v)) if !v.is_empty() => self.owners_freed += 1,
            Ok(Value::FreedInSet(v)) if !v.is_empty() => self.owners_freed += 1,
            Ok(_) if set_owner => self.owner_sets += 1,
            _ => {}
        }
    }

    fn tally_set(&mut self, result: &Result<Value, SetError>) {
        match result {
            Ok(_) => self.set_calls_ok += 1,
            Err(SetError::NoSuchPool(_)) => self.set_no_such_pool += 1,
            Err(SetError::WrongKind { .. }) => self.set_wrong_kind += 1,
            Err(_) => {}
        }
    }
}

impl AddrCall {
    fn is_owned(&self) -> bool {
        matches!(
            self,
            AddrCall::Allocate { owner: Some(_), .. }
                | AddrCall::AllocateWith { owner: Some(_), .. }
        )
    }

    fn is_set_owner(&self) -> bool {
        matches!(self, AddrCall::SetOwner(..))
    }
}

impl IdCall {
    fn is_owned(&self) -> bool {
        matches!(
            self,
            IdCall::AllocateId(Some(_))
                | IdCall::AllocateIdAt(_, Some(_))
                | IdCall::AllocateIds(_, _, Some(_))
        )
    }

    fn is_set_owner(&self) -> bool {
        matches!(self, IdCall::SetOwner(..))
    }
}

impl Pools {
    /// Fresh allocators and set on the selected space and id range.
    pub fn new(space: SpaceSel, ids: IdRangeSel) -> Result<Self, String> {
        let (base, size) = space.base_and_size();
        let (first, last) = ids.bounds();
        let addr = AddressAllocator::new(base, size)
            .map_err(|e| format!("AddressAllocator::new({base:#x}, {size:#x}): {e:?}"))?;
        let ids_alloc = IdAllocator::new(first, last)
            .map_err(|e| format!("IdAllocator::new({first}, {last}): {e:?}"))?;
        let (set, set_model) = scenario_set(space, ids)?;
        Ok(Pools {
            addr,
            addr_model: AddressModel::new(base, size).expect("a valid space"),
            ids: ids_alloc,
            id_model: IdModel::new(first, last).expect("a valid range"),
            set,
            set_model,
        })
    }

    fn addr_call(&mut self, call: &AddrCall, stats: &mut Stats) -> Result<(), String> {
        let real = call.call(&mut self.addr);
        let model = call.model(&mut self.addr_model);
        stats.tally(call.is_owned(), call.is_set_owner(), &model);
        same(&format!("{call:?}"), real, model)
    }

    fn id_call(&mut self, call: &IdCall, stats: &mut Stats) -> Result<(), String> {
        let real = call.call(&mut self.ids);
        let model = call.model(&mut self.id_model);
        stats.tally(call.is_owned(), call.is_set_owner(), &model);
        same(&format!("{call:?}"), real, model)
    }

    /// Applies `op` to the allocator (or set) and to its model, comparing
    /// every result.
    pub fn apply(&mut self, op: &Op, stats: &mut Stats) -> Result<(), String> {
        match *op {
            Op::Addr(ref step) => match step.resolve(&self.addr_model)? {
                Some(call) => self.addr_call(&call, stats),
                None => Ok(()),
            },
            Op::Fill {
                count,
                size,
                align,
                last,
                owner,
            } => {
                let m = &self.addr_model;
                let (size, align) = (size.resolve(m), align.resolve());
                let policy = if last {
                    AllocPolicy::LastMatch
                } else {
                    AllocPolicy::FirstMatch
                };
                let call = AddrCall::Allocate {
                    size,
                    align,
                    policy,
                    owner: OwnerSel::resolve(owner),
                };
                for i in 0..usize::from(count) % (MAX_FILL + 1) {
                    let real = call.call(&mut self.addr);
                    let model = call.model(&mut self.addr_model);
                    stats.tally(call.is_owned(), false, &model);
                    let stop = model.is_err();
                    same(&format!("fill #{i}: {call:?}"), real, model)?;
                    if stop {
                        break;
                    }
                }
                Ok(())
            }
            Op::FreeEvery { stride, offset } => {
                let victims: Vec<(u64, u64)> = self
                    .addr_model
                    .runs()
                    .into_iter()
                    .skip(offset.into())
                    .step_by(usize::from(stride % 8) + 2)
                    .collect();
                victims.into_iter().try_for_each(|(s, e)| {
                    let r = vm_allocator::RangeInclusive::new(s, e).expect("an allocation");
                    self.addr_call(&AddrCall::Free(r), stats)
                })
            }
            Op::Query(sel) => {
                let m = &self.addr_model;
                let a = sel.resolve(m);
                same(
                    &format!("allocation_containing({a:#x})"),
                    self.addr.allocation_containing(a).map(to_pair),
                    m.containing(a),
                )?;
                same(
                    &format!("is_allocated({a:#x})"),
                    self.addr.is_allocated(a),
                    m.containing(a).is_some(),
                )?;
                same(
                    &format!("owner_at({a:#x})"),
                    self.addr.owner_at(a),
                    m.owner_at(a),
                )
            }
            Op::Id(ref step) => {
                let call = step.resolve(&self.id_model);
                self.id_call(&call, stats)
            }
            Op::FillIds { count, owner } => {
                let call = IdCall::AllocateId(OwnerSel::resolve(owner));
                for i in 0..usize::from(count) % (MAX_FILL + 1) {
                    let real = call.call(&mut self.ids);
                    let model = call.model(&mut self.id_model);
                    stats.tally(call.is_owned(), false, &model);
                    let stop = model.is_err();
                    same(&format!("fill #{i}: {call:?}"), real, model)?;
                    if stop {
                        break;
                    }
                }
                Ok(())
            }
            Op::FreeIdsEvery { stride, offset } => {
                let victims: Vec<u32> = self
                    .id_model
                    .allocated
                    .iter()
                    .copied()
                    .skip(offset.into())
                    .step_by(usize::from(stride % 8) + 2)
                    .collect();
                victims
                    .into_iter()
                    .try_for_each(|id| self.id_call(&IdCall::FreeId(id), stats))
            }
            Op::QueryId(sel) => {
                let id = sel.resolve(&self.id_model);
                same(
                    &format!("is_allocated({id})"),
                    self.ids.is_allocated(id),
                    self.id_model.allocated.contains(&id),
                )?;
                same(
                    &format!("owner_at({id})"),
                    self.ids.owner_at(id),
                    self.id_model.owner_at(id),
                )
            }
            Op::Set(ref op) => {
                let Some(call) = op.resolve(&self.set_model)? else {
                    return Ok(());
                };
                let real = call.call(&mut self.set);
                let model = self.set_model.call(&call);
                stats.tally_set(&model);
                let (owned, set_owner) = match &call.call {
                    super::PoolCall::Addr(c) => (c.is_owned(), c.is_set_owner()),
                    super::PoolCall::Id(c) => (c.is_owned(), c.is_set_owner()),
                };
                stats.tally(owned, set_owner, &model);
                same(&format!("set {call:?}"), real, model)
            }
        }
    }

    /// Compares the whole state with the models and checks the invariants.
    /// `probe` rotates which allocations get their boundaries probed.
    pub fn check(&self, probe: Option<usize>) -> Result<(), String> {
        self.check_parts(Touched::ALL, probe)
    }

    /// Compares the `full` parts in full, the others cheaply (generations,
    /// sizes).
    pub fn check_parts(&self, full: Touched, probe: Option<usize>) -> Result<(), String> {
        if full.addr {
            check_address(&self.addr, &self.addr_model, probe)?;
        } else {
            check_address_light(&self.addr, &self.addr_model)?;
        }
        if full.ids {
            check_ids(&self.ids, &self.id_model, probe)?;
        } else {
            check_ids_light(&self.ids, &self.id_model)?;
        }
        if full.set {
            check_set(&self.set, &self.set_model, probe)
        } else {
            check_set_light(&self.set, &self.set_model)
        }
        .map_err(|e| format!("set: {e}"))
    }
}

/// The live state, the kept snapshots, and how many actions ran.
#[derive(Debug)]
pub struct Runner {
    /// What the actions change.
    pub live: Pools,
    /// Clones kept by `Action::Snapshot`, oldest first.
    pub snapshots: Vec<Pools>,
    /// What the actions exercised so far.
    pub stats: Stats,
    steps: usize,
}

impl Runner {
    /// Fresh allocators on the scenario's space and id range.
    pub fn new(space: SpaceSel, ids: IdRangeSel) -> Result<Self, String> {
        let runner = Runner {
            live: Pools::new(space, ids)?,
            snapshots: Vec::new(),
            stats: Stats::default(),
            steps: 0,
        };
        runner.check()?;
        Ok(runner)
    }

    /// Plays one action, then checks what it may have changed (everything,
    /// every [`FULL_CHECK_EVERY`] actions).
    pub fn step(&mut self, action: &Action) -> Result<(), String> {
        self.steps += 1;
        let touched = match action {
            Action::Op(op) | Action::MutateSnapshot { op, .. } => Touched::by(op),
            Action::Restore { .. } | Action::Reset { .. } => Touched::ALL,
            Action::Transaction { tx, .. } => Touched {
                addr: matches!(tx, Tx::Addresses(_)),
                ids: matches!(tx, Tx::Ids(_)),
                set: matches!(tx, Tx::Set(_)),
            },
            Action::Snapshot
            | Action::DropSnapshot { .. }
            | Action::NewAddress { .. }
            | Action::NewIds { .. }
            | Action::Diff { .. }
            | Action::RoundTrip => Touched::NONE,
        };
        match action {
            Action::Op(op) => self.live.apply(op, &mut self.stats)?,
            Action::Snapshot => {
                if self.snapshots.len() == MAX_SNAPSHOTS {
                    self.snapshots.remove(0);
                }
                self.snapshots.push(self.live.clone());
            }
            Action::MutateSnapshot { slot, op } => {
                if let Some(i) = self.slot(*slot) {
                    self.snapshots[i].apply(op, &mut self.stats)?;
                }
            }
            Action::Restore { slot } => {
                if let Some(i) = self.slot(*slot) {
                    self.live = self.snapshots[i].clone();
                }
            }
            Action::DropSnapshot { slot } => {
                if let Some(i) = self.slot(*slot) {
                    self.snapshots.remove(i);
                }
            }
            Action::NewAddress { base, size } => same(
                &format!("AddressAllocator::new({base:#x}, {size:#x})"),
                AddressAllocator::new(*base, *size)
                    .map(|a| (to_pair(a.space()), a.generation(), a.len())),
                AddressModel::new(*base, *size).map(|m| ((m.base, m.end), 0, 0)),
            )?,
            Action::NewIds { base, end } => same(
                &format!("IdAllocator::new({base}, {end})"),
                IdAllocator::new(*base, *end)
                    .map(|a| (a.range_base(), a.range_end(), a.used(), a.generation())),
                IdModel::new(*base, *end).map(|m| (m.base, m.end, 0, 0)),
            )?,
            Action::Reset { space, ids } => self.live = Pools::new(*space, *ids)?,
            Action::Diff {
                slot,
                rebuild,
                reverse,
            } => self.diff(*slot, *rebuild, *reverse)?,
            Action::Transaction { tx, end } => self.transaction(tx, *end)?,
            Action::RoundTrip => {
                let live = &self.live;
                round_trip(&live.addr, &live.addr_model, &mut self.stats)
                    .map_err(|e| format!("address allocator: {e}"))?;
                round_trip(&live.ids, &live.id_model, &mut self.stats)
                    .map_err(|e| format!("id allocator: {e}"))?;
                round_trip(&live.set, &live.set_model, &mut self.stats)
                    .map_err(|e| format!("resource set: {e}"))?;
            }
        }
        if self.steps.is_multiple_of(FULL_CHECK_EVERY) {
            self.check()
        } else {
            self.check_parts(touched)
        }
    }

    fn slot(&self, slot: u8) -> Option<usize> {
        (!self.snapshots.is_empty()).then(|| usize::from(slot) % self.snapshots.len())
    }

    /// Checks the live state (probing lookups), every snapshot, and that
    /// equality and ordering between live and snapshot states agree with
    /// their models.
    pub fn check(&self) -> Result<(), String> {
        self.check_parts(Touched::ALL)
    }

    /// [`check`](Self::check) in full for the `full` parts, cheaply for
    /// the others.
    pub fn check_parts(&self, full: Touched) -> Result<(), String> {
        self.live.check_parts(full, Some(self.steps))?;
        for (i, snap) in self.snapshots.iter().enumerate() {
            snap.check_parts(full, None)
                .map_err(|e| format!("snapshot {i} changed: {e}"))?;
            let live = &self.live;
            if full.addr {
                same(
                    &format!("live address allocator == snapshot {i}"),
                    live.addr == snap.addr,
                    live.addr_model.same_state(&snap.addr_model),
                )?;
                same(
                    &format!("live address allocator cmp snapshot {i}"),
                    live.addr.cmp(&snap.addr),
                    live.addr_model
                        .order_key()
                        .cmp(&snap.addr_model.order_key()),
                )?;
            }
            if full.ids {
                same(
                    &format!("live id allocator == snapshot {i}"),
                    live.ids == snap.ids,
                    live.id_model.same_state(&snap.id_model),
                )?;
            }
            if full.set {
                same(
                    &format!("live set == snapshot {i}"),
                    live.set == snap.set,
                    live.set_model.same_state(&snap.set_model),
                )?;
            }
        }
        Ok(())
    }

    /// [`Action::Diff`] on both allocators and the set.
    fn diff(&mut self, slot: u8, rebuild: Rebuild, reverse: bool) -> Result<(), String> {
        let snap = match self.slot(slot) {
            Some(i) => self.snapshots[i].clone(),
            None => self.live.clone(),
        };
        let (older, newer) = if reverse {
            (self.live.clone(), snap)
        } else {
            (snap, self.live.clone())
        };
        let others: Vec<&Pools> = self.snapshots.iter().chain([&self.live]).collect();
        let stats = &mut self.stats;
        diff_one(
            (&older.addr, &older.addr_model),
            (&newer.addr, &newer.addr_model),
            others.iter().map(|p| (&p.addr, &p.addr_model)),
            rebuild,
            stats,
        )
        .map_err(|e| format!("address allocator: {e}"))?;
        diff_one(
            (&older.ids, &older.id_model),
            (&newer.ids, &newer.id_model),
            others.iter().map(|p| (&p.ids, &p.id_model)),
            rebuild,
            stats,
        )
        .map_err(|e| format!("id allocator: {e}"))?;
        diff_one(
            (&older.set, &older.set_model),
            (&newer.set, &newer.set_model),
            others.iter().map(|p| (&p.set, &p.set_model)),
            rebuild,
            stats,
        )
        .map_err(|e| format!("resource set: {e}"))
    }

    /// [`Action::Transaction`] on the live state.
    fn transaction(&mut self, tx: &Tx, end: TxEnd) -> Result<(), String> {
        let live = &mut self.live;
        let stats = &mut self.stats;
        match tx {
            Tx::Addresses(steps) => run_transaction(
                &mut live.addr,
                &mut live.addr_model,
                steps,
                end,
                stats,
                |step, m| step.resolve(m),
                |call, tx| call.call_tx(tx),
                |call, m| call.model(m),
                |a| {
                    let _ = a.allocate(1, 1, AllocPolicy::FirstMatch);
                },
            ),
            Tx::Ids(steps) => run_transaction(
                &mut live.ids,
                &mut live.id_model,
                steps,
                end,
                stats,
                |step, m| Ok(Some(step.resolve(m))),
                |call, tx| call.call_tx(tx),
                |call, m| call.model(m),
                |ids| {
                    let _ = ids.allocate_id();
                },
            ),
            Tx::Set(steps) => run_transaction(
                &mut live.set,
                &mut live.set_model,
                steps,
                end,
                stats,
                |step, m| step.resolve(m),
                |call, tx| call.call_tx(tx),
                |call, m| m.call(call),
                |s| {
                    let _ = s.allocate_id("legacy_gsi");
                    let _ = s.allocate("pio", 1, 1, AllocPolicy::LastMatch);
                },
            )
            .map_err(|e| format!("set: {e}")),
        }
    }
}

/// Rebuilds `s` from its encoding (bytes or JSON), which shares nothing
/// with it, checking it comes back equal at the same generation.
fn rebuilt<S: Subject>(s: &S, json: bool) -> Result<S, String> {
    let r = if json {
        S::from_json(&s.to_json()).map_err(|e| format!("serde_json: {e}"))?
    } else {
        S::decode(&s.encode()).map_err(|e| format!("from_bytes(to_bytes()): {e}"))?
    };
    same("rebuilt state", &r, s)?;
    same("rebuilt generation", r.generation(), s.generation())?;
    Ok(r)
}

/// `Diff::between(older, newer)` and `Delta::between` checked against the
/// naive diff of the models, applied to `older` (directly and through the
/// delta's bytes), and to every state of `others` and to `older` at another
/// generation, whose answers the models predict.
fn diff_one<'a, S: Subject + 'a>(
    older: (&S, &S::Model),
    newer: (&S, &S::Model),
    others: impl Iterator<Item = (&'a S, &'a S::Model)>,
    rebuild: Rebuild,
    stats: &mut Stats,
) -> Result<(), String> {
    let (ma, mb) = (older.1, newer.1);
    let (mut a, mut b) = (older.0.clone(), newer.0.clone());
    match rebuild {
        Rebuild::Shared => {}
        Rebuild::OlderFromBytes => a = rebuilt(&a, false)?,
        Rebuild::NewerFromBytes => b = rebuilt(&b, false)?,
        Rebuild::BothFromBytes => (a, b) = (rebuilt(&a, false)?, rebuilt(&b, false)?),
        Rebuild::BothFromJson => (a, b) = (rebuilt(&a, true)?, rebuilt(&b, true)?),
    }
    let refused = Err(DiffError::ShapeMismatch {
        what: String::new(),
    });
    if !S::same_shape(ma, mb) {
        same(
            "Diff::between states of other shapes",
            Diff::between(&a, &b).map(drop).map_err(normalize),
            refused.clone(),
        )?;
        same(
            "Delta::between states of other shapes",
            Delta::between(&a, &b).map(drop).map_err(normalize),
            refused,
        )?;
        stats.shape_mismatches += 1;
        return Ok(());
    }
    let diff = Diff::between(&a, &b).map_err(|e| format!("Diff::between: {e}"))?;
    let expected = S::model_diff(ma, mb);
    same("Diff::between", &DiffModel::of(&diff), &expected)?;
    same("Diff::len()", diff.len(), expected.len())?;
    same("Diff::is_empty()", diff.is_empty(), expected.len() == 0)?;
    same(
        "Diff::changes()",
        diff.changes()
            .map(|c| {
                (
                    c.kind,
                    c.pool.map(str::to_owned),
                    c.pool_kind,
                    c.range.start(),
                    c.range.end(),
                    super::name_of(c.owner),
                )
            })
            .collect::<Vec<_>>(),
        expected.changes(),
    )?;
    same(
        "lines of the diff's Display",
        diff.to_string().lines().count(),
        expected.len(),
    )?;
    if expected.len() > 0 {
        match rebuild {
            Rebuild::Shared => stats.diffs_shared += 1,
            _ => stats.diffs_rebuilt += 1,
        }
    }

    // Applied to the older state: the newer one, generation included.
    let applied = diff
        .apply(&a)
        .map_err(|e| format!("Diff::apply to the older state: {e}"))?;
    applied
        .check(mb)
        .map_err(|e| format!("Diff::apply to the older state: {e}"))?;
    same("Diff::apply to the older state", &applied, &b)?;

    // The same through a delta file.
    let delta = Delta::between(&a, &b).map_err(|e| format!("Delta::between: {e}"))?;
    same("Delta::diff()", delta.diff(), &diff)?;
    same(
        "Delta generations",
        (delta.base_generation(), delta.target_generation()),
        expected.generations,
    )?;
    same("Delta::kind()", delta.kind(), S::FILE_KIND)?;
    let bytes = delta.to_bytes();
    let decoded = Delta::from_bytes(&bytes).map_err(|e| format!("Delta::from_bytes: {e}"))?;
    same("Delta::from_bytes(to_bytes())", &decoded, &delta)?;
    same("the delta's bytes re-encoded", decoded.to_bytes(), bytes)?;
    let applied = decoded
        .apply(&a)
        .map_err(|e| format!("Delta::apply to the older state: {e}"))?;
    applied
        .check(mb)
        .map_err(|e| format!("Delta::apply to the older state: {e}"))?;
    stats.deltas_applied += 1;

    // Every other state: the delta takes only the one it names (same
    // content and generations), the diff what the naive replay accepts.
    let generation = S::model_generation(ma);
    let bumped = a.with_generation(generation.wrapping_add(1));
    let mut bumped_model = ma.clone();
    S::set_model_generation(&mut bumped_model, generation.wrapping_add(1));
    bumped
        .check(&bumped_model)
        .map_err(|e| format!("the older state at another generation: {e}"))?;
    let mut others: Vec<(&S, &S::Model)> = others.collect();
    others.push((&bumped, &bumped_model));
    for (i, (s, m)) in others.into_iter().enumerate() {
        let what = |call: &str| format!("{call} to other state #{i}");
        let found = S::model_generation(m);
        match (decoded.apply(s), found == generation, m == ma) {
            (Err(e), false, _) => same(
                &what("Delta::apply"),
                e,
                DiffError::GenerationMismatch {
                    pool: None,
                    expected: generation,
                    found,
                },
            )?,
            (Err(DiffError::ChecksumMismatch { expected, found }), true, false) => {
                same(&what("Delta::apply"), expected, decoded.base_checksum())?;
                if found == expected {
                    return Err(what(
                        "Delta::apply: a checksum mismatch with equal checksums",
                    ));
                }
            }
            (Ok(r), true, true) => r
                .check(mb)
                .map_err(|e| format!("{}: {e}", what("Delta::apply")))?,
            (real, ..) => {
                return Err(format!(
                    "{}: gave {real:?} for a state at generation {found} (the delta's is \
                     {generation}), {} the one it names",
                    what("Delta::apply"),
                    if m == ma { "equal to" } else { "not" }
                ))
            }
        }
        if m != ma {
            stats.deltas_refused += 1;
        }
        // A diff does not know the shape of the states it was made from
        // (see `diff_apply_refuses_a_state_of_another_shape` in
        // tests/model.rs): other shapes are only checked where the
        // generation differs, which must be refused.
        if !S::same_shape(m, ma) && found == generation {
            continue;
        }
        match (diff.apply(s), S::model_apply(m, &expected)) {
            (Ok(r), Ok(em)) => {
                r.check(&em)
                    .map_err(|e| format!("{}: {e}", what("Diff::apply")))?;
                stats.diffs_reapplied += 1;
            }
            (Err(e), Err(ee)) => {
                same(&what("Diff::apply"), normalize(e), ee)?;
                stats.diffs_refused += 1;
            }
            (real, model) => {
                return Err(format!(
                    "{}: gave {real:?}, the model expects {model:?}",
                    what("Diff::apply")
                ))
            }
        }
    }
    Ok(())
}

/// Runs `steps` in a transaction on `state`, comparing each step, the
/// state after it, the failure (first failing step, forced or not) and the
/// end with the models: committed, every effect; otherwise the state and
/// generation from before.
#[allow(clippy::too_many_arguments)]
fn run_transaction<S, St, C>(
    state: &mut S,
    model: &mut S::Model,
    steps: &[St],
    end: TxEnd,
    stats: &mut Stats,
    resolve: impl Fn(&St, &S::Model) -> Result<Option<C>, String>,
    real: impl Fn(&C, &mut Transaction<'_, S>) -> Result<Value, (usize, S::Error)>,
    modelled: impl Fn(&C, &mut S::Model) -> Result<Value, S::Error>,
    mutate: impl Fn(&mut S),
) -> Result<(), String>
where
    S: Subject,
    S::Error: Forced,
    C: std::fmt::Debug,
{
    let before = model.clone();
    let mut m = model.clone();
    let mut failed: Option<(usize, S::Error)> = None;
    let mut ran = 0;
    let mut tx = Transaction::new(state);
    for step in steps.iter().take(MAX_TX_STEPS) {
        let Some(call) = resolve(step, &m)? else {
            continue;
        };
        // After a failure, a step is not run: it returns that failure.
        let expected = match &failed {
            Some(f) => Err(f.clone()),
            None => {
                ran += 1;
                modelled(&call, &mut m).map_err(|e| {
                    failed = Some((ran - 1, e.clone()));
                    (ran - 1, e)
                })
            }
        };
        let result = real(&call, &mut tx);
        same(&format!("step {call:?}"), result, expected)?;
        same("steps()", tx.steps(), ran)?;
        let now = if failed.is_some() { &before } else { &m };
        S::check(&tx, now).map_err(|e| format!("the state after step {call:?}: {e}"))?;
    }
    if failed.is_some() {
        stats.tx_failed += 1;
    }
    if let TxEnd::Fail { mutate: first } = end {
        let forced = S::Error::forced();
        let expected = failed.clone().unwrap_or((ran, forced.clone()));
        let result = tx
            .step(|s| {
                if first {
                    mutate(s);
                }
                Err::<(), _>(forced)
            })
            .map_err(|e| (e.step(), e.error().clone()));
        same("a step failing on purpose", result, Err(expected.clone()))?;
        same("steps() after failing", tx.steps(), expected.0 + 1)?;
        S::check(&tx, &before).map_err(|e| format!("the state after failing on purpose: {e}"))?;
        let result = tx
            .step(|s| {
                mutate(s);
                Ok(())
            })
            .map_err(|e| (e.step(), e.error().clone()));
        same("a step after the failure", result, Err(expected.clone()))?;
        same(
            "steps() after a step after the failure",
            tx.steps(),
            expected.0 + 1,
        )?;
        S::check(&tx, &before)
            .map_err(|e| format!("the state after a step after the failure: {e}"))?;
        failed = Some(expected);
        stats.tx_forced += 1;
    }
    let after = match end {
        TxEnd::Commit | TxEnd::Fail { .. } => {
            let result = tx.commit().map_err(|e| (e.step(), e.error().clone()));
            match failed {
                Some(f) => {
                    same("commit()", result, Err(f))?;
                    before
                }
                None => {
                    same("commit()", result, Ok(()))?;
                    if ran > 0 {
                        stats.tx_committed += 1;
                    }
                    m
                }
            }
        }
        TxEnd::Rollback => {
            tx.rollback();
            if failed.is_none() && ran > 0 {
                stats.tx_abandoned += 1;
            }
            before
        }
        TxEnd::Drop => {
            drop(tx);
            if failed.is_none() && ran > 0 {
                stats.tx_abandoned += 1;
            }
            before
        }
    };
    S::check(state, &after).map_err(|e| format!("after the transaction ({end:?}): {e}"))?;
    *model = after;
    Ok(())
}

/// Encodes `s` in every form and decodes it back: the current format (and
/// its canonical bytes), version 1 when it fits and its refusal naming the
/// first owner otherwise, unsupported versions, serde_json, and
/// `without_owners()`.
fn round_trip<S: Subject>(s: &S, m: &S::Model, stats: &mut Stats) -> Result<(), String> {
    let bytes = s.encode();
    let back = S::decode(&bytes).map_err(|e| format!("from_bytes(to_bytes()): {e}"))?;
    back.check(m)
        .map_err(|e| format!("from_bytes(to_bytes()): {e}"))?;
    same("from_bytes(to_bytes())", &back, s)?;
    same(
        "to_bytes() of the decoded state",
        back.encode(),
        bytes.clone(),
    )?;
    same("to_bytes_version(2)", s.encode_version(2), Ok(bytes))?;
    match (s.encode_version(1), S::v1_refusal(m)) {
        (Ok(v1), None) => {
            let back = S::decode(&v1).map_err(|e| format!("from_bytes of version 1: {e}"))?;
            // Version 1 does not hold the generation: it reads back as 0.
            let mut expected = m.clone();
            S::set_model_generation(&mut expected, 0);
            back.check(&expected)
                .map_err(|e| format!("from_bytes of version 1: {e}"))?;
        }
        (Err(e), Some(what)) => {
            same(
                "to_bytes_version(1)",
                e,
                EncodeError::DoesNotFit { version: 1, what },
            )?;
            stats.v1_refusals += 1;
        }
        (real, expected) => {
            return Err(format!(
                "to_bytes_version(1) gave {real:?}, the model expects {}",
                match expected {
                    Some(what) => format!("a refusal of {what:?}"),
                    None => "bytes".to_owned(),
                }
            ))
        }
    }
    for version in [0, 3, u16::MAX] {
        same(
            &format!("to_bytes_version({version})"),
            s.encode_version(version),
            Err(EncodeError::UnsupportedVersion {
                version,
                supported: WRITABLE_VERSIONS,
            }),
        )?;
    }
    let json = s.to_json();
    let back = S::from_json(&json).map_err(|e| format!("serde_json: {e}"))?;
    back.check(m).map_err(|e| format!("serde_json: {e}"))?;
    same("serde_json of the decoded state", back.to_json(), json)?;
    let bare = s.drop_owners();
    let bare_model = S::model_without_owners(m);
    bare.check(&bare_model)
        .map_err(|e| format!("without_owners(): {e}"))?;
    same(
        "without_owners() == the state",
        bare == *s,
        S::same_state(&bare_model, m),
    )?;
    if S::v1_refusal(&bare_model).is_none() {
        let v1 = bare
            .encode_version(1)
            .map_err(|e| format!("to_bytes_version(1) without owners: {e}"))?;
        S::decode(&v1).map_err(|e| format!("from_bytes of version 1 without owners: {e}"))?;
    }
    stats.round_trips += 1;
    Ok(())
}
