// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `vmalloc blame`, run as a program: on journals (whole, torn, damaged)
//! and state files, every exit status, the answer checked against the
//! library's own `History::blame`, the `--json` schema with exact
//! strings, and hostile pool, owner and label names shown escaped on one
//! line.

mod support;
use support::{assert_status, golden_v2 as golden, s, stderr, stdout, vmalloc};

use std::path::{Path, PathBuf};

use serde_json::Value;
use vm_allocator::{AllocPolicy, History, IdAllocator, Journal, Owner, ResourceSet, Retention};

/// A VM's life in a journal: three hot-plugs, an unplug, an id without an
/// owner or a label, a hot-plug into the unplugged device's place, and an
/// owner change. Returns the journal and the states, labelled.
fn vm_journal(dir: &Path) -> (PathBuf, Vec<(ResourceSet, Option<&'static str>)>) {
    let path = dir.join("vm.journal");
    let mut vm = ResourceSet::x86_64();
    let mut life = vec![(vm.clone(), None)];
    let mut journal = Journal::create(&path, &vm).unwrap();
    let mut step = |vm: &ResourceSet, label: Option<&'static str>| {
        match label {
            Some(label) => journal.append_labeled(vm, label).unwrap(),
            None => journal.append(vm).unwrap(),
        }
        life.push((vm.clone(), label));
    };
    let plug = |vm: &mut ResourceSet, name: &str| {
        let owner = Owner::new(name).unwrap();
        let mut tx = vm.transaction();
        tx.owned_by(&owner).allocate_id("legacy_gsi").unwrap();
        tx.owned_by(&owner).allocate_ids("msi_gsi", 4, 4).unwrap();
        tx.owned_by(&owner)
            .allocate("mmio32", 0x4000, 0x4000, AllocPolicy::FirstMatch)
            .unwrap();
        tx.commit().unwrap();
    };
    plug(&mut vm, "serial0");
    step(&vm, Some("boot serial0"));
    plug(&mut vm, "virtio-blk0");
    step(&vm, Some("hot-plug virtio-blk0"));
    plug(&mut vm, "nvme0");
    step(&vm, Some("hot-plug nvme0"));
    vm.free_owner("virtio-blk0");
    step(&vm, Some("unplug virtio-blk0"));
    vm.allocate_id("legacy_gsi").unwrap();
    step(&vm, None);
    plug(&mut vm, "gpu0");
    step(&vm, Some("hot-plug gpu0"));
    let bar = vm
        .addresses("mmio32")
        .unwrap()
        .allocation_containing(0xd000_0000)
        .unwrap();
    vm.set_owner("mmio32", &bar, Some(Owner::new("console").unwrap()))
        .unwrap();
    step(&vm, Some("give serial0's BAR to console"));
    drop(journal);
    (path, life)
}

/// What the library says, as `vmalloc blame` shows it.
fn library(path: &Path, pool: &str, value: u64) -> Option<String> {
    let (history, _) = History::<ResourceSet>::from_journal(path, Retention::unbounded()).unwrap();
    history.blame(Some(pool), value).map(|b| b.to_string())
}

#[test]
fn blame_of_a_journal_names_the_record_that_made_the_allocation() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = vm_journal(dir.path());
    let cases = [
        (
            "mmio32",
            "0xd0008000",
            r#"mmio32 0xd0008000..=0xd000bfff (16 KiB) nvme0: made at generation 9 "hot-plug nvme0""#,
        ),
        // gpu0 took virtio-blk0's place.
        (
            "mmio32",
            "3489677312",
            r#"mmio32 0xd0004000..=0xd0007fff (16 KiB) gpu0: made at generation 14 "hot-plug gpu0""#,
        ),
        (
            "mmio32",
            "0xd0003fff",
            r#"mmio32 0xd0000000..=0xd0003fff (16 KiB) console: made at generation 15 "give serial0's BAR to console""#,
        ),
        (
            "msi_gsi",
            "26",
            r#"msi_gsi 26 serial0: made at generation 3 "boot serial0""#,
        ),
        // No owner, no label.
        ("legacy_gsi", "6", "legacy_gsi 6: made at generation 11"),
    ];
    for (pool, value, line) in cases {
        let o = vmalloc(&["blame", s(&path), pool, value]);
        assert_status(&o, 0);
        assert_eq!(stdout(&o), format!("{line}\n"));
        assert!(o.stderr.is_empty());
        let v = match value.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).unwrap(),
            None => value.parse().unwrap(),
        };
        assert_eq!(library(&path, pool, v).as_deref(), Some(line));
    }
    // Decimal and hex are one value.
    let hex = vmalloc(&["blame", s(&path), "mmio32", "0xD0004000"]);
    let decimal = vmalloc(&["blame", s(&path), "mmio32", "3489677312"]);
    assert_eq!(hex.stdout, decimal.stdout);
}

