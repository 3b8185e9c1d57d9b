"""Growth over time: memprof's time windows, split at the harness's markers, and the `growing` rule.

The recorded fixture (tests/fixtures/memprof/windows.bin, README.md says how
it was made and where its numbers come from): a start-up cache, a steady
leak and garbage, a marker between phases. Then made-up streams for the
edges (no marker, a marker first or last, a file cut inside a window), the
rule on its own, and the windows' times from a run's timeline.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ljprof import commands
from ljprof.profilers.memprof import MemprofProfile, available_decoders, findings, parse_stream
from ljprof.profilers.memprof.build import build_profile
from ljprof.profilers.memprof.decoder import decode_stream
from ljprof.profilers.memprof.model import LiveSite, SiteWindow, Windows
from ljprof.profilers.memprof.section import memprof_section
from ljprof.profilers.memprof.windows import WindowTimes, growing, live_at_ends, warmup_windows, window_times
from ljprof.reporting.model import RunDir, Section
from tests.unit.test_memprof_live import LUA, at, stream
from tests.unit.test_memprof_parse import reference_windows, windows_outcome
from tests.unit.test_memprof_reference import FIXTURES, fixture_bytes

DECODERS = list(available_decoders())
MARKER_PROTO = 0x7000
MARKER_SYM = ("lua", MARKER_PROTO, b"=ljprof_marker", 1)
MARKER_AT = ("lua", MARKER_PROTO, 1)


def profile_of(data: bytes, decoder: str, max_windows: int = 512) -> MemprofProfile:
    raw, end = decode_stream(io.BytesIO(data), "t.bin", decoder=decoder, max_windows=max_windows)
    return build_profile(raw, end, "t.bin")


def row(profile: MemprofProfile, name: str) -> LiveSite:
    [found] = [site for site in profile.sites if site.location.name == name]
    return found


def cells(site: LiveSite) -> list[tuple[int, ...]]:
    """(window, chunks placed, bytes placed, live bytes at its end, still live chunks, bytes) per window."""
    return [(w.window, w.allocated_chunks, w.allocated_bytes, w.live_bytes, w.still_live_chunks,
             w.still_live_bytes) for w in site.windows]


# -- the recorded fixture --------------------------------------------------------------------------


@pytest.mark.parametrize("decoder", DECODERS)
def test_the_cache_is_not_growing_and_the_leak_is(decoder: str) -> None:
    p = parse_stream(io.BytesIO(fixture_bytes("windows.bin")), "windows.bin", decoder=decoder)
    assert p.complete and p.windows == Windows(count=10, markers=9, stride=1)

    cache = row(p, "@windows.lua:7")
    assert (cache.growing, cache.stats.live_bytes, cache.stats.live_chunks) == (False, 6632, 101)
    # 100 tables of 56 bytes and the cache's array (1032 bytes after 7 reallocs), all in window 0.
    assert cells(cache) == [(0, 107, 7688, 6632, 101, 6632)]
    assert 100 * 56 + 1032 == 6632
    assert live_at_ends(cache.windows, 10) == [6632] * 10

    leak = row(p, "@windows.lua:8")
    assert (leak.growing, leak.stats.live_bytes, leak.stats.live_chunks) == (True, 4104, 65)
    assert cells(leak) == [
        (1, 11, 584, 520, 8, 448),
        (2, 9, 584, 1032, 8, 448),
        (3, 9, 712, 1608, 8, 448),
        (4, 8, 448, 2056, 8, 448),
        (5, 9, 968, 2760, 9, 968),  # 8 tables and the leak's array as it is at the end (64 slots)
        (6, 8, 448, 3208, 8, 448),
        (7, 8, 448, 3656, 8, 448),
        (8, 8, 448, 4104, 8, 448),
    ]
    assert 8 * 56 == 448 and 64 * 8 + 8 == 968 - 448
    # No event in window 9 (only the final full GC): its live bytes are those of window 8.
    assert live_at_ends(leak.windows, 10) == [0, 520, 1032, 1608, 2056, 2760, 3208, 3656, 4104, 4104]

    garbage = row(p, "@windows.lua:9")
    assert (garbage.growing, garbage.stats.live_bytes, garbage.stats.peak_bytes) == (False, 0, 2128)
    # 17 tables and 4 reallocs of the array a window; the GC frees them at the end of the even windows.
    assert cells(garbage) == [(w, 21, 1200, 1064 if w % 2 else 0, 0, 0) for w in range(1, 9)]

    # The markers: out of the rows a user sees, counted in a note; in the parser's text as the peer has them.
    marker = row(p, "=ljprof_marker:1")
    assert marker.marker and not marker.harness
    assert [w.allocated_bytes for w in marker.windows] == [32] * 9
    assert [site.location.name for site in findings.visible_sites(p)] == [
        "@windows.lua:7", "@windows.lua:8", "@windows.lua:9"]
    assert findings.marker_note(p) == (
        "9 time-window markers of ljprof's harness (=ljprof_marker:1, 288 B allocated) not shown")
    assert findings.hidden(p).sites == 0
    assert [s.location.name for s in findings.growing_sites(p)] == ["@windows.lua:8"]
    [marker_allocs] = [s for s in p.allocations if s.location.text == "=ljprof_marker:1"]
    assert (marker_allocs.events, marker_allocs.allocated) == (9, 288)


@pytest.mark.parametrize("decoder", DECODERS)
def test_windows_past_the_limit_are_merged_two_by_two(decoder: str) -> None:
    # At most 4 windows: at the 4th marker windows merge to 2 (2 markers each), at the 8th to 2 again (4 each).
    p = profile_of(fixture_bytes("windows.bin"), decoder, max_windows=4)
    assert p.windows == Windows(count=3, markers=9, stride=4)
    leak = row(p, "@windows.lua:8")
    # Windows 0-3 of the fixture (4 markers each; window 0 has no leak), 4-7, then 8 and 9.
    assert cells(leak) == [(0, 29, 1880, 1608, 24, 1344), (1, 33, 2312, 3656, 33, 2312),
                           (2, 8, 448, 4104, 8, 448)]
    assert leak.growing is True
    assert cells(row(p, "@windows.lua:7")) == [(0, 107, 7688, 6632, 101, 6632)]
    assert row(p, "@windows.lua:7").growing is False
    data = fixture_bytes("windows.bin")
    for m in (2, 3, 4, 5, 512):
        assert windows_outcome(data, decoder, max_windows=m) == reference_windows(data, m), m


def test_max_windows_is_checked() -> None:
    for decoder, factory in available_decoders().items():
        for bad in (0, 1, 513):
            with pytest.raises(ValueError, match=r"max_windows must be 2\.\.512"):
                factory(bad)
        assert factory(512) is not None, decoder


# -- made-up streams: the edges --------------------------------------------------------------------

SYMS = [*LUA, MARKER_SYM]


def marker(addr: int) -> tuple[object, ...]:
    return ("alloc", MARKER_AT, addr, 32)


def profiles(data: bytes) -> list[MemprofProfile]:
    """Each decoder's profile, after checking its windows against the reference decoder's."""
    for decoder in DECODERS:
        assert windows_outcome(data, decoder) == reference_windows(data), decoder
    return [profile_of(data, decoder) for decoder in DECODERS]


def test_no_marker_is_one_window_and_growth_is_not_measured() -> None:
    data = stream(LUA, [("alloc", at(3), 0x10, 100), ("alloc", at(3), 0x20, 50), ("free", at(4), 0x10, 100)])
    for p in profiles(data):
        assert p.windows == Windows(count=1, markers=0, stride=1)
        site = row(p, "@app.lua:3")
        assert cells(site) == [(0, 2, 150, 50, 1, 50)]
        assert site.growing is None
        assert findings.marker_note(p) == ""


def test_a_marker_first_leaves_window_0_empty() -> None:
    data = stream(SYMS, [marker(0x90), ("alloc", at(3), 0x10, 100), marker(0x91), ("alloc", at(3), 0x20, 200)])
    for p in profiles(data):
        assert p.windows == Windows(count=3, markers=2, stride=1)
        site = row(p, "@app.lua:3")
        assert cells(site) == [(1, 1, 100, 100, 1, 100), (2, 1, 200, 300, 1, 200)]
        assert live_at_ends(site.windows, 3) == [0, 100, 300]
        # 3 windows, 1 of warm-up: up in both windows after it, but by 300 bytes only (less than 1 KB).
        assert site.growing is False
        assert cells(row(p, "=ljprof_marker:1")) == [(1, 1, 32, 32, 1, 32), (2, 1, 32, 64, 1, 32)]


def test_a_marker_last_leaves_the_last_window_empty() -> None:
    events: list[tuple[object, ...]] = []
    for w in range(5):
        events += [("alloc", at(3), 0x100 + w, 600), marker(0x90 + w)]
    data = stream(SYMS, events)
    for p in profiles(data):
        assert p.windows == Windows(count=6, markers=5, stride=1)
        site = row(p, "@app.lua:3")
        assert [c[0] for c in cells(site)] == [0, 1, 2, 3, 4]  # nothing in window 5
        assert live_at_ends(site.windows, 6) == [600, 1200, 1800, 2400, 3000, 3000]
        # After window 0: up in 4 of 5 steps, by 2400 bytes: growing.
        assert site.growing is True


def test_a_file_cut_in_the_middle_of_a_window() -> None:
    events = [("alloc", at(3), 0x10, 100), marker(0x90), ("alloc", at(3), 0x20, 200), ("free", at(4), 0x10, 100),
              marker(0x91), ("alloc", at(3), 0x30, 400), ("alloc", at(3), 0x40, 800)]
    whole = stream(SYMS, events, end=False)
    cut = whole[:-2]  # inside the last alloc: window 2 has only the one before it
    for p in profiles(cut):
        assert not p.complete and p.windows == Windows(count=3, markers=2, stride=1)
        site = row(p, "@app.lua:3")
        assert cells(site) == [(0, 1, 100, 100, 0, 0), (1, 1, 200, 200, 1, 200), (2, 1, 400, 600, 1, 400)]


def test_a_marker_announced_mid_stream_and_a_trace_at_its_line_are_no_markers() -> None:
    events: list[tuple[object, ...]] = [
        ("alloc", at(1), 0x10, 8),  # line 1 of another chunk
        ("alloc", ("lua", MARKER_PROTO, 2), 0x11, 8),  # the marker's chunk, another line
        ("sym", MARKER_SYM),
        ("alloc", MARKER_AT, 0x12, 32),
        ("sym", ("trace", 1, MARKER_PROTO, 1)),
        ("alloc", ("trace", 1), 0x13, 16),  # a trace that starts at the marker's line
        ("alloc", MARKER_AT, 0x14, 32),
    ]
    for p in profiles(stream(LUA, events)):
        assert p.windows == Windows(count=3, markers=2, stride=1)
        # The trace's chunk is in the marker's row (a line with its traces), hidden with it.
        assert [(c[0], c[2]) for c in cells(row(p, "=ljprof_marker:1"))] == [(1, 48), (2, 32)]


# -- the rule --------------------------------------------------------------------------------------


def test_the_growing_rule() -> None:
    cache = [50_000] + [50_000] * 9  # filled once, in the first window
    leak = [1000 * (i + 1) for i in range(10)]  # a bit more every window
    assert growing(cache) is False
    assert growing(leak) is True
    assert growing([0, 1]) is None and growing([5]) is None  # too few windows
    assert growing([0, 2000, 4000]) is True  # 3 windows: warm-up 1, up in 2 of 2
    # Garbage the GC frees: up and down, and nothing left at the end.
    assert growing([0, 3000, 0, 3000, 0, 3000, 0, 3000, 0, 0]) is False
    # Up in most windows but by less than MIN_RISE (1 KB) in all: noise.
    assert growing([100 + 100 * i for i in range(10)]) is False
    # Up in only half of the windows after the warm-up, however much.
    assert growing([0, 10_000, 10_000, 20_000, 20_000, 30_000, 30_000, 40_000, 40_000, 50_000]) is False
    # Up in 2/3 of them: growing.
    assert growing([0, 10_000, 20_000, 20_000, 30_000, 40_000, 40_000]) is True
    # A cache filled over the warm-up only (20 windows: 2 of warm-up).
    assert growing([10_000, 20_000] + [20_000] * 18) is False
    assert [warmup_windows(n) for n in (1, 3, 9, 10, 19, 20, 512)] == [1, 1, 1, 1, 1, 2, 51]


def test_live_at_ends_carries_a_value_over_windows_without_events() -> None:
    windows = (SiteWindow(1, 1, 10, 10, 0, 0), SiteWindow(4, 0, 0, 3, 0, 0))
    assert live_at_ends(windows, 6) == [0, 10, 10, 10, 3, 3]
    assert live_at_ends((), 2) == [0, 0]


# -- the windows' times ----------------------------------------------------------------------------


def timeline(*marks: float, stop: float | None = 9.0) -> list[dict[str, object]]:
    events: list[dict[str, object]] = [{"event": "begin", "t": 0.0, "detail": "x.lua"},
                                       {"event": "start", "t": 0.5, "detail": "memprof"}]
    events += [{"event": "window", "t": t, "detail": str(n)} for n, t in enumerate(marks, start=1)]
    if stop is not None:
        events.append({"event": "stop", "t": stop, "detail": "memprof"})
    return [*events, {"event": "end", "t": 9.5, "detail": "ok"}]


def test_window_times_come_from_the_harness_timeline() -> None:
    assert window_times(timeline(1.5, 2.5, 3.5), Windows(4, 3, 1)) == WindowTimes(0.5, (1.5, 2.5, 3.5, 9.0))
    # Merged windows end at every stride-th marker.
    assert window_times(timeline(1, 2, 3, 4, 5), Windows(3, 5, 2)) == WindowTimes(0.5, (2.0, 4.0, 9.0))
    # No marker: one window, from memprof's start to its stop (else the run's end).
    assert window_times(timeline(), Windows()) == WindowTimes(0.5, (9.0,))
    assert window_times(timeline(stop=None), Windows()) == WindowTimes(0.5, (9.5,))
    # A marker the stream has and the timeline lacks: no times (the pages number the windows).
    assert window_times(timeline(1.5), Windows(3, 2, 1)) is None
    # More window lines than markers (the file was cut): the extra ones are not used.
    assert window_times(timeline(1.5, 2.5, 3.5), Windows(2, 1, 1)) == WindowTimes(0.5, (1.5, 9.0))
    assert window_times([], Windows()) is None


def test_the_windows_in_json() -> None:
    p = profile_of(fixture_bytes("windows.bin"), DECODERS[0])
    data = p.to_json()
    assert data["format"] == "ljprof-memprof/3"
    assert data["windows"] == {"count": 10, "markers": 9, "stride": 1}
    leak = next(s for s in data["sites"] if s["location"]["text"] == "@windows.lua:8")
    assert leak["growing"] is True and leak["marker"] is False
    assert leak["windows"][0] == {"window": 1, "allocated_chunks": 11, "allocated_bytes": 584, "live_bytes": 520,
                                  "still_live_chunks": 8, "still_live_bytes": 448}
    assert next(s for s in data["sites"] if s["location"]["text"] == "=ljprof_marker:1")["marker"] is True


# -- the reports -----------------------------------------------------------------------------------

WINDOWS_LUA = """\
-- A start-up cache (line 7), a steady leak (line 8) and garbage (line 9),
-- with a marker between phases, as ljprof's harness puts them in the stream.
jit.off()
local marker = assert(load("return function() return {} end", "=ljprof_marker"))()
local cache, leak = {}, {}
local fill, keep, churn
function fill(i) cache[i] = { i, i } end
function keep(n) leak[#leak + 1] = { n } end
function churn(n) local t = {} for j = 1, n do t[j] = { j } end return #t end
"""


def windows_run(tmp_path: Path, *, marks: int = 9) -> RunDir:
    """A run directory holding windows.bin, its source, and a timeline with `marks` "window N" lines."""
    folder = tmp_path / "run"
    (folder / "raw").mkdir(parents=True)
    (folder / "sources").mkdir()
    (folder / "raw" / "memprof.bin").write_bytes(fixture_bytes("windows.bin"))
    (folder / "sources" / "windows.lua").write_text(WINDOWS_LUA)
    events = [{"event": "begin", "t": 0.0001, "detail": "windows.lua"},
              {"event": "start", "t": 0.002, "detail": "memprof"}]
    events += [{"event": "window", "t": round(0.002 + 0.5 * n, 3), "detail": str(n)} for n in range(1, marks + 1)]
    events += [{"event": "stop", "t": 4.75, "detail": "memprof"}, {"event": "end", "t": 4.8, "detail": "ok"}]
    manifest = {"profile": "windows", "run_id": "r1", "command": ["luajit", "windows.lua"], "timeline": events}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return RunDir.load(folder)


def page(section: Section, name: str) -> str:
    out = io.StringIO()
    next(p for p in section.pages if p.name == name).render(out)
    return out.getvalue()


def test_the_section_marks_the_growing_site(tmp_path: Path) -> None:
    section = memprof_section(windows_run(tmp_path))
    assert section.headline == (
        "memprof: @windows.lua:7 holds 6.5 KB live (101 chunks) — windows.lua:7 "
        "`function fill(i) cache[i] = { i, i } end`; growing: @windows.lua:8 (4.0 KB live)")
    top = section.summary_top["memprof"]["top_sites"]
    assert [(s["location"], s["live_bytes"], s["growing"]) for s in top] == [
        ("@windows.lua:7", 6632, False), ("@windows.lua:8", 4104, True)]
    assert section.summary["windows"] == 10
    assert section.summary["sites"] == 3  # the markers' row is not one of them
    assert section.console == (
        "memprof: still live at the end (top 2 sites):",
        "    6.5 KB in    101 chunks (peak 6.5 KB)  @windows.lua:7  function fill(i) cache[i] = { i, i } end",
        "    4.0 KB in     65 chunks (peak 4.0 KB)  @windows.lua:8 (growing)  "
        "function keep(n) leak[#leak + 1] = { n } end",
        "memprof: growing over 10 time windows: @windows.lua:8 (4.0 KB)",
        "memprof: 9 time-window markers of ljprof's harness (=ljprof_marker:1, 288 B allocated) not shown",
    )
    assert '<code>@windows.lua:8</code> <strong style="color:#cf222e">growing</strong>' in section.html
    assert "| `@windows.lua:8` growing | 4.0 KB |" in section.markdown
    assert "Growing over 10 time windows: @windows.lua:8 (4.0 KB)." in section.markdown


def test_the_page_plots_the_top_sites_over_the_windows_times(tmp_path: Path) -> None:
    section = memprof_section(windows_run(tmp_path))
    html = page(section, "memprof.html")
    assert "<h2>Live over time</h2>" in html
    assert "from\n0.0 s to 4.8 s (4.7 s) on the harness's clock" in html
    assert html.count("<figure") == 3 and html.count('<figure class="growing">') == 1
    assert html.count("<polyline") == 3 and "=ljprof_marker" not in html.split("<h2>Heap summary")[0].replace(
        "=ljprof_marker:1, 288 B allocated", "")
    # The leak's plot: 11 points (the start, then each window's end), its dots' tooltips with times.
    leak = html.split('<figure class="growing">')[1].split("</figure>")[0]
    assert "<code>@windows.lua:8</code>" in leak
    assert "4.0 KB live at the end; +4.0 KB after the warm-up, up in 8 of 9 windows" in leak
    assert len(leak.split('points="')[1].split('"')[0].split()) == 11
    assert "<title>0.5-1.0 s: 520 B live at its end</title>" in leak
    assert ">0.0 s</text>" in leak and ">4.8 s</text>" in leak
    data = json.loads(page(section, "memprof.json"))
    assert data["windows"]["times"] == {"start": 0.002, "ends": [0.502, 1.002, 1.502, 2.002, 2.502, 3.002, 3.502,
                                                                  4.002, 4.502, 4.75]}
    # The parser's text is untouched: the markers are in it, as the peer prints them.
    assert page(section, "memprof.txt") == (FIXTURES / "windows.bin.txt").read_text()


def test_without_the_window_lines_the_page_numbers_the_windows(tmp_path: Path) -> None:
    section = memprof_section(windows_run(tmp_path, marks=3))  # the timeline lacks markers 4 to 9
    html = page(section, "memprof.html")
    assert "(by window number: no times outside a run)" in html
    assert ">0</text>" in html and ">10</text>" in html
    assert "<title>window 1: 520 B live at its end</title>" in html
    assert "times" not in json.loads(page(section, "memprof.json"))["windows"]


def test_a_page_rendered_outside_a_run_numbers_the_windows(tmp_path: Path) -> None:
    out = io.StringIO()
    html_out = tmp_path / "m.html"
    commands.memprof_file(FIXTURES / "windows.bin", out, html_out=str(html_out), json_out=str(tmp_path / "m.json"))
    html = html_out.read_text()
    assert html.count("<figure") == 3 and "(by window number: no times outside a run)" in html
    assert json.loads((tmp_path / "m.json").read_text())["windows"] == {"count": 10, "markers": 9, "stride": 1}
    assert out.getvalue() == (FIXTURES / "windows.bin.txt").read_text()


def test_no_markers_say_no_time_windows_where_the_plot_would_be(tmp_path: Path) -> None:
    out = io.StringIO()
    html_out = tmp_path / "leak.html"
    commands.memprof_file(FIXTURES / "leak.bin", out, html_out=str(html_out))
    html = html_out.read_text()
    after = html.split("<h2>Live over time</h2>")[1].split("<h2>")[0]
    assert "<p class=\"note\">No time windows: the stream has no markers" in after and "<svg" not in after
    run = windows_run(tmp_path)
    (run.raw / "memprof.bin").write_bytes(fixture_bytes("leak.bin"))
    section = memprof_section(run)
    assert section.summary["windows"] == 1
    assert section.summary_top["memprof"]["top_sites"][0]["growing"] is None
    assert "memprof: no time windows (no markers in the stream): growth over time not measured" in section.console
    assert "No time windows (no markers in the stream)" in section.html
