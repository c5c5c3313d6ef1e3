// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Writes seed corpora for every fuzz target (run by `fuzz/make_corpora.sh`):
//!
//! `make_corpora OUT SNAPSHOTS` writes `OUT/TARGET/NAME` for each target:
//!
//! - `decode_format`: every golden file of `SNAPSHOTS/**/*.bin` up to
//!   16 KiB (the two of 10k allocations would slow every run down), and the
//!   body of each (the target also frames its input as a body of every
//!   kind), plus the files of generated states of every kind in both
//!   versions, and the x86_64 and aarch64 sets with a hot-plug and its
//!   delta;
//! - `decode_serde`: the selector byte the target reads, then each
//!   generated allocator, set, pool, owner and range under each serde
//!   format;
//! - `decode_v0_1`: the selector byte, then generated allocators (without
//!   owners) in the 0.1.x shape under bincode and JSON;
//! - `ops`, `round_trip`, `decode_mutated`, `apply_delta`, `history`,
//!   `reconcile`, `decode_journal` (which read their input through
//!   `Arbitrary`): noise of several lengths, and the same golden files as
//!   raw input (journals among them).
//!
//! Everything is deterministic (SplitMix64 from a fixed seed); running it
//! again writes the same files.

use std::fs;
use std::path::{Path, PathBuf};

use arbitrary::{Arbitrary, Unstructured};
use vm_allocator::compat::v0_1::V01;
use vm_allocator::{
    AddressAllocator, AllocPolicy, Delta, IdAllocator, Owner, Pool, RangeInclusive, ResourceSet,
};
use vm_allocator_fuzz::codec::Codec;
use vm_allocator_fuzz::unseal;

#[path = "../../tests/support/rng.rs"]
mod rng;

use rng::Rng;

/// Generated states of each kind.
const GENERATED: u64 = 48;

/// The largest golden file taken as a seed, in bytes.
const MAX_SEED: usize = 16 << 10;

struct Out {
    root: PathBuf,
    written: usize,
    bytes: usize,
}

impl Out {
    fn write(&mut self, target: &str, name: &str, data: &[u8]) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(name), data).unwrap();
        self.written += 1;
        self.bytes += data.len();
    }
}

/// `len` bytes of noise.
fn noise(rng: &mut Rng, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.next() as u8).collect()
}

/// A value of `T` from noise of a random length up to 4 KiB.
fn generate<T: for<'a> Arbitrary<'a>>(rng: &mut Rng) -> T {
    let limit = [64, 256, 1024, 4096][rng.below(4) as usize];
    let len = rng.below(limit) as usize;
    let data = noise(rng, len);
    T::arbitrary(&mut Unstructured::new(&data)).expect("generation never fails")
}

/// Every `.bin` file under `dir`, sorted.
fn golden_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "bin") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// A set as a VMM leaves it after a hot-plug, and the delta of the hot-plug.
fn hot_plug(mut set: ResourceSet, gsi: &str) -> (ResourceSet, Delta) {
    let before = set.clone();
    let net0 = Owner::new("virtio-net0").unwrap();
    set.owned_by(&net0).allocate_id(gsi).unwrap();
    set.owned_by(&net0)
        .allocate("mmio32", 0x4000, 0x4000, AllocPolicy::FirstMatch)
        .unwrap();
    set.allocate_ids("msi_gsi", 4, 4).unwrap();
    let delta = Delta::between(&before, &set).unwrap();
    (set, delta)
}

/// The selector byte of `decode_serde` for `format` (0 bincode, 1
/// postcard, 2 JSON, 3 bitcode) and `ty` (0 addresses, 1 ids, 2 set,
/// 3 owner, 4 range, 5 pool).
fn serde_selector(format: u8, ty: u8) -> u8 {
    ty * 4 + format
}

const SERDE_FORMATS: [(u8, Codec); 4] = [
    (0, Codec::Bincode),
    (1, Codec::Postcard),
    (2, Codec::Json),
    (3, Codec::Bitcode),
];

fn with_selector(selector: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![selector];
    out.extend_from_slice(bytes);
    out
}

