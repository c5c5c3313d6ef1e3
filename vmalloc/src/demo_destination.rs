// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `vmalloc demo-destination --dir DIR` (hidden): the migration
//! destination of `vmalloc demo`, run by it as a second process.
//!
//! It loads the state the source saved, checks every pool and every
//! assignment (owners, generations and next ids included) against what the
//! source expects (its own state, dumped as JSON from memory rather than
//! through the file format), reconciles it with the device list the
//! source sent (a claims file), hot-plugs more devices and saves its
//! state. Exit status 0 only if the restored state matched and agrees
//! with the devices.

use std::path::PathBuf;
use std::process::ExitCode;

use vm_allocator::format::FORMAT_VERSION;
use vm_allocator::ResourceSet;

use crate::demo::{
    self, Steps, AFTER_MIGRATION, DESTINATION_FILE, DEVICES_FILE, EXPECTED_FILE, SOURCE_FILE,
};
use crate::dump::{self, AllocationJson, StateJson};
use crate::load::State;
use crate::style::Style;
use crate::{claims, human, ColorWhen, Failure, Outcome, EXIT_FAILURE};

/// The migration destination of `vmalloc demo` (started by it).
#[derive(clap::Args)]
pub struct Args {
    /// The directory the source saved its state in.
    #[arg(long)]
    dir: PathBuf,
}

/// Most differences listed when the state does not match.
const MAX_LISTED: usize = 10;

pub fn run(args: Args, color: ColorWhen) -> Outcome {
    let style = Style::stdout(color);
    let steps = Steps { style };
    steps.role("destination");

    let source_file = args.dir.join(SOURCE_FILE);
    let mut vm = ResourceSet::read_from_path(&source_file)
        .map_err(|e| Failure::new(format!("{}: {e}", source_file.display())))?;
    steps.step(
        "restore",
        format!(
            "loaded {}\nResourceSet at generation {}, {} pools, checksum verified",
            source_file.display(),
            vm.generation(),
            vm.len()
        ),
    );

    let expected_file = args.dir.join(EXPECTED_FILE);
    let text = std::fs::read_to_string(&expected_file)
        .map_err(|e| Failure::new(format!("{}: cannot read: {e}", expected_file.display())))?;
    let expected: StateJson = serde_json::from_str(&text)
        .map_err(|e| Failure::new(format!("{}: {e}", expected_file.display())))?;
    let found = dump::state_json(FORMAT_VERSION, &State::Set(vm.clone()));
    let differences = compare(&expected, &found);
    if !differences.is_empty() {
        steps.step(
            "check",
            style.bad(format!(
                "the restored state differs from the source's in {}:",
                human::count(differences.len() as u64, "place", "places")
            )),
        );
        for d in differences.iter().take(MAX_LISTED) {
            steps.more(style.bad(d));
        }
        if differences.len() > MAX_LISTED {
            steps.more(format!("and {} more", differences.len() - MAX_LISTED));
        }
        return Ok(ExitCode::from(EXIT_FAILURE));
    }
    let assignments: Vec<&AllocationJson> =
        found.pools.iter().flat_map(|p| &p.allocations).collect();
    let mut owners: Vec<&str> = assignments
        .iter()
        .filter_map(|a| a.owner.as_deref())
        .collect();
    owners.sort_unstable();
    owners.dedup();
    steps.step(
        "check",
        format!(
            "{} {} assignments of {} devices in {} pools identical to the source's\n\
             (owners, generations and next ids included)",
            style.good("ok:"),
            assignments.len(),
            owners.len(),
            found.pools.len()
        ),
    );

    // The devices restored on this side say what they hold: does the
    // state agree?
    let devices_file = args.dir.join(DEVICES_FILE);
    let devices = claims::read(&devices_file)?;
    let report = vm.reconcile(&devices);
    if !report.is_consistent() {
        steps.step(
            "reconcile",
            style.bad(format!(
                "the restored state disagrees with {DEVICES_FILE}: {}",
                human::count(report.len() as u64, "finding", "findings")
            )),
        );
        for finding in report.iter().take(MAX_LISTED) {
            steps.more(style.bad(finding));
        }
        if report.len() > MAX_LISTED {
            steps.more(format!("and {} more", report.len() - MAX_LISTED));
        }
        return Ok(ExitCode::from(EXIT_FAILURE));
    }
    steps.step(
        "reconcile",
        format!(
            "{} the restored state and the device list ({}, {}) are consistent",
            style.good("ok:"),
            DEVICES_FILE,
            human::count(devices.len() as u64, "claim", "claims")
        ),
    );

    // The VM runs on here: hot-plug more.
    for (i, (name, needs)) in AFTER_MIGRATION.iter().enumerate() {
        demo::plug(&mut vm, name, needs)
            .map_err(|e| Failure::new(format!("hot-plugging {name}: {e}")))?;
        let line = steps.device_line(&vm, name);
        if i == 0 {
            steps.step("hot-plug", line);
        } else {
            steps.more(line);
        }
    }

    let destination_file = args.dir.join(DESTINATION_FILE);
    vm.write_to_path(&destination_file)
        .map_err(|e| Failure::new(format!("{}: cannot write: {e}", destination_file.display())))?;
    steps.step(
        "save",
        format!(
            "{} at generation {}",
            destination_file.display(),
            vm.generation()
        ),
    );
    Ok(ExitCode::SUCCESS)
}

