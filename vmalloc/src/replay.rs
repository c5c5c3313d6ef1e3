// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `vmalloc replay JOURNAL --to GENERATION OUT`: the state a journal held
//! at one generation, as a state file.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::journal;
use crate::load::State;
use crate::{Failure, Outcome};

/// Write the state a journal held at a generation, as a state file.
///
/// The generation is that of the journal's base state or of one of its
/// records (`vmalloc log` lists them); the state is written in the current
/// format version, atomically. A journal that ends at a torn tail or at
/// damage gives every state before that point.
///
/// Exit status: 0, or 1 if the journal holds no state at that generation
/// or cannot be read, 2 on a usage error.
#[derive(clap::Args)]
#[command(after_help = "Example (the VM as it was before a hot-plug):\n  \
    vmalloc log vm.journal\n  \
    vmalloc replay vm.journal --to 13 before-gpu0.vmalloc")]
pub struct Args {
    /// The journal.
    journal: PathBuf,
    /// The generation of the state to write.
    #[arg(long)]
    to: u64,
    /// Where to write it.
    out: PathBuf,
}

pub fn run(args: Args) -> Outcome {
    let view = journal::read(&args.journal, Some(args.to))?;
    let Some(state) = &view.at else {
        let mut why = format!(
            "holds no state at generation {}; its generations are {}",
            args.to,
            view.generations()
        );
        if let Some(d) = &view.recovery.discard {
            why.push_str(&format!(
                " (it ends at byte {}, where record #{} was discarded)",
                d.offset,
                d.error.record.unwrap_or_default()
            ));
        }
        return Err(view.failure(why));
    };
    let written = match state {
        State::Ids(s) => s.write_to_path(&args.out),
        State::Addresses(s) => s.write_to_path(&args.out),
        State::Set(s) => s.write_to_path(&args.out),
        State::Delta(_) => unreachable!("a journal keeps a state"),
    };
    written.map_err(|e| Failure::new(format!("{}: cannot write: {e}", args.out.display())))?;
    let from = match view.records.iter().find(|r| r.generation == args.to) {
        Some(r) => format!("record #{}", r.index),
        None => "the base state".to_string(),
    };
    say!(
        "{}: {} at generation {} ({from} of {})",
        args.out.display(),
        state.kind(),
        args.to,
        view.path
    );
    Ok(ExitCode::SUCCESS)
}
