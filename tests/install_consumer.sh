#!/usr/bin/env bash
# install_consumer.sh BUILD_DIR SOURCE_DIR: installs BUILD_DIR into a
# temporary prefix, then builds examples/basic.cpp out of tree as a user
# would - with find_package(w4a8 CONFIG) (static and shared) and with
# pkg-config - and runs each build.
set -euo pipefail
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log"
expect_runs() {  # expect_runs NAME EXE: the example's line for every backend it ran
  local out
  out=$("$2") || { echo "$1: exit status $?"; exit 1; }
  grep -qE "backend [a-z0-9_]+: y\[0,0\] = [-0-9]" <<<"$out" || { echo "$1 printed: $out"; exit 1; }
  echo "$1: ok"
}

# CMake, from a prefix that is not on any default path.
cmake -S "$src/tests/consumer" -B "$tmp/cmake-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DW4A8_EXAMPLE="$src/examples/basic.cpp" >"$tmp/consumer.log" 2>&1 ||
  { cat "$tmp/consumer.log"; exit 1; }
cmake --build "$tmp/cmake-build" >>"$tmp/consumer.log" 2>&1 || { cat "$tmp/consumer.log"; exit 1; }
expect_runs "find_package, w4a8::w4a8 (static)" "$tmp/cmake-build/basic_static"
expect_runs "find_package, w4a8::w4a8_shared" "$tmp/cmake-build/basic_shared"
# The shared library's SONAME carries the version.
soname=$(objdump -p "$prefix"/lib*/libw4a8.so | sed -n 's/^ *SONAME *//p')
[[ $soname == libw4a8.so.* ]] || { echo "SONAME is '$soname'"; exit 1; }
echo "SONAME: $soname"

# pkg-config: the shared library, then the static one with Libs.private.
export PKG_CONFIG_PATH=$(dirname "$prefix"/lib*/pkgconfig/w4a8.pc)
libdir=$(pkg-config --variable=libdir w4a8)
# shellcheck disable=SC2046  # pkg-config's flags are words
c++ -std=c++17 "$src/examples/basic.cpp" -o "$tmp/basic_pc" $(pkg-config --cflags --libs w4a8) -Wl,-rpath,"$libdir"
expect_runs "pkg-config (shared)" "$tmp/basic_pc"
# shellcheck disable=SC2046
c++ -std=c++17 "$src/examples/basic.cpp" -o "$tmp/basic_pc_static" $(pkg-config --cflags w4a8) \
  "$libdir/libw4a8.a" $(pkg-config --libs-only-other --libs-only-L --static w4a8 | sed 's/-lw4a8//') \
  $(pkg-config --libs-only-l --static w4a8 | sed 's/-lw4a8//')
expect_runs "pkg-config (static)" "$tmp/basic_pc_static"
