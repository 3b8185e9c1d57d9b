"""GC and metrics sampling: `collectgarbage("count")` and `misc.getmetrics()` as CSV.

Both are read by a background thread of the ljprof_sampler C module in the
image (ljprof/harness/ljprof_sampler.c), so the series keeps its interval
while the target runs compiled traces or blocks in C (sleep, select), where
no Lua hook would ever run. The thread only reads counters (g->gc.total, and
luaM_metrics' fields), so it never touches the Lua stack.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ljprof.profilers.base import Option
from ljprof.reporting.model import RunDir, Section, absent

INTERVAL = Option("duration", 0.1, "time between two samples", minimum=0.001)


def _count_rows(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"present": False, "samples": 0}
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    samples = rows[1:]
    last = float(samples[-1][0]) if samples else 0.0
    return {"present": True, "samples": len(samples), "last_t": last}


class CsvSampler:
    """A series the sampler thread writes as raw/<name>.csv; subclasses say what it samples."""

    name = ""
    file = ""
    what = ""
    options: Mapping[str, Option] = {"interval": INTERVAL}

    def image_problem(self, facts: Mapping[str, Any]) -> str:
        return ""

    def harness_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        return {"path": self.file, "interval": float(options["interval"])}

    def outputs(self) -> dict[str, str]:
        return {self.file: f"{self.what} samples"}

    def assess(self, raw: Path) -> dict[str, Any]:
        return _count_rows(raw / self.file)

    def report(self, run: RunDir) -> Section:
        return absent(self.name, "not rendered yet")
