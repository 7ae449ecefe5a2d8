#!/usr/bin/env bash
# Builds libxproc (release), starts an xprocd on a temporary socket, compiles every C test
# in tests/c against the committed header twice — linked to libxproc.so and to libxproc.a —
# runs each build, then runs each under valgrind memcheck (any error or definite/indirect
# leak fails). Stops the broker and exits non-zero on any failure.
#
# Usage: client-c/tests/run_c_tests.sh        (from anywhere; needs gcc and valgrind)
#        NO_VALGRIND=1 client-c/tests/run_c_tests.sh   to skip the valgrind runs
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
crate="$(dirname "$here")"
root="$(dirname "$crate")"
cd "$root"

echo "== building libxproc and xprocd (release)"
cargo build --release -p xproc-c -p xproc-broker
target="${CARGO_TARGET_DIR:-$root/target}/release"

tmp="$(mktemp -d /tmp/xproc-ctest.XXXXXX)"
broker_pid=""
cleanup() {
    if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
        kill -TERM "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# The shared library records its SONAME, libxproc.so.0; lay it out as an install would.
lib="$tmp/lib"
mkdir -p "$lib"
cp "$target/libxproc.so" "$lib/libxproc.so.0"
ln -s libxproc.so.0 "$lib/libxproc.so"
cp "$target/libxproc.a" "$lib/libxproc.a"
if ! readelf -d "$lib/libxproc.so.0" | grep -q 'SONAME.*libxproc\.so\.0'; then
    echo "libxproc.so has no SONAME libxproc.so.0" >&2
    exit 1
fi

export XPROC_SOCKET="$tmp/xprocd.sock"
"$target/xprocd" --socket "$XPROC_SOCKET" --log-level warn 2>"$tmp/xprocd.log" &
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

cflags=(-std=c11 -O1 -g -Wall -Wextra -Werror -pedantic -I "$crate/include")
passed=0
failed=0
failures=()

# run NAME CMD...: runs one test, counting it.
run() {
    local name="$1"
    shift
    if "$@" >"$tmp/out.txt" 2>&1; then
        passed=$((passed + 1))
        echo "PASS $name ($(grep -c '^ok - ' "$tmp/out.txt" || true) checks)"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "FAIL $name"
        sed 's/^/    /' "$tmp/out.txt"
    fi
}

# pass NAME / fail WHY: a check made here in the script, counted like a test.
pass() {
    passed=$((passed + 1))
    echo "PASS $1"
}
fail() {
    failed=$((failed + 1))
    failures+=("$1")
    echo "FAIL $1"
}

for src in "$here"/c/test_*.c; do
    t="$(basename "$src" .c)"
    gcc "${cflags[@]}" -o "$tmp/$t-shared" "$src" -L"$lib" -Wl,-rpath,"$lib" -lxproc -lpthread
    gcc "${cflags[@]}" -o "$tmp/$t-static" "$src" "$lib/libxproc.a" -lpthread -ldl -lm
    if ldd "$tmp/$t-static" | grep -q libxproc; then
        echo "$t-static links libxproc dynamically" >&2
        exit 1
    fi
    run "$t (shared)" "$tmp/$t-shared"
    run "$t (static)" "$tmp/$t-static"
    if [ -z "${NO_VALGRIND:-}" ]; then
        for kind in shared static; do
            # No suppressions are needed: what Rust's std keeps until exit (thread-locals,
            # the stdout buffer) is "still reachable", which these leak kinds ignore.
            run "$t ($kind, valgrind)" valgrind -q --error-exitcode=1 --leak-check=full \
                --errors-for-leak-kinds=definite,indirect "$tmp/$t-$kind"
        done
    fi
done

# The header calls a second free undefined behaviour (a real double free), not a no-op:
# valgrind must report it. Proves the documentation, not the library; not run without valgrind.
if [ -z "${NO_VALGRIND:-}" ]; then
    gcc "${cflags[@]}" -o "$tmp/ub_double_free" "$here/c/ub_double_free.c" -L"$lib" \
        -Wl,-rpath,"$lib" -lxproc -lpthread
    double_free_is_reported() {
        ! valgrind -q --error-exitcode=99 "$tmp/ub_double_free" 2>"$tmp/ub.txt" &&
            grep -q "Invalid \(read\|write\|free\)" "$tmp/ub.txt"
    }
    run "ub_double_free (valgrind reports the documented undefined behaviour)" \
        double_free_is_reported
fi

# An installed libxproc, found through pkg-config, builds a program both ways too.
"$crate/install.sh" "$tmp/prefix" >/dev/null
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
src="$here/c/test_values.c"
# shellcheck disable=SC2046 # pkg-config output is meant to be split into words
gcc "${cflags[@]}" -o "$tmp/pc-shared" "$src" $(pkg-config --cflags --libs xproc) \
    -Wl,-rpath,"$tmp/prefix/lib"
# shellcheck disable=SC2046
gcc "${cflags[@]}" -o "$tmp/pc-static" "$src" $(pkg-config --cflags --libs xproc-static)
run "test_values (installed, pkg-config, shared)" "$tmp/pc-shared"
run "test_values (installed, pkg-config, static)" "$tmp/pc-static"
# The static build must not need libxproc.so at run time (xproc-static.pc links the archive).
if readelf -d "$tmp/pc-static" | grep -q 'libxproc'; then
    fail "pkg-config xproc-static: the program still needs libxproc.so"
else
    pass "pkg-config xproc-static: no libxproc.so dependency"
fi
# docs/C.md, "Finding libxproc.so at run time": linked without an rpath, a program under a
# custom prefix is not found by the loader (unless a copy is on the system path) and runs with
# LD_LIBRARY_PATH; an rpath of $ORIGIN/../lib keeps a program and its library movable together.
gcc "${cflags[@]}" -o "$tmp/pc-norpath" "$src" $(pkg-config --cflags --libs xproc)
if ldconfig -p 2>/dev/null | grep -q 'libxproc\.so\.0'; then
    echo "note: a libxproc.so.0 is on the system path; not checking that a bare link fails"
elif env -u LD_LIBRARY_PATH "$tmp/pc-norpath" >/dev/null 2>"$tmp/norpath.txt"; then
    fail "a program linked without rpath found libxproc.so.0 under a custom prefix"
elif grep -q 'libxproc\.so\.0: cannot open shared object file' "$tmp/norpath.txt"; then
    pass "without rpath or LD_LIBRARY_PATH: the loader's error names libxproc.so.0"
else
    fail "without rpath: unexpected failure: $(cat "$tmp/norpath.txt")"
fi
run "test_values (installed, LD_LIBRARY_PATH)" env LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/pc-norpath"
mkdir -p "$tmp/bundle/bin" "$tmp/bundle/lib"
cp -P "$tmp/prefix/lib"/libxproc.so* "$tmp/bundle/lib/"
gcc "${cflags[@]}" -o "$tmp/bundle/bin/app" "$src" $(pkg-config --cflags --libs xproc) \
    -Wl,-rpath,'$ORIGIN/../lib'
mv "$tmp/bundle" "$tmp/moved"
run "test_values (rpath \$ORIGIN/../lib, moved with its library)" env -u LD_LIBRARY_PATH "$tmp/moved/bin/app"
# Installing from the built tree needs no cargo; DESTDIR stages; --uninstall removes it all.
PATH="/usr/bin:/bin" DESTDIR="$tmp/stage" "$crate/install.sh" --no-build /opt/xproc >/dev/null
if [ -f "$tmp/stage/opt/xproc/lib/libxproc.a" ] \
    && grep -q '^prefix=/opt/xproc$' "$tmp/stage/opt/xproc/lib/pkgconfig/xproc.pc" \
    && ! readelf -S "$tmp/stage/opt/xproc/lib/libxproc.a" 2>/dev/null | grep -q '\.debug_info'; then
    pass "install.sh --no-build with DESTDIR (stripped, .pc names the PREFIX)"
else
    fail "install.sh --no-build with DESTDIR"
fi
DESTDIR="$tmp/stage" "$crate/install.sh" --uninstall /opt/xproc >/dev/null
if [ -z "$(find "$tmp/stage/opt/xproc" -type f 2>/dev/null)" ]; then
    pass "install.sh --uninstall removes every file"
else
    fail "install.sh --uninstall left: $(find "$tmp/stage/opt/xproc" -type f)"
fi

echo
if [ "$failed" -ne 0 ]; then
    printf 'failed: %s\n' "${failures[@]}"
    echo "xprocd log:"
    sed 's/^/    /' "$tmp/xprocd.log"
fi
echo "libxproc: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
