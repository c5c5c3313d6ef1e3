// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! What a device says it holds.

use alloc::string::String;
use core::fmt;
use core::ops::RangeInclusive as IdRange;

use crate::{escape_name, Error, Owner, PoolKind, RangeInclusive, Result};

/// What a device says it holds: an inclusive range in a pool, optionally
/// with an owner. [`reconcile`](crate::ResourceSet::reconcile) compares
/// claims with a state, [`adopt`](crate::ResourceSet::adopt) makes a state
/// hold exactly them.
///
/// - The range is `start..=end` in `u64`: addresses, or ids (an id claim
///   beyond `u32::MAX` lies outside every id pool). `start <= end` always
///   holds; `0..=u64::MAX` is a valid claim (outside every pool).
/// - The pool is a name for a claim on a [`ResourceSet`](crate::ResourceSet)
///   and none for a claim on a lone allocator. It is any string: a name
///   no pool has makes an [`outside`](crate::FindingKind::Outside) finding,
///   not an error.
/// - No owner means "any owner": the claim matches an allocation whoever
///   holds it.
/// - The kind is what the claim is about, if it says
///   ([`Claim::ids`], [`Claim::addresses`]); a claim of one kind on a pool
///   of the other lies outside it. [`Claim::new`] says nothing: it fits
///   either kind (the claims file of `vmalloc` has no kind).
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{Claim, Owner, PoolKind, RangeInclusive};
///
/// let net0 = Owner::new("virtio-net0")?;
/// // A BAR, as a device reports it.
/// let bar = Claim::new(0xd000_0000, 0xd000_3fff)?
///     .in_pool("mmio32")
///     .with_owner(net0.clone());
/// assert_eq!(
///     (bar.pool(), bar.start(), bar.end()),
///     (Some("mmio32"), 0xd000_0000, 0xd000_3fff)
/// );
/// assert_eq!(bar.owner(), Some(&net0));
/// assert_eq!(bar.kind(), None);
/// // MSI vectors, said to be ids.
/// let msi = Claim::ids(24..=27)?.in_pool("msi_gsi");
/// assert_eq!(msi.kind(), Some(PoolKind::Ids));
/// assert_eq!(msi.to_string(), "msi_gsi 24..=27 by any owner");
/// assert!(Claim::new(2, 1).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Claim {
    pool: Option<String>,
    start: u64,
    end: u64,
    owner: Option<Owner>,
    kind: Option<PoolKind>,
}

