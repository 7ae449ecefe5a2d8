#!/usr/bin/env bash
# The protocol conformance suite: a client written from docs/PROTOCOL.md alone (Python with only
# msgpack + socket + pytest) sends raw frames for every rule of §2–§7 to a real xprocd and checks
# the exact reply and whether the connection stays open.
#
#   tests/conformance/run.sh [pytest args...]      (XPROCD=path to use another broker binary)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [ -z "${XPROCD:-}" ]; then
    (cd "$root" && cargo build --release -p xproc-broker)
    target="${CARGO_TARGET_DIR:-$root/target}"
    case "$target" in /*) ;; *) target="$root/$target" ;; esac
    export XPROCD="$target/release/xprocd"
fi
case "$XPROCD" in /*) ;; *) XPROCD="$PWD/$XPROCD" ;; esac
export XPROCD
cd "$here"
exec "${PYTHON:-python3}" -m pytest -q -p no:cacheprovider "$@"
