"""sysprof's section on recorded run directories (tests/fixtures/sysprof/runs/: a complete run of
examples/sysprof/hot.lua, and a run of examples/sysprof/errors.lua that sysprof crashed), and on
the endings a hang gives (the same files, the manifest's ending changed)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from ljprof.profilers.sysprof import PROFILER
from ljprof.reporting.model import RunDir
from ljprof.reporting.summary import summary_data

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "sysprof" / "runs"


def test_the_two_hot_functions_split_about_three_to_one() -> None:
    section = PROFILER.report(RunDir.load(RUNS / "hot"))
    assert section.state == "complete"
    assert section.summary_top["sysprof"]["samples"] == 467
    top = {t["frame"]: t["total_pct"] for t in section.summary_top["sysprof"]["top"]}
    mul, add = top["@hot.lua:3 mul"], top["@hot.lua:10 add"]
    assert (mul, add) == (58.46, 27.41)
    assert 0.60 <= mul / (mul + add) <= 0.88
    assert section.summary["by_vmstate"]["TRACE"] == 128 and section.summary["mode"] == "L"
    assert section.headline == ("sysprof: 467 samples; hottest @hot.lua:3 mul 58.5% self, 58.5% total "
                                "`local function mul(n)`")


def test_a_crash_keeps_what_was_flushed_and_suggests_cpu() -> None:
    section = PROFILER.report(RunDir.load(RUNS / "crashed"))
    assert section.state == "crashed"
    assert section.why.startswith("the target crashed: killed by SIGSEGV while sysprof was sampling it; "
                                  "the stream: cut at byte 126758 of 126771")
    assert section.summary["samples"] == 24 and section.summary["complete"] is False
    assert "24 samples kept; use the `cpu` profiler instead" in section.headline
    assert any("`cpu` profiler" in line for line in section.console)
    assert "24 samples kept; use the `cpu` profiler instead" in section.html
    assert {p.name for p in section.pages} == {"sysprof.html", "sysprof.folded", "sysprof.speedscope.json"}


def test_summary_json_says_crashed_with_the_reason() -> None:
    run = RunDir.load(RUNS / "crashed")
    data = summary_data(run, [PROFILER.report(run)])
    entry = data["profilers"]["sysprof"]
    assert entry["state"] == "crashed"
    assert entry["why"].startswith("the target crashed: killed by SIGSEGV")
    assert data["sysprof"]["samples"] == 24


@pytest.mark.parametrize(("ending", "said"), [
    ({"kind": "timeout", "signal": None, "stopped_by": "timeout", "message": "killed at the profile's timeout"},
     "the target hung until the profile's timeout"),
    ({"kind": "signal", "signal": "SIGKILL", "stopped_by": "duration", "ok": True, "message": "x"},
     "the target hung: it did not stop at SIGINT after the duration and was killed by SIGKILL"),
])
def test_a_hang_is_said_to_be_one(tmp_path: Path, ending: dict[str, object], said: str) -> None:
    run = tmp_path / "run"
    shutil.copytree(RUNS / "crashed", run)
    manifest = json.loads((run / "manifest.json").read_text())
    changed = copy.deepcopy(manifest)
    changed["ending"].update(ending)
    (run / "manifest.json").write_text(json.dumps(changed))
    section = PROFILER.report(RunDir.load(run))
    assert section.state == "crashed"
    assert section.why.startswith(said)


def test_an_empty_file_is_crashed_with_no_samples(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(RUNS / "crashed", run)
    (run / "raw" / "sysprof.bin").write_bytes(b"")
    section = PROFILER.report(RunDir.load(run))
    assert section.state == "crashed"
    assert section.why.endswith("the stream: the file is empty: the target was killed before sysprof flushed "
                                "its first buffer")
    assert section.summary["samples"] == 0
