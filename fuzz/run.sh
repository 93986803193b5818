#!/usr/bin/env bash
# Run one fuzz target the way fuzz/README.md describes: `fuzz/run.sh TARGET [SECONDS]`.
# One libFuzzer job, at the lowest priority, corpus in fuzz/corpus/TARGET, crashes in
# fuzz/artifacts/TARGET. Needs cargo-fuzz; stable Rust works with RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")"
target=$1
seconds=${2:-600}
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/../target/fuzz}
case $target in
    normalise) extra=(-dict=dict/normalise.dict -max_len=65536) ;;
    journal) extra=(-detect_leaks=0) ;;  # its writer threads outlive an input by design
    query) extra=(-dict=dict/query.dict -max_len=10240) ;;
    tool_args) extra=(-dict=dict/tool_args.dict) ;;
    *) echo "unknown target $target (normalise, journal, query, tool_args)" >&2; exit 2 ;;
esac
mkdir -p "corpus/$target" "artifacts/$target"
nice -n 19 cargo fuzz run -O -a "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=30 -print_final_stats=1 \
    -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -artifact_prefix="artifacts/$target/" "${extra[@]}"
