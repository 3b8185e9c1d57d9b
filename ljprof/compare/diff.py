"""The comparison of two runs, as compare.json holds it (the console, compare.md and compare.html render it).

Numbers per figure (ljprof.figures.FIGURES) and per row: memprof sites
(live bytes at the end, allocations, peak, growing), CPU frames (share of
samples), trace aborts per line, retained snapshot groups; each with base,
head and delta (head - base), growth first. Where a run lacks a figure the
comparison says "not measured in this run" instead of failing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ljprof.compare.flamediff import FlameDiff
from ljprof.compare.match import Pair, pair_rows
from ljprof.compare.runs import Json, Run
from ljprof.figures import (
    ABORTS,
    FIGURES,
    FRAMES,
    HEAP_VERDICT,
    NOT_MEASURED,
    RETAINED,
    SITES,
    Rows,
    lookup,
    measured_rows,
    rows_of,
    value,
)

FORMAT = "ljprof-compare/1"


def differences(base: Run, head: Run) -> list[str]:
    """What makes the two runs not like for like (said at the top of every output)."""
    b, h = base.identity(), head.identity()
    notes = []
    if b["profile"] != h["profile"]:
        notes.append(f"the base is a run of another profile: '{b['profile']}' (head: '{h['profile']}')")
    if b["image_id"] != h["image_id"] or b["image"] != h["image"]:
        notes.append(f"the base ran on another image: {b['image']} (head: {h['image']})")
    if b["luajit_commit"] != h["luajit_commit"]:
        notes.append(f"the base ran another LuaJIT commit: {str(b['luajit_commit'] or '?')[:12]} "
                     f"(head: {str(h['luajit_commit'] or '?')[:12]})")
    if base.path == head.path:
        notes.append("the base and the head are the same run")
    return notes


def _delta(b: Any, h: Any) -> Any:
    if isinstance(b, (int, float)) and isinstance(h, (int, float)) and not isinstance(b, bool) \
            and not isinstance(h, bool):
        d = h - b
        return round(d, 6) if isinstance(d, float) else d
    return None


def _measured(base: bool, head: bool) -> str:
    if base and head:
        return ""
    if not base and not head:
        return f"{NOT_MEASURED} (neither run)"
    return f"{NOT_MEASURED}: the {'head' if base else 'base'}"


def figure_rows(base: Run, head: Run) -> list[Json]:
    out = []
    for name, figure in FIGURES.items():
        b, h = value(base.summary, name), value(head.summary, name)
        row: Json = {"name": name, "what": figure.what, "unit": figure.unit, "base": b, "head": h,
                     "delta": _delta(b, h), "change_pct": None}
        if b is not None and h is not None and b:
            row["change_pct"] = round(100 * (h - b) / abs(b), 1)
        note = _measured(b is not None, h is not None)
        if note:
            row["note"] = note
        out.append(row)
    return out


def _pair_json(pair: Pair, numbers: Sequence[str], flags: Sequence[str] = ()) -> Json:
    b, h = pair.base or {}, pair.head or {}
    row: Json = {"key": pair.key, "matched_by": pair.matched_by}
    if pair.matched_by == "source text" and pair.base is not None:
        row["base_key"] = pair.base["key"]
    if pair.source:
        row["source"] = pair.source
    for field in numbers:
        bv = b.get(field, 0 if pair.base is None else None)
        hv = h.get(field, 0 if pair.head is None else None)
        row[field] = {"base": bv, "head": hv, "delta": _delta(bv, hv)}
    for field in flags:
        row[field] = {"base": b.get(field), "head": h.get(field)}
    return row


def _table(rows: Rows | None, base_rows: list[Json], head_rows: list[Json], base: Run, head: Run,
           numbers: Sequence[str], flags: Sequence[str] = (), base_has: bool | None = None,
           head_has: bool | None = None) -> Json:
    """A per-row comparison, sorted by the first number's delta (growth first), then by key."""
    if base_has is None:
        base_has = rows is not None and isinstance(lookup(base.summary, rows.path), list)
    if head_has is None:
        head_has = rows is not None and isinstance(lookup(head.summary, rows.path), list)
    out: Json = {"source": rows.path if rows else None, "rows": []}
    note = _measured(base_has, head_has)
    if note:
        out["note"] = note
        return out
    pairs = pair_rows(base_rows, head_rows, base.sources, head.sources)
    table = [_pair_json(p, numbers, flags) for p in pairs]
    table.sort(key=lambda r: (-(r[numbers[0]]["delta"] or 0), r["key"]))
    out["rows"] = table
    out["moved"] = sum(1 for r in table if r["matched_by"] == "source text")
    return out


def _aborts_by_line(data: Mapping[str, Any]) -> list[Json]:
    """jit's aborts are per line and reason: summed per line, the reasons listed."""
    lines: dict[str, Json] = {}
    for row in rows_of(data, ABORTS):
        entry = lines.setdefault(row["key"], {"key": row["key"], "count": 0, "reasons": []})
        entry["count"] += int(row["count"] or 0)
        if row.get("reason") and row["reason"] not in entry["reasons"]:
            entry["reasons"].append(row["reason"])
    return list(lines.values())


def compare(base: Run, head: Run, flame: FlameDiff | None = None) -> Json:
    """compare.json's content (`flame`: the differential flame graph, when the caller has it already)."""
    frames_base = measured_rows(base.summary, FRAMES)
    frames_head = measured_rows(head.summary, FRAMES)
    frames = _table(frames_head[0] or frames_base[0], frames_base[1], frames_head[1], base, head,
                    ("self_pct", "total_pct"), base_has=frames_base[0] is not None,
                    head_has=frames_head[0] is not None)
    flame = flame or FlameDiff.of(base, head)
    figures = figure_rows(base, head)
    return {
        "format": FORMAT,
        "base": base.identity(),
        "head": head.identity(),
        "notes": differences(base, head),
        "figures": figures,
        "heap": {"growing": {"base": lookup(base.summary, HEAP_VERDICT), "head": lookup(head.summary, HEAP_VERDICT)},
                 "slope_kb_per_min": next(r for r in figures if r["name"] == "heap_growth")},
        "sites": _table(SITES, rows_of(base.summary, SITES), rows_of(head.summary, SITES), base, head,
                        ("live_bytes", "allocs", "peak_bytes"), ("growing",)),
        "frames": frames,
        "aborts": _table(ABORTS, _aborts_by_line(base.summary), _aborts_by_line(head.summary), base, head,
                         ("count",)),
        "retained": _table(RETAINED, rows_of(base.summary, RETAINED), rows_of(head.summary, RETAINED), base, head,
                           ("count", "bytes")),
        "flame": flame.summary(),
    }
