"""Integration tests: a real Docker engine and real LuaJIT builds, nothing mocked.

What they need, and where it comes from:
- a Docker engine: DOCKER_HOST or the default socket;
- a base image: LJPROF_TEST_BASE_IMAGE (default local/debian:bookworm, made by
  `invoke base-image`);
- upstream LuaJIT 2.1: LJPROF_TEST_LUAJIT_SOURCE (a source tree; it is put in a
  git repository served on loopback, so the build's `git clone` step runs for
  real), or LJPROF_TEST_LUAJIT_GIT with LJPROF_TEST_LUAJIT_REF;
- LuaRocks' source: LJPROF_TEST_LUAROCKS_TARBALL (served on loopback), else
  luarocks.org;
- Tarantool's fork, for the tests marked `tarantool`: LJPROF_TEST_TARANTOOL_LUAJIT,
  a git URL or a local git repository (bare or not).
Without them the tests skip and say why; with LJPROF_REQUIRE_DOCKER=1 (CI) a
missing engine, base image or upstream source fails instead.
"""

from __future__ import annotations

import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import docker.errors
import pytest

import docker
from ljprof import docker_engine
from ljprof.errors import DockerUnavailable
from ljprof.run.runner import LABEL_PROFILE

REQUIRE = os.environ.get("LJPROF_REQUIRE_DOCKER") == "1"


