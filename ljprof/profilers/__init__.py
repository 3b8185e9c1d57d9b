"""Profiler plug-ins: one package per profiler, each exporting PROFILER.

Each knows what it needs inside the container, what its raw files are and how
to turn them into reports; the runner and the reporting know no profiler by
name, only this registry does. Adding a profiler is one package and one line here.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ljprof.profilers import cpu, gc, jit, memprof, metrics, proc, snapshot, sysprof
from ljprof.profilers.base import Option, Profiler

PROFILERS: dict[str, Profiler] = {p.name: p for p in (memprof.PROFILER, gc.PROFILER, metrics.PROFILER, proc.PROFILER,
                                                      cpu.PROFILER, sysprof.PROFILER, jit.PROFILER,
                                                      snapshot.PROFILER)}

PROFILERS_DIR = Path(__file__).resolve().parent


def harness_lua(name: str) -> Path | None:
    """The profiler's part of the Lua harness (harness.lua in its package), if it has one."""
    module = sys.modules[type(PROFILERS[name]).__module__].__file__
    path = Path(module or "").resolve().parent / "harness.lua"
    return path if path.is_file() else None


__all__ = ["PROFILERS", "PROFILERS_DIR", "Option", "Profiler", "harness_lua"]
