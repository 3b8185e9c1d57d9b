"""Load and validate profiles.yml.

Every error names the spot (file:line:column), the key path, the bad value,
what would be right, and for a misspelled key the likely intended one. The
walker works on PyYAML's node tree, not on plain dicts, so that each value
keeps its position; it collects every error in the file before raising one
ConfigError. Unknown keys are errors, so a typo never silently does nothing.

Defaults live here and only here (DEFAULT_*): they are the original
Dockerfile's choices.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ljprof.config import yamlerrors
from ljprof.config.model import (
    Budget,
    Config,
    EnvVar,
    ImageRecipe,
    Limits,
    LoomSource,
    LuajitSource,
    LuarocksSpec,
    Profile,
    Service,
)
from ljprof.config.yamlcheck import KeyPath, Walker, describe, suggest
from ljprof.errors import ConfigError
from ljprof.figures import FIGURES
from ljprof.profilers import PROFILERS, Option
from ljprof.profilers.base import signals_of

DEFAULT_BASE_IMAGE = "buildpack-deps:bullseye"
DEFAULT_APT = ("cmake",)
TARANTOOL_LUAJIT_GIT = "https://github.com/tarantool/luajit.git"
# tarantool/master as of 2024-10-17 ("Limit CSE for IR_CARG to fix loop
# optimizations."), `git describe`: v2.1.0-beta3-622-gb52fe979. The original
# Dockerfile cloned the default branch; a pinned commit keeps images
# reproducible and lets the image tag (a content hash) mean something.
TARANTOOL_LUAJIT_REF = "b52fe9795db249e7803aeef22c2ed6129a97aaeb"
DEFAULT_LUAROCKS_VERSION = "3.8.0"
LUAROCKS_URL_TEMPLATE = "https://luarocks.org/releases/luarocks-{version}.tar.gz"
DEFAULT_ROCKS = ("luasec", "copas", "lua-cjson")
# Cloudflare's loom (MIT): jit.dump's traces as an HTML page. Installed from its
# git repository when a recipe has `loom:`; `loom: true` takes this pin, the
# last commit of its master branch ("insert messages in the bytecode record").
LOOM_GIT = "https://github.com/cloudflare/loom.git"
LOOM_REF = "643db2f1840e23c62c0bcdadc3131eef03a6e431"

LUAJIT_BUILDS = ("auto", "cmake", "make")
# ljprof's fixes to the profilers of Tarantool's fork, applied at build time
# from docker/patches/<name>.patch (docker/scripts/apply-fixes.sh). A recipe's
# `luajit.fixes` is `all` (the default), `none` (the fork as fetched: the
# original Dockerfile's LuaJIT) or a list of these names. On upstream LuaJIT
# (no memprof) they are recorded as not applicable.
LUAJIT_FIXES = {
    "memprof-symtab-redump": "memprof writes the C symbol table once per loaded library, "
                             "not again on every allocation made from a C function",
    "profiler-stream-buffer": "memprof and sysprof write through a 128 KiB buffer instead of 8 MiB "
                              "taken from the Lua heap",
}
DEFAULT_LUAJIT_FIXES = tuple(LUAJIT_FIXES)  # `all`
LUAROCKS_SOURCES = ("source", "debian", "none")

# Rocks that Debian packages for the Lua 5.1 ABI (which LuaJIT loads), for
# recipes with `luarocks: {from: debian}`; checked against bookworm.
DEBIAN_ROCK_PACKAGES = {
    "argparse": "lua-argparse",
    "copas": "lua-copas",
    "coxpcall": "lua-coxpcall",
    "dkjson": "lua-dkjson",
    "inspect": "lua-inspect",
    "lpeg": "lua-lpeg",
    "lua-cjson": "lua-cjson",
    "lua-term": "lua-term",
    "luafilesystem": "lua-filesystem",
    "luaposix": "lua-posix",
    "luasec": "lua-sec",
    "luasocket": "lua-socket",
    "md5": "lua-md5",
    "penlight": "lua-penlight",
}

# Docker's image reference grammar, simplified: [registry[:port]/]path[:tag][@digest].
IMAGE_REF = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
_RECIPE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
_APT_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_ROCK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
GIT_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]*$")
GIT_URL = re.compile(r"^(?:(?:https?|git|ssh|file)://\S+|[\w.-]+@[\w.-]+:\S+)$")
_VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")

# -- the schema ---------------------------------------------------------------

TOP_KEYS = ("images", "defaults", "profiles")
RECIPE_KEYS = ("base", "apt", "luajit", "luarocks", "rocks", "loom")
LUAJIT_KEYS = ("git", "ref", "path", "build", "cmake_options", "fixes")
LUAROCKS_KEYS = ("from", "version", "url")
LOOM_KEYS = ("git", "ref", "path")


def load_config(path: str | Path) -> Config:
    """Read and validate a profiles.yml; raise ConfigError listing every problem."""
    path = Path(path)
    filename = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{filename}: no such file\n  hint: run from the project's top folder, or pass --config PATH"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{filename}: cannot be read: {exc}") from None
    return parse_config(text, filename, base_dir=path.resolve().parent)


def parse_config(text: str, filename: str, base_dir: Path) -> Config:
    """Validate profiles.yml text; relative paths in it are relative to base_dir."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(yamlerrors.explain(exc, text, filename)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{filename}: not valid YAML: {exc}") from None
    if root is None:
        raise ConfigError(f"{filename}: the file is empty\n  hint: it needs an 'images:' section")

    walker = Walker(filename)
    images: dict[str, ImageRecipe] = {}
    broken: frozenset[str] = frozenset()  # recipes with an error of their own: profiles using them say nothing more
    profiles: dict[str, Profile] = {}
    top = walker.mapping(root, (), TOP_KEYS)
    if top is not None:
        if "images" in top:
            images = _images(walker, top["images"][1], base_dir)
            broken = frozenset(_names(top["images"][1])) - set(images)
        elif not walker.errors:  # else a misspelled 'images' was reported already
            walker.error(root, (), "the 'images' section is missing",
                         "add 'images:' with at least one recipe, e.g. 'default: {}'")
        defaults: dict[str, tuple[Node, Any]] = {}
        if "defaults" in top:
            defaults = _profile_fields(walker, top["defaults"][1], ("defaults",), DEFAULTS_KEYS, base_dir) or {}
        if "profiles" in top:
            profiles = _profiles(walker, top["profiles"][1], defaults, images, base_dir, broken)
    if walker.errors:
        walker.errors.sort(key=lambda e: (e[0], e[1]))
        raise ConfigError("\n".join(text for _, _, text in walker.errors))
    return Config(path=Path(filename), images=images, profiles=profiles)


