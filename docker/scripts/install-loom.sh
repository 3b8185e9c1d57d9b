#!/bin/sh
# Step 4 of docker/luajit.Dockerfile: Cloudflare's loom (MIT), when the recipe
# has `loom:`. Its module goes where `require "jit.loom"` finds it (beside
# LuaJIT's own jit.* modules on package.path), its template and licence under
# /usr/share/ljprof/loom/, with the commit it came from (read by imageinfo.lua).
# Inputs (build arguments): LOOM_FROM (none|git|local), LOOM_GIT, LOOM_REF.
# A local checkout's files are in /usr/src/loom-local (the context's loom-src/).
set -eu
share=/usr/share/ljprof/loom
case "$LOOM_FROM" in
  none)
    rm -rf /usr/src/loom-local
    exit 0
    ;;
  git)
    git clone -q "$LOOM_GIT" /usr/src/loom
    git -C /usr/src/loom checkout -q --detach "$LOOM_REF"
    commit=$(git -C /usr/src/loom rev-parse HEAD)
    ;;
  local)
    mv /usr/src/loom-local /usr/src/loom
    commit=local
    ;;
  *) echo "install-loom.sh: LOOM_FROM must be none, git or local, not '$LOOM_FROM'" >&2; exit 2 ;;
esac
rm -rf /usr/src/loom-local
for f in jit/loom.lua loom.html; do
  [ -f "/usr/src/loom/$f" ] || { echo "install-loom.sh: $LOOM_FROM source has no $f: not loom" >&2; exit 1; }
done
mkdir -p /usr/share/lua/5.1/jit "$share"
cp /usr/src/loom/jit/loom.lua /usr/share/lua/5.1/jit/loom.lua
cp /usr/src/loom/loom.html "$share/loom.html"
[ -f /usr/src/loom/COPYRIGHT ] && cp /usr/src/loom/COPYRIGHT "$share/COPYRIGHT"
echo "$commit" > "$share/COMMIT"
rm -rf /usr/src/loom
# It must load here: it requires jit.util, jit.vmdef, jit.bc and jit.dis_<arch>.
luajit -e 'require("jit.loom")'
