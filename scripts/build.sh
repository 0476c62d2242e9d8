#!/usr/bin/env bash
# Configures and builds one flavour: scripts/build.sh [release|asan|tsan|fuzz] [targets...] -> build/<flavour>
# (every target unless some are named; fuzz: clang-14 with libFuzzer, ASan and UBSan, and only
# the fuzz targets unless some are named)
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
case "$flavour" in
  release) flags=(-DCMAKE_BUILD_TYPE=Release) ;;
  asan)    flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DDSV4_SANITIZE=ON -DDSV4_BENCHMARKS=OFF) ;;
  tsan)    flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DDSV4_TSAN=ON -DDSV4_BENCHMARKS=OFF) ;;
  fuzz)    flags=(-DCMAKE_BUILD_TYPE=Fuzz -DDSV4_FUZZ=ON -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14) ;;
  *) echo "build.sh: unknown flavour '$flavour' (release, asan, tsan, fuzz)" >&2; exit 2 ;;
esac
# ccache where installed (developer machines; CI starts cold either way).
command -v ccache >/dev/null && flags+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S . -B "build/$flavour" -DDSV4_WERROR=ON "${flags[@]}" >/dev/null
targets=()
for t in "${@:2}"; do targets+=(--target "$t"); done
[ "$flavour" = fuzz ] && ((${#targets[@]} == 0)) && targets=(--target dsv4_fuzzers)
cmake --build "build/$flavour" -j"$(nproc)" "${targets[@]}"
