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

pub mod v0_1;
