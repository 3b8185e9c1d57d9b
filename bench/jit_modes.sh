#!/bin/sh
# bench/jit_modes.sh IMAGE LOOM_CHECKOUT PROGRAMS_DIR MODE LOOM_MAX_TRACES SCRIPT [ARGS...]
# Runs bench/jit_modes.lua in IMAGE (network off) with the jit harness, a loom
# checkout mounted as jit.loom, the host's jQuery (Debian's libjs-jquery) and
# PROGRAMS_DIR as the working folder; prints its times and the files' sizes.
set -eu
img=$1 loom=$2 programs=$3; shift 3
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d /tmp/ljprof-jit-bench.XXXXXX)
chmod 777 "$out"
docker run --rm --network none -v "$here:/x:ro" -v "$out:/out" -v "$here/../ljprof/profilers/jit:/h:ro" \
  -v "$loom/jit/loom.lua:/usr/local/share/lua/5.1/jit/loom.lua:ro" -v "$loom:/loom:ro" \
  -v /usr/share/javascript/jquery:/jq:ro -v "$programs:/b:ro" -w /b "$img" luajit /x/jit_modes.lua "$@" >/dev/null
ls -l "$out" | awk 'NR > 1 { print $5, $9 }'
grep '^loom_' "$out/jit.status.txt" 2>/dev/null || true
rm -rf "$out"
