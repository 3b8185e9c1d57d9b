"""A run's own reports, rendered from recorded run directories (tests/fixtures/runs/README.md):
index.html, summary.json, summary.md and the console lines, checked on their content."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from ljprof import commands
from ljprof.reporting.render import Rendered, render_run

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"


def render(name: str, tmp_path: Path) -> tuple[Rendered, Path]:
    run_dir = tmp_path / name
    shutil.copytree(RUNS / name, run_dir)
    return render_run(run_dir), run_dir


def read(run_dir: Path, name: str) -> str:
    return (run_dir / name).read_text(encoding="utf-8")


def chart(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="timeline-data">(.*?)</script>', html, re.S)
    assert found, "no chart data in index.html"
    return dict(json.loads(found.group(1)))


def file_rows(html: str) -> dict[str, tuple[str, str]]:
    """index.html's file table: path -> (size, made by)."""
    rows = re.findall(r'<tr><td class="mono"><a href="([^"]+)">[^<]+</a></td><td class="num"[^>]*>([^<]*)</td>'
                      r"<td>([^<]*)</td></tr>", html)
    return {path: (size, what) for path, size, what in rows}


def within(actual: float, expected: float, fraction: float = 0.10) -> bool:
    return abs(actual - expected) <= abs(expected) * fraction


# --- growing: the shipped bot on Tarantool's fork, an older manifest ------------------------------


def test_the_bots_heap_is_growing(tmp_path: Path) -> None:
    rendered, run_dir = render("growing", tmp_path)
    heap = rendered.summary["heap"]
    assert heap["growing"] is True and heap["trend"] == "growing"
    assert heap["reason"] == "floor rose from 8,295 KB to 8,621 KB over 4.5 s, 4.6 MB/min"
    # the slope against the heap's own growth after the warm-up (0.5 s to 5.0 s), from the CSV
    rows = [(float(t), float(kb)) for t, kb in list(csv.reader(read(run_dir, "raw/gc.csv").splitlines()))[1:]]
    after = [r for r in rows if 0.5 <= r[0] <= 5.01]
    grown_per_min = (after[-1][1] - after[0][1]) / (after[-1][0] - after[0][0]) * 60
    assert within(heap["slope_kb_per_min"], grown_per_min), (heap["slope_kb_per_min"], grown_per_min)
    # the sampler's last sample (430 KB, after the target's error unwound) is not judged
    assert (heap["samples"], heap["start_kb"], heap["end_kb"], heap["peak_kb"]) == (51, 51.7, 8620.7, 8620.7)
    assert rendered.summary["profilers"]["gc"]["teardown_sample_left_out"] is True


def test_the_bots_summary_json(tmp_path: Path) -> None:
    rendered, run_dir = render("growing", tmp_path)
    data = json.loads(read(run_dir, "summary.json"))
    assert data == rendered.summary
    assert list(data) == sorted(data)
    assert (data["profile"], data["run_id"], data["duration_s"]) == ("bot", "20261125T154010471Z-41cb76", 5.109)
    assert data["image"]["tag"] == "ljprof/luajit:offline-7dfcc775f37c"
    assert data["image"]["luajit_commit"] == "b52fe9795db249e7803aeef22c2ed6129a97aaeb"
    # an older manifest: ok and message derived from the ending
    assert data["ending"] == {"kind": "interrupted", "ok": True, "exit_code": 1, "signal": None,
                              "stopped_by": "duration", "message": "stopped by SIGINT after the duration (5.0 s)"}
    assert set(data["heap"]) >= {"samples", "start_kb", "end_kb", "peak_kb", "slope_kb_per_min", "growing"}
    assert data["heap"]["slope_kb_per_min"] == 4737.5
    assert "container" not in data  # gc.csv of this run has no container_kb column
    assert sorted(data["profilers"]) == ["gc", "metrics"]
    assert data["profilers"]["gc"] == {"container": False, "duration_s": 5.072, "interval_s": 0.1, "samples": 52,
                                       "state": "complete", "teardown_sample_left_out": True}
    metrics = data["profilers"]["metrics"]
    assert (metrics["state"], metrics["samples"], metrics["traces_end"], metrics["trace_aborts"]) == (
        "complete", 52, 20, 0)
    assert metrics["allocated_kb_per_s"] == 3433.8
    assert data["findings"] == ["Lua heap: growing, floor rose from 8,295 KB to 8,621 KB over 4.5 s, 4.6 MB/min",
                                "metrics: allocated 3.4 MB/s on average; 20 traces at the end, 0 aborts"]


