// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! A second reader of the vm-allocator file format, written from FORMAT.md
//! alone: the frame of section 8.4, the bodies of section 8.5 step by step,
//! the field reads of section 8.1 and the rules of order of section 8.2.
//!
//! It shares nothing with the crate's decoder but the vocabulary of errors
//! (`DecodeError`, `Field`, `DecodeErrorKind`, `StateError`, `NameError`,
//! `FileKind`), so that `tests/format.rs` can require the same error from
//! both for every input: this is how "two readers report the same error for
//! the same file" is checked. Its own CRC-32C, varints, UTF-8 check and
//! control characters follow the tables of FORMAT.md.
//!
//! Besides the state, it returns where each body field lies ([`Span`]), so
//! tests can forge files by replacing, cutting or repeating one field.

// Each includer uses a different part of this module.
#![allow(dead_code)]

use vm_allocator::format::{DecodeError, DecodeErrorKind, Field, FileKind};
use vm_allocator::{NameError, StateError};

/// Section 2: the magic.
pub const MAGIC: [u8; 8] = [0x89, 0x56, 0x4d, 0x41, 0x0d, 0x0a, 0x1a, 0x0a];
/// Section 9: the largest file and body.
pub const MAX_SIZE: u64 = 1 << 30;
/// Section 10: the versions a reader knows.
pub const SUPPORTED: &[u16] = &[1, 2];
/// Section 6.1: the longest name.
pub const MAX_NAME: u64 = 64;

const U32_MAX: u64 = 0xffff_ffff;

/// An item with its first value, its last value and its owner's name.
pub type Item = (u64, u64, Option<String>);

/// An id allocator as a file holds it (generation 0 in version 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ids {
    pub generation: u64,
    pub base: u64,
    pub end: u64,
    pub next_id: u64,
    pub runs: Vec<Item>,
}

/// An address allocator as a file holds it (generation 0 in version 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addresses {
    pub generation: u64,
    pub start: u64,
    pub end: u64,
    pub allocations: Vec<Item>,
}

/// One pool of a set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pool {
    Ids(Ids),
    Addresses(Addresses),
}

/// The changes of one allocator in a delta.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changes {
    /// The pool's name; `None` for a delta of a single allocator.
    pub name: Option<String>,
    /// An id allocator (else an address allocator).
    pub ids: bool,
    pub generations: (u64, u64),
    pub next_ids: Option<(u64, u64)>,
    pub freed: Vec<Item>,
    pub allocated: Vec<Item>,
}

/// A delta as a file holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeltaFile {
    pub base_kind: u8,
    pub base_generation: u64,
    pub base_checksum: u32,
    pub target_generation: u64,
    pub target_checksum: u32,
    pub pools: Vec<Changes>,
}

/// What a file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    Ids(Ids),
    Addresses(Addresses),
    Set {
        generation: u64,
        pools: Vec<(String, Pool)>,
    },
    Delta(DeltaFile),
}

/// How a body field is stored, for forging.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// A plain or bounded varint (generations, range bounds, next ids,
    /// gaps and lengths).
    Varint,
    /// A count of items, names or pools.
    Count,
    /// An owner reference.
    OwnerRef,
    /// A kind byte (of a pool, or a delta's base kind).
    Byte,
    /// A `u32le` checksum of a delta.
    U32,
    /// A name: its length and its bytes.
    Name,
}

/// Where a body field lies in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Offset of its first byte in the file.
    pub offset: usize,
    /// Its size in bytes.
    pub len: usize,
    pub slot: Slot,
    /// Its name in errors.
    pub field: Field,
    /// The pool whose record holds it (section 8.2, rule 7).
    pub pool: Option<u64>,
}

/// A file that was read.
#[derive(Clone, Debug)]
pub struct Decoded {
    pub version: u16,
    pub kind: u8,
    pub body_offset: usize,
    pub body_len: usize,
    pub checksum: u32,
    pub content: Content,
    /// Every body field, in file order.
    pub spans: Vec<Span>,
}

/// Section 4: CRC-32C, bit by bit.
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    crc ^ 0xffff_ffff
}

fn error(offset: usize, field: Field, kind: DecodeErrorKind) -> DecodeError {
    DecodeError::new(offset, field, kind)
}

fn state(e: StateError) -> DecodeErrorKind {
    DecodeErrorKind::InvalidState(e)
}

