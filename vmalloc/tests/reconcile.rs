// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `vmalloc reconcile` and `vmalloc adopt`, run as a program: every exit
//! status, the text and the `--json` report checked against the
//! library's own report, errors in claims files with their line and
//! column, a refused adoption that writes nothing, and the demo's
//! destination failing on a device list that disagrees.

mod support;
use support::{assert_status, golden_v2 as golden, s, stderr, stdout, vmalloc};

use std::path::{Path, PathBuf};

use serde_json::Value;
use vm_allocator::{AllocPolicy, Claim, IdAllocator, Owner, ResourceSet};

/// Writes `claims` as a claims file, as a device list would hold them.
fn claims_file(dir: &Path, name: &str, claims: &[Claim]) -> PathBuf {
    let items: Vec<Value> = claims
        .iter()
        .map(|c| {
            serde_json::json!({
                "pool": c.pool(),
                "start": c.start(),
                "end": c.end(),
                "owner": c.owner().map(|o| o.as_str()),
            })
        })
        .collect();
    let path = dir.join(name);
    let text = serde_json::to_string_pretty(&serde_json::json!({ "claims": items })).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Every allocation of `set` as a claim with its pool and owner.
fn claims_of(set: &ResourceSet) -> Vec<Claim> {
    let mut claims = Vec::new();
    for (name, pool) in set.pools() {
        let ranges: Vec<(u64, u64, Option<Owner>)> = match pool {
            vm_allocator::Pool::Ids(ids) => ids
                .allocations()
                .map(|a| {
                    let r = a.ids();
                    ((*r.start()).into(), (*r.end()).into(), a.owner().cloned())
                })
                .collect(),
            vm_allocator::Pool::Addresses(a) => a
                .allocations()
                .map(|x| (x.range().start(), x.range().end(), x.owner().cloned()))
                .collect(),
        };
        for (start, end, owner) in ranges {
            let mut claim = Claim::new(start, end).unwrap().in_pool(name);
            if let Some(owner) = owner {
                claim = claim.with_owner(owner);
            }
            claims.push(claim);
        }
    }
    claims
}

/// A stale device list of the golden x86_64 set: nvme0 was unplugged and
/// virtio-rng0 plugged since, and virtio-net0's BAR grew.
fn stale_claims() -> Vec<Claim> {
    let owner = |name: &str| Owner::new(name).unwrap();
    let c = |pool: &str, start, end, o: Option<&str>| {
        let claim = Claim::new(start, end).unwrap().in_pool(pool);
        match o {
            Some(o) => claim.with_owner(owner(o)),
            None => claim,
        }
    };
    vec![
        c("legacy_gsi", 5, 5, Some("virtio-net0")),
        c("legacy_gsi", 6, 6, Some("virtio-blk0")),
        c("legacy_gsi", 7, 7, Some("virtio-rng0")),
        c("msi_gsi", 24, 24, Some("virtio-rng0")),
        c("mmio32", 0xd000_0000, 0xd000_3fff, Some("virtio-net0")),
        c("mmio32", 0xd000_4000, 0xd000_7fff, Some("virtio-blk0")),
        c("mmio32", 0xd000_8000, 0xd000_8fff, Some("virtio-rng0")),
        c("system_memory", 0x9fc00, 0xa0bff, None),
        c("pio", 0x3f8, 0x3ff, Some("serial0")),
    ]
}

// -------------------------------------------------------------- reconcile

#[test]
fn reconcile_of_the_state_own_claims_is_consistent_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["x86_64_set.bin", "aarch64_set.bin", "empty_set.bin"] {
        let set = ResourceSet::read_from_path(golden(name)).unwrap();
        let claims = claims_file(dir.path(), "claims.json", &claims_of(&set));
        let o = vmalloc(&["reconcile", s(&golden(name)), s(&claims)]);
        assert_status(&o, 0);
        let n = claims_of(&set).len();
        let expected = format!(
            "{} and {}: consistent ({n} claim{})\n",
            golden(name).display(),
            claims.display(),
            if n == 1 { "" } else { "s" }
        );
        assert_eq!(stdout(&o), expected);
        let o = vmalloc(&["reconcile", "--json", s(&golden(name)), s(&claims)]);
        assert_status(&o, 0);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v, serde_json::json!({"consistent": true, "findings": []}));
    }
}

