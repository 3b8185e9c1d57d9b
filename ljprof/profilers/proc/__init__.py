"""proc: the kernel's figures for the luajit process: CPU time (user, system) against wall time,
peak resident memory, context switches. Read from /proc/self when the harness switches proc on
and off (ljprof/profilers/proc/harness.lua), as raw/proc.txt; works on every image."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ljprof.profilers.base import Option
from ljprof.reporting.model import RunDir, Section, absent

FILE = "proc.txt"
CLOCK_TICKS = 100  # USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux
STATUS_KB = ("VmHWM", "VmRSS")
STATUS_COUNTS = ("Threads", "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")


@dataclass(frozen=True)
class Snapshot:
    t: float  # harness clock
    user_s: float
    system_s: float
    status: dict[str, int]  # VmHWM/VmRSS in KB, counts as they are


@dataclass(frozen=True)
class ProcFigures:
    start: Snapshot
    stop: Snapshot

    @property
    def wall_s(self) -> float:
        return self.stop.t - self.start.t

    @property
    def cpu_s(self) -> float:
        return (self.stop.user_s - self.start.user_s) + (self.stop.system_s - self.start.system_s)

    @property
    def cpu_share(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0


def parse_snapshots(text: str) -> list[Snapshot]:
    """raw/proc.txt -> snapshots; a block cut by a kill is left out."""
    snapshots = []
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith(("start ", "stop ")):
            blocks.append([line])
        elif blocks:
            blocks[-1].append(line)
    for block in blocks:
        try:
            t = float(block[0].split()[1])
            # the command may hold spaces: fields are counted after its closing parenthesis
            fields = block[1].rsplit(")", 1)[1].split()
            user, system = int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS
        except (IndexError, ValueError):
            continue
        status: dict[str, int] = {}
        for line in block[2:]:
            key, _, value = line.partition(":")
            if key in STATUS_KB + STATUS_COUNTS and value.split():
                status[key] = int(value.split()[0])
        snapshots.append(Snapshot(t, user, system, status))
    return snapshots


class ProcProfiler:
    name = "proc"
    summary = "CPU time (user, system) against wall time, peak RSS and context switches of luajit, from /proc"
    options: Mapping[str, Option] = {}

    def image_problem(self, facts: Mapping[str, Any], options: Mapping[str, Any]) -> str:
        return ""

    def harness_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        return {"path": FILE}

    def outputs(self) -> dict[str, str]:
        return {FILE: "/proc/self/stat and status at the start and the end"}

    def assess(self, raw: Path) -> dict[str, Any]:
        path = raw / FILE
        if not path.is_file():
            return {"present": False}
        kinds = [line.split()[0] for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
                 if line.startswith(("start ", "stop "))]
        return {"present": True, "snapshots": kinds}

    def report(self, run: RunDir) -> Section:
        path = run.raw / FILE
        if not path.is_file():
            return absent(self.name, "no raw/proc.txt: the harness did not switch proc on")
        snapshots = parse_snapshots(path.read_text(encoding="utf-8", errors="replace"))
        if len(snapshots) < 2:
            why = "no end snapshot: the target was killed before the harness could read /proc"
            return Section(self.name, "cut", why=why, headline=f"proc: {why}")
        figures = ProcFigures(snapshots[0], snapshots[-1])
        start, stop = figures.start, figures.stop
        share = figures.cpu_share
        what = "mostly waiting" if share < 0.5 else "mostly computing"
        peak_kb = stop.status.get("VmHWM", 0)
        headline = (f"proc: on CPU {share:.0%} of {figures.wall_s:.2f} s, {what}: user "
                    f"{stop.user_s - start.user_s:.2f} s, system {stop.system_s - start.system_s:.2f} s; "
                    f"peak RSS {peak_kb / 1024:.1f} MB")
        switches = {k: stop.status.get(k, 0) - start.status.get(k, 0) for k in STATUS_COUNTS[1:]}
        summary = {"wall_s": round(figures.wall_s, 3), "cpu_s": round(figures.cpu_s, 3),
                   "cpu_share": round(share, 4), "user_s": round(stop.user_s - start.user_s, 3),
                   "system_s": round(stop.system_s - start.system_s, 3), "peak_rss_kb": peak_kb,
                   "threads": stop.status.get("Threads"), **switches}
        rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in summary.items())
        return Section(self.name, "complete", headline=headline, summary=summary,
                       html=f"<table class=\"facts\">{rows}</table>", markdown=f"- {headline}\n")


PROFILER = ProcProfiler()
