// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `vmalloc log JOURNAL [--json]`: every record of a journal, and how it
//! ends.

use std::path::PathBuf;
use std::process::ExitCode;

use serde::{Deserialize, Serialize};
use vm_allocator::escape_name;
use vm_allocator::format::{DiscardCause, Recovery};

use crate::dump::{self, ChangeJson};
use crate::journal::{self, JournalView};
use crate::style::Style;
use crate::{ColorWhen, Outcome, EXIT_FAILURE};

/// Show the records of a journal: per record its generation, label and
/// changes, then how the journal ends.
///
/// A journal ends whole, at a torn tail (an append cut short by a crash:
/// normal, the next writer cuts it off), or at damage (records lost that
/// no crash explains: the record and the byte where it starts). The journal
/// is only read, never changed.
///
/// Exit status: 0 when the journal reads to its end or to a torn tail, 1
/// when it is damaged or its header is invalid (nothing to show), 2 on a
/// usage error.
///
/// With --json: {"format_version", "kind": "Journal", "state_kind",
/// "journal_id", "base": {"generation", "size"}, "records": [{"index",
/// "offset", "size", "generation", "label", "allocated", "freed"}], "end":
/// {"records", "kept", "discarded", "cause", "record", "offset",
/// "last_record", "error"}, "generation"}; the README documents it.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    vmalloc log vm.journal\n  \
    vmalloc log --json vm.journal | jq '.records[] | select(.label != null)'")]
pub struct Args {
    /// The journal.
    file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// The JSON form of a journal's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogJson {
    pub format_version: u16,
    /// `Journal`.
    pub kind: String,
    /// The kind of state it keeps: `IdAllocator`, `AddressAllocator` or
    /// `ResourceSet`.
    pub state_kind: String,
    pub journal_id: u64,
    pub base: BaseJson,
    pub records: Vec<RecordJson>,
    pub end: EndJson,
    /// The generation of the last good record's state.
    pub generation: u64,
}

/// The base state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseJson {
    pub generation: u64,
    /// The size of the header that holds it, in bytes.
    pub size: usize,
}

/// One record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordJson {
    pub index: u64,
    pub offset: usize,
    pub size: usize,
    pub generation: u64,
    pub label: Option<String>,
    pub allocated: Vec<ChangeJson>,
    pub freed: Vec<ChangeJson>,
}

/// How the journal ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndJson {
    /// Good records read.
    pub records: u64,
    /// Bytes kept: the header and the good records.
    pub kept: usize,
    /// Bytes discarded after them.
    pub discarded: usize,
    /// `null`, `"torn-tail"`, `"invalid-record"` or `"damage"`.
    pub cause: Option<String>,
    /// The record that failed.
    pub record: Option<u64>,
    /// Where it starts.
    pub offset: Option<usize>,
    /// For damage: where the sound record that ends the journal starts.
    pub last_record: Option<usize>,
    /// What failed, for people.
    pub error: Option<String>,
}

pub fn run(args: Args, color: ColorWhen) -> Outcome {
    let view = journal::read(&args.file, None)?;
    let text = if args.json {
        let mut text = dump::to_string(&log_json(&view));
        text.push('\n');
        text
    } else {
        render(&view, &Style::stdout(color))
    };
    dump::write_stdout(&text)?;
    Ok(if view.recovery.is_corrupt() {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}

fn render(view: &JournalView, style: &Style) -> String {
    let mut out = String::new();
    let h = &view.header;
    out.push_str(&crate::human::fields(&[
        ("journal", view.path.clone()),
        ("format version", h.version.to_string()),
        ("keeps", journal::of_kind(view)),
        ("journal id", format!("{:#018x}", h.id)),
        (
            "base",
            format!("generation {} ({} bytes)", view.base_generation, h.len),
        ),
        ("records", view.records.len().to_string()),
        ("end", journal::ending(&view.recovery)),
        ("generation", view.last_generation().to_string()),
    ]));
    for record in &view.records {
        out.push('\n');
        out.push_str(&format!(
            "{} generation {}",
            style.bold(format!("#{}", record.index)),
            record.generation
        ));
        if let Some(label) = &record.label {
            out.push_str(&format!(
                " {}",
                style.accent(format!("\"{}\"", escape_name(label)))
            ));
        }
        out.push_str(&style.dim(format!(" ({} bytes at byte {})", record.len, record.offset)));
        out.push('\n');
        let changes: Vec<_> = record.diff.changes().collect();
        if changes.is_empty() {
            out.push_str("  (no allocation changed)\n");
        }
        for change in changes {
            out.push_str("  ");
            out.push_str(&journal::change_line(&change));
            out.push('\n');
        }
    }
    if let Some(d) = &view.recovery.discard {
        out.push('\n');
        let what = match d.cause {
            DiscardCause::TornTail => style.dim("torn tail"),
            _ => style.bad("DAMAGED"),
        };
        out.push_str(&format!("{what}: {}\n", journal::ending(&view.recovery)));
    }
    out
}

fn log_json(view: &JournalView) -> LogJson {
    LogJson {
        format_version: view.header.version,
        kind: "Journal".to_string(),
        state_kind: view.header.kind.to_string(),
        journal_id: view.header.id,
        base: BaseJson {
            generation: view.base_generation,
            size: view.header.len,
        },
        records: view
            .records
            .iter()
            .map(|record| {
                let (allocated, freed) = dump::split_changes(record.diff.changes());
                RecordJson {
                    index: record.index,
                    offset: record.offset,
                    size: record.len,
                    generation: record.generation,
                    label: record.label.clone(),
                    allocated,
                    freed,
                }
            })
            .collect(),
        end: end_json(&view.recovery),
        generation: view.last_generation(),
    }
}

/// How a journal ends, as JSON (`log --json`, `blame --json`).
pub fn end_json(r: &Recovery) -> EndJson {
    let d = r.discard.as_ref();
    EndJson {
        records: r.records,
        kept: r.len,
        discarded: r.discarded,
        cause: d.map(|d| cause_name(d.cause).to_string()),
        record: d.and_then(|d| d.error.record),
        offset: d.map(|d| d.offset),
        last_record: d.and_then(|d| match d.cause {
            DiscardCause::Damage { last_record } => Some(last_record),
            _ => None,
        }),
        error: d.map(|d| d.error.to_string()),
    }
}

/// The JSON name of a cause.
pub fn cause_name(cause: DiscardCause) -> &'static str {
    match cause {
        DiscardCause::TornTail => "torn-tail",
        DiscardCause::InvalidRecord => "invalid-record",
        _ => "damage",
    }
}

impl JournalView {
    /// The generation of the last good record's state.
    pub fn last_generation(&self) -> u64 {
        self.last.generation()
    }
}
