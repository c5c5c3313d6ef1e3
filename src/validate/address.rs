// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The validating builder of [`AddressAllocator`].

use crate::engine::{Span, SpanTreeBuilder};
use crate::{AddressAllocator, Owner, RangeInclusive};

use super::StateError;

/// Builds an [`AddressAllocator`] from its allocations, pushed in
/// increasing order, checking each as it comes.
///
/// Every way state comes in (decoded bytes, serde, 0.1.x imports,
/// `Versionize`, [`AddressAllocator::from_allocations`]) goes through this
/// builder, so none can build an allocator that would hand out an address
/// twice.
///
/// ```rust
/// use vm_allocator::{AddressAllocatorBuilder, Owner, RangeInclusive, StateError};
///
/// let r = |a, b| RangeInclusive::new(a, b).unwrap();
/// let mut builder = AddressAllocatorBuilder::new(r(0x1000, 0xffff)).generation(7);
/// builder.push(r(0x1000, 0x1fff), None).unwrap();
/// builder
///     .push(r(0x4000, 0x4fff), Some(Owner::new("virtio-net0").unwrap()))
///     .unwrap();
/// // Out of order: refused, with its position.
/// assert_eq!(
///     builder.push(r(0x2000, 0x2fff), None).unwrap_err(),
///     StateError::Overlap {
///         index: 2,
///         previous_end: 0x4fff,
///         start: 0x2000
///     }
/// );
/// // The first error sticks.
/// assert!(builder.finish().is_err());
/// ```
#[derive(Debug)]
pub struct AddressAllocatorBuilder {
    space: RangeInclusive,
    generation: u64,
    /// Position of the next allocation.
    index: u64,
    previous_end: Option<u64>,
    tree: SpanTreeBuilder,
    error: Option<StateError>,
}

impl AddressAllocatorBuilder {
    /// Starts an allocator of the address space `space`, at generation 0.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocatorBuilder, RangeInclusive};
    ///
    /// let space = RangeInclusive::new(0xd000_0000, 0xdfff_ffff)?;
    /// let mmio = AddressAllocatorBuilder::new(space).finish().unwrap();
    /// assert_eq!((mmio.space(), mmio.generation()), (space, 0));
    /// assert!(mmio.is_empty());
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn new(space: RangeInclusive) -> Self {
        AddressAllocatorBuilder {
            space,
            generation: 0,
            index: 0,
            previous_end: None,
            tree: SpanTreeBuilder::new(),
            error: None,
        }
    }

    /// Starts an allocator of the space `[start, end]`, which is checked.
    pub(crate) fn from_bounds(start: u64, end: u64) -> Result<Self, StateError> {
        let space =
            RangeInclusive::new(start, end).map_err(|_| StateError::InvalidSpace { start, end })?;
        Ok(AddressAllocatorBuilder::new(space))
    }

