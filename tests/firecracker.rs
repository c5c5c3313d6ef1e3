// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Upgrading Firecracker (`docs/firecracker.md`), tested on its own struct
//! and its own snapshot encoder.
//!
//! Firecracker (main at 81b38b9, August 2026) keeps its saved resource
//! state in `ResourceAllocatorState`
//! (`src/vmm/src/vstate/resources.rs`): four vm-allocator 0.1.4
//! `AddressAllocator`s, `mmio32_memory`, `mmio64_memory`,
//! `past_mmio64_memory` and `system_memory`, derived `Serialize` and
//! `Deserialize`, written with bitcode 0.6. The struct is mirrored here
//! three ways: on 0.1.4 (the dependency `upstream`), upgraded with the four
//! `serde(with)` attributes, and upgraded without them. The addresses are
//! Firecracker's x86_64 constants at that commit, and the devices allocate
//! as Firecracker's do (the MP table and ACPI tables, VMGenID and VMClock
//! in system memory, virtio-mmio windows, virtio-pci BARs, virtio-mem and
//! pmem regions).
//!
//! After each crossing (0.1.4 writes and this crate reads, then the
//! reverse) both crates answer the same later First/Last/ExactMatch
//! requests identically. The requests stay where 0.1.4 is correct
//! (CHANGELOG, *Fixed*): ExactMatch only on free space, no one-byte free
//! gaps; the last test shows the one difference those gaps make.

#![cfg(feature = "serde")]

use serde::{Deserialize, Serialize};
use serde_json::Value;
use vm_allocator::{AddressAllocator, AllocPolicy, RangeInclusive};

/// Firecracker's x86_64 layout and device constants at 81b38b9
/// (`src/vmm/src/arch/x86_64/layout.rs`, `device_manager/mmio.rs`,
/// `devices/virtio/transport/pci/device.rs`, `devices/acpi/`,
/// `devices/virtio/{mem,pmem}/`).
mod fc {
    /// A virtio-mmio device's window.
    pub const MMIO_LEN: u64 = 0x1000;
    /// `MMIO32_MEM_START`: the 32-bit MMIO gap is the last GiB below 4 GiB.
    const MMIO32_MEM_START: u64 = (1 << 32) - (1 << 30);
    /// `PCI_MMCONFIG_START`: 256 MiB of PCIe configuration space below the
    /// IOAPIC at 0xfec0_0000.
    const PCI_MMCONFIG_START: u64 = 0xfec0_0000 - (256 << 20);
    /// `MEM_32BIT_DEVICES_START`, after the boot device's window.
    pub const MEM_32BIT_DEVICES_START: u64 = MMIO32_MEM_START + MMIO_LEN;
    pub const MEM_32BIT_DEVICES_SIZE: u64 = PCI_MMCONFIG_START - MEM_32BIT_DEVICES_START;
    pub const MEM_64BIT_DEVICES_START: u64 = 256 << 30;
    pub const MEM_64BIT_DEVICES_SIZE: u64 = 256 << 30;
    pub const FIRST_ADDR_PAST_64BITS_MMIO: u64 = 512 << 30;
    pub const PAST_64BITS_MMIO_SIZE: u64 = 512 << 30;
    pub const SYSTEM_MEM_START: u64 = 0x9_fc00;
    /// Up to `RSDP_ADDR`.
    pub const SYSTEM_MEM_SIZE: u64 = 0xe_0000 - SYSTEM_MEM_START;
    /// A virtio-pci device's one BAR (`CAPABILITY_BAR_SIZE`), aligned to
    /// its size.
    pub const CAPABILITY_BAR_SIZE: u64 = 0x8_0000;
    /// The VMGenID buffer, 8-byte aligned, allocated last-fit.
    pub const VMGENID_MEM_SIZE: u64 = 16;
    /// The VMClock page, allocated last-fit.
    pub const VMCLOCK_SIZE: u64 = 0x1000;
    /// A virtio-mem region is aligned to its 128 MiB slots.
    pub const VIRTIO_MEM_SLOT: u64 = 128 << 20;
    /// `Pmem::ALIGNMENT`.
    pub const PMEM_ALIGNMENT: u64 = 2 << 20;
    /// `compute_mp_size(2)`: 284 bytes + 20 per vCPU.
    pub const MPTABLE_2_VCPUS: u64 = 284 + 2 * 20;
    /// ACPI tables of a 2-vCPU VM with PCI: DSDT, FADT, MADT (44 + 12 for
    /// the IOAPIC + 8 per vCPU), XSDT (36 + 3 pointers), MCFG (one
    /// segment).
    pub const ACPI_TABLES: [u64; 5] = [1907, 276, 44 + 12 + 2 * 8, 36 + 3 * 8, 36 + 8 + 16];
}

