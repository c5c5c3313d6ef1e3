// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! Numbers and names for people: sizes in binary units, counts of ids,
//! hex ranges, owner and pool names, and aligned tables.

use vm_allocator::{escape_name, Owner, PoolKind, Size};

/// An owner or pool name as every table and message of the tool shows it:
/// by the library's one rule (`escape_name`, FORMAT.md 6.1.1), so that a
/// name cannot fake a line or reorder text, and a strange name looks
/// strange. `--json` keeps the exact name instead.
pub fn name(name: &str) -> String {
    escape_name(name).to_string()
}

/// A name inside a sentence: shown by the rule, between double quotes
/// (`pool "mmio32"`); a quote in the name is escaped, so the quotes
/// delimit it exactly.
pub fn quoted(name: &str) -> String {
    format!("\"{}\"", escape_name(name))
}

/// An owner in a table cell: its shown name, or `-` for none.
pub fn owner(owner: Option<&Owner>) -> String {
    owner.map_or("-".to_string(), |o| o.escaped().to_string())
}

/// A size in the largest binary unit it reaches: exact when that unit
/// divides it (`16 KiB`, as `vm_allocator::Size` prints it), else to three
/// significant digits (`4.25 KiB`, `748 MiB`).
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let Some(unit) = (0..UNITS.len())
        .rev()
        .find(|&i| bytes >> (10 * (i + 1)) > 0)
    else {
        return Size(bytes).to_string();
    };
    let scale = 1u64 << (10 * (unit + 1));
    if bytes.is_multiple_of(scale) {
        return Size(bytes).to_string();
    }
    let value = bytes as f64 / scale as f64;
    let text = if value < 10.0 {
        format!("{value:.2}")
    } else if value < 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    };
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text} {}", UNITS[unit])
}

/// A number of ids or addresses: `1 id`, `16 ids`, `16 KiB`.
pub fn amount(kind: PoolKind, n: u64) -> String {
    match kind {
        PoolKind::Ids if n == 1 => "1 id".to_string(),
        PoolKind::Ids => format!("{n} ids"),
        PoolKind::Addresses => size(n),
    }
}

/// An id or an address as listings show it: ids in decimal, addresses in
/// hex.
pub fn point(kind: PoolKind, n: u64) -> String {
    match kind {
        PoolKind::Ids => n.to_string(),
        PoolKind::Addresses => format!("{n:#x}"),
    }
}

/// A range as listings show it: `5..=23`, `0xd0000000..=0xd0003fff`.
pub fn range(kind: PoolKind, start: u64, end: u64) -> String {
    format!("{}..={}", point(kind, start), point(kind, end))
}

/// A share as a percentage for people: `0%`, `<1%`, `37%`, `100%`.
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 || part == 0 {
        return "0%".to_string();
    }
    let p = part as f64 * 100.0 / whole as f64;
    if p < 1.0 {
        "<1%".to_string()
    } else if p > 99.0 && part < whole {
        ">99%".to_string()
    } else {
        format!("{p:.0}%")
    }
}

/// `1 thing`, `2 things`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `name  value` lines with the values lined up.
pub fn fields(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:<width$}  {v}\n"))
        .collect()
}

/// Columns of text, padded to line up. The last column is not padded.
#[derive(Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
    /// Columns aligned to the right (numbers).
    right: Vec<bool>,
}

impl Table {
    pub fn new(header: &[&str], right: &[bool]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| h.to_string()).collect()],
            right: right.to_vec(),
        }
    }

    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// The lines, each starting with `indent`; `head` styles the header.
    pub fn render(&self, indent: &str, head: impl Fn(&str) -> String) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for (i, row) in self.rows.iter().enumerate() {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                let last = c + 1 == row.len();
                let pad = widths[c] - cell.chars().count();
                let right = self.right.get(c).copied().unwrap_or(false);
                if c > 0 {
                    line.push_str("  ");
                }
                if right {
                    line.push_str(&" ".repeat(pad));
                }
                line.push_str(cell);
                if !right && !last {
                    line.push_str(&" ".repeat(pad));
                }
            }
            let line = line.trim_end().to_string();
            out.push_str(indent);
            if i == 0 {
                out.push_str(&head(&line));
            } else {
                out.push_str(&line);
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(8), "8 B");
        assert_eq!(size(0x4000), "16 KiB");
        assert_eq!(size(0x1100), "4.25 KiB");
        assert_eq!(size(0x2ec0_0000), "748 MiB");
        assert_eq!(size(0x2ebf_7000), "748 MiB");
        assert_eq!(size(0x2eb0_0000), "747 MiB");
        assert_eq!(size(100 << 20 | 1), "100 MiB");
        assert_eq!(size(0x1400 + 1), "5 KiB");
        assert_eq!(size(1 << 40), "1 TiB");
        assert_eq!(size(u64::MAX), "16 EiB");
        assert_eq!(size(765_916 << 10), "748 MiB");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(amount(PoolKind::Ids, 1), "1 id");
        assert_eq!(amount(PoolKind::Ids, 4), "4 ids");
    }

    #[test]
    fn tables_line_up() {
        let mut t = Table::new(&["START", "SIZE", "OWNER"], &[false, true, false]);
        t.push(vec!["0x0".into(), "8 B".into(), "serial0".into()]);
        t.push(vec!["0xd0000000".into(), "16 KiB".into(), "-".into()]);
        assert_eq!(
            t.render("  ", |s| s.to_string()),
            "  START         SIZE  OWNER\n  0x0            8 B  serial0\n  0xd0000000  16 KiB  -\n"
        );
    }
}
