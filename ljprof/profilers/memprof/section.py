"""memprof's part of a run's reports: `memprof_section(run) -> Section` (ljprof.reporting.model).

It parses raw/memprof.bin and says, for every report of the run, what is
still live at the end and where (findings.py: the same rows and warnings as
memprof.html and memprof.json):

- state: complete; cut (the file has no end marker: the reason says where it
  stops, and the reports cover every event before); empty (0 bytes); absent
  (no file); crashed (a file that is not a memprof profile, or unreadable);
- pages: memprof.txt (the parser's text, as `luajit -tm` prints it),
  memprof.json, memprof.html; the caller writes them;
- headline, console lines (the top live sites, the warnings), an HTML
  fragment for index.html and a table for summary.md; each marks the sites
  whose live bytes keep rising from one time window to the next "growing"
  (windows.py);
- summary.json: profilers.memprof (file, events, live totals, symbol share,
  time windows, warnings) and top_sites: [{location, live_bytes,
  live_chunks, allocs, frees, peak_bytes, growing}], ljprof's harness and its
  markers left out. `growing` is None with fewer than 3 time windows.

The pages get the windows' times from the run's timeline (the harness's
"window N" lines in raw/harness.tsv).
"""

from __future__ import annotations

import html
from typing import Any

from ljprof.errors import ConfigError
from ljprof.profilers.memprof import findings
from ljprof.profilers.memprof import format as fmt
from ljprof.profilers.memprof.decoder import MemprofFormatError
from ljprof.profilers.memprof.model import LiveSite, MemprofProfile
from ljprof.profilers.memprof.parse import Decoded, decode_file
from ljprof.profilers.memprof.report_html import MemprofHtmlReport
from ljprof.profilers.memprof.report_json import MemprofJsonReport
from ljprof.profilers.memprof.report_text import MemprofTextReport
from ljprof.profilers.memprof.windows import MIN_WINDOWS, window_times
from ljprof.reporting.model import Json, Page, RunDir, Section, SourceLines
from ljprof.reporting.units import human_bytes

NAME = "memprof"
RAW = "memprof.bin"
TOP_CONSOLE = 5
TOP_INDEX = 10
TOP_MARKDOWN = 5
TOP_SUMMARY = 10
GROWING_CONSOLE = 5
SOURCE_WIDTH = 60  # characters of a source line in the headline, the console and summary.md


def memprof_section(run: RunDir) -> Section:
    """memprof's section of a run's reports, from raw/memprof.bin. Never raises."""
    path = run.raw / RAW
    if not path.is_file():
        why = str(run.manifest.get("profilers", {}).get(NAME, {}).get("why") or "no file was written")
        return _without_data("absent", f"no raw/{RAW}: {why}", size=None)
    size = path.stat().st_size
    if size == 0:
        return _without_data("empty", f"raw/{RAW} is empty (0 bytes): memprof writes nothing when the program "
                             "ends with os.exit(code) before the Lua state is closed; end it normally, with "
                             "os.exit(code, true), or call misc.memprof.stop() first", size=0)
    try:
        profile = decoded(run).profile
        if "jit" in (run.manifest.get("profilers") or {}):
            profile = findings.with_jit_recorder(profile)
    except MemprofFormatError as exc:
        state = "cut" if size < fmt.PROLOGUE_SIZE else "crashed"  # a prologue cut short, else not memprof
        return _without_data(state, str(exc), size=size)
    except ConfigError as exc:
        return _without_data("crashed", str(exc), size=size)
    return _Shaper(run, profile).section()


def decoded(run: RunDir) -> Decoded:
    """raw/memprof.bin decoded once per render: memprof's section and snapshot's join share it (the
    live chunks by address are kept only when snapshot ran). Raises as parse_file."""
    live = "snapshot" in (run.manifest.get("profilers") or {})
    return run.memo(NAME, lambda: decode_file(run.raw / RAW, live=live))


def _without_data(state: str, why: str, *, size: int | None) -> Section:
    summary: Json = {"file": f"raw/{RAW}", "size": size}
    return Section(NAME, state, why=why, headline=f"memprof: no data ({why.split(':')[0]})",
                   console=(f"memprof: {why}",), summary=summary, summary_top={NAME: {"top_sites": []}})


