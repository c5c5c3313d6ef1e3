// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `vmalloc inspect FILE`: what a file holds, for people.

use std::path::PathBuf;
use std::process::ExitCode;

use vm_allocator::{ChangeKind, Delta, PoolKind};

use crate::human::{self, Table};
use crate::journal::{self, JournalView};
use crate::load::{self, Loaded, State};
use crate::pools::{self, PoolView};
use crate::style::Style;
use crate::{ColorWhen, Outcome};

/// Show what a file holds: its header, each pool's usage and
/// fragmentation, its allocations.
///
/// For every pool: its range, used and free totals, the largest free block
/// and the number of free gaps, then one row per allocation (for ids, per
/// run of ids with one owner): start, end, size, owner. A delta file shows
/// the state it applies to, the one it gives, and its changes.
///
/// A journal shows its header, its records and how it ends (whole, a torn
/// tail, or damage), then the pools of its last good state; `vmalloc log`
/// lists its records.
///
/// An invalid file is refused with the reason, the field and the byte
/// offset (exit status 1), and so is a damaged journal (after its report).
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    vmalloc inspect snapshots/v2/x86_64_set.bin\n  \
    vmalloc inspect --summary snapshots/v2/fragmented_address_10k_tagged.bin")]
pub struct Args {
    /// The state file (an allocator, a resource set or a delta; any format
    /// version), or a journal.
    file: PathBuf,
    /// Only the header and each pool's totals, without the allocations.
    #[arg(long)]
    summary: bool,
}

pub fn run(args: Args, color: ColorWhen) -> Outcome {
    let bytes = load::read(&args.file)?;
    let style = Style::stdout(color);
    if journal::is_journal(&bytes) {
        let view = journal::read_bytes(&bytes, args.file.display().to_string(), None)?;
        crate::dump::write_stdout(&render_journal(&view, args.summary, &style))?;
        return Ok(if view.recovery.is_corrupt() {
            ExitCode::from(crate::EXIT_FAILURE)
        } else {
            ExitCode::SUCCESS
        });
    }
    let loaded = load::from_bytes(&args.file, &bytes)?;
    crate::dump::write_stdout(&render(&loaded, args.summary, &style))?;
    Ok(ExitCode::SUCCESS)
}

/// The report of a journal: its header, how it ends, then its last good
/// state's pools.
fn render_journal(view: &JournalView, summary: bool, style: &Style) -> String {
    let h = &view.header;
    let records: usize = view.records.iter().map(|r| r.len).sum();
    let ending = match &view.recovery.discard {
        Some(d) if view.recovery.is_corrupt() => {
            style.bad(format!("DAMAGED, {}", journal::ending(&view.recovery)))
                + &format!(" (offset {})", d.offset)
        }
        _ => journal::ending(&view.recovery),
    };
    let mut head = vec![
        ("file", view.path.clone()),
        ("format version", h.version.to_string()),
        (
            "checksum",
            format!(
                "CRC-32C {:#010x} (header), {}",
                h.checksum,
                style.good("valid")
            ),
        ),
        ("kind", format!("journal of {}", journal::of_kind(view))),
        ("journal id", format!("{:#018x}", h.id)),
        ("size", human::count(view.size as u64, "byte", "bytes")),
        (
            "base",
            format!(
                "generation {}, {}",
                view.base_generation,
                human::count(h.len as u64, "byte", "bytes")
            ),
        ),
        (
            "records",
            format!(
                "{}, {}",
                view.records.len(),
                human::count(records as u64, "byte", "bytes")
            ),
        ),
        ("end", ending),
        ("generation", view.last_generation().to_string()),
    ];
    if let State::Set(set) = &view.last {
        head.push(("pools", set.len().to_string()));
    }
    let mut out = human::fields(&head);
    for pool in pools::pools(&view.last) {
        out.push('\n');
        render_pool(&pool, summary, style, &mut out);
    }
    out
}

