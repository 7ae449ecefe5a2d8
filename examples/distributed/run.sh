#!/usr/bin/env bash
# The notes' distributed master/worker across two network namespaces, in one command: the
# Python task_master.py (the notes' own, with only its import line changed) and the xprocd its
# manager starts run in one namespace; workers in C#, Rust and C run in another and reach the
# broker over a veth pair, so every byte crosses an interface. Checks that the master got its
# 10 results, that every worker exited 0 and that together they did the 10 tasks, and that no
# process of the run is left in either namespace. Exits non-zero on any failure.
#
# Needs root (ip netns) and iproute2. The namespaces, the veth pair and the addresses
# (10.213.7.1 and 10.213.7.2 on a /24 that exists only between the two namespaces) are made
# here and removed by the EXIT trap, which also kills whatever is still running in them.
#
# Usage: examples/distributed/run.sh          (from anywhere)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}/release"
build="$here/build"

die() { echo "run.sh: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found: $2"; }
# A missing privilege or tool is an error that says what to do, never a skip.
[ "$(id -u)" -eq 0 ] || die "needs root to make network namespaces (ip netns); run it as root"
need ip "install iproute2 (Debian: apt-get install iproute2)"
need cargo "install Rust (rustup)"
need "${CC:-gcc}" "install a C compiler (Debian: apt-get install gcc)"
need python3 "install Python 3 (Debian: apt-get install python3)"
need mcs "install Mono's C# compiler (Debian: apt-get install mono-mcs)"
need mono "install the Mono runtime (Debian: apt-get install mono-runtime)"
python3 -c 'import msgpack' 2>/dev/null \
    || die "the Python binding needs msgpack: python3 -m pip install msgpack"

echo "== building (release): xprocd, libxproc, the CLI and the Rust, C and C# workers"
(cd "$root" && cargo build --release -q -p xproc-broker -p xproc-c -p xproc-cli \
    && cargo build --release -q -p xproc --example task_worker)
mkdir -p "$build/lib"
ln -sf "$target/libxproc.so" "$build/lib/libxproc.so.0"
ln -sf libxproc.so.0 "$build/lib/libxproc.so"
"${CC:-gcc}" -std=c11 -O2 -g -Wall -Wextra -Werror -pedantic -I "$root/client-c/include" \
    -o "$build/task_worker_c" "$here/task_worker.c" -L "$build/lib" -lxproc -Wl,-rpath,"$build/lib"
