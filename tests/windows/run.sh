#!/usr/bin/env bash
# The Windows step of CI: cross-compiles the workspace for x86_64-pc-windows-gnu and runs the
# broker's and the Rust client's tests under Wine, with real xprocd.exe and client .exe
# processes talking over named pipes, then a C program built with mingw against xproc.h +
# xproc.dll.
#
# Works on a fresh Debian 12 machine: installs what it needs (Debian's rustc-web 1.96 and its
# std sources, mingw-w64, Wine 8). rustup cannot fetch targets here, so the Windows std is built
# from source (-Zbuild-std, with RUSTC_BOOTSTRAP=1: Debian's compiler is a stable one); the
# -Zbuild-std flag stays on the command line so Linux builds never see it. Wine 8 has no
# bcryptprimitives.dll, which Rust std imports ProcessPrng from: a stand-in built from
# bcryptprimitives.c (here) goes into the Wine prefix, which lives under target/wine.
#
#   tests/windows/run.sh            # everything
#   tests/windows/run.sh --no-test  # install, prefix and build only
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=$root/tests/windows
target=x86_64-pc-windows-gnu

t0=$(date +%s)
stamp() { printf '[windows %4ss] %s\n' "$(($(date +%s) - t0))" "$*"; }

# 1. Tools. Debian's rust (not rustup's) is used for this step only, named by full path.
need=()
for pkg in rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64 wine64 wine; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  stamp "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
stamp "tools ready"

cargo=/usr/bin/cargo
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
# C compiled by build scripts (ring's, for rustls) is mingw's too.
export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
export WINEPREFIX=$root/target/wine/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
# Debian's rustc does not read rustup's toolchain files or flags meant for Linux builds.
unset RUSTFLAGS CARGO_BUILD_TARGET RUSTUP_TOOLCHAIN
# Line tables only (backtraces keep file:line): full debug info makes each test .exe 35-90 MB,
# which Wine loads into memory on every process start.
export CARGO_PROFILE_DEV_DEBUG=line-tables-only
build=(-Zbuild-std=std,panic_abort --target "$target")

# 2. The Wine prefix, once (kept under target/ between runs), with the stand-in DLL.
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  stamp "creating the Wine prefix"
  mkdir -p "$WINEPREFIX"
  wineboot -i >/dev/null 2>&1 || true
  wineserver -w
fi
dll=$root/target/wine/bcryptprimitives.dll
if [ ! -f "$dll" ] || [ "$here/bcryptprimitives.c" -nt "$dll" ]; then
  x86_64-w64-mingw32-gcc -shared -O2 -s -o "$dll" \
    "$here/bcryptprimitives.c" "$here/bcryptprimitives.def" -ladvapi32
fi
cp "$dll" "$WINEPREFIX/drive_c/windows/system32/"
# One wineserver for the whole run: each process then starts in ~0.1 s instead of ~0.5 s.
wineserver -p
trap 'wineserver -k 2>/dev/null || true' EXIT
stamp "wine prefix ready"

# 3. Build: std from source (once per profile), then the workspace's Windows binaries.
nice -n 10 "$cargo" build "${build[@]}" -p xproc-broker -p xproc-cli -p xproc-tests -p xproc-c --bins --lib
stamp "built xprocd.exe, xproc.exe, the test workers and xproc.dll"
[ "${1:-}" = "--no-test" ] && exit 0

# 4. Tests under Wine. The Rust test binaries are Windows programs that start Windows xprocd.exe
# and worker processes; every test has its own pipe name. What cannot run on Windows is gated
# where it is: a Unix-only test file says so at its top (#![cfg(unix)]), a Unix-only test has
# #[cfg(unix)] on its fn. --no-fail-fast: one run reports every failing file.
run_tests() {
  nice -n 10 "$cargo" test "${build[@]}" --no-fail-fast "$@" -- --test-threads=2
}
stamp "broker tests (unit; raw frames against xprocd.exe)"
run_tests -p xproc-broker --tests
stamp "Rust client tests (unit; cross-process: xprocd.exe and worker .exe processes)"
run_tests -p xproc -p xproc-tests --tests
stamp "C program against xproc.dll"
"$here/c_test.sh" "$root/target/$target/debug"
stamp "windows: all passed"
