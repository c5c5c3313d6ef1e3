// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Migration to and from the serde shapes of earlier releases.
//!
//! A VMM that stored allocator state with an earlier release keeps the field
//! types it has today and changes one serde attribute per field; the state
//! then loads from, and saves to, the old shape. Everything loaded is
//! validated exactly like this crate's own formats.
//!
//! - [`v0_1`]: vm-allocator 0.1.x (the derived serde shapes of 0.1.4's
//!   internals), both ways.
//!
//! # Examples
//!
//! ```rust
//! use serde::{Deserialize, Serialize};
//! use vm_allocator::IdAllocator;
//!
//! // A VMM's state, saved by vm-allocator 0.1.x; one attribute reads it.
//! #[derive(Serialize, Deserialize)]
//! struct Devices {
//!     #[serde(with = "vm_allocator::compat::v0_1::id_allocator")]
//!     gsi: IdAllocator,
//! }
//! let saved_by_0_1 = r#"{"gsi":{"range_base":5,"next_id":7,"range_end":23,"freed_ids":[]}}"#;
//! let mut devices: Devices = serde_json::from_str(saved_by_0_1).unwrap();
//! assert_eq!(devices.gsi.allocate_id().unwrap(), 7);
//! ```

pub mod v0_1;
