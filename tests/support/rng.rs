// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The one deterministic generator of the tests, benchmarks and examples
//! that need reproducible random choices without a dependency: SplitMix64.
//! A fixed seed gives the same sequence on every machine and every run;
//! tests that take a seed from the environment print it.
//!
//! Include it with `#[path = "support/rng.rs"] mod rng;` (or the right
//! relative path).

// Each includer uses a different part of it.
#![allow(dead_code)]

/// SplitMix64 (Steele, Lea and Flood): tiny, fast, and good enough to pick
/// operations and sizes.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// One of `items` (not empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}
