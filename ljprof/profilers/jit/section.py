"""jit's part of a run's reports: `jit_section(run, cpu) -> Section`.

Whatever the mode, the trace log (parse.py) gives the same summary: traces
(root, side), link types, flushes, aborts by (line, reason), by reason and by
start line, and the start lines the JIT keeps failing at. States:
- complete: the harness stopped the recorder;
- cut: it did not (the target was killed), or the file ends mid-line: the
  summary covers every event written before;
- absent: no log (the harness never started the recorder: its error is in
  raw/harness.tsv);
- crashed: loom could not render its page (with jit.flush() in the run,
  loom's own code fails: "table index is nil"); the summary is made when
  its traces were written.
summary.json: profilers.jit {mode, state, jit_on_at_stop, links, ...} and the
top-level jit {traces, root, side, flushes, aborts_total, aborts: [{location,
reason, count}]}, aborts grouped by (abort line, reason), most first.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TextIO

from markupsafe import Markup

from ljprof.profilers.jit.cpu import HotRow, hot_first
from ljprof.profilers.jit.model import BLACKLIST_ABORTS, Group, TraceLog
from ljprof.profilers.jit.parse import BCNAMES_21, parse_dump, parse_v
from ljprof.reporting.model import Json, Page, RunDir, Section, SourceLines
from ljprof.reporting.page import asset, environment
from ljprof.reporting.units import plural

NAME = "jit"
STATUS = "jit.status.txt"
FILES = {"summary": "jit.v.txt", "dump": "jit.dump.txt", "loom": "loom.v.txt"}
TOP_SUMMARY = 10  # abort rows in summary.json
TOP_INDEX = 8  # rows in index.html
TOP_PAGE = 200  # rows per table in jit.html
SOURCE_WIDTH = 60


@cache
def own_lua() -> frozenset[str]:
    """ljprof's own Lua in the container (run.lua, imageinfo.lua, each profiler's harness.lua): jit.v and
    jit.dump name a file by its name alone, so its traces are told from the target's by that name."""
    return frozenset(p.name for p in Path(__file__).resolve().parents[2].rglob("*.lua"))


@dataclass(frozen=True)
class Status:
    """raw/jit.status.txt: what the harness wrote at start and stop (key<TAB>value lines)."""

    values: Mapping[str, str]

    @classmethod
    def read(cls, path: Path) -> Status:
        values: dict[str, str] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                key, sep, value = line.partition("\t")
                if sep:
                    values[key] = value
        return cls(values)

    @property
    def mode(self) -> str:
        return self.values.get("mode", "summary")

    @property
    def stopped(self) -> bool:
        return "stopped" in self.values

    @property
    def bcnames(self) -> tuple[str, ...]:
        names = tuple(n for n in self.values.get("bcnames", "").split(",") if n)
        return names or BCNAMES_21

    def jit_note(self) -> str:
        """'' when the JIT was on throughout, else what happened to it."""
        start, stop = self.values.get("jit_start"), self.values.get("jit_stop")
        if start == "off":
            return "the JIT was off when the target started"
        if start == "on" and stop == "off":
            return "the target switched the JIT off (jit.off()): no traces after that"
        return ""


def jit_section(run: RunDir, cpu: Mapping[str, int]) -> Section:
    """jit's section from raw/jit.status.txt and the mode's log; never raises."""
    status = Status.read(run.raw / STATUS)
    log_path = run.raw / FILES.get(status.mode, FILES["summary"])
    if not log_path.is_file() and "loom_error" in status.values:
        why = status.values["loom_error"]
        return Section(NAME, "crashed", why=why, headline=f"jit: no data ({why})")
    if not log_path.is_file():
        why = ("no trace log: the harness did not start jit" if not status.values
               else f"no raw/{log_path.name}: the recorder wrote nothing")
        return Section(NAME, "absent", why=why, headline=f"jit: no data ({why})")
    data = log_path.read_bytes()
    log = parse_dump(data, status.bcnames) if status.mode == "dump" else parse_v(
        data, status.bcnames, "loom" if status.mode == "loom" else "jit.v")
    if status.mode == "loom":  # loom's traces table has no flushes: the harness counted them
        log.flushes = int(status.values.get("loom_flushes", "0") or 0)
    return _Shaper(run, status, log, cpu).section()


