// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Golden files: every released file under `snapshots/` keeps decoding to
//! the listing beside it, re-encodes byte for byte in its own version, and
//! `snapshots/SHA256SUMS` pins every one of them, so editing or losing a
//! released file fails here.
//!
//! The files of each version are made by [`golden_files_of`]. With
//! `VMALLOC_WRITE_GOLDEN=1` the generator writes the files of the current
//! version that are missing (and their hashes); it never overwrites a file,
//! and never writes a file of an older version.

#[path = "support/rng.rs"]
mod rng;

use rng::Rng;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use vm_allocator::format::{
    self, DecodeError, JournalWriter, FORMAT_VERSION, JOURNAL_MAGIC, SUPPORTED_VERSIONS,
};
use vm_allocator::{
    AddressAllocator, AllocPolicy, Constraint, Delta, IdAllocator, Owner, RangeInclusive,
    ResourceSet, Versioned,
};

#[path = "support/spec_reader.rs"]
mod spec;

fn snapshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots")
}

const HASH_LIST: &str = "SHA256SUMS";
/// Files under snapshots/ that are not golden files.
const NOT_GOLDEN: &[&str] = &[HASH_LIST, "README.md"];

/// Every golden file under snapshots/, as paths relative to it with `/`.
fn golden_files() -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            let relative = format!("{prefix}{name}");
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), &format!("{relative}/"), out);
            } else if !NOT_GOLDEN.contains(&relative.as_str()) {
                out.push(relative);
            }
        }
    }
    let mut files = Vec::new();
    walk(&snapshots(), "", &mut files);
    files.sort();
    files
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The hash list: relative path -> SHA-256, in `sha256sum` format.
fn hash_list() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(snapshots().join(HASH_LIST)).unwrap_or_default();
    text.lines()
        .map(|line| {
            let (hash, path) = line
                .split_once("  ")
                .unwrap_or_else(|| panic!("malformed line in {HASH_LIST}: {line:?}"));
            (path.to_string(), hash.to_string())
        })
        .collect()
}

/// Decodes a file of any kind with the reader of its kind, and encodes the
/// state again in `version`.
fn reencode(bytes: &[u8], version: u16) -> Result<Vec<u8>, DecodeError> {
    if bytes.starts_with(&JOURNAL_MAGIC) {
        return reencode_journal(bytes);
    }
    let again = |e| panic!("cannot write version {version} again: {e}");
    Ok(match bytes.get(10) {
        Some(1) => IdAllocator::from_bytes(bytes)?
            .to_bytes_version(version)
            .unwrap_or_else(again),
        Some(2) => AddressAllocator::from_bytes(bytes)?
            .to_bytes_version(version)
            .unwrap_or_else(again),
        Some(3) => ResourceSet::from_bytes(bytes)?
            .to_bytes_version(version)
            .unwrap_or_else(again),
        _ => Delta::from_bytes(bytes)?
            .to_bytes_version(version)
            .unwrap_or_else(again),
    })
}

/// Reads a journal (FORMAT.md section 13) and writes again what it read:
/// the same id, base state, states and labels; then the bytes it
/// discarded, as they were.
fn reencode_journal(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    fn again<S: Versioned>(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
        let mut replay = format::replay::<S>(bytes)?;
        let (mut writer, mut out) = JournalWriter::start(replay.base(), replay.header().id);
        for record in replay.by_ref() {
            writer
                .append_to(&record.state, record.label, &mut out)
                .expect("a record read is a record written");
        }
        let (_, recovery) = replay.finish();
        out.extend_from_slice(&bytes[recovery.len..]);
        Ok(out)
    }
    match bytes.get(10) {
        Some(1) => again::<IdAllocator>(bytes),
        Some(2) => again::<AddressAllocator>(bytes),
        _ => again::<ResourceSet>(bytes),
    }
}

