"""Profiler plug-ins: one module (or package) per profiler.

Each knows what it needs inside the container and how to turn its raw files
into a model; the runner knows no profiler by name, only this registry does.
"""

from __future__ import annotations

from ljprof.profilers.base import Option, Profiler
from ljprof.profilers.memprof_capture import MemprofCapture
from ljprof.profilers.samplers import GcSampler, MetricsSampler

PROFILERS: dict[str, Profiler] = {p.name: p for p in (MemprofCapture(), GcSampler(), MetricsSampler())}

__all__ = ["PROFILERS", "Option", "Profiler"]
