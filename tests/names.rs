// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Output that names cannot spoof (FORMAT.md 6.1.1).
//!
//! A valid owner or pool name (or journal label) may hold a line
//! separator, bidi controls or invisible characters. Every human-readable
//! output (the `format::dump` listing of every kind of file, journals
//! included, the `Display` of diffs, deltas, blame and errors) shows such
//! names by one rule, so that a listing keeps one allocation (one record,
//! one change) per line and nothing hidden reaches the reader; the files
//! themselves are untouched: they load and re-encode byte for byte.
//!
//! The oracle of "hidden" is the table of FORMAT.md 6.1.1, parsed here: the
//! first test proves that `escape_name` does exactly what that table says,
//! for every code point.

#[path = "support/spec_reader.rs"]
mod spec;

use std::fmt::Write as _;
use std::ops::RangeInclusive as Span;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use vm_allocator::format::{self, EncodeError, FileKind, JournalWriter, Unfit};
use vm_allocator::{
    escape_name, AddressAllocator, AllocPolicy, Delta, Diff, DiffError, Error, IdAllocator, Owner,
    RangeInclusive, ResourceSet, SetError,
};

// ---------------------------------------------------------------------------
// The rule as FORMAT.md states it.

/// What the table of FORMAT.md 6.1.1 says.
struct Table {
    /// The hidden characters, shown `\u{X}` wherever they are.
    hidden: Vec<Span<u32>>,
    /// Characters escaped by a backslash before them (`\` and `"`).
    backslashed: Vec<char>,
    /// True if the table shows U+0020 as `\u{20}` at either end of a name.
    outer_space: bool,
}

const FORMAT_MD: &str = include_str!("../FORMAT.md");
const ESCAPE_RS: &str = include_str!("../src/escape.rs");

/// Every `U+X` and `U+X..U+Y` in `text`, as ranges.
fn code_points(text: &str) -> Vec<Span<u32>> {
    let hex = |s: &str| {
        let digits: String = s.chars().take_while(char::is_ascii_hexdigit).collect();
        (u32::from_str_radix(&digits, 16).unwrap(), digits.len())
    };
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("U+") {
        let (first, len) = hex(&rest[at + 2..]);
        rest = &rest[at + 2 + len..];
        match rest.strip_prefix("..U+") {
            Some(tail) => {
                let (last, len) = hex(tail);
                assert!(first <= last, "U+{first:04X}..U+{last:04X} is inverted");
                out.push(first..=last);
                rest = &tail[len..];
            }
            None => out.push(first..=first),
        }
    }
    out
}

/// Parses the table of FORMAT.md 6.1.1.
fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let section = FORMAT_MD
            .split("#### 6.1.1 Names in listings")
            .nth(1)
            .expect("FORMAT.md has section 6.1.1");
        let section = section.split("\n### ").next().unwrap();
        let rows: Vec<Vec<&str>> = section
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| character"))
            .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
            .collect();
        assert!(rows.len() >= 5, "the table has its rows: {rows:?}");
        let mut table = Table {
            hidden: Vec::new(),
            backslashed: Vec::new(),
            outer_space: false,
        };
        for row in rows {
            let [what, shown] = row[..] else {
                panic!("a row of two cells: {row:?}")
            };
            if what == r#"`\` and `"`"# {
                assert_eq!(shown, r#"`\\` and `\"`"#);
                table.backslashed = vec!['\\', '"'];
            } else if what.contains("first or the last") {
                assert_eq!(code_points(what), [0x20..=0x20]);
                assert_eq!(shown, r"`\u{20}`");
                table.outer_space = true;
            } else {
                assert_eq!(shown, r"`\u{X}`", "{what}");
                // "white space other than U+0020: ..." lists after the colon.
                let listed = what.rsplit_once(':').map_or(what, |(_, list)| list);
                table.hidden.extend(code_points(listed));
            }
        }
        assert!(!table.hidden.is_empty() && !table.backslashed.is_empty());
        table
    })
}

fn is_hidden(c: char) -> bool {
    table().hidden.iter().any(|r| r.contains(&u32::from(c)))
}

