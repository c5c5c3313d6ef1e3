// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! The one rule by which every human-readable output shows owner and pool
//! names (FORMAT.md, section 6.1.1).
//!
//! A valid name holds no control character, but it may hold characters
//! that fake a line break (U+2028, U+2029), reorder the text around them
//! (the bidi controls), or cannot be seen at all (U+00A0 at the end, zero
//! width characters). Listings, diffs, reports, errors and the tool print
//! names through [`escape_name`], so that one allocation per line always
//! holds and a reader can see that a name is strange.

use core::fmt::{self, Write};

/// A name as every human-readable output shows it: see [`escape_name`].
///
/// ```rust
/// use vm_allocator::escape_name;
///
/// assert_eq!(escape_name("virtio-net0").to_string(), "virtio-net0");
/// assert_eq!(
///     escape_name("net0\u{2028}#1 0x0").to_string(),
///     r"net0\u{2028}#1 0x0"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EscapedName<'a>(&'a str);

/// Shows `name` by the crate's one rule for names in human-readable
/// output: every character stands for itself, except
///
/// - `\` and `"`, written `\\` and `\"`;
/// - a character that is *hidden*, written `\u{X}` with X its code point in
///   lowercase hexadecimal without leading zeros (as Rust writes it):
///   - a control character (U+0000..U+001F, U+007F..U+009F; a valid name
///     has none, but output never trusts that),
///   - white space other than U+0020 (U+0085, U+00A0, U+1680,
///     U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000),
///   - U+0020 itself as the first or last character of the name,
///   - a format character or a character that is ignored when shown
///     (Unicode's Cf and Default_Ignorable_Code_Point): U+00AD, U+034F,
///     U+0600..U+0605, U+061C, U+06DD, U+070F, U+0890..U+0891, U+08E2,
///     U+115F..U+1160, U+17B4..U+17B5, U+180B..U+180F, U+200B..U+200F,
///     U+202A..U+202E, U+2060..U+206F, U+3164, U+FE00..U+FE0F, U+FEFF,
///     U+FFA0, U+FFF0..U+FFFB, U+110BD, U+110CD, U+13430..U+1343F,
///     U+1BCA0..U+1BCA3, U+1D173..U+1D17A, U+E0000..U+E0FFF.
///
/// So a shown name is one line, reads left to right as stored, has no
/// invisible end, and is unambiguous: different names never show alike.
/// Machine-readable output (`--json` of the tool, serde, the file format)
/// keeps the exact name.
///
/// Time: O(len).
///
/// ```rust
/// use vm_allocator::{escape_name, Owner};
///
/// // Plain names are unchanged.
/// assert_eq!(
///     escape_name("pci 0000:00:03.0").to_string(),
///     "pci 0000:00:03.0"
/// );
/// // A line separator cannot fake a line, a bidi override cannot reorder.
/// assert_eq!(escape_name("a\u{2028}b").to_string(), r"a\u{2028}b");
/// assert_eq!(escape_name("\u{202e}0txt").to_string(), r"\u{202e}0txt");
/// // Invisible ends are visible.
/// assert_eq!(escape_name("net0\u{a0}").to_string(), r"net0\u{a0}");
/// assert_eq!(escape_name(" net0 ").to_string(), r"\u{20}net0\u{20}");
/// // The escape character itself is escaped, so no two names show alike.
/// assert_eq!(escape_name(r"a\u{41}").to_string(), r"a\\u{41}");
/// // Owners show the same way through `Owner::escaped`.
/// let owner = Owner::new("gpu\u{200b}0").unwrap();
/// assert_eq!(owner.escaped().to_string(), r"gpu\u{200b}0");
/// ```
pub fn escape_name(name: &str) -> EscapedName<'_> {
    EscapedName(name)
}

impl EscapedName<'_> {
    /// True if the name shows as it is (nothing in it is escaped).
    ///
    /// Time: O(len).
    ///
    /// ```rust
    /// use vm_allocator::escape_name;
    ///
    /// assert!(escape_name("serial0").is_plain());
    /// assert!(!escape_name("serial0\u{2066}").is_plain());
    /// ```
    pub fn is_plain(&self) -> bool {
        let last = self.0.chars().count().saturating_sub(1);
        self.0
            .chars()
            .enumerate()
            .all(|(i, c)| escape_of(c, i == 0 || i == last).is_none())
    }
}