/// Section 8.1, a varint of `input` at `start`: its value and the offset
/// after it.
fn varint_at(input: &[u8], start: usize, field: Field) -> Result<(u64, usize), DecodeError> {
    let mut value = 0u64;
    let mut i = 0usize;
    loop {
        let Some(&b) = input.get(start + i) else {
            return Err(error(
                start,
                field,
                DecodeErrorKind::Truncated {
                    needed: i as u64 + 1,
                    available: i as u64,
                },
            ));
        };
        if i == 9 && b > 0x01 {
            return Err(error(start, field, DecodeErrorKind::VarintTooLarge));
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            if i > 0 && b == 0 {
                return Err(error(start, field, DecodeErrorKind::OverlongVarint));
            }
            return Ok((value, start + i + 1));
        }
        i += 1;
    }
}

/// Reads `bytes` as FORMAT.md says: a reader asked for kind `expected`, or
/// with `None` a reader of any kind (`format::dump`).
pub fn read(bytes: &[u8], expected: Option<FileKind>) -> Result<Decoded, DecodeError> {
    let size = bytes.len();
    // F1
    if size as u64 > MAX_SIZE {
        return Err(error(
            0,
            Field::File,
            DecodeErrorKind::FileTooLarge {
                size: size as u64,
                max: MAX_SIZE,
            },
        ));
    }
    // F2, F3
    let present = size.min(8);
    if bytes[..present] != MAGIC[..present] {
        let mut found = [0u8; 8];
        found[..present].copy_from_slice(&bytes[..present]);
        return Err(error(
            0,
            Field::Magic,
            DecodeErrorKind::BadMagic {
                found,
                found_len: present as u8,
            },
        ));
    }
    if size < 8 {
        return Err(error(
            0,
            Field::Magic,
            DecodeErrorKind::Truncated {
                needed: 8,
                available: size as u64,
            },
        ));
    }
    // F4, F5
    if size < 10 {
        return Err(error(
            8,
            Field::Version,
            DecodeErrorKind::Truncated {
                needed: 2,
                available: size as u64 - 8,
            },
        ));
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if !SUPPORTED.contains(&version) {
        return Err(error(
            8,
            Field::Version,
            DecodeErrorKind::UnsupportedVersion {
                found: version,
                supported: SUPPORTED,
            },
        ));
    }
    // F6
    let Some(&kind) = bytes.get(10) else {
        return Err(error(
            10,
            Field::Kind,
            DecodeErrorKind::Truncated {
                needed: 1,
                available: 0,
            },
        ));
    };
    // F7
    let (body_len, body_offset) = varint_at(bytes, 11, Field::BodyLength)?;
    if body_len > MAX_SIZE {
        return Err(error(
            11,
            Field::BodyLength,
            DecodeErrorKind::ValueOutOfRange {
                value: body_len,
                max: MAX_SIZE,
            },
        ));
    }
    let body_len = body_len as usize;
    // F8
    let available = size - body_offset;
    if available < body_len {
        return Err(error(
            body_offset,
            Field::Body,
            DecodeErrorKind::Truncated {
                needed: body_len as u64,
                available: available as u64,
            },
        ));
    }
    // F9, F10
    let body_end = body_offset + body_len;
    let after = available - body_len;
    if after < 4 {
        return Err(error(
            body_end,
            Field::Checksum,
            DecodeErrorKind::Truncated {
                needed: 4,
                available: after as u64,
            },
        ));
    }
    if after > 4 {
        return Err(error(
            body_end + 4,
            Field::EndOfFile,
            DecodeErrorKind::TrailingBytes {
                count: (after - 4) as u64,
            },
        ));
    }
    // F11
    let stored = u32::from_le_bytes(bytes[body_end..].try_into().unwrap());
    let computed = crc32c(&bytes[..body_end]);
    if stored != computed {
        return Err(error(
            body_end,
            Field::Checksum,
            DecodeErrorKind::ChecksumMismatch { stored, computed },
        ));
    }
    // F12
    let known = matches!(kind, 1 | 2) || (version == 2 && matches!(kind, 3 | 4));
    match expected {
        Some(k) => {
            let wanted = match k {
                FileKind::IdAllocator => 1,
                FileKind::AddressAllocator => 2,
                FileKind::ResourceSet => 3,
                FileKind::Delta => 4,
                other => panic!("FORMAT.md names no kind {other:?}"),
            };
            if !known || kind != wanted {
                return Err(error(
                    10,
                    Field::Kind,
                    DecodeErrorKind::WrongKind {
                        expected: k,
                        found: kind,
                    },
                ));
            }
        }
        None if !known => {
            return Err(error(
                10,
                Field::Kind,
                DecodeErrorKind::UnknownKind { found: kind },
            ))
        }
        None => {}
    }
    let mut body = Body {
        input: &bytes[..body_end],
        pos: body_offset,
        pool: None,
        spans: Vec::new(),
    };
    let content = match (version, kind) {
        (1, 1) => {
            let ids = id_record(&mut body, None)?;
            body.end()?;
            Content::Ids(ids)
        }
        (1, _) => {
            let a = address_record(&mut body, None)?;
            body.end()?;
            Content::Addresses(a)
        }
        (_, 1) => {
            let mut owners = Owners::read(&mut body)?;
            let ids = id_record(&mut body, Some(&mut owners))?;
            body.end()?;
            owners.all_used()?;
            Content::Ids(ids)
        }
        (_, 2) => {
            let mut owners = Owners::read(&mut body)?;
            let a = address_record(&mut body, Some(&mut owners))?;
            body.end()?;
            owners.all_used()?;
            Content::Addresses(a)
        }
        (_, 3) => set_body(&mut body)?,
        _ => delta_body(&mut body)?,
    };
    Ok(Decoded {
        version,
        kind,
        body_offset,
        body_len,
        checksum: stored,
        content,
        spans: body.spans,
    })
}

/// The body being read (section 8.1: its input ends where the body ends).
struct Body<'a> {
    input: &'a [u8],
    pos: usize,
    /// The pool whose record is being read (section 8.2, rule 7).
    pool: Option<u64>,
    spans: Vec<Span>,
}

