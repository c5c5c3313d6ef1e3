// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The scenario, its actions and the selectors inside them: what the fuzzer
//! decodes with `arbitrary` and proptest builds in `strategy.rs`.

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use vm_allocator::Owner;

// ---------------------------------------------------------------------------
// Scenarios and actions
// ---------------------------------------------------------------------------

/// A starting state and the actions to play on it.
#[derive(Debug, Clone, Arbitrary)]
pub struct Scenario {
    /// The address space of the `AddressAllocator`.
    pub space: SpaceSel,
    /// The id range of the `IdAllocator`.
    pub ids: IdRangeSel,
    /// What to do, in order.
    pub actions: Vec<Action>,
}

/// An address space. Sizes are small so the models can search by brute
/// force, but bases vary over the whole `u64` range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum SpaceSel {
    /// `[0, last]`: touches address 0.
    AtZero(u16),
    /// `[u64::MAX - last, u64::MAX]`: touches the highest address.
    AtMax(u16),
    /// `len + 1` addresses from `base`, moved down if they would pass `u64::MAX`.
    At {
        /// First address (before moving down).
        base: u64,
        /// Size minus one.
        len: u16,
    },
    /// `2^(bits % 65)` addresses from `base` (`u64::MAX` addresses for 64),
    /// moved down as needed: allocations are sparse in these.
    Wide {
        /// First address (before moving down).
        base: u64,
        /// log2 of the size.
        bits: u8,
    },
}

impl SpaceSel {
    /// The `(base, size)` to pass to `AddressAllocator::new`; always valid.
    pub fn base_and_size(self) -> (u64, u64) {
        let (base, size) = match self {
            SpaceSel::AtZero(last) => (0, u64::from(last) + 1),
            SpaceSel::AtMax(last) => (u64::MAX - u64::from(last), u64::from(last) + 1),
            SpaceSel::At { base, len } => (base, u64::from(len) + 1),
            SpaceSel::Wide { base, bits } => match bits % 65 {
                64 => (base, u64::MAX),
                b => (base, 1u64 << b),
            },
        };
        // The last address, base + size - 1, must not pass u64::MAX.
        (base.min(u64::MAX - (size - 1)), size)
    }
}

/// An id range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum IdRangeSel {
    /// `[0, last]`.
    AtZero(u16),
    /// `[u32::MAX - last, u32::MAX]`: exhaustion reports `Overflow`.
    AtMax(u16),
    /// `len + 1` ids from `base`, moved down if they would pass `u32::MAX`.
    At {
        /// First id (before moving down).
        base: u32,
        /// Number of ids minus one.
        len: u16,
    },
    /// `2^(bits % 33)` ids from `base`, moved down as needed.
    Wide {
        /// First id (before moving down).
        base: u32,
        /// log2 of the number of ids.
        bits: u8,
    },
}

impl IdRangeSel {
    /// The `(range_base, range_end)` to pass to `IdAllocator::new`; always valid.
    pub fn bounds(self) -> (u32, u32) {
        let (base, last) = match self {
            IdRangeSel::AtZero(last) => (0, u64::from(last)),
            IdRangeSel::AtMax(last) => (u64::from(u32::MAX - u32::from(last)), u64::from(last)),
            IdRangeSel::At { base, len } => (u64::from(base), u64::from(len)),
            IdRangeSel::Wide { base, bits } => (u64::from(base), (1u64 << (bits % 33)) - 1),
        };
        let base = base.min(u64::from(u32::MAX) - last);
        (base as u32, (base + last) as u32)
    }
}

/// One step of a scenario.
#[derive(Debug, Clone, Arbitrary)]
pub enum Action {
    /// An operation on the live allocators or the live set.
    Op(Op),
    /// Keep a clone of the live allocators and set (and of their models).
    Snapshot,
    /// Apply an operation to a kept clone instead of the live state.
    MutateSnapshot {
        /// Which snapshot (modulo their number).
        slot: u8,
        /// The operation.
        op: Op,
    },
    /// Make a kept clone the live state (the clone stays kept).
    Restore {
        /// Which snapshot (modulo their number).
        slot: u8,
    },
    /// Forget a kept clone.
    DropSnapshot {
        /// Which snapshot (modulo their number).
        slot: u8,
    },
    /// Check `AddressAllocator::new` on raw arguments (the live state stays).
    NewAddress {
        /// First address.
        base: u64,
        /// Number of addresses.
        size: u64,
    },
    /// Check `IdAllocator::new` on raw arguments (the live state stays).
    NewIds {
        /// First id.
        base: u32,
        /// Last id.
        end: u32,
    },
    /// Start over with fresh allocators (and set) on another space and id
    /// range: kept snapshots then have another shape than the live state.
    Reset {
        /// The new address space.
        space: SpaceSel,
        /// The new id range.
        ids: IdRangeSel,
    },
    /// `Diff::between` and `Delta::between` a kept snapshot and the live
    /// state, for both allocators and the set, compared with the naive diff
    /// of their models, applied back, and applied to every other state.
    Diff {
        /// Which snapshot (modulo their number; the live state itself if
        /// none is kept).
        slot: u8,
        /// Which of the two states to rebuild from its encoding first, so
        /// that they share no history.
        rebuild: Rebuild,
        /// Diff from the live state to the snapshot instead.
        reverse: bool,
    },
    /// An all-or-nothing batch on the live state.
    Transaction {
        /// What it runs on, and its steps.
        tx: Tx,
        /// How it ends.
        end: TxEnd,
    },
    /// Encode the live allocators and set in every form (current format,
    /// format version 1, serde_json, without owners) and decode them back.
    RoundTrip,
}

