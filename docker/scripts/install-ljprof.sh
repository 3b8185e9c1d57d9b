#!/bin/sh
# Step 5 of docker/luajit.Dockerfile: ljprof's own parts of the image.
# - ljprof_sampler.so, the GC/metrics sampling thread (ljprof/harness/ljprof_sampler.c),
#   on LuaJIT's default package.cpath; with misc.getmetrics where lmisclib.h exists.
# - /ljprof/out, where a run writes its results, owned by the unprivileged
#   user (uid 10001) that runs targets.
set -eu
inc=/usr/include/luajit-2.1
flags=""
if [ -f "$inc/lmisclib.h" ]; then flags="-DLJPROF_HAVE_LMISCLIB"; fi
mkdir -p /usr/local/lib/lua/5.1
# shellcheck disable=SC2086  # flags may be empty
gcc -std=c99 -O2 -g -Wall -Wextra -Werror -fPIC -shared -I"$inc" $flags \
  -o /usr/local/lib/lua/5.1/ljprof_sampler.so /usr/local/lib/ljprof/build/ljprof_sampler.c -lpthread
mkdir -p /ljprof/out
chown 10001:10001 /ljprof/out
