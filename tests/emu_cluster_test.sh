#!/usr/bin/env bash
# Emulated devices (network namespaces, shaped links, CPU quotas via scripts/emu-cluster): the
# ring over real namespaced TCP must give exactly the tokens `generate` gives on one device.
# Needs root and `ip netns`; exits 77 (skipped) without them.
set -uo pipefail
bin="$1"; repo="$2"; models="$3"
[ "$(id -u)" -eq 0 ] && ip netns list >/dev/null 2>&1 || { echo "needs root and ip netns"; exit 77; }
work=$(mktemp -d)
trap 'bash "$repo/scripts/emu-cluster" down --state-dir "$work/state" >/dev/null 2>&1; rm -rf "$work"' EXIT
pass=0; fail=0

profile() {  # profile N CPU% MBIT -> file
  local n=$1 f="$work/p$1.json"
  { echo '{"devices": ['
    for i in $(seq 1 "$n"); do
      [ "$i" -gt 1 ] && echo ','
      echo "{\"name\": \"t$i\", \"cpu_percent\": $2, \"memory_budget\": \"256MiB\", \"bandwidth_mbit\": $3, \"threads\": 1}"
    done
    echo ']}'; } > "$f"
  echo "$f"
}

check() {  # check MODEL N SPLIT
  local model="$models/$1" n=$2 split=$3 p addrs want got
  p=$(profile "$n" 100 200)
  addrs=$(bash "$repo/scripts/emu-cluster" up "$p" --binary "$bin" --state-dir "$work/state" 2>"$work/up.log" | tail -1)
  if [ -z "$addrs" ]; then echo "FAIL: emu-cluster up"; cat "$work/up.log"; fail=$((fail+1)); return; fi
  want=$("$bin" generate -m "$model" -p "Once upon a time" -n 24 --temp 0 --ignore-eos --output-format json | jq -c .generated_ids)
  local extra=(); [ -n "$split" ] && extra=(--split "$split")
  got=$(timeout 120 "$bin" run -m "$model" -p "Once upon a time" -n 24 --temp 0 --ignore-eos \
        --workers "$addrs" --listen 'tcp://10.99.0.1:*' "${extra[@]}" --output-format json | jq -c .generated_ids)
  if [ -n "$want" ] && [ "$want" = "$got" ]; then
    echo "ok: $1 on $n emulated devices ${split:+(split $split)}"; pass=$((pass+1))
  else
    echo "FAIL: $1 on $n devices: want $want got $got"; fail=$((fail+1))
  fi
  bash "$repo/scripts/emu-cluster" down --state-dir "$work/state" >/dev/null 2>&1
}

check stories260K/stories260K.gguf 2 ""
check stories260K/stories260K.gguf 3 "3,6"
check synthetic/qwen2-64x2-random.gguf 4 ""
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
