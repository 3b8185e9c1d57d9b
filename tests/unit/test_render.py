"""render_run: every profiler through the registry, failures kept to their section, pages written safely,
and the run-level pages for runs that are odd (no profilers, one sample, old manifests, hostile text, long runs)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

import pytest

from ljprof.errors import ConfigError
from ljprof.profilers import PROFILERS
from ljprof.reporting.model import Page, RunDir, Section
from ljprof.reporting.render import render_run, write_atomically
from ljprof.reporting.summary import MARKDOWN_LIMIT


class FakeProfiler:
    """A profiler whose report is whatever the test says."""

    summary = "a test profiler"
    options: Mapping[str, Any] = {}

    def __init__(self, name: str, report: Callable[[RunDir], Section]) -> None:
        self.name = name
        self._report = report

    def image_problem(self, facts: Mapping[str, Any], options: Mapping[str, Any]) -> str:
        return ""

    def harness_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    def outputs(self) -> dict[str, str]:
        return {}

    def assess(self, raw: Path) -> dict[str, Any]:
        return {}

    def report(self, run: RunDir) -> Section:
        return self._report(run)


def make_run(path: Path, manifest: dict[str, Any], files: dict[str, str] | None = None) -> Path:
    (path / "raw").mkdir(parents=True)
    for name, text in (files or {}).items():
        (path / "raw" / name).write_text(text, encoding="utf-8")
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return path


def manifest(profilers: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    return {"profile": "p", "run_id": "r1", "profilers": {name: {} for name in profilers},
            "ending": {"kind": "return", "exit_code": 0}, "timings": {"target_s": 1.5}, **extra}


def gc_rows(count: int, step: float = 0.1) -> str:
    return "t,kb\n" + "".join(f"{i * step:.3f},{1000 + (i % 7) * 10}\n" for i in range(count))


def test_a_report_that_raises_becomes_an_absent_section_and_the_others_go_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(run: RunDir) -> Section:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setitem(PROFILERS, "fake", FakeProfiler("fake", boom))
    run_dir = make_run(tmp_path / "run", manifest(("fake", "gc")), {"gc.csv": gc_rows(40)})
    rendered = render_run(run_dir)
    by_name = {s.name: s for s in rendered.sections}
    assert (by_name["fake"].state, by_name["fake"].why) == ("absent", "report failed: RuntimeError: boom")
    assert by_name["gc"].state == "complete"
    assert [s.name for s in rendered.sections] == ["gc", "fake"]  # the heap verdict first
    assert rendered.summary["profilers"]["fake"] == {"state": "absent", "why": "report failed: RuntimeError: boom"}
    html = (run_dir / "index.html").read_text()
    assert "<li class=\"not-complete\">fake: no data (report failed: RuntimeError: boom)</li>" in html


def test_a_profiler_this_ljprof_does_not_know(tmp_path: Path) -> None:
    rendered = render_run(make_run(tmp_path / "run", manifest(("sysprof2",))))
    assert rendered.summary["profilers"] == {
        "sysprof2": {"state": "absent", "why": "this ljprof has no such profiler (a run of another version?)"}}


def test_pages_are_written_atomically_and_a_failing_page_keeps_the_old_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def bad(out: TextIO) -> None:
        out.write("half of a page")
        raise ValueError("bad data")

    def section(run: RunDir) -> Section:
        return Section("fake", "complete", headline="fake: fine", link="fake.html", summary={"sites": 3},
                       summary_top={"fake": {"top": [1, 2]}, "profile": "not the run's"},
                       markdown="| a |\n| --- |\n| 1 |\n",
                       pages=(Page("fake.html", "its page", lambda out: out.write("<p>fake</p>")),
                              Page("fake.json", "its data", bad),
                              Page("../escape.txt", "outside", lambda out: out.write("no"))))

    monkeypatch.setitem(PROFILERS, "fake", FakeProfiler("fake", section))
    run_dir = make_run(tmp_path / "run", manifest(("fake",)))
    (run_dir / "fake.json").write_text('{"good": true}')
    rendered = render_run(run_dir)
    assert (run_dir / "fake.html").read_text() == "<p>fake</p>"
    assert (run_dir / "fake.json").read_text() == '{"good": true}'
    assert not (tmp_path / "escape.txt").exists()
    assert sorted(p.name for p in run_dir.iterdir()) == ["fake.html", "fake.json", "index.html", "manifest.json",
                                                         "raw", "summary.json", "summary.md"]
    fake = rendered.sections[0]
    assert fake.why == "fake.json not written: ValueError: bad data; '../escape.txt' is not a file name in the run " \
                       "directory"
    assert [p.name for p in rendered.files] == ["fake.html", "summary.json", "summary.md", "index.html"]
    data = rendered.summary
    assert data["profile"] == "p"  # a section cannot replace the run's own keys
    assert data["fake"] == {"top": [1, 2]}
    assert data["profilers"]["fake"]["sites"] == 3
    html = (run_dir / "index.html").read_text()
    assert '<a href="fake.html">its report</a>' in html
    assert re.search(r'<a href="fake.html">fake.html</a></td><td class="num" data-bytes="11">11 B</td>'
                     r"<td>fake: its page</td>", html)
    md = (run_dir / "summary.md").read_text()
    assert "#### fake\n\n| a |\n| --- |\n| 1 |\n" in md


def test_summary_md_stays_under_a_mebibyte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = "x" * (MARKDOWN_LIMIT // 2) + "\n"
    monkeypatch.setitem(PROFILERS, "a", FakeProfiler("a", lambda run: Section("a", "complete", markdown=big)))
    monkeypatch.setitem(PROFILERS, "b", FakeProfiler("b", lambda run: Section("b", "complete", markdown=big)))
    monkeypatch.setitem(PROFILERS, "c", FakeProfiler("c", lambda run: Section("c", "complete", markdown="small")))
    run_dir = make_run(tmp_path / "run", manifest(("a", "b", "c")))
    render_run(run_dir)
    md = (run_dir / "summary.md").read_text()
    assert len(md.encode()) < 1024 * 1024
    assert "#### a\n" in md and "#### b\n" not in md and "#### c\n" not in md
    assert md.endswith("*b's part and those after it are left out: a job summary holds 1 MiB; see index.html.*\n")


def test_one_sample_is_too_short_to_plot(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run", manifest(("gc",)), {"gc.csv": gc_rows(1)})
    render_run(run_dir)
    html = (run_dir / "index.html").read_text()
    assert '<p class="tl-short">too short to plot: 1 sample</p>' in html
    assert "timeline-data" not in html and "<script" not in html


def test_a_run_without_profilers(tmp_path: Path) -> None:
    rendered = render_run(make_run(tmp_path / "run", manifest(())))
    html = (tmp_path / "run" / "index.html").read_text()
    assert "<li>No profiler ran.</li>" in html
    assert "No time series: no profiler of this run samples over time." in html
    heap = rendered.summary["heap"]
    assert heap == {"samples": None, "start_kb": None, "end_kb": None, "peak_kb": None, "slope_kb_per_min": None,
                    "growing": None}


def test_an_old_or_minimal_manifest_renders(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run", {"profile": "old", "run_id": "r0"})
    rendered = render_run(run_dir)
    assert rendered.summary["ending"] == {"kind": "?", "ok": None, "exit_code": None, "signal": None,
                                          "stopped_by": None, "message": "no ending recorded"}
    assert rendered.summary["duration_s"] is None
    html = (run_dir / "index.html").read_text()
    assert '<span class="badge ">unknown</span> <b>?</b>: no ending recorded</p>' in html
    assert "❔ unknown · **?**: no ending recorded" in (run_dir / "summary.md").read_text()


@pytest.mark.parametrize(("ending", "ok", "message"), [
    ({"kind": "return", "exit_code": 0}, True, "returned"),
    ({"kind": "exit", "exit_code": 3}, False, "called os.exit(3)"),
    ({"kind": "oom", "exit_code": 137}, False, "killed by the OOM killer (memory limit 48 MB)"),
    ({"kind": "timeout", "exit_code": 137}, False, "killed at the timeout (60 s)"),
    ({"kind": "interrupted", "exit_code": 1, "stopped_by": "cancel"}, False, "stopped by SIGINT (cancelled)"),
    ({"kind": "signal", "exit_code": 143, "signal": "SIGTERM", "stopped_by": "duration",
      "signals_sent": [{"after_s": 2.0, "signal": "SIGINT"}]}, False,
     "killed by SIGTERM (stopped after the duration (2.0 s))"),
    ({"kind": "error", "exit_code": 1, "ok": True, "message": "the lead's words"}, True, "the lead's words"),
])
def test_endings_without_ok_and_message_get_them_derived(tmp_path: Path, ending: dict[str, Any], ok: bool,
                                                         message: str) -> None:
    m = manifest((), ending=ending, config={"limits": {"memory": 48 * 1024 * 1024}, "timeout": 60.0})
    rendered = render_run(make_run(tmp_path / "run", m))
    assert (rendered.summary["ending"]["ok"], rendered.summary["ending"]["message"]) == (ok, message)


def test_hostile_text_is_escaped(tmp_path: Path) -> None:
    m = manifest(("gc",), command=["luajit", "<b>x.lua"],
                 ending={"kind": "error", "exit_code": 1, "harness": {"message": "x.lua:1: <script>alert(1)</script>"}},
                 timeline=[{"event": "mark", "t": 0.5, "detail": "</script><script>alert(2)</script>"}])
    run_dir = make_run(tmp_path / "run", m, {"gc.csv": gc_rows(30),
                                             "stderr.log": "luajit: x.lua:1: <script>alert(1)</script>\n"
                                                           "stack traceback:\n\t<img src=x onerror=alert(3)>\n"})
    render_run(run_dir)
    html = (run_dir / "index.html").read_text()
    assert "alert(1)</script>" not in html and "<img" not in html and "alert(2)</script>" not in html
    assert "<td>luajit &lt;b&gt;x.lua</td>" in html
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(2)" in html  # the mark, in the chart's JSON
    assert "luajit: x.lua:1: &lt;script&gt;alert(1)&lt;/script&gt;\nstack traceback:\n\t&lt;img src=x " in html
    md = (run_dir / "summary.md").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md


def test_a_ten_minute_run_at_100_ms_stays_small(tmp_path: Path) -> None:
    count = 6000
    gc = "t,kb,container_kb\n" + "".join(
        f"{i / 10:.6f},{20000 + (i % 37) * 150 + i * 0.5:.4f},{60000 + i}\n" for i in range(count))
    header = ("t,strhash_hit,strhash_miss,gc_strnum,gc_tabnum,gc_udatanum,gc_cdatanum,gc_total,gc_freed,"
              "gc_allocated,gc_steps_pause,gc_steps_propagate,gc_steps_atomic,gc_steps_sweepstring,"
              "gc_steps_sweep,gc_steps_finalize,jit_snap_restore,jit_trace_abort,jit_mcode_size,jit_trace_num")
    metrics = header + "\n" + "".join(
        ",".join([f"{i / 10:.6f}", *(str(i * (k + 3) + (i * 7919) % 101) for k in range(18)), str(i // 100)]) + "\n"
        for i in range(count))
    run_dir = make_run(tmp_path / "run", manifest(("gc", "metrics")), {"gc.csv": gc, "metrics.csv": metrics})
    rendered = render_run(run_dir)
    size = (run_dir / "index.html").stat().st_size
    assert size < 5 * 1024 * 1024, size
    data = json.loads(re.search(r'id="timeline-data">(.*?)</script>', (run_dir / "index.html").read_text(),
                                re.S).group(1))  # type: ignore[union-attr]
    counts = [len(s["t"]) for p in data["panels"] for s in p["series"]]
    assert max(counts) <= 2002 and len(counts) == 15
    assert rendered.summary["heap"]["growing"] is True  # 0.5 KB a sample under a sawtooth: 300 KB/min


def test_render_run_of_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a run directory"):
        render_run(tmp_path)


def test_write_atomically_keeps_the_old_file_when_rendering_fails(tmp_path: Path) -> None:
    target = tmp_path / "r.txt"
    target.write_text("good")

    def fails(out: TextIO) -> None:
        out.write("half")
        raise KeyError("x")

    with pytest.raises(KeyError):
        write_atomically(target, fails)
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["r.txt"]