mcs -langversion:7.2 -nologo -out:"$build/TaskWorker.exe" "$here/TaskWorker.cs" \
    "$root"/bindings/csharp/src/*.cs

# Names unique to this run, so that two runs (or a crashed one's leftovers) never collide;
# an interface name has at most 15 characters.
id="$$"
ns_m="xproc-dm-$id"
ns_w="xproc-dw-$id"
veth_m="xdm$id"
veth_w="xdw$id"
addr_m=10.213.7.1
addr_w=10.213.7.2
endpoint="tcp://$addr_m:5000"
tmp="$(mktemp -d /tmp/xproc-dist.XXXXXX)"

# Every process this run started lives in one of the two namespaces: `ip netns pids` finds
# them all, including the xprocd the master's manager spawned, however the run ends.
leftovers() {
    for ns in "$ns_m" "$ns_w"; do ip netns pids "$ns" 2>/dev/null || true; done
}
cleanup() {
    local pids
    pids="$(leftovers)"
    if [ -n "$pids" ]; then
        kill -TERM $pids 2>/dev/null || true
        for _ in $(seq 1 50); do
            [ -z "$(leftovers)" ] && break
            sleep 0.1
        done
        pids="$(leftovers)"
        if [ -n "$pids" ]; then kill -KILL $pids 2>/dev/null || true; fi
        for _ in $(seq 1 50); do
            [ -z "$(leftovers)" ] && break
            sleep 0.1
        done
    fi
    ip netns del "$ns_m" 2>/dev/null || true   # takes the veth pair with it
    ip netns del "$ns_w" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== namespaces $ns_m ($addr_m: broker + master) and $ns_w ($addr_w: workers)"
ip netns add "$ns_m"
ip netns add "$ns_w"
ip link add "$veth_m" type veth peer name "$veth_w"
ip link set "$veth_m" netns "$ns_m"
ip link set "$veth_w" netns "$ns_w"
ip -n "$ns_m" addr add "$addr_m/24" dev "$veth_m"
ip -n "$ns_w" addr add "$addr_w/24" dev "$veth_w"
for ns in "$ns_m" "$ns_w"; do ip -n "$ns" link set lo up; done
ip -n "$ns_m" link set "$veth_m" up
ip -n "$ns_w" link set "$veth_w" up

# The workers' copy of the master's authkey (b'abc'), in a file only its owner reads.
key="$tmp/authkey"
(umask 077 && printf 'abc\n' >"$key")
export XPROC_LIB="$target/libxproc.so" XPROCD="$target/xprocd"
export LD_LIBRARY_PATH="$build/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PYTHONPATH="$root/bindings/python${PYTHONPATH:+:$PYTHONPATH}"
export XPROC_AUTHKEY_FILE="$key"
# The local default socket is not this run's business: each side names its endpoint.
unset XPROC_SOCKET

echo "== the master (Python, xproc.managers) starts its broker on port 5000"
ip netns exec "$ns_m" python3 -u "$here/task_master.py" >"$tmp/master.log" 2>&1 &
master=$!
# Wait for an answer over the veth pair (not for a file): the CLI retries until one comes.
if ! ip netns exec "$ns_w" "$target/xproc" --socket "$endpoint" ping --wait 30 >/dev/null; then
    cat "$tmp/master.log" >&2
    die "no broker answered at $endpoint from $ns_w"
fi

echo "== the workers (C#, Rust, C) connect to $endpoint from $ns_w"
names=(csharp rust c)
ip netns exec "$ns_w" mono "$build/TaskWorker.exe" "$endpoint" >"$tmp/csharp.log" 2>&1 &
workers=($!)
ip netns exec "$ns_w" "$target/examples/task_worker" "$endpoint" >"$tmp/rust.log" 2>&1 &
workers+=($!)
ip netns exec "$ns_w" "$build/task_worker_c" "$endpoint" >"$tmp/c.log" 2>&1 &
workers+=($!)

status=0
wait "$master" || status=$?
sed 's/^/    master: /' "$tmp/master.log"
if [ "$status" -ne 0 ]; then
    echo "FAIL: the master exited $status" >&2
elif [ "$(grep -c '^Result: ' "$tmp/master.log")" -ne 10 ] || ! grep -q '^master exit\.$' "$tmp/master.log"; then
    echo "FAIL: the master did not print 10 results and 'master exit.'" >&2
    status=1
fi

total=0
for i in "${!workers[@]}"; do
    pid="${workers[$i]}"
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    code=0
    if kill -0 "$pid" 2>/dev/null; then
        echo "FAIL: the ${names[$i]} worker did not stop within 30 s" >&2
        kill -KILL "$pid" 2>/dev/null || true
        status=1
    fi
    wait "$pid" || code=$?
    sed "s/^/    ${names[$i]}: /" "$tmp/${names[$i]}.log"
    if [ "$code" -ne 0 ]; then
        echo "FAIL: the ${names[$i]} worker exited $code" >&2
        status=1
    fi
    done_n="$(sed -n 's/^.* worker [0-9]*: done \([0-9]*\) task(s)$/\1/p' "$tmp/${names[$i]}.log")"
    total=$((total + ${done_n:-0}))
done
if [ "$total" -ne 10 ]; then
    echo "FAIL: the workers report $total tasks done, not 10" >&2
    status=1
fi

# The traffic crossed the veth pair: the workers' side sent bytes on it.
sent="$(ip netns exec "$ns_w" cat "/sys/class/net/$veth_w/statistics/tx_bytes")"
echo "== $sent bytes left $ns_w over $veth_w"
# Nothing may outlive the run: the master's shutdown() stopped its broker, the workers exited.
sleep 0.2
left="$(leftovers)"
if [ -n "$left" ]; then
    echo "FAIL: still running after the run: $(ps -o pid=,args= -p ${left//$'\n'/,})" >&2
    status=1
fi

if [ "$status" -eq 0 ]; then echo "== example passed"; else echo "== example FAILED" >&2; fi
exit "$status"
