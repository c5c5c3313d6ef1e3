// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Reconciling a state with what the VM's devices claim to hold, and
//! adopting the claims.
//!
//! A restored state is valid in itself (the decoders see to that), but
//! nothing says it agrees with the devices: which device holds which GSI,
//! MSI vectors and BARs. `reconcile` lists every disagreement as a
//! [`Finding`]; `adopt` makes the state hold exactly the claims, all or
//! nothing; `from_claims` builds a state from the claims alone on a
//! layout.
//!
//! The files, by concern:
//! - `claim.rs`: [`Claim`];
//! - `report.rs`: [`Report`], [`Finding`] and what they show;
//! - `sweep.rs`: the rules of one pool (conflicts, then one sweep over
//!   claims and allocations);
//! - `adopt.rs`: the edits that act on a pool's findings, [`AdoptError`];
//! - `build.rs`: a pool built from its claims alone (`from_claims`);
//! - this file: outside claims, pools, and the methods of the states.

mod adopt;
mod build;
mod claim;
mod report;
mod sweep;

use alloc::vec::Vec;

use crate::set::Entry;
use crate::{AddressAllocator, IdAllocator, Pool, PoolKind, ResourceSet};

pub use adopt::AdoptError;
pub use claim::Claim;
pub use report::{Allocated, Finding, FindingKind, OutsideReason, Report};

use report::PoolRef;

/// The allocator of one pool, or of a lone allocator.
#[derive(Clone, Copy)]
enum Target<'a> {
    Ids(&'a IdAllocator),
    Addresses(&'a AddressAllocator),
}

impl<'a> Target<'a> {
    fn of(pool: &'a Pool) -> Target<'a> {
        match pool {
            Pool::Ids(ids) => Target::Ids(ids),
            Pool::Addresses(a) => Target::Addresses(a),
        }
    }

    fn kind(self) -> PoolKind {
        match self {
            Target::Ids(_) => PoolKind::Ids,
            Target::Addresses(_) => PoolKind::Addresses,
        }
    }

    /// The first and last id or address.
    fn space(self) -> (u64, u64) {
        match self {
            Target::Ids(ids) => (ids.range_base().into(), ids.range_end().into()),
            Target::Addresses(a) => (a.base(), a.end()),
        }
    }

    /// Why `claim` lies outside this pool, if it does: a claim of the
    /// other kind, or not inside the space.
    fn refuses(self, claim: &Claim) -> Option<OutsideReason> {
        let kind = self.kind();
        if claim.kind().is_some_and(|k| k != kind) {
            return Some(OutsideReason::WrongKind { pool_kind: kind });
        }
        let (start, end) = self.space();
        if claim.start() < start || claim.end() > end {
            return Some(OutsideReason::OutsideSpace { start, end });
        }
        None
    }

    /// The findings of this pool for its claims (none of them outside),
    /// in the report's order.
    fn check(self, name: Option<&str>, claims: Vec<&Claim>) -> Vec<Finding> {
        let pool = PoolRef {
            name,
            kind: self.kind(),
        };
        let mut findings = Vec::new();
        let remaining = sweep::split_conflicts(&pool, claims, &mut findings);
        match self {
            Target::Ids(ids) => sweep::check_ids(&pool, ids, &remaining, &mut findings),
            Target::Addresses(a) => {
                sweep::check_addresses(&pool, a, &remaining, &mut findings);
            }
        }
        // A stable sort: conflicts that tie keep the order of their claims.
        findings.sort_by_key(Finding::sort_key);
        findings
    }
}

/// The pools of a state: their names (none for a lone allocator) and
/// allocators, in the state's order.
type Pools<'a> = Vec<(Option<&'a str>, Target<'a>)>;

fn lone(target: Target<'_>) -> Pools<'_> {
    alloc::vec![(None, target)]
}

fn pools_of(set: &ResourceSet) -> Pools<'_> {
    set.entries()
        .iter()
        .map(|e| (Some(e.name.as_str()), Target::of(&e.pool)))
        .collect()
}

/// The claims sorted out: the outside findings, in the order of the
/// claims, and the claims of each pool.
struct Sorted<'c> {
    outside: Vec<Finding>,
    inside: Vec<Vec<&'c Claim>>,
}

impl<'c> Sorted<'c> {
    /// Sets the outside claims aside and gives each other claim to its
    /// pool. A state whose one pool has no name is a lone allocator.
    ///
    /// Time: O(c p) at worst, O(c) when claims of one pool come together.
    fn new(pools: &Pools<'_>, claims: &'c [Claim]) -> Sorted<'c> {
        let is_lone = matches!(pools.as_slice(), [(None, _)]);
        let mut outside = Vec::new();
        let mut inside: Vec<Vec<&Claim>> = pools.iter().map(|_| Vec::new()).collect();
        // Claims of one pool tend to come together: try the last one first.
        let mut last = 0;
        for claim in claims {
            let found = match (claim.pool(), is_lone) {
                (Some(_), true) => Err((None, OutsideReason::NamesPool)),
                (None, true) => Ok(0),
                (None, false) => Err((None, OutsideReason::NamesNoPool)),
                (Some(name), false) => {
                    if pools.get(last).is_some_and(|(n, _)| *n == Some(name)) {
                        Ok(last)
                    } else {
                        pools
                            .iter()
                            .position(|(n, _)| *n == Some(name))
                            .ok_or((None, OutsideReason::NoSuchPool))
                    }
                }
            };
            let found = found.and_then(|i| {
                let target = pools[i].1;
                match target.refuses(claim) {
                    Some(why) => Err((Some(target.kind()), why)),
                    None => Ok(i),
                }
            });
            match found {
                Ok(i) => {
                    inside[i].push(claim);
                    last = i;
                }
                Err((kind, why)) => {
                    // The kind of a lone allocator is known.
                    let kind = kind.or(is_lone.then(|| pools[0].1.kind()));
                    outside.push(Finding::outside(claim, kind, why));
                }
            }
        }
        Sorted { outside, inside }
    }
}

