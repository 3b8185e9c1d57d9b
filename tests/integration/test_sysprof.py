"""sysprof on Tarantool's fork (skips unless LJPROF_TEST_TARANTOOL_LUAJIT is set): the 3:1 program's
flame graph, and the error loop that sysprof is known to kill, said in the console, index.html and
summary.json, with the pipeline never hanging (the profile's timeout ends a hang)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from ljprof import commands
from ljprof.errors import TargetFailed

REPO = Path(__file__).resolve().parents[2]


def test_two_hot_functions_split_three_to_one(tmp_path: Path, tarantool_env: dict[str, str]) -> None:
    out = io.StringIO()
    result = commands.profile(REPO / "profiles.yml", "hot-sysprof", "offline", {},
                              {**os.environ, **tarantool_env}, out, reports=tmp_path)
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["profilers"]["sysprof"]["state"] == "complete"
    total = {t["frame"]: t["total_pct"] for t in summary["sysprof"]["top"]}
    mul, add = total["@hot.lua:3 mul"], total["@hot.lua:10 add"]
    assert 0.60 <= mul / (mul + add) <= 0.88, total
    folded = (result.run_dir / "sysprof.folded").read_text()
    assert "@hot.lua:18 spin;@hot.lua:3 mul;[Lua function] " in folded
    assert any(line.startswith("@hot.lua:10 add;trace ") for line in folded.splitlines())
    assert "sysprof: " in out.getvalue() and "hottest @hot.lua:3 mul" in out.getvalue()


@pytest.mark.tarantool
def test_the_error_loop_says_what_happened(tmp_path: Path, tarantool_env: dict[str, str]) -> None:
    out = io.StringIO()
    try:
        result = commands.profile(REPO / "profiles.yml", "errors-sysprof", "offline", {},
                                  {**os.environ, **tarantool_env}, out, reports=tmp_path)
        run_dir = result.run_dir
    except TargetFailed as failed:
        run_dir = failed.run_dir
    summary = json.loads((run_dir / "summary.json").read_text())
    entry = summary["profilers"]["sysprof"]
    index = (run_dir / "index.html").read_text()
    printed = out.getvalue()
    if summary["ending"]["ok"]:  # survived: the target printed its count, sysprof's stream is whole
        assert entry["state"] == "complete", entry
        assert (run_dir / "raw" / "stdout.log").read_text().startswith("caught ")
    else:  # crashed or hung: said in all three places, with what was flushed kept
        assert entry["state"] == "crashed", entry
        assert entry["why"].startswith(("the target crashed: killed by SIG", "the target hung")), entry["why"]
        assert entry["why"].split(";")[0] in index
        assert "use the `cpu` profiler instead" in printed
        assert "sysprof: crashed: " in printed
        assert (run_dir / "raw" / "sysprof.bin").stat().st_size > 100_000  # the symbol table at least
        assert (run_dir / "sysprof.html").is_file() and (run_dir / "raw" / "gc.csv").is_file()
    assert summary["duration_s"] < 30  # the profile's timeout: a hang ends with it
