// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The pools of typical VM layouts, modelled on Firecracker's.
//!
//! Each submodule names the pools and their bounds as constants, so a VMM
//! can use the names in its own code; [`ResourceSet::x86_64`] and
//! [`ResourceSet::aarch64`] build the sets. Nothing limits a set to these
//! layouts: [`ResourceSet::add_id_pool`] and
//! [`ResourceSet::add_address_pool`] build any other.

use super::ResourceSet;

/// x86_64, as Firecracker lays it out.
///
/// | pool | kind | range |
/// |---|---|---|
/// | `legacy_gsi` | ids | 5 ..= 23 (IOAPIC pins; 0–4 are the legacy devices') |
/// | `msi_gsi` | ids | 24 ..= 4095 (KVM's GSI routes) |
/// | `mmio32` | addresses | 0xd000_0000 up to the IOAPIC at 0xfec0_0000 |
/// | `mmio64` | addresses | 256 GiB ..< 512 GiB |
/// | `past_mmio64` | addresses | 512 GiB ..< 1 TiB (e.g. hot-plugged memory) |
/// | `system_memory` | addresses | 0x9_fc00 ..< 0xe_0000 (MP table, ACPI tables) |
/// | `pio` | addresses | 0 ..= 0xffff (I/O ports) |
pub mod x86_64 {
    /// Legacy (IOAPIC) GSIs.
    pub const LEGACY_GSI: &str = "legacy_gsi";
    /// First legacy GSI handed out.
    pub const LEGACY_GSI_FIRST: u32 = 5;
    /// Last legacy GSI.
    pub const LEGACY_GSI_LAST: u32 = 23;
    /// GSIs for MSI routes.
    pub const MSI_GSI: &str = "msi_gsi";
    /// First MSI GSI.
    pub const MSI_GSI_FIRST: u32 = 24;
    /// Last MSI GSI.
    pub const MSI_GSI_LAST: u32 = 4095;
    /// MMIO below 4 GiB.
    pub const MMIO32: &str = "mmio32";
    /// Start of MMIO below 4 GiB.
    pub const MMIO32_START: u64 = 0xd000_0000;
    /// Size of MMIO below 4 GiB: up to the IOAPIC.
    pub const MMIO32_SIZE: u64 = 0xfec0_0000 - MMIO32_START;
    /// MMIO above 4 GiB.
    pub const MMIO64: &str = "mmio64";
    /// Start of MMIO above 4 GiB.
    pub const MMIO64_START: u64 = 256 << 30;
    /// Size of MMIO above 4 GiB.
    pub const MMIO64_SIZE: u64 = 256 << 30;
    /// The region past the 64-bit MMIO window.
    pub const PAST_MMIO64: &str = "past_mmio64";
    /// Start of the region past the 64-bit MMIO window.
    pub const PAST_MMIO64_START: u64 = MMIO64_START + MMIO64_SIZE;
    /// Size of the region past the 64-bit MMIO window.
    pub const PAST_MMIO64_SIZE: u64 = 512 << 30;
    /// Guest memory for system data (MP table, ACPI).
    pub const SYSTEM_MEMORY: &str = "system_memory";
    /// Start of system memory.
    pub const SYSTEM_MEMORY_START: u64 = 0x9_fc00;
    /// Size of system memory.
    pub const SYSTEM_MEMORY_SIZE: u64 = 0xe_0000 - SYSTEM_MEMORY_START;
    /// I/O ports.
    pub const PIO: &str = "pio";
    /// Number of I/O ports, from 0.
    pub const PIO_SIZE: u64 = 0x1_0000;
}