/// What reconciling found, before it becomes a flat report: the outside
/// findings, then the findings of each pool in the state's order.
struct Reconciled {
    outside: Vec<Finding>,
    pools: Vec<Vec<Finding>>,
}

impl Reconciled {
    fn new(pools: &Pools<'_>, claims: &[Claim]) -> Reconciled {
        let sorted = Sorted::new(pools, claims);
        let pools = pools
            .iter()
            .zip(sorted.inside)
            .map(|((name, target), claims)| target.check(*name, claims))
            .collect();
        Reconciled {
            outside: sorted.outside,
            pools,
        }
    }

    /// The first finding that refuses adoption, in the report's order.
    fn refusal(&self) -> Option<&Finding> {
        self.outside
            .iter()
            .chain(self.pools.iter().flatten())
            .find(|f| f.refuses_adoption())
    }

    fn check_adoptable(&self) -> Result<(), AdoptError> {
        match self.refusal() {
            Some(finding) => Err(AdoptError::new(finding.clone())),
            None => Ok(()),
        }
    }

    fn into_report(self) -> Report {
        let mut findings = self.outside;
        findings.extend(self.pools.into_iter().flatten());
        Report::new(findings)
    }
}

/// The claims of each pool, sorted and disjoint, if none is outside or
/// in conflict; else the first such finding in the report's order (the
/// same that `adopt` names: it does not depend on what the pools hold).
///
/// Time: O(c log c + c p).
fn valid_claims<'c>(
    pools: &Pools<'_>,
    claims: &'c [Claim],
) -> Result<Vec<Vec<&'c Claim>>, AdoptError> {
    let sorted = Sorted::new(pools, claims);
    if let Some(first) = sorted.outside.into_iter().next() {
        return Err(AdoptError::new(first));
    }
    let mut valid = Vec::with_capacity(pools.len());
    for ((name, target), claims) in pools.iter().zip(sorted.inside) {
        let pool = PoolRef {
            name: *name,
            kind: target.kind(),
        };
        let mut conflicts = Vec::new();
        let remaining = sweep::split_conflicts(&pool, claims, &mut conflicts);
        if let Some(first) = conflicts.into_iter().min_by_key(Finding::sort_key) {
            return Err(AdoptError::new(first));
        }
        valid.push(remaining);
    }
    Ok(valid)
}

