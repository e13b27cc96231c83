#!/usr/bin/env bash
# The runtime load balancer's benchmark (docs/balancing.md, Benchmark): on emulated devices, one
# device's CPU quota is cut in the middle of a generation and restored later, from outside the
# worker (scripts/emu-cluster cpu), with the balancer off and on, 1 and 4 requests in flight;
# then a ring freshly planned for the slowed cluster runs for comparison. Prints tokens/s before,
# during and after the cut per run, and the on/off ratios. Needs root.
#   scripts/bench-balance.sh [PROFILE.json] [MODEL.gguf] [--json FILE] [--rounds K]
#                            [--device NAME] [--cut PERCENT] [--keep DIR]
# PROFILE defaults to scripts/emu-profiles/balance3.json; MODEL to a random llama written by
# make-random-gguf into a temporary folder. --device: the device slowed (default: at each cut,
# the one running the most of the model in that run's ring); --cut: its CPU share during the cut, in percent of what it had (default 40);
# --rounds: runs of each scenario (medians are printed); --json: also write the figures there;
# --keep: leave every run's JSON output and log in DIR.
# BENCH_RUN replaces "lingualinked run" (word-split), e.g. with a stand-in printing the same JSON.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=scripts/emu-profiles/balance3.json
model=""
json_out=""
rounds=1
device=""
cut=40
keep=""
positional=()
while [ $# -gt 0 ]; do
  case $1 in
    --json) json_out=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --cut) cut=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) positional+=("$1"); shift ;;
  esac