/// `ResourceAllocatorState` as Firecracker declares it, on vm-allocator
/// 0.1.4.
#[derive(Serialize, Deserialize)]
struct StateOn014 {
    mmio32_memory: upstream::AddressAllocator,
    mmio64_memory: upstream::AddressAllocator,
    past_mmio64_memory: upstream::AddressAllocator,
    system_memory: upstream::AddressAllocator,
}

/// The same struct after the upgrade, with the four attributes.
#[derive(Serialize, Deserialize)]
struct StateUpgraded {
    #[serde(with = "vm_allocator::compat::v0_1::address_allocator")]
    mmio32_memory: AddressAllocator,
    #[serde(with = "vm_allocator::compat::v0_1::address_allocator")]
    mmio64_memory: AddressAllocator,
    #[serde(with = "vm_allocator::compat::v0_1::address_allocator")]
    past_mmio64_memory: AddressAllocator,
    #[serde(with = "vm_allocator::compat::v0_1::address_allocator")]
    system_memory: AddressAllocator,
}

/// The same struct after the upgrade, without the attributes: this
/// crate's own serde shape.
#[derive(Serialize, Deserialize, Debug)]
struct StateUnchanged {
    mmio32_memory: AddressAllocator,
    mmio64_memory: AddressAllocator,
    past_mmio64_memory: AddressAllocator,
    system_memory: AddressAllocator,
}

/// One of the four allocators.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Pool {
    Mmio32,
    Mmio64,
    PastMmio64,
    System,
}

const POOLS: [Pool; 4] = [Pool::Mmio32, Pool::Mmio64, Pool::PastMmio64, Pool::System];

#[derive(Clone, Copy, Debug)]
enum Policy {
    First,
    Last,
    Exact(u64),
}

/// A call a device makes on one of the allocators.
#[derive(Clone, Copy, Debug)]
enum Step {
    Allocate {
        pool: Pool,
        size: u64,
        align: u64,
        policy: Policy,
    },
    /// Frees what the step at this index allocated.
    FreeStep(usize),
}

use Step::{Allocate, FreeStep};

fn alloc(pool: Pool, size: u64, align: u64, policy: Policy) -> Step {
    Allocate {
        pool,
        size,
        align,
        policy,
    }
}

/// An answer of either crate, comparable across them.
type Answer = Result<(u64, u64), String>;

/// A state either crate holds, driven by the same steps.
trait Firecracker {
    fn allocate(&mut self, pool: Pool, size: u64, align: u64, policy: Policy) -> Answer;
    fn free(&mut self, pool: Pool, start: u64, end: u64) -> Result<(), String>;
    /// The allocations of `pool`, in address order.
    fn allocations(&self, pool: Pool) -> Vec<(u64, u64)>;

    /// Runs `steps` in order and returns every answer (a free's answer is
    /// the range it freed).
    fn run(&mut self, steps: &[Step]) -> Vec<Answer> {
        let mut answers: Vec<Answer> = Vec::new();
        for step in steps {
            let answer = match *step {
                Allocate {
                    pool,
                    size,
                    align,
                    policy,
                } => self.allocate(pool, size, align, policy),
                FreeStep(i) => {
                    let (pool, (start, end)) = match (steps[i], &answers[i]) {
                        (Allocate { pool, .. }, Ok(range)) => (pool, *range),
                        other => panic!("step {i} allocated nothing to free: {other:?}"),
                    };
                    self.free(pool, start, end).map(|()| (start, end))
                }
            };
            answers.push(answer);
        }
        answers
    }
}

