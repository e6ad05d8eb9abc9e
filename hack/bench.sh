#!/usr/bin/env bash
# make bench: runs every benchmark part in hack/bench/ (the numbered NN-*.sh; lib.sh is their shared set-up, not a
# part) in name order. Each part measures ours side by side with its reference in one run and prints a table with
# ratios; the tables are collected in build/bench/report.md (copy the numbers into docs/performance.md when they
# change).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/bench
report=build/bench/report.md
echo "# make bench — $(date -u +%Y-%m-%dT%H:%MZ) — $(nproc) cores, $(uname -r)" > "$report"
for part in hack/bench/[0-9][0-9]-*.sh; do
  [ -e "$part" ] || continue
  echo "=== $part"
  bash "$part" | tee -a "$report"
done
echo "report: $report"
