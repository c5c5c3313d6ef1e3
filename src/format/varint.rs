// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Canonical unsigned LEB128 varints, and a bounds-checked reader of them.

use super::sink::Sink;
use super::{DecodeError, DecodeErrorKind, Field};

/// The longest varint: ten 7-bit groups hold 64 bits.
const MAX_LEN: usize = 10;

/// The fewest bytes an item of a version 1 list (two varints) takes;
/// counts are checked against it before anything is built.
pub(super) const MIN_ITEM_BYTES: usize = 2;

/// The fewest bytes an item of a version 2 list (three varints) takes.
pub(super) const MIN_OWNED_ITEM_BYTES: usize = 3;

/// The fewest bytes a name (a length and one byte) takes.
pub(super) const MIN_NAME_BYTES: usize = 2;

/// Appends the minimal LEB128 encoding of `value`, a byte at a time: the
/// usual values take one to three bytes, for which a copy of a slice of
/// unknown length (a call to `memcpy`) costs more than the pushes.
#[inline]
pub(super) fn write<S: Sink>(out: &mut S, mut value: u64) {
    while value >= 0x80 {
        out.byte(value as u8 | 0x80);
        value >>= 7;
    }
    out.byte(value as u8);
}

/// Puts the minimal LEB128 encoding of `value` at `buf[pos..]` and returns
/// the position after it: what an encoder that fills a buffer of many
/// fields, then appends it at once, writes with. Panics if it does not fit.
#[inline(always)]
pub(super) fn put(buf: &mut [u8], pos: usize, value: u64) -> usize {
    if value < 0x80 {
        buf[pos] = value as u8;
        return pos + 1;
    }
    if value < 0x4000 {
        buf[pos] = value as u8 | 0x80;
        buf[pos + 1] = (value >> 7) as u8;
        return pos + 2;
    }
    let (bytes, len) = to_array(value);
    buf[pos..pos + len].copy_from_slice(&bytes[..len]);
    pos + len
}

/// The minimal LEB128 encoding of `value` in a buffer, and its length.
pub(super) fn to_array(mut value: u64) -> ([u8; MAX_LEN], usize) {
    let mut buf = [0; MAX_LEN];
    let mut len = 0;
    while value >= 0x80 {
        buf[len] = value as u8 | 0x80;
        value >>= 7;
        len += 1;
    }
    buf[len] = value as u8;
    (buf, len + 1)
}