impl Body<'_> {
    fn fail(&self, offset: usize, field: Field, kind: DecodeErrorKind) -> DecodeError {
        let e = error(offset, field, kind);
        match self.pool {
            Some(p) => e.in_pool(p),
            None => e,
        }
    }

    fn in_pool<T>(&self, r: Result<T, DecodeError>) -> Result<T, DecodeError> {
        r.map_err(|e| match self.pool {
            Some(p) => e.in_pool(p),
            None => e,
        })
    }

    fn span(&mut self, start: usize, slot: Slot, field: Field) {
        self.spans.push(Span {
            offset: start,
            len: self.pos - start,
            slot,
            field,
            pool: self.pool,
        });
    }

    fn raw_varint(&mut self, field: Field) -> Result<u64, DecodeError> {
        let (value, next) = self.in_pool(varint_at(self.input, self.pos, field))?;
        self.pos = next;
        Ok(value)
    }

    fn varint(&mut self, field: Field) -> Result<u64, DecodeError> {
        let start = self.pos;
        let value = self.raw_varint(field)?;
        self.span(start, Slot::Varint, field);
        Ok(value)
    }

    fn bounded(&mut self, field: Field, max: u64) -> Result<u64, DecodeError> {
        let start = self.pos;
        let value = self.varint(field)?;
        if value > max {
            return Err(self.fail(
                start,
                field,
                DecodeErrorKind::ValueOutOfRange { value, max },
            ));
        }
        Ok(value)
    }

    /// A count of items of at least `m` bytes each.
    fn count(&mut self, field: Field, m: u64) -> Result<u64, DecodeError> {
        let start = self.pos;
        let count = self.raw_varint(field)?;
        self.span(start, Slot::Count, field);
        let rest = (self.input.len() - self.pos) as u64;
        if count > rest / m {
            return Err(self.fail(
                start,
                field,
                DecodeErrorKind::CountTooLarge {
                    count,
                    max: rest / m,
                },
            ));
        }
        Ok(count)
    }

    fn byte(&mut self, field: Field) -> Result<u8, DecodeError> {
        let Some(&b) = self.input.get(self.pos) else {
            return Err(self.fail(
                self.pos,
                field,
                DecodeErrorKind::Truncated {
                    needed: 1,
                    available: 0,
                },
            ));
        };
        self.pos += 1;
        self.span(self.pos - 1, Slot::Byte, field);
        Ok(b)
    }

    fn u32le(&mut self, field: Field) -> Result<u32, DecodeError> {
        let left = self.input.len() - self.pos;
        if left < 4 {
            return Err(self.fail(
                self.pos,
                field,
                DecodeErrorKind::Truncated {
                    needed: 4,
                    available: left as u64,
                },
            ));
        }
        let v = u32::from_le_bytes(self.input[self.pos..self.pos + 4].try_into().unwrap());
        self.pos += 4;
        self.span(self.pos - 4, Slot::U32, field);
        Ok(v)
    }

    /// A name, steps 1 to 5 of section 8.1 (the caller checks step 6).
    fn name(&mut self, field: Field) -> Result<String, DecodeError> {
        let start = self.pos;
        let len = self.raw_varint(field)?;
        if len > MAX_NAME {
            return Err(self.fail(
                start,
                field,
                DecodeErrorKind::ValueOutOfRange {
                    value: len,
                    max: MAX_NAME,
                },
            ));
        }
        if len == 0 {
            return Err(self.fail(start, field, DecodeErrorKind::InvalidName(NameError::Empty)));
        }
        let len = len as usize;
        let left = self.input.len() - self.pos;
        if left < len {
            return Err(self.fail(
                start,
                field,
                DecodeErrorKind::Truncated {
                    needed: len as u64,
                    available: left as u64,
                },
            ));
        }
        let raw = &self.input[self.pos..self.pos + len];
        let chars = match utf8(raw) {
            Ok(chars) => chars,
            Err(at) => return Err(self.fail(start, field, DecodeErrorKind::InvalidUtf8 { at })),
        };
        if let Some(&(offset, _)) = chars.iter().find(|(_, c)| is_control(*c)) {
            return Err(self.fail(
                start,
                field,
                DecodeErrorKind::InvalidName(NameError::ControlCharacter { offset }),
            ));
        }
        self.pos += len;
        self.span(start, Slot::Name, field);
        Ok(chars
            .iter()
            .map(|&(_, c)| char::from_u32(c).unwrap())
            .collect())
    }

    /// An owner reference into `owners`.
    fn owner(&mut self, field: Field, owners: &mut Owners) -> Result<Option<String>, DecodeError> {
        let start = self.pos;
        let r = self.raw_varint(field)?;
        self.span(start, Slot::OwnerRef, field);
        let n = owners.names.len() as u64;
        if r > n {
            return Err(self.fail(
                start,
                field,
                DecodeErrorKind::ValueOutOfRange { value: r, max: n },
            ));
        }
        if r == 0 {
            return Ok(None);
        }
        owners.used[r as usize - 1] = true;
        Ok(Some(owners.names[r as usize - 1].clone()))
    }

    /// Section 8.2, rule 6: nothing left in the body.
    fn end(&self) -> Result<(), DecodeError> {
        let left = self.input.len() - self.pos;
        if left > 0 {
            return Err(error(
                self.pos,
                Field::EndOfBody,
                DecodeErrorKind::TrailingBytes { count: left as u64 },
            ));
        }
        Ok(())
    }
}

