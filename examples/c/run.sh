#!/usr/bin/env bash
# Runs the master/worker example: the master and two workers at once, against the broker at
# $XPROC_SOCKET if one is given, else against a broker this script starts on a temporary
# socket and stops at the end. `make run` builds everything first.
set -euo pipefail
cd "$(dirname "$0")"
root="$(cd ../.. && pwd)"

broker_pid=""
tmp=""
cleanup() {
    if [ -n "$broker_pid" ]; then
        kill -TERM "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
    fi
    [ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT

if [ -z "${XPROC_SOCKET:-}" ]; then
    tmp="$(mktemp -d /tmp/xproc-example.XXXXXX)"
    export XPROC_SOCKET="$tmp/xprocd.sock"
    "$root/target/release/xprocd" --socket "$XPROC_SOCKET" --log-level warn &
    broker_pid=$!
    for _ in $(seq 1 200); do
        [ -S "$XPROC_SOCKET" ] && break
        sleep 0.05
    done
    echo "started xprocd on $XPROC_SOCKET"
fi

./build/worker &
w1=$!
./build/worker &
w2=$!
status=0
./build/master 2 || status=$?
wait "$w1" || status=$?
wait "$w2" || status=$?
exit "$status"
