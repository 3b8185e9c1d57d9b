"""The jit profiler on upstream LuaJIT (the ci-git image): summary and dump modes on the shipped
example, a target that switches the JIT off, a run killed mid-dump, loom refused on an image without it."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from ljprof import commands
from ljprof.errors import ConfigError, TargetFailed

from .conftest import CI_RECIPE, GitSource, loom_recipe

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.docker

CLOSURE = "local handler = function(x) return x + i end"
CLOSURE_LINE = next(n for n, line in enumerate((REPO / "examples/traces/traces.lua").read_text().splitlines(), 1)
                    if line.strip() == CLOSURE)
FNEW = {"location": f"@traces.lua:{CLOSURE_LINE}", "reason": "NYI: bytecode FNEW"}

TARGETS = {
    # compiles a loop, then switches the JIT off: nothing is compiled after that
    "jitoff.lua": "local s = 0\nfor i = 1, 1e5 do s = s + i end\njit.off()\n"
                  "for i = 1, 1e5 do s = s + i end\nprint(s)\n",
    # the example's loops forever: the hard timeout kills it mid-dump
    "forever.lua": "while true do dofile('traces.lua') end\n",
}

PROFILES = """
defaults:
  image: ci-git
  timeout: 60s
  network: none
  profilers: {proc: true}
profiles:
  summary: {workdir: t, script: traces.lua, profilers: {jit: {mode: summary}}}
  dump: {workdir: t, script: traces.lua, profilers: {jit: {mode: dump}}}
  jitoff: {workdir: t, script: jitoff.lua, profilers: {jit: {}}}
  killed: {workdir: t, script: forever.lua, timeout: 2s, profilers: {jit: {mode: dump, flags: +rs}}}
  loom: {workdir: t, script: traces.lua, profilers: {jit: {mode: loom}}}
  joined: {workdir: t, script: traces.lua, args: ["2000"], profilers: {jit: {}, cpu: {interval: 1ms}}}
  walked: {workdir: t, script: traces.lua, profilers: {jit: {mode: dump}, snapshot: {}, cpu: {}}}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("jit-project")
    (root / "t").mkdir()
    shutil.copy(REPO / "examples/traces/traces.lua", root / "t" / "traces.lua")
    for name, text in TARGETS.items():
        (root / "t" / name).write_text(text)
    (root / "profiles.yml").write_text(CI_RECIPE + PROFILES)
    return root


@pytest.fixture(scope="module")
def environ(upstream_env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **upstream_env}


def run(project: Path, environ: dict[str, str], name: str) -> tuple[Path, str, dict[str, object]]:
    out = io.StringIO()
    try:
        result = commands.profile(project / "profiles.yml", name, None, {}, environ, out)
        run_dir = result.run_dir
    except TargetFailed as exc:
        run_dir = exc.run_dir
    return run_dir, out.getvalue(), json.loads((run_dir / "summary.json").read_text())


def test_summary_mode_puts_the_closure_line_first(project: Path, environ: dict[str, str]) -> None:
    run_dir, printed, summary = run(project, environ, "summary")
    jit = summary["jit"]
    assert isinstance(jit, dict)
    assert {k: jit["aborts"][0][k] for k in ("location", "reason")} == FNEW
    assert jit["aborts"][0]["count"] >= 10 and jit["traces"] >= 10 and jit["root"] + jit["side"] == jit["traces"]
    assert re.search(rf"\njit: \d+ traces \(\d+ root, \d+ side\), [\d,]+ aborts; most: @traces.lua:{CLOSURE_LINE} "
                     r"NYI: bytecode FNEW x \d+\n", printed), printed
    index = (run_dir / "index.html").read_text()
    section = index.split('id="profiler-jit"')[1]
    first_row = section.split("<tbody>")[1].split("</tr>")[0]
    assert f"@traces.lua:{CLOSURE_LINE}" in first_row and "NYI: bytecode FNEW" in first_row and CLOSURE in first_row
    assert summary["profilers"]["jit"]["state"] == "complete"  # type: ignore[index]
    assert (run_dir / "raw" / "jit.v.txt").stat().st_size < 10_000


def test_dump_mode_keeps_the_dump_and_gives_the_same_first_line(project: Path, environ: dict[str, str]) -> None:
    run_dir, _, summary = run(project, environ, "dump")
    jit = summary["jit"]
    assert isinstance(jit, dict)
    assert {k: jit["aborts"][0][k] for k in ("location", "reason")} == FNEW
    dump = (run_dir / "raw" / "jit.dump.txt").read_text()
    assert "---- TRACE 1 IR" in dump and "\x1b[" not in dump  # plain text (T), with the IR
    assert '<a href="raw/jit.dump.txt">' in (run_dir / "jit.html").read_text()


def test_a_target_that_switches_the_jit_off_is_told_so(project: Path, environ: dict[str, str]) -> None:
    _, printed, summary = run(project, environ, "jitoff")
    assert "the target switched the JIT off (jit.off())" in printed
    assert summary["profilers"]["jit"]["jit_on_at_stop"] is False  # type: ignore[index]
    assert summary["jit"]["traces"] >= 1  # type: ignore[index]


def test_a_dump_cut_by_sigkill_is_summarised_up_to_the_cut(project: Path, environ: dict[str, str]) -> None:
    run_dir, _, summary = run(project, environ, "killed")
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["ending"]["kind"] == "timeout"
    jit = summary["profilers"]["jit"]  # type: ignore[index]
    assert jit["state"] == "cut"
    assert jit["why"].startswith("the target was killed before the harness stopped jit")
    assert {k: summary["jit"]["aborts"][0][k] for k in ("location", "reason")} == FNEW  # type: ignore[index]