/// Section 6.1: the characters of `bytes` with their offsets if it is
/// UTF-8, else the length of its longest UTF-8 prefix.
fn utf8(bytes: &[u8]) -> Result<Vec<(usize, u32)>, usize> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b0 = bytes[i];
        // (length, range of byte 2, initial bits)
        let (len, second, init) = match b0 {
            0x00..=0x7f => (1, (0, 0), u32::from(b0)),
            0xc2..=0xdf => (2, (0x80, 0xbf), u32::from(b0 & 0x1f)),
            0xe0 => (3, (0xa0, 0xbf), 0),
            0xe1..=0xec | 0xee..=0xef => (3, (0x80, 0xbf), u32::from(b0 & 0x0f)),
            0xed => (3, (0x80, 0x9f), 0x0d),
            0xf0 => (4, (0x90, 0xbf), 0),
            0xf1..=0xf3 => (4, (0x80, 0xbf), u32::from(b0 & 0x07)),
            0xf4 => (4, (0x80, 0x8f), 4),
            _ => return Err(i),
        };
        let mut c = init;
        for k in 1..len {
            let Some(&b) = bytes.get(i + k) else {
                return Err(i);
            };
            let (lo, hi) = if k == 1 { second } else { (0x80, 0xbf) };
            if b < lo || b > hi {
                return Err(i);
            }
            c = (c << 6) | u32::from(b & 0x3f);
        }
        out.push((i, c));
        i += len;
    }
    Ok(out)
}

