#!/usr/bin/env bash
# Runs the Java binding's tests (JUnit 5 under mvn test) against real xprocd processes.
#
#   bindings/java/run_tests.sh [mvn args...]
#
# Builds libxproc and xprocd (release), then `mvn test` with the tests pointed at them
# (-Dxprocd, -Dxproc.library.path); every test starts its own xprocd on a temporary socket.
# Maven fetches JNA, JUnit and its plugins from Maven Central (the pom pins every version).
# Then checks that a missing libxproc fails with the error that names both ways to give it.
# A missing java or mvn fails.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
for tool in java mvn; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "FAIL: $tool not found; the Java binding needs a JDK 17+ and Maven" >&2
        exit 1
    fi
done

echo "== building libxproc and xprocd (release)"
(cd "$root" && cargo build --release -p xproc-c -p xproc-broker)
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac

cd "$here"
echo "== mvn test"
mvn -B -ntp test -Dxprocd="$target/release/xprocd" \
    -Dxproc.library.path="$target/release/libxproc.so" "$@"

echo "== a missing libxproc: the error names -Dxproc.library.path and java.library.path"
mvn -B -q -ntp dependency:build-classpath -Dmdep.outputFile=target/classpath.txt >/dev/null
cp="target/classes:$(cat target/classpath.txt)"
if out="$(env -u XPROC_LIB LD_LIBRARY_PATH= java -Djava.library.path=/nonexistent -cp "$cp" xproc.Version 2>&1)"; then
    echo "FAIL: xproc.Version succeeded without libxproc: $out" >&2
    exit 1
fi
case "$out" in
    *xproc.library.path*java.library.path*) echo "ok: $out" | head -c 300; echo ;;
    *) echo "FAIL: the missing-library error does not name both ways: $out" >&2; exit 1 ;;
esac
out="$(java -Dxproc.library.path="$target/release/libxproc.so" -cp "$cp" xproc.Version)"
[ "${out#libxproc }" != "$out" ] || { echo "FAIL: xproc.Version printed: $out" >&2; exit 1; }
echo "ok: $out"