#[test]
fn reconcile_lists_the_library_findings_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let state = golden("x86_64_set.bin");
    let claims = claims_file(dir.path(), "devices.json", &stale_claims());
    let o = vmalloc(&["reconcile", s(&state), s(&claims)]);
    assert_status(&o, 1);
    let set = ResourceSet::read_from_path(&state).unwrap();
    let report = set.reconcile(&stale_claims());
    assert_eq!(report.len(), 6);
    let expected = format!(
        "{report}{} and {}: 6 findings (1 missing, 2 bounds, 1 owner, 2 unexpected)\n",
        state.display(),
        claims.display()
    );
    assert_eq!(stdout(&o), expected);
    assert!(o.stderr.is_empty());
    // Coloured only when asked.
    assert!(!o.stdout.contains(&0x1b));
    let o = vmalloc(&["--color", "always", "reconcile", s(&state), s(&claims)]);
    assert!(o.stdout.contains(&0x1b));
}

#[test]
fn reconcile_json_has_exactly_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    let state = golden("x86_64_set.bin");
    let mut claims = stale_claims();
    // A conflict and an outside claim as well.
    claims.push(
        Claim::new(0xd000_3000, 0xd000_3fff)
            .unwrap()
            .in_pool("mmio32"),
    );
    claims.push(Claim::new(1, 2).unwrap().in_pool("gsi"));
    let path = claims_file(dir.path(), "devices.json", &claims);
    let o = vmalloc(&["reconcile", "--json", s(&state), s(&path)]);
    assert_status(&o, 1);
    // Keys in the documented order (serde_json's Value sorts them, so
    // the text is read).
    let text = stdout(&o);
    assert!(
        text.starts_with(
            "{\n  \"consistent\": false,\n  \"findings\": [\n    {\n      \"kind\": \"outside\",\n      \
             \"pool\": \"gsi\",\n      \"start\": 1,\n      \"end\": 2,\n      \"claim\": {\n        \
             \"start\": 1,\n        \"end\": 2,\n        \"owner\": null\n      },\n      \
             \"allocation\": null,\n      \"other_claim\": null\n    },\n"
        ),
        "{text}"
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let top = v.as_object().unwrap();
    assert_eq!(top.len(), 2);
    assert_eq!(v["consistent"], false);

    let set = ResourceSet::read_from_path(&state).unwrap();
    let report = set.reconcile(&claims);
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), report.len());
    let range = |start: u64, end: u64, owner: Option<&Owner>| serde_json::json!({"start": start, "end": end, "owner": owner.map(|o| o.as_str())});
    for (json, f) in findings.iter().zip(report.iter()) {
        assert_eq!(json.as_object().unwrap().len(), 7);
        let expected = serde_json::json!({
            "kind": f.kind().as_str(),
            "pool": f.pool(),
            "start": f.start(),
            "end": f.end(),
            "claim": f.claim().map(|c| range(c.start(), c.end(), c.owner())),
            "allocation": f.allocation().map(|a| range(a.range().start(), a.range().end(), a.owner())),
            "other_claim": f.other_claim().map(|c| range(c.start(), c.end(), c.owner())),
        });
        // Equal values, so no other key: the shape is exactly this.
        assert_eq!(json, &expected);
    }
    let kinds: Vec<&str> = findings
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "outside",
            "owner",
            "missing",
            "unexpected",
            "bounds",
            "conflict",
            "bounds",
            "unexpected"
        ]
    );
    assert_eq!(findings[0]["pool"], "gsi");
    assert_eq!(findings[0]["allocation"], Value::Null);
}

