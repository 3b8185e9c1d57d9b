"""Messages that lead somewhere (issue 13), word for word: build fetch failures, engine errors, PyYAML's
errors, did-you-mean, check's overrides and secrets, the live status line. Those that need a process or a
socket (a closed pipe, an engine that is not there) are in tests/integration/test_messages.py."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import docker.errors
import pytest

from ljprof import commands
from ljprof.config import loader
from ljprof.config.loader import load_config, parse_config
from ljprof.console import RunStatus
from ljprof.docker_engine import reason
from ljprof.errors import ConfigError
from ljprof.image.failures import fetch_hint
from ljprof.profilers import PROFILERS
from ljprof.reporting.render import render_run

REPO = Path(__file__).resolve().parents[2]
README_HINT = 'See the README\'s "Without GitHub, Docker Hub or luarocks.org".'


# -- a build that could not fetch: the hint names the override of the failing step --------------------

def test_a_base_image_that_cannot_be_pulled_points_at_a_local_base() -> None:
    # the engine's words, as recorded from `LJPROF_BASE_IMAGE=local/nonexistent:bookworm invoke build`
    engine = ('Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: '
              "no such host")
    assert fetch_hint("FROM ${BASE_IMAGE}", [engine]) == (
        "  hint: the build could not fetch the base image (from Docker Hub). Every source can be replaced: use a "
        "local base image: LJPROF_BASE_IMAGE=local/debian:bookworm (or --base-image; `sudo invoke base-image` makes "
        f"one with debootstrap). {README_HINT}")


def test_luarocks_out_of_reach_points_at_the_offline_recipe() -> None:
    # recorded with `luarocks: {url: "http://127.0.0.1:9/luarocks-3.8.0.tar.gz"}` (a closed loopback port)
    lines = ["The command '/bin/sh -c sh /usr/local/lib/ljprof/build/install-luarocks.sh' returned a non-zero code: 4",
             "--2026-11-25 18:32:47--  http://127.0.0.1:9/luarocks-3.8.0.tar.gz",
             "Connecting to 127.0.0.1:9... failed: Connection refused."]
    assert fetch_hint("RUN sh /usr/local/lib/ljprof/build/install-luarocks.sh", lines) == (
        "  hint: the build could not fetch LuaRocks or a rock (from luarocks.org). Every source can be replaced: take "
        "LuaRocks and the rocks from Debian's packages: the `offline` recipe (--image offline or LJPROF_IMAGE=offline),"
        " or `luarocks: {from: debian}` in your recipe; or point `luarocks.url` at a copy. " + README_HINT)


def test_a_luajit_clone_out_of_reach_points_at_a_mirror() -> None:
    lines = ["Cloning into '/usr/src/luajit'...", "fatal: unable to connect to 127.0.0.1:",
             "127.0.0.1[0: 127.0.0.1]: errno=Connection refused"]
    assert fetch_hint("RUN sh /usr/local/lib/ljprof/build/build-luajit.sh", lines) == (
        "  hint: the build could not fetch LuaJIT's source (git clone). Every source can be replaced: clone from a "
        "mirror with LJPROF_LUAJIT_GIT (and LJPROF_LUAJIT_REF), or copy a local tree with LJPROF_LUAJIT_SOURCE; "
        "LJPROF_BUILD_NETWORK=host reaches a mirror on this machine's loopback. " + README_HINT)


def test_a_compile_error_gets_no_network_hint() -> None:
    assert fetch_hint("RUN sh /usr/local/lib/ljprof/build/build-luajit.sh",
                      ["lj_parse.c:12: error: expected ';' before '}' token"]) == ""


# -- engine errors: the engine's or the system's words, no Python reprs or byte strings ------------------

def test_an_engine_answer_in_bytes_is_decoded() -> None:
    exc = docker.errors.APIError("500 Server Error", explanation=b"# ljprof\n  context refused\n")
    assert reason(exc) == "# ljprof context refused"


# -- PyYAML's errors in plain words ----------------------------------------------------------------------

def test_the_issue_s_indentation_example(tmp_path: Path) -> None:
    text = ("images:\n  default: {}\nprofiles:\n  bot:\n    workdir: t\n    script: bot.lua\n    profilers:\n"
            "      memprof: {start: manual}\n       metrics: {interval: 100ms}\n")
    with pytest.raises(ConfigError) as info:
        parse_config(text, "profiles.yml", tmp_path)
    assert str(info.value) == (
        "profiles.yml:9:8: not valid YAML: line 9 is indented one space more than the key above it (line 8)\n"
        "  hint: keys of one mapping line up: indent 'metrics' by 6 spaces, as on line 8 (a key with a value on its "
        "line cannot have keys below it)")


# -- validation: a profiler the image has but ljprof does not run yet ------------------------------------

def test_a_profiler_of_the_image_that_ljprof_lacks_is_not_supported_yet(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # today every LuaJIT profiler has an ljprof package or is on its way: a made-up one stands for the next
    monkeypatch.setitem(loader.IMAGE_PROFILERS, "vmprof", "misc.vmprof (a future fork)")
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "bot.lua").write_text("")
    text = ("images:\n  default: {}\nprofiles:\n  bot:\n    workdir: t\n    script: bot.lua\n"
            "    profilers: {vmprof: true, vmprog: true}\n")
    with pytest.raises(ConfigError) as info:
        parse_config(text, "profiles.yml", tmp_path)
    lines = str(info.value).splitlines()
    assert lines[0] == ("profiles.yml:7:17: profiles.bot.profilers.vmprof: not supported yet: the image has "
                        "misc.vmprof (a future fork), but ljprof cannot run it as a profiler yet")
    assert lines[1] == f"  hint: remove it; the profilers ljprof runs: {', '.join(sorted(PROFILERS))}"
    assert lines[2] == "profiles.yml:7:31: profiles.bot.profilers: unknown key 'vmprog'"


# -- did you mean, for report --name and a missing --name ------------------------------------------------

def test_report_with_a_misspelled_profile_suggests_one(tmp_path: Path) -> None:
    run = tmp_path / "bot" / "20260101T000000000Z-abcdef"
    run.mkdir(parents=True)
    (tmp_path / "bot" / "latest").symlink_to(run.name)
    with pytest.raises(ConfigError) as info:
        commands.find_run(tmp_path, None, "bto", ("bot", "churn"))
    assert str(info.value) == (f"{tmp_path}/bto/latest: no run of profile 'bto' yet\n"
                               f"  hint: did you mean 'bot'? profiles with runs in {tmp_path}: bot")
    with pytest.raises(ConfigError) as info:
        commands.find_run(tmp_path, None, "churn", ("bot", "churn"))
    assert str(info.value).endswith("  hint: invoke profile --name churn")
    with pytest.raises(ConfigError) as info:
        commands.find_run(tmp_path, None, None, ("bot", "churn"))
    assert str(info.value) == ("name a run directory (--run DIR) or a profile (--name NAME, for its latest run)\n"
                               f"  hint: profiles with runs in {tmp_path}: bot")


def test_profile_without_name_lists_the_profiles(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from ljprof.cli import program

    monkeypatch.chdir(REPO)
    with pytest.raises(SystemExit) as info:
        program.run(["ljprof", "profile"])
    assert info.value.code == 2
    known = ", ".join(sorted(load_config(REPO / "profiles.yml").profiles))
    assert capsys.readouterr().err == (f"ljprof: error: profiles.yml: which profile? --name is missing\n"
                                       f"  hint: --name NAME, one of: {known}\n")


# -- check: the overrides in force, and secrets without a host variable ----------------------------------

def test_check_prints_the_overrides_in_force_and_warns_about_unset_secrets(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.lua").write_text("")
    config = tmp_path / "profiles.yml"
    config.write_text("images:\n  default: {}\n  offline: {luarocks: {from: debian}, rocks: [lua-cjson]}\n"
                      "profiles:\n  bot:\n    workdir: app\n    script: main.lua\n"
                      "    env: {BOT_TOKEN: {secret: BOT_TOKEN}}\n")
    out = io.StringIO()
    commands.check(config, out, {"LJPROF_IMAGE": "offline", "LJPROF_BASE_IMAGE": "local/debian:bookworm",
                                 "LJPROF_LUAJIT_GIT": "https://user:token@example.com/luajit.git",
                                 "LJPROF_LUAJIT_REF": "v2.1"})
    assert out.getvalue().splitlines() == [
        f"{config}: valid; 2 image recipe(s), 1 profile(s)",
        "  override  image = offline (from LJPROF_IMAGE)",
        "  override  base_image = local/debian:bookworm (from LJPROF_BASE_IMAGE)",
        "  override  luajit_git = https://***@example.com/luajit.git (from LJPROF_LUAJIT_GIT)",
        "  override  luajit_ref = v2.1 (from LJPROF_LUAJIT_REF)",
        "  image default: local/debian:bookworm; LuaJIT from https://***@example.com/luajit.git @ v2.1; LuaRocks "
        "from source; luasec copas lua-cjson",
        "  image offline: local/debian:bookworm; LuaJIT from https://***@example.com/luajit.git @ v2.1; LuaRocks "
        "from debian; lua-cjson",
        f"  profile bot: luajit main.lua in {tmp_path / 'app'} on image offline (LJPROF_IMAGE; the profile says "
        "default); profilers: none",
        "warning: profiles.bot.env.BOT_TOKEN: the secret's host variable BOT_TOKEN is not set; `profile --name bot` "
        "will refuse to start",
        "  hint: export BOT_TOKEN=... before the run (its value is written nowhere)",
    ]
    out = io.StringIO()
    commands.check(config, out, {"BOT_TOKEN": "x" * 8})
    assert "  override  " not in out.getvalue() and "warning:" not in out.getvalue()


def test_the_recipe_comes_from_the_option_then_ljprof_image_then_the_profile() -> None:
    assert commands.pick_recipe("a", {"LJPROF_IMAGE": "b"}, "c") == commands.Override("a", "--image")
    assert commands.pick_recipe(None, {"LJPROF_IMAGE": "b"}, "c") == commands.Override("b", "LJPROF_IMAGE")
    assert commands.pick_recipe(None, {}, "c") == commands.Override("c", "")


# -- the live status line --------------------------------------------------------------------------------

def test_status_in_a_log_is_a_plain_line_every_10_seconds(tmp_path: Path) -> None:
    out = io.StringIO()
    status = RunStatus(out, duration=30, timeout=60, interactive=False)
    gc = tmp_path / "gc.csv"
    gc.write_text("t,kb,container_kb\n")
    for tenth in range(0, 251):
        if tenth:
            with gc.open("a") as f:
                f.write(f"{tenth / 10:.1f},{1000 + tenth * 4:.4f},2000\n")
        status(tmp_path, tenth / 10)
    status.finish()
    assert out.getvalue() == ("  running 10 s of 30 s, Lua heap 1,400 KB, 100 samples\n"
                              "  running 20 s of 30 s, Lua heap 1,800 KB, 200 samples\n")


def test_status_on_a_terminal_is_rewritten_in_place(tmp_path: Path) -> None:
    out = io.StringIO()
    status = RunStatus(out, duration=None, timeout=60, interactive=True)
    (tmp_path / "gc.csv").write_text("t,kb,container_kb\n0.1,2048.0,3000\n0.2,30")  # the last line is not complete
    status(tmp_path, 0.2)
    status(tmp_path, 0.4)  # too soon: every 0.5 s
    status(tmp_path, 0.8)
    status.finish()
    assert out.getvalue() == ("\r\x1b[2K  running 0 s (timeout 60 s), Lua heap 2,048 KB, 1 sample"
                              "\r\x1b[2K  running 1 s (timeout 60 s), Lua heap 2,048 KB, 1 sample\r\x1b[2K")


# -- records: a report rendered through `latest` records the run's own path ------------------------------

def test_memprof_json_records_the_run_s_own_raw_path(tmp_path: Path) -> None:
    run = tmp_path / "reports" / "bot" / "20260101T000000000Z-abcdef"
    shutil.copytree(REPO / "tests" / "fixtures" / "runs" / "growing", run)
    shutil.copyfile(REPO / "tests" / "fixtures" / "memprof" / "leak.bin", run / "raw" / "memprof.bin")
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["profilers"]["memprof"] = {}
    (run / "manifest.json").write_text(json.dumps(manifest))
    latest = run.parent / "latest"
    latest.symlink_to(run.name)
    render_run(latest)
    recorded = json.loads((run / "memprof.json").read_text())["source"]
    assert recorded == str(run.resolve() / "raw" / "memprof.bin")


def test_a_stray_closing_brace_is_not_taken_for_indentation(tmp_path: Path) -> None:
    text = "images:\n  default: {}\nprofiles:\n  p: {workdir: app, script: main.lua, timeout: 2h}}\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, "profiles.yml", tmp_path)
    assert str(info.value) == ("profiles.yml:4:51: not valid YAML: line 4, column 51: a '}' that closes nothing\n"
                               "  hint: remove it, or open its '{' earlier")


def test_check_says_nothing_of_a_secret_with_a_default(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.lua").write_text("")
    config = tmp_path / "profiles.yml"
    config.write_text("images:\n  default: {}\nprofiles:\n  bot:\n    workdir: app\n    script: main.lua\n"
                      "    env: {BOT_TOKEN: {secret: BOT_TOKEN, default: '123456:demo'}}\n")
    out = io.StringIO()
    commands.check(config, out, {})
    assert "warning:" not in out.getvalue()
