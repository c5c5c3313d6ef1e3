// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The body of an [`AddressAllocator`] file: the space, then every
//! allocation as (gap from the cursor, length - 1).

use alloc::vec::Vec;

use super::frame;
use super::varint::{self, Reader};
use super::{DecodeError, ErrorKind, Field, FileKind};
use crate::state::{AddressChecker, Checked};
use crate::{AddressAllocator, RangeInclusive};

impl AddressAllocator {
    /// Encodes the allocator in the stable format of `FORMAT.md`.
    ///
    /// The encoding is canonical: equal allocators give equal bytes. Packed
    /// page-sized allocations take 3 bytes each.
    ///
    /// ```rust
    /// use vm_allocator::{AddressAllocator, AllocPolicy};
    ///
    /// let mut pio = AddressAllocator::new(0, 0x10000).unwrap();
    /// pio.allocate(8, 1, AllocPolicy::ExactMatch(0x3f8)).unwrap();
    /// let bytes = pio.to_bytes();
    /// assert_eq!(&bytes[..8], b"\x89VMA\r\n\x1a\n");
    /// assert_eq!(AddressAllocator::from_bytes(&bytes).unwrap(), pio);
    /// ```
    ///
    /// Time: O(n), n = live allocations.
    pub fn to_bytes(&self) -> Vec<u8> {
        let hint = usize::try_from(self.len())
            .unwrap_or(usize::MAX / 8)
            .saturating_mul(3)
            .saturating_add(24);
        frame::seal(FileKind::AddressAllocator, hint, |out| {
            let space = self.space();
            varint::write(out, space.start());
            varint::write(out, space.end());
            varint::write(out, self.len());
            let mut cursor = space.start();
            for r in self.iter() {
                varint::write(out, r.start() - cursor);
                varint::write(out, r.end() - r.start());
                // Past u64::MAX only after the last allocation.
                cursor = r.end().wrapping_add(1);
            }
        })
    }

    /// Decodes and fully validates an allocator encoded by
    /// [`to_bytes`](Self::to_bytes).
    ///
    /// Accepts exactly the canonical encodings of valid allocators, so the
    /// result encodes back to `bytes`. Anything else is a [`DecodeError`]
    /// naming the offset, the field and the reason; no input makes it panic
    /// or allocate more than a small multiple of `bytes.len()`.
    ///
    /// ```rust
    /// use vm_allocator::format::{ErrorKind, Field};
    /// use vm_allocator::{AddressAllocator, AllocPolicy};
    ///
    /// let mut mmio = AddressAllocator::new(0xd000_0000, 0x1000_0000).unwrap();
    /// mmio.allocate(0x4000, 0x4000, AllocPolicy::LastMatch).unwrap();
    /// let mut bytes = mmio.to_bytes();
    /// assert_eq!(AddressAllocator::from_bytes(&bytes).unwrap(), mmio);
    ///
    /// let last = bytes.len() - 1;
    /// bytes[last] ^= 1; // damage the checksum
    /// let err = AddressAllocator::from_bytes(&bytes).unwrap_err();
    /// assert_eq!(err.field, Field::Checksum);
    /// assert!(matches!(err.kind, ErrorKind::ChecksumMismatch { .. }));
    /// ```
    ///
    /// Time: O(len), len = `bytes.len()`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let frame = frame::open(bytes, Some(FileKind::AddressAllocator))?;
        decode_body(frame.body)
    }
}

