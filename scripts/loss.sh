#!/usr/bin/env bash
# The loss experiment: overload a socket with `telemit bench` and count, with `telemit listen`
# on the other end, how many readings arrive. Prints one table row per case.
#
#   scripts/loss.sh [RATE ...]                 rates in readings/s (default: 100000 300000 max)
#   LOSS_TRANSPORTS="udp unixgram tcp"         which transports to try
#   LOSS_BUFFERS="default 8388608"             listen --read-buffer-size values (SO_RCVBUF)
#   LOSS_SECONDS=5                             how long each case sends
#
# Raising the buffer beyond net.core.rmem_max has no effect until rmem_max is raised too
# (as root: sysctl -w net.core.rmem_max=8388608); the table's "socket buffer" column shows
# what the kernel granted.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/telemit
rates=("${@:-100000 300000 max}")
read -r -a rates <<<"${rates[*]}"
seconds=${LOSS_SECONDS:-5}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

echo "net.core.rmem_max = $(cat /proc/sys/net/core/rmem_max), rmem_default = $(cat /proc/sys/net/core/rmem_default), $(nproc) cores"
echo
echo "| transport | rate asked | socket buffer | sent/s | written | arrived | lost | lost % | dropped by sender |"
echo "|---|---|---|---|---|---|---|---|---|"
port=$((20000 + RANDOM % 20000))
for transport in ${LOSS_TRANSPORTS:-udp unixgram tcp}; do
  for buffer in ${LOSS_BUFFERS:-default 8388608}; do
    for rate in "${rates[@]}"; do
      case $transport in
        udp) endpoint=udp://127.0.0.1:$port ;;
        tcp) endpoint=tcp://127.0.0.1:$port ;;
        unixgram) endpoint=unixgram://$dir/telemit.sock ;;
      esac
      listen_args=(listen --on "$endpoint" --quiet)
      [[ $buffer != default ]] && listen_args+=(--read-buffer-size "$buffer")
      "$bin" "${listen_args[@]}" 2>"$dir/listen.log" &
      listener=$!
      sleep 0.5
      "$bin" bench --to "$endpoint" --rate "$rate" --duration "${seconds}s" --json --quiet \
        >"$dir/bench.json" || true
      sleep 1
      kill -INT "$listener"
      wait "$listener" || true
      field() { grep -o "\"$1\":[0-9.]*" "$dir/bench.json" | head -1 | cut -d: -f2; }
      written=$(field written)
      sent=$(field sent)
      sending=$(field sending_seconds)
      dropped=$(field dropped)
      granted=$(grep -o 'socket receive buffer [0-9]*' "$dir/listen.log" | grep -o '[0-9]*$' || echo "-")
      arrived=$(grep -o '[0-9]* distinct' "$dir/listen.log" | grep -o '^[0-9]*' || echo 0)
      lost=$((written - arrived))
      awk -v t="$transport" -v r="$rate" -v b="${granted:--}" -v s="$sent" -v d="$sending" \
          -v w="$written" -v a="$arrived" -v l="$lost" -v x="$dropped" 'BEGIN {
        printf "| %s | %s | %s | %.0f | %d | %d | %d | %.2f %% | %d |\n",
          t, r, b, s / d, w, a, l, (w > 0 ? 100 * l / w : 0), x }'
      port=$((port + 1))
    done
  done
done
