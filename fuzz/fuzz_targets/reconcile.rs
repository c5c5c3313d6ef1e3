// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Random states × random claims: reconcile, adopt, reconcile again.
//!
//! The state is an id allocator, an address allocator or a resource set
//! as their `Arbitrary` impls make them. Claims are aimed at the state
//! (on, across or next to an allocation or run of ids, anywhere near a
//! pool's range) or are any numbers, in a pool of the state, another
//! name, or none, of either kind or none, with an owner of the state,
//! another or none.
//!
//! Checked: the report's findings lie where the rules put them (spans
//! inside their claim, their allocation or the overlap of two claims;
//! outside findings first, in the claims' order; each pool's findings by
//! start, kind, end; one `Display` line each); `adopt` refuses exactly
//! when there is an outside or conflict finding, naming the first, and
//! then changes nothing, generation included; once it succeeds the
//! state is valid, holds every claim with the claim's owner, reconciles
//! as consistent, and moved its generation by one if anything changed;
//! `from_claims` agrees: the same refusal, or a valid state at
//! generation 0 that reconciles as consistent.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use vm_allocator::{
    AddressAllocator, AdoptError, Claim, Finding, FindingKind, IdAllocator, Owner, Pool, PoolKind,
    RangeInclusive, Report, ResourceSet,
};

#[derive(Arbitrary, Debug)]
enum AnyState {
    Ids(IdAllocator),
    Addresses(AddressAllocator),
    Set(ResourceSet),
}

#[derive(Arbitrary, Debug)]
struct Input {
    state: AnyState,
    claims: Vec<ClaimSeed>,
}

#[derive(Arbitrary, Debug)]
struct ClaimSeed {
    pool: PoolPick,
    at: Where,
    owner: OwnerPick,
    kind: KindPick,
}

#[derive(Arbitrary, Debug)]
enum PoolPick {
    /// The pool at this index (modulo the number); none for a lone
    /// allocator.
    Of(u8),
    /// No pool.
    None,
    /// A name no pool has (or has, by chance).
    Named(String),
}

#[derive(Arbitrary, Debug)]
enum Where {
    /// An allocation (a run of ids) of the pool, its ends moved.
    On { item: u16, start: i8, end: i8 },
    /// From an offset into the pool's range, for `len` more.
    Within { offset: u64, len: u16 },
    /// Any numbers (start and end swapped if need be).
    Raw { start: u64, end: u64 },
}

#[derive(Arbitrary, Debug)]
enum OwnerPick {
    Any,
    /// The owner of the allocation aimed at, or of an item of the pool.
    Holder(u16),
    /// One of a few names.
    Named(u8),
}

#[derive(Arbitrary, Debug)]
enum KindPick {
    Either,
    Same,
    Other,
}

/// A pool of the state as the claims see it.
struct View<'a> {
    name: Option<&'a str>,
    kind: PoolKind,
    space: (u64, u64),
    items: Vec<(u64, u64, Option<Owner>)>,
}

fn view<'a>(name: Option<&'a str>, pool: &Pool) -> View<'a> {
    match pool {
        Pool::Ids(ids) => View {
            name,
            kind: PoolKind::Ids,
            space: (ids.range_base().into(), ids.range_end().into()),
            items: ids
                .allocations()
                .map(|a| {
                    let r = a.ids();
                    ((*r.start()).into(), (*r.end()).into(), a.owner().cloned())
                })
                .collect(),
        },
        Pool::Addresses(a) => View {
            name,
            kind: PoolKind::Addresses,
            space: (a.base(), a.end()),
            items: a
                .allocations()
                .map(|x| (x.range().start(), x.range().end(), x.owner().cloned()))
                .collect(),
        },
    }
}

fn shift(x: u64, by: i8) -> u64 {
    if by < 0 {
        x.saturating_sub(u64::from(by.unsigned_abs()))
    } else {
        x.saturating_add(by as u64)
    }
}