def test_the_bots_index_html(tmp_path: Path) -> None:
    rendered, run_dir = render("growing", tmp_path)
    html = read(run_dir, "index.html")
    assert len(html.encode()) < 300 * 1024
    assert ('<p class="ending"><span class="badge ok">ok</span> <b>interrupted</b>: stopped by SIGINT after the '
            "duration (5.0 s); exit code 1</p>") in html
    assert ("<tr><th>LuaJIT</th><td>LuaJIT 2.1.0-beta3, commit b52fe9795db249e7803aeef22c2ed6129a97aaeb</td></tr>"
            in html)
    assert "<tr><th>limits</th><td>memory 1 GB, 1 CPU, 64 processes, duration 5 s, grace 3 s, timeout 120 s</td></tr>" \
        in html
    # findings: the verdict first, in its colour
    findings = re.findall(r"<li( class=\"\w+\")?>([^<]+)</li>", html.split('<ul class="findings">')[1])
    assert findings == [(' class="growing"', "Lua heap: growing, floor rose from 8,295 KB to 8,621 KB over 4.5 s, "
                                              "4.6 MB/min"),
                        ("", "metrics: allocated 3.4 MB/s on average; 20 traces at the end, 0 aborts")]
    # where the bot was when SIGINT stopped it
    assert "<h3>Where the target was when it stopped</h3>\n<pre>luajit: bot.lua:82: interrupted!\nstack traceback:\n" \
           "\tbot.lua:82: in function &#39;pause&#39;" in html
    # the chart: panels in order, the mark and memprof's band
    data = chart(html)
    assert [p["name"] for p in data["panels"]] == ["memory", "allocation", "rates", "levels"]
    assert data["marks"] == [{"label": "serving", "t": 0.003}]
    assert data["bands"] == [{"label": "memprof", "t0": 0.003, "t1": 5.0725}]
    heap = data["panels"][0]["series"][0]
    assert (heap["label"], heap["unit"], heap["points"], heap["v"][:2], heap["v"][-1]) == (
        "Lua heap", "KB", 52, [51.7344, 8294.65], 429.86)
    assert data["samples"] == 52
    # one part per profiler, with its raw file
    assert '<h3>gc <span class="state complete">complete</span>' in html
    assert "<tr><th>after the target ended</th><td>430 KB (the sampler&#39;s last sample, left out of the verdict)" \
           "</td></tr>" in html
    # the files: the manifest's (memprof.bin left out of this fixture) and the reports just written
    files = file_rows(html)
    assert files["raw/gc.csv"] == ("990 B", "gc: collectgarbage(&#34;count&#34;) samples")
    assert files["sources/bot.lua"] == ("3,681 B", "the target&#39;s source, kept for reports")
    assert files["summary.json"] == (f"{(run_dir / 'summary.json').stat().st_size:,} B",
                                     "ljprof: the run&#39;s summary for machines")
    assert files["index.html"] == ("", "ljprof: this page")
    assert "raw/memprof.bin" not in files
    assert [p.name for p in rendered.files] == ["summary.json", "summary.md", "index.html"]


def test_the_bots_summary_md(tmp_path: Path) -> None:
    _, run_dir = render("growing", tmp_path)
    md = read(run_dir, "summary.md")
    lines = md.splitlines()
    assert lines[0] == "### ljprof: bot · run 20261125T154010471Z-41cb76"
    assert "✅ ok · **interrupted**: stopped by SIGINT after the duration (5.0 s); exit code 1" in lines
    assert "| bot | `ljprof/luajit:offline-7dfcc775f37c` | LuaJIT 2.1.0-beta3 b52fe9795db2 | 5.1 s |" in lines
    findings = lines[lines.index("**Findings**") + 1:lines.index("**Findings**") + 3]
    assert findings == ["- Lua heap: growing, floor rose from 8,295 KB to 8,621 KB over 4.5 s, 4.6 MB/min",
                        "- metrics: allocated 3.4 MB/s on average; 20 traces at the end, 0 aborts"]
    spark = next(line for line in lines if line.startswith("Lua heap after the warm-up"))
    assert re.fullmatch(r"Lua heap after the warm-up \(0\.50 s to 5\.0 s\): `▁[▁-█]{38}█` 8,295 KB to 8,621 KB", spark)
    assert "| GC steps | 2,317 (456.8/s on average) |" in lines
    assert len(md.encode()) < 1024 * 1024


