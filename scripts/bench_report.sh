#!/usr/bin/env bash
# Report benchmark: builds a 10,000-run store (Tests/RecHarnessTests/ReportBenchmarkStore.swift), then
# times `rectune report` end to end for every format (wall, user, sys seconds; the store load included).
# Prints figures only; nothing is asserted.
#   scripts/bench_report.sh [STORE_PATH] [RUNS]      (after `swift build -c release -Xswiftc -enable-testing --build-tests`)
set -euo pipefail
cd "$(dirname "$0")/.."
store="${1:-/tmp/rectune-bench-report.sqlite}"
runs="${2:-10000}"
bin=.build/release/rectune
[ -x "$bin" ] || { echo "build first: swift build -c release -Xswiftc -enable-testing --build-tests" >&2; exit 2; }
RECTUNE_BENCH_STORE="$store" RECTUNE_BENCH_RUNS="$runs" \
  swift test -c release -Xswiftc -enable-testing --skip-build --filter ReportBenchmarkStore 2>&1 | grep -E "built|bench report" || true
echo "rectune report on $store ($runs runs), $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
out="$(mktemp -d)"
for f in text md html csv csv-wide json ipynb; do
  /usr/bin/time -f "  $f: %e s wall, %U s user, %S s sys" "$bin" report --db "$store" big --format "$f" --out "$out/report.$f" 2>&1 \
    | grep -v '^wrote'
done
rm -rf "$out"
