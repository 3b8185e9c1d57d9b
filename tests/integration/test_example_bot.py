"""The shipped example, as the README runs it: `invoke profile --name bot` (and bot-upstream)."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest

from ljprof import commands
from ljprof.profilers import PROFILERS
from ljprof.reporting.model import RunDir

from .conftest import GitSource

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.docker


def test_bot_on_upstream_luajit_runs_and_is_stopped_after_its_duration(
        tmp_path: Path, base_image: str, upstream_tree: Path) -> None:
    environ = {**os.environ, "LJPROF_BASE_IMAGE": base_image, "LJPROF_LUAJIT_SOURCE": str(upstream_tree),
               "LJPROF_BUILD_NETWORK": "host"}
    out = io.StringIO()
    result = commands.profile(REPO / "profiles.yml", "bot-upstream", "offline", {}, environ, out, reports=tmp_path)
    m = result.manifest
    assert (m["ending"]["kind"], m["ending"]["stopped_by"]) == ("interrupted", "duration")
    assert m["image"]["luajit"]["build_system"] == "make"
    stdout = (result.run_dir / "raw" / "stdout.log").read_text().splitlines()
    assert stdout[0] == "ljprof-demo: started (token not set)"
    assert re.fullmatch(r"ljprof-demo: 50 updates handled, \d+ chats, \d+ KB in use", stdout[1])
    # 100 ms apart over 5 s and a bit (the bot notices SIGINT when its sleep ends)
    assert 45 <= m["profilers"]["gc"]["samples"] <= 70


@pytest.mark.tarantool
def test_bot_on_tarantool_luajit_points_memprof_at_its_leak(tmp_path: Path, base_image: str,
                                                            tarantool_git: GitSource) -> None:
    environ = {**os.environ, "LJPROF_BASE_IMAGE": base_image, "LJPROF_LUAJIT_GIT": tarantool_git.url,
               "LJPROF_LUAJIT_REF": tarantool_git.ref, "LJPROF_BUILD_NETWORK": "host"}
    out = io.StringIO()
    result = commands.profile(REPO / "profiles.yml", "bot", "offline", {}, environ, out, reports=tmp_path)
    m = result.manifest
    assert m["profilers"]["memprof"]["complete"] is True
    assert m["profilers"]["metrics"]["samples"] >= 45
    leak_line = next(n for n, line in enumerate((REPO / "examples/bot/bot.lua").read_text().splitlines(), 1)
                     if line.endswith("-- LEAK"))
    lua_sites = [line for line in out.getvalue().splitlines() if " B held  @" in line or "started at @" in line]
    assert f"@bot.lua:{leak_line}" in lua_sites[0], out.getvalue()
    html = (result.run_dir / "memprof.html").read_text()
    first_live_row = html.split("<h2>Live at the end</h2>", 1)[1].split("<tbody>", 2)[1]
    assert f"bot.lua:{leak_line}: for i = 1, #replies do delivered" in first_live_row
    section = PROFILERS["memprof"].report(RunDir.load(result.run_dir))
    assert section.state == "complete"
    assert section.summary_top["memprof"]["top_sites"][0]["location"] == f"@bot.lua:{leak_line}"
    assert section.headline.startswith(f"memprof: @bot.lua:{leak_line} holds "), section.headline
