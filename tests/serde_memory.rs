// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Hostile sizes: decoding a JSON list of a million items takes memory
//! proportional to the input, whatever the order of the fields, and a
//! declared length reserves nothing.
//!
//! A counting global allocator (`tests/support/counting.rs`) measures the
//! peak heap of the decoding thread. The hostile inputs of every other
//! decoder are in `tests/bounds.rs`.

#![cfg(feature = "serde")]

use serde::de::DeserializeOwned;
use vm_allocator::{AddressAllocator, IdAllocator, Owner};

#[path = "support/counting.rs"]
mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// Decodes `json` as `T` and returns the result and the peak heap, above
/// what was live before, while decoding (the decoded state included).
fn peak_while_decoding<T: DeserializeOwned>(json: &str) -> (Result<T, String>, usize) {
    let (decoded, heap) =
        counting::measure(|| serde_json::from_str::<T>(json).map_err(|e| e.to_string()));
    (decoded, heap.peak)
}

const ITEMS: u64 = 1_000_000;

/// A JSON list of `ITEMS` items, `item(i)` each.
fn list(item: impl Fn(u64) -> String) -> String {
    let mut s = String::with_capacity(ITEMS as usize * 24);
    s.push('[');
    for i in 0..ITEMS {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&item(i));
    }
    s.push(']');
    s
}

/// Decodes `json`, which must give `expect`, and checks that the peak heap
/// stays under `factor` times the input.
fn assert_bounded<T: DeserializeOwned>(
    what: &str,
    json: &str,
    factor: usize,
    expect: impl FnOnce(Result<T, String>),
) {
    let (decoded, peak) = peak_while_decoding::<T>(json);
    let ratio = peak as f64 / json.len() as f64;
    println!(
        "{what}: {} input bytes, peak {peak} ({ratio:.2}x)",
        json.len()
    );
    assert!(
        peak <= factor * json.len(),
        "{what}: peak heap {peak} bytes for {} input bytes ({ratio:.2}x, limit {factor}x)",
        json.len()
    );
    expect(decoded);
}

#[test]
fn a_million_items_decode_in_memory_proportional_to_the_input() {
    // Valid allocations, the list before the space (as a serde_json::Value
    // sorts the keys): held, then built into the real allocator.
    let packed = list(|i| format!("[{},{},null]", 2 * i, 2 * i));
    let json = format!(
        r#"{{"allocations":{packed},"generation":7,"space":{{"end":{},"start":0}}}}"#,
        2 * ITEMS
    );
    assert_bounded::<AddressAllocator>("addresses, list first", &json, 3, |a| {
        let a = a.unwrap();
        assert_eq!((a.len(), a.generation()), (ITEMS, 7));
    });

    // The same list after the space streams into the tree.
    let json = format!(
        r#"{{"space":{{"end":{},"start":0}},"generation":7,"allocations":{packed}}}"#,
        2 * ITEMS
    );
    assert_bounded::<AddressAllocator>("addresses, list last", &json, 2, |a| {
        assert_eq!(a.unwrap().len(), ITEMS);
    });

    // The shortest items there are, all held before the space, then refused
    // at the second one.
    let shortest = list(|_| String::from("[0,0,null]"));
    let json =
        format!(r#"{{"allocations":{shortest},"generation":0,"space":{{"end":9,"start":0}}}}"#);
    assert_bounded::<AddressAllocator>("shortest items, list first", &json, 3, |a| {
        let e = a.unwrap_err();
        assert!(e.contains("allocation #1 starts at 0x0"), "{e}");
    });

    // One owner on every item: the name is held once, not once per item.
    let owned = list(|i| format!(r#"[{},{},"virtio-net0"]"#, 2 * i, 2 * i));
    let json = format!(
        r#"{{"allocations":{owned},"generation":0,"space":{{"end":{},"start":0}}}}"#,
        2 * ITEMS
    );
    assert_bounded::<AddressAllocator>("owned items, list first", &json, 3, |a| {
        let a = a.unwrap();
        let first = a.owner_at(0).unwrap();
        let last = a.owner_at(2 * (ITEMS - 1)).unwrap();
        assert!(Owner::ptr_eq(first, last));
    });

    // Id runs before the range.
    let runs = list(|i| format!("[{},{},null]", 2 * i, 2 * i));
    let json = format!(
        r#"{{"allocated":{runs},"generation":0,"next_id":{},"range_base":0,"range_end":4294967295}}"#,
        2 * ITEMS
    );
    assert_bounded::<IdAllocator>("id runs, list first", &json, 3, |ids| {
        assert_eq!(ids.unwrap().used(), ITEMS);
    });

    // A JSON list never reserves memory from a declared length; a binary
    // one may declare any length: nothing is reserved from it either.
    let mut bytes = bincode::serialize(&(5u32, 23u32, 12u64, 0u64)).unwrap();
    bytes.extend_from_slice(&(u64::MAX / 2).to_le_bytes());
    let (decoded, heap) = counting::measure(|| bincode::deserialize::<IdAllocator>(&bytes));
    assert!(decoded.is_err());
    let peak = heap.peak;
    assert!(peak < 4096, "a declared length reserved {peak} bytes");
}