/// Section 6.1: U+0000..U+001F and U+007F..U+009F.
fn is_control(c: u32) -> bool {
    c <= 0x1f || (0x7f..=0x9f).contains(&c)
}

/// Section 6.2: the owner table.
struct Owners {
    names: Vec<String>,
    offsets: Vec<usize>,
    used: Vec<bool>,
}

impl Owners {
    /// Section 8.5.3.
    fn read(b: &mut Body<'_>) -> Result<Owners, DecodeError> {
        let count = b.count(Field::OwnerCount, 2)?;
        let mut owners = Owners {
            names: Vec::new(),
            offsets: Vec::new(),
            used: Vec::new(),
        };
        for j in 0..count {
            let start = b.pos;
            let field = Field::OwnerName { index: j };
            let name = b.name(field)?;
            if let Some(previous) = owners.names.last() {
                if name.as_bytes() <= previous.as_bytes() {
                    return Err(error(start, field, DecodeErrorKind::UnsortedOwners));
                }
            }
            owners.names.push(name);
            owners.offsets.push(start);
            owners.used.push(false);
        }
        Ok(owners)
    }

    /// Section 8.2, rule 6: the first unused name.
    fn all_used(&self) -> Result<(), DecodeError> {
        match self.used.iter().position(|u| !u) {
            Some(j) => Err(error(
                self.offsets[j],
                Field::OwnerName { index: j as u64 },
                DecodeErrorKind::UnusedOwner,
            )),
            None => Ok(()),
        }
    }
}

/// Sections 8.5.1 (no owner table: version 1) and 8.5.4.
fn id_record(b: &mut Body<'_>, mut owners: Option<&mut Owners>) -> Result<Ids, DecodeError> {
    let v2 = owners.is_some();
    let generation = if v2 { b.varint(Field::Generation)? } else { 0 };
    let base = b.bounded(Field::RangeBase, U32_MAX)?;
    let end_at = b.pos;
    let end = b.bounded(Field::RangeEnd, U32_MAX)?;
    let next_at = b.pos;
    let next_id = base + b.bounded(Field::NextId, U32_MAX + 1)?;
    if base > end {
        return Err(b.fail(
            end_at,
            Field::RangeEnd,
            state(StateError::InvalidIdRange { base, end }),
        ));
    }
    if next_id > end + 1 {
        return Err(b.fail(
            next_at,
            Field::NextId,
            state(StateError::NextIdOutOfRange {
                next_id,
                base: base as u32,
                end: end as u32,
            }),
        ));
    }
    let count = b.count(Field::RunCount, if v2 { 3 } else { 2 })?;
    let mut runs: Vec<Item> = Vec::new();
    let mut cursor = base;
    for i in 0..count {
        let at = b.pos;
        let first_field = Field::RunStart { index: i };
        let first = cursor + b.bounded(first_field, U32_MAX)?;
        let last = first + b.bounded(Field::RunLength { index: i }, U32_MAX)?;
        let owner = match owners.as_deref_mut() {
            Some(o) => b.owner(Field::RunOwner { index: i }, o)?,
            None => None,
        };
        if last > end {
            return Err(b.fail(
                at,
                first_field,
                state(StateError::OutOfRange {
                    index: i,
                    start: first,
                    end: last,
                    space_start: base,
                    space_end: end,
                }),
            ));
        }
        if last >= next_id {
            return Err(b.fail(
                at,
                first_field,
                state(StateError::AboveNextId {
                    index: i,
                    end: last,
                    next_id,
                }),
            ));
        }
        if let Some((_, previous_last, previous_owner)) = runs.last() {
            if v2 && first == previous_last + 1 && *previous_owner == owner {
                return Err(b.fail(
                    at,
                    first_field,
                    state(StateError::TouchingRuns {
                        index: i,
                        start: first,
                    }),
                ));
            }
        }
        cursor = if v2 { last + 1 } else { last + 2 };
        runs.push((first, last, owner));
    }
    Ok(Ids {
        generation,
        base,
        end,
        next_id,
        runs,
    })
}