#[test]
fn escape_name_does_what_format_md_6_1_1_says_for_every_code_point() {
    let t = table();
    assert!(t.outer_space);
    // The ranges the issue names are in the table.
    for c in [
        0x2028, 0x2029, 0x202a, 0x202e, 0x2066, 0x2069, 0xa0, 0x200b, 0xfeff,
    ] {
        assert!(is_hidden(char::from_u32(c).unwrap()), "U+{c:04X}");
    }
    let mut escaped = 0;
    for c in (0..=0x10_ffff).filter_map(char::from_u32) {
        let inside: String = ['x', c, 'y'].iter().collect();
        let shown = escape_name(&inside).to_string();
        let expected = if is_hidden(c) {
            format!("x\\u{{{:x}}}y", u32::from(c))
        } else if t.backslashed.contains(&c) {
            format!("x\\{c}y")
        } else {
            inside.clone()
        };
        assert_eq!(shown, expected, "U+{:04X}", u32::from(c));
        if shown != inside {
            escaped += 1;
        }
        // At either end of a name, the same (U+0020 aside).
        if c != ' ' {
            let alone = c.to_string();
            let shown = escape_name(&alone).to_string();
            assert_eq!(format!("x{shown}y"), expected, "U+{:04X}", u32::from(c));
        }
    }
    // Not a rule that escapes everything: about 4,300 hidden characters
    // (the tag block holds 4,096) and two backslashed ones.
    assert!((4000..5000).contains(&escaped), "{escaped} escaped");
    // The neighbours of each listed range stand for themselves, unless the
    // table lists them too.
    for r in &t.hidden {
        for n in [r.start().wrapping_sub(1), r.end() + 1] {
            if let Some(c) = char::from_u32(n).filter(|&c| !is_hidden(c)) {
                if c == '\\' || c == '"' || c == ' ' {
                    continue;
                }
                let inside: String = ['x', c, 'y'].iter().collect();
                assert_eq!(escape_name(&inside).to_string(), inside, "U+{n:04X}");
            }
        }
    }
    // U+0020: itself inside, `\u{20}` at either end.
    assert_eq!(escape_name("a b").to_string(), "a b");
    assert_eq!(escape_name(" a").to_string(), r"\u{20}a");
    assert_eq!(escape_name("a ").to_string(), r"a\u{20}");
    assert_eq!(escape_name(" ").to_string(), r"\u{20}");
}

#[test]
fn the_doc_of_escape_name_lists_what_format_md_lists() {
    // The list in the rustdoc of `escape_name`, from "except" to the end of
    // the list; U+0020 is named there as the exception it is.
    let doc = ESCAPE_RS
        .split("/// Shows `name` by the crate's one rule")
        .nth(1)
        .unwrap();
    let doc = doc.split("/// So a shown name").next().unwrap();
    let in_doc: Vec<Span<u32>> = code_points(doc)
        .into_iter()
        .filter(|r| *r != (0x20..=0x20))
        .collect();
    let expand = |ranges: &[Span<u32>]| {
        let mut all: Vec<u32> = ranges.iter().flat_map(|r| r.clone()).collect();
        all.sort_unstable();
        all.dedup();
        all
    };
    assert_eq!(expand(&in_doc), expand(&table().hidden));
}

// ---------------------------------------------------------------------------
// Hostile names and how they must show.

