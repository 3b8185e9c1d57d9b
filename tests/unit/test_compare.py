"""invoke compare on recorded run directories (tests/fixtures/compare/README.md): exact deltas, moved lines."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ljprof import commands
from ljprof.compare.diff import compare
from ljprof.compare.flamediff import FlameDiff
from ljprof.compare.output import MARKDOWN_LIMIT, markdown, page
from ljprof.compare.runs import Run, resolve_pair
from ljprof.errors import ConfigError
from ljprof.figures import FIGURES, NOT_MEASURED

FIX = Path(__file__).parent.parent / "fixtures" / "compare"


def _cmp(base: str, head: str) -> dict:
    return compare(Run.load(FIX / base), Run.load(FIX / head))


def test_second_leak_is_named_first_with_its_bytes() -> None:
    data = _cmp("bot", "bot2")
    first = data["sites"]["rows"][0]
    assert first["key"] == "@bot.lua:79"
    assert first["matched_by"] == "new"
    assert first["live_bytes"] == {"base": 0, "head": 48240, "delta": 48240}
    assert first["allocs"] == {"base": 0, "head": 267, "delta": 267}
    assert first["source"].startswith("seen[#seen + 1] = { id = update.update_id")


def test_moved_leak_is_matched_by_source_text() -> None:
    rows = {r["key"]: r for r in _cmp("bot", "bot2")["sites"]["rows"]}
    leak = rows["@bot.lua:71"]
    assert leak["matched_by"] == "source text" and leak["base_key"] == "@bot.lua:68"
    assert leak["live_bytes"] == {"base": 280927, "head": 280927, "delta": 0}
    assert rows["@bot.lua:78"]["base_key"] == "@bot.lua:75"
    assert rows["@bot.lua:36"]["live_bytes"] == {"base": 1480, "head": 6419, "delta": 4939}
    assert rows["@bot.lua:95"]["matched_by"] == "gone"
    assert _cmp("bot", "bot2")["sites"]["moved"] == 2


def test_figures_and_notes() -> None:
    data = _cmp("bot", "bot2")
    assert data["notes"] == ["the base is a run of another profile: 'bot' (head: 'bot2')"]
    figures = {f["name"]: f for f in data["figures"]}
    assert figures["live_bytes"]["delta"] == 370367 - 313498
    assert figures["heap_growth"]["delta"] == pytest.approx(4290.8 - 3520.2)
    assert figures["peak_memory"]["base"] == 2020 * 1024 and figures["peak_memory"]["head"] == 1772 * 1024
    assert figures["gc_share"]["note"] == f"{NOT_MEASURED} (neither run)"  # the bot sleeps: no cpu samples
    assert set(figures) == set(FIGURES)


def test_keys_of_jit_snapshot_and_cpu() -> None:
    data = _cmp("keys-base", "keys-head")
    assert data["notes"] == ["the base ran another LuaJIT commit: aaaaaaaaaaaa (head: bbbbbbbbbbbb)"]
    figures = {f["name"]: f for f in data["figures"]}
    assert figures["trace_aborts"]["base"] == 6 and figures["trace_aborts"]["head"] == 13
    assert figures["gc_share"]["base"] == pytest.approx(0.1) and figures["gc_share"]["head"] == pytest.approx(0.3)
    assert figures["interp_share"]["delta"] == pytest.approx(-0.05)
    assert figures["peak_memory"]["note"] == f"{NOT_MEASURED}: the head"
    assert data["heap"]["growing"] == {"base": False, "head": True}
    aborts = data["aborts"]["rows"]
    assert [(r["key"], r.get("base_key"), r["count"]["delta"]) for r in aborts] == [
        ("@app.lua:8", "@app.lua:6", 7), ("@app.lua:5", "@app.lua:3", 0)]
    assert [(r["key"], r["count"]["delta"], r["matched_by"]) for r in data["retained"]["rows"]] == [
        ("cache[]", 300, "location"), ("seen[]", 20, "new"), ("sessions.*.recent[]", 0, "location")]
    frames = {r["key"]: r for r in data["frames"]["rows"]}
    assert frames["@app.lua:8 step"]["base_key"] == "@app.lua:6 step"
    assert frames["@app.lua:8 step"]["self_pct"]["delta"] == 20.0
    assert data["sites"]["note"] == f"{NOT_MEASURED} (neither run)"


def test_differential_flame_graph_normalises_and_follows_moved_lines() -> None:
    flame = FlameDiff.of(Run.load(FIX / "keys-base"), Run.load(FIX / "keys-head"))
    assert (flame.base_samples, flame.head_samples) == (200, 300)
    main = flame.root.children["@app.lua:12 (main chunk)"]  # the base's line 10, renamed
    assert main.head == 300 and main.base == pytest.approx(300)
    step = main.children["@app.lua:9 step"]
    assert step.head == 90 and step.base == pytest.approx(120)  # 80 samples x 300/200
    changes = {c["stack"].rsplit(";", 1)[-1]: c["delta_pp"] for c in flame.changes()}
    assert changes == {"@app.lua:8 step": 20.0, "@app.lua:5 parse": -10.0, "@app.lua:12 (main chunk)": -10.0,
                       "@app.lua:9 step": 0.0}
    svg = flame.svg()
    assert svg.count("<rect") == 5 and "rgb(255,65,65)" in svg  # step's own samples grew most: reddest


def test_recorded_cpu_runs() -> None:
    data = _cmp("hot", "hot2")
    frames = {r["key"]: r for r in data["frames"]["rows"]}
    assert frames["@hot.lua:17 checksum"]["base_key"] == "@hot.lua:16 checksum"
    assert frames["@hot.lua:17 checksum"]["self_pct"] == {"base": 36.25, "head": 40.75, "delta": 4.5}
    same_key = [(r["matched_by"], r["self_pct"]["delta"]) for r in data["frames"]["rows"]
                if r["key"] == "@hot.lua:10 format"]
    assert same_key == [("new", 20.8), ("gone", -18.21)]  # its text changed: not the same line any more
    assert data["flame"]["base_samples"] == 571 and data["flame"]["head_samples"] == 697


def test_outputs_written_into_the_head_directory(tmp_path: Path) -> None:
    import shutil
    for name in ("bot", "bot2"):
        shutil.copytree(FIX / name, tmp_path / name)
    out = io.StringIO()
    commands.compare(str(tmp_path / "bot"), str(tmp_path / "bot2"), tmp_path, out)
    text = out.getvalue()
    assert "+47 KB  @bot.lua:79  (0 B -> 47 KB; new" in text
    assert "moved from @bot.lua:68 (same source line)" in text
    saved = json.loads((tmp_path / "bot2" / "compare.json").read_text())
    assert saved["sites"]["rows"][0]["key"] == "@bot.lua:79"
    md = (tmp_path / "bot2" / "compare.md").read_text()
    assert "| `@bot.lua:79` | 0 B | 47 KB | +47 KB |" in md
    html = (tmp_path / "bot2" / "compare.html").read_text()
    assert "<script src" not in html and "http" not in html.split("<body>")[1]
    assert "the base is a run of another profile" in html


def test_markdown_stays_under_64_kb() -> None:
    data = _cmp("bot", "bot2")
    row = data["sites"]["rows"][0]
    data["sites"]["rows"] = [dict(row, key=f"@big.lua:{i} " + "x" * 3000) for i in range(200)]
    text = markdown(data)
    assert len(text.encode()) <= MARKDOWN_LIMIT
    assert page(data, FlameDiff(note="none")).count("@big.lua:") == 200


def test_profile_names_pick_the_latest_two(tmp_path: Path) -> None:
    import shutil
    for name in ("20260101T000000000Z-aaaaaa", "20260101T000100000Z-bbbbbb", "20260101T000200000Z-c"):
        shutil.copytree(FIX / "bot", tmp_path / "bot" / name)
    base, head = resolve_pair(None, "bot", tmp_path)
    assert (base.name, head.name) == ("20260101T000100000Z-bbbbbb", "20260101T000200000Z-c")
    base, head = resolve_pair("bot@20260101T000000000Z-aaaaaa", "bot", tmp_path)
    assert base.name == "20260101T000000000Z-aaaaaa"
    with pytest.raises(ConfigError, match="there is no run nope of profile 'bot'"):
        resolve_pair("bot@nope", "bot", tmp_path)
