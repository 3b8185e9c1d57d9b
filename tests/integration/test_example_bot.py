"""The shipped example, as the README runs it: `invoke profile --name bot` (and bot-upstream)."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pytest

from ljprof import commands
from ljprof.errors import TargetFailed
from ljprof.profilers import PROFILERS
from ljprof.reporting.model import RunDir

from .conftest import NO_LOOM

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.docker


def test_bot_on_upstream_luajit_answers_the_fake_bot_api_and_its_heap_grows(
        tmp_path: Path, base_image: str, upstream_tree: Path) -> None:
    environ = {**os.environ, "LJPROF_BASE_IMAGE": base_image, "LJPROF_LUAJIT_SOURCE": str(upstream_tree),
               "LJPROF_BUILD_NETWORK": "host", **NO_LOOM}
    environ.pop("BOT_TOKEN", None)  # the demo's default token, as from a fresh clone
    out = io.StringIO()
    result = commands.profile(REPO / "profiles.yml", "bot-upstream", "offline", {}, environ, out, reports=tmp_path)
    m = result.manifest
    assert (m["ending"]["kind"], m["ending"]["stopped_by"], m["ending"]["ok"]) == ("interrupted", "duration", True)
    assert m["image"]["luajit"]["build_system"] == "make"
    stdout = (result.run_dir / "raw" / "stdout.log").read_text().splitlines()
    (api,) = m["services"]
    assert (api["name"], api["state"], api["env_var"]) == ("telegram", "ran", "BOT_API_URL")
    assert stdout[0] == f"ljprof-demo: started as @ljprof_demo_bot, polling {api['address']}"
    assert re.fullmatch(r"ljprof-demo: 50 updates handled, \d+ replies, \d+ chats, \d+ KB in use", stdout[1])
    stopped = re.fullmatch(r"ljprof-demo: stopped by SIGINT after (\d+) updates, (\d+) replies, \d+ chats",
                           stdout[-1])
    assert stopped, stdout
    # every reply the bot counted reached the fake API, which recorded it
    sent = [json.loads(line) for line in (result.run_dir / "services/telegram/sent.jsonl").read_text().splitlines()]
    assert len(sent) == int(stopped[2]) >= 40
    assert any(s["text"] == "/start, /help, /echo TEXT, /stats; anything else I repeat in capitals." for s in sent)
    log = (result.run_dir / "services/telegram.log").read_text()
    assert log.splitlines()[-1] == f"stopped: {log.count('getUpdates -> 200 10 updates') * 10} updates delivered, " \
                                   f"{len(sent)} messages sent"
    assert "123456:ljprof-demo-token" not in log + "\n".join(stdout)
    # the leak, in the heap verdict
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["heap"]["growing"] is True, summary["heap"]
    assert summary["heap"]["floor_end_kb"] - summary["heap"]["floor_start_kb"] > 100
    assert "\nLua heap: growing, floor rose from " in out.getvalue()
    # 100 ms apart over 5 s and a bit (the bot notices SIGINT when its long poll returns)
    assert 45 <= m["profilers"]["gc"]["samples"] <= 80


@pytest.mark.tarantool
def test_bot_on_tarantool_luajit_points_memprof_at_its_leak(tmp_path: Path,
                                                            tarantool_env: dict[str, str]) -> None:
    environ = {**os.environ, **tarantool_env}
    out = io.StringIO()
    result = commands.profile(REPO / "profiles.yml", "bot", "offline", {}, environ, out, reports=tmp_path)
    m = result.manifest
    assert m["profilers"]["memprof"]["complete"] is True
    assert m["profilers"]["metrics"]["samples"] >= 45
    assert m["services"][0]["state"] == "ran"
    leak_line = next(n for n, line in enumerate((REPO / "examples/bot/bot.lua").read_text().splitlines(), 1)
                     if line.endswith("-- LEAK"))
    printed = out.getvalue()
    assert f"\nmemprof: @bot.lua:{leak_line} (growing) holds " in printed, printed
    assert "\nLua heap: growing, floor rose from " in printed, printed
    html = (result.run_dir / "memprof.html").read_text()
    first_live_row = html.split("<h2>Live at the end</h2>", 1)[1].split("<tbody>", 2)[1]
    assert f"bot.lua:{leak_line}: local function remember(message, reply) delivered[#delivered + 1] = {{ chat" \
        in first_live_row, first_live_row
    section = PROFILERS["memprof"].report(RunDir.load(result.run_dir))
    assert section.state == "complete"
    assert section.summary_top["memprof"]["top_sites"][0]["location"] == f"@bot.lua:{leak_line}"
    assert section.headline.startswith(f"memprof: @bot.lua:{leak_line} (growing) holds "), section.headline
    assert summary_growing(result.run_dir, f"@bot.lua:{leak_line}") is True
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["heap"]["growing"] is True
    assert summary["memprof"]["top_sites"][0]["location"] == f"@bot.lua:{leak_line}"
    # the fixes are on by default: no C symbol re-dumps, no 8 MiB buffer on the Lua heap
    assert [f["name"] for f in m["image"]["fixes"] if f["applied"]] == ["memprof-symtab-redump",
                                                                        "profiler-stream-buffer"]
    assert m["profilers"]["memprof"]["size"] < 2_000_000


OOM_TARGET = """local kept = {}
local function leak(i) kept[#kept + 1] = ("x"):rep(1000) .. i end
local i = 0
while true do i = i + 1; leak(i) end
"""


@pytest.mark.tarantool
def test_a_target_killed_by_the_oom_killer_keeps_its_memprof_data(tmp_path: Path,
                                                                  tarantool_env: dict[str, str]) -> None:
    environ = {**os.environ, **tarantool_env}
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "oom.lua").write_text(OOM_TARGET)
    config = tmp_path / "profiles.yml"
    config.write_text((REPO / "profiles.yml").read_text().split("\ndefaults:")[0] + """
profiles:
  oom:
    image: offline
    workdir: t
    script: oom.lua
    limits: {memory: 128m}
    profilers: {gc: {interval: 100ms}, memprof: {start: auto}}
""")
    with pytest.raises(TargetFailed) as info:
        commands.profile(config, "oom", None, {}, environ, io.StringIO(), reports=tmp_path / "reports")
    summary = json.loads((info.value.run_dir / "summary.json").read_text())
    assert summary["ending"]["kind"] == "oom"
    assert summary["profilers"]["memprof"]["state"] == "cut"  # the kill came mid-stream
    top = summary["memprof"]["top_sites"][0]
    # the leaking line (or the trace the JIT started at the loop that calls it) holds most of the 128 MiB
    assert top["location"] in ("@oom.lua:2", "@oom.lua:4"), top
    assert top["live_bytes"] > 64 * 1024**2, top


def summary_growing(run_dir: Path, location: str) -> bool | None:
    sites = json.loads((run_dir / "summary.json").read_text())["memprof"]["top_sites"]
    return next(s["growing"] for s in sites if s["location"] == location)
