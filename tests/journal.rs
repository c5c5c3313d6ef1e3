// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Journals (FORMAT.md section 13): every kind of state recorded change
//! by change and replayed exactly; records that do not belong (from
//! another journal, out of order, repeated) refused; a torn tail told from
//! damage; every single-bit flip either stops the journal at a record
//! boundary before it or is an error, never a wrong state; and the file
//! API: create, open, open_strict, read, append, sync, compact, the lock.
//! (Crashes at every step and power cuts are in the unit tests of
//! `src/format/journal/file.rs`; kill -9 of a real writer in `persist.rs`.)

#![cfg(feature = "std")]

#[path = "support/rng.rs"]
mod rng;

#[path = "support/journals.rs"]
mod journals;

use std::fmt::Debug;

use journals::{edit_addresses, edit_ids, edit_set, history, journal_of};
use vm_allocator::format::{
    self, AppendError, DecodeErrorKind, DiscardCause, Field, JournalWriter, Recovery,
};
use vm_allocator::{
    AddressAllocator, AllocPolicy, IdAllocator, Journal, JournalError, Owner, ResourceSet,
    Versioned,
};

fn ids_history(seed: u64) -> Vec<(IdAllocator, Option<String>)> {
    history(IdAllocator::new(5, 200).unwrap(), 40, seed, edit_ids)
}

fn addresses_history(seed: u64) -> Vec<(AddressAllocator, Option<String>)> {
    history(
        AddressAllocator::new(0xd000_0000, 0x10_0000).unwrap(),
        40,
        seed,
        edit_addresses,
    )
}

fn set_history(seed: u64) -> Vec<(ResourceSet, Option<String>)> {
    history(ResourceSet::x86_64(), 40, seed, edit_set)
}

/// Replays `bytes` and checks every record against `states`.
fn replays_exactly<S: Versioned + Debug>(states: &[(S, Option<String>)], bytes: &[u8]) {
    let mut replay = format::replay::<S>(bytes).unwrap();
    assert_eq!(replay.base(), &states[0].0);
    let mut seen = 0;
    for (record, (state, label)) in replay.by_ref().zip(&states[1..]) {
        assert_eq!(record.index, seen);
        assert_eq!(&record.state, state);
        assert_eq!(record.generation, state.generation());
        assert_eq!(record.state.generation(), state.generation());
        assert_eq!(record.label, label.as_deref());
        let before = &states[seen as usize].0;
        assert_eq!(
            record.diff,
            vm_allocator::Diff::between(before, state).unwrap()
        );
        seen += 1;
    }
    assert_eq!(seen as usize, states.len() - 1);
    let (end, recovery) = replay.finish();
    assert!(recovery.is_clean(), "{recovery}");
    assert_eq!(recovery.len, bytes.len());
    assert_eq!(end.state(), &states.last().unwrap().0);
    // A listing of every record.
    let listing = format::dump(bytes).unwrap();
    assert!(listing.starts_with("vm-allocator journal\n"), "{listing}");
    assert_eq!(
        listing.matches("\nrecord #").count(),
        states.len() - 1,
        "{listing}"
    );
}

#[test]
fn every_kind_replays_record_by_record() {
    for seed in 1..=8 {
        let ids = ids_history(seed);
        replays_exactly(&ids, &journal_of(&ids, seed).0);
        let addresses = addresses_history(seed);
        replays_exactly(&addresses, &journal_of(&addresses, seed).0);
        let sets = set_history(seed);
        replays_exactly(&sets, &journal_of(&sets, seed).0);
    }
}

#[test]
fn a_journal_continued_from_a_replay_is_the_same_journal() {
    let states = set_history(3);
    let (bytes, ends) = journal_of(&states, 77);
    // Replay the first half, go on writing from where it ended.
    let half = ends[20];
    let (mut writer, recovery) = format::replay::<ResourceSet>(&bytes[..half])
        .unwrap()
        .finish();
    assert!(recovery.is_clean());
    let mut again = bytes[..half].to_vec();
    for (state, label) in &states[21..] {
        writer
            .append_to(state, label.as_deref(), &mut again)
            .unwrap();
    }
    assert_eq!(again, bytes);
}

