// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Arbitrary bytes into the on-disk format's readers (both allocators,
//! resource sets and deltas, format versions 1 and 2): each either refuses
//! them or returns a valid state whose encoding in the file's version is
//! exactly the input (the format is canonical), and the listing agrees with
//! the typed readers (`vm_allocator_fuzz::check_file`).
//!
//! Random bytes rarely carry a correct checksum, so every input is also
//! tried as the body of a well-framed file of each kind in each version.
//! `decode_mutated` does the opposite: it starts from valid files.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vm_allocator_fuzz::{check_file, seal};

fuzz_target!(|data: &[u8]| {
    check_file(data);
    for version in [1u16, 2] {
        for kind in [1, 2, 3, 4] {
            check_file(&seal(version, kind, data));
        }
    }
});
