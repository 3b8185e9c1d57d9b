"""Growth over time: memprof's time windows, split at the harness's markers, and the `growing` rule.

The recorded fixture (tests/fixtures/memprof/windows.bin, README.md says how
it was made and where its numbers come from): a start-up cache, a steady
leak and garbage, a marker between phases. Then made-up streams for the
edges (no marker, a marker first or last, a file cut inside a window), the
rule on its own, and the windows' times from a run's timeline.
"""

from __future__ import annotations

import io

import pytest

from ljprof.profilers.memprof import MemprofProfile, available_decoders, findings, parse_stream
from ljprof.profilers.memprof.build import build_profile
from ljprof.profilers.memprof.decoder import decode_stream
from ljprof.profilers.memprof.model import LiveSite, SiteWindow, Windows
from ljprof.profilers.memprof.windows import WindowTimes, growing, live_at_ends, warmup_windows, window_times
from tests.unit.test_memprof_live import LUA, at, stream
from tests.unit.test_memprof_parse import reference_windows, windows_outcome
from tests.unit.test_memprof_reference import fixture_bytes

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