#[test]
fn appends_refuse_what_is_not_a_later_state_of_the_journal() {
    let mut gsi = IdAllocator::new(5, 23).unwrap();
    let (mut journal, _) = JournalWriter::start(&gsi, 1);
    assert_eq!(
        journal.append(&gsi, None).unwrap_err(),
        AppendError::GenerationNotAbove { last: 0, found: 0 }
    );
    gsi.allocate_id().unwrap();
    let mut other = IdAllocator::new(0, 23).unwrap();
    other.allocate_id().unwrap();
    assert!(matches!(
        journal.append(&other, None),
        Err(AppendError::Shape(_))
    ));
    for bad in ["", "a\nb", &"x".repeat(65)] {
        assert!(matches!(
            journal.append(&gsi, Some(bad)),
            Err(AppendError::Label(_))
        ));
    }
    // Nothing changed: the next record still chains to the header.
    assert_eq!(journal.records(), 0);
    assert!(journal.append(&gsi, Some("\u{2028}fine")).is_ok());
    // A state with no history in common works too (a full diff).
    let mut fresh = IdAllocator::new(5, 23).unwrap();
    for _ in 0..3 {
        fresh.allocate_id().unwrap();
    }
    journal.append(&fresh, None).unwrap();
    assert_eq!(journal.state(), &fresh);
}

/// n page allocations from 4 GiB, as the benchmarks build them.
fn pages(n: u64) -> AddressAllocator {
    let mut a = AddressAllocator::new(1 << 32, 1 << 40).unwrap();
    for _ in 0..n {
        a.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch).unwrap();
    }
    a
}

#[test]
fn a_one_change_record_at_100k_allocations_takes_at_most_64_bytes() {
    let mut mmio = pages(100_000);
    let (mut journal, _) = JournalWriter::start(&mmio, 1);
    mmio.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    let record = journal.append(&mmio, None).unwrap();
    assert!(record.len() <= 64, "{} bytes", record.len());
    let page = mmio.iter().next().unwrap();
    mmio.free(&page).unwrap();
    let record = journal.append(&mmio, None).unwrap();
    assert!(record.len() <= 64, "{} bytes", record.len());

    // A set of Firecracker's pools, with owners, and a label.
    let mut vm = ResourceSet::x86_64();
    vm.add_id_pool("slots", 0, u32::MAX - 1).unwrap();
    let device = Owner::new("virtio-blk12").unwrap();
    for i in 0..100_000u64 {
        let pool = ["mmio32", "mmio64", "slots"][(i % 3) as usize];
        if pool == "slots" {
            vm.owned_by(&device).allocate_id(pool).unwrap();
        } else {
            vm.owned_by(&device)
                .allocate(pool, 0x1000, 0x1000, AllocPolicy::FirstMatch)
                .unwrap();
        }
    }
    let (mut journal, _) = JournalWriter::start(&vm, 1);
    let nvme = Owner::new("nvme0").unwrap();
    vm.owned_by(&nvme)
        .allocate("mmio64", 0x4000, 0x4000, AllocPolicy::FirstMatch)
        .unwrap();
    let record = journal.append(&vm, Some("hot-plug nvme0")).unwrap();
    assert!(record.len() <= 64, "{} bytes", record.len());
}

// ---------------------------------------------------------------------------
// Records that do not belong.

/// The records of `bytes` (ends of the header and of each record).
fn split(bytes: &[u8], ends: &[usize]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let header = bytes[..ends[0]].to_vec();
    let records = ends
        .windows(2)
        .map(|w| bytes[w[0]..w[1]].to_vec())
        .collect();
    (header, records)
}

fn recovery_of<S: Versioned>(bytes: &[u8]) -> (S, Recovery) {
    let (end, recovery) = format::replay::<S>(bytes).unwrap().finish();
    (end.state().clone(), recovery)
}

