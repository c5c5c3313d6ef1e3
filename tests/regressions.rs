// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! One test per vm-allocator 0.1.4 bug this crate fixes. Each makes the same
//! calls on both: it asserts our answer, then shows 0.1.4's wrong one, so the
//! test also documents what a VMM moving from 0.1.4 sees change.

use upstream::AllocPolicy as UPolicy;
use upstream::Error as UError;
use vm_allocator::{AddressAllocator, AllocPolicy, Error, RangeInclusive};

fn range(start: u64, end: u64) -> RangeInclusive {
    RangeInclusive::new(start, end).unwrap()
}

fn urange(start: u64, end: u64) -> upstream::RangeInclusive {
    upstream::RangeInclusive::new(start, end).unwrap()
}

/// `(start, end)` of an upstream result, to compare with ours.
fn ends(r: upstream::Result<upstream::RangeInclusive>) -> Result<(u64, u64), UError> {
    r.map(|r| (r.start(), r.end()))
}

/// ExactMatch inside an allocated range fails; 0.1.4 hands the addresses out
/// a second time, and marks the rest of the original allocation free.
#[test]
fn exact_match_inside_an_allocation_fails() {
    let mut ours = AddressAllocator::new(0, 0x10000).unwrap();
    let bar = ours
        .allocate(0x2000, 0x1000, AllocPolicy::ExactMatch(0x4000))
        .unwrap();
    assert_eq!(bar, range(0x4000, 0x5fff));
    for at in [0x4000, 0x5000] {
        assert_eq!(
            ours.allocate(0x1000, 0x1000, AllocPolicy::ExactMatch(at)),
            Err(Error::ResourceNotAvailable)
        );
    }
    // Exactly the allocated range again: refused the same way.
    assert_eq!(
        ours.allocate(0x2000, 0x1000, AllocPolicy::ExactMatch(0x4000)),
        Err(Error::ResourceNotAvailable)
    );
    assert_eq!(ours.iter().collect::<Vec<_>>(), vec![bar]);

    let mut theirs = upstream::AddressAllocator::new(0, 0x10000).unwrap();
    theirs
        .allocate(0x2000, 0x1000, UPolicy::ExactMatch(0x4000))
        .unwrap();
    // 0.1.4: both halves of the live allocation are handed out again.
    assert_eq!(
        ends(theirs.allocate(0x1000, 0x1000, UPolicy::ExactMatch(0x4000))),
        Ok((0x4000, 0x4fff))
    );
    assert_eq!(
        ends(theirs.allocate(0x1000, 0x1000, UPolicy::ExactMatch(0x5000))),
        Ok((0x5000, 0x5fff))
    );
    // And the same size at the same place reports an internal error.
    let mut theirs = upstream::AddressAllocator::new(0, 0x10000).unwrap();
    theirs
        .allocate(0x2000, 0x1000, UPolicy::ExactMatch(0x4000))
        .unwrap();
    assert!(matches!(
        theirs.allocate(0x2000, 0x1000, UPolicy::ExactMatch(0x4000)),
        Err(UError::InvalidStateTransition(..))
    ));
}

/// Freeing a range that is not exactly an allocation fails; 0.1.4 returns
/// `Ok` when the range is exactly one of its free nodes.
#[test]
fn free_of_a_free_range_fails() {
    let mut ours = AddressAllocator::new(0, 0x10000).unwrap();
    // The whole, empty space.
    assert_eq!(
        ours.free(&range(0, 0xffff)),
        Err(Error::ResourceNotAvailable)
    );
    ours.allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    // The free rest of the space after one allocation.
    assert_eq!(
        ours.free(&range(0x1000, 0xffff)),
        Err(Error::ResourceNotAvailable)
    );
    assert_eq!(ours.len(), 1);

    let mut theirs = upstream::AddressAllocator::new(0, 0x10000).unwrap();
    assert_eq!(theirs.free(&urange(0, 0xffff)), Ok(()));
    theirs
        .allocate(0x1000, 0x1000, UPolicy::FirstMatch)
        .unwrap();
    assert_eq!(theirs.free(&urange(0x1000, 0xffff)), Ok(()));
}

