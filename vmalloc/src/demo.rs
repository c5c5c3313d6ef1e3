// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `vmalloc demo [--dir DIR]`: a VMM's resources from boot to a live
//! migration, with the destination in a second process.
//!
//! The source builds an x86_64 resource set, boots a VM with a handful of
//! devices, hot-plugs one in a transaction, shows a hot-plug that does not
//! fit rolling back, keeping a journal of every step (one labelled record
//! per device plugged; none for the refused hot-plug) and reading it back
//! as a `History`, snapshots and saves the state (and, beside it, what
//! it expects the destination to find, as `vmalloc dump --json` would
//! print it, and the device list: what each device holds, as a claims
//! file). It then runs itself again as the destination
//! (`vmalloc demo-destination`, hidden), which loads the file, checks every
//! assignment against the expectation, reconciles the restored state with
//! the device list, hot-plugs more and saves its state. The source diffs the two states, writes the delta file and a
//! map. The exit status is 0 only if the journal gave back every version
//! and the destination restored the state exactly and found it consistent
//! with the device list.

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use vm_allocator::layout::x86_64::{
    LEGACY_GSI, MMIO32, MMIO64, MSI_GSI, PAST_MMIO64, PIO, SYSTEM_MEMORY,
};
use vm_allocator::{
    AllocPolicy, ChangeKind, Delta, Diff, History, Journal, Made, Owner, PoolKind, ResourceSet,
    Retention, SetError, TransactionError,
};

use crate::claims::{ClaimJson, ClaimsFile};
use crate::dump::{self, ChangeJson};
use crate::load::State;
use crate::style::Style;
use crate::{human, pools, svg, ColorWhen, Failure, Outcome, EXIT_FAILURE};

/// The state the source saves for the destination.
pub const SOURCE_FILE: &str = "source.vmalloc";
/// The journal of the source's VM: one record per step.
pub const JOURNAL_FILE: &str = "source.journal";
/// What the source expects the destination to find (`dump --json`).
pub const EXPECTED_FILE: &str = "source.json";
/// What the devices hold, as a claims file (`vmalloc reconcile`).
pub const DEVICES_FILE: &str = "devices.json";
/// The destination's state after it hot-plugged more.
pub const DESTINATION_FILE: &str = "destination.vmalloc";
/// The delta from the source's state to the destination's.
pub const DELTA_FILE: &str = "migration.delta";
/// The map of the destination's state.
pub const MAP_FILE: &str = "map.svg";

/// Play a VMM, from boot to a live migration between two processes.
///
/// Boot a VM with a handful of devices, hot-plug one, watch a hot-plug that
/// does not fit roll back, keeping a journal of each step (source.journal),
/// save a snapshot, and migrate it to a second process that restores it,
/// checks every assignment and allocates more; then diff the two states
/// and write the delta and a map.
///
/// The exit status is 0 only if the journal gave back every version of the
/// VM, and the destination restored every assignment exactly and found it
/// consistent with the device list the source sent. The files stay in DIR
/// for the other subcommands to look at (`vmalloc log` and `vmalloc blame`
/// on the journal).
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    vmalloc demo\n  \
    vmalloc demo --dir /tmp/migration && vmalloc inspect /tmp/migration/destination.vmalloc\n  \
    vmalloc demo --dir /tmp/migration && vmalloc log /tmp/migration/source.journal")]
