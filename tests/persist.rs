// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Saving to and loading from paths, and crash safety with real processes:
//! a child process saves one state after another in a loop and is killed
//! with SIGKILL at random moments; after every kill the file must hold a
//! complete state, never a torn one. The same for a journal that a child
//! appends to: no acknowledged append is lost. (Crashes after every single step and
//! partial write are injected by the unit tests of `src/format/file.rs`.)
//! Files of every kind are saved and loaded in both format versions.

#![cfg(feature = "std")]

#[path = "support/rng.rs"]
mod rng;

use rng::Rng;
use std::io;
use std::time::{Duration, Instant};

use vm_allocator::format::{DecodeErrorKind, Field, FileKind, ReadError};
use vm_allocator::{
    AddressAllocator, AllocPolicy, Delta, IdAllocator, Journal, JournalError, Owner, ResourceSet,
};

/// Set in the child process to the path it must keep saving to.
const CHILD_ENV: &str = "VMALLOC_PERSIST_TEST_CHILD";

/// The k-th state the child saves: the allocation `0..=k` says which one it
/// is, and a varying number of pages makes consecutive files differ in size.
fn state(k: u64) -> AddressAllocator {
    let mut a = AddressAllocator::new(0, 1 << 40).unwrap();
    a.allocate(k + 1, 1, AllocPolicy::ExactMatch(0)).unwrap();
    for _ in 0..100 + k % 400 {
        a.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch).unwrap();
    }
    a
}

/// Which state `a` is, checking that it is exactly that state.
fn which(a: &AddressAllocator) -> u64 {
    let k = a.iter().next().expect("a state has allocations").end();
    assert_eq!(a, &state(k), "a state that was never written");
    k
}

/// Not a test of its own: the body of the child process. Without the
/// environment variable (a normal test run) it returns at once.
#[test]
fn child_process_saves_in_a_loop() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut k = match AddressAllocator::read_from_path(&path) {
        Ok(a) => which(&a),
        Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => panic!("the child found a damaged file: {e}"),
    };
    loop {
        k += 1;
        state(k).write_to_path(&path).unwrap();
    }
}

#[cfg(unix)]
#[test]
fn killed_writers_leave_the_old_or_the_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.vmalloc");
    let seed = std::env::var("VMALLOC_KILL_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0x5eed_0fc0_ffee)
        | 1;
    eprintln!("kill test seed: {seed} (set VMALLOC_KILL_SEED to replay another)");
    let mut rng = Rng(seed);
    let exe = std::env::current_exe().unwrap();
    let mut last = 0;
    // Bounded in time whatever the machine: at most 40 rounds, at most 30 s.
    let deadline = Instant::now() + Duration::from_secs(30);
    for round in 0..40 {
        let mut child = std::process::Command::new(&exe)
            .args([
                "--exact",
                "child_process_saves_in_a_loop",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(5 + rng.below(60)));
        // Child::kill sends SIGKILL: no destructor, no clean-up runs.
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "round {round} (seed {seed}): the child stopped by itself: {status:?}"
        );
        match AddressAllocator::read_from_path(&path) {
            Ok(a) => {
                let k = which(&a);
                assert!(
                    k >= last,
                    "round {round} (seed {seed}): state {k} after state {last}"
                );
                last = k;
            }
            Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
                assert_eq!(last, 0, "round {round} (seed {seed}): the file disappeared")
            }
            Err(e) => panic!("round {round} (seed {seed}): torn file: {e}"),
        }
        if Instant::now() > deadline {
            break;
        }
    }
    assert!(last > 0, "seed {seed}: no child ever completed a save");
    // Whatever the kills left behind, saving and loading still work, and
    // the next save removes every leftover: the writers that made them are
    // dead. (Each child's own saves also removed the leftovers of the ones
    // before, so they never pile up.)
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count() - 1;
    eprintln!("{last} saves completed, {leftovers} temporary files left by kills");
    assert!(
        leftovers <= 1,
        "seed {seed}: {leftovers} leftovers piled up across the kills"
    );
    let final_state = state(last + 1);
    final_state.write_to_path(&path).unwrap();
    assert_eq!(
        AddressAllocator::read_from_path(&path).unwrap(),
        final_state
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "seed {seed}: a leftover survived the next save"
    );
}

