// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause

//! A picture of each pool as SVG: one bar per pool on a linear scale,
//! allocations as blocks coloured by owner, free space pale, a hex scale
//! under each bar and a legend of owners.
//!
//! An allocation at least [`MIN_BLOCK`] pixels wide is drawn as its own
//! block, and so is every allocation of a bar that shows at most [`FEW`]
//! (the narrow ones [`MIN_WIDTH`] pixels wide, so that they show). Smaller
//! ones of a crowded bar are bucketed into one-pixel columns: a column's
//! height grows with the square root of the share of it that is allocated
//! (from a quarter of the bar, so that a single page in a large space
//! still shows, and sparse columns still differ) and its colour is that
//! of the owner holding most of it. So the size of the picture is bounded
//! by its width, whatever the number of allocations.
//!
//! A pool whose allocations all lie in less than an eighth of it (a VMM's
//! MMIO windows fill from the bottom) gets a second, zoomed bar of that
//! part.

use std::collections::BTreeMap;
use std::fmt::Write;

use vm_allocator::PoolKind;

use crate::human;
use crate::pools::{Item, PoolView};

/// Width of the picture, in pixels.
const WIDTH: f64 = 1000.0;
/// Margin on each side.
const MARGIN: f64 = 24.0;
/// Width of a bar: one column per pixel.
const BAR_W: usize = 952;
/// Height of a bar.
const BAR_H: f64 = 30.0;
/// Narrowest allocation drawn as its own block.
const MIN_BLOCK: f64 = 3.0;
/// Up to this many allocations in a bar, all are drawn as blocks...
const FEW: usize = 64;
/// ... at least this wide.
const MIN_WIDTH: f64 = 2.0;
/// Height of the least filled column, as a share of the bar.
const MIN_COLUMN: f64 = 0.25;
/// Vertical room of one pool: its header, bar and scale.
const POOL_H: f64 = 104.0;
/// Extra room for a zoomed bar.
const ZOOM_H: f64 = 84.0;
/// Height of a zoomed bar.
const ZOOM_BAR_H: f64 = 24.0;
/// Width of one legend entry.
const LEGEND_W: f64 = 190.0;
/// Most owners named in the legend.
const LEGEND_MAX: usize = 30;

/// Allocations without an owner.
const UNOWNED: &str = "#7b8088";
/// Free space.
const FREE: &str = "#f2f4f7";
const FREE_EDGE: &str = "#b9bfc7";

/// Owner colours (Tableau 20 without its greys), then generated hues.
const PALETTE: [&str; 18] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7",
    "#9c755f", "#a0cbe8", "#ffbe7d", "#8cd17d", "#b6992d", "#499894", "#86bcb6", "#f1ce63",
    "#d37295", "#fabfd2",
];

