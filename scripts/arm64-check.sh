#!/usr/bin/env bash
# ARM check: cross-compiles the kernel tests and the golden reference test for aarch64 with
# Debian's cross toolchain and runs them under qemu-user. Builds only those two targets (and
# their libraries), so it takes a few minutes on 2 cores; re-running reuses the build.
#
# Needs (Debian 12, see scripts/install-deps.sh):
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install g++-aarch64-linux-gnu qemu-user \
#       libgtest-dev:arm64 libgmock-dev:arm64 libicu-dev:arm64 libzmq3-dev:arm64 \
#       coinor-libcbc-dev:arm64
# (CMake configures the whole project, so every library a layer finds with pkg-config must
# exist for arm64 even if the two targets built here do not link it.)
#
# Usage: scripts/arm64-check.sh [BUILD_DIR]    (default: build/arm64)
# Environment: LL_SHARED_DIR (default ../shared), JOBS (default: nproc).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build/arm64}"
shared="${LL_SHARED_DIR:-$root/../shared}"
jobs="${JOBS:-$(nproc)}"

missing=()
command -v aarch64-linux-gnu-g++ >/dev/null || missing+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null || command -v qemu-aarch64-static >/dev/null ||
  missing+=(qemu-user)
[[ -f /usr/lib/aarch64-linux-gnu/libgtest.a ]] || missing+=(libgtest-dev:arm64)
[[ -f /usr/lib/aarch64-linux-gnu/libgmock.a ]] || missing+=(libgmock-dev:arm64)
[[ -f /usr/lib/aarch64-linux-gnu/pkgconfig/icu-uc.pc ]] || missing+=(libicu-dev:arm64)
[[ -f /usr/lib/aarch64-linux-gnu/pkgconfig/libzmq.pc ]] || missing+=(libzmq3-dev:arm64)
[[ -f /usr/lib/aarch64-linux-gnu/pkgconfig/cbc.pc ]] || missing+=(coinor-libcbc-dev:arm64)
[[ -f /usr/lib/aarch64-linux-gnu/cmake/spdlog/spdlogConfig.cmake ]] || missing+=(libspdlog-dev:arm64)
if ((${#missing[@]})); then
  echo "arm64-check: missing packages: ${missing[*]}" >&2
  echo "  dpkg --add-architecture arm64 && apt-get update && apt-get install ${missing[*]}" >&2
  exit 2
fi

start=$SECONDS
cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-aarch64.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DLL_WERROR=ON -DLL_BUILD_BENCH=OFF \
  -DLL_SHARED_DIR="$shared" >/dev/null
ninja -C "$build" -j "$jobs" kernels_test reference_test
echo "arm64-check: built in $((SECONDS - start)) s"

# The same emulator command CMake uses (see cmake/toolchain-aarch64.cmake).
emu="$(sed -n 's/^CMAKE_CROSSCOMPILING_EMULATOR:[A-Z]*=//p' "$build/CMakeCache.txt" | tr ';' ' ')"
[[ -n "$emu" ]] || emu="qemu-aarch64"
file "$build/src/kernels/kernels_test" | grep -q 'ARM aarch64' ||
  { echo "arm64-check: kernels_test is not an aarch64 binary" >&2; exit 1; }

# Every kernel against its scalar reference, NEON included (LL_KERNELS_ISA unset: the default
# level on aarch64 is neon, so the matmul tests use it too).
$emu "$build/src/kernels/kernels_test" --gtest_brief=1
# Golden: stories260K (F32, F16, Q8_0, Q4_0) against llama.cpp's tokens and logits.
$emu "$build/tests/reference_test" --gtest_brief=1 --gtest_filter='*stories260K*'
echo "arm64-check: passed in $((SECONDS - start)) s"