impl EscapedName<'_> {
    /// Writes the shown name to `out`.
    fn write_shown(&self, out: &mut impl Write) -> fmt::Result {
        let name = self.0;
        let mut plain_from = 0;
        let last = name.char_indices().next_back().map_or(0, |(i, _)| i);
        for (i, c) in name.char_indices() {
            let Some(escape) = escape_of(c, i == 0 || i == last) else {
                continue;
            };
            out.write_str(&name[plain_from..i])?;
            match escape {
                Escape::Backslash => out.write_str(r"\\")?,
                Escape::Quote => out.write_str("\\\"")?,
                Escape::CodePoint => write!(out, "\\u{{{:x}}}", c as u32)?,
            }
            plain_from = i + c.len_utf8();
        }
        out.write_str(&name[plain_from..])
    }
}

/// The shown name. A width pads it by the characters shown (`{:<12}`
/// lines up a column as it would for the bare name); a precision is
/// ignored, as cutting could split an escape.
impl fmt::Display for EscapedName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(width) = f.width() else {
            return self.write_shown(f);
        };
        let mut counted = CharCount(0);
        self.write_shown(&mut counted)?;
        let pad = width.saturating_sub(counted.0);
        let (before, after) = match f.align() {
            Some(fmt::Alignment::Right) => (pad, 0),
            Some(fmt::Alignment::Center) => (pad / 2, pad - pad / 2),
            _ => (0, pad),
        };
        let fill = f.fill();
        for _ in 0..before {
            f.write_char(fill)?;
        }
        self.write_shown(f)?;
        for _ in 0..after {
            f.write_char(fill)?;
        }
        Ok(())
    }
}

/// Counts the characters written to it.
struct CharCount(usize);

impl Write for CharCount {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.chars().count();
        Ok(())
    }
}

/// A name inside a sentence (an error message): the shown name between
/// double quotes, `pool "gsi"`. A quote in the name is escaped, so the
/// quotes delimit it exactly; for a plain name this is what `{:?}` of the
/// string gives.
pub(crate) struct Quoted<'a>(&'a str);

/// `name` shown between double quotes: see [`Quoted`].
pub(crate) fn quoted(name: &str) -> Quoted<'_> {
    Quoted(name)
}

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        escape_name(self.0).write_shown(f)?;
        f.write_char('"')
    }
}

enum Escape {
    Backslash,
    Quote,
    CodePoint,
}

/// How `c` is shown, or `None` if it stands for itself; `at_end` says
/// whether it is the first or last character of the name.
fn escape_of(c: char, at_end: bool) -> Option<Escape> {
    match c {
        '\\' => Some(Escape::Backslash),
        '"' => Some(Escape::Quote),
        ' ' if at_end => Some(Escape::CodePoint),
        c if is_hidden(c) => Some(Escape::CodePoint),
        _ => None,
    }
}

