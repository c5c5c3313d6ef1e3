// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The `vmalloc` tool, run as a program: every subcommand on the golden
//! files, damaged files, JSON checked against the library's own view of
//! the state, round trips, the SVG parsed as XML, and the demo with its
//! second process.

mod support;
use support::{assert_status, s, snapshots, stderr, stdout, vmalloc};

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

#[path = "../../tests/support/state_0_1_4.rs"]
mod state_0_1_4;
use vm_allocator::format::FileKind;
use vm_allocator::{
    escape_name, AddressAllocator, AllocPolicy, ChangeKind, Delta, IdAllocator, Owner, Pool,
    ResourceSet,
};

/// Every golden `.bin` state or delta file (not the journals), sorted.
fn golden() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for version in ["v1", "v2"] {
        for entry in std::fs::read_dir(snapshots().join(version)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "bin") && !is_journal(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 20, "the golden files are there");
    files
}

fn kind_of(bytes: &[u8]) -> FileKind {
    FileKind::from_byte(bytes[10]).unwrap()
}

fn is_journal(path: &Path) -> bool {
    std::fs::read(path)
        .unwrap()
        .starts_with(&vm_allocator::format::JOURNAL_MAGIC)
}

fn is_delta(path: &Path) -> bool {
    kind_of(&std::fs::read(path).unwrap()) == FileKind::Delta
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Recomputes the CRC-32C trailer after an edit, so that the edit reaches
/// the decoder behind the checksum.
fn reseal(bytes: &mut [u8]) {
    let n = bytes.len();
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(&bytes[..n - 4]);
    bytes[n - 4..].copy_from_slice(&crc.to_le_bytes());
}

// ---------------------------------------------------------------- inspect

#[test]
fn inspect_shows_the_header_usage_fragmentation_and_an_aligned_table() {
    let file = snapshots().join("v2/x86_64_set.bin");
    let o = vmalloc(&["inspect", s(&file)]);
    assert_status(&o, 0);
    let out = stdout(&o);
    for line in [
        "format version  2\n",
        "checksum        CRC-32C 0xcf3a5a64, valid\n",
        "kind            ResourceSet\n",
        "generation      10\n",
        "pools           7\n",
        "pool mmio32: addresses 0xd0000000..=0xfebfffff (748 MiB), generation 3\n",
        "  used 36 KiB (<1%) in 3 allocations, free 748 MiB\n",
        "  fragmentation: 2 free gaps, largest free block 748 MiB\n",
        "  START       END           SIZE  OWNER\n",
        "  0xd0000000  0xd0000fff   4 KiB  virtio-net0\n",
        "  0xd0004000  0xd0007fff  16 KiB  virtio-blk0\n",
        "pool legacy_gsi: ids 5..=23 (19 ids), generation 3\n",
        "  next never-allocated id: 8\n",
        "  5      5    1 id  virtio-net0\n",
        "  0x9fc00  0xa0bff  4 KiB  -\n",
    ] {
        assert!(out.contains(line), "{line:?} missing from\n{out}");
    }
    assert!(o.stderr.is_empty());
}

#[test]
fn inspect_reads_every_golden_file() {
    for file in golden() {
        let o = vmalloc(&["inspect", s(&file)]);
        assert_status(&o, 0);
        let bytes = std::fs::read(&file).unwrap();
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        let out = stdout(&o);
        assert!(
            out.contains(&format!("format version  {version}\n")),
            "{out}"
        );
        assert!(out.contains(&format!("kind            {}\n", kind_of(&bytes))));
        assert!(out.contains(", valid\n"));
        if !is_delta(&file) && !out.contains("pools           0\n") {
            assert!(out.contains("fragmentation: "), "{out}");
        }
    }
}

#[test]
fn inspect_of_a_delta_shows_what_it_applies_to_and_its_changes() {
    let o = vmalloc(&["inspect", s(&snapshots().join("v2/delta_x86_64_set.bin"))]);
    assert_status(&o, 0);
    let out = stdout(&o);
    assert!(out.contains("applies to      a ResourceSet at generation 10 (checksum 0xcf3a5a64)\n"));
    assert!(out.contains("gives           generation 13 (checksum 0xc9953100)\n"));
    assert!(
        out.contains("  -  0xd0000000  0xd0000fff  4 KiB  virtio-net0\n"),
        "{out}"
    );
    assert!(
        out.contains("  +  0xfebfe000  0xfebfffff  8 KiB  virtio-net1\n"),
        "{out}"
    );
}

#[test]
fn inspect_summary_leaves_the_allocations_out() {
    let file = snapshots().join("v2/fragmented_address_10k_tagged.bin");
    let o = vmalloc(&["inspect", "--summary", s(&file)]);
    assert_status(&o, 0);
    let out = stdout(&o);
    assert!(out.contains("in 10000 allocations"), "{out}");
    assert!(out.contains("fragmentation: 4764 free gaps, largest free block 982 MiB"));
    assert!(out.lines().count() < 15, "{out}");
    // Without --summary: one row per allocation.
    let full = stdout(&vmalloc(&["inspect", s(&file)]));
    assert!(full.lines().count() > 10_000);
}

// ------------------------------------------------------- damaged files

/// A golden file damaged in each way, with what verify and inspect must
/// say about it.
fn damaged(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let good = std::fs::read(snapshots().join("v2/x86_64_set.bin")).unwrap();
    let mut out = Vec::new();
    let mut write = |name: &str, bytes: &[u8], expected: &'static str| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        out.push((path, expected));
    };

    let mut flipped = good.clone();
    flipped[60] ^= 0x04;
    write(
        "flipped.bin",
        &flipped,
        "checksum at byte 227: checksum mismatch: stored CRC-32C 0xcf3a5a64, computed",
    );

    write(
        "truncated.bin",
        &good[..100],
        "body at byte 13: truncated: needs 214 bytes, only 87 available",
    );

    // A body edited behind a correct checksum: the decoder names the field.
    let mut forged = good.clone();
    let i = forged.len() - 5;
    forged[i] = 0x7f;
    reseal(&mut forged);
    write(
        "forged.bin",
        &forged,
        "pool #6 allocation #0 owner at byte 226: value 0x7f is out of range (at most 0x4)",
    );

    let mut unknown_kind = good.clone();
    unknown_kind[10] = 9;
    reseal(&mut unknown_kind);
    write(
        "unknown-kind.bin",
        &unknown_kind,
        "kind at byte 10: unknown kind 9",
    );

    // A version 1 file cannot hold a resource set.
    let mut v1_set = good.clone();
    v1_set[8] = 1;
    reseal(&mut v1_set);
    write(
        "v1-set.bin",
        &v1_set,
        "kind at byte 10: kind 3 (ResourceSet) does not exist in this file's format version",
    );

    write(
        "not-a-state.bin",
        b"hello, world\n",
        "magic at byte 0: not a vm-allocator file",
    );
    out
}

#[test]
fn verify_and_inspect_name_the_problem_and_its_offset() {
    let dir = temp();
    for (file, expected) in damaged(dir.path()) {
        for command in ["verify", "inspect"] {
            let o = vmalloc(&[command, s(&file)]);
            assert_status(&o, 1);
            let err = stderr(&o);
            assert!(err.contains(s(&file)), "{command}: no file name in {err}");
            assert!(
                err.contains(expected),
                "{command}: {expected:?} not in {err}"
            );
            assert!(err.contains(" at byte "), "{command}: no offset in {err}");
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(o.stdout.is_empty(), "{command} printed {}", stdout(&o));
        }
    }
}

#[test]
fn verify_a_wrong_kind() {
    let id = snapshots().join("v2/tagged_id.bin");
    let o = vmalloc(&["verify", "--kind", "resource-set", s(&id)]);
    assert_status(&o, 1);
    assert!(
        stderr(&o).contains(
            "tagged_id.bin: INVALID: kind at byte 10: the file holds an IdAllocator (1), not a ResourceSet"
        ),
        "{}",
        stderr(&o)
    );
    let o = vmalloc(&["verify", "--kind", "id", s(&id)]);
    assert_status(&o, 0);
}

#[test]
fn verify_accepts_every_golden_file_one_line_each() {
    let files = golden();
    let mut args = vec!["verify"];
    args.extend(files.iter().map(|f| s(f)));
    let o = vmalloc(&args);
    assert_status(&o, 0);
    let out = stdout(&o);
    assert_eq!(out.lines().count(), files.len());
    for (line, file) in out.lines().zip(&files) {
        assert!(line.starts_with(&format!("{}: ok (", s(file))), "{line}");
    }
    assert!(out.contains("x86_64_set.bin: ok (ResourceSet, format version 2, generation 10, 7 pools, 10 allocations)"));
    assert!(o.stderr.is_empty());
}

