# An ljprof image: LuaJIT (Tarantool's fork by default, or upstream LuaJIT 2.1),
# LuaRocks and rocks, built the way the original ljprof Dockerfile built them:
#   FROM buildpack-deps:bullseye; apt cmake; git clone tarantool/luajit;
#   cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr;
#   cmake --build . --parallel; make install; LuaRocks 3.8.0 against it;
#   luarocks install luasec copas lua-cjson.
# memprof does not work on Alpine (musl): keep the base Debian-like.
#
# Only classic-builder syntax: the docker SDK (`invoke build`) uses the classic
# builder, and GitHub Actions builds the same file with buildx. Every value
# comes from a build argument that ljprof.plan computes from profiles.yml; the
# defaults below are the `default` recipe, so a plain `docker build` of a
# context made by `invoke context` gives the same image.
ARG BASE_IMAGE=buildpack-deps:bullseye
FROM ${BASE_IMAGE}

# Step 1: system packages. buildpack-deps already has the compilers, git and
# curl; a minimal Debian base (`invoke base-image`) does not, so they are named.
ARG APT_PACKAGES="cmake libjs-jquery"
ARG LUAROCKS_FROM=source
ARG DEBIAN_LUA_PACKAGES=""
COPY scripts/install-packages.sh /usr/local/lib/ljprof/build/
RUN sh /usr/local/lib/ljprof/build/install-packages.sh

# Step 2: LuaJIT from a git URL and ref, or from the local tree in luajit-src/,
# with ljprof's fixes to the fork's profilers (patches/; `none`: as fetched).
ARG LUAJIT_FROM=git
ARG LUAJIT_GIT=https://github.com/tarantool/luajit.git
ARG LUAJIT_REF=master
ARG LUAJIT_BUILD=auto
ARG LUAJIT_CMAKE_OPTIONS=""
ARG LUAJIT_COMMIT=""
ARG LUAJIT_FIXES=memprof-symtab-redump,profiler-stream-buffer
COPY luajit-src/ /usr/src/luajit-local/
COPY patches/ /usr/local/lib/ljprof/build/patches/
COPY scripts/build-luajit.sh scripts/apply-fixes.sh /usr/local/lib/ljprof/build/
RUN sh /usr/local/lib/ljprof/build/build-luajit.sh

# Step 3: LuaRocks and the rocks (from luarocks.org, or from Debian's packages).
ARG LUAROCKS_VERSION=3.8.0
ARG LUAROCKS_URL=https://luarocks.org/releases/luarocks-3.8.0.tar.gz
ARG ROCKS="luasec copas lua-cjson"
COPY scripts/install-luarocks.sh /usr/local/lib/ljprof/build/
RUN sh /usr/local/lib/ljprof/build/install-luarocks.sh

# Step 4: Cloudflare's loom, when the recipe has `loom:` (from git, or a local
# checkout in loom-src/); its template's jQuery comes from Debian's libjs-jquery,
# which the plan adds to APT_PACKAGES.
ARG LOOM_FROM=git
ARG LOOM_GIT=https://github.com/cloudflare/loom.git
ARG LOOM_REF=643db2f1840e23c62c0bcdadc3131eef03a6e431
COPY loom-src/ /usr/src/loom-local/
COPY scripts/install-loom.sh /usr/local/lib/ljprof/build/
RUN sh /usr/local/lib/ljprof/build/install-loom.sh

# Step 5: ljprof's sampler module and the folder runs write to.
COPY scripts/install-ljprof.sh harness/ljprof_sampler.c /usr/local/lib/ljprof/build/
RUN sh /usr/local/lib/ljprof/build/install-ljprof.sh

# Step 6: what the image says about itself (read by `invoke images`).
ARG LJPROF_RECIPE=default
ARG LJPROF_IMAGE_HASH=""
COPY scripts/image-info.sh harness/imageinfo.lua /usr/local/lib/ljprof/build/
RUN mkdir -p /usr/share/ljprof \
 && sh /usr/local/lib/ljprof/build/image-info.sh > /usr/share/ljprof/image.json \
 && cat /usr/share/ljprof/image.json
# org.ljprof.fixes: the fixes the recipe asked for; image.json says which of
# them applied (on upstream LuaJIT none does).
LABEL org.ljprof.managed="true" \
      org.ljprof.recipe="${LJPROF_RECIPE}" \
      org.ljprof.hash="${LJPROF_IMAGE_HASH}" \
      org.ljprof.fixes="${LUAJIT_FIXES}"