done
[ ${#positional[@]} -le 2 ] || { echo "error: at most PROFILE and MODEL (see --help)" >&2; exit 2; }
[ ${#positional[@]} -ge 1 ] && profile=${positional[0]}
[ ${#positional[@]} -ge 2 ] && model=${positional[1]}
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "error: --rounds must be a positive integer" >&2; exit 2; }
if ! [[ "$cut" =~ ^[0-9]+$ ]] || [ "$cut" -lt 1 ] || [ "$cut" -gt 99 ]; then
  echo "error: --cut must be an integer percent in [1, 99]" >&2; exit 2
fi

bin=${LINGUALINKED_BIN:-build/release/src/cli/lingualinked}
[ -x "$bin" ] || { echo "error: $bin not built (cmake --build --preset release)" >&2; exit 1; }
read -r -a run_cmd <<<"${BENCH_RUN:-$bin run}"
report=(python3 scripts/bench-balance-report.py)
say() { echo "bench-balance: $*" >&2; }
now() { date +%s.%N; }
# Sleeps until the wall clock reaches $1 (seconds since the epoch).
sleep_until() { python3 -c 'import sys, time; time.sleep(max(0.0, float(sys.argv[1]) - time.time()))' "$1"; }
add() { python3 -c 'import sys; print(sum(map(float, sys.argv[1:])))' "$@"; }

work=$(mktemp -d /tmp/ll-bench-balance.XXXXXX)
state="$work/state"
cleanup() {
  bash scripts/emu-cluster down --state-dir "$state" >/dev/null 2>&1 || true
  if [ -n "$keep" ]; then mkdir -p "$keep" && cp "$work"/*.json "$work"/*.err "$work"/*.jsonl "$keep"/ 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "$model" ]; then
  gen=${LINGUALINKED_MAKE_GGUF:-build/release/tools/make-random-gguf}
  [ -x "$gen" ] || { echo "error: $gen not built (cmake --build --preset release)" >&2; exit 1; }
  model="$work/llama-768x12-q8_0.gguf"
  say "writing $model"
  "$gen" --arch llama --n-embd 768 --n-layer 12 --n-head 12 --n-head-kv 4 --n-ff 2048 --type q8_0 \
    --vocab-from ../shared/models/vocab/ggml-vocab-llama-spm.gguf -o "$model" >/dev/null 2>&1 ||
    { echo "error: $gen could not write the model" >&2; exit 1; }
fi
[ -f "$model" ] || { echo "error: no model file $model" >&2; exit 1; }

addrs=$(bash scripts/emu-cluster up "$profile" --binary "$bin" --state-dir "$state" | tail -1)
say "devices: $addrs"
cluster="$state/cluster.json"
# quota NAME: sets $had (the device's CPU share, an unlimited one: all its threads' cores) and
# $slowed (the cut's share of it), in percent of a core.
quota() {
  had=$(jq -r --arg n "$1" '.devices[] | select(.name == $n) | .cpu_percent' "$cluster")
  local threads
  threads=$(jq -r --arg n "$1" '.devices[] | select(.name == $n) | .threads' "$cluster")
  [ -n "$had" ] || { echo "error: no device $1 in $profile" >&2; exit 2; }
  slowed=$(jq -n --argjson h "$had" --argjson t "$threads" --argjson c "$cut" \
    '(if $h == 0 or $h > 100 * $t then 100 * $t else $h end) * $c / 100')
  [ "$had" = 0 ] && had=$((100 * threads))
  return 0
}
[ -z "$device" ] || quota "$device"
say "slowing ${device:-the busiest device of the ring at each cut} to ${cut}% of its CPU share"

cut_at=""       # wall clock of the last quota change
set_cpu() {
  bash scripts/emu-cluster cpu "$1" "$2" --state-dir "$state"
  cut_at=$(now)
}
declare -A slowed_at  # in-flight count -> the device its last balanced run slowed

# run_one KIND INFLIGHT BALANCE ROUND N T1 T2 STARTUP [extra flags...]: one generation in the
# background; unless T1 is "", a device is slowed T1 seconds after generation starts (STARTUP
# seconds after the launch) and restored at T2: --device, else the one running the most of
# the model in the run's ring at that moment (from its log), so that the cut always hits the
# ring, whatever plan the balancer chose before it. Appends its line to $work/KIND.jsonl.
run_one() {
  local kind=$1 inflight=$2 balance=$3 round=$4 n=$5 t1=${6:-} t2=${7:-} startup=${8:-}
  shift 8
  local tag="$kind-$inflight-$balance-$round" launch pid cut_wall=null back_wall=null dev=""
  local cmd=("${run_cmd[@]}" -m "$model" --workers "$addrs" --listen 'tcp://10.99.0.1:*'
    --balance "$balance" --requests "$inflight" --parallel 4 -p "Once upon a time" -n "$n"
    --ignore-eos --temp 0 --output-format json "$@")
  say "$tag: -n $n${t1:+, cut at ${t1} s, restore at ${t2} s}"
  launch=$(now)
  "${cmd[@]}" >"$work/$tag.json" 2>"$work/$tag.err" &
  pid=$!
  if [ -n "$t1" ]; then
    sleep_until "$(add "$launch" "$startup" "$t1")"
    kill -0 "$pid" 2>/dev/null || say "warning: $tag ended before the cut (N too small?)"
    dev=${device:-$("${report[@]}" busiest "$work/$tag.err")}
    quota "$dev"
    set_cpu "$dev" "$slowed"; cut_wall=$cut_at
    [ "$balance" = on ] && slowed_at[$inflight]=$dev
    sleep_until "$(add "$launch" "$startup" "$t2")"
    set_cpu "$dev" "$had"; back_wall=$cut_at
  fi
  if ! wait "$pid"; then
    say "$tag failed: ${cmd[*]}"
    tail -n 20 "$work/$tag.err" >&2
    exit 1
  fi
  jq -cn --arg kind "$kind" --argjson inflight "$inflight" --arg balance "$balance" \
    --argjson round "$round" --argjson n "$n" --arg out "$work/$tag.json" --arg dev "$dev" \
    --argjson launch "$launch" --argjson cut "$cut_wall" --argjson back "$back_wall" \
    '{kind: $kind, inflight: $inflight, balance: $balance, round: $round, n: $n, out: $out,
      device: (if $dev == "" then null else $dev end),
      launch_unix_s: $launch, cut_unix_s: $cut, restore_unix_s: $back}' >>"$work/$kind.jsonl"
}

# Warm-up (the workers profile themselves once, the model's pages come into the cache), then one
# dry run per in-flight count at full speed: its tokens/s and start-up time give N, T1 and T2.
run_one warmup 1 off 0 8 "" "" ""
: >"$work/dry.jsonl"
for inflight in 1 4; do run_one dry "$inflight" off 0 96 "" "" ""; done
declare -A start_s t1_s t2_s n_tokens
while read -r inflight s t1 t2 n; do
  start_s[$inflight]=$s; t1_s[$inflight]=$t1; t2_s[$inflight]=$t2; n_tokens[$inflight]=$n
done < <("${report[@]}" plan "$work/dry.jsonl" "$cut")

for round in $(seq 1 "$rounds"); do
  for inflight in 1 4; do
    for balance in off on; do
      run_one scenario "$inflight" "$balance" "$round" "${n_tokens[$inflight]}" \
        "${t1_s[$inflight]}" "${t2_s[$inflight]}" "${start_s[$inflight]}"
    done
  done
done

# The fresh ring: planned (and its profiles measured again) with the quota cut in effect on the
# device the balanced runs slowed. Last, because the workers keep the slowed profile in their
# cache.
: >"$work/fresh.jsonl"
for round in $(seq 1 "$rounds"); do
  for inflight in 1 4; do
    dev=${slowed_at[$inflight]}
    quota "$dev"
    set_cpu "$dev" "$slowed"
    fresh_cut=$cut_at
    run_one fresh "$inflight" off "$round" 256 "" "" "" --calibrate-tokens 32 --refresh-profile
    set_cpu "$dev" "$had"
    jq -c --argjson c "$fresh_cut" --argjson b "$cut_at" --arg dev "$dev" \
      'select(.round == '"$round"' and .inflight == '"$inflight"') |
       .cut_unix_s = $c | .restore_unix_s = $b | .device = $dev' \
      "$work/fresh.jsonl" >>"$work/scenario.jsonl"
  done
done

title="bench-balance: $(basename "$profile"), $(basename "$model"), ${device:-the busiest device} \
cut to ${cut}% of its CPU share mid-run and restored; $rounds round(s)"
"${report[@]}" report "$work/scenario.jsonl" --title "$title" ${json_out:+--json "$json_out"}
