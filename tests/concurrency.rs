// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! A device manager's `ResourceSet` behind a `Mutex`, used from several
//! threads at once: one thread allocates and frees (with owners, and in
//! transactions, some of which fail), the others take snapshots (a clone
//! under the lock) and encode them with the lock released, while the set
//! keeps changing. Every encoded snapshot must decode to exactly the state
//! the writer recorded at its generation: none is torn, none changed after
//! it was taken.

#[path = "support/rng.rs"]
mod rng;

use rng::Rng;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use vm_allocator::{AllocPolicy, Owner, RangeInclusive, ResourceSet, SetError};

/// Mutating critical sections the writer runs.
const WRITES: usize = 3000;
/// Reader threads.
const READERS: usize = 3;
/// The writer waits for every reader to take a new snapshot this often,
/// so that snapshots are taken all along, whatever the scheduler does.
const RENDEZVOUS_EVERY: usize = 5;
/// Fixed seed: every run makes the same writes.
const SEED: u64 = 0x5eed_0fa1_10c8;

/// What the writer saw at one generation: the state (an O(1) clone) and
/// its encoding, made at that moment.
struct Recorded {
    state: ResourceSet,
    bytes: Vec<u8>,
}

/// What the writer did, counted.
#[derive(Debug, Default)]
struct Writes {
    allocations: usize,
    frees: usize,
    unplugs: usize,
    committed: usize,
    rolled_back: usize,
}

