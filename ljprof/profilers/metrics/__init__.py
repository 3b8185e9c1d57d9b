"""metrics: Tarantool's `misc.getmetrics()` sampled at a fixed interval, as raw/metrics.csv."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ljprof.profilers.metrics.report import metrics_report
from ljprof.profilers.series import CsvSampler
from ljprof.reporting.model import RunDir, Section


class MetricsSampler(CsvSampler):
    name = "metrics"
    file = "metrics.csv"
    what = "misc.getmetrics()"
    summary = "misc.getmetrics() every interval, as raw/metrics.csv (Tarantool's LuaJIT only)"

    def image_problem(self, facts: Mapping[str, Any], options: Mapping[str, Any]) -> str:
        if not facts["features"]["getmetrics"]["present"]:
            return "misc.getmetrics is absent (upstream LuaJIT has none; use an image of Tarantool's LuaJIT)"
        return ""

    def report(self, run: RunDir) -> Section:
        """Counters as rates, levels as they are, on the run's timeline."""
        return metrics_report(run)


PROFILER = MetricsSampler()