#[test]
fn records_from_another_journal_out_of_order_or_repeated_are_refused() {
    let states = ids_history(5);
    let (bytes, ends) = journal_of(&states, 1);
    let (header, records) = split(&bytes, &ends);
    // The same states in a journal with another id.
    let (other, other_ends) = journal_of(&states, 2);
    let (_, foreign) = split(&other, &other_ends);
    assert_eq!(records[3].len(), foreign[3].len());
    assert_ne!(
        records[3], foreign[3],
        "the chain differs from the first record on"
    );

    type Case<'a> = (&'a str, Vec<usize>, Option<Vec<u8>>);
    let cases: Vec<Case> = vec![
        ("swapped", vec![0, 1, 3, 2, 4], None),
        ("repeated", vec![0, 1, 2, 2, 3], None),
        ("skipped", vec![0, 1, 3, 4], None),
        ("foreign", vec![0, 1, 2], Some(foreign[3].clone())),
    ];
    for (what, order, extra) in cases {
        let mut forged = header.clone();
        for &i in &order {
            forged.extend(&records[i]);
        }
        if let Some(extra) = &extra {
            forged.extend(extra);
        }
        let (state, recovery) = recovery_of::<IdAllocator>(&forged);
        // It stops right before the first record out of place.
        let good = order
            .iter()
            .enumerate()
            .take_while(|&(k, &i)| k == i)
            .count();
        assert_eq!(recovery.records as usize, good, "{what}: {recovery}");
        assert_eq!(state, states[good].0, "{what}");
        let discard = recovery.discard.unwrap();
        assert_eq!(discard.error.field, Field::RecordChecksum, "{what}");
        assert!(matches!(
            discard.error.kind,
            DecodeErrorKind::ChecksumMismatch { .. }
        ));
        // A last record that follows its own predecessor is sound, and
        // proves damage; anything else at the end looks like a torn write.
        let n = order.len();
        let sound_end = extra.is_none() && order[n - 1] == order[n - 2] + 1;
        assert_eq!(recovery.is_corrupt(), sound_end, "{what}: {recovery}");
    }
    // A foreign header with our records: refused from the first record.
    let (other_header, _) = split(&other, &other_ends);
    let mut forged = other_header;
    forged.extend(records.concat());
    let (state, recovery) = recovery_of::<IdAllocator>(&forged);
    assert_eq!((recovery.records, state), (0, states[0].0.clone()));
}

#[test]
fn a_torn_tail_is_told_from_damage() {
    let states = addresses_history(9);
    let (bytes, ends) = journal_of(&states, 3);
    let n = ends.len() - 1;
    let last = ends[n - 1];
    // Cut anywhere inside the last record: a torn tail, the state before.
    for cut in last + 1..bytes.len() {
        let (state, recovery) = recovery_of::<AddressAllocator>(&bytes[..cut]);
        assert!(recovery.is_torn_tail(), "cut at {cut}: {recovery}");
        assert_eq!((recovery.len, recovery.discarded), (last, cut - last));
        assert_eq!(state, states[n - 1].0);
    }
    // A power cut: the last record's bytes became zeros, or garbage.
    for fill in [0x00u8, 0xff, 0x5a] {
        let mut cut = bytes.clone();
        cut[last..].fill(fill);
        let (_, recovery) = recovery_of::<AddressAllocator>(&cut);
        assert!(recovery.is_torn_tail(), "{fill:#x}: {recovery}");
        cut.extend(vec![fill; 100]);
        let (_, recovery) = recovery_of::<AddressAllocator>(&cut);
        assert!(recovery.is_torn_tail(), "{fill:#x}: {recovery}");
    }
    // Damage in the middle, whatever field it hits: later records are
    // sound, so it is damage, named by record and offset.
    for k in [0, n / 2, n - 2] {
        for at in ends[k]..ends[k + 1] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x04;
            let (state, recovery) = recovery_of::<AddressAllocator>(&damaged);
            let discard = recovery.discard.unwrap();
            // The last record chains to the stored checksum of the one
            // before it: damage there breaks both, and the end of the
            // journal looks torn.
            let expected = if k == n - 2 && at >= ends[k + 1] - 4 {
                DiscardCause::TornTail
            } else {
                DiscardCause::Damage {
                    last_record: ends[n - 1],
                }
            };
            assert_eq!(discard.cause, expected, "byte {at}: {recovery}");
            assert_eq!(
                (discard.offset, discard.error.record),
                (ends[k], Some(k as u64))
            );
            assert_eq!(state, states[k].0);
            assert!(recovery
                .to_string()
                .contains(&format!("record #{k} at byte {}", ends[k])));
        }
    }
}