/// Owner names that try to fake a line of a listing, reorder text or hide,
/// each with the text every human-readable output must show for it
/// (written out here, not computed by `escape_name`).
const OWNERS: &[(&str, &str)] = &[
    (
        "x\u{2028}#1 0x0..=0xfff (0x1000) evil",
        r"x\u{2028}#1 0x0..=0xfff (0x1000) evil",
    ),
    (
        "net0\u{2029}+ 0xd0000000..=0xd0000fff (4 KiB)",
        r"net0\u{2029}+ 0xd0000000..=0xd0000fff (4 KiB)",
    ),
    ("\u{202e}0txt.exe", r"\u{202e}0txt.exe"),
    (
        "\u{202a}a\u{202b}b\u{202c}c\u{202d}",
        r"\u{202a}a\u{202b}b\u{202c}c\u{202d}",
    ),
    (
        "\u{2066}i\u{2067}j\u{2068}k\u{2069}",
        r"\u{2066}i\u{2067}j\u{2068}k\u{2069}",
    ),
    ("net0\u{a0}", r"net0\u{a0}"),
    ("gpu\u{200b}0\u{200d}", r"gpu\u{200b}0\u{200d}"),
    ("\u{feff}bom\u{2060}", r"\u{feff}bom\u{2060}"),
    (" lead", r"\u{20}lead"),
    ("trail ", r"trail\u{20}"),
    (" both ", r"\u{20}both\u{20}"),
    ("back\\slash", r"back\\slash"),
    ("say \"hi\"", r#"say \"hi\""#),
    // Text that looks like an escape is not one.
    ("\\u{2028}", r"\\u{2028}"),
    ("virtio-net0", "virtio-net0"),
    ("pci 0000:00:03.0", "pci 0000:00:03.0"),
];

/// Pool names of the same kind.
const POOLS: &[(&str, &str)] = &[
    (
        "gsi\u{2028}pool #9 mmio: address pool",
        r"gsi\u{2028}pool #9 mmio: address pool",
    ),
    ("\u{202e}oip", r"\u{202e}oip"),
    ("mmio\u{a0}", r"mmio\u{a0}"),
    (" pio", r"\u{20}pio"),
    ("legacy_gsi", "legacy_gsi"),
];

/// A plain stand-in for owner `i`, all of one width.
fn plain_owner(i: usize) -> String {
    format!("owner-{i:02}")
}

fn plain_pool(i: usize) -> String {
    format!("pool-{i:02}")
}

/// Every state kind, holding one allocation per owner (and one without).
struct States {
    ids: IdAllocator,
    addresses: AddressAllocator,
    set: ResourceSet,
    /// The set's pools, empty.
    empty_set: ResourceSet,
}

impl States {
    fn new(owners: &[String], pools: &[String]) -> States {
        let owners: Vec<Owner> = owners.iter().map(|o| Owner::new(o).unwrap()).collect();
        let mut ids = IdAllocator::new(0, 255).unwrap();
        let mut addresses = AddressAllocator::new(0, 0x10_0000).unwrap();
        for (i, owner) in owners.iter().enumerate() {
            ids.owned_by(owner).allocate_id_at(2 * i as u32).unwrap();
            addresses
                .owned_by(owner)
                .allocate(0x1000, 0x1000, AllocPolicy::ExactMatch(0x2000 * i as u64))
                .unwrap();
        }
        ids.allocate_id_at(200).unwrap();
        addresses
            .allocate(0x1000, 0x1000, AllocPolicy::ExactMatch(0x8_0000))
            .unwrap();
        // Pools of ids and of addresses by turns, each holding every owner.
        let (mut set, mut empty_set) = (ResourceSet::new(), ResourceSet::new());
        for (j, pool) in pools.iter().enumerate() {
            if j % 2 == 0 {
                set.add_pool(pool, ids.clone()).unwrap();
                empty_set
                    .add_pool(pool, IdAllocator::new(0, 255).unwrap())
                    .unwrap();
            } else {
                set.add_pool(pool, addresses.clone()).unwrap();
                empty_set
                    .add_pool(pool, AddressAllocator::new(0, 0x10_0000).unwrap())
                    .unwrap();
            }
        }
        States {
            ids,
            addresses,
            set,
            empty_set,
        }
    }

    fn hostile() -> States {
        States::new(&names(OWNERS), &names(POOLS))
    }

    fn plain() -> States {
        let owners: Vec<String> = (0..OWNERS.len()).map(plain_owner).collect();
        let pools: Vec<String> = (0..POOLS.len()).map(plain_pool).collect();
        States::new(&owners, &pools)
    }

    /// Allocations of the set, in all.
    fn set_items(&self) -> usize {
        self.set.pools().map(|(_, p)| items(p)).sum()
    }
}

fn items(pool: &vm_allocator::Pool) -> usize {
    match pool {
        vm_allocator::Pool::Ids(ids) => ids.allocations().count(),
        vm_allocator::Pool::Addresses(a) => a.allocations().count(),
    }
}

fn names(table: &[(&str, &str)]) -> Vec<String> {
    table.iter().map(|(name, _)| name.to_string()).collect()
}

/// The lines of `text` as a terminal or an editor may break it: at every
/// line terminator Unicode knows, not only `\n`.
fn visual_lines(text: &str) -> Vec<&str> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.split([
        '\n', '\r', '\u{b}', '\u{c}', '\u{85}', '\u{2028}', '\u{2029}',
    ])
    .collect()
}

/// `text` has exactly `lines` lines, however it is shown, and no hidden
/// character.
#[track_caller]
fn assert_plainly_shown(text: &str, lines: usize) {
    assert_eq!(visual_lines(text).len(), lines, "{text}");
    assert_eq!(text.lines().count(), lines, "{text}");
    if let Some(c) = text.chars().find(|&c| c != '\n' && is_hidden(c)) {
        panic!("U+{:04X} shows in:\n{text}", u32::from(c));
    }
}

