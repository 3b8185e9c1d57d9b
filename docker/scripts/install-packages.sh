#!/bin/sh
# Step 1 of docker/luajit.Dockerfile: the system packages.
# Inputs (build arguments): APT_PACKAGES, LUAROCKS_FROM, DEBIAN_LUA_PACKAGES.
set -eu
export DEBIAN_FRONTEND=noninteractive

# What every build needs. buildpack-deps images have all of it already (apt
# then installs nothing); a minimal Debian base made by debootstrap has none.
pkgs="build-essential ca-certificates git curl unzip"
case "$LUAROCKS_FROM" in
  # LuaRocks' own build and `luarocks install luasec` need these.
  source) pkgs="$pkgs wget libssl-dev" ;;
  # LuaRocks and the rocks come from Debian (for builds without luarocks.org).
  debian) pkgs="$pkgs $DEBIAN_LUA_PACKAGES" ;;
  none) ;;
  *) echo "install-packages.sh: LUAROCKS_FROM must be source, debian or none, not '$LUAROCKS_FROM'" >&2; exit 2 ;;
esac

apt-get update
# shellcheck disable=SC2086  # word splitting of the package lists is wanted
apt-get install -y --no-install-recommends $pkgs $APT_PACKAGES
rm -rf /var/lib/apt/lists/*
