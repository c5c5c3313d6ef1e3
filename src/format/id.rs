// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The body of an [`IdAllocator`] file: the range, the next id, then every
//! maximal run of allocated ids as (gap, length - 1).

use alloc::vec::Vec;

use super::frame;
use super::varint::{self, Reader};
use super::{DecodeError, ErrorKind, Field, FileKind};
use crate::state::{Checked, IdChecker};
use crate::{IdAllocator, StateError};

impl IdAllocator {
    /// Encodes the allocator in the stable format of `FORMAT.md`: its range,
    /// the highest id ever handed out, and the allocated ids as runs.
    ///
    /// The encoding is canonical: equal allocators give equal bytes.
    ///
    /// ```rust
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut gsi = IdAllocator::new(5, 23).unwrap();
    /// gsi.allocate_id().unwrap();
    /// gsi.allocate_id_at(9).unwrap();
    /// let bytes = gsi.to_bytes();
    /// assert_eq!(bytes.len(), 24);
    /// assert_eq!(IdAllocator::from_bytes(&bytes).unwrap(), gsi);
    /// ```
    ///
    /// Time: O(r), r = runs of allocated ids.
    pub fn to_bytes(&self) -> Vec<u8> {
        let runs = self.ranges();
        let run_count = match runs.size_hint() {
            (low, Some(high)) if low == high => low as u64,
            _ => self.ranges().count() as u64,
        };
        let hint = usize::try_from(run_count)
            .unwrap_or(0)
            .saturating_mul(4)
            .saturating_add(24);
        frame::seal(FileKind::IdAllocator, hint, |out| {
            let base = u64::from(self.range_base());
            varint::write(out, base);
            varint::write(out, self.range_end().into());
            varint::write(out, self.next_id() - base);
            varint::write(out, run_count);
            // The first run is measured from the base, the next ones from
            // two past the previous run: runs never touch.
            let mut cursor = base;
            for run in runs {
                let (first, last) = (u64::from(*run.start()), u64::from(*run.end()));
                varint::write(out, first - cursor);
                varint::write(out, last - first);
                cursor = last + 2;
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
    /// use vm_allocator::format::{ErrorKind, Field, SUPPORTED_VERSIONS};
    /// use vm_allocator::IdAllocator;
    ///
    /// let mut bytes = IdAllocator::new(0, 31).unwrap().to_bytes();
    /// bytes[8] = 9; // a format version from the future
    /// let err = IdAllocator::from_bytes(&bytes).unwrap_err();
    /// assert_eq!((err.offset, err.field), (8, Field::Version));
    /// assert_eq!(
    ///     err.kind,
    ///     ErrorKind::UnsupportedVersion { found: 9, supported: SUPPORTED_VERSIONS }
    /// );
    /// ```
    ///
    /// Time: O(len), len = `bytes.len()`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let frame = frame::open(bytes, Some(FileKind::IdAllocator))?;
        decode_body(frame.body)
    }
}

/// Decodes a version 1 body, streaming every run through the checker into
/// the tree.
pub(super) fn decode_body(mut r: Reader<'_>) -> Result<IdAllocator, DecodeError> {
    const U32_MAX: u64 = u32::MAX as u64;
    let base = r.varint_at_most(Field::RangeBase, U32_MAX)?;
    let end_offset = r.pos();
    let end = r.varint_at_most(Field::RangeEnd, U32_MAX)?;
    let next_offset = r.pos();
    // next_id - base is at most 2^32 (next_id = end + 1 = 2^32, base = 0).
    let next_id = base + r.varint_at_most(Field::NextId, U32_MAX + 1)?;
    let mut checker = IdChecker::new(base, end, next_id).map_err(|e| {
        let (offset, field) = match e {
            StateError::InvalidIdRange { .. } => (end_offset, Field::RangeEnd),
            _ => (next_offset, Field::NextId),
        };
        DecodeError::new(offset, field, ErrorKind::InvalidState(e))
    })?;
    let (base32, end32) = checker.range();
    let next_id = checker.next_id();
    let count = r.count(Field::RunCount)?;

    // Where the next run may start at the earliest; values stay below 2^35,
    // so nothing here can overflow.
    let mut cursor = base;
    let mut checked = Checked::new((0..count).map(|index| {
        let item_offset = r.pos();
        let start_field = Field::RunStart { index };
        let first = cursor + r.varint_at_most(start_field, U32_MAX)?;
        let last = first + r.varint_at_most(Field::RunLength { index }, U32_MAX)?;
        cursor = last + 2;
        checker
            .check(first, last)
            .map_err(|e| DecodeError::new(item_offset, start_field, ErrorKind::InvalidState(e)))
    }));
    let allocator = IdAllocator::from_validated(base32, end32, next_id, &mut checked);
    if let Some(e) = checked.into_error() {
        return Err(e);
    }
    r.finish(Field::EndOfBody)?;
    Ok(allocator)
}
