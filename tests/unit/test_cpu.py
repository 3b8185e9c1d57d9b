"""The cpu profiler on recorded raw files (tests/fixtures/cpu/, see its README): stacks and frame
names, the 3:1 split, cut and off-CPU runs, and the loader's SIGPROF check."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import pytest

from ljprof.config.loader import parse_config
from ljprof.errors import ConfigError
from ljprof.profilers import PROFILERS, cpu
from ljprof.reporting import flame
from ljprof.reporting.model import RunDir

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "cpu"


def run_with(tmp_path: Path, fixture: str | None, timeline: list[dict[str, object]] | None = None) -> RunDir:
    (tmp_path / "raw").mkdir(parents=True)
    (tmp_path / "sources").mkdir()
    shutil.copyfile(REPO / "examples" / "hot" / "hot.lua", tmp_path / "sources" / "hot.lua")
    if fixture:
        shutil.copyfile(FIXTURES / fixture, tmp_path / "raw" / "cpu.txt")
    manifest = {"profile": "hot", "run_id": "r1", "timeline": timeline or []}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return RunDir.load(tmp_path)


def test_stacks_lose_the_harness_and_name_frames() -> None:
    raw = cpu.parse((FIXTURES / "hot.cpu.txt").read_text())
    assert (raw.interval_s, raw.depth, raw.flushes, raw.final, raw.harness_samples) == (0.01, 64, 12, True, 0)
    assert raw.stacks == {
        ("@hot.lua:37 (main chunk)", "@hot.lua:11 slow", "[interpreted]"): 219,
        ("@hot.lua:37 (main chunk)", "@hot.lua:18 fast", "[compiled]"): 78,
        ("@hot.lua:34 (main chunk)", "@hot.lua:27 calibrate", "@hot.lua:18 fn", "[compiled]"): 5,
        ("@hot.lua:34 (main chunk)", "@hot.lua:27 calibrate", "@hot.lua:11 fn", "[interpreted]"): 5,
    }
    # the interpreted one within 60-88% of the two hot functions' sum
    by_name = {flame.function_name(t.frame): t.self for t in flame.top_frames(raw.stacks, 10)}
    assert 0.60 <= by_name["@hot.lua slow"] / (by_name["@hot.lua slow"] + by_name["@hot.lua fast"]) <= 0.88


def test_frame_names_for_builtins_c_and_anonymous_functions() -> None:
    assert cpu._frame("[builtin#21] xpcall") == "[builtin#21] xpcall"
    assert cpu._frame("@0x556dd789e2b0 @0x556dd789e2b0") == "[C 0x556dd789e2b0]"
    assert cpu._frame("@0x55 require") == "[C 0x55] require"
    assert cpu._frame("/ljprof/target/lib/x.lua:5 /ljprof/target/lib/x.lua:3") == "@lib/x.lua:5 <x.lua:3>"
    assert cpu._frame("/usr/share/lua/5.1/socket.lua:9 sleep") == "@/usr/share/lua/5.1/socket.lua:9 sleep"


def test_section_headline_summary_and_pages(tmp_path: Path) -> None:
    section = PROFILERS["cpu"].report(run_with(tmp_path, "hot.cpu.txt"))
    assert section.state == "complete"
    assert section.headline == ("cpu: 307 samples; hottest @hot.lua:11 slow 71.3% self, 71.3% total "
                                "`for i = 1, n do x = (x + i * 7) % 1000003 end`")
    top = section.summary_top["cpu"]
    assert top["samples"] == 307
    assert top["top"][:2] == [{"frame": "@hot.lua:11 slow", "self_pct": 71.34, "total_pct": 71.34},
                              {"frame": "@hot.lua:18 fast", "self_pct": 25.41, "total_pct": 25.41}]
    assert section.summary["vm_states"] == {"interpreted": 224, "compiled": 83}
    assert [p.name for p in section.pages] == ["cpu.html", "cpu.folded", "cpu.speedscope.json"]
    assert "<code>@hot.lua:11 slow</code></td><td class=\"num\">71.3</td>" in section.html


def test_cut_and_off_cpu_runs(tmp_path: Path) -> None:
    cut = PROFILERS["cpu"].report(run_with(tmp_path / "a", "cut.cpu.txt"))
    assert (cut.state, cut.why) == ("cut", "no final flush: the target was killed; the counts are those of "
                                    "flush 3 (about every second)")
    assert cut.summary_top["cpu"]["samples"] == 297
    timeline = [{"event": "start", "t": 1.0, "detail": "cpu"}, {"event": "stop", "t": 3.5, "detail": "cpu"}]
    (tmp_path / "idle.txt").write_text("# ljprof cpu 1 interval_ms=10 depth=64 flushes=3 final=1\n"
                                       "2\tI\t/ljprof/harness/run.lua:223 x;[builtin#21] xpcall;sleepy.lua:5 "
                                       "sleepy.lua:0\n")
    idle_run = run_with(tmp_path / "b", None, timeline)
    shutil.copyfile(tmp_path / "idle.txt", idle_run.raw / "cpu.txt")
    idle = PROFILERS["cpu"].report(idle_run)
    assert idle.headline.endswith("(few samples (2): the target was mostly off CPU (0.02 s sampled in 2.5 s))")
    assert idle.summary["note"] == "few samples (2): the target was mostly off CPU (0.02 s sampled in 2.5 s)"
    absent = PROFILERS["cpu"].report(run_with(tmp_path / "c", None))
    assert absent.state == "absent"


class _Sigprof:
    """A stand-in for sysprof: a profiler that takes SIGPROF."""

    name = "sysprof"
    summary = "test"
    signals = ("SIGPROF",)
    options: Mapping[str, object] = MappingProxyType({})


def test_two_profilers_on_sigprof_are_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(PROFILERS, "sysprof", _Sigprof())
    (tmp_path / "t.lua").write_text("")
    text = ("images:\n  default: {}\nprofiles:\n  p:\n    script: t.lua\n    workdir: .\n"
            "    profilers: {cpu: {}, sysprof: true}\n")
    with pytest.raises(ConfigError) as info:
        parse_config(text, "p.yml", tmp_path)
    assert str(info.value) == (
        "p.yml:7:16: profiles.p.profilers: cpu and sysprof both use SIGPROF: only one of them can run in a "
        "profile\n  hint: switch one off here (e.g. 'sysprof: false'), or profile twice")
    ok = parse_config(text.replace("sysprof: true", "sysprof: false"), "p.yml", tmp_path)
    assert ok.profiles["p"].profilers["cpu"] == {"interval": 0.01, "depth": 64}
