#!/usr/bin/env bash
# `make bench`: every benchmark in bench/, each printing its figures as JSON lines.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in bench/*_bench.py; do
  echo "== $b"
  .venv/bin/python "$b"
done