/// Sections 8.5.2 (no owner table: version 1) and 8.5.4.
fn address_record(
    b: &mut Body<'_>,
    mut owners: Option<&mut Owners>,
) -> Result<Addresses, DecodeError> {
    let v2 = owners.is_some();
    let generation = if v2 { b.varint(Field::Generation)? } else { 0 };
    let start = b.varint(Field::SpaceStart)?;
    let end_at = b.pos;
    let end = b.varint(Field::SpaceEnd)?;
    if start > end || (start == 0 && end == u64::MAX) {
        return Err(b.fail(
            end_at,
            Field::SpaceEnd,
            state(StateError::InvalidSpace { start, end }),
        ));
    }
    let count = b.count(Field::AllocationCount, if v2 { 3 } else { 2 })?;
    let mut allocations: Vec<Item> = Vec::new();
    // None: past 2^64 - 1.
    let mut cursor = Some(start);
    for i in 0..count {
        let at = b.pos;
        let first_field = Field::AllocationStart { index: i };
        let gap = b.varint(first_field)?;
        let Some(first) = cursor.and_then(|c| c.checked_add(gap)) else {
            return Err(b.fail(at, first_field, DecodeErrorKind::Overflow { value: gap }));
        };
        let length_at = b.pos;
        let length_field = Field::AllocationLength { index: i };
        let len = b.varint(length_field)?;
        let Some(last) = first.checked_add(len) else {
            return Err(b.fail(
                length_at,
                length_field,
                DecodeErrorKind::Overflow { value: len },
            ));
        };
        let owner = match owners.as_deref_mut() {
            Some(o) => b.owner(Field::AllocationOwner { index: i }, o)?,
            None => None,
        };
        if last > end {
            return Err(b.fail(
                at,
                first_field,
                state(StateError::OutOfRange {
                    index: i,
                    start: first,
                    end: last,
                    space_start: start,
                    space_end: end,
                }),
            ));
        }
        cursor = last.checked_add(1);
        allocations.push((first, last, owner));
    }
    Ok(Addresses {
        generation,
        start,
        end,
        allocations,
    })
}

/// Section 8.5.6.
fn set_body(b: &mut Body<'_>) -> Result<Content, DecodeError> {
    let mut owners = Owners::read(b)?;
    let generation = b.varint(Field::Generation)?;
    let count = b.count(Field::PoolCount, 2)?;
    let mut pools: Vec<(String, Pool)> = Vec::new();
    for p in 0..count {
        let name_at = b.pos;
        let name_field = Field::PoolName { index: p };
        let name = b.name(name_field)?;
        let kind_at = b.pos;
        let kind_field = Field::PoolKind { index: p };
        let kind = b.byte(kind_field)?;
        if kind != 1 && kind != 2 {
            return Err(error(
                kind_at,
                kind_field,
                DecodeErrorKind::UnknownPoolKind { found: kind },
            ));
        }
        b.pool = Some(p);
        let pool = if kind == 1 {
            Pool::Ids(id_record(b, Some(&mut owners))?)
        } else {
            Pool::Addresses(address_record(b, Some(&mut owners))?)
        };
        b.pool = None;
        if let Some(q) = pools.iter().position(|(n, _)| *n == name) {
            return Err(error(
                name_at,
                name_field,
                state(StateError::DuplicatePool {
                    index: p,
                    previous: q as u64,
                }),
            ));
        }
        pools.push((name, pool));
    }
    b.end()?;
    owners.all_used()?;
    Ok(Content::Set { generation, pools })
}