def test_invoke_report_prints_the_files_and_each_sections_headline(tmp_path: Path) -> None:
    run_dir = tmp_path / "growing"
    shutil.copytree(RUNS / "growing", run_dir)
    out = io.StringIO()
    commands.report(run_dir, out)
    assert out.getvalue().splitlines() == [
        f"reports in {run_dir}: index.html, summary.json, summary.md",
        "Lua heap: growing, floor rose from 8,295 KB to 8,621 KB over 4.5 s, 4.6 MB/min",
        "  51 samples; start 52 KB, end 8,621 KB, peak 8,621 KB",
        "  after the target ended: 430 KB (left out of the verdict)",
        "metrics: allocated 3.4 MB/s on average; 20 traces at the end, 0 aborts",
    ]


def test_rendering_twice_gives_the_same_files(tmp_path: Path) -> None:
    _, run_dir = render("growing", tmp_path)
    first = {name: read(run_dir, name) for name in ("index.html", "summary.json", "summary.md")}
    render_run(run_dir)
    second = {name: read(run_dir, name) for name in ("index.html", "summary.json", "summary.md")}
    assert first == second


# --- flat: an allocate-and-drop loop, with the container's memory ---------------------------------


def test_a_steady_allocate_and_drop_loop_is_flat(tmp_path: Path) -> None:
    rendered, run_dir = render("flat", tmp_path)
    data = rendered.summary
    assert (data["heap"]["growing"], data["heap"]["trend"]) == (False, "flat")
    assert data["heap"]["reason"] == "floor stayed within 1,230-1,485 KB over 5.4 s (-194 KB/min)"
    assert data["heap"]["peak_kb"] == 2323.1  # the sawtooth's peaks are no leak
    assert data["container"] == {"end_kb": 4688.0, "peak_kb": 4824.0, "samples": 122}
    assert data["ending"]["message"] == ("stopped by SIGINT at the profile's duration, as planned "
                                         "(luajit then exits with code 1)")
    html = read(run_dir, "index.html")
    assert '<li class="flat">Lua heap: flat, floor stayed within 1,230-1,485 KB over 5.4 s (-194 KB/min)</li>' in html
    memory = chart(html)["panels"][0]
    assert [s["label"] for s in memory["series"]] == ["Lua heap", "container memory"]
    assert chart(html)["marks"] == [{"label": "ring filled", "t": 0.0032}]
    assert "<tr><th>container memory</th><td>peak 4,824 KB, end 4,688 KB</td></tr>" in html
    assert "<tr><th>limits</th><td>no memory, CPU or process limit, duration 6 s, grace 5 s, timeout 600 s</td></tr>" \
        in html
    assert data["findings"][1] == "metrics: allocated 39.2 MB/s on average; 4 traces at the end, 0 aborts"


# --- errored: error() with a traceback --------------------------------------------------------------


def test_an_error_shows_its_traceback_and_a_red_badge(tmp_path: Path) -> None:
    rendered, run_dir = render("errored", tmp_path)
    assert rendered.summary["ending"] == {
        "kind": "error", "ok": False, "exit_code": 1, "signal": None, "stopped_by": None,
        "message": "errors.lua:5: attempt to index field 'server' (a nil value)"}
    html = read(run_dir, "index.html")
    assert ('<span class="badge fail">failed</span> <b>error</b>: errors.lua:5: attempt to index field '
            "&#39;server&#39; (a nil value); exit code 1") in html
    assert ('<h3>The target raised an error</h3>\n<pre class="error">luajit: errors.lua:5: attempt to index field '
            "&#39;server&#39; (a nil value)\nstack traceback:\n\terrors.lua:5: in function &#39;main&#39;\n"
            "\terrors.lua:14: in main chunk\n\t[C]: at 0x562c8b0b3430</pre>") in html
    # the stderr tail keeps what came before the error
    tail = html.split("<h2>stderr")[1]
    assert "(last 6 lines)" in tail and "<pre>warning: no config file, using defaults\nluajit: errors.lua:5" in tail
    md = read(run_dir, "summary.md")
    assert "❌ failed · **error**: errors.lua:5: attempt to index field 'server' (a nil value); exit code 1" in md
    assert "```\nluajit: errors.lua:5: attempt to index field 'server' (a nil value)\nstack traceback:\n" in md
    # 8 samples over 0.6 s: just enough to judge (2 windows of 3 after the warm-up)
    assert rendered.summary["heap"]["reason"] == "floor stayed at 1,953 KB over 0.50 s (0 KB/min)"


