#!/usr/bin/env bash
# Prefill / decode tokens/s of `lingualinked bench` and llama.cpp's `llama-bench` on the same
# GGUF files, same thread counts, in one run (alternating the two per configuration so that
# background load hits both alike). Prints a Markdown table with the ratios (ours / llama.cpp);
# raw outputs go to $OUT_DIR.
#
# Usage: bench/compare_llama_cpp.sh LINGUALINKED LLAMA_BENCH MODEL.gguf...
# Environment: THREADS (default "1 2"), P (64), N (32), REPS (3), OUT_DIR (/tmp/ll-compare),
# BASELINE (optional: an older lingualinked binary, measured in the same loop, shown as "before").
# Needs jq. Does not build llama.cpp: pass the path of an existing llama-bench.
set -euo pipefail
ll="$1"; lb="$2"; shift 2
threads="${THREADS:-1 2}"; p="${P:-64}"; n="${N:-32}"; reps="${REPS:-3}"
out="${OUT_DIR:-/tmp/ll-compare}"; mkdir -p "$out"

base="${BASELINE:-}"
if [[ -n "$base" ]]; then
  echo "| model | threads | prefill before | prefill ours | prefill llama.cpp | ratio | decode before | decode ours | decode llama.cpp | ratio |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
else
  echo "| model | threads | prefill ours | prefill llama.cpp | ratio | decode ours | decode llama.cpp | ratio |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
fi
for model in "$@"; do
  name="$(basename "$model" .gguf)"
  for t in $threads; do
    ours="$out/$name-t$t.ours.json"; theirs="$out/$name-t$t.llama.json"
    "$ll" bench -m "$model" -t "$t" -p "$p" -n "$n" -r "$reps" --output-format json >"$ours"
    "$lb" -m "$model" -t "$t" -p "$p" -n "$n" -r "$reps" -o json >"$theirs" 2>/dev/null
    bp=""; bd=""
    if [[ -n "$base" ]]; then
      before="$out/$name-t$t.before.json"
      "$base" bench -m "$model" -t "$t" -p "$p" -n "$n" -r "$reps" --output-format json >"$before"
      bp=$(jq '.prefill_tokens_per_s' "$before"); bd=$(jq '.decode_tokens_per_s' "$before")
    fi
    op=$(jq '.prefill_tokens_per_s' "$ours"); od=$(jq '.decode_tokens_per_s' "$ours")
    lp=$(jq "[.[] | select(.n_prompt == $p and .n_gen == 0)][0].avg_ts" "$theirs")
    ld=$(jq "[.[] | select(.n_prompt == 0 and .n_gen == $n)][0].avg_ts" "$theirs")
    awk -v m="$name" -v t="$t" -v op="$op" -v lp="$lp" -v od="$od" -v ld="$ld" -v bp="$bp" \
        -v bd="$bd" 'BEGIN {
      if (bp != "") {
        printf "| %s | %d | %.1f | %.1f | %.1f | %.2f | %.1f | %.1f | %.1f | %.2f |\n", m, t, bp, op,
               lp, op / lp, bd, od, ld, od / ld
      } else {
        printf "| %s | %d | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f |\n", m, t, op, lp, op / lp, od,
               ld, od / ld
      }
    }'
  done
done