/// aarch64, as Firecracker lays it out.
///
/// | pool | kind | range |
/// |---|---|---|
/// | `spi` | ids | 0 ..= 95 (GIC SPIs 32–127, as KVM numbers them) |
/// | `msi_gsi` | ids | 96 ..= 4095 |
/// | `mmio32` | addresses | 1 GiB ..< 2 GiB (below DRAM) |
/// | `mmio64` | addresses | 256 GiB ..< 512 GiB |
/// | `past_mmio64` | addresses | 512 GiB ..< 1 TiB |
/// | `system_memory` | addresses | 2 GiB ..< 2 GiB + 2 MiB (the start of DRAM) |
pub mod aarch64 {
    /// GIC shared peripheral interrupts.
    pub const SPI: &str = "spi";
    /// First SPI (as a GSI; the GIC's SPI 32).
    pub const SPI_FIRST: u32 = 0;
    /// Last SPI (the GIC's SPI 127).
    pub const SPI_LAST: u32 = 95;
    /// GSIs for MSI routes.
    pub const MSI_GSI: &str = "msi_gsi";
    /// First MSI GSI.
    pub const MSI_GSI_FIRST: u32 = SPI_LAST + 1;
    /// Last MSI GSI.
    pub const MSI_GSI_LAST: u32 = 4095;
    /// MMIO below DRAM.
    pub const MMIO32: &str = "mmio32";
    /// Start of MMIO below DRAM.
    pub const MMIO32_START: u64 = 1 << 30;
    /// Size of MMIO below DRAM.
    pub const MMIO32_SIZE: u64 = DRAM_START - MMIO32_START;
    /// MMIO above 4 GiB.
    pub const MMIO64: &str = "mmio64";
    /// Start of MMIO above 4 GiB.
    pub const MMIO64_START: u64 = 256 << 30;
    /// Size of MMIO above 4 GiB.
    pub const MMIO64_SIZE: u64 = 256 << 30;
    /// The region past the 64-bit MMIO window.
    pub const PAST_MMIO64: &str = "past_mmio64";
    /// Start of the region past the 64-bit MMIO window.
    pub const PAST_MMIO64_START: u64 = MMIO64_START + MMIO64_SIZE;
    /// Size of the region past the 64-bit MMIO window.
    pub const PAST_MMIO64_SIZE: u64 = 512 << 30;
    /// Guest memory for system data (the device tree).
    pub const SYSTEM_MEMORY: &str = "system_memory";
    /// Start of DRAM, where system memory starts.
    pub const DRAM_START: u64 = 0x8000_0000;
    /// Start of system memory.
    pub const SYSTEM_MEMORY_START: u64 = DRAM_START;
    /// Size of system memory.
    pub const SYSTEM_MEMORY_SIZE: u64 = 0x20_0000;
}

impl ResourceSet {
    /// The pools of an x86_64 VM as Firecracker lays it out (see
    /// [`layout::x86_64`](x86_64)), all empty, at generation 0.
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::x86_64();
    /// let names: Vec<&str> = vm.pools().map(|(name, _)| name).collect();
    /// assert_eq!(
    ///     names,
    ///     ["legacy_gsi", "msi_gsi", "mmio32", "mmio64", "past_mmio64", "system_memory", "pio"]
    /// );
    /// assert_eq!(vm.addresses(x86_64::MMIO32).unwrap().end(), 0xfebf_ffff);
    /// ```
    pub fn x86_64() -> ResourceSet {
        use x86_64::*;
        let mut set = ResourceSet::new();
        set.add_id_pool(LEGACY_GSI, LEGACY_GSI_FIRST, LEGACY_GSI_LAST)
            .and_then(|()| set.add_id_pool(MSI_GSI, MSI_GSI_FIRST, MSI_GSI_LAST))
            .and_then(|()| set.add_address_pool(MMIO32, MMIO32_START, MMIO32_SIZE))
            .and_then(|()| set.add_address_pool(MMIO64, MMIO64_START, MMIO64_SIZE))
            .and_then(|()| set.add_address_pool(PAST_MMIO64, PAST_MMIO64_START, PAST_MMIO64_SIZE))
            .and_then(|()| {
                set.add_address_pool(SYSTEM_MEMORY, SYSTEM_MEMORY_START, SYSTEM_MEMORY_SIZE)
            })
            .and_then(|()| set.add_address_pool(PIO, 0, PIO_SIZE))
            .expect("the layout is valid");
        set.generation = 0;
        set
    }

    /// The pools of an aarch64 VM as Firecracker lays it out (see
    /// [`layout::aarch64`](aarch64)), all empty, at generation 0.
    ///
    /// ```rust
    /// use vm_allocator::layout::aarch64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let mut vm = ResourceSet::aarch64();
    /// assert_eq!(vm.allocate_id(aarch64::SPI).unwrap(), 0);
    /// assert_eq!(vm.ids(aarch64::MSI_GSI).unwrap().range_base(), 96);
    /// ```
    pub fn aarch64() -> ResourceSet {
        use aarch64::*;
        let mut set = ResourceSet::new();
        set.add_id_pool(SPI, SPI_FIRST, SPI_LAST)
            .and_then(|()| set.add_id_pool(MSI_GSI, MSI_GSI_FIRST, MSI_GSI_LAST))
            .and_then(|()| set.add_address_pool(MMIO32, MMIO32_START, MMIO32_SIZE))
            .and_then(|()| set.add_address_pool(MMIO64, MMIO64_START, MMIO64_SIZE))
            .and_then(|()| set.add_address_pool(PAST_MMIO64, PAST_MMIO64_START, PAST_MMIO64_SIZE))
            .and_then(|()| {
                set.add_address_pool(SYSTEM_MEMORY, SYSTEM_MEMORY_START, SYSTEM_MEMORY_SIZE)
            })
            .expect("the layout is valid");
        set.generation = 0;
        set
    }
}
