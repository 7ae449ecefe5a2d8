#!/usr/bin/env bash
# Builds libxproc and xprocd (release), compiles XProc.dll, Tests.exe and the naming test
# (tests/names/Names.cs, run at once) with Mono's mcs,
# starts an xprocd on a temporary socket, runs the tests with mono, stops the broker, and
# exits non-zero on any failure. The test program prints one line per test and closes with
# "N passed, N failed".
#
# Usage: bindings/csharp/run_tests.sh [FILTER]   (from anywhere; FILTER picks tests by name)
#        NO_BUILD=1 bindings/csharp/run_tests.sh  uses the libxproc and xprocd already built
# Needs: cargo, mcs and mono (Debian: mono-mcs mono-runtime).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

if [ -z "${NO_BUILD:-}" ]; then
    echo "== building libxproc and xprocd (release)"
    cargo build --release -p xproc-c -p xproc-broker
fi
target="${CARGO_TARGET_DIR:-$root/target}/release"

tmp="$(mktemp -d /tmp/xproc-cstest.XXXXXX)"
broker_pid=""
cleanup() {
    if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
        kill -TERM "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

echo "== compiling XProc.dll and Tests.exe (mcs)"
out="$tmp/bin"
mkdir -p "$out"
# DllImport("xproc") finds libxproc.so beside the assemblies.
cp "$target/libxproc.so" "$out/libxproc.so"
# -warnaserror with -doc: every public member of the library is documented.
mcs -langversion:7.2 -target:library -optimize+ -debug -warn:4 -warnaserror \
    -doc:"$out/XProc.xml" -out:"$out/XProc.dll" "$here"/src/*.cs
mcs -langversion:7.2 -target:exe -debug -warn:4 -warnaserror \
    -r:"$out/XProc.dll" -out:"$out/Tests.exe" "$here"/tests/*.cs

# The naming test: every public type named beside `using System; using System.Threading;
# using System.Collections; using System.Collections.Generic;` compiles (no CS0104), and the
# list is complete (the program checks it against the assembly's exported types).
echo "== compiling and running tests/names/Names.cs"
mcs -langversion:7.2 -target:exe -warn:4 -warnaserror \
    -r:"$out/XProc.dll" -out:"$out/Names.exe" "$here"/tests/names/Names.cs
mono "$out/Names.exe"

export XPROC_SOCKET="$tmp/xprocd.sock"
export XPROCD="$target/xprocd"
"$XPROCD" --socket "$XPROC_SOCKET" --log-level warn 2>"$tmp/xprocd.log" &
broker_pid=$!
for _ in $(seq 1 200); do
    [ -S "$XPROC_SOCKET" ] && break
    sleep 0.05
done
if [ ! -S "$XPROC_SOCKET" ]; then
    echo "xprocd did not start; its log:" >&2
    cat "$tmp/xprocd.log" >&2
    exit 1
fi

echo "== running the C# tests (mono)"
status=0
mono --debug "$out/Tests.exe" "$@" || status=$?
if [ "$status" -ne 0 ]; then
    echo "xprocd log:"
    sed 's/^/    /' "$tmp/xprocd.log"
fi
exit "$status"