#[test]
fn json_keeps_exact_names_and_text_escapes_them() {
    let dir = tempfile::tempdir().unwrap();
    let odd = Owner::new("net0\u{2028}x").unwrap();
    let mut gsi = IdAllocator::new(5, 23).unwrap();
    gsi.owned_by(&odd).allocate_id_at(9).unwrap();
    let state = dir.path().join("gsi.vmalloc");
    gsi.write_to_path(&state).unwrap();
    let claims = write(
        dir.path(),
        "claims.json",
        r#"{"claims": [{"start": 5, "end": 5, "owner": "rtc\u202e"}]}"#,
    );
    let o = vmalloc(&["reconcile", s(&state), s(&claims)]);
    assert_status(&o, 1);
    let out = stdout(&o);
    assert!(
        out.starts_with(
            "missing 5..=5 (1 id): claim 5..=5 by rtc\\u{202e}; not allocated\n\
             unexpected 9..=9 (1 id): allocated to net0\\u{2028}x; no claim\n"
        ),
        "{out}"
    );
    let o = vmalloc(&["reconcile", "--json", s(&state), s(&claims)]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["findings"][0]["claim"]["owner"], "rtc\u{202e}");
    assert_eq!(v["findings"][0]["pool"], Value::Null);
    assert_eq!(v["findings"][1]["allocation"]["owner"], "net0\u{2028}x");
}

#[test]
fn a_lone_allocator_takes_claims_without_pool() {
    let dir = tempfile::tempdir().unwrap();
    let state = golden("tagged_id.bin");
    let claims = write(
        dir.path(),
        "claims.json",
        r#"{"claims": [
            {"start": 5, "end": 5, "owner": "virtio-net0"},
            {"start": 6, "end": 6},
            {"start": 7, "end": 7, "owner": "virtio-rng0", "pool": null},
            {"start": 20, "end": 20, "owner": "serial0"}
        ]}"#,
    );
    assert_status(&vmalloc(&["reconcile", s(&state), s(&claims)]), 0);
    let named = write(
        dir.path(),
        "named.json",
        r#"{"claims": [{"pool": "legacy_gsi", "start": 5, "end": 5}]}"#,
    );
    let o = vmalloc(&["reconcile", s(&state), s(&named)]);
    assert_status(&o, 1);
    assert!(stdout(&o).contains("a lone allocator has no pool \"legacy_gsi\""));
}

#[test]
fn a_bad_claims_file_is_exit_2_with_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let state = golden("x86_64_set.bin");
    let cases = [
        ("not json", "line 1, column 2: expected ident"),
        (
            "{\"claims\": {\"start\": 1}}",
            "line 1, column 11: invalid type: map, expected a sequence",
        ),
        (
            "{\"claims\": [\n  {\"pool\": \"pio\", \"start\": 1016, \"end\": 1015}\n]}",
            "line 2, column 45: the claim's start 1016 is above its end 1015",
        ),
        (
            "{\"claims\": [{\"start\": 99999999999999999999, \"end\": 1}]}",
            "line 1, column 42: the number is above 2^64 - 1",
        ),
        (
            "{\"claims\": [{\"start\": 1, \"end\": 2, \"owner\": \"a\\tb\"}]}",
            "line 1, column 51: the owner \"a\\u{9}b\" is not a valid name: \
             the name holds a control character at byte 1",
        ),
        (
            "{\"claims\": [{\"start\": 1}]}",
            "line 1, column 24: missing field `end`",
        ),
    ];
    for (text, why) in cases {
        let claims = write(dir.path(), "bad.json", text);
        let o = vmalloc(&["reconcile", s(&state), s(&claims)]);
        assert_status(&o, 2);
        assert_eq!(
            stderr(&o),
            format!("vmalloc: {}: {why}\n", claims.display()),
            "{text}"
        );
        assert!(o.stdout.is_empty());
        let out = dir.path().join("out.vmalloc");
        let o = vmalloc(&["adopt", s(&state), s(&claims), s(&out)]);
        assert_status(&o, 2);
        assert!(stderr(&o).contains(why));
        assert!(!out.exists());
    }
}

