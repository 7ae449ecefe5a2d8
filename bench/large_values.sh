#!/usr/bin/env bash
# Large values by sealed memfd against the DRAM yardstick, in one run (docs/BENCHMARKS.md,
# "Large values by sealed memfd: ... second pass"): per round, the memcpy row (1 MiB copies
# walking two 256 MiB buffers), then for each build given the 1 MiB queue put+get, the 1 MiB
# dict set+get, 16 MiB from a producer process to a consumer process (plain put / typed get,
# then put_async / zero-copy get_buf with maxsize 10000 and with maxsize 2: "fourth pass",
# then both again with two getter connections: "fifth pass"),
# and 64-byte put+get.
# Each build runs against its own xprocd (--memory-limit 4G --max-frame 64M); builds are
# interleaved within each round, so machine load hits them alike.
#
#   bench/large_values.sh [ROUNDS] [OLD_RELEASE_DIR]
#
# This worktree's target/release is "new" (build it first: cargo build --release -p
# xproc-broker -p xproc-bench); OLD_RELEASE_DIR, if given, is another build's target/release
# (for instance one from `git archive COMMIT | tar -x -C DIR` built there), shown as "old".
# Prints one line per measurement: round, build, then xproc-bench's JSON.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${1:-3}"
builds=(new)
declare -A dir=([new]="$root/target/release")
if [ -n "${2:-}" ]; then
    builds=(old new)
    dir[old]="$2"
fi
tmp="$(mktemp -d /tmp/xproc-large.XXXXXX)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
for b in "${builds[@]}"; do
    "${dir[$b]}/xprocd" --socket "$tmp/$b.sock" --memory-limit 4G --max-frame 64M \
        --log-level warn &
    pids+=($!)
done
for b in "${builds[@]}"; do
    for _ in $(seq 1 100); do [ -S "$tmp/$b.sock" ] && break; sleep 0.05; done
done
bench() { "${dir[$1]}/xproc-bench" "${@:2}"; }
for r in $(seq 1 "$rounds"); do
    echo "round $r load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "round $r memcpy $(bench new memcpy --socket /x --size 1048576 --secs 1 --iters 1000000 --warmup 20)"
    for b in "${builds[@]}"; do
        s="$tmp/$b.sock"
        echo "round $r $b $(bench "$b" xproc-putget --socket "$s" --size 1048576 --secs 2 --iters 200000 --warmup 20)"
        echo "round $r $b $(bench "$b" xproc-dict --socket "$s" --size 1048576 --secs 2 --iters 200000 --warmup 20)"
        echo "round $r $b $(bench "$b" xproc-prodcons --socket "$s" --size 16777216 --secs 3 --iters 100000 --warmup 5)"
        # Builds from before the fourth pass have no xproc-prodcons-stream. Twice: the same
        # queue bound as xproc-prodcons (10000), then a bound of 2 values.
        if bench "$b" help xproc-prodcons-stream >/dev/null 2>&1; then
            echo "round $r $b $(bench "$b" xproc-prodcons-stream --socket "$s" --size 16777216 --secs 3 --iters 100000 --warmup 5)"
            echo "round $r $b $(XPROC_BENCH_MAXSIZE=2 bench "$b" xproc-prodcons-stream --socket "$s" --size 16777216 --secs 3 --iters 100000 --warmup 5)"
            # Fifth pass: a consumer with a get always waiting (two getter connections), both
            # bounds.
            echo "round $r $b $(XPROC_BENCH_GETTERS=2 bench "$b" xproc-prodcons-stream --socket "$s" --size 16777216 --secs 3 --iters 100000 --warmup 5)"
            echo "round $r $b $(XPROC_BENCH_GETTERS=2 XPROC_BENCH_MAXSIZE=2 bench "$b" xproc-prodcons-stream --socket "$s" --size 16777216 --secs 3 --iters 100000 --warmup 5)"
        fi
        echo "round $r $b $(bench "$b" xproc-putget --socket "$s" --size 64 --secs 2 --iters 1000000 --warmup 2000)"
    done
done