pub struct Args {
    /// Where to write the files [default: vmalloc-demo in the temporary
    /// directory].
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// What a device asks for, in the order it asks.
#[derive(Clone, Copy, Debug)]
pub enum Need {
    /// A legacy interrupt line.
    Gsi,
    /// A block of MSI vectors, aligned to its size rounded up to a power
    /// of two.
    Msi(u32),
    /// A fixed range of I/O ports.
    Pio { port: u64, len: u64 },
    /// A 32-bit BAR (naturally aligned).
    Mmio32(u64),
    /// A 64-bit BAR (naturally aligned).
    Mmio64(u64),
    /// Guest memory above the 64-bit MMIO window (virtio-mem).
    HighMemory(u64),
    /// Firmware tables in the system memory window.
    SystemMemory(u64),
}

impl Need {
    fn describe(self) -> String {
        match self {
            Need::Gsi => "a legacy GSI".to_string(),
            Need::Msi(n) => format!("{n} MSI vectors"),
            Need::Pio { port, len } => format!("{len} I/O ports at {port:#x}"),
            Need::Mmio32(size) => format!("a {} 32-bit BAR", human::size(size)),
            Need::Mmio64(size) => format!("a {} 64-bit BAR", human::size(size)),
            Need::HighMemory(size) => format!("{} of hot-pluggable memory", human::size(size)),
            Need::SystemMemory(size) => format!("{} of firmware tables", human::size(size)),
        }
    }
}

/// The devices the VM boots with.
pub const BOOT: &[(&str, &[Need])] = &[
    (
        "serial0",
        &[
            Need::Gsi,
            Need::Pio {
                port: 0x3f8,
                len: 8,
            },
        ],
    ),
    ("acpi", &[Need::SystemMemory(0x1000)]),
    (
        "virtio-blk0",
        &[Need::Gsi, Need::Msi(2), Need::Mmio32(0x4000)],
    ),
    (
        "virtio-net0",
        &[
            Need::Gsi,
            Need::Msi(3),
            Need::Mmio32(0x4000),
            Need::Mmio64(1 << 20),
        ],
    ),
    ("vsock0", &[Need::Gsi, Need::Msi(2), Need::Mmio32(0x1000)]),
];

/// Hot-plugged on the source while the VM runs.
pub const HOTPLUG: (&str, &[Need]) = (
    "nvme0",
    &[Need::Msi(8), Need::Mmio32(0x4000), Need::Mmio64(16 << 20)],
);

/// A hot-plug that cannot fit: its last BAR is larger than the 64-bit
/// window.
pub const TOO_BIG: (&str, &[Need]) = (
    "gpu0",
    &[
        Need::Msi(32),
        Need::Mmio32(256 << 20),
        Need::Mmio64(512 << 30),
    ],
);

/// Hot-plugged on the destination after the migration.
pub const AFTER_MIGRATION: &[(&str, &[Need])] = &[
    (
        "virtio-rng0",
        &[Need::Gsi, Need::Msi(1), Need::Mmio32(0x1000)],
    ),
    (
        "virtio-mem0",
        &[
            Need::Msi(1),
            Need::Mmio32(0x1000),
            Need::HighMemory(2 << 30),
        ],
    ),
];

/// Plugs a device in one transaction: everything it needs, or nothing.
pub fn plug(
    vm: &mut ResourceSet,
    name: &str,
    needs: &[Need],
) -> Result<(), TransactionError<SetError>> {
    let owner = Owner::new(name).expect("device names are valid owners");
    let mut tx = vm.transaction();
    let mut device = tx.owned_by(&owner);
    for need in needs {
        match *need {
            Need::Gsi => device.allocate_id(LEGACY_GSI).map(drop)?,
            Need::Msi(n) => device
                .allocate_ids(MSI_GSI, n, n.next_power_of_two())
                .map(drop)?,
            Need::Pio { port, len } => device
                .allocate(PIO, len, 1, AllocPolicy::ExactMatch(port))
                .map(drop)?,
            Need::Mmio32(size) => device
                .allocate(MMIO32, size, size, AllocPolicy::FirstMatch)
                .map(drop)?,
            Need::Mmio64(size) => device
                .allocate(MMIO64, size, size, AllocPolicy::FirstMatch)
                .map(drop)?,
            Need::HighMemory(size) => device
                .allocate(PAST_MMIO64, size, 2 << 20, AllocPolicy::FirstMatch)
                .map(drop)?,
            Need::SystemMemory(size) => device
                .allocate(SYSTEM_MEMORY, size, 0x1000, AllocPolicy::FirstMatch)
                .map(drop)?,
        }
    }
    tx.commit()
}

/// What `owner` holds, for people: `legacy_gsi 5`, `msi_gsi 24..=25`,
/// `mmio32 0xd0000000..=0xd0003fff (16 KiB)`.
pub fn holdings(vm: &ResourceSet, owner: &str) -> Vec<String> {
    vm.allocations_of(owner)
        .map(|(pool, range)| {
            let kind = vm.pool(pool).map_or(PoolKind::Addresses, |p| p.kind());
            let pool = human::name(pool);
            match kind {
                PoolKind::Ids if range.len() == 1 => format!("{pool} {}", range.start()),
                PoolKind::Ids => format!("{pool} {}..={}", range.start(), range.end()),
                PoolKind::Addresses => format!(
                    "{pool} {} ({})",
                    human::range(kind, range.start(), range.end()),
                    human::size(range.len())
                ),
            }
        })
        .collect()
}

/// The device list: what each device of the VM holds, one claim per
/// range, devices in the order they were plugged.
pub fn device_claims(vm: &ResourceSet) -> ClaimsFile {
    let devices = BOOT.iter().chain([&HOTPLUG]).chain(AFTER_MIGRATION);
    let claims = devices
        .flat_map(|(name, _)| {
            vm.allocations_of(name).map(move |(pool, range)| ClaimJson {
                pool: Some(pool.to_string()),
                start: range.start(),
                end: range.end(),
                owner: Some(name.to_string()),
            })
        })
        .collect();
    ClaimsFile { claims }
}

/// Prints the steps of one process: a heading per role, a short line per
/// step, continuation lines under it.
pub struct Steps {
    pub style: Style,
}

impl Steps {
    pub fn role(&self, role: &str) {
        say!(
            "{}",
            self.style
                .bold(format!("{role} (process {})", std::process::id()))
        );
    }