#[test]
fn unreadable_states_and_files_are_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let claims = claims_file(dir.path(), "claims.json", &[]);
    let missing = dir.path().join("missing.vmalloc");
    let delta = golden("delta_x86_64_set.bin");
    let state = golden("x86_64_set.bin");
    let out = dir.path().join("out.vmalloc");
    for command in ["reconcile", "adopt"] {
        let mut args = vec![command, s(&missing), s(&claims)];
        if command == "adopt" {
            args.push(s(&out));
        }
        let o = vmalloc(&args);
        assert_status(&o, 2);
        assert!(
            stderr(&o).contains("missing.vmalloc: cannot read"),
            "{}",
            stderr(&o)
        );

        args[1] = s(&delta);
        let o = vmalloc(&args);
        assert_status(&o, 2);
        assert!(
            stderr(&o).contains("a delta holds changes, not a state"),
            "{}",
            stderr(&o)
        );

        args[1] = s(&state);
        args[2] = s(&missing);
        let o = vmalloc(&args);
        assert_status(&o, 2);
        assert!(
            stderr(&o).contains("missing.vmalloc: cannot read"),
            "{}",
            stderr(&o)
        );
    }
    assert!(!out.exists());
    // A usage error is 2 as well.
    assert_status(&vmalloc(&["reconcile", s(&state)]), 2);
}

// ------------------------------------------------------------------ adopt

#[test]
fn adopt_writes_the_state_that_holds_exactly_the_claims_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let state = golden("x86_64_set.bin");
    let claims = claims_file(dir.path(), "devices.json", &stale_claims());
    let out = dir.path().join("vm.vmalloc");
    let o = vmalloc(&["adopt", s(&state), s(&claims), s(&out)]);
    assert_status(&o, 0);
    assert_eq!(
        stdout(&o),
        format!(
            "{}: ResourceSet at generation 11, holding exactly the 9 claims \
             (fixed 1 missing, 2 bounds, 1 owner, 2 unexpected)\n",
            out.display()
        )
    );
    let mut expected = ResourceSet::read_from_path(&state).unwrap();
    expected.adopt(&stale_claims()).unwrap();
    let written = ResourceSet::read_from_path(&out).unwrap();
    assert_eq!(written, expected);
    assert_eq!(written.generation(), expected.generation());
    assert_status(&vmalloc(&["reconcile", s(&out), s(&claims)]), 0);

    // Adopting again changes nothing, in place.
    let o = vmalloc(&["adopt", s(&out), s(&claims), s(&out)]);
    assert_status(&o, 0);
    assert!(stdout(&o).contains("(already consistent, nothing changed)"));
    assert_eq!(ResourceSet::read_from_path(&out).unwrap().generation(), 11);
}

#[test]
fn a_refused_adoption_writes_nothing_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let state = golden("x86_64_set.bin");
    let mut claims = stale_claims();
    claims.push(
        Claim::new(0x3f8, 0x3f8)
            .unwrap()
            .in_pool("pio")
            .with_owner(Owner::new("serial1").unwrap()),
    );
    let path = claims_file(dir.path(), "devices.json", &claims);
    // A new file is not created, an existing one not touched.
    let out = dir.path().join("new.vmalloc");
    let o = vmalloc(&["adopt", s(&state), s(&path), s(&out)]);
    assert_status(&o, 1);
    assert_eq!(
        stderr(&o),
        format!(
            "vmalloc: {}: refused, nothing was written: conflict pio 0x3f8..=0x3f8 (1 B): \
             claim 0x3f8..=0x3ff by serial0; overlaps claim 0x3f8..=0x3f8 by serial1\n",
            path.display()
        )
    );
    assert!(o.stdout.is_empty());
    assert!(!out.exists());
    let existing = write(dir.path(), "existing.vmalloc", "untouched");
    assert_status(&vmalloc(&["adopt", s(&state), s(&path), s(&existing)]), 1);
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "untouched");
    // Nothing but the two files is in the directory (no temporary file).
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["devices.json", "existing.vmalloc"]);
}

