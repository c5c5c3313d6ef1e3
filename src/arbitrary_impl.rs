// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! `Arbitrary` for the state types (feature `arbitrary`), so that a VMM can
//! fuzz its own state that holds ours, and so that our fuzz targets start
//! from states no byte-level mutation would reach.
//!
//! Every value is built through the public API: the allocators and sets
//! through the validating builders of `crate::validate`, the newer state of
//! a [`StatePair`] by calls on a clone of the older one, diffs and deltas by
//! [`Diff::between`] and [`Delta::between`]. So every generated value is a
//! valid state, by construction; a builder refusing one is a bug of this
//! file and panics.
//!
//! Generation is total (any input gives a value, the empty one included)
//! and cheap: counts are bounded ([`MAX_ITEMS`] items drawn one by one,
//! [`MAX_PATTERN_ITEMS`] in the patterned fills, [`MAX_POOLS`] pools,
//! [`MAX_EDITS`] calls), so a value costs microseconds, and the bytes one
//! value reads are bounded too, which `size_hint` reports.
//!
//! The spread, drawn from the input:
//!
//! - address spaces at 0, ending at `u64::MAX`, the two largest spaces
//!   (`0..=u64::MAX - 1`, `1..=u64::MAX`), single addresses, the x86_64
//!   MMIO and PIO windows, and any base with sizes that are small, powers of
//!   two, whole pages or anything;
//! - id ranges at 0, ending at `u32::MAX`, the whole `u32` range, single
//!   ids, legacy and MSI GSIs; next ids at their lowest, their highest
//!   (`range_end + 1`, up to 2^32) and between;
//! - contents that are empty, full (the whole space or range, in one piece
//!   or many), packed from the bottom (as FirstMatch fills) or from the top
//!   (LastMatch), fragmented with a fixed period, or drawn item by item
//!   with gaps and lengths of 0, 1, a few, powers of two, pages, a share of
//!   what is left, or all of it;
//! - owners: none, one for everything, a few in turn, or one per item,
//!   with names that are realistic, one byte, 64 bytes, or any UTF-8
//!   without control characters;
//! - generations of 0, the number of items (as operations would leave
//!   it), small, `u64::MAX` (the next mutation wraps) or anything;
//! - resource sets that are empty, the x86_64 or aarch64 layout filled as
//!   above, or up to [`MAX_POOLS`] pools of both kinds with any names;
//! - pairs whose newer state is the older one after 1 to [`MAX_EDITS`]
//!   calls of the public API (sharing history), regenerated in the same
//!   shape (independent), or the same state.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use arbitrary::{Arbitrary, Result, Unstructured};

use crate::set::layout::x86_64::{MMIO32_SIZE, MMIO32_START, MMIO64_SIZE, MMIO64_START, PIO_SIZE};
use crate::{
    AddressAllocator, AddressAllocatorBuilder, AllocPolicy, Constraint, Delta, Diff, IdAllocator,
    IdAllocatorBuilder, Owner, Pool, PoolKind, RangeInclusive, ResourceSet, ResourceSetBuilder,
    MAX_NAME_LEN,
};

/// Most allocations (or id runs) drawn one by one, each from its own bytes.
pub(crate) const MAX_ITEMS: u64 = 48;
/// Most allocations of a patterned fill (packed or fragmented), which takes
/// no bytes per item: enough for trees of more than one level.
pub(crate) const MAX_PATTERN_ITEMS: u64 = 300;
/// Most owners in the table one state draws its owners from.
pub(crate) const MAX_OWNERS: usize = 4;
/// Most pools of a generated resource set.
pub(crate) const MAX_POOLS: usize = 8;
/// Most calls that make the newer state of a [`StatePair`].
pub(crate) const MAX_EDITS: u64 = 8;

// The most bytes each part of a value reads, for `size_hint`. A test checks
// them against what generation really reads.
const BYTE: usize = 1;
const U64: usize = 8;
const AMOUNT: usize = BYTE + U64;
const NAME: usize = BYTE + BYTE + MAX_NAME_LEN;
const OWNER_TABLE: usize = BYTE + MAX_OWNERS * NAME;
const PER_ITEM: usize = 2 * AMOUNT + BYTE;
const FILL: usize = 5 * BYTE
    + 3 * AMOUNT
    + max(
        PER_ITEM * MAX_ITEMS as usize,
        BYTE * MAX_PATTERN_ITEMS as usize,
    );
const GENERATION: usize = BYTE + U64;
const SIZE: usize = BYTE + U64;
const SPACE: usize = BYTE + U64 + SIZE;
const ID_RANGE: usize = BYTE + 4 + BYTE + 2;
const NEXT_ID: usize = BYTE + U64;
const ADDRESS_CONTENT: usize = FILL + GENERATION;
const ID_CONTENT: usize = FILL + NEXT_ID + GENERATION;
const ADDRESS_ALLOCATOR: usize = SPACE + OWNER_TABLE + ADDRESS_CONTENT;
const ID_ALLOCATOR: usize = ID_RANGE + OWNER_TABLE + ID_CONTENT;
const POOL_CONTENT: usize = BYTE + max(SPACE + ADDRESS_CONTENT, ID_RANGE + ID_CONTENT);
const SET: usize = OWNER_TABLE + 2 * BYTE + MAX_POOLS * (NAME + POOL_CONTENT) + GENERATION;
const CALL: usize = 3 * BYTE + AMOUNT + 2 * U64 + NAME;
const EDITS: usize = OWNER_TABLE + BYTE + MAX_EDITS as usize * (BYTE + CALL);
const fn pair(state: usize) -> usize {
    2 * state + BYTE + EDITS
}
const ANY_PAIR: usize = BYTE + max(max(pair(ADDRESS_ALLOCATOR), pair(ID_ALLOCATOR)), pair(SET));

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

