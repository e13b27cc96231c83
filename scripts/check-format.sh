#!/usr/bin/env bash
# Fails, naming the files, when a C++ source under src/, tests/, tools/ or bench/ differs from
# what clang-format makes of it with the repository's .clang-format (a CTest test, label unit:
# style drift shows in the test run rather than piling up). Exit 77 (skipped) without clang-format.
# The sources are formatted by Debian 12's clang-format 14 (scripts/install-deps.sh); another
# version may break lines differently.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format not installed: skipped" >&2; exit 77; }
bad=()
while IFS= read -r f; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(find src tests tools bench -name '*.cc' -o -name '*.h' | sort)
if [ ${#bad[@]} -gt 0 ]; then
  echo "not clang-formatted (run: clang-format -i FILE):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "all sources clang-formatted"
