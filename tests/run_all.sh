#!/usr/bin/env bash
# Runs every test of the project, in every language, against real xprocd processes.
# This is the README's test command; .ci/run calls it after installing the toolchains.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s ===\n' "$*"; }

step "build (debug: tests; release: the broker and libxproc the other languages load)"
cargo build --workspace --all-targets
cargo build --release -p xproc-broker -p xproc-cli

step "Rust: unit, protocol, broker raw-byte and cross-process tests"
cargo test --workspace

step "conformance: raw frames written from docs/PROTOCOL.md, against xprocd (Python, msgpack only)"
XPROCD="${CARGO_TARGET_DIR:-target}/release/xprocd" ./tests/conformance/run.sh

step "fuzz: the frame and request decoder for 60 s (cargo-fuzz on stable; any crash fails)"
./fuzz/run.sh 60

step "C: libxproc tests (shared, static, valgrind, pkg-config)"
./client-c/tests/run_c_tests.sh

step "Python: pip wheel ./bindings/python (PEP 517), the wheel installed into a fresh venv, then pytest"
./bindings/python/run_tests.sh

step "C#: the XProc binding's test program (mcs + mono)"
./bindings/csharp/run_tests.sh

step "Go: the cgo package over libxproc (go vet, go test)"
./bindings/go/run_tests.sh

step "Java: the JNA binding (mvn test, JUnit 5; Maven fetches JNA and JUnit from Maven Central)"
./bindings/java/run_tests.sh

step "Node.js: the koffi binding (npm install from the npm registry, tsc, node --test)"
./bindings/node/run_tests.sh

step "cross-language matrix: every value type, every ordered pair of Rust, C, Python, C#, Go, Java, Node.js"
./tests/cross-language/run.sh

step "Windows: cross-compiled; the broker and Rust client suites and a C program (mingw) under Wine"
./tests/windows/run.sh

step "examples: master/worker in C, and in Python + C# + C + Rust + Go + Java + Node.js at once"
make -C examples/c run
./examples/master-worker/run.sh

step "examples: the notes' task_master.py over TCP, C#/Rust/C workers in another network namespace (root, iproute2)"
./examples/distributed/run.sh

echo
echo "all tests passed"