    /// A step: its name, then its text (lines after the first are
    /// indented under it).
    pub fn step(&self, name: &str, text: impl Display) {
        let text = text.to_string().replace('\n', &format!("\n{:13}", ""));
        say!("  {} {text}", self.style.accent(format!("{name:<10}")));
    }

    /// More lines of the step above.
    pub fn more(&self, text: impl Display) {
        self.step("", text);
    }

    /// A device and what it holds, wrapped to stay short.
    pub fn device_line(&self, vm: &ResourceSet, name: &str) -> String {
        const WIDTH: usize = 88;
        let mut lines = vec![format!("{:<12}", human::name(name))];
        for (i, item) in holdings(vm, name).into_iter().enumerate() {
            let last = lines.last_mut().expect("one line at least");
            if i > 0 && last.len() + item.len() + 2 > WIDTH {
                last.push(',');
                lines.push(format!("{:<12} {item}", ""));
            } else {
                let sep = if i == 0 { " " } else { ", " };
                last.push_str(sep);
                last.push_str(&item);
            }
        }
        lines.join("\n")
    }
}

pub fn run(args: Args, color: ColorWhen) -> Outcome {
    let dir = args
        .dir
        .unwrap_or_else(|| std::env::temp_dir().join("vmalloc-demo"));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::new(format!("{}: cannot create: {e}", dir.display())))?;
    let style = Style::stdout(color);
    let steps = Steps { style };
    say!(
        "{}",
        style.bold("vmalloc demo: a VM's resources from boot to a live migration")
    );
    say!("files go to {}\n", dir.display());
    steps.role("source");

    // The layout.
    let mut vm = ResourceSet::x86_64();
    let names: Vec<String> = vm.pools().map(|(name, _)| human::name(name)).collect();
    steps.step(
        "layout",
        format!(
            "x86_64 resource set, {} pools: {}",
            names.len(),
            names.join(", ")
        ),
    );

    // The VM's life, one record per step, each durable once appended.
    let journal_file = dir.join(JOURNAL_FILE);
    let journal_failure =
        |e: vm_allocator::JournalError| Failure::new(format!("{}: {e}", journal_file.display()));
    let mut journal = Journal::create(&journal_file, &vm).map_err(journal_failure)?;
    let mut life = vec![(vm.clone(), None)];

    // Boot.
    for (i, (name, needs)) in BOOT.iter().enumerate() {
        plug(&mut vm, name, needs).map_err(|e| Failure::new(format!("booting {name}: {e}")))?;
        let label = format!("boot {name}");
        journal
            .append_labeled(&vm, &label)
            .map_err(journal_failure)?;
        life.push((vm.clone(), Some(label)));
        let line = steps.device_line(&vm, name);
        if i == 0 {
            steps.step("boot", line);
        } else {
            steps.more(line);
        }
    }
    steps.more(style.dim(format!("generation {}", vm.generation())));

    // A hot-plug, all or nothing.
    let (name, needs) = HOTPLUG;
    plug(&mut vm, name, needs).map_err(|e| Failure::new(format!("hot-plugging {name}: {e}")))?;
    let label = format!("hot-plug {name}");
    journal
        .append_labeled(&vm, &label)
        .map_err(journal_failure)?;
    life.push((vm.clone(), Some(label)));
    steps.step(
        "hot-plug",
        format!("{}\n(in one transaction)", steps.device_line(&vm, name)),
    );
    steps.more(style.dim(format!("generation {}", vm.generation())));

