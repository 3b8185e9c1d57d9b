"""jit's section of a run's reports, on run directories made from recorded logs (tests/fixtures/jit)."""

from __future__ import annotations

import html
import io
import json
import shutil
from pathlib import Path

from markupsafe import Markup

from ljprof.profilers.jit import PROFILER, cpu_by_line
from ljprof.profilers.jit.cpu import hot_first
from ljprof.profilers.jit.model import Group
from ljprof.profilers.jit.section import jit_section
from ljprof.reporting.model import RunDir

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jit"
CLOSURE_LINE = "local handler = function(x) return x + i end"


def make_run(tmp_path: Path, mode: str, log: str, status: dict[str, str]) -> RunDir:
    """A run directory as the runner leaves it: the recorder's log, the harness's status file, sources/."""
    (tmp_path / "raw").mkdir()
    (tmp_path / "sources").mkdir()
    shutil.copy(FIXTURES / "traces.lua", tmp_path / "sources" / "traces.lua")
    target = {"summary": "jit.v.txt", "dump": "jit.dump.txt", "loom": "loom.v.txt"}[mode]
    shutil.copy(FIXTURES / log, tmp_path / "raw" / target)
    lines = {"mode": mode, "version": "LuaJIT 2.1.0-beta3", "jit_start": "on", **status}
    (tmp_path / "raw" / "jit.status.txt").write_text("".join(f"{k}\t{v}\n" for k, v in lines.items()))
    (tmp_path / "manifest.json").write_text(json.dumps({"profile": "traces", "run_id": "r1"}))
    return RunDir.load(tmp_path)


def test_summary_mode_says_the_closure_line_first(tmp_path: Path) -> None:
    run = make_run(tmp_path, "summary", "traces.v.txt", {"jit_stop": "on", "stopped": "0.2"})
    s = jit_section(run, {})
    assert s.state == "complete" and s.why == ""
    assert s.headline == "jit: 22 traces (8 root, 14 side), 26 aborts; most: @traces.lua:16 NYI: bytecode FNEW x 20"
    assert s.summary_top == {"jit": {
        "traces": 22, "root": 8, "side": 14, "flushes": 0, "aborts_total": 26,
        "aborts": [{"location": "@traces.lua:16", "reason": "NYI: bytecode FNEW", "count": 20},
                   {"location": "@traces.lua:36", "reason": "call unroll limit reached", "count": 5},
                   {"location": "@traces.lua:38", "reason": "down-recursion, restarting", "count": 1}]}}
    assert s.summary["blacklist_candidates"] == ["@traces.lua:15"] and s.summary["jit_on_at_stop"] is True
    assert s.console[0] == f"       20  @traces.lua:16  NYI: bytecode FNEW  {CLOSURE_LINE}"
    # index.html: the first row is the closure's line, with its source
    first_row = s.html.split("<tr>")[2]
    assert "@traces.lua:16" in first_row and CLOSURE_LINE.replace(">", "&gt;") in first_row
    page = io.StringIO()
    s.pages[0].render(page)
    text = page.getvalue()
    assert s.pages[0].name == "jit.html" and '<a href="raw/jit.v.txt">' in text
    assert text.index("@traces.lua:16") < text.index("@traces.lua:36")
    assert "<td>0/8.1</td>" in text  # trace number 8, reused: generation 1


def test_target_switching_the_jit_off_is_said(tmp_path: Path) -> None:
    run = make_run(tmp_path, "summary", "flush.v.txt", {"jit_stop": "off", "stopped": "0.2"})
    s = jit_section(run, {})
    assert s.headline.endswith("; the target switched the JIT off (jit.off()): no traces after that")
    assert s.summary["jit_on_at_stop"] is False and s.summary_top["jit"]["flushes"] == 3


def test_killed_run_with_a_cut_dump_is_summarised_up_to_the_cut(tmp_path: Path) -> None:
    run = make_run(tmp_path, "dump", "traces.dump.cut.txt", {"flags": "+rsT"})  # no "stopped": killed
    s = jit_section(run, {})
    assert s.state == "cut"
    assert s.why == ("the target was killed before the harness stopped jit: the summary covers every event "
                     "written before; raw/jit.dump.txt ends mid-line: its last line is left out")
    assert s.summary_top["jit"]["traces"] == 11 and s.summary_top["jit"]["aborts_total"] == 20


