#!/usr/bin/env bash
# Installs libxproc under PREFIX (default /usr/local), building it first unless --no-build:
#
#   PREFIX/lib/libxproc.so.VERSION, with the symlinks libxproc.so.0 (its SONAME) and libxproc.so
#   PREFIX/lib/libxproc.a
#   PREFIX/include/xproc.h
#   PREFIX/lib/pkgconfig/xproc.pc          shared:  pkg-config --cflags --libs xproc
#   PREFIX/lib/pkgconfig/xproc-static.pc   static:  pkg-config --cflags --libs xproc-static
#
# Usage: client-c/install.sh [--no-build] [--uninstall] [PREFIX]
#
#   --no-build   install what target/release already holds (a tree built earlier, or on
#                another machine): no cargo needed
#   --uninstall  remove exactly the files above (and the directories left empty)
#   DESTDIR=DIR  stage under DIR (packaging): files go to DIR/PREFIX, the .pc files say PREFIX
#
# The shipped libraries are stripped of debug info (the release profile keeps it, debug = 1,
# for profiling; that made libxproc.a ~35 MB); their symbols stay.
set -euo pipefail

crate="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$crate")"
build=1
action=install
prefix=/usr/local
for arg in "$@"; do
    case "$arg" in
        --no-build) build=0 ;;
        --uninstall) action=uninstall ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        -*) echo "install.sh: unknown option $arg" >&2; exit 2 ;;
        *) prefix="$arg" ;;
    esac
done
case "$prefix" in /*) ;; *) prefix="$(pwd)/$prefix" ;; esac
dest="${DESTDIR:-}$prefix"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)"
files=(
    "lib/libxproc.so.$version" lib/libxproc.so.0 lib/libxproc.so lib/libxproc.a
    include/xproc.h lib/pkgconfig/xproc.pc lib/pkgconfig/xproc-static.pc
)

if [ "$action" = uninstall ]; then
    for f in "${files[@]}"; do
        rm -f "$dest/$f"
    done
    for d in lib/pkgconfig include lib; do
        rmdir "$dest/$d" 2>/dev/null || true
    done
    echo "uninstalled libxproc $version from $dest"
    exit 0
fi

if [ "$build" = 1 ]; then
    (cd "$root" && cargo build --release -p xproc-c)
fi
target="${CARGO_TARGET_DIR:-$root/target}/release"
for f in libxproc.so libxproc.a; do
    if [ ! -f "$target/$f" ]; then
        echo "install.sh: $target/$f is missing; build it (cargo build --release -p xproc-c)" \
             "or run without --no-build" >&2
        exit 1
    fi
done

install -d "$dest/lib/pkgconfig" "$dest/include"
install -m 0755 "$target/libxproc.so" "$dest/lib/libxproc.so.$version"
install -m 0644 "$target/libxproc.a" "$dest/lib/libxproc.a"
if command -v strip >/dev/null 2>&1; then
    strip --strip-debug "$dest/lib/libxproc.so.$version" "$dest/lib/libxproc.a"
fi
ln -sf "libxproc.so.$version" "$dest/lib/libxproc.so.0"
ln -sf libxproc.so.0 "$dest/lib/libxproc.so"
install -m 0644 "$crate/include/xproc.h" "$dest/include/xproc.h"
for pc in xproc xproc-static; do
    sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" "$crate/$pc.pc.in" \
        >"$dest/lib/pkgconfig/$pc.pc"
done
echo "installed libxproc $version under $dest"
