"""The proc profiler on recorded /proc snapshots (tests/fixtures/proc/: raw/proc.txt of the churn example's
run on the fork image, 5 s stopped by SIGINT; cut.proc.txt is its first 1,500 bytes, as a kill leaves it)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ljprof.profilers import PROFILERS
from ljprof.profilers.proc import parse_snapshots
from ljprof.reporting.model import RunDir

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "proc"


def run_with(tmp_path: Path, fixture: str | None) -> RunDir:
    (tmp_path / "raw").mkdir(parents=True)
    if fixture:
        shutil.copyfile(FIXTURES / fixture, tmp_path / "raw" / "proc.txt")
    (tmp_path / "manifest.json").write_text(json.dumps({"profile": "churn", "profilers": {"proc": {}}}))
    return RunDir.load(tmp_path)


def test_cpu_share_and_peak_rss_from_two_snapshots(tmp_path: Path) -> None:
    snapshots = parse_snapshots((FIXTURES / "churn.proc.txt").read_text())
    assert [(s.t, s.user_s, s.system_s) for s in snapshots] == [(0.000692, 0.0, 0.0), (5.02891, 0.19, 0.0)]
    section = PROFILERS["proc"].report(run_with(tmp_path, "churn.proc.txt"))
    assert section.state == "complete"
    assert section.headline == ("proc: on CPU 4% of 5.03 s, mostly waiting: user 0.19 s, system 0.00 s; "
                                "peak RSS 3.7 MB")
    assert section.summary == {"wall_s": 5.028, "cpu_s": 0.19, "cpu_share": 0.0378, "user_s": 0.19, "system_s": 0.0,
                               "peak_rss_kb": 3776, "threads": 2, "voluntary_ctxt_switches": 479,
                               "nonvoluntary_ctxt_switches": 35}
    assert "<th>peak_rss_kb</th><td>3776</td>" in section.html


def test_a_kill_before_the_end_snapshot_and_no_file(tmp_path: Path) -> None:
    cut = PROFILERS["proc"].report(run_with(tmp_path / "a", "cut.proc.txt"))
    assert (cut.state, cut.why) == ("cut", "no end snapshot: the target was killed before the harness could "
                                           "read /proc")
    missing = PROFILERS["proc"].report(run_with(tmp_path / "b", None))
    assert missing.state == "absent" and "no raw/proc.txt" in missing.why