def test_no_log_is_absent(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "manifest.json").write_text("{}")
    s = jit_section(RunDir.load(tmp_path), {})
    assert (s.state, s.why) == ("absent", "no trace log: the harness did not start jit")


def test_cpu_join_puts_hot_and_aborting_lines_first(tmp_path: Path) -> None:
    groups = [Group("@a.lua:1", "NYI: bytecode FNEW", 50), Group("@a.lua:9", "blacklisted", 3),
              Group("@b.lua:4", "trace too long", 7)]
    rows = hot_first(groups, {"@a.lua:9": 600, "@b.lua:4": 200, "@c.lua:1": 200})
    assert [(r.group.location, r.samples, r.share) for r in rows] == [
        ("@a.lua:9", 600, 0.6), ("@b.lua:4", 200, 0.2), ("@a.lua:1", 0, 0.0)]
    assert [r.group.location for r in hot_first(groups, {})] == ["@a.lua:1", "@a.lua:9", "@b.lua:4"]
    # on the page, with the share
    run = make_run(tmp_path, "summary", "traces.v.txt", {"jit_stop": "on", "stopped": "0.2"})
    page = io.StringIO()
    jit_section(run, {"@traces.lua:36": 300, "@traces.lua:16": 100}).pages[0].render(page)
    text = page.getvalue()
    assert "hot and aborting first" in text and '<td class="num">75.0%</td>' in text
    table = text.split("<h2>Aborts by line and reason</h2>")[1]
    assert table.index("@traces.lua:36") < table.index("@traces.lua:16")


def test_image_problems() -> None:
    upstream = {"recipe": "upstream", "luajit": {"jit_enabled": True}, "features": {}}
    assert PROFILER.image_problem(upstream, {"mode": "summary"}) == ""
    assert PROFILER.image_problem(upstream, {"mode": "loom"}) == (
        "mode loom needs loom in the image, and this one has none; set images.upstream.loom: true "
        "(or loom: {git: https://github.com/cloudflare/loom.git, ref: <commit>})")
    with_loom = {**upstream, "features": {"loom": {"installed": True}}}
    assert PROFILER.image_problem(with_loom, {"mode": "loom"}) == ""
    no_jit = {**with_loom, "luajit": {"jit_enabled": False}}
    assert "no JIT compiler (built with -DLUAJIT_DISABLE_JIT" in PROFILER.image_problem(no_jit, {"mode": "dump"})


def loom_run(tmp_path: Path, name: str) -> RunDir:
    status = dict(line.split("\t", 1) for line in (FIXTURES / f"{name}.loom.status.txt").read_text().splitlines())
    return make_run(tmp_path, "loom", f"{name}.loom.v.txt", status)


def test_loom_mode_gets_the_same_summary_and_its_page_figures(tmp_path: Path) -> None:
    s = jit_section(loom_run(tmp_path, "traces"), {})
    assert s.state == "complete"
    assert s.headline == "jit: 29 traces (17 root, 12 side), 35 aborts; most: @traces.lua:16 NYI: bytecode FNEW x 19"
    assert s.summary["recorder"] == "loom"
    assert s.summary["loom"] == {"traces": 29, "kept": 3, "bytes": 132030, "jquery": "3.6.1"}
    page = io.StringIO()
    s.pages[0].render(page)
    assert '<a href="raw/loom.html">raw/loom.html</a>: 132,030 bytes,\n3 of 29 trace numbers (capped by ' \
           "loom_max_traces);\njQuery 3.6.1 inlined (opens offline)" in page.getvalue()


def test_loom_mode_flushes_come_from_the_harness(tmp_path: Path) -> None:
    s = jit_section(loom_run(tmp_path, "flush"), {})
    assert s.summary_top["jit"]["flushes"] == 3
    assert s.summary_top["jit"]["aborts"] == [{"location": "[chunk 1]:2", "reason": "NYI: bytecode FNEW",
                                               "count": 14}]
    assert s.summary["links"] == {"loop": 4, "none": 3}  # trace 2's epochs were flushed before loom read them
    assert s.headline.endswith("the target switched the JIT off (jit.off()): no traces after that")


def test_loom_that_failed_is_crashed_with_its_error(tmp_path: Path) -> None:
    error = "loom could not render its page: jit/loom.lua:627: table index is nil"
    run = make_run(tmp_path, "loom", "traces.loom.v.txt", {"jit_stop": "on", "loom_error": error, "stopped": "1"})
    (run.raw / "loom.v.txt").unlink()
    s = jit_section(run, {})
    assert (s.state, s.why) == ("crashed", error)


