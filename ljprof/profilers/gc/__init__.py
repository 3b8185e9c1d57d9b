"""gc: `collectgarbage("count")` sampled at a fixed interval, as raw/gc.csv, and the verdict on the heap."""

from __future__ import annotations

from ljprof.profilers.gc.report import gc_report
from ljprof.profilers.series import CsvSampler
from ljprof.reporting.model import RunDir, Section


class GcSampler(CsvSampler):
    name = "gc"
    file = "gc.csv"
    what = 'collectgarbage("count")'
    summary = 'collectgarbage("count") every interval, as raw/gc.csv (t seconds, kb)'
    # plain Lua: works on upstream LuaJIT too (the base class finds no problem)

    def report(self, run: RunDir) -> Section:
        """The Lua heap on the run's timeline, and whether its floor grows (see gc.verdict)."""
        return gc_report(run)


PROFILER = GcSampler()