#[test]
fn golden_files_decode_to_their_listing_and_re_encode() {
    let files = golden_files();
    let bins: Vec<&String> = files.iter().filter(|f| f.ends_with(".bin")).collect();
    assert!(bins.len() >= 20, "only {} golden files", bins.len());
    // Every supported version has its golden files.
    for version in SUPPORTED_VERSIONS {
        let count = bins
            .iter()
            .filter(|b| b.starts_with(&format!("v{version}/")))
            .count();
        assert!(
            count >= 10,
            "only {count} golden files of version {version}"
        );
    }
    for file in &files {
        assert!(
            file.ends_with(".bin") || file.ends_with(".txt"),
            "{file}: golden files are .bin files with a .txt listing"
        );
        let twin = match file.strip_suffix(".bin") {
            Some(stem) => format!("{stem}.txt"),
            None => format!("{}.bin", file.strip_suffix(".txt").unwrap()),
        };
        assert!(files.contains(&twin), "{file} has no {twin} beside it");
    }
    for bin in bins {
        let bytes = std::fs::read(snapshots().join(bin)).unwrap();
        let listing =
            std::fs::read_to_string(snapshots().join(bin.replace(".bin", ".txt"))).unwrap();
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        assert!(
            bin.starts_with(&format!("v{version}/")),
            "{bin} is of version {version}"
        );
        assert!(
            SUPPORTED_VERSIONS.contains(&version),
            "{bin}: version {version} no longer read"
        );
        let dumped = format::dump(&bytes).unwrap_or_else(|e| panic!("{bin}: {e}"));
        assert!(
            dumped == listing,
            "{bin}: listing differs from {}",
            bin.replace(".bin", ".txt")
        );
        // The reader written from FORMAT.md alone reads it too.
        if let Err(e) = spec::read(&bytes, None) {
            panic!("{bin}: the spec reader refuses it: {e}");
        }
        // Every file re-encodes byte for byte in its own version.
        let again = reencode(&bytes, version).unwrap_or_else(|e| panic!("{bin}: {e}"));
        assert!(
            again == bytes,
            "{bin}: re-encoding in version {version} changed the bytes"
        );
    }
}

#[test]
fn golden_files_match_the_hash_list() {
    let list = hash_list();
    let files = golden_files();
    for file in &files {
        let bytes = std::fs::read(snapshots().join(file)).unwrap();
        let hash = list
            .get(file)
            .unwrap_or_else(|| panic!("{file} is not in snapshots/{HASH_LIST}"));
        assert_eq!(
            &sha256_hex(&bytes),
            hash,
            "{file} was edited: released golden files never change; add new files instead"
        );
    }
    for listed in list.keys() {
        assert!(
            files.contains(listed),
            "{listed} is in snapshots/{HASH_LIST} but missing"
        );
    }
}

#[test]
fn generator_reproduces_every_version_or_writes_the_current_one() {
    let write = std::env::var("VMALLOC_WRITE_GOLDEN").is_ok_and(|v| v == "1");
    let mut new_hashes = String::new();
    for &version in SUPPORTED_VERSIONS {
        let dir = format!("v{version}");
        for (name, bytes) in golden_files_of(version) {
            let bin = format!("{dir}/{name}.bin");
            let txt = format!("{dir}/{name}.txt");
            let listing = format::dump(&bytes).unwrap();
            match std::fs::read(snapshots().join(&bin)) {
                Ok(existing) => {
                    assert!(
                        existing == bytes,
                        "{bin}: the generator no longer reproduces it"
                    );
                }
                // Only the current version is ever written: the files of a
                // released older version are all there already.
                Err(_) if write && version == FORMAT_VERSION => {
                    std::fs::create_dir_all(snapshots().join(&dir)).unwrap();
                    for (path, content) in [(&bin, bytes.as_slice()), (&txt, listing.as_bytes())] {
                        let full = snapshots().join(path);
                        assert!(
                            !full.exists(),
                            "{path} exists; golden files are never overwritten"
                        );
                        std::fs::write(&full, content).unwrap();
                        let _ = writeln!(new_hashes, "{}  {path}", sha256_hex(content));
                    }
                }
                Err(e) => panic!(
                    "{bin}: {e}; run with VMALLOC_WRITE_GOLDEN=1 to create the files of version {FORMAT_VERSION}"
                ),
            }
        }
    }
    if !new_hashes.is_empty() {
        let mut list = std::fs::read_to_string(snapshots().join(HASH_LIST)).unwrap_or_default();
        list.push_str(&new_hashes);
        std::fs::write(snapshots().join(HASH_LIST), list).unwrap();
    }
}

// ---------------------------------------------------------------------------
// The states of the golden files.

fn r(start: u64, end: u64) -> RangeInclusive {
    RangeInclusive::new(start, end).unwrap()
}

