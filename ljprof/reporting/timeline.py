"""The run's timeline, shaped for display: no parsing, no formatting of pages.

- `rates`: counters (cumulative) become per-second rates; `counter_increase`
  sums a counter's growth. Both survive a counter that restarts from 0 and
  samples that share a timestamp.
- `decimate`: at most ~2,000 points a series for the chart, keeping each
  bucket's minimum and maximum so peaks and floors survive (the raw series
  stays in raw/).
- `chart_data`: what the page's chart (assets/timeline.js) reads: panels of
  series on one time axis, marks as labelled lines, profiler switches as
  bands. Deterministic: panels and series in a fixed order, floats rounded,
  so the JSON is the same for the same run.
- `sparkline`: a series as a line of block characters, for summary.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from ljprof.reporting.model import Mark, Series

MAX_POINTS = 2000

# Panels top to bottom: (name, title). Panels not listed come after, by name.
PANELS = (
    ("memory", "Memory"),
    ("allocation", "Allocation"),
    ("rates", "Events"),
    ("levels", "Levels"),
)


def counter_increase(v: Sequence[float]) -> float:
    """How much a cumulative counter grew; a drop means it restarted from 0 (its new value counts)."""
    total = 0.0
    for prev, cur in pairwise(v):
        total += cur - prev if cur >= prev else cur
    return total


def rates(t: Sequence[float], v: Sequence[float]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """A cumulative counter as a rate per second, one value at the end of each interval.

    A counter that drops restarted from 0: the interval counts its new value.
    Samples with the same time (or an earlier one) add their growth to the
    next interval that has a length, so no division by zero and nothing lost.
    """
    out_t: list[float] = []
    out_v: list[float] = []
    if not t:
        return (), ()
    anchor = t[0]
    pending = 0.0
    for i in range(1, len(t)):
        pending += v[i] - v[i - 1] if v[i] >= v[i - 1] else v[i]
        if t[i] > anchor:
            out_t.append(t[i])
            out_v.append(pending / (t[i] - anchor))
            anchor = t[i]
            pending = 0.0
    return tuple(out_t), tuple(out_v)


def decimate(t: Sequence[float], v: Sequence[float],
             max_points: int = MAX_POINTS) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """At most about `max_points` points: per time bucket, its minimum and maximum (in time order),
    plus the first and last points. Series that fit are returned as they are."""
    n = len(t)
    if n <= max_points:
        return tuple(t), tuple(v)
    buckets = max(1, (max_points - 2) // 2)
    t0, t1 = t[0], t[-1]
    span = t1 - t0
    keep = {0, n - 1}
    lo: dict[int, int] = {}
    hi: dict[int, int] = {}
    for i in range(n):
        b = min(buckets - 1, int((t[i] - t0) / span * buckets)) if span > 0 else i * buckets // n
        if b not in lo or v[i] < v[lo[b]]:
            lo[b] = i
        if b not in hi or v[i] > v[hi[b]]:
            hi[b] = i
    keep.update(lo.values())
    keep.update(hi.values())
    order = sorted(keep)
    return tuple(t[i] for i in order), tuple(v[i] for i in order)


def _t(x: float) -> float:
    """A time, rounded to 0.1 ms."""
    return round(x, 4) + 0.0


def _v(x: float) -> float | int:
    """A value, to 6 significant digits; whole numbers as ints (shorter JSON)."""
    if not math.isfinite(x):
        return 0
    r = float(f"{x:.6g}")
    return int(r) if r.is_integer() and abs(r) < 2**53 else r


def chart_data(series: Sequence[Series], marks: Sequence[Mark] = (), switches: Sequence[Mark] = (),
               max_points: int = MAX_POINTS) -> dict[str, Any]:
    """The chart's data: {t0, t1, samples, panels: [{name, title, unit, series: [{label, unit, points, t, v}]}],
    marks: [{t, label}], bands: [{t0, t1, label}]}.

    `samples` is the largest number of raw points of a series: the chart needs 2 to draw anything.
    """
    order = {name: i for i, (name, _) in enumerate(PANELS)}
    titles = dict(PANELS)
    by_panel: dict[str, list[Series]] = {}
    for s in series:
        by_panel.setdefault(s.panel, []).append(s)
    panels = []
    times: list[float] = []
    samples = 0
    for name in sorted(by_panel, key=lambda p: (order.get(p, len(order)), p)):
        members = by_panel[name]
        units = sorted({s.unit for s in members})
        out = []
        for s in members:
            t, v = decimate(s.t, s.v, max_points)
            samples = max(samples, len(s.t))
            times.extend(t[:1] + t[-1:])
            out.append({"label": s.label, "unit": s.unit, "points": len(s.t),
                        "t": [_t(x) for x in t], "v": [_v(x) for x in v]})
        panels.append({"name": name, "title": titles.get(name, name), "unit": units[0] if len(units) == 1 else "",
                       "series": out})
    for m in [*marks, *switches]:
        times.append(m.t)
    t0 = min(times, default=0.0)
    t1 = max([*times, *(m.until for m in switches if m.until is not None)], default=0.0)
    return {
        "t0": _t(t0), "t1": _t(t1), "samples": samples, "panels": panels,
        "marks": [{"t": _t(m.t), "label": m.label} for m in sorted(marks, key=lambda m: (m.t, m.label))],
        "bands": [{"t0": _t(m.t), "t1": _t(m.until if m.until is not None else t1), "label": m.label}
                  for m in sorted(switches, key=lambda m: (m.t, m.label))],
    }


def chart_json(data: dict[str, Any]) -> str:
    """The chart's data as JSON safe inside <script type="application/json">: sorted keys, no '<'."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(t: Sequence[float], v: Sequence[float], width: int = 40) -> str:
    """A series as `width` block characters, each the mean of an equal slice of the time."""
    if not t:
        return ""
    t0, t1 = t[0], t[-1]
    width = min(width, len(t))
    sums = [0.0] * width
    counts = [0] * width
    for a, b in zip(t, v, strict=True):
        i = min(width - 1, int((a - t0) / (t1 - t0) * width)) if t1 > t0 else 0
        sums[i] += b
        counts[i] += 1
    means = [sums[i] / counts[i] for i in range(width) if counts[i]]
    low, high = min(means), max(means)
    if high == low:
        return SPARKS[0] * len(means)
    return "".join(SPARKS[min(len(SPARKS) - 1, int((m - low) / (high - low) * len(SPARKS)))] for m in means)
