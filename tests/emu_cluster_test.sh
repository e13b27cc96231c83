#!/usr/bin/env bash
# Emulated devices (network namespaces, shaped links, CPU quotas via scripts/emu-cluster): the
# ring over real namespaced TCP must give exactly the tokens `generate` gives on one device.
# Needs root and `ip netns`; exits 77 (skipped) without them.
set -uo pipefail
bin="$1"; repo="$2"; models_dir="$3"
[ "$(id -u)" -eq 0 ] && ip netns list >/dev/null 2>&1 || { echo "needs root and ip netns"; exit 77; }
work=$(mktemp -d)
trap 'bash "$repo/scripts/emu-cluster" down --state-dir "$work/state" >/dev/null 2>&1; rm -rf "$work"' EXIT
pass=0; fail=0

profile() {  # profile N CPU% MBIT DELAY_MS [quota|pace] -> file
  local n=$1 f="$work/p$1${5:-}.json"
  { echo "{\"cpu_emulation\": \"${5:-quota}\", \"devices\": ["
    for i in $(seq 1 "$n"); do
      [ "$i" -gt 1 ] && echo ','
      echo "{\"name\": \"t$i\", \"cpu_percent\": $2, \"memory_budget\": \"256MiB\", \"bandwidth_mbit\": $3, \"threads\": 1, \"delay_ms\": $4}"
    done
    echo ']}'; } > "$f"
  echo "$f"
}

models=(stories260K/stories260K.gguf stories260K/stories260K-F16.gguf
        stories260K/stories260K-pad192-Q8_0.gguf stories260K/stories260K-pad192-Q4_0.gguf
        aidreams260K/aidreams260K.gguf tiny-random/llama-2-tiny-random.gguf
        synthetic/qwen2-64x2-random.gguf synthetic/bloom-64x3-random.gguf
        synthetic/llama-256x2-random-Q4_K_M.gguf)

run_on() {  # run_on N ADDRS MODEL [run options...]
  local n=$1 addrs=$2 rel=$3 want got; shift 3
  local model="$models_dir/$rel"
  want=$("$bin" generate -m "$model" -p "Once upon a time" -n 16 --temp 0 --ignore-eos --output-format json | jq -c .generated_ids)
  got=$(timeout 120 "$bin" run -m "$model" -p "Once upon a time" -n 16 --temp 0 --ignore-eos \
        --workers "$addrs" --listen 'tcp://10.99.0.1:*' "$@" --output-format json 2>>"$work/run.log" | jq -c .generated_ids)
  if [ -n "$want" ] && [ "$want" = "$got" ]; then
    echo "ok: $rel on $n emulated devices $*"; pass=$((pass+1))
  else
    echo "FAIL: $rel on $n devices $*: want $want got $got"; tail -5 "$work/run.log"; fail=$((fail+1))
  fi
}

for n in 2 3 4; do
  # The 3-device cluster also has 2 ms of added link delay on every device.
  p=$(profile "$n" 100 200 "$([ "$n" -eq 3 ] && echo 2 || echo 0)")
  addrs=$(bash "$repo/scripts/emu-cluster" up "$p" --binary "$bin" --state-dir "$work/state" 2>"$work/up.log" | tail -1)
  if [ -z "$addrs" ]; then echo "FAIL: emu-cluster up ($n devices)"; cat "$work/up.log"; fail=$((fail+1)); continue; fi
  for rel in "${models[@]}"; do
    [ "$rel" = tiny-random/llama-2-tiny-random.gguf ] && [ "$n" -gt 2 ] && continue  # 1 layer
    run_on "$n" "$addrs" "$rel"
  done
  # The workers served every run above; they are still alive.
  if bash "$repo/scripts/emu-cluster" status --state-dir "$work/state" >/dev/null 2>&1; then
    pass=$((pass+1))
  else
    echo "FAIL: a worker exited during the runs on $n devices"; fail=$((fail+1))
  fi
  # A cut inside a block, and weights shipped to the devices instead of mapped.
  [ "$n" -eq 3 ] && run_on "$n" "$addrs" stories260K/stories260K.gguf --split 3,6 --ship-weights
  bash "$repo/scripts/emu-cluster" down --state-dir "$work/state" >/dev/null 2>&1
done

# Paced devices (--emulate-cpu-percent: the thread pool pauses after each job): slower, same tokens.
p=$(profile 2 30 200 0 pace)
addrs=$(bash "$repo/scripts/emu-cluster" up "$p" --binary "$bin" --state-dir "$work/state" 2>"$work/up.log" | tail -1)
if [ -z "$addrs" ]; then
  echo "FAIL: emu-cluster up (2 paced devices)"; cat "$work/up.log"; fail=$((fail+1))
elif grep -q -- "--emulate-cpu-percent 30" "$work/state/t1.log.cmd"; then
  run_on 2 "$addrs" stories260K/stories260K.gguf
  run_on 2 "$addrs" synthetic/llama-256x2-random-Q4_K_M.gguf
else
  echo "FAIL: paced worker not started with --emulate-cpu-percent 30"; cat "$work/state/t1.log.cmd"; fail=$((fail+1))
fi
bash "$repo/scripts/emu-cluster" down --state-dir "$work/state" >/dev/null 2>&1

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
