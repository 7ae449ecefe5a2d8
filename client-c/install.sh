#!/usr/bin/env bash
# Installs libxproc under PREFIX (default /usr/local), building it first:
#
#   PREFIX/lib/libxproc.so.VERSION, with the symlinks libxproc.so.0 (its SONAME) and libxproc.so
#   PREFIX/lib/libxproc.a
#   PREFIX/include/xproc.h
#   PREFIX/lib/pkgconfig/xproc.pc
#
# Usage: client-c/install.sh [PREFIX]     (then: pkg-config --cflags --libs xproc)
set -euo pipefail

crate="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$crate")"
prefix="${1:-/usr/local}"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)"

(cd "$root" && cargo build --release -p xproc-c)
target="${CARGO_TARGET_DIR:-$root/target}/release"

install -d "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0755 "$target/libxproc.so" "$prefix/lib/libxproc.so.$version"
ln -sf "libxproc.so.$version" "$prefix/lib/libxproc.so.0"
ln -sf libxproc.so.0 "$prefix/lib/libxproc.so"
install -m 0644 "$target/libxproc.a" "$prefix/lib/libxproc.a"
install -m 0644 "$crate/include/xproc.h" "$prefix/include/xproc.h"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" "$crate/xproc.pc.in" \
    >"$prefix/lib/pkgconfig/xproc.pc"
echo "installed libxproc $version under $prefix"