impl StateOn014 {
    /// What Firecracker's `ResourceAllocator::new()` saves at boot.
    fn new() -> StateOn014 {
        StateOn014 {
            mmio32_memory: upstream::AddressAllocator::new(
                fc::MEM_32BIT_DEVICES_START,
                fc::MEM_32BIT_DEVICES_SIZE,
            )
            .unwrap(),
            mmio64_memory: upstream::AddressAllocator::new(
                fc::MEM_64BIT_DEVICES_START,
                fc::MEM_64BIT_DEVICES_SIZE,
            )
            .unwrap(),
            past_mmio64_memory: upstream::AddressAllocator::new(
                fc::FIRST_ADDR_PAST_64BITS_MMIO,
                fc::PAST_64BITS_MMIO_SIZE,
            )
            .unwrap(),
            system_memory: upstream::AddressAllocator::new(
                fc::SYSTEM_MEM_START,
                fc::SYSTEM_MEM_SIZE,
            )
            .unwrap(),
        }
    }

    fn pool(&self, pool: Pool) -> &upstream::AddressAllocator {
        match pool {
            Pool::Mmio32 => &self.mmio32_memory,
            Pool::Mmio64 => &self.mmio64_memory,
            Pool::PastMmio64 => &self.past_mmio64_memory,
            Pool::System => &self.system_memory,
        }
    }

    fn pool_mut(&mut self, pool: Pool) -> &mut upstream::AddressAllocator {
        match pool {
            Pool::Mmio32 => &mut self.mmio32_memory,
            Pool::Mmio64 => &mut self.mmio64_memory,
            Pool::PastMmio64 => &mut self.past_mmio64_memory,
            Pool::System => &mut self.system_memory,
        }
    }
}

impl Firecracker for StateOn014 {
    fn allocate(&mut self, pool: Pool, size: u64, align: u64, policy: Policy) -> Answer {
        let policy = match policy {
            Policy::First => upstream::AllocPolicy::FirstMatch,
            Policy::Last => upstream::AllocPolicy::LastMatch,
            Policy::Exact(at) => upstream::AllocPolicy::ExactMatch(at),
        };
        self.pool_mut(pool)
            .allocate(size, align, policy)
            .map(|r| (r.start(), r.end()))
            .map_err(|e| format!("{e:?}"))
    }

    fn free(&mut self, pool: Pool, start: u64, end: u64) -> Result<(), String> {
        let range = upstream::RangeInclusive::new(start, end).unwrap();
        self.pool_mut(pool)
            .free(&range)
            .map_err(|e| format!("{e:?}"))
    }

    /// 0.1.4 lists nothing; its serde shape is its tree, read in order.
    fn allocations(&self, pool: Pool) -> Vec<(u64, u64)> {
        fn walk(node: &Value, out: &mut Vec<(u64, u64)>) {
            if node.is_null() {
                return;
            }
            walk(&node["left"], out);
            if node["node_state"] == "Allocated" {
                let key = &node["key"];
                out.push((key["start"].as_u64().unwrap(), key["end"].as_u64().unwrap()));
            }
            walk(&node["right"], out);
        }
        let tree = serde_json::to_value(self.pool(pool)).unwrap();
        let mut out = Vec::new();
        walk(&tree["interval_tree"]["root"], &mut out);
        out
    }
}

impl StateUpgraded {
    /// What the upgraded Firecracker's `ResourceAllocator::new()` saves.
    fn new() -> StateUpgraded {
        StateUpgraded {
            mmio32_memory: AddressAllocator::new(
                fc::MEM_32BIT_DEVICES_START,
                fc::MEM_32BIT_DEVICES_SIZE,
            )
            .unwrap(),
            mmio64_memory: AddressAllocator::new(
                fc::MEM_64BIT_DEVICES_START,
                fc::MEM_64BIT_DEVICES_SIZE,
            )
            .unwrap(),
            past_mmio64_memory: AddressAllocator::new(
                fc::FIRST_ADDR_PAST_64BITS_MMIO,
                fc::PAST_64BITS_MMIO_SIZE,
            )
            .unwrap(),
            system_memory: AddressAllocator::new(fc::SYSTEM_MEM_START, fc::SYSTEM_MEM_SIZE)
                .unwrap(),
        }
    }