/// Freeing a range that starts at address 1 works and the range can be
/// allocated again; 0.1.4 fails with `Underflow` after dropping the range
/// from its tree, so it is lost until the allocator is rebuilt.
#[test]
fn free_of_a_range_starting_at_1_succeeds() {
    let mut ours = AddressAllocator::new(0, 0x10000).unwrap();
    let r = ours.allocate(0x10, 1, AllocPolicy::ExactMatch(1)).unwrap();
    assert_eq!(r, range(1, 0x10));
    assert_eq!(ours.free(&r), Ok(()));
    assert!(ours.is_empty());
    assert_eq!(ours.allocate(0x10, 1, AllocPolicy::ExactMatch(1)), Ok(r));
    ours.free(&r).unwrap();
    assert_eq!(
        ours.allocate(0x11, 1, AllocPolicy::FirstMatch),
        Ok(range(0, 0x10))
    );

    let mut theirs = upstream::AddressAllocator::new(0, 0x10000).unwrap();
    theirs.allocate(0x10, 1, UPolicy::ExactMatch(1)).unwrap();
    assert_eq!(theirs.free(&urange(1, 0x10)), Err(UError::Underflow));
    // Leaked: neither ExactMatch nor FirstMatch can reach [1, 0x10] again.
    assert_eq!(
        ends(theirs.allocate(0x10, 1, UPolicy::ExactMatch(1))),
        Err(UError::ResourceNotAvailable)
    );
    assert_eq!(
        ends(theirs.allocate(0x11, 1, UPolicy::FirstMatch)),
        Ok((0x11, 0x21))
    );
}

/// ExactMatch of a one-byte range at the very end of the space (or of any
/// free gap) succeeds; 0.1.4 looks for `[x, x + 1]` inside one free node and
/// reports `ResourceNotAvailable`.
#[test]
fn exact_match_of_the_last_byte_succeeds() {
    let mut ours = AddressAllocator::new(0, 0x1000).unwrap();
    assert_eq!(
        ours.allocate(1, 1, AllocPolicy::ExactMatch(0xfff)),
        Ok(range(0xfff, 0xfff))
    );
    // The last byte of a gap in the middle.
    ours.allocate(0x100, 0x100, AllocPolicy::ExactMatch(0x800))
        .unwrap();
    assert_eq!(
        ours.allocate(1, 1, AllocPolicy::ExactMatch(0x7ff)),
        Ok(range(0x7ff, 0x7ff))
    );

    let mut theirs = upstream::AddressAllocator::new(0, 0x1000).unwrap();
    assert_eq!(
        ends(theirs.allocate(1, 1, UPolicy::ExactMatch(0xfff))),
        Err(UError::ResourceNotAvailable)
    );
    theirs
        .allocate(0x100, 0x100, UPolicy::ExactMatch(0x800))
        .unwrap();
    assert_eq!(
        ends(theirs.allocate(1, 1, UPolicy::ExactMatch(0x7ff))),
        Err(UError::ResourceNotAvailable)
    );
}

/// An allocation may end at `u64::MAX`; 0.1.4 computes `start + size` and
/// fails with `Overflow` for every policy.
#[test]
fn allocation_ending_at_u64_max_succeeds() {
    let base = u64::MAX - 0xffff;
    let mut ours = AddressAllocator::new(base, 0x10000).unwrap();
    let top = range(u64::MAX - 0xfff, u64::MAX);
    assert_eq!(
        ours.allocate(0x1000, 0x1000, AllocPolicy::LastMatch),
        Ok(top)
    );
    ours.free(&top).unwrap();
    assert_eq!(
        ours.allocate(0x1000, 0x1000, AllocPolicy::ExactMatch(top.start())),
        Ok(top)
    );
    ours.free(&top).unwrap();
    assert_eq!(
        ours.allocate(0x10000, 0x1000, AllocPolicy::FirstMatch),
        Ok(range(base, u64::MAX))
    );
    // The upper half of the largest space that starts at 1.
    let mut ours = AddressAllocator::new(1, u64::MAX).unwrap();
    assert_eq!(
        ours.allocate(1 << 63, 1 << 63, AllocPolicy::ExactMatch(1 << 63)),
        Ok(range(1 << 63, u64::MAX))
    );

    let mut theirs = upstream::AddressAllocator::new(base, 0x10000).unwrap();
    for policy in [
        UPolicy::LastMatch,
        UPolicy::ExactMatch(top.start()),
        UPolicy::FirstMatch,
    ] {
        let size = if policy == UPolicy::FirstMatch {
            0x10000
        } else {
            0x1000
        };
        assert_eq!(
            ends(theirs.allocate(size, 0x1000, policy)),
            Err(UError::Overflow)
        );
    }
    let mut theirs = upstream::AddressAllocator::new(1, u64::MAX).unwrap();
    assert_eq!(
        ends(theirs.allocate(1 << 63, 1 << 63, UPolicy::ExactMatch(1 << 63))),
        Err(UError::Overflow)
    );
}