/// How the two states of [`Action::Diff`] are obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum Rebuild {
    /// As they are (a snapshot and the live state share history).
    Shared,
    /// The older one decoded from `to_bytes()`.
    OlderFromBytes,
    /// The newer one decoded from `to_bytes()`.
    NewerFromBytes,
    /// Both decoded from `to_bytes()`.
    BothFromBytes,
    /// Both decoded from serde_json.
    BothFromJson,
}

/// The target and steps of [`Action::Transaction`]; at most
/// [`MAX_TX_STEPS`](crate::support::MAX_TX_STEPS) steps are run.
#[derive(Debug, Clone, Arbitrary)]
pub enum Tx {
    /// A transaction on the live address allocator.
    Addresses(Vec<AddrStep>),
    /// A transaction on the live id allocator.
    Ids(Vec<IdStep>),
    /// A transaction on the live resource set.
    Set(Vec<SetOp>),
}

/// How a transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum TxEnd {
    /// `commit()`.
    Commit,
    /// `rollback()`.
    Rollback,
    /// Dropped without commit.
    Drop,
    /// A last step that fails on purpose (after mutating the state first if
    /// `mutate`), one more step that must report that failure, then
    /// `commit()`, which must too.
    Fail {
        /// Mutate the state inside the failing step before failing.
        mutate: bool,
    },
}

/// An operation on one of the two allocators or on the set.
#[derive(Debug, Clone, Arbitrary)]
pub enum Op {
    /// One call on the address allocator.
    Addr(AddrStep),
    /// Up to [`MAX_FILL`](crate::support::MAX_FILL) First or LastMatch
    /// allocations of one shape, stopping at the first error: grows the
    /// tree quickly.
    Fill {
        /// How many (modulo `MAX_FILL + 1`).
        count: u8,
        /// Size of each.
        size: SizeSel,
        /// Alignment of each.
        align: AlignSel,
        /// LastMatch instead of FirstMatch.
        last: bool,
        /// Owner of each.
        owner: Option<OwnerSel>,
    },
    /// Free every `stride`-th allocation: fragments the space.
    FreeEvery {
        /// Distance between freed allocations (`stride % 8 + 2`).
        stride: u8,
        /// Index of the first one freed.
        offset: u8,
    },
    /// `is_allocated`, `allocation_containing` and `owner_at` of one address.
    Query(AddrSel),
    /// One call on the id allocator.
    Id(IdStep),
    /// Up to `MAX_FILL` `allocate_id` calls, stopping at the first error.
    FillIds {
        /// How many (modulo `MAX_FILL + 1`).
        count: u8,
        /// Owner of each.
        owner: Option<OwnerSel>,
    },
    /// Free every `stride`-th allocated id.
    FreeIdsEvery {
        /// Distance between freed ids (`stride % 8 + 2`).
        stride: u8,
        /// Index of the first one freed.
        offset: u8,
    },
    /// `IdAllocator::is_allocated` and `owner_at` of one id.
    QueryId(IdSel),
    /// One call on the resource set.
    Set(SetOp),
}