    fn pool(&self, pool: Pool) -> &AddressAllocator {
        match pool {
            Pool::Mmio32 => &self.mmio32_memory,
            Pool::Mmio64 => &self.mmio64_memory,
            Pool::PastMmio64 => &self.past_mmio64_memory,
            Pool::System => &self.system_memory,
        }
    }

    fn pool_mut(&mut self, pool: Pool) -> &mut AddressAllocator {
        match pool {
            Pool::Mmio32 => &mut self.mmio32_memory,
            Pool::Mmio64 => &mut self.mmio64_memory,
            Pool::PastMmio64 => &mut self.past_mmio64_memory,
            Pool::System => &mut self.system_memory,
        }
    }
}

impl Firecracker for StateUpgraded {
    fn allocate(&mut self, pool: Pool, size: u64, align: u64, policy: Policy) -> Answer {
        let policy = match policy {
            Policy::First => AllocPolicy::FirstMatch,
            Policy::Last => AllocPolicy::LastMatch,
            Policy::Exact(at) => AllocPolicy::ExactMatch(at),
        };
        self.pool_mut(pool)
            .allocate(size, align, policy)
            .map(|r| (r.start(), r.end()))
            .map_err(|e| format!("{e:?}"))
    }

    fn free(&mut self, pool: Pool, start: u64, end: u64) -> Result<(), String> {
        let range = RangeInclusive::new(start, end).unwrap();
        self.pool_mut(pool)
            .free(&range)
            .map_err(|e| format!("{e:?}"))
    }

    fn allocations(&self, pool: Pool) -> Vec<(u64, u64)> {
        self.pool(pool)
            .iter()
            .map(|r| (r.start(), r.end()))
            .collect()
    }
}

/// Boot of a 2-vCPU x86_64 VM with PCI, as Firecracker allocates it: the
/// MP table and the ACPI tables first-fit and unaligned in system memory,
/// VMGenID and VMClock last-fit; a virtio-mmio window per MMIO device
/// (block, net, vsock); a BAR per virtio-pci device (block, net, rng,
/// balloon); a virtio-mem region and two pmem regions past the 64-bit gap.
/// Then a hot-unplug of a PCI device and of a pmem device frees their
/// ranges, leaving holes.
fn boot() -> Vec<Step> {
    use Policy::{First, Last};
    use Pool::{Mmio32, Mmio64, PastMmio64, System};
    let mut steps = vec![alloc(System, fc::MPTABLE_2_VCPUS, 1, First)];
    for size in fc::ACPI_TABLES {
        steps.push(alloc(System, size, 1, First));
    }
    steps.push(alloc(System, fc::VMGENID_MEM_SIZE, 8, Last));
    steps.push(alloc(System, fc::VMCLOCK_SIZE, fc::VMCLOCK_SIZE, Last));
    for _ in 0..3 {
        steps.push(alloc(Mmio32, fc::MMIO_LEN, fc::MMIO_LEN, First));
    }
    let first_bar = steps.len();
    for _ in 0..4 {
        steps.push(alloc(
            Mmio64,
            fc::CAPABILITY_BAR_SIZE,
            fc::CAPABILITY_BAR_SIZE,
            First,
        ));
    }
    steps.push(alloc(PastMmio64, 2 << 30, fc::VIRTIO_MEM_SLOT, First));
    steps.push(alloc(PastMmio64, 256 << 20, fc::PMEM_ALIGNMENT, First));
    let pmem1 = steps.len();
    steps.push(alloc(PastMmio64, 96 << 20, fc::PMEM_ALIGNMENT, First));
    steps.push(alloc(PastMmio64, 64 << 20, fc::PMEM_ALIGNMENT, First));
    // Hot-unplug: the second PCI device, the second pmem device.
    steps.push(FreeStep(first_bar + 1));
    steps.push(FreeStep(pmem1));
    steps
}

