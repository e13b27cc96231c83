#!/usr/bin/env bash
# Builds with warnings as errors and runs every test except those labelled `slow`.
# Installs the Debian packages first (idempotent); reads the shared models in ../shared.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d ../shared/models ]; then
  echo "error: ../shared/models not found: the reference tests read the shared models" >&2
  exit 1
fi
bash scripts/install-deps.sh
cmake --preset ci >/dev/null
cmake --build --preset ci
ctest --preset ci -j2
