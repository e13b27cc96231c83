#!/usr/bin/env bash
# Installs the dependencies, builds the release binary and runs the main job on the small
# shared model: a short story from stories260K. Extra arguments go to `lingualinked generate`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target lingualinked
exec build/release/src/cli/lingualinked generate \
  -m ../shared/models/stories260K/stories260K.gguf -p "Once upon a time" -n 120 --seed 42 "$@"
