#!/bin/sh
# Step 2 of docker/luajit.Dockerfile: get LuaJIT's source, build and install it
# under /usr, as the original Dockerfile does.
# Inputs (build arguments): LUAJIT_FROM (git|local), LUAJIT_GIT, LUAJIT_REF,
# LUAJIT_BUILD (auto|cmake|make), LUAJIT_CMAKE_OPTIONS, LUAJIT_COMMIT,
# LUAJIT_FIXES (for apply-fixes.sh).
set -eu
src=/usr/src/luajit

case "$LUAJIT_FROM" in
  git)
    # A full clone, not --depth 1: the ref may be any commit, and the fork's
    # CMake takes its version from `git describe`, which needs the tags.
    git clone "$LUAJIT_GIT" "$src"
    git -C "$src" checkout --detach "$LUAJIT_REF"
    ;;
  local)
    cp -a /usr/src/luajit-local "$src"
    ;;
  *) echo "build-luajit.sh: LUAJIT_FROM must be git or local, not '$LUAJIT_FROM'" >&2; exit 2 ;;
esac
rm -rf /usr/src/luajit-local

commit="$LUAJIT_COMMIT"
if [ -z "$commit" ] && [ -e "$src/.git" ]; then
  commit=$(git -C "$src" rev-parse HEAD)
fi

# ljprof's fixes to the fork's profilers (docker/patches/), before the build;
# `git describe` (the fork's version) does not see them.
mkdir -p /usr/share/ljprof
sh /usr/local/lib/ljprof/build/apply-fixes.sh "$src" /usr/share/ljprof/luajit-fixes

build="$LUAJIT_BUILD"
if [ "$build" = auto ]; then
  # Tarantool's fork builds with CMake; upstream LuaJIT 2.1 only has a Makefile.
  if [ -f "$src/CMakeLists.txt" ]; then build=cmake; else build=make; fi
fi

cd "$src"
case "$build" in
  cmake)
    # shellcheck disable=SC2086  # LUAJIT_CMAKE_OPTIONS is a list of options
    cmake . -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr $LUAJIT_CMAKE_OPTIONS
    # Tarantool's fork generates src/lj_vm.S in two targets (vm_static and vm_shared); in a
    # parallel build one rewrites it while the other assembles it, and the link then fails
    # (seen once: undefined reference to lj_vm_floor). Generate it once, alone, first.
    if cmake --build . --target help | grep -qw vm_static; then
      cmake --build . --target vm_static
    fi
    cmake --build . --parallel
    make install
    ;;
  make)
    if [ -n "$LUAJIT_CMAKE_OPTIONS" ]; then
      echo "build-luajit.sh: cmake options were given, but this source builds with make" >&2
      exit 2
    fi
    make -j"$(nproc)" PREFIX=/usr
    make install PREFIX=/usr
    # LuaJIT 2.1 development releases install only luajit-2.1.0-betaN and
    # print the symlink command instead of running it; make it, as users expect.
    if [ ! -e /usr/bin/luajit ]; then
      ln -s "$(basename "$(ls /usr/bin/luajit-2.1* | head -n 1)")" /usr/bin/luajit
    fi
    ;;
  *) echo "build-luajit.sh: LUAJIT_BUILD must be auto, cmake or make, not '$build'" >&2; exit 2 ;;
esac

printf '%s\n' "$commit" > /usr/share/ljprof/luajit-commit
printf '%s\n' "$build" > /usr/share/ljprof/luajit-build
luajit -v