/// The whole report.
pub fn render(loaded: &Loaded, summary: bool, style: &Style) -> String {
    let mut out = String::new();
    let mut head: Vec<(&str, String)> = Vec::new();
    let mut field = |name: &'static str, value: String| head.push((name, value));
    field("file", loaded.path.clone());
    field("format version", loaded.version.to_string());
    field(
        "checksum",
        format!("CRC-32C {:#010x}, {}", loaded.checksum, style.good("valid")),
    );
    field("kind", loaded.state.kind().to_string());
    field("size", human::count(loaded.size as u64, "byte", "bytes"));
    match &loaded.state {
        State::Delta(delta) => {
            field(
                "applies to",
                format!(
                    "{} at generation {} (checksum {:#010x})",
                    load::with_article(delta.kind()),
                    delta.base_generation(),
                    delta.base_checksum()
                ),
            );
            field(
                "gives",
                format!(
                    "generation {} (checksum {:#010x})",
                    delta.target_generation(),
                    delta.target_checksum()
                ),
            );
            field("changes", delta_totals(delta));
        }
        state => {
            field("generation", state.generation().to_string());
            if let State::Set(set) = state {
                field("pools", set.len().to_string());
            }
        }
    }
    out.push_str(&human::fields(&head));
    match &loaded.state {
        State::Delta(delta) => render_delta(delta, summary, style, &mut out),
        state => {
            for pool in pools::pools(state) {
                out.push('\n');
                render_pool(&pool, summary, style, &mut out);
            }
        }
    }
    out
}

fn delta_totals(delta: &Delta) -> String {
    let (mut allocated, mut freed) = (0, 0);
    for change in delta.diff().changes() {
        match change.kind {
            ChangeKind::Allocated => allocated += 1,
            ChangeKind::Freed => freed += 1,
        }
    }
    format!("{allocated} allocated, {freed} freed")
}

fn render_pool(pool: &PoolView<'_>, summary: bool, style: &Style, out: &mut String) {
    let kind = pool.kind();
    let what = match kind {
        PoolKind::Ids => "ids",
        PoolKind::Addresses => "addresses",
    };
    let title = match pool.name {
        Some(name) => format!("{} {}", style.bold("pool"), style.accent(human::name(name))),
        None => style.bold(pool.label()),
    };
    out.push_str(&format!(
        "{title}: {what} {} ({}), generation {}\n",
        human::range(kind, pool.start(), pool.end()),
        human::amount(kind, pool.total()),
        pool.generation()
    ));
    let total = pool.total();
    let used = pool.used();
    let gaps = pool.gaps();
    out.push_str(&format!(
        "  used {} ({}) in {}, free {}\n",
        human::amount(kind, used),
        human::percent(used, total),
        human::count(pool.count() as u64, "allocation", "allocations"),
        human::amount(kind, pool.free()),
    ));
    out.push_str(&format!(
        "  fragmentation: {}, largest free block {}\n",
        human::count(gaps.count, "free gap", "free gaps"),
        human::amount(kind, gaps.largest)
    ));
    if let Some(next) = pool.next_id() {
        out.push_str(&format!("  next never-allocated id: {next}\n"));
    }
    if summary || pool.used() == 0 {
        return;
    }
    let mut table = Table::new(
        &["START", "END", "SIZE", "OWNER"],
        &[false, false, true, false],
    );
    for item in pool.items() {
        table.push(vec![
            human::point(kind, item.start),
            human::point(kind, item.end),
            human::amount(kind, item.len()),
            human::owner(item.owner),
        ]);
    }
    out.push_str(&table.render("  ", |s| style.dim(s)));
}

fn render_delta(delta: &Delta, summary: bool, style: &Style, out: &mut String) {
    for pool in delta.diff().pools() {
        let kind = pool.kind();
        let (before, after) = pool.generations();
        out.push('\n');
        out.push_str(&format!(
            "{} {}, generation {before} -> {after}",
            style.bold("changes of"),
            style.accent(
                pool.name().map_or(
                    match kind {
                        PoolKind::Ids => "the id allocator",
                        PoolKind::Addresses => "the address allocator",
                    }
                    .to_string(),
                    human::name
                )
            ),
        ));
        if let Some((before, after)) = pool.next_ids() {
            out.push_str(&format!(", next id {before} -> {after}"));
        }
        out.push('\n');
        out.push_str(&format!(
            "  {} allocated, {} freed\n",
            pool.allocated().len(),
            pool.freed().len()
        ));
        if summary {
            continue;
        }
        let mut table = Table::new(
            &["", "START", "END", "SIZE", "OWNER"],
            &[false, false, false, true, false],
        );
        let name = pool.name();
        for change in delta.diff().changes().filter(|c| c.pool == name) {
            let sign = match change.kind {
                ChangeKind::Allocated => "+",
                ChangeKind::Freed => "-",
            };
            table.push(vec![
                sign.to_string(),
                human::point(kind, change.range.start()),
                human::point(kind, change.range.end()),
                human::amount(kind, change.range.len()),
                human::owner(change.owner),
            ]);
        }
        out.push_str(&table.render("  ", |s| style.dim(s)));
    }
}
