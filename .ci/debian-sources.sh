#!/usr/bin/env bash
# Upstream LuaJIT 2.1 and LuaRocks 3.8.0 source, from Debian's source packages,
# for the integration tests on machines that cannot reach GitHub or
# luarocks.org. Run as root on Debian (CI runs it on the host; GitHub Actions
# runs it in a debian:bookworm container).
#   usage: .ci/debian-sources.sh OUTDIR
# Leaves OUTDIR/luajit/ (an unpacked upstream LuaJIT tree) and
# OUTDIR/luarocks.orig.tar.xz.
set -euo pipefail
out=$(realpath -m "$1")
mkdir -p "$out"

# apt-get source needs deb-src entries: copy the machine's own deb entries.
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
    > /etc/apt/sources.list.d/ljprof-deb-src.sources
else
  sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > /etc/apt/sources.list.d/ljprof-deb-src.list
fi
apt-get update -qq
command -v dpkg-source >/dev/null || apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get source --download-only luajit luarocks 2>&1 | grep -v '^W: Download is performed unsandboxed' || true

# Debian's luajit orig tarball has no top folder: unpack it into luajit/.
rm -rf "$out/luajit"
mkdir "$out/luajit"
tar -xzf luajit_*.orig.tar.gz -C "$out/luajit"
test -f "$out/luajit/src/luajit.c"
cp luarocks_*.orig.tar.xz "$out/luarocks.orig.tar.xz"
echo "upstream LuaJIT: $(ls luajit_*.orig.tar.gz) -> $out/luajit"
echo "LuaRocks: $(ls luarocks_*.orig.tar.xz) -> $out/luarocks.orig.tar.xz"