# --- cut: a killed run whose CSVs end mid-line --------------------------------------------------------


def test_a_cut_csv_gives_its_complete_lines_and_says_so(tmp_path: Path) -> None:
    rendered, run_dir = render("cut", tmp_path)
    gc = next(s for s in rendered.sections if s.name == "gc")
    assert (gc.state, gc.why) == ("cut", "raw/gc.csv ends within a line (the process was killed while writing?); "
                                         "its 14 complete samples are read")
    profilers = rendered.summary["profilers"]
    assert (profilers["gc"]["state"], profilers["gc"]["samples"]) == ("cut", 14)
    assert (profilers["metrics"]["state"], profilers["metrics"]["samples"]) == ("cut", 14)
    # killed: no "stop sampler" in the harness log, so every sample is judged
    heap = rendered.summary["heap"]
    assert (heap["samples"], heap["growing"], heap["end_kb"]) == (14, True, 2408.9)
    assert heap["reason"] == "floor rose from 409 KB to 1,852 KB over 1.1 s, 95.4 MB/min"
    assert rendered.summary["ending"]["signal"] == "SIGTERM"
    html = read(run_dir, "index.html")
    assert '<h3>gc <span class="state cut">cut</span>' in html
    assert ('<p class="warn">raw/gc.csv ends within a line (the process was killed while writing?); its 14 complete '
            "samples are read</p>") in html
    assert "<tr><th>exit code</th><td>143 (SIGTERM)</td></tr>" in html
    assert ("<tr><th>signals sent</th><td>SIGINT at 2.017 s (duration), SIGTERM at 3.048 s (grace period over)"
            "</td></tr>") in html
    assert chart(html)["panels"][0]["series"][0]["points"] == 14


@pytest.mark.parametrize("name", ["growing", "flat", "errored", "cut"])
def test_every_fixture_renders_a_chart_that_fits(name: str, tmp_path: Path) -> None:
    _, run_dir = render(name, tmp_path)
    html = read(run_dir, "index.html")
    assert html.count("<script") == 2  # the chart's data and timeline.js, inline
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    assert len(html.encode()) < 300 * 1024


def test_source_lines_resolve_chunk_names_relative_to_the_runs_cwd() -> None:
    from ljprof.reporting.model import SourceLines

    lines = SourceLines({"src/luacheck/standards.lua": ["local a", "def.fields[field_name] = {}"],
                         "usr/share/lua/5.1/argparse.lua": ["return 1"], "bin/luacheck.lua": ["x"]}, cwd="src")
    assert lines.line("@./luacheck/standards.lua", 2) == "def.fields[field_name] = {}"
    assert lines.line("@../bin/luacheck.lua", 1) == "x"
    assert lines.line("@/usr/share/lua/5.1/argparse.lua", 1) == "return 1"
    assert lines.line("@/ljprof/target/src/luacheck/standards.lua", 1) == "local a"
    assert lines.line("@./luacheck/standards.lua", 3) is None


def test_source_lines_find_a_file_by_its_name_alone_when_only_one_has_it() -> None:
    """jit.v and jit.dump name chunks by their file's name (@linearize.lua): the one kept file of that name."""
    from ljprof.reporting.model import SourceLines

    lines = SourceLines({"src/luacheck/stages/linearize.lua": ["local a", "return b(...)"],
                         "src/luacheck/init.lua": ["x"], "src/luacheck/vendor/init.lua": ["y"],
                         "usr/share/lua/5.1/argparse.lua": ["return 1"]}, cwd="src")
    assert lines.line("@linearize.lua", 2) is None  # not a path relative to src/
    assert lines.line_of_short_name("@linearize.lua", 2) == "return b(...)"
    assert lines.line_of_short_name("@argparse.lua", 1) == "return 1"
    assert lines.line_of_short_name("@init.lua", 1) is None  # two files of that name: neither is guessed
    assert lines.line_of_short_name("@linearize.lua", 3) is None
    assert lines.line_of_short_name("@./luacheck/init.lua", 1) == "x"  # a path still resolves as a path
    assert lines.line_of_short_name("@gone.lua", 1) is None
