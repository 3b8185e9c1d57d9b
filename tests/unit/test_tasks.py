"""tasks.py is thin: it maps options to ljprof.commands and errors to exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from invoke import Exit, MockContext

import tasks

REPO = Path(__file__).resolve().parents[2]
BAD = REPO / "tests" / "fixtures" / "config" / "bad"


def test_check_lists_the_shipped_recipes(capsys: pytest.CaptureFixture[str]) -> None:
    tasks.check(MockContext(), config=str(REPO / "profiles.yml"))
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{REPO / 'profiles.yml'}: valid; 3 image recipe(s), 6 profile(s)"
    assert out[1] == (
        "  image default: buildpack-deps:bullseye; LuaJIT from https://github.com/tarantool/luajit.git @ "
        "b52fe9795db249e7803aeef22c2ed6129a97aaeb; LuaRocks from source; luasec copas lua-cjson; "
        "loom from https://github.com/cloudflare/loom.git @ 643db2f1840e23c62c0bcdadc3131eef03a6e431")
    assert out[4] == (f"  profile bot: luajit bot.lua in {REPO / 'examples' / 'bot'} on image default; "
                      "profilers: gc, memprof, metrics, proc; service telegram (host command)")


def test_a_config_error_becomes_exit_code_2_with_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD)
    with pytest.raises(Exit) as info:
        tasks.check(MockContext(), config="09-misspelled-recipe-key.yml")
    assert info.value.code == 2
    assert info.value.message == (
        "ljprof: error: 09-misspelled-recipe-key.yml:3:5: images.default: unknown key 'rock'\n"
        "  hint: did you mean 'rocks'? allowed keys: apt, base, loom, luajit, luarocks, rocks")


def test_build_with_a_bad_override_fails_before_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    with pytest.raises(Exit) as info:
        tasks.build(MockContext(), image="default", network="bridged")
    assert info.value.code == 2
    assert info.value.message == (
        "ljprof: error: --network: 'bridged' is not a build network mode; use one of: default, host, none, bridge")


def test_build_of_an_unknown_recipe_names_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    with pytest.raises(Exit) as info:
        tasks.build(MockContext(), image="defualt")
    assert info.value.message == (
        "ljprof: error: profiles.yml: there is no image recipe 'defualt'\n"
        "  hint: did you mean 'default'? known image recipes: default, offline, upstream")


def test_context_writes_build_args_for_github_actions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(REPO)
    github_output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(github_output))
    for var in ("LJPROF_BASE_IMAGE", "LJPROF_LUAJIT_GIT", "LJPROF_LUAJIT_REF", "LJPROF_LUAJIT_SOURCE"):
        monkeypatch.delenv(var, raising=False)
    tasks.context(MockContext(), out=str(tmp_path / "ctx"), image="default")
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("tag=ljprof/luajit:default-")
    assert "LUAJIT_REF=b52fe9795db249e7803aeef22c2ed6129a97aaeb" in printed
    written = github_output.read_text().splitlines()
    assert written[0] == printed[0]
    assert written[2] == "build-args<<LJPROF_EOF" and written[-1] == "LJPROF_EOF"
    assert "ROCKS=luasec copas lua-cjson" in written
    assert (tmp_path / "ctx" / "Dockerfile").read_text().startswith("# An ljprof image")
    with pytest.raises(Exit) as info:  # never writes into a folder that has something in it
        tasks.context(MockContext(), out=str(tmp_path / "ctx"), image="default")
    assert info.value.message == (
        f"ljprof: error: {tmp_path / 'ctx'}: the folder exists and is not empty\n  hint: name a new or empty folder")
