// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! What an allocation request asks for: size, alignment, policy and bounds.

use crate::{Error, RangeInclusive, Result};

/// Default alignment that can be used for creating a [`Constraint`].
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{AllocPolicy, Constraint, DEFAULT_CONSTRAINT_ALIGN};
///
/// let c = Constraint::new(0x10, DEFAULT_CONSTRAINT_ALIGN, AllocPolicy::FirstMatch)?;
/// assert_eq!(c.align(), 4);
/// # Ok::<(), vm_allocator::Error>(())
/// ```
pub const DEFAULT_CONSTRAINT_ALIGN: u64 = 4;

/// Where in the free space an allocation is placed.
///
/// # Examples
///
/// ```rust
/// use vm_allocator::{AddressAllocator, AllocPolicy};
///
/// let mut pool = AddressAllocator::new(0x1000, 0x10000)?; // 0x1000..=0x10fff
/// let low = pool.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)?;
/// let high = pool.allocate(0x1000, 0x1000, AllocPolicy::LastMatch)?;
/// let fixed = pool.allocate(0x1000, 0x1000, AllocPolicy::ExactMatch(0x8000))?;
/// assert_eq!(
///     (low.start(), high.start(), fixed.start()),
///     (0x1000, 0x1_0000, 0x8000)
/// );
/// assert_eq!(AllocPolicy::default(), AllocPolicy::FirstMatch);
/// # Ok::<(), vm_allocator::Error>(())
/// ```
#[derive(Copy, Clone, Debug, Eq, PartialEq, Hash, Default)]
pub enum AllocPolicy {
    /// The lowest aligned address where the allocation fits.
    #[default]
    FirstMatch,
    /// The highest aligned address where the allocation fits.
    LastMatch,
    /// Exactly at the given address, if the whole range there is free.
    ExactMatch(u64),
}

/// A resource allocation request: size, alignment, policy and, optionally,
/// the lowest and highest address the allocation may use.
///
/// # Example
///
/// ```rust
/// use vm_allocator::{AllocPolicy, Constraint, Error, DEFAULT_CONSTRAINT_ALIGN};
///
/// let constraint =
///     Constraint::new(0x4, DEFAULT_CONSTRAINT_ALIGN, AllocPolicy::FirstMatch).unwrap();
/// assert_eq!(constraint.size(), 0x4);
/// assert_eq!(constraint.align(), 0x4);
///
/// // Alignments need to be a power of 2, otherwise an error is returned.
/// assert_eq!(
///     Constraint::new(0x4, 0x3, AllocPolicy::LastMatch).unwrap_err(),
///     Error::InvalidAlignment
/// );
///
/// // When using the ExactMatch policy, the start address must also be aligned.
/// assert_eq!(
///     Constraint::new(0x4, 0x4, AllocPolicy::ExactMatch(0x3)).unwrap_err(),
///     Error::UnalignedAddress
/// );
///
/// // Keep an allocation below 4 GiB (a 32-bit BAR).
/// let bar = Constraint::new(0x1000, 0x1000, AllocPolicy::LastMatch)
///     .unwrap()
///     .with_max_address(0xffff_ffff);
/// assert_eq!(bar.max_address(), 0xffff_ffff);
/// ```
#[derive(Copy, Clone, Debug, Eq, PartialEq, Hash)]
pub struct Constraint {
    size: u64,
    align: u64,
    policy: AllocPolicy,
    min_address: u64,
    max_address: u64,
}

impl Constraint {
    /// Creates a constraint for `size` units aligned to `align` placed by `policy`.
    ///
    /// Fails with [`Error::InvalidSize`] for a zero size,
    /// [`Error::InvalidAlignment`] when `align` is not a power of two and
    /// [`Error::UnalignedAddress`] when an `ExactMatch` address is not a
    /// multiple of `align`.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Constraint, Error};
    ///
    /// let c = Constraint::new(0x1000, 0x1000, AllocPolicy::ExactMatch(0x8000))?;
    /// assert_eq!(c.policy(), AllocPolicy::ExactMatch(0x8000));
    /// assert_eq!(
    ///     Constraint::new(0, 1, AllocPolicy::FirstMatch),
    ///     Err(Error::InvalidSize(0))
    /// );
    /// assert_eq!(
    ///     Constraint::new(0x1000, 3, AllocPolicy::FirstMatch)
    ///         .unwrap_err()
    ///         .to_string(),
    ///     "the alignment is not valid: it must be a power of two"
    /// );
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new(size: u64, align: u64, policy: AllocPolicy) -> Result<Self> {
        if size == 0 {
            return Err(Error::InvalidSize(size));
        }
        if !align.is_power_of_two() {
            return Err(Error::InvalidAlignment);
        }
        if let AllocPolicy::ExactMatch(start) = policy {
            if start % align != 0 {
                return Err(Error::UnalignedAddress);
            }
        }
        Ok(Constraint {
            size,
            align,
            policy,
            min_address: 0,
            max_address: u64::MAX,
        })
    }

