#!/usr/bin/env bash
# The main job: build dsv4d, make two tiny random-weight checkpoints (a "flash" and a "pro"), start
# a router and one worker per tier on loopback, stream requests through with `dsv4 submit`
# (one on Flash, one `auto` that escalates to Pro), show /metrics excerpts, shut down cleanly.
#
#   scripts/run-demo.sh                    # builds into build/release
#   DSV4_BUILD_DIR=/path scripts/run-demo.sh   # builds (incrementally) into another directory
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -n "${DSV4_BUILD_DIR:-}" ]]; then
  build=$DSV4_BUILD_DIR
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDSV4_WERROR=ON >/dev/null
  cmake --build "$build" -j"$(nproc)" --target dsv4 dsv4-router dsv4-worker dsv4-mkmodel dsv4ctl dsv4_kernels_reference >/dev/null
else
  scripts/install-deps.sh
  scripts/build.sh release >/dev/null
  build=build/release
fi
bin=$build/bin

work=$(mktemp -d)
pids=()
cleanup() {
  # Anything still running at exit (an error part-way) is stopped; the normal path below has
  # already shut everything down gracefully.
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
json_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
wait_for_file() { for _ in $(seq 1 300); do [[ -s $1 ]] && return 0; sleep 0.1; done; echo "timed out waiting for $1" >&2; exit 1; }

step "making tiny checkpoints (flash: seed 1, pro: seed 2)"
mkdir -p "$work/flash" "$work/pro"
"$bin/dsv4-mkmodel" --out "$work/flash" --preset tiny --seed 1 2>/dev/null
"$bin/dsv4-mkmodel" --out "$work/pro" --preset tiny --seed 2 2>/dev/null
du -sh "$work/flash" "$work/pro"

step "starting dsv4-router (free ports on 127.0.0.1)"
# A low confidence threshold for `auto`: random-weight models are never sure, so Pro verifies.
"$bin/dsv4-router" --client-endpoint 'tcp://127.0.0.1:*' --worker-endpoint 'tcp://127.0.0.1:*' \
  --metrics-host 127.0.0.1 --metrics-port 0 --ready-file "$work/router.json" \
  --escalate-mean-logprob -3 2>"$work/router.log" &
pids+=($!); router_pid=$!
wait_for_file "$work/router.json"
clients=$(json_field "$work/router.json" client_endpoint)
workers=$(json_field "$work/router.json" worker_endpoint)
router_metrics=$(json_field "$work/router.json" metrics_port)
echo "clients: $clients  workers: $workers  metrics: http://127.0.0.1:$router_metrics/metrics"

step "starting a flash and a pro worker"
for tier in flash pro; do
  "$bin/dsv4-worker" --router "$workers" --tier "$tier" --model "$work/$tier" --worker-id "$tier-1" \
    --metrics-host 127.0.0.1 --metrics-port 0 --ready-file "$work/$tier.json" --threads 1 --plugin reference \
    2>"$work/$tier.log" &
  pids+=($!)
  eval "${tier}_pid=$!"
done
wait_for_file "$work/flash.json"; wait_for_file "$work/pro.json"
pro_metrics=$(json_field "$work/pro.json" metrics_port)
for _ in $(seq 1 100); do
  [[ $("$bin/dsv4ctl" --router "$clients" workers | grep -c worker_id) -ge 2 ]] && break
  sleep 0.1
done
"$bin/dsv4ctl" --router "$clients" workers

step "dsv4 submit --model flash (tokens stream on stderr; ids on the last stdout line)"
"$bin/dsv4" submit --router "$clients" --model flash --tokens 5,17,300 --max-tokens 16 --ignore-eos

step "dsv4 submit --model auto (Flash answers, Pro verifies the draft in one pass)"
"$bin/dsv4" submit --router "$clients" --model auto --tokens 5,17,300 --max-tokens 16 --ignore-eos

step "router /metrics (excerpt)"
curl -s "http://127.0.0.1:$router_metrics/metrics" |
  grep -E '^dsv4_router_(requests_total|escalations_total|workers_alive|time_to_first_token_seconds_count|request_duration_seconds_sum)' || true
step "pro worker /metrics (excerpt)"
curl -s "http://127.0.0.1:$pro_metrics/metrics" |
  grep -E '^dsv4_worker_(tokens_generated_total|draft_verify_passes_total|draft_tokens_total|plugin_info|decode_tokens_per_second|bytes_read_per_token)' || true

step "shutting down (workers drain on SIGTERM, then the router)"
kill -TERM "$flash_pid" "$pro_pid"
wait "$flash_pid"; echo "flash worker exited with $?"
wait "$pro_pid"; echo "pro worker exited with $?"
kill -TERM "$router_pid"
wait "$router_pid"; echo "router exited with $?"
pids=()