/// Section 8.5.7.
fn delta_body(b: &mut Body<'_>) -> Result<Content, DecodeError> {
    let mut owners = Owners::read(b)?;
    let kind_at = b.pos;
    let base_kind = b.byte(Field::BaseKind)?;
    if !matches!(base_kind, 1..=3) {
        return Err(error(
            kind_at,
            Field::BaseKind,
            DecodeErrorKind::UnknownKind { found: base_kind },
        ));
    }
    let base_generation = b.varint(Field::BaseGeneration)?;
    let base_checksum = b.u32le(Field::BaseChecksum)?;
    let target_generation = b.varint(Field::TargetGeneration)?;
    let target_checksum = b.u32le(Field::TargetChecksum)?;
    let mut pools: Vec<Changes> = Vec::new();
    if base_kind == 3 {
        let count = b.count(Field::ChangedPoolCount, 2)?;
        for p in 0..count {
            let name_at = b.pos;
            let name_field = Field::PoolName { index: p };
            let name = b.name(name_field)?;
            if let Some(q) = pools.iter().position(|c| c.name.as_ref() == Some(&name)) {
                return Err(error(
                    name_at,
                    name_field,
                    DecodeErrorKind::DuplicatePool { previous: q as u64 },
                ));
            }
            let kind_at = b.pos;
            let kind_field = Field::PoolKind { index: p };
            let kind = b.byte(kind_field)?;
            if kind != 1 && kind != 2 {
                return Err(error(
                    kind_at,
                    kind_field,
                    DecodeErrorKind::UnknownPoolKind { found: kind },
                ));
            }
            b.pool = Some(p);
            let generations = (
                b.varint(Field::BaseGeneration)?,
                b.varint(Field::TargetGeneration)?,
            );
            let changes = change_record(b, &mut owners, Some(name), kind == 1, generations)?;
            b.pool = None;
            pools.push(changes);
        }
    } else {
        pools.push(change_record(
            b,
            &mut owners,
            None,
            base_kind == 1,
            (base_generation, target_generation),
        )?);
    }
    b.end()?;
    owners.all_used()?;
    Ok(Content::Delta(DeltaFile {
        base_kind,
        base_generation,
        base_checksum,
        target_generation,
        target_checksum,
        pools,
    }))
}

/// A change record (section 8.5.7).
fn change_record(
    b: &mut Body<'_>,
    owners: &mut Owners,
    name: Option<String>,
    ids: bool,
    generations: (u64, u64),
) -> Result<Changes, DecodeError> {
    let next_ids = if ids {
        Some((
            b.bounded(Field::NextId, U32_MAX + 1)?,
            b.bounded(Field::NextIdAfter, U32_MAX + 1)?,
        ))
    } else {
        None
    };
    let freed = change_list(b, owners, ids, true)?;
    let allocated = change_list(b, owners, ids, false)?;
    Ok(Changes {
        name,
        ids,
        generations,
        next_ids,
        freed,
        allocated,
    })
}

/// A list of ranges of a delta (section 8.5.7).
fn change_list(
    b: &mut Body<'_>,
    owners: &mut Owners,
    ids: bool,
    freed: bool,
) -> Result<Vec<Item>, DecodeError> {
    type Fields = (Field, fn(u64) -> Field, fn(u64) -> Field, fn(u64) -> Field);
    let (count_field, start_field, length_field, owner_field): Fields = if freed {
        (
            Field::FreedCount,
            |index| Field::FreedStart { index },
            |index| Field::FreedLength { index },
            |index| Field::FreedOwner { index },
        )
    } else {
        (
            Field::AllocatedCount,
            |index| Field::AllocatedStart { index },
            |index| Field::AllocatedLength { index },
            |index| Field::AllocatedOwner { index },
        )
    };
    let count = b.count(count_field, 3)?;
    let mut items: Vec<Item> = Vec::new();
    let mut cursor = Some(0u64);
    for i in 0..count {
        let at = b.pos;
        let gap = b.varint(start_field(i))?;
        let Some(start) = cursor.and_then(|c| c.checked_add(gap)) else {
            return Err(b.fail(at, start_field(i), DecodeErrorKind::Overflow { value: gap }));
        };
        let length_at = b.pos;
        let len = b.varint(length_field(i))?;
        let Some(end) = start.checked_add(len) else {
            return Err(b.fail(
                length_at,
                length_field(i),
                DecodeErrorKind::Overflow { value: len },
            ));
        };
        if start == 0 && end == u64::MAX {
            return Err(b.fail(
                length_at,
                length_field(i),
                DecodeErrorKind::ValueOutOfRange {
                    value: len,
                    max: u64::MAX - 1,
                },
            ));
        }
        if ids && end > U32_MAX {
            return Err(b.fail(
                length_at,
                length_field(i),
                DecodeErrorKind::ValueOutOfRange {
                    value: end,
                    max: U32_MAX,
                },
            ));
        }
        let owner = b.owner(owner_field(i), owners)?;
        if let Some((_, previous_end, previous_owner)) = items.last() {
            if ids && start == previous_end + 1 && *previous_owner == owner {
                return Err(b.fail(at, start_field(i), DecodeErrorKind::MergeableRuns));
            }
        }
        cursor = end.checked_add(1);
        items.push((start, end, owner));
    }
    Ok(items)
}
