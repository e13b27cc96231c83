# Cross-compiling for aarch64 Linux with Debian's cross toolchain (g++-aarch64-linux-gnu, from
# crossbuild-essential-arm64) and Debian multiarch libraries (`dpkg --add-architecture arm64`,
# then e.g. libgtest-dev:arm64). Libraries and pkg-config files are looked up in the arm64
# multiarch directories only; header-only packages (nlohmann-json, CLI11) and CMake package files
# shared by all architectures are found under /usr/share as usual.
#
#   cmake -S . -B build/arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake
#
# Binaries run under qemu-user: CMAKE_CROSSCOMPILING_EMULATOR lets CTest and
# gtest_discover_tests execute them on the build machine.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(LL_CROSS_TRIPLET aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${LL_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${LL_CROSS_TRIPLET}-g++)

# Never pick up an x86-64 library or .pc file by accident.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${LL_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/cmake)

# The loader and libc must come from the same glibc build. With multiarch libc6:arm64 installed
# (it is, as a dependency of the :arm64 libraries above) the guest's /lib/ld-linux-aarch64.so.1
# is the multiarch one and finds the multiarch libc through ld.so.cache, so no -L is given:
# `-L /usr/aarch64-linux-gnu` would mix the cross-toolchain loader with the multiarch libc and
# hang in pthread_create (corrupt stack-cache list). Without multiarch libc, the cross root is
# the only one and -L points there.
find_program(LL_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
if(LL_QEMU_AARCH64)
  if(EXISTS /lib/ld-linux-aarch64.so.1)
    set(CMAKE_CROSSCOMPILING_EMULATOR ${LL_QEMU_AARCH64})
  else()
    set(CMAKE_CROSSCOMPILING_EMULATOR ${LL_QEMU_AARCH64} -L /usr/${LL_CROSS_TRIPLET})
  endif()
endif()
