// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! A closed interval of `u64` values.

use core::cmp::{max, min};

use crate::{Error, Result};

/// A closed interval `[start, end]`: an allocated address range, the managed
/// address space, or a bound for an allocation.
///
/// Invariant: `start <= end`, and the interval is never the whole `u64` space
/// (its length, 2^64, would not fit in a `u64`).
///
/// # Example
///
/// ```rust
/// use vm_allocator::RangeInclusive;
///
/// let r = RangeInclusive::new(0x0, 0x100).unwrap();
/// assert_eq!(r.len(), 0x101);
/// assert_eq!(r.start(), 0x0);
/// assert_eq!(r.end(), 0x100);
///
/// // Check if a region contains another region.
/// let other = RangeInclusive::new(0x50, 0x80).unwrap();
/// assert!(r.contains(&other));
///
/// // Check if a region overlaps with another one.
/// let other = RangeInclusive::new(0x99, 0x150).unwrap();
/// assert!(r.overlaps(&other));
/// ```
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct RangeInclusive {
    start: u64,
    end: u64,
}

#[allow(clippy::len_without_is_empty)] // a RangeInclusive is never empty
impl RangeInclusive {
    /// Creates the range `[start, end]`.
    ///
    /// Fails with [`Error::InvalidRange`] when `start > end` or when the range
    /// would be the whole `u64` space.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{Error, RangeInclusive};
    ///
    /// let bar = RangeInclusive::new(0xd000_0000, 0xd000_3fff)?;
    /// assert_eq!(bar.len(), 0x4000);
    /// assert_eq!(RangeInclusive::new(2, 1), Err(Error::InvalidRange(2, 1)));
    /// assert_eq!(
    ///     RangeInclusive::new(0, u64::MAX).unwrap_err().to_string(),
    ///     "the range 0x0-0xffffffffffffffff is not valid"
    /// );
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new(start: u64, end: u64) -> Result<Self> {
        if start > end || (start == 0 && end == u64::MAX) {
            return Err(Error::InvalidRange(start, end));
        }
        Ok(RangeInclusive { start, end })
    }

    /// Returns the number of values in the range.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::RangeInclusive;
    ///
    /// assert_eq!(RangeInclusive::new(0x1000, 0x1fff)?.len(), 0x1000);
    /// assert_eq!(RangeInclusive::new(7, 7)?.len(), 1);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// Returns true if the two ranges share at least one value.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::RangeInclusive;
    ///
    /// let a = RangeInclusive::new(0x1000, 0x1fff)?;
    /// assert!(a.overlaps(&RangeInclusive::new(0x1fff, 0x2fff)?));
    /// assert!(!a.overlaps(&RangeInclusive::new(0x2000, 0x2fff)?));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn overlaps(&self, other: &RangeInclusive) -> bool {
        max(self.start, other.start) <= min(self.end, other.end)
    }

    /// Returns true if `other` lies entirely inside this range.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::RangeInclusive;
    ///
    /// let hole = RangeInclusive::new(0xc000_0000, 0xffff_ffff)?;
    /// assert!(hole.contains(&RangeInclusive::new(0xd000_0000, 0xd000_0fff)?));
    /// assert!(hole.contains(&hole));
    /// assert!(!hole.contains(&RangeInclusive::new(0xffff_f000, 0x1_0000_0fff)?));
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn contains(&self, other: &RangeInclusive) -> bool {
        self.start <= other.start && self.end >= other.end
    }

    /// Returns the first value of the range.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::RangeInclusive;
    ///
    /// assert_eq!(RangeInclusive::new(0x3f8, 0x3ff)?.start(), 0x3f8);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Returns the last value of the range.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::RangeInclusive;
    ///
    /// assert_eq!(RangeInclusive::new(0x3f8, 0x3ff)?.end(), 0x3ff);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Returns true if `value` lies inside the range.
    ///
    /// ```rust
    /// use vm_allocator::RangeInclusive;
    ///
    /// let r = RangeInclusive::new(0x1000, 0x1fff).unwrap();
    /// assert!(r.contains_value(0x1fff));
    /// assert!(!r.contains_value(0x2000));
    /// ```
    pub fn contains_value(&self, value: u64) -> bool {
        self.start <= value && value <= self.end
    }

    /// Returns the values the two ranges share, if any.
    ///
    /// ```rust
    /// use vm_allocator::RangeInclusive;
    ///
    /// let a = RangeInclusive::new(0, 99).unwrap();
    /// let b = RangeInclusive::new(50, 200).unwrap();
    /// assert_eq!(
    ///     a.intersection(&b),
    ///     Some(RangeInclusive::new(50, 99).unwrap())
    /// );
    /// ```
    pub fn intersection(&self, other: &RangeInclusive) -> Option<RangeInclusive> {
        let start = max(self.start, other.start);
        let end = min(self.end, other.end);
        (start <= end).then_some(RangeInclusive { start, end })
    }

    /// Builds a range from parts the caller has already checked.
    pub(crate) fn from_parts(start: u64, end: u64) -> Self {
        debug_assert!(start <= end && !(start == 0 && end == u64::MAX));
        RangeInclusive { start, end }
    }
}

