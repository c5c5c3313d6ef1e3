// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Alignment-aware free-gap summaries.
//!
//! Pruning a search by "largest free gap >= size" is not enough once
//! alignment comes in: a gap can be large enough yet hold no aligned start,
//! and pruning by `size + align - 1` instead skips gaps that do fit. So every
//! subtree keeps, for each power-of-two alignment `2^k`, the longest aligned
//! run any of its gaps can hold: `caps[k] = max over gaps of (gap end + 1 -
//! align_up(gap start, 2^k))`. A request of `size` at alignment `2^k` fits
//! in the subtree iff `caps[k] >= size`, exactly, so every search descends
//! only into subtrees that hold an answer.

/// Number of alignment classes: alignments `2^0` to `2^63`.
pub(crate) const CLASSES: usize = 64;

/// `caps[k]`: the largest size a gap of the subtree can hold at alignment `2^k`.
///
/// Invariant: non-increasing in `k` (a stricter alignment never fits more).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Caps([u64; CLASSES]);

/// A mask with the low `k` bits set.
fn low_bits(k: u32) -> u64 {
    if k >= 64 {
        u64::MAX
    } else {
        (1u64 << k) - 1
    }
}

/// The largest size the gap `[start, start + len - 1]` holds at alignment `2^k`.
#[cfg(any(test, fuzzing, vm_allocator_check))]
pub(crate) fn gap_cap(start: u64, len: u64, k: u32) -> u64 {
    // Distance from `start` up to the next multiple of 2^k.
    let skip = start.wrapping_neg() & low_bits(k);
    len.saturating_sub(skip)
}

impl Caps {
    /// No gap at all.
    pub(crate) const EMPTY: Caps = Caps([0; CLASSES]);

    /// The capacity at alignment `2^k`.
    #[cfg(test)]
    pub(crate) fn get(&self, k: u32) -> u64 {
        self.0[k as usize]
    }

    /// True if some gap holds `size` units at alignment `2^k`.
    #[inline]
    pub(crate) fn fits(&self, size: u64, k: u32) -> bool {
        self.0[k as usize] >= size
    }

    /// True if no gap exists.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.0[0] == 0
    }

    /// Builds the summary of a sequence of gaps `(start, len)`.
    ///
    /// Each gap's capacity is a step function of `k` that drops at the set
    /// bits of `-start`; recording each step at its last `k` and taking a
    /// suffix maximum costs O(steps + 64) instead of O(64) per gap.
    pub(crate) fn from_gaps(gaps: impl Iterator<Item = (u64, u64)>) -> Caps {
        let mut points = [0u64; CLASSES];
        let mut any = false;
        for (start, len) in gaps {
            if len == 0 {
                continue;
            }
            any = true;
            record_steps(&mut points, start, len);
        }
        if any {
            for k in (0..CLASSES - 1).rev() {
                if points[k] < points[k + 1] {
                    points[k] = points[k + 1];
                }
            }
        }
        Caps(points)
    }

    /// The summary of a single gap given as `(start, len)`.
    pub(crate) fn of_gap(gap: (u64, u64)) -> Caps {
        Caps::from_gaps(core::iter::once(gap))
    }

    /// Raises every class to at least `other`'s value.
    pub(crate) fn raise(&mut self, other: &Caps) {
        if other.is_empty() {
            return;
        }
        for (mine, theirs) in self.0.iter_mut().zip(other.0.iter()) {
            if *theirs == 0 {
                break; // non-increasing: the rest of `other` is zero too
            }
            if *mine < *theirs {
                *mine = *theirs;
            }
        }
    }

    /// Applies a local change to a summary that is a maximum over parts.
    ///
    /// `outgoing` summarises the parts that were replaced, `incoming` the
    /// parts that replaced them. Classes that only grew are updated here; the
    /// returned mask names the classes whose maximum may have shrunk (an
    /// outgoing part held it), which the caller must recompute.
    pub(crate) fn apply_change(&mut self, outgoing: &Caps, incoming: &Caps) -> u64 {
        let mut stale = 0u64;
        for k in 0..CLASSES {
            let (cur, out, inc) = (self.0[k], outgoing.0[k], incoming.0[k]);
            if cur == 0 && inc == 0 {
                break; // all three are non-increasing and `out <= cur`
            }
            if inc >= cur {
                self.0[k] = inc;
            } else if out == cur {
                stale |= 1 << k;
            }
        }
        stale
    }

    /// Sets class `k` to `value` (used when recomputing stale classes).
    #[cfg(any(test, fuzzing, vm_allocator_check))]
    pub(crate) fn set(&mut self, k: u32, value: u64) {
        self.0[k as usize] = value;
    }
}