#[test]
fn verify_of_good_and_bad_files_reports_each_and_exits_1() {
    let dir = temp();
    let bad = damaged(dir.path());
    let good = snapshots().join("v1/x86_64_pio.bin");
    let missing = dir.path().join("missing.bin");
    let o = vmalloc(&["verify", s(&good), s(&bad[0].0), s(&missing)]);
    assert_status(&o, 1);
    assert_eq!(stdout(&o).lines().count(), 1);
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(err.contains("missing.bin: INVALID: cannot read: "), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["verify"][..],
        &["inspect"],
        &["no-such-command"],
        &["diff", "a"],
        &["convert", "a", "b"],
        &["verify", "--kind", "nothing", "a"],
    ] {
        let o = vmalloc(args);
        assert_status(&o, 2);
        let err = stderr(&o);
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(err.contains("--help"), "{args:?}: {err}");
    }
}

// ---------------------------------------------------------------- dump

#[test]
fn dump_prints_the_library_listing_of_every_golden_file() {
    for file in golden() {
        let o = vmalloc(&["dump", s(&file)]);
        assert_status(&o, 0);
        let listing = std::fs::read_to_string(file.with_extension("txt")).unwrap();
        assert_eq!(stdout(&o), listing, "{}", file.display());
    }
}

/// The next id of each id pool, as the golden listing says it.
fn next_ids_in_listing(file: &Path) -> Vec<u64> {
    std::fs::read_to_string(file.with_extension("txt"))
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("next id: "))
        .map(|n| n.parse().unwrap())
        .collect()
}

/// The pools of a state as (name, allocator), a lone allocator unnamed.
fn pools_of(bytes: &[u8]) -> (u64, Vec<(Option<String>, Pool)>) {
    match kind_of(bytes) {
        FileKind::IdAllocator => {
            let ids = IdAllocator::from_bytes(bytes).unwrap();
            (ids.generation(), vec![(None, Pool::Ids(ids))])
        }
        FileKind::AddressAllocator => {
            let a = AddressAllocator::from_bytes(bytes).unwrap();
            (a.generation(), vec![(None, Pool::Addresses(a))])
        }
        FileKind::ResourceSet => {
            let set = ResourceSet::from_bytes(bytes).unwrap();
            let pools = set
                .pools()
                .map(|(name, pool)| (Some(name.to_string()), pool.clone()))
                .collect();
            (set.generation(), pools)
        }
        kind => panic!("{kind} is not a state"),
    }
}

fn owner_json(owner: Option<&Owner>) -> Value {
    owner.map_or(Value::Null, |o| Value::from(o.as_str()))
}

#[test]
fn dump_json_of_every_golden_state_matches_the_library() {
    for file in golden().into_iter().filter(|f| !is_delta(f)) {
        let o = vmalloc(&["dump", "--json", s(&file)]);
        assert_status(&o, 0);
        let json: Value = serde_json::from_str(&stdout(&o)).unwrap();
        let bytes = std::fs::read(&file).unwrap();
        let (generation, pools) = pools_of(&bytes);
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        let mut next_ids = next_ids_in_listing(&file).into_iter();

        let top = json.as_object().unwrap();
        let keys: Vec<&str> = top.keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 4, "{keys:?}");
        assert_eq!(json["format_version"], u64::from(version));
        assert_eq!(json["kind"], kind_of(&bytes).to_string());
        assert_eq!(json["generation"], generation);
        let listed = json["pools"].as_array().unwrap();
        assert_eq!(listed.len(), pools.len(), "{}", file.display());
        for (j, (name, pool)) in listed.iter().zip(&pools) {
            assert_eq!(j["name"], name.as_deref().map_or(Value::Null, Value::from));
            let allocations: Vec<Value> = match pool {
                Pool::Ids(ids) => {
                    assert_eq!(j["kind"], "id");
                    assert_eq!(j["start"], ids.range_base());
                    assert_eq!(j["end"], ids.range_end());
                    assert_eq!(j["generation"], ids.generation());
                    assert_eq!(j["next_id"], next_ids.next().unwrap());
                    ids.allocations()
                        .map(|a| {
                            serde_json::json!({
                                "start": a.ids().start(),
                                "end": a.ids().end(),
                                "owner": owner_json(a.owner()),
                            })
                        })
                        .collect()
                }
                Pool::Addresses(a) => {
                    assert_eq!(j["kind"], "address");
                    assert_eq!(j["start"], a.base());
                    assert_eq!(j["end"], a.end());
                    assert_eq!(j["generation"], a.generation());
                    assert_eq!(j["next_id"], Value::Null);
                    a.allocations()
                        .map(|x| {
                            serde_json::json!({
                                "start": x.range().start(),
                                "end": x.range().end(),
                                "owner": owner_json(x.owner()),
                            })
                        })
                        .collect()
                }
            };
            assert_eq!(j["allocations"].as_array().unwrap(), &allocations);
        }
    }
}

#[test]
fn dump_json_of_a_delta_lists_its_changes() {
    for file in golden().into_iter().filter(|f| is_delta(f)) {
        let o = vmalloc(&["dump", "--json", s(&file)]);
        assert_status(&o, 0);
        let json: Value = serde_json::from_str(&stdout(&o)).unwrap();
        let delta = Delta::from_bytes(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(json["kind"], "Delta");
        assert_eq!(json["base"]["kind"], delta.kind().to_string());
        assert_eq!(json["base"]["generation"], delta.base_generation());
        assert_eq!(json["base"]["checksum"], delta.base_checksum());
        assert_eq!(json["target"]["generation"], delta.target_generation());
        assert_eq!(json["target"]["checksum"], delta.target_checksum());
        let changes = |kind| -> Vec<Value> {
            delta
                .diff()
                .changes()
                .filter(|c| c.kind == kind)
                .map(|c| {
                    serde_json::json!({
                        "pool": c.pool,
                        "start": c.range.start(),
                        "end": c.range.end(),
                        "owner": owner_json(c.owner),
                    })
                })
                .collect()
        };
        assert_eq!(
            json["allocated"].as_array().unwrap(),
            &changes(ChangeKind::Allocated)
        );
        assert_eq!(
            json["freed"].as_array().unwrap(),
            &changes(ChangeKind::Freed)
        );
    }
}

#[test]
fn json_is_never_coloured_and_text_only_when_asked() {
    let file = snapshots().join("v2/x86_64_set.bin");
    let json = vmalloc(&["--color", "always", "dump", "--json", s(&file)]);
    assert!(!json.stdout.contains(&0x1b));
    // Not a terminal: no colour by default.
    let plain = vmalloc(&["inspect", s(&file)]);
    assert!(!plain.stdout.contains(&0x1b));
    let coloured = vmalloc(&["--color", "always", "inspect", s(&file)]);
    assert!(coloured.stdout.contains(&0x1b));
    let diff = vmalloc(&["--color", "always", "diff", "--json", s(&file), s(&file)]);
    assert!(!diff.stdout.contains(&0x1b));
}

// ---------------------------------------------------------------- diff

#[test]
fn diff_of_every_golden_state_with_itself_is_empty() {
    for file in golden().into_iter().filter(|f| !is_delta(f)) {
        let o = vmalloc(&["diff", s(&file), s(&file)]);
        assert_status(&o, 0);
        assert!(o.stdout.is_empty() && o.stderr.is_empty());
        let o = vmalloc(&["diff", "--json", s(&file), s(&file)]);
        assert_status(&o, 0);
        let json: Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(json, serde_json::json!({"allocated": [], "freed": []}));
    }
}

#[test]
fn diff_lists_what_was_allocated_and_freed_and_exits_1() {
    let dir = temp();
    let base = snapshots().join("v2/x86_64_set.bin");
    let after = dir.path().join("after.vmalloc");
    let delta = snapshots().join("v2/delta_x86_64_set.bin");
    assert_status(&vmalloc(&["apply", s(&base), s(&delta), s(&after)]), 0);

    let o = vmalloc(&["diff", s(&base), s(&after)]);
    assert_status(&o, 1);
    let out = stdout(&o);
    assert!(
        out.contains(
            "- legacy_gsi 5..=5 (1 id) virtio-net0\n+ legacy_gsi 5..=5 (1 id) virtio-net1\n"
        ),
        "{out}"
    );
    assert!(out.contains("+ mmio32 0xfebfe000..=0xfebfffff (8 KiB) virtio-net1\n"));
    assert!(out.ends_with("2 allocated, 2 freed\n"));

    let o = vmalloc(&["diff", "--json", s(&base), s(&after)]);
    assert_status(&o, 1);
    let json: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "allocated": [
                {"pool": "legacy_gsi", "start": 5, "end": 5, "owner": "virtio-net1"},
                {"pool": "mmio32", "start": 0xfebf_e000u64, "end": 0xfebf_ffffu64, "owner": "virtio-net1"},
            ],
            "freed": [
                {"pool": "legacy_gsi", "start": 5, "end": 5, "owner": "virtio-net0"},
                {"pool": "mmio32", "start": 0xd000_0000u64, "end": 0xd000_0fffu64, "owner": "virtio-net0"},
            ],
        })
    );
}

