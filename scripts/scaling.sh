#!/usr/bin/env bash
# How telemit's cost grows with the work: readings/s, CPU per reading and peak RSS of
# `telemit bench` at 1, 10 and 100 tags and fields per reading, and at 1 000, 100 000 and
# 10 000 000 readings. Readings go to standard output, thrown away, so the figures are
# telemit's own (generate, encode, queue, write) and not a receiver's.
#
#   scripts/scaling.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/telemit

row() { # label, then bench arguments
  local label=$1
  shift
  local json
  json=$("$bin" bench --to - --quiet --json "$@" 2>&1 >/dev/null)
  field() { grep -o "\"$1\":[0-9.]*" <<<"$json" | head -1 | cut -d: -f2; }
  awk -v l="$label" -v w="$(field written)" -v r="$(field readings_per_second)" \
      -v b="$(field bytes)" -v c="$(field cpu_seconds)" -v m="$(field peak_rss_kib)" 'BEGIN {
    printf "| %s | %d | %.0f | %.0f | %.0f | %.1f |\n", l, w, b / w, r, 1e9 * c / w, m / 1024 }'
}

echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo
echo "| shape | readings | bytes each | readings/s | CPU ns each | peak RSS MiB |"
echo "|---|---|---|---|---|---|"
for n in 1 10 100; do
  row "$n tags, $n fields" --tags "$n" --fields "$n" --count 1000000
done
for count in 1000 100000 10000000; do
  row "3 tags, 3 fields" --count "$count"
done
