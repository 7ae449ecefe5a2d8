#!/usr/bin/env bash
# Runs the Python binding's tests against real xprocd processes.
#
#   bindings/python/run_tests.sh [--dev] [pytest args...]
#
# Builds what the tests need (release: libxproc, xprocd, the xproc CLI, the matrix_peer Rust
# program), then by default builds a wheel the standard way (`pip wheel ./bindings/python`,
# PEP 517: it builds and bundles libxproc and the C speedups), installs that wheel into a
# fresh virtualenv, and runs pytest against the installed copy. With --dev it skips the install and runs the
# package from this checkout with XPROC_LIB=target/release/libxproc.so (faster while
# working). Exits non-zero on any failure.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mode=installed
if [ "${1:-}" = "--dev" ]; then
    mode=dev
    shift
fi
python="${PYTHON:-python3}"

echo "== building libxproc, xprocd, xproc and matrix_peer (release)"
(cd "$root" && cargo build --release -p xproc-c -p xproc-broker -p xproc-cli)
(cd "$root" && cargo build --release -p xproc-tests --bin matrix_peer)
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
export XPROCD="$target/release/xprocd"
export XPROC_CLI="$target/release/xproc"
export XPROC_MATRIX_PEER="$target/release/matrix_peer"
unset XPROC_SOCKET

# uvloop: test_aio.py runs the asyncio client on it too (a missing one fails, never skips).
if ! "$python" -c "import msgpack, pytest, uvloop" 2>/dev/null; then
    echo "== installing msgpack, pytest and uvloop"
    "$python" -m pip install --quiet --disable-pip-version-check msgpack pytest uvloop
fi

if [ "$mode" = dev ]; then
    echo "== running the tests on the checkout (XPROC_LIB=$target/release/libxproc.so)"
    export XPROC_LIB="$target/release/libxproc.so"
    cd "$here"
    exec "$python" -m pytest -q "$@" tests
fi

venv="$(mktemp -d /tmp/xproc-pyvenv.XXXXXX)"
trap 'rm -rf "$venv"' EXIT
echo "== pip wheel ./bindings/python (PEP 517), then install that wheel into a fresh virtualenv ($venv)"
# --system-site-packages only lends pytest to the venv; the package and its msgpack
# requirement are installed by pip as on a user's machine. `pip install ./bindings/python`
# makes the same wheel through the same PEP 517 build and installs it.
"$python" -m venv --system-site-packages "$venv"
"$venv/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$venv/wheels" "$here"
wheel="$(ls "$venv"/wheels/xproc-*.whl)"
# The wheel must carry libxproc and the C speedups: a user's machine has neither cargo nor
# the repository.
"$venv/bin/python" - "$wheel" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
for want in ("xproc/libxproc.so", "xproc/_speedups."):
    if not any(n.startswith(want) for n in names):
        sys.exit(f"FAIL: the wheel {sys.argv[1]} has no {want}*: {names}")
print(f"ok: {sys.argv[1].rsplit('/', 1)[-1]} holds libxproc.so and the C speedups")
PY
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel"
unset XPROC_LIB
export XPROC_TEST_INSTALLED=1
echo "== running the tests on the installed package"
# Run from outside the source tree so that `import xproc` finds the installed copy.
cd "$venv"
"$venv/bin/python" -m pytest -q -c "$here/pyproject.toml" --rootdir "$here" "$@" "$here/tests"
# pip built the C speedups (test_native checks they serve the calls); the ctypes fallback
# that machines without a compiler get must pass the per-item tests too.
echo "== again without the C speedups (XPROC_NO_SPEEDUPS=1): the ctypes fallback"
# (test_native's check of the C module's own argument errors is left out, not skipped: this
# run turns that module off; the run above covers it.)
XPROC_NO_SPEEDUPS=1 "$venv/bin/python" -m pytest -q -c "$here/pyproject.toml" --rootdir "$here" \
    --deselect tests/test_native.py::test_the_speedups_refuse_bad_arguments_without_crashing \
    "$@" "$here/tests/test_queue.py" "$here/tests/test_dict.py" "$here/tests/test_interrupt.py" \
    "$here/tests/test_native.py"