    // One that does not fit rolls back.
    let (name, needs) = TOO_BIG;
    let before = vm.clone();
    match plug(&mut vm, name, needs) {
        Ok(()) => {
            return Err(Failure::new(format!(
                "{name} was hot-plugged although its BAR is larger than the window"
            )))
        }
        Err(e) => {
            let wanted: Vec<String> = needs.iter().map(|n| n.describe()).collect();
            steps.step("hot-plug", format!("{name} asks for {}", wanted.join(", ")));
            steps.more(style.bad(format!(
                "refused at step {} of {} ({}): {}",
                e.step() + 1,
                needs.len(),
                needs[e.step()].describe(),
                e.error()
            )));
            let rolled_back = vm == before
                && vm.generation() == before.generation()
                && vm.allocations_of(name).next().is_none();
            if !rolled_back {
                return Err(Failure::new(format!(
                    "the failed hot-plug of {name} left changes behind"
                )));
            }
            let undone = match e.step() {
                0 => "nothing was allocated".to_string(),
                1 => "step 1 was undone".to_string(),
                2 => "steps 1 and 2 were undone".to_string(),
                n => format!("steps 1 to {n} were undone"),
            };
            steps.more(format!(
                "rolled back: {undone}, {name} holds nothing, generation still {}",
                vm.generation()
            ));
        }
    }

    // The journal: nothing for the refused hot-plug, and every version
    // back, as it was.
    let records = journal.records();
    drop(journal);
    let Some((generations, blame)) = check_journal(&journal_file, &life) else {
        say!(
            "{}",
            style.bad(format!(
                "result: FAILED, {} does not give back the VM's life",
                journal_file.display()
            ))
        );
        return Ok(ExitCode::from(EXIT_FAILURE));
    };
    let journal_bytes = std::fs::metadata(&journal_file).map_or(0, |m| m.len());
    steps.step(
        "journal",
        format!(
            "{}: {} ({}), one per device plugged, none for {}\n\
             read back as versions: generations {generations}, each exact\n\
             blame: {blame}",
            journal_file.display(),
            human::count(records, "record", "records"),
            human::count(journal_bytes, "byte", "bytes"),
            TOO_BIG.0,
        ),
    );

    // Snapshot and save.
    let snapshot = vm.clone(); // O(1): shares every node with `vm`
    let source_file = dir.join(SOURCE_FILE);
    snapshot
        .write_to_path(&source_file)
        .map_err(|e| Failure::new(format!("{}: cannot write: {e}", source_file.display())))?;
    let expected = dump::state_json(
        vm_allocator::format::FORMAT_VERSION,
        &State::Set(snapshot.clone()),
    );
    let expected_file = dir.join(EXPECTED_FILE);
    std::fs::write(&expected_file, dump::to_string(&expected) + "\n")
        .map_err(|e| Failure::new(format!("{}: cannot write: {e}", expected_file.display())))?;
    let devices = device_claims(&snapshot);
    let devices_file = dir.join(DEVICES_FILE);
    std::fs::write(&devices_file, dump::to_string(&devices) + "\n")
        .map_err(|e| Failure::new(format!("{}: cannot write: {e}", devices_file.display())))?;
    let bytes = std::fs::metadata(&source_file).map_or(0, |m| m.len());
    let assignments: usize = expected.pools.iter().map(|p| p.allocations.len()).sum();
    steps.step(
        "snapshot",
        format!(
            "O(1) clone at generation {}: {assignments} assignments in {} pools",
            snapshot.generation(),
            snapshot.len()
        ),
    );
    steps.more(format!(
        "saved {} ({}), expectations in {},\nthe device list ({}) in {}",
        source_file.display(),
        human::count(bytes, "byte", "bytes"),
        EXPECTED_FILE,
        human::count(devices.claims.len() as u64, "claim", "claims"),
        DEVICES_FILE
    ));

    // The migration: a second process restores the state.
    steps.step(
        "migrate",
        "starting the destination: vmalloc demo-destination (a second process)",
    );
    say!();
    let status = destination(&dir, color)?;
    say!();
    steps.role("source");
    if !status.success() {
        let code = status
            .code()
            .map_or("a signal".to_string(), |c| format!("exit status {c}"));
        say!(
            "{}",
            style.bad(format!(
                "result: FAILED, the destination did not restore the state ({code})"
            ))
        );
        return Ok(ExitCode::from(EXIT_FAILURE));
    }

