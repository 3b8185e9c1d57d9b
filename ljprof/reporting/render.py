"""Render a run directory's reports from the run directory alone (no Docker).

`invoke profile` calls `render_run` after each run; `invoke report` calls it
again on any old run. Every report is written to a temporary file and renamed
into place, so a failed render never replaces a good report with half of one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ljprof.errors import ConfigError
from ljprof.profilers.memprof import MemprofProfile, parse_file
from ljprof.profilers.memprof.report_html import MemprofHtmlReport
from ljprof.profilers.memprof.report_json import MemprofJsonReport
from ljprof.profilers.memprof.report_text import MemprofTextReport
from ljprof.reporting.model import SourceLines


@dataclass(frozen=True)
class Rendered:
    files: list[Path]
    memprof: MemprofProfile | None = None


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


def load_manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "manifest.json"
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConfigError(f"{run_dir}: not a run directory (no manifest.json)\n"
                          "  hint: name a folder reports/<profile>/<run-id>, or reports/<profile>/latest") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None


def render_run(run_dir: Path) -> Rendered:
    """(Re-)render every report a run directory's raw files allow."""
    manifest = load_manifest(run_dir)
    files: list[Path] = []
    memprof = None
    if "memprof" in manifest.get("profilers", {}) and (run_dir / "raw" / "memprof.bin").is_file():
        memprof = parse_file(run_dir / "raw" / "memprof.bin")
        sources = SourceLines.from_folder(run_dir / "sources")
        title = f"memprof: {manifest['profile']}, run {manifest['run_id']}"
        ending = manifest.get("ending", {})
        meta = [("command", " ".join(manifest.get("command", []))),
                ("LuaJIT", str(manifest.get("image", {}).get("luajit", {}).get("version", "?"))),
                ("ended", str(ending.get("kind", "?")))]
        files.append(write_atomically(run_dir / "memprof.txt", MemprofTextReport(memprof).render))
        files.append(write_atomically(run_dir / "memprof.json", MemprofJsonReport(memprof).render))
        files.append(write_atomically(run_dir / "memprof.html",
                                      MemprofHtmlReport(memprof, sources, title=title, meta=meta).render))
    return Rendered(files, memprof)


def top_sites(profile: MemprofProfile, count: int = 5) -> list[str]:
    """The heap summary's first lines, for the console."""
    return [f"{entry.holds:>10,} B held  {entry.location.text}  ({entry.allocs} allocs, {entry.frees} frees)"
            for entry in profile.heap_summary[:count]]
