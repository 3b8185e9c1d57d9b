"""snapshot: walks of the Lua heap (harness.lua, inside the container) and what stayed between two of them.

Taken after a full GC at the target's start, at each `ljprof.snapshot("label")`
the target calls, and at every ending the harness controls; each walk is one
raw/snapshot-NN.txt (parse.py). The report (section.py) diffs two of them
(diff.py), joins the new objects with memprof's live chunks by address when
memprof ran, and draws the object graph of the top group's holder (graph.py).
Plain Lua: works on every image.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ljprof.profilers.base import Option
from ljprof.profilers.snapshot.section import snapshot_files, snapshot_section
from ljprof.reporting.model import RunDir, Section

PREFIX = "snapshot"
GRAPH = {
    "root": Option("text", "", "the object to draw, by its path as the report prints it (default: the top "
                               "retained group's holder)"),
    "depth": Option("count", 3, "edges from the root to draw", minimum=1),
    "max_nodes": Option("count", 40, "nodes at most; the rest is one '+N more' node", minimum=2),
}


class SnapshotProfiler:
    name = "snapshot"
    summary = "heap snapshots: what stayed between two points, by the path that holds it, and the object graph"
    options: Mapping[str, Option] = {
        "budget": Option("duration", 60.0, "time limit of one walk: past it the snapshot is partial (false: none)",
                         minimum=0.1, can_be_off=True),
        "max_objects": Option("count", 0, "object limit of one walk: past it the snapshot is partial (0: none)"),
        "graph": Option("mapping", None, "the object graph to draw: {root, depth, max_nodes}", fields=GRAPH),
    }

    def image_problem(self, facts: Mapping[str, Any], options: Mapping[str, Any]) -> str:
        return ""

    def harness_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        return {"path": PREFIX, "budget": float(options.get("budget") or 0),
                "max_objects": int(options.get("max_objects") or 0)}

    def outputs(self) -> dict[str, str]:
        return {f"{PREFIX}-*.txt": "a heap walk: -01 at the start, then one at each ljprof.snapshot and the end"}

    def assess(self, raw: Path) -> dict[str, Any]:
        files = snapshot_files(raw)
        complete = 0
        for path in files:
            with open(path, "rb") as f:
                f.seek(max(0, path.stat().st_size - 200))
                complete += b"\nend\t" in f.read()
        return {"present": bool(files), "snapshots": len(files), "complete": complete}

    def report(self, run: RunDir) -> Section:
        options = run.profiler_options(self.name)
        return snapshot_section(run, options)


PROFILER = SnapshotProfiler()
