"""The overview page over many run directories (the merged GitHub Actions artifact, or reports/)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from ljprof import commands
from ljprof.reporting.overview import OverviewPage, find_runs
from ljprof.reporting.render import render_run

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"


def test_the_overview_lists_every_run_once_with_its_verdicts(tmp_path: Path) -> None:
    # as the merge job lays them out: one folder per downloaded artifact
    for name in ("growing", "flat", "errored"):
        shutil.copytree(RUNS / name, tmp_path / f"ljprof-{name}")
        render_run(tmp_path / f"ljprof-{name}")
    (tmp_path / "ljprof-flat-latest").symlink_to(tmp_path / "ljprof-flat")  # links are not followed
    assert [p.name for p in find_runs(tmp_path)] == ["ljprof-errored", "ljprof-flat", "ljprof-growing"]
    out = io.StringIO()
    page = commands.overview(tmp_path, out)
    assert out.getvalue() == f"overview: {page} (3 run(s))\n"
    rows = {r.link: r for r in OverviewPage.of(tmp_path).rows}
    assert set(rows) == {"ljprof-errored/index.html", "ljprof-flat/index.html", "ljprof-growing/index.html"}
    assert rows["ljprof-growing/index.html"].heap.startswith("growing, +")
    assert rows["ljprof-flat/index.html"].heap.startswith("flat, ")
    assert rows["ljprof-errored/index.html"].ok is False
    html = page.read_text()
    assert "<h1>ljprof: 3 runs, 1 failed</h1>" in html
    assert '<td><a href="ljprof-growing/index.html">bot</a></td>' in html
    assert '<span class="badge fail">failed</span>' in html


def test_an_empty_folder_says_so(tmp_path: Path) -> None:
    out = io.StringIO()
    html = commands.overview(tmp_path, out).read_text()
    assert "No run directories here (a run directory has a manifest.json)." in html
