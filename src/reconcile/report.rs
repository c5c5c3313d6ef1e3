// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! What a reconciliation found: [`Report`], one [`Finding`] per
//! disagreement.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::claim::write_range;
use crate::{escape_name, Claim, Owner, PoolKind, RangeInclusive, Size};

/// What kind of disagreement a [`Finding`] is (see
/// [`ResourceSet::reconcile`](crate::ResourceSet::reconcile) for the
/// rules). The order of the variants is the order of findings that start
/// at the same place in a [`Report`].
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{Claim, FindingKind, IdAllocator};
///
/// let gsi = IdAllocator::new(5, 23)?;
/// let report = gsi.reconcile(&[Claim::new(5, 5)?, Claim::new(40, 40)?]);
/// let kinds: Vec<FindingKind> = report.findings().iter().map(|f| f.kind()).collect();
/// assert_eq!(kinds, [FindingKind::Outside, FindingKind::Missing]);
/// assert_eq!(FindingKind::Missing.as_str(), "missing");
/// # Ok::<(), vm_allocator::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingKind {
    /// The claim lies outside the state: no such pool, a pool of the
    /// other kind, a pool named for a lone allocator (or none for a set),
    /// or not inside the pool's space.
    Outside,
    /// The claim overlaps an earlier claim of its pool.
    Conflict,
    /// Claimed addresses or ids that are not allocated.
    Missing,
    /// An allocation that a claim overlaps without equalling it.
    Bounds,
    /// An allocation (or allocated ids) of another owner than the claim's.
    Owner,
    /// An allocation (or allocated ids) that no claim overlaps.
    Unexpected,
}

impl FindingKind {
    /// Its name in reports and in `vmalloc reconcile --json`:
    /// `"outside"`, `"conflict"`, `"missing"`, `"bounds"`, `"owner"`,
    /// `"unexpected"`.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::FindingKind;
    ///
    /// assert_eq!(FindingKind::Unexpected.as_str(), "unexpected");
    /// assert_eq!(FindingKind::Bounds.to_string(), "bounds");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Outside => "outside",
            FindingKind::Conflict => "conflict",
            FindingKind::Missing => "missing",
            FindingKind::Bounds => "bounds",
            FindingKind::Owner => "owner",
            FindingKind::Unexpected => "unexpected",
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a claim lies outside the state (a [`FindingKind::Outside`]
/// finding).
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{Claim, OutsideReason, PoolKind, ResourceSet};
///
/// let vm = ResourceSet::x86_64();
/// let report = vm.reconcile(&[
///     Claim::new(5, 5)?.in_pool("gsi"),
///     Claim::ids(5..=5)?.in_pool("pio"),
///     Claim::new(2, 2)?.in_pool("legacy_gsi"),
/// ]);
/// let reasons: Vec<_> = report
///     .findings()
///     .iter()
///     .map(|f| f.outside_reason().cloned())
///     .collect();
/// assert_eq!(
///     reasons,
///     [
///         Some(OutsideReason::NoSuchPool),
///         Some(OutsideReason::WrongKind {
///             pool_kind: PoolKind::Addresses
///         }),
///         Some(OutsideReason::OutsideSpace { start: 5, end: 23 }),
///     ]
/// );
/// # Ok::<(), vm_allocator::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OutsideReason {
    /// The set has no pool of that name.
    NoSuchPool,
    /// The claim is of the other kind than the pool.
    WrongKind {
        /// What the pool hands out.
        pool_kind: PoolKind,
    },
    /// The claim names a pool, but the state is a lone allocator.
    NamesPool,
    /// The claim names no pool, but the state is a resource set.
    NamesNoPool,
    /// The claim is not inside the pool's range of ids or addresses.
    OutsideSpace {
        /// The pool's first id or address.
        start: u64,
        /// The pool's last id or address.
        end: u64,
    },
}

/// An allocation as a finding shows it: its range and its owner. For an
/// id pool, which has no allocation bounds, the range is that of the ids
/// the finding is about.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{AddressAllocator, AllocPolicy, Claim, Owner};
///
/// let mut pio = AddressAllocator::new(0, 0x10000)?;
/// let serial = Owner::new("serial0")?;
/// let com1 = pio
///     .owned_by(&serial)
///     .allocate(8, 1, AllocPolicy::ExactMatch(0x3f8))?;
/// let report = pio.reconcile(&[]);
/// let found = report.findings()[0].allocation().unwrap();
/// assert_eq!((found.range(), found.owner()), (com1, Some(&serial)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Allocated {
    range: RangeInclusive,
    owner: Option<Owner>,
}

