// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `vmalloc blame FILE-OR-JOURNAL [POOL] VALUE [--json]`: which version
//! made the allocation that holds an address or an id.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::{Deserialize, Serialize};
use vm_allocator::format::{DecodeError, FileKind, Recovery};
use vm_allocator::{
    AddressAllocator, History, IdAllocator, Made, RangeInclusive, ResourceSet, Retention, Versioned,
};

use crate::dump::AllocationJson;
use crate::load::{self, State};
use crate::log::{self as journal_log, EndJson};
use crate::pools::{self, PoolView};
use crate::style::Style;
use crate::{dump, human, journal, ColorWhen, Failure, Outcome, EXIT_FAILURE, EXIT_USAGE};

/// Say which version made the allocation that holds an address or an id:
/// its generation, its label and the allocation's owner.
///
/// For a journal, the versions are its base state and the state after
/// each record, with the record's label (as `vmalloc log` lists them): the
/// answer is the record that made the allocation as it is now ("made at
/// generation G"), or "made at or before" the base's generation if the
/// base already held it. A journal that ends at a torn tail or at damage
/// gives the versions before that point. A state file is one version: the
/// answer is "made at or before" its generation.
///
/// POOL names a pool of a resource set; a lone allocator takes VALUE
/// alone. VALUE is decimal, or hex after 0x. An allocation is an address
/// range, or for an id pool the id itself. Names are shown by the rule of
/// FORMAT.md 6.1.1; --json keeps them exact.
///
/// Exit status: 0 when an allocation holds VALUE, 1 when none does, when
/// the file is invalid, or when the journal is damaged (the answer from
/// its good records is still shown), 2 on a usage error (POOL missing for
/// a resource set, given for a lone allocator or not a pool of the set,
/// or VALUE not a number).
///
/// With --json: {"source", "state_kind", "versions", "oldest", "latest",
/// "pool", "pool_kind", "value", "allocation": {"start", "end", "owner"},
/// "made": {"generation", "exact", "label"}, "end"}; "allocation" and
/// "made" are null when nothing holds VALUE, "end" is null for a state
/// file; the README documents it.
#[derive(clap::Args)]
#[command(
    override_usage = "vmalloc blame [OPTIONS] <FILE> [POOL] <VALUE>",
    after_help = "Examples:\n  \
    vmalloc blame vm.journal mmio32 0xd000c000\n  \
    vmalloc blame gsi.vmalloc 9\n  \
    vmalloc blame --json vm.journal msi_gsi 33 | jq .made"
)]
pub struct Args {
    /// The state file or journal.
    file: PathBuf,
    /// The pool, for a resource set (a lone allocator takes VALUE alone).
    #[arg(value_name = "POOL", allow_negative_numbers = true)]
    first: Option<String>,
    /// The address or id: decimal, or hex after 0x.
    #[arg(value_name = "VALUE", allow_negative_numbers = true)]
    second: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// `vmalloc blame --json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlameJson {
    /// `"journal"` or `"state"`.
    pub source: String,
    /// `IdAllocator`, `AddressAllocator` or `ResourceSet`.
    pub state_kind: String,
    /// How many versions were searched.
    pub versions: usize,
    /// The generation of the oldest version.
    pub oldest: u64,
    /// The generation of the latest version.
    pub latest: u64,
    pub pool: Option<String>,
    /// `"id"` or `"address"`.
    pub pool_kind: String,
    pub value: u64,
    /// What holds the value in the latest version (for ids, the id); null
    /// if nothing does.
    pub allocation: Option<AllocationJson>,
    /// The version that made it; null if nothing holds the value.
    pub made: Option<MadeJson>,
    /// How the journal ends; null for a state file.
    pub end: Option<EndJson>,
}

/// The version that made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MadeJson {
    pub generation: u64,
    /// True if that version made it; false if it is as old as the oldest
    /// version ("made at or before").
    pub exact: bool,
    /// That version's label; null without one, or when not exact.
    pub label: Option<String>,
}

/// The versions of a file, of any kind of state.
enum Versions {
    Ids(History<IdAllocator>),
    Addresses(History<AddressAllocator>),
    Set(History<ResourceSet>),
}

/// The answer, with names as they are.
struct Answer {
    range: RangeInclusive,
    owner: Option<String>,
    made: Made,
    label: Option<String>,
    /// The blame as people read it (names escaped).
    shown: String,
}

impl Versions {
    /// The latest version, as a state (an O(1) clone).
    fn latest(&self) -> State {
        match self {
            Versions::Ids(h) => State::Ids(h.latest().clone()),
            Versions::Addresses(h) => State::Addresses(h.latest().clone()),
            Versions::Set(h) => State::Set(h.latest().clone()),
        }
    }

    /// How many versions, and the oldest and latest generations.
    fn span(&self) -> (usize, u64, u64) {
        fn span<S: Versioned>(h: &History<S>) -> (usize, u64, u64) {
            let n = h.versions().len();
            (n, h.oldest().generation(), h.latest().generation())
        }
        match self {
            Versions::Ids(h) => span(h),
            Versions::Addresses(h) => span(h),
            Versions::Set(h) => span(h),
        }
    }