def _short(text: str) -> str:
    return text if len(text) <= SOURCE_WIDTH else text[: SOURCE_WIDTH - 3].rstrip() + "..."


class _Shaper:
    def __init__(self, run: RunDir, status: Status, log: TraceLog, cpu: Mapping[str, int]) -> None:
        self.run, self.status, self.cpu = run, status, cpu
        self.sources: SourceLines = run.sources()
        # ljprof's own traces (the snapshot walker's loops, say) are left out, told by their file's
        # name when no file of the target's has it; a target with its own run.lua keeps run.lua's
        own_files = sorted(n for n in own_lua() if not self.sources.has_file_named(n))
        own = tuple(f"@{n}:" for n in own_files)
        self.log, self.own_traces, self.own_aborts = log.without(lambda start: start.startswith(own))
        # '' or how many traces and aborts of ljprof's own Lua were left out
        self.own_note = "" if not self.own_traces and not self.own_aborts else (
            f"{plural(self.own_traces, 'trace')} and {plural(self.own_aborts, 'abort')} started in "
            f"ljprof's own Lua ({', '.join(own_files)}) and are not counted")
        self.by_location = self.log.aborts_by_location()
        self.candidates = self.log.blacklist_candidates()

    def source(self, location: str) -> str | None:
        file, sep, line = location.rpartition(":")
        if not sep or not line.isdigit() or not file.startswith("@"):
            return None
        return self.sources.line_of_short_name(file, int(line))

    def state(self) -> tuple[str, str]:
        notes = []
        state = "complete"
        if not self.status.stopped:
            state = "cut"
            notes.append("the target was killed before the harness stopped jit: the summary covers every "
                         "event written before")
        elif self.log.cut:
            state = "cut"
        if self.log.cut:
            notes.append(f"raw/{FILES[self.status.mode]} ends mid-line: its last line is left out")
        if self.status.mode == "loom" and self.status.stopped and "loom_bytes" not in self.status.values:
            state = "crashed"
            notes.append(self.status.values.get("loom_error", "loom did not write its page"))
        return state, "; ".join(notes)

    def headline(self) -> str:
        log = self.log
        text = f"jit: {len(log.traces):,} traces ({log.root:,} root, {log.side:,} side), {len(log.aborts):,} aborts"
        if self.by_location:
            top = self.by_location[0]
            text += f"; most: {top.location} {top.reason} x {top.count:,}"
        note = self.status.jit_note()
        if note:
            text += f"; {note}"
        return text

    def summary_top(self) -> Json:
        log = self.log
        aborts = [{"location": g.location, "reason": g.reason, "count": g.count}
                  for g in self.by_location[:TOP_SUMMARY]]
        return {"traces": len(log.traces), "root": log.root, "side": log.side, "flushes": log.flushes,
                "aborts_total": len(log.aborts), "aborts": aborts}

    def summary(self) -> Json:
        v = self.status.values
        out: Json = {"mode": self.status.mode, "recorder": self.log.source,
                     "links": dict(sorted(self.log.links().items())),
                     "jit_on_at_stop": v.get("jit_stop") == "on" if "jit_stop" in v else None,
                     "blacklist_candidates": [g.location for g in self.candidates],
                     "ljprof_own": {"traces": self.own_traces, "aborts": self.own_aborts},
                     "file": f"raw/{FILES[self.status.mode]}"}
        loom = self.loom()
        if loom is not None:
            out["loom"] = loom
        return out

    def loom(self) -> Json | None:
        """loom's figures (loom mode only), from the harness's status file."""
        if self.status.mode != "loom":
            return None
        v = self.status.values
        return {"traces": int(v.get("loom_traces", "0") or 0),
                "kept": int(v.get("loom_kept", v.get("loom_traces", "0")) or 0),
                "bytes": int(v.get("loom_bytes", "0") or 0), "jquery": v.get("loom_jquery", "")}

    def rows(self, groups: list[Group]) -> list[HotRow]:
        return hot_first(groups, self.cpu)

    def html_fragment(self) -> str:
        e = html.escape
        out = []
        note = self.status.jit_note()
        if note:
            out.append(f'<p class="warn">{e(note)}</p>')
        out.append(f"<p>{e(self.headline())}; {self.log.flushes:,} flushes. Recorded with "
                   f"{e(self.log.source)}.</p>")
        if self.own_note:
            out.append(f"<p>{e(self.own_note)}.</p>")
        if self.by_location:
            out.append("<table><thead><tr><th>abort line</th><th>reason</th><th>aborts</th></tr></thead><tbody>")
            for row in self.rows(self.by_location)[:TOP_INDEX]:
                g = row.group
                cell = f"<code>{e(g.location)}</code>"
                src = self.source(g.location)
                if src is not None:
                    cell += f'<br><code class="src">{e(src)}</code>'
                out.append(f"<tr><td>{cell}</td><td>{e(g.reason)}</td><td class=\"num\">{g.count:,}</td></tr>")
            out.append("</tbody></table>")
        return "\n".join(out)

    def markdown(self) -> str:
        lines = [f"- {self.headline()}"]
        for g in self.by_location[:5]:
            src = self.source(g.location)
            lines.append(f"  - `{g.location}` {g.reason} x {g.count:,}" + (f": `{_short(src)}`" if src else ""))
        return "\n".join(lines) + "\n"

    def console(self) -> tuple[str, ...]:
        lines = []
        for g in self.by_location[:5]:
            src = self.source(g.location)
            lines.append(f"  {g.count:>7,}  {g.location}  {g.reason}" + (f"  {_short(src)}" if src else ""))
        candidates = self.candidates
        if candidates:
            lines.append("jit: aborting again and again (blacklist candidates): "
                         + ", ".join(f"{g.location} ({g.count:,})" for g in candidates[:5]))
        if self.own_note:
            lines.append(f"jit: {self.own_note}")
        return tuple(lines)

    def section(self) -> Section:
        state, why = self.state()
        pages = (Page("jit.html", "jit's trace summary", self.render_page),)
        return Section(NAME, state, why=why, headline=self.headline(), console=self.console(),
                       html=self.html_fragment(), markdown=self.markdown(), summary=self.summary(),
                       summary_top={NAME: self.summary_top()}, pages=pages, link="jit.html")

    def page_rows(self, groups: list[Group]) -> list[dict[str, Any]]:
        return [{"location": r.group.location, "reason": r.group.reason, "count": r.group.count,
                 "source": self.source(r.group.location), "samples": r.samples, "share": r.share}
                for r in self.rows(groups)[:TOP_PAGE]]

    def render_page(self, out: TextIO) -> None:
        log, v = self.log, self.status.values
        compiled = log.traces_by_start()
        starts = [Group(loc, "", n) for loc, n in sorted(compiled.items(), key=lambda kv: (-kv[1], kv[0]))]
        loom = self.loom()
        template = environment(Path(__file__).parent / "templates").get_template("jit.html.j2")
        out.write(template.render(
            title=f"jit · {self.run.profile} · {self.run.run_id}", css=Markup(asset("page.css")),
            headline=self.headline(), state=self.state(), note=self.status.jit_note(), own=self.own_note, log=log,
            mode=self.status.mode, flags=v.get("flags", ""), version=v.get("version", ""),
            raw=f"raw/{FILES[self.status.mode]}", loom=loom, has_cpu=bool(self.cpu),
            by_location=self.page_rows(self.by_location), by_reason=self.page_rows(log.aborts_by_reason()),
            by_start=self.page_rows(log.aborts_by_start()), blacklist=self.page_rows(self.candidates),
            starts=self.page_rows(starts), links=sorted(log.links().items(), key=lambda kv: -kv[1]),
            traces=log.traces[:TOP_PAGE * 5], blacklist_aborts=BLACKLIST_ABORTS))
