#!/usr/bin/env bash
# Instruction counts per query of the index bench, stable where timings wander: each case
# runs under callgrind with BENCH_REPS=1 and BENCH_REPS=6, and the difference / 5 is what
# one query costs (index open and warm-up cancel out).
#
#   bash bench/callgrind.sh ["case name substring" ...]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p sentry-mcp-index --bench query_latency --no-run 2>/dev/null
bin=$(ls -t target/release/deps/query_latency-* | grep -v '\.d$' | head -1)
"$bin" >/dev/null # build the index first if it is missing
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
  cases=("issues is:unresolved" "issues timesSeen" "issues free text" "events 24h: free text"
    "events 24h: !environment" "aggregate: top 10" "aggregate: 24 hourly" "search_errors) 24h: \`timeout"
    "search_errors) 24h: \`environment" "search_errors) 24h: \`\`")
fi
count() {
  local out
  out=$(mktemp)
  BENCH_ONLY="$1" BENCH_REPS="$2" valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" >/dev/null 2>&1
  awk '/^summary:/{print $2}' "$out"
  rm -f "$out"
}
printf '%-44s %16s\n' "case" "instructions/query"
for c in "${cases[@]}"; do
  one=$(count "$c" 1)
  six=$(count "$c" 6)
  printf '%-44s %16d\n' "$c" $(((six - one) / 5))
done