/// One call on an `AddressAllocator` (or on an address pool of a set).
#[derive(Debug, Clone, Arbitrary)]
pub enum AddrStep {
    /// `allocate`, or `owned_by(owner).allocate`.
    Allocate {
        /// Size.
        size: SizeSel,
        /// Alignment.
        align: AlignSel,
        /// Policy.
        policy: PolicySel,
        /// Owner.
        owner: Option<OwnerSel>,
    },
    /// `allocate_with` (or owned), with minimum/maximum bounds.
    AllocateWith {
        /// Size.
        size: SizeSel,
        /// Alignment.
        align: AlignSel,
        /// Policy.
        policy: PolicySel,
        /// Bounds added to the constraint.
        bounds: BoundsSel,
        /// Owner.
        owner: Option<OwnerSel>,
    },
    /// `free`.
    Free(FreeSel),
    /// `set_owner` of a range (exactly an allocation, usually).
    SetOwner {
        /// The range.
        range: FreeSel,
        /// The new owner.
        owner: Option<OwnerSel>,
    },
    /// `free_owner`; in a set, `ResourceSet::free_owner` over every pool.
    FreeOwner(OwnerSel),
}

/// One call on an `IdAllocator` (or on an id pool of a set).
#[derive(Debug, Clone, Arbitrary)]
pub enum IdStep {
    /// `allocate_id`, or `owned_by(owner).allocate_id`.
    AllocateId(Option<OwnerSel>),
    /// `allocate_id_at` (or owned).
    AllocateIdAt {
        /// The id.
        id: IdSel,
        /// Owner.
        owner: Option<OwnerSel>,
    },
    /// `allocate_ids` (or owned).
    AllocateIds {
        /// Number of ids.
        count: CountSel,
        /// Alignment of the first id.
        align: IdAlignSel,
        /// Owner.
        owner: Option<OwnerSel>,
    },
    /// `free_id`.
    FreeId(IdSel),
    /// `free_ids(first..=first + span)`; a negative span gives an inverted
    /// (empty) range when it is not -0.
    FreeIds {
        /// First id.
        first: IdSel,
        /// `last - first`, wrapping.
        span: i8,
    },
    /// `set_owner(first..=first + span, owner)`.
    SetOwner {
        /// First id.
        first: IdSel,
        /// `last - first`, wrapping.
        span: i8,
        /// The new owner.
        owner: Option<OwnerSel>,
    },
    /// `free_owner`; in a set, `ResourceSet::free_owner` over every pool.
    FreeOwner(OwnerSel),
}

/// One call on a `ResourceSet`.
#[derive(Debug, Clone, Arbitrary)]
pub enum SetOp {
    /// A call on an address pool (`allocate`, `free`, `set_owner`, ...).
    Addr {
        /// Which pool.
        pool: PoolSel,
        /// The call.
        step: AddrStep,
    },
    /// A call on an id pool (`allocate_id`, `free_ids`, `set_id_owner`, ...).
    Id {
        /// Which pool.
        pool: PoolSel,
        /// The call.
        step: IdStep,
    },
}

/// A pool of the set, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum PoolSel {
    /// Id pool `n` (modulo their number).
    Ids(u8),
    /// Address pool `n` (modulo their number).
    Addresses(u8),
    /// Pool `n` of any kind: `WrongKind` when it does not fit the call.
    Any(u8),
    /// A name no pool has: `NoSuchPool`.
    Missing,
}

/// The names an owner is chosen from.
pub const OWNER_NAMES: [&str; 4] = [
    "net0",
    "pci 0000:00:03.0",
    "é-gpu",
    // Exactly MAX_NAME_LEN (64) bytes.
    "a-device-with-a-name-of-sixty-four-bytes-which-is-the-limit-0123",
];

/// A name no owner has: its lookups must find nothing.
pub const NOBODY: &str = "nobody";

/// An owner, out of a handful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum OwnerSel {
    /// `net0`.
    Net0,
    /// `net0` again, through another `Owner` handle (equal, not ptr-equal).
    Net0Again,
    /// A name with spaces and a colon.
    Pci,
    /// A name that is not ASCII.
    Gpu,
    /// A name of the longest length allowed.
    Long,
}

impl OwnerSel {
    /// The owner handle this selects; the same handle every time.
    pub fn owner(self) -> Owner {
        static HANDLES: OnceLock<[Owner; 5]> = OnceLock::new();
        let handles = HANDLES.get_or_init(|| {
            let make = |name: &str| Owner::new(name).expect("a valid owner name");
            [
                make(OWNER_NAMES[0]),
                make(OWNER_NAMES[0]),
                make(OWNER_NAMES[1]),
                make(OWNER_NAMES[2]),
                make(OWNER_NAMES[3]),
            ]
        });
        handles[self as usize].clone()
    }

    /// The owner handle, if any.
    pub fn resolve(sel: Option<OwnerSel>) -> Option<Owner> {
        sel.map(OwnerSel::owner)
    }
}

/// A size.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum SizeSel {
    /// That many (0 is invalid).
    Small(u8),
    /// `2^(e % 64)`.
    Pow(u8),
    /// The size of the space minus `n` (wrapping; 0 is invalid).
    SpaceMinus(u8),
    /// Any value.
    Raw(u64),
}

