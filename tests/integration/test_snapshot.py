"""Heap snapshots on upstream LuaJIT (the walker is plain Lua): the edge-case target's leak, found by its path."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from ljprof import commands

from .conftest import CI_RECIPE

pytestmark = pytest.mark.docker

# A leak reachable only through a closure's upvalue, among what fooled or broke other walkers:
# cdata and boolean keys, a 10,000-node list, __tostring/__metatable, a suspended coroutine.
EDGE = """local ffi = require("ffi")
local ljprof = require("ljprof")
local function make_registry()
  local sessions = {}
  return function(id) sessions[id] = { id = id, name = "user" .. id } end
end
local register = make_registry()
local odd = { [ffi.new("int64_t", 5)] = "cdata key", [true] = "yes", [false] = { "no" }, [1LL] = {} }
local list = nil
for i = 1, 10000 do list = { next = list, i = i } end
local sneaky = setmetatable({}, { __tostring = function() error("never call me") end, __metatable = "locked" })
local co = coroutine.create(function(a, ...) local inside = { "coroutine local" } coroutine.yield(inside) end)
coroutine.resume(co, 1, 2, 3)
ljprof.snapshot("before")
for i = 1, 1000 do register(i) end
ljprof.snapshot("after")
ljprof.snapshot("after")
"""

# Half a second of work under cpu too (whose harness keeps its counts in Lua), keeping 50 tables.
BUSY = """
local t, x = os.clock(), 0
while os.clock() - t < 0.5 do for i = 1, 1000 do x = (x + i) % 7 end end
kept = {}
for i = 1, 50 do kept[i] = { i } end
require("ljprof").mark("kept")  -- ljprof's API table, made after the first snapshot: ljprof's too
"""

PROFILES = """
defaults:
  image: ci-git
  timeout: 60s
  network: none
  limits: {memory: 256m, pids: 32}
profiles:
  edge: {workdir: targets, script: edge.lua, profilers: {snapshot: true}}
  budget: {workdir: targets, script: edge.lua, profilers: {snapshot: {max_objects: 500}}}
  busy: {workdir: targets, script: busy.lua, profilers: {snapshot: true, cpu: {interval: 1ms}}}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("snapshot")
    (root / "targets").mkdir()
    (root / "targets" / "edge.lua").write_text(EDGE)
    (root / "targets" / "busy.lua").write_text(BUSY)
    (root / "profiles.yml").write_text(CI_RECIPE + PROFILES)
    return root


def run(project: Path, upstream_env: dict[str, str], name: str) -> Path:
    result = commands.profile(project / "profiles.yml", name, None, {}, {**os.environ, **upstream_env}, io.StringIO())
    return result.run_dir


def test_the_leak_behind_an_upvalue_is_the_first_line(project: Path, upstream_env: dict[str, str]) -> None:
    run_dir = run(project, upstream_env, "edge")
    summary = json.loads((run_dir / "summary.json").read_text())
    snap = summary["snapshot"]
    assert snap["snapshots"] == ["start", "before", "after", "after#2", "end"]
    first = snap["retained"][0]
    assert first["path"] == ("local register in main chunk (@edge.lua:0) > upvalue sessions of register "
                             "(@edge.lua:5) [*]")
    assert (first["count"], first["objects"]) == (1000, 2000)  # the tables and their names
    assert summary["profilers"]["snapshot"]["state"] == "complete"
    assert summary["profilers"]["snapshot"]["compared"] == ["before", "after#2"]
    page = (run_dir / "snapshot.html").read_text()
    assert "upvalue sessions of register" in page and "<svg" in page
    assert "<th>exact bytes</th>" in page
    raw = (run_dir / "raw" / "snapshot-02.txt").read_text()
    assert "\t[false\t" in raw and "\t[cdata\t" in raw and "\t{cdata\t" in raw  # keys of every type
    assert raw.count("\t.next\t") == 10000  # the list (9,999 links) and _G.next, without recursion
    assert "\t$inside in " in raw  # the suspended coroutine's local


def test_a_walk_past_its_budget_is_partial(project: Path, upstream_env: dict[str, str]) -> None:
    run_dir = run(project, upstream_env, "budget")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["profilers"]["snapshot"]["state"] == "cut"
    assert summary["profilers"]["snapshot"]["states"]["before"] == "partial"
    assert (run_dir / "raw" / "snapshot-02.txt").read_text().endswith("\tpartial: object budget of 500 reached\n")


def test_the_state_of_ljprofs_own_harness_is_not_in_the_diff(project: Path, upstream_env: dict[str, str]) -> None:
    """cpu's counts live in closures of its harness.lua: they grow during the run, and are ljprof's, not the
    target's (seen on luacheck, where they were the first group)."""
    run_dir = run(project, upstream_env, "busy")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["cpu"]["samples"] >= 100
    paths = [r["path"] for r in summary["snapshot"]["retained"]]
    assert paths[0] == "_G.kept[*]", paths
    assert [p for p in paths if "ljprof" in p] == [], paths  # its closures, and its API table
