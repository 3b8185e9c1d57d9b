"""Plan an image build: recipe + overrides -> build arguments, tag, context files.

Nothing here talks to Docker, so every decision about what gets built is
testable without an engine. The image tag is a hash of everything that
defines the image (the Dockerfile and the files it copies, the build
arguments, a local source tree's files), so an up-to-date image is found by
its tag alone and `invoke build` costs nothing the second time.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from ljprof.config.loader import (
    DEBIAN_ROCK_PACKAGES,
    GIT_REF,
    GIT_URL,
    IMAGE_REF,
    LUAJIT_FIXES,
    check_loom_tree,
    check_source_tree,
)
from ljprof.config.model import ImageRecipe, LoomSource, LuajitSource
from ljprof.errors import ConfigError

IMAGE_REPOSITORY = "ljprof/luajit"
LABEL_MANAGED = "org.ljprof.managed"
LABEL_RECIPE = "org.ljprof.recipe"
LABEL_HASH = "org.ljprof.hash"
LABEL_FIXES = "org.ljprof.fixes"  # the fixes a recipe asked for; image.json says which applied

# The package's folder: the context files are package data, so an installed wheel builds
# images too. ljprof/docker is a link to the repository's docker/ (setuptools copies the
# files it points at into the wheel).
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = Path("docker/luajit.Dockerfile")
# (name in the build context, path under PACKAGE_ROOT); the Dockerfile COPYs these.
CONTEXT_FILES = (
    ("Dockerfile", DOCKERFILE),
    ("scripts/install-packages.sh", Path("docker/scripts/install-packages.sh")),
    ("scripts/build-luajit.sh", Path("docker/scripts/build-luajit.sh")),
    ("scripts/apply-fixes.sh", Path("docker/scripts/apply-fixes.sh")),
    ("scripts/install-luarocks.sh", Path("docker/scripts/install-luarocks.sh")),
    ("scripts/install-ljprof.sh", Path("docker/scripts/install-ljprof.sh")),
    ("scripts/install-loom.sh", Path("docker/scripts/install-loom.sh")),
    ("scripts/image-info.sh", Path("docker/scripts/image-info.sh")),
    ("harness/ljprof_sampler.c", Path("harness/ljprof_sampler.c")),
    ("harness/imageinfo.lua", Path("harness/imageinfo.lua")),
    # every fix, whichever a recipe asks for: the COPY of patches/ is the same for all
    *((f"patches/{name}.patch", Path(f"docker/patches/{name}.patch")) for name in LUAJIT_FIXES),
)
LOCAL_SOURCE_DIR = "luajit-src"  # where a local LuaJIT tree goes in the context
LOOM_SOURCE_DIR = "loom-src"  # where a local loom checkout goes in the context
LOOM_FILES = ("jit/loom.lua", "loom.html", "COPYRIGHT")  # what the image takes from a loom checkout
# loom's template loads jQuery from a CDN; the image has Debian's, which the jit
# profiler inlines into the page so that it opens offline.
LOOM_APT = ("libjs-jquery",)
NETWORK_MODES = ("default", "host", "none", "bridge")


@dataclass(frozen=True)
class Override:
    """One override value and where it came from (for error messages)."""

    value: str
    origin: str  # e.g. "LJPROF_BASE_IMAGE" or "--base-image"


@dataclass(frozen=True)
class Overrides:
    """Values that replace a recipe's, from task options or LJPROF_* variables."""

    base_image: Override | None = None
    luajit_git: Override | None = None
    luajit_ref: Override | None = None
    luajit_source: Override | None = None
    build_network: Override | None = None
    loom_git: Override | None = None  # these three apply to recipes that have `loom:`
    loom_ref: Override | None = None
    loom_source: Override | None = None

    def describe(self) -> list[str]:
        """'name = value (from origin)' for each override given."""
        return [f"{name} = {o.value} (from {o.origin})" for name, o in self._items()]

    def _items(self) -> Iterator[tuple[str, Override]]:
        for name in OVERRIDE_NAMES:
            value = getattr(self, name)
            if value is not None:
                yield name, value


NO_LOOM = "none"  # LJPROF_LOOM_GIT=none: the recipe's loom is left out
LOOM_GIT_OVERRIDE = re.compile(f"{GIT_URL.pattern}|^{NO_LOOM}$")

# field -> (environment variable, task option; "" when there is only the variable)
OVERRIDE_NAMES = {
    "base_image": ("LJPROF_BASE_IMAGE", "--base-image"),
    "luajit_git": ("LJPROF_LUAJIT_GIT", "--luajit-git"),
    "luajit_ref": ("LJPROF_LUAJIT_REF", "--luajit-ref"),
    "luajit_source": ("LJPROF_LUAJIT_SOURCE", "--luajit-source"),
    "build_network": ("LJPROF_BUILD_NETWORK", "--network"),
    "loom_git": ("LJPROF_LOOM_GIT", ""),
    "loom_ref": ("LJPROF_LOOM_REF", ""),
    "loom_source": ("LJPROF_LOOM_SOURCE", ""),
}


