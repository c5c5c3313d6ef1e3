#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
"""List the public items of vm-allocator whose docs have no example.

Every public item of the crate should show how it is used, in a doc test
(issue 10). This script reads rustdoc's JSON output and prints each public
item whose documentation contains no code block (no "```" line), then
exits with status 1 if there is any, 0 if there is none.

Build the JSON first (rustdoc JSON needs a nightly toolchain):

    cargo +nightly rustdoc --lib --all-features -- -Z unstable-options --output-format json
    python3 scripts/doc_examples.py [target/doc/vm_allocator.json]

What counts as a public item: everything reachable from the crate root
through public modules and `pub use` re-exports: modules, structs, enums,
unions, traits and their items, functions, constants, statics, type
aliases and macros, the items declared by the crate's own traits, and
the associated functions, constants and types of inherent impls. Left out:
enum variants and struct fields (their type's example covers them), the
crate root (its docs are the crate-level example) and the items of trait
impls: those of foreign traits (`Display::fmt`, `From::from`,
`Iterator::next`, `Serialize::serialize`, `Versionize::deserialize`, ...)
are documented by the trait's crate (their own doc lines here only state a
cost), and those of the crate's own traits by the trait's declaration,
which is counted.
"""

import json
import sys

COUNTED = {
    "module",
    "struct",
    "enum",
    "union",
    "trait",
    "function",
    "constant",
    "static",
    "type_alias",
    "macro",
    "assoc_const",
    "assoc_type",
}


def has_example(docs):
    return docs is not None and "```" in docs


def main(argv):
    path = argv[1] if len(argv) > 1 else "target/doc/vm_allocator.json"
    with open(path, encoding="utf-8") as f:
        krate = json.load(f)
    index = krate["index"]
    root = str(krate["root"])

    seen = set()
    found = {}  # id -> (public path, kind, docs)

    def item(id_):
        return index.get(str(id_))

    def kind_of(it):
        return next(iter(it["inner"]))

    def visit(id_, path):
        it = item(id_)
        if it is None or it.get("crate_id") != 0:
            return
        key = str(id_)
        if key in seen:
            return
        seen.add(key)
        kind = kind_of(it)
        inner = it["inner"][kind]
        if kind == "use":
            target = inner.get("id")
            if target is None:
                return
            if inner.get("is_glob"):
                mod = item(target)
                if mod and kind_of(mod) == "module":
                    for child in mod["inner"]["module"]["items"]:
                        c = item(child)
                        if c and c.get("visibility") == "public":
                            visit(child, path + [c.get("name") or "?"])
                return
            visit(target, path[:-1] + [inner["name"]])
            return
        if kind in COUNTED and key != root:
            found[key] = ("::".join(path), kind, it.get("docs"), it.get("span"))
        if kind == "module":
            for child in inner["items"]:
                c = item(child)
                if c is None:
                    continue
                if kind_of(c) == "use" or c.get("visibility") == "public":
                    visit(child, path + [c.get("name") or "?"])
        elif kind in ("struct", "enum", "union"):
            for impl_id in inner.get("impls", []):
                visit_impl(impl_id, path)
        elif kind == "trait":
            for child in inner["items"]:
                c = item(child)
                if c is not None:
                    visit(child, path + [c["name"]])

    def visit_impl(impl_id, owner_path):
        imp = item(impl_id)
        if imp is None or imp.get("crate_id") != 0:
            return
        inner = imp["inner"]["impl"]
        if inner.get("is_synthetic") or inner.get("blanket_impl"):
            return
        if inner.get("trait") is not None:
            return
        for child in inner["items"]:
            c = item(child)
            if c is not None and c.get("visibility") == "public":
                visit(child, owner_path + [c["name"]])

    visit(root, [index[root]["name"]])

    missing = sorted(
        ((p, k, s) for (p, k, docs, s) in found.values() if not has_example(docs)),
        key=lambda m: m[0],
    )
    for p, k, s in missing:
        where = f"{s['filename']}:{s['begin'][0]}" if s else "?"
        print(f"{k:12} {p}  ({where})")
    print(
        f"{len(missing)} of {len(found)} public items have no example",
        file=sys.stderr,
    )
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