// ---------------------------------------------------------------------------
// Drawing numbers.

fn byte(u: &mut Unstructured<'_>) -> Result<u8> {
    u.arbitrary()
}

/// A number in `0..=max`; reads at most 8 bytes.
fn upto(u: &mut Unstructured<'_>, max: u64) -> Result<u64> {
    u.int_in_range(0..=max)
}

/// One of `items` (at most 256 of them); reads one byte.
fn one_of<T: Clone>(u: &mut Unstructured<'_>, items: &[T]) -> Result<T> {
    Ok(items[usize::from(byte(u)?) % items.len()].clone())
}

/// A length or a gap of at most `room`: 0, 1, a few, a power of two, whole
/// pages, a fair share of the room when `items` more follow, or all of it.
fn amount(u: &mut Unstructured<'_>, room: u64, items: u64) -> Result<u64> {
    let value = match byte(u)? % 8 {
        0 => 0,
        1 => 1,
        2 => u64::from(byte(u)?),
        3 => 1u64 << (byte(u)? % 64),
        4 => u64::from(byte(u)?) << 12,
        5 | 6 => upto(u, room / items.max(1))?,
        _ => room,
    };
    Ok(value.min(room))
}

/// A generation: 0, as `items` operations would leave it, small,
/// `u64::MAX` or anything.
fn generation(u: &mut Unstructured<'_>, items: u64) -> Result<u64> {
    Ok(match byte(u)? % 6 {
        0 => 0,
        1 => items,
        2 => items.saturating_add(u64::from(byte(u)?)),
        3 => u64::MAX,
        4 => u.arbitrary()?,
        _ => u64::from(byte(u)?),
    })
}

// ---------------------------------------------------------------------------
// Owners.

/// Names a VMM gives its devices, and the extremes of the rules.
const NAMES: [&str; 10] = [
    "virtio-net0",
    "virtio-blk0",
    "serial0",
    "pci 0000:00:03.0",
    "vfio 0000:01:00.0",
    "é-gpu",
    "x",
    "設備",
    // MAX_NAME_LEN bytes.
    "a-device-with-a-name-of-sixty-four-bytes-which-is-the-limit-0123",
    "net0",
];

/// `Owner`s (and names of pools) are valid names: 1 to 64 bytes of UTF-8
/// without control characters. Half of them are realistic device names
/// (`virtio-net0`, `pci 0000:00:03.0`, a non-ASCII name, a name of one
/// byte and one of exactly 64 bytes), so that items share owners; the rest
/// are any such string, made from the input's bytes (invalid UTF-8 and
/// control characters removed, cut to 64 bytes).
#[cfg_attr(docsrs, doc(cfg(feature = "arbitrary")))]
impl<'a> Arbitrary<'a> for Owner {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let name = if byte(u)? % 2 == 0 {
            String::from(one_of(u, &NAMES)?)
        } else {
            let len = usize::from(byte(u)?) % MAX_NAME_LEN + 1;
            let bytes = u.bytes(len.min(u.len()))?;
            let mut name = String::new();
            for c in String::from_utf8_lossy(bytes).chars() {
                if !c.is_control() && name.len() + c.len_utf8() <= MAX_NAME_LEN {
                    name.push(c);
                }
            }
            if name.is_empty() {
                name.push_str(NAMES[len % NAMES.len()]);
            }
            name
        };
        Ok(Owner::new(&name).expect("a name without control characters, 1 to 64 bytes"))
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (2, Some(NAME))
    }
}

/// Up to `MAX_OWNERS` owners the items of one state are tagged with.
fn owner_table(u: &mut Unstructured<'_>) -> Result<Vec<Owner>> {
    let n = usize::from(byte(u)?) % (MAX_OWNERS + 1);
    (0..n).map(|_| Owner::arbitrary(u)).collect()
}

/// How the items of a fill are tagged.
#[derive(Clone, Copy)]
enum Tags {
    None,
    /// The first owner on every item.
    One,
    /// No owner, then each owner in turn.
    Cycle,
    /// One byte per item picks.
    Each,
}

impl Tags {
    fn draw(u: &mut Unstructured<'_>, owners: &[Owner]) -> Result<Tags> {
        Ok(match (owners.is_empty(), byte(u)? % 4) {
            (true, _) | (_, 0) => Tags::None,
            (_, 1) => Tags::One,
            (_, 2) => Tags::Cycle,
            _ => Tags::Each,
        })
    }

    fn owner(
        self,
        u: &mut Unstructured<'_>,
        owners: &[Owner],
        index: u64,
    ) -> Result<Option<Owner>> {
        let choices = owners.len() as u64 + 1;
        let k = match self {
            Tags::None => return Ok(None),
            Tags::One => return Ok(Some(owners[0].clone())),
            Tags::Cycle => index % choices,
            Tags::Each => u64::from(byte(u)?) % choices,
        };
        Ok(k.checked_sub(1).map(|k| owners[k as usize].clone()))
    }
}

// ---------------------------------------------------------------------------
// Contents: sorted, disjoint items inside `[lo, hi]`.

type Item = (u64, u64, Option<Owner>);

