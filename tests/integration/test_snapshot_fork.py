"""The bot on Tarantool's fork with snapshot and memprof: its leak by path, where it was allocated, its picture."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest

from ljprof import commands

from .conftest import GitSource

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.docker, pytest.mark.tarantool]

# the shipped `offline` recipe, as the fork's tests build it (loom: the loom test adds it)
OFFLINE = """
images:
  offline:
    base: debian:bookworm
    luarocks: {from: debian}
    rocks: [luasec, copas, lua-cjson, luasocket]
"""

PROFILES = OFFLINE + """profiles:
  bot:
    image: offline
    workdir: bot
    script: bot.lua
    network: host
    env:
      BOT_TOKEN: "123:snapshot"
    services:
      telegram:
        command: ["{python}", -m, ljprof.services.fake_telegram, --port, "{port}"]
        cwd: REPO
        env: {FAKE_TELEGRAM_TOKEN: "123:snapshot"}
        env_var: BOT_API_URL
    duration: 5s
    profilers:
      memprof: {start: manual}
      snapshot: true
"""


def test_the_bots_leak_by_path_and_allocation_site(tmp_path: Path, tarantool_env: dict[str, str]) -> None:
    shutil.copytree(REPO / "examples" / "bot", tmp_path / "bot")
    (tmp_path / "profiles.yml").write_text(PROFILES.replace("cwd: REPO", f"cwd: {REPO}"))
    environ = {**os.environ, **tarantool_env}
    result = commands.profile(tmp_path / "profiles.yml", "bot", None, {}, environ, io.StringIO(),
                              reports=tmp_path / "reports")
    leak_line = next(n for n, line in enumerate((REPO / "examples/bot/bot.lua").read_text().splitlines(), 1)
                     if line.endswith("-- LEAK"))
    summary = json.loads((result.run_dir / "summary.json").read_text())
    first = summary["snapshot"]["retained"][0]
    assert first["path"] == "local delivered in main chunk (@bot.lua:0) [*]"
    # each entry: a table, its body and its copy (equal replies share their interned strings)
    assert first["count"] >= 50 and 2 * first["count"] < first["objects"] <= 3 * first["count"]
    # joined with memprof by address: every entry table was made on the LEAK line
    assert first["allocated_at"] == f"@bot.lua:{leak_line}"
    assert first["allocated_count"] == first["count"]
    assert first["exact_bytes"] > 0
    page = (result.run_dir / "snapshot.html").read_text()
    assert "<svg" in page and "local delivered" in page


LOOM_PROFILES = OFFLINE + """    loom: true
profiles:
  traces:
    image: offline
    workdir: t
    script: traces.lua
    profilers: {jit: {mode: loom}, memprof: {}, snapshot: {}}
"""


def test_what_loom_records_is_ljprofs_not_the_targets(tmp_path: Path, tarantool_env: dict[str, str],
                                                       loom_git: GitSource) -> None:
    """loom keeps every trace event in its upvalues: on scimark its records were memprof's top four sites
    and the snapshot's top three groups, before the jit recorder's modules counted as ljprof's."""
    (tmp_path / "t").mkdir()
    shutil.copy(REPO / "examples" / "traces" / "traces.lua", tmp_path / "t" / "traces.lua")
    (tmp_path / "profiles.yml").write_text(LOOM_PROFILES)
    environ = {**os.environ, **tarantool_env, "LJPROF_LOOM_GIT": loom_git.url, "LJPROF_LOOM_REF": loom_git.ref}
    out = io.StringIO()
    result = commands.profile(tmp_path / "profiles.yml", "traces", None, {}, environ, out,
                              reports=tmp_path / "reports")
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["profilers"]["jit"]["loom"]["bytes"] > 0  # loom recorded, and wrote its page
    sites = [s["location"] for s in summary["memprof"]["top_sites"]]
    assert sites and not [s for s in sites if "/jit/" in s], sites
    assert "the jit profiler's jit/*.lua) not shown" in out.getvalue()
    paths = [r["path"] for r in summary["snapshot"]["retained"]]
    assert not [p for p in paths if "jit." in p or "loom" in p], paths