def _names(node: Node) -> list[str]:
    """The keys written in a mapping node (none if it is not one)."""
    return [str(k.value) for k, _ in node.value if isinstance(k, ScalarNode)] if isinstance(node, MappingNode) else []


def _images(w: Walker, node: Node, base_dir: Path) -> dict[str, ImageRecipe]:
    path: KeyPath = ("images",)
    entries = w.mapping(node, path, ())
    if entries is None:
        return {}
    if not entries:
        w.error(node, path, "no recipes given", "add one, e.g. 'default: {}' for the original Dockerfile's image")
    images = {}
    for name, (key_node, value_node) in entries.items():
        if not _RECIPE_NAME.match(name):
            w.error(key_node, (*path, name),
                    "a recipe name must be lower-case letters, digits, '.', '_' or '-' (it becomes part of "
                    "the image tag), starting with a letter or digit, at most 63 characters")
            continue
        recipe = _recipe(w, value_node, (*path, name), name, base_dir)
        if recipe is not None:
            images[name] = recipe
    return images


def _recipe(w: Walker, node: Node, path: KeyPath, name: str, base_dir: Path) -> ImageRecipe | None:
    if isinstance(node, ScalarNode) and node.tag.endswith(":null"):
        node = MappingNode("tag:yaml.org,2002:map", [], node.start_mark, node.end_mark)  # `name:` = all defaults
    entries = w.mapping(node, path, RECIPE_KEYS, f"a recipe maps some of {', '.join(RECIPE_KEYS)} to values; "
                        "'{}' takes the original Dockerfile's image")
    if entries is None:
        return None
    errors_before = len(w.errors)

    base = DEFAULT_BASE_IMAGE
    if "base" in entries:
        base = w.string(entries["base"][1], (*path, "base"), IMAGE_REF,
                        "a Docker image reference such as debian:bookworm") or base
    apt: tuple[str, ...] = DEFAULT_APT
    if "apt" in entries:
        apt = w.string_list(entries["apt"][1], (*path, "apt"), lambda n, p: w.string(
            n, p, _APT_NAME, "a Debian package name (lower case, e.g. libssl-dev)")) or ()
    luajit = _luajit(w, entries.get("luajit"), (*path, "luajit"), base_dir)
    luarocks = _luarocks(w, entries.get("luarocks"), (*path, "luarocks"))
    rocks: tuple[str, ...] = DEFAULT_ROCKS
    if "rocks" in entries:
        rocks = w.string_list(entries["rocks"][1], (*path, "rocks"), lambda n, p: w.string(
            n, p, _ROCK_NAME, "a rock name (letters, digits, '.', '_', '-')")) or ()
    if luarocks.source == "debian" and "rocks" in entries:
        for index, rock in enumerate(rocks):
            if rock not in DEBIAN_ROCK_PACKAGES:
                w.error(entries["rocks"][1].value[index], (*path, "rocks", index),
                        f"rock '{rock}' has no known Debian package, and this recipe takes rocks from Debian",
                        f"known: {', '.join(sorted(DEBIAN_ROCK_PACKAGES))}; or name its Debian package "
                        "under 'apt', or use 'luarocks: {from: source}'")
    if luarocks.source == "none" and "rocks" in entries and rocks:
        w.error(entries["rocks"][1], (*path, "rocks"), "rocks are listed, but 'luarocks.from' is 'none'",
                "remove the rocks, or take LuaRocks from 'source' or 'debian'")
    loom = _loom(w, entries.get("loom"), (*path, "loom"), base_dir)
    if len(w.errors) > errors_before or luajit is None:
        return None
    return ImageRecipe(name=name, base=base, apt=apt, luajit=luajit, luarocks=luarocks, rocks=rocks, loom=loom)


def _luajit(w: Walker, entry: tuple[Node, Node] | None, path: KeyPath, base_dir: Path) -> LuajitSource | None:
    default = LuajitSource(git=TARANTOOL_LUAJIT_GIT, ref=TARANTOOL_LUAJIT_REF, fixes=DEFAULT_LUAJIT_FIXES)
    if entry is None:
        return default
    entries = w.mapping(entry[1], path, LUAJIT_KEYS)
    if entries is None:
        return None
    git, ref = default.git, default.ref
    if "git" in entries:
        git = w.string(entries["git"][1], (*path, "git"), GIT_URL,
                       "a git URL (https://, git://, ssh://, file:// or user@host:path)") or git
        if "ref" not in entries:
            w.error(entries["git"][0], path, "'git' is given without 'ref'",
                    "pin a commit, a tag or a branch, e.g. 'ref: v2.1'")
    if "ref" in entries:
        ref = w.string(entries["ref"][1], (*path, "ref"), GIT_REF, "a git commit, tag or branch name") or ref
    source_path = None
    if "path" in entries and "git" in entries:
        w.error(entries["path"][0], path, "both 'git' and 'path' are given",
                "keep 'git' (with 'ref') to clone, or 'path' to copy a local source tree")
    elif "path" in entries:
        text = w.string(entries["path"][1], (*path, "path"), what="a path to a LuaJIT source tree")
        if text is not None:
            source_path = (base_dir / text).resolve()
            problem = check_source_tree(source_path)
            if problem:
                w.error(entries["path"][1], (*path, "path"), f"'{text}' {problem}")
    build = "auto"
    if "build" in entries:
        build = w.choice(entries["build"][1], (*path, "build"), LUAJIT_BUILDS) or build
    options: tuple[str, ...] = ()
    if "cmake_options" in entries:
        options = w.string_list(entries["cmake_options"][1], (*path, "cmake_options"),
                                lambda n, p: _cmake_option(w, n, p)) or ()
        if options and build == "make":
            w.error(entries["cmake_options"][0], path, "'cmake_options' are given, but 'build' is 'make'",
                    "use 'build: cmake' or 'auto', or drop the options")
    fixes = default.fixes
    if "fixes" in entries:
        fixes = _fixes(w, entries["fixes"][1], (*path, "fixes"))
    return LuajitSource(git=git, ref=ref, path=source_path, build=build, cmake_options=options, fixes=fixes)


