#!/usr/bin/env bash
# Link faults on emulated devices (scripts/emu-cluster; docs/reliability.md): during a run on 3
# devices, one device's link is cut with `ip link set down` for longer than the device timeout
# and brought back, and in another run it stalls for less than the timeout. Either way the run
# must give exactly the tokens `generate` gives on one device; the long cut must be noticed
# (the device taken for dead and the ring assigned again), the short stall must not.
# Needs root and `ip netns`; exits 77 (skipped) without them.
set -uo pipefail
bin="$1"; repo="$2"; models_dir="$3"
[ "$(id -u)" -eq 0 ] && ip netns list >/dev/null 2>&1 || { echo "needs root and ip netns"; exit 77; }
work=$(mktemp -d)
trap 'ip link set ll-t2-h up 2>/dev/null; bash "$repo/scripts/emu-cluster" down --state-dir "$work/state" >/dev/null 2>&1; rm -rf "$work"' EXIT
pass=0; fail=0
check() {  # check DESCRIPTION COMMAND...
  if "${@:2}"; then echo "ok: $1"; pass=$((pass+1)); else echo "FAIL: $1"; fail=$((fail+1)); fi
}

# 3 devices with 4 ms of link delay each, so that 490 tokens take about 8 s.
cat >"$work/p.json" <<'JSON'
{"devices": [
  {"name": "t1", "cpu_percent": 100, "memory_budget": "256MiB", "bandwidth_mbit": 200, "threads": 1, "delay_ms": 4},
  {"name": "t2", "cpu_percent": 100, "memory_budget": "256MiB", "bandwidth_mbit": 200, "threads": 1, "delay_ms": 4},
  {"name": "t3", "cpu_percent": 100, "memory_budget": "256MiB", "bandwidth_mbit": 200, "threads": 1, "delay_ms": 4}
]}
JSON
addrs=$(bash "$repo/scripts/emu-cluster" up "$work/p.json" --binary "$bin" --state-dir "$work/state" 2>"$work/up.log" | tail -1)
[ -n "$addrs" ] || { echo "FAIL: emu-cluster up"; cat "$work/up.log"; exit 1; }
model="$models_dir/stories260K/stories260K.gguf"
want=$("$bin" generate -m "$model" -p "Once upon a time" -n 490 --temp 0 --ignore-eos -c 512 \
       --output-format json | jq -c .generated_ids)

# fault_run TAG DOWN_AFTER_S DOWN_FOR_S: a run during which t2's link is down for a while.
fault_run() {
  local tag=$1 after=$2 for_s=$3
  timeout 120 "$bin" run -m "$model" -p "Once upon a time" -n 490 --temp 0 --ignore-eos -c 512 \
    --workers "$addrs" --listen 'tcp://10.99.0.1:*' --placement even --balance off \
    --output-format json >"$work/$tag.json" 2>"$work/$tag.log" &
  local pid=$!
  sleep "$after"; ip link set ll-t2-h down
  sleep "$for_s"; ip link set ll-t2-h up
  wait "$pid"
}

fault_run cut 1.0 2.6
got=$(jq -c .generated_ids "$work/cut.json" 2>/dev/null)
check "a link cut for 2.6 s: the run gives the single-device tokens" test "$want" = "$got"
check "the cut device is taken for dead" grep -q "device t2 .* is down: sent no heartbeat" "$work/cut.log"
check "the ring is assigned again on the others" grep -q "plan 1 on the devices left" "$work/cut.log"
check "the cut device is taken back once its link is up" grep -q "device t2 .* is back" "$work/cut.log"
[ "$fail" -eq 0 ] || tail -20 "$work/cut.log"

fault_run stall 1.5 0.8
got=$(jq -c .generated_ids "$work/stall.json" 2>/dev/null)
check "a link stalled for 0.8 s: the run gives the single-device tokens" test "$want" = "$got"
check "a stall shorter than the timeout is no death" bash -c "! grep -q 'is down' '$work/stall.log'"
[ "$fail" -eq 0 ] || tail -20 "$work/stall.log"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