/// Freeing a range that ends at `u64::MAX - 1` works; 0.1.4 fails with
/// `Overflow` after dropping the range from its tree (leaked, as above).
#[test]
fn free_of_a_range_ending_at_u64_max_minus_1_succeeds() {
    // [0, u64::MAX - 1] is the largest space that starts at 0.
    let at = u64::MAX - 0x10;
    let mut ours = AddressAllocator::new(0, u64::MAX).unwrap();
    let r = ours.allocate(0x10, 1, AllocPolicy::ExactMatch(at)).unwrap();
    assert_eq!(r, range(at, u64::MAX - 1));
    assert_eq!(ours.free(&r), Ok(()));
    assert_eq!(ours.allocate(0x10, 1, AllocPolicy::ExactMatch(at)), Ok(r));

    let mut theirs = upstream::AddressAllocator::new(0, u64::MAX).unwrap();
    theirs.allocate(0x10, 1, UPolicy::ExactMatch(at)).unwrap();
    assert_eq!(
        theirs.free(&urange(at, u64::MAX - 1)),
        Err(UError::Overflow)
    );
    assert_eq!(
        ends(theirs.allocate(0x10, 1, UPolicy::ExactMatch(at))),
        Err(UError::ResourceNotAvailable)
    );
}

/// A freed range merges with a free neighbour of one byte; 0.1.4 only
/// merges with free nodes of two bytes or more, so the space stays split
/// and a request that fits in the union fails. (PIO ports are one byte.)
#[test]
fn one_byte_free_ranges_coalesce() {
    let mut ours = AddressAllocator::new(0, 0x10).unwrap();
    ours.allocate(2, 1, AllocPolicy::ExactMatch(0)).unwrap();
    let port = ours.allocate(1, 1, AllocPolicy::ExactMatch(3)).unwrap();
    // Free: [2, 2] (one byte) and [4, 0xf].
    ours.free(&port).unwrap();
    assert_eq!(
        ours.allocate(2, 1, AllocPolicy::ExactMatch(2)),
        Ok(range(2, 3))
    );
    ours.free(&range(2, 3)).unwrap();
    assert_eq!(
        ours.allocate(14, 1, AllocPolicy::FirstMatch),
        Ok(range(2, 0xf))
    );

    let mut theirs = upstream::AddressAllocator::new(0, 0x10).unwrap();
    theirs.allocate(2, 1, UPolicy::ExactMatch(0)).unwrap();
    theirs.allocate(1, 1, UPolicy::ExactMatch(3)).unwrap();
    theirs.free(&urange(3, 3)).unwrap();
    // 0.1.4 now holds the free nodes [2, 2] and [3, 0xf] side by side.
    assert_eq!(
        ends(theirs.allocate(2, 1, UPolicy::ExactMatch(2))),
        Err(UError::ResourceNotAvailable)
    );
    assert_eq!(
        ends(theirs.allocate(14, 1, UPolicy::FirstMatch)),
        Err(UError::ResourceNotAvailable)
    );
}

/// LastMatch of exactly the free range that starts at address 0 succeeds;
/// 0.1.4 computes `end - size`, which underflows there, and skips it: an
/// empty space cannot be allocated whole, nor its last free range at 0.
#[test]
fn last_match_of_the_free_range_at_0_succeeds() {
    let mut ours = AddressAllocator::new(0, 0x1000).unwrap();
    assert_eq!(
        ours.allocate(0x1000, 1, AllocPolicy::LastMatch),
        Ok(range(0, 0xfff))
    );
    let mut ours = AddressAllocator::new(0, 0x10000).unwrap();
    ours.allocate(0xf000, 0x1000, AllocPolicy::LastMatch)
        .unwrap();
    assert_eq!(
        ours.allocate(0x1000, 0x1000, AllocPolicy::LastMatch),
        Ok(range(0, 0xfff))
    );

    let mut theirs = upstream::AddressAllocator::new(0, 0x1000).unwrap();
    assert_eq!(
        ends(theirs.allocate(0x1000, 1, UPolicy::LastMatch)),
        Err(UError::ResourceNotAvailable)
    );
    // FirstMatch finds it: the space is free.
    assert_eq!(
        ends(theirs.allocate(0x1000, 1, UPolicy::FirstMatch)),
        Ok((0, 0xfff))
    );
    let mut theirs = upstream::AddressAllocator::new(0, 0x10000).unwrap();
    theirs.allocate(0xf000, 0x1000, UPolicy::LastMatch).unwrap();
    assert_eq!(
        ends(theirs.allocate(0x1000, 0x1000, UPolicy::LastMatch)),
        Err(UError::ResourceNotAvailable)
    );
}
