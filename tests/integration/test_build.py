"""Build real images from real LuaJIT sources, run LuaJIT in them, rebuild nothing the second time."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import docker
from ljprof import commands, docker_engine
from ljprof.errors import BuildFailed

from .conftest import CI_RECIPE, NO_LOOM, GitSource, all_container_ids, loom_recipe

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.docker

LUA_CHECK = (
    'local cjson = require("cjson"); local socket = require("socket"); '
    "local t = {} for i = 1, 100 do t[i] = i * i end "
    'print(cjson.encode({#arg, arg[1], t[100] + t[1]}), jit.os, type(socket.gettime))'
)


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profiles.yml"
    path.write_text(text)
    return path


def run(client: docker.DockerClient, tag: str, *command: str) -> str:
    code, output = docker_engine.run_command(client, tag, list(command))
    assert code == 0, output
    return output


@pytest.fixture(scope="module")
def git_build(tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient,
              upstream_env: dict[str, str], upstream_git: GitSource
              ) -> tuple[Path, dict[str, str], commands.BuildOutcome]:
    """The `ci-git` recipe built (really: --rebuild) from upstream LuaJIT cloned over loopback git."""
    config = write_config(tmp_path_factory.mktemp("git"), CI_RECIPE)
    environ = dict(upstream_env)
    out = io.StringIO()
    outcome = commands.build(config, "ci-git", {}, environ, out, rebuild=True)
    printed = out.getvalue()
    assert f"  luajit    {upstream_git.url} @ {upstream_git.ref} (build: auto)\n" in printed
    # the step display: the steps that do work, not ARG or COPY
    assert re.search(r"\n  \[ 2/\d+\] FROM \$\{BASE_IMAGE\}  \(\+\d+s\)\n", printed), printed
    assert "RUN sh /usr/local/lib/ljprof/build/build-luajit.sh" in printed and "] ARG " not in printed
    return config, environ, outcome


def test_git_build_gives_upstream_luajit_that_runs_lua(git_build: tuple[Path, dict[str, str], commands.BuildOutcome],
                                                       docker_client: docker.DockerClient,
                                                       upstream_git: GitSource) -> None:
    _, _, outcome = git_build
    assert outcome.built
    assert outcome.log is not None and "Successfully tagged " + outcome.tag in outcome.log.read_text()
    assert run(docker_client, outcome.tag, "luajit", "-v").startswith("LuaJIT 2.1.0-beta3 -- Copyright (C) 2005-")
    # a script file with arguments, as `luajit script.lua a1 b2` runs it
    output = run(docker_client, outcome.tag, "sh", "-c",
                 f"cat > /tmp/check.lua <<'EOF'\n{LUA_CHECK}\nEOF\nluajit /tmp/check.lua a1 b2")
    assert output == '[2,"a1",10001]\tLinux\tfunction\n'
    facts = commands.image_facts(docker_client, outcome.tag, outcome.image_id)
    assert facts["recipe"] == "ci-git"
    assert facts["luajit"]["version"] == "LuaJIT 2.1.0-beta3"
    assert facts["luajit"]["commit"] == upstream_git.commit
    assert facts["luajit"]["build_system"] == "make"
    assert facts["luajit"]["source"] == upstream_git.url
    # upstream LuaJIT has no misc.*: reported absent, not assumed
    assert facts["features"]["memprof"] == {"present": False, "works": False, "error": "misc.memprof is absent"}
    assert facts["features"]["sysprof"]["present"] is False
    assert facts["features"]["getmetrics"] == {"present": False, "keys": []}
    assert facts["luarocks"]["from"] == "debian" and facts["luarocks"]["version"] == "3.8.0"
    assert [r["name"] for r in facts["luarocks"]["rocks"]] == ["lua-cjson", "lua-socket", "luarocks"]


def test_second_build_finds_the_image_and_builds_nothing(
        git_build: tuple[Path, dict[str, str], commands.BuildOutcome], docker_client: docker.DockerClient) -> None:
    config, environ, first = git_build
    images_before = {i.id for i in docker_client.images.list(all=True)}
    out = io.StringIO()
    again = commands.build(config, "ci-git", {}, environ, out)
    assert not again.built
    assert (again.tag, again.image_id) == (first.tag, first.image_id)
    assert out.getvalue().splitlines()[-1].startswith(f"up to date: {first.tag} ")
    assert {i.id for i in docker_client.images.list(all=True)} == images_before


def test_invoke_build_and_images_from_the_command_line(
        git_build: tuple[Path, dict[str, str], commands.BuildOutcome]) -> None:
    config, environ, first = git_build
    env = {**os.environ, **environ}
    proc = subprocess.run([sys.executable, "-m", "invoke", "build", "--image", "ci-git", "--config", str(config)],
                          cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert re.search(rf"^up to date: {re.escape(first.tag)} \(sha256:[0-9a-f]{{12}}\); nothing to build "
                     r"\(0\.\d\ds\)$", proc.stdout, re.M), proc.stdout
    proc = subprocess.run([sys.executable, "-m", "invoke", "images", "--json"], cwd=REPO, env=env,
                          capture_output=True, text=True, check=True)
    rows = {row["tag"]: row for row in json.loads(proc.stdout)}
    assert rows[first.tag]["recipe"] == "ci-git"
    assert rows[first.tag]["facts"]["luajit"]["build_system"] == "make"


def test_local_source_build_with_luarocks_from_source(tmp_path: Path, docker_client: docker.DockerClient,
                                                       base_image: str, upstream_tree: Path,
                                                       luarocks_url: str) -> None:
    """The local-tree path, and LuaRocks built from its tarball as the original Dockerfile does."""
    config = write_config(tmp_path, (
        "images:\n"
        "  ci-local:\n"
        f"    luarocks: {{from: source, url: '{luarocks_url}'}}\n"
        "    rocks: []\n"))
    environ = {"LJPROF_BASE_IMAGE": base_image, "LJPROF_LUAJIT_SOURCE": str(upstream_tree),
               "LJPROF_BUILD_NETWORK": "host", **NO_LOOM}
    outcome = commands.build(config, "ci-local", {}, environ, io.StringIO(), rebuild=True)
    assert outcome.built
    facts = commands.image_facts(docker_client, outcome.tag, outcome.image_id)
    assert facts["luajit"]["source"] == "local source tree"
    assert facts["luajit"]["build_system"] == "make"
    assert facts["luarocks"] == {"from": "source", "version": "3.8.0", "rocks": []}
    # as the original: `lua` is LuaJIT, and LuaRocks was configured for LuaJIT's headers
    assert run(docker_client, outcome.tag, "lua", "-e", "print(jit.version, 2^10)") == "LuaJIT 2.1.0-beta3\t1024\n"
    config_out = run(docker_client, outcome.tag, "luarocks", "config", "variables.LUA_INCDIR")
    assert config_out.strip() == "/usr/include/luajit-2.1"


def test_failed_build_names_the_step_shows_the_log_and_leaves_no_container(
        tmp_path: Path, docker_client: docker.DockerClient, base_image: str) -> None:
    config = write_config(tmp_path, (
        "images:\n"
        "  ci-broken:\n"
        "    apt: [cmake, no-such-package-ljprof]\n"
        "    luarocks: {from: debian}\n"))
    environ = {"LJPROF_BASE_IMAGE": base_image, "LJPROF_BUILD_NETWORK": "host", **NO_LOOM}
    before = all_container_ids(docker_client)
    with pytest.raises(BuildFailed) as info:
        commands.build(config, "ci-broken", {}, environ, io.StringIO())
    message = str(info.value)
    assert re.match(r"the image build failed at step \d+/\d+: RUN sh /usr/local/lib/ljprof/build/install-packages.sh\n"
                    r"The command '/bin/sh -c sh /usr/local/lib/ljprof/build/install-packages.sh' returned a "
                    r"non-zero code: 100\n", message), message
    assert "E: Unable to locate package no-such-package-ljprof" in message
    assert info.value.exit_code == 4
    assert all_container_ids(docker_client) == before


@pytest.mark.tarantool
def test_tarantool_fork_has_working_memprof(tmp_path: Path, docker_client: docker.DockerClient,
                                            tarantool_git: GitSource, tarantool_env: dict[str, str]) -> None:
    config = write_config(tmp_path, "images:\n  ci-tarantool:\n    luarocks: {from: debian}\n")
    environ = dict(tarantool_env)
    outcome = commands.build(config, "ci-tarantool", {}, environ, io.StringIO())
    facts = commands.image_facts(docker_client, outcome.tag, outcome.image_id)
    assert facts["luajit"]["build_system"] == "cmake"
    assert facts["luajit"]["commit"] == tarantool_git.commit
    assert facts["features"]["memprof"] == {"present": True, "works": True}
    assert facts["features"]["sysprof"] == {"present": True, "works": True}
    assert "gc_total" in facts["features"]["getmetrics"]["keys"]
    script = ('assert(misc.memprof.start("/tmp/m.bin")) local t = {} for i = 1, 1000 do t[i] = {i} end '
              "assert(misc.memprof.stop())")
    output = run(docker_client, outcome.tag, "sh", "-c", f"luajit -e '{script}' && luajit -tm /tmp/m.bin")
    assert output.startswith("ALLOCATIONS\n")
    assert re.search(r"^=\(command line\):1: \d+ events\t\+\d+B\t-0B$", output, re.M), output


def test_loom_is_installed_from_git_with_debian_jquery(tmp_path: Path, docker_client: docker.DockerClient,
                                                       upstream_env: dict[str, str], loom_git: GitSource) -> None:
    """`loom:` clones loom at the pinned commit; `require "jit.loom"` works and records traces."""
    config = write_config(tmp_path, loom_recipe(loom_git))
    out = io.StringIO()
    outcome = commands.build(config, "ci-loom", {}, dict(upstream_env), out)
    assert f"  loom      {loom_git.url} @ {loom_git.ref}\n" in out.getvalue()
    facts = json.loads(run(docker_client, outcome.tag, "cat", "/usr/share/ljprof/image.json"))
    loom = facts["features"]["loom"]
    assert (loom["installed"], loom["commit"]) == (True, loom_git.commit)
    assert loom["jquery"] == "/usr/share/javascript/jquery/jquery.min.js"
    assert re.fullmatch(r"3\.\d+\.\d+", loom["jquery_version"])
    printed = run(docker_client, outcome.tag, "luajit", "-e",
                  'local loom = require("jit.loom"); loom.on(); local s = 0; for i = 1, 1000 do s = s + i end; '
                  "local traces, funcs = loom.off(); print(#traces, s)")
    assert printed.split() == ["1", "500500"]