def _loom(w: Walker, entry: tuple[Node, Node] | None, path: KeyPath, base_dir: Path) -> LoomSource | None:
    """`loom: true` (the pinned commit), `false`, `{git, ref}` or `{path}`; absent: no loom."""
    if entry is None:
        return None
    node = entry[1]
    if isinstance(node, ScalarNode) and node.tag.endswith(":bool"):
        return LoomSource(LOOM_GIT, LOOM_REF) if node.value in ("true", "True", "yes", "on") else None
    entries = w.mapping(node, path, LOOM_KEYS, "'loom: true' installs loom's pinned commit; or give "
                        "{git: URL, ref: COMMIT} or {path: a loom checkout}")
    if entries is None:
        return None
    if "path" in entries:
        if "git" in entries or "ref" in entries:
            w.error(entries["path"][0], path, "both 'path' and 'git'/'ref' are given",
                    "keep 'git' (with 'ref') to clone, or 'path' to copy a local loom checkout")
            return None
        text = w.string(entries["path"][1], (*path, "path"), what="a path to a loom checkout")
        if text is None:
            return None
        source = (base_dir / text).resolve()
        problem = check_loom_tree(source)
        if problem:
            w.error(entries["path"][1], (*path, "path"), f"'{text}' {problem}")
        return LoomSource(LOOM_GIT, LOOM_REF, path=source)
    git, ref = LOOM_GIT, LOOM_REF
    if "git" in entries:
        git = w.string(entries["git"][1], (*path, "git"), GIT_URL,
                       "a git URL (https://, git://, ssh://, file:// or user@host:path)") or git
        if "ref" not in entries:
            w.error(entries["git"][0], path, "'git' is given without 'ref'",
                    f"pin a commit, e.g. 'ref: {LOOM_REF}' (loom's master)")
    if "ref" in entries:
        ref = w.string(entries["ref"][1], (*path, "ref"), GIT_REF, "a git commit, tag or branch name") or ref
    return LoomSource(git, ref)


def check_loom_tree(path: Path) -> str:
    """'' if path looks like a loom checkout, else what is wrong with it."""
    if not path.is_dir():
        return "is not a folder" if path.exists() else "does not exist"
    missing = [name for name in ("jit/loom.lua", "loom.html") if not (path / name).is_file()]
    return f"is not a loom checkout (no {' or '.join(missing)})" if missing else ""


def _fixes(w: Walker, node: Node, path: KeyPath) -> tuple[str, ...]:
    """`all`, `none` or a list of fix names -> the names, in LUAJIT_FIXES' order."""
    known = tuple(LUAJIT_FIXES)
    hint = f"known fixes: {', '.join(known)}; or 'all' (the default) or 'none' (LuaJIT as fetched)"
    if isinstance(node, ScalarNode) and node.tag.endswith(":str") and node.value in ("all", "none"):
        return DEFAULT_LUAJIT_FIXES if node.value == "all" else ()
    if not isinstance(node, SequenceNode):
        if isinstance(node, ScalarNode) and node.value in LUAJIT_FIXES:
            hint = f"one fix is a list too: write [{node.value}]"
        elif isinstance(node, ScalarNode) and node.tag.endswith(":str"):
            close = suggest(str(node.value), ("all", "none", *known), listing=False)
            hint = f"{close + ' ' if close else ''}{hint}"
        w.error(node, path, f"expected 'all', 'none' or a list of fix names, got {describe(node)}", hint)
        return DEFAULT_LUAJIT_FIXES

    def item(n: Node, p: KeyPath) -> str | None:
        name = w.string(n, p, what="a fix name")
        if name is not None and name not in LUAJIT_FIXES:
            close = suggest(name, known, listing=False)
            w.error(n, p, f"there is no fix '{name}'", f"{close + ' ' if close else ''}{hint}")
            return None
        return name

    chosen = w.string_list(node, path, item) or ()
    return tuple(name for name in known if name in chosen)


def _cmake_option(w: Walker, node: Node, path: KeyPath) -> str | None:
    value = w.string(node, path, re.compile(r"^-D[A-Za-z_][A-Za-z0-9_]*(:[A-Z]+)?=\S*$"),
                     "a CMake cache option of the form -DNAME=VALUE")
    if value is not None and value.split("=", 1)[0] in ("-DCMAKE_BUILD_TYPE", "-DCMAKE_INSTALL_PREFIX"):
        w.error(node, path, f"'{value}' is fixed by ljprof (RelWithDebInfo, prefix /usr, as the original "
                "Dockerfile builds) and cannot be changed here")
        return None
    return value


def _luarocks(w: Walker, entry: tuple[Node, Node] | None, path: KeyPath) -> LuarocksSpec:
    default = LuarocksSpec(source="source", version=DEFAULT_LUAROCKS_VERSION,
                           url=LUAROCKS_URL_TEMPLATE.format(version=DEFAULT_LUAROCKS_VERSION))
    if entry is None:
        return default
    entries = w.mapping(entry[1], path, LUAROCKS_KEYS)
    if entries is None:
        return default
    source = default.source
    if "from" in entries:
        source = w.choice(entries["from"][1], (*path, "from"), LUAROCKS_SOURCES) or source
    version = default.version
    if "version" in entries:
        if source == "debian":
            w.error(entries["version"][0], path, "'version' is given, but LuaRocks comes from Debian",
                    "Debian's package decides the version (3.8.0 in bookworm); drop 'version'")
        version = w.string(entries["version"][1], (*path, "version"), _VERSION,
                           "a LuaRocks version such as 3.8.0") or version
    url = LUAROCKS_URL_TEMPLATE.format(version=version)
    if "url" in entries:
        url = w.string(entries["url"][1], (*path, "url"), re.compile(r"^(https?|file|ftp)://\S+$"),
                       "an http(s) URL of a LuaRocks source tarball") or url
    return LuarocksSpec(source=source, version=version if source == "source" else "", url=url)


