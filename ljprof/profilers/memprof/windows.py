"""Growth over time: memprof's time windows, the `growing` rule, and the windows' times.

memprof's events carry no time. ljprof's harness puts markers in the stream
(an allocation at "=ljprof_marker":1, every `windows` seconds) and logs each
marker's time in raw/harness.tsv ("window N"); the decoders split the stream
there (format.py). Per row (a Lua line with its traces, a C function,
INTERNAL) and window, the model has `SiteWindow`s: what the row placed in the
window and its live bytes at the window's end.

The rule, `growing(live)`, over a row's live bytes at the end of each window:

- None (not measured) with fewer than MIN_WINDOWS windows: one window when
  the stream has no marker (windows off, a file recorded without the
  harness, a target blocked in C since the profile started), two with one;
- the first tenth of the windows (WARMUP_WINDOWS; at least one) are warm-up: what
  a program fills once while it starts (a cache, modules) is not growth;
- after the warm-up, each window is a step from the end of the one before: a
  row is growing when its live bytes went up in at least RISE_SHARE of those
  steps (a leak adds a bit in nearly every window; garbage that the GC frees
  goes up and down) and, from the end of the warm-up to the end of the
  profile, rose by at least MIN_RISE bytes (a few bytes more is noise, and a
  row whose garbage was collected at the end rose by nothing).

The end of the last window is the end of the profile: the harness collects
garbage just before it stops memprof, so that value is what is really live.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ljprof.profilers.memprof.model import SiteWindow, Windows

MIN_WINDOWS = 3
WARMUP_WINDOWS = 10  # the first tenth of the windows is warm-up
RISE_SHARE = (2, 3)  # at least 2/3 of the steps after the warm-up go up
MIN_RISE = 1024  # bytes, from the end of the warm-up to the end of the profile


def live_at_ends(cells: Sequence[SiteWindow], count: int) -> list[int]:
    """A row's live bytes at the end of each of `count` windows (cells only where it had events)."""
    out: list[int] = []
    live = 0
    cells_iter = iter(cells)
    cell = next(cells_iter, None)
    for window in range(count):
        if cell is not None and cell.window == window:
            live = cell.live_bytes
            cell = next(cells_iter, None)
        out.append(live)
    return out


def warmup_windows(count: int) -> int:
    """How many of `count` windows are warm-up: the first tenth, at least one."""
    return max(1, count // WARMUP_WINDOWS)


def growing(live: Sequence[int]) -> bool | None:
    """Whether live bytes at the ends of windows keep rising after the warm-up (module doc); None: too few."""
    count = len(live)
    if count < MIN_WINDOWS:
        return None
    warm = warmup_windows(count)
    steps = [live[i] - live[i - 1] for i in range(warm, count)]
    ups = sum(1 for step in steps if step > 0)
    share, of = RISE_SHARE
    return ups * of >= share * len(steps) and live[-1] - live[warm - 1] >= MIN_RISE


@dataclass(frozen=True)
class WindowTimes:
    """When each window started and ended, on the harness's clock (seconds), from the run's timeline."""

    start: float  # memprof started: window 0 starts
    ends: tuple[float, ...]  # the end of each window: its last marker, or memprof's stop for the last one

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "ends": list(self.ends)}


def window_times(events: Sequence[dict[str, Any]], windows: Windows) -> WindowTimes | None:
    """The windows' times from a run's timeline (`RunDir.events()`), or None when it lacks one of them.

    The N-th marker in the stream is the harness's "window N" line; window i
    ends at marker (i + 1) * stride, the last one when memprof stopped (or,
    when the timeline has no stop, when the run ended).
    """
    start = stop = end = None
    marks: dict[int, float] = {}
    for e in events:
        kind, detail = e.get("event"), str(e.get("detail", ""))
        if kind == "start" and detail.split(":")[0] == "memprof" and start is None:
            start = float(e["t"])
        elif kind == "stop" and detail.split(":")[0] == "memprof" and start is not None and stop is None:
            stop = float(e["t"])
        elif kind == "window" and detail.isdigit():
            marks.setdefault(int(detail), float(e["t"]))
        elif kind == "end":
            end = float(e["t"])
    last = stop if stop is not None else end
    if start is None or last is None:
        return None
    ends: list[float] = []
    for window in range(windows.count - 1):
        t = marks.get((window + 1) * windows.stride)
        if t is None:
            return None
        ends.append(t)
    ends.append(max(last, ends[-1] if ends else start))
    return WindowTimes(start, tuple(ends))