/// Lines that name no owner or pool but hold checksums or lengths, which
/// differ between the hostile and the plain states.
fn masked(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.contains("checksum") || l.starts_with("body: ") {
                "(masked)\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

/// The hostile text must be the plain one with every stand-in replaced by
/// the shown name: the same lines, in the same places.
#[track_caller]
fn assert_same_as_plain_with_names_shown(hostile: &str, plain: &str) {
    let mut expected = masked(plain);
    for (i, (_, shown)) in OWNERS.iter().enumerate() {
        expected = expected.replace(&plain_owner(i), shown);
    }
    for (i, (_, shown)) in POOLS.iter().enumerate() {
        expected = expected.replace(&plain_pool(i), shown);
    }
    assert_eq!(masked(hostile), expected);
    assert_plainly_shown(hostile, plain.lines().count());
}

/// Lines of a listing that list an allocation (`#i ...`).
fn allocation_lines(listing: &str) -> usize {
    listing
        .lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .count()
}

// ---------------------------------------------------------------------------
// Listings, diffs and deltas.

#[test]
fn format_dump_lists_one_allocation_per_line_with_names_shown() {
    let (hostile, plain) = (States::hostile(), States::plain());
    let n = OWNERS.len() + 1;
    let listings = [
        (hostile.ids.to_bytes(), plain.ids.to_bytes(), n),
        (hostile.addresses.to_bytes(), plain.addresses.to_bytes(), n),
        (
            hostile.set.to_bytes(),
            plain.set.to_bytes(),
            hostile.set_items(),
        ),
        (hostile.empty_set.to_bytes(), plain.empty_set.to_bytes(), 0),
    ];
    for (hostile, plain, allocations) in listings {
        let (hostile, plain) = (
            format::dump(&hostile).unwrap(),
            format::dump(&plain).unwrap(),
        );
        assert_eq!(allocation_lines(&hostile), allocations, "{hostile}");
        assert_same_as_plain_with_names_shown(&hostile, &plain);
    }
    // Spot checks of the exact lines.
    let listing = format::dump(&hostile.addresses.to_bytes()).unwrap();
    assert!(listing.contains("\n#0 0x0..=0xfff (0x1000) x\\u{2028}#1 0x0..=0xfff (0x1000) evil\n"));
    assert!(listing.contains("\n#5 0xa000..=0xafff (0x1000) net0\\u{a0}\n"));
    let listing = format::dump(&hostile.set.to_bytes()).unwrap();
    assert!(listing.contains("\npool #0 gsi\\u{2028}pool #9 mmio: address pool: id pool\n"));
    assert!(listing.contains("\npool #3 \\u{20}pio: address pool\n"));
}

#[test]
fn diff_and_delta_show_one_change_per_line_with_names_shown() {
    let (hostile, plain) = (States::hostile(), States::plain());
    let n = OWNERS.len() + 1;
    let empty_ids = IdAllocator::new(0, 255).unwrap();
    let empty_addresses = AddressAllocator::new(0, 0x10_0000).unwrap();
    let pairs = [
        (
            Diff::between(&empty_ids, &hostile.ids).unwrap(),
            Diff::between(&empty_ids, &plain.ids).unwrap(),
            n,
        ),
        (
            Diff::between(&hostile.addresses, &empty_addresses).unwrap(),
            Diff::between(&plain.addresses, &empty_addresses).unwrap(),
            n,
        ),
        (
            Diff::between(&hostile.empty_set, &hostile.set).unwrap(),
            Diff::between(&plain.empty_set, &plain.set).unwrap(),
            hostile.set_items(),
        ),
    ];
    for (hostile, plain, changes) in pairs {
        assert_eq!(hostile.len(), changes);
        let text = hostile.to_string();
        assert_same_as_plain_with_names_shown(&text, &plain.to_string());
        assert_plainly_shown(&text, changes);
        for change in hostile.changes() {
            assert_plainly_shown(&change.to_string(), 1);
        }
    }

    // Deltas: their Display and their listing.
    let delta = Delta::between(&hostile.empty_set, &hostile.set).unwrap();
    let plain_delta = Delta::between(&plain.empty_set, &plain.set).unwrap();
    let text = delta.to_string();
    assert_plainly_shown(&text, 1 + hostile.set_items());
    assert_same_as_plain_with_names_shown(&text, &plain_delta.to_string());
    let listing = format::dump(&delta.to_bytes()).unwrap();
    assert_same_as_plain_with_names_shown(
        &listing,
        &format::dump(&plain_delta.to_bytes()).unwrap(),
    );
    assert!(listing.contains("\npool \\u{202e}oip: address pool, generation "));
    assert!(text.contains(
        "\n+ \\u{202e}oip 0x2000..=0x2fff (4 KiB) net0\\u{2029}+ 0xd0000000..=0xd0000fff (4 KiB)\n"
    ));
    let delta = Delta::between(&empty_ids, &hostile.ids).unwrap();
    assert!(delta
        .to_string()
        .contains("\n+ 20..=20 (1 id) \\u{20}both\\u{20}\n"));
}

// ---------------------------------------------------------------------------
// Journals: their listing, and blame of the history they give.

/// Journal labels (names too) of the same kinds, with how they must show.
const LABELS: &[(&str, &str)] = &[
    (
        "plug\u{2028}record #9 at byte 0, 1 bytes: generation 1",
        r"plug\u{2028}record #9 at byte 0, 1 bytes: generation 1",
    ),
    ("\u{202e}gulpnu\u{2069}", r"\u{202e}gulpnu\u{2069}"),
    ("say \"hi\"\u{a0}", r#"say \"hi\"\u{a0}"#),
];

fn plain_label(i: usize) -> String {
    format!("label-{i:02}")
}

/// A journal of `states.set`: its pools empty, then every allocation, then
/// the first owner unplugged, then the first allocation of the second
/// owner in the first pool given to the third: one label each, from
/// `labels`.
fn journal_of(states: &States, owners: &[String], pools: &[String], labels: &[String]) -> Vec<u8> {
    let (mut writer, mut bytes) = JournalWriter::start(&states.empty_set, 1);
    // Pools added to a set do not move its generation: an id taken and
    // given back does.
    let mut vm = states.set.clone();
    let id = vm.allocate_id(&pools[0]).unwrap();
    vm.free_ids(&pools[0], id..=id).unwrap();
    bytes.extend(writer.append(&vm, Some(&labels[0])).unwrap());
    vm.free_owner(&owners[0]);
    bytes.extend(writer.append(&vm, Some(&labels[1])).unwrap());
    let id = vm.allocations_of(&owners[1]).next().unwrap().1;
    let third = Owner::new(&owners[2]).unwrap();
    vm.set_id_owner(&pools[0], id.start() as u32..=id.end() as u32, Some(third))
        .unwrap();
    bytes.extend(writer.append(&vm, Some(&labels[2])).unwrap());
    bytes
}

/// The numbers of a journal listing that depend on the lengths of the
/// names (sizes and offsets), masked.
fn masked_sizes(listing: &str) -> String {
    listing
        .lines()
        .map(|l| {
            let l = if l.starts_with("header: ") || l.starts_with("end: ") {
                "(masked)".to_string()
            } else if let (true, Some(at), Some(to)) = (
                l.starts_with("record #"),
                l.find(" at byte "),
                l.find(": generation "),
            ) {
                format!("{}(masked){}", &l[..at], &l[to..])
            } else {
                l.to_string()
            };
            l + "\n"
        })
        .collect()
}

#[test]
fn journal_listings_show_one_record_and_one_change_per_line_with_names_shown() {
    let (hostile, plain) = (States::hostile(), States::plain());
    let plain_owners: Vec<String> = (0..OWNERS.len()).map(plain_owner).collect();
    let plain_pools: Vec<String> = (0..POOLS.len()).map(plain_pool).collect();
    let plain_labels: Vec<String> = (0..LABELS.len()).map(plain_label).collect();
    let hostile_journal = journal_of(&hostile, &names(OWNERS), &names(POOLS), &names(LABELS));
    let plain_journal = journal_of(&plain, &plain_owners, &plain_pools, &plain_labels);

    let listing = format::dump(&hostile_journal).unwrap();
    let mut expected = masked_sizes(&format::dump(&plain_journal).unwrap());
    for (i, (_, shown)) in LABELS.iter().enumerate() {
        expected = expected.replace(&plain_label(i), shown);
    }
    assert_same_as_plain_with_names_shown(&masked_sizes(&listing), &expected);
    assert_plainly_shown(&listing, expected.lines().count());
    // One line per record, one per change.
    let records: Vec<&str> = listing
        .lines()
        .filter(|l| l.starts_with("record #"))
        .collect();
    assert_eq!(records.len(), 3, "{listing}");
    for ((_, shown), line) in LABELS.iter().zip(&records) {
        assert!(line.ends_with(&format!(", label \"{shown}\"")), "{line}");
    }
    let changes = listing
        .lines()
        .filter(|l| l.starts_with("    + ") || l.starts_with("    - "))
        .count();
    // Every allocation; the first owner's, freed; one id freed and made
    // again with another owner.
    assert_eq!(changes, hostile.set_items() + POOLS.len() + 2, "{listing}");
    assert!(
        listing.contains(&format!(
            "\n    - {} 0x0..=0xfff (4 KiB) {}\n",
            POOLS[1].1, OWNERS[0].1
        )),
        "{listing}"
    );
}

#[test]
fn blame_of_a_journal_history_shows_names_and_labels_by_the_rule() {
    use vm_allocator::{History, Retention};
    let (hostile, plain) = (States::hostile(), States::plain());
    let plain_owners: Vec<String> = (0..OWNERS.len()).map(plain_owner).collect();
    let plain_pools: Vec<String> = (0..POOLS.len()).map(plain_pool).collect();
    let plain_labels: Vec<String> = (0..LABELS.len()).map(plain_label).collect();
    let bytes = journal_of(&hostile, &names(OWNERS), &names(POOLS), &names(LABELS));
    let (history, _) =
        History::<ResourceSet>::from_journal_bytes(&bytes, Retention::unbounded()).unwrap();
    let bytes = journal_of(&plain, &plain_owners, &plain_pools, &plain_labels);
    let (plain_history, _) =
        History::<ResourceSet>::from_journal_bytes(&bytes, Retention::unbounded()).unwrap();
    let mut blamed = 0;
    for ((pool, p), plain_name) in history.latest().pools().zip(&plain_pools) {
        for item in p_items(p) {
            let blame = history.blame(Some(pool), item).unwrap().to_string();
            let mut expected = plain_history
                .blame(Some(plain_name), item)
                .unwrap()
                .to_string();
            for (i, (_, shown)) in OWNERS.iter().enumerate() {
                expected = expected.replace(&plain_owner(i), shown);
            }
            for (i, (_, shown)) in POOLS.iter().enumerate() {
                expected = expected.replace(&plain_pool(i), shown);
            }
            for (i, (_, shown)) in LABELS.iter().enumerate() {
                expected = expected.replace(&plain_label(i), shown);
            }
            assert_eq!(blame, expected);
            assert_plainly_shown(&blame, 1);
            blamed += 1;
        }
    }
    assert_eq!(blamed, hostile.set_items() - POOLS.len());
    // The exact label stays available.
    let id = history
        .latest()
        .allocations_of(OWNERS[2].0)
        .next()
        .unwrap()
        .1;
    let blame = history.blame(Some(POOLS[0].0), id.start()).unwrap();
    assert_eq!(blame.label(), Some(LABELS[2].0));
}

/// The first value of every allocation of a pool.
fn p_items(pool: &vm_allocator::Pool) -> Vec<u64> {
    match pool {
        vm_allocator::Pool::Ids(ids) => ids
            .allocations()
            .map(|a| u64::from(*a.ids().start()))
            .collect(),
        vm_allocator::Pool::Addresses(a) => a.allocations().map(|a| a.range().start()).collect(),
    }
}

// ---------------------------------------------------------------------------
// Errors.

/// A message that shows `name` between quotes, on one line, nothing hidden.
#[track_caller]
fn assert_message(message: impl ToString, expected: &str) {
    let message = message.to_string();
    assert_eq!(message, expected);
    assert_plainly_shown(&message, 1);
}

/// A pool name whose every oddity `{:?}` would not show: a Hangul filler
/// (printed blank) and a trailing space, besides a line separator.
const GSI: &str = "\u{3164}gsi\u{2028}pool #9 mmio: address pool ";
const GSI_SHOWN: &str = r#""\u{3164}gsi\u{2028}pool #9 mmio: address pool\u{20}""#;

#[test]
fn set_errors_show_pool_names_by_the_rule_between_quotes() {
    let mut vm = ResourceSet::new();
    vm.add_id_pool(GSI, 0, 15).unwrap();
    assert_message(
        vm.allocate_id("\u{202e}lsg").unwrap_err(),
        r#"no pool is named "\u{202e}lsg""#,
    );
    assert_message(
        vm.allocate(GSI, 1, 1, AllocPolicy::FirstMatch).unwrap_err(),
        &format!("pool {GSI_SHOWN} is not an address pool"),
    );
    assert_message(
        vm.add_id_pool(GSI, 0, 1).unwrap_err(),
        &format!("a pool named {GSI_SHOWN} exists already"),
    );
    assert_message(
        vm.add_id_pool("bad\u{2028}\n\"", 0, 1).unwrap_err(),
        r#"invalid pool name "bad\u{2028}\u{a}\"": the name holds a control character at byte 6"#,
    );
    assert_message(
        vm.allocate_id_at(GSI, 99).unwrap_err(),
        &format!("pool {GSI_SHOWN}: id 99 is not in the allocator's range"),
    );
    // A transaction's error wraps the same message.
    let mut tx = vm.transaction();
    tx.allocate_id(GSI).unwrap();
    let err = tx.allocate_id_at(GSI, 0).unwrap_err();
    assert_message(
        err,
        &format!(
            "step #1 failed, nothing was changed: pool {GSI_SHOWN}: the requested resource is not available"
        ),
    );
    assert_eq!(
        SetError::Pool {
            pool: GSI.into(),
            error: Error::ResourceNotAvailable
        }
        .to_string(),
        format!("pool {GSI_SHOWN}: the requested resource is not available")
    );
}

#[test]
fn diff_errors_show_names_by_the_rule_between_quotes() {
    let with = |name: &str, ids: bool| {
        let mut vm = ResourceSet::new();
        if ids {
            vm.add_id_pool(name, 0, 15).unwrap();
        } else {
            vm.add_address_pool(name, 0, 0x1000).unwrap();
        }
        vm
    };
    let (a, b) = (with(GSI, true), with(" \u{a0}", true));
    assert_message(
        Diff::between(&a, &b).unwrap_err(),
        &format!(
            "the states do not have the same shape: pool #0 is named {GSI_SHOWN} in one and \
             \"\\u{{20}}\\u{{a0}}\" in the other"
        ),
    );
    assert_message(
        Diff::between(&a, &with(GSI, false)).unwrap_err(),
        &format!(
            "the states do not have the same shape: pool {GSI_SHOWN} has another kind, range or \
             space in each"
        ),
    );
    // Applying a diff to a set without the pool, or with a pool of
    // another kind.
    let mut grown = a.clone();
    grown.allocate_id(GSI).unwrap();
    let diff = Diff::between(&a, &grown).unwrap();
    assert_message(
        diff.apply(&b).unwrap_err(),
        &format!("the states do not have the same shape: the set has no pool named {GSI_SHOWN}"),
    );
    assert_message(
        diff.apply(&with(GSI, false)).unwrap_err(),
        &format!("the states do not have the same shape: pool {GSI_SHOWN} is not an id pool"),
    );
    // Every variant that names a pool or an owner.
    let range = RangeInclusive::new(0x1000, 0x1fff).unwrap();
    let owner = Owner::new("say \"hi\"\u{115f} ").unwrap();
    let pool = Some(GSI.to_string());
    let cases = [
        (
            DiffError::GenerationMismatch {
                pool: pool.clone(),
                expected: 1,
                found: 2,
            },
            format!(
                "pool {GSI_SHOWN}: the diff applies to generation 1, the state is at generation 2"
            ),
        ),
        (
            DiffError::NotAllocated {
                pool: pool.clone(),
                range,
                owner: Some(owner),
            },
            format!(
                r#"pool {GSI_SHOWN}: 0x1000..=0x1fff is not allocated with the owner "say \"hi\"\u{{115f}}\u{{20}}""#
            ),
        ),
        (
            DiffError::NotFree {
                pool: pool.clone(),
                range,
            },
            format!("pool {GSI_SHOWN}: 0x1000..=0x1fff is not free"),
        ),
        (
            DiffError::InvalidNextId { pool, next_id: 9 },
            format!("pool {GSI_SHOWN}: the next id 9 does not fit the allocated ids and the range"),
        ),
    ];
    for (error, expected) in cases {
        assert_message(error, &expected);
    }
}

#[test]
fn encode_errors_show_names_by_the_rule_between_quotes() {
    let mut ids = IdAllocator::new(5, 23).unwrap();
    let owner = Owner::new("rtc\u{2028}+ 5..=5 ").unwrap();
    ids.owned_by(&owner).allocate_id().unwrap();
    assert_message(
        ids.to_bytes_version(1).unwrap_err(),
        r#"format version 1 cannot hold the owner of the allocation 0x5..=0x5 ("rtc\u{2028}+ 5..=5\u{20}"); without_owners() drops owners explicitly"#,
    );
    // An address allocator's, through the variant itself.
    let err = EncodeError::DoesNotFit {
        version: 1,
        what: Unfit::Owner {
            range: RangeInclusive::new(0x1000, 0x1fff).unwrap(),
            owner: Owner::new(GSI).unwrap(),
        },
    };
    assert_message(
        err,
        &format!(
            "format version 1 cannot hold the owner of the allocation 0x1000..=0x1fff \
             ({GSI_SHOWN}); without_owners() drops owners explicitly"
        ),
    );
}

#[test]
fn serde_errors_show_names_by_the_rule_between_quotes() {
    let json_name = |name: &str| serde_json::to_string(name).unwrap();
    // An invalid allocation inside a pool with a hostile name.
    let ids = r#"{"range_base":5,"range_end":23,"next_id":12,"generation":0,"allocated":[[5,8,null],[7,9,null]]}"#;
    let json = format!(
        r#"{{"generation":0,"pools":[{{"name":{},"pool":{{"Ids":{ids}}}}}]}}"#,
        json_name(GSI)
    );
    let err = serde_json::from_str::<ResourceSet>(&json)
        .unwrap_err()
        .to_string();
    let expected =
        format!("invalid IdAllocator of pool #0 {GSI_SHOWN}: allocation #1 starts at 0x7");
    assert!(err.starts_with(&expected), "{err}");
    assert_plainly_shown(&err, 1);
    // An owner name that is not valid, with a hidden character too.
    let bad = "net0\u{2028}\t\u{202e}";
    let json = format!(
        r#"{{"space":{{"start":0,"end":65535}},"generation":0,"allocations":[[0,1,{}]]}}"#,
        json_name(bad)
    );
    let err = serde_json::from_str::<AddressAllocator>(&json)
        .unwrap_err()
        .to_string();
    let expected = r#"invalid AddressAllocator: allocation #0 0x0-0x1 has an invalid owner "net0\u{2028}\u{9}\u{202e}": the name holds a control character at byte 7"#;
    assert!(err.starts_with(expected), "{err}");
    assert_plainly_shown(&err, 1);
    let err = serde_json::from_str::<Owner>(&json_name(bad))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(r#"invalid owner "net0\u{2028}\u{9}\u{202e}""#),
        "{err}"
    );
    assert_plainly_shown(&err, 1);

    // 0.1.x cannot hold owners: the refusal names the owner by the rule.
    let mut mmio = AddressAllocator::new(0x1000, 0x1000).unwrap();
    let owner = Owner::new("\u{202e}gpu0 ").unwrap();
    mmio.owned_by(&owner)
        .allocate(0x1000, 0x1000, AllocPolicy::FirstMatch)
        .unwrap();
    let err = vm_allocator::compat::v0_1::address_allocator::serialize(
        &mmio,
        &mut serde_json::Serializer::new(Vec::new()),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with(
            r#"the allocation 0x1000..=0x1fff has the owner "\u{202e}gpu0\u{20}", which"#
        ),
        "{err}"
    );
    assert_plainly_shown(&err, 1);
    let mut gsi = IdAllocator::new(5, 23).unwrap();
    gsi.owned_by(&owner).allocate_id().unwrap();
    let err = vm_allocator::compat::v0_1::id_allocator::serialize(
        &gsi,
        &mut serde_json::Serializer::new(Vec::new()),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with(r#"ids 5..=5 have the owner "\u{202e}gpu0\u{20}", which"#),
        "{err}"
    );
    assert_plainly_shown(&err, 1);
}

// ---------------------------------------------------------------------------
// The files are untouched.

/// The file kind a state's bytes say, and that the FORMAT.md reader reads
/// them as the crate does.
#[track_caller]
fn assert_round_trips(bytes: &[u8], again: impl Fn(&[u8]) -> Vec<u8>) {
    assert_eq!(again(bytes), bytes, "re-encoding changed the bytes");
    let kind = FileKind::from_byte(bytes[10]).unwrap();
    if let Err(e) = spec::read(bytes, Some(kind)) {
        panic!("the reader of FORMAT.md refuses it: {e}");
    }
}

#[test]
fn files_with_hostile_names_load_and_round_trip_byte_for_byte() {
    let states = States::hostile();
    let bytes = states.ids.to_bytes();
    let ids = IdAllocator::from_bytes(&bytes).unwrap();
    assert_eq!(ids, states.ids);
    assert_round_trips(&bytes, |b| IdAllocator::from_bytes(b).unwrap().to_bytes());
    let owners: Vec<&str> = ids
        .allocations()
        .filter_map(|a| a.owner().map(Owner::as_str))
        .collect();
    assert_eq!(owners, names(OWNERS));

    let bytes = states.addresses.to_bytes();
    assert_eq!(
        AddressAllocator::from_bytes(&bytes).unwrap(),
        states.addresses
    );
    assert_round_trips(&bytes, |b| {
        AddressAllocator::from_bytes(b).unwrap().to_bytes()
    });

    let bytes = states.set.to_bytes();
    let set = ResourceSet::from_bytes(&bytes).unwrap();
    assert_eq!(set, states.set);
    let pools: Vec<&str> = set.pools().map(|(name, _)| name).collect();
    assert_eq!(pools, names(POOLS));
    assert_round_trips(&bytes, |b| ResourceSet::from_bytes(b).unwrap().to_bytes());

    let delta = Delta::between(&states.empty_set, &states.set).unwrap();
    let bytes = delta.to_bytes();
    assert_round_trips(&bytes, |b| Delta::from_bytes(b).unwrap().to_bytes());
    assert_eq!(
        Delta::from_bytes(&bytes)
            .unwrap()
            .apply(&states.empty_set)
            .unwrap(),
        states.set
    );

    // serde keeps the exact names too.
    let json = serde_json::to_string(&states.set).unwrap();
    assert_eq!(
        serde_json::from_str::<ResourceSet>(&json).unwrap(),
        states.set
    );
}

/// A small set with hostile names, in the style of the golden files: its
/// bytes are pinned by their SHA-256 and its listing is written out. It is
/// built here rather than kept under `snapshots/`, whose files are
/// released.
fn hostile_golden() -> ResourceSet {
    let mut vm = ResourceSet::new();
    vm.add_id_pool("legacy_gsi\u{2028}#9 1..=1 (1) x", 5, 23)
        .unwrap();
    vm.add_address_pool("\u{202e}oip", 0, 0x1_0000).unwrap();
    let owner = |name: &str| Owner::new(name).unwrap();
    vm.owned_by(&owner("x\u{2028}#1 0x0..=0xfff (0x1000) evil"))
        .allocate_id("legacy_gsi\u{2028}#9 1..=1 (1) x")
        .unwrap();
    vm.owned_by(&owner("serial0\u{a0}"))
        .allocate_id_at("legacy_gsi\u{2028}#9 1..=1 (1) x", 20)
        .unwrap();
    vm.owned_by(&owner("\u{2066}com1\u{2069} \"\\\""))
        .allocate("\u{202e}oip", 8, 1, AllocPolicy::ExactMatch(0x3f8))
        .unwrap();
    vm.allocate("\u{202e}oip", 0x40, 0x40, AllocPolicy::LastMatch)
        .unwrap();
    vm
}

const HOSTILE_GOLDEN_LISTING: &str = r#"vm-allocator state file
format version: 2
kind: ResourceSet (3)
body: 124 bytes at offset 12
checksum: CRC-32C 0x477ab144
generation: 4
pools: 2
pool #0 legacy_gsi\u{2028}#9 1..=1 (1) x: id pool
  generation: 2
  range: 5..=23 (19 ids)
  next id: 21
  runs: 2 (2 ids used, 17 free)
  #0 5..=5 (1) x\u{2028}#1 0x0..=0xfff (0x1000) evil
  #1 20..=20 (1) serial0\u{a0}
pool #1 \u{202e}oip: address pool
  generation: 2
  space: 0x0..=0xffff (0x10000 addresses)
  allocations: 2 (0x48 addresses used, 0xffb8 free)
  #0 0x3f8..=0x3ff (0x8) \u{2066}com1\u{2069} \"\\\"
  #1 0xffc0..=0xffff (0x40)
"#;

#[test]
fn a_hostile_golden_state_keeps_its_bytes_and_its_listing() {
    let bytes = hostile_golden().to_bytes();
    let hash: String = Sha256::digest(&bytes)
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        });
    assert_eq!(
        hash, "f12410857a1bdc26e528c1f36cc64059fedbfaddd9d5aa004cec252aa8fefffe",
        "the bytes of the hostile golden state changed"
    );
    assert_round_trips(&bytes, |b| ResourceSet::from_bytes(b).unwrap().to_bytes());
    let listing = format::dump(&bytes).unwrap();
    assert_eq!(listing, HOSTILE_GOLDEN_LISTING);
    assert_plainly_shown(&listing, HOSTILE_GOLDEN_LISTING.lines().count());
}