#[test]
fn blame_of_a_state_file_says_at_or_before_its_generation() {
    let dir = tempfile::tempdir().unwrap();
    let (_, life) = vm_journal(dir.path());
    let (state, _) = life.last().unwrap();
    let file = dir.path().join("vm.vmalloc");
    state.write_to_path(&file).unwrap();
    let o = vmalloc(&["blame", s(&file), "mmio32", "0xd0008000"]);
    assert_status(&o, 0);
    assert_eq!(
        stdout(&o),
        "mmio32 0xd0008000..=0xd000bfff (16 KiB) nvme0: made at or before generation 15\n"
    );
    // A lone allocator, of a golden file: VALUE alone.
    let o = vmalloc(&["blame", s(&golden("tagged_id.bin")), "5"]);
    assert_status(&o, 0);
    let ids = IdAllocator::read_from_path(golden("tagged_id.bin")).unwrap();
    let want = History::new(ids).blame(None, 5).unwrap().to_string();
    assert_eq!(stdout(&o), format!("{want}\n"));
    assert!(want.ends_with(&format!(
        "made at or before generation {}",
        IdAllocator::read_from_path(golden("tagged_id.bin"))
            .unwrap()
            .generation()
    )));
}

#[test]
fn blame_exits_1_when_nothing_holds_the_value_or_the_file_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = vm_journal(dir.path());
    let o = vmalloc(&["blame", s(&path), "mmio32", "0xd0010000"]);
    assert_status(&o, 1);
    assert!(o.stdout.is_empty());
    assert_eq!(
        stderr(&o),
        format!(
            "vmalloc: {}: nothing holds 0xd0010000 in pool \"mmio32\" at generation 15\n",
            s(&path)
        )
    );
    let o = vmalloc(&["blame", s(&path), "legacy_gsi", "4"]);
    assert_status(&o, 1);
    assert!(
        stderr(&o).ends_with(
            "nothing holds 4 in pool \"legacy_gsi\" at generation 15 (outside its range 5..=23)\n"
        ),
        "{}",
        stderr(&o)
    );
    // Invalid files: missing, not a vm-allocator file, cut short, a delta.
    let cut = dir.path().join("cut.journal");
    std::fs::write(&cut, &std::fs::read(&path).unwrap()[..30]).unwrap();
    let text = dir.path().join("text");
    std::fs::write(&text, "hello").unwrap();
    for (file, says) in [
        (dir.path().join("missing"), "cannot read: "),
        (text, "not a vm-allocator file"),
        (cut, "truncated"),
        (golden("delta_id.bin"), "a delta holds changes, not a state"),
    ] {
        let o = vmalloc(&["blame", s(&file), "5"]);
        assert_status(&o, 1);
        let err = stderr(&o);
        assert!(
            err.starts_with(&format!("vmalloc: {}: ", s(&file))),
            "{err}"
        );
        assert!(err.contains(says), "{err}");
        assert!(o.stdout.is_empty());
        let o = vmalloc(&["blame", "--json", s(&file), "5"]);
        assert_status(&o, 1);
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn blame_exits_2_on_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = vm_journal(dir.path());
    let set = s(&path);
    let id = golden("tagged_id.bin");
    let cases: [(&[&str], &str); 7] = [
        (
            &["blame", set, "5"],
            "a ResourceSet needs a POOL before the VALUE (vmalloc blame FILE POOL VALUE); its \
             pools: legacy_gsi, msi_gsi, mmio32, mmio64, past_mmio64, system_memory, pio",
        ),
        (
            &["blame", set, "mmio", "5"],
            "no pool is named \"mmio\"; its pools: legacy_gsi, msi_gsi, mmio32",
        ),
        (
            &["blame", s(&id), "gsi", "5"],
            "an IdAllocator has no pools: give the VALUE alone (vmalloc blame FILE VALUE), not \
             the POOL \"gsi\"",
        ),
        (&["blame", set, "mmio32", "0xg"], "invalid VALUE \"0xg\""),
        (&["blame", set, "mmio32", "-1"], "invalid VALUE \"-1\""),
        (
            &["blame", set, "mmio32", "18446744073709551616"],
            "from 0 to 2^64 - 1",
        ),
        (&["blame", set], "a VALUE is needed"),
    ];
    for (args, says) in cases {
        let o = vmalloc(args);
        assert_status(&o, 2);
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
    // clap's own: no file, too many words, an unknown flag.
    for args in [
        &["blame"][..],
        &["blame", set, "mmio32", "1", "2"],
        &["blame", "--nope", set, "1"],
    ] {
        assert_status(&vmalloc(args), 2);
    }
    // The file is read before the pool is checked: a missing file is 1.
    let o = vmalloc(&["blame", s(&dir.path().join("none")), "mmio", "5"]);
    assert_status(&o, 1);
}

#[test]
fn blame_json_keeps_exact_strings_in_the_documented_order() {
    let dir = tempfile::tempdir().unwrap();
    let (path, life) = vm_journal(dir.path());
    let o = vmalloc(&["blame", "--json", s(&path), "mmio32", "0xd0000010"]);
    assert_status(&o, 0);
    let text = stdout(&o);
    let keys = [
        "source",
        "state_kind",
        "versions",
        "oldest",
        "latest",
        "pool",
        "pool_kind",
        "value",
        "allocation",
        "made",
        "end",
    ];
    let at = |key: &str| text.find(&format!("\n  \"{key}\":")).unwrap();
    assert!(keys.windows(2).all(|w| at(w[0]) < at(w[1])), "{text}");
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json.as_object().unwrap().len(), keys.len());
    let len = std::fs::metadata(&path).unwrap().len();
    assert_eq!(
        json,
        serde_json::json!({
            "source": "journal",
            "state_kind": "ResourceSet",
            "versions": life.len(),
            "oldest": 0,
            "latest": 15,
            "pool": "mmio32",
            "pool_kind": "address",
            "value": 0xd000_0010u64,
            "allocation": {"start": 0xd000_0000u64, "end": 0xd000_3fffu64, "owner": "console"},
            "made": {"generation": 15, "exact": true, "label": "give serial0's BAR to console"},
            "end": {"records": life.len() - 1, "kept": len, "discarded": 0, "cause": null,
                    "record": null, "offset": null, "last_record": null, "error": null}
        })
    );
    // Nothing holds it: null, exit status 1, nothing on stderr.
    let o = vmalloc(&["blame", "--json", s(&path), "legacy_gsi", "23"]);
    assert_status(&o, 1);
    assert!(o.stderr.is_empty());
    let json: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        (&json["pool_kind"], &json["allocation"], &json["made"]),
        (&Value::from("id"), &Value::Null, &Value::Null)
    );
    // A state file: one version, at or before, no end.
    let file = dir.path().join("vm.vmalloc");
    life[2].0.write_to_path(&file).unwrap();
    let o = vmalloc(&["blame", "--json", s(&file), "msi_gsi", "24"]);
    assert_status(&o, 0);
    let json: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(json["source"], "state");
    assert_eq!(json["versions"], 1);
    assert_eq!(
        (&json["oldest"], &json["latest"]),
        (&Value::from(6), &Value::from(6))
    );
    assert_eq!(
        json["made"],
        serde_json::json!({"generation": 6, "exact": false, "label": null})
    );
    assert_eq!(json["allocation"]["owner"], "serial0");
    assert_eq!(json["end"], Value::Null);
    // A lone allocator: pool null.
    let o = vmalloc(&["blame", "--json", s(&golden("tagged_id.bin")), "5"]);
    let json: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        (&json["pool"], &json["pool_kind"]),
        (&Value::Null, &Value::from("id"))
    );
}