    /// Restricts the allocation to lie entirely inside `range` (and inside any
    /// bound set before).
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Constraint, RangeInclusive};
    ///
    /// let mut pool = AddressAllocator::new(0, 0x10000).unwrap();
    /// let window = RangeInclusive::new(0x8000, 0x8fff).unwrap();
    /// let c = Constraint::new(0x100, 0x100, AllocPolicy::LastMatch)
    ///     .unwrap()
    ///     .within(window);
    /// assert_eq!(
    ///     pool.allocate_with(c).unwrap(),
    ///     RangeInclusive::new(0x8f00, 0x8fff).unwrap()
    /// );
    /// ```
    pub fn within(self, range: RangeInclusive) -> Self {
        self.with_min_address(range.start())
            .with_max_address(range.end())
    }

    /// Requires the allocation to start at or above `min_address`.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Constraint};
    ///
    /// let mut pool = AddressAllocator::new(0, 0x10000)?;
    /// // Stay at or above 0x4000.
    /// let c = Constraint::new(0x100, 0x100, AllocPolicy::FirstMatch)?.with_min_address(0x4000);
    /// assert_eq!(c.min_address(), 0x4000);
    /// assert_eq!(pool.allocate_with(c)?.start(), 0x4000);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn with_min_address(mut self, min_address: u64) -> Self {
        self.min_address = self.min_address.max(min_address);
        self
    }

    /// Requires the allocation to end at or below `max_address` (inclusive).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy, Constraint};
    ///
    /// let mut mmio = AddressAllocator::new(0xc000_0000, 0x1_4000_0000)?; // up to 0x1_ffff_ffff
    /// // A 32-bit BAR: the highest free 4 KiB that ends below 4 GiB.
    /// let c = Constraint::new(0x1000, 0x1000, AllocPolicy::LastMatch)?.with_max_address(0xffff_ffff);
    /// assert_eq!(mmio.allocate_with(c)?.end(), 0xffff_ffff);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn with_max_address(mut self, max_address: u64) -> Self {
        self.max_address = self.max_address.min(max_address);
        self
    }

    /// Returns the alignment constraint.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Constraint};
    ///
    /// assert_eq!(
    ///     Constraint::new(0x10, 0x1000, AllocPolicy::FirstMatch)?.align(),
    ///     0x1000
    /// );
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn align(self) -> u64 {
        self.align
    }

    /// Returns the size constraint.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Constraint};
    ///
    /// assert_eq!(
    ///     Constraint::new(0x10, 0x1000, AllocPolicy::FirstMatch)?.size(),
    ///     0x10
    /// );
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn size(self) -> u64 {
        self.size
    }

    /// Returns the placement policy.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Constraint};
    ///
    /// let c = Constraint::new(0x10, 0x10, AllocPolicy::LastMatch)?;
    /// assert_eq!(c.policy(), AllocPolicy::LastMatch);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn policy(self) -> AllocPolicy {
        self.policy
    }

    /// Returns the lowest address the allocation may use (0 when unbounded).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Constraint, RangeInclusive};
    ///
    /// let c = Constraint::new(0x10, 0x10, AllocPolicy::FirstMatch)?;
    /// assert_eq!(c.min_address(), 0);
    /// let c = c.within(RangeInclusive::new(0x1000, 0x1fff)?);
    /// assert_eq!(c.min_address(), 0x1000);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn min_address(self) -> u64 {
        self.min_address
    }

    /// Returns the highest address the allocation may use (`u64::MAX` when unbounded).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AllocPolicy, Constraint, RangeInclusive};
    ///
    /// let c = Constraint::new(0x10, 0x10, AllocPolicy::FirstMatch)?;
    /// assert_eq!(c.max_address(), u64::MAX);
    /// let c = c.within(RangeInclusive::new(0x1000, 0x1fff)?);
    /// assert_eq!(c.max_address(), 0x1fff);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn max_address(self) -> u64 {
        self.max_address
    }

    /// Returns `log2(align)`.
    pub(crate) fn align_log2(self) -> u32 {
        self.align.trailing_zeros()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_checks_size_alignment_and_exact_address() {
        assert_eq!(
            Constraint::new(0, 4, AllocPolicy::FirstMatch).unwrap_err(),
            Error::InvalidSize(0)
        );
        assert_eq!(
            Constraint::new(4, 0, AllocPolicy::FirstMatch).unwrap_err(),
            Error::InvalidAlignment
        );
        assert_eq!(
            Constraint::new(0x1000, 0x1000, AllocPolicy::ExactMatch(0xC)).unwrap_err(),
            Error::UnalignedAddress
        );
        let c = Constraint::new(0x1000, 0x1000, AllocPolicy::default()).unwrap();
        assert_eq!(
            (c.size(), c.align(), c.policy()),
            (0x1000, 0x1000, AllocPolicy::FirstMatch)
        );
        assert_eq!((c.min_address(), c.max_address()), (0, u64::MAX));
        assert_eq!(c.align_log2(), 12);
    }

    #[test]
    fn bounds_only_narrow() {
        let c = Constraint::new(1, 1, AllocPolicy::FirstMatch)
            .unwrap()
            .with_min_address(10)
            .with_max_address(100)
            .with_min_address(5)
            .within(RangeInclusive::new(20, 200).unwrap());
        assert_eq!((c.min_address(), c.max_address()), (20, 100));
    }
}
