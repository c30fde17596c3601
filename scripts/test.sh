#!/usr/bin/env bash
# Runs every check telemit has: formatting, lints, all tests (real InfluxDB,
# VictoriaMetrics, Prometheus and Pushgateway servers included), and a build of the benchmarks.
# Installs what it needs on a fresh Debian machine (run as root, or with the servers present).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

missing=()
command -v influxd >/dev/null || missing+=(influxdb)
command -v victoria-metrics >/dev/null || missing+=(victoria-metrics)
# prometheus brings promtool.
{ command -v prometheus && command -v promtool; } >/dev/null || missing+=(prometheus)
command -v prometheus-pushgateway >/dev/null || missing+=(prometheus-pushgateway)
if ((${#missing[@]})); then
  step "installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "need root to apt-get install ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Packaged services must not run: tests start their own servers on free ports.
for service in influxdb victoria-metrics prometheus prometheus-pushgateway; do
  (command -v systemctl >/dev/null && systemctl stop "$service" 2>/dev/null) || true
done

if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  step "installing rustfmt and clippy"
  rustup component add rustfmt clippy
fi

# Servers are part of the suite: a missing one fails the tests instead of skipping them.
export TELEMIT_REQUIRE_SERVERS=1

step "cargo fmt --check"
cargo fmt --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

step "cargo doc (broken doc links fail)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet

step "cargo test"
cargo test --quiet

step "cargo bench --no-run"
cargo bench --no-run --quiet

step "all checks passed"