impl IdAllocator {
    /// Compares the allocator with `claims` and reports every
    /// disagreement, by the rules of [`ResourceSet::reconcile`]. The
    /// allocator is a lone one: a claim that names a pool lies outside
    /// it, and so does a claim of addresses ([`Claim::addresses`]) or
    /// one not inside `range_base..=range_end`.
    ///
    /// Time: O((n + c) log c) for n runs of ids with one owner and c
    /// claims.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, FindingKind, IdAllocator, Owner};
    ///
    /// // The GSIs a snapshot restored, and what the devices say they hold.
    /// let serial = Owner::new("serial0")?;
    /// let rtc = Owner::new("rtc")?;
    /// let mut gsi = IdAllocator::new(4, 23)?;
    /// gsi.owned_by(&serial).allocate_id_at(4)?;
    /// gsi.owned_by(&rtc).allocate_id_at(8)?;
    /// gsi.allocate_id_at(9)?; // nobody's
    /// let claims = [
    ///     Claim::new(4, 4)?.with_owner(serial),
    ///     Claim::new(8, 8)?.with_owner(rtc),
    /// ];
    /// let report = gsi.reconcile(&claims);
    /// assert_eq!(report.len(), 1);
    /// assert_eq!(report.findings()[0].kind(), FindingKind::Unexpected);
    /// assert_eq!(
    ///     report.to_string(),
    ///     "unexpected 9..=9 (1 id): allocated without owner; no claim\n"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reconcile(&self, claims: &[Claim]) -> Report {
        Reconciled::new(&lone(Target::Ids(self)), claims).into_report()
    }

    /// Makes the allocator hold exactly `claims`, as
    /// [`ResourceSet::adopt`] does, and returns the report it acted on.
    ///
    /// Claimed ids get the claim's owner, or keep theirs if the claim has
    /// none (ids it allocates then have none). One past the highest id
    /// it allocates becomes the next id if that is higher. Adopting is one
    /// mutation: the generation moves by one if anything changed.
    ///
    /// Fails, changing nothing, with the first outside or conflicting
    /// claim.
    ///
    /// Time: O((n + c) log c + k log n), k = findings.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, IdAllocator, Owner};
    ///
    /// let serial = Owner::new("serial0")?;
    /// let mut gsi = IdAllocator::from_allocations(4, 23, [4..=4, 9..=9])?;
    /// let report = gsi.adopt(&[Claim::new(4, 5)?.with_owner(serial.clone())])?;
    /// assert_eq!(report.len(), 3); // owner of 4, 5 missing, 9 unexpected
    /// assert_eq!(gsi.ids_of("serial0").collect::<Vec<_>>(), [4..=5]);
    /// assert!(!gsi.is_allocated(9));
    /// assert_eq!(gsi.generation(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn adopt(&mut self, claims: &[Claim]) -> Result<Report, AdoptError> {
        let found = Reconciled::new(&lone(Target::Ids(self)), claims);
        found.check_adoptable()?;
        adopt::apply_ids(self, &found.pools[0]);
        Ok(found.into_report())
    }

    /// Builds an allocator of the range of `layout` that holds exactly
    /// `claims` (what the layout holds is not looked at), at generation
    /// 0, as [`from_allocations`](Self::from_allocations) would from the
    /// same list; the next id is one past the highest claimed id.
    ///
    /// Fails with the first outside or conflicting claim.
    ///
    /// Time: O(c log c).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, IdAllocator, Owner};
    ///
    /// // Rebuild the GSIs from the devices, validated.
    /// let layout = IdAllocator::new(5, 23)?;
    /// let claims = [
    ///     Claim::new(5, 5)?.with_owner(Owner::new("virtio-net0")?),
    ///     Claim::new(7, 7)?.with_owner(Owner::new("virtio-blk0")?),
    /// ];
    /// let mut gsi = IdAllocator::from_claims(&layout, &claims)?;
    /// assert_eq!(gsi.iter().collect::<Vec<_>>(), [5, 7]);
    /// assert_eq!(gsi.generation(), 0);
    /// assert_eq!(gsi.allocate_id()?, 6);
    /// // A GSI claimed twice is refused.
    /// let twice = [Claim::new(5, 5)?, Claim::new(5, 5)?];
    /// assert!(IdAllocator::from_claims(&layout, &twice).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_claims(layout: &IdAllocator, claims: &[Claim]) -> Result<IdAllocator, AdoptError> {
        let valid = valid_claims(&lone(Target::Ids(layout)), claims)?;
        Ok(build::ids(layout, &valid[0]))
    }
}

