// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! What the fuzz targets and the corpus generator share: framing files as
//! FORMAT.md says (written from the spec, not taken from the crate),
//! checking a file against every reader, the states of every kind, and
//! byte-level mutations of valid encodings.

#[path = "../../tests/support/codec.rs"]
pub mod codec;

use arbitrary::Arbitrary;
use vm_allocator::format::{
    self, DecodeError, DecodeErrorKind, Field, JournalWriter, JOURNAL_MAGIC, MAGIC,
};
use vm_allocator::{
    AddressAllocator, Delta, Diff, History, IdAllocator, ResourceSet, Retention, StatePair, Versioned,
};

// ---------------------------------------------------------------------------
// Files, from FORMAT.md.

/// A file of format `version` and `kind` around `body`, framed as
/// FORMAT.md says (section 2): magic, version, kind, body length, body,
/// CRC-32C.
pub fn seal(version: u16, kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    out.push(kind);
    let mut len = body.len() as u64;
    while len >= 0x80 {
        out.push(len as u8 | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend_from_slice(body);
    let crc = crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The version, kind and body of a well-framed `file` (checksum not
/// checked), or `None`.
pub fn unseal(file: &[u8]) -> Option<(u16, u8, &[u8])> {
    let header = file.get(..11)?;
    if header[..8] != MAGIC {
        return None;
    }
    let version = u16::from_le_bytes([header[8], header[9]]);
    let kind = header[10];
    let (mut len, mut shift, mut at) = (0u64, 0u32, 11);
    loop {
        let b = *file.get(at)?;
        at += 1;
        len |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    let end = at.checked_add(usize::try_from(len).ok()?)?;
    Some((version, kind, file.get(at..end)?))
}

/// CRC-32C, bit by bit (reflected polynomial 0x82f63b78).
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0x82f6_3b78 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// The format version of a file that opened (its bytes 8 and 9).
fn version_of(data: &[u8]) -> u16 {
    u16::from_le_bytes([data[8], data[9]])
}

/// Decodes `data` as a `$ty`; if that succeeds, checks the state with
/// `$check` and that writing it in the file's version gives `data` again.
macro_rules! typed {
    ($data:expr, $ty:ty, $check:expr) => {{
        let decoded = <$ty>::from_bytes($data);
        if let Ok(state) = &decoded {
            $check(state);
            let again = state
                .to_bytes_version(version_of($data))
                .expect("a state read from a version fits in it");
            assert_eq!(
                again, $data,
                concat!("accepted a non-canonical ", stringify!($ty), " file")
            );
        }
        decoded.map(|_| ())
    }};
}

/// Reads one `$ty` file from the front of `$data` with the streaming reader
/// (`read_from`), which must agree with `from_bytes`: a state it returns is
/// what `from_bytes` makes of the bytes it read, and it refuses whatever
/// `from_bytes` refuses when those bytes are the whole input.
macro_rules! streamed {
    ($data:expr, $ty:ty) => {{
        let data: &[u8] = $data;
        let mut rest = data;
        let streamed = <$ty>::read_from(&mut rest);
        let read = &data[..data.len() - rest.len()];
        match streamed {
            Ok(state) => assert_eq!(
                <$ty>::from_bytes(read).as_ref().ok(),
                Some(&state),
                concat!("read_from and from_bytes disagree on a ", stringify!($ty))
            ),
            Err(_) => assert!(
                <$ty>::from_bytes(data).is_err(),
                concat!(
                    "read_from refuses a ",
                    stringify!($ty),
                    " that from_bytes accepts"
                )
            ),
        }
    }};
}

/// Runs every reader of the file format on `data`: each either refuses it
/// or returns a valid state whose encoding in the file's version is exactly
/// `data` (the format is canonical); at most one kind accepts it; the
/// listing (`format::dump`) agrees with the typed readers, refusing with
/// the same error; and the streaming readers (`read_from`) agree with
/// `from_bytes`.
pub fn check_file(data: &[u8]) {
    if data.starts_with(&JOURNAL_MAGIC) {
        // A journal: no reader of state files takes it (`BadMagic`), and
        // the listing reads it as a journal.
        assert!(IdAllocator::from_bytes(data).is_err());
        assert!(AddressAllocator::from_bytes(data).is_err());
        assert!(ResourceSet::from_bytes(data).is_err());
        assert!(Delta::from_bytes(data).is_err());
        check_journal(data);
        return;
    }
    streamed!(data, IdAllocator);
    streamed!(data, AddressAllocator);
    streamed!(data, ResourceSet);
    streamed!(data, Delta);
    let typed: [Result<(), DecodeError>; 4] = [
        typed!(data, IdAllocator, |a: &IdAllocator| a
            .check_invariants()
            .unwrap()),
        typed!(data, AddressAllocator, |a: &AddressAllocator| a
            .check_invariants()
            .unwrap()),
        typed!(data, ResourceSet, |s: &ResourceSet| s
            .check_invariants()
            .unwrap()),
        typed!(data, Delta, |_: &Delta| ()),
    ];
    // A file is of one kind at most.
    let accepted = typed.iter().filter(|r| r.is_ok()).count();
    assert!(accepted <= 1, "{typed:?}");
    match format::dump(data) {
        Ok(_) => assert_eq!(accepted, 1, "listed but no reader accepts it"),
        Err(e) => {
            assert_eq!(
                accepted, 0,
                "a reader accepts what the listing refuses: {e:?}"
            );
            // Every reader refuses it too. One says the same; the others
            // may say "wrong kind", and all do for a kind the listing calls
            // unknown.
            let errors: Vec<DecodeError> = typed.into_iter().map(|r| r.unwrap_err()).collect();
            if let (Field::Kind, DecodeErrorKind::UnknownKind { found }) = (e.field, e.kind) {
                for typed in &errors {
                    let wrong = matches!(typed.kind, DecodeErrorKind::WrongKind { found: f, .. } if f == found);
                    assert!(wrong, "{e:?} / {typed:?}");
                }
            } else {
                assert!(errors.contains(&e), "{e:?} / {errors:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// States of every kind.

/// A state of any kind that has a file, as its `Arbitrary` makes it.
#[derive(Arbitrary, Debug, Clone)]
pub enum AnyState {
    /// An id allocator.
    Ids(IdAllocator),
    /// An address allocator.
    Addresses(AddressAllocator),
    /// A resource set.
    Set(ResourceSet),
    /// A delta between two states.
    Delta(Delta),
}

impl AnyState {
    /// Its file in format `version`, if it fits there.
    pub fn to_bytes_version(&self, version: u16) -> Option<Vec<u8>> {
        match self {
            AnyState::Ids(s) => s.to_bytes_version(version).ok(),
            AnyState::Addresses(s) => s.to_bytes_version(version).ok(),
            AnyState::Set(s) => s.to_bytes_version(version).ok(),
            AnyState::Delta(s) => s.to_bytes_version(version).ok(),
        }
    }
}

/// A serde format (`tests/support/codec.rs`).
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum SerdeFormat {
    /// serde_json.
    Json,
    /// postcard.
    Postcard,
    /// bincode 1.3.3.
    Bincode,
    /// bitcode.
    Bitcode,
}

impl SerdeFormat {
    /// The codec of the tests.
    pub fn codec(self) -> codec::Codec {
        match self {
            SerdeFormat::Json => codec::Codec::Json,
            SerdeFormat::Postcard => codec::Codec::Postcard,
            SerdeFormat::Bincode => codec::Codec::Bincode,
            SerdeFormat::Bitcode => codec::Codec::Bitcode,
        }
    }
}

/// Two states of one shape, of any kind (see `StatePair`).
#[derive(Arbitrary, Debug, Clone)]
pub enum AnyPair {
    /// Id allocators.
    Ids(StatePair<IdAllocator>),
    /// Address allocators.
    Addresses(StatePair<AddressAllocator>),
    /// Resource sets.
    Set(StatePair<ResourceSet>),
}

// ---------------------------------------------------------------------------
// Mutations.

/// One edit of an encoding. Positions are taken modulo the length, so
/// every edit lands.
#[derive(Arbitrary, Debug, Clone)]
pub enum Mutation {
    /// Overwrite a byte.
    Set {
        /// Where.
        at: u16,
        /// The new byte.
        value: u8,
    },
    /// Flip a bit.
    Flip {
        /// Where.
        at: u16,
        /// Which bit (modulo 8).
        bit: u8,
    },
    /// Add to a byte, wrapping (small moves of counts, lengths, gaps).
    Add {
        /// Where.
        at: u16,
        /// How much.
        delta: i8,
    },
    /// Insert bytes.
    Insert {
        /// Where.
        at: u16,
        /// What (at most 16 bytes are inserted).
        bytes: Vec<u8>,
    },
    /// Remove bytes.
    Remove {
        /// From where.
        at: u16,
        /// How many (modulo 16, plus one).
        len: u8,
    },
    /// Replace the bytes from `at` with the canonical LEB128 varint of
    /// `value` (a count, a length or a gap of the file format).
    Varint {
        /// Where.
        at: u16,
        /// The value.
        value: u64,
    },
    /// Write a little-endian `u64` over the bytes from `at` (bincode's
    /// lengths and integers).
    U64 {
        /// Where.
        at: u16,
        /// The value.
        value: u64,
    },
    /// Copy a run of bytes over another place (duplicate items).
    Copy {
        /// From where.
        from: u16,
        /// To where.
        to: u16,
        /// How many (modulo 32, plus one).
        len: u8,
    },
    /// Cut the encoding short.
    Truncate {
        /// The new length (modulo the length).
        len: u16,
    },
}

/// `at` modulo `len` (0 for an empty buffer).
fn pos(at: u16, len: usize) -> usize {
    if len == 0 {
        0
    } else {
        usize::from(at) % len
    }
}

/// The canonical LEB128 encoding of `value`.
pub fn varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
    out
}

/// Writes `patch` over `bytes` from `at`, growing them as needed.
fn overwrite(bytes: &mut Vec<u8>, at: usize, patch: &[u8]) {
    let end = at + patch.len();
    if bytes.len() < end {
        bytes.resize(end, 0);
    }
    bytes[at..end].copy_from_slice(patch);
}

/// Applies `mutations` to `bytes`, in order (at most 16 of them).
pub fn mutate(bytes: &mut Vec<u8>, mutations: &[Mutation]) {
    for m in mutations.iter().take(16) {
        let len = bytes.len();
        match m {
            Mutation::Set { at, value } if len > 0 => bytes[pos(*at, len)] = *value,
            Mutation::Flip { at, bit } if len > 0 => bytes[pos(*at, len)] ^= 1 << (bit % 8),
            Mutation::Add { at, delta } if len > 0 => {
                let b = &mut bytes[pos(*at, len)];
                *b = b.wrapping_add_signed(*delta);
            }
            Mutation::Insert { at, bytes: new } => {
                let at = pos(*at, len + 1);
                let new = &new[..new.len().min(16)];
                bytes.splice(at..at, new.iter().copied());
            }
            Mutation::Remove { at, len: n } if len > 0 => {
                let at = pos(*at, len);
                let end = (at + usize::from(n % 16) + 1).min(len);
                bytes.drain(at..end);
            }
            Mutation::Varint { at, value } => overwrite(bytes, pos(*at, len), &varint(*value)),
            Mutation::U64 { at, value } => overwrite(bytes, pos(*at, len), &value.to_le_bytes()),
            Mutation::Copy { from, to, len: n } if len > 0 => {
                let from = pos(*from, len);
                let end = (from + usize::from(n % 32) + 1).min(len);
                let run = bytes[from..end].to_vec();
                overwrite(bytes, pos(*to, len), &run);
            }
            Mutation::Truncate { len: n } if len > 0 => bytes.truncate(pos(*n, len)),
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Journals (FORMAT.md section 13).

/// Runs the journal reader of every kind on `data`: each refuses its header
/// or reads records whose states are valid, whose generations move up, whose
/// diffs are those between the states, and which, written again with the
/// same id and labels, give exactly the bytes the reader kept (journals are
/// canonical); what it discarded, read alone after them, changes nothing;
/// `History::from_journal_bytes` keeps exactly the states it read, with
/// their labels, and reports the same; and the listing (`format::dump`)
/// agrees about the header.
pub fn check_journal(data: &[u8]) {
    let kinds = [
        check_journal_as::<IdAllocator>(data, |s| s.check_invariants().unwrap()),
        check_journal_as::<AddressAllocator>(data, |s| s.check_invariants().unwrap()),
        check_journal_as::<ResourceSet>(data, |s| s.check_invariants().unwrap()),
    ];
    let read = kinds.iter().filter(|r| r.is_ok()).count();
    assert!(read <= 1, "a journal of two kinds: {kinds:?}");
    if data.starts_with(&JOURNAL_MAGIC) {
        match format::dump(data) {
            Ok(_) => assert_eq!(read, 1, "listed but no journal reader reads it"),
            Err(e) => {
                assert_eq!(read, 0, "a journal reader reads what the listing refuses");
                if e.field != Field::Kind {
                    assert!(
                        kinds.iter().any(|r| r.as_ref().err() == Some(&e)),
                        "{e:?} / {kinds:?}"
                    );
                }
            }
        }
    }
}

/// The journal reader of `S` on `data`; checks what it reads (see
/// [`check_journal`]) and returns the number of records.
fn check_journal_as<S: Versioned>(data: &[u8], check: fn(&S)) -> Result<u64, DecodeError> {
    let mut replay = format::replay::<S>(data)?;
    let base = replay.base().clone();
    check(&base);
    let header = *replay.header();
    let (mut writer, mut again) = JournalWriter::start(&base, header.id);
    assert_eq!(again.len(), header.len);
    let mut versions = vec![(base.clone(), None)];
    let mut previous = base;
    let mut n = 0;
    for record in replay.by_ref() {
        check(&record.state);
        assert_eq!(record.index, n);
        assert_eq!(record.state.generation(), record.generation);
        assert!(record.generation > previous.generation());
        assert_eq!(
            Diff::between(&previous, &record.state).unwrap(),
            record.diff
        );
        writer
            .append_to(&record.state, record.label, &mut again)
            .expect("a record read can be written");
        assert_eq!(again.len(), record.offset + record.len);
        versions.push((record.state.clone(), record.label));
        previous = record.state;
        n += 1;
    }
    let (end, recovery) = replay.finish();
    let (history, reported) = History::<S>::from_journal_bytes(data, Retention::unbounded())
        .expect("a history reads what the replay reads");
    assert_eq!(reported, recovery);
    history.check_invariants().unwrap();
    let kept: Vec<_> = history.versions().map(|v| (v.state(), v.label())).collect();
    let read: Vec<_> = versions.iter().map(|(s, l)| (s, *l)).collect();
    assert!(kept == read, "the history does not keep the states read");
    assert_eq!(recovery.records, n);
    assert_eq!(recovery.len + recovery.discarded, data.len());
    assert_eq!(
        again,
        data[..recovery.len],
        "accepted a non-canonical journal"
    );
    assert_eq!(end.state(), &previous);
    assert_eq!(recovery.is_clean(), recovery.discarded == 0);
    if let Some(discard) = recovery.discard {
        assert_eq!(discard.offset, recovery.len);
        assert_eq!(discard.error.record, Some(n));
        // The journal without what was discarded reads whole.
        let (_, kept) = format::replay::<S>(&data[..recovery.len]).unwrap().finish();
        assert!(kept.is_clean() && kept.records == n);
    }
    Ok(n)
}

/// A journal of `pair`: the older state, then the newer one if it is at
/// a later generation, with a label if `label`.
pub fn journal_of_pair<S: Versioned>(pair: &StatePair<S>, id: u64, label: bool) -> Vec<u8> {
    let (mut writer, mut out) = JournalWriter::start(&pair.older, id);
    if pair.newer.generation() > pair.older.generation() {
        let label = label.then_some("fuzz");
        writer.append_to(&pair.newer, label, &mut out).unwrap();
    }
    out
}

/// The journal `data` (read record by record as FORMAT.md says, checksums
/// not checked) with the body of record `k` (modulo the records) edited by
/// `mutations`, and every record's frame and checksum made again; `data`
/// unchanged if it has no record.
pub fn edit_record(data: &[u8], k: usize, mutations: &[Mutation]) -> Vec<u8> {
    let Some((_, _, header_body)) = unseal_journal(data) else {
        return data.to_vec();
    };
    let header_end = header_body.as_ptr() as usize - data.as_ptr() as usize + header_body.len() + 4;
    let mut bodies = Vec::new();
    let mut at = header_end;
    while let Some((len, body_at)) = read_varint(data, at) {
        let n = body_at - at;
        let Some(end) = body_at.checked_add(len as usize) else {
            break;
        };
        if end + n + 4 > data.len() {
            break;
        }
        bodies.push(data[body_at..end].to_vec());
        at = end + n + 4;
    }
    if bodies.is_empty() {
        return data.to_vec();
    }
    let k = k % bodies.len();
    mutate(&mut bodies[k], mutations);
    let mut out = data[..header_end].to_vec();
    for body in &bodies {
        let start = out.len();
        let len = varint(body.len() as u64);
        out.extend_from_slice(&len);
        out.extend_from_slice(body);
        out.extend(len.iter().rev());
        let crc = crc32c(&out[start - 4..]);
        out.extend_from_slice(&crc.to_le_bytes());
    }
    out
}

/// The version, kind and header body of a journal (checksum not checked).
fn unseal_journal(data: &[u8]) -> Option<(u16, u8, &[u8])> {
    if !data.starts_with(&JOURNAL_MAGIC) {
        return None;
    }
    let mut file = MAGIC.to_vec();
    file.extend_from_slice(data.get(8..)?);
    let (version, kind, body) = unseal(&file)?;
    let start = body.as_ptr() as usize - file.as_ptr() as usize;
    Some((version, kind, &data[start..start + body.len()]))
}

/// A varint at `at`: its value and the offset after it.
fn read_varint(data: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for i in 0..10 {
        let b = *data.get(at + i)?;
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some((value, at + i + 1));
        }
    }
    None
}
