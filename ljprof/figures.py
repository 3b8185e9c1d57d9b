"""Where budgets and comparisons read each figure of a run: THE table of summary.json paths.

Budgets (ljprof/budgets.py) and `invoke compare` (ljprof/compare/) read a run
only through this module, so when a profiler's summary.json key changes, one
line here follows it. A figure may have several sources: the first one the run
has wins (trace aborts from the `jit` profiler, else from `metrics`' counters).
A figure no source of which is in the run is "not measured in this run".

Paths are dotted keys into summary.json (`profilers.cpu.vm_states.GC`); a
share divides by a second path (`per`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ljprof.reporting.units import format_kb, format_kb_per_min, format_seconds

NOT_MEASURED = "not measured in this run"


@dataclass(frozen=True)
class Source:
    path: str  # dotted path into summary.json
    per: str = ""  # a share: divided by this path's value
    scale: float = 1.0  # to the figure's unit (KB -> bytes: 1024)


@dataclass(frozen=True)
class Figure:
    name: str
    what: str
    unit: str  # bytes, kb_per_min, count, share, seconds (how budgets parse limits and reports print values)
    profilers: tuple[str, ...]  # any one of these measures it (a budget needs one in the profile); () = every run
    sources: tuple[Source, ...]


def _figures(*figures: Figure) -> dict[str, Figure]:
    return {f.name: f for f in figures}


# budget / compare figure -> summary.json path(s)
FIGURES = _figures(
    Figure("live_bytes", "Lua memory live at the end (memprof)", "bytes", ("memprof",),
           (Source("profilers.memprof.live_bytes"),)),
    Figure("heap_growth", "the Lua heap's floor slope after warm-up (gc)", "kb_per_min", ("gc",),
           (Source("heap.slope_kb_per_min"),)),
    Figure("site_live_bytes", "the most any one site holds live at the end (memprof)", "bytes", ("memprof",),
           (Source("memprof.top_sites"),)),  # a list: the largest row's live bytes (SITES below)
    Figure("peak_memory", "the container's peak memory (cgroup, gc)", "bytes", ("gc",),
           (Source("container.peak_kb", scale=1024),)),
    Figure("trace_aborts", "JIT trace aborts (jit, else metrics)", "count", ("jit", "metrics"),
           (Source("jit.aborts_total"), Source("profilers.metrics.trace_aborts"))),
    Figure("gc_share", "share of CPU samples in the garbage collector (cpu, sysprof)", "share", ("cpu", "sysprof"),
           (Source("profilers.cpu.vm_states.GC", per="cpu.samples"),
            Source("profilers.sysprof.vm_states.GC", per="sysprof.samples"))),
    Figure("interp_share", "share of CPU samples in the interpreter (cpu, sysprof)", "share", ("cpu", "sysprof"),
           (Source("profilers.cpu.vm_states.interpreted", per="cpu.samples"),
            Source("profilers.sysprof.vm_states.interpreted", per="sysprof.samples"))),
    Figure("duration", "how long the target ran", "seconds", (), (Source("duration_s"),)),
)


@dataclass(frozen=True)
class Rows:
    """A list of rows in summary.json, keyed by `key`; `fields` maps our names to the rows' keys."""

    path: str
    key: str
    fields: Mapping[str, str]


# per-row comparisons (compare) and the site budget
SITES = Rows("memprof.top_sites", "location",
             {"live_bytes": "live_bytes", "allocs": "allocs", "peak_bytes": "peak_bytes", "growing": "growing"})
FRAMES = (Rows("cpu.top", "frame", {"self_pct": "self_pct", "total_pct": "total_pct"}),
          Rows("sysprof.top", "frame", {"self_pct": "self_pct", "total_pct": "total_pct"}))
ABORTS = Rows("jit.aborts", "location", {"count": "count", "reason": "reason"})
RETAINED = Rows("snapshot.retained", "path", {"count": "count", "bytes": "bytes"})
HEAP_VERDICT = "heap.growing"
# folded stacks in the run directory, for the differential flame graph (first present wins)
FOLDED = ("cpu.folded", "sysprof.folded")


def lookup(data: Mapping[str, Any], path: str) -> Any:
    """summary.json's value at a dotted path, or None when any part is missing."""
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def value(data: Mapping[str, Any], name: str) -> float | None:
    """A figure's value in a run's summary.json (bytes, KB/min, a count, a share 0-1, seconds); None: not measured."""
    figure = FIGURES[name]
    if name == "site_live_bytes":
        rows = rows_of(data, SITES)
        return max((float(r["live_bytes"]) for r in rows if _number(r.get("live_bytes"))), default=None)
    for source in figure.sources:
        raw = lookup(data, source.path)
        if not _number(raw):
            continue
        if source.per:
            whole = lookup(data, source.per)
            if not _number(whole) or not whole:
                continue
            return float(raw) / float(whole)
        return float(raw) * source.scale
    return None


def rows_of(data: Mapping[str, Any], rows: Rows) -> list[dict[str, Any]]:
    """The rows at `rows.path`, each as {key: ..., our field names: ...}; [] when absent."""
    found = lookup(data, rows.path)
    if not isinstance(found, list):
        return []
    out = []
    for row in found:
        if isinstance(row, Mapping) and rows.key in row:
            out.append({"key": str(row[rows.key]), **{ours: row.get(theirs) for ours, theirs in rows.fields.items()}})
    return out


def measured_rows(data: Mapping[str, Any], choices: tuple[Rows, ...]) -> tuple[Rows | None, list[dict[str, Any]]]:
    """The first of `choices` the run has (its Rows and rows), or (None, [])."""
    for rows in choices:
        if isinstance(lookup(data, rows.path), list):
            return rows, rows_of(data, rows)
    return None, []


def folded_file(run_dir: Path) -> Path | None:
    """The run's folded stacks (FOLDED's first file present), or None."""
    for name in FOLDED:
        if (run_dir / name).is_file():
            return run_dir / name
    return None


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def format_value(unit: str, value: float | None, *, sign: bool = False) -> str:
    """A figure as the reports print it: "274 KB", "+3.4 MB/min", "12", "20.5%", "5.5 s"; None: "-"."""
    if value is None:
        return "-"
    plus = "+" if sign and value > 0 else ""
    if unit == "bytes":
        if abs(value) < 10 * 1024:
            return f"{plus}{value:,.0f} B"
        return plus + format_kb(value / 1024)
    if unit == "kb_per_min":
        return format_kb_per_min(value, sign=sign)
    if unit == "share":
        return f"{plus}{100 * value:.1f}%" if not sign else f"{plus}{100 * value:.1f} pp"
    if unit == "seconds":
        return (plus if value >= 0 else "-") + format_seconds(abs(value))
    return f"{plus}{value:,.0f}" if float(value).is_integer() else f"{plus}{value:,.2f}"