impl AddressAllocator {
    /// Compares the allocator with `claims` and reports every
    /// disagreement, by the rules of [`ResourceSet::reconcile`]. The
    /// allocator is a lone one: a claim that names a pool lies outside
    /// it, and so does a claim of ids ([`Claim::ids`]) or one not inside
    /// the space.
    ///
    /// Time: O((n + c) log c) for n allocations and c claims.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Claim, FindingKind, Owner};
    ///
    /// let mut mmio = AddressAllocator::new(0xd000_0000, 0x1000_0000)?;
    /// let net0 = Owner::new("virtio-net0")?;
    /// let bar = mmio
    ///     .owned_by(&net0)
    ///     .allocate(0x4000, 0x4000, AllocPolicy::FirstMatch)?;
    /// // The device's BAR moved; the saved state did not follow.
    /// let claim = Claim::new(0xd000_4000, 0xd000_7fff)?.with_owner(net0);
    /// let report = mmio.reconcile(&[claim]);
    /// let kinds: Vec<FindingKind> = report.iter().map(|f| f.kind()).collect();
    /// assert_eq!(kinds, [FindingKind::Unexpected, FindingKind::Missing]);
    /// assert_eq!(
    ///     report.findings()[0].allocation().map(|a| a.range()),
    ///     Some(bar)
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reconcile(&self, claims: &[Claim]) -> Report {
        Reconciled::new(&lone(Target::Addresses(self)), claims).into_report()
    }

    /// Makes the allocator hold exactly `claims`, as
    /// [`ResourceSet::adopt`] does, and returns the report it acted on.
    ///
    /// Adopting is one mutation: the generation moves by one if anything
    /// changed. Fails, changing nothing, with the first outside or
    /// conflicting claim.
    ///
    /// Time: O((n + c) log c + k log n), k = findings.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Claim, Owner, RangeInclusive};
    ///
    /// let mut mmio = AddressAllocator::new(0xd000_0000, 0x1000_0000)?;
    /// let net0 = Owner::new("virtio-net0")?;
    /// mmio.owned_by(&net0)
    ///     .allocate(0x4000, 0x4000, AllocPolicy::FirstMatch)?;
    /// // The device's BAR is 0xd0004000..=0xd0007fff: adopt it.
    /// let claim = Claim::new(0xd000_4000, 0xd000_7fff)?.with_owner(net0.clone());
    /// mmio.adopt(&[claim.clone()])?;
    /// assert_eq!(
    ///     mmio.allocations_of("virtio-net0").collect::<Vec<_>>(),
    ///     [RangeInclusive::new(0xd000_4000, 0xd000_7fff)?]
    /// );
    /// assert_eq!(mmio.generation(), 2); // the allocation, then the adoption
    /// assert!(mmio.reconcile(&[claim]).is_consistent());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn adopt(&mut self, claims: &[Claim]) -> Result<Report, AdoptError> {
        let found = Reconciled::new(&lone(Target::Addresses(self)), claims);
        found.check_adoptable()?;
        adopt::apply_addresses(self, &found.pools[0]);
        Ok(found.into_report())
    }

    /// Builds an allocator of the space of `layout` that holds exactly
    /// `claims` (what the layout holds is not looked at), at generation
    /// 0, as [`from_allocations`](Self::from_allocations) would from the
    /// same list.
    ///
    /// Fails with the first outside or conflicting claim.
    ///
    /// Time: O(c log c).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, Claim, Owner};
    ///
    /// let layout = AddressAllocator::new(0, 0x10000)?;
    /// let claims = [Claim::new(0x3f8, 0x3ff)?.with_owner(Owner::new("serial0")?)];
    /// let pio = AddressAllocator::from_claims(&layout, &claims)?;
    /// assert_eq!(pio.owner_at(0x3f8).map(|o| o.as_str()), Some("serial0"));
    /// let outside = [Claim::new(0xfff8, 0x10007)?];
    /// assert!(AddressAllocator::from_claims(&layout, &outside).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_claims(
        layout: &AddressAllocator,
        claims: &[Claim],
    ) -> Result<AddressAllocator, AdoptError> {
        let valid = valid_claims(&lone(Target::Addresses(layout)), claims)?;
        Ok(build::addresses(layout, &valid[0]))
    }
}