impl Allocated {
    pub(crate) fn new(start: u64, end: u64, owner: Option<&Owner>) -> Allocated {
        Allocated {
            // Allocations lie inside a space, which is a valid range.
            range: RangeInclusive::from_parts(start, end),
            owner: owner.cloned(),
        }
    }

    /// The allocated range (for ids, the ids).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// let gsi = IdAllocator::from_allocations(5, 23, [5..=7])?;
    /// let report = gsi.reconcile(&[]);
    /// let ids = report.findings()[0].allocation().unwrap().range();
    /// assert_eq!((ids.start(), ids.end()), (5, 7));
    /// # Ok::<(), vm_allocator::StateError>(())
    /// ```
    pub fn range(&self) -> RangeInclusive {
        self.range
    }

    /// Its owner, if it has one.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// let gsi = IdAllocator::from_allocations(5, 23, [5..=7])?;
    /// assert_eq!(
    ///     gsi.reconcile(&[]).findings()[0]
    ///         .allocation()
    ///         .unwrap()
    ///         .owner(),
    ///     None
    /// );
    /// # Ok::<(), vm_allocator::StateError>(())
    /// ```
    pub fn owner(&self) -> Option<&Owner> {
        self.owner.as_ref()
    }
}

/// One disagreement between a state and the claims: its kind, the pool,
/// the span `start..=end` it is about, and the claim, the allocation and
/// the other claim where one is involved.
///
/// | kind | span | claim | allocation | other claim |
/// |---|---|---|---|---|
/// | outside | the claim | yes | – | – |
/// | conflict | the overlap of the two claims | the later one | – | the first earlier one it overlaps |
/// | missing | addresses: the claim; ids: a run of free ids inside it | yes | – | – |
/// | bounds | the intersection of claim and allocation | yes | yes | – |
/// | owner | addresses: the allocation; ids: a run of ids inside the claim | yes | yes | – |
/// | unexpected | addresses: the allocation; ids: a run of ids | – | yes | – |
///
/// `Display` shows one line, names escaped ([`escape_name`]): the kind,
/// the pool, the span (ids in decimal, addresses in hex) and its size,
/// then what is involved.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{AllocPolicy, Claim, FindingKind, Owner, ResourceSet};
///
/// let mut vm = ResourceSet::x86_64();
/// let blk = Owner::new("virtio-blk0")?;
/// vm.owned_by(&blk).allocate("mmio32", 0x4000, 0x4000, AllocPolicy::FirstMatch)?;
/// // The device says it holds half of it.
/// let claim = Claim::new(0xd000_0000, 0xd000_1fff)?.in_pool("mmio32").with_owner(blk);
/// let report = vm.reconcile(&[claim.clone()]);
/// let finding = &report.findings()[0];
/// assert_eq!(finding.kind(), FindingKind::Bounds);
/// assert_eq!((finding.pool(), finding.start(), finding.end()), (Some("mmio32"), 0xd000_0000, 0xd000_1fff));
/// assert_eq!(finding.claim(), Some(&claim));
/// assert_eq!(finding.allocation().unwrap().range().end(), 0xd000_3fff);
/// assert_eq!(finding.other_claim(), None);
/// assert_eq!(
///     finding.to_string(),
///     "bounds mmio32 0xd0000000..=0xd0001fff (8 KiB): claim 0xd0000000..=0xd0001fff by virtio-blk0; \
///      allocation 0xd0000000..=0xd0003fff of virtio-blk0"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Finding {
    kind: FindingKind,
    pool: Option<String>,
    /// The kind of the pool, if the pool is known (else the claim's).
    pool_kind: Option<PoolKind>,
    start: u64,
    end: u64,
    claim: Option<Claim>,
    allocation: Option<Allocated>,
    other_claim: Option<Claim>,
    outside: Option<OutsideReason>,
}

impl Finding {
    /// A finding about a claim outside the state.
    pub(crate) fn outside(claim: &Claim, pool_kind: Option<PoolKind>, why: OutsideReason) -> Self {
        Finding {
            kind: FindingKind::Outside,
            pool: claim.pool().map(String::from),
            pool_kind: pool_kind.or(claim.kind()),
            start: claim.start(),
            end: claim.end(),
            claim: Some(claim.clone()),
            allocation: None,
            other_claim: None,
            outside: Some(why),
        }
    }

    /// A finding of a pool (or a lone allocator): kind, span and what is
    /// involved.
    pub(crate) fn in_pool(
        pool: &PoolRef<'_>,
        kind: FindingKind,
        (start, end): (u64, u64),
        claim: Option<&Claim>,
        allocation: Option<Allocated>,
    ) -> Self {
        Finding {
            kind,
            pool: pool.name.map(String::from),
            pool_kind: Some(pool.kind),
            start,
            end,
            claim: claim.cloned(),
            allocation,
            other_claim: None,
            outside: None,
        }
    }

