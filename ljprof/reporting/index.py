"""index.html: the page a person opens first. One self-contained file (CSS, JS
and the chart's data inline), so it opens from a downloaded artifact offline.

(a) the run's facts and how it ended, with the target's error and the tail
of its stderr; (b) findings: every section's headline, the heap verdict
first; (c) the timeline chart; (d) one part per profiler, with a link to its
own page; (e) the run's files, their sizes and what made each.
`IndexPage.rows` shapes everything; `render` only formats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from markupsafe import Markup

from ljprof import __version__
from ljprof.reporting.model import RunDir, Section
from ljprof.reporting.page import asset, environment
from ljprof.reporting.runfacts import (
    STDERR_TAIL,
    clip,
    ending_of,
    limits_text,
    service_lines,
    stderr_lines,
    traceback_of,
)
from ljprof.reporting.timeline import chart_data, chart_json
from ljprof.reporting.units import format_seconds


@dataclass(frozen=True)
class ReportFile:
    """A file of the run directory for the index's file list."""

    path: str  # relative to the run directory
    size: int | None  # bytes; None for index.html itself (written last)
    what: str


def finding_class(section: Section) -> str:
    heap = section.summary_top.get("heap")
    if isinstance(heap, dict) and heap.get("trend") in ("growing", "flat", "shrinking"):
        return str(heap["trend"])
    return "" if section.state == "complete" else "not-complete"


def format_size(size: int | None) -> str:
    if size is None:
        return ""
    if size < 10_000:
        return f"{size:,} B"
    if size < 10_000 * 1024:
        return f"{size / 1024:,.0f} KB"
    return f"{size / 1024 / 1024:,.1f} MB"


class IndexPage:
    def __init__(self, run: RunDir, sections: Sequence[Section], reports: Sequence[ReportFile] = ()) -> None:
        self.run = run
        self.sections = list(sections)
        self.reports = list(reports)

    def chart(self) -> dict[str, Any]:
        series = [s for section in self.sections for s in section.series]
        return chart_data(series, self.run.marks(), self.run.switches())

    def rows(self) -> dict[str, Any]:
        m = self.run.manifest
        config = m.get("config") or {}
        image = m.get("image") or {}
        luajit = image.get("luajit") or {}
        ending = ending_of(m)
        timings = m.get("timings") or {}
        lines = stderr_lines(self.run)
        facts = [
            ("profile", self.run.profile),
            ("command", " ".join(str(a) for a in m.get("command", [])) or "?"),
            ("image", f"{image.get('tag', '?')} (recipe {image.get('recipe', '?')})"),
            ("LuaJIT", f"{luajit.get('version', '?')}, commit {luajit.get('commit') or 'unknown'}"),
            ("fixes", ", ".join(f["name"] for f in image.get("fixes", []) if f.get("applied")) or "none applied"),
            ("started", str(m.get("started", "?")).replace("T", " ")),
            ("duration", format_seconds(float(timings["target_s"])) if "target_s" in timings else "?"),
            ("limits", limits_text(config)),
            ("ended", ending.message),
            ("exit code", "?" if ending.exit_code is None else str(ending.exit_code)
             + (f" ({ending.signal})" if ending.signal else "")),
        ]
        sent = (m.get("ending") or {}).get("signals_sent") or []
        if sent:
            facts.append(("signals sent", ", ".join(f"{s.get('signal')} at {s.get('after_s')} s ({s.get('reason')})"
                                                    for s in sent)))
        if m.get("profilers"):
            facts.append(("profilers", ", ".join(sorted(m["profilers"]))))
        facts.extend(("service", line) for line in service_lines(m))
        chart = self.chart()
        raw_by_producer: dict[str, list[str]] = {}
        for f in m.get("files", []):
            producer = str(f.get("producer", ""))
            raw_by_producer.setdefault(producer.split(":")[0], []).append(str(f.get("path", "")))
        files = [ReportFile(str(f.get("path", "?")), f.get("size"), str(f.get("producer", "")))
                 for f in m.get("files", [])]
        files.extend(self.reports)
        return {
            "title": f"{self.run.profile}: run {self.run.run_id}",
            "profile": self.run.profile,
            "run_id": self.run.run_id,
            "ending": ending,
            "badge": ("", "unknown") if ending.ok is None else ("ok", "ok") if ending.ok else ("fail", "failed"),
            "facts": facts,
            "traceback": traceback_of(lines, ending.error),
            "traceback_title": ("The target raised an error" if ending.kind == "error"
                                else "Where the target was when it stopped"),
            "stderr": [clip(line) for line in lines[-STDERR_TAIL:]],
            "findings": [(s.headline or f"{s.name}: {s.state}", finding_class(s)) for s in self.sections],
            "chart_json": Markup(chart_json(chart)),
            "chart_samples": chart["samples"],
            "chart_series": sum(len(p["series"]) for p in chart["panels"]),
            "sections": [{"name": s.name, "state": s.state, "why": s.why, "html": Markup(s.html), "link": s.link,
                          "raw": raw_by_producer.get(s.name, [])} for s in self.sections],
            "files": [{"path": f.path, "size": format_size(f.size), "bytes": f.size, "what": f.what} for f in files],
            "version": __version__,
            "css": Markup(asset("page.css")),
            "js": Markup(asset("timeline.js")),
        }

    def render(self, out: TextIO) -> None:
        out.write(environment().get_template("index.html.j2").render(**self.rows()))
