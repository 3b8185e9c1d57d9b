"""The flame-graph module (ljprof/reporting/flame.py): folded and speedscope output against golden
files (speedscope's validated against its published schema, tests/fixtures/speedscope/), top_frames,
samples_by_location and the page's data. Input: tests/fixtures/flame/small.folded, the shape of a
3:1 program's stacks under cpu (see its README)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from ljprof.reporting import flame
from ljprof.reporting.model import SourceLines

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SMALL = FIXTURES / "flame" / "small.folded"


def read_folded(path: Path) -> dict[tuple[str, ...], int]:
    stacks = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        stacks[tuple(stack.split(";"))] = int(count)
    return stacks


STACKS = read_folded(SMALL)


def test_folded_is_the_input_sorted_and_merges_nothing_it_should_not() -> None:
    assert flame.folded(STACKS) == SMALL.read_text()
    assert flame.folded({("a;b", "c"): 2, ("x",): 0, (): 5}) == "a:b;c 2\n"


def test_speedscope_matches_golden_and_validates_against_the_schema() -> None:
    doc = flame.speedscope(STACKS, name="hot cpu", interval_s=0.01)
    golden = json.loads((FIXTURES / "flame" / "small.speedscope.json").read_text())
    assert doc == golden
    schema = json.loads((FIXTURES / "speedscope" / "file-format-schema.json").read_text())
    jsonschema.validate(doc, schema)
    profile = doc["profiles"][0]
    assert (profile["unit"], profile["endValue"], sum(profile["weights"])) == ("milliseconds", 1000.0, 1000.0)
    assert doc["shared"]["frames"][0] == {"name": "@hot.lua:31 main", "file": "hot.lua", "line": 31}
    counts = flame.speedscope(STACKS, name="n", interval_s=None)["profiles"][0]
    assert (counts["unit"], counts["weights"]) == ("none", [2, 73, 24, 1])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**doc, "profiles": [{**profile, "unit": "ticks"}]}, schema)


def test_top_frames_self_goes_to_the_deepest_real_frame() -> None:
    top = flame.top_frames(STACKS, 3)
    assert [(t.frame, t.self, t.total, t.self_pct, t.total_pct) for t in top] == [
        ("@hot.lua:9 slow", 75, 75, 75.0, 75.0),
        ("@hot.lua:16 fast", 24, 24, 24.0, 24.0),
        ("[builtin#29] format", 1, 1, 1.0, 1.0),
    ]
    rest = {t.frame: (t.self, t.total, t.total_pct) for t in flame.top_frames(STACKS, 10)[3:]}
    assert rest == {"@hot.lua:31 main": (0, 100, 100.0), "@hot.lua:24 spin": (0, 75, 75.0),
                    "@hot.lua:25 spin": (0, 25, 25.0)}
    # recursion counts a sample once in total
    rec = flame.top_frames({("f", "f", "f"): 4, ("g",): 4}, 1)[0]
    assert (rec.frame, rec.self, rec.total, rec.total_pct) == ("f", 4, 4, 50.0)


def test_vm_states_and_samples_by_location() -> None:
    assert flame.vm_states(STACKS) == {"interpreted": 73, "compiled": 24, "C": 3}
    assert flame.samples_by_location(STACKS) == {"@hot.lua:9": 75, "@hot.lua:16": 24, "@hot.lua:25": 1}
    assert flame.state_frame("GC") == "[GC]"
    with pytest.raises(ValueError, match="unknown VM state 'gc'"):
        flame.state_frame("gc")


def test_frame_names() -> None:
    assert flame.parse_frame("@bot.lua:68 handle") == flame.LuaFrame("@bot.lua", 68, "handle")
    assert flame.parse_frame("@/usr/share/lua/5.1/x.lua:3") == flame.LuaFrame("@/usr/share/lua/5.1/x.lua", 3, "")
    assert flame.parse_frame("[compiled]") is None
    assert flame.parse_frame("trace 3") is None
    assert flame.function_name("@bot.lua:68 handle") == "@bot.lua handle"
    assert flame.function_name("[GC]") == "[GC]"


def test_page_data_and_page() -> None:
    sources = SourceLines({"hot.lua": [f"line {i}" for i in range(1, 40)]})
    data = flame.page_data(STACKS, sources=sources)
    assert data["samples"] == 100
    frames = data["frames"]
    assert frames[:4] == ["@hot.lua:31 main", "@hot.lua:24 spin", "@hot.lua:9 slow", "[C]"]
    assert data["stacks"][0] == [2, 0, 1, 2, 3]
    assert data["source"][frames.index("@hot.lua:9 slow")] == "line 9"
    assert data["top"][0] == ["@hot.lua:9 slow", 75, 75, 75.0, 75.0, "line 9"]
    page = flame.flame_page({("@x.lua:1 f", "</script><b>"): 3}, title="t <1>", sources=sources)
    assert "<title>t &lt;1&gt;</title>" in page
    assert "<\\/script><b>" in page and page.count("</script>") == 2  # the data cannot end its element
    assert "http://" not in page and "https://" not in page  # self-contained
