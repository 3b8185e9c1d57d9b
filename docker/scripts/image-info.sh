#!/bin/sh
# Step 6 of docker/luajit.Dockerfile: print what the image is, as JSON, for
# /usr/share/ljprof/image.json (read by `invoke images` and later by runs).
# Inputs (build arguments): LJPROF_RECIPE, LJPROF_IMAGE_HASH, LUAJIT_FROM,
# LUAJIT_GIT, LUAJIT_REF, LUAROCKS_FROM, DEBIAN_LUA_PACKAGES.
set -eu
here=$(dirname "$0")
rocks=$(mktemp)

luarocks_version=""
if command -v luarocks >/dev/null 2>&1; then
  luarocks_version=$(luarocks --version | head -n 1 | awk '{print $NF}')
fi
case "$LUAROCKS_FROM" in
  # "name<TAB>version<TAB>status<TAB>tree" per installed rock.
  source) luarocks list --porcelain | awk -F '\t' '{print $1 " " $2}' > "$rocks" ;;
  # shellcheck disable=SC2086  # a list of package names
  debian) dpkg-query -W -f '${Package} ${Version}\n' $DEBIAN_LUA_PACKAGES > "$rocks" ;;
  *) : > "$rocks" ;;
esac

LJPROF_LUAJIT_COMMIT=$(cat /usr/share/ljprof/luajit-commit) \
LJPROF_LUAJIT_BUILD=$(cat /usr/share/ljprof/luajit-build) \
LJPROF_LUAROCKS_VERSION="$luarocks_version" \
LJPROF_ROCKS_FILE="$rocks" \
LJPROF_FIXES_FILE=/usr/share/ljprof/luajit-fixes \
  luajit "$here/imageinfo.lua"
rm -f "$rocks"
