#!/usr/bin/env bash
# One command for the whole benchmark: builds, installs what is missing, starts its own servers,
# runs every scenario interleaved, writes bench/results/latest.{md,json,png}. See run.py --help.
set -euo pipefail
exec python3 "$(dirname "$0")/run.py" "$@"