    fn blame(&self, pool: Option<&str>, value: u64) -> Option<Answer> {
        fn blame<S: Versioned>(h: &History<S>, pool: Option<&str>, value: u64) -> Option<Answer> {
            let b = h.blame(pool, value)?;
            Some(Answer {
                range: b.range(),
                owner: b.owner().map(|o| o.as_str().to_string()),
                made: b.made(),
                label: b.label().map(str::to_string),
                shown: b.to_string(),
            })
        }
        match self {
            Versions::Ids(h) => blame(h, pool, value),
            Versions::Addresses(h) => blame(h, pool, value),
            Versions::Set(h) => blame(h, pool, value),
        }
    }
}

/// What was read: the versions, and for a journal how it ends.
struct Read {
    versions: Versions,
    journal: Option<Recovery>,
}

pub fn run(args: Args, color: ColorWhen) -> Outcome {
    let (pool, value) = query(args.first, args.second)?;
    let path = args.file.display().to_string();
    let read = read(&args.file)?;
    let latest = read.versions.latest();
    let views = pools::pools(&latest);
    let view = find_pool(&views, pool.as_deref(), &latest, &path)?;
    let answer = read.versions.blame(pool.as_deref(), value);
    let damaged = read.journal.as_ref().is_some_and(Recovery::is_corrupt);
    let code = if answer.is_none() || damaged {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    };
    if args.json {
        let json = blame_json(&read, &latest, view, value, answer.as_ref());
        dump::write_stdout(&(dump::to_string(&json) + "\n"))?;
        return Ok(code);
    }
    let Some(answer) = answer else {
        let mut failure = nothing_holds(&path, view, value, latest.generation());
        if let Some(recovery) = read.journal.as_ref().filter(|r| !r.is_clean()) {
            let ending = journal::ending(recovery);
            failure
                .message
                .push_str(&format!("; the journal ends early: {ending}"));
        }
        return Err(failure);
    };
    let style = Style::stdout(color);
    let mut text = answer.shown + "\n";
    if let Some(recovery) = read.journal.as_ref().filter(|r| !r.is_clean()) {
        let what = if damaged {
            style.bad("DAMAGED")
        } else {
            style.dim("torn tail")
        };
        text.push_str(&format!("{what}: {path}: {}\n", journal::ending(recovery)));
    }
    dump::write_stdout(&text)?;
    Ok(code)
}

/// The pool and the value of `[POOL] VALUE` (clap fills the positions in
/// order: one word is the VALUE).
fn query(first: Option<String>, second: Option<String>) -> Result<(Option<String>, u64), Failure> {
    let (pool, value) = match (first, second) {
        (Some(value), None) => (None, value),
        (pool, Some(value)) => (pool, value),
        (None, None) => {
            return Err(Failure::new(
                "a VALUE is needed: vmalloc blame FILE [POOL] VALUE (see --help)",
            )
            .with_code(EXIT_USAGE))
        }
    };
    let value = value.as_str();
    // Digits only: Rust's parsers would take a sign too.
    let digits = |s: &str, radix| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    let parsed = match value.strip_prefix("0x").or(value.strip_prefix("0X")) {
        Some(hex) if digits(hex, 16) => u64::from_str_radix(hex, 16).ok(),
        None if digits(value, 10) => value.parse::<u64>().ok(),
        _ => None,
    };
    let value = parsed.ok_or_else(|| {
        Failure::new(format!(
            "invalid VALUE {}: an address or id is decimal, or hex after 0x, from 0 to \
             2^64 - 1",
            human::quoted(value)
        ))
        .with_code(EXIT_USAGE)
    })?;
    Ok((pool, value))
}

/// The versions of the file at `path`: a journal's records, or a state
/// file alone.
fn read(path: &Path) -> Result<Read, Failure> {
    let bytes = load::read(path)?;
    let shown = path.display();
    if !journal::is_journal(&bytes) {
        let loaded = load::from_bytes(path, &bytes)?;
        let versions = match loaded.expect_state("blame")?.clone() {
            State::Ids(s) => Versions::Ids(History::new(s)),
            State::Addresses(s) => Versions::Addresses(History::new(s)),
            State::Set(s) => Versions::Set(History::new(s)),
            State::Delta(_) => unreachable!("a delta was refused"),
        };
        return Ok(Read {
            versions,
            journal: None,
        });
    }
    let from = |e: DecodeError| Failure::new(format!("{shown}: {e}"));
    let (versions, recovery) = match FileKind::from_byte(bytes[10]) {
        Some(FileKind::IdAllocator) => of_journal(&bytes, Versions::Ids),
        Some(FileKind::AddressAllocator) => of_journal(&bytes, Versions::Addresses),
        Some(FileKind::ResourceSet) => of_journal(&bytes, Versions::Set),
        // No kind a journal keeps: the journal reader says what is wrong.
        _ => Err(journal::decode(&bytes, None).expect_err("no journal of that kind")),
    }
    .map_err(from)?;
    Ok(Read {
        versions,
        journal: Some(recovery),
    })
}

