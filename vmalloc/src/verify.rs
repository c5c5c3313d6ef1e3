// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `vmalloc verify FILE...`: checks each file completely.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use vm_allocator::format::{DecodeError, FileKind};
use vm_allocator::{AddressAllocator, Delta, IdAllocator, ResourceSet};

use crate::journal;
use crate::load::{self, State};
use crate::pools;
use crate::style::Style;
use crate::{ColorWhen, Outcome, EXIT_FAILURE};

/// Check files completely, one line per file.
///
/// Every file is checked as a VMM loading it would: frame, checksum, every
/// field and every rule of a valid state.
///
/// One line per file: "FILE: ok (...)" on standard output, or "FILE:
/// INVALID: FIELD at byte OFFSET: REASON" on standard error. The exit
/// status is 0 when every file is valid, 1 when any is not (or cannot be
/// read), 2 on a usage error.
///
/// A journal is valid when its header is and it reads to its end, or to a
/// torn tail (an append a crash cut short, which the next writer cuts off:
/// the line says so); a damaged journal is invalid, and the line names the
/// record and the byte where the damage starts.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    vmalloc verify snapshots/v1/*.bin snapshots/v2/*.bin\n  \
    vmalloc verify --kind resource-set vm.vmalloc && echo restorable\n  \
    vmalloc verify --kind journal vm.journal")]
pub struct Args {
    /// The files to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Also require every file to hold this kind.
    #[arg(long, value_enum)]
    kind: Option<KindArg>,
}

/// A kind of file, as the command line names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// An IdAllocator.
    Id,
    /// An AddressAllocator.
    Address,
    /// A ResourceSet.
    ResourceSet,
    /// A Delta.
    Delta,
    /// A journal (of any kind of state).
    Journal,
}

pub fn run(args: Args, color: ColorWhen) -> Outcome {
    let out = Style::stdout(color);
    let err = Style::stderr(color);
    let mut all_valid = true;
    for path in &args.files {
        let shown = path.display();
        match check(path, args.kind) {
            Ok(summary) => say!("{shown}: {} ({summary})", out.good("ok")),
            Err(reason) => {
                all_valid = false;
                eprintln!("{shown}: {}: {reason}", err.bad("INVALID"));
            }
        }
    }
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURE)
    })
}

/// A one-line summary of a valid file, or why it is not valid.
fn check(path: &std::path::Path, kind: Option<KindArg>) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let journal_wanted = kind == Some(KindArg::Journal);
    if journal_wanted || (kind.is_none() && journal::is_journal(&bytes)) {
        return check_journal(&bytes);
    }
    let state = decode_as(&bytes, kind).map_err(|e| e.to_string())?;
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    Ok(summary(version, &state))
}

/// Decodes `bytes`, as `kind`'s decoder when one is required (so that a
/// file of another kind is reported as such, at the kind byte).
fn decode_as(bytes: &[u8], kind: Option<KindArg>) -> Result<State, DecodeError> {
    match kind {
        None => load::decode(bytes),
        Some(KindArg::Id) => IdAllocator::from_bytes(bytes).map(State::Ids),
        Some(KindArg::Address) => AddressAllocator::from_bytes(bytes).map(State::Addresses),
        Some(KindArg::ResourceSet) => ResourceSet::from_bytes(bytes).map(State::Set),
        Some(KindArg::Delta) => Delta::from_bytes(bytes).map(State::Delta),
        Some(KindArg::Journal) => unreachable!("journals are checked by check_journal"),
    }
}

/// A journal is valid when it reads to its end, or to a torn tail (an
/// append a crash cut short, which the next writer cuts off); damage is
/// not.
fn check_journal(bytes: &[u8]) -> Result<String, String> {
    let view = journal::decode(bytes, None).map_err(|e| e.to_string())?;
    if view.recovery.is_corrupt() {
        return Err(format!("damaged: {}", journal::ending(&view.recovery)));
    }
    let mut text = format!(
        "journal of {}, format version {}, {}, generation {}",
        journal::of_kind(&view),
        view.header.version,
        crate::human::count(view.records.len() as u64, "record", "records"),
        view.last_generation()
    );
    if let Some(d) = &view.recovery.discard {
        text.push_str(&format!(
            "; a torn tail of {} at byte {}, which the next writer cuts off",
            crate::human::count(view.recovery.discarded as u64, "byte", "bytes"),
            d.offset
        ));
    }
    Ok(text)
}

fn summary(version: u16, state: &State) -> String {
    let kind = state.kind();
    let head = format!("{kind}, format version {version}");
    match state {
        State::Delta(delta) => format!(
            "{head}, applies to {} at generation {}, {}",
            load::with_article(delta.kind()),
            delta.base_generation(),
            crate::human::count(delta.diff().len() as u64, "change", "changes")
        ),
        state => {
            let pools = pools::pools(state);
            let allocations: usize = pools.iter().map(|p| p.count()).sum();
            let mut text = format!("{head}, generation {}", state.generation());
            if kind == FileKind::ResourceSet {
                text.push_str(&format!(
                    ", {}",
                    crate::human::count(pools.len() as u64, "pool", "pools")
                ));
            }
            text.push_str(&format!(
                ", {}",
                crate::human::count(allocations as u64, "allocation", "allocations")
            ));
            text
        }
    }
}
