// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `vmalloc diff A B [--json]`: what was allocated and freed from one
//! state to another.

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;
use vm_allocator::{ChangeKind, Diff, DiffError};

use crate::dump::{self, ChangeJson};
use crate::load::{self, Loaded, State};
use crate::style::Style;
use crate::{ColorWhen, Failure, Outcome, EXIT_FAILURE, EXIT_USAGE};

/// Show what was allocated and freed between two states.
///
/// One line per change, per pool, with owners: "+" allocated, "-" freed (a
/// range whose owner changed is freed and allocated again).
///
/// The files must have the same shape (the same kind, range or space, and
/// pools) but may be of different format versions. Like diff(1): no output
/// and exit status 0 when the states are equal (the same allocations with
/// the same owners and, for ids, the same next id; generations are not
/// compared), 1 when they differ, 2 when they cannot be compared.
///
/// With --json: {"allocated": [...], "freed": [...]}, items {"pool",
/// "start", "end", "owner"} in pool then address order ("pool" is null for
/// a lone allocator).
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    vmalloc diff before.vmalloc after.vmalloc\n  \
    vmalloc diff --json snapshots/v1/x86_64_pio.bin pio.vmalloc")]
pub struct Args {
    /// The older state.
    a: PathBuf,
    /// The newer state.
    b: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct DiffJson {
    allocated: Vec<ChangeJson>,
    freed: Vec<ChangeJson>,
}

pub fn run(args: Args, color: ColorWhen) -> Outcome {
    // Anything that stops the comparison is exit status 2, as for diff(1).
    let trouble = |f: Failure| f.with_code(EXIT_USAGE);
    let a = load::load(&args.a).map_err(trouble)?;
    let b = load::load(&args.b).map_err(trouble)?;
    let (diff, equal) = compare(&a, &b).map_err(trouble)?;
    let style = if args.json {
        Style::plain()
    } else {
        Style::stdout(color)
    };
    let text = if args.json {
        let (allocated, freed) = dump::split_changes(diff.changes());
        let mut text = dump::to_string(&DiffJson { allocated, freed });
        text.push('\n');
        text
    } else if equal {
        String::new()
    } else {
        render(&a, &b, &diff, &style)
    };
    dump::write_stdout(&text)?;
    Ok(if equal {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURE)
    })
}

/// The diff from `a` to `b`, and whether the states are equal.
pub fn compare(a: &Loaded, b: &Loaded) -> Result<(Diff, bool), Failure> {
    let shape =
        |e: DiffError| Failure::new(format!("{} and {} cannot be compared: {e}", a.path, b.path));
    match (&a.state, &b.state) {
        (State::Ids(x), State::Ids(y)) => Ok((Diff::between(x, y).map_err(shape)?, x == y)),
        (State::Addresses(x), State::Addresses(y)) => {
            Ok((Diff::between(x, y).map_err(shape)?, x == y))
        }
        (State::Set(x), State::Set(y)) => Ok((Diff::between(x, y).map_err(shape)?, x == y)),
        (State::Delta(_), _) => Err(a.failure("a delta holds changes, not a state to compare")),
        (_, State::Delta(_)) => Err(b.failure("a delta holds changes, not a state to compare")),
        (x, y) => Err(Failure::new(format!(
            "cannot compare {} ({}) with {} ({})",
            a.path,
            load::with_article(x.kind()),
            b.path,
            load::with_article(y.kind())
        ))),
    }
}

/// The diff for people: a header naming both files, one line per change,
/// next-id moves, and totals.
pub fn render(a: &Loaded, b: &Loaded, diff: &Diff, style: &Style) -> String {
    let mut out = String::new();
    let describe = |l: &Loaded| {
        format!(
            "{} (format version {}, generation {})",
            l.path,
            l.version,
            l.state.generation()
        )
    };
    out.push_str(&style.bold(format!("--- {}", describe(a))));
    out.push('\n');
    out.push_str(&style.bold(format!("+++ {}", describe(b))));
    out.push('\n');
    out.push_str(&changes(diff, style));
    for pool in diff.pools() {
        if let Some((before, after)) = pool.next_ids() {
            if before != after {
                let name = pool
                    .name()
                    .map_or("the id allocator".to_string(), crate::human::name);
                out.push_str(&style.dim(format!(
                    "  {name}: next never-allocated id {before} -> {after}"
                )));
                out.push('\n');
            }
        }
    }
    let (mut allocated, mut freed) = (0u64, 0u64);
    for change in diff.changes() {
        match change.kind {
            ChangeKind::Allocated => allocated += 1,
            ChangeKind::Freed => freed += 1,
        }
    }
    out.push_str(&format!("{allocated} allocated, {freed} freed\n"));
    out
}

/// One line per change, coloured by kind.
pub fn changes(diff: &Diff, style: &Style) -> String {
    let mut out = String::new();
    for change in diff.changes() {
        let line = change.to_string();
        out.push_str(&match change.kind {
            ChangeKind::Allocated => style.good(line),
            ChangeKind::Freed => style.bad(line),
        });
        out.push('\n');
    }
    out
}
