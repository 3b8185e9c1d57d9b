"""Budgets and compare with the real engine: `invoke profile` exits 7 on a broken budget, 0 when every
budget holds; `invoke budgets` and `invoke compare` on the runs it left. Upstream LuaJIT measures the
heap (gc sampling) and the duration; memprof's budgets need Tarantool's fork (marked `tarantool`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import CI_RECIPE

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.docker

# ~1 KB kept every 2 ms: the heap's floor rises by tens of MB a minute.
LEAK = ('local socket = require("socket")\nlocal keep, i = {}, 0\n'
        'while true do i = i + 1 keep[i] = ("x"):rep(1000) .. i socket.sleep(0.002) end\n')

PROFILES = """
defaults:
  image: ci-git
  timeout: 60s
  grace: 2s
  network: none
  profilers:
    gc: {interval: 50ms}
profiles:
  over:
    workdir: targets
    script: leak.lua
    duration: 2s
    budgets: {heap_growth: 1MB/min, duration: 1m}
  within:
    workdir: targets
    script: leak.lua
    duration: 2s
    budgets: {duration: 1m, peak_memory: 200MB, heap_growth: {regression: 1000%}}
"""


def invoke(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600, check=False)


def test_a_broken_budget_fails_the_run_and_one_that_holds_passes(tmp_path: Path,
                                                                 upstream_env: dict[str, str]) -> None:
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "leak.lua").write_text(LEAK)
    config = tmp_path / "profiles.yml"
    config.write_text(CI_RECIPE + PROFILES)
    env = {**os.environ, **upstream_env}

    over = invoke("profile", "--name", "over", "--config", str(config), env=env)
    assert over.returncode == 7, over.stdout + over.stderr
    assert "ljprof: error: 1 budget(s) broken: heap_growth:" in over.stderr
    assert "> 1MB/min" in over.stderr
    run = next((tmp_path / "reports" / "over").glob("2*"))
    data = json.loads((run / "summary.json").read_text())
    verdicts = {v["budget"]: v for v in data["budgets"]["verdicts"]}
    assert verdicts["heap_growth"]["verdict"] == "broken" and verdicts["heap_growth"]["figure"] > 1024
    assert verdicts["duration"]["verdict"] == "ok" and 1.5 < verdicts["duration"]["figure"] < 10
    assert "| heap_growth | 1MB/min |" in (run / "summary.md").read_text()

    within = invoke("profile", "--name", "within", "--config", str(config), "--base", str(run), env=env)
    assert within.returncode == 0, within.stdout + within.stderr
    assert re.search(r"^  duration +1m +[0-9.]+ s +ok$", within.stdout, re.M), within.stdout
    assert re.search(r"^  heap_growth \(regression\) +\+1000% of [0-9.]+ MB/min +[0-9.]+ MB/min +ok$", within.stdout,
                     re.M), within.stdout
    head = next((tmp_path / "reports" / "within").glob("2*"))
    data = json.loads((head / "summary.json").read_text())
    assert data["budgets"]["ok"] is True
    assert [v["verdict"] for v in data["budgets"]["verdicts"]] == ["ok", "ok", "ok"]

    # the same run checked again, without profiles.yml's budgets: those the manifest recorded
    again = invoke("budgets", "--run", str(run), "--config", str(tmp_path / "none.yml"), env=env)
    assert again.returncode == 7 and "heap_growth" in again.stderr

    compared = invoke("compare", "--base", str(run), "--head", str(head), env=env)
    assert compared.returncode == 0, compared.stderr
    assert "note: the base is a run of another profile: 'over' (head: 'within')" in compared.stdout
    saved = json.loads((head / "compare.json").read_text())
    assert {f["name"]: f["delta"] is not None for f in saved["figures"]}["heap_growth"] is True
    assert saved["sites"]["note"] == "not measured in this run (neither run)"  # upstream: no memprof


BOT = REPO / "examples" / "bot" / "bot.lua"
FORK_PROFILES = """
  bot:
    image: ci-tarantool
    workdir: {folder}
    script: bot.lua
    network: host
    env:
      BOT_TOKEN: "123:budgets"
    services:
      telegram:
        command: ["{{python}}", -m, ljprof.services.fake_telegram, --port, "{{port}}"]
        cwd: {repo}
        env: {{FAKE_TELEGRAM_TOKEN: "123:budgets"}}
        env_var: BOT_API_URL
    duration: 4s
    timeout: 60s
    profilers:
      memprof: {{start: manual}}
    budgets: {{live_bytes: 50KB}}
"""


@pytest.mark.tarantool
@pytest.mark.parametrize("leak", [True, False], ids=["leak", "no-leak"])
def test_live_bytes_budget_on_the_bot(tmp_path: Path, tarantool_env: dict[str, str],
                                      leak: bool) -> None:
    """The bot keeps every reply: 50 KB live at the end is broken; bounded to the last 10 replies, it holds."""
    text = BOT.read_text()
    if not leak:
        text = text.replace("delivered[#delivered + 1] = {", "delivered[(#delivered % 10) + 1] = {")
        assert "% 10" in text
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "bot.lua").write_text(text)
    config = tmp_path / "profiles.yml"
    config.write_text("images:\n  ci-tarantool:\n    luarocks: {from: debian}\n    rocks: [lua-cjson, luasocket]\n"
                      "profiles:" + FORK_PROFILES.format(folder="bot", repo=REPO))
    env = {**os.environ, **tarantool_env}
    proc = invoke("profile", "--name", "bot", "--config", str(config), env=env)
    if leak:
        assert proc.returncode == 7, proc.stdout + proc.stderr
        assert "1 budget(s) broken: live_bytes:" in proc.stderr and "> 50KB" in proc.stderr
    else:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "  live_bytes  50KB" in proc.stdout and " ok" in proc.stdout