/// What happens after a restore: hot-plugs and hot-unplugs of every kind,
/// first-fit, last-fit and exact, some that fit only in a hole and some
/// that do not fit at all. Round `round` restores devices at addresses no
/// earlier round used.
fn after_restore(round: u64) -> Vec<Step> {
    use Policy::{Exact, First, Last};
    use Pool::{Mmio32, Mmio64, PastMmio64, System};
    let mut steps = vec![
        // A virtio-pci hot-plug takes the unplugged device's BAR ...
        alloc(
            Mmio64,
            fc::CAPABILITY_BAR_SIZE,
            fc::CAPABILITY_BAR_SIZE,
            First,
        ),
        // ... and the next one goes after the last BAR.
        alloc(
            Mmio64,
            fc::CAPABILITY_BAR_SIZE,
            fc::CAPABILITY_BAR_SIZE,
            First,
        ),
        // A large BAR from the top of the 64-bit window.
        alloc(Mmio64, 1 << 30, 1 << 30, Last),
        // Restoring a device at its recorded address.
        alloc(
            Mmio64,
            fc::CAPABILITY_BAR_SIZE,
            fc::CAPABILITY_BAR_SIZE,
            Exact(fc::MEM_64BIT_DEVICES_START + (64 << 20) + (round << 24)),
        ),
        // A virtio-mmio device, and one at a fixed window.
        alloc(Mmio32, fc::MMIO_LEN, fc::MMIO_LEN, First),
        alloc(
            Mmio32,
            fc::MMIO_LEN,
            fc::MMIO_LEN,
            Exact(fc::MEM_32BIT_DEVICES_START + 0x10_0000 + (round << 20)),
        ),
        alloc(Mmio32, 0x4000, 0x4000, Last),
        // A pmem device fits in the hole of the unplugged one only if it
        // is no larger.
        alloc(PastMmio64, 64 << 20, fc::PMEM_ALIGNMENT, First),
        alloc(PastMmio64, 128 << 20, fc::PMEM_ALIGNMENT, First),
        alloc(PastMmio64, 1 << 30, fc::VIRTIO_MEM_SLOT, Last),
        // Another ACPI table (unaligned), a last-fit 8-byte buffer.
        alloc(System, 0x1a3, 1, First),
        alloc(System, fc::VMGENID_MEM_SIZE, 8, Last),
        // Requests that do not fit. (An ExactMatch on allocated space is
        // where 0.1.4 is wrong, CHANGELOG "Fixed": not asked here.)
        alloc(System, 1 << 20, 1, First),
        alloc(Mmio64, 1 << 40, 0x1000, Last),
        alloc(
            Mmio32,
            2 * fc::MMIO_LEN,
            fc::MMIO_LEN,
            Exact(fc::MEM_32BIT_DEVICES_START + fc::MEM_32BIT_DEVICES_SIZE - fc::MMIO_LEN),
        ),
    ];
    // Unplug two of the new devices; a third takes a freed BAR.
    steps.push(FreeStep(0));
    steps.push(FreeStep(4));
    steps.push(alloc(
        Mmio64,
        fc::CAPABILITY_BAR_SIZE,
        fc::CAPABILITY_BAR_SIZE,
        First,
    ));
    steps.push(alloc(Mmio32, fc::MMIO_LEN, fc::MMIO_LEN, First));
    steps
}

/// Runs `after_restore(round)` on both states and checks that every
/// answer is the same and that both end with the same allocations.
fn agree(theirs: &mut StateOn014, ours: &mut StateUpgraded, round: u64) {
    for pool in POOLS {
        assert_eq!(theirs.allocations(pool), ours.allocations(pool), "{pool:?}");
    }
    let steps = after_restore(round);
    let old_answers = theirs.run(&steps);
    let new_answers = ours.run(&steps);
    for (i, (old, new)) in old_answers.iter().zip(&new_answers).enumerate() {
        assert_eq!(old, new, "step {i}: {:?}", steps[i]);
    }
    // Both kinds of answer happened: the comparison is not vacuous.
    assert!(new_answers.iter().filter(|a| a.is_ok()).count() >= 12);
    assert!(new_answers.iter().filter(|a| a.is_err()).count() >= 3);
    for pool in POOLS {
        assert_eq!(theirs.allocations(pool), ours.allocations(pool), "{pool:?}");
    }
}

