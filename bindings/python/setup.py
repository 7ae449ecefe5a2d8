"""Build step of the xproc Python package: builds libxproc with cargo and bundles it.

Everything else is declared in pyproject.toml. ``pip install bindings/python`` runs this from
a clone of the repository: it finds the repository root two directories up (the Cargo
workspace), runs ``cargo build --release -p xproc-c`` there, and copies
``target/release/libxproc.so`` into the package as ``xproc/libxproc.so``, where the loader
looks first (after ``$XPROC_LIB``).

``XPROC_BUNDLE_LIB=/path/to/libxproc.so`` bundles that file instead of running cargo (for
packagers who built it already).

It also compiles ``xproc/_speedups.c``, the per-item calls (queue put/get, dict set/get) in C,
when a C compiler and Python's headers are there (Debian: ``python3-dev``). It is optional:
without it the binding makes the same calls through ctypes, a little slower.
"""

import os
import shutil
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LIB = "libxproc.so"


def build_libxproc() -> str:
    """Builds libxproc in release mode; returns the path of the shared library."""
    prebuilt = os.environ.get("XPROC_BUNDLE_LIB")
    if prebuilt:
        if not os.path.isfile(prebuilt):
            raise SystemExit(f"XPROC_BUNDLE_LIB={prebuilt!r} is not a file")
        return prebuilt
    if not os.path.isfile(os.path.join(ROOT, "Cargo.toml")) or not os.path.isdir(
        os.path.join(ROOT, "client-c")
    ):
        raise SystemExit(
            f"cannot build libxproc: {ROOT} is not the xproc repository (install from a clone, "
            "or set XPROC_BUNDLE_LIB to a built libxproc.so)"
        )
    cargo = shutil.which("cargo") or os.path.expanduser("~/.cargo/bin/cargo")
    if not os.path.isfile(cargo):
        raise SystemExit(
            "cannot build libxproc: cargo not found (install Rust from https://rustup.rs, or "
            "set XPROC_BUNDLE_LIB to a built libxproc.so)"
        )
    print(f"building libxproc: cargo build --release -p xproc-c (in {ROOT})", flush=True)
    subprocess.run([cargo, "build", "--release", "-p", "xproc-c"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    if not os.path.isabs(target):
        target = os.path.join(ROOT, target)
    path = os.path.join(target, "release", LIB)
    if not os.path.isfile(path):
        raise SystemExit(f"cargo succeeded but {path} does not exist")
    return path


class BuildPyWithLib(build_py):
    """build_py, plus libxproc.so copied into the built package."""

    def run(self) -> None:
        super().run()
        lib = build_libxproc()
        dest_dir = os.path.join(self.build_lib, "xproc")
        os.makedirs(dest_dir, exist_ok=True)
        dest = os.path.join(dest_dir, LIB)
        shutil.copyfile(lib, dest)
        os.chmod(dest, 0o755)
        # The release profile keeps line tables for backtraces; the bundled copy does not
        # need them (a tenth of the size). Best effort: skip when strip is missing.
        strip = shutil.which("strip")
        if strip:
            subprocess.run([strip, "--strip-debug", dest], check=False)


class BinaryDistribution(Distribution):
    """The wheel carries a native library: tag it for this platform, not as pure Python."""

    def has_ext_modules(self) -> bool:
        return True


# optional=True: a machine without a compiler or Python's headers still installs (ctypes only).
SPEEDUPS = Extension("xproc._speedups", sources=["xproc/_speedups.c"], optional=True)

setup(
    cmdclass={"build_py": BuildPyWithLib},
    distclass=BinaryDistribution,
    ext_modules=[SPEEDUPS],
)
