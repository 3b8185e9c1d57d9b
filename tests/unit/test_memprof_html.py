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


def test_the_leaking_line_is_the_first_live_site_with_its_source() -> None:
    lines = [f"-- line {n}" for n in range(1, 10)]
    lines[5] = "  keep[#keep + 1] = ('x'):rep(700) -- the leak"
    report, html = render(SourceLines({"leak.lua": lines}))
    rows = report.rows()
    first = rows["live"][0]
    # The 8 strings of line 6 (tests/fixtures/memprof/README.md), and at most the string.rep buffer too.
    assert (first["text"], first["kind"], first["live"], first["chunks"], first["allocs"], first["frees"],
            first["peak"]) == ("@leak.lua:6", "lua", 8172, 8, 10, 2, 8172 + 1024)
    assert first["parts"] == []  # interpreted only: no breakdown
    assert first["source_line"] == "keep[#keep + 1] = ('x'):rep(700) -- the leak"
    assert first["live_text"] == "8.0 KB"
    assert [r["text"] for r in rows["live"]] == ["@leak.lua:6", "INTERNAL", "@leak.lua:9"]
    # The parser's heap summary is kept, with its own numbers.
    assert (rows["heap"][0]["text"], rows["heap"][0]["holds"]) == ("@leak.lua:6", 7148)
    # the page: the row, its source line (escaped), and no external resources
    assert "<code class=\"src\">leak.lua:6: keep[#keep + 1] = (&#39;x&#39;):rep(700) -- the leak</code>" in html
    assert not re.search(r"""(src|href)=["']https?:""", html)
    assert html.count("<table class=\"sortable") == 5
    assert "24 frees and 2 reallocs released chunks allocated before the profile started" in html
    assert rows["warnings"] == []  # 124 KB of symbols is most of this small file, but no more than any file has


def test_without_sources_the_report_still_names_the_sites() -> None:
    report, html = render(SourceLines({}))
    assert report.rows()["live"][0]["source_line"] is None
    assert "@leak.lua:6" in html


def test_a_line_with_traces_shows_them_under_it() -> None:
    report = MemprofHtmlReport(parse_file(FIXTURES / "traces.bin"), SourceLines({}), title="t")
    row = report.rows()["live"][1]
    assert (row["text"], row["live"], row["chunks"], row["peak"]) == ("@traces.lua:5", 50800, 104, 50800)
    assert [(p["label"], p["text"], p["live"], p["peak"]) for p in row["parts"]] == [
        ("TRACE [2]", "TRACE [2] started at @traces.lua:5", 45544, 45544),
        ("interpreted", "@traces.lua:5", 5256, 5392),
        ("TRACE [3]", "TRACE [3] started at @traces.lua:5", 0, 24),
    ]
    html = io.StringIO()
    report.render(html)
    assert '<tr class="part"><td class="loc" title="parser: TRACE [2] started at @traces.lua:5">TRACE [2]</td>' in (
        html.getvalue())
