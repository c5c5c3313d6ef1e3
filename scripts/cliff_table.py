#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
"""Runs `benches/cliffs.rs` several times and prints the cliff table of
BENCHMARKS.md: every operation x layout x n, the minimum of the runs' medians
for each competitor, each row's ratio to the issue's yardstick (a BTreeMap
insert + remove at random keys, same n) and to its operation's best layout
(same n).

Usage: scripts/cliff_table.py [RUNS] [extra criterion arguments...]
       scripts/cliff_table.py --table-only   (the estimates already on disk)
"""

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CRITERION = ROOT / "target" / "criterion"
OPS = ["first_page", "last_page", "exact_page", "first_gib", "last_gib",
       "first_window", "last_window"]
LAYOUTS = ["packed", "every_other", "huge_gap", "gib_blocks"]
SIZES = [1000, 100000, 1000000]


def run(extra):
    subprocess.run(
        ["cargo", "bench", "--all-features", "--bench", "cliffs", "--",
         "--noplot", *extra],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def medians():
    """Benchmark id -> median (ns) of the last run."""
    found = {}
    for path in CRITERION.glob("cliff_*/*/*/new/estimates.json"):
        group, function, n = path.parts[-5:-2]
        found[(group, function, int(n))] = json.loads(
            path.read_text())["median"]["point_estimate"]
    return found


def fmt(ns):
    if ns is None:
        return "–"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def table(best):
    get = best.get
    print("| operation | n | layout | ours | ours / `BTreeMap` random "
          "| ours / best layout | `BTreeMap` same key | 0.1.4 | 0.1.4 / ours |")
    print("|---|---|---|---|---|---|---|---|---|")
    worst = {}
    for op in OPS:
        for n in SIZES:
            yard = get(("cliff_yardstick", "btreemap_random", n))
            ours = {l: get((f"cliff_{op}", f"ours_{l}", n)) for l in LAYOUTS}
            floor = min(v for v in ours.values() if v is not None)
            for layout in LAYOUTS:
                mine = ours[layout]
                up = get((f"cliff_{op}", f"upstream_{layout}", n))
                same = get((f"cliff_{op}", f"btreemap_{layout}", n))
                to_yard = mine / yard if yard else None
                to_best = mine / floor
                for key, value in ((("yard", n), to_yard), (("best", n), to_best)):
                    if value is not None and value > worst.get(key, (0,))[0]:
                        worst[key] = (value, op, layout)
                print(f"| {op} | {n:,} | {layout} | {fmt(mine)} | "
                      f"{to_yard:.2f}× | {to_best:.2f}× | {fmt(same)} | {fmt(up)} | "
                      + (f"{up / mine:.2f}× |" if up else " |"))
    print()
    for n in SIZES:
        yard = get(("cliff_yardstick", "btreemap_random", n))
        v, op, layout = worst[("yard", n)]
        b, bop, blayout = worst[("best", n)]
        print(f"- n = {n:,}: yardstick {fmt(yard)}; worst row {v:.2f}× of it "
              f"({op}, {layout}); worst {b:.2f}× of its operation's best layout "
              f"({bop}, {blayout})")


def main():
    args = sys.argv[1:]
    if args[:1] == ["--table-only"]:
        table(medians())
        return
    runs = int(args[0]) if args and args[0].isdigit() else 3
    extra = args[1:] if args and args[0].isdigit() else args
    best = {}
    for i in range(runs):
        print(f"run {i + 1} of {runs}", file=sys.stderr)
        run(extra)
        for key, value in medians().items():
            best[key] = min(value, best.get(key, value))
    table(best)


if __name__ == "__main__":
    main()