/// Every difference between the expected and the restored state, for
/// people.
fn compare(expected: &StateJson, found: &StateJson) -> Vec<String> {
    let mut out = Vec::new();
    if expected.kind != found.kind {
        out.push(format!(
            "kind: expected {}, found {}",
            expected.kind, found.kind
        ));
    }
    if expected.generation != found.generation {
        out.push(format!(
            "generation: expected {}, found {}",
            expected.generation, found.generation
        ));
    }
    if expected.pools.len() != found.pools.len() {
        out.push(format!(
            "pools: expected {}, found {}",
            expected.pools.len(),
            found.pools.len()
        ));
    }
    for (e, f) in expected.pools.iter().zip(&found.pools) {
        let name = e
            .name
            .as_deref()
            .map_or("allocator".to_string(), human::name);
        let mut field = |what: &str, e: String, f: String| {
            if e != f {
                out.push(format!("pool {name}: {what}: expected {e}, found {f}"));
            }
        };
        let text = |s: &Option<String>| s.as_deref().map_or("none".to_string(), human::name);
        field("name", text(&e.name), text(&f.name));
        field("kind", e.kind.clone(), f.kind.clone());
        field(
            "range",
            format!("{}..={}", e.start, e.end),
            format!("{}..={}", f.start, f.end),
        );
        field(
            "generation",
            e.generation.to_string(),
            f.generation.to_string(),
        );
        let number = |n: Option<u64>| n.map_or("none".to_string(), |n| n.to_string());
        field("next id", number(e.next_id), number(f.next_id));
        let show = |a: Option<&AllocationJson>| match a {
            Some(a) => format!(
                "{:#x}..={:#x} owned by {}",
                a.start,
                a.end,
                a.owner.as_deref().map_or("nobody".to_string(), human::name)
            ),
            None => "nothing".to_string(),
        };
        let n = e.allocations.len().max(f.allocations.len());
        for i in 0..n {
            let (ea, fa) = (e.allocations.get(i), f.allocations.get(i));
            if ea != fa {
                out.push(format!(
                    "pool {name}: allocation #{i}: expected {}, found {}",
                    show(ea),
                    show(fa)
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::PoolJson;

    fn state(owner: Option<&str>) -> StateJson {
        StateJson {
            format_version: 2,
            kind: "ResourceSet".into(),
            generation: 3,
            pools: vec![PoolJson {
                name: Some("mmio32".into()),
                kind: "address".into(),
                start: 0,
                end: 0xffff,
                generation: 1,
                next_id: None,
                allocations: vec![AllocationJson {
                    start: 0x1000,
                    end: 0x1fff,
                    owner: owner.map(str::to_string),
                }],
            }],
        }
    }

    #[test]
    fn equal_states_have_no_difference() {
        assert!(compare(&state(Some("net0")), &state(Some("net0"))).is_empty());
    }

    #[test]
    fn a_changed_owner_is_named() {
        let differences = compare(&state(Some("net0")), &state(None));
        assert_eq!(
            differences,
            [
                "pool mmio32: allocation #0: expected 0x1000..=0x1fff owned by net0, \
              found 0x1000..=0x1fff owned by nobody"
            ]
        );
    }

    #[test]
    fn names_read_from_the_files_are_shown_by_the_rule() {
        let hostile = "net0\u{2028}pool mmio32: allocation #1";
        let mut found = state(Some(hostile));
        found.pools[0].name = Some("mmio32\u{a0}".into());
        let differences = compare(&state(Some("net0")), &found);
        assert_eq!(
            differences,
            [
                r"pool mmio32: name: expected mmio32, found mmio32\u{a0}",
                r"pool mmio32: allocation #0: expected 0x1000..=0x1fff owned by net0, found 0x1000..=0x1fff owned by net0\u{2028}pool mmio32: allocation #1",
            ]
        );
    }
}