    /// The same finding, naming the other claim of a conflict.
    pub(crate) fn with_other_claim(mut self, other: &Claim) -> Self {
        self.other_claim = Some(other.clone());
        self
    }

    /// What kind of disagreement it is.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, FindingKind, IdAllocator};
    ///
    /// let gsi = IdAllocator::new(5, 23)?;
    /// assert_eq!(
    ///     gsi.reconcile(&[Claim::new(5, 5)?]).findings()[0].kind(),
    ///     FindingKind::Missing
    /// );
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn kind(&self) -> FindingKind {
        self.kind
    }

    /// The pool it is about: the pool's name in a set, the name the claim
    /// gives for an outside claim, none for a lone allocator.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, ResourceSet};
    ///
    /// let vm = ResourceSet::x86_64();
    /// let report = vm.reconcile(&[Claim::new(5, 5)?.in_pool("legacy_gsi")]);
    /// assert_eq!(report.findings()[0].pool(), Some("legacy_gsi"));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn pool(&self) -> Option<&str> {
        self.pool.as_deref()
    }

    /// The first address or id of the span it is about.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, IdAllocator};
    ///
    /// let mut gsi = IdAllocator::new(5, 23)?;
    /// gsi.allocate_id_at(6)?;
    /// // Only 5 and 7 of the claim are free.
    /// let report = gsi.reconcile(&[Claim::new(5, 7)?]);
    /// let spans: Vec<(u64, u64)> = report
    ///     .findings()
    ///     .iter()
    ///     .map(|f| (f.start(), f.end()))
    ///     .collect();
    /// assert_eq!(spans, [(5, 5), (7, 7)]);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn start(&self) -> u64 {
        self.start
    }

    /// The last address or id of the span it is about.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, IdAllocator};
    ///
    /// let gsi = IdAllocator::new(5, 23)?;
    /// assert_eq!(gsi.reconcile(&[Claim::new(5, 9)?]).findings()[0].end(), 9);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The claim involved, if any (none for an unexpected allocation).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, IdAllocator};
    ///
    /// let gsi = IdAllocator::from_allocations(5, 23, [9..=9])?;
    /// let claim = Claim::new(5, 5)?;
    /// let report = gsi.reconcile(&[claim.clone()]);
    /// assert_eq!(report.findings()[0].claim(), Some(&claim)); // missing
    /// assert_eq!(report.findings()[1].claim(), None); // 9 is unexpected
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn claim(&self) -> Option<&Claim> {
        self.claim.as_ref()
    }

    /// The allocation involved, if any (see [`Allocated`]).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Claim};
    ///
    /// let mut pio = AddressAllocator::new(0, 0x10000)?;
    /// let com1 = pio.allocate(8, 1, AllocPolicy::ExactMatch(0x3f8))?;
    /// let report = pio.reconcile(&[Claim::new(0x3f8, 0x3fb)?]);
    /// assert_eq!(
    ///     report.findings()[0].allocation().map(|a| a.range()),
    ///     Some(com1)
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn allocation(&self) -> Option<&Allocated> {
        self.allocation.as_ref()
    }

    /// For a conflict, the first earlier claim (in the order of
    /// `(start, end)`) that the claim overlaps.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, FindingKind, IdAllocator};
    ///
    /// let gsi = IdAllocator::new(5, 23)?;
    /// let (a, b) = (Claim::new(5, 8)?, Claim::new(7, 9)?);
    /// let report = gsi.reconcile(&[b.clone(), a.clone()]);
    /// let conflict = report
    ///     .findings()
    ///     .iter()
    ///     .find(|f| f.kind() == FindingKind::Conflict)
    ///     .unwrap();
    /// assert_eq!(
    ///     (conflict.claim(), conflict.other_claim()),
    ///     (Some(&b), Some(&a))
    /// );
    /// assert_eq!((conflict.start(), conflict.end()), (7, 8));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn other_claim(&self) -> Option<&Claim> {
        self.other_claim.as_ref()
    }

    /// For an outside claim, why it lies outside.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, IdAllocator, OutsideReason};
    ///
    /// let gsi = IdAllocator::new(5, 23)?;
    /// let report = gsi.reconcile(&[Claim::new(5, 5)?.in_pool("legacy_gsi")]);
    /// assert_eq!(
    ///     report.findings()[0].outside_reason(),
    ///     Some(&OutsideReason::NamesPool)
    /// );
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn outside_reason(&self) -> Option<&OutsideReason> {
        self.outside.as_ref()
    }

    /// True for the findings `adopt` refuses: outside and conflict.
    pub(crate) fn refuses_adoption(&self) -> bool {
        matches!(self.kind, FindingKind::Outside | FindingKind::Conflict)
    }

    /// The order of findings of one pool: by start, then kind, then end.
    pub(crate) fn sort_key(&self) -> (u64, FindingKind, u64) {
        (self.start, self.kind, self.end)
    }

    /// Writes `allocation ... of owner` (addresses) or `allocated to
    /// owner` (ids, whose range is the span).
    fn describe_allocation(&self, f: &mut fmt::Formatter<'_>, a: &Allocated) -> fmt::Result {
        let ids = self.pool_kind == Some(PoolKind::Ids);
        if ids {
            f.write_str("allocated")?;
        } else {
            write!(
                f,
                "allocation {:#x}..={:#x}",
                a.range.start(),
                a.range.end()
            )?;
        }
        match (&a.owner, ids) {
            (Some(owner), true) => write!(f, " to {}", owner.escaped()),
            (Some(owner), false) => write!(f, " of {}", owner.escaped()),
            (None, _) => f.write_str(" without owner"),
        }
    }

    /// Writes the size of the span: `(4 KiB)`, `(3 ids)`; nothing for a
    /// claim on no known pool that does not say its kind.
    fn write_size(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // 0..=u64::MAX (an outside claim) holds 2^64 values.
        let n = u128::from(self.end - self.start) + 1;
        match self.pool_kind {
            Some(PoolKind::Ids) if n == 1 => f.write_str(" (1 id)"),
            Some(PoolKind::Ids) => write!(f, " ({n} ids)"),
            Some(PoolKind::Addresses) => match u64::try_from(n) {
                Ok(n) => write!(f, " ({})", Size(n)),
                Err(_) => f.write_str(" (16 EiB)"),
            },
            None => Ok(()),
        }
    }
}