fn main() {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(args.next().expect("usage: make_corpora OUT SNAPSHOTS"));
    let snapshots = PathBuf::from(args.next().expect("usage: make_corpora OUT SNAPSHOTS"));
    let mut out = Out {
        root,
        written: 0,
        bytes: 0,
    };
    let mut rng = Rng(0x5eed_f022);

    // The golden files, and their bodies.
    let golden = golden_files(&snapshots);
    assert!(!golden.is_empty(), "no golden files under {snapshots:?}");
    for path in &golden {
        let data = fs::read(path).unwrap();
        // The 10k-allocation files (about 50 KiB) would make every input
        // that long and slow each run down a hundredfold; generated states
        // below cover trees of several levels.
        if data.len() > MAX_SEED {
            continue;
        }
        let version = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy();
        let name = format!("{version}_{}", path.file_name().unwrap().to_string_lossy());
        out.write("decode_format", &name, &data);
        if let Some((_, _, body)) = unseal(&data) {
            out.write("decode_format", &format!("body_{name}"), body);
        }
        // The targets that read through Arbitrary take any bytes.
        {
            for target in [
                "round_trip",
                "decode_mutated",
                "apply_delta",
                "ops",
                "history",
                "reconcile",
                "decode_journal",
            ] {
                out.write(target, &name, &data);
            }
        }
    }

    // Files of generated states of every kind, in both versions.
    let mut files = Vec::new();
    for i in 0..GENERATED {
        let ids: IdAllocator = generate(&mut rng);
        let addresses: AddressAllocator = generate(&mut rng);
        let set: ResourceSet = generate(&mut rng);
        let delta: Delta = generate(&mut rng);
        for version in [1, 2] {
            files.push((format!("ids_{i}_v{version}"), ids.to_bytes_version(version)));
            files.push((
                format!("addresses_{i}_v{version}"),
                addresses.to_bytes_version(version),
            ));
        }
        files.push((format!("set_{i}"), Ok(set.to_bytes())));
        files.push((format!("delta_{i}"), Ok(delta.to_bytes())));

        // The same states under serde, and the allocators in 0.1.x's shape.
        let owner: Owner = generate(&mut rng);
        let range: RangeInclusive = generate(&mut rng);
        let pool: Pool = generate(&mut rng);
        for (format, codec) in SERDE_FORMATS {
            let encodings = [
                (0, codec.encode(&addresses)),
                (1, codec.encode(&ids)),
                (2, codec.encode(&set)),
                (3, codec.encode(&owner)),
                (4, codec.encode(&range)),
                (5, codec.encode(&pool)),
            ];
            for (ty, bytes) in encodings {
                out.write(
                    "decode_serde",
                    &format!("{i}_{codec:?}_{ty}"),
                    &with_selector(serde_selector(format, ty), &bytes),
                );
            }
        }
        let plain = addresses.without_owners();
        out.write(
            "decode_v0_1",
            &format!("addresses_{i}_bincode"),
            &with_selector(0, &Codec::Bincode.encode(&V01(plain.clone()))),
        );
        out.write(
            "decode_v0_1",
            &format!("addresses_{i}_json"),
            &with_selector(2, &Codec::Json.encode(&V01(plain))),
        );
        // 0.1.x lists every free id below the next one: small ranges only.
        if ids.range_end() - ids.range_base() < 4096 {
            let plain = ids.without_owners();
            out.write(
                "decode_v0_1",
                &format!("ids_{i}_bincode"),
                &with_selector(1, &Codec::Bincode.encode(&V01(plain.clone()))),
            );
            out.write(
                "decode_v0_1",
                &format!("ids_{i}_json"),
                &with_selector(3, &Codec::Json.encode(&V01(plain))),
            );
        }
    }
    // The layouts of a VMM, after a hot-plug, and its delta.
    for (name, set, gsi) in [
        ("x86_64", ResourceSet::x86_64(), "legacy_gsi"),
        ("aarch64", ResourceSet::aarch64(), "spi"),
    ] {
        files.push((format!("{name}_set"), Ok(set.to_bytes())));
        let (after, delta) = hot_plug(set, gsi);
        files.push((format!("{name}_hot_plugged"), Ok(after.to_bytes())));
        files.push((format!("{name}_delta"), Ok(delta.to_bytes())));
    }
    for (name, file) in files {
        // Version 1 refuses owners: nothing to write then.
        let Ok(file) = file else { continue };
        out.write("decode_format", &name, &file);
        if let Some((_, _, body)) = unseal(&file) {
            out.write("decode_format", &format!("body_{name}"), body);
        }
    }

    // Noise for the targets that read their input through `Arbitrary`.
    for target in [
        "round_trip",
        "decode_mutated",
        "apply_delta",
        "ops",
        "history",
        "reconcile",
        "decode_journal",
    ] {
        for (i, len) in [16usize, 64, 256, 1024, 4096].into_iter().enumerate() {
            for j in 0..6 {
                let data = noise(&mut rng, len);
                out.write(target, &format!("noise_{i}_{j}"), &data);
            }
        }
    }
    println!(
        "wrote {} seed files ({} KiB) under {}",
        out.written,
        out.bytes / 1024,
        out.root.display()
    );
}
