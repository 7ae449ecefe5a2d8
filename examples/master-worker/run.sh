#!/usr/bin/env bash
# The seven-language master/worker example, in one command: builds everything it needs, starts
# a broker on a temporary socket (or uses the one at $XPROC_SOCKET if a broker is running
# there), starts the C#, C, Rust, Go, Java and Node.js workers at once, runs the Python master, and checks that
# all 10 results arrived and every worker stopped cleanly. Exits non-zero on any failure.
#
# Usage: examples/master-worker/run.sh          (from anywhere)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}/release"
build="$here/build"

die() { echo "run.sh: $*" >&2; exit 1; }

# A missing toolchain is an error that says what to install, not a skip.
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found: $2"; }
need cargo "install Rust (rustup)"
need "${CC:-gcc}" "install a C compiler (Debian: apt-get install gcc)"
need python3 "install Python 3 (Debian: apt-get install python3)"
need mcs "install Mono's C# compiler (Debian: apt-get install mono-mcs)"
need mono "install the Mono runtime (Debian: apt-get install mono-runtime)"
need go "install Go 1.21+"
need javac "install a JDK 17+ (Debian: apt-get install openjdk-17-jdk-headless)"
need mvn "install Maven (Debian: apt-get install maven)"
need node "install Node.js 18+"
need npm "install npm"
python3 -c 'import msgpack' 2>/dev/null \
    || die "the Python binding needs msgpack: python3 -m pip install msgpack"

echo "== building (release): xprocd, libxproc, the Rust, C, C#, Go, Java and Node.js workers"
(cd "$root" && cargo build --release -q -p xproc-broker -p xproc-c \
    && cargo build --release -q -p xproc-tests --bin mw_worker)
mkdir -p "$build/lib"
# libxproc.so records its SONAME, libxproc.so.0: lay it out as an install would.
ln -sf "$target/libxproc.so" "$build/lib/libxproc.so.0"
ln -sf libxproc.so.0 "$build/lib/libxproc.so"
"${CC:-gcc}" -std=c11 -O2 -g -Wall -Wextra -Werror -pedantic -I "$root/client-c/include" \
    -o "$build/c_worker" "$here/worker.c" -L "$build/lib" -lxproc -Wl,-rpath,"$build/lib"
mcs -langversion:7.2 -nologo -out:"$build/Worker.exe" "$here/Worker.cs" \
    "$root"/bindings/csharp/src/*.cs
CGO_CFLAGS="-I$root/client-c/include" CGO_LDFLAGS="-L$build/lib -lxproc -Wl,-rpath,$build/lib" \
    go build -C "$here/go" -tags xproc_no_pkgconfig -o "$build/go_worker" .
mvn -B -q -ntp -f "$root/bindings/java/pom.xml" compile dependency:build-classpath \
    -Dmdep.includeScope=runtime -Dmdep.outputFile="$build/java-classpath.txt" >/dev/null
java_cp="$root/bindings/java/target/classes:$(cat "$build/java-classpath.txt")"
javac -d "$build/java" -cp "$java_cp" "$here/Worker.java"
npm install --prefix "$root/bindings/node" --no-audit --no-fund --loglevel=error --omit=dev >/dev/null
export LD_LIBRARY_PATH="$build/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PYTHONPATH="$root/bindings/python${PYTHONPATH:+:$PYTHONPATH}"
export XPROC_LIB="$target/libxproc.so"

broker_pid=""
tmp=""
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    if [ -n "$broker_pid" ]; then
        kill -TERM "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
    fi
    if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT

if [ -n "${XPROC_SOCKET:-}" ] && [ -S "$XPROC_SOCKET" ]; then
    echo "== using the broker at $XPROC_SOCKET"
    # The example owns these two names: start from empty queues, so that nothing left by an
    # earlier, interrupted run (a stop sentinel, a stale result) changes this one.
    python3 "$here/master.py" --reset
else
    tmp="$(mktemp -d /tmp/xproc-mw.XXXXXX)"
    export XPROC_SOCKET="$tmp/xprocd.sock"
    "$target/xprocd" --socket "$XPROC_SOCKET" --log-level info 2>"$tmp/xprocd.log" &
    broker_pid=$!
    for _ in $(seq 1 200); do
        [ -S "$XPROC_SOCKET" ] && break
        sleep 0.05
    done
    [ -S "$XPROC_SOCKET" ] || die "xprocd did not start: $(cat "$tmp/xprocd.log")"
    echo "== started xprocd on $XPROC_SOCKET"
fi

echo "== starting the workers (C#, C, Rust, Go, Java, Node.js) and the master (Python)"
mono "$build/Worker.exe" &
pids+=($!)
"$build/c_worker" &
pids+=($!)
"$target/mw_worker" &
pids+=($!)
"$build/go_worker" &
pids+=($!)
java -Dxproc.library.path="$XPROC_LIB" -cp "$build/java:$java_cp" Worker &
pids+=($!)
node "$here/worker.js" &
pids+=($!)

status=0
python3 -u "$here/master.py" --workers "${#pids[@]}" || status=$?

# The master sent one stop sentinel per worker; each also stops by itself after 15 s idle.
names=(csharp c rust go java node)
for i in "${!pids[@]}"; do
    pid="${pids[$i]}"
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "FAIL: the ${names[$i]} worker did not stop within 30 s" >&2
        kill -KILL "$pid" 2>/dev/null || true
        status=1
    fi
    code=0
    wait "$pid" || code=$?
    if [ "$code" -ne 0 ]; then
        echo "FAIL: the ${names[$i]} worker exited $code" >&2
        status=1
    fi
done
pids=()

if [ "$status" -eq 0 ]; then
    echo "== example passed"
else
    if [ -n "$broker_pid" ]; then
        if kill -0 "$broker_pid" 2>/dev/null; then
            echo "xprocd (pid $broker_pid) is still running; its log:" >&2
        else
            echo "xprocd (pid $broker_pid) is gone; its log:" >&2
        fi
        sed 's/^/    /' "$tmp/xprocd.log" >&2
    fi
    echo "== example FAILED" >&2
fi
exit "$status"