    // What changed on the destination.
    let destination_file = dir.join(DESTINATION_FILE);
    let restored = ResourceSet::read_from_path(&destination_file)
        .map_err(|e| Failure::new(format!("{}: {e}", destination_file.display())))?;
    let diff = Diff::between(&snapshot, &restored).map_err(|e| {
        Failure::new(format!(
            "{} and {}: {e}",
            source_file.display(),
            destination_file.display()
        ))
    })?;
    steps.step(
        "diff",
        format!(
            "source -> destination: {}",
            human::count(diff.len() as u64, "change", "changes")
        ),
    );
    for change in diff.changes() {
        let line = change.to_string();
        steps.more(match change.kind {
            ChangeKind::Allocated => style.good(line),
            ChangeKind::Freed => style.bad(line),
        });
    }
    let (_, freed): (Vec<ChangeJson>, Vec<ChangeJson>) = dump::split_changes(diff.changes());
    let owners_ok = diff.changes().all(|c| {
        c.owner
            .is_some_and(|o| AFTER_MIGRATION.iter().any(|(name, _)| o == *name))
    });
    if !freed.is_empty() || !owners_ok {
        say!(
            "{}",
            style
                .bad("result: FAILED, the destination changed assignments it migrated".to_string())
        );
        return Ok(ExitCode::from(EXIT_FAILURE));
    }

    // The delta, checked on the saved files.
    let delta =
        Delta::between(&snapshot, &restored).map_err(|e| Failure::new(format!("delta: {e}")))?;
    let delta_file = dir.join(DELTA_FILE);
    delta
        .write_to_path(&delta_file)
        .map_err(|e| Failure::new(format!("{}: cannot write: {e}", delta_file.display())))?;
    let replayed = replay(&source_file, &delta_file)?;
    if replayed != restored || replayed.generation() != restored.generation() {
        return Err(Failure::new(format!(
            "{} applied to {} does not give the destination's state",
            delta_file.display(),
            source_file.display()
        )));
    }
    let delta_bytes = std::fs::metadata(&delta_file).map_or(0, |m| m.len());
    let full_bytes = std::fs::metadata(&destination_file).map_or(0, |m| m.len());
    steps.step(
        "delta",
        format!(
            "{}: {} (the full state: {})\napplies to generation {} with checksum {:#010x}, and to no other state",
            delta_file.display(),
            human::count(delta_bytes, "byte", "bytes"),
            human::count(full_bytes, "byte", "bytes"),
            delta.base_generation(),
            delta.base_checksum(),
        ),
    );

    // The map.
    let map_file = dir.join(MAP_FILE);
    let state = State::Set(restored.clone());
    let pools = pools::pools(&state);
    let picture = svg::render(
        "the destination's resources after the migration",
        &format!(
            "ResourceSet, generation {}, {} assignments",
            restored.generation(),
            pools.iter().map(|p| p.count()).sum::<usize>()
        ),
        &pools,
    );
    std::fs::write(&map_file, picture)
        .map_err(|e| Failure::new(format!("{}: cannot write: {e}", map_file.display())))?;
    steps.step("map", format!("{}", map_file.display()));

    say!(
        "\n{}",
        style.good(format!(
            "result: ok, the destination restored all {assignments} assignments exactly,\n        \
             and they agree with what the devices hold"
        ))
    );
    let d = dir.display();
    say!(
        "{}",
        style.dim(format!(
            "try: vmalloc inspect {d}/{DESTINATION_FILE}\n     \
             vmalloc diff {d}/{SOURCE_FILE} {d}/{DESTINATION_FILE}\n     \
             vmalloc reconcile {d}/{SOURCE_FILE} {d}/{DEVICES_FILE}\n     \
             vmalloc log {d}/{JOURNAL_FILE}\n     \
             vmalloc blame {d}/{JOURNAL_FILE} mmio32 {HOTPLUG_PROBE:#x}"
        ))
    );
    Ok(ExitCode::SUCCESS)
}

/// An address inside the 32-bit BAR the hot-plug takes (the blame the
/// demo shows).
const HOTPLUG_PROBE: u64 = 0xd000_c000;

