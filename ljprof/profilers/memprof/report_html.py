"""memprof as one self-contained HTML page: what is still live at the end, by site, first;
then the heap summary and the three sections of Tarantool's parser as sortable
tables, each Lua site with its source line. No network needed to open it
(inline CSS and JS), so it works from a downloaded GitHub Actions artifact.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import jinja2

from ljprof import __version__
from ljprof.profilers.memprof import findings
from ljprof.profilers.memprof.findings import human_bytes
from ljprof.profilers.memprof.model import LiveSite, LiveStats, Location, MemprofProfile, SiteStats
from ljprof.profilers.memprof.report_text import format_bytes
from ljprof.reporting.model import HARNESS_PREFIX, SourceLines

TEMPLATES = Path(__file__).parent / "templates"


def _kind(location: Location) -> str:
    if location.file is not None and location.file.startswith(HARNESS_PREFIX):
        return "ljprof"
    return {"lua": "lua", "trace": "trace", "c": "C", "internal": "VM"}.get(location.kind, location.kind)


class MemprofHtmlReport:
    """Shapes the model into rows (`rows`), then `render` only formats them."""

    def __init__(self, profile: MemprofProfile, sources: SourceLines, *, title: str,
                 meta: Sequence[tuple[str, str]] = ()) -> None:
        self.profile = profile
        self.sources = sources
        self.title = title
        self.meta = list(meta)

    def _site(self, location: Location, *, ours: bool = True) -> dict[str, Any]:
        """A location's cells; `ours`: ljprof's name (C functions by library and offset), else the parser's."""
        line = self.sources.line(location.file, location.line)
        where = f"{location.file}:{location.line}" if line is not None else ""
        text = location.name if ours else location.text
        title = location.text if text != location.text else ""
        return {"text": text, "title": title, "kind": _kind(location), "source_line": line, "where": where}

    @staticmethod
    def _stats(stats: LiveStats) -> dict[str, Any]:
        return {"live": stats.live_bytes, "live_text": human_bytes(stats.live_bytes), "chunks": stats.live_chunks,
                "peak": stats.peak_bytes, "peak_text": human_bytes(stats.peak_bytes), "allocs": stats.allocs,
                "frees": stats.frees}

    def _live(self, site: LiveSite) -> dict[str, Any]:
        parts = []
        # A line's parts (interpreted, its traces) show under it, unless the line was only interpreted.
        if site.location.kind == "lua" and (len(site.parts) > 1 or site.parts[0].location.kind == "trace"):
            parts = [{"label": p.label, "text": p.location.text, **self._stats(p.stats)} for p in site.parts]
        return {**self._site(site.location), **self._stats(site.stats), "parts": parts}

    def _section(self, title: str, stats: Sequence[SiteStats]) -> dict[str, Any]:
        rows = []
        for s in stats:
            rows.append({**self._site(s.location), "events": s.events, "allocated": s.allocated,
                         "allocated_text": format_bytes(s.allocated, True), "freed": s.freed,
                         "freed_text": format_bytes(s.freed, True),
                         "overrides": [f"{o.location.name}: {o.count} events, -{format_bytes(o.freed, True)}"
                                       for o in s.overrides]})
        return {"title": title, "rows": rows}

    def rows(self) -> dict[str, Any]:
        p = self.profile
        heap = []
        for entry in p.heap_summary:
            # The parser's sums are per name: its names, not ours (which may split one of them).
            heap.append({**self._site(entry.location, ours=False), "holds": entry.holds,
                         "holds_text": format_bytes(entry.holds, True), "allocs": entry.allocs,
                         "frees": entry.frees})
        meta = [*self.meta, ("events", f"{p.counts.events:,}"), ("allocations", f"{p.counts.allocs:,}"),
                ("reallocations", f"{p.counts.reallocs:,}"), ("frees", f"{p.counts.frees:,}"),
                ("file", f"{format_bytes(p.size, True)}, {'complete' if p.complete else 'cut'}"),
                ("symbol data", f"{p.symbols.fraction(p.size):.1%}")]
        notes = [n for n in (findings.hidden(p).note(), findings.untracked_note(p)) if n]
        return {
            "title": self.title, "meta": meta, "warnings": findings.warnings(p),
            "live": [self._live(site) for site in findings.visible_sites(p)], "notes": notes,
            "heap": heap, "version": __version__, "source_name": Path(p.source).name,
            "sections": [self._section("Allocations", p.allocations),
                         self._section("Reallocations", p.reallocations),
                         self._section("Deallocations", p.deallocations)],
        }

    def render(self, out: TextIO) -> None:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                 undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        out.write(env.get_template("memprof.html.j2").render(**self.rows()))
