// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The pools of typical VM layouts, modelled on Firecracker's.
//!
//! Each submodule names the pools and their bounds as constants, so a VMM
//! can use the names in its own code; [`ResourceSet::x86_64`] and
//! [`ResourceSet::aarch64`] build the sets. Nothing limits a set to these
//! layouts: [`ResourceSet::add_id_pool`] and
//! [`ResourceSet::add_address_pool`] build any other.
//!
//! # Examples
//!
//! ```rust
//! use vm_allocator::layout::{aarch64, x86_64};
//! use vm_allocator::ResourceSet;
//!
//! // Code that runs on both architectures names the pools it needs.
//! let (vm, gsi) = if cfg!(target_arch = "aarch64") {
//!     (ResourceSet::aarch64(), aarch64::SPI)
//! } else {
//!     (ResourceSet::x86_64(), x86_64::LEGACY_GSI)
//! };
//! assert!(vm.ids(gsi).is_some());
//! assert_eq!(x86_64::MMIO64_START, aarch64::MMIO64_START);
//! ```

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
///
/// # Examples
///
/// ```rust
/// use vm_allocator::layout::x86_64::{LEGACY_GSI, MMIO32, MMIO32_START, MSI_GSI};
/// use vm_allocator::{AllocPolicy, ResourceSet};
///
/// let mut vm = ResourceSet::x86_64();
/// assert_eq!(vm.allocate_id(LEGACY_GSI)?, 5);
/// assert_eq!(vm.allocate_ids(MSI_GSI, 4, 4)?, 24..=27);
/// let bar = vm.allocate(MMIO32, 0x1000, 0x1000, AllocPolicy::FirstMatch)?;
/// assert_eq!(bar.start(), MMIO32_START);
/// # Ok::<(), vm_allocator::SetError>(())
/// ```
pub mod x86_64 {
    /// Legacy (IOAPIC) GSIs.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// assert_eq!(x86_64::LEGACY_GSI, "legacy_gsi");
    /// assert_eq!(
    ///     vm.allocate_id(x86_64::LEGACY_GSI)?,
    ///     x86_64::LEGACY_GSI_FIRST
    /// );
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub const LEGACY_GSI: &str = "legacy_gsi";
    /// First legacy GSI handed out.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::x86_64();
    /// assert_eq!(x86_64::LEGACY_GSI_FIRST, 5);
    /// assert_eq!(
    ///     vm.ids(x86_64::LEGACY_GSI).unwrap().range_base(),
    ///     x86_64::LEGACY_GSI_FIRST
    /// );
    /// ```
    pub const LEGACY_GSI_FIRST: u32 = 5;
    /// Last legacy GSI.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::x86_64();
    /// assert_eq!(x86_64::LEGACY_GSI_LAST, 23);
    /// assert_eq!(
    ///     vm.ids(x86_64::LEGACY_GSI).unwrap().range_end(),
    ///     x86_64::LEGACY_GSI_LAST
    /// );
    /// ```
    pub const LEGACY_GSI_LAST: u32 = 23;
    /// GSIs for MSI routes.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// assert_eq!(x86_64::MSI_GSI, "msi_gsi");
    /// assert_eq!(vm.allocate_id(x86_64::MSI_GSI)?, x86_64::MSI_GSI_FIRST);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub const MSI_GSI: &str = "msi_gsi";
    /// First MSI GSI.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::x86_64();
    /// assert_eq!(x86_64::MSI_GSI_FIRST, 24);
    /// assert_eq!(
    ///     vm.ids(x86_64::MSI_GSI).unwrap().range_base(),
    ///     x86_64::MSI_GSI_FIRST
    /// );
    /// ```
    pub const MSI_GSI_FIRST: u32 = 24;
    /// Last MSI GSI.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::x86_64();
    /// assert_eq!(x86_64::MSI_GSI_LAST, 4095);
    /// assert_eq!(
    ///     vm.ids(x86_64::MSI_GSI).unwrap().range_end(),
    ///     x86_64::MSI_GSI_LAST
    /// );
    /// ```
    pub const MSI_GSI_LAST: u32 = 4095;
    /// MMIO below 4 GiB.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::{AllocPolicy, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// assert_eq!(x86_64::MMIO32, "mmio32");
    /// let first = vm.allocate(x86_64::MMIO32, 0x400, 0x400, AllocPolicy::FirstMatch)?;
    /// assert_eq!(first.start(), x86_64::MMIO32_START);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub const MMIO32: &str = "mmio32";
    /// Start of MMIO below 4 GiB.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::x86_64();
    /// assert_eq!(x86_64::MMIO32_START, 0xd000_0000);
    /// assert_eq!(
    ///     vm.addresses(x86_64::MMIO32).unwrap().base(),
    ///     x86_64::MMIO32_START
    /// );
    /// ```
    pub const MMIO32_START: u64 = 0xd000_0000;
    /// Size of MMIO below 4 GiB: up to the IOAPIC.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::x86_64();
    /// assert_eq!(x86_64::MMIO32_SIZE, 0x2ec0_0000);
    /// assert_eq!(
    ///     vm.addresses(x86_64::MMIO32).unwrap().space().len(),
    ///     x86_64::MMIO32_SIZE
    /// );
    /// ```
    pub const MMIO32_SIZE: u64 = 0xfec0_0000 - MMIO32_START;
    /// MMIO above 4 GiB.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::{AllocPolicy, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// assert_eq!(x86_64::MMIO64, "mmio64");
    /// let first = vm.allocate(x86_64::MMIO64, 0x400, 0x400, AllocPolicy::FirstMatch)?;
    /// assert_eq!(first.start(), x86_64::MMIO64_START);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub const MMIO64: &str = "mmio64";
    /// Start of MMIO above 4 GiB.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::x86_64();
    /// assert_eq!(x86_64::MMIO64_START, 0x40_0000_0000);
    /// assert_eq!(
    ///     vm.addresses(x86_64::MMIO64).unwrap().base(),
    ///     x86_64::MMIO64_START
    /// );
    /// ```
    pub const MMIO64_START: u64 = 256 << 30;
    /// Size of MMIO above 4 GiB.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::x86_64();
    /// assert_eq!(x86_64::MMIO64_SIZE, 0x40_0000_0000);
    /// assert_eq!(
    ///     vm.addresses(x86_64::MMIO64).unwrap().space().len(),
    ///     x86_64::MMIO64_SIZE
    /// );
    /// ```
    pub const MMIO64_SIZE: u64 = 256 << 30;
    /// The region past the 64-bit MMIO window.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::{AllocPolicy, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// assert_eq!(x86_64::PAST_MMIO64, "past_mmio64");
    /// let first = vm.allocate(x86_64::PAST_MMIO64, 0x400, 0x400, AllocPolicy::FirstMatch)?;
    /// assert_eq!(first.start(), x86_64::PAST_MMIO64_START);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub const PAST_MMIO64: &str = "past_mmio64";
    /// Start of the region past the 64-bit MMIO window.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::x86_64();
    /// assert_eq!(x86_64::PAST_MMIO64_START, 0x80_0000_0000);
    /// assert_eq!(
    ///     vm.addresses(x86_64::PAST_MMIO64).unwrap().base(),
    ///     x86_64::PAST_MMIO64_START
    /// );
    /// ```
    pub const PAST_MMIO64_START: u64 = MMIO64_START + MMIO64_SIZE;
    /// Size of the region past the 64-bit MMIO window.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::x86_64();
    /// assert_eq!(x86_64::PAST_MMIO64_SIZE, 0x80_0000_0000);
    /// assert_eq!(
    ///     vm.addresses(x86_64::PAST_MMIO64).unwrap().space().len(),
    ///     x86_64::PAST_MMIO64_SIZE
    /// );
    /// ```
    pub const PAST_MMIO64_SIZE: u64 = 512 << 30;
    /// Guest memory for system data (MP table, ACPI).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::{AllocPolicy, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// assert_eq!(x86_64::SYSTEM_MEMORY, "system_memory");
    /// let first = vm.allocate(x86_64::SYSTEM_MEMORY, 0x400, 0x400, AllocPolicy::FirstMatch)?;
    /// assert_eq!(first.start(), x86_64::SYSTEM_MEMORY_START);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub const SYSTEM_MEMORY: &str = "system_memory";
    /// Start of system memory.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::x86_64();
    /// assert_eq!(x86_64::SYSTEM_MEMORY_START, 0x9_fc00);
    /// assert_eq!(
    ///     vm.addresses(x86_64::SYSTEM_MEMORY).unwrap().base(),
    ///     x86_64::SYSTEM_MEMORY_START
    /// );
    /// ```
    pub const SYSTEM_MEMORY_START: u64 = 0x9_fc00;
    /// Size of system memory.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::x86_64();
    /// assert_eq!(x86_64::SYSTEM_MEMORY_SIZE, 0x4_0400);
    /// assert_eq!(
    ///     vm.addresses(x86_64::SYSTEM_MEMORY).unwrap().space().len(),
    ///     x86_64::SYSTEM_MEMORY_SIZE
    /// );
    /// ```
    pub const SYSTEM_MEMORY_SIZE: u64 = 0xe_0000 - SYSTEM_MEMORY_START;
    /// I/O ports.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::{AllocPolicy, ResourceSet};
    ///
    /// let mut vm = ResourceSet::x86_64();
    /// assert_eq!(x86_64::PIO, "pio");
    /// let com1 = vm.allocate(x86_64::PIO, 8, 1, AllocPolicy::ExactMatch(0x3f8))?;
    /// assert_eq!(com1.end(), 0x3ff);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub const PIO: &str = "pio";
    /// Number of I/O ports, from 0.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::x86_64();
    /// assert_eq!(x86_64::PIO_SIZE, 0x1_0000);
    /// assert_eq!(
    ///     vm.addresses(x86_64::PIO).unwrap().space().len(),
    ///     x86_64::PIO_SIZE
    /// );
    /// ```
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
///
/// # Examples
///
/// ```rust
/// use vm_allocator::layout::aarch64::{MMIO32, MMIO32_START, SPI, SYSTEM_MEMORY};
/// use vm_allocator::{AllocPolicy, ResourceSet};
///
/// let mut vm = ResourceSet::aarch64();
/// assert_eq!(vm.allocate_id(SPI)?, 0); // the GIC's SPI 32
/// let bar = vm.allocate(MMIO32, 0x1000, 0x1000, AllocPolicy::FirstMatch)?;
/// assert_eq!(bar.start(), MMIO32_START);
/// // The device tree goes at the start of DRAM.
/// let fdt = vm.allocate(SYSTEM_MEMORY, 0x1_0000, 0x1000, AllocPolicy::FirstMatch)?;
/// assert_eq!(fdt.start(), 0x8000_0000);
/// # Ok::<(), vm_allocator::SetError>(())
/// ```
pub mod aarch64 {
    /// GIC shared peripheral interrupts.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::aarch64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let mut vm = ResourceSet::aarch64();
    /// assert_eq!(aarch64::SPI, "spi");
    /// assert_eq!(vm.allocate_id(aarch64::SPI)?, aarch64::SPI_FIRST);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub const SPI: &str = "spi";
    /// First SPI (as a GSI; the GIC's SPI 32).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::aarch64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::aarch64();
    /// assert_eq!(aarch64::SPI_FIRST, 0);
    /// assert_eq!(
    ///     vm.ids(aarch64::SPI).unwrap().range_base(),
    ///     aarch64::SPI_FIRST
    /// );
    /// ```
    pub const SPI_FIRST: u32 = 0;
    /// Last SPI (the GIC's SPI 127).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::aarch64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::aarch64();
    /// assert_eq!(aarch64::SPI_LAST, 95);
    /// assert_eq!(vm.ids(aarch64::SPI).unwrap().range_end(), aarch64::SPI_LAST);
    /// ```
    pub const SPI_LAST: u32 = 95;
    /// GSIs for MSI routes.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::aarch64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let mut vm = ResourceSet::aarch64();
    /// assert_eq!(aarch64::MSI_GSI, "msi_gsi");
    /// assert_eq!(vm.allocate_id(aarch64::MSI_GSI)?, aarch64::MSI_GSI_FIRST);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub const MSI_GSI: &str = "msi_gsi";
    /// First MSI GSI.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::aarch64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::aarch64();
    /// assert_eq!(aarch64::MSI_GSI_FIRST, 96);
    /// assert_eq!(
    ///     vm.ids(aarch64::MSI_GSI).unwrap().range_base(),
    ///     aarch64::MSI_GSI_FIRST
    /// );
    /// ```
    pub const MSI_GSI_FIRST: u32 = SPI_LAST + 1;
    /// Last MSI GSI.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::aarch64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::aarch64();
    /// assert_eq!(aarch64::MSI_GSI_LAST, 4095);
    /// assert_eq!(
    ///     vm.ids(aarch64::MSI_GSI).unwrap().range_end(),
    ///     aarch64::MSI_GSI_LAST
    /// );
    /// ```
    pub const MSI_GSI_LAST: u32 = 4095;
    /// MMIO below DRAM.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::aarch64;
    /// use vm_allocator::{AllocPolicy, ResourceSet};
    ///
    /// let mut vm = ResourceSet::aarch64();
    /// assert_eq!(aarch64::MMIO32, "mmio32");
    /// let first = vm.allocate(aarch64::MMIO32, 0x400, 0x400, AllocPolicy::FirstMatch)?;
    /// assert_eq!(first.start(), aarch64::MMIO32_START);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub const MMIO32: &str = "mmio32";
    /// Start of MMIO below DRAM.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::aarch64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::aarch64();
    /// assert_eq!(aarch64::MMIO32_START, 0x4000_0000);
    /// assert_eq!(
    ///     vm.addresses(aarch64::MMIO32).unwrap().base(),
    ///     aarch64::MMIO32_START
    /// );
    /// ```
    pub const MMIO32_START: u64 = 1 << 30;
    /// Size of MMIO below DRAM.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::aarch64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::aarch64();
    /// assert_eq!(aarch64::MMIO32_SIZE, 0x4000_0000);
    /// assert_eq!(
    ///     vm.addresses(aarch64::MMIO32).unwrap().space().len(),
    ///     aarch64::MMIO32_SIZE
    /// );
    /// ```
    pub const MMIO32_SIZE: u64 = DRAM_START - MMIO32_START;
    /// MMIO above 4 GiB.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::aarch64;
    /// use vm_allocator::{AllocPolicy, ResourceSet};
    ///
    /// let mut vm = ResourceSet::aarch64();
    /// assert_eq!(aarch64::MMIO64, "mmio64");
    /// let first = vm.allocate(aarch64::MMIO64, 0x400, 0x400, AllocPolicy::FirstMatch)?;
    /// assert_eq!(first.start(), aarch64::MMIO64_START);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub const MMIO64: &str = "mmio64";
    /// Start of MMIO above 4 GiB.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::aarch64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::aarch64();
    /// assert_eq!(aarch64::MMIO64_START, 0x40_0000_0000);
    /// assert_eq!(
    ///     vm.addresses(aarch64::MMIO64).unwrap().base(),
    ///     aarch64::MMIO64_START
    /// );
    /// ```
    pub const MMIO64_START: u64 = 256 << 30;
    /// Size of MMIO above 4 GiB.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::aarch64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::aarch64();
    /// assert_eq!(aarch64::MMIO64_SIZE, 0x40_0000_0000);
    /// assert_eq!(
    ///     vm.addresses(aarch64::MMIO64).unwrap().space().len(),
    ///     aarch64::MMIO64_SIZE
    /// );
    /// ```
    pub const MMIO64_SIZE: u64 = 256 << 30;
    /// The region past the 64-bit MMIO window.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::aarch64;
    /// use vm_allocator::{AllocPolicy, ResourceSet};
    ///
    /// let mut vm = ResourceSet::aarch64();
    /// assert_eq!(aarch64::PAST_MMIO64, "past_mmio64");
    /// let first = vm.allocate(aarch64::PAST_MMIO64, 0x400, 0x400, AllocPolicy::FirstMatch)?;
    /// assert_eq!(first.start(), aarch64::PAST_MMIO64_START);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub const PAST_MMIO64: &str = "past_mmio64";
    /// Start of the region past the 64-bit MMIO window.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::aarch64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::aarch64();
    /// assert_eq!(aarch64::PAST_MMIO64_START, 0x80_0000_0000);
    /// assert_eq!(
    ///     vm.addresses(aarch64::PAST_MMIO64).unwrap().base(),
    ///     aarch64::PAST_MMIO64_START
    /// );
    /// ```
    pub const PAST_MMIO64_START: u64 = MMIO64_START + MMIO64_SIZE;
    /// Size of the region past the 64-bit MMIO window.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::aarch64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::aarch64();
    /// assert_eq!(aarch64::PAST_MMIO64_SIZE, 0x80_0000_0000);
    /// assert_eq!(
    ///     vm.addresses(aarch64::PAST_MMIO64).unwrap().space().len(),
    ///     aarch64::PAST_MMIO64_SIZE
    /// );
    /// ```
    pub const PAST_MMIO64_SIZE: u64 = 512 << 30;
    /// Guest memory for system data (the device tree).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::aarch64;
    /// use vm_allocator::{AllocPolicy, ResourceSet};
    ///
    /// let mut vm = ResourceSet::aarch64();
    /// assert_eq!(aarch64::SYSTEM_MEMORY, "system_memory");
    /// let first = vm.allocate(
    ///     aarch64::SYSTEM_MEMORY,
    ///     0x400,
    ///     0x400,
    ///     AllocPolicy::FirstMatch,
    /// )?;
    /// assert_eq!(first.start(), aarch64::SYSTEM_MEMORY_START);
    /// # Ok::<(), vm_allocator::SetError>(())
    /// ```
    pub const SYSTEM_MEMORY: &str = "system_memory";
    /// Start of DRAM, where system memory starts.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::aarch64;
    ///
    /// assert_eq!(aarch64::DRAM_START, 0x8000_0000); // 2 GiB
    /// // 32-bit MMIO ends where DRAM starts; system memory is DRAM's start.
    /// assert_eq!(aarch64::MMIO32_START + aarch64::MMIO32_SIZE, aarch64::DRAM_START);
    /// assert_eq!(aarch64::SYSTEM_MEMORY_START, aarch64::DRAM_START);
    /// ```
    pub const DRAM_START: u64 = 0x8000_0000;
    /// Start of system memory.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::aarch64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::aarch64();
    /// assert_eq!(aarch64::SYSTEM_MEMORY_START, 0x8000_0000);
    /// assert_eq!(
    ///     vm.addresses(aarch64::SYSTEM_MEMORY).unwrap().base(),
    ///     aarch64::SYSTEM_MEMORY_START
    /// );
    /// ```
    pub const SYSTEM_MEMORY_START: u64 = DRAM_START;
    /// Size of system memory.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use vm_allocator::layout::aarch64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::aarch64();
    /// assert_eq!(aarch64::SYSTEM_MEMORY_SIZE, 0x20_0000);
    /// assert_eq!(
    ///     vm.addresses(aarch64::SYSTEM_MEMORY).unwrap().space().len(),
    ///     aarch64::SYSTEM_MEMORY_SIZE
    /// );
    /// ```
    pub const SYSTEM_MEMORY_SIZE: u64 = 0x20_0000;
}

impl ResourceSet {
    /// The pools of an x86_64 VM as Firecracker lays it out (see
    /// [`layout::x86_64`](x86_64)), all empty, at generation 0: the same
    /// set, at the same generation, as adding these pools one by one with
    /// [`add_id_pool`](Self::add_id_pool) and
    /// [`add_address_pool`](Self::add_address_pool) (pools are layout, not
    /// mutations; see [`generation`](Self::generation)).
    ///
    /// ```rust
    /// use vm_allocator::layout::x86_64;
    /// use vm_allocator::ResourceSet;
    ///
    /// let vm = ResourceSet::x86_64();
    /// let names: Vec<&str> = vm.pools().map(|(name, _)| name).collect();
    /// assert_eq!(
    ///     names,
    ///     [
    ///         "legacy_gsi",
    ///         "msi_gsi",
    ///         "mmio32",
    ///         "mmio64",
    ///         "past_mmio64",
    ///         "system_memory",
    ///         "pio"
    ///     ]
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
        set
    }

    /// The pools of an aarch64 VM as Firecracker lays it out (see
    /// [`layout::aarch64`](aarch64)), all empty, at generation 0: the same
    /// set, at the same generation, as adding these pools one by one with
    /// [`add_id_pool`](Self::add_id_pool) and
    /// [`add_address_pool`](Self::add_address_pool) (pools are layout, not
    /// mutations; see [`generation`](Self::generation)).
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
        set
    }
}