    /// Sets the generation the allocator starts at.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocatorBuilder, RangeInclusive};
    ///
    /// let space = RangeInclusive::new(0, 0xffff)?;
    /// let pio = AddressAllocatorBuilder::new(space)
    ///     .generation(42)
    ///     .finish()
    ///     .unwrap();
    /// assert_eq!(pio.generation(), 42);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn generation(mut self, generation: u64) -> Self {
        self.generation = generation;
        self
    }

    /// The address space.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocatorBuilder, RangeInclusive};
    ///
    /// let space = RangeInclusive::new(0, 0xffff)?;
    /// assert_eq!(AddressAllocatorBuilder::new(space).space(), space);
    /// # Ok::<(), vm_allocator::Error>(())
    /// ```
    pub fn space(&self) -> RangeInclusive {
        self.space
    }

    /// Adds the next allocation, owned by `owner`. It must lie inside the
    /// space and start after the previous one ends.
    ///
    /// Time: O(1) amortised.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocatorBuilder, Owner, RangeInclusive, StateError};
    ///
    /// let r = |a, b| RangeInclusive::new(a, b).unwrap();
    /// let mut builder = AddressAllocatorBuilder::new(r(0, 0xffff));
    /// builder.push(r(0x2f8, 0x2ff), None)?;
    /// builder.push(r(0x3f8, 0x3ff), Some(Owner::new("serial0").unwrap()))?;
    /// let err = builder.push(r(0xfff8, 0x1_0007), None).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "allocation #2 0xfff8-0x10007 lies outside 0x0-0xffff"
    /// );
    /// # Ok::<(), StateError>(())
    /// ```
    pub fn push(&mut self, range: RangeInclusive, owner: Option<Owner>) -> Result<(), StateError> {
        self.push_bounds(range.start(), range.end(), owner)
    }

    /// Adds the next allocation `[start, end]`, checking that it is a range.
    #[inline(always)]
    pub(crate) fn push_bounds(
        &mut self,
        start: u64,
        end: u64,
        owner: Option<Owner>,
    ) -> Result<(), StateError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let checked = self.check(start, end);
        if let Err(e) = checked {
            self.error = Some(e);
            return Err(e);
        }
        self.previous_end = Some(end);
        self.index += 1;
        self.tree.push(Span::new(start, end), owner);
        Ok(())
    }

    /// Adds allocations without owners that `fill` writes, in order, into
    /// the slots it is given (at least one), returning how many it wrote:
    /// what [`push_bounds`](Self::push_bounds) does for each, checked in
    /// one pass over them where they lie, then taken at once. On the first
    /// bad one, none is taken, and its position among them is returned with
    /// the error, which sticks.
    ///
    /// For decoders: no copy between reading an allocation and storing it.
    #[inline]
    pub(crate) fn push_filled(
        &mut self,
        fill: impl FnOnce(&mut [Span]) -> usize,
    ) -> Result<usize, (usize, StateError)> {
        if let Some(e) = self.error {
            return Err((0, e));
        }
        let (space_start, space_end) = (self.space.start(), self.space.end());
        let slots = self.tree.spare();
        let n = fill(slots);
        let spans = &slots[..n];
        // Every rule at once, without a branch per allocation: each starts
        // at or after the lowest start allowed next (none may follow one
        // that ends at u64::MAX) and ends at or after its start. Sorted so,
        // all lie inside the space when the first starts and the last ends
        // inside it.
        let (mut next, mut ended) = match self.previous_end {
            None => (space_start, false),
            Some(end) => (end.wrapping_add(1), end == u64::MAX),
        };
        let mut bad = false;
        for span in spans {
            bad |= ended | (span.start < next) | (span.start > span.end);
            ended |= span.end == u64::MAX;
            next = span.end.wrapping_add(1);
        }
        if let (Some(first), Some(last)) = (spans.first(), spans.last()) {
            bad |= first.start < space_start || last.end > space_end;
        }
        if bad {
            // The general check names the first rule broken.
            let mut previous_end = self.previous_end;
            for (i, span) in spans.iter().enumerate() {
                let index = self.index + i as u64;
                if let Err(e) = check(self.space, index, previous_end, span.start, span.end) {
                    self.error = Some(e);
                    return Err((i, e));
                }
                previous_end = Some(span.end);
            }
            unreachable!("a span broke a rule");
        }
        if let Some(last) = spans.last() {
            self.previous_end = Some(last.end);
        }
        self.index += n as u64;
        self.tree.commit(n);
        Ok(n)
    }

    #[inline]
    fn check(&self, start: u64, end: u64) -> Result<(), StateError> {
        check(self.space, self.index, self.previous_end, start, end)
    }

    /// The allocator, or the first error met. Time: O(n / node size).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocatorBuilder, AllocPolicy, RangeInclusive};
    ///
    /// let r = |a, b| RangeInclusive::new(a, b).unwrap();
    /// let mut builder = AddressAllocatorBuilder::new(r(0, 0xffff));
    /// builder.push(r(0x3f8, 0x3ff), None)?;
    /// let mut pio = builder.finish()?;
    /// assert!(pio.allocate(8, 1, AllocPolicy::ExactMatch(0x3f8)).is_err()); // restored as taken
    /// assert_eq!(pio.allocate(8, 8, AllocPolicy::FirstMatch)?.start(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn finish(self) -> Result<AddressAllocator, StateError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        Ok(AddressAllocator::from_parts(
            self.space,
            self.tree.finish(),
            self.generation,
        ))
    }
}

/// The rules an allocation `[start, end]` at position `index` must follow,
/// after one that ended at `previous_end`.
#[inline]
fn check(
    space: RangeInclusive,
    index: u64,
    previous_end: Option<u64>,
    start: u64,
    end: u64,
) -> Result<(), StateError> {
    if start > end {
        return Err(StateError::InvertedRange { index, start, end });
    }
    if start < space.start() || end > space.end() {
        return Err(StateError::OutOfRange {
            index,
            start,
            end,
            space_start: space.start(),
            space_end: space.end(),
        });
    }
    match previous_end {
        Some(previous_end) if start <= previous_end => Err(StateError::Overlap {
            index,
            previous_end,
            start,
        }),
        _ => Ok(()),
    }
}

impl AddressAllocator {
    /// Restores an allocator of the address space `space` holding exactly
    /// `allocations`, which must be sorted, disjoint and inside the space.
    ///
    /// This is how a VMM rebuilds its allocator from its own record of
    /// assignments; every item is checked and the first bad one is reported
    /// with its position ([`AddressAllocatorBuilder`] also takes owners and
    /// a generation).
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, RangeInclusive, StateError};
    ///
    /// let space = RangeInclusive::new(0x1000, 0xffff).unwrap();
    /// let r = |a, b| RangeInclusive::new(a, b).unwrap();
    /// let a =
    ///     AddressAllocator::from_allocations(space, [r(0x1000, 0x1fff), r(0x4000, 0x4fff)]).unwrap();
    /// assert_eq!(a.len(), 2);
    ///
    /// let err = AddressAllocator::from_allocations(space, [r(0x4000, 0x4fff), r(0x1000, 0x1fff)])
    ///     .unwrap_err();
    /// assert_eq!(
    ///     err,
    ///     StateError::Overlap {
    ///         index: 1,
    ///         previous_end: 0x4fff,
    ///         start: 0x1000
    ///     }
    /// );
    /// ```
    ///
    /// Time: O(n).
    pub fn from_allocations(
        space: RangeInclusive,
        allocations: impl IntoIterator<Item = RangeInclusive>,
    ) -> Result<Self, StateError> {
        let mut builder = AddressAllocatorBuilder::new(space);
        for range in allocations {
            builder.push(range, None)?;
        }
        builder.finish()
    }
}
