#!/usr/bin/env bash
# The cross-language matrix: every language sends every value case to every language (itself
# included) through a queue, a pipe and a dict, against one real xprocd. Builds what it needs,
# prints a table per scenario and a summary, and exits non-zero on any failure.
#
# Usage: tests/cross-language/run.sh [--langs rust,c,python,csharp] [--scenarios queue,pipe,dict]
#                                    [--timeout SECS] [--jobs N] [--verbose]
# The work is done by run.py beside this script (README.md says what is checked).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v python3 >/dev/null 2>&1; then
    echo "FAIL: python3 not found; the matrix runner needs it (Debian: apt-get install python3)" >&2
    exit 1
fi
exec python3 "$here/run.py" "$@"