/// The picture of `pools`, titled `title`, with a line of `subtitle`.
pub fn render(title: &str, subtitle: &str, pools: &[PoolView<'_>]) -> String {
    let colours = Colours::new(pools);
    let legend_rows = colours.legend_rows();
    let legend_h = 22.0 * legend_rows as f64 + 8.0;
    let top = 62.0 + legend_h;
    let height = top + pools.iter().map(pool_height).sum::<f64>();

    let mut svg = String::new();
    let w = &mut svg;
    let _ = writeln!(
        w,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">"#
    );
    let _ = writeln!(w, "<title>{}</title>", escape(title));
    let _ = writeln!(
        w,
        r#"<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="white"/>"#
    );
    let _ = writeln!(
        w,
        r##"<text x="{MARGIN}" y="28" font-size="17" font-weight="bold" fill="#1f2328">{}</text>"##,
        escape(title)
    );
    let _ = writeln!(
        w,
        r##"<text x="{MARGIN}" y="48" font-size="12" fill="#57606a">{}</text>"##,
        escape(subtitle)
    );
    colours.legend(w, 62.0);
    let mut y = top;
    for pool in pools {
        draw_pool(w, pool, &colours, y);
        y += pool_height(pool);
    }
    let _ = writeln!(w, "</svg>");
    svg
}

/// Colours of owners: sorted by name, so that one owner has one colour in
/// every pool.
struct Colours {
    /// Owner name, its colour, and how much it holds in all (for the
    /// legend's order when not all fit).
    owners: BTreeMap<String, (String, u128)>,
    any_unowned: bool,
}

impl Colours {
    fn new(pools: &[PoolView<'_>]) -> Colours {
        let mut owners: BTreeMap<String, (String, u128)> = BTreeMap::new();
        let mut any_unowned = false;
        for pool in pools {
            for item in pool.items() {
                match item.owner {
                    Some(owner) => {
                        owners.entry(owner.to_string()).or_default().1 += u128::from(item.len())
                    }
                    None => any_unowned = true,
                }
            }
        }
        for (i, (_, (colour, _))) in owners.iter_mut().enumerate() {
            *colour = match PALETTE.get(i) {
                Some(c) => c.to_string(),
                // Golden-angle hues past the palette.
                None => format!("hsl({:.0}, 55%, 55%)", (i as f64 * 137.508) % 360.0),
            };
        }
        Colours {
            owners,
            any_unowned,
        }
    }

    fn of(&self, owner: Option<&str>) -> &str {
        match owner.and_then(|o| self.owners.get(o)) {
            Some((colour, _)) => colour,
            None => UNOWNED,
        }
    }

    /// The entries of the legend: (label, fill, outline); owners are
    /// labelled by their shown names.
    fn entries(&self) -> Vec<(String, String, &'static str)> {
        let mut shown: Vec<(&String, &(String, u128))> = self.owners.iter().collect();
        let hidden = shown.len().saturating_sub(LEGEND_MAX);
        if hidden > 0 {
            // The owners that hold the most, then in name order.
            shown.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(a.0.cmp(b.0)));
            shown.truncate(LEGEND_MAX);
            shown.sort_by(|a, b| a.0.cmp(b.0));
        }
        let mut entries: Vec<(String, String, &'static str)> = shown
            .into_iter()
            .map(|(name, (colour, _))| (human::name(name), colour.clone(), "none"))
            .collect();
        if hidden > 0 {
            entries.push((format!("+{hidden} more owners"), "white".into(), FREE_EDGE));
        }
        if self.any_unowned {
            entries.push(("no owner".into(), UNOWNED.into(), "none"));
        }
        entries.push(("free".into(), FREE.into(), FREE_EDGE));
        entries
    }

    fn per_row() -> usize {
        ((BAR_W as f64) / LEGEND_W).floor() as usize
    }

    fn legend_rows(&self) -> usize {
        self.entries().len().div_ceil(Self::per_row())
    }

    fn legend(&self, w: &mut String, top: f64) {
        for (i, (label, fill, edge)) in self.entries().iter().enumerate() {
            let x = MARGIN + LEGEND_W * (i % Self::per_row()) as f64;
            let y = top + 22.0 * (i / Self::per_row()) as f64;
            let _ = writeln!(
                w,
                r#"<rect x="{x}" y="{y}" width="14" height="14" rx="2" fill="{fill}" stroke="{edge}"/>"#
            );
            let _ = writeln!(
                w,
                r##"<text x="{}" y="{}" font-size="12" fill="#1f2328">{}</text>"##,
                x + 20.0,
                y + 11.5,
                escape(&ellipsis(label, 24))
            );
        }
    }
}

/// An allocation wide enough to draw alone.
struct Block<'a> {
    x0: f64,
    x1: f64,
    start: u64,
    end: u64,
    owner: Option<&'a str>,
}

/// One pixel column of small allocations.
#[derive(Default)]
struct Column<'a> {
    /// Pixels' worth of allocated space in the column (0 to 1).
    fill: f64,
    /// The same, per owner.
    by_owner: Vec<(Option<&'a str>, f64)>,
    /// Allocations that touch it.
    count: u64,
}

impl<'a> Column<'a> {
    fn add(&mut self, owner: Option<&'a str>, amount: f64) {
        self.fill += amount;
        self.count += 1;
        match self.by_owner.iter_mut().find(|(o, _)| *o == owner) {
            Some((_, a)) => *a += amount,
            None => self.by_owner.push((owner, amount)),
        }
    }

    fn main_owner(&self) -> Option<&'a str> {
        self.by_owner
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .and_then(|(o, _)| *o)
    }
}

/// The vertical room `pool` takes: its header, its bar and scale, and a
/// zoomed bar when its allocations sit in a small part of it.
fn pool_height(pool: &PoolView<'_>) -> f64 {
    if zoom_window(pool).is_some() {
        POOL_H + ZOOM_H
    } else {
        POOL_H
    }
}