def collect_overrides(environ: Mapping[str, str], options: Mapping[str, str | None]) -> Overrides:
    """Overrides from the environment, then task options on top.

    A layer that names a git URL drops a local source from the layer below and
    the other way round; naming both in one layer is an error.
    """
    layers = [
        {name: Override(environ[var], var) for name, (var, _) in OVERRIDE_NAMES.items() if environ.get(var)},
        {name: Override(v, OVERRIDE_NAMES[name][1]) for name, v in options.items() if v},
    ]
    merged: dict[str, Override] = {}
    for layer in layers:
        for what in ("luajit", "loom"):
            git, ref, source = f"{what}_git", f"{what}_ref", f"{what}_source"
            if source in layer and git in layer:
                raise ConfigError(
                    f"{layer[git].origin} and {layer[source].origin} are both set\n"
                    "  hint: give a git URL (and ref) to clone, or a local source tree to copy, not both"
                )
            if source in layer:
                merged.pop(git, None)
                merged.pop(ref, None)
            if git in layer:
                merged.pop(source, None)
        merged.update(layer)
    overrides = Overrides(**merged)
    _validate(overrides)
    return overrides


def _validate(ov: Overrides) -> None:
    checks = (
        (ov.base_image, IMAGE_REF, "a Docker image reference such as local/debian:bookworm"),
        (ov.luajit_git, GIT_URL, "a git URL (https://, git://, ssh://, file:// or user@host:path)"),
        (ov.luajit_ref, GIT_REF, "a git commit, tag or branch name"),
        (ov.loom_git, LOOM_GIT_OVERRIDE, "a git URL (https://, git://, ssh://, file:// or user@host:path), "
                                         "or 'none' to build without loom"),
        (ov.loom_ref, GIT_REF, "a git commit, tag or branch name"),
    )
    for override, pattern, what in checks:
        if override is not None and not pattern.match(override.value):
            raise ConfigError(f"{override.origin}: '{override.value}' is not {what}")
    if ov.luajit_source is not None:
        problem = check_source_tree(Path(ov.luajit_source.value))
        if problem:
            raise ConfigError(f"{ov.luajit_source.origin}: '{ov.luajit_source.value}' {problem}")
    if ov.loom_source is not None:
        problem = check_loom_tree(Path(ov.loom_source.value))
        if problem:
            raise ConfigError(f"{ov.loom_source.origin}: '{ov.loom_source.value}' {problem}")
    if ov.build_network is not None and ov.build_network.value not in NETWORK_MODES:
        raise ConfigError(
            f"{ov.build_network.origin}: '{ov.build_network.value}' is not a build network mode; "
            f"use one of: {', '.join(NETWORK_MODES)}"
        )


Source = TypeVar("Source", LuajitSource, LoomSource)


def _override_source(source: Source, git: Override | None, ref: Override | None, path: Override | None) -> Source:
    """A git URL or ref replaces a local tree; a local tree replaces cloning."""
    if path is not None:
        source = replace(source, path=Path(path.value).resolve())
    if git is not None:
        source = replace(source, git=git.value, path=None)
    if ref is not None:
        source = replace(source, ref=ref.value, path=None)
    return source


def apply_overrides(recipe: ImageRecipe, ov: Overrides) -> ImageRecipe:
    """The recipe as it will be built."""
    luajit = _override_source(recipe.luajit, ov.luajit_git, ov.luajit_ref, ov.luajit_source)
    base = ov.base_image.value if ov.base_image is not None else recipe.base
    # loom's overrides never add loom to a recipe without it
    loom = recipe.loom
    if ov.loom_git is not None and ov.loom_git.value == NO_LOOM:
        loom = None  # a machine with no way to loom (no GitHub, no mirror) still builds the recipe
    elif loom is not None:
        loom = _override_source(loom, ov.loom_git, ov.loom_ref, ov.loom_source)
    return replace(recipe, base=base, luajit=luajit, loom=loom)


@dataclass(frozen=True)
class BuildPlan:
    """Everything needed to build (or find) one image."""

    recipe: ImageRecipe
    tag: str
    content_hash: str
    build_args: dict[str, str]
    network: str | None
    package_root: Path  # where CONTEXT_FILES are
    local_source: Path | None = None
    loom_source: Path | None = None  # a local loom checkout to copy in
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def luajit_build(self) -> str:
        return self.build_args["LUAJIT_BUILD"]


def detect_build_system(source: Path) -> str:
    """CMake for Tarantool's fork, make for upstream LuaJIT 2.1."""
    return "cmake" if (source / "CMakeLists.txt").is_file() else "make"