def test_with_cpu_on_too_aborting_lines_are_ordered_by_their_cpu_samples(project: Path,
                                                                         environ: dict[str, str]) -> None:
    run_dir, _, summary = run(project, environ, "joined")
    assert summary["cpu"]["samples"] >= 50  # type: ignore[index]
    page = (run_dir / "jit.html").read_text()
    assert "Rows are ordered by the CPU samples on their line: hot and aborting first." in page
    table = page.split("<h2>Aborts by line and reason</h2>")[1].split("</table>")[0]
    rows = [re.findall(r'<td class="num">([\d,.%]+)</td>', row) for row in table.split("<tr>")[2:]]
    samples = [int(cells[1].replace(",", "")) for cells in rows]
    assert samples == sorted(samples, reverse=True) and samples[0] > 0, samples
    fnew_row = next(row for row in table.split("<tr>")[2:] if f"@traces.lua:{CLOSURE_LINE}" in row)
    assert int(re.findall(r'<td class="num">([\d,]+)</td>', fnew_row)[1].replace(",", "")) > 0, fnew_row


def test_traces_of_the_snapshot_walker_are_not_the_targets(project: Path, environ: dict[str, str]) -> None:
    """The walker's loops get compiled (each snapshot walks thousands of objects): left out, and said."""
    run_dir, printed, summary = run(project, environ, "walked")
    own = summary["profilers"]["jit"]["ljprof_own"]  # type: ignore[index]
    assert own["traces"] >= 1, own
    log = (run_dir / "raw" / "jit.dump.txt").read_text()
    assert re.search(r"---- TRACE \d+ start (\d+/\d+ )?harness\.lua:\d+\n", log)  # in the log, as recorded
    assert f"jit: {own['traces']:,} trace" in printed and "started in ljprof's own Lua (harness.lua" in printed
    page = (run_dir / "jit.html").read_text()
    tables = page.split("</table>", 1)[1]  # every table after the facts
    assert "harness.lua" not in tables and f"@traces.lua:{CLOSURE_LINE}" in tables
    assert {k: summary["jit"]["aborts"][0][k] for k in ("location", "reason")} == FNEW  # type: ignore[index]
    # jit.dump (and jit.bc) and cpu's jit.profile are ljprof's, loaded or not before the first snapshot
    paths = [r["path"] for r in summary["snapshot"]["retained"]]  # type: ignore[index]
    assert not [p for p in paths if "jit." in p], paths


def test_loom_on_an_image_without_it_is_refused_before_the_run(project: Path, environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        run(project, environ, "loom")
    assert re.fullmatch(
        r"profiles\.loom\.profilers\.jit: ljprof/luajit:ci-git-[0-9a-f]{12} cannot run it: mode loom needs loom "
        r"in the image, and this one has none; set images\.ci-git\.loom: true \(or loom: \{git: "
        r"https://github\.com/cloudflare/loom\.git, ref: <commit>\}\)\n  hint: .*", str(info.value)), str(info.value)


LOOM_PROFILES = """
defaults:
  image: ci-loom
  timeout: 120s
  network: none
profiles:
  loom: {workdir: t, script: traces.lua, profilers: {jit: {mode: loom}}}
  capped: {workdir: t, script: traces.lua, profilers: {jit: {mode: loom, loom_max_traces: 3}}}
"""


@pytest.fixture(scope="module")
def loom_project(tmp_path_factory: pytest.TempPathFactory, loom_git: GitSource) -> Path:
    root = tmp_path_factory.mktemp("jit-loom")
    (root / "t").mkdir()
    shutil.copy(REPO / "examples/traces/traces.lua", root / "t" / "traces.lua")
    (root / "profiles.yml").write_text(loom_recipe(loom_git) + LOOM_PROFILES)
    return root


def test_loom_mode_writes_an_offline_page_and_the_same_summary(loom_project: Path, environ: dict[str, str]) -> None:
    run_dir, _, summary = run(loom_project, environ, "loom")
    jit = summary["profilers"]["jit"]  # type: ignore[index]
    assert jit["state"] == "complete", jit
    assert {k: summary["jit"]["aborts"][0][k] for k in ("location", "reason")} == FNEW  # type: ignore[index]
    page = (run_dir / "raw" / "loom.html").read_text()
    assert "cdnjs.cloudflare.com" not in page and "inlined by ljprof so the page opens offline" in page
    assert jit["loom"]["jquery"].startswith("3.") and jit["loom"]["bytes"] == len(page.encode())
    assert "Trace #1" in page and CLOSURE in page  # loom's own tables, with the source
    assert "ljprof: capped" not in page
    assert '<a href="raw/loom.html">raw/loom.html</a>' in (run_dir / "jit.html").read_text()


def test_loom_page_capped_says_so(loom_project: Path, environ: dict[str, str]) -> None:
    run_dir, _, summary = run(loom_project, environ, "capped")
    loom = summary["profilers"]["jit"]["loom"]  # type: ignore[index]
    assert loom["kept"] == 3 and loom["traces"] > 3
    page = (run_dir / "raw" / "loom.html").read_text()
    assert f"the first 3 of {loom['traces']} trace numbers (loom_max_traces)" in page
    assert "Trace #4:" not in page
