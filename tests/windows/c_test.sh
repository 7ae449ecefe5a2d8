#!/usr/bin/env bash
# A C program (mingw, against xproc.h + xproc.dll) and Rust client processes exchange values
# through xprocd.exe, all under Wine: Rust puts 0..COUNT on "from_rust", C doubles each onto
# "to_rust", Rust takes them back. Run by tests/windows/run.sh with the Windows build dir.
set -euo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$root/target/wine/c_test
count=200
rm -rf "$work" && mkdir -p "$work"
# The DLL is found next to the program: copy both there.
x86_64-w64-mingw32-gcc -O1 -Wall -Werror -I"$root/client-c/include" -o "$work/c_peer.exe" \
  "$here/c_peer.c" "$bin/libxproc.dll.a"
cp "$bin/xproc.dll" "$work/"

export XPROC_SOCKET="xproc-c-test-$$"
wine "$bin/xprocd.exe" --pipe "$XPROC_SOCKET" 2>"$work/xprocd.log" &
broker=$!
stop() { kill "$broker" 2>/dev/null || true; wait "$broker" 2>/dev/null || true; }
trap stop EXIT
for _ in $(seq 100); do
  wine "$bin/xproc.exe" ping >/dev/null 2>&1 && break
  sleep 0.1
done

wine "$work/c_peer.exe" >"$work/c_peer.out" 2>"$work/c_peer.err" &
peer=$!
for _ in $(seq 200); do grep -q ready "$work/c_peer.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$work/c_peer.out" || { cat "$work/c_peer.err"; echo "c_peer did not start"; exit 1; }
wine "$bin/queue_worker.exe" produce from_rust 0 "$count" >/dev/null
wine "$bin/xproc.exe" put from_rust null
got=$(wine "$bin/queue_worker.exe" consume to_rust | tr -d '\r')
wait "$peer" || { cat "$work/c_peer.err"; echo "c_peer failed"; exit 1; }
want=$(python3 -c "import json; print(json.dumps([2 * i for i in range($count)], separators=(',', ':')))")
if [ "$(echo "$got" | tr -d ' ')" != "$want" ]; then
  echo "C <-> Rust over the pipe: got ${got:0:200}..., want ${want:0:200}..."
  exit 1
fi
echo "C <-> Rust through xprocd.exe: $(tr -d '\r' <"$work/c_peer.out" | tail -1) values doubled and returned"
