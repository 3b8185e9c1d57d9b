"""Render a run directory's reports from the run directory alone (no Docker).

`invoke profile` calls `render_run` after each run; `invoke report` calls it
again on any old run. Each profiler the manifest names is asked for its
section through the registry (no profiler is named here); its pages are
written, then summary.json, summary.md and index.html. Every file is written
to a temporary name and renamed into place, so a failed render never
replaces a good report with half of one, and one profiler's failure leaves
the others' reports whole.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from ljprof.errors import ConfigError
from ljprof.profilers import PROFILERS
from ljprof.reporting.index import IndexPage, ReportFile
from ljprof.reporting.model import Json, RunDir, Section, absent
from ljprof.reporting.summary import SummaryJson, SummaryMarkdown, summary_data


@dataclass(frozen=True)
class Rendered:
    files: list[Path]  # every file written, in the order written (index.html last)
    sections: list[Section]  # one per profiler the manifest names; the heap verdict's first
    summary: dict[str, Any]  # what summary.json holds


def write_atomically(path: Path, render: Callable[[TextIO], None]) -> Path:
    """Render into path's folder under a temporary name, then rename over path."""
    tmp = path.with_name(f".{path.name}.partial")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            render(f)
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the report: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _failure(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def report_sections(run: RunDir) -> list[Section]:
    """Each profiler's section, for every profiler the manifest names; a report that raises becomes
    an "absent" section that says so, and the others go on. The section with the heap verdict comes first."""
    sections = []
    for name in run.manifest.get("profilers") or {}:
        profiler = PROFILERS.get(name)
        if profiler is None:
            sections.append(absent(name, "this ljprof has no such profiler (a run of another version?)"))
            continue
        try:
            sections.append(profiler.report(run))
        except Exception as exc:  # a bug in one report must not lose the run's other reports
            sections.append(absent(name, f"report failed: {_failure(exc)}"))
    return sorted(sections, key=lambda s: "heap" not in s.summary_top)


def _write_pages(run: RunDir, section: Section) -> tuple[Section, list[Path], list[ReportFile]]:
    files: list[Path] = []
    reports: list[ReportFile] = []
    problems: list[str] = []
    for page in section.pages:
        if not page.name or Path(page.name).name != page.name or page.name.startswith("."):
            problems.append(f"{page.name!r} is not a file name in the run directory")
            continue
        try:
            path = write_atomically(run.path / page.name, page.render)
        except Exception as exc:  # the section's other pages and the run's other reports still get written
            problems.append(f"{page.name} not written: {_failure(exc)}")
            continue
        files.append(path)
        reports.append(ReportFile(page.name, path.stat().st_size, f"{section.name}: {page.what}"))
    if problems:
        why = "; ".join([*([section.why] if section.why else []), *problems])
        section = replace(section, why=why, console=(*section.console, *(f"  {p}" for p in problems)))
    return section, files, reports


def render_run(run_dir: Path) -> Rendered:
    """(Re-)render every report a run directory's raw files allow."""
    run = RunDir.load(Path(run_dir))
    sections: list[Section] = []
    files: list[Path] = []
    reports: list[ReportFile] = []
    for section in report_sections(run):
        section, written, listed = _write_pages(run, section)
        sections.append(section)
        files += written
        reports += listed
    data: Json = summary_data(run, sections)
    for name, what, render in (
            ("summary.json", "ljprof: the run's summary for machines", SummaryJson(data).render),
            ("summary.md", "ljprof: the run's summary for GitHub's job summary",
             SummaryMarkdown(run, sections, data).render)):
        path = write_atomically(run.path / name, render)
        files.append(path)
        reports.append(ReportFile(name, path.stat().st_size, what))
    reports.append(ReportFile("index.html", None, "ljprof: this page"))
    files.append(write_atomically(run.path / "index.html", IndexPage(run, sections, reports).render))
    return Rendered(files, sections, data)
