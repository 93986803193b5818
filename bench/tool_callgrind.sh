#!/usr/bin/env bash
# Server instructions per MCP tool call at 1M events, stable where timings wander: the
# release server runs under callgrind with instrumentation off; for each tool a lean client opens
# one /mcp session, warms up, and instrumentation is switched on around N calls on that session.
# Counts everything the server does for a call (HTTP, rmcp, the tool, the index), none of
# the client's work.
#
#   bash bench/tool_callgrind.sh [BINARY]     (default: target/release/sentry-mcp)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/sentry-mcp}
index=target/synth-1000000-events-30d
[ -f "$index/meta.json" ] || cargo bench -p sentry-mcp-index --bench query_latency >/dev/null
calls=${CALLS:-10}
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
cp -r "$index" "$work/index"
port=$((20000 + RANDOM % 20000))
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/cg.%p" \
  "$bin" --data-dir "$work" --listen "127.0.0.1:$port" --webhook-listen "127.0.0.1:$((port + 1))" \
  --retention-days 36500 --webhook-secret x >/dev/null 2>&1 &
pid=$!
until curl -sf "http://127.0.0.1:$((port + 1))/ready" >/dev/null; do sleep 0.2; done
printf '%-70s %14s\n' "tool call (1M events, open /mcp session)" "instructions"
while IFS='|' read -r tool args; do
  python3 - "$port" "$tool" "$args" "$calls" "$pid" <<'PY'
import http.client, json, subprocess, sys
sys.path.insert(0, "tests/python")
from lean_http import post
port, tool, args, n, pid = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
resp, _ = post(conn, "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "cg", "version": "0"}}})
sid = resp.getheader("mcp-session-id")
post(conn, "/mcp", {"jsonrpc": "2.0", "method": "notifications/initialized"}, sid)
call = lambda i: post(conn, "/mcp", {"jsonrpc": "2.0", "id": i, "method": "tools/call",
                                     "params": {"name": tool, "arguments": args}}, sid)[1]
for i in range(3):
    assert "result" in call(10 + i)
ctl = lambda *a: subprocess.run(["callgrind_control", *a, pid], check=True, capture_output=True)
ctl("--zero"); ctl("--instr=on")
for i in range(n):
    call(100 + i)
ctl("--dump=" + tool); ctl("--instr=off")
PY
  file=$(ls -t "$work"/cg.* | head -1)
  total=$(awk '/^summary:|^totals:/{print $2; exit}' "$file")
  [ -n "${KEEP:-}" ] && cp "$file" /tmp/cg/; rm -f "$work"/cg.*
  printf '%-70s %14d\n' "$tool $args" $((total / calls))
done <<'CASES'
search_errors|{"query":"timeout","period":"24h"}
search_errors|{"query":"environment:production","period":"24h"}
list_issues|{"query":"is:unresolved level:error","period":"24h"}
get_issue|{"issue_id":"CHECKOUT-API-1"}
top_errors|{"period":"24h"}
error_spikes|{"period":"2h"}
search_errors|{"period":"24h"}
list_issues|{"query":"\"connection reset\""}
CASES
