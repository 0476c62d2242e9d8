#!/usr/bin/env bash
# Installs the Debian packages dsv4d builds and tests with (only those missing).
set -euo pipefail
PKGS=(cmake g++ make pkg-config curl
      libzmq3-dev cppzmq-dev libmsgpack-cxx-dev prometheus-cpp-dev
      libboost-dev libboost-program-options-dev libdw-dev
      libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev
      python3 python3-zmq python3-msgpack
      prometheus iproute2 python3-yaml
      clang-14 libclang-rt-14-dev)  # the fuzz targets: clang, libFuzzer and its sanitizer runtimes
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# Node and npm for the gateway's SDK tests and the demo (the official openai and
# @anthropic-ai/sdk packages): Debian's, unless a node with npm is already there (e.g. NodeSource's,
# which conflicts with Debian's npm package).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "install-deps: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