/// Sorted, disjoint items inside `[lo, hi]` (see the module docs for the
/// shapes).
fn fill(u: &mut Unstructured<'_>, lo: u64, hi: u64, owners: &[Owner]) -> Result<Vec<Item>> {
    let mode = byte(u)? % 8;
    let tags = Tags::draw(u, owners)?;
    let span = hi - lo; // number of values minus one
    let mut items = Vec::new();
    match mode {
        // Empty.
        0 => {}
        // Full: the whole of `[lo, hi]`, in up to MAX_ITEMS touching pieces.
        1 => {
            let pieces = u64::from(byte(u)?) % MAX_ITEMS + 1;
            let mut start = lo;
            for i in 0..pieces {
                let end = if i + 1 == pieces {
                    hi
                } else {
                    start + amount(u, hi - start, pieces - i)?
                };
                items.push((start, end, tags.owner(u, owners, i)?));
                if end == hi {
                    break;
                }
                start = end + 1;
            }
        }
        // Packed from the bottom or from the top, or fragmented: n items of
        // one length with one gap between them.
        2..=5 => {
            // Mostly a few, sometimes enough for a tree of several levels.
            let n = match byte(u)? % 4 {
                0 => upto(u, MAX_PATTERN_ITEMS)?,
                _ => upto(u, 16)?,
            };
            let len_minus_one = amount(u, span, n)?;
            let (gap, offset) = if mode >= 4 {
                (1 + amount(u, span, n)?, amount(u, span, 1)?)
            } else {
                (0, 0)
            };
            let step = |at: u64, by: u64| at.checked_add(by).filter(|&x| x <= span);
            let mut at = Some(offset); // relative to the start of the fill
            for i in 0..n {
                let Some(first) = at else { break };
                let Some(last) = step(first, len_minus_one) else {
                    break;
                };
                let (start, end) = if mode == 3 {
                    (hi - last, hi - first)
                } else {
                    (lo + first, lo + last)
                };
                items.push((start, end, tags.owner(u, owners, i)?));
                at = step(last, 1).and_then(|x| step(x, gap));
            }
            if mode == 3 {
                items.reverse();
            }
        }
        // Item by item.
        _ => {
            let n = upto(u, MAX_ITEMS)?;
            let mut cursor = lo;
            for i in 0..n {
                if u.is_empty() {
                    break;
                }
                let start = cursor + amount(u, hi - cursor, n - i)?;
                let end = start + amount(u, hi - start, n - i)?;
                items.push((start, end, tags.owner(u, owners, i)?));
                if end == hi {
                    break;
                }
                cursor = end + 1;
            }
        }
    }
    Ok(items)
}

/// Joins touching items that share an owner: id runs are maximal.
fn join_runs(items: Vec<Item>) -> Vec<Item> {
    let mut out: Vec<Item> = Vec::with_capacity(items.len());
    for (start, end, owner) in items {
        match out.last_mut() {
            Some(last) if last.1 + 1 == start && last.2 == owner => last.1 = end,
            _ => out.push((start, end, owner)),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Address allocators.

/// A number of addresses: small, a power of two, pages, or anything.
fn size(u: &mut Unstructured<'_>) -> Result<u64> {
    Ok(match byte(u)? % 4 {
        0 => u64::from(byte(u)?) + 1,
        1 => 1 << (byte(u)? % 64),
        2 => 0x1000 << (byte(u)? % 40),
        _ => u.arbitrary::<u64>()?.max(1),
    })
}

/// An address space (see the module docs).
fn space(u: &mut Unstructured<'_>) -> Result<RangeInclusive> {
    let (start, end) = match byte(u)? % 9 {
        0 => (0, size(u)? - 1),
        1 => ((u64::MAX - (size(u)? - 1)).max(1), u64::MAX),
        2 => (0, u64::MAX - 1),
        3 => (1, u64::MAX),
        4 => {
            let base: u64 = u.arbitrary()?;
            let size = size(u)?;
            let start = base.min(u64::MAX - (size - 1));
            (start, start + (size - 1))
        }
        5 => {
            let at = u.arbitrary()?;
            (at, at)
        }
        6 => (MMIO32_START, MMIO32_START + MMIO32_SIZE - 1),
        7 => (MMIO64_START, MMIO64_START + MMIO64_SIZE - 1),
        _ => (0, PIO_SIZE - 1),
    };
    Ok(RangeInclusive::new(start, end).expect("a space that is not the whole u64 range"))
}

/// An address allocator of `space` with owners from `owners`.
fn addresses_in(
    u: &mut Unstructured<'_>,
    space: RangeInclusive,
    owners: &[Owner],
) -> Result<AddressAllocator> {
    let items = fill(u, space.start(), space.end(), owners)?;
    let generation = generation(u, items.len() as u64)?;
    let mut builder = AddressAllocatorBuilder::new(space).generation(generation);
    for (start, end, owner) in items {
        let range = RangeInclusive::new(start, end).expect("an allocation inside the space");
        builder
            .push(range, owner)
            .expect("allocations sorted, disjoint, inside the space");
    }
    Ok(builder.finish().expect("a valid address allocator"))
}

/// Address allocators of every shape of the module docs: spaces at 0,
/// ending at `u64::MAX`, the largest spaces, single addresses, MMIO and
/// PIO windows, any base; contents empty, full, packed from either end,
/// fragmented or drawn item by item (up to 48 items drawn, 300 in a
/// pattern); owners none, one, in turn or per item; generations 0, the
/// number of items, small, `u64::MAX` or any.
#[cfg_attr(docsrs, doc(cfg(feature = "arbitrary")))]
impl<'a> Arbitrary<'a> for AddressAllocator {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let space = space(u)?;
        let owners = owner_table(u)?;
        addresses_in(u, space, &owners)
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (4, Some(ADDRESS_ALLOCATOR))
    }
}

// ---------------------------------------------------------------------------
// Id allocators.

/// An id range (see the module docs).
fn id_range(u: &mut Unstructured<'_>) -> Result<(u32, u32)> {
    let span = |u: &mut Unstructured<'_>| -> Result<u32> {
        Ok(match byte(u)? % 3 {
            0 => u32::from(byte(u)?),
            1 => u32::from(u.arbitrary::<u16>()?),
            _ => ((1u64 << (byte(u)? % 33)) - 1) as u32,
        })
    };
    Ok(match byte(u)? % 8 {
        0 => (0, span(u)?),
        1 => (u32::MAX - span(u)?, u32::MAX),
        2 => (0, u32::MAX),
        3 => {
            let base: u32 = u.arbitrary()?;
            let span = span(u)?;
            let base = base.min(u32::MAX - span);
            (base, base + span)
        }
        4 => {
            let id = u.arbitrary()?;
            (id, id)
        }
        5 => (5, 23),
        6 => (24, 4095),
        _ => (0, 95),
    })
}

/// An id allocator of `base..=end` with owners from `owners`.
fn ids_in(u: &mut Unstructured<'_>, base: u32, end: u32, owners: &[Owner]) -> Result<IdAllocator> {
    let runs = join_runs(fill(u, base.into(), end.into(), owners)?);
    let lowest_next = runs.last().map_or(u64::from(base), |r| r.1 + 1);
    let highest_next = u64::from(end) + 1;
    let next_id = match byte(u)? % 4 {
        0 | 1 => lowest_next,
        2 => highest_next,
        _ => lowest_next + upto(u, highest_next - lowest_next)?,
    };
    let generation = generation(u, runs.len() as u64)?;
    let mut builder = IdAllocatorBuilder::new(base, end)
        .and_then(|b| b.with_next_id(next_id))
        .expect("a next id inside the range")
        .generation(generation);
    for (first, last, owner) in runs {
        builder
            .push(first as u32..=last as u32, owner)
            .expect("maximal runs, sorted, inside the range, below the next id");
    }
    Ok(builder.finish().expect("a valid id allocator"))
}

/// Id allocators of every shape of the module docs: ranges at 0, ending at
/// `u32::MAX`, the whole `u32` range, single ids, GSIs, any base; contents
/// as for [`AddressAllocator`] (as maximal runs of one owner); next ids at
/// their lowest, their highest (`range_end + 1`) or between.
#[cfg_attr(docsrs, doc(cfg(feature = "arbitrary")))]
impl<'a> Arbitrary<'a> for IdAllocator {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let (base, end) = id_range(u)?;
        let owners = owner_table(u)?;
        ids_in(u, base, end, &owners)
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (5, Some(ID_ALLOCATOR))
    }
}

