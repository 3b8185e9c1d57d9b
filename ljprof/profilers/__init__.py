"""Profiler plug-ins: one package per profiler, each exporting PROFILER.

Each knows what it needs inside the container, what its raw files are and how
to turn them into reports; the runner and the reporting know no profiler by
name, only this registry does. Adding a profiler is one package and one line here.
"""

from __future__ import annotations

from ljprof.profilers import gc, memprof, metrics
from ljprof.profilers.base import Option, Profiler

PROFILERS: dict[str, Profiler] = {p.name: p for p in (memprof.PROFILER, gc.PROFILER, metrics.PROFILER)}

__all__ = ["PROFILERS", "Option", "Profiler"]
