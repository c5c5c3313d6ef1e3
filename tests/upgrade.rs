// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! What a VMM meets when it upgrades from vm-allocator 0.1.4: its structs
//! that derive serde on 0.1.4's allocators saved state in 0.1.4's shape.
//! This crate's default serde shape is another one, so those bytes do not
//! load into the same struct unchanged; one `serde(with)` attribute per
//! field (or the `V01` wrapper) loads them. Both sides are shown here on
//! bytes that 0.1.4 itself wrote, under bincode 1.3.3 and JSON.

#![cfg(feature = "serde")]

use serde::{Deserialize, Serialize};
use vm_allocator::compat::v0_1::V01;
use vm_allocator::{AddressAllocator, Error, IdAllocator};

#[path = "support/state_0_1_4.rs"]
mod state_0_1_4;

/// The VMM's state before the upgrade, on vm-allocator 0.1.4.
#[derive(Serialize)]
struct Before {
    gsi: upstream::IdAllocator,
    mmio: upstream::AddressAllocator,
}

/// The same struct after the upgrade, unchanged: this crate's own shape.
#[derive(Deserialize, Debug)]
#[allow(dead_code)] // only its failure to load is looked at
struct AfterUnchanged {
    gsi: IdAllocator,
    mmio: AddressAllocator,
}

/// The same struct with the one-line fix per field.
#[derive(Serialize, Deserialize, Debug)]
struct AfterFixed {
    #[serde(with = "vm_allocator::compat::v0_1::id_allocator")]
    gsi: IdAllocator,
    #[serde(with = "vm_allocator::compat::v0_1::address_allocator")]
    mmio: AddressAllocator,
}

/// The same with the wrapper instead of the attribute.
#[derive(Deserialize, Debug)]
struct AfterWrapped {
    gsi: V01<IdAllocator>,
    mmio: V01<AddressAllocator>,
}

fn before() -> Before {
    Before {
        gsi: state_0_1_4::gsi(),
        mmio: state_0_1_4::mmio(),
    }
}

/// What the fixed struct must hold.
fn check(gsi: &IdAllocator, mmio: &AddressAllocator) {
    assert_eq!(gsi.iter().collect::<Vec<_>>(), vec![5, 7, 8]);
    // 0.1.4's bookkeeping comes along: 6 was released, 9 never handed out.
    let mut probe = gsi.clone();
    assert_eq!(probe.free_id(6), Err(Error::AlreadyReleased(6)));
    assert_eq!(probe.free_id(9), Err(Error::NeverAllocated(9)));
    assert_eq!(
        mmio.iter()
            .map(|r| (r.start(), r.end()))
            .collect::<Vec<_>>(),
        vec![(0xd000_0000, 0xd000_0fff), (0xdfff_c000, 0xdfff_ffff)]
    );
}

#[test]
fn bincode_bytes_of_0_1_4_need_the_compat_attribute() {
    let bytes = bincode::serialize(&before()).unwrap();
    // Unchanged: refused (not silently misread).
    let err = bincode::deserialize::<AfterUnchanged>(&bytes).unwrap_err();
    assert!(!err.to_string().is_empty());
    // With the attribute: loaded and validated.
    let fixed: AfterFixed = bincode::deserialize(&bytes).unwrap();
    check(&fixed.gsi, &fixed.mmio);
    let wrapped: AfterWrapped = bincode::deserialize(&bytes).unwrap();
    check(&wrapped.gsi.0, &wrapped.mmio.0);
    // And the fixed struct writes 0.1.4's bytes again, for a host that
    // has not upgraded.
    assert_eq!(bincode::serialize(&fixed).unwrap(), bytes);
}

#[test]
fn json_of_0_1_4_needs_the_compat_attribute() {
    let json = serde_json::to_string(&before()).unwrap();
    let err = serde_json::from_str::<AfterUnchanged>(&json).unwrap_err();
    // The message names what is missing or unknown: 0.1.4's field names.
    let message = err.to_string();
    assert!(
        message.contains("range_base")
            || message.contains("freed_ids")
            || message.contains("address_space")
            || message.contains("missing field")
            || message.contains("unknown field"),
        "{message}"
    );
    let fixed: AfterFixed = serde_json::from_str(&json).unwrap();
    check(&fixed.gsi, &fixed.mmio);
    let wrapped: AfterWrapped = serde_json::from_str(&json).unwrap();
    check(&wrapped.gsi.0, &wrapped.mmio.0);
}
