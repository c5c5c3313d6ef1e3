// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Encoding and decoding allocator state: our format (checksummed, fully
//! validated on decode) against vm-allocator 0.1.4 serialised with bincode
//! 1.3.3 (no checksum, no validation), in one run; and the yardstick of
//! decoding, `decode/varints_into_vec`: the same file's varints parsed into
//! a `Vec<(u64, u64)>`, nothing checked or built.
//!
//! Every state holds `n` page-sized, page-aligned allocations packed from the
//! start of a 1 TiB space at 4 GiB. Bytes per allocation are printed to
//! stderr once. Run with `cargo bench --bench format`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

mod common;

use common::{ours_with, upstream_with, SIZES};

fn encode_decode(c: &mut Criterion) {
    let states: Vec<_> = SIZES
        .iter()
        .map(|&n| (n, ours_with(n), upstream_with(n)))
        .collect();

    eprintln!("bytes per allocation (packed pages):");
    for (n, ours, up) in &states {
        let our_len = ours.to_bytes().len();
        let up_len = bincode::serialize(up).unwrap().len();
        eprintln!(
            "  n = {n:>6}: ours {our_len:>8} B = {:.2} B/alloc, upstream+bincode {up_len:>8} B = {:.2} B/alloc",
            our_len as f64 / *n as f64,
            up_len as f64 / *n as f64,
        );
    }

    let mut group = c.benchmark_group("encode");
    for (n, ours, up) in &states {
        group.throughput(Throughput::Elements(*n));
        group.bench_with_input(BenchmarkId::new("ours", n), n, |b, _| {
            b.iter(|| black_box(ours.to_bytes()))
        });
        group.bench_with_input(BenchmarkId::new("upstream_bincode", n), n, |b, _| {
            b.iter(|| black_box(bincode::serialize(up).unwrap()))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("decode");
    for (n, ours, up) in &states {
        let our_bytes = ours.to_bytes();
        let up_bytes = bincode::serialize(up).unwrap();
        group.throughput(Throughput::Elements(*n));
        group.bench_with_input(BenchmarkId::new("ours_validated", n), n, |b, _| {
            b.iter(|| black_box(vm_allocator::AddressAllocator::from_bytes(&our_bytes).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("upstream_bincode", n), n, |b, _| {
            b.iter(|| {
                black_box(bincode::deserialize::<upstream::AddressAllocator>(&up_bytes).unwrap())
            })
        });
        // The physics of the format: the same file's varints, parsed into
        // a `Vec<(u64, u64)>` (gap, length - 1) without any check.
        assert_eq!(parse_varints(&our_bytes).len() as u64, *n);
        group.bench_with_input(BenchmarkId::new("varints_into_vec", n), n, |b, _| {
            b.iter(|| black_box(parse_varints(black_box(&our_bytes))))
        });
    }
    group.finish();
}

/// The allocations of a version 2 address allocator file as (gap, length
/// - 1) pairs: the varints read one after the other, nothing checked.
fn parse_varints(bytes: &[u8]) -> Vec<(u64, u64)> {
    let mut pos = vm_allocator::format::MAGIC.len() + 3; // version, kind
    let mut next = || {
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let byte = bytes[pos];
            pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return value;
            }
            shift += 7;
        }
    };
    next(); // body length
    next(); // owners in the table
    next(); // generation
    next(); // space start
    next(); // space end
    let count = next() as usize;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let gap = next();
        let len_minus_one = next();
        next(); // owner
        out.push((gap, len_minus_one));
    }
    out
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = encode_decode
}
criterion_main!(benches);