#[test]
fn saves_replace_and_loads_validate() {
    let dir = tempfile::tempdir().unwrap();
    let ids_path = dir.path().join("gsi");
    let mut gsi = IdAllocator::new(5, 23).unwrap();
    gsi.write_to_path(&ids_path).unwrap();
    gsi.allocate_id().unwrap();
    gsi.write_to_path(&ids_path).unwrap();
    assert_eq!(IdAllocator::read_from_path(&ids_path).unwrap(), gsi);
    assert_eq!(std::fs::read(&ids_path).unwrap(), gsi.to_bytes());
    // Only the target is left in the directory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    // The other kind's reader refuses it, with the decode error.
    match AddressAllocator::read_from_path(&ids_path) {
        Err(ReadError::Decode(e)) => {
            assert_eq!((e.offset, e.field), (10, Field::Kind));
            assert_eq!(
                e.kind,
                DecodeErrorKind::WrongKind {
                    expected: FileKind::AddressAllocator,
                    found: 1
                }
            );
        }
        other => panic!("{other:?}"),
    }

    // A damaged file says where: the checksum, right after the body.
    let mut bytes = gsi.to_bytes();
    bytes[14] ^= 0x40;
    let checksum_at = bytes.len() - 4;
    std::fs::write(&ids_path, &bytes).unwrap();
    let e = IdAllocator::read_from_path(&ids_path).unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "invalid state file: checksum at byte {checksum_at}: checksum mismatch"
        )),
        "{e}"
    );
    assert!(std::error::Error::source(&e).is_some());
}