#[test]
fn blame_of_a_torn_journal_answers_from_the_records_before_the_tear() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = vm_journal(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    let torn = dir.path().join("torn.journal");
    // The last record (the owner change) cut short.
    std::fs::write(&torn, &bytes[..bytes.len() - 5]).unwrap();
    let o = vmalloc(&["blame", s(&torn), "mmio32", "0xd0000000"]);
    assert_status(&o, 0);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(
        lines[0],
        r#"mmio32 0xd0000000..=0xd0003fff (16 KiB) serial0: made at generation 3 "boot serial0""#
    );
    let last = vm_allocator::format::replay::<ResourceSet>(&bytes)
        .unwrap()
        .last()
        .unwrap();
    assert!(
        lines[1].starts_with(&format!(
            "torn tail: {}: {} bytes discarded: a torn tail (an append cut short) from record #6 \
             at byte {} (",
            s(&torn),
            last.len - 5,
            last.offset
        )),
        "{out}"
    );
    // The file is only read: the tail stays.
    assert_eq!(std::fs::read(&torn).unwrap().len(), bytes.len() - 5);
    let o = vmalloc(&["blame", "--json", s(&torn), "mmio32", "0xd0000000"]);
    assert_status(&o, 0);
    let json: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(json["latest"], 14);
    assert_eq!(json["end"]["cause"], "torn-tail");
    assert_eq!(json["end"]["record"], 6);
    assert_eq!(json["made"]["label"], "boot serial0");
}

