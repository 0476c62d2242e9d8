#!/usr/bin/env bash
# Checks the operations files without a server (issue 17), as CI does (scripts/test.sh):
# the Prometheus config and alert rules load (promtool check), every alert's unit tests pass
# (promtool test rules).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v promtool >/dev/null || { echo "check-ops: promtool missing (Debian package prometheus; scripts/install-deps.sh)" >&2; exit 1; }
promtool check config docker/prometheus/prometheus.yml
promtool check rules docker/prometheus/alerts.yml
promtool test rules docker/prometheus/alerts_test.yml
