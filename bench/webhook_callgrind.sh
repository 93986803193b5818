#!/usr/bin/env bash
# Server instructions per acknowledged webhook, stable where timings wander: the release
# server runs under callgrind with instrumentation off; a Python client warms it up, then
# instrumentation is switched on around N signed `error` deliveries (the fixture's event,
# a new event id each) sent by 8 threads, plus the time the indexer needs to apply and
# commit them. Prints the total and the biggest inclusive costs.
#
#   bash bench/webhook_callgrind.sh [BINARY]     (default: target/release/sentry-mcp)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/sentry-mcp}
n=${WEBHOOKS:-2000}
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
secret=callgrind-secret
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/cg.%p" \
  "$bin" --data-dir "$work/data" --listen "127.0.0.1:$port" --webhook-listen "127.0.0.1:$((port + 1))" \
  --retention-days 36500 --webhook-secret "$secret" >/dev/null 2>&1 &
pid=$!
until curl -sf "http://127.0.0.1:$((port + 1))/ready" >/dev/null; do sleep 0.2; done
python3 - "$((port + 1))" "$secret" "$n" "$pid" <<'PY'
import concurrent.futures, copy, hashlib, hmac, http.client, json, subprocess, sys, threading, time, uuid
port, secret, n, pid = int(sys.argv[1]), sys.argv[2].encode(), int(sys.argv[3]), sys.argv[4]
fixture = json.load(open("../shared/fixtures/sentry-webhooks/error.created.json"))
def body(i):
    d = copy.deepcopy(fixture)
    d["data"]["error"]["event_id"] = uuid.UUID(int=i).hex
    return json.dumps(d).encode()
local = threading.local()
def send(b):
    if not hasattr(local, "conn"):
        local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    sig = hmac.new(secret, b, hashlib.sha256).hexdigest()
    local.conn.request("POST", "/webhooks/sentry", body=b, headers={
        "content-type": "application/json", "sentry-hook-resource": "error",
        "sentry-hook-signature": sig, "sentry-hook-timestamp": str(int(time.time())),
        "request-id": uuid.uuid4().hex})
    r = local.conn.getresponse(); r.read()
    assert r.status == 200, r.status
warm = [body(i) for i in range(200)]
bodies = [body(1000 + i) for i in range(n)]
print(f"delivery size {len(bodies[0])} bytes")
with concurrent.futures.ThreadPoolExecutor(8) as ex:
    list(ex.map(send, warm))
time.sleep(3)
ctl = lambda *a: subprocess.run(["callgrind_control", *a, pid], check=True, capture_output=True)
ctl("--zero"); ctl("--instr=on")
with concurrent.futures.ThreadPoolExecutor(8) as ex:
    list(ex.map(send, bodies))
time.sleep(3)  # the indexer applies and commits what was acknowledged
ctl("--dump=webhooks"); ctl("--instr=off")
PY
file=$(ls -t "$work"/cg.* | head -1); [ -n "${KEEP:-}" ] && cp "$file" /tmp/cg/
total=$(awk '/^summary:|^totals:/{print $2; exit}' "$file")
echo "instructions per acknowledged webhook (with its indexing): $((total / n))"
callgrind_annotate --inclusive=yes "$file" 2>/dev/null | grep -E "^ *[0-9,]+ \(" | sed -n "2,${TOP:-40}p" | cut -c1-200
