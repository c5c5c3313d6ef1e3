// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! A small VMM device manager over the life of a VM: it boots with a few
//! devices, hot-plugs more (each hot-plug all-or-nothing, one of them too
//! big to fit), unplugs one, and is live-migrated: the full state goes
//! across while the VM runs, and only a delta at the final pause. The
//! destination restores the exact state, owners and generation included.
//!
//! Run with `cargo run --example device_manager`.

use std::error::Error;

use vm_allocator::layout::x86_64::{LEGACY_GSI, MMIO32, MMIO64, MSI_GSI};
use vm_allocator::{
    escape_name, format, AllocPolicy, Delta, Diff, Owner, ResourceSet, SetError, TransactionError,
};

const PAGE: u64 = 0x1000;

/// What one device needs: a legacy GSI, MSI vectors, a 32-bit and a
/// 64-bit BAR.
struct Needs {
    name: &'static str,
    vectors: u32,
    bar32: u64,
    bar64: u64,
}

/// Plugs a device in one transaction: every resource or none.
fn plug(vm: &mut ResourceSet, needs: &Needs) -> Result<(), TransactionError<SetError>> {
    let owner = Owner::new(needs.name).expect("device names are valid owners");
    let mut tx = vm.transaction();
    let mut device = tx.owned_by(&owner);
    device.allocate_id(LEGACY_GSI)?;
    if needs.vectors > 0 {
        let n = needs.vectors.next_power_of_two();
        device.allocate_ids(MSI_GSI, needs.vectors, n)?;
    }
    // BARs are naturally aligned.
    device.allocate(
        MMIO32,
        needs.bar32,
        needs.bar32.max(PAGE),
        AllocPolicy::FirstMatch,
    )?;
    if needs.bar64 > 0 {
        device.allocate(MMIO64, needs.bar64, needs.bar64, AllocPolicy::LastMatch)?;
    }
    tx.commit()
}

/// An owner as output for people shows it: escaped by the crate's one
/// rule (FORMAT.md 6.1.1), so that no name can fake a line; `-` for none.
fn shown(owner: Option<&Owner>) -> String {
    owner.map_or("-".to_string(), |o| o.escaped().to_string())
}

fn print_set(title: &str, vm: &ResourceSet) {
    println!("{title} (generation {}):", vm.generation());
    for (name, pool) in vm.pools() {
        let items: Vec<String> = match pool {
            vm_allocator::Pool::Ids(ids) => ids
                .allocations()
                .map(|a| format!("{:?} {}", a.ids(), shown(a.owner())))
                .collect(),
            vm_allocator::Pool::Addresses(a) => a
                .allocations()
                .map(|a| {
                    let r = a.range();
                    format!("{:#x}..={:#x} {}", r.start(), r.end(), shown(a.owner()))
                })
                .collect(),
        };
        if !items.is_empty() {
            println!("  {:<14} {}", escape_name(name), items.join(", "));
        }
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut vm = ResourceSet::x86_64();

    // Boot.
    for needs in [
        Needs {
            name: "virtio-blk0",
            vectors: 2,
            bar32: 0x4000,
            bar64: 0,
        },
        Needs {
            name: "virtio-net0",
            vectors: 3,
            bar32: 0x4000,
            bar64: 0,
        },
        Needs {
            name: "serial0",
            vectors: 0,
            bar32: PAGE,
            bar64: 0,
        },
    ] {
        plug(&mut vm, &needs)?;
    }
    print_set("after boot", &vm);

    // The migration starts: the full state goes across while the VM runs.
    let early = vm.clone(); // an O(1) snapshot
    let full = early.to_bytes();

    // The VM keeps running: hot-plug a GPU, try one that cannot fit, unplug
    // the serial port.
    let before_hotplug = vm.clone();
    plug(
        &mut vm,
        &Needs {
            name: "gpu0",
            vectors: 8,
            bar32: 0x100_0000,
            bar64: 1 << 30,
        },
    )?;
    let too_big = Needs {
        name: "gpu1",
        vectors: 4,
        bar32: 1 << 32,
        bar64: 0,
    };
    let generation = vm.generation();
    match plug(&mut vm, &too_big) {
        Err(e) => println!("\nhot-plug of gpu1 refused: {e}"),
        Ok(()) => unreachable!("a 4 GiB BAR cannot fit below 4 GiB"),
    }
    assert_eq!(vm.generation(), generation);
    assert!(vm.allocations_of("gpu1").next().is_none());
    let unplugged = vm.free_owner("serial0");
    println!("unplugged serial0: {} resources freed", unplugged.len());
    println!("\nwhat the hot-plug and unplug changed:");
    print!("{}", Diff::between(&before_hotplug, &vm)?);

    // The final pause: only the delta goes across.
    let delta = Delta::between(&early, &vm)?;
    let delta_bytes = delta.to_bytes();
    println!(
        "\nfull state: {} bytes; delta at the pause: {} bytes ({} changes)",
        full.len(),
        delta_bytes.len(),
        delta.diff().len()
    );

    // The destination: load the early state, apply the delta, check it.
    let base = ResourceSet::from_bytes(&full)?;
    let restored = Delta::from_bytes(&delta_bytes)?.apply(&base)?;
    assert_eq!(restored, vm);
    assert_eq!(restored.generation(), vm.generation());
    print_set("\nrestored on the destination", &restored);

    // A delta applies only to the state it was made from.
    match delta.apply(&restored) {
        Err(e) => println!("\napplying the delta twice is refused: {e}"),
        Ok(_) => unreachable!("the delta names its base state"),
    }

    // And every file can be read by people.
    println!("\nthe delta file:");
    print!("{}", format::dump(&delta_bytes)?);
    Ok(())
}