def check_source_tree(path: Path) -> str:
    """'' if path looks like a LuaJIT source tree, else what is wrong with it."""
    if not path.exists():
        return "does not exist"
    if not path.is_dir():
        return "is not a folder"
    if not (path / "src" / "luajit.c").is_file():
        return "is not a LuaJIT source tree (no src/luajit.c)"
    return ""



# -- profiles -------------------------------------------------------------------

PROFILE_KEYS = ("image", "workdir", "cwd", "script", "args", "env", "duration", "timeout", "grace", "limits",
                "network", "exit_codes", "profilers", "budgets", "services")
DEFAULTS_KEYS = tuple(k for k in PROFILE_KEYS if k not in ("cwd", "script", "args", "services"))
SERVICE_KEYS = ("command", "image", "cwd", "env", "env_var", "address", "ready", "ready_timeout")
# Filled in a service's command, env values and address when the run starts (ljprof.run.services).
SERVICE_PLACEHOLDERS = ("dir", "port", "python")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
LIMIT_KEYS = ("memory", "cpus", "pids")
NETWORKS = ("default", "none", "host")
# Built-in defaults of a profile; `defaults:` in profiles.yml overrides them.
PROFILE_DEFAULTS = Profile(name="", image="default", workdir=Path("."), script="")

_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_MEMORY = re.compile(r"^([0-9]+)([bkmg])$", re.IGNORECASE)
_MEMORY_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RELATIVE_FILE = re.compile(r"^(?!/)(?!.*(?:^|/)\.\.(?:/|$)).+$")


def _scalar_kind(node: Node) -> str:
    return node.tag.rsplit(":", 1)[-1] if isinstance(node, ScalarNode) else ""


def parse_duration(w: Walker, node: Node, path: KeyPath, minimum: float = 0.0) -> float | None:
    """'250ms', '5s', '2m', '1h' or a number of seconds."""
    kind = _scalar_kind(node)
    value: float | None = None
    if kind in ("int", "float"):
        value = float(node.value)
    elif kind == "str" and (match := _DURATION.match(str(node.value))):
        value = float(match[1]) * _DURATION_UNITS[match[2]]
    if value is None:
        w.error(node, path, f"expected a duration such as 250ms, 5s, 2m or a number of seconds, got {describe(node)}")
        return None
    if value < minimum or value <= 0:
        bound = f"at least {minimum:g} seconds" if minimum else "more than 0"
        w.error(node, path, f"{node.value} is too short; it must be {bound}")
        return None
    return value


def _memory(w: Walker, node: Node, path: KeyPath) -> int | None:
    kind = _scalar_kind(node)
    value: int | None = None
    if kind == "int":
        value = int(node.value)
    elif kind == "str" and (match := _MEMORY.match(str(node.value))):
        value = int(match[1]) * _MEMORY_UNITS[match[2].lower()]
    if value is None:
        w.error(node, path, f"expected a memory size such as 256m or 2g, got {describe(node)}")
        return None
    if value < 6 * 1024**2:  # Docker refuses less
        w.error(node, path, f"{node.value} is below Docker's minimum of 6m")
        return None
    return value


def _positive(w: Walker, node: Node, path: KeyPath, integer: bool) -> float | None:
    kind = _scalar_kind(node)
    if kind == "int" or (kind == "float" and not integer):
        value = float(node.value)
        if value > 0:
            return value
    w.error(node, path, f"expected a {'whole ' if integer else ''}number above 0, got {describe(node)}")
    return None


def _profile_fields(w: Walker, node: Node, path: KeyPath, allowed: tuple[str, ...], base_dir: Path
                    ) -> dict[str, tuple[Node, Any]] | None:
    """The validated fields given in a profile (or in defaults), each with its node."""
    entries = w.mapping(node, path, allowed)
    if entries is None:
        return None
    fields: dict[str, tuple[Node, Any]] = {}
    for key, (_, value_node) in entries.items():
        sub = (*path, key)
        value: Any = None
        if key in ("image", "workdir", "cwd", "script"):
            value = w.string(value_node, sub)
        elif key == "exit_codes":
            value = _exit_codes(w, value_node, sub)
        elif key == "args":
            value = _args(w, value_node, sub)
        elif key == "env":
            value = _env(w, value_node, sub)
        elif key in ("duration", "timeout", "grace"):
            value = parse_duration(w, value_node, sub)
        elif key == "limits":
            value = _limits(w, value_node, sub)
        elif key == "network":
            value = w.choice(value_node, sub, NETWORKS)
        elif key == "profilers":
            value = _profilers(w, value_node, sub)
        elif key == "budgets":
            value = _budgets(w, value_node, sub)
        elif key == "services":
            value = _services(w, value_node, sub, base_dir)
        if value is not None:
            fields[key] = (value_node, value)
    return fields


def _duration_before_timeout(w: Walker, name: str, node: Node, duration: tuple[Node | None, Any],
                             timeout: tuple[Node | None, Any], own: bool) -> bool:
    """`duration` (SIGINT, a planned end) must come before `timeout` (SIGKILL, a failure), else every run fails."""
    if duration[1] is None or float(duration[1]) < float(timeout[1]):
        return True

    def text(entry: tuple[Node | None, Any]) -> str:
        return str(entry[0].value) if isinstance(entry[0], ScalarNode) else f"{float(entry[1]):g}s"

    where: KeyPath = ("profiles", name, "duration") if own else ("defaults", "duration")
    w.error(duration[0] or node, where,
            f"{text(duration)} is not shorter than the timeout ({text(timeout)})"
            + ("" if own else f" (for profile '{name}')")
            + ": the timeout's SIGKILL would end the run before the duration's SIGINT, and the run would count "
            "as failed", "make 'duration' shorter than 'timeout', leaving time for 'grace', or raise 'timeout'")
    return False


