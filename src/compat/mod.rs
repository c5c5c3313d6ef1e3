// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Migration to and from the serde shapes of earlier versions. Being written.
