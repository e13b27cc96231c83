#!/usr/bin/env bash
# Builds with warnings as errors and runs every test except those labelled `slow`.
# Needs the packages from scripts/install-deps.sh and the shared models in ../shared.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d ../shared/models ]; then
  echo "error: ../shared/models not found: the reference tests read the shared models" >&2
  exit 1
fi
cmake --preset ci >/dev/null
cmake --build --preset ci
ctest --preset ci -j2