/// The allocations `answers` leave in `pool`.
fn expected(steps: &[Step], answers: &[Answer], pool: Pool) -> Vec<(u64, u64)> {
    let freed: Vec<usize> = steps
        .iter()
        .filter_map(|s| match s {
            FreeStep(i) => Some(*i),
            Allocate { .. } => None,
        })
        .collect();
    let mut held: Vec<(u64, u64)> = steps
        .iter()
        .zip(answers)
        .enumerate()
        .filter_map(|(i, (step, answer))| match (step, answer) {
            (Allocate { pool: p, .. }, Ok(range)) if *p == pool && !freed.contains(&i) => {
                Some(*range)
            }
            _ => None,
        })
        .collect();
    held.sort_unstable();
    held
}

#[test]
fn the_boot_is_what_firecracker_allocates() {
    let steps = boot();
    let answers = StateOn014::new().run(&steps);
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    // The tables from the start of system memory, back to back.
    assert_eq!(answers[0], Ok((0x9_fc00, 0x9_fc00 + 323)));
    assert_eq!(answers[1].as_ref().unwrap().0, 0x9_fc00 + 324);
    // VMGenID and VMClock from its end.
    assert_eq!(answers[6], Ok((0xd_fff0, 0xd_ffff)));
    assert_eq!(answers[7], Ok((0xd_e000, 0xd_efff)));
    // virtio-mmio windows after the boot device's; BARs from 256 GiB.
    assert_eq!(answers[8], Ok((0xc000_1000, 0xc000_1fff)));
    assert_eq!(answers[11], Ok((256 << 30, (256 << 30) + 0x7_ffff)));
    // The unplugged BAR and pmem region are free again.
    assert_eq!(answers[19], answers[12]);
    assert_eq!(answers[20], answers[17]);
    // The same boot on this crate gives the same answers.
    assert_eq!(StateUpgraded::new().run(&steps), answers);
}

#[test]
fn firecracker_on_0_1_4_writes_and_the_upgrade_reads() {
    let steps = boot();
    let mut on_014 = StateOn014::new();
    let answers = on_014.run(&steps);
    let snapshot = bitcode::serialize(&on_014).unwrap();

    // The upgraded Firecracker restores the snapshot: validated, with
    // every allocation the devices made.
    let mut upgraded: StateUpgraded = bitcode::deserialize(&snapshot).unwrap();
    for pool in POOLS {
        assert_eq!(
            upgraded.allocations(pool),
            expected(&steps, &answers, pool),
            "{pool:?}"
        );
        assert!(upgraded.pool(pool).generation() == 0);
    }
    assert_eq!(upgraded.mmio64_memory.len(), 3);

    // A Firecracker still on 0.1.4 restores the same snapshot; from here on
    // both answer every request alike.
    let mut restored_014: StateOn014 = bitcode::deserialize(&snapshot).unwrap();
    agree(&mut restored_014, &mut upgraded, 0);
}

#[test]
fn the_upgrade_writes_and_firecracker_on_0_1_4_reads() {
    let steps = boot();
    let mut upgraded = StateUpgraded::new();
    let answers = upgraded.run(&steps);
    assert!(answers.iter().all(Result::is_ok));
    let snapshot = bitcode::serialize(&upgraded).unwrap();

    // An older Firecracker (a rollback, or the destination of a migration
    // not yet upgraded) restores it with 0.1.4 ...
    let mut on_014: StateOn014 = bitcode::deserialize(&snapshot).unwrap();
    for pool in POOLS {
        assert_eq!(
            on_014.allocations(pool),
            expected(&steps, &answers, pool),
            "{pool:?}"
        );
    }
    // ... and the upgraded one restores its own snapshot the same way.
    let mut restored: StateUpgraded = bitcode::deserialize(&snapshot).unwrap();
    for pool in POOLS {
        assert_eq!(restored.pool(pool), upgraded.pool(pool));
    }
    agree(&mut on_014, &mut restored, 0);
}