/// Re-seals record `k` of `bytes` after `tamper` changed its body, and
/// every record after it, so that their checksums hold again.
fn reseal(bytes: &[u8], ends: &[usize], k: usize, tamper: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let crc = |b: &[u8]| crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(b);
    let mut out = bytes[..ends[k]].to_vec();
    let mut tamper = Some(tamper);
    for i in k..ends.len() - 1 {
        let record = &bytes[ends[i]..ends[i + 1]];
        // The record's body: after its one-byte length (small records).
        let len = record[0] as usize;
        assert!(len < 0x80);
        let mut body = record[1..1 + len].to_vec();
        if let Some(tamper) = tamper.take() {
            tamper(&mut body);
        }
        let start = out.len();
        out.push(body.len() as u8);
        out.extend(&body);
        out.push(body.len() as u8);
        let sum = crc(&out[start - 4..]);
        out.extend(sum.to_le_bytes());
    }
    out
}

#[test]
fn a_sound_record_that_does_not_apply_is_damage() {
    let mut gsi = IdAllocator::new(5, 23).unwrap();
    let serial = Owner::new("serial0").unwrap();
    let mut states = vec![(gsi.clone(), None)];
    gsi.owned_by(&serial).allocate_id().unwrap(); // 5
    states.push((gsi.clone(), None));
    gsi.allocate_id().unwrap(); // 6
    states.push((gsi.clone(), None));
    gsi.free_id(5).unwrap();
    states.push((gsi.clone(), None));
    let (bytes, ends) = journal_of(&states, 1);
    // Record #2 frees id 5 of serial0: name another owner's id instead.
    // Its body: label 00, owner table 01 07 "serial0", generation 03,
    // next ids 07 07, freed 01 [05 00 01], allocated 00.
    let forged = reseal(&bytes, &ends, 2, |body| {
        assert_eq!(body[body.len() - 5..], [0x01, 0x05, 0x00, 0x01, 0x00]);
        let n = body.len();
        body[n - 4] = 0x06; // free id 6, which has no owner
    });
    let (state, recovery) = recovery_of::<IdAllocator>(&forged);
    let discard = recovery.discard.unwrap();
    assert_eq!(discard.cause, DiscardCause::InvalidRecord);
    assert_eq!(discard.error.kind, DecodeErrorKind::NotAllocated);
    assert_eq!(discard.error.field, Field::FreedStart { index: 0 });
    assert_eq!(state, states[2].0);
    // The generation must move up.
    let forged = reseal(&bytes, &ends, 2, |body| {
        let at = 1 + 1 + 8; // label, owner count, owner name
        assert_eq!(body[at], 3);
        body[at] = 2;
    });
    let (_, recovery) = recovery_of::<IdAllocator>(&forged);
    let discard = recovery.discard.unwrap();
    assert_eq!(
        discard.error.kind,
        DecodeErrorKind::GenerationNotAbove { previous: 2 }
    );
    assert_eq!(discard.cause, DiscardCause::InvalidRecord);
}

// ---------------------------------------------------------------------------
// Every single-bit flip.