#[test]
fn every_kind_saves_and_loads_in_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state");
    let mut gsi = IdAllocator::new(5, 23).unwrap();
    gsi.allocate_id().unwrap();
    // Version 2 by default: the generation comes back.
    gsi.write_to_path(&path).unwrap();
    let back = IdAllocator::read_from_path(&path).unwrap();
    assert_eq!((&back, back.generation()), (&gsi, gsi.generation()));
    assert_eq!(std::fs::read(&path).unwrap()[8..10], [2, 0]);
    // Version 1 for an older host: the same state, generation 0.
    gsi.write_to_path_version(&path, 1).unwrap();
    assert_eq!(std::fs::read(&path).unwrap()[8..10], [1, 0]);
    let back = IdAllocator::read_from_path(&path).unwrap();
    assert_eq!((&back, back.generation()), (&gsi, 0));

    // What version 1 cannot hold is refused, and the old file stays.
    let serial = Owner::new("serial0").unwrap();
    let mut tagged = gsi.clone();
    tagged.owned_by(&serial).allocate_id().unwrap();
    let e = tagged.write_to_path_version(&path, 1).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(
        e.to_string()
            .starts_with("format version 1 cannot hold the owner"),
        "{e}"
    );
    assert_eq!(IdAllocator::read_from_path(&path).unwrap(), gsi);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    // Sets and deltas.
    let set_path = dir.path().join("vm");
    let mut vm = ResourceSet::x86_64();
    let early = vm.clone();
    vm.owned_by(&serial)
        .allocate("pio", 8, 1, AllocPolicy::ExactMatch(0x3f8))
        .unwrap();
    vm.write_to_path(&set_path).unwrap();
    assert_eq!(ResourceSet::read_from_path(&set_path).unwrap(), vm);
    let e = vm.write_to_path_version(&set_path, 1).unwrap_err();
    assert_eq!(e.to_string(), "format version 1 cannot hold a resource set");
    let delta_path = dir.path().join("final.delta");
    let delta = Delta::between(&early, &vm).unwrap();
    delta.write_to_path(&delta_path).unwrap();
    let back = Delta::read_from_path(&delta_path).unwrap();
    assert_eq!(back.apply(&early).unwrap(), vm);
    assert!(delta.write_to_path_version(&delta_path, 1).is_err());
    // A delta file is not a set file.
    match ResourceSet::read_from_path(&delta_path) {
        Err(ReadError::Decode(e)) => assert_eq!(
            e.kind,
            DecodeErrorKind::WrongKind {
                expected: FileKind::ResourceSet,
                found: 4
            }
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn io_errors_are_reported_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let missing = IdAllocator::read_from_path(dir.path().join("missing")).unwrap_err();
    assert!(matches!(&missing, ReadError::Io(e) if e.kind() == io::ErrorKind::NotFound));
    assert!(missing
        .to_string()
        .starts_with("cannot read the state file: "));
    // Saving into a directory that does not exist fails and leaves nothing.
    let nowhere = dir.path().join("no/such/dir/file");
    let e = IdAllocator::new(0, 1)
        .unwrap()
        .write_to_path(&nowhere)
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    // A directory is not a state file.
    assert!(matches!(
        AddressAllocator::read_from_path(dir.path()),
        Err(ReadError::Io(_))
    ));
}

// ---------------------------------------------------------------------------
// Journals: a child appends the states of a VM's life, flushing each (or a
// batch), compacting now and then, and says which appends returned; it is
// killed with SIGKILL at random moments. A reader then must find exactly a
// state of that life, at or after the last acknowledged one: never a torn,
// reordered or foreign state, and never damage.

/// Set in the child process to the journal it must keep appending to.
const JOURNAL_CHILD_ENV: &str = "VMALLOC_JOURNAL_TEST_CHILD";

/// The VM the journal starts from.
fn vm_base() -> ResourceSet {
    let mut vm = ResourceSet::new();
    vm.add_id_pool("gsi", 0, 1 << 20).unwrap();
    vm.add_address_pool("mmio", 1 << 32, 1 << 40).unwrap();
    vm
}

/// The edit that takes the VM from generation `g` to `g + 1`: allocate or
/// free, in either pool, with an owner or without, decided by `g` alone.
fn vm_step(vm: &mut ResourceSet, g: u64) {
    let x = Rng(g.wrapping_mul(0x9e37_79b9) | 1).next();
    let who = Owner::new(&format!("dev{}", x % 5)).unwrap();
    let free = x.is_multiple_of(3);
    if x & 8 == 0 {
        match vm.ids("gsi").unwrap().iter().nth((x >> 8) as usize % 64) {
            Some(id) if free => {
                vm.free_id("gsi", id).unwrap();
            }
            _ => {
                vm.owned_by(&who).allocate_id("gsi").unwrap();
            }
        }
    } else {
        let first = vm.addresses("mmio").unwrap().iter().next();
        match first {
            Some(r) if free => vm.free("mmio", &r).unwrap(),
            _ => {
                let size = 0x1000 << ((x >> 4) % 4);
                vm.owned_by(&who)
                    .allocate("mmio", size, 0x1000, AllocPolicy::FirstMatch)
                    .unwrap();
            }
        }
    }
}

/// Not a test of its own: the body of the journal's child process.
#[test]
fn child_process_appends_in_a_loop() {
    use std::io::Write;
    let Ok(path) = std::env::var(JOURNAL_CHILD_ENV) else {
        return;
    };
    let mut journal = match Journal::<ResourceSet>::open(&path) {
        Ok((journal, recovery)) => {
            assert!(!recovery.is_corrupt(), "the child found damage: {recovery}");
            journal
        }
        Err(JournalError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
            Journal::create(&path, &vm_base()).unwrap()
        }
        Err(e) => panic!("the child cannot open the journal: {e}"),
    };
    let mut vm = journal.state().clone();
    let mut out = std::io::stdout();
    loop {
        let g = vm.generation();
        vm_step(&mut vm, g);
        let label = format!("step {}", g + 1);
        match g % 10 {
            // A batch of three, one flush.
            0..=2 => {
                journal.append_buffered_labeled(&vm, &label).unwrap();
                if g % 10 == 2 {
                    journal.sync().unwrap();
                    writeln!(out, "acked {}", g + 1).unwrap();
                }
            }
            _ => {
                journal.append(&vm).unwrap();
                writeln!(out, "acked {}", g + 1).unwrap();
            }
        }
        out.flush().unwrap();
        if g % 97 == 96 {
            journal.compact().unwrap();
            writeln!(out, "acked {}", g + 1).unwrap();
        }
    }
}

#[cfg(unix)]
#[test]
fn killed_journal_writers_lose_no_acknowledged_append() {
    use std::io::BufRead;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vm.journal");
    let seed = std::env::var("VMALLOC_KILL_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0x0a11_0c8e_d5ee)
        | 1;
    eprintln!("journal kill test seed: {seed} (set VMALLOC_KILL_SEED to replay another)");
    let mut rng = Rng(seed);
    let exe = std::env::current_exe().unwrap();
    // The life of the VM: the state at each generation it went through.
    let base = vm_base();
    let mut life = std::collections::BTreeMap::from([(base.generation(), base)]);
    let mut state_at = |g: u64| -> Option<ResourceSet> {
        loop {
            let (&last, state) = life.last_key_value().unwrap();
            if last >= g {
                return life.get(&g).cloned();
            }
            let mut next = state.clone();
            vm_step(&mut next, last);
            life.insert(next.generation(), next);
        }
    };
    let mut last = 0;
    let (mut torn, mut rounds) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    for round in 0..40 {
        let mut child = std::process::Command::new(&exe)
            .args([
                "--exact",
                "child_process_appends_in_a_loop",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(JOURNAL_CHILD_ENV, &path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let acked = Arc::new(AtomicU64::new(0));
        let reader = {
            let acked = acked.clone();
            let stdout = child.stdout.take().unwrap();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if let Some(g) = line.strip_prefix("acked ") {
                        acked.fetch_max(g.parse().unwrap(), Ordering::SeqCst);
                    }
                }
            })
        };
        std::thread::sleep(Duration::from_millis(5 + rng.below(80)));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        reader.join().unwrap();
        assert!(
            !status.success(),
            "round {round} (seed {seed}): the child stopped by itself: {status:?}"
        );
        let acked = acked.load(Ordering::SeqCst);
        match Journal::<ResourceSet>::read(&path) {
            Ok((state, recovery)) => {
                assert!(
                    !recovery.is_corrupt(),
                    "round {round} (seed {seed}): damage after a kill: {recovery}"
                );
                torn += usize::from(recovery.is_torn_tail());
                let g = state.generation();
                assert!(
                    g >= acked && g >= last,
                    "round {round} (seed {seed}): generation {g}, acknowledged {acked}, before {last}"
                );
                assert_eq!(
                    Some(state),
                    state_at(g),
                    "round {round} (seed {seed}): a state the VM never had at generation {g}"
                );
                last = g;
            }
            Err(JournalError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
                assert_eq!(
                    acked, 0,
                    "round {round} (seed {seed}): the journal disappeared"
                )
            }
            Err(e) => panic!("round {round} (seed {seed}): unreadable journal: {e}"),
        }
        rounds += 1;
        if Instant::now() > deadline {
            break;
        }
    }
    eprintln!("{rounds} kills, {last} generations, {torn} torn tails found");
    assert!(
        last > 0,
        "seed {seed}: no child ever acknowledged an append"
    );
    // The journal goes on: a writer opens it, appends and compacts.
    let (mut journal, _) = Journal::<ResourceSet>::open(&path).unwrap();
    let mut next = journal.state().clone();
    vm_step(&mut next, journal.generation());
    journal.append(&next).unwrap();
    journal.compact().unwrap();
    drop(journal);
    assert_eq!(
        Journal::<ResourceSet>::open_strict(&path).unwrap().state(),
        &next
    );
    // Killed compactions leave temporaries; the next open and compaction
    // remove them all, since their writers are dead.
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count() - 1;
    assert_eq!(leftovers, 0, "seed {seed}: {leftovers} leftovers");
}

#[cfg(unix)]
#[test]
fn journal_open_and_compact_remove_dead_writers_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vm.journal");
    let temporary = |n: u32| dir.path().join(format!(".vm.journal.4242-{n}.tmp"));
    let mut vm = vm_base();
    drop(Journal::create(&path, &vm).unwrap());
    // What a compaction killed before its rename leaves behind.
    std::fs::write(temporary(1), b"half a journal").unwrap();
    let (mut journal, _) = Journal::<ResourceSet>::open(&path).unwrap();
    assert!(
        !temporary(1).exists(),
        "open kept a dead writer's temporary"
    );
    std::fs::write(temporary(2), b"half a journal").unwrap();
    // Another journal's temporaries are not ours to remove.
    let other = dir.path().join(".other.journal.4242-3.tmp");
    std::fs::write(&other, b"not ours").unwrap();
    vm_step(&mut vm, 0);
    journal.append(&vm).unwrap();
    journal.compact().unwrap();
    assert!(
        !temporary(2).exists(),
        "compact kept a dead writer's temporary"
    );
    assert!(other.exists());
    drop(journal);
    assert_eq!(
        Journal::<ResourceSet>::open_strict(&path).unwrap().state(),
        &vm
    );
}
