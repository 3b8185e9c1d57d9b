"""memprof as JSON: the model's data for machines, with sorted keys and a fixed order.

The lists are in the text report's order (see `ljprof.profilers.memprof.model`);
numbers are bytes and counts, never rounded. `sites` is ljprof's view of what
is live at the end (harness rows marked `harness`), `symbols` how much of the
file is symbol data, `warnings` what the other reports warn about too.
`windows` says how the stream splits into time windows at the harness's
markers (each site has its own `windows`: only those it had events in, so a
window left out kept the live bytes of the one before) and, when rendered
from a run, `windows.times`: when memprof started and when each window
ended, on the harness's clock.
`leak_only` leaves out the three per-event sections, as the text report's
--leak-only does.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from ljprof.profilers.memprof.findings import warnings
from ljprof.profilers.memprof.model import MemprofProfile
from ljprof.profilers.memprof.windows import WindowTimes


class MemprofJsonReport:
    def __init__(self, profile: MemprofProfile, *, leak_only: bool = False, times: WindowTimes | None = None) -> None:
        data: dict[str, Any] = profile.to_json()
        data["warnings"] = warnings(profile)
        if times is not None:
            data["windows"]["times"] = times.to_json()
        if leak_only:
            for key in ("allocations", "reallocations", "deallocations"):
                del data[key]
        self.data = data

    def render(self, out: TextIO) -> None:
        json.dump(self.data, out, sort_keys=True, indent=2, ensure_ascii=False)
        out.write("\n")


def render_json(profile: MemprofProfile, out: TextIO, *, leak_only: bool = False) -> None:
    """Write the JSON report of `profile` to `out`."""
    MemprofJsonReport(profile, leak_only=leak_only).render(out)