fn claim(seed: &ClaimSeed, views: &[View<'_>]) -> Claim {
    let target = match &seed.pool {
        PoolPick::Of(i) => &views[usize::from(*i) % views.len()],
        _ => &views[0],
    };
    let item = |i: u16| {
        (!target.items.is_empty()).then(|| &target.items[usize::from(i) % target.items.len()])
    };
    let (start, end, holder) = match seed.at {
        Where::On {
            item: i,
            start,
            end,
        } => match item(i) {
            Some((s, e, o)) => (shift(*s, start), shift(*e, end), o.clone()),
            None => (target.space.0, target.space.0, None),
        },
        Where::Within { offset, len } => {
            let span = target.space.1 - target.space.0;
            let start = target.space.0 + offset % span.saturating_add(1).max(1);
            (start, start.saturating_add(u64::from(len % 64)), None)
        }
        Where::Raw { start, end } => (start, end, None),
    };
    let (start, end) = (start.min(end), start.max(end));
    let kind = match seed.kind {
        KindPick::Either => None,
        KindPick::Same => Some(target.kind),
        KindPick::Other => Some(match target.kind {
            PoolKind::Ids => PoolKind::Addresses,
            PoolKind::Addresses => PoolKind::Ids,
        }),
    };
    let mut c = match kind {
        Some(PoolKind::Ids) if end <= u64::from(u32::MAX) => {
            Claim::ids(start as u32..=end as u32).unwrap()
        }
        Some(PoolKind::Addresses) => match RangeInclusive::new(start, end) {
            Ok(r) => Claim::addresses(r),
            Err(_) => Claim::new(start, end).unwrap(),
        },
        _ => Claim::new(start, end).unwrap(),
    };
    match &seed.pool {
        PoolPick::Of(_) => {
            if let Some(name) = target.name {
                c = c.in_pool(name);
            }
        }
        PoolPick::None => {}
        PoolPick::Named(name) => c = c.in_pool(name),
    }
    let owner = match seed.owner {
        OwnerPick::Any => None,
        OwnerPick::Holder(i) => holder.or_else(|| item(i).and_then(|(_, _, o)| o.clone())),
        OwnerPick::Named(i) => Owner::new(["a", "b", "virtio-net0"][usize::from(i) % 3]).ok(),
    };
    if let Some(owner) = owner {
        c = c.with_owner(owner);
    }
    c
}

/// The state kinds, as the target needs them.
trait State: Clone + PartialEq + std::fmt::Debug {
    fn reconcile(&self, claims: &[Claim]) -> Report;
    fn adopt(&mut self, claims: &[Claim]) -> Result<Report, AdoptError>;
    fn from_claims(layout: &Self, claims: &[Claim]) -> Result<Self, AdoptError>;
    fn generation(&self) -> u64;
    fn check(&self);
    fn views(&self) -> Vec<View<'_>>;
}

macro_rules! lone {
    ($ty:ty, $pool:path) => {
        impl State for $ty {
            fn reconcile(&self, claims: &[Claim]) -> Report {
                <$ty>::reconcile(self, claims)
            }
            fn adopt(&mut self, claims: &[Claim]) -> Result<Report, AdoptError> {
                <$ty>::adopt(self, claims)
            }
            fn from_claims(layout: &Self, claims: &[Claim]) -> Result<Self, AdoptError> {
                <$ty>::from_claims(layout, claims)
            }
            fn generation(&self) -> u64 {
                <$ty>::generation(self)
            }
            fn check(&self) {
                self.check_invariants().unwrap();
            }
            fn views(&self) -> Vec<View<'_>> {
                vec![view(None, &$pool(self.clone()))]
            }
        }
    };
}

lone!(IdAllocator, Pool::Ids);
lone!(AddressAllocator, Pool::Addresses);

impl State for ResourceSet {
    fn reconcile(&self, claims: &[Claim]) -> Report {
        ResourceSet::reconcile(self, claims)
    }
    fn adopt(&mut self, claims: &[Claim]) -> Result<Report, AdoptError> {
        ResourceSet::adopt(self, claims)
    }
    fn from_claims(layout: &Self, claims: &[Claim]) -> Result<Self, AdoptError> {
        ResourceSet::from_claims(layout, claims)
    }
    fn generation(&self) -> u64 {
        ResourceSet::generation(self)
    }
    fn check(&self) {
        self.check_invariants().unwrap();
    }
    fn views(&self) -> Vec<View<'_>> {
        self.pools()
            .map(|(name, pool)| view(Some(name), pool))
            .collect()
    }
}

fuzz_target!(|input: Input| match input.state {
    AnyState::Ids(s) => run(&s, &input.claims),
    AnyState::Addresses(s) => run(&s, &input.claims),
    AnyState::Set(s) => run(&s, &input.claims),
});

fn run<S: State>(state: &S, seeds: &[ClaimSeed]) {
    let views = state.views();
    if views.is_empty() {
        // A set without pools: every claim lies outside it.
        let claims: Vec<Claim> = seeds
            .iter()
            .take(64)
            .map(|_| Claim::new(0, 0).unwrap().in_pool("p"))
            .collect();
        let report = state.reconcile(&claims);
        assert!(report.iter().all(|f| f.kind() == FindingKind::Outside));
        assert_eq!(report.len(), claims.len());
        return;
    }
    let claims: Vec<Claim> = seeds.iter().take(64).map(|s| claim(s, &views)).collect();
    let report = state.reconcile(&claims);
    check_report(&report, &claims);

    let refusal = report
        .iter()
        .find(|f| matches!(f.kind(), FindingKind::Outside | FindingKind::Conflict));
    let mut adopted = state.clone();
    match (adopted.adopt(&claims), refusal) {
        (Err(e), Some(first)) => {
            assert_eq!(e.finding(), first);
            assert_eq!(&adopted, state);
            assert_eq!(adopted.generation(), state.generation());
            let built = S::from_claims(state, &claims).expect_err("the same refusal");
            assert_eq!(built.finding(), first);
        }
        (Ok(acted_on), None) => {
            assert_eq!(acted_on, report);
            adopted.check();
            assert!(adopted.reconcile(&claims).is_consistent());
            let moved = u64::from(!report.is_consistent());
            assert_eq!(adopted.generation(), state.generation().wrapping_add(moved));
            holds_every_claim(&adopted, &claims, state);
            let built = S::from_claims(state, &claims).expect("claims that adopt build");
            built.check();
            assert_eq!(built.generation(), 0);
            assert!(built.reconcile(&claims).is_consistent());
        }
        (result, refusal) => panic!("adopt gave {result:?} for the refusal {refusal:?}"),
    }
}