def build_args_for(recipe: ImageRecipe, local_commit: str = "") -> dict[str, str]:
    """The Dockerfile's build arguments for a recipe (without the content hash)."""
    lj: LuajitSource = recipe.luajit
    build = lj.build
    if lj.path is not None and build == "auto":
        build = detect_build_system(lj.path)
    debian = recipe.luarocks.source == "debian"
    loom: LoomSource | None = recipe.loom
    apt = [*recipe.apt, *(p for p in LOOM_APT if loom is not None and p not in recipe.apt)]
    return {
        "BASE_IMAGE": recipe.base,
        "APT_PACKAGES": " ".join(apt),
        "LUAROCKS_FROM": recipe.luarocks.source,
        "DEBIAN_LUA_PACKAGES": " ".join(
            ["luarocks", *(DEBIAN_ROCK_PACKAGES[r] for r in recipe.rocks)] if debian else []
        ),
        "LUAJIT_FROM": "local" if lj.path is not None else "git",
        "LUAJIT_GIT": "" if lj.path is not None else lj.git,
        "LUAJIT_REF": "" if lj.path is not None else lj.ref,
        "LUAJIT_BUILD": build,
        "LUAJIT_CMAKE_OPTIONS": " ".join(lj.cmake_options),
        "LUAJIT_COMMIT": local_commit,
        "LUAJIT_FIXES": fixes_arg(lj.fixes),
        "LUAROCKS_VERSION": recipe.luarocks.version,
        "LUAROCKS_URL": recipe.luarocks.url if recipe.luarocks.source == "source" else "",
        "ROCKS": " ".join(recipe.rocks) if recipe.luarocks.source == "source" else "",
        "LOOM_FROM": "none" if loom is None else "local" if loom.path is not None else "git",
        "LOOM_GIT": loom.git if loom is not None and loom.path is None else "",
        "LOOM_REF": loom.ref if loom is not None and loom.path is None else "",
        "LJPROF_RECIPE": recipe.name,
    }


def fixes_arg(fixes: tuple[str, ...]) -> str:
    """The LUAJIT_FIXES build argument (and org.ljprof.fixes label): names joined by commas, or `none`."""
    return ",".join(fixes) or "none"


def plan_build(recipe: ImageRecipe, overrides: Overrides, package_root: Path = PACKAGE_ROOT) -> BuildPlan:
    """Resolve a recipe into a build plan; reads files (to hash them) but runs nothing."""
    recipe = apply_overrides(recipe, overrides)
    local = recipe.luajit.path
    local_commit = git_head(local) if local is not None else ""
    args = build_args_for(recipe, local_commit)
    if args["LUAJIT_BUILD"] == "make" and recipe.luajit.cmake_options:
        raise ConfigError(
            f"images.{recipe.name}.luajit.cmake_options: given, but the source tree {local} builds with make"
            "\n  hint: CMake options apply to Tarantool's fork only; drop them for upstream LuaJIT"
        )

    digest = hashlib.sha256()
    digest.update(b"ljprof-image-v1\0")
    for name, rel in CONTEXT_FILES:
        _hash_file(digest, name, package_root / rel)
    for key in sorted(args):
        digest.update(f"arg {key}={args[key]}\0".encode())
    if local is not None:
        for name, path in iter_source_files(local):
            _hash_file(digest, f"{LOCAL_SOURCE_DIR}/{name}", path)
    loom_local = recipe.loom.path if recipe.loom is not None else None
    if loom_local is not None:
        for name, path in iter_loom_files(loom_local):
            _hash_file(digest, f"{LOOM_SOURCE_DIR}/{name}", path)
    content_hash = digest.hexdigest()
    args["LJPROF_IMAGE_HASH"] = content_hash

    network = overrides.build_network.value if overrides.build_network else None
    return BuildPlan(
        recipe=recipe,
        tag=f"{IMAGE_REPOSITORY}:{recipe.name}-{content_hash[:12]}",
        content_hash=content_hash,
        build_args=args,
        network=None if network == "default" else network,
        package_root=package_root,
        local_source=local,
        loom_source=loom_local,
        labels={LABEL_MANAGED: "true", LABEL_RECIPE: recipe.name, LABEL_HASH: content_hash,
                LABEL_FIXES: args["LUAJIT_FIXES"]},
    )


def _hash_file(digest: hashlib._Hash, name: str, path: Path) -> None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read for the image build: {exc.strerror}") from None
    executable = "x" if os.access(path, os.X_OK) else "-"
    digest.update(f"file {name} {executable} {len(data)}\0".encode())
    digest.update(data)


def iter_loom_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(name, path) of the LOOM_FILES a loom checkout has: what the build context takes and the hash covers."""
    for name in LOOM_FILES:
        if (root / name).is_file():
            yield name, root / name


def iter_source_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(relative name, path) of a local source tree's files, sorted, without .git.

    .git is copied into the image (the fork's CMake reads its version from
    `git describe`) but not hashed: its HEAD commit is in the build arguments.
    """
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if path.is_symlink() or not path.is_file():
                continue
            yield path.relative_to(root).as_posix(), path


def git_head(path: Path) -> str:
    """The commit checked out in `path`, or '' when it is not a git work tree."""
    if not (path / ".git").exists():
        return ""
    proc = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=False)
    head = proc.stdout.strip()
    return head if re.fullmatch(r"[0-9a-f]{40}", head) else ""
