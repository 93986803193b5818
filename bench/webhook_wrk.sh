#!/usr/bin/env bash
# Webhook throughput with a separate, lean load client: wrk (C, `apt-get install wrk`)
# posts signed 3 kB `error` deliveries to the release server over loopback, 64 connections
# on 2 threads, as the issue's own measurement did. A pool of distinct bodies (one new event
# id each, POOL, default 200k: enough for 10 s at 20k/s) is signed up front; every
# request gets its own Request-ID, so none is taken for a retry and every one is journaled
# (fsync group commit) and indexed as a new event. A run longer than the pool lasts sends
# events again (re-deliveries, which cost the indexer a stored-document load each). Prints wrk's figures,
# then the server's own count of durable acks and fsyncs from /metrics.
#
#   bash bench/webhook_wrk.sh [BINARY] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/sentry-mcp}
secs=${2:-10}
[ -x "$bin" ] || cargo build --release
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
secret=wrk-secret
"$bin" --data-dir "$work/data" --listen "127.0.0.1:$port" --webhook-listen "127.0.0.1:$((port + 1))" \
  --retention-days 36500 --webhook-secret "$secret" 2>"$work/log" &
pid=$!
until curl -sf "http://127.0.0.1:$((port + 1))/ready" >/dev/null; do sleep 0.05; done
python3 - "$secret" "$work/bodies.txt" "${POOL:-200000}" <<'PY'
import copy, hashlib, hmac, json, sys, uuid
secret, out, pool = sys.argv[1].encode(), sys.argv[2], int(sys.argv[3])
fixture = json.load(open("../shared/fixtures/sentry-webhooks/error.created.json"))
with open(out, "w") as f:
    for i in range(pool):
        d = copy.deepcopy(fixture)
        d["data"]["error"]["event_id"] = uuid.UUID(int=i + 1).hex
        b = json.dumps(d)  # one line
        f.write(hmac.new(secret, b.encode(), hashlib.sha256).hexdigest() + "\t" + b + "\n")
print(f"{len(b)}-byte deliveries, {pool} distinct events (the pool is split between wrk's threads)")
PY
cat >"$work/requests.lua" <<LUA
local path, stamp = "$work/bodies.txt", "$(date +%s)"
LUA
cat >>"$work/requests.lua" <<'LUA'
local sigs, bodies = {}, {}
for line in io.lines(path) do
  local tab = line:find("\t", 1, true)
  sigs[#sigs + 1] = line:sub(1, tab - 1)
  bodies[#bodies + 1] = line:sub(tab + 1)
end
local half = math.floor(#bodies / 2)
counter, failed = 0, 0
local threads = 0
local all = {}
-- Each thread's own Request-ID prefix and half of the pool (globals in its Lua state), so
-- neither a Request-ID nor an event repeats until the pool runs out.
function setup(thread)
  threads = threads + 1
  thread:set("prefix", "wrk" .. threads)
  thread:set("first", (threads - 1) * half)
  all[#all + 1] = thread
end
function request()
  counter = counter + 1
  local i = first + (counter % half) + 1
  return wrk.format("POST", "/webhooks/sentry", {
    ["Content-Type"] = "application/json",
    ["Sentry-Hook-Resource"] = "error",
    ["Sentry-Hook-Signature"] = sigs[i],
    ["Sentry-Hook-Timestamp"] = stamp,
    ["Request-ID"] = prefix .. "-" .. counter,
  }, bodies[i])
end
function response(status, headers, body)
  if status ~= 200 then
    failed = failed + 1
  end
end
function done(summary, latency, requests)
  local failures, sent = 0, 0
  for _, t in ipairs(all) do
    failures = failures + t:get("failed")
    sent = sent + t:get("counter")
  end
  io.write(string.format("not 200: %d; requests per thread %d of a pool of %d each%s\n",
    failures, math.floor(sent / #all), half, sent / #all > half and " (events repeated)" or ""))
end
LUA
wrk -t2 -c64 -d"${secs}s" --latency -s "$work/requests.lua" "http://127.0.0.1:$((port + 1))/webhooks/sentry"
curl -s "http://127.0.0.1:$((port + 1))/metrics" |
  grep -E '^sentry_mcp_(webhooks_accepted_total\{resource="error"\}|webhooks_duplicate_total|webhooks_rejected_total|journal_fsync_seconds_(count|sum))' |
  awk '$NF != 0'
