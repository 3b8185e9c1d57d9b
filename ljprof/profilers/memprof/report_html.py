"""memprof as one self-contained HTML page: what is still live at the end, by site, first;
then the top sites' live bytes over the time windows (a small SVG plot each,
with the windows' times when the page is rendered from a run, else window
numbers); then the heap summary and the three sections of Tarantool's parser
as sortable tables, each Lua site with its source line. No network needed to
open it (inline CSS, JS and SVG), so it works from a downloaded GitHub
Actions artifact.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from pathlib import Path
from typing import Any, TextIO

import jinja2

from ljprof import __version__
from ljprof.profilers.memprof import findings
from ljprof.profilers.memprof.model import LiveSite, LiveStats, Location, MemprofProfile, SiteStats
from ljprof.profilers.memprof.report_text import format_bytes
from ljprof.profilers.memprof.windows import (
    MIN_RISE,
    MIN_WINDOWS,
    RISE_SHARE,
    WindowTimes,
    live_at_ends,
    warmup_windows,
)
from ljprof.reporting.model import HARNESS_PREFIXES, SourceLines
from ljprof.reporting.units import human_bytes

TEMPLATES = Path(__file__).parent / "templates"
PLOT_SITES = 8  # the top sites plotted over time; growing sites below them are plotted too
PLOT_MORE = 4  # at most this many growing sites more
PLOT_W, PLOT_H = 300, 70  # the plot's area, in SVG units (pixels)
PLOT_LEFT, PLOT_TOP, PLOT_BOTTOM, PLOT_RIGHT = 4, 14, 16, 4  # room for the labels
PLOT_DOTS = 64  # a dot with a tooltip per window up to this many windows


def _kind(location: Location, ljprofs: Set[Location] = frozenset()) -> str:
    """The kind column: "ljprof" for its harness (and for `ljprofs`: the sites the profile marks as
    the harness's, such as the jit profiler's recorder), else the location's kind."""
    if location in ljprofs or (location.file is not None and location.file.startswith(HARNESS_PREFIXES)):
        return "ljprof"
    return {"lua": "lua", "trace": "trace", "c": "C", "internal": "VM"}.get(location.kind, location.kind)


