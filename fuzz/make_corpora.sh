#!/usr/bin/env bash
# Writes the seed corpora of every fuzz target into fuzz/corpus/TARGET (or
# into the directory given as the first argument): the golden files of
# snapshots/ and their bodies, files and serde encodings of generated
# states of every kind (both format versions, every serde format, the
# 0.1.x shape), and noise for the targets that read their input through
# Arbitrary. Deterministic: running it again writes the same files.
# libFuzzer adds what it finds to the same directories; the corpora are not
# committed (.gitignore). The dictionary is fuzz/dict/vmalloc.dict.
set -euo pipefail
cd "$(dirname "$0")"
out="${1:-corpus}"
cargo run --quiet --example make_corpora -- "$out" ../snapshots