/// The golden files of `version`, by name.
fn golden_files_of(version: u16) -> Vec<(&'static str, Vec<u8>)> {
    match version {
        1 => golden_files_v1(),
        2 => golden_files_v2(),
        other => panic!("no golden files for version {other}"),
    }
}

/// The golden files of version 1 (released: never written again, only
/// reproduced).
fn golden_files_v1() -> Vec<(&'static str, Vec<u8>)> {
    let v1 = |bytes: Result<Vec<u8>, format::EncodeError>| bytes.unwrap();
    vec![
        (
            "empty_id",
            v1(IdAllocator::new(0, u32::MAX).unwrap().to_bytes_version(1)),
        ),
        (
            "empty_address",
            v1(AddressAllocator::new(0, u64::MAX)
                .unwrap()
                .to_bytes_version(1)),
        ),
        ("x86_64_legacy_gsi", v1(legacy_gsi().to_bytes_version(1))),
        ("x86_64_msi_gsi", v1(msi_gsi().to_bytes_version(1))),
        ("x86_64_mmio32", v1(mmio32().to_bytes_version(1))),
        ("x86_64_mmio64", v1(mmio64().to_bytes_version(1))),
        (
            "x86_64_system_memory",
            v1(system_memory().to_bytes_version(1)),
        ),
        ("x86_64_pio", v1(pio().to_bytes_version(1))),
        (
            "fragmented_address_10k",
            v1(fragmented_addresses().to_bytes_version(1)),
        ),
        ("fragmented_id", v1(fragmented_ids().to_bytes_version(1))),
    ]
}

/// The golden files of version 2.
fn golden_files_v2() -> Vec<(&'static str, Vec<u8>)> {
    let x86 = x86_64_set();
    let arm = aarch64_set();
    vec![
        (
            "empty_id",
            IdAllocator::new(0, u32::MAX).unwrap().to_bytes(),
        ),
        ("tagged_id", tagged_legacy_gsi().to_bytes()),
        ("fragmented_id_tagged", tagged(fragmented_ids()).to_bytes()),
        (
            "empty_address",
            AddressAllocator::new(0, u64::MAX).unwrap().to_bytes(),
        ),
        ("tagged_address", tagged_pio().to_bytes()),
        (
            "fragmented_address_10k_tagged",
            tagged_addresses(fragmented_addresses()).to_bytes(),
        ),
        ("empty_set", ResourceSet::new().to_bytes()),
        ("x86_64_set", x86.to_bytes()),
        ("aarch64_set", arm.to_bytes()),
        ("delta_id", id_delta().to_bytes()),
        ("delta_address", address_delta().to_bytes()),
        ("delta_x86_64_set", set_delta(&x86).to_bytes()),
        ("delta_aarch64_set", set_delta(&arm).to_bytes()),
        ("journal_id", id_journal()),
        ("journal_address", address_journal()),
        ("journal_x86_64_set", set_journal()),
        ("journal_torn_tail", torn_journal()),
        ("journal_damaged", damaged_journal()),
    ]
}

/// A journal of `base` then of each state `edits` makes from the one
/// before, with its label, and the journal id `id`.
/// A labelled edit of a state.
type Step<'a, S> = (Option<&'a str>, &'a dyn Fn(&mut S));