def _services_reachable(w: Walker, node: Node, path: KeyPath, fields: dict[str, tuple[Node, Any]],
                        services: tuple[Service, ...], env: dict[str, EnvVar], network: str) -> bool:
    """Services listen on the host's 127.0.0.1: only a target on the host's network reaches them,
    and the variable that carries a service's address is not one the profile sets itself."""
    ok = True
    if network != "host":
        where = fields["network"][0] if "network" in fields else fields["services"][0]
        w.error(where, (*path, "network"), f"the profile has services, and its network is '{network}'",
                "services listen on the host's 127.0.0.1, which the target reaches only with 'network: host'")
        ok = False
    for service in services:
        if service.env_var in env:
            w.error(fields["services"][0], (*path, "services", service.name, "env_var"),
                    f"'{service.env_var}' is also set in the profile's env",
                    "the service's address goes in that variable: remove it from env, or name another")
            ok = False
    return ok


def _signals_free(w: Walker, node: Node, path: KeyPath, profilers: dict[str, Any]) -> bool:
    """No two of the profile's profilers take the same signal (base.signals_of): say which do."""
    takers: dict[str, list[str]] = {}
    for name in profilers:
        for signal in signals_of(PROFILERS[name]):
            takers.setdefault(signal, []).append(name)
    clashes = {signal: names for signal, names in takers.items() if len(names) > 1}
    for signal, names in clashes.items():
        w.error(node, path, f"{' and '.join(sorted(names))} both use {signal}: only one of them can run in a "
                "profile", "switch one off here (e.g. 'sysprof: false'), or profile twice")
    return not clashes


def _exit_codes(w: Walker, node: Node, path: KeyPath) -> tuple[int, ...] | None:
    """The exit codes that count as success (a linter may exit 1 on warnings)."""
    items = node.value if isinstance(node, SequenceNode) else None
    if not items:
        w.error(node, path, f"expected a list of exit codes (0-255), got {describe(node)}", "e.g. exit_codes: [0, 1]")
        return None
    codes = []
    for i, item in enumerate(items):
        text = item.value if isinstance(item, ScalarNode) else None
        if _scalar_kind(item) != "int" or not str(text).isdigit() or int(str(text)) > 255:
            w.error(item, (*path, i), f"expected an exit code from 0 to 255, got {describe(item)}")
            return None
        codes.append(int(str(text)))
    return tuple(sorted(set(codes)))


def _inside(base: Path, path: Path) -> bool:
    return path == base or base in path.parents


def _args(w: Walker, node: Node, path: KeyPath) -> tuple[str, ...] | None:
    """Arguments are strings; numbers are taken as written (`- 10` is the argument "10")."""
    if not isinstance(node, SequenceNode):
        w.error(node, path, f"expected a list, got {describe(node)}", "write [--flag, value] or one item per line")
        return None
    args = []
    for index, child in enumerate(node.value):
        if _scalar_kind(child) in ("str", "int", "float"):
            args.append(str(child.value))
        else:
            w.error(child, (*path, index), f"expected a string or a number, got {describe(child)}")
    return tuple(args)


def _env(w: Walker, node: Node, path: KeyPath) -> tuple[EnvVar, ...] | None:
    entries = w.mapping(node, path, ())
    if entries is None:
        return None
    env = []
    for name, (key_node, value_node) in entries.items():
        sub = (*path, name)
        if not _ENV_NAME.match(name):
            w.error(key_node, sub, "a variable name is letters, digits and '_', not starting with a digit")
            continue
        if isinstance(value_node, MappingNode):
            spec = w.mapping(value_node, sub, ("secret", "default"),
                             "a secret is {secret: HOST_VARIABLE}: its value is read from the host when the run "
                             "starts and is written nowhere")
            if spec is not None and "secret" in spec:
                host = w.string(spec["secret"][1], (*sub, "secret"), _ENV_NAME, "a host environment variable name")
                default = None
                if "default" in spec:
                    default = w.string(spec["default"][1], (*sub, "default"),
                                       what="a string (the value used when the host variable is unset)")
                if host and (default is not None or "default" not in spec):
                    env.append(EnvVar(name, secret_from=host, default=default))
            elif spec is not None:
                w.error(value_node, sub, "'secret' is missing", "write {secret: HOST_VARIABLE}")
        elif _scalar_kind(value_node) in ("str", "int", "float", "bool"):
            env.append(EnvVar(name, value=str(value_node.value)))
        else:
            w.error(value_node, sub, f"expected a string, or {{secret: HOST_VARIABLE}}, got {describe(value_node)}")
    return tuple(env)


def _placeholders_known(w: Walker, node: Node, path: KeyPath, text: str) -> bool:
    """Only {dir}, {port} and {python} may appear in a service's command, env values and address."""
    unknown = [name for name in _PLACEHOLDER.findall(text) if name not in SERVICE_PLACEHOLDERS]
    if unknown:
        w.error(node, path, f"unknown placeholder '{{{unknown[0]}}}' in '{text}'",
                "known: " + ", ".join(f"{{{n}}}" for n in SERVICE_PLACEHOLDERS)
                + " (the service's port, its folder in the run directory, ljprof's Python)")
    return not unknown


