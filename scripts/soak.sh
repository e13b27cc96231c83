#!/usr/bin/env bash
# The reliability soak (docs/reliability.md): `serve` over 3 emulated devices while CLIENTS
# clients send completions for MINUTES minutes and one worker is killed every FAULT_EVERY seconds
# (a device of the ring as /health lists it, in turn) and restarted DOWN_FOR seconds later.
# Every answer is compared with the single-device output of its prompt. Prints (and with --json
# writes) the faults injected, the requests completed, wrong and lost answers, the time to
# recover after each fault (the longest time without a completed request in the 30 s after the
# kill: the pause the clients see; median and worst) and the largest resident memory of the
# server and of each worker. Needs root.
#   scripts/soak.sh [--minutes 10] [--clients 8] [--fault-every 60] [--down-for 10]
#                   [--model MODEL.gguf] [--json FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=10; clients=8; fault_every=60; down_for=10; json_out=""
model=../shared/models/stories260K/stories260K.gguf
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --fault-every) fault_every=$2; shift 2 ;;
    --down-for) down_for=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --json) json_out=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
bin=${LINGUALINKED_BIN:-build/release/src/cli/lingualinked}
[ -x "$bin" ] || { echo "error: $bin not built" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "error: needs root (emulated devices)" >&2; exit 1; }
say() { echo "soak: $*" >&2; }
work=$(mktemp -d /tmp/ll-soak.XXXXXX)
state="$work/state"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  bash scripts/emu-cluster down --state-dir "$state" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/profile.json" <<'JSON'
{"devices": [
  {"name": "s1", "cpu_percent": 100, "memory_budget": "256MiB", "bandwidth_mbit": 200, "threads": 1, "delay_ms": 2},
  {"name": "s2", "cpu_percent": 100, "memory_budget": "256MiB", "bandwidth_mbit": 200, "threads": 1, "delay_ms": 2},
  {"name": "s3", "cpu_percent": 100, "memory_budget": "256MiB", "bandwidth_mbit": 200, "threads": 1, "delay_ms": 2}
]}
JSON
addrs=$(bash scripts/emu-cluster up "$work/profile.json" --binary "$bin" --state-dir "$state" | tail -1)
say "devices: $addrs"

# The single-device answers.
prompts=("Once upon a time" "The dog ran to the park" "Lily and Tom" "One day a little bird")
refs="["
for i in "${!prompts[@]}"; do
  n=$((24 + 8 * i))
  ids=$("$bin" generate -m "$model" -p "${prompts[$i]}" -n "$n" --temp 0 --ignore-eos -c 256 \
        --output-format json | jq -c .generated_ids)
  refs+="$([ "$i" -gt 0 ] && echo ,){\"prompt\": $(jq -Rn --arg p "${prompts[$i]}" '$p'), \"max_tokens\": $n, \"ids\": $ids}"
done
echo "$refs]" >"$work/refs.json"

"$bin" serve -m "$model" --workers "$addrs" --listen 'tcp://10.99.0.1:*' --port 0 -c 256 \
  --parallel 4 >"$work/serve.out" 2>"$work/serve.log" &
server=$!
for _ in $(seq 1 300); do grep -q LISTENING "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/^LISTENING http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/serve.out")
[ -n "$port" ] || { echo "error: serve did not start"; tail "$work/serve.log"; exit 1; }
say "serving on port $port; $clients clients for $minutes min, a worker killed every ${fault_every} s"

seconds=$((minutes * 60))
python3 scripts/soak.py "$port" "$clients" "$seconds" "$work/refs.json" >"$work/requests.jsonl" &
driver=$!
start=$(date +%s.%N)
: >"$work/faults.txt"; : >"$work/rss.txt"
names=(s1 s2 s3)
k=0
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
while kill -0 "$driver" 2>/dev/null; do
  sleep "$fault_every" & wait $! || true
  kill -0 "$driver" 2>/dev/null || break
  for n in "${names[@]}"; do
    pid=$(jq -r --arg n "$n" '.devices[] | select(.name == $n) | .pid' "$state/cluster.json")
    echo "$n $(rss "$pid")" >>"$work/rss.txt"
  done
  echo "serve $(rss "$server")" >>"$work/rss.txt"
  # A device of the ring (the plan may leave some idle), in turn.
  ring=$(python3 -c 'import json, sys, urllib.request
print(" ".join(d["name"] for d in json.load(urllib.request.urlopen(sys.argv[1]))["devices"]))' \
         "http://127.0.0.1:$port/health" 2>/dev/null || true)
  read -r -a in_ring <<<"$ring"
  [ "${#in_ring[@]}" -gt 0 ] || in_ring=("${names[@]}")
  victim=${in_ring[$((k % ${#in_ring[@]}))]}; k=$((k + 1))
  echo "$(date +%s.%N) $victim" >>"$work/faults.txt"
  bash scripts/emu-cluster kill "$victim" --state-dir "$state" >/dev/null 2>&1
  sleep "$down_for"
  bash scripts/emu-cluster restart "$victim" --state-dir "$state" >/dev/null 2>&1 || say "restart of $victim failed"
done
wait "$driver" || true

python3 - "$work/requests.jsonl" "$work/faults.txt" "$work/rss.txt" "$json_out" "$start" <<'PY'
import json, statistics, sys
reqs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
faults = [(float(t), n) for t, n in (l.split() for l in open(sys.argv[2]) if l.strip())]
rss = {}
for l in open(sys.argv[3]):
    name, kb = l.split()
    rss[name] = max(rss.get(name, 0), int(kb))
done = [r for r in reqs if r["status"] == 200]
wrong = [r for r in done if not r["correct"]]
lost = [r for r in reqs if r["status"] != 200]
recover = []
for t, _ in faults:
    ends = sorted(r["end"] for r in done if t <= r["end"] <= t + 30)
    if ends:
        marks = [t] + ends
        recover.append(max(b - a for a, b in zip(marks, marks[1:])))
out = {"faults": len(faults), "requests": len(reqs), "completed": len(done), "wrong": len(wrong),
       "lost": len(lost), "recover_s_median": statistics.median(recover) if recover else None,
       "recover_s_worst": max(recover) if recover else None, "max_rss_kib": rss,
       "lost_errors": sorted({r["error"][:120] for r in lost})[:5]}
print(json.dumps(out, indent=1))
if sys.argv[4]:
    json.dump(out, open(sys.argv[4], "w"), indent=1)
PY