/// Reads fields from `bytes[pos..]`; offsets in errors count from the start
/// of `bytes`, which is the start of the file.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8], pos: usize) -> Self {
        debug_assert!(pos <= bytes.len());
        Reader { bytes, pos }
    }

    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    pub(super) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// The next `n` bytes.
    pub(super) fn take(&mut self, n: usize, field: Field) -> Result<&'a [u8], DecodeError> {
        let available = self.remaining();
        if available < n {
            return Err(DecodeError::new(
                self.pos,
                field,
                DecodeErrorKind::Truncated {
                    needed: n as u64,
                    available: available as u64,
                },
            ));
        }
        let taken = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(taken)
    }

    /// The next varint, which must be canonical.
    #[inline(always)]
    pub(super) fn varint(&mut self, field: Field) -> Result<u64, DecodeError> {
        // Fields of packed allocations take one byte (gaps) or two (page
        // lengths): decode those inline, the rest in the general loop.
        let pos = self.pos;
        if let Some(&b0) = self.bytes.get(pos) {
            if b0 < 0x80 {
                self.pos = pos + 1;
                return Ok(b0.into());
            }
            if let Some(&b1) = self.bytes.get(pos + 1) {
                // 1..=0x7f: a last byte (0 would be overlong, left to the loop).
                if b1.wrapping_sub(1) < 0x7f {
                    self.pos = pos + 2;
                    return Ok(u64::from(b0 & 0x7f) | u64::from(b1) << 7);
                }
            }
        }
        let (value, next) = varint_at(self.bytes, pos, field)?;
        self.pos = next;
        Ok(value)
    }

    /// The whole input and the position in it, for a decoding loop that
    /// keeps its own position (then [`advance`](Self::advance)s).
    #[inline(always)]
    pub(super) fn parts(&self) -> (&'a [u8], usize) {
        (self.bytes, self.pos)
    }

    /// Skips `n` bytes that a loop over [`parts`](Self::parts) read.
    #[inline(always)]
    pub(super) fn advance(&mut self, n: usize) {
        debug_assert!(n <= self.remaining());
        self.pos += n;
    }

    /// Consumes the next byte if it is 0 (the one-byte varint 0), and says
    /// whether it did.
    #[inline(always)]
    pub(super) fn skip_zero(&mut self) -> bool {
        let zero = self.bytes.get(self.pos) == Some(&0);
        self.pos += usize::from(zero);
        zero
    }

    /// The next varint, which must be at most `max`.
    #[inline]
    pub(super) fn varint_at_most(&mut self, field: Field, max: u64) -> Result<u64, DecodeError> {
        let start = self.pos;
        let value = self.varint(field)?;
        if value > max {
            return Err(DecodeError::new(
                start,
                field,
                DecodeErrorKind::ValueOutOfRange { value, max },
            ));
        }
        Ok(value)
    }

    /// A count of items that follow, each taking at least
    /// [`MIN_ITEM_BYTES`]: refused before anything is allocated when the
    /// rest of the input could not hold that many.
    pub(super) fn count(&mut self, field: Field) -> Result<u64, DecodeError> {
        self.count_of(field, MIN_ITEM_BYTES)
    }

    /// A count of items that follow, each taking at least `item_bytes`:
    /// refused before anything is allocated when the rest of the input
    /// could not hold that many.
    pub(super) fn count_of(&mut self, field: Field, item_bytes: usize) -> Result<u64, DecodeError> {
        let start = self.pos;
        let count = self.varint(field)?;
        let max = (self.remaining() / item_bytes) as u64;
        if count > max {
            return Err(DecodeError::new(
                start,
                field,
                DecodeErrorKind::CountTooLarge { count, max },
            ));
        }
        Ok(count)
    }

    /// A name: its length (1 to `MAX_NAME_LEN`), then as many bytes of
    /// UTF-8 that follow the naming rules. Errors are placed at the length.
    pub(super) fn name(&mut self, field: Field) -> Result<&'a str, DecodeError> {
        let start = self.pos;
        let len = self.varint_at_most(field, crate::MAX_NAME_LEN as u64)? as usize;
        let at = |kind| DecodeError::new(start, field, kind);
        if len == 0 {
            return Err(at(DecodeErrorKind::InvalidName(crate::NameError::Empty)));
        }
        let bytes = self
            .take(len, field)
            .map_err(|e| DecodeError { offset: start, ..e })?;
        let name = core::str::from_utf8(bytes).map_err(|e| {
            at(DecodeErrorKind::InvalidUtf8 {
                at: e.valid_up_to(),
            })
        })?;
        crate::owner::check_name(name).map_err(|e| at(DecodeErrorKind::InvalidName(e)))?;
        Ok(name)
    }

    /// A little-endian `u32` (a checksum).
    pub(super) fn u32_le(&mut self, field: Field) -> Result<u32, DecodeError> {
        let b = self.take(4, field)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// One byte.
    pub(super) fn byte(&mut self, field: Field) -> Result<u8, DecodeError> {
        Ok(self.take(1, field)?[0])
    }

    /// Checks that nothing is left.
    pub(super) fn finish(&self, field: Field) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::new(
                self.pos,
                field,
                DecodeErrorKind::TrailingBytes {
                    count: count as u64,
                },
            )),
        }
    }
}