/// `KIND [POOL] SPAN (SIZE): WHAT; WHAT`, for example
/// `missing mmio32 0xd0000000..=0xd0003fff (16 KiB): claim
/// 0xd0000000..=0xd0003fff by virtio-net0; not allocated`.
impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(pool) = &self.pool {
            write!(f, " {}", escape_name(pool))?;
        }
        f.write_str(" ")?;
        write_range(f, self.pool_kind, self.start, self.end)?;
        self.write_size(f)?;
        f.write_str(": ")?;
        if let Some(claim) = &self.claim {
            claim.describe(f, self.pool_kind)?;
            f.write_str("; ")?;
        }
        match self.kind {
            FindingKind::Outside => match &self.outside {
                Some(why) => self.write_reason(f, why),
                None => f.write_str("outside the state"),
            },
            FindingKind::Conflict => {
                f.write_str("overlaps ")?;
                match &self.other_claim {
                    Some(other) => other.describe(f, self.pool_kind),
                    None => f.write_str("an earlier claim"),
                }
            }
            FindingKind::Missing => f.write_str("not allocated"),
            FindingKind::Bounds | FindingKind::Owner | FindingKind::Unexpected => {
                if let Some(a) = &self.allocation {
                    self.describe_allocation(f, a)?;
                }
                if self.kind == FindingKind::Unexpected {
                    f.write_str("; no claim")?;
                }
                Ok(())
            }
        }
    }
}

impl Finding {
    fn write_reason(&self, f: &mut fmt::Formatter<'_>, why: &OutsideReason) -> fmt::Result {
        let pool = self.pool.as_deref().map(escape_name);
        let claimed = |kind: &PoolKind| match kind {
            PoolKind::Ids => "addresses",
            PoolKind::Addresses => "ids",
        };
        match (why, pool) {
            (OutsideReason::NoSuchPool, Some(pool)) => write!(f, "no pool is named \"{pool}\""),
            (OutsideReason::WrongKind { pool_kind }, Some(pool)) => write!(
                f,
                "\"{pool}\" is an {pool_kind} pool, the claim is of {}",
                claimed(pool_kind)
            ),
            (OutsideReason::WrongKind { pool_kind }, None) => write!(
                f,
                "the allocator is an {pool_kind} allocator, the claim is of {}",
                claimed(pool_kind)
            ),
            (OutsideReason::NamesPool, Some(pool)) => {
                write!(f, "a lone allocator has no pool \"{pool}\"")
            }
            (OutsideReason::NamesNoPool, _) => f.write_str("the claim names no pool"),
            (OutsideReason::OutsideSpace { start, end }, _) => {
                let what = match self.pool_kind {
                    Some(PoolKind::Ids) => "ids",
                    _ => "addresses",
                };
                write!(f, "outside the {what} ")?;
                write_range(f, self.pool_kind, *start, *end)
            }
            _ => f.write_str("outside the state"),
        }
    }
}