def test_cpu_samples_are_keyed_as_jit_names_files(tmp_path: Path) -> None:
    """jit.v and jit.dump name a file by its last part: cpu's samples in ./pkg/stages/lin.lua join as @lin.lua."""
    run = make_run(tmp_path, "summary", "traces.v.txt", {"jit_stop": "on", "stopped": "0.2"})
    (run.raw / "cpu.txt").write_text(
        "# ljprof cpu 1 interval_ms=1 depth=64 flushes=1 final=1\n"
        "7\tI\t./pkg/main.lua:3 ./pkg/main.lua:0;./pkg/stages/lin.lua:94 resolve\n"
        "2\tN\t./pkg/main.lua:3 ./pkg/main.lua:0;./pkg/lin.lua:94 other\n"
        "5\tI\t./pkg/main.lua:4 ./pkg/main.lua:0\n")
    assert cpu_by_line(run) == {"@lin.lua:94": 9, "@main.lua:4": 5}


def test_rows_of_a_file_in_a_folder_show_its_source_line(tmp_path: Path) -> None:
    """jit.v names src/app/traces.lua as @traces.lua: the row still shows the line, from the one file of that name."""
    run = make_run(tmp_path, "summary", "traces.v.txt", {"jit_stop": "on", "stopped": "0.2"})
    (run.path / "sources" / "src" / "app").mkdir(parents=True)
    (run.path / "sources" / "traces.lua").rename(run.path / "sources" / "src" / "app" / "traces.lua")
    s = jit_section(RunDir.load(run.path), {})
    assert s.console[0] == f"       20  @traces.lua:16  NYI: bytecode FNEW  {CLOSURE_LINE}"
    assert CLOSURE_LINE.replace(">", "&gt;") in s.html.split("<tr>")[2]


OWN_LINES = ("[TRACE   1 harness.lua:83 return]\n"
             "[TRACE --- (1/1) harness.lua:84 -- NYI: bytecode 72 at harness.lua:177]\n"
             "[TRACE   2 (1/1) harness.lua:84 -- fallback to interpreter]\n"
             "[TRACE --- run.lua:212 -- NYI: bytecode 51]\n")


def test_traces_of_ljprofs_own_lua_are_left_out_and_said(tmp_path: Path) -> None:
    """The snapshot walker's loops get compiled too (fennel: 57 of 1,382 lines): not the target's traces."""
    run = make_run(tmp_path, "summary", "traces.v.txt", {"jit_stop": "on", "stopped": "0.2"})
    (run.raw / "jit.v.txt").write_text(OWN_LINES + (FIXTURES / "traces.v.txt").read_text())
    s = jit_section(run, {})
    assert s.headline == "jit: 22 traces (8 root, 14 side), 26 aborts; most: @traces.lua:16 NYI: bytecode FNEW x 20"
    assert s.summary["ljprof_own"] == {"traces": 2, "aborts": 2}
    note = ("2 traces and 2 aborts started in ljprof's own Lua (harness.lua, imageinfo.lua, run.lua) "
            "and are not counted")
    assert s.console[-1] == f"jit: {note}" and f"<p>{html.escape(note)}.</p>" in s.html
    page = io.StringIO()
    s.pages[0].render(page)
    assert str(Markup("<tr><th>left out</th><td>{}</td></tr>").format(note)) in page.getvalue()
    assert "harness.lua" not in page.getvalue().split("are not counted</td></tr>")[1]  # in no table


def test_a_targets_own_file_of_that_name_keeps_its_traces(tmp_path: Path) -> None:
    run = make_run(tmp_path, "summary", "traces.v.txt", {"jit_stop": "on", "stopped": "0.2"})
    (run.raw / "jit.v.txt").write_text(OWN_LINES + (FIXTURES / "traces.v.txt").read_text())
    (run.path / "sources" / "tools").mkdir()
    (run.path / "sources" / "tools" / "run.lua").write_text("-- the target's own run.lua\n")
    s = jit_section(RunDir.load(run.path), {})
    assert s.summary["ljprof_own"] == {"traces": 2, "aborts": 1}  # harness.lua's only: run.lua may be the target's
    assert s.summary_top["jit"]["aborts_total"] == 27
    assert s.console[-1].startswith(
        "jit: 2 traces and 1 abort started in ljprof's own Lua (harness.lua, imageinfo.lua)")