/// Where the rules put each finding, and the report's order.
fn check_report(report: &Report, claims: &[Claim]) {
    assert_eq!(report.to_string().lines().count(), report.len());
    let outside: Vec<&Finding> = report
        .iter()
        .take_while(|f| f.kind() == FindingKind::Outside)
        .collect();
    // Outside findings come first, in the claims' order.
    let mut at = 0;
    for f in &outside {
        let c = f.claim().unwrap();
        at += claims[at..].iter().position(|x| x == c).expect("in order") + 1;
        assert_eq!((f.start(), f.end()), (c.start(), c.end()));
    }
    let rest = &report.findings()[outside.len()..];
    for pair in rest.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert_ne!(b.kind(), FindingKind::Outside);
        if a.pool() == b.pool() {
            assert!(
                (a.start(), a.kind(), a.end()) <= (b.start(), b.kind(), b.end()),
                "{a} before {b}"
            );
        }
    }
    for f in rest {
        assert!(f.start() <= f.end());
        let inside = |s: u64, e: u64| s <= f.start() && f.end() <= e;
        match f.kind() {
            FindingKind::Conflict => {
                let (c, o) = (f.claim().unwrap(), f.other_claim().unwrap());
                assert!(inside(c.start(), c.end()) && inside(o.start(), o.end()));
                assert!((o.start(), o.end()) <= (c.start(), c.end()));
            }
            FindingKind::Missing => {
                let c = f.claim().unwrap();
                assert!(inside(c.start(), c.end()));
                assert!(f.allocation().is_none());
            }
            FindingKind::Bounds | FindingKind::Owner => {
                let c = f.claim().unwrap();
                let a = f.allocation().unwrap().range();
                assert!(inside(c.start(), c.end()) && inside(a.start(), a.end()));
                if f.kind() == FindingKind::Owner {
                    assert_ne!(c.owner(), f.allocation().unwrap().owner());
                    assert!(c.owner().is_some());
                }
            }
            FindingKind::Unexpected => {
                let a = f.allocation().unwrap().range();
                assert!(inside(a.start(), a.end()) && f.claim().is_none());
            }
            FindingKind::Outside => unreachable!(),
        }
    }
}

/// Every claim is allocated, with the claim's owner or, for a claim
/// without one, the owner it had (ids one by one, addresses as a whole).
fn holds_every_claim<S: State>(adopted: &S, claims: &[Claim], before: &S) {
    let now = adopted.views();
    let then = before.views();
    for c in claims {
        let i = now
            .iter()
            .position(|v| v.name == c.pool())
            .expect("an adopted claim names its pool");
        let owner_now = |x: u64| {
            now[i]
                .items
                .iter()
                .find(|(s, e, _)| *s <= x && x <= *e)
                .map(|(s, e, o)| (*s, *e, o.clone()))
        };
        let owner_then = |x: u64| {
            then[i]
                .items
                .iter()
                .find(|(s, e, _)| *s <= x && x <= *e)
                .map(|(s, e, o)| (*s, *e, o.clone()))
        };
        match now[i].kind {
            PoolKind::Addresses => {
                let (s, e, o) = owner_now(c.start()).expect("allocated");
                assert_eq!((s, e), (c.start(), c.end()));
                let kept = owner_then(c.start())
                    .filter(|(s, e, _)| (*s, *e) == (c.start(), c.end()))
                    .and_then(|(_, _, o)| o);
                assert_eq!(o.as_ref(), c.owner().or(kept.as_ref()));
            }
            PoolKind::Ids => {
                // Claims of ids are small here (the ranges above are),
                // but a raw one may be long: look at its ends and middle.
                for x in [c.start(), c.start() + (c.end() - c.start()) / 2, c.end()] {
                    let (_, _, o) = owner_now(x).expect("allocated");
                    let kept = owner_then(x).and_then(|(_, _, o)| o);
                    assert_eq!(o.as_ref(), c.owner().or(kept.as_ref()));
                }
            }
        }
    }
}
