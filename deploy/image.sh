#!/usr/bin/env bash
# Build the container image from a binary cargo builds here (no registry needed):
#   deploy/image.sh [TAG]            (default tag sentry-mcp:0.1.0)
# The binary is static (glibc, crt-static) so the image can be FROM scratch; it is stripped
# for the image and its debug info kept in deploy/out/sentry-mcp.debug (gdb finds it by the
# debuglink). With a registry, `docker build -f deploy/Dockerfile .` does all of it inside.
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-sentry-mcp:0.1.0}
target=x86_64-unknown-linux-gnu
RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --release --locked --target "$target" -p sentry-mcp
out=deploy/out
rm -rf "$out" && mkdir -p "$out/data"
bin="target/$target/release/sentry-mcp"
cp "$bin" "$out/sentry-mcp"
objcopy --only-keep-debug "$out/sentry-mcp" "$out/sentry-mcp.debug"
strip --strip-all "$out/sentry-mcp"
objcopy --add-gnu-debuglink="$out/sentry-mcp.debug" "$out/sentry-mcp"
if ldd "$out/sentry-mcp" 2>&1 | grep -q "=>"; then
    echo "deploy/out/sentry-mcp is not static:" >&2
    ldd "$out/sentry-mcp" >&2
    exit 1
fi
echo "binary: $(stat -c %s "$bin") bytes as built, $(stat -c %s "$out/sentry-mcp") stripped" \
    "($(stat -c %s "$out/sentry-mcp.debug") of debug info kept beside it)"
docker build -f deploy/Dockerfile --target prebuilt -t "$tag" .
echo "image $tag: $(docker image inspect -f '{{.Size}}' "$tag") bytes"
