"""snapshot's part of a run's reports: the diff's groups, the census, the memprof join, the object graph.

Which two snapshots are compared: the first and the last the target took
with ljprof.snapshot() when it took two or more, else the one taken at the
start and the last one (at the end: after a return the target's locals are
gone, so a target that returns should take its own "after").
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from ljprof.errors import ConfigError
from ljprof.profilers.memprof.model import Location
from ljprof.profilers.memprof.section import decoded
from ljprof.profilers.snapshot import graph
from ljprof.profilers.snapshot.diff import Diff, Group, diff, find_object
from ljprof.profilers.snapshot.parse import Snapshot, SnapshotError, no_gc, read_edges, read_snapshot
from ljprof.reporting.model import Json, Page, RunDir, Section
from ljprof.reporting.page import asset
from ljprof.reporting.units import human_bytes

NAME = "snapshot"
TOP = 10
JOINED_KINDS = ("table", "string", "function", "thread")  # %p is the allocation's address (lj_obj_ptr)


def snapshot_files(raw: Path) -> list[Path]:
    return sorted(raw.glob("snapshot-*.txt"))


def pick_pair(snaps: list[Snapshot]) -> tuple[Snapshot, Snapshot]:
    own = [s for s in snaps if s.label not in ("start", "end")]
    if len(own) >= 2:
        return own[0], own[-1]
    return snaps[0], snaps[-1]


def _line(location: Location) -> str:
    """A trace's allocations count for the line it starts at, as memprof's rows count them."""
    if location.kind == "trace" and location.source is not None:
        return f"{location.source}:{location.line}"
    return location.name


def join(group: Group, later: Snapshot, chunks: Mapping[int, tuple[int, Location]]) -> Json:
    """Where a group's entries were allocated (memprof's line) and the exact bytes of its objects."""
    where: Counter[str] = Counter()
    for i in group.entries:
        if later.kind(i) in JOINED_KINDS:
            hit = chunks.get(int(later.address(i), 16))
            if hit is not None:
                where[_line(hit[1])] += 1
    exact = matched = 0
    for i in group.members:
        if later.kind(i) in JOINED_KINDS:
            hit = chunks.get(int(later.address(i), 16))
            if hit is not None:
                exact += hit[0]
                matched += 1
    out: Json = {"matched": matched, "exact_bytes": exact}
    if where:
        site, n = where.most_common(1)[0]
        out.update(allocated_at=site, allocated_count=n)
    return out


def snapshot_section(run: RunDir, options: Mapping[str, Any]) -> Section:
    with no_gc():  # millions of objects without cycles: Python's cyclic GC would walk them again and again
        return _section(run, options)


def _section(run: RunDir, options: Mapping[str, Any]) -> Section:
    files = snapshot_files(run.raw)
    if not files:
        return Section(NAME, "absent", why="no raw/snapshot-*.txt", headline="snapshot: no data (no snapshot files)")
    snaps: list[Snapshot] = []
    problems = []
    for path in files:
        try:
            snaps.append(read_snapshot(path))
        except (OSError, SnapshotError) as exc:
            problems.append(str(exc))
    cut = [s for s in snaps if s.state != "complete"]
    labels = [s.label for s in snaps]
    if len(snaps) < 2:
        why = "; ".join(problems) or "only one snapshot: nothing to compare"
        return Section(NAME, "empty" if snaps else "crashed", why=why, headline=f"snapshot: {why}",
                       summary_top={NAME: {"snapshots": labels, "retained": []}})
    earlier, later = pick_pair(snaps)
    d = diff(earlier, later)
    chunks: Mapping[int, tuple[int, Location]] = {}
    memprof = run.raw / "memprof.bin"
    join_note = "memprof did not run: no allocation sites"
    if memprof.is_file() and memprof.stat().st_size:
        try:
            # decoded once, for memprof's report and this join (with the live chunks, as snapshot ran)
            chunks = decoded(run).live or {}
            join_note = f"joined with raw/memprof.bin by address ({len(chunks):,} live chunks)"
        except ConfigError as exc:
            join_note = f"memprof's file could not be joined: {exc}"
    retained = []
    for g in d.groups[:TOP]:
        row: Json = {"path": g.path, "count": g.count, "objects": g.objects, "bytes": g.bytes}
        if chunks:
            row.update(join(g, later, chunks))
        retained.append(row)
    pic = _picture(d, options.get("graph") or {})
    incomplete = incomplete_note(earlier, later)
    state = "cut" if cut else "complete"
    why = "; ".join(f"{s.path.name} ({s.label}) is {s.state}" + (f": {s.partial}" if s.partial else "")
                    for s in cut)
    top = retained[0] if retained else None
    headline = (f"snapshot: {d.new_objects:,} objects ({human_bytes(d.new_bytes)}) new between "
                f"'{earlier.label}' and '{later.label}'"
                + (f"; most under {top['path']} x {top['count']:,}" if top else "")
                + (f" ({incomplete})" if incomplete else ""))
    summary = {"snapshots": labels, "compared": [earlier.label, later.label], "new_objects": d.new_objects,
               "new_bytes": d.new_bytes, "states": {s.label: s.state for s in snaps},
               "compared_states": [earlier.state, later.state],
               "graph": {"renderer": pic.renderer, "nodes": pic.nodes, "left_out": pic.left_out} if pic else None}
    top_summary: Json = {"snapshots": labels, "retained": retained}
    if incomplete:
        summary["note"] = top_summary["note"] = incomplete
    warn = f'<p class="warn">{html.escape(incomplete)}</p>' if incomplete else ""
    fragment = warn + _table(retained) + f"<p>{html.escape(join_note)}</p>" + (
        f'<div class="graph">{pic.svg}</div>' if pic and pic.svg else "")
    pages: tuple[Page, ...] = (Page("snapshot.html", "heap snapshots: what stayed, by path; census; the object graph",
                  lambda f: _page(f, run, snaps, d, retained, join_note, pic, warn)),)
    if pic:
        pages += (Page("snapshot-graph.dot", "the object graph (Graphviz DOT)", lambda f: _write(f, pic.dot)),)
    md = f"- {headline}\n" + "".join(f"  - `{r['path']}` x {r['count']:,}, {human_bytes(r['bytes'])}\n"
                                     for r in retained[:5])
    return Section(NAME, state, why=why, headline=headline, html=fragment, markdown=md, summary=summary,
                   summary_top={NAME: top_summary}, pages=pages,
                   link="snapshot.html", console=tuple(f"  {r['path']} x {r['count']:,}" for r in retained[:3]))


def incomplete_note(earlier: Snapshot, later: Snapshot) -> str:
    """'' when both compared walks are complete, else what a partial (budget) or cut (kill) one does to the diff."""
    parts = []
    for snap, effect in ((earlier, "objects it did not reach count as new"),
                         (later, "objects it did not reach are missing")):
        if snap.state != "complete":
            how = f"partial: {snap.partial}" if snap.state == "partial" else "cut: read up to its last complete line"
            parts.append(f"'{snap.label}' ({snap.path.name}) is {how}; {effect}")
    return ("diff against an incomplete snapshot: " + "; ".join(parts)) if parts else ""


def _write(f: TextIO, text: str) -> None:
    f.write(text)


def _picture(d: Diff, opts: Mapping[str, Any]) -> graph.Picture | None:
    """The graph of the option's root (an object's path), else of the top group's holder."""
    later = d.later
    root = 0
    wanted = str(opts.get("root") or "")
    if wanted:
        root = find_object(later, wanted)
    if not root and d.groups:
        root = d.groups[0].holder
    if not root:
        return None
    return graph.picture(later, read_edges(later), root, int(opts.get("depth") or 3),
                         int(opts.get("max_nodes") or 40))


