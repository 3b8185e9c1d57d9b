"""memprof as one self-contained HTML page: leak suspects first, then the heap
summary and the three sections of Tarantool's parser as sortable tables, each
Lua site with its source line. No network needed to open it (inline CSS and
JS), so it works from a downloaded GitHub Actions artifact.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import jinja2

from ljprof import __version__
from ljprof.profilers.memprof.model import Location, MemprofProfile, SiteStats
from ljprof.profilers.memprof.report_text import format_bytes
from ljprof.reporting.model import HARNESS_PREFIX, SourceLines

TEMPLATES = Path(__file__).parent / "templates"
MAX_SUSPECTS = 10


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

    def _site(self, location: Location) -> dict[str, Any]:
        line = self.sources.line(location.file, location.line)
        where = f"{location.file}:{location.line}" if line is not None else ""
        return {"text": location.text, "kind": _kind(location), "source_line": line, "where": where}

    def _section(self, title: str, stats: Sequence[SiteStats]) -> dict[str, Any]:
        rows = []
        for s in stats:
            rows.append({**self._site(s.location), "events": s.events, "allocated": s.allocated,
                         "allocated_text": format_bytes(s.allocated, True), "freed": s.freed,
                         "freed_text": format_bytes(s.freed, True),
                         "overrides": [f"{o.location.text}: {o.count} events, -{format_bytes(o.freed, True)}"
                                       for o in s.overrides]})
        return {"title": title, "rows": rows}

    def rows(self) -> dict[str, Any]:
        p = self.profile
        live = {entry.location.text: entry.chunks for entry in p.live}
        heap = []
        for entry in p.heap_summary:
            heap.append({**self._site(entry.location), "holds": entry.holds,
                         "holds_text": format_bytes(entry.holds, True), "allocs": entry.allocs,
                         "frees": entry.frees, "live_chunks": live.get(entry.location.text, 0)})
        suspects = [row for row in heap if row["kind"] in ("lua", "trace") and row["allocs"] > row["frees"]]
        warning = ""
        if p.cut is not None:
            warning = (f"This memprof file is incomplete: {p.cut.reason} ({p.cut.where}). The report covers the "
                       f"{p.counts.events} events before byte {p.cut.offset} of {p.size}.")
        meta = [*self.meta, ("events", f"{p.counts.events:,}"), ("allocations", f"{p.counts.allocs:,}"),
                ("reallocations", f"{p.counts.reallocs:,}"), ("frees", f"{p.counts.frees:,}"),
                ("file", f"{format_bytes(p.size, True)}, {'complete' if p.complete else 'cut'}")]
        return {
            "title": self.title, "meta": meta, "warning": warning, "suspects": suspects[:MAX_SUSPECTS],
            "heap": heap, "version": __version__, "source_name": Path(p.source).name,
            "sections": [self._section("Allocations", p.allocations),
                         self._section("Reallocations", p.reallocations),
                         self._section("Deallocations", p.deallocations)],
        }

    def render(self, out: TextIO) -> None:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                 undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        out.write(env.get_template("memprof.html.j2").render(**self.rows()))