/// Every disagreement between a state and the claims, in a stable order:
///
/// 1. the outside findings, in the order the claims were given;
/// 2. then pool by pool, in the set's order of pools, the pool's findings
///    by start, then by kind (in the order of [`FindingKind`]'s variants),
///    then by end; conflicts that tie on all three keep the order of
///    their claims sorted by `(start, end)`.
///
/// `Display` shows one finding per line (nothing for a consistent report).
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{AllocPolicy, Claim, Owner, ResourceSet};
///
/// let mut vm = ResourceSet::x86_64();
/// let net0 = Owner::new("virtio-net0")?;
/// vm.owned_by(&net0).allocate_id("legacy_gsi")?;
/// let claims = [
///     Claim::new(5, 5)?.in_pool("legacy_gsi").with_owner(net0.clone()),
///     Claim::new(0xd000_0000, 0xd000_3fff)?.in_pool("mmio32").with_owner(net0),
/// ];
/// let report = vm.reconcile(&claims);
/// assert!(!report.is_consistent());
/// assert_eq!(report.len(), 1);
/// assert_eq!(
///     report.to_string(),
///     "missing mmio32 0xd0000000..=0xd0003fff (16 KiB): claim 0xd0000000..=0xd0003fff by virtio-net0; not allocated\n"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Report {
    findings: Vec<Finding>,
}

impl Report {
    /// A report of `findings`, already in the report's order.
    pub(crate) fn new(findings: Vec<Finding>) -> Report {
        Report { findings }
    }

    /// The findings, in the report's order.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, IdAllocator};
    ///
    /// let gsi = IdAllocator::from_allocations(5, 23, [5..=5])?;
    /// assert!(gsi.reconcile(&[Claim::new(5, 5)?]).findings().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// True if the state and the claims agree: no finding. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, IdAllocator};
    ///
    /// let gsi = IdAllocator::from_allocations(5, 23, [5..=6])?;
    /// assert!(gsi.reconcile(&[Claim::new(5, 6)?]).is_consistent());
    /// assert!(!gsi.reconcile(&[Claim::new(5, 5)?]).is_consistent()); // 6 is unexpected
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_consistent(&self) -> bool {
        self.findings.is_empty()
    }

    /// Number of findings. Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, IdAllocator};
    ///
    /// let gsi = IdAllocator::new(5, 23)?;
    /// assert_eq!(
    ///     gsi.reconcile(&[Claim::new(5, 5)?, Claim::new(7, 7)?]).len(),
    ///     2
    /// );
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.findings.len()
    }

    /// True if there is no finding (the same as
    /// [`is_consistent`](Self::is_consistent)). Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// assert!(IdAllocator::new(5, 23)?.reconcile(&[]).is_empty());
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.findings.is_empty()
    }

    /// The number of findings of `kind`. Time: O(n).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, FindingKind, IdAllocator};
    ///
    /// let gsi = IdAllocator::from_allocations(5, 23, [9..=9])?;
    /// let report = gsi.reconcile(&[Claim::new(5, 5)?, Claim::new(7, 7)?]);
    /// assert_eq!(report.count(FindingKind::Missing), 2);
    /// assert_eq!(report.count(FindingKind::Unexpected), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn count(&self, kind: FindingKind) -> usize {
        self.findings.iter().filter(|f| f.kind == kind).count()
    }

    /// The findings, in the report's order.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, IdAllocator};
    ///
    /// let gsi = IdAllocator::new(5, 23)?;
    /// let report = gsi.reconcile(&[Claim::new(5, 5)?]);
    /// assert_eq!(report.iter().count(), 1);
    /// assert_eq!((&report).into_iter().count(), 1);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn iter(&self) -> core::slice::Iter<'_, Finding> {
        self.findings.iter()
    }
}

impl<'a> IntoIterator for &'a Report {
    type Item = &'a Finding;
    type IntoIter = core::slice::Iter<'a, Finding>;

    fn into_iter(self) -> Self::IntoIter {
        self.findings.iter()
    }
}

/// One line per finding, in the report's order.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            writeln!(f, "{finding}")?;
        }
        Ok(())
    }
}

/// The pool a finding belongs to: its name (none for a lone allocator)
/// and its kind.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PoolRef<'a> {
    pub(crate) name: Option<&'a str>,
    pub(crate) kind: PoolKind,
}