/// Flips every bit of `bytes` in turn: a flip in the header is an error; a
/// flip in record k stops the journal right before record k (never a
/// wrong state), and reports what it discarded.
fn every_bit_flip_stops_before_it<S: Versioned + Debug>(
    states: &[(S, Option<String>)],
    bytes: &[u8],
    ends: &[usize],
) -> usize {
    let mut flips = 0;
    for at in 0..bytes.len() {
        for bit in 0..8 {
            let mut flipped = bytes.to_vec();
            flipped[at] ^= 1 << bit;
            flips += 1;
            let replay = format::replay::<S>(&flipped);
            if at < ends[0] {
                assert!(replay.is_err(), "a flip in the header at {at}.{bit}");
                continue;
            }
            let (end, recovery) = replay.unwrap().finish();
            let k = ends.iter().rposition(|&e| e <= at).unwrap();
            assert_eq!(
                recovery.records as usize, k,
                "flip at {at}.{bit}: {recovery}"
            );
            assert_eq!(recovery.len, ends[k]);
            assert_eq!(end.state(), &states[k].0, "flip at {at}.{bit}");
            assert_eq!(end.state().generation(), states[k].0.generation());
            assert!(!recovery.is_clean());
        }
    }
    flips
}

#[test]
fn every_single_bit_flip_stops_at_a_record_boundary_before_it_or_is_an_error() {
    let ids = ids_history(11);
    let (bytes, ends) = journal_of(&ids[..12], 5);
    let mut flips = every_bit_flip_stops_before_it(&ids[..12], &bytes, &ends);
    let addresses = addresses_history(12);
    let (bytes, ends) = journal_of(&addresses[..12], 6);
    flips += every_bit_flip_stops_before_it(&addresses[..12], &bytes, &ends);
    let sets = set_history(13);
    let (bytes, ends) = journal_of(&sets[..8], 7);
    flips += every_bit_flip_stops_before_it(&sets[..8], &bytes, &ends);
    eprintln!("{flips} single-bit flips");
    assert!(flips > 8_000, "{flips}");
}

// ---------------------------------------------------------------------------
// The file.

#[test]
fn a_journal_file_goes_on_across_opens_and_compactions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vm.journal");
    let states = set_history(21);
    let mut journal = Journal::create(&path, &states[0].0).unwrap();
    for (state, label) in &states[1..20] {
        match label {
            Some(l) => journal.append_labeled(state, l).unwrap(),
            None => journal.append(state).unwrap(),
        }
    }
    assert_eq!(std::fs::metadata(&path).unwrap().len(), journal.len());
    drop(journal);
    let (mut journal, recovery) = Journal::<ResourceSet>::open(&path).unwrap();
    assert!(recovery.is_clean());
    assert_eq!((journal.records(), journal.state()), (19, &states[19].0));
    for (state, _) in &states[20..30] {
        journal.append_buffered(state).unwrap();
    }
    journal.sync().unwrap();
    let before = journal.len();
    journal.compact().unwrap();
    assert!(journal.len() < before);
    assert_eq!(journal.records(), 0);
    for (state, label) in &states[30..] {
        match label {
            Some(l) => journal.append_buffered_labeled(state, l).unwrap(),
            None => journal.append_buffered(state).unwrap(),
        }
    }
    drop(journal); // buffered appends are in the file (not flushed)
    let journal = Journal::<ResourceSet>::open_strict(&path).unwrap();
    assert_eq!(journal.state(), &states.last().unwrap().0);
    assert_eq!(journal.records() as usize, states.len() - 30);
    // Only the journal is left: no temporaries.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn one_writer_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let mut ids = IdAllocator::new(0, 99).unwrap();
    let mut journal = Journal::create(&path, &ids).unwrap();
    assert!(matches!(
        Journal::<IdAllocator>::open(&path),
        Err(JournalError::Locked)
    ));
    assert!(matches!(
        Journal::<IdAllocator>::open_strict(&path),
        Err(JournalError::Locked)
    ));
    assert!(matches!(
        Journal::create(&path, &ids),
        Err(JournalError::Locked)
    ));
    // Readers need no lock.
    ids.allocate_id().unwrap();
    journal.append(&ids).unwrap();
    assert_eq!(Journal::<IdAllocator>::read(&path).unwrap().0, ids);
    // A compaction keeps the lock on the new file.
    journal.compact().unwrap();
    assert!(matches!(
        Journal::<IdAllocator>::open(&path),
        Err(JournalError::Locked)
    ));
    drop(journal);
    let (journal, _) = Journal::<IdAllocator>::open(&path).unwrap();
    assert_eq!(journal.state(), &ids);
}