#[test]
fn a_snapshot_crosses_both_ways_and_back() {
    // 0.1.4 boots and writes; the upgrade restores, hot-plugs and writes;
    // 0.1.4 restores that (a rollback); the upgrade restores it again.
    let mut on_014 = StateOn014::new();
    on_014.run(&boot());
    let first = bitcode::serialize(&on_014).unwrap();
    let mut upgraded: StateUpgraded = bitcode::deserialize(&first).unwrap();
    let mut shadow: StateOn014 = bitcode::deserialize(&first).unwrap();
    agree(&mut shadow, &mut upgraded, 0);

    let second = bitcode::serialize(&upgraded).unwrap();
    let mut rolled_back: StateOn014 = bitcode::deserialize(&second).unwrap();
    for pool in POOLS {
        assert_eq!(rolled_back.allocations(pool), shadow.allocations(pool));
    }
    let mut again: StateUpgraded = bitcode::deserialize(&second).unwrap();
    agree(&mut rolled_back, &mut again, 1);
    // The bytes the upgrade writes for a state read the same in either
    // crate and are written back unchanged.
    let third = bitcode::serialize(&again).unwrap();
    let reread: StateUpgraded = bitcode::deserialize(&third).unwrap();
    assert_eq!(bitcode::serialize(&reread).unwrap(), third);
}

#[test]
fn without_the_attributes_snapshots_are_refused_not_misread() {
    // At boot (every allocator empty), booted, and after hot-plugs.
    let populations: [Vec<Step>; 3] = [Vec::new(), boot(), {
        let mut steps = boot();
        let n = steps.len();
        steps.extend(after_restore(0).into_iter().map(|step| match step {
            FreeStep(i) => FreeStep(n + i),
            other => other,
        }));
        steps
    }];
    for steps in &populations {
        let mut on_014 = StateOn014::new();
        on_014.run(steps);
        let snapshot = bitcode::serialize(&on_014).unwrap();

        // The upgraded struct without the attributes expects this crate's
        // own shape: 0.1.4's snapshot is an error (bitcode's message, such
        // as "invalid packing", cannot name a field), never a panic or a
        // wrong state.
        let err = bitcode::deserialize::<StateUnchanged>(&snapshot).unwrap_err();
        assert!(!err.to_string().is_empty());

        // The other way: the same state written without the attributes is
        // no 0.1.4 snapshot.
        let state: StateUpgraded = bitcode::deserialize(&snapshot).unwrap();
        let unchanged = StateUnchanged {
            mmio32_memory: state.mmio32_memory,
            mmio64_memory: state.mmio64_memory,
            past_mmio64_memory: state.past_mmio64_memory,
            system_memory: state.system_memory,
        };
        let new_shape = bitcode::serialize(&unchanged).unwrap();
        assert!(bitcode::deserialize::<StateOn014>(&new_shape).is_err());
        // Read back with the same struct, it is of course fine.
        let back: StateUnchanged = bitcode::deserialize(&new_shape).unwrap();
        assert_eq!(back.mmio64_memory, unchanged.mmio64_memory);
    }
}

