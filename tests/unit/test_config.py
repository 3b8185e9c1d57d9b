"""profiles.yml loading: the shipped file, defaults, and one precise error per broken file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ljprof.config.loader import (
    DEFAULT_ROCKS,
    LUAJIT_FIXES,
    TARANTOOL_LUAJIT_GIT,
    TARANTOOL_LUAJIT_REF,
    load_config,
    parse_config,
)
from ljprof.config.yamlcheck import format_keypath
from ljprof.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
BAD = REPO / "tests" / "fixtures" / "config" / "bad"
BAD_FILES = sorted(BAD.glob("*.yml"))


def test_shipped_default_recipe_is_the_original_dockerfile() -> None:
    config = load_config(REPO / "profiles.yml")
    default = config.images["default"]
    assert default.base == "buildpack-deps:bullseye"
    assert default.apt == ("cmake",)
    assert default.luajit.git == "https://github.com/tarantool/luajit.git"
    assert default.luajit.ref == "b52fe9795db249e7803aeef22c2ed6129a97aaeb"
    assert default.luajit.build == "auto"
    assert default.luarocks.source == "source"
    assert default.luarocks.version == "3.8.0"
    assert default.luarocks.url == "https://luarocks.org/releases/luarocks-3.8.0.tar.gz"
    assert default.rocks == ("luasec", "copas", "lua-cjson")
    # ours, not the original's: every fix to the fork's profilers, unless a recipe says `fixes: none`
    assert default.luajit.fixes == ("memprof-symtab-redump", "profiler-stream-buffer")


def test_empty_recipe_takes_every_default() -> None:
    config = parse_config("images:\n  a: {}\n  b:\n", "p.yml", REPO)
    for recipe in config.images.values():
        assert recipe.base == "buildpack-deps:bullseye"
        assert (recipe.luajit.git, recipe.luajit.ref) == (TARANTOOL_LUAJIT_GIT, TARANTOOL_LUAJIT_REF)
        assert recipe.rocks == DEFAULT_ROCKS
    assert list(config.images) == ["a", "b"]


@pytest.mark.parametrize(("value", "fixes"), [
    ("all", ("memprof-symtab-redump", "profiler-stream-buffer")),
    ("none", ()),
    ("[]", ()),
    ("[profiler-stream-buffer]", ("profiler-stream-buffer",)),
    ("[profiler-stream-buffer, memprof-symtab-redump]", ("memprof-symtab-redump", "profiler-stream-buffer")),
])
def test_fixes_all_none_or_a_list(value: str, fixes: tuple[str, ...]) -> None:
    config = parse_config(f"images:\n  x:\n    luajit:\n      fixes: {value}\n", "p.yml", REPO)
    assert config.images["x"].luajit.fixes == fixes
    assert set(LUAJIT_FIXES) == {"memprof-symtab-redump", "profiler-stream-buffer"}


def test_an_unknown_fix_names_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("images:\n  x:\n    luajit: {fixes: [memprof, sysprof-leaf]}\n", "p.yml", REPO)
    assert str(info.value).splitlines() == [
        "p.yml:3:22: images.x.luajit.fixes[0]: there is no fix 'memprof'",
        "  hint: known fixes: memprof-symtab-redump, profiler-stream-buffer; or 'all' (the default) "
        "or 'none' (LuaJIT as fetched)",
        "p.yml:3:31: images.x.luajit.fixes[1]: there is no fix 'sysprof-leaf'",
        "  hint: known fixes: memprof-symtab-redump, profiler-stream-buffer; or 'all' (the default) "
        "or 'none' (LuaJIT as fetched)",
    ]


def test_merge_keys_share_settings_and_own_keys_win() -> None:
    text = (
        "images:\n"
        "  base: &common\n    apt: [cmake, gdb]\n    luarocks: {from: debian}\n"
        "  debug:\n    <<: *common\n    apt: [cmake, valgrind]\n"
    )
    config = parse_config(text, "p.yml", REPO)
    assert config.images["debug"].apt == ("cmake", "valgrind")
    assert config.images["debug"].luarocks.source == "debian"


def test_local_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "lj" / "src").mkdir(parents=True)
    (tmp_path / "lj" / "src" / "luajit.c").write_text("/* */")
    config = parse_config("images:\n  x:\n    luajit: {path: lj}\n", "p.yml", tmp_path)
    assert config.images["x"].luajit.path == tmp_path / "lj"


def test_all_errors_in_a_file_are_reported_in_file_order() -> None:
    text = "images:\n  a:\n    base: 1\n    rocks: nope\n  b:\n    apt: [Bad]\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, "p.yml", REPO)
    assert str(info.value).splitlines() == [
        "p.yml:3:11: images.a.base: expected a Docker image reference such as debian:bookworm, got 1 (a number)",
        "p.yml:4:12: images.a.rocks: expected a list, got 'nope'",
        "  hint: write one item per line, each after '- ', or [a, b] on one line",
        "p.yml:6:11: images.b.apt[0]: 'Bad' is not a Debian package name (lower case, e.g. libssl-dev)",
    ]


def test_missing_file_says_where_to_look(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yml")
    assert str(info.value) == (
        f"{tmp_path / 'nope.yml'}: no such file\n"
        "  hint: run from the project's top folder, or pass --config PATH"
    )


@pytest.mark.parametrize("path", BAD_FILES, ids=[p.stem for p in BAD_FILES])
def test_broken_file_gives_its_exact_error(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each tests/fixtures/config/bad/NN-*.yml fails with the message in NN-*.err, word for word."""
    monkeypatch.chdir(BAD)
    with pytest.raises(ConfigError) as info:
        load_config(path.name)
    assert str(info.value) == path.with_suffix(".err").read_text().rstrip("\n")
    assert info.value.exit_code == 2


def test_broken_files_are_many_and_their_errors_distinct() -> None:
    messages = [p.with_suffix(".err").read_text().split(": ", 1)[1] for p in BAD_FILES]
    assert len(BAD_FILES) >= 20
    assert len(set(messages)) == len(messages)
    # every message points at a line and column, except those about the whole file
    whole_file = {"02-empty"}
    for p in BAD_FILES:
        first = p.with_suffix(".err").read_text().split(": ", 1)[0]
        assert (first == p.name) if p.stem in whole_file else first.startswith(f"{p.name}:"), first


def test_keypath_formatting() -> None:
    assert format_keypath(()) == "(top level)"
    assert format_keypath(("images", "default", "rocks", 2)) == "images.default.rocks[2]"