// ---------------------------------------------------------------------------
// Ranges, policies, constraints.

/// Ranges at 0, ending at `u64::MAX`, the two largest ranges, single
/// values, aligned power-of-two blocks, short ranges anywhere, and any two
/// values in order.
#[cfg_attr(docsrs, doc(cfg(feature = "arbitrary")))]
impl<'a> Arbitrary<'a> for RangeInclusive {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let (start, end) = match byte(u)? % 6 {
            0 => (0, u.arbitrary::<u64>()?.min(u64::MAX - 1)),
            1 => (u.arbitrary::<u64>()?.max(1), u64::MAX),
            2 => {
                let at = u.arbitrary()?;
                (at, at)
            }
            3 => {
                let bits = byte(u)? % 64;
                let start = u.arbitrary::<u64>()? >> bits << bits;
                (start, start + ((1 << bits) - 1))
            }
            4 => {
                let start = u.arbitrary::<u64>()?;
                (start, start.saturating_add(u64::from(byte(u)?)))
            }
            _ => {
                let (a, b): (u64, u64) = (u.arbitrary()?, u.arbitrary()?);
                let (start, end) = (a.min(b), a.max(b));
                (start, end - u64::from(start == 0 && end == u64::MAX))
            }
        };
        Ok(RangeInclusive::new(start, end).expect("a range in order, not the whole u64 space"))
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (1, Some(BYTE + 2 * U64))
    }
}

/// `FirstMatch`, `LastMatch` and `ExactMatch` at any address.
#[cfg_attr(docsrs, doc(cfg(feature = "arbitrary")))]
impl<'a> Arbitrary<'a> for AllocPolicy {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match byte(u)? % 3 {
            0 => AllocPolicy::FirstMatch,
            1 => AllocPolicy::LastMatch,
            _ => AllocPolicy::ExactMatch(u.arbitrary()?),
        })
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (1, Some(BYTE + U64))
    }
}

/// Valid constraints: sizes small, powers of two, pages or any; any
/// power-of-two alignment; every policy (an `ExactMatch` address aligned);
/// and sometimes a minimum and a maximum address.
#[cfg_attr(docsrs, doc(cfg(feature = "arbitrary")))]
impl<'a> Arbitrary<'a> for Constraint {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let size = size(u)?;
        let align = 1u64 << (byte(u)? % 64);
        let policy = match AllocPolicy::arbitrary(u)? {
            AllocPolicy::ExactMatch(at) => AllocPolicy::ExactMatch(at & !(align - 1)),
            other => other,
        };
        let mut c = Constraint::new(size, align, policy).expect("a size, a power of two, aligned");
        let bounds = byte(u)?;
        if bounds & 1 != 0 {
            c = c.with_min_address(u.arbitrary()?);
        }
        if bounds & 2 != 0 {
            c = c.with_max_address(u.arbitrary()?);
        }
        Ok(c)
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (4, Some(SIZE + BYTE + BYTE + U64 + BYTE + 2 * U64))
    }
}

// ---------------------------------------------------------------------------
// Pools and resource sets.

/// Either kind, each as its allocator's `Arbitrary` makes it.
#[cfg_attr(docsrs, doc(cfg(feature = "arbitrary")))]
impl<'a> Arbitrary<'a> for PoolKind {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(if byte(u)? % 2 == 0 {
            PoolKind::Ids
        } else {
            PoolKind::Addresses
        })
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (1, Some(1))
    }
}

