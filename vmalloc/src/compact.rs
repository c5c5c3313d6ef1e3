// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `vmalloc compact JOURNAL`: a journal rewritten as one full state.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use vm_allocator::format::Recovery;
use vm_allocator::{AddressAllocator, IdAllocator, Journal, JournalError, ResourceSet, Versioned};

use crate::journal;
use crate::{Failure, Outcome};

/// Rewrite a journal as one full state: its last good state, as the base
/// of a journal with no records.
///
/// The journal is replaced atomically (after a crash it holds the old
/// journal or the new one), as the writer that holds it would, and not
/// while a writer holds it. A torn tail (an append a crash cut short) is
/// dropped, as every writer does. A damaged journal is refused: compacting
/// it would drop the records after the damage for good; --discard-damage
/// does so on purpose (`vmalloc log` shows what would be lost).
///
/// Exit status: 0, or 1 if the journal is invalid, damaged (without
/// --discard-damage), held by a writer or cannot be written, 2 on a usage
/// error.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    vmalloc compact vm.journal\n  \
    vmalloc compact --discard-damage vm.journal")]
pub struct Args {
    /// The journal.
    journal: PathBuf,
    /// Compact a damaged journal from its last good record, dropping the
    /// records after the damage.
    #[arg(long)]
    discard_damage: bool,
}

/// What a compaction did.
struct Compacted {
    records: u64,
    generation: u64,
    before: u64,
    after: u64,
    recovery: Recovery,
}

pub fn run(args: Args) -> Outcome {
    // The header says which kind of state the journal keeps; reading it
    // first also reports an invalid journal as every subcommand does.
    let view = journal::read(&args.journal, None)?;
    if view.recovery.is_corrupt() && !args.discard_damage {
        return Err(view.failure(format!(
            "damaged: {}; --discard-damage compacts it from the last good record, dropping {}",
            journal::ending(&view.recovery),
            crate::human::count(view.recovery.discarded as u64, "byte", "bytes")
        )));
    }
    let path = args.journal.as_path();
    let done = match view.header.kind {
        vm_allocator::format::FileKind::IdAllocator => compact::<IdAllocator>(path),
        vm_allocator::format::FileKind::AddressAllocator => compact::<AddressAllocator>(path),
        _ => compact::<ResourceSet>(path),
    }
    .map_err(|e| Failure::new(format!("{}: {e}", args.journal.display())))?;
    let mut note = String::new();
    if let Some(d) = &done.recovery.discard {
        note = format!(
            "; {} dropped: {d}",
            crate::human::count(done.recovery.discarded as u64, "byte", "bytes")
        );
    }
    say!(
        "{}: {} compacted into one state at generation {} ({} bytes -> {} bytes){note}",
        args.journal.display(),
        crate::human::count(done.records, "record", "records"),
        done.generation,
        done.before,
        done.after
    );
    Ok(ExitCode::SUCCESS)
}

fn compact<S: Versioned>(path: &Path) -> Result<Compacted, JournalError> {
    let before = std::fs::metadata(path).map_err(JournalError::Io)?.len();
    let (mut journal, recovery) = Journal::<S>::open(path)?;
    journal.compact()?;
    Ok(Compacted {
        records: recovery.records,
        generation: journal.generation(),
        before,
        after: journal.len(),
        recovery,
    })
}
