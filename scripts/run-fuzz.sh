#!/usr/bin/env bash
# Builds the fuzz targets (scripts/build.sh fuzz) and runs each for a bounded time:
#
#   scripts/run-fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 20 s, every target of fuzz/)
#
# Each target first replays its regressions (fuzz/regressions/<target>/: inputs of crashes found
# and fixed, which must stay fixed), then fuzzes from its committed seeds (fuzz/corpus/<target>/),
# adding what it finds to build/fuzz/work/<target>/ (cleared first, so every run starts from the
# same seeds; nothing is written to the source tree or /tmp). Targets run $(nproc) at a time.
# A crash, a sanitizer report, a leak, a timeout or running out of memory fails the run; the input
# is kept in build/fuzz/crashes/<target>/ and its path printed with the end of the target's log.
# Prints one line per target: executions, executions per second, coverage (edges), corpus size.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(sed -n 's/^dsv4_fuzzer(\([a-z_]*\) .*/\1/p' fuzz/CMakeLists.txt)
fi
scripts/build.sh fuzz "${targets[@]}"
bin=build/fuzz/bin
out=build/fuzz
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# run_target NAME: its log in build/fuzz/logs/NAME.log, exit status 0 when nothing was found.
run_target() {
  local t=$1 log=$out/logs/$1.log
  rm -rf "$out/work/$t" "$out/crashes/$t"
  mkdir -p "$out/work/$t" "$out/crashes/$t" "$out/logs"
  {
    if compgen -G "fuzz/regressions/$t/*" >/dev/null; then
      "$bin/$t" -artifact_prefix="$out/crashes/$t/" fuzz/regressions/"$t"/* || return 1
    fi
    # -timeout: one input taking this long is a finding (a parser must not hang on any input).
    "$bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$out/crashes/$t/" "$out/work/$t" "fuzz/corpus/$t"
  } >"$log" 2>&1
}

pids=()
failed=()
for t in "${targets[@]}"; do
  # At most nproc targets at once: wait for the oldest when full.
  if ((${#pids[@]} >= $(nproc))); then
    wait "${pids[0]}" || failed+=("${names[0]}")
    pids=("${pids[@]:1}")
    names=("${names[@]:1}")
  fi
  run_target "$t" &
  pids+=($!)
  names+=("$t")
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed+=("${names[$i]}")
done

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
echo "run-fuzz: ${seconds} s per target, $(nproc) at a time, on $cpu (ASan+UBSan, clang $(clang++-14 -dumpversion))"
for t in "${targets[@]}"; do
  log=$out/logs/$t.log
  # A target that failed early has none of these lines (grep finds nothing: not an error here).
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
  corp=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
  printf 'run-fuzz: %-24s %10s runs %7s/s  %5s edges  %5s inputs in corpus\n' "$t" "${runs:-?}" "${rate:-?}" "${cov:-?}" "${corp:-?}"
done
if ((${#failed[@]})); then
  for t in "${failed[@]}"; do
    echo "run-fuzz: $t FAILED; the input is in $out/crashes/$t/ ($(ls "$out/crashes/$t" | head -3 | tr '\n' ' '))" >&2
    tail -40 "$out/logs/$t.log" >&2
  done
  exit 1
fi
echo "run-fuzz: no crash, leak, timeout or sanitizer report in ${#targets[@]} targets"
