"""gc: `collectgarbage("count")` sampled at a fixed interval, as raw/gc.csv."""

from __future__ import annotations

from ljprof.profilers.series import CsvSampler


class GcSampler(CsvSampler):
    name = "gc"
    file = "gc.csv"
    what = 'collectgarbage("count")'
    summary = 'collectgarbage("count") every interval, as raw/gc.csv (t seconds, kb)'
    # plain Lua: works on upstream LuaJIT too (the base class finds no problem)


PROFILER = GcSampler()