/// An alignment.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum AlignSel {
    /// `2^(e % 64)`, huge ones included.
    Pow(u8),
    /// Any value: zero and non powers of two are invalid.
    Raw(u64),
}

/// An allocation policy.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum PolicySel {
    /// `FirstMatch`.
    First,
    /// `LastMatch`.
    Last,
    /// `ExactMatch` at the address, aligned or not.
    Exact(AddrSel),
    /// `ExactMatch` at the address rounded down to the alignment (when the
    /// alignment is valid), so that it is usually accepted.
    ExactAligned(AddrSel),
}

/// Bounds added to a constraint, in this order: minimum, maximum, window.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct BoundsSel {
    /// `with_min_address`.
    pub min: Option<AddrSel>,
    /// `with_max_address`.
    pub max: Option<AddrSel>,
    /// `within(RangeInclusive::new(a, b))`, skipped when that range is invalid.
    pub within: Option<(AddrSel, AddrSel)>,
}

/// An address, relative to the space or to the current allocations.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum AddrSel {
    /// `base + n`, wrapping (may lie past the end).
    Offset(u16),
    /// `base - 1 - n`, wrapping: below the space.
    Below(u8),
    /// `end - n`, wrapping.
    FromEnd(u16),
    /// `end + 1 + n`, wrapping: above the space.
    Above(u8),
    /// `base + size * n / 2^16`: anywhere in a wide space.
    Fraction(u16),
    /// Start of allocation `idx` (modulo their number; `base` if none) + delta.
    AllocStart {
        /// Which allocation.
        idx: u8,
        /// Added, wrapping.
        delta: i8,
    },
    /// End of allocation `idx` (`end` if none) + delta.
    AllocEnd {
        /// Which allocation.
        idx: u8,
        /// Added, wrapping.
        delta: i8,
    },
    /// Start of free gap `idx` (`base` if none) + delta.
    GapStart {
        /// Which gap.
        idx: u8,
        /// Added, wrapping.
        delta: i8,
    },
    /// End of free gap `idx` (`end` if none) + delta.
    GapEnd {
        /// Which gap.
        idx: u8,
        /// Added, wrapping.
        delta: i8,
    },
    /// Any value.
    Raw(u64),
}

/// A range to free.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum FreeSel {
    /// Exactly allocation `idx` (modulo their number).
    Alloc(u8),
    /// Allocation `idx` shrunk at either end.
    Sub {
        /// Which allocation.
        idx: u8,
        /// Added to the start.
        trim_start: u8,
        /// Subtracted from the end.
        trim_end: u8,
    },
    /// Allocation `idx` grown at either end.
    Super {
        /// Which allocation.
        idx: u8,
        /// Subtracted from the start.
        grow_start: u8,
        /// Added to the end.
        grow_end: u8,
    },
    /// Allocation `idx` moved by `delta`.
    Shift {
        /// Which allocation.
        idx: u8,
        /// Added to both ends.
        delta: i8,
    },
    /// From the start of allocation `idx` to the end of the next one.
    Pair(u8),
    /// Exactly free gap `idx`: 0.1.4 wrongly accepted this.
    Gap(u8),
    /// `[start, start + len]`.
    Raw {
        /// First address.
        start: AddrSel,
        /// Length minus one.
        len: u16,
    },
}

/// An id, relative to the range or to the current allocations.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum IdSel {
    /// `range_base + n`, wrapping.
    Offset(u16),
    /// `range_base - 1 - n`, wrapping.
    Below(u8),
    /// `range_end - n`, wrapping.
    FromEnd(u16),
    /// `range_end + 1 + n`, wrapping.
    Above(u8),
    /// `range_base + ids * n / 2^16`.
    Fraction(u16),
    /// Allocated id `idx` (modulo their number; `range_base` if none) + delta.
    Allocated {
        /// Which allocated id.
        idx: u8,
        /// Added, wrapping.
        delta: i8,
    },
    /// One past the highest id ever allocated, + delta: the boundary between
    /// `AlreadyReleased` and `NeverAllocated`.
    NextId(i8),
    /// Any value.
    Raw(u32),
}

/// A number of ids.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum CountSel {
    /// That many (0 is invalid).
    Small(u8),
    /// `2^(e % 32)`.
    Pow(u8),
    /// Any value.
    Raw(u32),
}

/// An id alignment.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum IdAlignSel {
    /// `2^(e % 32)`.
    Pow(u8),
    /// Any value: zero and non powers of two are invalid.
    Raw(u32),
}
