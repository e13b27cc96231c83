#!/usr/bin/env bash
# Writes the flag reference of docs/cli.md from the binary's own help, so the page cannot drift
# from the flags. Usage:
#   scripts/gen-cli-docs.sh BINARY            print the generated part
#   scripts/gen-cli-docs.sh BINARY OUT        splice it into OUT between the marker comments
#   scripts/gen-cli-docs.sh --check BINARY [OUT]   exit 1 when OUT (default docs/cli.md) differs
# The hand-written parts of OUT, outside the markers, are kept as they are.
set -euo pipefail

readonly BEGIN_MARK='<!-- BEGIN GENERATED -->'
readonly END_MARK='<!-- END GENERATED -->'
REPO="$(cd "$(dirname "$0")/.." && pwd)"
readonly REPO

usage() {
  echo "usage: $0 [--check] BINARY [OUT]" >&2
  exit 2
}

check=0
if [ "${1:-}" = "--check" ]; then
  check=1
  shift
fi
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
binary=$1
out=${2:-}
[ -x "$binary" ] || { echo "error: $binary is not an executable" >&2; exit 2; }
if [ "$check" = 1 ] && [ -z "$out" ]; then out="$REPO/docs/cli.md"; fi

# The help as a user sees it, whatever the build directory and terminal: argv[0] is the bare
# name (CLI11 prints it in the usage line) and the locale and width are fixed.
help_of() {
  (export LC_ALL=C COLUMNS=100 && exec -a lingualinked "$binary" "$@" --help)
}

# Subcommands in the order the top-level help lists them (two-space indented after the header).
subcommands() {
  help_of | awk '/^Subcommands:/ { in_list = 1; next }
                 in_list && /^  [a-z]/ { print $1 }
                 in_list && /^[^ ]/ { in_list = 0 }'
}

section() {
  local title=$1
  shift
  # shellcheck disable=SC2016  # the backquotes are Markdown
  printf '### `%s`\n\n```text\n' "$title"
  help_of "$@" | sed -e 's/[[:space:]]*$//' | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
  printf '```\n'
}

generate() {
  printf '%s\n' "$BEGIN_MARK"
  printf '<!-- Written by scripts/gen-cli-docs.sh from the --help of each command: do not edit. -->\n\n'
  section lingualinked
  local cmd
  for cmd in $(subcommands); do
    printf '\n'
    section "lingualinked $cmd" "$cmd"
  done
  printf '%s\n' "$END_MARK"
}

# OUT with the lines between (and including) the markers replaced by the generated part.
splice() {
  local file=$1 generated=$2
  if ! grep -qxF "$BEGIN_MARK" "$file" || ! grep -qxF "$END_MARK" "$file"; then
    echo "error: $file lacks the lines '$BEGIN_MARK' and '$END_MARK'" >&2
    return 2
  fi
  awk -v begin="$BEGIN_MARK" -v end="$END_MARK" -v gen="$generated" '
    $0 == begin { while ((getline line < gen) > 0) print line; skipping = 1; next }
    $0 == end { skipping = 0; next }
    !skipping { print }' "$file"
}

generated=$(mktemp)
spliced=$(mktemp)
trap 'rm -f "$generated" "$spliced"' EXIT
generate >"$generated"

if [ -z "$out" ]; then
  cat "$generated"
  exit 0
fi
[ -f "$out" ] || { echo "error: $out does not exist" >&2; exit 2; }
splice "$out" "$generated" >"$spliced"
if [ "$check" = 1 ]; then
  if ! cmp -s "$spliced" "$out"; then
    diff -u "$out" "$spliced" | head -40 >&2 || true
    echo "docs/cli.md is out of date: run scripts/gen-cli-docs.sh" \
      "build/release/src/cli/lingualinked docs/cli.md" >&2
    exit 1
  fi
  echo "docs/cli.md is current"
  exit 0
fi
cp "$spliced" "$out"