def unavailable(reason: str) -> NoReturn:
    if REQUIRE:
        pytest.fail(f"{reason} (LJPROF_REQUIRE_DOCKER=1 makes this a failure)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    try:
        return docker_engine.connect()
    except DockerUnavailable as exc:
        unavailable(f"no Docker engine: {exc}")


@pytest.fixture(scope="session")
def base_image(docker_client: docker.DockerClient) -> str:
    name = os.environ.get("LJPROF_TEST_BASE_IMAGE", "local/debian:bookworm")
    if docker_engine.find_image(docker_client, name) is None:
        try:
            docker_client.images.pull(name)
            return name
        except docker.errors.DockerException:
            pass
        unavailable(f"base image {name} is missing: make it with `invoke base-image` or set LJPROF_TEST_BASE_IMAGE")
    return name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def git(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "ljprof", "GIT_AUTHOR_EMAIL": "ljprof@localhost",
           "GIT_COMMITTER_NAME": "ljprof", "GIT_COMMITTER_EMAIL": "ljprof@localhost"}
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


@dataclass(frozen=True)
class GitSource:
    url: str
    ref: str
    commit: str


class GitServer:
    """`git daemon` on 127.0.0.1 serving every repository under one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["git", "daemon", f"--base-path={root}", "--export-all", "--reuseaddr",
             "--listen=127.0.0.1", f"--port={self.port}", str(root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def url(self, name: str) -> str:
        url = f"git://127.0.0.1:{self.port}/{name}"
        deadline = time.monotonic() + 10
        while subprocess.run(["git", "ls-remote", url], capture_output=True, check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"git daemon does not serve {url}")
            time.sleep(0.1)
        return url

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    server = GitServer(tmp_path_factory.mktemp("git-served"))
    yield server
    server.stop()


def serve_tree_as_git(server: GitServer, tree: Path, name: str) -> GitSource:
    """Commit a copy of a plain source tree into a repository the server serves."""
    work = server.root / f"{name}-work"
    shutil.copytree(tree, work, symlinks=True)
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", f"LuaJIT source from {tree}", cwd=work)
    git("clone", "-q", "--bare", str(work), str(server.root / name))
    commit = git("rev-parse", "HEAD", cwd=work)
    return GitSource(server.url(name), commit, commit)


@pytest.fixture(scope="session")
def upstream_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain upstream LuaJIT 2.1 source tree (no .git)."""
    source = os.environ.get("LJPROF_TEST_LUAJIT_SOURCE")
    if source:
        return Path(source)
    url, ref = os.environ.get("LJPROF_TEST_LUAJIT_GIT"), os.environ.get("LJPROF_TEST_LUAJIT_REF")
    if not (url and ref):
        unavailable("no upstream LuaJIT source: set LJPROF_TEST_LUAJIT_SOURCE, or LJPROF_TEST_LUAJIT_GIT and _REF")
    tree = tmp_path_factory.mktemp("upstream") / "luajit"
    git("clone", "-q", url, str(tree))
    git("checkout", "-q", "--detach", ref, cwd=tree)
    shutil.rmtree(tree / ".git")
    return tree


@pytest.fixture(scope="session")
def upstream_git(git_server: GitServer, upstream_tree: Path) -> GitSource:
    """Upstream LuaJIT in a git repository served on loopback."""
    return serve_tree_as_git(git_server, upstream_tree, "luajit.git")


@pytest.fixture(scope="session")
def tarantool_git(git_server: GitServer) -> GitSource:
    """Tarantool's fork: from LJPROF_TEST_TARANTOOL_LUAJIT (URL or local repository)."""
    source = os.environ.get("LJPROF_TEST_TARANTOOL_LUAJIT")
    if not source:
        pytest.skip("Tarantool's LuaJIT is not available here: set LJPROF_TEST_TARANTOOL_LUAJIT to its git URL "
                    "or a local clone (CI cannot reach GitHub, so this test runs only where it is given)")
    from ljprof.config.loader import TARANTOOL_LUAJIT_REF

    if "://" in source:
        return GitSource(source, TARANTOOL_LUAJIT_REF, TARANTOOL_LUAJIT_REF)
    link = git_server.root / "tarantool-luajit"
    link.symlink_to(Path(source).resolve())
    return GitSource(git_server.url("tarantool-luajit"), TARANTOOL_LUAJIT_REF, TARANTOOL_LUAJIT_REF)


@pytest.fixture(scope="session")
def loom_git(git_server: GitServer, tmp_path_factory: pytest.TempPathFactory) -> GitSource:
    """Cloudflare's loom: from LJPROF_TEST_LOOM_SOURCE (a git URL, a local repository or a plain checkout)."""
    source = os.environ.get("LJPROF_TEST_LOOM_SOURCE")
    if not source:
        pytest.skip("loom is not available here: set LJPROF_TEST_LOOM_SOURCE to a checkout or git URL of "
                    "https://github.com/cloudflare/loom (CI cannot reach GitHub, so loom's tests run only where "
                    "it is given)")
    from ljprof.config.loader import LOOM_REF

    if "://" in source:
        return GitSource(source, LOOM_REF, LOOM_REF)
    path = Path(source).resolve()
    if not (path / "HEAD").is_file() and not (path / ".git").exists():
        return serve_tree_as_git(git_server, path, "loom.git")
    link = git_server.root / "loom-repo"
    link.symlink_to(path)
    commit = git("rev-parse", "HEAD", cwd=path)
    return GitSource(git_server.url("loom-repo"), commit, commit)


# For runs of the shipped recipes (which have `loom: true`, from GitHub) on machines that reach
# no GitHub: build them without loom, as LJPROF_LOOM_GIT=none does for a user.
NO_LOOM = {"LJPROF_LOOM_GIT": "none"}


def loom_recipe(loom: GitSource) -> str:
    """CI_RECIPE's image with loom, as the recipe `ci-loom` (an `images:` block)."""
    return CI_RECIPE.replace("  ci-git:\n", "  ci-loom:\n") + f"    loom: {{git: '{loom.url}', ref: {loom.ref}}}\n"


@pytest.fixture(scope="session")
def tarantool_env(base_image: str, tarantool_git: GitSource) -> dict[str, str]:
    """The overrides that build a recipe from Tarantool's fork here: local base, the fork over loopback git,
    and no loom (the shipped recipes clone it from GitHub)."""
    return {"LJPROF_BASE_IMAGE": base_image, "LJPROF_LUAJIT_GIT": tarantool_git.url,
            "LJPROF_LUAJIT_REF": tarantool_git.ref, "LJPROF_BUILD_NETWORK": "host", **NO_LOOM}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def luarocks_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A URL of LuaRocks' source tarball: served on loopback when one is given, else luarocks.org."""
    tarball = os.environ.get("LJPROF_TEST_LUAROCKS_TARBALL")
    if not tarball:
        yield "https://luarocks.org/releases/luarocks-3.8.0.tar.gz"
        return
    folder = tmp_path_factory.mktemp("luarocks-served")
    # Debian's orig tarball is .tar.xz; serve it as .tar.gz, the form luarocks.org has.
    with tarfile.open(tarball) as src, tarfile.open(folder / "luarocks-3.8.0.tar.gz", "w:gz") as dst:
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: _QuietHandler(*a, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/luarocks-3.8.0.tar.gz"
    server.shutdown()
    server.server_close()


def all_container_ids(client: docker.DockerClient) -> set[str]:
    # sparse: the engine's list as it is; a full list inspects each container, and one that a
    # finishing run removes in between raised NotFound
    return {c.id for c in client.containers.list(all=True, sparse=True)}


# The image recipe every run test uses: upstream LuaJIT with Debian's rocks.
# test_build.py builds it with --rebuild; runs find it by its content hash.
CI_RECIPE = (
    "images:\n"
    "  ci-git:\n"
    "    luarocks: {from: debian}\n"
    "    rocks: [lua-cjson, luasocket]\n"
)


@pytest.fixture(scope="session")
def upstream_env(base_image: str, upstream_git: GitSource) -> dict[str, str]:
    """The overrides that make the ci-git recipe build here: local base, loopback git."""
    return {"LJPROF_BASE_IMAGE": base_image, "LJPROF_LUAJIT_GIT": upstream_git.url,
            "LJPROF_LUAJIT_REF": upstream_git.ref, "LJPROF_BUILD_NETWORK": "host"}


def containers_of(client: docker.DockerClient, profile: str) -> list[Any]:
    """The containers (any state) of a profile's runs, by ljprof's label."""
    # sparse, as in all_container_ids: a run's containers come and go while this looks
    return list(client.containers.list(all=True, sparse=True, filters={"label": f"{LABEL_PROFILE}={profile}"}))


def ctrl_c_profile(config: Path, profile: str, environ: dict[str, str], client: docker.DockerClient,
                   running: int, cwd: Path, wait_s: float) -> tuple[int, str, str]:
    """`invoke profile` in a process of its own, sent SIGINT (a terminal's Ctrl-C) once `running` of the
    profile's containers run (within `wait_s`): its exit code, stdout and stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "invoke", "profile", "--name", profile, "--config", str(config)],
                            cwd=cwd, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # a shell that started this suite in the background left SIGINT ignored, and
                            # Python then installs no KeyboardInterrupt handler: give the task the default
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + wait_s
        while sum(c.status == "running" for c in containers_of(client, profile)) < running:
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        # a failure above must not leave the task running, nor its pipes open for a later test's
        # garbage collection to report (as ResourceWarnings, which fail whichever test is running)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, stdout, stderr
