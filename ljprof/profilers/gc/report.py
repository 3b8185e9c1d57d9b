"""gc's part of a run's reports: the Lua heap series, and the verdict on it.

raw/gc.csv is `t,kb` (collectgarbage("count") in KB), optionally with a
`container_kb` column: the container's memory as the kernel counts it
(cgroup memory.current or memory.usage_in_bytes), drawn as a second series.
"""

from __future__ import annotations

import statistics
from itertools import pairwise
from typing import Any

from markupsafe import Markup

from ljprof.profilers.gc.verdict import HeapVerdict, heap_verdict
from ljprof.profilers.series import Samples, no_data, read_samples, teardown_sample
from ljprof.reporting.model import RunDir, Section, Series
from ljprof.reporting.page import facts_table, paragraph
from ljprof.reporting.timeline import sparkline
from ljprof.reporting.units import format_kb, format_kb_per_min, format_seconds

NAME = "gc"
FILE = "gc.csv"
CONTAINER = "container_kb"


def _r(x: float | None, digits: int = 1) -> float | None:
    return None if x is None else round(x, digits) + 0.0


def heap_summary(v: HeapVerdict) -> dict[str, Any]:
    """summary.json's "heap": the verdict's numbers, rounded."""
    return {"samples": v.samples, "start_kb": _r(v.start_kb), "end_kb": _r(v.end_kb), "peak_kb": _r(v.peak_kb),
            "slope_kb_per_min": _r(v.slope_kb_per_min), "growing": v.growing, "trend": v.trend,
            "floor_start_kb": _r(v.floor_start_kb), "floor_end_kb": _r(v.floor_end_kb),
            "warmup_s": _r(v.warmup_s, 3), "reason": v.reason}


def verdict_line(v: HeapVerdict) -> str:
    if v.growing is None:
        return f"Lua heap: {v.reason}"
    return f"Lua heap: {v.trend}, {v.reason}"


def gc_report(run: RunDir) -> Section:
    samples = read_samples(run.raw / FILE, ("kb",))
    if not samples.rows:
        return no_data(NAME, samples, run)
    t, kb = samples.column("kb")
    # The sampler's last sample after the target ended says how it ended, not how its heap grew.
    dropped = teardown_sample(run) and samples.state == "complete" and len(t) > 2
    judged_t, judged_kb = (t[:-1], kb[:-1]) if dropped else (t, kb)
    marks = run.marks()
    verdict = heap_verdict(judged_t, judged_kb, marks[0].t if marks else None)
    series = [Series("memory", "Lua heap", "KB", t, kb)]
    summary_top: dict[str, Any] = {"heap": heap_summary(verdict)}
    ct, ckb = samples.column(CONTAINER)
    if ckb:
        series.append(Series("memory", "container memory", "KB", ct, ckb))
        summary_top["container"] = {"peak_kb": _r(max(ckb)), "end_kb": _r(ckb[-1]), "samples": len(ckb)}
    headline = verdict_line(verdict)
    intervals = [b - a for a, b in pairwise(t)]
    interval = statistics.median(intervals) if intervals else None
    summary = {"samples": len(t), "interval_s": _r(interval, 3), "duration_s": _r(t[-1] - t[0], 3),
               "container": bool(ckb), "teardown_sample_left_out": dropped}
    return Section(
        NAME, samples.state, why=samples.why, headline=headline,
        console=tuple(_console(verdict, samples, dropped, kb)),
        html=_html(verdict, samples, t, kb, ckb, dropped, interval),
        markdown=_markdown(verdict, judged_t, judged_kb),
        summary=summary, summary_top=summary_top, series=tuple(series))


def _console(v: HeapVerdict, samples: Samples, dropped: bool, kb: tuple[float, ...]) -> list[str]:
    lines = []
    if v.peak_kb is not None:
        lines.append(f"  {v.samples} samples; start {format_kb(v.start_kb or 0)}, end {format_kb(v.end_kb or 0)}, "
                     f"peak {format_kb(v.peak_kb)}")
    if dropped:
        lines.append(f"  after the target ended: {format_kb(kb[-1])} (left out of the verdict)")
    if samples.why:
        lines.append(f"  {samples.why}")
    return lines


def _html(v: HeapVerdict, samples: Samples, t: tuple[float, ...], kb: tuple[float, ...], ckb: tuple[float, ...],
          dropped: bool, interval: float | None) -> str:
    every = f" (every {format_seconds(interval)})" if interval else ""
    rows = [("samples", f"{len(t)} over {format_seconds(t[-1] - t[0])}{every}")]
    if v.start_kb is not None and v.end_kb is not None and v.peak_kb is not None:
        rows.append(("start / end / peak", f"{format_kb(v.start_kb)} / {format_kb(v.end_kb)} / {format_kb(v.peak_kb)}"))
    if v.floor_start_kb is not None and v.floor_end_kb is not None and v.slope_kb_per_min is not None:
        rows.append(("floor", f"{format_kb(v.floor_start_kb)} → {format_kb(v.floor_end_kb)} in {v.windows} windows "
                              f"after the warm-up (until {format_seconds(v.warmup_s or 0)})"))
        rows.append(("floor slope", format_kb_per_min(v.slope_kb_per_min, sign=True)))
    if dropped:
        rows.append(("after the target ended", f"{format_kb(kb[-1])} (the sampler's last sample, "
                                               "left out of the verdict)"))
    if ckb:
        rows.append(("container memory", f"peak {format_kb(max(ckb))}, end {format_kb(ckb[-1])}"))
    parts = [paragraph(verdict_line(v), f"verdict {v.trend}"), facts_table(rows)]
    if samples.why:
        parts.append(paragraph(samples.why, "warn"))
    return str(Markup("").join(parts))


def _markdown(v: HeapVerdict, t: tuple[float, ...], kb: tuple[float, ...]) -> str:
    """The verdict, and the judged series after the warm-up as a sparkline (where the trend shows)."""
    lines = [f"**{verdict_line(v)}**"]
    after = [(a, b) for a, b in zip(t, kb, strict=True) if v.warmup_s is None or a >= v.warmup_s]
    if len(after) >= 2:
        at, akb = [a for a, _ in after], [b for _, b in after]
        lines += ["", f"Lua heap after the warm-up ({format_seconds(at[0])} to {format_seconds(at[-1])}): "
                      f"`{sparkline(at, akb)}` {format_kb(min(akb))} to {format_kb(max(akb))}"]
    return "\n".join(lines) + "\n"