/// One step of the writer, under the lock; `true` if it changed the set.
fn write_once(
    set: &mut ResourceSet,
    rng: &mut Rng,
    owners: &[Owner],
    held: &mut Vec<(&'static str, RangeInclusive)>,
    writes: &mut Writes,
) -> bool {
    let before = set.generation();
    let owner = &owners[rng.below(owners.len() as u64) as usize];
    match rng.below(10) {
        // A device's MMIO BAR.
        0..=2 => {
            let pool = ["mmio32", "mmio64", "pio"][rng.below(3) as usize];
            let size = 1u64 << (4 + rng.below(12));
            let policy = if rng.below(2) == 0 {
                AllocPolicy::FirstMatch
            } else {
                AllocPolicy::LastMatch
            };
            if let Ok(r) = set.owned_by(owner).allocate(pool, size, size, policy) {
                held.push((pool, r));
                writes.allocations += 1;
            }
        }
        // Interrupts.
        3 | 4 => {
            let pool = ["legacy_gsi", "msi_gsi"][rng.below(2) as usize];
            if set.owned_by(owner).allocate_id(pool).is_ok() {
                writes.allocations += 1;
            }
        }
        // Free one BAR.
        5 => {
            if !held.is_empty() {
                let (pool, r) = held.swap_remove(rng.below(held.len() as u64) as usize);
                set.free(pool, &r).expect("a BAR the writer holds");
                writes.frees += 1;
            }
        }
        // Hot-unplug: everything a device holds.
        6 => {
            let freed = set.free_owner(owner);
            writes.unplugs += usize::from(!freed.is_empty());
            held.retain(|(pool, r)| !freed.iter().any(|(p, f)| p == pool && f == r));
        }
        // Hot-plug in a transaction: BARs and vectors, all or nothing; one
        // in three asks for a BAR that cannot fit and rolls back.
        _ => {
            let doomed = rng.below(3) == 0;
            let bars = 1 + rng.below(3);
            let mut tx = set.transaction();
            let mut got = Vec::new();
            let mut ok = true;
            for _ in 0..bars {
                let size = 1u64 << (12 + rng.below(8));
                match tx
                    .owned_by(owner)
                    .allocate("mmio64", size, size, AllocPolicy::FirstMatch)
                {
                    Ok(r) => got.push(("mmio64", r)),
                    Err(_) => ok = false,
                }
            }
            ok &= tx.owned_by(owner).allocate_ids("msi_gsi", 4, 4).is_ok();
            if doomed {
                let err = tx
                    .owned_by(owner)
                    .allocate("mmio32", 1 << 40, 1 << 12, AllocPolicy::FirstMatch)
                    .unwrap_err();
                assert!(matches!(err.error(), SetError::Pool { .. }), "{err}");
                ok = false;
            }
            match tx.commit() {
                Ok(()) => {
                    assert!(ok, "a transaction with a failed step committed");
                    held.extend(got);
                    writes.committed += 1;
                }
                Err(_) => {
                    assert!(!ok, "a transaction without a failed step did not commit");
                    writes.rolled_back += 1;
                }
            }
        }
    }
    set.generation() != before
}

#[test]
fn snapshots_taken_while_allocating_are_never_torn() {
    let shared = Arc::new(Mutex::new(ResourceSet::x86_64()));
    let done = Arc::new(AtomicBool::new(false));
    // Snapshots taken so far, by each reader.
    let taken: Arc<Vec<AtomicUsize>> =
        Arc::new((0..READERS).map(|_| AtomicUsize::new(0)).collect());

    let readers: Vec<_> = (0..READERS)
        .map(|me| {
            let (shared, done, taken) = (shared.clone(), done.clone(), taken.clone());
            thread::spawn(move || {
                let mut seen: Vec<(u64, Vec<u8>)> = Vec::new();
                loop {
                    // The writer's last write is seen before `done`.
                    let last = done.load(Ordering::Acquire);
                    let snapshot = shared.lock().unwrap().clone();
                    taken[me].fetch_add(1, Ordering::Release);
                    let generation = snapshot.generation();
                    if seen.last().is_some_and(|(g, _)| *g == generation) {
                        // Nothing new: let the writer run.
                        thread::yield_now();
                    } else {
                        // Encoded with the lock released, while the set
                        // changes.
                        seen.push((generation, snapshot.to_bytes()));
                    }
                    if last {
                        return seen;
                    }
                }
            })
        })
        .collect();

    let owners: Vec<Owner> = ["virtio-net0", "virtio-blk0", "nvme0", "gpu0"]
        .iter()
        .map(|n| Owner::new(n).unwrap())
        .collect();
    let mut rng = Rng(SEED);
    let mut held = Vec::new();
    let mut history: BTreeMap<u64, Recorded> = BTreeMap::new();
    {
        let set = shared.lock().unwrap();
        let recorded = Recorded {
            state: set.clone(),
            bytes: set.to_bytes(),
        };
        history.insert(set.generation(), recorded);
    }
    let mut marks = [0; READERS];
    let mut writes = Writes::default();
    for i in 0..WRITES {
        {
            let mut set = shared.lock().unwrap();
            let generation = set.generation();
            let changed = write_once(&mut set, &mut rng, &owners, &mut held, &mut writes);
            assert_eq!(changed, set.generation() != generation);
            if changed {
                assert!(set.generation() > generation);
                let recorded = Recorded {
                    state: set.clone(),
                    bytes: set.to_bytes(),
                };
                assert!(history.insert(set.generation(), recorded).is_none());
            }
        }
        if i % RENDEZVOUS_EVERY == 0 {
            // Wait (without the lock) until every reader took a snapshot
            // since the last rendezvous; a reader that died (panicked) is
            // not waited for, its join reports it.
            for ((mark, count), reader) in marks.iter_mut().zip(taken.iter()).zip(&readers) {
                while count.load(Ordering::Acquire) == *mark && !reader.is_finished() {
                    thread::yield_now();
                }
                *mark = count.load(Ordering::Acquire);
            }
        }
    }
    done.store(true, Ordering::Release);
    let seen: Vec<Vec<(u64, Vec<u8>)>> = readers.into_iter().map(|r| r.join().unwrap()).collect();

    // The writer did a bit of everything.
    assert!(
        writes.allocations > 500
            && writes.frees > 100
            && writes.unplugs > 100
            && writes.committed > 100
            && writes.rolled_back > 100,
        "{writes:?}"
    );
    // The recorded states never changed after they were recorded, and
    // each differs from the one before.
    let mut previous: Option<&Recorded> = None;
    for (generation, recorded) in &history {
        assert_eq!(recorded.state.generation(), *generation);
        assert_eq!(
            recorded.state.to_bytes(),
            recorded.bytes,
            "generation {generation}"
        );
        recorded.state.check_invariants().unwrap();
        if let Some(p) = previous {
            assert!(p.bytes != recorded.bytes, "generation {generation}");
        }
        previous = Some(recorded);
    }
    let final_generation = *history.keys().last().unwrap();
    assert!(
        final_generation > WRITES as u64 / 2,
        "only {final_generation} generations"
    );

    // Every snapshot is exactly the state recorded at its generation.
    let mut generations_seen = std::collections::BTreeSet::new();
    for (reader, snapshots) in seen.iter().enumerate() {
        let mut previous = 0;
        for (generation, bytes) in snapshots {
            assert!(*generation >= previous, "reader {reader} went back in time");
            previous = *generation;
            let recorded = history.get(generation).unwrap_or_else(|| {
                panic!("reader {reader} saw unrecorded generation {generation}")
            });
            assert!(
                *bytes == recorded.bytes,
                "reader {reader}: the snapshot at generation {generation} is torn"
            );
            let decoded = ResourceSet::from_bytes(bytes).unwrap();
            assert_eq!(decoded, recorded.state, "generation {generation}");
            assert_eq!(decoded.generation(), *generation);
            generations_seen.insert(*generation);
        }
        assert_eq!(previous, final_generation, "reader {reader} missed the end");
    }
    // The rendezvous make every reader snapshot all along the run.
    assert!(
        generations_seen.len() > WRITES / RENDEZVOUS_EVERY / 2,
        "only {} generations were snapshotted",
        generations_seen.len()
    );
    eprintln!(
        "{writes:?}; {} generations, {} snapshotted, {} snapshots",
        history.len(),
        generations_seen.len(),
        seen.iter().map(Vec::len).sum::<usize>()
    );
}