fn journal<S: Versioned>(base: S, id: u64, edits: &[Step<'_, S>]) -> Vec<u8> {
    let (mut writer, mut out) = JournalWriter::start(&base, id);
    let mut state = base;
    for (label, edit) in edits {
        edit(&mut state);
        writer.append_to(&state, *label, &mut out).unwrap();
    }
    out
}

/// The tagged legacy GSIs' life: a device plugged, one unplugged, a line
/// given an owner, a fixed line reserved.
fn id_journal() -> Vec<u8> {
    journal(
        tagged_legacy_gsi(),
        0x0123_4567_89ab_cdef,
        &[
            (Some("hot-plug virtio-vsock0"), &|a: &mut IdAllocator| {
                a.owned_by(&owner("virtio-vsock0")).allocate_id().unwrap();
            }),
            (Some("unplug virtio-net0"), &|a| {
                a.free_owner("virtio-net0");
            }),
            (None, &|a| {
                a.set_owner(6..=6, Some(owner("virtio-rng0"))).unwrap()
            }),
            (None, &|a| {
                a.allocate_id_at(9).unwrap();
            }),
        ],
    )
}

/// The tagged port I/O space's life.
fn address_journal() -> Vec<u8> {
    journal(
        tagged_pio(),
        2,
        &[
            (Some("i8042 gone"), &|a: &mut AddressAllocator| {
                a.free_owner("i8042");
            }),
            (None, &|a| {
                a.owned_by(&owner("virtio-pci0"))
                    .allocate(0x40, 0x40, AllocPolicy::LastMatch)
                    .unwrap();
            }),
            (Some("serial1 renamed"), &|a| {
                a.set_owner(&r(0x2f8, 0x2ff), Some(owner("ttyS1"))).unwrap();
            }),
        ],
    )
}

/// An x86_64 VM's life: a hot-plug in one transaction, an unplug, a
/// second device, memory.
fn set_journal() -> Vec<u8> {
    journal(
        x86_64_set(),
        3,
        &[
            (Some("hot-plug gpu0"), &|vm: &mut ResourceSet| {
                let gpu = owner("gpu0");
                let mut tx = vm.transaction();
                tx.owned_by(&gpu).allocate_ids("msi_gsi", 8, 8).unwrap();
                tx.owned_by(&gpu)
                    .allocate("mmio32", 1 << 24, 1 << 24, AllocPolicy::FirstMatch)
                    .unwrap();
                tx.owned_by(&gpu)
                    .allocate("mmio64", 1 << 30, 1 << 30, AllocPolicy::FirstMatch)
                    .unwrap();
                tx.commit().unwrap();
            }),
            (Some("unplug virtio-net0"), &|vm| {
                vm.free_owner("virtio-net0");
            }),
            (None, &|vm| {
                vm.owned_by(&owner("virtio-net1"))
                    .allocate_id("legacy_gsi")
                    .unwrap();
            }),
            (Some("balloon"), &|vm| {
                vm.allocate("system_memory", 0x2000, 0x1000, AllocPolicy::FirstMatch)
                    .unwrap();
            }),
        ],
    )
}

/// The id journal, cut in the middle of its last record: a torn tail.
fn torn_journal() -> Vec<u8> {
    let mut bytes = id_journal();
    bytes.truncate(bytes.len() - 5);
    bytes
}

/// The address journal with a bit of its first record flipped: damage,
/// shown by the sound records after it.
fn damaged_journal() -> Vec<u8> {
    let mut bytes = address_journal();
    let header = format::replay::<AddressAllocator>(&bytes)
        .unwrap()
        .header()
        .len;
    bytes[header + 3] ^= 0x01;
    bytes
}

/// Legacy GSIs 5..=23: four devices, one hot-unplugged, one fixed line.
fn legacy_gsi() -> IdAllocator {
    let mut a = IdAllocator::new(5, 23).unwrap();
    for _ in 0..4 {
        a.allocate_id().unwrap();
    }
    a.free_id(6).unwrap();
    a.allocate_id_at(20).unwrap();
    a
}

/// MSI GSIs 24..=4095: vector blocks of a few PCI devices.
fn msi_gsi() -> IdAllocator {
    let mut a = IdAllocator::new(24, 4095).unwrap();
    a.allocate_ids(3, 1).unwrap(); // virtio-net: config + rx/tx
    a.allocate_ids(4, 4).unwrap(); // virtio-blk
    a.allocate_ids(32, 32).unwrap(); // NVMe
    let gone = a.allocate_ids(8, 8).unwrap(); // unplugged later
    a.allocate_ids(16, 16).unwrap(); // GPU
    a.allocate_id().unwrap(); // balloon
    a.free_ids(gone).unwrap();
    a.allocate_id().unwrap(); // vsock
    a
}

/// The 32-bit MMIO hole below 4 GiB: BARs of several devices.
fn mmio32() -> AddressAllocator {
    let mut a = AddressAllocator::new(0xd000_0000, 0xfec0_0000 - 0xd000_0000).unwrap();
    for _ in 0..3 {
        a.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch).unwrap();
    }
    a.allocate(0x100_0000, 0x100_0000, AllocPolicy::FirstMatch)
        .unwrap(); // framebuffer
    a.allocate(0x4000, 0x4000, AllocPolicy::LastMatch).unwrap();
    a.allocate(0x10_0000, 0x10_0000, AllocPolicy::ExactMatch(0xfe00_0000))
        .unwrap();
    let msix = a.allocate(0x2000, 0x2000, AllocPolicy::FirstMatch).unwrap();
    a.allocate(0x80, 0x80, AllocPolicy::FirstMatch).unwrap();
    a.free(&msix).unwrap();
    a
}

