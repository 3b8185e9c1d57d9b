"""metrics' part of a run's reports: misc.getmetrics() on the run's timeline.

The fork's counters (luaM_metrics in lmisclib.h) are of two kinds:
cumulative counters since the VM started (bytes allocated and freed, GC
steps, trace aborts, snapshot restores, string hash hits and misses) become
rates per second; levels (objects alive, traces, machine code size) are drawn
as they are. gc_total is the Lua heap, which gc.csv already draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from ljprof.profilers.series import Samples, no_data, read_samples
from ljprof.reporting.model import RunDir, Section, Series
from ljprof.reporting.page import facts_table, paragraph
from ljprof.reporting.timeline import counter_increase, rates
from ljprof.reporting.units import format_kb, format_kb_per_s, format_seconds, plural

NAME = "metrics"
FILE = "metrics.csv"


@dataclass(frozen=True)
class Metric:
    key: str  # in summary.json
    label: str  # on the chart
    columns: tuple[str, ...]  # summed
    panel: str
    unit: str
    scale: float = 1.0  # bytes -> KB: 1/1024


COUNTERS = (
    Metric("allocated_kb", "allocated", ("gc_allocated",), "allocation", "KB/s", 1 / 1024),
    Metric("freed_kb", "freed", ("gc_freed",), "allocation", "KB/s", 1 / 1024),
    Metric("gc_steps", "GC steps", ("gc_steps_pause", "gc_steps_propagate", "gc_steps_atomic",
                                    "gc_steps_sweepstring", "gc_steps_sweep", "gc_steps_finalize"), "rates", "/s"),
    Metric("trace_aborts", "trace aborts", ("jit_trace_abort",), "rates", "/s"),
    Metric("snap_restores", "snapshot restores", ("jit_snap_restore",), "rates", "/s"),
    Metric("strhash_hits", "string hash hits", ("strhash_hit",), "rates", "/s"),
    Metric("strhash_misses", "string hash misses (new strings)", ("strhash_miss",), "rates", "/s"),
)
LEVELS = (
    Metric("strings", "strings", ("gc_strnum",), "levels", ""),
    Metric("tables", "tables", ("gc_tabnum",), "levels", ""),
    Metric("userdata", "userdata", ("gc_udatanum",), "levels", ""),
    Metric("cdata", "cdata", ("gc_cdatanum",), "levels", ""),
    Metric("traces", "traces", ("jit_trace_num",), "levels", ""),
    # not on the memory panel: 64 KB beside an 8 MB heap would flatten the heap's line
    Metric("mcode_kb", "JIT machine code (KB)", ("jit_mcode_size",), "levels", "KB", 1 / 1024),
)


def _column(samples: Samples, m: Metric) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """A metric's values (its columns summed, scaled), at the samples where all of its columns have one."""
    if not all(samples.has(c) for c in m.columns):
        return None
    idx = [samples.columns.index(c) for c in m.columns]
    t: list[float] = []
    v: list[float] = []
    for row in samples.rows:
        values = [row[i] for i in idx]
        if all(x is not None for x in values):
            t.append(float(row[0] or 0.0))
            v.append(sum(x or 0.0 for x in values) * m.scale)
    return (tuple(t), tuple(v)) if t else None


def _r(x: float, digits: int = 1) -> float | int:
    """Rounded; whole numbers (counts) as ints."""
    value = round(x, digits) + 0.0
    return int(value) if value.is_integer() else value


def metrics_report(run: RunDir) -> Section:
    samples = read_samples(run.raw / FILE, ())
    known = {c for m in (*COUNTERS, *LEVELS) for c in m.columns}
    if samples.rows and not known & set(samples.columns):
        samples = Samples(samples.name, "absent", f"{samples.name} has none of getmetrics' columns "
                                                  f"({','.join(samples.columns)[:80]})")
    if not samples.rows:
        return no_data(NAME, samples, run)
    series: list[Series] = []
    summary: dict[str, Any] = {"samples": len(samples.rows)}
    duration = (samples.rows[-1][0] or 0.0) - (samples.rows[0][0] or 0.0)
    summary["duration_s"] = _r(duration, 3)
    table: list[tuple[str, str]] = []
    totals: dict[str, float] = {}
    for m in COUNTERS:
        col = _column(samples, m)
        if col is None:
            continue
        t, v = col
        rt, rv = rates(t, v)
        if rt:
            series.append(Series(m.panel, m.label, m.unit, rt, rv))
        total = counter_increase(v)
        totals[m.key] = total
        summary[m.key] = _r(total)
        per_s = total / duration if duration > 0 else 0.0
        summary[f"{m.key}_per_s"] = _r(per_s)
        if m.unit == "KB/s":
            table.append((m.label, f"{format_kb(total)} ({format_kb_per_s(per_s)} on average)"))
        else:
            table.append((m.label, f"{total:,.0f} ({per_s:,.1f}/s on average)"))
    ends: dict[str, float] = {}
    for m in LEVELS:
        col = _column(samples, m)
        if col is None:
            continue
        t, v = col
        series.append(Series(m.panel, m.label, m.unit, t, v))
        ends[m.key] = v[-1]
        summary[f"{m.key}_end"] = _r(v[-1])
        summary[f"{m.key}_peak"] = _r(max(v))
        fmt = format_kb if m.unit == "KB" else (lambda x: f"{x:,.0f}")
        table.append((m.label, f"{fmt(v[-1])} at the end (peak {fmt(max(v))})"))
    headline = "metrics: " + _headline(totals, ends, duration)
    html = Markup("").join([paragraph(headline), facts_table(
        [("samples", f"{len(samples.rows)} over {format_seconds(duration)}"), *table])]
        + ([paragraph(samples.why, "warn")] if samples.why else []))
    return Section(NAME, samples.state, why=samples.why, headline=headline,
                   console=(f"  {samples.why}",) if samples.why else (), html=str(html),
                   markdown=_markdown(table), summary=summary, series=tuple(series))


def _headline(totals: dict[str, float], ends: dict[str, float], duration: float) -> str:
    """e.g. "allocated 3.4 MB/s on average; 20 traces at the end, 0 aborts".

    jit_trace_num is a level: the traces that exist at the end (a flush empties it), not how many
    were compiled, which jit's summary counts."""
    parts = []
    if "allocated_kb" in totals and duration > 0:
        parts.append(f"allocated {format_kb_per_s(totals['allocated_kb'] / duration)} on average")
    jit = []
    if "traces" in ends:
        jit.append(plural(round(ends["traces"]), "trace") + " at the end")
    if "trace_aborts" in totals:
        jit.append(plural(round(totals["trace_aborts"]), "abort"))
    if jit:
        parts.append(", ".join(jit))
    return "; ".join(parts) or "sampled"


def _markdown(table: Sequence[tuple[str, str]]) -> str:
    lines = ["| metric | over the run |", "| --- | --- |"]
    lines += [f"| {label} | {value} |" for label, value in table]
    return "\n".join(lines) + "\n"
