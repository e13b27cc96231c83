#!/usr/bin/env bash
# Fails, naming the files, when a C++ source under src/, tests/, tools/ or bench/ differs from
# what clang-format makes of it with the repository's .clang-format (a CTest test, label unit:
# style drift shows in the test run rather than piling up). Exit 77 (skipped) without clang-format.
# The sources are formatted by Debian 12's clang-format 14 (scripts/install-deps.sh); another
# version may break lines differently.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format not installed: skipped" >&2; exit 77; }
# One clang-format for every file: it checks them all and names each one that differs.
if out=$(find src tests tools bench \( -name '*.cc' -o -name '*.h' \) -print0 |
         xargs -0 clang-format --dry-run -Werror 2>&1); then
  echo "all sources clang-formatted"
  exit 0
fi
files=$(grep -o '^[^:]*:[0-9]*:[0-9]*: error' <<<"$out" | cut -d: -f1 | sort -u || true)
if [ -z "$files" ]; then  # clang-format itself failed (a bad .clang-format, say): its words
  echo "$out" >&2
else
  echo "not clang-formatted (run: clang-format -i FILE):" >&2
  sed 's/^/  /' <<<"$files" >&2
fi
exit 1