/// A block of ids widened to the crate's range, exactly: what a
/// [`ResourceSet`](crate::ResourceSet)-wide answer (`allocations_of`,
/// `free_owner`) or a [`Diff`](crate::Diff) gives for ids.
///
/// Fails with [`Error::InvalidRange`] for an empty block (`start > end`,
/// or a block an iterator has used up).
///
/// ```rust
/// use vm_allocator::{Error, RangeInclusive};
///
/// let vectors = 24..=27u32;
/// assert_eq!(
///     RangeInclusive::try_from(vectors)?,
///     RangeInclusive::new(24, 27)?
/// );
/// assert_eq!(
///     RangeInclusive::try_from(5..=4u32),
///     Err(Error::InvalidRange(5, 4))
/// );
/// # Ok::<(), Error>(())
/// ```
impl TryFrom<core::ops::RangeInclusive<u32>> for RangeInclusive {
    type Error = Error;

    fn try_from(ids: core::ops::RangeInclusive<u32>) -> Result<Self> {
        let (start, end) = (u64::from(*ids.start()), u64::from(*ids.end()));
        if ids.is_empty() {
            return Err(Error::InvalidRange(start, end));
        }
        Ok(RangeInclusive::from_parts(start, end))
    }
}

/// The crate's range as a block of ids, exactly: the way back from a
/// [`ResourceSet`](crate::ResourceSet)-wide answer or a
/// [`Diff`](crate::Diff) change of an id pool to what
/// [`IdAllocator`](crate::IdAllocator)'s methods take.
///
/// Fails with [`Error::InvalidRange`] if the range ends above `u32::MAX`
/// (it is then no block of ids).
///
/// ```rust
/// use core::ops::RangeInclusive as IdRange;
/// use vm_allocator::{Error, RangeInclusive};
///
/// let run = RangeInclusive::new(24, 27)?;
/// assert_eq!(IdRange::<u32>::try_from(run)?, 24..=27);
/// let above = RangeInclusive::new(1 << 32, 1 << 32)?;
/// assert_eq!(
///     IdRange::<u32>::try_from(above),
///     Err(Error::InvalidRange(1 << 32, 1 << 32))
/// );
/// # Ok::<(), Error>(())
/// ```
impl TryFrom<RangeInclusive> for core::ops::RangeInclusive<u32> {
    type Error = Error;

    fn try_from(range: RangeInclusive) -> Result<Self> {
        match (u32::try_from(range.start), u32::try_from(range.end)) {
            (Ok(start), Ok(end)) => Ok(start..=end),
            _ => Err(Error::InvalidRange(range.start, range.end)),
        }
    }
}

/// `bounds` as `(first, last)`, both included; an empty range comes out
/// with `first > last` (every caller then finds nothing).
pub(crate) fn inclusive_bounds<T>(bounds: &impl core::ops::RangeBounds<T>) -> (T, T)
where
    T: Copy + Bounded,
{
    use core::ops::Bound::{Excluded, Included, Unbounded};
    let first = match bounds.start_bound() {
        Included(&x) => Some(x),
        Excluded(&x) => x.successor(),
        Unbounded => Some(T::MIN),
    };
    let last = match bounds.end_bound() {
        Included(&x) => Some(x),
        Excluded(&x) => x.predecessor(),
        Unbounded => Some(T::MAX),
    };
    match (first, last) {
        (Some(first), Some(last)) => (first, last),
        // Nothing after the largest value or before the smallest one.
        _ => (T::MAX, T::MIN),
    }
}

/// The integer types a range query takes: ids (`u32`) and addresses (`u64`).
pub(crate) trait Bounded: Sized {
    const MIN: Self;
    const MAX: Self;
    fn successor(self) -> Option<Self>;
    fn predecessor(self) -> Option<Self>;
}

macro_rules! bounded {
    ($($t:ty),*) => {$(
        impl Bounded for $t {
            const MIN: Self = <$t>::MIN;
            const MAX: Self = <$t>::MAX;
            fn successor(self) -> Option<Self> {
                self.checked_add(1)
            }
            fn predecessor(self) -> Option<Self> {
                self.checked_sub(1)
            }
        }
    )*};
}

bounded!(u32, u64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_rejects_inverted_and_full_ranges() {
        assert_eq!(
            RangeInclusive::new(2, 1).unwrap_err(),
            Error::InvalidRange(2, 1)
        );
        assert_eq!(
            RangeInclusive::new(0, u64::MAX).unwrap_err(),
            Error::InvalidRange(0, u64::MAX)
        );
        assert_eq!(RangeInclusive::new(1, u64::MAX).unwrap().len(), u64::MAX);
        assert_eq!(RangeInclusive::new(5, 5).unwrap().len(), 1);
    }

    #[test]
    fn overlaps_and_contains() {
        let a = RangeInclusive::new(1, 4).unwrap();
        let b = RangeInclusive::new(4, 6).unwrap();
        let c = RangeInclusive::new(2, 3).unwrap();
        let e = RangeInclusive::new(5, 6).unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(a.overlaps(&c) && c.overlaps(&a));
        assert!(!a.overlaps(&e) && !e.overlaps(&a));
        assert!(a.contains(&c));
        assert!(!a.contains(&b));
        assert_eq!(a.intersection(&e), None);
        assert_eq!(a.intersection(&b), Some(RangeInclusive::new(4, 4).unwrap()));
    }

    #[test]
    fn ordering_is_by_start_then_end() {
        let a = RangeInclusive::new(1, 4).unwrap();
        let c = RangeInclusive::new(1, 3).unwrap();
        let d = RangeInclusive::new(1, 5).unwrap();
        assert!(a > c);
        assert!(a < d);
        assert_eq!(a.cmp(&c), core::cmp::Ordering::Greater);
    }
}