impl Claim {
    /// A claim of `start..=end` for a lone allocator (see
    /// [`in_pool`](Self::in_pool)), by any owner, of either kind.
    ///
    /// Fails with [`Error::InvalidRange`] when `start > end`.
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, Error};
    ///
    /// let gsi = Claim::new(5, 5)?;
    /// assert_eq!((gsi.start(), gsi.end(), gsi.pool()), (5, 5, None));
    /// assert_eq!(Claim::new(6, 5), Err(Error::InvalidRange(6, 5)));
    /// assert!(Claim::new(0, u64::MAX).is_ok()); // valid, outside every pool
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new(start: u64, end: u64) -> Result<Claim> {
        if start > end {
            return Err(Error::InvalidRange(start, end));
        }
        Ok(Claim {
            pool: None,
            start,
            end,
            owner: None,
            kind: None,
        })
    }

    /// A claim of the ids `ids`, by any owner; it lies outside an address
    /// pool.
    ///
    /// Fails with [`Error::InvalidRange`] when the range is empty
    /// (`start > end`).
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, Error, PoolKind};
    ///
    /// let vectors = Claim::ids(24..=27)?;
    /// assert_eq!((vectors.start(), vectors.end()), (24, 27));
    /// assert_eq!(vectors.kind(), Some(PoolKind::Ids));
    /// assert_eq!(Claim::ids(27..=24), Err(Error::InvalidRange(27, 24)));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn ids(ids: IdRange<u32>) -> Result<Claim> {
        let mut claim = Claim::new((*ids.start()).into(), (*ids.end()).into())?;
        claim.kind = Some(PoolKind::Ids);
        Ok(claim)
    }

    /// A claim of the addresses `range`, by any owner; it lies outside an
    /// id pool.
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, PoolKind, RangeInclusive};
    ///
    /// let com1 = Claim::addresses(RangeInclusive::new(0x3f8, 0x3ff)?).in_pool("pio");
    /// assert_eq!(com1.kind(), Some(PoolKind::Addresses));
    /// assert_eq!(com1.to_string(), "pio 0x3f8..=0x3ff by any owner");
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn addresses(range: RangeInclusive) -> Claim {
        Claim {
            pool: None,
            start: range.start(),
            end: range.end(),
            owner: None,
            kind: Some(PoolKind::Addresses),
        }
    }

    /// The same claim, in the pool named `pool` of a resource set.
    ///
    /// Time: O(len).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::Claim;
    ///
    /// let gsi = Claim::new(5, 5)?.in_pool("legacy_gsi");
    /// assert_eq!(gsi.pool(), Some("legacy_gsi"));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn in_pool(mut self, pool: &str) -> Claim {
        self.pool = Some(String::from(pool));
        self
    }

    /// The same claim, by `owner` (only an allocation of that owner
    /// matches it).
    ///
    /// Time: O(1).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, Owner};
    ///
    /// let serial = Owner::new("serial0")?;
    /// let gsi = Claim::new(4, 4)?.with_owner(serial.clone());
    /// assert_eq!(gsi.owner(), Some(&serial));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_owner(mut self, owner: Owner) -> Claim {
        self.owner = Some(owner);
        self
    }

    /// The pool it names, if any.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::Claim;
    ///
    /// assert_eq!(Claim::new(0, 7)?.pool(), None);
    /// assert_eq!(Claim::new(0, 7)?.in_pool("pio").pool(), Some("pio"));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn pool(&self) -> Option<&str> {
        self.pool.as_deref()
    }

    /// The first address or id claimed.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::Claim;
    ///
    /// assert_eq!(Claim::new(0x3f8, 0x3ff)?.start(), 0x3f8);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn start(&self) -> u64 {
        self.start
    }

    /// The last address or id claimed.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::Claim;
    ///
    /// assert_eq!(Claim::new(0x3f8, 0x3ff)?.end(), 0x3ff);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The owner it names; none means any owner.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, Owner};
    ///
    /// assert_eq!(Claim::new(5, 5)?.owner(), None);
    /// let rtc = Owner::new("rtc")?;
    /// assert_eq!(
    ///     Claim::new(8, 8)?.with_owner(rtc.clone()).owner(),
    ///     Some(&rtc)
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn owner(&self) -> Option<&Owner> {
        self.owner.as_ref()
    }

    /// What it claims, ids or addresses, if it says.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Claim, PoolKind};
    ///
    /// assert_eq!(Claim::new(5, 5)?.kind(), None);
    /// assert_eq!(Claim::ids(5..=5)?.kind(), Some(PoolKind::Ids));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn kind(&self) -> Option<PoolKind> {
        self.kind
    }

    /// `claim 0x3f8..=0x3ff by serial0` (or `by any owner`), its range
    /// as a pool of `kind` shows it.
    pub(crate) fn describe(
        &self,
        f: &mut fmt::Formatter<'_>,
        kind: Option<PoolKind>,
    ) -> fmt::Result {
        f.write_str("claim ")?;
        write_range(f, kind.or(self.kind), self.start, self.end)?;
        match &self.owner {
            Some(owner) => write!(f, " by {}", owner.escaped()),
            None => f.write_str(" by any owner"),
        }
    }
}

/// `5..=7` for ids, `0x3f8..=0x3ff` otherwise.
pub(crate) fn write_range(
    f: &mut fmt::Formatter<'_>,
    kind: Option<PoolKind>,
    start: u64,
    end: u64,
) -> fmt::Result {
    match kind {
        Some(PoolKind::Ids) => write!(f, "{start}..={end}"),
        _ => write!(f, "{start:#x}..={end:#x}"),
    }
}

/// `pio 0x3f8..=0x3ff by serial0` (or `by any owner`): the pool if it
/// names one, the range (in hex unless it is a claim of ids), the owner;
/// names are escaped ([`escape_name`]).
impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(pool) = &self.pool {
            write!(f, "{} ", escape_name(pool))?;
        }
        write_range(f, self.kind, self.start, self.end)?;
        match &self.owner {
            Some(owner) => write!(f, " by {}", owner.escaped()),
            None => f.write_str(" by any owner"),
        }
    }
}
