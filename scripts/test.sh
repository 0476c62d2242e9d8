#!/usr/bin/env bash
# The whole test suite, exactly what CI runs (.ci/run):
#   0. the include rule (check-includes.py: no part includes a header of a part it may not depend
#      on) and the operations files: Prometheus config, alert rules and their unit tests (check-ops.sh);
#   1. release build with warnings as errors, the naming rule on what it compiled (check-naming.py),
#      every test;
#   2. ASan+UBSan build, every test not labelled no-asan (benchmark-sized cases);
#   3. ThreadSanitizer build of the tests labelled hotswap only: the hot-swap stress test (forward
#      passes on 4 threads while plugins are swapped under them) and the thread pool's.
# After each ctest run, check-skips.py fails the run when a test counted as skipped had in fact a
# failed SetUpTestSuite (ctest alone calls that green: the service did not start, the disk was full).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/check-includes.py
scripts/check-ops.sh
jobs=$(nproc)
# run_ctest BUILD_DIR [ctest args...]
run_ctest() {
  local dir=$1
  shift
  (cd "$dir" && ctest --output-on-failure --no-tests=error -j"$jobs" "$@")
  scripts/check-skips.py "$dir"
}
scripts/build.sh release
scripts/check-naming.py build/release
run_ctest build/release
# The README's main command, end to end (dsv4 serve, curl and the OpenAI SDK through the gateway).
DSV4_BUILD_DIR=build/release scripts/run-demo.sh --exit
scripts/build.sh asan
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_ctest build/asan -LE no-asan
scripts/build.sh tsan hot_swap_test thread_pool_test
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
run_ctest build/tsan -L hotswap