/// Reads the journal back as a history: it must hold exactly the versions
/// of `life` with their labels, and blame the hot-plugged BAR on its
/// record. Returns the generations and that blame, for people; `None` if
/// anything differs.
fn check_journal(path: &Path, life: &[(ResourceSet, Option<String>)]) -> Option<(String, String)> {
    let (history, recovery) =
        History::<ResourceSet>::from_journal(path, Retention::unbounded()).ok()?;
    let versions: Vec<_> = history.versions().collect();
    let same = recovery.is_clean()
        && versions.len() == life.len()
        && versions.iter().zip(life).all(|(v, (state, label))| {
            v.state() == state
                && v.generation() == state.generation()
                && v.label() == label.as_deref()
        });
    let blame = history.blame(Some(MMIO32), HOTPLUG_PROBE)?;
    let hot_plug = life.last()?;
    let blamed = blame.owner().map(Owner::as_str) == Some(HOTPLUG.0)
        && blame.made() == Made::At(hot_plug.0.generation())
        && blame.label() == hot_plug.1.as_deref();
    let generations: Vec<String> = versions
        .iter()
        .map(|v| v.generation().to_string())
        .collect();
    (same && blamed).then(|| (generations.join(", "), blame.to_string()))
}

/// Runs the destination: this program again, as another process.
fn destination(dir: &Path, color: ColorWhen) -> Result<std::process::ExitStatus, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::new(format!("cannot find this program to start it again: {e}")))?;
    // The child colours its lines as this process does.
    let color = match (color, Style::stdout(color).is_enabled()) {
        (ColorWhen::Auto, true) | (ColorWhen::Always, _) => "always",
        _ => "never",
    };
    Command::new(&exe)
        .arg("--color")
        .arg(color)
        .arg("demo-destination")
        .arg("--dir")
        .arg(dir)
        .status()
        .map_err(|e| Failure::new(format!("{}: cannot start: {e}", exe.display())))
}

/// The source's saved state with the delta applied, read from the files.
fn replay(source: &Path, delta: &Path) -> Result<ResourceSet, Failure> {
    let base = ResourceSet::read_from_path(source)
        .map_err(|e| Failure::new(format!("{}: {e}", source.display())))?;
    let delta_state = Delta::read_from_path(delta)
        .map_err(|e| Failure::new(format!("{}: {e}", delta.display())))?;
    delta_state.apply(&base).map_err(|e| {
        Failure::new(format!(
            "{} does not apply to {}: {e}",
            delta.display(),
            source.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The source's life as the demo journals it, in `dir`.
    fn journaled(dir: &Path) -> (PathBuf, Vec<(ResourceSet, Option<String>)>) {
        let path = dir.join(JOURNAL_FILE);
        let mut vm = ResourceSet::x86_64();
        let mut journal = Journal::create(&path, &vm).unwrap();
        let mut life = vec![(vm.clone(), None)];
        for (name, needs) in BOOT.iter().chain([&HOTPLUG]) {
            plug(&mut vm, name, needs).unwrap();
            let label = format!("plug {name}");
            journal.append_labeled(&vm, &label).unwrap();
            life.push((vm.clone(), Some(label)));
        }
        (path, life)
    }

    #[test]
    fn the_journal_check_passes_only_on_the_life_it_journaled() {
        let dir = tempfile::tempdir().unwrap();
        let (path, life) = journaled(dir.path());
        let (generations, blame) = check_journal(&path, &life).unwrap();
        assert_eq!(generations, "0, 2, 3, 6, 10, 13, 16");
        assert_eq!(
            blame,
            r#"mmio32 0xd000c000..=0xd000ffff (16 KiB) nvme0: made at generation 16 "plug nvme0""#
        );
        // Another label, a version missing, a version too many.
        let mut relabeled = life.clone();
        relabeled[2].1 = Some("plug acpi0".into());
        assert_eq!(check_journal(&path, &relabeled), None);
        assert_eq!(check_journal(&path, &life[..life.len() - 1]), None);
        let mut more = life.clone();
        more.push(life.last().unwrap().clone());
        assert_eq!(check_journal(&path, &more), None);
        // The last append torn: the journal no longer gives the life.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        assert_eq!(check_journal(&path, &life), None);
        assert_eq!(check_journal(&dir.path().join("none"), &life), None);
    }
}
