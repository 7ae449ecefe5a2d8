#!/usr/bin/env bash
# Fuzzes the wire decoder (frame check, request parsing, value validation, reply decoding)
# for SECONDS (default 60) on stable Rust, starting from the committed corpus of real
# traffic (fuzz/corpus/decode, made by `cargo run -p xproc-broker --example record_corpus --
# fuzz/corpus/decode`). Exits non-zero if any input crashes; the input is then saved under
# fuzz/artifacts/decode/ (replay it with `cargo fuzz run -s none decode FILE`).
#
# Stable Rust: `-s none` turns off the sanitizers (they need nightly's -Zsanitizer); the
# coverage instrumentation libFuzzer needs works on stable, and debug assertions stay on.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "installing cargo-fuzz (once)"
    cargo install cargo-fuzz --locked
fi

# New inputs go to a scratch corpus (the first directory); the committed seeds stay as they are.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# libFuzzer prints a line per new input (thousands a minute); keep them in a log and show its
# tail only when something went wrong, so CI output stays readable.
if ! cargo fuzz run -s none decode "$work" corpus/decode -- \
    -max_total_time="$secs" -print_final_stats=1 >"$work/fuzz.log" 2>&1; then
    tail -n 60 "$work/fuzz.log"
    echo "fuzz: FAILED (crashing input saved under fuzz/artifacts/decode/)"
    exit 1
fi

runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -1)"
rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/fuzz.log" | tail -1)"
echo "fuzz: ${runs:-?} inputs in ${secs} s (${rate:-?} per second), no crash"