#[test]
fn blame_of_a_damaged_journal_answers_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = vm_journal(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    // Bit rot in the third record: the two before it are what is left.
    let third = vm_allocator::format::replay::<ResourceSet>(&bytes)
        .unwrap()
        .nth(2)
        .unwrap()
        .offset;
    bytes[third + 2] ^= 0x01;
    let damaged = dir.path().join("damaged.journal");
    std::fs::write(&damaged, &bytes).unwrap();
    let o = vmalloc(&["blame", s(&damaged), "legacy_gsi", "6"]);
    assert_status(&o, 1);
    let out = stdout(&o);
    assert!(
        out.starts_with(
            "legacy_gsi 6 virtio-blk0: made at generation 6 \"hot-plug virtio-blk0\"\nDAMAGED: "
        ),
        "{out}"
    );
    assert!(out.contains(": damage: record #2 at byte "), "{out}");
    let o = vmalloc(&["blame", "--json", s(&damaged), "legacy_gsi", "6"]);
    assert_status(&o, 1);
    let json: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(json["end"]["cause"], "damage");
    assert_eq!(json["made"]["generation"], 6);
    // What the damage hides is not there: nvme0 came after it.
    let o = vmalloc(&["blame", s(&damaged), "mmio32", "0xd0008000"]);
    assert_status(&o, 1);
    assert!(
        stderr(&o).contains("at generation 6; the journal ends early: "),
        "{}",
        stderr(&o)
    );
}

#[test]
fn blame_shows_hostile_names_escaped_on_one_line_and_json_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let pool = "mmio\u{2028}+ gsi 5";
    let owner = Owner::new("net0\u{202e}\u{a0}").unwrap();
    let label = "plug \"x\"\u{2029}#9 generation 1";
    let mut vm = ResourceSet::new();
    vm.add_address_pool(pool, 0, 1 << 20).unwrap();
    let path = dir.path().join("odd.journal");
    let mut journal = Journal::create(&path, &vm).unwrap();
    vm.owned_by(&owner)
        .allocate(pool, 0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    journal.append_labeled(&vm, label).unwrap();
    drop(journal);

    let o = vmalloc(&["blame", s(&path), pool, "0x10"]);
    assert_status(&o, 0);
    assert_eq!(
        stdout(&o),
        "mmio\\u{2028}+ gsi 5 0x0..=0xfff (4 KiB) net0\\u{202e}\\u{a0}: made at generation 1 \
         \"plug \\\"x\\\"\\u{2029}#9 generation 1\"\n"
    );
    let o = vmalloc(&["blame", "--json", s(&path), pool, "0x10"]);
    assert_status(&o, 0);
    let json: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(json["pool"], pool);
    assert_eq!(json["allocation"]["owner"], owner.as_str());
    assert_eq!(json["made"]["label"], label);
    // Errors name the pool by the rule too.
    let o = vmalloc(&["blame", s(&path), pool, "0x100000"]);
    assert_status(&o, 1);
    assert!(
        stderr(&o).contains("in pool \"mmio\\u{2028}+ gsi 5\" at generation 1"),
        "{}",
        stderr(&o)
    );
    let o = vmalloc(&["blame", s(&path), "x\u{2028}y", "0"]);
    assert_status(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains("no pool is named \"x\\u{2028}y\"; its pools: mmio\\u{2028}+ gsi 5"),
        "{err}"
    );
    assert!(!err.contains('\u{2028}'), "{err}");
}