/// Decodes the varint at `bytes[start..]`: its value and the offset after
/// it. A free function, so that the reader's position never escapes to it
/// and stays in a register in decoding loops.
#[inline(never)]
fn varint_at(bytes: &[u8], start: usize, field: Field) -> Result<(u64, usize), DecodeError> {
    let error = |kind| DecodeError::new(start, field, kind);
    let mut value = 0u64;
    for i in 0..MAX_LEN {
        let Some(&byte) = bytes.get(start + i) else {
            return Err(error(DecodeErrorKind::Truncated {
                needed: i as u64 + 1,
                available: i as u64,
            }));
        };
        // The tenth group holds only bit 63.
        if i == MAX_LEN - 1 && byte > 1 {
            return Err(error(DecodeErrorKind::VarintTooLarge));
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            // A last group of zero adds nothing: a shorter encoding exists.
            if byte == 0 && i > 0 {
                return Err(error(DecodeErrorKind::OverlongVarint));
            }
            return Ok((value, start + i + 1));
        }
    }
    // Not reached: a tenth byte of 0 or 1 ends the varint, any other
    // is refused above.
    Err(error(DecodeErrorKind::VarintTooLarge))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    fn encode(value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        write(&mut out, value);
        out
    }

    /// Length of the minimal LEB128 encoding of `value`.
    fn encoded_len(value: u64) -> usize {
        let bits = 64 - (value | 1).leading_zeros() as usize;
        bits.div_ceil(7)
    }

    fn decode(bytes: &[u8]) -> Result<(u64, usize), DecodeErrorKind> {
        let mut r = Reader::new(bytes, 0);
        r.varint(Field::Body)
            .map(|v| (v, r.pos()))
            .map_err(|e| e.kind)
    }

    #[test]
    fn known_encodings() {
        assert_eq!(encode(0), vec![0x00]);
        assert_eq!(encode(0x7f), vec![0x7f]);
        assert_eq!(encode(0x80), vec![0x80, 0x01]);
        assert_eq!(encode(0xfff), vec![0xff, 0x1f]);
        assert_eq!(encode(300), vec![0xac, 0x02]);
        assert_eq!(
            encode(u64::MAX),
            vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
    }

    #[test]
    fn round_trip_at_every_group_boundary() {
        for shift in 0..64 {
            for value in [1u64 << shift, (1u64 << shift) - 1, (1u64 << shift) + 1] {
                let bytes = encode(value);
                assert_eq!(bytes.len(), encoded_len(value), "{value:#x}");
                assert_eq!(decode(&bytes), Ok((value, bytes.len())), "{value:#x}");
            }
        }
    }

    #[test]
    fn rejects_overlong_and_oversized() {
        assert_eq!(decode(&[0x80, 0x00]), Err(DecodeErrorKind::OverlongVarint));
        assert_eq!(
            decode(&[0x81, 0x80, 0x00]),
            Err(DecodeErrorKind::OverlongVarint)
        );
        let mut ten = vec![0xff; 9];
        ten.push(0x02);
        assert_eq!(decode(&ten), Err(DecodeErrorKind::VarintTooLarge));
        ten[9] = 0x81;
        assert_eq!(decode(&ten), Err(DecodeErrorKind::VarintTooLarge));
        ten[9] = 0x00;
        assert_eq!(decode(&ten), Err(DecodeErrorKind::OverlongVarint));
    }

    #[test]
    fn truncation_reports_what_is_missing() {
        assert_eq!(
            decode(&[]),
            Err(DecodeErrorKind::Truncated {
                needed: 1,
                available: 0
            })
        );
        assert_eq!(
            decode(&[0x80, 0x80]),
            Err(DecodeErrorKind::Truncated {
                needed: 3,
                available: 2
            })
        );
    }

    #[test]
    fn counts_are_bounded_by_the_remaining_bytes() {
        let mut bytes = encode(3);
        bytes.extend_from_slice(&[0; 5]);
        let err = Reader::new(&bytes, 0).count(Field::RunCount).unwrap_err();
        assert_eq!(
            err.kind,
            DecodeErrorKind::CountTooLarge { count: 3, max: 2 }
        );
        bytes.push(0);
        assert_eq!(Reader::new(&bytes, 0).count(Field::RunCount), Ok(3));
    }
}
