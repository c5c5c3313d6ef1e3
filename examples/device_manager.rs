// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! A small VMM device manager: hands out GSIs, MSI vectors and MMIO windows
//! to a few devices, unplugs one, saves the allocator state as a snapshot
//! file, restores it as a migration target would, and prints everything.
//!
//! Run with `cargo run --example device_manager`.

use std::error::Error;

use vm_allocator::{AddressAllocator, AllocPolicy, Constraint, IdAllocator, RangeInclusive};

const PAGE: u64 = 0x1000;
/// The 32-bit MMIO hole of a typical x86_64 VM: 0xd000_0000..=0xfebf_ffff.
const MMIO32_BASE: u64 = 0xd000_0000;
const MMIO32_SIZE: u64 = 0xfec0_0000 - MMIO32_BASE;

/// What the device manager hands out to one device.
struct Device {
    name: &'static str,
    gsi: u32,
    msi: Option<core::ops::RangeInclusive<u32>>,
    mmio: RangeInclusive,
}

struct DeviceManager {
    legacy_gsi: IdAllocator,
    msi: IdAllocator,
    mmio32: AddressAllocator,
    devices: Vec<Device>,
}

impl DeviceManager {
    fn new() -> Result<Self, vm_allocator::Error> {
        Ok(DeviceManager {
            // GSIs 0-4 belong to the legacy PIC devices.
            legacy_gsi: IdAllocator::new(5, 23)?,
            msi: IdAllocator::new(24, 1023)?,
            mmio32: AddressAllocator::new(MMIO32_BASE, MMIO32_SIZE)?,
            devices: Vec::new(),
        })
    }

    /// Plugs a device that needs `bar_size` bytes of MMIO and, if it does
    /// MSI, `vectors` aligned MSI vectors.
    fn plug(
        &mut self,
        name: &'static str,
        bar_size: u64,
        vectors: u32,
    ) -> Result<(), vm_allocator::Error> {
        let gsi = self.legacy_gsi.allocate_id()?;
        let msi = match vectors {
            0 => None,
            n => Some(self.msi.allocate_ids(n, n.next_power_of_two())?),
        };
        // BARs are naturally aligned; keep them in the low half of the hole.
        let bar = Constraint::new(bar_size, bar_size.max(PAGE), AllocPolicy::FirstMatch)?
            .with_max_address(MMIO32_BASE + MMIO32_SIZE / 2 - 1);
        let mmio = self.mmio32.allocate_with(bar)?;
        self.devices.push(Device {
            name,
            gsi,
            msi,
            mmio,
        });
        Ok(())
    }

    fn unplug(&mut self, name: &str) -> Result<(), vm_allocator::Error> {
        let at = self
            .devices
            .iter()
            .position(|d| d.name == name)
            .ok_or(vm_allocator::Error::ResourceNotAvailable)?;
        let device = self.devices.remove(at);
        self.legacy_gsi.free_id(device.gsi)?;
        if let Some(msi) = device.msi {
            self.msi.free_ids(msi)?;
        }
        self.mmio32.free(&device.mmio)
    }

    fn print(&self) {
        for d in &self.devices {
            let msi = d
                .msi
                .as_ref()
                .map_or("-".to_string(), |r| format!("{}..={}", r.start(), r.end()));
            println!(
                "  {:<12} gsi {:>2}  msi {:<10} mmio {:#x}-{:#x}",
                d.name,
                d.gsi,
                msi,
                d.mmio.start(),
                d.mmio.end()
            );
        }
        println!(
            "  legacy GSIs used {}/{}, MSI vectors used {}/{}, MMIO32 used {:#x} of {:#x} bytes",
            self.legacy_gsi.used(),
            self.legacy_gsi.used() + self.legacy_gsi.available(),
            self.msi.used(),
            self.msi.used() + self.msi.available(),
            self.mmio32.used(),
            self.mmio32.used() + self.mmio32.available()
        );
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut dm = DeviceManager::new()?;
    dm.plug("virtio-net", 0x4000, 4)?;
    dm.plug("virtio-blk", 0x4000, 2)?;
    dm.plug("serial", PAGE, 0)?;
    dm.plug("virtio-rng", PAGE, 1)?;
    println!("after boot:");
    dm.print();

    // Snapshots are O(1): the copy shares all nodes with the live state.
    let at_boot = dm.mmio32.clone();
    dm.unplug("virtio-blk")?;
    dm.plug("virtio-vsock", 0x2000, 1)?;
    println!("after unplugging virtio-blk and plugging virtio-vsock:");
    dm.print();
    println!(
        "  the boot-time MMIO snapshot still holds {} windows",
        at_boot.len()
    );

    // Save the state as a migration source would, and restore it.
    let dir = std::env::temp_dir().join(format!("vm-allocator-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("mmio32.vmalloc");
    dm.mmio32.write_to_path(&path)?;
    let gsi_bytes = dm.legacy_gsi.to_bytes();
    let msi_bytes = dm.msi.to_bytes();
    let mut restored = AddressAllocator::read_from_path(&path)?;
    let restored_gsi = IdAllocator::from_bytes(&gsi_bytes)?;
    let restored_msi = IdAllocator::from_bytes(&msi_bytes)?;
    assert_eq!(restored, dm.mmio32);
    assert_eq!(restored_gsi, dm.legacy_gsi);
    assert_eq!(restored_msi, dm.msi);
    println!(
        "saved and restored: {} ({} bytes), GSIs ({} bytes), MSI vectors ({} bytes)",
        path.display(),
        std::fs::metadata(&path)?.len(),
        gsi_bytes.len(),
        msi_bytes.len()
    );

    // The restored allocator carries on exactly where the source stopped.
    let next = restored.allocate(PAGE, PAGE, AllocPolicy::FirstMatch)?;
    let on_source = dm.mmio32.allocate(PAGE, PAGE, AllocPolicy::FirstMatch)?;
    assert_eq!(next, on_source);
    println!(
        "next MMIO window on both hosts: {:#x}-{:#x}",
        next.start(),
        next.end()
    );

    // A damaged file is refused with the reason, never half-loaded.
    let mut bytes = std::fs::read(&path)?;
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    match AddressAllocator::from_bytes(&bytes) {
        Err(e) => println!("a corrupted copy is rejected: {e}"),
        Ok(_) => unreachable!("a flipped checksum bit must be detected"),
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
