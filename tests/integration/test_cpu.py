"""cpu on real LuaJIT in Docker: the 3:1 program (examples/hot/hot.lua) on upstream LuaJIT splits as
the CPU time does, with named frames; a target that sleeps says it was off CPU; on Tarantool's fork,
memprof's time windows still appear with cpu sharing jit.profile's timer."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest

from ljprof import commands
from ljprof.reporting import flame

from .conftest import CI_RECIPE

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.docker

PROFILES = """
defaults:
  image: ci-git
  timeout: 60s
  limits: {memory: 256m, pids: 32}
profiles:
  hot: {workdir: targets, script: hot.lua, args: ["2"], profilers: {cpu: {}}}
  sleepy: {workdir: targets, script: sleepy.lua, args: ["2"], profilers: {cpu: {interval: 5ms}}}
  both: {workdir: targets, script: hot.lua, args: ["3"], profilers: {cpu: {}, memprof: {}}}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cpu")
    shutil.copytree(REPO / "examples" / "hot", root / "targets")
    (root / "profiles.yml").write_text(CI_RECIPE + PROFILES)
    return root


def summary(run_dir: Path) -> dict[str, object]:
    return dict(json.loads((run_dir / "summary.json").read_text()))


def test_two_hot_functions_split_3_to_1_with_named_frames(project: Path, upstream_env: dict[str, str]) -> None:
    out = io.StringIO()
    result = commands.profile(project / "profiles.yml", "hot", None, {}, {**os.environ, **upstream_env}, out)
    folded = (result.run_dir / "cpu.folded").read_text()
    stacks = {tuple(line.rpartition(" ")[0].split(";")): int(line.rpartition(" ")[2])
              for line in folded.splitlines()}
    own = {flame.function_name(t.frame): t.self for t in flame.top_frames(stacks, 20)}
    slow, fast = own["@hot.lua slow"], own["@hot.lua fast"]
    assert 0.60 <= slow / (slow + fast) <= 0.88, (slow, fast, folded)
    assert slow + fast >= 100  # 2 s at 10 ms
    states = flame.vm_states({s: c for s, c in stacks.items() if "@hot.lua:11 slow" in s})
    assert max(states, key=lambda k: states[k]) == "interpreted"
    data = summary(result.run_dir)
    cpu = data["cpu"]
    assert isinstance(cpu, dict) and cpu["top"][0]["frame"] == "@hot.lua:11 slow"
    assert "cpu: " in out.getvalue() and "hottest @hot.lua:11 slow" in out.getvalue()
    assert 'href="cpu.html"' in (result.run_dir / "index.html").read_text()


def test_a_sleeping_target_is_off_cpu(project: Path, upstream_env: dict[str, str]) -> None:
    out = io.StringIO()
    result = commands.profile(project / "profiles.yml", "sleepy", None, {}, {**os.environ, **upstream_env}, out)
    profilers = summary(result.run_dir)["profilers"]
    assert isinstance(profilers, dict)
    assert profilers["cpu"]["note"].startswith("few samples ("), profilers["cpu"]
    assert "the target was mostly off CPU" in profilers["cpu"]["note"]
    assert "few samples" in (result.run_dir / "cpu.html").read_text()


@pytest.mark.tarantool
def test_memprof_windows_with_cpu_on(project: Path, tarantool_env: dict[str, str]) -> None:
    environ = {**os.environ, **tarantool_env}
    result = commands.profile(project / "profiles.yml", "both", None, {}, environ, io.StringIO())
    windows = [e for e in result.manifest["timeline"] if e["event"] == "window"]
    assert len(windows) >= 2, result.manifest["timeline"]
    cpu = summary(result.run_dir)["cpu"]
    assert isinstance(cpu, dict) and cpu["samples"] >= 100
