"""One page over many runs: the merged GitHub Actions artifact's index.html, or reports/index.html.

It finds every run directory below a folder (a folder with manifest.json;
`latest` links are skipped, so each run is listed once), reads what each run's
reports already said (summary.json, written by `render_run`; the manifest for a
run that was never rendered) and links each run's own index.html. It renders,
and never parses a profiler's raw files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ljprof import __version__
from ljprof.reporting.page import asset, environment


@dataclass(frozen=True)
class RunRow:
    """One run, as the overview lists it."""

    profile: str
    run_id: str
    link: str  # the run's index.html, relative to the overview page
    ok: bool | None  # None: the run's manifest does not say
    ended: str  # how it ended, in words
    heap: str  # the heap verdict, in words ('' when gc did not run)
    top_site: str  # memprof's top live site ('' when memprof did not run)


def find_runs(folder: Path) -> list[Path]:
    """Run directories below `folder` (itself included), by path; links are not followed."""
    found = []
    stack = [folder]
    while stack:
        here = stack.pop()
        if (here / "manifest.json").is_file():
            found.append(here)
            continue
        stack.extend(p for p in here.iterdir() if p.is_dir() and not p.is_symlink() and p.name != "raw")
    return sorted(found)


def _load(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def describe_run(run_dir: Path, folder: Path) -> RunRow:
    manifest = _load(run_dir / "manifest.json")
    summary = _load(run_dir / "summary.json")
    ending = summary.get("ending") or manifest.get("ending") or {}
    heap = summary.get("heap") or {}
    verdict = ""
    if heap.get("growing") is not None:
        verdict = (f"{'growing' if heap['growing'] else 'flat'}, "
                   f"{heap.get('slope_kb_per_min', 0):+,.0f} KB/min after warm-up")
    sites = (summary.get("memprof") or {}).get("top_sites") or []
    top = f"{sites[0]['location']} {sites[0]['live_bytes']:,} B live" if sites else ""
    page = run_dir / "index.html"
    return RunRow(
        profile=str(summary.get("profile") or manifest.get("profile") or run_dir.parent.name),
        run_id=str(summary.get("run_id") or manifest.get("run_id") or run_dir.name),
        link=(page if page.is_file() else run_dir / "manifest.json").relative_to(folder).as_posix(),
        ok=ending.get("ok"),
        ended=str(ending.get("message") or ending.get("kind") or "unknown"),
        heap=verdict,
        top_site=top,
    )


class OverviewPage:
    """index.html over the runs below a folder; `render` only formats."""

    def __init__(self, folder: Path, rows: list[RunRow]) -> None:
        self.folder = folder
        self.rows = rows

    @classmethod
    def of(cls, folder: Path) -> OverviewPage:
        return cls(folder, [describe_run(run, folder) for run in find_runs(folder)])

    def render(self, out: TextIO) -> None:
        failed = sum(1 for r in self.rows if r.ok is False)
        out.write(environment().get_template("overview.html.j2").render(
            rows=self.rows, failed=failed, css=asset("page.css"), version=__version__))
