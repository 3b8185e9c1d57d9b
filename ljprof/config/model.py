"""Frozen data shared by the pipeline's stages (config -> plan -> build)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class LuajitSource:
    """Where LuaJIT's source comes from and how it is built.

    Exactly one of `git` (with `ref`) and `path` is used: `path` wins when set.
    """

    git: str
    ref: str
    path: Path | None = None
    build: str = "auto"  # auto | cmake | make
    cmake_options: tuple[str, ...] = ()
    fixes: tuple[str, ...] = ()  # ljprof's fixes to apply (names of docker/patches/*.patch), in a fixed order


@dataclass(frozen=True)
class LuarocksSpec:
    """How LuaRocks and the rocks get into the image."""

    source: str = "source"  # source (luarocks.org) | debian (Debian packages) | none
    version: str = "3.8.0"
    url: str = ""


@dataclass(frozen=True)
class LoomSource:
    """Where Cloudflare's loom (jit/loom.lua and its template loom.html) comes from.

    Exactly one of `git` (with `ref`) and `path` (a checkout) is used: `path` wins when set.
    """

    git: str
    ref: str
    path: Path | None = None


@dataclass(frozen=True)
class ImageRecipe:
    """One entry of `images:` in profiles.yml, with every default filled in."""

    name: str
    base: str
    apt: tuple[str, ...]
    luajit: LuajitSource
    luarocks: LuarocksSpec
    rocks: tuple[str, ...]
    loom: LoomSource | None = None  # None: no loom in the image (the original Dockerfile has none)


@dataclass(frozen=True)
class Config:
    """A loaded and validated profiles.yml."""

    path: Path
    images: dict[str, ImageRecipe] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)


@dataclass(frozen=True)
class EnvVar:
    """One variable of a target's environment: a literal, or a secret read from the host.

    A secret's value is read when the run starts and goes only into the
    container's environment: never into a manifest, a log or a report.
    """

    name: str
    value: str = ""
    secret_from: str = ""  # the host variable that holds the secret
    default: str | None = field(default=None, repr=False)  # a secret's value when its host variable is unset

    @property
    def is_secret(self) -> bool:
        return bool(self.secret_from)


@dataclass(frozen=True)
class Limits:
    memory: int | None = None  # bytes
    cpus: float | None = None
    pids: int | None = None


@dataclass(frozen=True)
class Budget:
    """One entry of a profile's `budgets:`: a figure (ljprof.figures.FIGURES) and its limits.

    `limit` is absolute, in the figure's unit (bytes, KB/min, a count, a share
    0-1, seconds); `regression` is relative to a baseline run (0.1: at most 10%
    worse). At least one is set. `text` is the limit as written, for reports.
    """

    figure: str
    limit: float | None = None
    regression: float | None = None
    text: str = ""


@dataclass(frozen=True)
class Service:
    """A companion process a profile's target talks to (e.g. a fake Bot API), started before the target.

    It runs on the host (`image` empty) or in a container from `image`, in both cases
    on the host's network, listening on 127.0.0.1:{port}. `{port}` (a free port),
    `{dir}` (the service's folder in the run directory) and `{python}` (ljprof's own
    Python) are filled in its command, env values and address when the run starts.
    """

    name: str
    command: tuple[str, ...]
    image: str = ""  # a Docker image reference; '' runs the command on the host
    cwd: Path | None = None  # host commands: where they run (the loader's default: profiles.yml's folder)
    env: tuple[EnvVar, ...] = ()
    env_var: str = ""  # the target's variable that gets the address
    address: str = "http://127.0.0.1:{port}"
    ready: str = "port"  # port (a TCP connect to 127.0.0.1:{port} succeeds) | file
    ready_file: str = ""  # for ready: file, a path relative to {dir} that appears when it is ready
    ready_timeout: float = 10.0  # seconds


@dataclass(frozen=True)
class Profile:
    """One entry of `profiles:` with `defaults:` and the built-in defaults merged in."""

    name: str
    image: str
    workdir: Path
    script: str  # relative to cwd
    cwd: str = "."  # where the target runs, relative to workdir
    args: tuple[str, ...] = ()
    env: tuple[EnvVar, ...] = ()
    duration: float | None = None  # seconds until SIGINT; None: run until the target ends
    timeout: float = 600.0  # seconds until SIGKILL, whatever happens
    grace: float = 5.0  # seconds between SIGINT, SIGTERM and SIGKILL
    limits: Limits = field(default_factory=Limits)
    network: str = "default"
    exit_codes: tuple[int, ...] = (0,)  # exit codes that count as success
    profilers: dict[str, dict[str, object]] = field(default_factory=dict)
    budgets: tuple[Budget, ...] = ()
    services: tuple[Service, ...] = ()