/// Decodes a version 1 body, streaming every allocation through the checker
/// into the tree.
pub(super) fn decode_body(mut r: Reader<'_>) -> Result<AddressAllocator, DecodeError> {
    let start = r.varint(Field::SpaceStart)?;
    let end_offset = r.pos();
    let end = r.varint(Field::SpaceEnd)?;
    let mut checker = AddressChecker::new(start, end)
        .map_err(|e| DecodeError::new(end_offset, Field::SpaceEnd, ErrorKind::InvalidState(e)))?;
    let space = checker.space();
    let count = r.count(Field::AllocationCount)?;

    let mut items = Batches {
        r: &mut r,
        checker: &mut checker,
        cursor: Some(space.start()),
        next_index: 0,
        count,
        batch: [RangeInclusive::from_parts(0, 0); BATCH],
        batch_len: 0,
        batch_pos: 0,
        failure: None,
    };
    let allocator = AddressAllocator::from_validated(space, &mut Checked::new(&mut items));
    if let Some(e) = items.failure {
        return Err(e);
    }
    r.finish(Field::EndOfBody)?;
    Ok(allocator)
}

/// Allocations decoded per batch.
const BATCH: usize = 64;

/// Decodes and checks allocations a batch at a time, in one tight loop: a
/// third faster than one item per call through the layers of the stream.
/// The first error is kept here; the stream only learns that it must stop,
/// which keeps its items small.
struct Batches<'r, 'a> {
    r: &'r mut Reader<'a>,
    checker: &'r mut AddressChecker,
    /// Where the next allocation may start; None once past u64::MAX.
    cursor: Option<u64>,
    next_index: u64,
    count: u64,
    batch: [RangeInclusive; BATCH],
    batch_len: usize,
    batch_pos: usize,
    failure: Option<DecodeError>,
}

impl Iterator for Batches<'_, '_> {
    type Item = Result<RangeInclusive, ()>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.batch_pos == self.batch_len {
            if self.failure.is_some() {
                return Some(Err(()));
            }
            self.refill();
            if self.batch_len == 0 {
                return self.failure.is_some().then_some(Err(()));
            }
        }
        let item = self.batch[self.batch_pos];
        self.batch_pos += 1;
        Some(Ok(item))
    }
}

impl Batches<'_, '_> {
    fn refill(&mut self) {
        let n = (self.count - self.next_index).min(BATCH as u64) as usize;
        let (filled, failure) = decode_batch(
            self.r,
            self.checker,
            &mut self.cursor,
            self.next_index,
            &mut self.batch[..n],
        );
        self.failure = failure;
        self.next_index += filled as u64;
        self.batch_len = filled;
        self.batch_pos = 0;
    }
}

/// Fills `batch` with the allocations from `first_index` on; returns how
/// many were filled and the error that stopped it, if any.
fn decode_batch(
    r: &mut Reader<'_>,
    checker: &mut AddressChecker,
    cursor: &mut Option<u64>,
    first_index: u64,
    batch: &mut [RangeInclusive],
) -> (usize, Option<DecodeError>) {
    for (i, slot) in batch.iter_mut().enumerate() {
        match next_allocation(r, cursor, checker, first_index + i as u64) {
            Ok(range) => *slot = range,
            Err(e) => return (i, Some(e)),
        }
    }
    (batch.len(), None)
}

/// Reads allocation `index` and checks it.
#[inline(always)]
fn next_allocation(
    r: &mut Reader<'_>,
    cursor: &mut Option<u64>,
    checker: &mut AddressChecker,
    index: u64,
) -> Result<RangeInclusive, DecodeError> {
    let item_offset = r.pos();
    let start_field = Field::AllocationStart { index };
    let gap = r.varint(start_field)?;
    let start = cursor
        .and_then(|c| c.checked_add(gap))
        .ok_or_else(|| overflow(item_offset, start_field, gap))?;
    let length_offset = r.pos();
    let length_field = Field::AllocationLength { index };
    let len_minus_one = r.varint(length_field)?;
    let end = start
        .checked_add(len_minus_one)
        .ok_or_else(|| overflow(length_offset, length_field, len_minus_one))?;
    *cursor = end.checked_add(1);
    checker
        .check(start, end)
        .map_err(|e| DecodeError::new(item_offset, start_field, ErrorKind::InvalidState(e)))
}

#[cold]
fn overflow(offset: usize, field: Field, value: u64) -> DecodeError {
    DecodeError::new(offset, field, ErrorKind::Overflow { value })
}