#[test]
fn a_damaged_journal_is_reported_kept_and_repaired_only_by_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let states = ids_history(31);
    let mut journal = Journal::create(&path, &states[0].0).unwrap();
    let mut ends = vec![journal.len() as usize];
    for (state, _) in &states[1..10] {
        journal.append(state).unwrap();
        ends.push(journal.len() as usize);
    }
    drop(journal);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[ends[4] + 2] ^= 0x20; // bit rot in record #4
    std::fs::write(&path, &bytes).unwrap();

    // open_strict refuses, and leaves the file.
    match Journal::<IdAllocator>::open_strict(&path) {
        Err(JournalError::Discarded(r)) => assert!(r.is_corrupt()),
        other => panic!("{other:?}"),
    }
    // open gives the last good state and the report, and keeps the bytes.
    let (mut journal, recovery) = Journal::<IdAllocator>::open(&path).unwrap();
    assert!(recovery.is_corrupt());
    assert_eq!((recovery.records, recovery.len), (4, ends[4]));
    assert_eq!(journal.state(), &states[4].0);
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    // No appends after damage...
    let err = journal.append(&states[5].0).unwrap_err();
    assert!(matches!(err, JournalError::Corrupt(_)), "{err}");
    assert!(err.to_string().contains("record #4"), "{err}");
    // ...until a compaction rewrites it from the last good state.
    journal.compact().unwrap();
    journal.append(&states[5].0).unwrap();
    drop(journal);
    let journal = Journal::<IdAllocator>::open_strict(&path).unwrap();
    assert_eq!(journal.state(), &states[5].0);
}

#[test]
fn a_torn_tail_is_cut_off_by_a_writer_and_left_by_a_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let states = addresses_history(41);
    let mut journal = Journal::create(&path, &states[0].0).unwrap();
    for (state, _) in &states[1..5] {
        journal.append(state).unwrap();
    }
    let good = journal.len();
    journal.append(&states[5].0).unwrap();
    drop(journal);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();

    let (state, recovery) = Journal::<AddressAllocator>::read(&path).unwrap();
    assert!(recovery.is_torn_tail());
    assert_eq!(state, states[4].0);
    assert_eq!(
        std::fs::metadata(&path).unwrap().len() as usize,
        bytes.len() - 3
    );
    let (mut journal, recovery) = Journal::<AddressAllocator>::open(&path).unwrap();
    assert!(recovery.is_torn_tail());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
    journal.append(&states[5].0).unwrap();
    drop(journal);
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[test]
fn a_journal_is_not_a_state_file_nor_the_other_way_round() {
    let gsi = IdAllocator::new(5, 23).unwrap();
    let (_, journal) = JournalWriter::start(&gsi, 1);
    let err = IdAllocator::from_bytes(&journal).unwrap_err();
    assert_eq!((err.offset, err.field), (0, Field::Magic));
    assert!(err.to_string().contains("(a journal)"), "{err}");
    let err = format::replay::<IdAllocator>(&gsi.to_bytes())
        .err()
        .unwrap();
    assert!(matches!(err.kind, DecodeErrorKind::NotAJournal { .. }));
    assert!(err.to_string().contains("(a state file)"), "{err}");
    // A journal of one kind is not read as another.
    let err = format::replay::<AddressAllocator>(&journal).err().unwrap();
    assert_eq!((err.offset, err.field), (10, Field::Kind));
}
