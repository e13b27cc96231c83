#!/usr/bin/env bash
# Installs every Debian 12 package LinguaLinked needs to build, test and benchmark.
# Idempotent: apt-get skips what is already there. Run as root (or with sudo).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libicu-dev
  libzmq3-dev cppzmq-dev libsodium-dev
  coinor-libcbc-dev
  libcpp-httplib-dev
  iproute2 iputils-ping jq util-linux python3
  clang-format
)

# aarch64 cross check (scripts/arm64-check.sh): Debian's cross compiler, qemu-user, and the
# arm64 builds of the libraries the project's CMake looks for.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
fi
PACKAGES+=(g++-aarch64-linux-gnu qemu-user
  libgtest-dev:arm64 libgmock-dev:arm64 libicu-dev:arm64 libzmq3-dev:arm64 coinor-libcbc-dev:arm64
  libcpp-httplib-dev:arm64 libspdlog-dev:arm64 libfmt-dev:arm64)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