impl ResourceSet {
    /// Compares the set with what the VM's devices claim to hold and
    /// reports every disagreement.
    ///
    /// The rules, applied in this order:
    ///
    /// - **outside**: the claim names no pool, a pool the set does not
    ///   have, a pool of the other kind (a claim made by [`Claim::ids`]
    ///   or [`Claim::addresses`]; [`Claim::new`] fits either), or it is
    ///   not inside its pool's range. Span: the claim. Outside claims
    ///   take no further part.
    /// - **conflict**: in each pool, the remaining claims are sorted by
    ///   `(start, end)` (claims with the same bounds keep their order). A
    ///   claim that overlaps an earlier one in that order, a conflict
    ///   itself or not, is a conflict; the other claim is the first
    ///   earlier claim it overlaps, the span their overlap. The later
    ///   claim takes no further part. The claims that remain are disjoint.
    /// - In an address pool, for each remaining claim:
    ///   - **owner**: the claim equals an allocation's bounds, names an
    ///     owner, and the allocation's owner differs (or it has none).
    ///     Span: the allocation.
    ///   - **missing**: the claim overlaps no allocation. Span: the claim.
    ///   - **bounds**: the claim overlaps allocations without equalling
    ///     one: one finding per allocation it overlaps, span the
    ///     intersection. An allocation that two claims overlap has a
    ///     bounds finding for each.
    /// - In an id pool (a set of ids, without allocation bounds), for
    ///   each remaining claim:
    ///   - **missing**: each maximal run of free ids inside the claim.
    ///   - **owner**: if the claim names an owner, each maximal run of
    ///     allocated ids inside it whose owner differs (or is none),
    ///     split where the ids' owner changes.
    ///   - No bounds findings.
    /// - **unexpected**: what is allocated and overlapped by no remaining
    ///   claim. In an address pool each such allocation (one that a claim
    ///   overlaps even in part is a bounds finding instead); in an id
    ///   pool each maximal run of allocated ids outside every remaining
    ///   claim, split where the owner changes. Span: that allocation or
    ///   run.
    ///
    /// The [`Report`] lists outside findings first, in the order of the
    /// claims, then the findings of each pool in the set's order, by
    /// start, kind and end.
    ///
    /// Time: O((n + c) log c + p c) for n allocations (of ids: runs with
    /// one owner) and c claims in p pools.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Claim, FindingKind, Owner, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let net0 = Owner::new("virtio-net0")?;
    /// let blk0 = Owner::new("virtio-blk0")?;
    /// vm.owned_by(&net0).allocate_id("legacy_gsi")?; // 5
    /// vm.owned_by(&net0).allocate("mmio32", 0x4000, 0x4000, AllocPolicy::FirstMatch)?;
    /// vm.owned_by(&blk0).allocate_id("legacy_gsi")?; // 6
    ///
    /// // The devices' view: net0 as saved, blk0 was unplugged, and a
    /// // device nobody allocated for.
    /// let claims = [
    ///     Claim::new(5, 5)?.in_pool("legacy_gsi").with_owner(net0.clone()),
    ///     Claim::new(0xd000_0000, 0xd000_3fff)?.in_pool("mmio32").with_owner(net0),
    ///     Claim::new(0x3f8, 0x3ff)?.in_pool("pio").with_owner(Owner::new("serial0")?),
    ///     Claim::new(0x3f8, 0x3ff)?.in_pool("ioports"), // no such pool
    /// ];
    /// let report = vm.reconcile(&claims);
    /// assert_eq!(
    ///     report.to_string(),
    ///     "outside ioports 0x3f8..=0x3ff: claim 0x3f8..=0x3ff by any owner; no pool is named \"ioports\"\n\
    ///      unexpected legacy_gsi 6..=6 (1 id): allocated to virtio-blk0; no claim\n\
    ///      missing pio 0x3f8..=0x3ff (8 B): claim 0x3f8..=0x3ff by serial0; not allocated\n"
    /// );
    /// assert_eq!(report.count(FindingKind::Missing), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reconcile(&self, claims: &[Claim]) -> Report {
        Reconciled::new(&pools_of(self), claims).into_report()
    }

    /// Makes the set hold exactly `claims` and returns the report it
    /// acted on: in each pool, frees the unexpected allocations (or ids),
    /// allocates the missing claims, replaces allocations whose bounds
    /// differ from a claim by the claim, and gives claimed allocations
    /// (or ids) the claim's owner.
    ///
    /// A claim without owner keeps the owner of an equal allocation (of
    /// the claimed ids); what it makes allocated has no owner. All or
    /// nothing: any outside or conflicting claim refuses the whole
    /// adoption with an [`AdoptError`] naming the first (in the report's
    /// order), and nothing changes.
    ///
    /// Adopting is one mutation, as [`free_owner`](Self::free_owner) is:
    /// if it changes anything, the set's generation moves by one, and so
    /// does that of each pool it changes; a state that already agrees
    /// with the claims is left as it is. Afterwards,
    /// [`reconcile`](Self::reconcile) of the same claims is consistent.
    ///
    /// Time: O((n + c) log c + p c + k log n), k = findings.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Claim, Owner, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// let net0 = Owner::new("virtio-net0")?;
    /// vm.owned_by(&net0).allocate_id("legacy_gsi")?;
    /// vm.allocate("mmio32", 0x1000, 0x1000, AllocPolicy::FirstMatch)?; // nobody's
    /// let generation = vm.generation();
    ///
    /// let claims = [
    ///     Claim::new(5, 5)?.in_pool("legacy_gsi"), // any owner: keeps net0
    ///     Claim::new(24, 27)?
    ///         .in_pool("msi_gsi")
    ///         .with_owner(net0.clone()),
    /// ];
    /// let report = vm.adopt(&claims)?;
    /// assert_eq!(report.len(), 2); // msi_gsi missing, mmio32 unexpected
    /// assert_eq!(vm.generation(), generation + 1);
    /// assert_eq!(vm.ids("legacy_gsi").unwrap().owner_at(5), Some(&net0));
    /// assert_eq!(
    ///     vm.ids("msi_gsi")
    ///         .unwrap()
    ///         .ids_of("virtio-net0")
    ///         .collect::<Vec<_>>(),
    ///     [24..=27]
    /// );
    /// assert!(vm.addresses("mmio32").unwrap().is_empty());
    /// assert!(vm.reconcile(&claims).is_consistent());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn adopt(&mut self, claims: &[Claim]) -> Result<Report, AdoptError> {
        let found = Reconciled::new(&pools_of(self), claims);
        found.check_adoptable()?;
        if found.pools.iter().all(Vec::is_empty) {
            return Ok(found.into_report());
        }
        for (entry, findings) in self.entries_mut().iter_mut().zip(&found.pools) {
            match &mut entry.pool {
                Pool::Ids(ids) => adopt::apply_ids(ids, findings),
                Pool::Addresses(a) => adopt::apply_addresses(a, findings),
            }
        }
        self.bump();
        Ok(found.into_report())
    }

    /// Builds a set with the pools of `layout` (names, kinds, ranges,
    /// order) that holds exactly `claims`, at generation 0 (the set and
    /// every pool). What the layout's pools hold, and its generation, are
    /// not looked at: the state comes from the claims alone, validated
    /// as [`adopt`](Self::adopt) validates them.
    ///
    /// This is how a VMM rebuilds its state from its devices, for example
    /// the GSIs Firecracker no longer saves: `ResourceSet::x86_64()` plus
    /// the devices' claims.
    ///
    /// Fails with the first outside or conflicting claim.
    ///
    /// Time: O(c log c + p c).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, FindingKind, Owner, ResourceSet};
    ///
    /// let net0 = Owner::new("virtio-net0")?;
    /// let claims = [
    ///     Claim::new(5, 5)?
    ///         .in_pool("legacy_gsi")
    ///         .with_owner(net0.clone()),
    ///     Claim::new(24, 27)?
    ///         .in_pool("msi_gsi")
    ///         .with_owner(net0.clone()),
    ///     Claim::new(0xd000_0000, 0xd000_3fff)?
    ///         .in_pool("mmio32")
    ///         .with_owner(net0),
    /// ];
    /// let mut vm = ResourceSet::from_claims(&ResourceSet::x86_64(), &claims)?;
    /// assert_eq!(vm.allocations_of("virtio-net0").count(), 3);
    /// assert_eq!(vm.generation(), 0);
    /// assert_eq!(vm.allocate_id("legacy_gsi")?, 6); // allocation goes on from there
    ///
    /// // Two devices on one GSI: refused, naming them.
    /// let bad = [
    ///     Claim::new(5, 5)?.in_pool("legacy_gsi"),
    ///     Claim::new(5, 5)?.in_pool("legacy_gsi"),
    /// ];
    /// let err = ResourceSet::from_claims(&ResourceSet::x86_64(), &bad).unwrap_err();
    /// assert_eq!(err.finding().kind(), FindingKind::Conflict);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_claims(layout: &ResourceSet, claims: &[Claim]) -> Result<ResourceSet, AdoptError> {
        let valid = valid_claims(&pools_of(layout), claims)?;
        let pools = layout
            .entries()
            .iter()
            .zip(valid)
            .map(|(e, claims)| Entry {
                name: e.name.clone(),
                pool: match &e.pool {
                    Pool::Ids(ids) => Pool::Ids(build::ids(ids, &claims)),
                    Pool::Addresses(a) => Pool::Addresses(build::addresses(a, &claims)),
                },
            })
            .collect();
        Ok(ResourceSet::from_parts(pools, 0))
    }
}
