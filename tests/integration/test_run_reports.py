"""The run's own reports from real runs on upstream LuaJIT: index.html, summary.json, summary.md, the heap
verdict, and re-rendering from the run directory alone."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from ljprof import commands
from ljprof.errors import TargetFailed

from .conftest import CI_RECIPE

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.docker

LEAK = """-- keeps every record: about 100 KB a second, in steps, as a cache that is never trimmed would
local socket = require("socket")
local ljprof = require("ljprof")
local kept = {}
ljprof.mark("serving")
while true do
  for i = 1, 100 do kept[#kept + 1] = ("record %d "):format(#kept):rep(10) end -- LEAK
  socket.sleep(0.1)
end
"""

PROFILES = """
defaults:
  image: ci-git
  timeout: 60s
  grace: 2s
  network: none
  limits: {memory: 256m, pids: 32}
  profilers:
    gc: {interval: 50ms}
    proc: true
profiles:
  leak: {workdir: targets, script: leak.lua, duration: 4s}
  churn: {workdir: churn, script: churn.lua, duration: 4s}
  broken: {workdir: targets, script: broken.lua}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reports")
    (root / "targets").mkdir()
    (root / "targets" / "leak.lua").write_text(LEAK)
    (root / "targets" / "broken.lua").write_text('local lpeg = require("lpeg_is_not_here")\n')
    shutil.copytree(REPO / "examples" / "churn", root / "churn")  # the shipped example that does not leak
    (root / "profiles.yml").write_text(CI_RECIPE + PROFILES)
    return root


@pytest.fixture(scope="module")
def environ(upstream_env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **upstream_env}


def run(project: Path, environ: dict[str, str], name: str) -> tuple[Path, str]:
    out = io.StringIO()
    result = commands.profile(project / "profiles.yml", name, None, {}, environ, out)
    return result.run_dir, out.getvalue()


def test_a_leaking_target_is_growing_in_every_report(project: Path, environ: dict[str, str]) -> None:
    run_dir, printed = run(project, environ, "leak")
    summary = json.loads((run_dir / "summary.json").read_text())
    heap = summary["heap"]
    assert heap["growing"] is True
    # ~100 KB/s of strings: the floor's slope is several MB a minute
    assert 2_000 < heap["slope_kb_per_min"] < 20_000, heap
    assert summary["ending"] == {"kind": "interrupted", "ok": True, "exit_code": 1, "signal": None,
                                 "stopped_by": "duration", "message": "stopped by SIGINT at the profile's duration, "
                                 "as planned (luajit then exits with code 1)"}
    assert summary["profilers"]["gc"]["state"] == "complete"
    assert summary["profile"] == "leak" and summary["image"]["tag"].startswith("ljprof/luajit:ci-git-")
    assert "\nLua heap: growing, floor rose from " in printed
    page = (run_dir / "index.html").read_text()
    assert "Lua heap: growing, floor rose from" in page
    assert '"marks":[{"label":"serving","t":' in page  # the mark, on the chart's time axis
    assert "<th>signals sent</th><td>SIGINT at" in page
    # opens offline: nothing is loaded from the network (the SVG namespace URI is a name, not a load)
    assert re.search(r"""(src|href)\s*=\s*["']?https?:|url\(\s*["']?https?:|@import""", page) is None
    md = (run_dir / "summary.md").read_text()
    assert md.startswith("### ljprof: leak · run ") and "Lua heap: growing" in md


def test_a_target_that_allocates_and_drops_is_flat(project: Path, environ: dict[str, str]) -> None:
    run_dir, printed = run(project, environ, "churn")
    heap = json.loads((run_dir / "summary.json").read_text())["heap"]
    assert heap["growing"] is False, heap
    assert "Lua heap: flat" in printed
    assert "Lua heap: flat" in (run_dir / "index.html").read_text()


def test_a_target_that_fails_at_require_says_why_on_its_page(project: Path, environ: dict[str, str]) -> None:
    with pytest.raises(TargetFailed) as info:
        run(project, environ, "broken")
    assert str(info.value).startswith("the target failed: broken.lua:1: module 'lpeg_is_not_here' not found:")
    page = (info.value.run_dir / "index.html").read_text()
    assert '<span class="badge fail">failed</span> <b>error</b>: broken.lua:1: module' in page
    assert "\tbroken.lua:1: in main chunk" in page  # the traceback
    assert json.loads((info.value.run_dir / "summary.json").read_text())["ending"]["ok"] is False


def test_invoke_report_renders_a_run_again_without_docker(project: Path, environ: dict[str, str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir, _ = run(project, environ, "leak")
    first = (run_dir / "index.html").read_text()
    for name in ("index.html", "summary.json", "summary.md"):
        (run_dir / name).unlink()
    import docker

    def no_docker(*args: object, **kwargs: object) -> None:
        raise AssertionError("invoke report must not need Docker")

    monkeypatch.setattr(docker, "from_env", no_docker)
    out = io.StringIO()
    commands.report(commands.find_run(project / "reports", None, "leak"), out)
    assert (run_dir / "index.html").read_text() == first
    assert f"reports in {run_dir}: index.html, " in out.getvalue()
    assert json.loads((run_dir / "summary.json").read_text())["heap"]["growing"] is True


def test_a_relative_reports_folder_works(project: Path, environ: dict[str, str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """raw/ is bind-mounted into the container: a relative --reports must still give the engine an absolute path."""
    monkeypatch.chdir(project)
    with pytest.raises(TargetFailed) as info:  # any run will do; this one is quick
        commands.profile(Path("profiles.yml"), "broken", None, {}, environ, io.StringIO(), reports="rel-reports")
    assert info.value.run_dir.parent.parent == project / "rel-reports"
    assert (info.value.run_dir / "raw" / "stderr.log").read_text().startswith("luajit: broken.lua:1: module")