/// 64-bit MMIO: 64 GiB from 64 GiB, for 64-bit BARs.
fn mmio64() -> AddressAllocator {
    let mut a = AddressAllocator::new(1 << 36, 1 << 36).unwrap();
    a.allocate(1 << 30, 1 << 30, AllocPolicy::FirstMatch)
        .unwrap();
    a.allocate(8 << 30, 8 << 30, AllocPolicy::FirstMatch)
        .unwrap();
    for _ in 0..4 {
        a.allocate(0x10_0000, 0x10_0000, AllocPolicy::FirstMatch)
            .unwrap();
    }
    a.allocate(1 << 32, 1 << 32, AllocPolicy::LastMatch)
        .unwrap();
    a.allocate_with(
        Constraint::new(0x20_0000, 0x20_0000, AllocPolicy::LastMatch)
            .unwrap()
            .with_max_address((1 << 37) - 1),
    )
    .unwrap();
    a
}

/// Guest physical memory of a 5 GiB VM: RAM below 640 KiB, below the 32-bit
/// hole and above 4 GiB.
fn system_memory() -> AddressAllocator {
    let mut a = AddressAllocator::new(0, (1 << 32) + (2 << 30)).unwrap();
    for (start, size) in [
        (0, 0x9_fc00),
        (0xf_0000, 0x1_0000),
        (0x10_0000, 0xbff0_0000),
        (1 << 32, 2 << 30),
    ] {
        a.allocate(size, 1, AllocPolicy::ExactMatch(start)).unwrap();
    }
    a
}

/// The x86 port I/O space with the usual legacy devices.
fn pio() -> AddressAllocator {
    let mut a = AddressAllocator::new(0, 0x1_0000).unwrap();
    for (port, len) in [
        (0x20, 2),  // PIC 1
        (0x40, 4),  // PIT
        (0x60, 1),  // i8042 data
        (0x64, 1),  // i8042 command
        (0x70, 2),  // RTC
        (0xa0, 2),  // PIC 2
        (0x2f8, 8), // COM2
        (0x3f8, 8), // COM1
        (0xcf8, 8), // PCI configuration
    ] {
        a.allocate(len, 1, AllocPolicy::ExactMatch(port)).unwrap();
    }
    a.allocate(0x40, 0x40, AllocPolicy::LastMatch).unwrap(); // a virtio I/O BAR
    a
}

fn owner(name: &str) -> Owner {
    Owner::new(name).unwrap()
}

/// Legacy GSIs 5..=23 of a VM with tagged devices: the serial port's fixed
/// line, two virtio devices, one unplugged, and an untagged line.
fn tagged_legacy_gsi() -> IdAllocator {
    let mut a = IdAllocator::new(5, 23).unwrap();
    a.owned_by(&owner("virtio-net0")).allocate_id().unwrap();
    a.owned_by(&owner("virtio-blk0")).allocate_id().unwrap();
    a.owned_by(&owner("virtio-rng0")).allocate_id().unwrap();
    a.free_id(6).unwrap();
    a.allocate_id().unwrap();
    a.owned_by(&owner("serial0")).allocate_id_at(20).unwrap();
    a
}

/// The port I/O space with tagged legacy devices.
fn tagged_pio() -> AddressAllocator {
    let mut a = AddressAllocator::new(0, 0x1_0000).unwrap();
    for (port, len, who) in [
        (0x40, 4, None),
        (0x60, 1, Some("i8042")),
        (0x64, 1, Some("i8042")),
        (0x2f8, 8, Some("serial1")),
        (0x3f8, 8, Some("serial0")),
        (0xcf8, 8, Some("pci")),
    ] {
        match who {
            Some(name) => a
                .owned_by(&owner(name))
                .allocate(len, 1, AllocPolicy::ExactMatch(port)),
            None => a.allocate(len, 1, AllocPolicy::ExactMatch(port)),
        }
        .unwrap();
    }
    a
}

/// `ids` with owners given to some runs: every third run to one of four
/// devices, by position.
fn tagged(mut ids: IdAllocator) -> IdAllocator {
    let devices = ["nvme0", "virtio-blk0", "virtio-net0", "gpu0"].map(owner);
    let runs: Vec<_> = ids.runs().collect();
    for (i, run) in runs.into_iter().enumerate() {
        if i % 3 == 0 {
            ids.set_owner(run, Some(devices[i / 3 % 4].clone()))
                .unwrap();
        }
    }
    ids
}