#[test]
fn diff_compares_files_of_different_format_versions() {
    let dir = temp();
    let v1 = snapshots().join("v1/x86_64_pio.bin");
    let v2 = dir.path().join("pio-v2.vmalloc");
    assert_status(
        &vmalloc(&["convert", s(&v1), s(&v2), "--format-version", "2"]),
        0,
    );
    assert_status(&vmalloc(&["diff", s(&v1), s(&v2)]), 0);

    // A v2 file with one more allocation differs from the v1 file by it.
    let mut pio = AddressAllocator::read_from_path(&v2).unwrap();
    let owner = Owner::new("serial2").unwrap();
    pio.owned_by(&owner)
        .allocate(8, 1, AllocPolicy::ExactMatch(0x3e8))
        .unwrap();
    pio.write_to_path(&v2).unwrap();
    let o = vmalloc(&["diff", "--json", s(&v1), s(&v2)]);
    assert_status(&o, 1);
    let json: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"allocated": [{"pool": null, "start": 0x3e8, "end": 0x3ef, "owner": "serial2"}], "freed": []})
    );
}

#[test]
fn diff_of_different_shapes_or_a_delta_exits_2() {
    let set = snapshots().join("v2/x86_64_set.bin");
    let for_pairs = [
        (set.clone(), snapshots().join("v2/tagged_id.bin")),
        (set.clone(), snapshots().join("v2/aarch64_set.bin")),
        (set.clone(), snapshots().join("v2/delta_x86_64_set.bin")),
        (
            snapshots().join("v1/x86_64_mmio32.bin"),
            snapshots().join("v1/x86_64_pio.bin"),
        ),
    ];
    for (a, b) in for_pairs {
        let o = vmalloc(&["diff", s(&a), s(&b)]);
        assert_status(&o, 2);
        let err = stderr(&o);
        assert!(err.starts_with("vmalloc: "), "{err}");
        assert!(err.contains("compare"), "{err}");
        assert!(o.stdout.is_empty());
    }
    let o = vmalloc(&["diff", s(&set), "/nonexistent/file"]);
    assert_status(&o, 2);
    assert!(stderr(&o).contains("/nonexistent/file: cannot read: "));
}

// ---------------------------------------------------------------- apply

#[test]
fn apply_gives_exactly_the_state_each_golden_delta_names() {
    let dir = temp();
    let pairs = [
        ("v2/x86_64_set.bin", "v2/delta_x86_64_set.bin"),
        ("v2/aarch64_set.bin", "v2/delta_aarch64_set.bin"),
        ("v2/tagged_address.bin", "v2/delta_address.bin"),
        ("v2/tagged_id.bin", "v2/delta_id.bin"),
    ];
    for (base, delta) in pairs {
        let (base, delta) = (snapshots().join(base), snapshots().join(delta));
        let out = dir.path().join("out.vmalloc");
        let o = vmalloc(&["apply", s(&base), s(&delta), s(&out)]);
        assert_status(&o, 0);
        let d = Delta::from_bytes(&std::fs::read(&delta).unwrap()).unwrap();
        let written = std::fs::read(&out).unwrap();
        let n = written.len();
        let checksum = u32::from_le_bytes(written[n - 4..].try_into().unwrap());
        assert_eq!(checksum, d.target_checksum(), "{}", delta.display());
        assert!(stdout(&o).contains(&format!("at generation {}", d.target_generation())));

        // The result is not the base: applying again is refused.
        let o = vmalloc(&["apply", s(&out), s(&delta), s(&dir.path().join("x"))]);
        assert_status(&o, 1);
        assert!(stderr(&o).contains("does not apply to"), "{}", stderr(&o));
    }
    // A state where a delta is expected.
    let set = snapshots().join("v2/x86_64_set.bin");
    let o = vmalloc(&["apply", s(&set), s(&set), s(&dir.path().join("y"))]);
    assert_status(&o, 1);
    assert!(stderr(&o).contains("not a delta"), "{}", stderr(&o));
}

// ---------------------------------------------------------------- convert

#[test]
fn convert_round_trips_every_golden_file() {
    let dir = temp();
    for file in golden() {
        let bytes = std::fs::read(&file).unwrap();
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        let there = dir.path().join("there.vmalloc");
        let back = dir.path().join("back.vmalloc");
        if version == 1 {
            // Version 1 -> 2 -> 1 gives the same bytes.
            assert_status(
                &vmalloc(&["convert", s(&file), s(&there), "--format-version", "2"]),
                0,
            );
            assert_eq!(std::fs::read(&there).unwrap()[8], 2);
            assert_status(&vmalloc(&["diff", s(&file), s(&there)]), 0);
            assert_status(
                &vmalloc(&["convert", s(&there), s(&back), "--format-version", "1"]),
                0,
            );
            assert_eq!(std::fs::read(&back).unwrap(), bytes, "{}", file.display());
        } else {
            // Version 2 in version 2: the same bytes (the format is canonical).
            assert_status(
                &vmalloc(&["convert", s(&file), s(&there), "--format-version", "2"]),
                0,
            );
            assert_eq!(std::fs::read(&there).unwrap(), bytes, "{}", file.display());
        }
    }
}

#[test]
fn convert_to_version_1_says_what_does_not_fit() {
    let dir = temp();
    let out = dir.path().join("out.vmalloc");
    let cases = [
        ("v2/tagged_id.bin", "format version 1 has no owners, and the allocation 5..=5 is owned by \"virtio-net0\" (--drop-owners"),
        ("v2/tagged_address.bin", "format version 1 has no owners, and the allocation 0x"),
        ("v2/x86_64_set.bin", "format version 1 holds lone allocators only, not a resource set"),
        ("v2/delta_id.bin", "format version 1 has no deltas"),
    ];
    for (file, expected) in cases {
        let file = snapshots().join(file);
        let o = vmalloc(&["convert", s(&file), s(&out), "--format-version", "1"]);
        assert_status(&o, 1);
        let err = stderr(&o);
        assert!(
            err.contains(&format!("{}: cannot convert: {expected}", s(&file))),
            "{err}"
        );
        assert!(!out.exists());
    }

    // --drop-owners says so, and version 1 loses the generation.
    let tagged = snapshots().join("v2/tagged_id.bin");
    let o = vmalloc(&[
        "convert",
        s(&tagged),
        s(&out),
        "--format-version",
        "1",
        "--drop-owners",
    ]);
    assert_status(&o, 0);
    assert!(stderr(&o).contains("format version 1 does not store the generation (6)"));
    let v1 = IdAllocator::read_from_path(&out).unwrap();
    let v2 = IdAllocator::read_from_path(&tagged).unwrap();
    assert_eq!(v1, v2.without_owners());

    let o = vmalloc(&["convert", s(&tagged), s(&out), "--format-version", "3"]);
    assert_status(&o, 2);
    assert!(stderr(&o).contains("format version 3 is not one this build writes (1, 2)"));
}

// ------------------------------------------------------------ import-v0-1

