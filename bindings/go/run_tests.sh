#!/usr/bin/env bash
# Runs the Go binding's tests (go test) against real xprocd processes.
#
#   bindings/go/run_tests.sh [go test args...]
#
# Builds libxproc and xprocd (release), installs libxproc into a temporary prefix with
# client-c/install.sh, and builds the package the way a user does: cgo finds libxproc
# through pkg-config (PKG_CONFIG_PATH=PREFIX/lib/pkgconfig), with an rpath to PREFIX/lib.
# Every test starts its own xprocd on a temporary socket. A missing Go toolchain fails.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
for tool in go pkg-config gcc; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "FAIL: $tool not found; the Go binding needs Go (cgo), pkg-config and gcc" >&2
        exit 1
    fi
done

echo "== building libxproc and xprocd (release)"
(cd "$root" && cargo build --release -p xproc-c -p xproc-broker)
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
export XPROCD="$target/release/xprocd"

prefix="$(mktemp -d /tmp/xproc-go-prefix.XXXXXX)"
trap 'rm -rf "$prefix"' EXIT
echo "== installing libxproc into $prefix"
"$root/client-c/install.sh" --no-build "$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export CGO_ENABLED=1
export CGO_LDFLAGS="-Wl,-rpath,$prefix/lib${CGO_LDFLAGS:+ $CGO_LDFLAGS}"

cd "$here"
echo "== gofmt and go vet"
unformatted="$(gofmt -l . "$root/tests/cross-language/go" "$root/examples/master-worker/go")"
if [ -n "$unformatted" ]; then
    echo "FAIL: not gofmt-formatted: $unformatted" >&2
    exit 1
fi
go vet ./...
echo "== go test (each test starts its own xprocd)"
go test -count=1 "$@" ./...