/// An id pool or an address pool, each as its allocator's `Arbitrary`
/// makes it.
#[cfg_attr(docsrs, doc(cfg(feature = "arbitrary")))]
impl<'a> Arbitrary<'a> for Pool {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match PoolKind::arbitrary(u)? {
            PoolKind::Ids => Pool::Ids(IdAllocator::arbitrary(u)?),
            PoolKind::Addresses => Pool::Addresses(AddressAllocator::arbitrary(u)?),
        })
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (5, Some(BYTE + max(ID_ALLOCATOR, ADDRESS_ALLOCATOR)))
    }
}

/// A new pool of the kind, range or space of `pool`, with new contents.
fn pool_like(u: &mut Unstructured<'_>, pool: &Pool, owners: &[Owner]) -> Result<Pool> {
    Ok(match pool {
        Pool::Ids(ids) => Pool::Ids(ids_in(u, ids.range_base(), ids.range_end(), owners)?),
        Pool::Addresses(a) => Pool::Addresses(addresses_in(u, a.space(), owners)?),
    })
}

/// A pool of any kind and shape.
fn any_pool(u: &mut Unstructured<'_>, owners: &[Owner]) -> Result<Pool> {
    Ok(match PoolKind::arbitrary(u)? {
        PoolKind::Ids => {
            let (base, end) = id_range(u)?;
            Pool::Ids(ids_in(u, base, end, owners)?)
        }
        PoolKind::Addresses => {
            let space = space(u)?;
            Pool::Addresses(addresses_in(u, space, owners)?)
        }
    })
}

/// Builds a set of `pools`, in order, at `generation`.
fn build_set(pools: Vec<(Owner, Pool)>, generation: u64) -> ResourceSet {
    let mut builder = ResourceSetBuilder::new().generation(generation);
    for (name, pool) in pools {
        builder
            .push(name.as_str(), pool)
            .expect("a valid name no earlier pool has");
    }
    builder.finish().expect("a valid set")
}

/// The pools of `set`, each with new contents.
fn pools_like(
    u: &mut Unstructured<'_>,
    set: &ResourceSet,
    owners: &[Owner],
) -> Result<Vec<(Owner, Pool)>> {
    let mut pools = Vec::with_capacity(set.len());
    for (name, pool) in set.pools() {
        let name = Owner::new(name).expect("a pool name is valid");
        pools.push((name, pool_like(u, pool, owners)?));
    }
    Ok(pools)
}

/// Resource sets: empty, the x86_64 or aarch64 layout, or up to 8 pools of
/// both kinds with any names and shapes; every pool filled as its
/// allocator's `Arbitrary` fills it, from one table of owners shared by
/// the pools; pool and set generations as for the allocators.
#[cfg_attr(docsrs, doc(cfg(feature = "arbitrary")))]
impl<'a> Arbitrary<'a> for ResourceSet {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let owners = owner_table(u)?;
        let pools = match byte(u)? % 5 {
            0 => Vec::new(),
            1 => pools_like(u, &ResourceSet::x86_64(), &owners)?,
            2 => pools_like(u, &ResourceSet::aarch64(), &owners)?,
            _ => {
                let n = usize::from(byte(u)?) % MAX_POOLS + 1;
                let mut pools: Vec<(Owner, Pool)> = Vec::with_capacity(n);
                for i in 0..n {
                    let mut name = Owner::arbitrary(u)?;
                    if pools.iter().any(|(taken, _)| *taken == name) {
                        name = Owner::new(&format!("pool{i}")).expect("a valid name");
                    }
                    let pool = any_pool(u, &owners)?;
                    if pools.iter().all(|(taken, _)| *taken != name) {
                        pools.push((name, pool));
                    }
                }
                pools
            }
        };
        let generation = generation(u, pools.len() as u64)?;
        Ok(build_set(pools, generation))
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (3, Some(SET))
    }
}

// ---------------------------------------------------------------------------
// Edits: calls of the public API on a state.

/// The owner of an edit: none, one of `owners`, or a new one.
fn edit_owner(u: &mut Unstructured<'_>, owners: &[Owner]) -> Result<Option<Owner>> {
    let k = usize::from(byte(u)?) % (owners.len() + 2);
    Ok(match k {
        0 => None,
        1 => Some(Owner::arbitrary(u)?),
        k => Some(owners[k - 2].clone()),
    })
}

/// One call on an address allocator (or an address pool of a set).
enum AddressCall {
    Allocate(u64, u64, AllocPolicy, Option<Owner>),
    Free(RangeInclusive),
    SetOwner(RangeInclusive, Option<Owner>),
    FreeOwner(Owner),
}

