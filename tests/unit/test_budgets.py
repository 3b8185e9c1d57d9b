"""Budgets on recorded run directories (tests/fixtures/compare/README.md): exact figures and verdicts."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from ljprof import commands
from ljprof.budgets import check, table_lines
from ljprof.compare.runs import Run
from ljprof.config.loader import parse_config
from ljprof.config.model import Budget
from ljprof.errors import BudgetBroken

FIX = Path(__file__).parent.parent / "fixtures" / "compare"


def _run(name: str) -> Run:
    return Run.load(FIX / name)


def _rows(verdicts: list) -> list[tuple]:
    return [(v.budget, v.kind, v.figure, v.limit, v.verdict, v.site) for v in verdicts]


def test_absolute_budgets_on_the_bot_with_two_leaks() -> None:
    budgets = [Budget("live_bytes", 50 * 1024, text="50KB"), Budget("site_live_bytes", 300 * 1024, text="300KB"),
               Budget("heap_growth", 4000.0, text="4000KB/min"), Budget("peak_memory", 2 * 1024**2, text="2MB"),
               Budget("trace_aborts", 0, text="0"), Budget("duration", 5.5, text="5.5s"),
               Budget("gc_share", 0.2, text="20%")]
    assert _rows(check(_run("bot2"), budgets)) == [
        ("live_bytes", "max", 370367.0, 51200, "broken", ""),
        ("site_live_bytes", "max", 280927.0, 307200, "ok", "@bot.lua:71"),
        ("heap_growth", "max", 4290.8, 4000.0, "broken", ""),
        ("peak_memory", "max", 1772 * 1024.0, 2 * 1024**2, "ok", ""),
        ("trace_aborts", "max", 0.0, 0, "ok", ""),  # from metrics' counters: the bot has no jit profiler
        ("duration", "max", 5.586, 5.5, "broken", ""),
        ("gc_share", "max", None, 0.2, "not measured", ""),  # 0 cpu samples: said, never a failure
    ]


def test_relative_budgets_against_a_baseline() -> None:
    budgets = [Budget("live_bytes", regression=0.1), Budget("site_live_bytes", regression=0.1),
               Budget("duration", regression=0.1)]
    verdicts = check(_run("bot2"), budgets, _run("bot"))
    assert _rows(verdicts) == [
        ("live_bytes", "regression", 370367.0, pytest.approx(313498 * 1.1), "broken", ""),
        # the largest site moved from line 68 to 71: matched by its source text, the same bytes
        ("site_live_bytes", "regression", 280927.0, pytest.approx(280927 * 1.1), "ok", "@bot.lua:71"),
        ("duration", "regression", 5.586, pytest.approx(5.598 * 1.1), "ok", ""),
    ]
    assert verdicts[0].limit_text == "+10% of 306 KB"
    assert verdicts[1].note == "(was @bot.lua:68)"
    no_base = check(_run("bot2"), budgets[:1])
    assert no_base[0].verdict == "no baseline"


def test_hand_made_keys_of_jit_cpu_and_snapshot() -> None:
    budgets = [Budget("trace_aborts", 10, 0.5), Budget("gc_share", 0.25), Budget("interp_share", 0.25),
               Budget("peak_memory", 1024.0)]
    assert _rows(check(_run("keys-head"), budgets, _run("keys-base"))) == [
        ("trace_aborts", "max", 13.0, 10, "broken", ""),
        ("trace_aborts", "regression", 13.0, 9.0, "broken", ""),
        ("gc_share", "max", pytest.approx(0.3), 0.25, "broken", ""),
        ("interp_share", "max", pytest.approx(0.2), 0.25, "ok", ""),
        ("peak_memory", "max", None, 1024.0, "not measured", ""),
    ]


def test_table_names_budget_limit_figure_verdict_and_site() -> None:
    lines = table_lines(check(_run("bot2"), [Budget("live_bytes", 51200, text="50KB"),
                                             Budget("site_live_bytes", 51200, text="50KB")]))
    assert lines == ["  budget           limit  figure  verdict",
                     "  live_bytes       50KB   362 KB  BROKEN",
                     "  site_live_bytes  50KB   274 KB  BROKEN   site @bot.lua:71"]


def test_budgets_task_records_verdicts_and_raises(tmp_path: Path) -> None:
    run = tmp_path / "bot2"
    shutil.copytree(FIX / "bot2", run)
    (run / "summary.md").write_text("### ljprof: bot2\n")
    config = tmp_path / "profiles.yml"
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "bot.lua").write_text("")
    config.write_text("images: {default: {}}\nprofiles:\n  bot2:\n    workdir: bot\n    script: bot.lua\n"
                      "    profilers: {memprof: true}\n    budgets: {live_bytes: 50KB, duration: 1m}\n")
    out = io.StringIO()
    with pytest.raises(BudgetBroken) as info:
        commands.budgets(str(run), None, config, tmp_path, out)
    assert info.value.exit_code == 7
    assert str(info.value).startswith("1 budget(s) broken: live_bytes: 362 KB > 50KB")
    assert "live_bytes  50KB   362 KB  BROKEN" in out.getvalue()
    data = json.loads((run / "summary.json").read_text())
    assert data["budgets"]["ok"] is False
    assert [(v["budget"], v["verdict"]) for v in data["budgets"]["verdicts"]] == [
        ("live_bytes", "broken"), ("duration", "ok")]
    md = (run / "summary.md").read_text()
    assert md.startswith("### ljprof: bot2\n")
    assert "| live_bytes | 50KB | 362 KB | ❌ broken |  |" in md
    # a second check replaces the table instead of adding one
    with pytest.raises(BudgetBroken):
        commands.budgets(str(run), None, config, tmp_path, io.StringIO())
    assert (run / "summary.md").read_text().count("#### budgets") == 1


def test_limits_as_written_in_profiles_yml(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "bot.lua").write_text("")
    text = ("images: {default: {}}\ndefaults:\n  budgets: {duration: 2m}\nprofiles:\n  bot:\n    workdir: t\n"
            "    script: bot.lua\n    profilers: {memprof: true, cpu: true, gc: true}\n    budgets:\n"
            "      live_bytes: {max: 2MB, regression: 10%}\n      heap_growth: 1.5MB/min\n      gc_share: 0.2\n"
            "      interp_share: 35%\n      site_live_bytes: 4096\n      duration: {regression: 5%}\n")
    budgets = parse_config(text, "p.yml", tmp_path).profiles["bot"].budgets
    assert budgets == (Budget("duration", None, 0.05, ""), Budget("live_bytes", 2 * 1024**2, 0.1, "2MB"),
                       Budget("heap_growth", 1536.0, None, "1.5MB/min"), Budget("gc_share", 0.2, None, "0.2"),
                       Budget("interp_share", 0.35, None, "35%"), Budget("site_live_bytes", 4096.0, None, "4096"))