/// CHANGELOG, "Upgrading from 0.1.4": 0.1.4 never merges a free one-byte
/// gap with the free space beside it, so its state can hold free space
/// split at such a byte. Loading it merges them; from then on a first-fit
/// of alignment 1 starts on that byte, one lower than 0.1.4 would put it
/// (a last-fit ends on it, one higher), and a request that needs the byte
/// fits where 0.1.4 goes to another gap or fails.
#[test]
fn one_byte_gaps_move_later_allocations_by_a_byte() {
    use Policy::{First, Last};
    use Pool::System;
    // System memory as Firecracker fills it for 2 vCPUs: the MP table,
    // then the 1907-byte DSDT, which ends one byte before an 8-byte
    // boundary. An 8-byte aligned buffer leaves that byte free and is
    // freed again (a device unplugged): 0.1.4 frees it without merging it
    // with the free byte.
    let table = fc::SYSTEM_MEM_START + fc::MPTABLE_2_VCPUS;
    let (table_end, gap) = (table + 1906, table + 1907);
    assert_eq!(gap % 8, 7);
    let mut steps = vec![
        alloc(System, fc::MPTABLE_2_VCPUS, 1, First),
        alloc(System, 1907, 1, First),
    ];
    let buffer = steps.len();
    steps.push(alloc(System, 0x100, 8, First));
    steps.push(FreeStep(buffer));
    // At the top, last-fit: VMClock and VMGenID, a 17-byte buffer below
    // them, and a 2-byte aligned one below that, which leaves one byte free
    // between the two and is freed again.
    steps.push(alloc(System, fc::VMCLOCK_SIZE, fc::VMCLOCK_SIZE, Last));
    steps.push(alloc(System, fc::VMGENID_MEM_SIZE, 8, Last));
    steps.push(alloc(System, 0x11, 1, Last));
    let below = steps.len();
    steps.push(alloc(System, 0x10, 2, Last));
    steps.push(FreeStep(below));

    let mut on_014 = StateOn014::new();
    let answers = on_014.run(&steps);
    assert_eq!(answers[buffer - 1], Ok((table, table_end)));
    assert_eq!(answers[buffer], Ok((gap + 1, gap + 0x100)));
    assert_eq!(answers[below - 1], Ok((0xd_efdf, 0xd_efef)));
    assert_eq!(answers[below], Ok((0xd_efce, 0xd_efdd)));
    let top_gap = 0xd_efde;
    let snapshot = bitcode::serialize(&on_014).unwrap();
    let mut upgraded: StateUpgraded = bitcode::deserialize(&snapshot).unwrap();
    let mut restored_014: StateOn014 = bitcode::deserialize(&snapshot).unwrap();
    for pool in POOLS {
        assert_eq!(upgraded.allocations(pool), restored_014.allocations(pool));
    }

    // The next unaligned table: 0.1.4 skips the lone free byte, this crate
    // starts on it. Both answers are valid; they differ by one byte.
    let next = [alloc(System, 0x1a3, 1, First)];
    assert_eq!(restored_014.run(&next), [Ok((gap + 1, gap + 0x1a3))]);
    assert_eq!(upgraded.run(&next), [Ok((gap, gap + 0x1a2))]);
    // The same at the top, last-fit: this crate ends on the free byte.
    let next = [alloc(System, 0x20, 1, Last)];
    assert_eq!(restored_014.run(&next), [Ok((top_gap - 0x20, top_gap - 1))]);
    assert_eq!(upgraded.run(&next), [Ok((top_gap - 0x1f, top_gap))]);

    // A request for all of the merged free space, from one free byte to
    // the other, fits only here; 0.1.4, whose largest free node is two
    // bytes short, has nowhere to put it.
    let mut restored_014: StateOn014 = bitcode::deserialize(&snapshot).unwrap();
    let mut upgraded: StateUpgraded = bitcode::deserialize(&snapshot).unwrap();
    let whole = [alloc(System, top_gap - gap + 1, 1, First)];
    assert_eq!(upgraded.run(&whole), [Ok((gap, top_gap))]);
    assert_eq!(
        restored_014.run(&whole),
        [Err("ResourceNotAvailable".to_string())]
    );

    // Aligned requests, as every BAR and window is, land alike.
    let mut restored_014: StateOn014 = bitcode::deserialize(&snapshot).unwrap();
    let mut upgraded: StateUpgraded = bitcode::deserialize(&snapshot).unwrap();
    let aligned = [alloc(System, 0x10, 8, First), alloc(System, 0x20, 2, First)];
    assert_eq!(restored_014.run(&aligned), upgraded.run(&aligned));
}
