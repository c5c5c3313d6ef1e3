// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `vmalloc dump FILE [--json]`: the full state, as the library lists it
//! or as stable JSON (the schema is in the README).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use serde::{Deserialize, Serialize};
use vm_allocator::{format, ChangeKind, ChangeRef, Delta};

use crate::load::{self, State};
use crate::pools::{self, PoolView};
use crate::{Failure, Outcome};

/// Print the full state of a file, as text or as JSON.
///
/// The text is the library's `format::dump` listing: every header field and
/// every allocation, names shown escaped (FORMAT.md 6.1.1) so that each
/// allocation stays on one line. With --json, a stable JSON document with
/// the exact names.
///
/// JSON of a state: {"format_version", "kind", "generation", "pools": [{"name",
/// "kind": "id"|"address", "start", "end", "generation", "next_id",
/// "allocations": [{"start", "end", "owner"}]}]}. A lone allocator is one
/// pool whose name is null; numbers are integers; owners are strings or
/// null. The README documents it, and the form of a delta.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    vmalloc dump snapshots/v2/tagged_id.bin\n  \
    vmalloc dump --json snapshots/v2/x86_64_set.bin | jq '.pools[].name'")]
pub struct Args {
    /// The state file (any kind, any format version).
    file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// The JSON form of a state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateJson {
    pub format_version: u16,
    /// `IdAllocator`, `AddressAllocator` or `ResourceSet`.
    pub kind: String,
    pub generation: u64,
    pub pools: Vec<PoolJson>,
}

/// One pool (a lone allocator: `name` is null).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolJson {
    pub name: Option<String>,
    /// `id` or `address`.
    pub kind: String,
    /// First id or address of the pool.
    pub start: u64,
    /// Last id or address of the pool (inclusive).
    pub end: u64,
    pub generation: u64,
    /// For an id pool, one past the highest id ever handed out; null for
    /// an address pool.
    pub next_id: Option<u64>,
    pub allocations: Vec<AllocationJson>,
}

/// One allocation (for ids, a maximal run of ids with one owner).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocationJson {
    pub start: u64,
    /// Inclusive.
    pub end: u64,
    pub owner: Option<String>,
}

/// The JSON form of a delta.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaJson {
    pub format_version: u16,
    /// `Delta`.
    pub kind: String,
    pub base: BaseJson,
    pub target: TargetJson,
    pub allocated: Vec<ChangeJson>,
    pub freed: Vec<ChangeJson>,
}

/// The state a delta applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseJson {
    pub kind: String,
    pub generation: u64,
    pub checksum: u32,
}

/// The state a delta gives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetJson {
    pub generation: u64,
    pub checksum: u32,
}

/// One allocated or freed range (of `vmalloc diff --json` and deltas).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeJson {
    /// The pool; null for a lone allocator.
    pub pool: Option<String>,
    pub start: u64,
    pub end: u64,
    pub owner: Option<String>,
}

pub fn run(args: Args) -> Outcome {
    let text = if args.json {
        let loaded = load::load(&args.file)?;
        let mut text = match &loaded.state {
            State::Delta(delta) => to_string(&delta_json(loaded.version, delta)),
            state => to_string(&state_json(loaded.version, state)),
        };
        text.push('\n');
        text
    } else {
        let bytes = load::read(&args.file)?;
        format::dump(&bytes).map_err(|e| Failure::new(format!("{}: {e}", args.file.display())))?
    };
    write_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a
/// panic.
pub fn write_stdout(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::new(format!(
            "cannot write to standard output: {e}"
        ))),
    }
}

/// Pretty JSON; serialising these types cannot fail.
pub fn to_string<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("plain data serialises")
}

/// The JSON form of a state (not a delta) read from a file of `version`.
pub fn state_json(version: u16, state: &State) -> StateJson {
    StateJson {
        format_version: version,
        kind: state.kind().to_string(),
        generation: state.generation(),
        pools: pools::pools(state).iter().map(pool_json).collect(),
    }
}

fn pool_json(pool: &PoolView<'_>) -> PoolJson {
    PoolJson {
        name: pool.name.map(str::to_string),
        kind: pool.kind().to_string(),
        start: pool.start(),
        end: pool.end(),
        generation: pool.generation(),
        next_id: pool.next_id(),
        allocations: pool
            .items()
            .map(|item| AllocationJson {
                start: item.start,
                end: item.end,
                owner: item.owner.map(|o| o.as_str().to_string()),
            })
            .collect(),
    }
}

/// A change as JSON.
pub fn change_json(change: &ChangeRef<'_>) -> ChangeJson {
    ChangeJson {
        pool: change.pool.map(str::to_string),
        start: change.range.start(),
        end: change.range.end(),
        owner: change.owner.map(|o| o.as_str().to_string()),
    }
}

/// Allocated and freed ranges, each in pool then address order.
pub fn split_changes<'a>(
    changes: impl Iterator<Item = ChangeRef<'a>>,
) -> (Vec<ChangeJson>, Vec<ChangeJson>) {
    let (mut allocated, mut freed) = (Vec::new(), Vec::new());
    for change in changes {
        match change.kind {
            ChangeKind::Allocated => allocated.push(change_json(&change)),
            ChangeKind::Freed => freed.push(change_json(&change)),
        }
    }
    (allocated, freed)
}

fn delta_json(version: u16, delta: &Delta) -> DeltaJson {
    let (allocated, freed) = split_changes(delta.diff().changes());
    DeltaJson {
        format_version: version,
        kind: "Delta".to_string(),
        base: BaseJson {
            kind: delta.kind().to_string(),
            generation: delta.base_generation(),
            checksum: delta.base_checksum(),
        },
        target: TargetJson {
            generation: delta.target_generation(),
            checksum: delta.target_checksum(),
        },
        allocated,
        freed,
    }
}
