#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
"""Check commit messages against rust-vmm's 50/72 rule.

rust-vmm-ci's `test_commit_format.py` asks every commit of a change for a
title of at most 50 characters, a blank line after it, and body lines of
at most 72 characters. This repository follows the rule from the commit
after RULE_SINCE on (the history before it is left as it was written);
merge commits are skipped, as rust-vmm-ci skips them. Lines of a trailer
block (`Signed-off-by:` and the lines after it) are not measured, as in
rust-vmm-ci.

    python3 scripts/commit_format.py [BASE]

BASE defaults to RULE_SINCE. Exits 1 naming every commit that breaks the
rule, 0 otherwise.
"""

import subprocess
import sys

# The last commit written before the rule was adopted.
RULE_SINCE = "51549bfa29d8fa8a8bf084ca34efc940122797dd"
TITLE_MAX = 50
BODY_LINE_MAX = 72


def git(*args):
    return subprocess.run(
        ["git", *args], check=True, capture_output=True, text=True
    ).stdout


def problems(message):
    """What is wrong with one commit message, as a list of strings."""
    lines = message.rstrip("\n").split("\n")
    found = []
    title = lines[0]
    if not title.strip():
        found.append("the title is empty")
    if len(title) > TITLE_MAX:
        found.append(f"title of {len(title)} characters (at most {TITLE_MAX}): {title!r}")
    if len(lines) > 1 and lines[1] != "":
        found.append("no blank line after the title")
    for number, line in enumerate(lines[2:], start=3):
        if line.startswith("Signed-off-by: "):
            break
        if len(line) > BODY_LINE_MAX:
            found.append(
                f"line {number} has {len(line)} characters (at most {BODY_LINE_MAX}): {line!r}"
            )
    return found


def main():
    base = sys.argv[1] if len(sys.argv) > 1 else RULE_SINCE
    try:
        git("cat-file", "-e", base + "^{commit}")
    except subprocess.CalledProcessError:
        # A shallow clone without the base: check what it holds.
        print(f"note: {base} is not in this clone; checking every commit it has")
        revs = "HEAD"
    else:
        revs = f"{base}..HEAD"
    shas = git("log", "--no-merges", "--format=%H", revs).split()
    bad = 0
    for sha in shas:
        found = problems(git("show", "-s", "--format=%B", sha))
        if found:
            bad += 1
            print(f"commit {sha[:12]}:")
            for problem in found:
                print(f"  {problem}")
    print(f"{len(shas)} commits checked, {bad} break the 50/72 rule")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
