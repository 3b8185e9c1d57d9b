#!/bin/sh
# Step 3 of docker/luajit.Dockerfile: LuaRocks and the rocks.
# Inputs (build arguments): LUAROCKS_FROM (source|debian|none),
# LUAROCKS_VERSION, LUAROCKS_URL, ROCKS.
set -eu

# As the original: scripts and rocks that run `lua` get LuaJIT.
ln -sf /usr/bin/luajit /usr/bin/lua

case "$LUAROCKS_FROM" in
  source)
    cd /usr/src
    wget -O luarocks.tar.gz "$LUAROCKS_URL"
    mkdir luarocks && tar -xf luarocks.tar.gz -C luarocks --strip-components=1
    cd luarocks
    ./configure --with-lua-include=/usr/include/luajit-2.1 --with-lua-interpreter=luajit
    make
    make install
    cd / && rm -rf /usr/src/luarocks /usr/src/luarocks.tar.gz
    for rock in $ROCKS; do
      luarocks install "$rock"
    done
    ;;
  debian)
    # Debian's rocks are built for the Lua 5.1 ABI that LuaJIT loads, but their
    # C modules live under the multiarch path, which our LuaJIT (prefix /usr)
    # does not search; /usr/lib/lua/5.1 is on its default package.cpath.
    for dir in /usr/lib/*-linux-gnu/lua/5.1; do
      [ -d "$dir" ] || continue
      mkdir -p /usr/lib/lua/5.1
      cp -rs "$dir"/. /usr/lib/lua/5.1/
    done
    ;;
  none) ;;
  *) echo "install-luarocks.sh: LUAROCKS_FROM must be source, debian or none, not '$LUAROCKS_FROM'" >&2; exit 2 ;;
esac
