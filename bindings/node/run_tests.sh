#!/usr/bin/env bash
# Runs the Node.js binding's tests (npm test: node --test) against real xprocd processes.
#
#   bindings/node/run_tests.sh
#
# Builds libxproc and xprocd (release), installs the binding's one dependency (koffi, from the
# npm registry, at the version package.json pins) with `npm install`, type-checks index.d.ts
# with tsc (a dev dependency), and runs `npm test` with XPROC_LIB
# pointing at the release libxproc. Every test starts its own xprocd. A missing node or npm
# fails.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "FAIL: $tool not found; the Node.js binding needs Node.js 18+ with npm" >&2
        exit 1
    fi
done

echo "== building libxproc and xprocd (release)"
(cd "$root" && cargo build --release -p xproc-c -p xproc-broker)
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
export XPROCD="$target/release/xprocd"
export XPROC_LIB="$target/release/libxproc.so"

cd "$here"
echo "== npm install (koffi; TypeScript and @types/node for the type check)"
npm install --no-audit --no-fund --loglevel=error
echo "== npm run typecheck (tsc --strict over index.d.ts and test/types.ts)"
npm run --silent typecheck
echo "== npm test"
npm test
