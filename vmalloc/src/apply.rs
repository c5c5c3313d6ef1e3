// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `vmalloc apply BASE DELTA OUT`: a delta applied to the state it was
//! made from.

use std::path::PathBuf;
use std::process::ExitCode;

use vm_allocator::{DiffError, Versioned};

use crate::load::{self, State};
use crate::{Failure, Outcome};

/// Apply a delta file to the state it was made from.
///
/// The result is written in the current format version, atomically: OUT
/// holds the old file or the new one, never a mix.
///
/// A delta names its base state by generation and checksum: any other
/// state is refused, and the result is checked to be exactly the state the
/// delta names.
#[derive(clap::Args)]
#[command(after_help = "Example (a migration's final pause):\n  \
    vmalloc apply early.vmalloc final.delta restored.vmalloc")]
pub struct Args {
    /// The state the delta was made from.
    base: PathBuf,
    /// The delta file.
    delta: PathBuf,
    /// Where to write the result.
    out: PathBuf,
}

pub fn run(args: Args) -> Outcome {
    let base = load::load(&args.base)?;
    let delta = load::load(&args.delta)?;
    let State::Delta(d) = &delta.state else {
        return Err(delta.failure(format!(
            "not a delta: the file holds {}",
            load::with_article(delta.state.kind())
        )));
    };
    let refused = |e: DiffError| {
        Failure::new(format!(
            "{} does not apply to {}: {e}",
            delta.path, base.path
        ))
    };
    let written = match &base.state {
        State::Ids(s) => write(&d.apply(s).map_err(refused)?, &args.out, |s, p| {
            s.write_to_path(p)
        }),
        State::Addresses(s) => write(&d.apply(s).map_err(refused)?, &args.out, |s, p| {
            s.write_to_path(p)
        }),
        State::Set(s) => write(&d.apply(s).map_err(refused)?, &args.out, |s, p| {
            s.write_to_path(p)
        }),
        State::Delta(_) => {
            return Err(base.failure("a delta is not a state a delta applies to"));
        }
    };
    let generation =
        written.map_err(|e| Failure::new(format!("{}: cannot write: {e}", args.out.display())))?;
    say!(
        "{}: {} at generation {generation} ({} applied)",
        args.out.display(),
        base.state.kind(),
        crate::human::count(d.diff().len() as u64, "change", "changes"),
    );
    Ok(ExitCode::SUCCESS)
}

fn write<S: Versioned>(
    state: &S,
    out: &std::path::Path,
    save: impl Fn(&S, &std::path::Path) -> std::io::Result<()>,
) -> std::io::Result<u64> {
    save(state, out).map(|()| state.generation())
}