#[test]
fn import_v0_1_reads_json_and_bincode_of_0_1_4() {
    let dir = temp();
    let (gsi, mmio) = (state_0_1_4::gsi(), state_0_1_4::mmio());

    let inputs: [(&str, Vec<u8>, &[&str]); 4] = [
        ("gsi.json", serde_json::to_vec_pretty(&gsi).unwrap(), &[]),
        (
            "gsi.bin",
            bincode::serialize(&gsi).unwrap(),
            &["--from", "bincode"],
        ),
        (
            "mmio.json",
            serde_json::to_vec(&mmio).unwrap(),
            &["--kind", "address"],
        ),
        ("mmio.bin", bincode::serialize(&mmio).unwrap(), &[]),
    ];
    for (name, bytes, options) in inputs {
        let input = dir.path().join(name);
        std::fs::write(&input, bytes).unwrap();
        let out = dir.path().join(format!("{name}.vmalloc"));
        let mut args = vec!["import-v0-1", s(&input), s(&out)];
        args.extend_from_slice(options);
        let o = vmalloc(&args);
        assert_status(&o, 0);
        if name.starts_with("gsi") {
            let ids = IdAllocator::read_from_path(&out).unwrap();
            assert_eq!(ids.iter().collect::<Vec<_>>(), [5, 7, 8]);
            assert!(
                stdout(&o).contains("IdAllocator of 5..=23 with 2 allocations (3 ids used)"),
                "{}",
                stdout(&o)
            );
        } else {
            let a = AddressAllocator::read_from_path(&out).unwrap();
            let ranges: Vec<_> = a.iter().map(|r| (r.start(), r.end())).collect();
            assert_eq!(
                ranges,
                [(0xd000_0000, 0xd000_0fff), (0xdfff_c000, 0xdfff_ffff)]
            );
        }
        assert_status(&vmalloc(&["verify", s(&out)]), 0);
    }
}

#[test]
fn import_v0_1_refuses_invalid_state_with_the_reason() {
    let dir = temp();
    // Two allocated nodes that overlap: 0.1.4 would hand out the range twice.
    let json = r#"{"address_space":{"start":0,"end":65535},"interval_tree":{"root":{
        "key":{"start":4096,"end":8191},"node_state":"Allocated","height":2,
        "left":{"key":{"start":0,"end":4096},"node_state":"Allocated","left":null,"right":null,"height":1},
        "right":null}}}"#;
    let input = dir.path().join("overlap.json");
    std::fs::write(&input, json).unwrap();
    let out = dir.path().join("out.vmalloc");
    let o = vmalloc(&["import-v0-1", s(&input), s(&out)]);
    assert_status(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains("overlap.json: not valid vm-allocator 0.1.x state in JSON: "),
        "{err}"
    );
    assert!(!out.exists());

    let input = dir.path().join("garbage.bin");
    std::fs::write(&input, [0xff; 7]).unwrap();
    let o = vmalloc(&["import-v0-1", s(&input), s(&out)]);
    assert_status(&o, 1);
    assert!(
        stderr(&o).contains("in bincode: as an IdAllocator: "),
        "{}",
        stderr(&o)
    );
}

// ---------------------------------------------------------------- map

/// Parses an SVG file as XML and returns the texts it shows.
fn svg_texts(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{} is not well-formed XML: {e}", path.display()));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    doc.descendants()
        .filter(|n| n.has_tag_name("text") || n.has_tag_name("tspan"))
        .filter_map(|n| n.text().map(str::to_string))
        .collect()
}

#[test]
fn map_of_every_golden_state_is_well_formed_svg() {
    let dir = temp();
    for file in golden().into_iter().filter(|f| !is_delta(f)) {
        let out = dir.path().join("map.svg");
        let o = vmalloc(&["map", s(&file), "--svg", s(&out)]);
        assert_status(&o, 0);
        let texts = svg_texts(&out);
        assert!(
            texts.iter().any(|t| t == "free"),
            "legend of {}",
            file.display()
        );
        // Bounded by the width, whatever the number of allocations.
        let size = std::fs::metadata(&out).unwrap().len();
        assert!(size < 400_000, "{} gives {size} bytes", file.display());
    }
}

#[test]
fn map_names_owners_pools_and_a_hex_scale() {
    let dir = temp();
    let out = dir.path().join("set.svg");
    let file = snapshots().join("v2/x86_64_set.bin");
    assert_status(&vmalloc(&["map", s(&file), "--svg", s(&out)]), 0);
    let texts = svg_texts(&out);
    for expected in [
        "virtio-net0",
        "virtio-blk0",
        "nvme0",
        "serial0",
        "no owner",
        "mmio32",
        "0xd0000000",
        "0xfebfffff",
    ] {
        assert!(
            texts.iter().any(|t| t.contains(expected)),
            "{expected} not in {texts:?}"
        );
    }
}