def _services(w: Walker, node: Node, path: KeyPath, base_dir: Path) -> tuple[Service, ...] | None:
    """`services:` of a profile: {name: {command, image, cwd, env, env_var, address, ready, ready_timeout}}."""
    entries = w.mapping(node, path, ())
    if entries is None:
        return None
    services = []
    env_vars: dict[str, str] = {}
    for name, (key_node, value_node) in entries.items():
        sub = (*path, name)
        if not _RECIPE_NAME.match(name):
            w.error(key_node, sub, "a service name must be lower-case letters, digits, '.', '_' or '-' (it names "
                    "its log file), starting with a letter or digit, at most 63 characters")
            continue
        errors_before = len(w.errors)
        fields = w.mapping(value_node, sub, SERVICE_KEYS,
                           f"a service maps some of {', '.join(SERVICE_KEYS)} to values; 'command' is required")
        if fields is None:
            continue
        if "command" not in fields:
            w.error(value_node, sub, "'command' is missing",
                    "give its argv as a list, e.g. ['{python}', -m, ljprof.services.fake_telegram, --port, '{port}']")
            continue
        command = _args(w, fields["command"][1], (*sub, "command")) or ()
        if "command" in fields and not command and len(w.errors) == errors_before:
            w.error(fields["command"][1], (*sub, "command"), "the command is empty", "give at least the program")
        for index, word in enumerate(command):
            _placeholders_known(w, fields["command"][1].value[index], (*sub, "command", index), word)
        image = ""
        if "image" in fields:
            image = w.string(fields["image"][1], (*sub, "image"), IMAGE_REF,
                             "a Docker image reference such as redis:7") or ""
        cwd = None if "image" in fields else base_dir
        if "cwd" in fields and "image" in fields:
            w.error(fields["cwd"][0], sub, "'cwd' is given with 'image'",
                    "'cwd' is where a host command runs; a container runs in its image's working folder")
        elif "cwd" in fields:
            text = w.string(fields["cwd"][1], (*sub, "cwd"))
            if text is not None:
                cwd = (base_dir / text).resolve()
                if not cwd.is_dir():
                    w.error(fields["cwd"][1], (*sub, "cwd"), f"'{text}' is not a folder",
                            f"name a folder relative to the folder of the configuration file ({base_dir})")
        env: tuple[EnvVar, ...] = ()
        if "env" in fields:
            env = _env(w, fields["env"][1], (*sub, "env")) or ()
            for var in env:
                _placeholders_known(w, fields["env"][1], (*sub, "env", var.name), var.value)
        env_var = ""
        if "env_var" in fields:
            env_var = w.string(fields["env_var"][1], (*sub, "env_var"), _ENV_NAME,
                               "a variable name (letters, digits and '_', not starting with a digit)") or ""
            if env_var in env_vars:
                w.error(fields["env_var"][1], (*sub, "env_var"),
                        f"'{env_var}' is already the address of service '{env_vars[env_var]}'",
                        "give each service its own variable")
            env_vars.setdefault(env_var, name)
        address = Service.address
        if "address" in fields:
            address = w.string(fields["address"][1], (*sub, "address")) or address
            _placeholders_known(w, fields["address"][1], (*sub, "address"), address)
        ready, ready_file = "port", ""
        if "ready" in fields:
            ready, ready_file = _ready(w, fields["ready"][1], (*sub, "ready"))
        ready_timeout = Service.ready_timeout
        if "ready_timeout" in fields:
            ready_timeout = parse_duration(w, fields["ready_timeout"][1], (*sub, "ready_timeout")) or ready_timeout
        if len(w.errors) == errors_before:
            services.append(Service(name=name, command=command, image=image, cwd=cwd, env=env, env_var=env_var,
                                    address=address, ready=ready, ready_file=ready_file, ready_timeout=ready_timeout))
    return tuple(services)


def _ready(w: Walker, node: Node, path: KeyPath) -> tuple[str, str]:
    """`ready: port` (127.0.0.1:{port} accepts a connection) or `ready: {file: NAME}` (NAME appears in {dir})."""
    hint = "write 'ready: port' (a TCP connect to 127.0.0.1:{port}) or 'ready: {file: NAME}' (NAME appears in " \
           "the service's folder {dir})"
    if isinstance(node, MappingNode):
        spec = w.mapping(node, path, ("file",), hint)
        if spec is not None and "file" in spec:
            name = w.string(spec["file"][1], (*path, "file"), _RELATIVE_FILE,
                            "a file name relative to the service's folder (no '..', not absolute)")
            if name:
                return "file", name
        elif spec is not None:
            w.error(node, path, "'file' is missing", hint)
    elif _scalar_kind(node) == "str" and node.value == "port":
        return "port", ""
    else:
        w.error(node, path, f"expected 'port' or {{file: NAME}}, got {describe(node)}", hint)
    return "port", ""


def _limits(w: Walker, node: Node, path: KeyPath) -> dict[str, float | int] | None:
    entries = w.mapping(node, path, LIMIT_KEYS)
    if entries is None:
        return None
    limits: dict[str, float | int] = {}
    for key, (_, value_node) in entries.items():
        if key == "memory":
            memory = _memory(w, value_node, (*path, key))
            if memory is not None:
                limits[key] = memory
        else:
            number = _positive(w, value_node, (*path, key), integer=key == "pids")
            if number is not None:
                limits[key] = int(number) if key == "pids" else number
    return limits


# LuaJIT's own profilers and tracers, in the images ljprof builds, under the name a profile would give them.
# One that has no ljprof profiler (PROFILERS) yet is "not supported yet", not an "unknown key": the image
# has it, the user did not misspell it.
IMAGE_PROFILERS = {
    "memprof": "misc.memprof (Tarantool's fork)",
    "sysprof": "misc.sysprof (Tarantool's fork)",
    "metrics": "misc.getmetrics (Tarantool's fork)",
    "cpu": "jit.profile",
    "jit": "jit.dump and jit.v (traces), and loom",
}


def _profilers(w: Walker, node: Node, path: KeyPath) -> dict[str, dict[str, object] | None] | None:
    """{name: options} with each profiler's defaults filled in; None as a value switches one off."""
    not_yet = {name: what for name, what in IMAGE_PROFILERS.items() if name not in PROFILERS}
    entries = w.mapping(node, path, ())  # any key: names the image has are told apart from typos below
    if entries is None:
        return None
    chosen: dict[str, dict[str, object] | None] = {}
    for name, (key_node, value_node) in entries.items():
        sub = (*path, name)
        if name not in PROFILERS and name not in not_yet:
            w.error(key_node, path, f"unknown key '{name}'", suggest(name, tuple(PROFILERS)))
            continue
        if name in not_yet:
            w.error(key_node, sub, f"not supported yet: the image has {not_yet[name]}, but ljprof cannot run it "
                    "as a profiler yet", f"remove it; the profilers ljprof runs: {', '.join(sorted(PROFILERS))}")
            continue
        profiler = PROFILERS[name]
        kind = _scalar_kind(value_node)
        if kind == "bool":
            chosen[name] = {k: o.default for k, o in profiler.options.items()} if value_node.value in (
                "true", "True", "yes", "on") else None
            continue
        if kind == "null":
            value_node = MappingNode("tag:yaml.org,2002:map", [], value_node.start_mark, value_node.end_mark)
        options = w.mapping(value_node, sub, tuple(profiler.options),
                            f"options of {name}: {', '.join(profiler.options) or 'none'}; or 'true' / 'false'")
        if options is None:
            continue
        chosen[name] = _option_values(w, options, profiler.options, sub)
    return chosen


