// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `vmalloc reconcile STATE CLAIMS [--json]`: does the state agree with
//! what the devices claim?

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;
use vm_allocator::{Claim, Finding, FindingKind, Report};

use crate::claims::ClaimJson;
use crate::load::{self, Loaded, State};
use crate::style::Style;
use crate::{claims, dump, human, ColorWhen, Failure, Outcome, EXIT_FAILURE, EXIT_USAGE};

/// Compare a state with what the devices claim to hold.
///
/// CLAIMS is a JSON file: {"claims": [{"pool": "mmio32", "start":
/// 3489660928, "end": 3489677311, "owner": "virtio-net0"}, ...]}, with
/// "pool" null or absent for a lone allocator and "owner" null or absent
/// for any owner (unknown keys are ignored).
///
/// One line per finding: outside (no such pool, a pool of a lone
/// allocator, or outside the pool's range), conflict (two claims
/// overlap), missing (claimed, not allocated), bounds (an allocation a
/// claim overlaps without equalling it), owner (allocated to another
/// owner) and unexpected (allocated, claimed by nobody). The exit status
/// is 0 when the state and the claims agree, 1 when there are findings,
/// 2 on an error (a state or claims file that cannot be read).
///
/// With --json: {"consistent": bool, "findings": [{"kind", "pool",
/// "start", "end", "claim", "allocation", "other_claim"}]}, where
/// "claim", "allocation" and "other_claim" are {"start", "end", "owner"}
/// or null.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    vmalloc reconcile vm.vmalloc devices.json\n  \
    vmalloc reconcile --json vm.vmalloc devices.json | jq '.findings[] | select(.kind == \"unexpected\")'")]
pub struct Args {
    /// The state: an allocator or a resource set.
    state: PathBuf,
    /// The claims file (JSON).
    claims: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// `vmalloc reconcile --json`.
#[derive(Serialize)]
pub struct ReportJson {
    pub consistent: bool,
    pub findings: Vec<FindingJson>,
}

/// One finding as JSON: names as they are, not escaped.
#[derive(Serialize)]
pub struct FindingJson {
    pub kind: &'static str,
    pub pool: Option<String>,
    pub start: u64,
    pub end: u64,
    pub claim: Option<RangeJson>,
    pub allocation: Option<RangeJson>,
    pub other_claim: Option<RangeJson>,
}

/// A claim or an allocation of a finding.
#[derive(Serialize)]
pub struct RangeJson {
    pub start: u64,
    pub end: u64,
    pub owner: Option<String>,
}

impl RangeJson {
    fn of_claim(claim: &Claim) -> RangeJson {
        let ClaimJson {
            start, end, owner, ..
        } = ClaimJson::of(claim);
        RangeJson { start, end, owner }
    }
}

/// The JSON form of `report`.
pub fn report_json(report: &Report) -> ReportJson {
    ReportJson {
        consistent: report.is_consistent(),
        findings: report.iter().map(finding_json).collect(),
    }
}

fn finding_json(f: &Finding) -> FindingJson {
    FindingJson {
        kind: f.kind().as_str(),
        pool: f.pool().map(str::to_string),
        start: f.start(),
        end: f.end(),
        claim: f.claim().map(RangeJson::of_claim),
        allocation: f.allocation().map(|a| RangeJson {
            start: a.range().start(),
            end: a.range().end(),
            owner: a.owner().map(|o| o.as_str().to_string()),
        }),
        other_claim: f.other_claim().map(RangeJson::of_claim),
    }
}

/// The state at `path` (not a delta), any problem exit status 2.
pub fn load_state(path: &Path, command: &str) -> Result<Loaded, Failure> {
    let trouble = |f: Failure| f.with_code(EXIT_USAGE);
    let loaded = load::load(path).map_err(trouble)?;
    loaded.expect_state(command).map_err(trouble)?;
    Ok(loaded)
}

/// The report of `state` against `claims`.
pub fn reconcile(state: &State, claims: &[Claim]) -> Report {
    match state {
        State::Ids(s) => s.reconcile(claims),
        State::Addresses(s) => s.reconcile(claims),
        State::Set(s) => s.reconcile(claims),
        State::Delta(_) => unreachable!("a delta was refused when loaded"),
    }
}

/// `1 missing, 2 unexpected`: the findings by kind, in report order.
pub fn by_kind(report: &Report) -> String {
    let kinds = [
        FindingKind::Outside,
        FindingKind::Conflict,
        FindingKind::Missing,
        FindingKind::Bounds,
        FindingKind::Owner,
        FindingKind::Unexpected,
    ];
    let counts: Vec<String> = kinds
        .iter()
        .map(|&k| (k, report.count(k)))
        .filter(|&(_, n)| n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    counts.join(", ")
}

pub fn run(args: Args, color: ColorWhen) -> Outcome {
    let loaded = load_state(&args.state, "reconcile")?;
    let claims = claims::read(&args.claims)?;
    let report = reconcile(&loaded.state, &claims);
    let text = if args.json {
        dump::to_string(&report_json(&report)) + "\n"
    } else {
        let style = Style::stdout(color);
        let mut text = String::new();
        for finding in &report {
            text.push_str(&style.bad(finding));
            text.push('\n');
        }
        let what = format!("{} and {}", loaded.path, args.claims.display());
        let line = if report.is_consistent() {
            style.good(format!(
                "{what}: consistent ({})",
                human::count(claims.len() as u64, "claim", "claims")
            ))
        } else {
            format!(
                "{what}: {} ({})",
                human::count(report.len() as u64, "finding", "findings"),
                by_kind(&report)
            )
        };
        text.push_str(&line);
        text.push('\n');
        text
    };
    dump::write_stdout(&text)?;
    Ok(if report.is_consistent() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURE)
    })
}
