"""Is the Lua heap growing? The verdict on a run's collectgarbage("count") series.

A garbage-collected heap is a sawtooth: it climbs while the program allocates
and drops when a GC cycle sweeps. A leak shows in the bottom of the sawtooth,
the floor (what survives collections), not in its peaks. So:

1. Leave out the warm-up: the first 10% of the series' time, or up to the
   first mark (`ljprof.mark()`) when that comes later. Loading modules and
   filling caches is growth that ends.
2. Cut the rest into windows of consecutive samples (up to MAX_WINDOWS, each
   of at least MIN_WINDOW_SAMPLES); a window's floor is its minimum, placed
   at the time of that minimum (its first occurrence).
3. Fit a least-squares line through the floors: its slope (KB/min).
4. Growing when both
   - the line rises at least max(MIN_RISE_KB, MIN_RISE_FRACTION x the median
     floor) over the judged time: smaller moves are what the timing of a GC
     cycle does to a window's minimum; and
   - the floors rise steadily: Kendall's tau between the windows' order and
     their floors is at least MIN_TAU (later windows mostly sit above earlier
     ones). A steady allocate-and-drop target's floors go up and down with
     where each window caught its cycle, so tau stays near 0 even when a
     line through them tilts; a leak lifts every floor.
   Shrinking: the same, downwards. Flat otherwise.

Fewer than 2 windows after the warm-up (6 samples) is too short to judge.

Limits: a window shorter than a GC cycle sees part of a climb, and its
minimum is not a floor; a run should span several cycles (long runs give
long windows). A short run only sees big leaks: the bot's ~70 KB/s on an
8.4 MB heap lifts its floor ~290 KB in 4.5 s, well over 1% of the heap.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from ljprof.reporting.units import format_kb, format_kb_pair, format_kb_per_min, format_kb_range, format_seconds

WARMUP_FRACTION = 0.10
MAX_WINDOWS = 10
MIN_WINDOW_SAMPLES = 3
MIN_RISE_KB = 32.0
MIN_RISE_FRACTION = 0.01
MIN_TAU = 0.6


@dataclass(frozen=True)
class HeapVerdict:
    """What the Lua heap did over a run.

    samples, start_kb, end_kb and peak_kb are over the whole series given;
    floor_* and slope over the windows after the warm-up. warmup_s is the time
    (on the series' clock) where the warm-up ends. growing is None when the
    series is too short to judge, False when flat or shrinking.
    """

    samples: int
    start_kb: float | None
    end_kb: float | None
    peak_kb: float | None
    slope_kb_per_min: float | None
    growing: bool | None
    floor_start_kb: float | None
    floor_end_kb: float | None
    warmup_s: float | None
    reason: str
    trend: str = "unknown"  # "growing" | "flat" | "shrinking" | "unknown" (too short)
    windows: int = 0


def _slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of y over x (0 when x does not vary)."""
    mx, my = statistics.fmean(x), statistics.fmean(y)
    sxx = sum((a - mx) ** 2 for a in x)
    if sxx == 0:
        return 0.0
    return sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True)) / sxx


def _kendall_tau(values: Sequence[float]) -> float:
    """Kendall's tau-a between position and value: +1 when every later value is above every earlier one."""
    n = len(values)
    pairs = n * (n - 1) // 2
    if pairs == 0:
        return 0.0
    s = 0
    for i in range(n):
        for j in range(i + 1, n):
            s += (values[j] > values[i]) - (values[j] < values[i])
    return s / pairs


def heap_verdict(t: Sequence[float], kb: Sequence[float], warmup_until: float | None) -> HeapVerdict:
    """Judge a heap series (t in seconds, ascending; kb) after its warm-up.

    `warmup_until` is the first mark's time, or None; the warm-up lasts until
    it or until 10% of the series' time has passed, whichever is later.
    """
    if len(t) != len(kb):
        raise ValueError(f"t and kb differ in length ({len(t)} and {len(kb)})")
    n = len(t)
    start = kb[0] if n else None
    end = kb[-1] if n else None
    peak = max(kb) if n else None
    warmup = None
    post: list[tuple[float, float]] = []
    if n:
        warmup = t[0] + WARMUP_FRACTION * (t[-1] - t[0])
        if warmup_until is not None:
            warmup = max(warmup, warmup_until)
        post = [(a, b) for a, b in zip(t, kb, strict=True) if a >= warmup]
    count = min(MAX_WINDOWS, len(post) // MIN_WINDOW_SAMPLES)
    if count < 2:
        needed = 2 * MIN_WINDOW_SAMPLES
        return HeapVerdict(n, start, end, peak, None, None, None, None, warmup,
                           f"too short to judge: {n} samples ({len(post)} after the warm-up, {needed} needed)")

    floors: list[tuple[float, float]] = []  # (time of the window's minimum, the minimum)
    for w in range(count):
        window = post[w * len(post) // count:(w + 1) * len(post) // count]
        floors.append(min(window, key=lambda sample: (sample[1], sample[0])))
    x = [a for a, _ in floors]
    y = [b for _, b in floors]
    slope = _slope(x, y) * 60.0  # KB/min
    span = post[-1][0] - post[0][0]
    rise = slope / 60.0 * span
    threshold = max(MIN_RISE_KB, MIN_RISE_FRACTION * statistics.median(y))
    tau = _kendall_tau(y)
    over = f"over {format_seconds(span)}"
    first, last = format_kb_pair(y[0], y[-1])
    if rise >= threshold and tau >= MIN_TAU:
        trend = "growing"
        reason = f"floor rose from {first} to {last} {over}, {format_kb_per_min(slope)}"
    elif -rise >= threshold and -tau >= MIN_TAU:
        trend = "shrinking"
        reason = f"floor fell from {first} to {last} {over}, {format_kb_per_min(slope)}"
    elif abs(rise) >= threshold:
        trend = "flat"
        reason = (f"floor moved within {format_kb_range(min(y), max(y))} {over} with no steady trend "
                  f"({format_kb_per_min(slope, sign=True)})")
    else:
        trend = "flat"
        low, high = min(y), max(y)
        where = f"at {format_kb(low)}" if format_kb(low) == format_kb(high) else f"within {format_kb_range(low, high)}"
        reason = f"floor stayed {where} {over} ({format_kb_per_min(slope, sign=True)})"
    return HeapVerdict(n, start, end, peak, slope, trend == "growing", y[0], y[-1], warmup, reason, trend, count)