def _option_values(w: Walker, given: dict[str, tuple[Node, Node]], specs: Mapping[str, Option],
                   path: KeyPath) -> dict[str, object]:
    """A profiler's options (or a mapping option's fields) with the defaults filled in."""
    values: dict[str, object] = {k: o.default for k, o in specs.items()}
    for key, (_, option_node) in given.items():
        spec = specs[key]
        value: object = None
        if spec.kind == "duration" and spec.can_be_off and _scalar_kind(option_node) == "bool" \
                and option_node.value in ("false", "False", "no", "off"):
            value = 0.0  # switched off
        elif spec.kind == "duration":
            value = parse_duration(w, option_node, (*path, key), spec.minimum)
        elif spec.kind == "choice":
            value = w.choice(option_node, (*path, key), spec.choices)
        elif spec.kind == "bool":
            if _scalar_kind(option_node) == "bool":
                value = option_node.value in ("true", "True", "yes", "on")
            else:
                w.error(option_node, (*path, key), f"expected true or false, got {describe(option_node)}")
        elif spec.kind == "count":
            if _scalar_kind(option_node) == "int" and int(option_node.value) >= spec.minimum:
                value = int(option_node.value)
            else:
                w.error(option_node, (*path, key),
                        f"expected a whole number of at least {spec.minimum:g}, got {describe(option_node)}")
        elif spec.kind == "text":
            value = _text(w, option_node, (*path, key), spec.check)
        elif spec.kind == "mapping":
            fields = w.mapping(option_node, (*path, key), tuple(spec.fields),
                               f"keys of {key}: {', '.join(spec.fields)}")
            if fields is not None:
                value = _option_values(w, fields, spec.fields, (*path, key))
        if value is not None:
            values[key] = value
    return values


def _text(w: Walker, node: Node, path: KeyPath, check: Callable[[str], str] | None) -> str | None:
    """A string option, checked by its profiler (e.g. jit's dump flags)."""
    if _scalar_kind(node) not in ("str", "int"):
        w.error(node, path, f"expected a string, got {describe(node)}")
        return None
    text = str(node.value)
    problem = check(text) if check else ""
    if problem:
        w.error(node, path, problem)
        return None
    return text


def _profiles(w: Walker, node: Node, defaults: dict[str, tuple[Node, Any]], images: dict[str, ImageRecipe],
              base_dir: Path, broken: frozenset[str] = frozenset()) -> dict[str, Profile]:
    path: KeyPath = ("profiles",)
    entries = w.mapping(node, path, ())
    if entries is None:
        return {}
    profiles = {}
    for name, (key_node, value_node) in entries.items():
        sub = (*path, name)
        if not _RECIPE_NAME.match(name):
            w.error(key_node, sub, "a profile name must be lower-case letters, digits, '.', '_' or '-' (it names "
                    "folders and artifacts), starting with a letter or digit, at most 63 characters")
            continue
        errors_before = len(w.errors)
        fields = _profile_fields(w, value_node, sub, PROFILE_KEYS, base_dir)
        if fields is None or len(w.errors) > errors_before:
            continue
        profile = _merge_profile(w, name, value_node, sub, defaults, fields, images, base_dir, broken)
        if profile is not None:
            profiles[name] = profile
    return profiles


def _merge_profile(w: Walker, name: str, node: Node, path: KeyPath, defaults: dict[str, tuple[Node, Any]],
                   fields: dict[str, tuple[Node, Any]], images: dict[str, ImageRecipe],
                   base_dir: Path, broken: frozenset[str] = frozenset()) -> Profile | None:
    """Built-in defaults < `defaults:` < the profile; env, limits and profilers merge key by key."""
    def pick(key: str) -> tuple[Node | None, Any]:
        if key in fields:
            return fields[key]
        if key in defaults:
            return defaults[key]
        return None, getattr(PROFILE_DEFAULTS, key)

    def merged(key: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for source in (defaults, fields):
            if key in source:
                value = source[key][1]
                out.update({v.name: v for v in value} if key == "env" else value)
        return out

    if "script" not in fields:
        w.error(node, path, "'script' is missing", "name the Lua file to run, relative to 'cwd' (default: 'workdir')")
        return None
    image_node, image = pick("image")
    if image in broken:
        return None  # the recipe's own error is reported; "there is no image recipe" would only repeat it
    if image not in images:
        known = tuple(sorted(images))
        where = (*path, "image") if "image" in fields else ("defaults", "image")
        w.error(image_node or node, where, f"there is no image recipe '{image}'"
                + ("" if "image" in fields else f" (for profile '{name}')"),
                f"{suggest(str(image), known, listing=False)} known recipes: {', '.join(known)}".strip())
        return None
    workdir_node, workdir_text = pick("workdir")
    workdir = (base_dir / str(workdir_text)).resolve()
    if not workdir.is_dir():
        w.error(workdir_node or node, (*path, "workdir"), f"'{workdir_text}' is not a folder")
        return None
    cwd = "."
    if "cwd" in fields:
        cwd_node, cwd = fields["cwd"]
        folder = (workdir / str(cwd)).resolve()
        if not _inside(workdir, folder) or not folder.is_dir():
            w.error(cwd_node, (*path, "cwd"), f"'{cwd}' is not a folder inside the workdir '{workdir_text}'",
                    "name a folder relative to 'workdir' (it is where the target runs)")
            return None
        cwd = folder.relative_to(workdir).as_posix()
    script_node, script = fields["script"]
    script_path = (workdir / cwd / str(script)).resolve()
    place = f"the workdir '{workdir_text}'" + (f" (from cwd '{cwd}')" if cwd != "." else "")
    if not _inside(workdir, script_path):
        w.error(script_node, (*path, "script"), f"'{script}' is outside {place}",
                "the target's folder is all the container sees: move the script into it, or widen 'workdir'")
        return None
    if not script_path.is_file():
        w.error(script_node, (*path, "script"), f"'{script}' is not a file in {place}")
        return None
    if not _duration_before_timeout(w, name, node, pick("duration"), pick("timeout"), "duration" in fields):
        return None
    limits = merged("limits")
    env = merged("env")
    services: tuple[Service, ...] = fields["services"][1] if "services" in fields else ()
    if services and not _services_reachable(w, node, path, fields, services, env, str(pick("network")[1])):
        return None
    profilers = {k: v for k, v in merged("profilers").items() if v is not None}
    if not _signals_free(w, pick("profilers")[0] or node, (*path, "profilers"), profilers):
        return None
    budgets = merged("budgets")
    if not _budgets_measured(w, name, budgets, fields, profilers):
        return None
    return Profile(
        name=name,
        image=str(image),
        workdir=workdir,
        cwd=cwd,
        script=str(script),
        args=fields["args"][1] if "args" in fields else (),
        env=tuple(env.values()),
        duration=pick("duration")[1],
        timeout=float(pick("timeout")[1]),
        grace=float(pick("grace")[1]),
        limits=Limits(memory=limits.get("memory"), cpus=limits.get("cpus"),
                      pids=limits.get("pids")),
        network=str(pick("network")[1]),
        exit_codes=tuple(pick("exit_codes")[1]),
        profilers=profilers,
        budgets=tuple(budget for _, budget in budgets.values()),
        services=services,
    )


# -- budgets --------------------------------------------------------------------

BUDGET_KEYS = ("max", "regression")
_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?) ?(B|KB|MB|GB|KiB|MiB|GiB)$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_PERCENT = re.compile(r"^([0-9]+(?:\.[0-9]+)?) ?%$")
_LIMIT_WHAT = {
    "bytes": "a size such as 50KB, 2MB or a number of bytes",
    "kb_per_min": "a growth per minute such as 500KB/min or 2MB/min",
    "count": "a whole number (0 or more)",
    "share": "a share of the samples such as 20% (or 0.2)",
    "seconds": "a duration such as 250ms, 5s or 2m",
}