class MemprofHtmlReport:
    """Shapes the model into rows (`rows`), then `render` only formats them."""

    def __init__(self, profile: MemprofProfile, sources: SourceLines, *, title: str,
                 meta: Sequence[tuple[str, str]] = (), times: WindowTimes | None = None) -> None:
        self.profile = profile
        self.sources = sources
        self.title = title
        self.meta = list(meta)
        self.times = times if times is not None and len(times.ends) == profile.windows.count else None
        self.ljprofs = frozenset(site.location for site in profile.sites if site.harness)

    def _site(self, location: Location, *, ours: bool = True) -> dict[str, Any]:
        """A location's cells; `ours`: ljprof's name (C functions by library and offset), else the parser's."""
        line = self.sources.line(location.file, location.line)
        where = f"{location.file}:{location.line}" if line is not None else ""
        text = location.name if ours else location.text
        title = location.text if text != location.text else ""
        return {"text": text, "title": title, "kind": _kind(location, self.ljprofs), "source_line": line,
                "where": where}

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
        return {**self._site(site.location), **self._stats(site.stats), "parts": parts, "growing": site.growing}

    def _windows(self) -> dict[str, Any]:
        """The top sites' live bytes over the time windows: a plot each (coordinates made here)."""
        w = self.profile.windows
        out: dict[str, Any] = {"count": w.count, "markers": w.markers, "stride": w.stride, "plots": [],
                               "timed": self.times is not None, "warmup": warmup_windows(w.count),
                               "min_windows": MIN_WINDOWS, "min_rise": human_bytes(MIN_RISE),
                               "share": f"{RISE_SHARE[0]}/{RISE_SHARE[1]}", "span": ""}
        if not w.markers:
            return out
        rows = findings.visible_sites(self.profile)
        chosen = rows[:PLOT_SITES]
        chosen += [row for row in rows[PLOT_SITES:] if row.growing][:PLOT_MORE]
        out["plots"] = [self._plot(row) for row in chosen]
        if self.times is not None:
            span = self.times.ends[-1] - self.times.start
            out["span"] = f"{self.times.start:.1f} s to {self.times.ends[-1]:.1f} s ({span:.1f} s)"
        return out

    def _plot(self, site: LiveSite) -> dict[str, Any]:
        count = self.profile.windows.count
        live = live_at_ends(site.windows, count)
        times = self.times
        # One point per window boundary: the start (nothing of the profile's live yet), then each window's end.
        xs: list[float] = [times.start, *times.ends] if times is not None else [float(i) for i in range(count + 1)]
        ys = [0, *live]
        x0, span = xs[0], (xs[-1] - xs[0]) or 1.0
        top = max(ys) or 1

        def x(v: float) -> float:
            return round(PLOT_LEFT + (v - x0) / span * PLOT_W, 1)

        def y(v: int) -> float:
            return round(PLOT_TOP + PLOT_H - v / top * PLOT_H, 1)

        warm = warmup_windows(count)
        dots = []
        if count <= PLOT_DOTS:
            for i, value in enumerate(live):
                when = (f"{times.ends[i - 1] if i else times.start:.1f}-{times.ends[i]:.1f} s" if times is not None
                        else f"window {i}")
                dots.append({"x": x(xs[i + 1]), "y": y(value),
                             "title": f"{when}: {human_bytes(value)} live at its end"})
        rise = live[-1] - live[warm - 1] if count >= MIN_WINDOWS else None
        if site.growing is None:
            verdict = f"fewer than {MIN_WINDOWS} windows: growth not measured"
        else:
            ups = sum(1 for i in range(warm, count) if live[i] > live[i - 1])
            sign = "+" if rise is not None and rise >= 0 else "-"
            verdict = (f"{sign}{human_bytes(abs(rise or 0))} after the warm-up, up in {ups} of {count - warm} "
                       "windows")
        return {
            "name": site.location.name, "growing": site.growing, "verdict": verdict,
            "points": " ".join(f"{x(a)},{y(b)}" for a, b in zip(xs, ys, strict=True)),
            "dots": dots, "top": human_bytes(max(ys)), "end": human_bytes(live[-1]),
            "warm_width": round(x(xs[warm]) - PLOT_LEFT, 1) if count >= MIN_WINDOWS else None,
            "left": f"{xs[0]:.1f} s" if times is not None else "0",
            "right": f"{xs[-1]:.1f} s" if times is not None else f"{count}",
            "x0": PLOT_LEFT, "x1": PLOT_LEFT + PLOT_W, "y0": PLOT_TOP, "y1": PLOT_TOP + PLOT_H,
            "width": PLOT_LEFT + PLOT_W + PLOT_RIGHT, "height": PLOT_TOP + PLOT_H + PLOT_BOTTOM,
        }

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
                ("symbol data", f"{p.symbols.fraction(p.size):.1%}"), ("time windows", f"{p.windows.count:,}")]
        notes = [n for n in (findings.hidden(p).note(), findings.marker_note(p), findings.untracked_note(p)) if n]
        return {
            "title": self.title, "meta": meta, "warnings": findings.warnings(p),
            "live": [self._live(site) for site in findings.visible_sites(p)], "notes": notes,
            "heap": heap, "version": __version__, "source_name": Path(p.source).name, "windows": self._windows(),
            "sections": [self._section("Allocations", p.allocations),
                         self._section("Reallocations", p.reallocations),
                         self._section("Deallocations", p.deallocations)],
        }

    def render(self, out: TextIO) -> None:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                 undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        out.write(env.get_template("memprof.html.j2").render(**self.rows()))