def _table(rows: list[Json]) -> str:
    head = "<tr><th>retained under</th><th>count</th><th>objects</th><th>bytes</th><th>allocated at</th>" \
           "<th>exact bytes</th></tr>"
    body = "".join(
        f"<tr><td><code>{html.escape(r['path'])}</code></td><td>{r['count']:,}</td><td>{r['objects']:,}</td>"
        f"<td>{human_bytes(r['bytes'])}</td><td>{html.escape(str(r.get('allocated_at', '')))}</td>"
        f"<td>{human_bytes(r['exact_bytes']) if 'exact_bytes' in r else ''}</td></tr>" for r in rows)
    return f'<table class="facts">{head}{body}</table>'


def _page(f: TextIO, run: RunDir, snaps: list[Snapshot], d: Diff, rows: list[Json], note: str,
          pic: graph.Picture | None, warn: str) -> None:
    census = "".join(
        f"<tr><td>{html.escape(s.label)}</td><td>{s.state}{': ' + html.escape(s.partial) if s.partial else ''}"
        f"</td><td>{s.objects:,}</td><td>"
        + ", ".join(f"{k} {n:,} ({human_bytes(b)})" for k, (n, b) in s.census().items()) + "</td></tr>"
        for s in snaps)
    if pic is None:
        graph_html = "<p>no object graph: nothing new was retained</p>"
    elif pic.svg:
        graph_html = (f"<p>{pic.nodes} nodes" + (f", {pic.left_out} more left out" if pic.left_out else "")
                      + f"; rendered by {html.escape(pic.renderer)}; DOT in snapshot-graph.dot</p>{pic.svg}")
    else:
        graph_html = f"<p>{html.escape(pic.renderer)}</p><pre>{html.escape(pic.dot)}</pre>"
    f.write(f"""<!doctype html><html><head><meta charset="utf-8"><title>snapshot: {html.escape(run.profile)}</title>
<style>{asset("page.css")}</style></head><body><main>
<h1>Heap snapshots of {html.escape(run.profile)} ({html.escape(run.run_id)})</h1>
<p><a href="index.html">back to the run</a></p>
<h2>What stayed between '{html.escape(d.earlier.label)}' and '{html.escape(d.later.label)}'</h2>
{warn}
<p>{d.new_objects:,} new objects, {human_bytes(d.new_bytes)} (sizes as Lua sees them), grouped by the shortest path
that holds them; count: the entries at that path, objects: they and the new objects below them.</p>
{_table(rows)}<p>{html.escape(note)}</p>
<h2>Object graph</h2>{graph_html}
<h2>Census</h2><table class="facts"><tr><th>snapshot</th><th>state</th><th>objects</th><th>by type</th></tr>
{census}</table></main></body></html>
""")
