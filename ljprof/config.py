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

import difflib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ljprof.errors import ConfigError
from ljprof.model import Config, ImageRecipe, LuajitSource, LuarocksSpec

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

KeyPath = tuple[str | int, ...]


def format_keypath(path: KeyPath) -> str:
    """`('images', 'default', 'rocks', 1)` -> `images.default.rocks[1]`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(top level)"


def _describe(node: Node) -> str:
    """How a value reads in an error: its text and its YAML kind."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    kind = node.tag.rsplit(":", 1)[-1]
    if kind == "null":
        return "nothing (null)"
    if kind == "str":
        return f"'{node.value}'"
    return f"{node.value} (a {_KIND_NAMES.get(kind, kind)})"


_KIND_NAMES = {"int": "number", "float": "number", "bool": "boolean", "timestamp": "date"}


@dataclass
class _Walker:
    """Collects errors against one file while reading its node tree."""

    filename: str
    errors: list[tuple[int, int, str]] = field(default_factory=list)

    def error(self, node: Node, path: KeyPath, problem: str, hint: str = "") -> None:
        mark = node.start_mark
        text = f"{self.filename}:{mark.line + 1}:{mark.column + 1}: {format_keypath(path)}: {problem}"
        if hint:
            text += f"\n  hint: {hint}"
        self.errors.append((mark.line, mark.column, text))

    def mapping(
        self, node: Node, path: KeyPath, allowed: tuple[str, ...], hint: str = ""
    ) -> dict[str, tuple[Node, Node]] | None:
        """The mapping's entries as {key: (key node, value node)}; None if not a mapping."""
        if not isinstance(node, MappingNode):
            self.error(node, path, f"expected a mapping, got {_describe(node)}", hint)
            return None
        entries: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in _flatten_merges(node):
            if not isinstance(key_node, ScalarNode) or key_node.tag.endswith(":null"):
                self.error(key_node, path, f"keys must be names, got {_describe(key_node)}")
                continue
            key = str(key_node.value)
            if key in entries:
                first = entries[key][0].start_mark.line + 1
                self.error(key_node, (*path, key), f"duplicate key (first given on line {first})")
                continue
            if allowed and key not in allowed:
                self.error(key_node, path, f"unknown key '{key}'", suggest(key, allowed))
                continue
            entries[key] = (key_node, value_node)
        return entries

    def string(self, node: Node, path: KeyPath, pattern: re.Pattern[str] | None = None,
               what: str = "") -> str | None:
        """A non-empty string; with `pattern`, one that matches it (`what` says what that is)."""
        if not isinstance(node, ScalarNode) or not node.tag.endswith(":str"):
            self.error(node, path, f"expected {what or 'a string'}, got {_describe(node)}")
            return None
        value = str(node.value)
        if not value.strip():
            self.error(node, path, f"expected {what or 'a string'}, got an empty string")
            return None
        if pattern is not None and not pattern.match(value):
            self.error(node, path, f"'{value}' is not {what}")
            return None
        return value

    def choice(self, node: Node, path: KeyPath, choices: tuple[str, ...]) -> str | None:
        value = self.string(node, path, what=f"one of: {', '.join(choices)}")
        if value is not None and value not in choices:
            self.error(node, path, f"'{value}' is not allowed; use one of: {', '.join(choices)}",
                       suggest(value, choices, listing=False))
            return None
        return value

    def string_list(self, node: Node, path: KeyPath, item: Callable[[Node, KeyPath], str | None],
                    ) -> tuple[str, ...] | None:
        """A list of strings, each checked by `item`; a repeated entry is an error."""
        if not isinstance(node, SequenceNode):
            self.error(node, path, f"expected a list, got {_describe(node)}",
                       "write one item per line, each after '- ', or [a, b] on one line")
            return None
        values: list[str] = []
        for index, child in enumerate(node.value):
            value = item(child, (*path, index))
            if value is None:
                continue
            if value in values:
                self.error(child, (*path, index), f"'{value}' is listed twice")
                continue
            values.append(value)
        return tuple(values)


def _flatten_merges(node: MappingNode) -> Iterator[tuple[Node, Node]]:
    """Entries of a mapping with YAML merge keys (`<<: *anchor`) expanded.

    Keys written in the mapping win over merged ones, as in YAML 1.1.
    """
    own = [(k, v) for k, v in node.value if not (isinstance(k, ScalarNode) and k.tag.endswith(":merge"))]
    own_keys = {k.value for k, _ in own if isinstance(k, ScalarNode)}
    yield from own
    for key, value in node.value:
        if not (isinstance(key, ScalarNode) and key.tag.endswith(":merge")):
            continue
        sources = value.value if isinstance(value, SequenceNode) else [value]
        for source in sources:
            if isinstance(source, MappingNode):
                for k, v in _flatten_merges(source):
                    if isinstance(k, ScalarNode) and k.value not in own_keys:
                        own_keys.add(k.value)
                        yield k, v
            else:
                yield key, value  # reported as a bad key by the caller


def suggest(word: str, allowed: tuple[str, ...], listing: bool = True) -> str:
    close = difflib.get_close_matches(word, allowed, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else ""
    if listing:
        known = f"allowed keys: {', '.join(sorted(allowed))}"
        hint = f"{hint} {known}" if hint else known
    return hint


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

    walker = _Walker(filename)
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


def _images(w: _Walker, node: Node, base_dir: Path) -> dict[str, ImageRecipe]:
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


def _recipe(w: _Walker, node: Node, path: KeyPath, name: str, base_dir: Path) -> ImageRecipe | None:
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


def _luajit(w: _Walker, entry: tuple[Node, Node] | None, path: KeyPath, base_dir: Path) -> LuajitSource | None:
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


def _cmake_option(w: _Walker, node: Node, path: KeyPath) -> str | None:
    value = w.string(node, path, re.compile(r"^-D[A-Za-z_][A-Za-z0-9_]*(:[A-Z]+)?=\S*$"),
                     "a CMake cache option of the form -DNAME=VALUE")
    if value is not None and value.split("=", 1)[0] in ("-DCMAKE_BUILD_TYPE", "-DCMAKE_INSTALL_PREFIX"):
        w.error(node, path, f"'{value}' is fixed by ljprof (RelWithDebInfo, prefix /usr, as the original "
                "Dockerfile builds) and cannot be changed here")
        return None
    return value


def _luarocks(w: _Walker, entry: tuple[Node, Node] | None, path: KeyPath) -> LuarocksSpec:
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