impl AddressCall {
    /// A call on `a`, aimed at its allocations and gaps.
    fn draw(u: &mut Unstructured<'_>, a: &AddressAllocator, owners: &[Owner]) -> Result<Self> {
        let pick = |u: &mut Unstructured<'_>| -> Result<Option<RangeInclusive>> {
            if a.is_empty() {
                return Ok(None);
            }
            let i = upto(u, a.len() - 1)?;
            Ok(a.iter().nth(i as usize))
        };
        let kind = byte(u)? % 6;
        Ok(match kind {
            0..=2 => {
                let size = 1 + amount(u, a.space().len() - 1, 4)?;
                let align = 1u64 << (byte(u)? % 64);
                let policy = match kind {
                    0 => AllocPolicy::FirstMatch,
                    1 => AllocPolicy::LastMatch,
                    _ => {
                        // Just past an allocation, or anywhere in the space.
                        let at = match pick(u)? {
                            Some(r) => r.end().wrapping_add(1),
                            None => a.base() + upto(u, a.end() - a.base())?,
                        };
                        AllocPolicy::ExactMatch(
                            at.checked_next_multiple_of(align)
                                .unwrap_or(at & !(align - 1)),
                        )
                    }
                };
                AddressCall::Allocate(size, align, policy, edit_owner(u, owners)?)
            }
            3 | 4 => match pick(u)? {
                Some(r) if kind == 3 => AddressCall::Free(r),
                Some(r) => AddressCall::SetOwner(r, edit_owner(u, owners)?),
                None => AddressCall::Allocate(1, 1, AllocPolicy::FirstMatch, None),
            },
            _ => match edit_owner(u, owners)? {
                Some(owner) => AddressCall::FreeOwner(owner),
                None => AddressCall::Allocate(1, 1, AllocPolicy::LastMatch, None),
            },
        })
    }

    fn on_allocator(self, a: &mut AddressAllocator) {
        // A call that fails changes nothing; only the state matters here.
        let _ = match self {
            AddressCall::Allocate(size, align, policy, None) => {
                a.allocate(size, align, policy).map(drop)
            }
            AddressCall::Allocate(size, align, policy, Some(o)) => {
                a.owned_by(&o).allocate(size, align, policy).map(drop)
            }
            AddressCall::Free(r) => a.free(&r),
            AddressCall::SetOwner(r, owner) => a.set_owner(&r, owner).map(drop),
            AddressCall::FreeOwner(o) => {
                a.free_owner(&o);
                Ok(())
            }
        };
    }

    fn on_set(self, set: &mut ResourceSet, pool: &str) {
        let _ = match self {
            AddressCall::Allocate(size, align, policy, None) => {
                set.allocate(pool, size, align, policy).map(drop)
            }
            AddressCall::Allocate(size, align, policy, Some(o)) => set
                .owned_by(&o)
                .allocate(pool, size, align, policy)
                .map(drop),
            AddressCall::Free(r) => set.free(pool, &r),
            AddressCall::SetOwner(r, owner) => set.set_owner(pool, &r, owner).map(drop),
            AddressCall::FreeOwner(o) => {
                set.free_owner(&o);
                Ok(())
            }
        };
    }
}

/// One call on an id allocator (or an id pool of a set).
enum IdCall {
    AllocateId(Option<Owner>),
    AllocateIdAt(u32, Option<Owner>),
    AllocateIds(u32, u32, Option<Owner>),
    FreeId(u32),
    FreeIds(u32, u32),
    SetOwner(u32, u32, Option<Owner>),
    FreeOwner(Owner),
}

impl IdCall {
    /// A call on `ids`, aimed at its runs and its next id.
    fn draw(u: &mut Unstructured<'_>, ids: &IdAllocator, owners: &[Owner]) -> Result<Self> {
        let runs = ids.allocations().count() as u64;
        let run = |u: &mut Unstructured<'_>| -> Result<Option<(u32, u32)>> {
            if runs == 0 {
                return Ok(None);
            }
            let i = upto(u, runs - 1)?;
            Ok(ids.allocations().nth(i as usize).map(|r| {
                let r = r.ids();
                (*r.start(), *r.end())
            }))
        };
        let (base, end) = (ids.range_base(), ids.range_end());
        Ok(match byte(u)? % 7 {
            0 => IdCall::AllocateId(edit_owner(u, owners)?),
            1 => {
                let id = base + upto(u, u64::from(end - base))? as u32;
                IdCall::AllocateIdAt(id, edit_owner(u, owners)?)
            }
            2 => {
                let count = u32::from(byte(u)? % 16) + 1;
                let align = 1u32 << (byte(u)? % 8);
                IdCall::AllocateIds(count, align, edit_owner(u, owners)?)
            }
            3 => match run(u)? {
                Some((first, last)) => {
                    IdCall::FreeId(first + upto(u, u64::from(last - first))? as u32)
                }
                None => IdCall::AllocateId(None),
            },
            4 => match run(u)? {
                Some((first, last)) => IdCall::FreeIds(first, last),
                None => IdCall::AllocateId(None),
            },
            5 => match run(u)? {
                Some((first, last)) => IdCall::SetOwner(first, last, edit_owner(u, owners)?),
                None => IdCall::AllocateId(None),
            },
            _ => match edit_owner(u, owners)? {
                Some(owner) => IdCall::FreeOwner(owner),
                None => IdCall::AllocateId(None),
            },
        })
    }

    fn on_allocator(self, ids: &mut IdAllocator) {
        // A call that fails changes nothing; only the state matters here.
        let _ = match self {
            IdCall::AllocateId(None) => ids.allocate_id().map(drop),
            IdCall::AllocateId(Some(o)) => ids.owned_by(&o).allocate_id().map(drop),
            IdCall::AllocateIdAt(id, None) => ids.allocate_id_at(id).map(drop),
            IdCall::AllocateIdAt(id, Some(o)) => ids.owned_by(&o).allocate_id_at(id).map(drop),
            IdCall::AllocateIds(n, align, None) => ids.allocate_ids(n, align).map(drop),
            IdCall::AllocateIds(n, align, Some(o)) => {
                ids.owned_by(&o).allocate_ids(n, align).map(drop)
            }
            IdCall::FreeId(id) => ids.free_id(id).map(drop),
            IdCall::FreeIds(first, last) => ids.free_ids(first..=last),
            IdCall::SetOwner(first, last, owner) => ids.set_owner(first..=last, owner),
            IdCall::FreeOwner(o) => {
                ids.free_owner(&o);
                Ok(())
            }
        };
    }

    fn on_set(self, set: &mut ResourceSet, pool: &str) {
        let _ = match self {
            IdCall::AllocateId(None) => set.allocate_id(pool).map(drop),
            IdCall::AllocateId(Some(o)) => set.owned_by(&o).allocate_id(pool).map(drop),
            IdCall::AllocateIdAt(id, None) => set.allocate_id_at(pool, id).map(drop),
            IdCall::AllocateIdAt(id, Some(o)) => {
                set.owned_by(&o).allocate_id_at(pool, id).map(drop)
            }
            IdCall::AllocateIds(n, align, None) => set.allocate_ids(pool, n, align).map(drop),
            IdCall::AllocateIds(n, align, Some(o)) => {
                set.owned_by(&o).allocate_ids(pool, n, align).map(drop)
            }
            IdCall::FreeId(id) => set.free_id(pool, id).map(drop),
            IdCall::FreeIds(first, last) => set.free_ids(pool, first..=last),
            IdCall::SetOwner(first, last, owner) => set.set_id_owner(pool, first..=last, owner),
            IdCall::FreeOwner(o) => {
                set.free_owner(&o);
                Ok(())
            }
        };
    }
}