/// The history of the journal `bytes`: every version it holds.
fn of_journal<S: Versioned>(
    bytes: &[u8],
    wrap: fn(History<S>) -> Versions,
) -> Result<(Versions, Recovery), DecodeError> {
    let (history, recovery) = History::<S>::from_journal_bytes(bytes, Retention::unbounded())?;
    Ok((wrap(history), recovery))
}

/// The pool the query names, or the usage error that says why not.
fn find_pool<'a>(
    views: &'a [PoolView<'a>],
    pool: Option<&str>,
    latest: &State,
    path: &str,
) -> Result<&'a PoolView<'a>, Failure> {
    let usage = |why: String| Err(Failure::new(format!("{path}: {why}")).with_code(EXIT_USAGE));
    let names = || {
        let names: Vec<String> = views
            .iter()
            .filter_map(|v| v.name)
            .map(human::name)
            .collect();
        names.join(", ")
    };
    let kind = load::with_article(latest.kind());
    match (pool, latest) {
        (None, State::Set(_)) => usage(format!(
            "{kind} needs a POOL before the VALUE (vmalloc blame FILE POOL VALUE); its pools: {}",
            names()
        )),
        (Some(name), State::Set(_)) => match views.iter().find(|v| v.name == Some(name)) {
            Some(view) => Ok(view),
            None => usage(format!(
                "no pool is named {}; its pools: {}",
                human::quoted(name),
                names()
            )),
        },
        (Some(name), _) => usage(format!(
            "{kind} has no pools: give the VALUE alone (vmalloc blame FILE VALUE), not the POOL {}",
            human::quoted(name)
        )),
        (None, _) => Ok(&views[0]),
    }
}

/// `FILE: nothing holds 0x5 in pool "mmio32" at generation 22 (outside
/// its range 0xd0000000..=0xefffffff)`.
fn nothing_holds(path: &str, view: &PoolView<'_>, value: u64, generation: u64) -> Failure {
    let kind = view.kind();
    let mut why = format!("{path}: nothing holds {}", human::point(kind, value));
    if let Some(name) = view.name {
        why.push_str(&format!(" in pool {}", human::quoted(name)));
    }
    why.push_str(&format!(" at generation {generation}"));
    if !(view.start()..=view.end()).contains(&value) {
        why.push_str(&format!(
            " (outside its range {})",
            human::range(kind, view.start(), view.end())
        ));
    }
    Failure::new(why)
}

fn blame_json(
    read: &Read,
    latest: &State,
    view: &PoolView<'_>,
    value: u64,
    answer: Option<&Answer>,
) -> BlameJson {
    let (versions, oldest, newest) = read.versions.span();
    BlameJson {
        source: if read.journal.is_some() {
            "journal"
        } else {
            "state"
        }
        .to_string(),
        state_kind: latest.kind().to_string(),
        versions,
        oldest,
        latest: newest,
        pool: view.name.map(str::to_string),
        pool_kind: view.kind().to_string(),
        value,
        allocation: answer.map(|a| AllocationJson {
            start: a.range.start(),
            end: a.range.end(),
            owner: a.owner.clone(),
        }),
        made: answer.map(|a| MadeJson {
            generation: a.made.generation(),
            exact: matches!(a.made, Made::At(_)),
            label: a.label.clone(),
        }),
        end: read.journal.as_ref().map(journal_log::end_json),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Option<u64> {
        query(Some(text.to_string()), None).ok().map(|(_, v)| v)
    }

    #[test]
    fn values_are_decimal_or_hex() {
        assert_eq!(value("0"), Some(0));
        assert_eq!(value("3489677312"), Some(0xd000_4000));
        assert_eq!(value("0xd0004000"), Some(0xd000_4000));
        assert_eq!(value("0XD0004000"), Some(0xd000_4000));
        assert_eq!(value("18446744073709551615"), Some(u64::MAX));
        assert_eq!(value("0xffffffffffffffff"), Some(u64::MAX));
        for bad in [
            "",
            "0x",
            "-1",
            "+1",
            "0x+1",
            "18446744073709551616",
            "0x10000000000000000",
            "12k",
            "0b101",
            " 1",
            "mmio32",
        ] {
            assert_eq!(value(bad), None, "{bad:?}");
            let err = query(Some(bad.to_string()), None).unwrap_err();
            assert_eq!(err.code, EXIT_USAGE);
        }
        let (pool, v) = query(Some("mmio32".into()), Some("0x10".into())).unwrap();
        assert_eq!((pool.as_deref(), v), (Some("mmio32"), 16));
        assert_eq!(query(None, None).unwrap_err().code, EXIT_USAGE);
    }
}