#[test]
fn adopt_of_lone_allocators() {
    let dir = tempfile::tempdir().unwrap();
    let claims = write(
        dir.path(),
        "claims.json",
        r#"{"claims": [{"start": 1016, "end": 1023, "owner": "serial0"}, {"start": 96, "end": 100}]}"#,
    );
    let out = dir.path().join("pio.vmalloc");
    let o = vmalloc(&[
        "adopt",
        s(&golden("tagged_address.bin")),
        s(&claims),
        s(&out),
    ]);
    assert_status(&o, 0);
    let pio = vm_allocator::AddressAllocator::read_from_path(&out).unwrap();
    let held: Vec<(u64, u64)> = pio.iter().map(|r| (r.start(), r.end())).collect();
    assert_eq!(held, [(96, 100), (1016, 1023)]);
    let o = vmalloc(&["adopt", s(&golden("tagged_id.bin")), s(&claims), s(&out)]);
    assert_status(&o, 1);
    assert!(
        stderr(&o).contains("outside 1016..=1023 (8 ids)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn reconcile_and_adopt_have_help_with_examples() {
    for command in ["reconcile", "adopt"] {
        let o = vmalloc(&[command, "--help"]);
        assert_status(&o, 0);
        let out = stdout(&o);
        assert!(out.contains("Usage: vmalloc "), "{command}: {out}");
        assert!(out.contains("Examples:"), "{command} has no example");
        assert!(out.contains("exit status"), "{command}: {out}");
    }
    let o = vmalloc(&["--help"]);
    let out = stdout(&o);
    assert!(out.contains("reconcile") && out.contains("adopt"), "{out}");
}

// ------------------------------------------------------------------- demo

#[test]
fn the_demo_destination_fails_on_a_device_list_that_disagrees() {
    let dir = tempfile::tempdir().unwrap();
    assert_status(&vmalloc(&["demo", "--dir", s(dir.path())]), 0);
    let devices = dir.path().join("devices.json");
    let source = dir.path().join("source.vmalloc");
    // The device list the source sent matches what it saved.
    assert_status(&vmalloc(&["reconcile", s(&source), s(&devices)]), 0);
    let text = std::fs::read_to_string(&devices).unwrap();
    let mut list: Value = serde_json::from_str(&text).unwrap();
    let claims = list["claims"].as_array_mut().unwrap();
    assert_eq!(claims.len(), 16);
    // A BAR the devices say is elsewhere.
    let bar = claims.iter_mut().find(|c| c["pool"] == "mmio64").unwrap();
    bar["start"] = Value::from(bar["start"].as_u64().unwrap() + (1 << 30));
    bar["end"] = Value::from(bar["end"].as_u64().unwrap() + (1 << 30));
    std::fs::write(&devices, serde_json::to_string(&list).unwrap()).unwrap();
    let o = vmalloc(&["demo-destination", "--dir", s(dir.path())]);
    assert_status(&o, 1);
    let out = stdout(&o);
    assert!(
        out.contains("the restored state disagrees with devices.json: 2 findings"),
        "{out}"
    );
    assert!(
        out.contains("missing mmio64 0x4040000000..=0x40400fffff (1 MiB)"),
        "{out}"
    );
    assert!(
        out.contains("unexpected mmio64 0x4000000000..=0x40000fffff (1 MiB)"),
        "{out}"
    );
}

#[test]
fn the_demo_sends_a_device_list_the_destination_reconciles() {
    let dir = tempfile::tempdir().unwrap();
    let o = vmalloc(&["demo", "--dir", s(dir.path())]);
    assert_status(&o, 0);
    let out = stdout(&o);
    assert!(
        out.contains(
            "  reconcile  ok: the restored state and the device list (devices.json, 16 claims) \
             are consistent\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("and they agree with what the devices hold"),
        "{out}"
    );
    // A state that never saw the device list disagrees with it.
    let mut other = ResourceSet::x86_64();
    other
        .allocate("mmio32", 0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    let path = dir.path().join("other.vmalloc");
    other.write_to_path(&path).unwrap();
    let devices = dir.path().join("devices.json");
    assert_status(&vmalloc(&["reconcile", s(&path), s(&devices)]), 1);
}
