"""Messages that need a real process or socket (issue 13), word for word: an engine that is not there,
and a reader that closes the pipe early. Neither needs a Docker engine."""

from __future__ import annotations

import gc
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import docker.errors
import pytest

import docker
from ljprof import commands
from ljprof.docker_engine import unreachable_message
from ljprof.errors import BuildFailed

from .conftest import CI_RECIPE, free_port

REPO = Path(__file__).resolve().parents[2]


def failed_ping(address: str) -> tuple[str, str]:
    """What the SDK says when the engine at `address` cannot be reached, and what ljprof says."""
    try:
        docker.DockerClient(base_url=address).ping()  # the client asks the engine's version at once
    except docker.errors.DockerException as exc:
        said = str(exc), unreachable_message(exc, {"DOCKER_HOST": address})
    else:
        raise AssertionError(f"an engine answered at {address}")
    gc.collect()  # the SDK leaves the failed connection's socket to the garbage collector: here, not in a later test
    return said


# what the collector says about that socket
SDK_SOCKET = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@SDK_SOCKET
def test_an_engine_that_is_not_there_is_said_in_words(tmp_path: Path) -> None:
    address = f"unix://{tmp_path}/docker.sock"
    sdk, ours = failed_ping(address)
    assert "FileNotFoundError(2, 'No such file or directory')" in sdk  # the SDK's words: a Python repr
    assert ours == (
        f"cannot reach the Docker engine: there is no socket {tmp_path}/docker.sock (the engine is not running there)"
        "\n  hint: start it (e.g. `sudo systemctl start docker`, or `dockerd &`), or point DOCKER_HOST at a running "
        "engine")


@SDK_SOCKET
def test_a_refused_connection_is_said_in_words() -> None:
    sdk, ours = failed_ping("tcp://127.0.0.1:9")
    assert "NewConnectionError" in sdk
    assert ours.splitlines()[0] == (
        "cannot reach the Docker engine: nothing accepts connections at tcp://127.0.0.1:9 (connection refused)")


@pytest.mark.parametrize("command", [[sys.executable, "-m", "invoke", "--search-root", str(REPO)],
                                     [sys.executable, "-c", "from ljprof.cli import main; main()"]],
                         ids=["invoke", "ljprof"])
def test_list_into_a_closed_pipe_ends_quietly(tmp_path: Path, command: list[str]) -> None:
    # enough profiles to fill the pipe's buffer, so the writer meets the closed end for sure
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.lua").write_text("")
    profiles = "".join(f"  p{i:04d}: {{workdir: app, script: main.lua}}\n" for i in range(1500))
    (tmp_path / "profiles.yml").write_text("images:\n  default: {}\nprofiles:\n" + profiles)
    head = subprocess.run(f"{' '.join(map(repr, command))} list --config {tmp_path / 'profiles.yml'} | head -1",
                          shell=True, capture_output=True, text=True, check=False, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, executable=shutil.which("bash"))
    assert head.stdout == "p0000\tluajit main.lua\timage default\tprofilers none\tduration until it ends\n"
    assert head.stderr == ""


def test_ljprof_help_into_a_closed_pipe_ends_quietly() -> None:
    """invoke's own output (help, the task list) meets the closed pipe outside any task."""
    with subprocess.Popen([sys.executable, "-c", "from ljprof.cli import main; main()", "--help"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader is gone before the first line is written
        assert (proc.wait(timeout=60), proc.stderr.read()) == (141, b"")


# -- a build that cannot fetch: the failing step, the engine's words, and the way round them -------------

README_HINT = 'See the README\'s "Without GitHub, Docker Hub or luarocks.org".'


@pytest.mark.docker
def test_a_base_image_that_cannot_be_pulled_ends_with_the_offline_hint(
        tmp_path: Path, docker_client: docker.DockerClient, upstream_env: dict[str, str]) -> None:
    config = tmp_path / "profiles.yml"
    config.write_text(CI_RECIPE)
    environ = {**upstream_env, "LJPROF_BASE_IMAGE": "local/no-such-base:ljprof-test"}
    with pytest.raises(BuildFailed) as info:
        commands.build(config, "ci-git", {}, environ, io.StringIO())
    lines = str(info.value).splitlines()
    assert lines[0] == "the image build failed at step 2/36: FROM ${BASE_IMAGE}"
    assert lines[-1] == (
        "  hint: the build could not fetch the base image (from Docker Hub). Every source can be replaced: use a "
        "local base image: LJPROF_BASE_IMAGE=local/debian:bookworm (or --base-image; `sudo invoke base-image` makes "
        f"one with debootstrap). {README_HINT}")


@pytest.mark.docker
def test_luarocks_on_a_closed_port_ends_with_the_offline_hint(
        tmp_path: Path, docker_client: docker.DockerClient, base_image: str, upstream_tree: Path) -> None:
    port = free_port()  # bound and released: nothing listens there
    config = tmp_path / "profiles.yml"
    config.write_text("images:\n  ci-rocks:\n"
                      f"    luarocks: {{from: source, url: 'http://127.0.0.1:{port}/luarocks-3.8.0.tar.gz'}}\n"
                      "    rocks: [lua-cjson]\n")
    environ = {"LJPROF_BASE_IMAGE": base_image, "LJPROF_LUAJIT_SOURCE": str(upstream_tree),
               "LJPROF_BUILD_NETWORK": "host"}
    with pytest.raises(BuildFailed) as info:
        commands.build(config, "ci-rocks", {}, environ, io.StringIO())
    message = str(info.value)
    lines = message.splitlines()
    assert lines[0] == "the image build failed at step 23/36: RUN sh /usr/local/lib/ljprof/build/install-luarocks.sh"
    assert f"Connecting to 127.0.0.1:{port}... failed: Connection refused." in lines
    assert lines[-1] == (
        "  hint: the build could not fetch LuaRocks or a rock (from luarocks.org). Every source can be replaced: take "
        "LuaRocks and the rocks from Debian's packages: the `offline` recipe (--image offline or LJPROF_IMAGE=offline),"
        " or `luarocks: {from: debian}` in your recipe; or point `luarocks.url` at a copy. " + README_HINT)