def _budgets(w: Walker, node: Node, path: KeyPath) -> dict[str, tuple[Node, Budget]] | None:
    """`budgets: {figure: LIMIT | {max: LIMIT, regression: N%}}` -> {figure: (node, Budget)}."""
    entries = w.mapping(node, path, tuple(FIGURES), "budgets name figures of a run; see the README's budget table")
    if entries is None:
        return None
    out: dict[str, tuple[Node, Budget]] = {}
    for name, (key_node, value_node) in entries.items():
        sub = (*path, name)
        limit_node: Node | None = value_node
        regression: float | None = None
        if isinstance(value_node, MappingNode):
            spec = w.mapping(value_node, sub, BUDGET_KEYS,
                             "a budget is a limit (live_bytes: 50KB), or {max: LIMIT, regression: 10%}")
            if spec is None:
                continue
            if not spec:
                w.error(value_node, sub, "the budget gives neither 'max' nor 'regression'",
                        "give 'max' (a limit), 'regression' (e.g. 10%, against a baseline run) or both")
                continue
            limit_node = spec["max"][1] if "max" in spec else None
            if "regression" in spec:
                regression = _regression(w, spec["regression"][1], (*sub, "regression"))
                if regression is None:
                    continue
        limit = None
        if limit_node is not None:
            limit = _limit(w, limit_node, sub if limit_node is value_node else (*sub, "max"), FIGURES[name].unit)
            if limit is None:
                continue
        text = str(limit_node.value) if isinstance(limit_node, ScalarNode) else ""
        out[name] = (key_node, Budget(name, limit, regression, text))
    return out


def _limit(w: Walker, node: Node, path: KeyPath, unit: str) -> float | None:
    """A budget's absolute limit in the figure's unit: bytes, KB/min, a count, a share 0-1, seconds."""
    if unit == "seconds":
        return parse_duration(w, node, path)
    kind = _scalar_kind(node)
    text = str(node.value) if isinstance(node, ScalarNode) else ""
    value: float | None = None
    if unit == "bytes":
        if kind == "int":
            value = float(text)
        elif kind == "str" and (m := _SIZE.match(text)):
            value = float(m[1]) * _SIZE_UNITS[m[2].lower()]
    elif unit == "kb_per_min":
        size = text[:-len("/min")] if kind == "str" and text.endswith("/min") else ""
        if m := _SIZE.match(size):
            value = float(m[1]) * _SIZE_UNITS[m[2].lower()] / 1024
    elif unit == "count":
        if kind == "int":
            value = float(text)
    elif unit == "share":
        if kind == "str" and (m := _PERCENT.match(text)) and float(m[1]) <= 100:
            value = float(m[1]) / 100
        elif kind in ("int", "float") and 0 <= float(text) <= 1:
            value = float(text)
    if value is None or value < 0:
        w.error(node, path, f"expected {_LIMIT_WHAT[unit]}, got {describe(node)}")
        return None
    return value


def _regression(w: Walker, node: Node, path: KeyPath) -> float | None:
    """`10%`: the head may be at most this much worse than the baseline run."""
    text = str(node.value) if isinstance(node, ScalarNode) else ""
    m = _PERCENT.match(text) if _scalar_kind(node) == "str" else None
    if m is None or float(m[1]) <= 0:
        w.error(node, path, f"expected a percentage above 0 such as 10%, got {describe(node)}",
                "the head run may be this much worse than the baseline run (--base)")
        return None
    return float(m[1]) / 100


def _budgets_measured(w: Walker, name: str, budgets: dict[str, tuple[Node, Budget]],
                      fields: dict[str, tuple[Node, Any]], profilers: dict[str, Any]) -> bool:
    """Every budget's figure is measured by one of the profile's profilers: else say which would."""
    ok = True
    for figure, (key_node, _) in budgets.items():
        needs = FIGURES[figure].profilers
        if not needs or any(p in profilers for p in needs):
            continue
        own = "budgets" in fields and figure in fields["budgets"][1]
        where: KeyPath = ("profiles", name, "budgets", figure) if own else ("defaults", "budgets", figure)
        w.error(key_node, where, f"the budget needs {' or '.join(needs)}, which profile '{name}' does not run",
                f"add {' or '.join(needs)} under the profile's profilers, or remove this budget" if own else
                f"add {' or '.join(needs)} under the profilers of profile '{name}', or move this budget from "
                "defaults to the profiles that run it")
        ok = False
    return ok
