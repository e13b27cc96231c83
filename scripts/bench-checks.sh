#!/usr/bin/env bash
# Runs the placement benchmark (scripts/bench-emu.sh) on the generality-check clusters, each
# with its own random-weight model: clusters and models other than the benchmark's, to show
# that the planner's predictions hold off the case it was developed on (docs/results.md).
# Models are written once by make-random-gguf into the cache folder.
# Each run's JSON goes to OUT/NAME.json and its log to OUT/NAME.log (OUT defaults to
# $TMPDIR/lingualinked-bench-checks); a line per placement is printed at the end. Needs root;
# each cluster takes 4-10 minutes.
#   scripts/bench-checks.sh [--out DIR] [--models DIR] [NAME...] [-- bench options]
# NAME is a profile scripts/emu-profiles/check-NAME.json (default: all of them); bench options
# default to -p 1 -n 48 -r 3.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${TMPDIR:-/tmp}/lingualinked-bench-checks"
models=${XDG_CACHE_HOME:-$HOME/.cache}/lingualinked/check-models
names=()
bench=()
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --) shift; bench=("$@"); break ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
[ ${#bench[@]} -gt 0 ] || bench=(-p 1 -n 48 -r 3)
if [ ${#names[@]} -eq 0 ]; then
  for f in scripts/emu-profiles/check-*.json; do
    n=${f#scripts/emu-profiles/check-}
    names+=("${n%.json}")
  done
fi
gen=${LINGUALINKED_MAKE_GGUF:-build/release/tools/make-random-gguf}
[ -x "$gen" ] || { echo "error: $gen not built (cmake --build --preset release)" >&2; exit 1; }
spm=../shared/models/vocab/ggml-vocab-llama-spm.gguf
gpt2=../shared/models/vocab/ggml-vocab-gpt-2.gguf

# The model each check runs: sets `file` and `args`, the make-random-gguf arguments that write it.
model_for() {
  local llama250m=(--arch llama --n-embd 1024 --n-layer 16 --n-head 16 --n-head-kv 4 --n-ff 2816
                   --vocab-from "$spm")
  case $1 in
    3dev-q8_0) file="llama250m-q8_0.gguf"; args=("${llama250m[@]}" --type q8_0) ;;
    4dev-q4_0) file="llama250m-q4_0.gguf"; args=("${llama250m[@]}" --type q4_0) ;;
    2dev-f16) file="llama250m-f16.gguf"; args=("${llama250m[@]}" --type f16) ;;
    4dev-qwen2) file="qwen2-14l-q4_k_m.gguf"
                args=(--arch qwen2 --n-embd 768 --n-layer 14 --n-head 12 --n-head-kv 2 --n-ff 4096
                      --type q4_k_m --vocab-from "$gpt2") ;;
    *) return 1 ;;
  esac
}

# Every name checked before any cluster runs.
for n in "${names[@]}"; do
  profile=scripts/emu-profiles/check-$n.json
  [ -f "$profile" ] || { echo "error: no profile $profile" >&2; exit 2; }
  model_for "$n" || { echo "error: no model is known for check $n" >&2; exit 2; }
done

mkdir -p "$out" "$models"
done_names=()
failed=()
for n in "${names[@]}"; do
  model_for "$n"
  if [ ! -f "$models/$file" ]; then
    echo "bench-checks: writing $models/$file" >&2
    "$gen" "${args[@]}" -o "$models/$file.tmp" >&2
    mv "$models/$file.tmp" "$models/$file"
  fi
  echo "bench-checks: $n ($file), log in $out/$n.log" >&2
  if bash scripts/bench-emu.sh "scripts/emu-profiles/check-$n.json" "$models/$file" "${bench[@]}" \
    --output-format json >"$out/$n.json" 2>"$out/$n.log"; then
    done_names+=("$n")
  else
    echo "bench-checks: $n failed (exit $?); its log: $out/$n.log" >&2
    failed+=("$n")
  fi
done

# One line per placement: measured tokens/s (one request | 4 in flight, the largest number in
# flight run) and the prediction errors (median over rounds).
[ ${#done_names[@]} -eq 0 ] || python3 - "$out" "${done_names[@]}" <<'EOF'
import json, sys
out, names = sys.argv[1], sys.argv[2:]
pct = lambda x: "   -" if x is None else f"{x:+4.0f}"
for n in names:
    j = json.load(open(f"{out}/{n}.json"))
    for p in j["placements"]:
        runs = {r["in_flight"]: r for r in p["runs"]}
        most = runs[max(runs)]
        print(f"{n:12} {p['placement']:18} {runs[min(runs)]['per_request_decode_tokens_per_s']:6.1f} |"
              f" {most['aggregate_tokens_per_s']:6.1f} tok/s   error {pct(p.get('prediction_error_pct'))} |"
              f" {pct(p.get('pipeline_prediction_error_pct'))} %")
EOF
[ ${#failed[@]} -eq 0 ] || { echo "bench-checks: failed: ${failed[*]}" >&2; exit 1; }