/// The owners edits choose from: those of the first allocations of `state`
/// (so that `set_owner` and `free_owner` meet them) and a few new ones.
fn edit_owners<'s>(
    u: &mut Unstructured<'_>,
    existing: impl Iterator<Item = &'s Owner>,
) -> Result<Vec<Owner>> {
    let mut owners = owner_table(u)?;
    for owner in existing.take(64) {
        if owners.len() >= 2 * MAX_OWNERS {
            break;
        }
        if !owners.contains(owner) {
            owners.push(owner.clone());
        }
    }
    Ok(owners)
}

fn address_owners(a: &AddressAllocator) -> impl Iterator<Item = &Owner> {
    a.allocations().filter_map(|x| x.owner())
}

fn id_owners(ids: &IdAllocator) -> impl Iterator<Item = &Owner> {
    ids.allocations().filter_map(|x| x.owner())
}

/// How the newer state of a pair is made.
enum Newer {
    /// Calls on a clone of the older state.
    Edited,
    /// New contents of the same shape.
    Regenerated,
    /// The older state itself.
    Same,
}

impl Newer {
    fn draw(u: &mut Unstructured<'_>) -> Result<(Newer, u64)> {
        let how = match byte(u)? % 4 {
            0 | 1 => Newer::Edited,
            2 => Newer::Regenerated,
            _ => Newer::Same,
        };
        let calls = match how {
            Newer::Edited => 1 + upto(u, MAX_EDITS - 1)?,
            _ => 0,
        };
        Ok((how, calls))
    }
}

/// Two states of one shape, the newer made from the older: what
/// [`Diff::between`] and [`Delta::between`] take, and what a migration
/// sends (the older in full, early; the delta to the newer at the pause).
///
/// With the feature `arbitrary`, `StatePair<S>` implements `Arbitrary` for
/// `S` = [`IdAllocator`], [`AddressAllocator`] or [`ResourceSet`]: the
/// older state as `S::arbitrary` makes it, the newer one, half of the time,
/// the older after 1 to 8 calls of the public API on a clone (allocations
/// with and without owners by every policy, frees, `set_owner`,
/// `free_owner`; sharing history with the older), else new contents of the
/// same shape (independent of the older), or the older state itself.
///
/// ```rust
/// use arbitrary::{Arbitrary, Unstructured};
/// use vm_allocator::{Delta, Diff, ResourceSet, StatePair};
///
/// // A VMM's own state, holding ours: derive `Arbitrary` and fuzz it.
/// #[derive(Debug, Arbitrary)]
/// struct Migration {
///     pair: StatePair<ResourceSet>,
///     device_count: u8,
/// }
///
/// let bytes: Vec<u8> = (0..4096u32)
///     .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
///     .collect();
/// let m = Migration::arbitrary(&mut Unstructured::new(&bytes)).unwrap();
/// let delta = Delta::between(&m.pair.older, &m.pair.newer).unwrap();
/// assert_eq!(delta.apply(&m.pair.older).unwrap(), m.pair.newer);
/// let diff = Diff::between(&m.pair.older, &m.pair.newer).unwrap();
/// assert_eq!(diff.apply(&m.pair.older).unwrap(), m.pair.newer);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StatePair<S> {
    /// The state a diff or delta applies to.
    pub older: S,
    /// The state it gives.
    pub newer: S,
}

/// The pair (see [`StatePair`]).
#[cfg_attr(docsrs, doc(cfg(feature = "arbitrary")))]
impl<'a> Arbitrary<'a> for StatePair<AddressAllocator> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let older = AddressAllocator::arbitrary(u)?;
        let newer = match Newer::draw(u)? {
            (Newer::Edited, calls) => {
                let owners = edit_owners(u, address_owners(&older))?;
                let mut newer = older.clone();
                for _ in 0..calls {
                    AddressCall::draw(u, &newer, &owners)?.on_allocator(&mut newer);
                }
                newer
            }
            (Newer::Regenerated, _) => {
                let owners = owner_table(u)?;
                addresses_in(u, older.space(), &owners)?
            }
            (Newer::Same, _) => older.clone(),
        };
        Ok(StatePair { older, newer })
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (5, Some(pair(ADDRESS_ALLOCATOR)))
    }
}

