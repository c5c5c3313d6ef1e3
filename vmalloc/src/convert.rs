// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `vmalloc convert IN OUT --format-version N`: the same state in another
//! format version.

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use vm_allocator::format::{EncodeError, Unfit, WRITABLE_VERSIONS};
use vm_allocator::{PoolKind, RangeInclusive};

use crate::load::{self, State};
use crate::{human, Failure, Outcome, EXIT_USAGE};

/// Rewrite a file in another format version.
///
/// For a host whose reader is older (or newer). Version 1 holds lone allocators without owners; it does not store the
/// generation (which then reads back as 0). A state that does not fit is
/// refused with what does not fit; --drop-owners removes the owners first,
/// explicitly. The file is written atomically.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    vmalloc convert snapshots/v1/x86_64_pio.bin pio-v2.vmalloc --format-version 2\n  \
    vmalloc convert gsi.vmalloc gsi-v1.vmalloc --format-version 1 --drop-owners")]
pub struct Args {
    /// The file to read (any kind, any format version).
    input: PathBuf,
    /// Where to write it.
    output: PathBuf,
    /// The format version to write.
    #[arg(long = "format-version", value_name = "N")]
    format_version: u16,
    /// Remove every owner first (format version 1 has none).
    #[arg(long)]
    drop_owners: bool,
}

pub fn run(args: Args) -> Outcome {
    let version = args.format_version;
    if !WRITABLE_VERSIONS.contains(&version) {
        return Err(Failure::new(format!(
            "format version {version} is not one this build writes ({})",
            versions()
        ))
        .with_code(EXIT_USAGE));
    }
    let loaded = load::load(&args.input)?;
    let mut state = loaded.state.clone();
    if args.drop_owners {
        state = match state {
            State::Ids(s) => State::Ids(s.without_owners()),
            State::Addresses(s) => State::Addresses(s.without_owners()),
            State::Set(s) => State::Set(s.without_owners()),
            delta @ State::Delta(_) => delta,
        };
    }
    let out = args.output.as_path();
    let written = match &state {
        State::Ids(s) => s.write_to_path_version(out, version),
        State::Addresses(s) => s.write_to_path_version(out, version),
        State::Set(s) => s.write_to_path_version(out, version),
        State::Delta(s) => s.write_to_path_version(out, version),
    };
    written.map_err(|e| refused(&loaded.path, &state, out, version, e))?;
    let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    say!(
        "{}: {} in format version {version} ({})",
        out.display(),
        state.kind(),
        human::count(size, "byte", "bytes")
    );
    if version == 1 && state.generation() != 0 {
        eprintln!(
            "note: format version 1 does not store the generation ({}); it reads back as 0",
            state.generation()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn versions() -> String {
    WRITABLE_VERSIONS
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why the file could not be written, for people.
fn refused(input: &str, state: &State, out: &Path, version: u16, e: io::Error) -> Failure {
    let encode = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<EncodeError>());
    let why = match encode {
        Some(EncodeError::DoesNotFit {
            what: Unfit::Owner { range, owner },
            ..
        }) => {
            let kind = pool_kind(state);
            format!(
                "format version {version} has no owners, and the allocation {} is owned by \
                 {} (--drop-owners writes the state without its owners)",
                show(kind, range),
                human::quoted(owner.as_str())
            )
        }
        Some(EncodeError::DoesNotFit {
            what: Unfit::ResourceSet,
            ..
        }) => format!(
            "format version {version} holds lone allocators only, not a resource set \
             (resource sets need format version 2 or later)"
        ),
        Some(EncodeError::DoesNotFit {
            what: Unfit::Delta, ..
        }) => format!(
            "format version {version} has no deltas (deltas need format version 2 or later)"
        ),
        Some(other) => other.to_string(),
        None => return Failure::new(format!("{}: cannot write: {e}", out.display())),
    };
    Failure::new(format!("{input}: cannot convert: {why}"))
}

/// The kind of the lone allocator (only a lone allocator can be refused
/// for its owners: a set does not fit version 1 at all).
fn pool_kind(state: &State) -> PoolKind {
    match state {
        State::Ids(_) => PoolKind::Ids,
        _ => PoolKind::Addresses,
    }
}

fn show(kind: PoolKind, range: &RangeInclusive) -> String {
    human::range(kind, range.start(), range.end())
}
