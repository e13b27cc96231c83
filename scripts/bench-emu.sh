#!/usr/bin/env bash
# Benchmarks the ring on emulated devices: brings up scripts/emu-cluster with PROFILE, runs
# `lingualinked bench` once against those workers, which measures one device, then profiles the
# devices and links once and runs every placement asked for (default: even, memory-proportional,
# solved for throughput and for latency) with 1, 2 and 4 requests in flight, printing measured
# and predicted tokens/s and ratios against the even split; then tears the cluster down, also on
# failure. Needs root.
#   scripts/bench-emu.sh PROFILE.json MODEL.gguf [bench options, e.g. -p 8 -n 64 -r 3 --output-format json]
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 PROFILE.json MODEL.gguf [bench options]" >&2; exit 2; }
profile=$1; model=$2; shift 2
bin=${LINGUALINKED_BIN:-build/release/src/cli/lingualinked}
[ -x "$bin" ] || { echo "error: $bin not built (cmake --preset release && cmake --build --preset release)" >&2; exit 1; }
state=$(mktemp -d)
trap 'bash scripts/emu-cluster down --state-dir "$state" >/dev/null 2>&1; rm -rf "$state"' EXIT
addrs=$(bash scripts/emu-cluster up "$profile" --binary "$bin" --state-dir "$state" | tail -1)
echo "devices: $addrs" >&2
# Every placement and both objectives unless the options given choose (bench appends repeated
# list options rather than replacing them).
defaults=()
[[ " $* " == *" --placement"* ]] || defaults+=(--placement even,memory,solved)
[[ " $* " == *" --objective"* ]] || defaults+=(--objective latency,throughput)
"$bin" bench -m "$model" --workers "$addrs" --listen 'tcp://10.99.0.1:*' "${defaults[@]}" "$@"
