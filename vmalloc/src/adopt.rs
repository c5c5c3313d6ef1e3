// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `vmalloc adopt STATE CLAIMS OUT`: the state made to hold exactly what
//! the devices claim.

use std::path::PathBuf;
use std::process::ExitCode;

use vm_allocator::{AdoptError, Report};

use crate::load::State;
use crate::reconcile::{by_kind, load_state};
use crate::{claims, human, Failure, Outcome, EXIT_USAGE};

/// Make a state hold exactly what the devices claim, and write it.
///
/// CLAIMS is the file of `vmalloc reconcile`. Unexpected allocations are
/// freed, missing ones allocated, bounds and owners fixed; a claim
/// without owner keeps the owner of an equal allocation. Adopting is one
/// mutation: the generation moves by one if anything changed.
///
/// All or nothing: a claim outside the state or in conflict with another
/// refuses the whole adoption, naming the first, and OUT is not written.
/// Otherwise OUT is written in the current format version, atomically
/// (it holds the old file or the new one, never a mix).
///
/// The exit status is 0 when OUT was written, 1 when the claims were
/// refused (nothing written), 2 on an error.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    vmalloc adopt vm.vmalloc devices.json fixed.vmalloc\n  \
    vmalloc reconcile vm.vmalloc devices.json || vmalloc adopt vm.vmalloc devices.json vm.vmalloc")]
pub struct Args {
    /// The state: an allocator or a resource set.
    state: PathBuf,
    /// The claims file (JSON).
    claims: PathBuf,
    /// Where to write the result.
    out: PathBuf,
}

pub fn run(args: Args) -> Outcome {
    let loaded = load_state(&args.state, "adopt")?;
    let claims = claims::read(&args.claims)?;
    let refused = |e: AdoptError| {
        Failure::new(format!(
            "{}: refused, nothing was written: {}",
            args.claims.display(),
            e.finding()
        ))
    };
    let out = args.out.as_path();
    let cannot_write = |e: std::io::Error| {
        Failure::new(format!("{}: cannot write: {e}", out.display())).with_code(EXIT_USAGE)
    };
    let (report, generation): (Report, u64) = match loaded.state.clone() {
        State::Ids(mut s) => {
            let report = s.adopt(&claims).map_err(refused)?;
            s.write_to_path(out).map_err(cannot_write)?;
            (report, s.generation())
        }
        State::Addresses(mut s) => {
            let report = s.adopt(&claims).map_err(refused)?;
            s.write_to_path(out).map_err(cannot_write)?;
            (report, s.generation())
        }
        State::Set(mut s) => {
            let report = s.adopt(&claims).map_err(refused)?;
            s.write_to_path(out).map_err(cannot_write)?;
            (report, s.generation())
        }
        State::Delta(_) => unreachable!("a delta was refused when loaded"),
    };
    let what = if report.is_consistent() {
        "already consistent, nothing changed".to_string()
    } else {
        format!("fixed {}", by_kind(&report))
    };
    say!(
        "{}: {} at generation {generation}, holding exactly the {} ({what})",
        out.display(),
        loaded.state.kind(),
        human::count(claims.len() as u64, "claim", "claims"),
    );
    Ok(ExitCode::SUCCESS)
}