/// Records the steps of one gap's capacity function into `points`, where
/// `points[k]` holds the largest value of any step ending at class `k`.
fn record_steps(points: &mut [u64; CLASSES], start: u64, len: u64) {
    // cap_k = len - (bits of -start below k); it only changes at set bits.
    let mut pending = start.wrapping_neg();
    let mut skipped = 0u64;
    loop {
        let last_k = if pending == 0 {
            63
        } else {
            pending.trailing_zeros()
        };
        let value = len - skipped;
        let slot = &mut points[last_k as usize];
        if *slot < value {
            *slot = value;
        }
        if pending == 0 || last_k == 63 {
            return;
        }
        let bit = pending & pending.wrapping_neg();
        skipped += bit;
        pending ^= bit;
        if skipped >= len {
            return;
        }
    }
}

/// The lowest aligned start for `size` units in `[lo, hi]`, if any.
#[inline]
pub(crate) fn first_fit_in(lo: u64, hi: u64, size: u64, k: u32) -> Option<u64> {
    let mask = low_bits(k);
    let start = lo.checked_add(mask)? & !mask;
    let last = start.checked_add(size - 1)?;
    (last <= hi).then_some(start)
}

/// The highest aligned start for `size` units in `[lo, hi]`, if any.
#[inline]
pub(crate) fn last_fit_in(lo: u64, hi: u64, size: u64, k: u32) -> Option<u64> {
    if hi - lo < size - 1 {
        return None;
    }
    let start = (hi - (size - 1)) & !low_bits(k);
    (start >= lo).then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute_cap(start: u64, len: u64, k: u32) -> u64 {
        // Largest size s such that an aligned start fits: try the first aligned start.
        match start.checked_add(low_bits(k)) {
            Some(x) => {
                let x = x & !low_bits(k);
                let end = start + (len - 1);
                if x <= end {
                    end - x + 1
                } else {
                    0
                }
            }
            None => 0,
        }
    }

    #[test]
    fn single_gap_caps_match_brute_force() {
        let samples = [
            (0u64, 1u64),
            (0, 4096),
            (1, 4095),
            (0x1800, 0x2000),
            (0x1234_5678, 0x10_0000),
            (u64::MAX, 1),
            (u64::MAX - 0xfff, 0x1000),
            (1u64 << 63, 1),
            ((1u64 << 63) - 1, 2),
            (3, u64::MAX - 3),
        ];
        for &(start, len) in &samples {
            let caps = Caps::of_gap((start, len));
            for k in 0..64 {
                assert_eq!(
                    caps.get(k),
                    brute_cap(start, len, k),
                    "gap {start:#x}+{len:#x} k={k}"
                );
                assert_eq!(gap_cap(start, len, k), brute_cap(start, len, k));
            }
        }
    }

    #[test]
    fn caps_of_many_gaps_are_the_pointwise_maximum() {
        let gaps = [
            (0x1001u64, 0x1000u64),
            (0x4000, 0x800),
            (0x7ff0, 0x30),
            (0x1_0000_0000, 1),
        ];
        let caps = Caps::from_gaps(gaps.iter().copied());
        for k in 0..64 {
            let want = gaps.iter().map(|&(s, l)| brute_cap(s, l, k)).max().unwrap();
            assert_eq!(caps.get(k), want, "k={k}");
        }
        for k in 1..64 {
            assert!(caps.get(k) <= caps.get(k - 1));
        }
    }

    #[test]
    fn fits_in_window() {
        assert_eq!(first_fit_in(0x1001, 0x2fff, 0x1000, 12), Some(0x2000));
        assert_eq!(first_fit_in(0x1001, 0x2ffe, 0x1000, 12), None);
        assert_eq!(last_fit_in(0x1001, 0x2fff, 0x1000, 12), Some(0x2000));
        assert_eq!(last_fit_in(0, u64::MAX, 1, 0), Some(u64::MAX));
        assert_eq!(first_fit_in(u64::MAX, u64::MAX, 1, 1), None);
        assert_eq!(first_fit_in(u64::MAX, u64::MAX, 1, 0), Some(u64::MAX));
        assert_eq!(last_fit_in(5, 5, 2, 0), None);
    }

    #[test]
    fn apply_change_reports_shrunk_maxima() {
        let mut caps = Caps::of_gap((0, 0x1000));
        let out = Caps::of_gap((0, 0x1000));
        let inc = Caps::of_gap((0x800, 0x800));
        let stale = caps.apply_change(&out, &inc);
        // Every class the old gap held (k = 0..=63, start 0 is aligned to all) is stale.
        assert_eq!(stale, u64::MAX);
        let mut caps = Caps::of_gap((0, 0x10));
        assert_eq!(
            caps.apply_change(&Caps::EMPTY, &Caps::of_gap((0x100, 0x20))),
            0
        );
        assert_eq!(caps.get(0), 0x20);
    }
}