/// When every allocation lies in less than an eighth of the pool (as in a
/// VMM's MMIO windows, filled from the bottom), the part to show again,
/// larger: a power-of-two window around the allocations, aligned to a
/// quarter of its size so that the scale's ticks fall on round numbers.
fn zoom_window(pool: &PoolView<'_>) -> Option<(u64, u64)> {
    let first = pool.items().next()?.start;
    let last = pool.items().last()?.end;
    let extent = u128::from(last - first) + 1;
    let total = u128::from(pool.total());
    if extent * 8 > total {
        return None;
    }
    // Room around the allocations: a quarter of their extent at least.
    let mut len = (extent + extent / 4 + 1).next_power_of_two().max(4);
    loop {
        let quarter = len / 4;
        let start = (u128::from(first) / quarter * quarter).max(u128::from(pool.start()));
        let end = (start + len - 1).min(u128::from(pool.end()));
        if end >= u128::from(last) {
            return (len < total).then_some((start as u64, end as u64));
        }
        len *= 2;
    }
}

fn draw_pool(w: &mut String, pool: &PoolView<'_>, colours: &Colours, top: f64) {
    let kind = pool.kind();
    let total = pool.total();
    let gaps = pool.gaps();
    let what = match kind {
        PoolKind::Ids => "ids",
        PoolKind::Addresses => "addresses",
    };
    let _ = writeln!(
        w,
        r##"<text x="{MARGIN}" y="{}" font-size="13" fill="#1f2328"><tspan font-weight="bold">{}</tspan>  {what} {} ({})</text>"##,
        top + 12.0,
        escape(&pool.label()),
        human::range(kind, pool.start(), pool.end()),
        human::amount(kind, total),
    );
    let _ = writeln!(
        w,
        r##"<text x="{MARGIN}" y="{}" font-size="11.5" fill="#57606a">{} used ({}) in {} · {} free in {}, the largest {}</text>"##,
        top + 28.0,
        human::amount(kind, pool.used()),
        escape(&human::percent(pool.used(), total)),
        human::count(pool.count() as u64, "allocation", "allocations"),
        human::amount(kind, pool.free()),
        human::count(gaps.count, "gap", "gaps"),
        human::amount(kind, gaps.largest),
    );
    let bar_y = top + 36.0;
    let zoom = zoom_window(pool);
    let zoom_y = bar_y + BAR_H + ZOOM_H - ZOOM_BAR_H - 22.0;
    if let Some((from, to)) = zoom {
        // Where the window lies on the main bar, joined to the zoomed bar
        // (drawn first, so that the main bar's scale shows on top).
        let scale = BAR_W as f64 / total as f64;
        let x0 = MARGIN + (from - pool.start()) as f64 * scale;
        let x1 = MARGIN + ((to - pool.start()) as f64 + 1.0) * scale;
        let _ = writeln!(
            w,
            r##"<path d="M{x0:.2},{} L{MARGIN},{} L{},{} L{x1:.2},{} Z" fill="#d0d7de" fill-opacity="0.35" stroke="#8c959f" stroke-width="0.75"/>"##,
            bar_y + BAR_H,
            zoom_y,
            MARGIN + BAR_W as f64,
            zoom_y,
            bar_y + BAR_H,
        );
        let _ = writeln!(
            w,
            r##"<text x="{}" y="{}" font-size="11" fill="#57606a" text-anchor="middle">zoom: {} ({})</text>"##,
            MARGIN + BAR_W as f64 / 2.0,
            zoom_y - 6.0,
            human::range(kind, from, to),
            human::amount(kind, to - from + 1),
        );
    }
    draw_bar(
        w,
        pool,
        colours,
        (pool.start(), pool.end()),
        (MARGIN, BAR_W),
        (bar_y, BAR_H),
    );
    if let Some(window) = zoom {
        draw_bar(
            w,
            pool,
            colours,
            window,
            (MARGIN, BAR_W),
            (zoom_y, ZOOM_BAR_H),
        );
    }
}

