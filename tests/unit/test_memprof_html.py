"""The memprof HTML report: leak suspects first, with their source lines; self-contained."""

from __future__ import annotations

import io
import re
from pathlib import Path

from ljprof.profilers.memprof import parse_file
from ljprof.profilers.memprof.report_html import MemprofHtmlReport
from ljprof.reporting.model import SourceLines

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "memprof"


def render(sources: SourceLines) -> tuple[MemprofHtmlReport, str]:
    report = MemprofHtmlReport(parse_file(FIXTURES / "leak.bin"), sources, title="memprof: leak",
                               meta=[("command", "luajit leak.lua")])
    out = io.StringIO()
    report.render(out)
    return report, out.getvalue()


def test_the_leaking_line_is_the_first_suspect_with_its_source() -> None:
    lines = [f"-- line {n}" for n in range(1, 10)]
    lines[5] = "  keep[#keep + 1] = ('x'):rep(700) -- the leak"
    report, html = render(SourceLines({"leak.lua": lines}))
    rows = report.rows()
    first = rows["suspects"][0]
    assert (first["text"], first["kind"], first["holds"], first["allocs"], first["frees"]) == (
        "@leak.lua:6", "lua", 7148, 10, 2)
    assert first["source_line"] == "keep[#keep + 1] = ('x'):rep(700) -- the leak"
    assert first["holds_text"] == "6.98KiB"
    assert rows["heap"][0]["text"] == "@leak.lua:6"
    # the page: the suspect row, its source line (escaped), and no external resources
    assert "<code class=\"src\">leak.lua:6: keep[#keep + 1] = (&#39;x&#39;):rep(700) -- the leak</code>" in html
    assert not re.search(r"""(src|href)=["']https?:""", html)
    assert html.count("<table class=\"sortable\">") == 5


def test_without_sources_the_report_still_names_the_sites() -> None:
    report, html = render(SourceLines({}))
    assert report.rows()["suspects"][0]["source_line"] is None
    assert "@leak.lua:6" in html