/// `a` with owners given to most allocations, by position.
fn tagged_addresses(mut a: AddressAllocator) -> AddressAllocator {
    let devices = [
        "nvme0",
        "virtio-blk0",
        "virtio-net0",
        "gpu0",
        "vfio-0000:00:05.0",
    ]
    .map(owner);
    let all: Vec<_> = a.iter().collect();
    for (i, range) in all.into_iter().enumerate() {
        if i % 7 != 0 {
            a.set_owner(&range, Some(devices[i % 5].clone())).unwrap();
        }
    }
    a
}

/// An x86_64 VM with a few devices, tagged.
fn x86_64_set() -> ResourceSet {
    let mut vm = ResourceSet::x86_64();
    for (name, bar) in [
        ("virtio-net0", 0x1000),
        ("virtio-blk0", 0x4000),
        ("nvme0", 0x4000),
    ] {
        let o = owner(name);
        vm.owned_by(&o).allocate_id("legacy_gsi").unwrap();
        vm.owned_by(&o)
            .allocate("mmio32", bar, bar, AllocPolicy::FirstMatch)
            .unwrap();
    }
    let nvme = owner("nvme0");
    vm.owned_by(&nvme).allocate_ids("msi_gsi", 32, 32).unwrap();
    vm.owned_by(&nvme)
        .allocate("mmio64", 1 << 20, 1 << 20, AllocPolicy::FirstMatch)
        .unwrap();
    let serial = owner("serial0");
    vm.owned_by(&serial)
        .allocate("pio", 8, 1, AllocPolicy::ExactMatch(0x3f8))
        .unwrap();
    vm.allocate("system_memory", 0x1000, 0x10, AllocPolicy::FirstMatch)
        .unwrap();
    vm
}