/// Draws the part `window` of `pool` as a bar at `x` (left, width in
/// pixels) and `y` (top, height), with its scale underneath.
fn draw_bar(
    w: &mut String,
    pool: &PoolView<'_>,
    colours: &Colours,
    window: (u64, u64),
    x: (f64, usize),
    y: (f64, f64),
) {
    let kind = pool.kind();
    let (left, width) = x;
    let (bar_y, bar_h) = y;
    let (start, end) = window;
    let total = end - start + 1;
    let _ = writeln!(
        w,
        r#"<rect x="{left}" y="{bar_y}" width="{width}" height="{bar_h}" fill="{FREE}" stroke="{FREE_EDGE}" stroke-width="1"/>"#
    );

    // Lay the allocations out on the bar, clipped to the window. A few
    // allocations are all drawn as blocks, the narrow ones widened to stay
    // visible; many are bucketed.
    let scale = width as f64 / total as f64;
    let inside = |item: &Item<'_>| item.end >= start && item.start <= end;
    let few = pool.items().filter(inside).take(FEW + 1).count() <= FEW;
    let mut blocks = Vec::new();
    let mut columns: Vec<Column<'_>> = (0..width).map(|_| Column::default()).collect();
    for item in pool.items().filter(inside) {
        let (a, b) = (item.start.max(start), item.end.min(end));
        let x0 = (a - start) as f64 * scale;
        let mut x1 = ((b - start) as f64 + 1.0) * scale;
        let owner = item.owner.map(|o| o.as_str());
        if few {
            x1 = x1.max(x0 + MIN_WIDTH).min(width as f64);
        }
        if few || x1 - x0 >= MIN_BLOCK {
            blocks.push(Block {
                x0,
                x1,
                start: item.start,
                end: item.end,
                owner,
            });
            continue;
        }
        let first = (x0.floor() as usize).min(width - 1);
        let last = ((x1.ceil() as usize).max(first + 1) - 1).min(width - 1);
        for (c, column) in columns.iter_mut().enumerate().take(last + 1).skip(first) {
            let overlap = (x1.min(c as f64 + 1.0) - x0.max(c as f64)).max(0.0);
            column.add(owner, overlap);
        }
    }

    // Columns: runs of equal colour and height become one rectangle.
    let look = |col: &Column<'_>| {
        let fill = col.fill.clamp(0.0, 1.0);
        let h = (bar_h * (MIN_COLUMN + (1.0 - MIN_COLUMN) * fill.sqrt())).round();
        (colours.of(col.main_owner()).to_string(), h)
    };
    let mut c = 0;
    while c < width {
        if columns[c].count == 0 {
            c += 1;
            continue;
        }
        let (colour, h) = look(&columns[c]);
        let mut next = c + 1;
        let mut count = columns[c].count;
        while next < width && columns[next].count > 0 && look(&columns[next]) == (colour.clone(), h)
        {
            count += columns[next].count;
            next += 1;
        }
        let from = start as f64 + c as f64 / scale;
        let to = start as f64 + next as f64 / scale;
        let _ = writeln!(
            w,
            r#"<rect x="{}" y="{}" width="{}" height="{h}" fill="{colour}"><title>{}, about {}..{}</title></rect>"#,
            left + c as f64,
            bar_y + bar_h - h,
            next - c,
            human::count(count, "small allocation", "small allocations"),
            human::point(kind, from as u64),
            human::point(kind, to as u64),
        );
        c = next;
    }

    for b in &blocks {
        let colour = colours.of(b.owner);
        let block_w = b.x1 - b.x0;
        let label = b.owner.map_or("no owner".to_string(), human::name);
        // A thin white edge between neighbours, unless it would hide the block.
        let edge = if block_w >= 4.0 {
            r#" stroke="white" stroke-width="0.75""#
        } else {
            ""
        };
        let _ = writeln!(
            w,
            r#"<rect x="{:.2}" y="{bar_y}" width="{:.2}" height="{bar_h}" fill="{colour}"{edge}><title>{} {} ({})</title></rect>"#,
            left + b.x0,
            block_w,
            escape(&label),
            human::range(kind, b.start, b.end),
            human::amount(kind, b.end - b.start + 1),
        );
        // Name the owner inside the block when it fits.
        if b.owner.is_some() && block_w >= 6.3 * label.chars().count() as f64 + 6.0 {
            let _ = writeln!(
                w,
                r#"<text x="{:.2}" y="{}" font-size="11" fill="{}" text-anchor="middle">{}</text>"#,
                left + (b.x0 + b.x1) / 2.0,
                bar_y + bar_h / 2.0 + 4.0,
                text_colour(colour),
                escape(&label),
            );
        }
    }

    // The scale: five ticks, labelled in hex (ids in decimal).
    let axis_y = bar_y + bar_h;
    for k in 0..=4u32 {
        let tick_x = left + width as f64 * f64::from(k) / 4.0;
        let value = if k == 4 {
            end
        } else {
            (u128::from(start) + u128::from(total) * u128::from(k) / 4) as u64
        };
        let anchor = match k {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = writeln!(
            w,
            r##"<line x1="{tick_x}" y1="{axis_y}" x2="{tick_x}" y2="{}" stroke="#57606a" stroke-width="1"/>"##,
            axis_y + 5.0
        );
        let _ = writeln!(
            w,
            r##"<text x="{tick_x}" y="{}" font-size="11" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" fill="#57606a" text-anchor="{anchor}">{}</text>"##,
            axis_y + 17.0,
            human::point(kind, value)
        );
    }
}

