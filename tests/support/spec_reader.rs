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
    /// A journal (section 13), read by a reader of any kind.
    Journal(Box<Journal>),
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

/// Section 13: the journal magic.
pub const JOURNAL_MAGIC: [u8; 8] = [0x89, 0x56, 0x4d, 0x4a, 0x0d, 0x0a, 0x1a, 0x0a];
/// Section 13: the versions of journals.
pub const JOURNAL_VERSIONS: &[u16] = &[2];

/// A frame that passed F1 to F11 (J1 to J10 for a journal's header).
struct Frame {
    version: u16,
    kind: u8,
    body_offset: usize,
    body_len: usize,
    checksum: u32,
}

/// Section 8.4, F1 to F11, or for a journal's header (`journal`) section
/// 13.5, J1 to J10.
fn frame(bytes: &[u8], journal: bool) -> Result<Frame, DecodeError> {
    let size = bytes.len();
    let (magic, supported) = if journal {
        (JOURNAL_MAGIC, JOURNAL_VERSIONS)
    } else {
        (MAGIC, SUPPORTED)
    };
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
    if bytes[..present] != magic[..present] {
        let mut found = [0u8; 8];
        found[..present].copy_from_slice(&bytes[..present]);
        let found_len = present as u8;
        let kind = if journal {
            DecodeErrorKind::NotAJournal { found, found_len }
        } else {
            DecodeErrorKind::BadMagic { found, found_len }
        };
        return Err(error(0, Field::Magic, kind));
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
    if !supported.contains(&version) {
        return Err(error(
            8,
            Field::Version,
            DecodeErrorKind::UnsupportedVersion {
                found: version,
                supported,
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
    // F9, F10 (not in a journal: its records follow)
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
    if after > 4 && !journal {
        return Err(error(
            body_end + 4,
            Field::EndOfFile,
            DecodeErrorKind::TrailingBytes {
                count: (after - 4) as u64,
            },
        ));
    }
    // F11
    let stored = u32::from_le_bytes(bytes[body_end..body_end + 4].try_into().unwrap());
    let computed = crc32c(&bytes[..body_end]);
    if stored != computed {
        return Err(error(
            body_end,
            Field::Checksum,
            DecodeErrorKind::ChecksumMismatch { stored, computed },
        ));
    }
    Ok(Frame {
        version,
        kind,
        body_offset,
        body_len,
        checksum: stored,
    })
}

/// The byte of a kind (section 2).
fn kind_byte(k: FileKind) -> u8 {
    match k {
        FileKind::IdAllocator => 1,
        FileKind::AddressAllocator => 2,
        FileKind::ResourceSet => 3,
        FileKind::Delta => 4,
        other => panic!("FORMAT.md names no kind {other:?}"),
    }
}

/// Reads `bytes` as FORMAT.md says: a reader asked for kind `expected`, or
/// with `None` a reader of any kind (`format::dump`), which reads a file
/// that starts with the journal magic as a journal (section 8.4).
pub fn read(bytes: &[u8], expected: Option<FileKind>) -> Result<Decoded, DecodeError> {
    if expected.is_none() && bytes.starts_with(&JOURNAL_MAGIC) {
        let journal = read_journal(bytes, None)?;
        return Ok(Decoded {
            version: journal.version,
            kind: journal.kind,
            body_offset: journal.body_offset,
            body_len: journal.body_len,
            checksum: journal.checksum,
            content: Content::Journal(Box::new(journal)),
            spans: Vec::new(),
        });
    }
    let Frame {
        version,
        kind,
        body_offset,
        body_len,
        checksum: stored,
    } = frame(bytes, false)?;
    let body_end = body_offset + body_len;
    // F12
    let known = matches!(kind, 1 | 2) || (version == 2 && matches!(kind, 3 | 4));
    match expected {
        Some(k) => {
            let wanted = kind_byte(k);
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
    change_record_at(b, owners, name, ids, generations).map(|(c, _)| c)
}

/// Where the fields of a change record start (for the steps A of a
/// journal record, section 13.6).
#[derive(Clone, Debug, Default)]
struct ChangeAt {
    name: usize,
    kind: usize,
    base_generation: usize,
    next_id: usize,
    next_id_after: usize,
    freed: Vec<usize>,
    allocated: Vec<usize>,
}

/// A change record, and where its fields start.
fn change_record_at(
    b: &mut Body<'_>,
    owners: &mut Owners,
    name: Option<String>,
    ids: bool,
    generations: (u64, u64),
) -> Result<(Changes, ChangeAt), DecodeError> {
    let mut at = ChangeAt::default();
    let next_ids = if ids {
        at.next_id = b.pos;
        let before = b.bounded(Field::NextId, U32_MAX + 1)?;
        at.next_id_after = b.pos;
        let after = b.bounded(Field::NextIdAfter, U32_MAX + 1)?;
        Some((before, after))
    } else {
        None
    };
    let freed = change_list(b, owners, ids, true, &mut at.freed)?;
    let allocated = change_list(b, owners, ids, false, &mut at.allocated)?;
    let changes = Changes {
        name,
        ids,
        generations,
        next_ids,
        freed,
        allocated,
    };
    Ok((changes, at))
}

/// A list of ranges of a delta (section 8.5.7).
fn change_list(
    b: &mut Body<'_>,
    owners: &mut Owners,
    ids: bool,
    freed: bool,
    starts: &mut Vec<usize>,
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
        starts.push(at);
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

// ---------------------------------------------------------------------------
// Section 13: journals.

/// A record of a journal, as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalRecord {
    pub offset: usize,
    pub len: usize,
    pub label: Option<String>,
    pub generation: u64,
    /// The state after the record.
    pub state: Content,
}

/// Why a journal ended before its end (section 13.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    TornTail,
    InvalidRecord,
    Damage { last_record: usize },
}

/// The record that ended a journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ended {
    pub error: DecodeError,
    pub offset: usize,
    pub cause: Cause,
}

/// A journal as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Journal {
    pub version: u16,
    pub kind: u8,
    pub id: u64,
    pub body_offset: usize,
    pub body_len: usize,
    pub checksum: u32,
    /// The size of the header.
    pub header_len: usize,
    pub base: Content,
    pub records: Vec<JournalRecord>,
    /// Bytes kept: the header and the good records.
    pub kept: usize,
    pub discarded: usize,
    pub ended: Option<Ended>,
    /// Every field of every good record's body, and of the failed record's
    /// body as far as it was read: (record, span).
    pub spans: Vec<(u64, Span)>,
}

/// Reads `bytes` as a journal of kind `expected` (or of any kind).
pub fn read_journal(bytes: &[u8], expected: Option<FileKind>) -> Result<Journal, DecodeError> {
    // J1 to J10
    let Frame {
        version,
        kind,
        body_offset,
        body_len,
        checksum,
    } = frame(bytes, true)?;
    let body_end = body_offset + body_len;
    // J11
    let known = matches!(kind, 1..=3);
    match expected {
        Some(k) if !known || kind != kind_byte(k) => {
            return Err(error(
                10,
                Field::Kind,
                DecodeErrorKind::WrongKind {
                    expected: k,
                    found: kind,
                },
            ))
        }
        None if !known => {
            return Err(error(
                10,
                Field::Kind,
                DecodeErrorKind::UnknownKind { found: kind },
            ))
        }
        _ => {}
    }
    // J12
    let left = body_len;
    if left < 8 {
        return Err(error(
            body_offset,
            Field::JournalId,
            DecodeErrorKind::Truncated {
                needed: 8,
                available: left as u64,
            },
        ));
    }
    let id = u64::from_le_bytes(bytes[body_offset..body_offset + 8].try_into().unwrap());
    // J13: the base state, read as sections 8.5.5 and 8.5.6 say.
    let mut body = Body {
        input: &bytes[..body_end],
        pos: body_offset + 8,
        pool: None,
        spans: Vec::new(),
    };
    let base = match kind {
        3 => set_body(&mut body)?,
        _ => {
            let mut owners = Owners::read(&mut body)?;
            let content = if kind == 1 {
                Content::Ids(id_record(&mut body, Some(&mut owners))?)
            } else {
                Content::Addresses(address_record(&mut body, Some(&mut owners))?)
            };
            body.end()?;
            owners.all_used()?;
            content
        }
    };
    let header_len = body_end + 4;
    let mut journal = Journal {
        version,
        kind,
        id,
        body_offset,
        body_len,
        checksum,
        header_len,
        base: base.clone(),
        records: Vec::new(),
        kept: header_len,
        discarded: 0,
        ended: None,
        spans: Vec::new(),
    };
    let mut state = base;
    let mut p = header_len;
    while p < bytes.len() {
        let k = journal.records.len() as u64;
        match record(bytes, p, kind, &state, k, &mut journal.spans) {
            Ok((end, label, generation, after)) => {
                state = after;
                journal.records.push(JournalRecord {
                    offset: p,
                    len: end - p,
                    label,
                    generation,
                    state: state.clone(),
                });
                p = end;
            }
            Err((e, frame_failed)) => {
                let cause = if !frame_failed {
                    Cause::InvalidRecord
                } else {
                    match sound_end(bytes, p) {
                        Some(q) => Cause::Damage { last_record: q },
                        None => Cause::TornTail,
                    }
                };
                journal.ended = Some(Ended {
                    error: e.in_record(k),
                    offset: p,
                    cause,
                });
                break;
            }
        }
    }
    journal.kept = p;
    journal.discarded = bytes.len() - p;
    Ok(journal)
}

/// Section 13.7: the offset of a sound record that ends `bytes` and
/// starts after `p`, read backwards.
fn sound_end(bytes: &[u8], p: usize) -> Option<usize> {
    let e = bytes.len();
    let checksum_at = e.checked_sub(4)?;
    // The length again, from the byte at E - 5 down.
    let mut groups = Vec::new();
    loop {
        let at = checksum_at.checked_sub(groups.len() + 1)?;
        let byte = bytes[at];
        groups.push(byte);
        if groups.len() == 10 && byte > 0x01 {
            return None;
        }
        if byte < 0x80 {
            break;
        }
        if groups.len() == 10 {
            return None;
        }
    }
    let n = groups.len();
    if n > 1 && groups[n - 1] == 0 {
        return None;
    }
    let mut value = 0u64;
    for (i, &g) in groups.iter().enumerate() {
        value |= u64::from(g & 0x7f) << (7 * i);
    }
    if value > MAX_SIZE {
        return None;
    }
    let body_start = checksum_at.checked_sub(n)?.checked_sub(value as usize)?;
    let q = body_start.checked_sub(n)?;
    if q <= p || q < 4 {
        return None;
    }
    // The length before the body: the same varint, forward.
    if bytes[q..body_start] != groups[..] {
        return None;
    }
    let stored = u32::from_le_bytes(bytes[checksum_at..].try_into().unwrap());
    (crc32c(&bytes[q - 4..checksum_at]) == stored).then_some(q)
}

/// What a good record gives: where it ends, its label, its generation,
/// the state after it. An error says whether the frame failed.
type RecordRead = (usize, Option<String>, u64, Content);

/// Section 13.6: record k at `p`, applied to `state`.
fn record(
    bytes: &[u8],
    p: usize,
    kind: u8,
    state: &Content,
    k: u64,
    spans: &mut Vec<(u64, Span)>,
) -> Result<RecordRead, (DecodeError, bool)> {
    let frame = |e| (e, true);
    // R1
    let (len, body_start) = varint_at(bytes, p, Field::RecordLength).map_err(frame)?;
    if len > MAX_SIZE {
        return Err(frame(error(
            p,
            Field::RecordLength,
            DecodeErrorKind::ValueOutOfRange {
                value: len,
                max: MAX_SIZE,
            },
        )));
    }
    let n = body_start - p;
    let len = len as usize;
    // R2
    let left = bytes.len() - body_start;
    if left < len {
        return Err(frame(error(
            body_start,
            Field::RecordBody,
            DecodeErrorKind::Truncated {
                needed: len as u64,
                available: left as u64,
            },
        )));
    }
    let trailer = body_start + len;
    // R3, R4
    let left = bytes.len() - trailer;
    if left < n {
        return Err(frame(error(
            trailer,
            Field::RecordTrailer,
            DecodeErrorKind::Truncated {
                needed: n as u64,
                available: left as u64,
            },
        )));
    }
    let forward: Vec<u8> = bytes[p..body_start].to_vec();
    let backward: Vec<u8> = bytes[trailer..trailer + n].iter().rev().copied().collect();
    if forward != backward {
        return Err(frame(error(
            trailer,
            Field::RecordTrailer,
            DecodeErrorKind::LengthMismatch,
        )));
    }
    // R5, R6
    let checksum_at = trailer + n;
    let left = bytes.len() - checksum_at;
    if left < 4 {
        return Err(frame(error(
            checksum_at,
            Field::RecordChecksum,
            DecodeErrorKind::Truncated {
                needed: 4,
                available: left as u64,
            },
        )));
    }
    let stored = u32::from_le_bytes(bytes[checksum_at..checksum_at + 4].try_into().unwrap());
    let computed = crc32c(&bytes[p - 4..checksum_at]);
    if stored != computed {
        return Err(frame(error(
            checksum_at,
            Field::RecordChecksum,
            DecodeErrorKind::ChecksumMismatch { stored, computed },
        )));
    }
    // B1 to B6, then A1 to A12.
    let content = |e| (e, false);
    let mut b = Body {
        input: &bytes[..trailer],
        pos: body_start,
        pool: None,
        spans: Vec::new(),
    };
    let read = record_body(&mut b, kind, generation_of(state));
    spans.extend(b.spans.iter().map(|&s| (k, s)));
    let (label, generation, generation_at, changes) = read.map_err(content)?;
    let mut after = state.clone();
    apply(&mut after, generation, generation_at, &changes).map_err(content)?;
    Ok((checksum_at + 4, label, generation, after))
}

fn generation_of(state: &Content) -> u64 {
    match state {
        Content::Ids(s) => s.generation,
        Content::Addresses(s) => s.generation,
        Content::Set { generation, .. } => *generation,
        _ => unreachable!("a journal keeps a state"),
    }
}

type Body4 = (Option<String>, u64, usize, Vec<(Changes, ChangeAt)>);

/// Section 13.6, B1 to B6.
fn record_body(b: &mut Body<'_>, kind: u8, previous: u64) -> Result<Body4, DecodeError> {
    // B1
    let label = if b.input.get(b.pos) == Some(&0) {
        b.pos += 1;
        None
    } else {
        Some(b.name(Field::Label)?)
    };
    // B2
    let mut owners = Owners::read(b)?;
    // B3
    let generation_at = b.pos;
    let generation = b.varint(Field::Generation)?;
    // B4
    let mut changes = Vec::new();
    if kind == 3 {
        let count = b.count(Field::ChangedPoolCount, 2)?;
        for p in 0..count {
            let name_at = b.pos;
            let name_field = Field::PoolName { index: p };
            let name = b.name(name_field)?;
            if let Some(q) = changes
                .iter()
                .position(|(c, _): &(Changes, ChangeAt)| c.name.as_ref() == Some(&name))
            {
                return Err(error(
                    name_at,
                    name_field,
                    DecodeErrorKind::DuplicatePool { previous: q as u64 },
                ));
            }
            let kind_at = b.pos;
            let kind_field = Field::PoolKind { index: p };
            let pool_kind = b.byte(kind_field)?;
            if pool_kind != 1 && pool_kind != 2 {
                return Err(error(
                    kind_at,
                    kind_field,
                    DecodeErrorKind::UnknownPoolKind { found: pool_kind },
                ));
            }
            b.pool = Some(p);
            let base_at = b.pos;
            let generations = (
                b.varint(Field::BaseGeneration)?,
                b.varint(Field::TargetGeneration)?,
            );
            let (c, mut at) =
                change_record_at(b, &mut owners, Some(name), pool_kind == 1, generations)?;
            b.pool = None;
            at.name = name_at;
            at.kind = kind_at;
            at.base_generation = base_at;
            changes.push((c, at));
        }
    } else {
        changes.push(change_record_at(
            b,
            &mut owners,
            None,
            kind == 1,
            (previous, generation),
        )?);
    }
    // B5, B6
    b.end()?;
    owners.all_used()?;
    Ok((label, generation, generation_at, changes))
}

/// Section 13.6, A1 to A12.
fn apply(
    state: &mut Content,
    generation: u64,
    generation_at: usize,
    changes: &[(Changes, ChangeAt)],
) -> Result<(), DecodeError> {
    // A1
    let previous = generation_of(state);
    if generation <= previous {
        return Err(error(
            generation_at,
            Field::Generation,
            DecodeErrorKind::GenerationNotAbove { previous },
        ));
    }
    match state {
        Content::Set {
            generation: g,
            pools,
        } => {
            let mut last: Option<usize> = None;
            for (p, (c, at)) in changes.iter().enumerate() {
                let p = p as u64;
                let name_field = Field::PoolName { index: p };
                let name = c.name.as_ref().unwrap();
                // A2, A3
                let Some(i) = pools.iter().position(|(n, _)| n == name) else {
                    return Err(error(at.name, name_field, DecodeErrorKind::NoSuchPool));
                };
                if last.is_some_and(|l| l >= i) {
                    return Err(error(at.name, name_field, DecodeErrorKind::PoolOutOfOrder));
                }
                last = Some(i);
                // A4
                let pool = &mut pools[i].1;
                let expected = if matches!(pool, Pool::Ids(_)) { 1 } else { 2 };
                let found = if c.ids { 1 } else { 2 };
                if expected != found {
                    return Err(error(
                        at.kind,
                        Field::PoolKind { index: p },
                        DecodeErrorKind::WrongPoolKind { expected, found },
                    ));
                }
                // A5
                let pool_generation = match pool {
                    Pool::Ids(s) => s.generation,
                    Pool::Addresses(s) => s.generation,
                };
                if pool_generation != c.generations.0 {
                    return Err(error(
                        at.base_generation,
                        Field::BaseGeneration,
                        DecodeErrorKind::GenerationMismatch {
                            expected: pool_generation,
                            found: c.generations.0,
                        },
                    )
                    .in_pool(p));
                }
                // A6
                let moved = c.generations.0 != c.generations.1
                    || c.next_ids.is_some_and(|(x, y)| x != y)
                    || !c.freed.is_empty()
                    || !c.allocated.is_empty();
                if !moved {
                    return Err(error(at.name, name_field, DecodeErrorKind::UnchangedPool));
                }
                // A7 to A11
                match pool {
                    Pool::Ids(s) => {
                        apply_ids(s, c, at).map_err(|e| e.in_pool(p))?;
                        s.generation = c.generations.1;
                    }
                    Pool::Addresses(s) => {
                        apply_addresses(s, c, at).map_err(|e| e.in_pool(p))?;
                        s.generation = c.generations.1;
                    }
                }
            }
            *g = generation;
        }
        Content::Ids(s) => {
            let (c, at) = &changes[0];
            apply_ids(s, c, at)?;
            s.generation = generation;
        }
        Content::Addresses(s) => {
            let (c, at) = &changes[0];
            apply_addresses(s, c, at)?;
            s.generation = generation;
        }
        _ => unreachable!("a journal keeps a state"),
    }
    Ok(())
}

/// A7 to A11 on the runs of an id allocator (maximal runs of one owner).
fn apply_ids(s: &mut Ids, c: &Changes, at: &ChangeAt) -> Result<(), DecodeError> {
    let (before, after) = c.next_ids.unwrap();
    // A7
    if before != s.next_id {
        return Err(error(
            at.next_id,
            Field::NextId,
            DecodeErrorKind::NextIdMismatch {
                expected: s.next_id,
                found: before,
            },
        ));
    }
    // A8: one run holds the whole range (runs of one owner never touch).
    for (i, (first, last, owner)) in c.freed.iter().enumerate() {
        let held = s
            .runs
            .iter()
            .position(|(a, b, o)| a <= first && last <= b && o == owner);
        let Some(r) = held else {
            return Err(error(
                at.freed[i],
                Field::FreedStart { index: i as u64 },
                DecodeErrorKind::NotAllocated,
            ));
        };
        let (a, b, o) = s.runs.remove(r);
        let mut pieces = Vec::new();
        if a < *first {
            pieces.push((a, first - 1, o.clone()));
        }
        if last < &b {
            pieces.push((last + 1, b, o));
        }
        for (j, piece) in pieces.into_iter().enumerate() {
            s.runs.insert(r + j, piece);
        }
    }
    for (i, (first, last, owner)) in c.allocated.iter().enumerate() {
        let at_item = at.allocated[i];
        let field = Field::AllocatedStart { index: i as u64 };
        // A9
        let again = c
            .freed
            .iter()
            .any(|(a, b, o)| o == owner && a <= last && first <= b);
        if again {
            return Err(error(at_item, field, DecodeErrorKind::NoOpChange));
        }
        // A10
        let inside = s.base <= *first && *last <= s.end;
        let overlaps = s.runs.iter().any(|(a, b, _)| a <= last && first <= b);
        if !inside || overlaps {
            return Err(error(at_item, field, DecodeErrorKind::NotFree));
        }
        let r = s
            .runs
            .iter()
            .position(|(a, _, _)| a > first)
            .unwrap_or(s.runs.len());
        s.runs.insert(r, (*first, *last, owner.clone()));
        // Keep the runs maximal: join neighbours of the same owner.
        if r + 1 < s.runs.len()
            && s.runs[r].1 + 1 == s.runs[r + 1].0
            && s.runs[r].2 == s.runs[r + 1].2
        {
            let next = s.runs.remove(r + 1);
            s.runs[r].1 = next.1;
        }
        if r > 0 && s.runs[r - 1].1 + 1 == s.runs[r].0 && s.runs[r - 1].2 == s.runs[r].2 {
            let this = s.runs.remove(r);
            s.runs[r - 1].1 = this.1;
        }
    }
    // A11
    let highest = s.runs.last().map(|r| r.1);
    if after < s.base || after > s.end + 1 || highest.is_some_and(|h| h >= after) {
        return Err(error(
            at.next_id_after,
            Field::NextIdAfter,
            DecodeErrorKind::InvalidNextId,
        ));
    }
    s.next_id = after;
    Ok(())
}

/// A8 to A10 on the allocations of an address allocator.
fn apply_addresses(s: &mut Addresses, c: &Changes, at: &ChangeAt) -> Result<(), DecodeError> {
    // A8
    for (i, item) in c.freed.iter().enumerate() {
        let Some(r) = s.allocations.iter().position(|a| a == item) else {
            return Err(error(
                at.freed[i],
                Field::FreedStart { index: i as u64 },
                DecodeErrorKind::NotAllocated,
            ));
        };
        s.allocations.remove(r);
    }
    for (i, item @ (first, last, _)) in c.allocated.iter().enumerate() {
        let at_item = at.allocated[i];
        let field = Field::AllocatedStart { index: i as u64 };
        // A9
        if c.freed.contains(item) {
            return Err(error(at_item, field, DecodeErrorKind::NoOpChange));
        }
        // A10
        let inside = s.start <= *first && *last <= s.end;
        let overlaps = s
            .allocations
            .iter()
            .any(|(a, b, _)| a <= last && first <= b);
        if !inside || overlaps {
            return Err(error(at_item, field, DecodeErrorKind::NotFree));
        }
        let r = s
            .allocations
            .iter()
            .position(|(a, _, _)| a > first)
            .unwrap_or(s.allocations.len());
        s.allocations.insert(r, item.clone());
    }
    Ok(())
}
