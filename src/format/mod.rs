// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The stable on-disk format (see `FORMAT.md`). Being written.