/// Black or white text, whichever reads better on `fill`.
fn text_colour(fill: &str) -> &'static str {
    let hex = fill.trim_start_matches('#');
    if hex.len() != 6 {
        return "white";
    }
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0) as f64;
    let luminance = 0.299 * channel(0) + 0.587 * channel(2) + 0.114 * channel(4);
    if luminance > 150.0 {
        "#1f2328"
    } else {
        "white"
    }
}

/// At most `max` characters of a shown name, with an ellipsis when cut.
/// The cut never splits an escape (`\\`, `\"`, `\u{2028}`): a label keeps
/// its escapes whole or leaves them out.
fn ellipsis(shown: &str, max: usize) -> String {
    if shown.chars().count() <= max {
        return shown.to_string();
    }
    let mut cut = String::new();
    let mut kept = 0;
    for unit in escape_units(shown) {
        let len = unit.chars().count();
        if kept + len > max - 1 {
            break;
        }
        cut.push_str(unit);
        kept += len;
    }
    format!("{cut}…")
}

/// A shown name split into its characters, each escape one piece.
fn escape_units(shown: &str) -> impl Iterator<Item = &str> {
    let mut rest = shown;
    std::iter::from_fn(move || {
        let mut chars = rest.chars();
        let first = chars.next()?;
        let len = match (first, chars.next()) {
            ('\\', Some('u')) => rest.find('}').map_or(rest.len(), |end| end + 1),
            ('\\', Some(c)) => 1 + c.len_utf8(),
            (c, _) => c.len_utf8(),
        };
        let (unit, tail) = rest.split_at(len);
        rest = tail;
        Some(unit)
    })
}

/// Text for XML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Not characters XML 1.0 allows (owner names exclude controls).
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ellipsis_cuts_shown_names_between_escapes() {
        assert_eq!(ellipsis("virtio-net0", 24), "virtio-net0");
        // 20 characters, then an escape of 8 that would cross the cut.
        let shown = human::name("abcdefghijklmnopqrst\u{2028}xyz");
        assert_eq!(shown, r"abcdefghijklmnopqrst\u{2028}xyz");
        assert_eq!(ellipsis(&shown, 24), "abcdefghijklmnopqrst…");
        let shown = human::name("abcdefghijklmnopqrstuv\"xyz");
        assert_eq!(ellipsis(&shown, 24), "abcdefghijklmnopqrstuv…");
        let shown = human::name("ab\\cdefghijklmnopqrstuvwxyz");
        assert_eq!(ellipsis(&shown, 24), r"ab\\cdefghijklmnopqrstu…");
        assert_eq!(
            ellipsis(&"é".repeat(30), 24),
            format!("{}…", "é".repeat(23))
        );
        for name in ["\u{202e}x\u{a0}", "a\\\"b\u{feff}", "中\u{2066}文 ", "x"] {
            let shown = human::name(name);
            assert_eq!(escape_units(&shown).collect::<String>(), shown);
            assert!(escape_units(&shown).all(|u| !u.starts_with('\\')
                || u == r"\\"
                || u == "\\\""
                || (u.starts_with(r"\u{") && u.ends_with('}'))));
        }
    }
}