#[test]
fn map_escapes_owner_names() {
    let dir = temp();
    let file = dir.path().join("odd.vmalloc");
    let mut a = AddressAllocator::new(0, 0x10000).unwrap();
    let odd = Owner::new("<dev & \"x\" 'y'>").unwrap();
    a.owned_by(&odd)
        .allocate(0x8000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    a.write_to_path(&file).unwrap();
    let out = dir.path().join("odd.svg");
    assert_status(&vmalloc(&["map", s(&file), "--svg", s(&out)]), 0);
    // XML-escaped in the file, and shown by the rule of names (a quote is
    // `\"`) in the picture.
    assert!(svg_texts(&out).iter().any(|t| t == r#"<dev & \"x\" 'y'>"#));
}

#[test]
fn map_of_a_delta_is_refused() {
    let dir = temp();
    let delta = snapshots().join("v2/delta_id.bin");
    let o = vmalloc(&["map", s(&delta), "--svg", s(&dir.path().join("d.svg"))]);
    assert_status(&o, 1);
    assert!(stderr(&o).contains("a delta holds changes, not a state"));
}

// ---------------------------------------------------------------- demo

#[test]
fn demo_migrates_to_a_second_process_and_passes() {
    let dir = temp();
    let o = vmalloc(&["demo", "--dir", s(dir.path())]);
    assert_status(&o, 0);
    let out = stdout(&o);
    for expected in [
        "source (process ",
        "destination (process ",
        "  boot       serial0      legacy_gsi 5, pio 0x3f8..=0x3ff (8 B)",
        "virtio-net0  legacy_gsi 7, msi_gsi 28..=30, mmio32 0xd0004000..=0xd0007fff (16 KiB),\n\
         \x20                         mmio64 0x4000000000..=0x40000fffff (1 MiB)\n",
        "  hot-plug   nvme0        msi_gsi 32..=39, ",
        "refused at step 3 of 3 (a 512 GiB 64-bit BAR)",
        "rolled back: steps 1 and 2 were undone, gpu0 holds nothing, generation still 16",
        "  check      ok: 16 assignments of 6 devices in 7 pools identical to the source's\n",
        "  journal    ",
        "/source.journal: 6 records (",
        "), one per device plugged, none for gpu0\n\
         \x20            read back as versions: generations 0, 2, 3, 6, 10, 13, 16, each exact\n\
         \x20            blame: mmio32 0xd000c000..=0xd000ffff (16 KiB) nvme0: made at generation 16 \"hot-plug nvme0\"\n",
        "+ past_mmio64 0x8000000000..=0x807fffffff (2 GiB) virtio-mem0",
        "result: ok, the destination restored all 16 assignments exactly",
        "     vmalloc blame ",
    ] {
        assert!(out.contains(expected), "{expected:?} not in\n{out}");
    }
    // No colour when not on a terminal, and nothing on stderr.
    assert!(!o.stdout.contains(&0x1b));
    assert!(o.stderr.is_empty(), "{}", stderr(&o));

    // The files it leaves are valid, and tell the same story.
    let file = |name: &str| dir.path().join(name);
    let o = vmalloc(&[
        "verify",
        s(&file("source.vmalloc")),
        s(&file("destination.vmalloc")),
        s(&file("migration.delta")),
    ]);
    assert_status(&o, 0);
    let applied = file("applied.vmalloc");
    assert_status(
        &vmalloc(&[
            "apply",
            s(&file("source.vmalloc")),
            s(&file("migration.delta")),
            s(&applied),
        ]),
        0,
    );
    assert_status(
        &vmalloc(&["diff", s(&applied), s(&file("destination.vmalloc"))]),
        0,
    );
    assert_status(
        &vmalloc(&[
            "diff",
            s(&file("source.vmalloc")),
            s(&file("destination.vmalloc")),
        ]),
        1,
    );
    let texts = svg_texts(&file("map.svg"));
    assert!(texts.iter().any(|t| t == "virtio-mem0"));

    // The journal of the source's VM: one labelled record per device, the
    // last one the source's state.
    let journal = file("source.journal");
    let o = vmalloc(&["log", "--json", s(&journal)]);
    assert_status(&o, 0);
    let json: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let labels: Vec<&str> = json["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "boot serial0",
            "boot acpi",
            "boot virtio-blk0",
            "boot virtio-net0",
            "boot vsock0",
            "hot-plug nvme0"
        ]
    );
    let last = dir.path().join("last.vmalloc");
    assert_status(
        &vmalloc(&["replay", s(&journal), "--to", "16", s(&last)]),
        0,
    );
    assert_status(&vmalloc(&["diff", s(&last), s(&file("source.vmalloc"))]), 0);
    let o = vmalloc(&["blame", s(&journal), "pio", "0x3f8"]);
    assert_status(&o, 0);
    assert_eq!(
        stdout(&o),
        "pio 0x3f8..=0x3ff (8 B) serial0: made at generation 2 \"boot serial0\"\n"
    );
}

#[test]
fn demo_destination_fails_when_the_state_does_not_match() {
    let dir = temp();
    assert_status(&vmalloc(&["demo", "--dir", s(dir.path())]), 0);
    // Another state under the source's name: the check must catch it.
    let mut other = ResourceSet::read_from_path(dir.path().join("source.vmalloc")).unwrap();
    other.free_owner("vsock0");
    other
        .write_to_path(dir.path().join("source.vmalloc"))
        .unwrap();
    let o = vmalloc(&["demo-destination", "--dir", s(dir.path())]);
    assert_status(&o, 1);
    let out = stdout(&o);
    assert!(
        out.contains("the restored state differs from the source's"),
        "{out}"
    );
    assert!(out.contains("owned by vsock0"), "{out}");
}

// ------------------------------------------------------ habits of a CLI

#[test]
fn every_subcommand_has_help_with_examples() {
    for command in [
        "inspect",
        "dump",
        "verify",
        "diff",
        "apply",
        "convert",
        "import-v0-1",
        "map",
        "reconcile",
        "adopt",
        "log",
        "replay",
        "compact",
        "blame",
        "demo",
    ] {
        let o = vmalloc(&[command, "--help"]);
        assert_status(&o, 0);
        let out = stdout(&o);
        assert!(out.contains("Usage: vmalloc "), "{command}: {out}");
        assert!(out.contains("Example"), "{command} has no example");
    }
    let o = vmalloc(&["--help"]);
    assert_status(&o, 0);
    assert!(
        !stdout(&o).contains("demo-destination"),
        "the hidden subcommand shows"
    );
}

#[test]
fn errors_name_the_file_on_stderr_without_debug_output() {
    let dir = temp();
    let missing = dir.path().join("missing.vmalloc");
    for args in [
        vec!["inspect", s(&missing)],
        vec!["dump", s(&missing)],
        vec!["dump", "--json", s(&missing)],
        vec!["map", s(&missing), "--svg", "x.svg"],
        vec!["convert", s(&missing), "x", "--format-version", "2"],
        vec!["import-v0-1", s(&missing), "x"],
        vec!["log", s(&missing)],
        vec!["replay", s(&missing), "--to", "1", "x"],
        vec!["compact", s(&missing)],
        vec!["blame", s(&missing), "5"],
    ] {
        let o = vmalloc(&args);
        assert_status(&o, 1);
        let err = stderr(&o);
        assert!(
            err.starts_with(&format!("vmalloc: {}: cannot read: ", s(&missing))),
            "{err}"
        );
        assert!(!err.contains("Os {") && !err.contains("kind:"), "{err}");
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn a_closed_pipe_is_not_a_crash() {
    use std::io::Read;
    let file = snapshots().join("v2/fragmented_address_10k_tagged.bin");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vmalloc"))
        .args(["inspect", s(&file)])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The reading end is dropped here.
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert!(status.code().is_some(), "killed by a signal");
}

// ------------------------------------------------------ hostile names

/// Owner names that try to fake a line, reorder text or hide, with how
/// every table and message must show them (FORMAT.md 6.1.1).
const HOSTILE_OWNERS: &[(&str, &str)] = &[
    (
        "x\u{2028}#1 0x0..=0xfff (0x1000) evil",
        r"x\u{2028}#1 0x0..=0xfff (0x1000) evil",
    ),
    (
        "net0\u{2029}+ mmio 0x2000..=0x2fff (4 KiB) y",
        r"net0\u{2029}+ mmio 0x2000..=0x2fff (4 KiB) y",
    ),
    ("\u{202e}0txt.exe", r"\u{202e}0txt.exe"),
    ("\u{2066}a\u{2069}\u{202a}b", r"\u{2066}a\u{2069}\u{202a}b"),
    ("net0\u{a0}", r"net0\u{a0}"),
    ("gpu\u{200b}0", r"gpu\u{200b}0"),
    (" both ", r"\u{20}both\u{20}"),
    ("say \"hi\" \\", r#"say \"hi\" \\"#),
    ("serial0", "serial0"),
];

/// Pool names of the same kind: an id pool, then an address pool.
const HOSTILE_POOLS: [(&str, &str); 2] = [
    (
        "gsi\u{2028}pool mmio: addresses",
        r"gsi\u{2028}pool mmio: addresses",
    ),
    ("\u{202e}oim\u{a0}", r"\u{202e}oim\u{a0}"),
];

/// A set whose pools and owners have hostile names: in each pool, one
/// allocation per owner and one without.
fn hostile_set() -> ResourceSet {
    let [(gsi, _), (mmio, _)] = HOSTILE_POOLS;
    let mut vm = ResourceSet::new();
    vm.add_id_pool(gsi, 0, 63).unwrap();
    vm.add_address_pool(mmio, 0, 0x10_0000).unwrap();
    for (i, (name, _)) in HOSTILE_OWNERS.iter().enumerate() {
        let owner = Owner::new(name).unwrap();
        vm.owned_by(&owner)
            .allocate_id_at(gsi, 2 * i as u32)
            .unwrap();
        vm.owned_by(&owner)
            .allocate(mmio, 0x1000, 1, AllocPolicy::ExactMatch(0x2000 * i as u64))
            .unwrap();
    }
    vm.allocate_id_at(gsi, 40).unwrap();
    vm.allocate(mmio, 0x1000, 1, AllocPolicy::ExactMatch(0x8_0000))
        .unwrap();
    vm
}

/// The set's pools, empty: the state `hostile_set` grew from.
fn hostile_base() -> ResourceSet {
    let [(gsi, _), (mmio, _)] = HOSTILE_POOLS;
    let mut vm = ResourceSet::new();
    vm.add_id_pool(gsi, 0, 63).unwrap();
    vm.add_address_pool(mmio, 0, 0x10_0000).unwrap();
    vm
}

/// Allocations per pool of `hostile_set`.
const PER_POOL: usize = HOSTILE_OWNERS.len() + 1;

/// A character that the rule shows escaped wherever it is (its own
/// tests check the rule against FORMAT.md).
fn is_hidden(c: char) -> bool {
    !matches!(c, ' ' | '\\' | '"') && !escape_name(&format!("x{c}x")).is_plain()
}

/// `text` holds `lines` lines however a terminal breaks it, and nothing
/// hidden (colours are off: no escape character either).
#[track_caller]
fn assert_plain_lines(text: &str, lines: usize) {
    let breaks = text
        .chars()
        .filter(|c| {
            matches!(
                c,
                '\n' | '\r' | '\u{b}' | '\u{c}' | '\u{85}' | '\u{2028}' | '\u{2029}'
            )
        })
        .count();
    assert_eq!(breaks, lines, "{text}");
    assert_eq!(text.lines().count(), lines, "{text}");
    if let Some(c) = text.chars().find(|&c| c != '\n' && is_hidden(c)) {
        panic!("U+{:04X} shows in:\n{text}", u32::from(c));
    }
}

/// Lines that end with the shown name `shown`.
fn lines_ending_with(text: &str, shown: &str) -> usize {
    text.lines().filter(|l| l.ends_with(shown)).count()
}

#[test]
fn inspect_and_dump_show_hostile_names_one_allocation_per_line() {
    let dir = temp();
    let file = dir.path().join("hostile.vmalloc");
    hostile_set().write_to_path(&file).unwrap();

    let o = vmalloc(&["inspect", "--color", "never", s(&file)]);
    assert_status(&o, 0);
    let out = stdout(&o);
    // The header (7 lines), then per pool: a blank line, 3 lines of
    // totals (4 for ids), a table head and one row per allocation.
    assert_plain_lines(&out, 7 + (1 + 3 + 1 + PER_POOL) + (1 + 4 + 1 + PER_POOL));
    let [(_, gsi), (_, mmio)] = HOSTILE_POOLS;
    assert!(
        out.contains(&format!("\npool {gsi}: ids 0..=63 (64 ids), generation ")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "\npool {mmio}: addresses 0x0..=0xfffff (1 MiB), generation "
        )),
        "{out}"
    );
    for (i, (_, shown)) in HOSTILE_OWNERS.iter().enumerate() {
        // One row in each pool's table.
        assert_eq!(lines_ending_with(&out, shown), 2, "{shown} in\n{out}");
        let id = 2 * i;
        assert!(
            out.lines().any(
                |l| l.starts_with(&format!("  {id:<5}  {id:<3}  1 id  ")) && l.ends_with(shown)
            ),
            "{out}"
        );
    }
    assert!(
        out.contains(&format!(
            "\n  0x2000   0x2fff   4 KiB  {}\n",
            HOSTILE_OWNERS[1].1
        )),
        "{out}"
    );

    let o = vmalloc(&["dump", s(&file)]);
    assert_status(&o, 0);
    let out = stdout(&o);
    assert_eq!(
        out,
        vm_allocator::format::dump(&std::fs::read(&file).unwrap()).unwrap()
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("  #")).count(),
        2 * PER_POOL
    );
    assert_plain_lines(&out, out.lines().count());
    for (_, shown) in HOSTILE_OWNERS {
        assert_eq!(lines_ending_with(&out, &format!(") {shown}")), 2, "{shown}");
    }

    let o = vmalloc(&["verify", s(&file)]);
    assert_status(&o, 0);
    assert_plain_lines(&stdout(&o), 1);
}

#[test]
fn dump_json_keeps_hostile_names_exactly() {
    let dir = temp();
    let file = dir.path().join("hostile.vmalloc");
    hostile_set().write_to_path(&file).unwrap();
    let o = vmalloc(&["dump", "--json", s(&file)]);
    assert_status(&o, 0);
    let json: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let names: Vec<&str> = json["pools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, HOSTILE_POOLS.map(|(name, _)| name));
    for pool in json["pools"].as_array().unwrap() {
        let owners: Vec<Option<&str>> = pool["allocations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["owner"].as_str())
            .collect();
        let mut expected: Vec<Option<&str>> =
            HOSTILE_OWNERS.iter().map(|(n, _)| Some(*n)).collect();
        expected.push(None);
        assert_eq!(owners, expected);
    }

    // A delta file's JSON too.
    let delta = dir.path().join("hostile.delta");
    Delta::between(&hostile_base(), &hostile_set())
        .unwrap()
        .write_to_path(&delta)
        .unwrap();
    let o = vmalloc(&["dump", "--json", s(&delta)]);
    assert_status(&o, 0);
    let json: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let allocated = json["allocated"].as_array().unwrap();
    assert_eq!(allocated.len(), 2 * PER_POOL);
    assert_eq!(allocated[0]["pool"], HOSTILE_POOLS[0].0);
    assert_eq!(allocated[0]["owner"], HOSTILE_OWNERS[0].0);
}

#[test]
fn diff_shows_hostile_names_escaped_and_json_keeps_them() {
    let dir = temp();
    let (a, b) = (dir.path().join("a.vmalloc"), dir.path().join("b.vmalloc"));
    hostile_base().write_to_path(&a).unwrap();
    hostile_set().write_to_path(&b).unwrap();

    let o = vmalloc(&["diff", "--color", "never", s(&a), s(&b)]);
    assert_status(&o, 1);
    let out = stdout(&o);
    // Two header lines, one per change, the id pool's next id, the totals.
    assert_plain_lines(&out, 2 + 2 * PER_POOL + 1 + 1);
    let [(_, gsi), (_, mmio)] = HOSTILE_POOLS;
    for (i, (_, shown)) in HOSTILE_OWNERS.iter().enumerate() {
        let id = 2 * i;
        assert!(
            out.contains(&format!("\n+ {gsi} {id}..={id} (1 id) {shown}\n")),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "\n+ {mmio} {:#x}..={:#x} (4 KiB) {shown}\n",
                0x2000 * i,
                0x2000 * i + 0xfff
            )),
            "{out}"
        );
    }
    assert!(
        out.contains(&format!("\n  {gsi}: next never-allocated id 0 -> 41\n")),
        "{out}"
    );

    let o = vmalloc(&["diff", "--json", s(&a), s(&b)]);
    assert_status(&o, 1);
    let json: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let allocated = json["allocated"].as_array().unwrap();
    assert_eq!(allocated.len(), 2 * PER_POOL);
    for (i, (name, _)) in HOSTILE_OWNERS.iter().enumerate() {
        assert_eq!(allocated[i]["pool"], HOSTILE_POOLS[0].0);
        assert_eq!(allocated[i]["owner"], *name);
        assert_eq!(allocated[PER_POOL + i]["pool"], HOSTILE_POOLS[1].0);
        assert_eq!(allocated[PER_POOL + i]["owner"], *name);
    }

    // Sets whose pools are named differently cannot be compared: the
    // message names both, by the rule, between quotes, on one line.
    let c = dir.path().join("c.vmalloc");
    let mut other = ResourceSet::new();
    other.add_id_pool("gsi ", 0, 63).unwrap();
    other
        .add_address_pool(HOSTILE_POOLS[1].0, 0, 0x10_0000)
        .unwrap();
    other.write_to_path(&c).unwrap();
    let o = vmalloc(&["diff", s(&a), s(&c)]);
    assert_status(&o, 2);
    let err = stderr(&o);
    assert!(
        err.ends_with(&format!(
            "pool #0 is named \"{gsi}\" in one and \"gsi\\u{{20}}\" in the other\n"
        )),
        "{err}"
    );
    assert_plain_lines(&err, 1);
}

#[test]
fn inspect_of_a_delta_and_apply_show_hostile_names_escaped() {
    let dir = temp();
    let delta = dir.path().join("hostile.delta");
    Delta::between(&hostile_base(), &hostile_set())
        .unwrap()
        .write_to_path(&delta)
        .unwrap();
    let o = vmalloc(&["inspect", "--color", "never", s(&delta)]);
    assert_status(&o, 0);
    let out = stdout(&o);
    let [(_, gsi), (_, mmio)] = HOSTILE_POOLS;
    assert!(
        out.contains(&format!("\nchanges of {gsi}, generation ")),
        "{out}"
    );
    assert!(
        out.contains(&format!("\nchanges of {mmio}, generation ")),
        "{out}"
    );
    for (_, shown) in HOSTILE_OWNERS {
        assert_eq!(lines_ending_with(&out, shown), 2, "{shown} in\n{out}");
    }
    // The header (8 lines), then per pool: a blank line, 2 lines, a
    // table head and one row per change.
    assert_plain_lines(&out, 8 + 2 * (1 + 2 + 1 + PER_POOL));

    // The delta applies to its base; the result is the set, names exact.
    let (base, out_file) = (
        dir.path().join("base.vmalloc"),
        dir.path().join("out.vmalloc"),
    );
    hostile_base().write_to_path(&base).unwrap();
    let o = vmalloc(&["apply", s(&base), s(&delta), s(&out_file)]);
    assert_status(&o, 0);
    assert_plain_lines(&stdout(&o), 1);
    assert_eq!(
        ResourceSet::read_from_path(&out_file).unwrap(),
        hostile_set()
    );
}

#[test]
fn convert_names_a_hostile_owner_by_the_rule() {
    let dir = temp();
    let file = dir.path().join("gsi.vmalloc");
    let mut gsi = IdAllocator::new(5, 23).unwrap();
    gsi.owned_by(&Owner::new("rtc\u{2028}+ 6..=6 (1 id) rtc ").unwrap())
        .allocate_id()
        .unwrap();
    gsi.write_to_path(&file).unwrap();
    let out = dir.path().join("v1.vmalloc");
    let o = vmalloc(&["convert", s(&file), s(&out), "--format-version", "1"]);
    assert_status(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains(r#"the allocation 5..=5 is owned by "rtc\u{2028}+ 6..=6 (1 id) rtc\u{20}" (--drop-owners"#),
        "{err}"
    );
    assert_plain_lines(&err, 1);
}

#[test]
fn map_shows_hostile_names_escaped_in_labels_and_tooltips() {
    let dir = temp();
    let file = dir.path().join("hostile.vmalloc");
    hostile_set().write_to_path(&file).unwrap();
    let out = dir.path().join("hostile.svg");
    assert_status(&vmalloc(&["map", s(&file), "--svg", s(&out)]), 0);
    let text = std::fs::read_to_string(&out).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let shown: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text") || n.has_tag_name("tspan") || n.has_tag_name("title"))
        .filter_map(|n| n.text().map(str::to_string))
        .collect();
    for t in &shown {
        assert!(!t.chars().any(is_hidden), "hidden character in {t:?}");
    }
    let [(_, gsi), (_, mmio)] = HOSTILE_POOLS;
    for pool in [gsi, mmio] {
        assert!(
            shown.iter().any(|t| t == pool),
            "pool label {pool} in {shown:?}"
        );
    }
    for (i, (_, name)) in HOSTILE_OWNERS.iter().enumerate() {
        // The legend (cut at 24 characters, never inside an escape).
        let legend: String = if name.chars().count() <= 24 {
            name.to_string()
        } else {
            let mut cut = String::new();
            for unit in escape_units(name) {
                if cut.chars().count() + unit.chars().count() > 23 {
                    break;
                }
                cut.push_str(unit);
            }
            format!("{cut}…")
        };
        assert!(shown.contains(&legend), "legend {legend} in {shown:?}");
        // The tooltip of the block in the address pool.
        let tooltip = format!(
            "{name} {:#x}..={:#x} (4 KiB)",
            0x2000 * i,
            0x2000 * i + 0xfff
        );
        assert!(shown.contains(&tooltip), "tooltip {tooltip} in {shown:?}");
    }
}

/// A shown name in its pieces, an escape being one piece.
fn escape_units(shown: &str) -> Vec<&str> {
    let mut units = Vec::new();
    let mut rest = shown;
    while !rest.is_empty() {
        let len = if rest.starts_with(r"\u{") {
            rest.find('}').unwrap() + 1
        } else if rest.starts_with('\\') {
            2
        } else {
            rest.chars().next().unwrap().len_utf8()
        };
        units.push(&rest[..len]);
        rest = &rest[len..];
    }
    units
}

// ---------------------------------------------------------------- journals

/// Labels that try to fake a line or reorder text, with how they show.
const HOSTILE_LABELS: [(&str, &str); 2] = [
    (
        "plug\u{2028}#9 generation 99 \"x\"",
        r#"plug\u{2028}#9 generation 99 \"x\""#,
    ),
    ("\u{202e}gulpnu\u{a0}", r"\u{202e}gulpnu\u{a0}"),
];

/// A journal of `hostile_set`: its pools empty, then every allocation
/// (a hostile label), then the first owner unplugged (another).
fn hostile_journal(dir: &Path) -> PathBuf {
    let path = dir.join("hostile.journal");
    let mut journal = vm_allocator::Journal::create(&path, &hostile_base()).unwrap();
    let mut vm = hostile_set();
    journal.append_labeled(&vm, HOSTILE_LABELS[0].0).unwrap();
    vm.free_owner(HOSTILE_OWNERS[0].0);
    journal.append_labeled(&vm, HOSTILE_LABELS[1].0).unwrap();
    path
}

#[test]
fn log_dump_and_inspect_of_a_journal_show_hostile_names_one_change_per_line() {
    let dir = temp();
    let path = hostile_journal(dir.path());
    let [(_, gsi), (_, mmio)] = HOSTILE_POOLS;

    let o = vmalloc(&["log", "--color", "never", s(&path)]);
    assert_status(&o, 0);
    let out = stdout(&o);
    // The header (8 lines), then per record a blank line, its line and
    // one line per change: every allocation, then the first owner's two.
    assert_plain_lines(&out, 8 + (2 + 2 * PER_POOL) + (2 + 2));
    let (first, second) = (HOSTILE_LABELS[0].1, HOSTILE_LABELS[1].1);
    let g = hostile_set().generation();
    assert!(
        out.contains(&format!("\n#0 generation {g} \"{first}\" (")),
        "{out}"
    );
    assert!(
        out.contains(&format!("\n#1 generation {} \"{second}\" (", g + 1)),
        "{out}"
    );
    for (i, (_, shown)) in HOSTILE_OWNERS.iter().enumerate() {
        let freed = if i == 0 { 2 } else { 0 };
        assert_eq!(
            lines_ending_with(&out, shown),
            2 + freed,
            "{shown} in\n{out}"
        );
        let id = 2 * i;
        assert!(
            out.contains(&format!("\n  + {gsi} {id}..={id} (1 id) {shown}\n")),
            "{out}"
        );
    }
    assert!(
        out.contains(&format!(
            "\n  - {mmio} 0x0..=0xfff (4 KiB) {}\n",
            HOSTILE_OWNERS[0].1
        )),
        "{out}"
    );

    // The library's listing, one record and one change per line.
    let o = vmalloc(&["dump", s(&path)]);
    assert_status(&o, 0);
    let out = stdout(&o);
    assert_eq!(
        out,
        vm_allocator::format::dump(&std::fs::read(&path).unwrap()).unwrap()
    );
    assert_plain_lines(&out, out.lines().count());
    assert_eq!(out.lines().filter(|l| l.starts_with("record #")).count(), 2);
    assert!(out.contains(&format!(", label \"{first}\"\n")), "{out}");
    for (i, (_, shown)) in HOSTILE_OWNERS.iter().enumerate() {
        let freed = if i == 0 { 2 } else { 0 };
        let lines = lines_ending_with(&out, &format!(") {shown}"));
        assert_eq!(lines, 2 + freed, "{shown} in\n{out}");
    }

    let o = vmalloc(&["inspect", "--color", "never", s(&path)]);
    assert_status(&o, 0);
    let out = stdout(&o);
    assert_plain_lines(&out, out.lines().count());
    // The last state's tables: a row per allocation in each pool.
    for (i, (_, shown)) in HOSTILE_OWNERS.iter().enumerate() {
        let rows = if i == 0 { 0 } else { 2 };
        assert_eq!(lines_ending_with(&out, shown), rows, "{shown} in\n{out}");
    }

    // JSON keeps them exactly.
    let o = vmalloc(&["log", "--json", s(&path)]);
    let json: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(json["records"][0]["label"], HOSTILE_LABELS[0].0);
    assert_eq!(json["records"][1]["label"], HOSTILE_LABELS[1].0);
    assert_eq!(json["records"][1]["freed"][0]["pool"], HOSTILE_POOLS[0].0);
    assert_eq!(json["records"][1]["freed"][0]["owner"], HOSTILE_OWNERS[0].0);
}

/// Every golden journal, sorted.
fn golden_journals() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(snapshots().join("v2"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin") && is_journal(p))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "the golden journals are there");
    files
}

/// A journal of a small VM in `dir`: a hot-plug by a device whose name
/// holds a line separator, an unplug, then a record that does not move
/// the pools (a label only).
fn small_journal(dir: &Path) -> (PathBuf, Vec<ResourceSet>) {
    use vm_allocator::Journal;
    let path = dir.join("vm.journal");
    let mut vm = ResourceSet::x86_64();
    let mut states = vec![vm.clone()];
    let mut journal = Journal::create(&path, &vm).unwrap();
    let odd = Owner::new("net0\u{2028}+ pio 0x0").unwrap();
    vm.owned_by(&odd).allocate_id("legacy_gsi").unwrap();
    vm.owned_by(&odd)
        .allocate("mmio32", 0x4000, 0x4000, AllocPolicy::FirstMatch)
        .unwrap();
    journal.append_labeled(&vm, "hot-plug \"net0\"").unwrap();
    states.push(vm.clone());
    vm.free_owner(odd.as_str());
    journal.append(&vm).unwrap();
    states.push(vm.clone());
    (path, states)
}

#[test]
fn log_lists_every_record_with_names_escaped() {
    let dir = temp();
    let (path, _) = small_journal(dir.path());
    let o = vmalloc(&["log", s(&path)]);
    assert_status(&o, 0);
    let out = stdout(&o);
    for line in [
        "format version  2\n",
        "keeps           a ResourceSet\n",
        "records         2\n",
        "end             whole: nothing discarded\n",
        "generation      3\n",
        "#0 generation 2 \"hot-plug \\\"net0\\\"\"",
        "  + legacy_gsi 5..=5 (1 id) net0\\u{2028}+ pio 0x0\n",
        "  + mmio32 0xd0000000..=0xd0003fff (16 KiB) net0\\u{2028}+ pio 0x0\n",
        "#1 generation 3 (",
        "  - legacy_gsi 5..=5 (1 id) net0\\u{2028}+ pio 0x0\n",
    ] {
        assert!(out.contains(line), "{line:?} missing from\n{out}");
    }
    assert!(!out.contains('\u{2028}'), "a raw line separator in\n{out}");
}

#[test]
fn log_json_keeps_exact_names_and_says_how_the_journal_ends() {
    let dir = temp();
    let (path, states) = small_journal(dir.path());
    let o = vmalloc(&["log", "--json", s(&path)]);
    assert_status(&o, 0);
    let json: Value = serde_json::from_str(&stdout(&o)).unwrap();
    // The keys in their documented order.
    let text = stdout(&o);
    let at = |key: &str| text.find(&format!("\n  \"{key}\":")).unwrap();
    let keys = [
        "format_version",
        "kind",
        "state_kind",
        "journal_id",
        "base",
        "records",
        "end",
        "generation",
    ];
    assert!(keys.windows(2).all(|w| at(w[0]) < at(w[1])), "{text}");
    assert_eq!(json.as_object().unwrap().len(), keys.len());
    assert_eq!(json["kind"], "Journal");
    assert_eq!(json["state_kind"], "ResourceSet");
    assert_eq!(json["generation"], 3);
    let records = json["records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["label"], "hot-plug \"net0\"");
    assert_eq!(records[0]["generation"], states[1].generation());
    assert_eq!(records[0]["allocated"][0]["owner"], "net0\u{2028}+ pio 0x0");
    assert_eq!(records[0]["allocated"][0]["pool"], "legacy_gsi");
    assert_eq!(records[1]["label"], Value::Null);
    assert_eq!(records[1]["freed"].as_array().unwrap().len(), 2);
    let len = std::fs::metadata(&path).unwrap().len();
    assert_eq!(
        json["end"],
        serde_json::json!({
            "records": 2, "kept": len, "discarded": 0, "cause": null, "record": null,
            "offset": null, "last_record": null, "error": null
        })
    );

    // A torn tail: normal, exit status 0, and the JSON says where.
    let bytes = std::fs::read(&path).unwrap();
    let torn = dir.path().join("torn.journal");
    std::fs::write(&torn, &bytes[..bytes.len() - 2]).unwrap();
    let o = vmalloc(&["log", "--json", s(&torn)]);
    assert_status(&o, 0);
    let json: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(json["end"]["cause"], "torn-tail");
    assert_eq!(json["end"]["record"], 1);
    assert_eq!(json["records"].as_array().unwrap().len(), 1);
}

#[test]
fn log_of_a_damaged_journal_lists_what_it_can_and_exits_1() {
    let file = snapshots().join("v2/journal_damaged.bin");
    let o = vmalloc(&["log", s(&file)]);
    assert_status(&o, 1);
    let out = stdout(&o);
    assert!(out.contains("DAMAGED: 109 bytes discarded: damage: record #0 at byte 78 is broken, and a sound record ends the journal at byte 139"), "{out}");
    let o = vmalloc(&["log", "--json", s(&file)]);
    assert_status(&o, 1);
    let json: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(json["end"]["cause"], "damage");
    assert_eq!(json["end"]["offset"], 78);
    assert_eq!(json["end"]["last_record"], 139);
    // Not a journal at all: nothing to list.
    let o = vmalloc(&["log", s(&snapshots().join("v2/tagged_id.bin"))]);
    assert_status(&o, 1);
    assert!(
        stderr(&o).contains("not a vm-allocator journal"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn verify_and_inspect_understand_journals() {
    let files = golden_journals();
    for file in &files {
        let o = vmalloc(&["verify", s(file)]);
        let damaged = file.ends_with("journal_damaged.bin");
        assert_status(&o, i32::from(damaged));
        if damaged {
            assert!(
                stderr(&o).contains(": INVALID: damaged: "),
                "{}",
                stderr(&o)
            );
        } else {
            assert!(stdout(&o).starts_with(&format!("{}: ok (journal of ", s(file))));
        }
        let o = vmalloc(&["inspect", s(file)]);
        assert_status(&o, i32::from(damaged));
        let out = stdout(&o);
        assert!(out.contains("kind            journal of "), "{out}");
        assert!(out.contains(", valid\n"), "{out}");
        assert!(out.contains("fragmentation: "), "{out}");
    }
    let torn = snapshots().join("v2/journal_torn_tail.bin");
    let o = vmalloc(&["verify", s(&torn)]);
    assert!(stdout(&o)
        .contains("; a torn tail of 11 bytes at byte 203, which the next writer cuts off)"));
    // --kind journal requires a journal; a state kind refuses one.
    let o = vmalloc(&[
        "verify",
        "--kind",
        "journal",
        s(&torn),
        s(&snapshots().join("v2/tagged_id.bin")),
    ]);
    assert_status(&o, 1);
    assert!(
        stderr(&o).contains("tagged_id.bin: INVALID: magic at byte 0: not a vm-allocator journal")
    );
    let o = vmalloc(&["verify", "--kind", "id", s(&torn)]);
    assert_status(&o, 1);
    assert!(stderr(&o).contains("(a journal)"), "{}", stderr(&o));
}

#[test]
fn replay_writes_the_state_at_a_generation() {
    let dir = temp();
    let (path, states) = small_journal(dir.path());
    for state in &states {
        let out = dir.path().join(format!("g{}.vmalloc", state.generation()));
        let g = state.generation().to_string();
        let o = vmalloc(&["replay", s(&path), "--to", &g, s(&out)]);
        assert_status(&o, 0);
        assert_eq!(&ResourceSet::read_from_path(&out).unwrap(), state);
        assert!(stdout(&o).contains(&format!("ResourceSet at generation {g} (")));
    }
    let o = vmalloc(&["replay", s(&path), "--to", "7", s(&dir.path().join("x"))]);
    assert_status(&o, 1);
    assert!(
        stderr(&o).contains("holds no state at generation 7; its generations are 0, 2, 3"),
        "{}",
        stderr(&o)
    );
    // Past the damage, nothing; before it, the states it kept.
    let damaged = snapshots().join("v2/journal_damaged.bin");
    let o = vmalloc(&["replay", s(&damaged), "--to", "6", s(&dir.path().join("y"))]);
    assert_status(&o, 0);
    let o = vmalloc(&["replay", s(&damaged), "--to", "7", s(&dir.path().join("z"))]);
    assert_status(&o, 1);
    assert!(stderr(&o).contains("(it ends at byte 78, where record #0 was discarded)"));
}

#[test]
fn compact_rewrites_a_journal_as_one_state() {
    let dir = temp();
    let (path, states) = small_journal(dir.path());
    let o = vmalloc(&["compact", s(&path)]);
    assert_status(&o, 0);
    assert!(
        stdout(&o).contains("2 records compacted into one state at generation 3"),
        "{}",
        stdout(&o)
    );
    let o = vmalloc(&["log", "--json", s(&path)]);
    let json: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(json["records"].as_array().unwrap().len(), 0);
    let out = dir.path().join("last.vmalloc");
    assert_status(&vmalloc(&["replay", s(&path), "--to", "3", s(&out)]), 0);
    assert_eq!(
        &ResourceSet::read_from_path(&out).unwrap(),
        states.last().unwrap()
    );

    // Damage is refused unless asked for.
    let damaged = dir.path().join("damaged.journal");
    std::fs::copy(snapshots().join("v2/journal_damaged.bin"), &damaged).unwrap();
    let o = vmalloc(&["compact", s(&damaged)]);
    assert_status(&o, 1);
    assert!(stderr(&o).contains("--discard-damage"), "{}", stderr(&o));
    let o = vmalloc(&["compact", "--discard-damage", s(&damaged)]);
    assert_status(&o, 0);
    assert!(
        stdout(&o).contains("; 109 bytes dropped: damage: record #0"),
        "{}",
        stdout(&o)
    );
    assert_status(&vmalloc(&["verify", "--kind", "journal", s(&damaged)]), 0);

    // Not while a writer holds it.
    let held = dir.path().join("held.journal");
    let _writer = vm_allocator::Journal::create(&held, &states[0]).unwrap();
    let o = vmalloc(&["compact", s(&held)]);
    assert_status(&o, 1);
    assert!(
        stderr(&o).contains("another writer holds the journal"),
        "{}",
        stderr(&o)
    );
}