/// The pair (see [`StatePair`]).
#[cfg_attr(docsrs, doc(cfg(feature = "arbitrary")))]
impl<'a> Arbitrary<'a> for StatePair<IdAllocator> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let older = IdAllocator::arbitrary(u)?;
        let newer = match Newer::draw(u)? {
            (Newer::Edited, calls) => {
                let owners = edit_owners(u, id_owners(&older))?;
                let mut newer = older.clone();
                for _ in 0..calls {
                    IdCall::draw(u, &newer, &owners)?.on_allocator(&mut newer);
                }
                newer
            }
            (Newer::Regenerated, _) => {
                let owners = owner_table(u)?;
                ids_in(u, older.range_base(), older.range_end(), &owners)?
            }
            (Newer::Same, _) => older.clone(),
        };
        Ok(StatePair { older, newer })
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (6, Some(pair(ID_ALLOCATOR)))
    }
}

/// The pair (see [`StatePair`]); the calls go through the set's own
/// methods, on one pool each (or, for `free_owner`, on every pool).
#[cfg_attr(docsrs, doc(cfg(feature = "arbitrary")))]
impl<'a> Arbitrary<'a> for StatePair<ResourceSet> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let older = ResourceSet::arbitrary(u)?;
        let newer = match Newer::draw(u)? {
            (Newer::Edited, calls) => {
                let mut existing = Vec::new();
                for (_, pool) in older.pools() {
                    match pool {
                        Pool::Ids(ids) => existing.extend(id_owners(ids).take(8).cloned()),
                        Pool::Addresses(a) => existing.extend(address_owners(a).take(8).cloned()),
                    }
                }
                let owners = edit_owners(u, existing.iter())?;
                let mut newer = older.clone();
                for _ in 0..calls {
                    if newer.is_empty() {
                        break;
                    }
                    let i = usize::from(byte(u)?) % newer.len();
                    let (name, pool) = newer.pools().nth(i).expect("a pool of the set");
                    let name = String::from(name);
                    match pool {
                        Pool::Ids(ids) => IdCall::draw(u, ids, &owners)?.on_set(&mut newer, &name),
                        Pool::Addresses(a) => {
                            AddressCall::draw(u, a, &owners)?.on_set(&mut newer, &name)
                        }
                    }
                }
                newer
            }
            (Newer::Regenerated, _) => {
                let owners = owner_table(u)?;
                let pools = pools_like(u, &older, &owners)?;
                let generation = generation(u, pools.len() as u64)?;
                build_set(pools, generation)
            }
            (Newer::Same, _) => older.clone(),
        };
        Ok(StatePair { older, newer })
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (5, Some(pair(SET)))
    }
}

/// Which kind of state a diff or delta is drawn of.
fn any_pair<T>(u: &mut Unstructured<'_>, with: impl FnOnce(&dyn DiffOf) -> T) -> Result<T> {
    Ok(match byte(u)? % 3 {
        0 => with(&StatePair::<IdAllocator>::arbitrary(u)?),
        1 => with(&StatePair::<AddressAllocator>::arbitrary(u)?),
        _ => with(&StatePair::<ResourceSet>::arbitrary(u)?),
    })
}

/// A pair of any kind, as a diff or a delta.
trait DiffOf {
    fn diff(&self) -> Diff;
    fn delta(&self) -> Delta;
}

impl<S: crate::Versioned> DiffOf for StatePair<S> {
    fn diff(&self) -> Diff {
        Diff::between(&self.older, &self.newer).expect("a pair has one shape")
    }

    fn delta(&self) -> Delta {
        Delta::between(&self.older, &self.newer).expect("a pair has one shape")
    }
}

/// `Diff::between` the two states of a [`StatePair`] of an id allocator,
/// an address allocator or a resource set (drawn in turn): empty diffs,
/// diffs of a few calls that share history, and diffs between independent
/// contents of one shape.
#[cfg_attr(docsrs, doc(cfg(feature = "arbitrary")))]
impl<'a> Arbitrary<'a> for Diff {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        any_pair(u, |pair| pair.diff())
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (6, Some(ANY_PAIR))
    }
}

/// `Delta::between` the two states of a [`StatePair`], as for [`Diff`].
#[cfg_attr(docsrs, doc(cfg(feature = "arbitrary")))]
impl<'a> Arbitrary<'a> for Delta {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        any_pair(u, |pair| pair.delta())
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (6, Some(ANY_PAIR))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `T` from `data`; returns it and the number of bytes read.
    fn read<'a, T: Arbitrary<'a>>(data: &'a [u8]) -> (T, usize) {
        let mut u = Unstructured::new(data);
        let value = T::arbitrary(&mut u).expect("generation never fails");
        let used = data.len() - u.len();
        (value, used)
    }

    fn noise(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed;
        (0..len)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 33) as u8
            })
            .collect()
    }

    /// Every type reads no more than its size hint says, whatever the input.
    fn within_hint<T: for<'a> Arbitrary<'a>>() {
        let (lower, upper) = T::size_hint(0);
        let upper = upper.expect("an upper bound");
        assert!(lower <= upper);
        for seed in 0..300 {
            let data = noise(seed, upper + 64);
            let (_, used) = read::<T>(&data);
            assert!(
                lower <= used && used <= upper,
                "{lower} <= {used} <= {upper}"
            );
        }
        // Any input gives a value, the empty one included.
        let _ = read::<T>(&[]);
        let _ = read::<T>(&[0xff; 7]);
    }

    #[test]
    fn generation_stays_within_the_size_hints() {
        within_hint::<Owner>();
        within_hint::<RangeInclusive>();
        within_hint::<AllocPolicy>();
        within_hint::<Constraint>();
        within_hint::<PoolKind>();
        within_hint::<Pool>();
        within_hint::<AddressAllocator>();
        within_hint::<IdAllocator>();
        within_hint::<ResourceSet>();
        within_hint::<StatePair<AddressAllocator>>();
        within_hint::<StatePair<IdAllocator>>();
        within_hint::<StatePair<ResourceSet>>();
        within_hint::<Diff>();
        within_hint::<Delta>();
    }
}