def _shorten(text: str, width: int = SOURCE_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _name(row: LiveSite) -> str:
    """A row's name for text, "(growing)" after it when its live bytes keep rising (windows.py)."""
    return f"{row.location.name} (growing)" if row.growing else row.location.name


def _md_code(text: str) -> str:
    """Text as a code span in a markdown table cell."""
    text = text.replace("|", "\\|").replace("\n", " ")
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


class _Shaper:
    """Shapes one parsed profile into the section's parts."""

    def __init__(self, run: RunDir, profile: MemprofProfile) -> None:
        self.run = run
        self.profile = profile
        self.sources: SourceLines = run.sources()
        self.rows = findings.visible_sites(profile)
        self.live = [row for row in self.rows if row.stats.live_bytes > 0]
        self.warnings = findings.warnings(profile)
        self.hidden = findings.hidden(profile)
        self.growing = findings.growing_sites(profile)
        self.times = window_times(run.events(), profile.windows)

    def source(self, site: LiveSite) -> tuple[str, str] | None:
        """(file:line, the line) of a Lua site whose file the run kept."""
        loc = site.location
        line = self.sources.line(loc.file, loc.line)
        if line is None:
            return None
        return f"{loc.file}:{loc.line}", line

    def section(self) -> Section:
        p = self.profile
        state = "complete" if p.complete else "cut"
        return Section(
            NAME, state, why=p.cut.reason if p.cut is not None else "", headline=self.headline(),
            console=self.console(), html=self.html(), markdown=self.markdown(), summary=self.summary(),
            summary_top={NAME: {"top_sites": [self.top_site(row) for row in self.live[:TOP_SUMMARY]]}},
            pages=self.pages(), link="memprof.html",
        )

    def headline(self) -> str:
        if not self.live:
            return (f"memprof: nothing allocated during the profile is live at its end "
                    f"({self.profile.counts.events:,} events)")
        top = self.live[0]
        text = (f"memprof: {_name(top)} holds {human_bytes(top.stats.live_bytes)} live "
                f"({top.stats.live_chunks:,} chunks)")
        src = self.source(top)
        if src is not None:
            text += f" — {src[0]} `{_shorten(src[1])}`"
        others = [row for row in self.growing if row is not top]
        if others:
            first = others[0]
            text += f"; growing: {first.location.name} ({human_bytes(first.stats.live_bytes)} live)"
            if len(others) > 1:
                text += f" and {len(others) - 1} more"
        return text

    def windows_line(self) -> str:
        """What the time windows say, in one line for the console."""
        w = self.profile.windows
        if not w.markers:
            return "no time windows (no markers in the stream): growth over time not measured"
        if w.count < MIN_WINDOWS:
            return f"only {w.count} time windows: growth over time not measured (it takes {MIN_WINDOWS})"
        if not self.growing:
            return f"no site's live bytes keep rising over the {w.count} time windows"
        names = ", ".join(f"{row.location.name} ({human_bytes(row.stats.live_bytes)})"
                          for row in self.growing[:GROWING_CONSOLE])
        more = f" and {len(self.growing) - GROWING_CONSOLE} more" if len(self.growing) > GROWING_CONSOLE else ""
        return f"growing over {w.count} time windows: {names}{more}"

    def console(self) -> tuple[str, ...]:
        lines = [f"memprof: WARNING: {w}" for w in self.warnings]
        if self.live:
            lines.append(f"memprof: still live at the end (top {min(TOP_CONSOLE, len(self.live))} sites):")
            for row in self.live[:TOP_CONSOLE]:
                s = row.stats
                line = (f"  {human_bytes(s.live_bytes):>8} in {s.live_chunks:>6,} chunks (peak "
                        f"{human_bytes(s.peak_bytes)})  {_name(row)}")
                src = self.source(row)
                if src is not None:
                    line += f"  {_shorten(src[1])}"
                lines.append(line)
        lines.append(f"memprof: {self.windows_line()}")
        for note in (self.hidden.note(), findings.marker_note(self.profile)):
            if note:
                lines.append(f"memprof: {note}")
        return tuple(lines)

    def html(self) -> str:
        e = html.escape
        out = ['<div class="memprof">']
        out += [f'<p class="warn">{e(w)}</p>' for w in self.warnings]
        if self.live:
            out.append('<table class="top-sites"><thead><tr><th>site</th><th>live</th><th>chunks</th>'
                       "<th>peak</th><th>allocs</th><th>frees</th></tr></thead><tbody>")
            for row in self.live[:TOP_INDEX]:
                s = row.stats
                cell = f"<code>{e(row.location.name)}</code>"
                if row.growing:
                    cell += ' <strong style="color:#cf222e">growing</strong>'
                src = self.source(row)
                if src is not None:
                    cell += f'<br><code class="src">{e(src[0])}: {e(src[1])}</code>'
                if len(row.parts) > 1:
                    cell += '<br><span class="parts">' + e(", ".join(
                        f"{part.label} {human_bytes(part.stats.live_bytes)}" for part in row.parts)) + "</span>"
                out.append(f'<tr><td>{cell}</td><td class="num" data-value="{s.live_bytes}">'
                           f"{e(human_bytes(s.live_bytes))}</td><td class=\"num\">{s.live_chunks}</td>"
                           f'<td class="num" data-value="{s.peak_bytes}">{e(human_bytes(s.peak_bytes))}</td>'
                           f'<td class="num">{s.allocs}</td><td class="num">{s.frees}</td></tr>')
            out.append("</tbody></table>")
        else:
            out.append("<p>Nothing allocated during the profile is live at its end.</p>")
        out.append(f'<p class="note">{e(_sentence(self.windows_line()))}.</p>')
        for note in (self.hidden.note(), findings.marker_note(self.profile), findings.untracked_note(self.profile)):
            if note:
                out.append(f'<p class="note">{e(note)}.</p>')
        out.append('<p><a href="memprof.html">memprof.html</a>: every site, the traces under the line where they '
                   'start, and Tarantool\'s parser\'s tables; <a href="memprof.txt">memprof.txt</a> (as '
                   '<code>luajit -tm</code> prints it), <a href="memprof.json">memprof.json</a>.</p>')
        out.append("</div>")
        return "\n".join(out) + "\n"

    def markdown(self) -> str:
        out = [f"> **Warning:** {w}\n" for w in self.warnings]
        if self.live:
            out.append("| site | live | chunks | peak | source |")
            out.append("| --- | ---: | ---: | ---: | --- |")
            for row in self.live[:TOP_MARKDOWN]:
                s = row.stats
                src = self.source(row)
                site = _md_code(row.location.name) + (" growing" if row.growing else "")
                out.append(f"| {site} | {human_bytes(s.live_bytes)} | {s.live_chunks:,} | "
                           f"{human_bytes(s.peak_bytes)} | {_md_code(_shorten(src[1])) if src else ''} |")
        out.append(f"\n{_sentence(self.windows_line())}.")
        for note in (self.hidden.note(), findings.marker_note(self.profile)):
            if note:
                out.append(f"\n{note}.")
        return "\n".join(out) + "\n"

    @staticmethod
    def top_site(row: LiveSite) -> Json:
        s = row.stats
        return {"location": row.location.name, "live_bytes": s.live_bytes, "live_chunks": s.live_chunks,
                "allocs": s.allocs, "frees": s.frees, "peak_bytes": s.peak_bytes, "growing": row.growing}

    def summary(self) -> Json:
        p = self.profile
        c = p.counts
        out: dict[str, Any] = {
            "file": f"raw/{RAW}", "size": p.size, "complete": p.complete,
            "cut": p.cut.to_json() if p.cut is not None else None,
            "events": c.events, "allocs": c.allocs, "reallocs": c.reallocs, "frees": c.frees,
            "live_bytes": sum(row.stats.live_bytes for row in self.rows),
            "live_chunks": sum(row.stats.live_chunks for row in self.rows),
            "sites": len(self.rows),
            "symbol_bytes": p.symbols.bytes, "symbol_fraction": round(p.symbols.fraction(p.size), 4),
            "unknown_frees": c.unknown_frees, "unknown_reallocs": c.unknown_reallocs,
            "harness_hidden": {"sites": self.hidden.sites, "live_bytes": self.hidden.live_bytes,
                               "live_chunks": self.hidden.live_chunks},
            "windows": p.windows.count,
            "warnings": self.warnings,
        }
        return out

    def pages(self) -> tuple[Page, ...]:
        p = self.profile
        manifest = self.run.manifest
        title = f"memprof: {self.run.profile}, run {self.run.run_id}"
        meta = [("command", " ".join(manifest.get("command", []))),
                ("LuaJIT", str(manifest.get("image", {}).get("luajit", {}).get("version", "?"))),
                ("ended", str(manifest.get("ending", {}).get("kind", "?")))]
        return (
            Page("memprof.txt", "memprof: Tarantool's parser's report (luajit -tm)", MemprofTextReport(p).render),
            Page("memprof.json", "memprof: sites, live memory and the parser's tables, for machines",
                 MemprofJsonReport(p, times=self.times).render),
            Page("memprof.html", "memprof: live memory by site, and the parser's tables",
                 MemprofHtmlReport(p, self.sources, title=title, meta=meta, times=self.times).render),
        )