/// Control, white space other than U+0020, format and default-ignorable
/// characters (the list of [`escape_name`]).
fn is_hidden(c: char) -> bool {
    let c = c as u32;
    matches!(
        c,
        0x00..=0x1f
            | 0x7f..=0x9f
            | 0xa0
            | 0xad
            | 0x34f
            | 0x600..=0x605
            | 0x61c
            | 0x6dd
            | 0x70f
            | 0x890..=0x891
            | 0x8e2
            | 0x115f..=0x1160
            | 0x1680
            | 0x17b4..=0x17b5
            | 0x180b..=0x180f
            | 0x2000..=0x200f
            | 0x2028..=0x202f
            | 0x205f..=0x206f
            | 0x3000
            | 0x3164
            | 0xfe00..=0xfe0f
            | 0xfeff
            | 0xffa0
            | 0xfff0..=0xfffb
            | 0x110bd
            | 0x110cd
            | 0x13430..=0x1343f
            | 0x1bca0..=0x1bca3
            | 0x1d173..=0x1d17a
            | 0xe0000..=0xe0fff
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;
    use proptest::prelude::*;

    /// Reads a shown name back: the inverse of the rule, to prove that no
    /// two names show alike.
    fn unescape(shown: &str) -> String {
        let mut out = String::new();
        let mut chars = shown.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next().unwrap() {
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                'u' => {
                    assert_eq!(chars.next(), Some('{'));
                    let hex: String = chars.by_ref().take_while(|&c| c != '}').collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                }
                other => panic!("unknown escape \\{other}"),
            }
        }
        out
    }

    fn any_char() -> impl Strategy<Value = char> {
        prop_oneof![
            any::<char>(),
            // The interesting neighbourhoods, often.
            (0u32..0x100).prop_map(|c| char::from_u32(c).unwrap()),
            (0x2000u32..0x2070).prop_map(|c| char::from_u32(c).unwrap()),
            Just(' '),
            Just('\\'),
            Just('"'),
        ]
    }

    proptest! {
        #[test]
        fn shown_names_are_one_visible_line_and_read_back(
            chars in proptest::collection::vec(any_char(), 0..12)
        ) {
            let name: String = chars.into_iter().collect();
            let shown = escape_name(&name).to_string();
            prop_assert_eq!(unescape(&shown), name.clone());
            prop_assert!(shown.chars().all(|c| !is_hidden(c)), "{:?}", shown);
            prop_assert!(!shown.starts_with(' ') && !shown.ends_with(' '));
            prop_assert_eq!(escape_name(&name).is_plain(), shown == name);
        }
    }

    #[test]
    fn every_listed_character_is_escaped_alone_and_inside() {
        let listed: Vec<u32> = (0..=0x10ffffu32)
            .filter(|&c| char::from_u32(c).is_some_and(is_hidden))
            .collect();
        // Spot checks of the list against the documented ranges.
        for c in [
            0x0, 0x1f, 0x7f, 0x9f, 0xa0, 0xad, 0x2028, 0x2029, 0x202a, 0x202e,
        ] {
            assert!(listed.contains(&c), "U+{c:04X}");
        }
        for c in [
            0x2066, 0x2069, 0x200b, 0x200f, 0xfeff, 0xe0001, 0x3000, 0x1680,
        ] {
            assert!(listed.contains(&c), "U+{c:04X}");
        }
        for c in ['a', 'é', '-', ':', '.', '0', 'Ω', '中'] {
            assert!(!is_hidden(c), "{c}");
        }
        for c in listed {
            let c = char::from_u32(c).unwrap();
            let name: String = ['x', c, 'y'].iter().collect();
            assert_eq!(
                escape_name(&name).to_string(),
                alloc::format!("x\\u{{{:x}}}y", c as u32)
            );
        }
    }

    #[test]
    fn a_width_pads_by_the_characters_shown() {
        use alloc::format;
        assert_eq!(format!("{:<8}|", escape_name("net0")), "net0    |");
        assert_eq!(format!("{:8}|", escape_name("net0")), "net0    |");
        // `a\u{a0}` is 7 characters shown.
        assert_eq!(format!("{:>12}|", escape_name("a\u{a0}")), "     a\\u{a0}|");
        assert_eq!(format!("{:^9}|", escape_name("ab")), "   ab    |");
        assert_eq!(format!("{:*<4}|", escape_name("a\"")), "a\\\"*|");
        assert_eq!(format!("{:2}|", escape_name("long")), "long|");
    }

    #[test]
    fn quoted_names_are_delimited_exactly() {
        assert_eq!(quoted("a\"b").to_string(), r#""a\"b""#);
        assert_eq!(quoted("x\u{2028}").to_string(), r#""x\u{2028}""#);
        assert_eq!(quoted("").to_string(), r#""""#);
        // A plain name quotes as `{:?}` of the string does.
        for name in ["legacy_gsi", "pci 0000:00:03.0", "é-中", "it's"] {
            assert_eq!(quoted(name).to_string(), alloc::format!("{name:?}"));
        }
    }

    #[test]
    fn inner_spaces_stay_and_outer_spaces_show() {
        assert_eq!(
            escape_name("pci 0000:00:03.0").to_string(),
            "pci 0000:00:03.0"
        );
        assert_eq!(escape_name(" ").to_string(), r"\u{20}");
        assert_eq!(escape_name("a ").to_string(), r"a\u{20}");
        assert_eq!(escape_name("").to_string(), "");
        assert_eq!(escape_name(r#"say "hi""#).to_string(), r#"say \"hi\""#);
    }
}