/// An aarch64 VM with a few devices, tagged.
fn aarch64_set() -> ResourceSet {
    let mut vm = ResourceSet::aarch64();
    for name in ["serial0", "rtc0", "virtio-net0", "virtio-blk0"] {
        let o = owner(name);
        vm.owned_by(&o).allocate_id("spi").unwrap();
        vm.owned_by(&o)
            .allocate("mmio32", 0x1000, 0x1000, AllocPolicy::FirstMatch)
            .unwrap();
    }
    let gpu = owner("gpu0");
    vm.owned_by(&gpu).allocate_ids("msi_gsi", 8, 8).unwrap();
    vm.owned_by(&gpu)
        .allocate("mmio64", 1 << 28, 1 << 28, AllocPolicy::FirstMatch)
        .unwrap();
    vm.allocate("system_memory", 0x1_0000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    vm
}

/// A delta of the tagged legacy GSIs: a device unplugged and another
/// plugged on its line, an untagged line given an owner, a new fixed line.
fn id_delta() -> Delta {
    let older = tagged_legacy_gsi();
    let mut newer = older.clone();
    newer.free_owner("virtio-net0");
    newer
        .owned_by(&owner("virtio-vsock0"))
        .allocate_id()
        .unwrap();
    newer.set_owner(6..=6, Some(owner("virtio-rng0"))).unwrap();
    newer.allocate_id_at(9).unwrap();
    Delta::between(&older, &newer).unwrap()
}

/// A delta of the tagged port I/O space.
fn address_delta() -> Delta {
    let older = tagged_pio();
    let mut newer = older.clone();
    newer.free_owner("i8042");
    newer
        .owned_by(&owner("virtio-pci0"))
        .allocate(0x40, 0x40, AllocPolicy::LastMatch)
        .unwrap();
    Delta::between(&older, &newer).unwrap()
}

/// A delta of a VM: its virtio-net device unplugged and a new one plugged.
fn set_delta(older: &ResourceSet) -> Delta {
    let mut newer = older.clone();
    newer.free_owner("virtio-net0");
    let net1 = owner("virtio-net1");
    let (gsi, mmio) = match older.ids("legacy_gsi") {
        Some(_) => ("legacy_gsi", "mmio32"),
        None => ("spi", "mmio32"),
    };
    newer.owned_by(&net1).allocate_id(gsi).unwrap();
    newer
        .owned_by(&net1)
        .allocate(mmio, 0x2000, 0x1000, AllocPolicy::LastMatch)
        .unwrap();
    Delta::between(older, &newer).unwrap()
}

/// 10,000 live allocations of mixed sizes and alignments, placed by every
/// policy, with frees along the way.
fn fragmented_addresses() -> AddressAllocator {
    let mut rng = Rng(0x5eed_0001);
    let base = 1u64 << 32;
    let mut a = AddressAllocator::new(base, 1 << 38).unwrap();
    let mut live: Vec<RangeInclusive> = Vec::new();
    while a.len() < 10_000 {
        if rng.below(100) < 15 && !live.is_empty() {
            let i = rng.below(live.len() as u64) as usize;
            a.free(&live.swap_remove(i)).unwrap();
            continue;
        }
        let size = match rng.below(4) {
            0 => rng.pick(&[0x1000, 0x2000, 0x4000, 0x10000]),
            1 => 0x1000 * (1 + rng.below(16)),
            2 => 0x10 * (1 + rng.below(256)),
            _ => rng.pick(&[0x10_0000, 0x20_0000, 0x40_0000]),
        };
        let align = rng.pick(&[1, 0x10, 0x1000, 0x10000, 0x20_0000]);
        let policy = match rng.below(10) {
            0..=4 => AllocPolicy::FirstMatch,
            5..=7 => AllocPolicy::LastMatch,
            _ => AllocPolicy::ExactMatch(base + (rng.below(1 << 38) & !(align - 1))),
        };
        if let Ok(range) = a.allocate(size, align, policy) {
            live.push(range);
        }
    }
    a
}

/// Ids 0..=65535 after allocating single ids, given ids and aligned blocks,
/// and freeing some of each.
fn fragmented_ids() -> IdAllocator {
    let mut rng = Rng(0x5eed_0002);
    let mut a = IdAllocator::new(0, 0xffff).unwrap();
    let mut blocks = Vec::new();
    for _ in 0..20_000 {
        match rng.below(10) {
            0..=2 => {
                let _ = a.allocate_id();
            }
            3..=4 => {
                let _ = a.allocate_id_at(rng.below(0x1_0000) as u32);
            }
            5 => {
                let count = 1 + rng.below(32) as u32;
                let align = 1 << rng.below(6);
                if let Ok(block) = a.allocate_ids(count, align) {
                    blocks.push(block);
                }
            }
            6..=8 => {
                let _ = a.free_id(rng.below(0x1_0000) as u32);
            }
            _ => {
                if !blocks.is_empty() {
                    let i = rng.below(blocks.len() as u64) as usize;
                    let _ = a.free_ids(blocks.swap_remove(i));
                }
            }
        }
    }
    a
}

#[test]
fn golden_states_are_what_their_names_say() {
    let a = fragmented_addresses();
    assert_eq!(a.len(), 10_000);
    a.check_invariants().unwrap();
    let ids = fragmented_ids();
    ids.check_invariants().unwrap();
    assert!(ids.runs().count() > 1_000, "{}", ids.runs().count());
    assert_eq!(
        legacy_gsi().runs().collect::<Vec<_>>(),
        vec![5..=5, 7..=8, 20..=20]
    );
    assert_eq!(
        system_memory().iter().collect::<Vec<_>>(),
        vec![
            r(0, 0x9_fbff),
            r(0xf_0000, 0xf_ffff),
            r(0x10_0000, 0xbfff_ffff),
            r(1 << 32, (1 << 32) + (2 << 30) - 1)
        ]
    );
    assert_eq!(mmio32().end(), 0xfebf_ffff);
    // The version 2 states carry what their names say.
    assert!(tagged(fragmented_ids()).has_owners());
    assert!(tagged_addresses(fragmented_addresses()).has_owners());
    assert_eq!(tagged_legacy_gsi().owner_at(20), Some(&owner("serial0")));
    for set in [x86_64_set(), aarch64_set()] {
        set.check_invariants().unwrap();
        assert!(set.has_owners());
    }
    for (delta, changes) in [(id_delta(), 5), (address_delta(), 3)] {
        assert_eq!(delta.diff().len(), changes, "{delta}");
    }
    for older in [x86_64_set(), aarch64_set()] {
        let delta = set_delta(&older);
        assert_eq!(delta.diff().pools().len(), 2, "{delta}");
        assert!(delta.apply(&older).is_ok());
    }
}
