// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Reading a journal of any kind of state for the subcommands that show,
//! check, replay or compact it: its header, each record's label,
//! generation and changes, how it ends, and the state at a generation.

use std::fmt::Write as _;
use std::path::Path;

use vm_allocator::format::{self, DecodeError, JournalHeader, Recovery, JOURNAL_MAGIC};
use vm_allocator::{
    escape_name, AddressAllocator, ChangeKind, ChangeRef, Diff, IdAllocator, PoolKind, ResourceSet,
    Versioned,
};

use crate::human;
use crate::load::State;
use crate::Failure;

/// True if `bytes` are a journal (they start with its magic).
pub fn is_journal(bytes: &[u8]) -> bool {
    bytes.starts_with(&JOURNAL_MAGIC)
}

/// One record of a journal.
#[derive(Clone, Debug)]
pub struct RecordView {
    pub index: u64,
    pub offset: usize,
    pub len: usize,
    pub label: Option<String>,
    pub generation: u64,
    pub diff: Diff,
}

/// A journal that was read.
#[derive(Clone, Debug)]
pub struct JournalView {
    /// The path as given.
    pub path: String,
    /// The file's size in bytes.
    pub size: usize,
    pub header: JournalHeader,
    pub base_generation: u64,
    pub records: Vec<RecordView>,
    pub recovery: Recovery,
    /// The state of the last good record (or the base).
    pub last: State,
    /// The state at the generation asked for, if the journal holds it.
    pub at: Option<State>,
}

impl JournalView {
    /// A failure about this journal.
    pub fn failure(&self, what: impl std::fmt::Display) -> Failure {
        Failure::new(format!("{}: {what}", self.path))
    }

    /// The generations the journal holds, for people: `10, 13..=16`.
    pub fn generations(&self) -> String {
        let mut all = vec![self.base_generation];
        all.extend(self.records.iter().map(|r| r.generation));
        let mut out = String::new();
        let mut i = 0;
        while i < all.len() {
            let mut j = i;
            while j + 1 < all.len() && all[j + 1] == all[j] + 1 {
                j += 1;
            }
            if !out.is_empty() {
                out.push_str(", ");
            }
            match j - i {
                0 => write!(out, "{}", all[i]),
                1 => write!(out, "{}, {}", all[i], all[j]),
                _ => write!(out, "{}..={}", all[i], all[j]),
            }
            .expect("a String takes any text");
            i = j + 1;
        }
        out
    }
}

/// Reads the journal at `path` (never changing it), keeping the state at
/// generation `at` if it holds one.
pub fn read(path: &Path, at: Option<u64>) -> Result<JournalView, Failure> {
    let bytes = crate::load::read(path)?;
    let shown = path.display().to_string();
    read_bytes(&bytes, shown, at)
}

/// [`read`] of bytes already read.
pub fn read_bytes(bytes: &[u8], path: String, at: Option<u64>) -> Result<JournalView, Failure> {
    let mut view = decode(bytes, at).map_err(|e| Failure::new(format!("{path}: {e}")))?;
    view.path = path;
    Ok(view)
}

/// Reads the journal `bytes`; an error is an invalid header.
pub fn decode(bytes: &[u8], at: Option<u64>) -> Result<JournalView, DecodeError> {
    let read = match bytes.get(10) {
        Some(1) if is_journal(bytes) => read_as::<IdAllocator>(bytes, at, State::Ids),
        Some(2) if is_journal(bytes) => read_as::<AddressAllocator>(bytes, at, State::Addresses),
        Some(3) if is_journal(bytes) => read_as::<ResourceSet>(bytes, at, State::Set),
        // Not a journal of a kind it can hold: the reader of any kind says
        // what is wrong first (size, magic, version, ..., then the kind).
        _ if is_journal(bytes) => Err(format::dump(bytes).expect_err("no journal of that kind")),
        _ => Err(format::replay::<IdAllocator>(bytes)
            .err()
            .expect("not a journal")),
    };
    let mut view = read?;
    view.size = bytes.len();
    Ok(view)
}

fn read_as<S: Versioned>(
    bytes: &[u8],
    at: Option<u64>,
    wrap: fn(S) -> State,
) -> Result<JournalView, DecodeError> {
    let mut replay = format::replay::<S>(bytes)?;
    let header = *replay.header();
    let base_generation = replay.base().generation();
    let mut found = (at == Some(base_generation)).then(|| wrap(replay.base().clone()));
    let mut records = Vec::new();
    for record in replay.by_ref() {
        if at == Some(record.generation) {
            found = Some(wrap(record.state.clone()));
        }
        records.push(RecordView {
            index: record.index,
            offset: record.offset,
            len: record.len,
            label: record.label.map(str::to_string),
            generation: record.generation,
            diff: record.diff,
        });
    }
    let (end, recovery) = replay.finish();
    Ok(JournalView {
        path: String::new(),
        size: 0,
        header,
        base_generation,
        records,
        recovery,
        last: wrap(end.state().clone()),
        at: found,
    })
}

/// A change for people: `+ mmio32 0xd0000000..=0xd0003fff (16 KiB) nvme0`,
/// names shown by the crate's rule (`escape_name`).
pub fn change_line(change: &ChangeRef<'_>) -> String {
    let sign = match change.kind {
        ChangeKind::Allocated => '+',
        ChangeKind::Freed => '-',
    };
    let mut line = String::from(sign);
    if let Some(pool) = change.pool {
        let _ = write!(line, " {}", escape_name(pool));
    }
    let (start, end) = (change.range.start(), change.range.end());
    let amount = human::amount(change.pool_kind, change.range.len());
    let _ = match change.pool_kind {
        PoolKind::Ids => write!(line, " {start}..={end} ({amount})"),
        PoolKind::Addresses => write!(line, " {start:#x}..={end:#x} ({amount})"),
    };
    if let Some(owner) = change.owner {
        let _ = write!(line, " {}", owner.escaped());
    }
    line
}

/// How a journal ends, for people: nothing discarded, a torn tail, or
/// damage (with the record, the offset and the error).
pub fn ending(recovery: &Recovery) -> String {
    match &recovery.discard {
        None => "whole: nothing discarded".to_string(),
        Some(d) => format!(
            "{} discarded: {d}",
            human::count(recovery.discarded as u64, "byte", "bytes")
        ),
    }
}

/// A kind with its article: "a ResourceSet".
pub fn of_kind(view: &JournalView) -> String {
    crate::load::with_article(view.header.kind)
}
