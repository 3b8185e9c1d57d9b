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
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from ljprof.errors import ConfigError
from ljprof.model import Config, ImageRecipe, LuajitSource, LuarocksSpec
from ljprof.yamlcheck import KeyPath, Walker

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

LUAJIT_BUILDS = ("auto", "cmake", "make")
LUAROCKS_SOURCES = ("source", "debian", "none")

# Rocks that Debian packages for the Lua 5.1 ABI (which LuaJIT loads), for
# recipes with `luarocks: {from: debian}`; checked against bookworm.
DEBIAN_ROCK_PACKAGES = {
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

TOP_KEYS = ("images",)
RECIPE_KEYS = ("base", "apt", "luajit", "luarocks", "rocks")
LUAJIT_KEYS = ("git", "ref", "path", "build", "cmake_options")
LUAROCKS_KEYS = ("from", "version", "url")


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
        mark = exc.problem_mark or exc.context_mark
        where = f"{filename}:{mark.line + 1}:{mark.column + 1}" if mark else filename
        message = f"{where}: not valid YAML: {exc.problem or exc.context}"
        if exc.context and exc.context_mark and exc.problem:
            # e.g. "while parsing a flow sequence" and where that sequence starts
            message += f"\n  hint: {exc.context} that starts at line {exc.context_mark.line + 1}, " \
                       f"column {exc.context_mark.column + 1}"
        raise ConfigError(message) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{filename}: not valid YAML: {exc}") from None
    if root is None:
        raise ConfigError(f"{filename}: the file is empty\n  hint: it needs an 'images:' section")

    walker = Walker(filename)
    images: dict[str, ImageRecipe] = {}
    top = walker.mapping(root, (), TOP_KEYS)
    if top is not None:
        if "images" in top:
            images = _images(walker, top["images"][1], base_dir)
        elif not walker.errors:  # else a misspelled 'images' was reported already
            walker.error(root, (), "the 'images' section is missing",
                         "add 'images:' with at least one recipe, e.g. 'default: {}'")
    if walker.errors:
        walker.errors.sort(key=lambda e: (e[0], e[1]))
        raise ConfigError("\n".join(text for _, _, text in walker.errors))
    return Config(path=Path(filename), images=images)


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
    if len(w.errors) > errors_before or luajit is None:
        return None
    return ImageRecipe(name=name, base=base, apt=apt, luajit=luajit, luarocks=luarocks, rocks=rocks)


def _luajit(w: Walker, entry: tuple[Node, Node] | None, path: KeyPath, base_dir: Path) -> LuajitSource | None:
    default = LuajitSource(git=TARANTOOL_LUAJIT_GIT, ref=TARANTOOL_LUAJIT_REF)
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
    return LuajitSource(git=git, ref=ref, path=source_path, build=build, cmake_options=options)


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

