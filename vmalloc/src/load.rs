// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Opening a file of any kind and version, as `format::dump` does: the
//! header says which kind it claims to be, that kind's decoder checks it
//! completely, and a header that names no kind is reported by the
//! kind-agnostic reader of `format::dump`.

use std::path::Path;

use vm_allocator::format::{self, DecodeError, DecodeErrorKind, Field, FileKind, MAGIC};
use vm_allocator::{AddressAllocator, Delta, IdAllocator, ResourceSet};

use crate::Failure;

/// What a file holds.
#[derive(Clone, Debug)]
pub enum State {
    Ids(IdAllocator),
    Addresses(AddressAllocator),
    Set(ResourceSet),
    Delta(Delta),
}

impl State {
    /// The kind of file that holds it.
    pub fn kind(&self) -> FileKind {
        match self {
            State::Ids(_) => FileKind::IdAllocator,
            State::Addresses(_) => FileKind::AddressAllocator,
            State::Set(_) => FileKind::ResourceSet,
            State::Delta(_) => FileKind::Delta,
        }
    }

    /// The generation of a state; for a delta, that of the state it gives.
    pub fn generation(&self) -> u64 {
        match self {
            State::Ids(s) => s.generation(),
            State::Addresses(s) => s.generation(),
            State::Set(s) => s.generation(),
            State::Delta(d) => d.target_generation(),
        }
    }
}

/// A file read and fully validated.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The path as given.
    pub path: String,
    /// Its format version.
    pub version: u16,
    /// Its CRC-32C trailer (checked).
    pub checksum: u32,
    /// Its size in bytes.
    pub size: usize,
    pub state: State,
}

impl Loaded {
    /// A failure about this file.
    pub fn failure(&self, what: impl std::fmt::Display) -> Failure {
        Failure::new(format!("{}: {what}", self.path))
    }

    /// The state, refusing a delta (which has none to show).
    pub fn expect_state(&self, command: &str) -> Result<&State, Failure> {
        match &self.state {
            State::Delta(_) => Err(self.failure(format!(
                "a delta holds changes, not a state; `{command}` needs an allocator or a \
                 resource set (`vmalloc inspect` shows a delta)"
            ))),
            state => Ok(state),
        }
    }
}

/// The bytes of `path`, or a failure naming it.
pub fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::new(format!("{}: cannot read: {e}", path.display())))
}

/// Reads and validates the file at `path`.
pub fn load(path: &Path) -> Result<Loaded, Failure> {
    let bytes = read(path)?;
    from_bytes(path, &bytes)
}

/// Validates `bytes`, read from `path`.
pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Loaded, Failure> {
    let state = decode(bytes).map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
    Ok(Loaded {
        path: path.display().to_string(),
        version: u16::from_le_bytes([bytes[8], bytes[9]]),
        checksum: trailer(bytes),
        size: bytes.len(),
        state,
    })
}

/// Decodes a file of any kind and version, with full validation.
pub fn decode(bytes: &[u8]) -> Result<State, DecodeError> {
    let claimed = (bytes.len() > MAGIC.len() + 2 && bytes[..MAGIC.len()] == MAGIC)
        .then(|| FileKind::from_byte(bytes[MAGIC.len() + 2]))
        .flatten();
    match claimed {
        Some(FileKind::IdAllocator) => IdAllocator::from_bytes(bytes).map(State::Ids),
        Some(FileKind::AddressAllocator) => {
            AddressAllocator::from_bytes(bytes).map(State::Addresses)
        }
        Some(FileKind::ResourceSet) => ResourceSet::from_bytes(bytes).map(State::Set),
        Some(FileKind::Delta) => Delta::from_bytes(bytes).map(State::Delta),
        // No known kind: the kind-agnostic reader says what is wrong first
        // (size, magic, version, length, checksum, then the kind).
        _ => Err(match format::dump(bytes) {
            Err(e) => e,
            // A kind this build does not name; `dump` would have refused it.
            Ok(_) => DecodeError::new(
                MAGIC.len() + 2,
                Field::Kind,
                DecodeErrorKind::UnknownKind {
                    found: bytes[MAGIC.len() + 2],
                },
            ),
        }),
    }
}

/// The CRC-32C trailer of a file that decoded.
fn trailer(bytes: &[u8]) -> u32 {
    let n = bytes.len();
    u32::from_le_bytes([bytes[n - 4], bytes[n - 3], bytes[n - 2], bytes[n - 1]])
}

/// A kind for people: "an IdAllocator", "a ResourceSet".
pub fn with_article(kind: FileKind) -> String {
    match kind {
        FileKind::IdAllocator | FileKind::AddressAllocator => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}
